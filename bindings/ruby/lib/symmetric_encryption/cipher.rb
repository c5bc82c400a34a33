# frozen_string_literal: true

module SymmetricEncryption
  # One cipher: a key, an optional iv, a cipher name, a version and an encoding, as in the gem.
  # The key goes straight into native memory (zeroized when the cipher is garbage collected) and
  # is never kept in Ruby, so neither `inspect` nor instance variables can show it.
  #
  # @example
  #   cipher = SymmetricEncryption::Cipher.new(key: key32, cipher_name: "aes-256-gcm", version: 2)
  #   encrypted = cipher.encrypt("Hello")   # => "QEVuQwJI..."
  #   cipher.decrypt(encrypted)             # => "Hello"
  class Cipher
    # Cipher names the library knows, with their key and iv lengths in bytes.
    CIPHERS = {
      "aes-128-cbc" => [16, 16], "aes-192-cbc" => [24, 16], "aes-256-cbc" => [32, 16],
      "aes-128-gcm" => [16, 12], "aes-192-gcm" => [24, 12], "aes-256-gcm" => [32, 12]
    }.freeze

    # Encodings of the encrypted text.
    ENCODINGS = %i[base64strict base64 base64urlsafe base16 none].freeze

    # @return [Integer] 0..255, written into every header
    attr_reader :version
    # @return [String] e.g. "aes-256-gcm"
    attr_reader :cipher_name
    # @return [Symbol] :base64strict, :base64, :base64urlsafe, :base16 or :none
    attr_reader :encoding
    # @return [Boolean] whether values get a header unless told otherwise
    attr_reader :always_add_header
    # @return [String, nil] the configured iv given to Cipher.new (binary); nil when none was
    #   given or the cipher came from a configuration file
    attr_reader :iv

    # A random key for `cipher_name`.
    # @param cipher_name [String]
    # @return [String] binary
    def self.random_key(cipher_name = "aes-256-cbc")
      Native.random_bytes(lengths(cipher_name)[0])
    end

    # A random iv for `cipher_name` (16 bytes for CBC, 12 for GCM).
    # @param cipher_name [String]
    # @return [String] binary
    def self.random_iv(cipher_name = "aes-256-cbc")
      Native.random_bytes(lengths(cipher_name)[1])
    end

    def self.lengths(cipher_name)
      CIPHERS.fetch(cipher_name.to_s) do
        raise InvalidArgument, "unknown cipher_name #{cipher_name.inspect}: expected one of #{CIPHERS.keys.join(', ')}"
      end
    end
    private_class_method :lengths

    # @param key [String] the raw key: 16, 24 or 32 bytes to match `cipher_name`
    # @param iv [String, nil] the configured iv (CBC without random_iv); GCM never uses it
    # @param cipher_name [String] "aes-256-cbc" (default), "aes-256-gcm", "aes-128-cbc", ...
    # @param version [Integer] 0..255
    # @param always_add_header [Boolean]
    # @param encoding [Symbol] :base64strict (default), :base64, :base64urlsafe, :base16, :none
    # @raise [SymmetricEncryption::ConfigError] unknown cipher or encoding, key or iv of the
    #   wrong length (the message gives lengths, never bytes)
    # @raise [SymmetricEncryption::InvalidArgument] arguments of the wrong type
    def initialize(key:, iv: nil, cipher_name: "aes-256-cbc", version: 0, always_add_header: true,
                   encoding: :base64strict, cipher: nil)
      cipher_name = cipher if cipher # the gem's older option name
      raise InvalidArgument, "key must be a String" unless key.is_a?(String)
      raise InvalidArgument, "iv must be a String or nil" unless iv.nil? || iv.is_a?(String)
      unless version.is_a?(Integer) && version.between?(0, 255)
        raise InvalidArgument, "version must be an Integer 0..255, got #{version.inspect}"
      end

      encoding = encoding.to_s.delete_prefix(":")
      ctx = Native.new_context do |out|
        Native.se_context_new_cipher(cipher_name.to_s, key, key.bytesize, iv, iv ? iv.bytesize : 0,
                                     version, encoding, always_add_header ? 1 : 0, out)
      end
      @iv = iv&.b&.freeze
      setup(ctx, 0, Native.cipher_infos(ctx).first, true)
    end

    # A cipher of a loaded configuration: index `index` of the native context `ctx`.
    # @api private
    def self.from_context(ctx, index, info)
      allocate.tap { |c| c.send(:setup, ctx, index, info, false) }
    end

    # @return [Boolean] whether this is an authenticated (GCM) cipher
    def authenticated?
      @authenticated
    end

    # Encrypts and encodes `str`.
    #
    # @param str [String, #to_s, nil]
    # @param random_iv [Boolean] a random iv (different output every time); default
    #   SymmetricEncryption.randomize_iv?
    # @param compress [Boolean] zlib-compress before encrypting
    # @param header [Boolean] add the header (default always_add_header; GCM, random_iv and
    #   compress always add it)
    # @return [String, nil] UTF-8 text (binary for encoding :none); nil for nil, "" for ""
    def encrypt(str, random_iv: SymmetricEncryption.randomize_iv?, compress: false, header: always_add_header)
      return if str.nil?

      str = str.to_s
      return str if str.empty?

      opts = Native.options(random_iv ? 1 : 0, compress ? 1 : 0, header ? 1 : 0, @version_arg)
      Native.encrypt(@ctx, str, opts).force_encoding(@text_encoding)
    end

    # Decodes and decrypts `str`.
    #
    # @param str [String, nil]
    # @return [String, nil] UTF-8 when the bytes are valid UTF-8, else binary
    # @raise [SymmetricEncryption::DecryptionError] (an OpenSSL::Cipher::CipherError) bad
    #   padding, wrong key, malformed header
    # @raise [SymmetricEncryption::AuthenticationError] GCM tag mismatch
    # @raise [SymmetricEncryption::EncodingError] not valid for the encoding
    def decrypt(str)
      return if str.nil?

      str = str.to_s
      return str if str.empty?

      SymmetricEncryption.text(Native.decrypt(decrypt_context, str, @version_arg))
    end

    # Encrypts without encoding: header + ciphertext.
    # @param (see #encrypt)
    # @return [String, nil] binary
    def binary_encrypt(str, random_iv: SymmetricEncryption.randomize_iv?, compress: false, header: always_add_header)
      return if str.nil?

      str = str.to_s
      return str.b if str.empty?

      opts = Native.options(random_iv ? 1 : 0, compress ? 1 : 0, header ? 1 : 0, @version_arg)
      Native.bytes_call(:se_encrypt_binary, @ctx, str, [opts], false)
    end

    # Decrypts a binary (not encoded) value.
    # @param str [String, nil]
    # @param header [Object] accepted for the gem's signature; the header is read from `str`
    # @return [String, nil] binary
    def binary_decrypt(str, header: nil) # rubocop:disable Lint/UnusedMethodArgument
      return if str.nil?

      str = str.to_s
      return str.b if str.empty?

      Native.bytes_call(:se_decrypt_binary, decrypt_context, str, [@version_arg], true)
    end

    # Encodes binary data with this cipher's encoding.
    # @param binary_string [String, nil]
    # @return [String, nil]
    def encode(binary_string)
      return if binary_string.nil?

      str = binary_string.to_s
      return str if str.empty?

      Native.bytes_call(:se_encode, @ctx, str, [], false).force_encoding(@text_encoding)
    end

    # Decodes text in this cipher's encoding.
    # @param encoded_string [String, nil]
    # @return [String, nil] binary
    # @raise [SymmetricEncryption::EncodingError]
    def decode(encoded_string)
      return if encoded_string.nil?

      str = encoded_string.to_s
      return str.b if str.empty?

      Native.bytes_call(:se_decode, @ctx, str, [], true)
    end

    # The encoded magic header "@EnC" without padding: encrypted values start with it.
    # @return [String]
    def encoded_magic_header
      @encoded_magic_header ||= encode(SymmetricEncryption::MAGIC_HEADER.b).sub(/=*\s*\z/, "").freeze
    end

    # @return [String] a new random key for this cipher (binary)
    def random_key
      Native.random_bytes(@key_len)
    end

    # @return [String] a new random iv for this cipher (binary)
    def random_iv
      Cipher.random_iv(@cipher_name)
    end

    # Never shows the key or the iv.
    # @return [String]
    def inspect
      "#<#{self.class.name} version=#{@version} cipher_name=#{@cipher_name.inspect} " \
        "encoding=#{@encoding.inspect} always_add_header=#{@always_add_header}>"
    end
    alias to_s inspect

    # @api private
    # The native context to combine this cipher into a global one: its own when it was built
    # with Cipher.new; for a cipher of a loaded configuration, its own one-cipher context when
    # the library can select one (se_context_select), else nil.
    def single_context
      return @ctx if @standalone
      return @single if defined?(@single) && @single
      return nil unless Native.available?(:se_context_select)

      @single = Native.new_context { |out| Native.se_context_select(@ctx, @index, out) }
    end

    # @api private
    attr_reader :native_context, :index

    # @api private
    def standalone?
      @standalone
    end

    private

    def setup(ctx, index, info, standalone)
      @ctx = ctx
      @native_context = ctx
      @index = index
      @standalone = standalone
      @version = info[:version]
      @cipher_name = info[:cipher_name].freeze
      @encoding = info[:encoding]
      @always_add_header = info[:always_add_header]
      @authenticated = info[:authenticated]
      @key_len = info[:key_len]
      # A standalone cipher is its context's primary (-1); a cipher of a configuration is
      # picked by its version.
      @version_arg = standalone ? -1 : @version
      @text_encoding = @encoding == :none ? Encoding::BINARY : Encoding::UTF_8
    end
  end
end
