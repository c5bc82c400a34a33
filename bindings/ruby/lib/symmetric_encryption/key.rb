# frozen_string_literal: true

module SymmetricEncryption
  # A raw key, its iv and cipher name, as the gem's SymmetricEncryption::Key: the data key of a
  # cipher, or a key-encrypting key. #encrypt / #decrypt are the raw cipher with this iv and no
  # header (GCM appends its 16-byte tag), the format of the gem's encrypted key files and
  # `encrypted_key:` entries. The key lives in native memory; #key copies it out.
  #
  # @example
  #   kek = SymmetricEncryption::Key.new(cipher_name: "aes-256-cbc")   # random key and iv
  #   wrapped = kek.encrypt(data_key)
  #   kek.decrypt(wrapped) == data_key # => true
  class Key
    # @return [String] e.g. "aes-256-cbc"
    attr_reader :cipher_name

    # The key or iv as binary, after checking it has the length `cipher_name` needs.
    # @param value [String]
    # @param length [Integer]
    # @param cipher_name [String]
    # @param name [String] "key" or "iv", for the message
    # @return [String] binary
    # @raise [SymmetricEncryption::InvalidArgument] another length (the message gives lengths, never bytes)
    def self.binary!(value, length:, cipher_name:, name:)
      binary = value.to_s.b
      return binary if binary.bytesize == length

      raise InvalidArgument, "The #{name} supplied for cipher_name: #{cipher_name.inspect} must be exactly #{length} " \
                             "bytes, but is #{binary.bytesize} bytes. The #{name} is raw binary data: a #{name} that " \
                             "was hex or base64 encoded to store it in symmetric-encryption.yml has to be decoded " \
                             "first (in YAML: `#{name}: !!binary |` followed by the base64)."
    end

    # @param key [String, :random]
    # @param iv [String, :random, nil]
    # @param cipher_name [String]
    # @raise [SymmetricEncryption::InvalidArgument] unknown cipher, key or iv of the wrong length
    def initialize(key: :random, iv: :random, cipher_name: "aes-256-cbc")
      key_len, iv_len = Cipher::CIPHERS.fetch(cipher_name.to_s) do
        raise InvalidArgument, "unknown cipher_name #{cipher_name.inspect}: expected one of #{Cipher::CIPHERS.keys.join(', ')}"
      end
      key = Native.random_bytes(key_len) if key == :random
      iv = Native.random_bytes(iv_len) if iv == :random
      key = self.class.binary!(key, length: key_len, cipher_name: cipher_name, name: "key")
      iv = iv && self.class.binary!(iv, length: iv_len, cipher_name: cipher_name, name: "iv")
      @cipher_name = cipher_name.to_s.freeze
      @iv = iv&.freeze
      @ctx = Native.new_context do |out|
        Native.se_context_new_cipher(@cipher_name, key, key.bytesize, iv, iv ? iv.bytesize : 0, 0, "base64strict", 1, out)
      end
    end

    # @return [String] the raw key (binary): a copy of the secret, keep it no longer than needed
    def key
      Native.secret(:se_context_cipher_key, @ctx, 0)
    end

    # @return [String, nil] the iv (binary)
    attr_reader :iv

    # @param string [String, #to_s, nil]
    # @return [String, nil] binary; nil for nil, "" for ""
    def encrypt(string)
      return if string.nil?

      string = string.to_s
      return string if string.empty?

      call(:se_context_kek_encrypt, string, false)
    end

    # @param encrypted_string [String, nil]
    # @return [String, nil] binary
    # @raise [SymmetricEncryption::DecryptionError] (an OpenSSL::Cipher::CipherError) wrong key, bad
    #   padding, tampered (GCM)
    def decrypt(encrypted_string)
      return if encrypted_string.nil?

      encrypted_string = encrypted_string.to_s.b
      return encrypted_string if encrypted_string.empty?

      call(:se_context_kek_decrypt, encrypted_string, true)
    end

    # Never shows the key.
    def inspect
      "#<#{self.class.name} cipher_name=#{@cipher_name.inspect}>"
    end

    private

    def call(function, data, decrypting)
      Native.require!(function)
      out = FFI::MemoryPointer.new(Native::Bytes.size)
      status = Native.public_send(function, @ctx, 0, data, data.bytesize, out)
      Native.raise_error(status, decrypting) unless status == Native::OK

      Native.take_bytes(out)
    end
  end
end
