# frozen_string_literal: true

module SymmetricEncryption
  # The PEM RSA private key of a pre-v4 configuration entry (`private_rsa_key:`), as
  # Keystore.migrate_config! hands it on: PKCS#1 v1.5 encryption, which those configurations
  # used. Ruby's OpenSSL does the RSA work, loaded on first use. Loading such a configuration
  # does not need this class: the library reads those files itself.
  # @deprecated for code written against the gem's pre-v4 configurations
  class RSAKey
    # @param private_rsa_key [String] PEM
    def initialize(private_rsa_key)
      require "openssl"
      @rsa = OpenSSL::PKey::RSA.new(private_rsa_key)
    end

    # @return [String] `data` encrypted with the public half
    def encrypt(data)
      @rsa.public_encrypt(data)
    end

    # @return [String] `data` decrypted with the private key
    def decrypt(data)
      @rsa.private_decrypt(data)
    end

    # Never the key.
    def inspect
      "#<#{self.class.name}>"
    end
  end
end
