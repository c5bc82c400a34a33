# frozen_string_literal: true

module SymmetricEncryption
  # Reads an encrypted file or stream, decrypting (and decompressing) as it goes: only one
  # chunk is held in memory. Authenticated streams are verified chunk by chunk; a failure
  # raises AuthenticationError, and whatever was read before it must be discarded.
  #
  # @example
  #   SymmetricEncryption::Reader.open("secrets.csv.enc") do |file|
  #     file.each_line { |line| puts line }
  #   end
  class Reader
    # Opens an encrypted file or stream; with a block, closes it when the block ends and
    # returns the block's value.
    #
    # @param file_name_or_stream [String, IO] a path, or an object with #read (and #seek to
    #   seek)
    # @param opts [Hash] buffer_size:, version: (see #initialize)
    # @yieldparam reader [SymmetricEncryption::Reader]
    # @return [SymmetricEncryption::Reader, Object]
    def self.open(file_name_or_stream, **opts)
      reader = new(file_name_or_stream, **opts)
      return reader unless block_given?

      begin
        yield reader
      ensure
        reader.close
      end
    end

    # The whole decrypted content (for small files: it is all held in memory).
    # @return [String]
    def self.read(file_name_or_stream, **opts)
      open(file_name_or_stream, **opts, &:read)
    end

    # Decrypts a whole file or stream into another, streaming. A target given as a path is
    # written by the library: under a temporary name (mode 0600) renamed onto the target only
    # once the whole source has been read and authenticated, so a failure leaves nothing there
    # and a symbolic link planted at the target is replaced, not followed. A character device
    # or FIFO target (/dev/null, a pipe) is written in place.
    #
    # @param source [String, IO]
    # @param target [String, IO]
    # @param block_size [Integer] bytes read at a time
    # @return [Integer] bytes written to the target
    def self.decrypt(source:, target:, block_size: 65_536, **opts)
      if source.is_a?(String) && target.is_a?(String) && opts.keys == [:max_output] &&
         Native.available?(:se_decrypt_file_max_output)
        raise Errno::ENOENT, source unless File.exist?(source)

        status = Native.se_decrypt_file_max_output(SymmetricEncryption.context!, Native.text_arg(source),
                                                   Native.text_arg(target), max_output_arg(opts[:max_output]))
        Native.raise_error(status, true) unless status == Native::OK
        return File.size(target)
      end
      if source.is_a?(String) && target.is_a?(String) && opts.empty? && Native.available?(:se_decrypt_file)
        raise Errno::ENOENT, source unless File.exist?(source)

        status = Native.se_decrypt_file(SymmetricEncryption.context!, Native.text_arg(source),
                                        Native.text_arg(target))
        Native.raise_error(status, true) unless status == Native::OK
        return File.size(target)
      end

      if target.is_a?(String)
        Native.require!(:se_reader_copy_to_file)
        return open(source, **opts) { |reader| reader.copy_to_file(target) }
      end

      bytes = 0
      open(source, **opts) do |reader|
        buffer = String.new(capacity: block_size)
        bytes += target.write(buffer) while reader.read(block_size, buffer)
      end
      bytes
    end

    # @api private
    # @raise [SymmetricEncryption::InvalidArgument] not a positive Integer
    def self.max_output_arg(value)
      return value if value.is_a?(Integer) && value.positive? && value < 2**64

      raise InvalidArgument, "max_output must be a positive Integer number of bytes, got #{value.inspect}"
    end

    # Whether the file or stream holds no data (a zero-length file counts as empty).
    # @raise [Errno::ENOENT] the file does not exist
    # @return [Boolean]
    def self.empty?(file_name_or_stream)
      # A missing file raises Errno::ENOENT, as in gem 4.6 and 5.0.
      return true if file_name_or_stream.is_a?(String) && File.zero?(file_name_or_stream)
      open(file_name_or_stream, &:eof?)
    end

    # Whether the file starts with the encryption header.
    # @param file_name [String]
    # @return [Boolean]
    def self.header_present?(file_name)
      open(file_name, &:header_present?)
    end

    # @return [Integer] bytes of decrypted data returned so far (or the position sought to)
    attr_reader :pos
    alias tell pos

    # @param file_name_or_stream [String, IO]
    # @param buffer_size [Integer] bytes asked of the library per read (default 65536)
    # @param version [Integer, nil] the cipher for a stream without a header (default: primary)
    # @param close_stream [Boolean] whether close closes the stream given (default true)
    # @param max_output [Integer, nil] the most decrypted bytes to return in all (default: no
    #   limit); reading past it raises SymmetricEncryption::CipherError
    # @raise [Errno::ENOENT] no such file
    # @raise [SymmetricEncryption::DecryptionError] not an encrypted stream this
    #   configuration can read
    def initialize(file_name_or_stream, buffer_size: 65_536, version: nil, close_stream: true, max_output: nil,
                   **_ignored)
      raise InvalidArgument, "buffer_size cannot be smaller than 128" if buffer_size < 128

      Native.require!(:se_reader_open_path)
      ctx = SymmetricEncryption.context!
      version_arg = version.nil? ? -1 : version
      out = FFI::MemoryPointer.new(:pointer)
      if file_name_or_stream.is_a?(String)
        raise Errno::ENOENT, file_name_or_stream unless File.exist?(file_name_or_stream)

        @path = file_name_or_stream
        check(Native.se_reader_open_path(ctx, Native.text_arg(@path), version_arg, out))
      else
        @io = file_name_or_stream
        @close_io = close_stream
        @read_fn = FFI::Function.new(:int64, %i[pointer pointer size_t]) { |_u, buf, cap| read_in(buf, cap) }
        if @io.respond_to?(:seek)
          @seek_fn = FFI::Function.new(:int64, %i[pointer int64 int32]) { |_u, off, whence| seek_in(off, whence) }
        end
        check(Native.se_reader_open_callbacks(ctx, @read_fn, @seek_fn, nil, version_arg, out))
      end
      @handle = Native.handle(out.get_pointer(0), :se_reader_free, @read_fn, @seek_fn)
      unless max_output.nil?
        Native.require!(:se_reader_set_max_output)
        check(Native.se_reader_set_max_output(@handle, self.class.max_output_arg(max_output)))
      end
      @buffer_size = buffer_size
      @native_buffer = FFI::MemoryPointer.new(:uint8, buffer_size, false)
      @nread = FFI::MemoryPointer.new(:size_t)
      @buf = String.new(encoding: Encoding::BINARY)
      @off = 0
      @pos = 0
      @end = false
      @closed = false
      read_header(version)
    end

    # @return [Boolean] whether the stream starts with a header
    def header_present?
      @header_present
    end

    # @return [Boolean, nil] whether the data was compressed; nil without a header
    def compressed?
      @compressed
    end

    # @return [Integer, nil] the version of the cipher that wrote the stream (the version asked
    #   for when it has no header)
    attr_reader :version

    # @return [String, nil] the stream cipher named in the header, if any
    attr_reader :cipher_name

    # Reads like IO#read: up to `length` bytes (binary; nil at the end), or with no length
    # everything left (UTF-8 when valid, else binary; "" at the end).
    #
    # @param length [Integer, nil]
    # @param outbuf [String, nil] receives the data
    # @return [String, nil]
    def read(length = nil, outbuf = nil)
      ensure_open
      raise InvalidArgument, "negative length #{length} given" if length&.negative?

      data = outbuf ? outbuf.clear.force_encoding(Encoding::BINARY) : String.new(encoding: Encoding::BINARY)
      if length.nil?
        loop do
          data << take(@buf.bytesize - @off) if @off < @buf.bytesize
          break unless fill
        end
        return SymmetricEncryption.text(data)
      end

      return data if length.zero?

      while data.bytesize < length
        break if @off >= @buf.bytesize && !fill

        data << take([length - data.bytesize, @buf.bytesize - @off].min)
      end
      data.empty? ? nil : data
    end

    # Reads a line like IO#gets: gets, gets(sep), gets(limit), gets(sep, limit); sep nil reads
    # everything, "" reads a paragraph.
    #
    # @param chomp [Boolean] remove the separator
    # @return [String, nil] UTF-8 when valid, else binary; nil at the end
    def gets(*args, chomp: false)
      ensure_open
      sep, limit = line_args(args)
      return read_rest(limit) if sep.nil?

      paragraph = sep.empty?
      if paragraph
        sep = "\n\n".b
        skip_newlines
      end
      line = read_line(sep, limit)
      return nil if line.nil?

      skip_newlines if paragraph
      line = line.byteslice(0, line.bytesize - sep.bytesize) if chomp && line.end_with?(sep)
      SymmetricEncryption.text(line)
    end

    # Like gets, but raises EOFError at the end.
    def readline(*args, chomp: false)
      gets(*args, chomp: chomp) || raise(EOFError, "end of file reached")
    end

    # Yields each line (see gets); without a block an Enumerator.
    # @return [self]
    def each_line(*args, chomp: false)
      return enum_for(:each_line, *args, chomp: chomp) unless block_given?

      while (line = gets(*args, chomp: chomp))
        yield line
      end
      self
    end
    alias each each_line

    # @return [Array<String>] the remaining lines
    def readlines(*args, chomp: false)
      each_line(*args, chomp: chomp).to_a
    end

    # @return [Boolean] whether all the data has been read
    def eof?
      ensure_open
      @off >= @buf.bytesize && !fill
    end
    alias eof eof?

    # Moves to a position in the decrypted data. An uncompressed chunked stream reads only the
    # chunk holding it; other streams read forward from the start (see README).
    #
    # @param amount [Integer]
    # @param whence [Integer] IO::SEEK_SET, IO::SEEK_CUR or IO::SEEK_END
    # @return [0]
    def seek(amount, whence = IO::SEEK_SET)
      ensure_open
      case whence
      when IO::SEEK_SET, :SET then native_seek(amount, 0)
      when IO::SEEK_CUR, :CUR then native_seek(@pos + amount, 0)
      when IO::SEEK_END, :END then native_seek(amount, 2)
      else raise InvalidArgument, "unknown whence: #{whence.inspect}"
      end
      0
    end

    # Seeks to `position`.
    def pos=(position)
      seek(position)
    end

    # Back to the start.
    # @return [0]
    def rewind
      seek(0)
    end

    # The size of the encrypted file or stream, header included, as in the gem (4.6 and 5.0):
    # not the number of bytes the reader yields (see #decrypted_size).
    # @return [Integer, nil] nil for a stream that does not know its size
    def size
      ensure_open
      return File.size(@path) if @path

      @io.size if @io.respond_to?(:size)
    end

    # The size of the decrypted data. Uncompressed streams know it from their encrypted size;
    # a compressed one is read forward to its end (in bounded memory) and back to where it was.
    # @return [Integer]
    def decrypted_size
      ensure_open
      out = FFI::MemoryPointer.new(:uint64)
      status = @path ? Native.se_reader_size_nogvl(@handle, out) : Native.se_reader_size(@handle, out)
      return out.get_uint64(0) if status == Native::OK

      check(status) unless status == Native::ERROR_ARGUMENT && @compressed
      @size ||= begin
        position = @pos
        total = native_seek(0, 2)
        native_seek(position, 0)
        total
      end
    end

    # Decrypts the rest of the stream into the file `path` (see Reader.decrypt for how the
    # file is written). Only before anything was read: data read already is not in the file.
    #
    # @param path [String]
    # @return [Integer] bytes written
    # @raise [SymmetricEncryption::InvalidArgument] data was read already
    # @raise [SymmetricEncryption::DecryptionError] the stream fails its check (no file is left)
    def copy_to_file(path)
      ensure_open
      raise InvalidArgument, "copy_to_file needs a reader nothing was read from yet" if @pos.positive? || @off < @buf.bytesize

      written = FFI::MemoryPointer.new(:uint64)
      target = Native.text_arg(path)
      # Always without the GVL: opening the target may block (a FIFO waits for its reader,
      # which may be another Ruby thread), and a callback source re-acquires the GVL for each
      # read (the ffi gem does that for callbacks made from a `blocking: true` call).
      check(Native.se_reader_copy_to_file_nogvl(@handle, target, written), true)
      @end = true
      written.get_uint64(0)
    end

    # Closes the reader.
    # @param close_child_stream [Boolean] also close the stream given
    def close(close_child_stream = true)
      return if @closed

      @closed = true
      @handle.free
      @native_buffer.clear # decrypted data
      if @io && close_child_stream && @close_io && @io.respond_to?(:close) &&
         !(@io.respond_to?(:closed?) && @io.closed?)
        @io.close
      end
      nil
    end

    # @return [Boolean]
    def closed?
      @closed || (@io.respond_to?(:closed?) && @io.closed?)
    end

    # For code that flushes what it reads from (the XLS gem): nothing to do.
    def flush
      self
    end

    private

    def ensure_open
      raise ::IOError, "closed stream" if @closed
    end

    def read_header(version)
      info = Native::HeaderInfo.new
      check(Native.se_reader_header(@handle, info))
      @header_present = info[:present] == 1
      if @header_present
        @compressed = info[:compressed] == 1
        @version = info[:version]
        name = info[:cipher_name].to_s
        @cipher_name = name.empty? ? nil : name
      else
        @compressed = nil
        @version = version
      end
    end

    # Asks the library for the next piece of decrypted data; false at the end.
    def fill
      return false if @end

      status = if @path
                 Native.se_reader_read_nogvl(@handle, @native_buffer, @buffer_size, @nread)
               else
                 Native.se_reader_read(@handle, @native_buffer, @buffer_size, @nread)
               end
      check(status, true)
      n = Native.size_at(@nread, 0)
      if n.zero?
        @end = true
        return false
      end
      @buf = @native_buffer.get_bytes(0, n)
      @off = 0
      true
    end

    # `n` bytes from the buffer (which holds at least that many).
    def take(count)
      data = @buf.byteslice(@off, count)
      @off += count
      @pos += count
      data
    end

    def read_rest(limit)
      data = limit ? read(limit) : read
      data.nil? || data.empty? ? nil : SymmetricEncryption.text(data)
    end

    def read_line(sep, limit)
      line = String.new(encoding: Encoding::BINARY)
      seplen = sep.bytesize
      loop do
        break if @off >= @buf.bytesize && !fill

        if seplen > 1 && !line.empty? && (need = straddle(line, sep))
          line << take(need)
          break
        end
        index = @buf.index(sep, @off)
        stop = index ? index + seplen : @buf.bytesize
        count = stop - @off
        count = limit - line.bytesize if limit && count > limit - line.bytesize
        line << take(count)
        break if (index && @off == stop) || (limit && line.bytesize >= limit)
      end
      line.empty? ? nil : line
    end

    # Bytes to take from the buffer to complete a separator begun at the end of `line`.
    def straddle(line, sep)
      tail = line.byteslice([line.bytesize - sep.bytesize + 1, 0].max..)
      probe = tail + @buf.byteslice(@off, sep.bytesize - 1)
      index = probe.index(sep)
      return nil unless index && index < tail.bytesize

      index + sep.bytesize - tail.bytesize
    end

    def skip_newlines
      loop do
        break if @off >= @buf.bytesize && !fill
        break unless @buf.getbyte(@off) == 10

        take(1)
      end
    end

    def line_args(args)
      case args.size
      when 0 then [$/&.b, nil]
      when 1
        arg = args.first
        arg.is_a?(Integer) ? [$/&.b, arg] : [arg&.to_s&.b, nil]
      when 2 then [args[0]&.to_s&.b, args[1]]
      else raise InvalidArgument, "wrong number of arguments (given #{args.size}, expected 0..2)"
      end
    end

    def native_seek(offset, whence)
      raise InvalidArgument, "cannot seek to a negative position" if whence.zero? && offset.negative?

      position = FFI::MemoryPointer.new(:uint64)
      status = if @path
                 Native.se_reader_seek_nogvl(@handle, offset, whence, position)
               else
                 Native.se_reader_seek(@handle, offset, whence, position)
               end
      check(status, true)
      @buf = String.new(encoding: Encoding::BINARY)
      @off = 0
      @end = false
      @pos = position.get_uint64(0)
    end

    # The se_read_fn callback: never lets a Ruby exception cross into the library.
    def read_in(buf, cap)
      data = @io.read(cap)
      return 0 if data.nil? || data.empty?

      buf.put_bytes(0, data)
      data.bytesize
    rescue Exception => e # rubocop:disable Lint/RescueException
      @callback_error ||= e
      -1
    end

    # The se_seek_fn callback.
    def seek_in(offset, whence)
      @io.seek(offset, whence)
      @io.pos
    rescue Exception => e # rubocop:disable Lint/RescueException
      # A stream that cannot seek (a pipe) is not an error until the library needs to seek.
      @callback_error ||= e unless e.is_a?(Errno::ESPIPE) || e.is_a?(NotImplementedError)
      -1
    end

    def check(status, decrypting = true)
      if (e = @callback_error)
        @callback_error = nil
        raise e
      end
      Native.raise_error(status, decrypting) unless status == Native::OK
    end
  end
end
