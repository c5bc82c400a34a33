# frozen_string_literal: true

require_relative "../test_helper"
require "rails"
require "symmetric_encryption/railtie" # Rails was loaded after symmetric_encryption here

# A Rails application booting with the Railtie: the configuration is loaded before the
# application's own configuration is read, and config.symmetric_encryption.* is honoured.
class RailtieTest < Minitest::Test
  YAML_TEXT = <<~YAML
    test:
      ciphers:
        - key: "#{'r' * 32}"
          iv: "#{'v' * 16}"
          cipher_name: aes-256-cbc
          version: 7
  YAML

  def test_boots_an_application
    skip "needs se_context_load" unless SymmetricEncryption::Native.available?(:se_context_load)
    SymmetricEncryption.cipher = nil
    SymmetricEncryption.secondary_ciphers = []
    root = Dir.mktmpdir("se-rails-app")
    FileUtils.mkdir_p(File.join(root, "config"))
    File.write(File.join(root, "config", "symmetric-encryption.yml"), YAML_TEXT)
    seen = {}
    ENV["RAILS_ENV"] = "test"
    File.write(File.join(root, "config.ru"), "")
    Dir.chdir(root) do
      # A named class, as in config/application.rb; the Railtie's before_configuration hook runs
      # as it is defined, before its body (the application's configuration) is read.
      Object.class_eval("class SeRailtieTestApp < Rails::Application; end", __FILE__, __LINE__)
      SeRailtieTestApp.class_eval do
        seen[:version] = SymmetricEncryption.cipher.version
        seen[:decrypted] = SymmetricEncryption.try_decrypt(SymmetricEncryption.encrypt("db password"))
        config.root = root
        config.eager_load = false
        config.logger = Logger.new(nil)
        config.secret_key_base = "x" * 64
        config.symmetric_encryption.randomize_iv = true
        config.symmetric_encryption.filter_encrypted_attributes = false
      end
      SeRailtieTestApp.initialize!
    end
    assert_equal 7, seen[:version]
    assert_equal "db password", seen[:decrypted]
    assert SymmetricEncryption.randomize_iv?
    refute SymmetricEncryption.filter_encrypted_attributes?
    assert_same SymmetricEncryption, Rails.application.config.symmetric_encryption
  ensure
    SymmetricEncryption.randomize_iv = false
    SymmetricEncryption.filter_encrypted_attributes = true
    FileUtils.rm_rf(root) if root
  end
end
