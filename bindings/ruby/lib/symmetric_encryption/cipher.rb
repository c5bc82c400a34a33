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
    # @raise [SymmetricEncryption::InvalidArgument] (an ArgumentError, as in the gem) unknown
    #   cipher or encoding, key or iv of the wrong length (the message gives lengths, never
    #   bytes), version out of range, arguments of the wrong type
    def initialize(key:, iv: nil, cipher_name: "aes-256-cbc", version: 0, always_add_header: true,
                   encoding: :base64strict, cipher: nil)
      cipher_name = cipher if cipher # the gem's older option name
      build(key: key, iv: iv, cipher_name: cipher_name, version: version,
            always_add_header: always_add_header, encoding: encoding)
    end

    # The gem's deprecated header helpers, kept for code written against gem 4.x.

    # @param buffer [String, nil] binary (decoded) data
    # @return [Boolean] whether `buffer` starts with the magic header
    def self.has_header?(buffer) # rubocop:disable Naming/PredicatePrefix
      Header.present?(buffer)
    end

    # Strips the header from `buffer` (changing it) and returns it.
    # @param buffer [String] binary (decoded) data
    # @return [SymmetricEncryption::Header, nil] nil when there is no header
    def self.parse_header!(buffer)
      header = Header.new
      header.parse!(buffer) ? header : nil
    end

    # @return [String] the binary header for these fields
    def self.build_header(version, compress = false, iv = nil, key = nil, cipher_name = nil) # rubocop:disable Style/OptionalBooleanParameter
      Header.new(version: version, compress: compress, iv: iv, key: key, cipher_name: cipher_name).to_s
    end

    # Attribute writers, as in the gem: the cipher stays the same Ruby object, and its native
    # cipher is rebuilt with the new value (a cipher of a loaded configuration becomes a
    # standalone one). Every set of ciphers this cipher belongs to (cipher=, secondary_ciphers=)
    # picks the change up on its next call.
    # @raise [SymmetricEncryption::InvalidArgument] a value the cipher cannot take (an unknown
    #   encoding or cipher name, a key or iv of the wrong length for the cipher)

    # @param value [Symbol, String] :base64strict, :base64, :base64urlsafe, :base16 or :none
    def encoding=(value)
      rebuild(encoding: value)
    end

    # @param value [String] e.g. "aes-128-cbc": the key must already have that cipher's length
    def cipher_name=(value)
      rebuild(cipher_name: value)
    end

    # @param value [Integer] 0..255
    def version=(value)
      rebuild(version: value)
    end

    # @param value [Boolean]
    def always_add_header=(value)
      rebuild(always_add_header: value)
    end

    # @param value [String, nil] the configured iv (binary), nil for none
    def iv=(value)
      rebuild(iv: value)
    end

    # @param value [String] the raw key (binary)
    def key=(value)
      rebuild(key: value)
    end

    # The configured iv (CBC without random_iv; GCM never uses it).
    # @return [String, nil] binary, nil when the cipher has none
    def iv
      return @iv if defined?(@iv)

      @iv = Native.secret(:se_context_cipher_iv, @ctx, @index)
      @iv = @iv.empty? ? nil : @iv.freeze
    end

    # The block size of the cipher, as OpenSSL reports it: 16 for CBC, 1 for GCM.
    # @return [Integer]
    def block_size
      @authenticated ? 1 : 16
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

      ctx, version_arg = own_context
      opts = Native.options(random_iv ? 1 : 0, compress ? 1 : 0, header ? 1 : 0, version_arg)
      Native.encrypt(ctx, str, opts).force_encoding(@text_encoding)
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

      ctx, version_arg = own_context
      ctx = ctx.equal?(@ctx) ? decrypt_context : SymmetricEncryption.send(:limited, ctx)
      SymmetricEncryption.text(Native.decrypt(ctx, str, version_arg))
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
    # @param header [SymmetricEncryption::Header, nil] for data whose header was stripped
    #   (Header#parse!): its iv, key, cipher name and compression apply. Ignored when `str`
    #   has its own header.
    # @return [String, nil] binary
    def binary_decrypt(str, header: nil)
      return if str.nil?

      str = str.to_s
      return str.b if str.empty?

      str = with_header(header, str) if header.is_a?(Header) && !Header.present?(str)
      Native.bytes_call(:se_decrypt_binary, decrypt_context, str, [@version_arg], true)
    end

    # Encodes binary data with this cipher's encoding.
    # @param binary_string [String, nil]
    # @return [String, nil]
    def encode(binary_string)
      return if binary_string.nil?

      str = binary_string.to_s
      return str if str.empty?

      Native.bytes_call(:se_encode, own_context[0], str, [], false).force_encoding(@text_encoding)
    end

    # Decodes text in this cipher's encoding.
    # @param encoded_string [String, nil]
    # @return [String, nil] binary
    # @raise [SymmetricEncryption::EncodingError]
    def decode(encoded_string)
      return if encoded_string.nil?

      str = encoded_string.to_s
      return str.b if str.empty?

      Native.bytes_call(:se_decode, own_context[0], str, [], true)
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

    # The gem's layout, with the key and the iv filtered.
    # @return [String]
    def inspect
      "#<#{self.class.name}:0x#{__id__.to_s(16)} @key=\"[FILTERED]\" @iv=#{iv ? '"[FILTERED]"' : 'nil'} " \
        "@cipher_name=#{@cipher_name.inspect}, @version=#{@version.inspect}, @encoding=#{@encoding.inspect}, " \
        "@always_add_header=#{@always_add_header.inspect}>"
    end

    # @return [#encode, #decode] the SymmetricEncryption::Encoder of this cipher's encoding
    def encoder
      @encoder ||= Encoder[@encoding]
    end
    alias to_s inspect

    # @api private
    # The native context to combine this cipher into a global one: its own when it was built
    # with Cipher.new; for a cipher of a loaded configuration, its own one-cipher context when
    # the library can select one (se_context_select), else nil.
    def single_context
      return @ctx if @standalone
      return @single if @single
      return nil unless Native.available?(:se_context_select)

      @single = Native.new_context { |out| Native.se_context_select(@ctx, @index, out) }
    end

    # @api private
    attr_reader :native_context, :index

    # @api private
    def standalone?
      @standalone
    end

    # @api private
    # A native context holding this cipher with `encoding` (the gem decodes every value with
    # the primary's encoding, whatever the cipher's own).
    def context_with_encoding(encoding)
      return single_context if encoding == @encoding

      copy = Cipher.allocate
      copy.send(:build, key: key, iv: iv, cipher_name: @cipher_name, version: @version,
                        always_add_header: @always_add_header, encoding: encoding)
      copy.native_context
    end

    private

    # [context, version argument] where this cipher is the primary, so its own encoding
    # applies (a loaded configuration's context encodes with its primary's).
    def own_context
      return [@ctx, @version_arg] if @standalone

      single = single_context
      single ? [single, -1] : [@ctx, @version_arg]
    end

    # `data` behind a header with the fields of `header` that matter to decryption, written for
    # this cipher's version; `data` alone when `header` says nothing.
    def with_header(header, data)
      return data unless header.iv || header.key || header.cipher_name || header.compressed? || header.auth_tag

      Header.new(version: @version, compress: header.compressed?, iv: header.iv, key: header.key,
                 cipher_name: header.cipher_name, auth_tag: header.auth_tag).to_s + data.b
    end

    # The raw key (binary). Private, as in the gem: only code that must hand the key on (the
    # gem's tests, Keystore, a rebuilt cipher) reads it.
    def key
      Native.secret(:se_context_cipher_key, @ctx, @index)
    end

    def build(key:, iv:, cipher_name:, version:, always_add_header:, encoding:)
      raise InvalidArgument, "key must be a String" unless key.is_a?(String)
      raise InvalidArgument, "iv must be a String or nil" unless iv.nil? || iv.is_a?(String)

      version = version.to_i if version.is_a?(String) || version.is_a?(Float)
      unless version.is_a?(Integer) && version.between?(0, 255)
        raise InvalidArgument, "Cipher version has a valid range of 0 to 255, got #{version.inspect}"
      end

      key_len, iv_len = Cipher.send(:lengths, cipher_name)
      check_length("key", key, key_len, cipher_name)
      check_length("iv", iv, iv_len, cipher_name) if iv && cipher_name.to_s.end_with?("cbc")
      encoding = encoding.to_s.delete_prefix(":")
      unless ENCODINGS.include?(encoding.to_sym)
        raise InvalidArgument, "Unknown encoding #{encoding.inspect}: expected one of #{ENCODINGS.map(&:inspect).join(', ')}"
      end

      ctx = Native.new_context do |out|
        Native.se_context_new_cipher(cipher_name.to_s, key, key.bytesize, iv, iv ? iv.bytesize : 0,
                                     version, encoding, always_add_header ? 1 : 0, out)
      end
      remove_instance_variable(:@iv) if defined?(@iv)
      @iv = iv.b.freeze if iv
      @encoded_magic_header = nil
      @encoder = nil
      @single = nil
      @limited = nil
      setup(ctx, 0, Native.cipher_infos(ctx).first, true)
    end

    def check_length(name, value, length, cipher_name)
      return if value.bytesize == length

      # Lengths only: the bytes are secret.
      raise InvalidArgument, "The #{name} supplied for cipher_name: #{cipher_name.to_s.inspect} must be exactly " \
                             "#{length} bytes, but is #{value.bytesize} bytes. The #{name} is raw binary data: a " \
                             "#{name} stored hex or base64 encoded has to be decoded first."
    end

    def rebuild(**changes)
      current = { key: key, iv: iv, cipher_name: @cipher_name, version: @version,
                  always_add_header: @always_add_header, encoding: @encoding }
      build(**current, **changes)
      SymmetricEncryption.send(:cipher_changed, self)
      changes.values.last
    end

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
