# frozen_string_literal: true

require "openssl"

module SymmetricEncryption
  # Marks every exception this library raises. `rescue SymmetricEncryption::Error` catches
  # anything that includes it, including the decryption errors, which have to descend from
  # OpenSSL::Cipher::CipherError (what code written for the gem rescues) and so cannot also
  # descend from Error.
  module Failure; end

  # Marks the failures of a cipher; `rescue SymmetricEncryption::CipherError` catches them.
  module CipherFailure
    include Failure
  end

  # The gem's base exception. Besides its subclasses, `rescue Error` (and `case`/`===`)
  # also matches DecryptionError and AuthenticationError; `is_a?(Error)` does not, because
  # those are OpenSSL::Cipher::CipherError subclasses.
  class Error < StandardError
    include Failure

    # @return [Boolean] whether `other` is this class's instance, or one of the library's
    #   errors that this class stands for in a `rescue` clause
    def self.===(other)
      super || (self == Error && other.is_a?(Failure))
    end
  end

  # A value or stream could not be encrypted or decrypted by the library itself: unknown
  # version, malformed header, a version that is not configured.
  class CipherError < Error
    include CipherFailure

    # `rescue CipherError` also catches DecryptionError and AuthenticationError.
    def self.===(other)
      super || (self == CipherError && other.is_a?(CipherFailure))
    end
  end

  # The configuration file or an entry is invalid, or the environment is missing.
  class ConfigError < Error; end

  # A key file, key environment variable or KMS problem (missing, wrong permissions...).
  class KeystoreError < ConfigError; end

  # The input is not valid for the cipher's encoding (for example non-hex base16).
  class EncodingError < CipherError; end

  # File or stream input/output failed.
  class StreamError < Error; end

  # A value given to the library is invalid (bad option, unknown type...).
  class InvalidArgument < ::ArgumentError
    include Failure
  end

  # A coercion type could not convert a value (`type:` of encrypt/decrypt).
  class CoercionError < Error; end

  # A bug in the native library; the message says where.
  class InternalError < Error; end

  # Decryption failed: bad padding, wrong key, malformed or truncated data. It is an
  # OpenSSL::Cipher::CipherError, as the gem's decryption failures are, and `rescue
  # SymmetricEncryption::CipherError` / `rescue SymmetricEncryption::Error` catch it too.
  class DecryptionError < OpenSSL::Cipher::CipherError
    include CipherFailure
  end

  # The authentication tag of an authenticated (GCM) value or stream did not match: the data
  # was tampered with, truncated, or the key is wrong.
  class AuthenticationError < DecryptionError; end
end
