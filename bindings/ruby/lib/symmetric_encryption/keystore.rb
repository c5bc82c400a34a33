# frozen_string_literal: true

require_relative "key_management"

module SymmetricEncryption
  # Where encryption keys are kept, and generating and rotating them: the gem's
  # `SymmetricEncryption::Keystore` API over the C ABI's key management, so keys are made,
  # wrapped and written (key files, variables to set) by the same code as the command line's.
  #
  # @example A new configuration, as the command line's --generate makes it
  #   config = SymmetricEncryption::Keystore.generate_data_keys(
  #     keystore: :file, key_path: "/etc/app/keys", app_name: "shop", cipher_name: "aes-256-gcm"
  #   )
  #   SymmetricEncryption::Keystore.rotate_keys!(config, app_name: "shop", rolling_deploy: true)
  module Keystore
    # The keystores, by the names the configuration uses.
    NAMES = %w[file environment heroku memory aws].freeze

    # A new configuration: version 1 keys for each environment (development and test get the
    # gem's fixed development key, in the file).
    # @param keystore [Symbol, String, Class] :file, :environment, :heroku, :memory or :aws
    # @param environments [Array<Symbol>]
    # @param args [Hash] the keystore's generate_data_key arguments: app_name:, cipher_name:,
    #   key_path: (file, aws), permissions:, regions: (aws), ...
    # @return [Hash] `{environment => {ciphers: [entry]}}`
    # @raise [ArgumentError] unknown keystore
    def self.generate_data_keys(keystore:, environments: %i[development test release production], **args)
      keystore_class = keystore.is_a?(Class) ? keystore : constantize_symbol(keystore)
      environments.each_with_object({}) do |environment, configs|
        environment = environment.to_sym
        configs[environment] =
          if %i[development test].include?(environment)
            dev_config
          else
            { ciphers: [keystore_class.generate_data_key(environment: environment, **args)] }
          end
      end
    end

    # Adds a new key (highest version + 1) to each environment of `full_config` that keeps its
    # key in a keystore: first in its list, or second with `rolling_deploy`. Variables to set
    # are printed, key files written beside the current ones (or in `key_path`).
    # @param full_config [Hash] every environment; changed in place
    # @return [Hash] full_config
    def self.rotate_keys!(full_config, app_name:, environments: [], rolling_deploy: false, keystore: nil,
                          key_path: nil, regions: nil, cipher_name: nil)
      handle = KeyManagement.parse(full_config)
      opts = KeyManagement::Options.new(
        environments: environments, app_name: app_name, keystore: keystore, key_path: key_path,
        regions: regions, cipher_name: cipher_name, rolling_deploy: rolling_deploy
      )
      report = handle.run(:rotate_keys, opts)
      print_variables(report)
      KeyManagement.replace!(full_config, handle.to_h)
    end

    # Replaces the key-encrypting keys of each environment's current key (file, environment,
    # heroku and memory keystores); data keys and versions stay.
    # @param full_config [Hash] changed in place
    # @return [Hash] full_config
    def self.rotate_key_encrypting_keys!(full_config, app_name:, environments: [])
      handle = KeyManagement.parse(full_config)
      report = handle.run(:rotate_kek, KeyManagement::Options.new(environments: environments, app_name: app_name))
      print_variables(report)
      KeyManagement.replace!(full_config, handle.to_h)
    end

    # @return [Hash] the development and test configuration the generator writes
    def self.dev_config
      {
        ciphers: [
          { key: "1234567890ABCDEF", iv: "1234567890ABCDEF", cipher_name: "aes-128-cbc", version: 1 }
        ]
      }
    end

    # The data key of a configuration entry, read through its keystore and its chain of
    # key-encrypting keys.
    # @return [SymmetricEncryption::Key]
    # @raise [SymmetricEncryption::ConfigError, KeystoreError] missing key file or variable, bad entry
    def self.read_key(iv: nil, key: nil, key_encrypting_key: nil, cipher_name: "aes-256-cbc", keystore: nil,
                      version: 0, **args)
      if key
        return make_key(key, iv, cipher_name)
      end
      if key_encrypting_key.nil? || key_encrypting_key.is_a?(Hash)
        entry = { keystore: keystore, cipher_name: cipher_name, version: version, iv: iv,
                  key_encrypting_key: key_encrypting_key, **args }.compact
        raw, = KeyManagement.read_key(entry)
        return make_key(raw, iv, cipher_name)
      end
      # A key-encrypting key given as an object: read through the keystore class here.
      keystore_class = keystore ? constantize_symbol(keystore) : keystore_for(args)
      store = keystore_class.new(key_encrypting_key: key_encrypting_key, **args)
      make_key(store.read, iv, cipher_name)
    end

    # @return [Class] the keystore class of a configuration entry
    # @raise [ArgumentError] nothing says where the key is
    def self.keystore_for(config)
      if config[:keystore]
        constantize_symbol(config[:keystore])
      elsif config[:encrypted_key]
        Keystore::Memory
      elsif config[:key_filename]
        Keystore::File
      elsif config[:key_env_var]
        Keystore::Environment
      else
        raise(ArgumentError, "Unknown keystore supplied in config")
      end
    end

    # @return [Class] `SymmetricEncryption::Keystore::<Name>` for :name
    # @raise [ArgumentError] no such keystore
    def self.constantize_symbol(symbol, namespace = "SymmetricEncryption::Keystore")
      klass = "#{namespace}::#{camelize(symbol.to_s)}"
      begin
        Object.const_get(klass)
      rescue NameError
        raise(ArgumentError, "Keystore: #{symbol.inspect} not found. Looking for: #{klass}")
      end
    end

    # `file_name` -> `FileName`, `a/b` -> `A::B`.
    def self.camelize(term)
      term.to_s.split("/").map { |part| part.split("_").map(&:capitalize).join }.join("::")
    end

    # Rewrites one cipher entry (a Hash with Symbol keys) of a pre-v4 configuration in memory,
    # in the gem's way: `private_rsa_key` becomes an RSAKey under `key_encrypting_key`, an
    # `encrypted_iv` (base64) or `iv_filename` is decrypted with it into `iv`, and a base64
    # `encrypted_key` is decoded. An entry without `private_rsa_key` is left as it is, apart
    # from losing `encrypted_iv` and `iv_filename`. Loading a configuration file does not need
    # this: the library reads pre-v4 entries itself.
    # @return [Hash] config
    def self.migrate_config!(config)
      pem = config.delete(:private_rsa_key)
      encrypted_iv = config.delete(:encrypted_iv)
      iv_file = config.delete(:iv_filename)
      return config unless pem

      rsa = RSAKey.new(pem)
      config[:iv] = rsa.decrypt(encrypted_iv.unpack1("m")) if encrypted_iv
      config[:iv] = rsa.decrypt(::File.binread(iv_file)) if iv_file
      config[:key_encrypting_key] = rsa
      config[:encrypted_key] = config[:encrypted_key].unpack1("m") if config[:encrypted_key]
      config
    end

    # @api private
    def self.make_key(key, iv, cipher_name)
      if defined?(SymmetricEncryption::Key)
        SymmetricEncryption::Key.new(key: key, iv: iv, cipher_name: cipher_name)
      else
        RawKey.new(key.b, iv, cipher_name)
      end
    end

    # A key as read, when SymmetricEncryption::Key is not loaded.
    RawKey = Struct.new(:key, :iv, :cipher_name) do
      def inspect
        "#<#{self.class.name} cipher_name=#{cipher_name.inspect}>"
      end
    end

    # Prints what the environment and heroku keystores ask to set, as the gem does.
    # @api private
    def self.print_variables(report)
      report.variables.each do |name, value, heroku|
        if heroku
          Keystore::Heroku.print_instructions(name, value)
        else
          Keystore::Environment.print_instructions(name, value)
        end
      end
    end
  end
end

require_relative "keystore/memory"
require_relative "keystore/environment"
require_relative "keystore/heroku"
require_relative "keystore/file"
require_relative "keystore/aws"
