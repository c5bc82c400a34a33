# frozen_string_literal: true

# Symmetric Encryption over the native libsymmetric_encryption: the gem's core API
# (SymmetricEncryption.encrypt/decrypt/load!, Cipher, Reader, Writer) with the gem's formats,
# configuration files and key files, implemented in Rust and reached through ffi.
#
#   require "symmetric_encryption"
#   SymmetricEncryption.load!("config/symmetric-encryption.yml", "production")
#   encrypted = SymmetricEncryption.encrypt("Hello World")
#   SymmetricEncryption.decrypt(encrypted) # => "Hello World"
module SymmetricEncryption
  # Binary encrypted data starts with this magic header.
  MAGIC_HEADER = "@EnC"
  MAGIC_HEADER_SIZE = MAGIC_HEADER.bytesize
  UTF8_ENCODING = Encoding.find("UTF-8")
  BINARY_ENCODING = Encoding.find("binary")
end

require_relative "symmetric_encryption/version"
require_relative "symmetric_encryption/errors"
require_relative "symmetric_encryption/native"
require_relative "symmetric_encryption/coerce"
require_relative "symmetric_encryption/cipher"
require_relative "symmetric_encryption/header"
require_relative "symmetric_encryption/core"
require_relative "symmetric_encryption/config"
require_relative "symmetric_encryption/key"
require_relative "symmetric_encryption/encoder"
require_relative "symmetric_encryption/reader"
require_relative "symmetric_encryption/writer"
require_relative "symmetric_encryption/chunked_stream"
require_relative "symmetric_encryption/key_management"
require_relative "symmetric_encryption/keystore"
require_relative "symmetric_encryption/rsa_key"
require_relative "symmetric_encryption/utils/re_encrypt_files"
require_relative "symmetric_encryption/generator"
require_relative "symmetric_encryption/cli"
require_relative "symmetric_encryption/limits"
require_relative "symmetric_encryption/batch"
require_relative "symmetric_encryption/batch_pipeline"

# Rails and Active Model, as with the gem: the Railtie when Rails is loaded, and when Active
# Record loads, the `:encrypted` attribute type, the validator and the filtering of encrypted
# attributes from inspect and logs.
require_relative "symmetric_encryption/railtie" if defined?(::Rails::Railtie)
begin
  require "active_support/lazy_load_hooks"
rescue LoadError
  # No Active Support: no Active Record to hook into.
end
if defined?(::ActiveSupport) && ::ActiveSupport.respond_to?(:on_load)
  ::ActiveSupport.on_load(:active_record) do
    require_relative "symmetric_encryption/active_record/encrypted_attribute"
    require_relative "symmetric_encryption/active_record/auto_filtered_attributes"
    require_relative "symmetric_encryption/active_record/exclude_from_json"
    require_relative "symmetric_encryption/railties/symmetric_encryption_validator"
    ::ActiveRecord::Type.register(:encrypted, ::SymmetricEncryption::ActiveRecord::EncryptedAttribute)
    if ::ActiveRecord.version < Gem::Version.new("7.0.0")
      require_relative "symmetric_encryption/active_record/attr_encrypted"
      include ::SymmetricEncryption::ActiveRecord::AttrEncrypted
    end
    singleton_class.prepend(::SymmetricEncryption::ActiveRecord::AutoFilteredAttributes)
  end
end
