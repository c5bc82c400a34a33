# frozen_string_literal: true

module SymmetricEncryption
  module Keystore
    # The data key, encrypted by a key-encrypting key, held in the configuration itself (for
    # tests and development: never keep real keys in the configuration file).
    class Memory
      # @return [#encrypt, #decrypt] the key-encrypting key
      attr_accessor :key_encrypting_key
      # @return [String, nil] the encrypted data key (binary)
      attr_accessor :encrypted_key

      # A new data key (version + 1; 255 wraps to 1) and its configuration entry.
      # @param dek [#key, #iv, nil] the data key to keep (default: a new random one)
      # @return [Hash] the entry: keystore, cipher_name, version, encrypted_key, iv, key_encrypting_key
      def self.generate_data_key(cipher_name:, app_name:, environment:, version: 0, dek: nil, **_args)
        entry, = KeyManagement.generate_data_key(
          keystore: :memory, cipher_name: dek_cipher(dek, cipher_name), app_name: app_name,
          environment: environment, version: version, dek: dek
        )
        entry
      end

      # Nothing to carry over to a rotated key: the key is in the configuration.
      # @return [Hash]
      def self.rotate_args(_config)
        {}
      end

      # @api private
      def self.dek_cipher(dek, cipher_name)
        dek.respond_to?(:cipher_name) && dek.cipher_name ? dek.cipher_name : cipher_name
      end

      # @param key_encrypting_key [#encrypt, #decrypt]
      # @param encrypted_key [String, nil] binary
      def initialize(key_encrypting_key:, encrypted_key: nil)
        @key_encrypting_key = key_encrypting_key
        @encrypted_key = encrypted_key
      end

      # @return [String] the data key in the clear (binary)
      def read
        key_encrypting_key.decrypt(encrypted_key)
      end

      # Encrypts `key` with the key-encrypting key and keeps it in #encrypted_key.
      # @return [String] the encrypted key
      def write(key)
        self.encrypted_key = key_encrypting_key.encrypt(key)
      end
    end
  end
end
