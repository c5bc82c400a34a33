# frozen_string_literal: true

require "base64"
require "fileutils"
require_relative "file_access"

module SymmetricEncryption
  module Utils
    # Reading and writing key files, for the keystores that keep keys in files (mixed into
    # Keystore::File). Writing never overwrites: an existing file is renamed to
    # `NAME.<unix time>` first, and the new one gets the configured mode whatever the umask.
    module Files
      private

      attr_reader :file_name

      # @return [Utils::FileAccess] what the key files must look like on disk
      def file_access
        @file_access ||= Utils::FileAccess.new
      end

      # @return [String] the base64 content of `file_name`, decoded
      # @raise [SymmetricEncryption::ConfigError] no name, or no such file
      def read_file_and_decode(file_name)
        raise(SymmetricEncryption::ConfigError, "file_name is mandatory for each key_file entry") unless file_name
        raise(SymmetricEncryption::ConfigError, "File #{file_name} could not be found") unless ::File.exist?(file_name)

        decode64(read_key_file(file_name))
      end

      def write_encoded_to_file(file_name, encrypted_data_key)
        write_to_file(file_name, encode64(encrypted_data_key))
      end

      def encode64(data)
        Base64.strict_encode64(data)
      end

      def decode64(data)
        Base64.strict_decode64(data)
      end

      # Writes `data` to `file_name` with mode `permission`, moving an existing file aside.
      def write_to_file(file_name, data, permission: file_access.permission)
        dir = ::File.dirname(file_name)
        ::FileUtils.mkdir_p(dir) unless ::File.directory?(dir)
        ::File.rename(file_name, "#{file_name}.#{Time.now.to_i}") if ::File.exist?(file_name)
        ::File.open(file_name, ::File::WRONLY | ::File::CREAT | ::File::EXCL | ::File::BINARY, permission) do |f|
          f.write(data)
        end
        ::FileUtils.chmod(permission, file_name)
      end

      # @return [String] the key file's bytes, once it passes the mode and owner checks
      def read_key_file(file_name)
        file_access.verify!(file_name)
        read_from_file(file_name)
      end

      # @raise [SymmetricEncryption::ConfigError] the file cannot be read
      def read_from_file(file_name)
        ::File.binread(file_name)
      rescue Errno::ENOENT
        raise(SymmetricEncryption::ConfigError, "Symmetric Encryption key file: '#{file_name}' not found or readable")
      end
    end
  end
end
