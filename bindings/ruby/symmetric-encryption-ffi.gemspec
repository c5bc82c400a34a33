# frozen_string_literal: true

require_relative "lib/symmetric_encryption/version"

Gem::Specification.new do |spec|
  spec.name = "symmetric-encryption-ffi"
  spec.version = SymmetricEncryption::VERSION
  spec.summary = "The symmetric-encryption gem's API over the native libsymmetric_encryption"
  spec.description = <<~TEXT
    A drop-in for the core API of the symmetric-encryption gem (SymmetricEncryption.encrypt,
    decrypt, load!, Cipher, Reader, Writer) built on ffi over libsymmetric_encryption, a Rust
    implementation of the gem's formats: the same configuration files, key files, @EnC values
    and encrypted files, read and written by Ruby, Python and C alike.
  TEXT
  spec.license = "Apache-2.0"
  spec.authors = ["symmetric-encryption contributors"]
  spec.required_ruby_version = ">= 2.7"

  spec.files = Dir["lib/**/*.rb", "lib/symmetric_encryption/native/*", "README.md"]
  spec.require_paths = ["lib"]

  spec.add_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5.0"
end
