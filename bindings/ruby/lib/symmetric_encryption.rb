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
require_relative "symmetric_encryption/reader"
require_relative "symmetric_encryption/writer"
require_relative "symmetric_encryption/key_management"
require_relative "symmetric_encryption/keystore"
require_relative "symmetric_encryption/utils/re_encrypt_files"
require_relative "symmetric_encryption/generator"
require_relative "symmetric_encryption/cli"
require_relative "symmetric_encryption/limits"
