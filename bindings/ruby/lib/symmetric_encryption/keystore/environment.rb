# frozen_string_literal: true

module SymmetricEncryption
  module Keystore
    # The data key, encrypted by a key-encrypting key kept in the configuration, in an
    # environment variable (`APP_ENVIRONMENT_V<version>`), base64.
    class Environment < Memory
      STARS = ("*" * 80).freeze

      # @return [String] the variable's name
      attr_accessor :key_env_var
      # @return [Symbol] how the encrypted key is encoded in the variable
      attr_accessor :encoding

      # A new data key (version + 1; 255 wraps to 1) and its configuration entry; prints the
      # `export` line that sets the variable, as the gem does.
      # @return [Hash] keystore, cipher_name, version, key_env_var, iv, key_encrypting_key
      def self.generate_data_key(cipher_name:, app_name:, environment:, version: 0, dek: nil, **_args)
        entry, report = KeyManagement.generate_data_key(
          keystore: keystore_name, cipher_name: dek_cipher(dek, cipher_name), app_name: app_name,
          environment: environment, version: version, dek: dek
        )
        Keystore.print_variables(report)
        entry
      end

      # @api private
      def self.keystore_name
        :environment
      end

      # What the gem prints for a key to set: the starred `export NAME="VALUE"` block.
      def self.print_instructions(name, value)
        $stdout.write("\n\n#{STARS}\nSet the environment variable as follows:\n  export #{name}=\"#{value}\"\n#{STARS}\n")
      end

      # @param key_encrypting_key [#encrypt, #decrypt]
      # @param key_env_var [String]
      # @param encoding [Symbol] :base64strict (default), :base64, :base16, ...
      def initialize(key_encrypting_key:, key_env_var:, encoding: :base64strict)
        super(key_encrypting_key: key_encrypting_key)
        @key_env_var = key_env_var
        @encoding = encoding
      end

      # @return [String] the data key in the clear (binary)
      # @raise [RuntimeError] the variable is not set
      def read
        encrypted = ENV.fetch(key_env_var, nil)
        raise "The Environment Variable #{key_env_var} must be set with the encrypted encryption key." unless encrypted

        key_encrypting_key.decrypt(decode(encrypted))
      end

      # Prints how to set the variable to `key` encrypted; writes nothing.
      def write(key)
        self.class.print_instructions(key_env_var, encode(key_encrypting_key.encrypt(key)))
      end

      private

      def encode(binary)
        if defined?(SymmetricEncryption::Encoder)
          SymmetricEncryption::Encoder[encoding].encode(binary)
        else
          encoding.to_sym == :base16 ? binary.unpack1("H*") : [binary].pack("m0")
        end
      end

      def decode(text)
        if defined?(SymmetricEncryption::Encoder)
          SymmetricEncryption::Encoder[encoding].decode(text)
        else
          encoding.to_sym == :base16 ? [text].pack("H*") : text.unpack1("m")
        end
      end
    end
  end
end
