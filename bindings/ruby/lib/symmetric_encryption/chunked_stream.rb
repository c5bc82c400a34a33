# frozen_string_literal: true

module SymmetricEncryption
  # One chunked GCM stream's frames, as the gem's SymmetricEncryption::ChunkedStream: chunk
  # `number` is sealed with the nonce `nonce_prefix (7 bytes) || number (u32, big-endian) ||
  # last (1 byte)` and the stream's header bytes as its AAD, and stored as its ciphertext
  # followed by the 16-byte auth tag. A chunk moved, dropped, duplicated, taken from another
  # stream, or left last by a truncation fails its tag check. Writer and Reader do all of this
  # for whole streams; this class is for code that handles the frames itself.
  #
  # The sealing and opening happen in the native library (se_chunk_seal / se_chunk_open).
  #
  # @example
  #   stream = SymmetricEncryption::ChunkedStream.new(
  #     cipher_name: "aes-256-gcm", key: key, nonce_prefix: SymmetricEncryption::ChunkedStream.generate_nonce_prefix,
  #     header_bytes: header_bytes, chunk_size: 64 * 1024
  #   )
  #   frame = stream.encrypt(0, data, last: true)
  #   stream.decrypt(0, frame, last: true) == data # => true
  class ChunkedStream
    # Bytes of the nonce generated once per stream (the rest: chunk number and last flag).
    NONCE_PREFIX_SIZE = 7

    # A stream holds at most this many chunks (the chunk number is 4 bytes).
    MAX_CHUNKS = 2**32

    # @return [Integer] plaintext bytes in every chunk but the last
    attr_reader :chunk_size

    # @return [String] a random nonce prefix for a new stream
    def self.generate_nonce_prefix
      Native.random_bytes(NONCE_PREFIX_SIZE)
    end

    # @param cipher_name [String] an authenticated cipher: aes-128-gcm, aes-192-gcm, aes-256-gcm
    # @param key [String] the stream's key (binary, as long as the cipher needs)
    # @param nonce_prefix [String] 7 bytes, held in the stream's header
    # @param header_bytes [String] every byte of the stream's header, which each chunk is bound to
    # @param chunk_size [Integer]
    # @raise [ArgumentError] (SymmetricEncryption::InvalidArgument) an unauthenticated or unknown
    #   cipher, a key or nonce prefix of the wrong length
    def initialize(cipher_name:, key:, nonce_prefix:, header_bytes:, chunk_size: Header::DEFAULT_CHUNK_SIZE)
      Native.require!(:se_chunk_seal)
      @cipher_name = cipher_name.to_s
      key_len, = Cipher::CIPHERS.fetch(@cipher_name) do
        raise InvalidArgument, "unknown cipher_name #{cipher_name.inspect}: expected one of #{Cipher::CIPHERS.keys.join(', ')}"
      end
      unless @cipher_name.end_with?("-gcm")
        raise InvalidArgument, "#{@cipher_name} is not an authenticated cipher, so it cannot authenticate the chunks " \
                               "of a stream: use aes-256-gcm (or aes-128-gcm, aes-192-gcm)"
      end
      @nonce_prefix = nonce_prefix.to_s.b
      if @nonce_prefix.bytesize != NONCE_PREFIX_SIZE
        raise InvalidArgument, "the nonce prefix must be exactly #{NONCE_PREFIX_SIZE} bytes, but is #{@nonce_prefix.bytesize} bytes"
      end

      @key = Key.binary!(key, length: key_len, cipher_name: @cipher_name, name: "key")
      @header_bytes = header_bytes.to_s.b
      @chunk_size = Integer(chunk_size)
    end

    # @return [Integer] the bytes a full chunk occupies (its data and auth tag)
    def frame_size
      chunk_size + Header::AUTH_TAG_SIZE
    end

    # @return [Integer] the bytes of the header, so the offset of the first chunk
    def header_size
      @header_bytes.bytesize
    end

    # @param number [Integer] the chunk's position, from 0
    # @param data [String] its plaintext (chunk_size bytes unless it is the last)
    # @param last [Boolean] whether it is the stream's last chunk
    # @return [String] the encrypted chunk with its auth tag appended (binary)
    # @raise [SymmetricEncryption::CipherError] number is MAX_CHUNKS or more
    def encrypt(number, data, last:)
      call(:se_chunk_seal, number, last, data.to_s.b, false)
    end

    # @param number [Integer] the chunk's position, from 0
    # @param frame [String] the encrypted chunk with its auth tag
    # @param last [Boolean] whether it was found at the end of the stream
    # @return [String] the plaintext (binary)
    # @raise [SymmetricEncryption::AuthenticationError] (an OpenSSL::Cipher::CipherError) the chunk
    #   was changed, moved, taken from another stream, or the stream was truncated after it
    # @raise [SymmetricEncryption::DecryptionError] (rescued by `rescue SymmetricEncryption::CipherError`)
    #   a frame too short to hold its auth tag
    def decrypt(number, frame, last:)
      call(:se_chunk_open, number, last, frame.to_s.b, true)
    end

    # Never shows the key.
    def inspect
      "#<#{self.class.name} cipher_name=#{@cipher_name.inspect} chunk_size=#{chunk_size}>"
    end

    private

    def call(function, number, last, data, decrypting)
      number = Integer(number)
      raise InvalidArgument, "the chunk number must be 0 or more, not #{number}" if number.negative?
      if number >= MAX_CHUNKS
        raise CipherError, "a chunked stream holds at most #{MAX_CHUNKS} chunks of #{chunk_size} bytes; chunk #{number} is past that"
      end

      out = FFI::MemoryPointer.new(Native::Bytes.size)
      status = Native.public_send(function, @cipher_name, @key, @key.bytesize, @nonce_prefix, @nonce_prefix.bytesize,
                                  @header_bytes, @header_bytes.bytesize, number, last ? 1 : 0, data, data.bytesize, out)
      Native.raise_error(status, decrypting) unless status == Native::OK

      Native.take_bytes(out)
    end
  end
end
