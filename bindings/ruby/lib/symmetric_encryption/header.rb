# frozen_string_literal: true

module SymmetricEncryption
  # The header at the start of an encrypted value or stream (SPEC section 3), as the gem's
  # SymmetricEncryption::Header: build one and write it out (#to_s), or read one from binary
  # (decoded) data (#parse, #parse!). A key in the header is encrypted with, and decrypted by,
  # the configured cipher of the header's version.
  #
  # @example
  #   header = SymmetricEncryption::Header.new(version: 2, compress: true)
  #   header.to_s                      # => "@EnC\x02\x80"
  #   parsed = SymmetricEncryption::Header.new
  #   parsed.parse("@EnC\x02\x80...")  # => 6 (the header's length)
  class Header
    # The first bytes of every header.
    MAGIC_HEADER = "@EnC".b.freeze
    MAGIC_HEADER_SIZE = MAGIC_HEADER.bytesize
    # Length of a GCM auth tag; shorter tags are refused.
    AUTH_TAG_SIZE = 16
    # Chunk sizes of chunked streams: powers of two from 2**10 to 2**24 bytes.
    MIN_CHUNK_SIZE_EXPONENT = 10
    MAX_CHUNK_SIZE_EXPONENT = 24
    DEFAULT_CHUNK_SIZE = 64 * 1024

    FLAG_COMPRESSED = 0x80
    FLAG_IV = 0x40
    FLAG_KEY = 0x20
    FLAG_CIPHER_NAME = 0x10
    FLAG_AUTH_TAG = 0x08
    FLAG_CHUNKED = 0x04
    private_constant :FLAG_COMPRESSED, :FLAG_IV, :FLAG_KEY, :FLAG_CIPHER_NAME, :FLAG_AUTH_TAG, :FLAG_CHUNKED

    # @return [Boolean] whether the data is compressed before encryption
    attr_accessor :compress
    # @return [String, nil] the iv in the header (binary)
    attr_accessor :iv
    # @return [String, nil] the key in the header, decrypted (binary)
    attr_accessor :key
    # @return [String, nil] the cipher name in the header (nil: the version's cipher)
    attr_accessor :cipher_name
    # @return [Integer] version of the cipher that encrypted the data (or the key in the header)
    attr_reader :version
    # @return [String, nil] the 16-byte auth tag (binary)
    attr_reader :auth_tag
    # @return [Integer, nil] plaintext bytes per chunk of a chunked stream
    attr_reader :chunk_size
    # @return [String, nil] the header's bytes as parsed (chunked streams only)
    attr_reader :header_bytes

    # @return [Integer] the header's length in bytes (as parsed, or as #to_s writes it)
    def length
      @length || to_s.bytesize
    end

    # Whether `buffer` starts with the magic header. The buffer is not changed.
    # @param buffer [String, nil] binary (decoded) data
    # @return [Boolean]
    def self.present?(buffer)
      return false if buffer.nil? || buffer == ""

      buffer.byteslice(0, MAGIC_HEADER_SIZE)&.b == MAGIC_HEADER
    end

    # @api private
    # A header read by the native library (SymmetricEncryption.header), from the decoded value.
    def self.from_binary(binary)
      header = new(version: 0)
      header.parse(binary).zero? ? nil : header
    end

    # @param version [Integer] default: the primary cipher's version
    # @param compress [Boolean]
    # @param iv [String, nil]
    # @param key [String, nil] written encrypted with the cipher of `version`
    # @param cipher_name [String, nil]
    # @param auth_tag [String, nil] exactly 16 bytes
    # @param authenticated [Boolean] whether the header carries an auth tag (default: whether
    #   one is given)
    # @param chunk_size [Integer, nil] a chunked stream's chunk size
    # @raise [SymmetricEncryption::CipherError] an auth tag or chunk size that is refused
    def initialize(version: nil, compress: false, iv: nil, key: nil, cipher_name: nil, auth_tag: nil,
                   authenticated: !auth_tag.nil?, chunk_size: nil)
      @version = version.nil? ? SymmetricEncryption.cipher.version : version
      @compress = compress
      @iv = iv
      @key = key
      @cipher_name = cipher_name
      @authenticated = authenticated
      @chunk_size = nil
      self.chunk_size = chunk_size if chunk_size
      self.auth_tag = auth_tag if auth_tag
    end

    # @return [Boolean]
    def compressed?
      @compress ? true : false
    end

    # @return [Boolean] whether the header carries an auth tag
    def authenticated?
      @authenticated ? true : false
    end

    # @return [Boolean] whether the header carries a key
    def key?
      !@key.nil?
    end

    # @return [Boolean] whether this is a chunked stream's header
    def chunked?
      !@chunk_size.nil?
    end

    # @param version [Integer]
    def version=(version)
      @version = version
      @cipher = nil
    end

    # @param auth_tag [String, nil] exactly 16 bytes
    # @raise [SymmetricEncryption::CipherError] another length
    def auth_tag=(auth_tag)
      auth_tag = auth_tag&.to_s&.b
      if auth_tag && auth_tag.bytesize != AUTH_TAG_SIZE
        raise CipherError, "The auth tag must be exactly #{AUTH_TAG_SIZE} bytes, but is #{auth_tag.bytesize} " \
                           "bytes: a shorter tag is refused because it is cheap to forge."
      end
      @authenticated = true if auth_tag
      @auth_tag = auth_tag
    end

    # @param chunk_size [Integer] a power of two from 1 KiB to 16 MiB
    # @raise [SymmetricEncryption::CipherError] another size
    def chunk_size=(chunk_size)
      ok = chunk_size.is_a?(Integer) && chunk_size.positive? && (chunk_size & (chunk_size - 1)).zero? &&
           chunk_size.bit_length - 1 >= MIN_CHUNK_SIZE_EXPONENT && chunk_size.bit_length - 1 <= MAX_CHUNK_SIZE_EXPONENT
      unless ok
        raise CipherError, "Chunk size #{chunk_size.inspect} is not supported. It has to be a power of two between " \
                           "#{2**MIN_CHUNK_SIZE_EXPONENT} and #{2**MAX_CHUNK_SIZE_EXPONENT} bytes."
      end
      @chunk_size = chunk_size
    end

    # @return [SymmetricEncryption::Cipher] the configured cipher of this header's version
    # @raise [SymmetricEncryption::CipherError] no cipher has it
    def cipher
      @cipher ||= SymmetricEncryption.cipher(@version)
    end

    # Strips the header from `buffer` (which is changed, and made binary).
    # @param buffer [String]
    # @return [String, nil] the data after the header; nil when there is no header
    def parse!(buffer)
      buffer&.force_encoding(Encoding::BINARY)
      offset = parse(buffer)
      return if offset.zero?

      buffer.slice!(0, offset)
      buffer
    end

    # Reads the header at `offset` of `buffer` into this object. The buffer is not changed.
    # @param buffer [String] binary (decoded) data
    # @param offset [Integer]
    # @return [Integer] the offset after the header; 0 when there is no header
    # @raise [SymmetricEncryption::CipherError] a header field runs past the data, or no cipher
    #   has the header's version
    def parse(buffer, offset = 0)
      return 0 if buffer.nil? || buffer == "" || buffer.bytesize <= MAGIC_HEADER_SIZE + 2

      buffer = buffer.b unless buffer.encoding == Encoding::BINARY
      return 0 unless buffer.byteslice(offset, MAGIC_HEADER_SIZE) == MAGIC_HEADER

      start = offset
      offset += MAGIC_HEADER_SIZE
      self.version = buffer.getbyte(offset)
      flags = buffer.getbyte(offset + 1)
      raise CipherError, "the header is cut short after its version" if flags.nil?

      offset += 2
      @compress = flags.anybits?(FLAG_COMPRESSED)
      @iv = nil
      @key = nil
      @cipher_name = nil
      @chunk_size = nil
      @auth_tag = nil
      @iv, offset = read_field(buffer, offset, "iv") if flags.anybits?(FLAG_IV)
      if flags.anybits?(FLAG_KEY)
        encrypted_key, offset = read_field(buffer, offset, "key")
        @key = cipher.binary_decrypt(encrypted_key)
      end
      if flags.anybits?(FLAG_CIPHER_NAME)
        name, offset = read_field(buffer, offset, "cipher name")
        @cipher_name = name.force_encoding(Encoding::UTF_8)
      end
      if flags.anybits?(FLAG_CHUNKED)
        exponent = buffer.getbyte(offset)
        raise CipherError, "the header is cut short before its chunk size" if exponent.nil?

        self.chunk_size = 2**exponent
        offset += 1
      end
      @authenticated = flags.anybits?(FLAG_AUTH_TAG)
      if @authenticated
        @auth_data = buffer.byteslice(start, offset - start)
        tag, offset = read_field(buffer, offset, "auth tag")
        self.auth_tag = tag
      end
      @header_bytes = buffer.byteslice(start, offset - start) if chunked?
      @length = offset - start
      offset
    end

    # The header as bytes, as written at the start of an encrypted value.
    # @return [String] binary
    # @raise [SymmetricEncryption::CipherError] an authenticated header without its auth tag
    def to_s
      return auth_data unless authenticated?
      raise CipherError, "The auth tag has to be set before an authenticated header can be written out." unless auth_tag

      "#{auth_data}#{[auth_tag.bytesize].pack('v')}#{auth_tag}".b
    end

    # The header's bytes before the auth tag: the additional authenticated data of a GCM value.
    # @return [String] binary
    def auth_data
      return build_auth_data unless authenticated?

      @auth_data ||= build_auth_data
    end

    # Never shows the key.
    # @return [String]
    def inspect
      "#<#{self.class.name} version=#{@version} compressed=#{compressed?} cipher_name=#{@cipher_name.inspect} " \
        "iv=#{@iv ? "#{@iv.bytesize} bytes" : 'none'} key=#{key?} authenticated=#{authenticated?}" \
        "#{chunked? ? " chunk_size=#{@chunk_size}" : ''}>"
    end

    private

    def build_auth_data
      flags = 0
      flags |= FLAG_COMPRESSED if compressed?
      flags |= FLAG_IV if iv
      flags |= FLAG_KEY if key
      flags |= FLAG_CIPHER_NAME if cipher_name
      flags |= FLAG_AUTH_TAG if authenticated?
      flags |= FLAG_CHUNKED if chunked?
      out = MAGIC_HEADER.dup << version.chr << flags.chr
      add_field(out, iv) if iv
      add_field(out, cipher.binary_encrypt(key, random_iv: false, compress: false, header: false)) if key
      add_field(out, cipher_name.to_s) if cipher_name
      out << (@chunk_size.bit_length - 1).chr if chunked?
      out
    end

    def add_field(out, bytes)
      bytes = bytes.b
      out << [bytes.bytesize].pack("v") << bytes
    end

    def read_field(buffer, offset, what)
      len = buffer.byteslice(offset, 2)&.unpack1("v")
      field = len && buffer.byteslice(offset + 2, len)
      unless field && field.bytesize == len
        raise CipherError, "the header's #{what} field runs past the end of the data: the value is truncated or " \
                           "not an encrypted value"
      end
      [field, offset + 2 + len]
    end
  end
end
