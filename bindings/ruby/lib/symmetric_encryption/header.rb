# frozen_string_literal: true

module SymmetricEncryption
  # What the header of an encrypted value says (SymmetricEncryption.header). Never holds a key:
  # `key?` says whether the value carries its own encrypted key.
  class Header
    # @return [Integer] version of the cipher that wrote the value
    attr_reader :version
    # @return [String, nil] the iv in the header (binary), nil when absent
    attr_reader :iv
    # @return [String, nil] the cipher name in the header, nil when absent (the version's
    #   cipher then applies)
    attr_reader :cipher_name
    # @return [String, nil] the 16-byte GCM auth tag (binary), nil when absent
    attr_reader :auth_tag
    # @return [Integer, nil] chunk size of a chunked stream, nil otherwise
    attr_reader :chunk_size
    # @return [Integer] header length in bytes
    attr_reader :length

    # @api private
    # @param info [Native::HeaderInfo]
    # @param binary [String] the decoded value the header was read from
    def initialize(info, binary)
      @version = info[:version]
      @compressed = info[:compressed] == 1
      @key = info[:has_key] == 1
      @length = info[:header_len]
      name = info[:cipher_name].to_s
      @cipher_name = name.empty? ? nil : name.freeze
      @chunk_size = info[:chunk_size].zero? ? nil : info[:chunk_size]
      # The iv, when present, is the first field: u16 length at offset 6, then the bytes.
      @iv = info[:iv_len].zero? ? nil : binary.byteslice(8, info[:iv_len]).freeze
      # The auth tag is always the last 16 bytes of the header.
      @auth_tag = info[:has_auth_tag] == 1 ? binary.byteslice(@length - 16, 16).freeze : nil
    end

    # @return [Boolean] whether the data was compressed before encryption
    def compressed?
      @compressed
    end
    alias compress compressed?
    alias compress? compressed?

    # @return [Boolean] whether the header carries an encrypted key
    def key?
      @key
    end

    # @return [Boolean] whether the value is authenticated (carries a GCM tag)
    def authenticated?
      !@auth_tag.nil?
    end

    # @return [Boolean] whether this is the header of a chunked stream
    def chunked?
      !@chunk_size.nil?
    end

    # @return [SymmetricEncryption::Cipher, nil] the configured cipher with this version
    def cipher
      SymmetricEncryption.cipher(@version)
    end

    # @return [String]
    def inspect
      "#<#{self.class.name} version=#{@version} compressed=#{@compressed} cipher_name=#{@cipher_name.inspect} " \
        "iv=#{@iv ? "#{@iv.bytesize} bytes" : 'none'} key=#{@key} authenticated=#{authenticated?} length=#{@length}>"
    end
  end
end
