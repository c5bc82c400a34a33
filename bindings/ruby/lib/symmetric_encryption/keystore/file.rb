# frozen_string_literal: true

require_relative "../utils/files"

module SymmetricEncryption
  module Keystore
    # The data key in a key file (`APP_ENV_v<version>.encrypted_key`, base64), encrypted by a
    # key-encrypting key in the configuration, itself encrypted by a key in a second file
    # (`.kekek`). Key files must be readable by their owner alone unless the configuration
    # says otherwise (permissions, owner, group).
    class File
      include Utils::Files

      # @return [String]
      attr_accessor :file_name
      # @return [#encrypt, #decrypt, nil]
      attr_accessor :key_encrypting_key

      # A new data key (version + 1; 255 wraps to 1): writes both key files into `key_path`
      # (an existing file is moved aside, never overwritten) and returns the entry.
      # @param permissions [Integer, String, Array] modes allowed; the first is the new files' mode
      # @param owner [Integer, String, Array] recorded in the entry (the files are not chowned)
      # @param group [Integer, String, Array] recorded in the entry
      # @return [Hash] keystore, cipher_name, version, key_filename, iv, key_encrypting_key, ...
      def self.generate_data_key(key_path:, cipher_name:, app_name:, environment:, version: 0, dek: nil,
                                 permissions: nil, owner: nil, group: nil, **_args)
        Utils::FileAccess.new(permissions: permissions, owner: owner, group: group) # validates them
        entry, = KeyManagement.generate_data_key(
          keystore: :file, cipher_name: Memory.dek_cipher(dek, cipher_name), app_name: app_name,
          environment: environment, version: version, key_path: key_path, permissions: permissions, dek: dek
        )
        kekek = entry.dig(:key_encrypting_key, :key_encrypting_key)
        { permissions: permissions, owner: owner, group: group }.each do |name, value|
          next if value.nil?

          entry[name] = value
          kekek[name] = value if kekek
        end
        entry
      end

      # Where the current key files are, so a rotated key is written beside them.
      # @return [Hash]
      def self.rotate_args(config)
        name = config[:key_filename]
        name ? { key_path: ::File.dirname(name) } : {}
      end

      # @param key_filename [String]
      # @param key_encrypting_key [#encrypt, #decrypt, nil]
      # @param permissions [Integer, String, Array, nil]
      # @param owner [Integer, String, Array, nil]
      # @param group [Integer, String, Array, nil]
      def initialize(key_filename:, key_encrypting_key: nil, permissions: nil, owner: nil, group: nil)
        @file_name = key_filename
        @key_encrypting_key = key_encrypting_key
        @file_access = Utils::FileAccess.new(permissions: permissions, owner: owner, group: group)
      end

      # @return [String] the key in the clear (binary)
      # @raise [SymmetricEncryption::ConfigError] missing file, wrong mode or owner
      def read
        unless ::File.exist?(file_name)
          raise(SymmetricEncryption::ConfigError, "Symmetric Encryption key file: '#{file_name}' not found")
        end

        data = read_key_file(file_name)
        key_encrypting_key ? key_encrypting_key.decrypt(data) : data
      end

      # Writes `key` (encrypted by the key-encrypting key, if any) to the file.
      def write(key)
        data = key_encrypting_key ? key_encrypting_key.encrypt(key) : key
        write_to_file(file_name, data)
      end
    end
  end
end
