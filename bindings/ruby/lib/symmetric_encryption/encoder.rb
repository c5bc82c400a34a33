# frozen_string_literal: true

require "base64"

module SymmetricEncryption
  # The encodings of encrypted text, as the gem's SymmetricEncryption::Encoder: `encode` gives
  # UTF-8 text, `decode` binary (`None` hands the bytes back as they are). No encryption here.
  #
  # @example
  #   SymmetricEncryption::Encoder[:base16].encode("\x01\xFF".b) # => "01ff"
  #   SymmetricEncryption::Encoder.decode("01ff", :base16)       # => "\x01\xFF"
  module Encoder
    # @param encoding [Symbol] :base64, :base64strict, :base64urlsafe, :base16 or :none
    # @return [#encode, #decode] a new encoder
    # @raise [SymmetricEncryption::InvalidArgument] another encoding
    def self.[](encoding)
      case encoding
      when :base64 then Base64.new
      when :base64strict then Base64Strict.new
      when :base64urlsafe then Base64UrlSafe.new
      when :base16 then Base16.new
      when :none then None.new
      else raise InvalidArgument, "Unknown encoder: #{encoding.inspect}"
      end
    end

    # @return [String, nil]
    def self.encode(binary_string, encoding)
      self[encoding].encode(binary_string)
    end

    # @return [String, nil]
    def self.decode(encoded_string, encoding)
      self[encoding].decode(encoded_string)
    end

    # What every encoder shares: nil and "" pass through unchanged.
    class Base
      # @param binary_string [String, nil]
      # @return [String, nil] UTF-8
      def encode(binary_string)
        return binary_string if binary_string.nil? || binary_string == ""

        encode_bytes(binary_string.to_s.b).force_encoding(Encoding::UTF_8)
      end

      # @param encoded_string [String, nil]
      # @return [String, nil] binary
      def decode(encoded_string)
        return encoded_string if encoded_string.nil? || encoded_string == ""

        decode_text(encoded_string.to_s).force_encoding(Encoding::BINARY)
      end
    end

    # Binary data unchanged (may contain NUL bytes).
    class None
      # @return [String, nil] a copy
      def encode(binary_string)
        binary_string&.dup
      end

      # @return [String, nil] a copy
      def decode(encoded_string)
        encoded_string&.dup
      end
    end

    # Base64 with a newline every 60 characters.
    class Base64 < Base
      private

      def encode_bytes(bytes)

        ::Base64.encode64(bytes)

      end
      def decode_text(text)
        ::Base64.decode64(text)
      end
    end

    # Base64 without newlines (the default). Decoding also takes base64 with newlines.
    class Base64Strict < Base
      private

      def encode_bytes(bytes)

        ::Base64.strict_encode64(bytes)

      end
      def decode_text(text)
        ::Base64.decode64(text)
      end
    end

    # Url-safe base64 ('-' and '_').
    class Base64UrlSafe < Base
      private

      def encode_bytes(bytes)

        ::Base64.urlsafe_encode64(bytes)

      end

      def decode_text(text)
        ::Base64.urlsafe_decode64(text)
      rescue ::ArgumentError
        raise EncodingError, "the text is not valid url-safe base64"
      end
    end

    # Lowercase hex. Decoding refuses anything but an even number of hex digits (the gem
    # decodes such text into other bytes; see README, "Differences").
    class Base16 < Base
      private

      def encode_bytes(bytes)

        bytes.unpack1("H*")

      end

      def decode_text(text)
        unless text.match?(/\A(?:\h\h)*\z/)
          raise EncodingError, "the text is not valid base16: expected an even number of hex digits"
        end

        [text].pack("H*")
      end
    end
  end
end
