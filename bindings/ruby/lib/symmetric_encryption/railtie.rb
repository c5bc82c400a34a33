# frozen_string_literal: true

require "pathname"

module SymmetricEncryption
  # Rails integration, loaded when `symmetric-encryption` is required in a Rails application
  # (after `require "rails"`, as Bundler.require does in config/application.rb).
  #
  # - `config.symmetric_encryption` is the SymmetricEncryption module, so application.rb can say
  #   `config.symmetric_encryption.randomize_iv = true` or
  #   `config.symmetric_encryption.filter_encrypted_attributes = false`.
  # - Before the application's configuration is read, it loads `config/symmetric-encryption.yml`
  #   (or SYMMETRIC_ENCRYPTION_CONFIG) for Rails.env (or SYMMETRIC_ENCRYPTION_ENV), unless a
  #   cipher is already set, so `config/database.yml` can use
  #   `<%= SymmetricEncryption.try_decrypt(...) %>`. No file: nothing is loaded.
  class Railtie < ::Rails::Railtie
    config.symmetric_encryption = ::SymmetricEncryption

    config.before_configuration do
      ::SymmetricEncryption::Railtie.load_configuration unless ::SymmetricEncryption.cipher?
    end

    # The configuration file the application uses, or nil when it has none.
    # @return [Pathname, nil]
    def self.config_file
      env_var = ENV.fetch("SYMMETRIC_ENCRYPTION_CONFIG", nil)
      file = env_var ? Pathname.new(File.expand_path(env_var)) : ::Rails.root&.join("config", "symmetric-encryption.yml")
      file if file&.file?
    end

    # Loads the configuration file for this environment (see the class documentation).
    # @return [Boolean] whether a file was loaded
    # @raise [SymmetricEncryption::ConfigError] the file cannot be loaded: the message says how
    #   to generate one
    def self.load_configuration
      file = config_file
      return false unless file

      env = ENV["SYMMETRIC_ENCRYPTION_ENV"] || ::Rails.env
      begin
        ::SymmetricEncryption::Config.load!(file_name: file.to_s, env: env)
      rescue ::SymmetricEncryption::ConfigError => e
        raise e.class, "#{e.message}\nSymmetric Encryption could not read its keys from #{file} (environment " \
                       "#{env}). To generate a configuration file and keys: " \
                       "bundle exec symmetric-encryption --generate --app-name #{app_name}"
      end
      true
    end

    def self.app_name
      app = ::Rails.application&.class
      parent = app.respond_to?(:module_parent) ? app.module_parent : app&.name&.split("::")&.first
      parent.to_s.gsub(/([a-z\d])([A-Z])/, '\1_\2').downcase
    end
    private_class_method :app_name
  end
end
