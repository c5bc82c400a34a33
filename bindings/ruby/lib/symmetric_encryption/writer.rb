# frozen_string_literal: true

module SymmetricEncryption
  # Writes an encrypted file or stream, encrypting as it goes: only one chunk is held in memory,
  # whatever the size of the data. A file written by path appears at its name only when the
  # writer is closed (it is written to a temporary file and renamed), so a failed or abandoned
  # write leaves nothing behind.
  #
  # @example
  #   SymmetricEncryption::Writer.open("secrets.csv.enc") do |file|
  #     file.write("id,secret\n")
  #     file << "1,alpha\n"
  #   end
  class Writer
    # Encrypts to a file or stream; with a block, closes it when the block ends (or abandons
    # it when the block raises) and returns the block's value.
    #
    # @param file_name_or_stream [String, IO] a path, or an object with #write
    # @param compress [Boolean, nil] nil: a path is compressed unless its name ends in .zip
    #   .gz .gzip or .xls*; a stream is compressed
    # @param opts [Hash] version:, cipher_name:, chunk_size: (see #initialize)
    # @yieldparam writer [SymmetricEncryption::Writer]
    # @return [SymmetricEncryption::Writer, Object] the writer, or the block's value
    def self.open(file_name_or_stream, compress: nil, **opts)
      writer = new(file_name_or_stream, compress: compress, **opts)
      return writer unless block_given?

      begin
        result = yield writer
      rescue Exception # rubocop:disable Lint/RescueException
        writer.abandon
        raise
      end
      writer.close
      result
    end

    # Encrypts `data` into a file or stream in one call.
    # @return [Integer] bytes of data written
    def self.write(file_name_or_stream, data, **opts)
      open(file_name_or_stream, **opts) { |f| f.write(data) }
    end

    # Encrypts a whole file or stream into another, streaming.
    #
    # @param source [String, IO] path or object with #read
    # @param target [String, IO] path or object with #write
    # @param block_size [Integer] bytes read at a time from a source stream
    # @param compress [Boolean, nil] as for open
    # @param opts [Hash] version:, cipher_name:, chunk_size:
    # @return [Integer] bytes of data read from the source
    def self.encrypt(source:, target:, block_size: 65_536, compress: nil, **opts)
      if source.is_a?(String) && target.is_a?(String) && (opts.keys - [:version]).empty? &&
         Native.available?(:se_encrypt_file)
        ctx = SymmetricEncryption.context!
        status = Native.se_encrypt_file(ctx, Native.text_arg(source), Native.text_arg(target),
                                        Writer.flag(compress), opts[:version] || -1)
        Native.raise_error(status) unless status == Native::OK
        return File.size(source)
      end

      source_io = source.is_a?(String) ? File.open(source, "rb") : source
      begin
        bytes = 0
        open(target, compress: compress, **opts) do |out|
          buffer = String.new(capacity: block_size)
          bytes += out.write(buffer) while source_io.read(block_size, buffer)
        end
        bytes
      ensure
        source_io.close if source.is_a?(String)
      end
    end

    # @api private
    def self.flag(value)
      value.nil? ? -1 : (value ? 1 : 0)
    end

    # @return [Integer] bytes of data written so far (before compression and encryption)
    attr_reader :size

    # @param file_name_or_stream [String, IO] a path, or an object with #write
    # @param version [Integer, nil] the cipher that encrypts (default: the primary)
    # @param cipher_name [String, nil] a stream cipher other than that cipher's
    # @param compress [Boolean, nil] default false, as the gem's Writer.new; nil: as for
    #   Writer.open (which passes nil unless told)
    # @param chunk_size [Integer, nil] chunk size of authenticated streams (default 65536)
    # @param header [Boolean] write a header (default true; a CBC stream without a random key
    #   and iv may omit it, and is then read with the version given to the Reader)
    # @param random_key [Boolean] a random stream key in the header (default true)
    # @param random_iv [Boolean] a random iv in the header (default true; a random key needs it)
    # @param close_stream [Boolean] whether close closes the stream given (default true)
    # @raise [SymmetricEncryption::InvalidArgument] an option that is not supported
    def initialize(file_name_or_stream, version: nil, cipher_name: nil, compress: false, chunk_size: nil,
                   header: true, random_key: true, random_iv: true, close_stream: true)
      if random_key && !random_iv
        raise InvalidArgument, "When :random_key is true, :random_iv must also be true"
      end

      Native.require!(:se_writer_open_path)
      ctx = SymmetricEncryption.context!
      options = stream_options(version, cipher_name, compress, chunk_size)
      options[:header] = header ? 1 : 0
      options[:random_key] = random_key ? 1 : 0
      options[:random_iv] = random_iv ? 1 : 0
      out = FFI::MemoryPointer.new(:pointer)
      if file_name_or_stream.is_a?(String)
        @path = file_name_or_stream
        status = Native.se_writer_open_path(ctx, Native.text_arg(@path), options, out)
      else
        @io = file_name_or_stream
        @close_io = close_stream
        @write_fn = FFI::Function.new(:int64, %i[pointer pointer size_t]) { |_user, data, len| write_out(data, len) }
        status = Native.se_writer_open_callbacks(ctx, @write_fn, nil, options, out)
      end
      check(status)
      @handle = Native.handle(out.get_pointer(0), :se_writer_free, @write_fn)
      @size = 0
      @closed = false
    end

    # Encrypts and writes `data`.
    # @param data [String, #to_s]
    # @return [Integer] bytes written
    # @raise [IOError] the writer is closed
    def write(data)
      raise ::IOError, "closed stream" if @closed
      return if data.nil? # as the gem: nil is ignored

      bytes = data.to_s
      len = bytes.bytesize
      return 0 if len.zero?

      if @io || len >= Native::BLOCKING_THRESHOLD
        # Large writes release the GVL; writes to a stream run Ruby code (its #write) during
        # the call. Either way the library gets a native copy, not the string's own buffer.
        write_native(bytes, len)
      else
        check(Native.se_writer_write(@handle, bytes, len))
      end
      @size += len
      len
    end

    # Writes `data`; returns self, for `writer << "a" << "b"`.
    def <<(data)
      write(data)
      self
    end

    # Flushes the stream written to (the library keeps a partial chunk until it is full).
    def flush
      @io.flush if @io.respond_to?(:flush)
      self
    end

    # Finishes the stream: the final chunk, the trailer, and for a path the rename to its name.
    # @param close_child_stream [Boolean] also close the stream given (default: yes, unless
    #   close_stream: false was given)
    def close(close_child_stream = true)
      return if @closed

      @closed = true
      begin
        check(@path ? Native.se_writer_close_nogvl(@handle) : Native.se_writer_close(@handle))
      ensure
        @handle.free
        @native_buffer&.clear # plaintext copies
        close_io if close_child_stream
      end
      nil
    end

    # Stops without finishing: nothing is written at the target path (a stream keeps what was
    # written to it so far and is closed).
    def abandon
      return if @closed

      @closed = true
      @handle.free
      @native_buffer&.clear
      begin
        close_io
      rescue StandardError
        nil # the exception that made us abandon the stream is the one to report
      end
    end

    # @return [Boolean]
    def closed?
      @closed
    end

    private

    def close_io
      return unless @io && @close_io && @io.respond_to?(:close)
      return if @io.respond_to?(:closed?) && @io.closed?

      @io.close
    end

    def stream_options(version, cipher_name, compress, chunk_size)
      options = Native.se_stream_options_default
      options[:compress] = Writer.flag(compress)
      options[:version] = version.nil? ? -1 : version
      if cipher_name
        @cipher_name_ptr = FFI::MemoryPointer.from_string(cipher_name.to_s)
        options[:cipher_name] = @cipher_name_ptr
      end
      options[:chunk_size] = chunk_size if chunk_size
      options
    end

    def write_native(bytes, len)
      want = [1 << 20, len].min
      if @native_buffer.nil? || @native_buffer.size < want
        @native_buffer = FFI::MemoryPointer.new(:uint8, [want, 4096].max, false)
      end
      offset = 0
      while offset < len
        n = [@native_buffer.size, len - offset].min
        @native_buffer.put_bytes(0, bytes, offset, n)
        check(@io ? Native.se_writer_write(@handle, @native_buffer, n) : Native.se_writer_write_nogvl(@handle, @native_buffer, n))
        offset += n
      end
    end

    # The se_write_fn callback: never lets a Ruby exception cross into the library; it is
    # kept and raised once the native call returns.
    def write_out(data, len)
      @io.write(data.get_bytes(0, len))
      len
    rescue Exception => e # rubocop:disable Lint/RescueException
      @callback_error ||= e
      -1
    end

    def check(status)
      if (e = @callback_error)
        @callback_error = nil
        raise e
      end
      Native.raise_error(status) unless status == Native::OK
    end
  end
end
