# frozen_string_literal: true

module SymmetricEncryption
  # The decompression limit every value decryption starts with: 64 MiB.
  DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024

  @max_decompressed_size = nil

  class << self
    # The most a compressed value may inflate to when decrypt (or Cipher#decrypt,
    # Cipher#binary_decrypt) decrypts it.
    # @return [Integer] bytes (DEFAULT_MAX_DECOMPRESSED_SIZE unless set)
    def max_decompressed_size
      @max_decompressed_size || DEFAULT_MAX_DECOMPRESSED_SIZE
    end

    # Sets the decompression limit. A compressed value that would inflate past it raises
    # SymmetricEncryption::CipherError (naming the limit) instead of filling memory; values
    # that are not compressed are never larger than the value itself.
    #
    # @param bytes [Integer, nil] a positive number of bytes; nil restores the default
    # @raise [SymmetricEncryption::InvalidArgument] not a positive Integer
    def max_decompressed_size=(bytes)
      unless bytes.nil? || (bytes.is_a?(Integer) && bytes.positive? && bytes < 2**64)
        raise InvalidArgument, "max_decompressed_size must be a positive Integer number of bytes " \
                               "(nil for the default, 64 MiB), got #{bytes.inspect}"
      end
      Native.require!(:se_context_with_max_decompressed_size) unless bytes.nil?
      @lock.synchronize do
        @max_decompressed_size = bytes
        # The native context is rebuilt with the new limit on first use.
        @state = State.new(@state.cipher, @state.secondary_ciphers)
      end
    end

    private

    # `ctx`, or a context with the same ciphers and the limit set by max_decompressed_size=.
    def limited(ctx, limit = @max_decompressed_size)
      return ctx if limit.nil? || ctx.nil?

      Native.new_context { |out| Native.se_context_with_max_decompressed_size(ctx, limit, out) }
    end
  end

  class Cipher
    private

    # The native context that decrypts: this cipher's own, with the global limit when one is set.
    def decrypt_context
      limit = SymmetricEncryption.instance_variable_get(:@max_decompressed_size)
      return @ctx if limit.nil?

      cached = @limited
      return cached[1] if cached && cached[0] == limit

      ctx = SymmetricEncryption.send(:limited, @ctx, limit)
      @limited = [limit, ctx]
      ctx
    end
  end
end
