# frozen_string_literal: true

module SymmetricEncryption
  # The bodies of encrypt_many / decrypt_many: many values in one call into the library.
  #
  # Strings (and nil) are joined with NUL and handed to se_encrypt_batch_split /
  # se_decrypt_batch_split, which run a large batch on several threads with the GVL released;
  # the results come back joined by NUL (se_batch_join) and one `split` makes them Strings, so
  # no Ruby code runs per value. Values that do not join that way (other types, encodings that
  # do not mix, NUL inside a value, a value that fails) are packed into one native buffer with
  # a native array of `count + 1` offsets instead (se_encrypt_batch / se_decrypt_batch) and the
  # results sliced by offset. Batches of two pieces or more go through Pipeline (see
  # batch_pipeline.rb), which overlaps the Ruby work with the library's.
  # @api private
  module Batch
    # memset, to wipe the joined plaintexts of an encrypt (a Ruby String) once they are used.
    module LibC
      extend FFI::Library
      ffi_lib FFI::Library::LIBC
      attach_function :memset, %i[pointer int size_t], :pointer
    end

    ON_ERROR = %i[raise nil return].freeze

    # The pack format of a size_t array: "J" (uintptr_t), which has size_t's size wherever ffi
    # runs; the fixed-size native formats should a platform ever differ.
    SIZE_T = FFI.type_size(:size_t)
    OFFSETS = [0].pack("J").bytesize == SIZE_T ? "J*" : { 8 => "Q*", 4 => "L*" }.fetch(SIZE_T)

    # Batches below both bounds keep the GVL: releasing it is not worth it for so little work,
    # and a call that releases it waits for a busy thread's time slice before it returns.
    BLOCKING_COUNT = 256
    NO_FAILURES = [].freeze
    SEP = "\0"
    # Whether the library has the joined-values calls (a library older than them packs by
    # offsets only).
    JOINED = %i[se_encrypt_batch_split se_decrypt_batch_split se_batch_join].all? { |f| Native.available?(f) }

    module_function

    # @return [Symbol] `on_error`, checked
    def on_error_arg(on_error)
      return on_error if ON_ERROR.include?(on_error)

      raise InvalidArgument, "on_error must be one of #{ON_ERROR.map(&:inspect).join(', ')}, got #{on_error.inspect}"
    end

    # @return [Integer] the library's `threads` argument (0: its default)
    def threads_arg(threads)
      return 0 if threads.nil?
      return threads if threads.is_a?(Integer) && threads.positive?

      raise InvalidArgument, "threads must be a positive Integer or nil, got #{threads.inspect}"
    end

    # @return [Array] the values as an Array (an Enumerable is read once)
    def list(values)
      return values if values.is_a?(Array)
      raise TypeError, "expected an Array or Enumerable of values, got a single String" if values.is_a?(String)
      return values.to_a if values.is_a?(Enumerable)

      raise TypeError, "expected an Array or Enumerable of values, got #{values.class}"
    end

    # Encrypts (`opts` given: a pointer to se_encrypt_options) or decrypts (`opts` nil)
    # `values`, an Array of String or nil.
    # @param encoding [Encoding, nil] of the encrypted text; nil when decrypting (each
    #   plaintext is UTF-8 when valid, else binary, as decrypt returns)
    # @return [Array(Array, Array<Integer>)] the results in order, with the exception of each
    #   failed value in its place, and the indexes of those values (ascending)
    def run(ctx, values, opts, encoding, threads)
      limit = Pipeline.limit_for(values, threads)
      return Pipeline.run(ctx, values, opts, encoding, threads, limit) if limit

      run_joined(ctx, values, opts, encoding, threads) || run_offsets(ctx, values, opts, encoding, threads)
    end

    # `run` by offsets, for any values. `base`: the index of the first value in the whole batch
    # (for the messages).
    def run_offsets(ctx, values, opts, encoding, threads, base: 0)
      count = values.size
      offsets, nils = offsets_of(values, base)
      data = pack(values, offsets.last)
      size = data.bytesize
      input = native(data)
      # The copies go back as soon as they are used, not at some later GC: with a million
      # values they are a hundred MB, and Ruby's allocation counters would start GCs for them.
      data.clear
      offs = native(offsets.pack(OFFSETS))
      out = FFI::MemoryPointer.new(:pointer)
      status = call(ctx, input, size, offs, count, opts, threads, out)
      Native.raise_error(status, opts.nil?) unless status == Native::OK

      batch = out.get_pointer(0)
      begin
        results, failed = unpack(batch, count, encoding, opts.nil?, base)
      ensure
        Native.se_batch_free(batch)
      end
      nils&.each { |i| results[i] = nil }
      [results, failed]
    ensure
      input&.clear if opts # the native copy of the plaintexts
      input&.free
      offs&.free
    end

    # `run` for values that are all Strings (or nil) and join with NUL: one `join` in and one
    # `split` out, no per-value Ruby code. nil when that does not apply: mixed encodings that do
    # not join, a value with a NUL byte (the library then counts more values than were given),
    # or a failed value or a result with a NUL (its batch is then read by offsets).
    def run_joined(ctx, values, opts, encoding, threads)
      count = values.size
      return unless count > 1 && JOINED

      data, nils = joinable(values)
      return unless data

      batch = call_joined(ctx, data, count, opts, threads)
      collect_joined(batch, count, encoding, opts.nil?, nils)
    ensure
      wipe(data) if opts && data
    end

    # [the values joined by NUL, the indexes of the nil values (nil when there are none)], or
    # nil when they are not all Strings and nil, or their encodings do not join.
    def joinable(values)
      # all?(String) first: include?(nil) calls == per value, four times as slow.
      nils = nil
      unless values.all?(String)
        nils = values.each_index.select { |i| values[i].nil? }
        return unless values.compact.all?(String)
      end
      [values.join(SEP), nils]
    rescue Encoding::CompatibilityError
      nil
    end

    # Runs the joined-values call on `data` and returns the batch (free it with se_batch_free);
    # raises the call's error, so on the thread that made the call (the library keeps the
    # message per thread). `data` is a String that `joinable` made and only its caller holds:
    # no other Ruby thread can see it, let alone change it, so even a call that releases the
    # GVL reads it where it is (Ruby does not move a string's bytes; the reference on this
    # thread's stack keeps it alive).
    def call_joined(ctx, data, count, opts, threads, blocking: blocking?(data.bytesize, count))
      out = FFI::MemoryPointer.new(:pointer)
      len = data.bytesize
      status =
        if opts
          function = blocking ? :se_encrypt_batch_split_nogvl : :se_encrypt_batch_split
          Native.public_send(function, ctx, data, len, 0, opts, threads, out)
        else
          function = blocking ? :se_decrypt_batch_split_nogvl : :se_decrypt_batch_split
          Native.public_send(function, ctx, data, len, 0, threads, out)
        end
      Native.raise_error(status, opts.nil?) unless status == Native::OK
      out.get_pointer(0)
    end

    # [results, failures] of a joined batch, which is freed here; nil when the library counted
    # other than `count` values (a value holds NUL: the caller redoes them by offsets).
    def collect_joined(batch, count, encoding, decrypting, nils, base = 0)
      return unless Native.se_batch_count(batch) == count

      results, failed = joined_results(batch, encoding, decrypting) || unpack(batch, count, encoding, decrypting, base)
      nils&.each { |i| results[i] = nil }
      [results, failed]
    ensure
      Native.se_batch_free(batch)
    end

    # Overwrites the bytes of `str` (the joined plaintexts of an encrypt) with zeros, then
    # empties it.
    def wipe(str)
      LibC.memset(str, 0, str.bytesize) unless str.frozen? || str.empty?
      str.clear
    end

    # Whether a batch of `count` values in `len` bytes goes through a _nogvl function (see
    # BLOCKING_COUNT).
    def blocking?(len, count)
      len >= Native::BLOCKING_THRESHOLD || count >= BLOCKING_COUNT
    end

    # [results, no failures] from the results joined by NUL; nil when a value failed or a
    # result holds NUL (the caller then reads the batch by offsets).
    def joined_results(batch, encoding, decrypting)
      return unless Native.se_batch_failures(batch).zero?

      out = FFI::MemoryPointer.new(:pointer, 2)
      return unless Native.se_batch_join(batch, 0, out) == Native::OK

      raw = Native.take_bytes(out)
      raw.force_encoding(encoding || Encoding::UTF_8)
      # A NUL never falls inside a UTF-8 character, so a valid whole splits into valid parts;
      # otherwise each plaintext is UTF-8 when valid, else binary, as decrypt returns it.
      valid = raw.valid_encoding?
      raw.force_encoding(Encoding::BINARY) unless valid
      results = raw.split(SEP, -1)
      # Ruby shares a slice that ends the buffer rather than copying it: the last result gets
      # its own copy, so that no result keeps every other one's bytes alive.
      last = results[-1]
      results[-1] = String.new(capacity: last.bytesize, encoding: last.encoding) << last
      unless valid
        target = encoding || Encoding::UTF_8
        results.each do |r|
          r.force_encoding(target)
          r.force_encoding(Encoding::BINARY) if decrypting && !r.valid_encoding?
        end
      end
      raw.clear
      [results, NO_FAILURES]
    end

    # What `decrypt_many` does where the library cannot decide alone (a select_cipher block is
    # set): `yield` per value, with the same results and failures as run.
    def each_value(values)
      offsets_of(values) # the same type checks
      failed = []
      results = values.each_with_index.map do |value, i|
        yield value
      rescue Failure => e
        failed << i
        e.class.new("value #{i}: #{e.message}")
      end
      [results, failed]
    end

    # Coerces the successful plaintexts to `type`; one that does not coerce fails alone.
    def coerce(results, failed, type)
      return [results, failed] if type == :string

      failed = failed.dup
      results.each_with_index do |value, i|
        next if value.nil? || value.is_a?(Exception)

        results[i] = Coerce.coerce_from_string(value, type)
      rescue CoercionError => e
        results[i] = CoercionError.new("value #{i}: #{e.message}")
        failed << i
      end
      [results, failed.sort]
    end

    # Applies `on_error` to the failed values.
    def finish(results, failed, on_error)
      return results if failed.empty? || on_error == :return
      raise results[failed.first] if on_error == :raise

      failed.each { |i| results[i] = nil }
      results
    end

    # [the count + 1 offsets, the indexes of the nil values (nil when there are none)]; a
    # value that is neither a String nor nil is refused before anything is packed. The
    # per-value loops here and in unpack are `while` loops: with a million values, a block
    # call per value costs a third more.
    def offsets_of(values, base = 0)
      count = values.size
      offsets = Array.new(count + 1)
      offsets[0] = pos = 0
      nils = nil
      i = 0
      while i < count
        value = values[i]
        if value.is_a?(String)
          pos += value.bytesize
        elsif value.nil?
          (nils ||= []) << i
        else
          raise TypeError, "value #{base + i}: expected a String or nil, got #{value.class}"
        end
        i += 1
        offsets[i] = pos
      end
      [offsets, nils]
    end

    # The bytes of every value, in order (nil packs as nothing). `join` refuses strings of
    # incompatible encodings (UTF-8 text beside binary, UTF-16...): those are joined as bytes.
    def pack(values, size)
      data = values.join("")
      data = values.map { |v| v&.b }.join("") unless data.bytesize == size
      data
    rescue Encoding::CompatibilityError
      values.map { |v| v&.b }.join("")
    end

    # A native copy of `bytes`, for a call that releases the GVL: the caller's Strings could be
    # changed by another Ruby thread while it runs.
    def native(bytes)
      ptr = FFI::MemoryPointer.new(:uint8, [bytes.bytesize, 1].max, false)
      ptr.put_bytes(0, bytes)
      ptr
    end

    def call(ctx, input, len, offs, count, opts, threads, out)
      blocking = blocking?(len, count)
      if opts
        function = blocking ? :se_encrypt_batch_nogvl : :se_encrypt_batch
        Native.public_send(function, ctx, input, len, offs, count, opts, threads, out)
      else
        function = blocking ? :se_decrypt_batch_nogvl : :se_decrypt_batch
        Native.public_send(function, ctx, input, len, offs, count, threads, out)
      end
    end

    # The results of `batch`, sliced out of one copy of its buffer.
    def unpack(batch, count, encoding, decrypting, base = 0)
      len = FFI::MemoryPointer.new(:size_t)
      ptr = Native.se_batch_data(batch, len)
      raw = ptr.null? ? String.new : ptr.read_bytes(Native.size_at(len, 0))
      # One byte past the last result, so that no result is a slice that ends the buffer
      # (Ruby shares those instead of copying them): the buffer is freed once sliced, and no
      # result keeps every other one's bytes alive.
      raw << "\0"
      offs = Native.se_batch_offsets(batch).read_bytes((count + 1) * SIZE_T).unpack(OFFSETS)
      failed = NO_FAILURES
      unless Native.se_batch_failures(batch).zero?
        statuses = Native.se_batch_statuses(batch).read_array_of_int32(count)
        failed = statuses.each_index.reject { |i| statuses[i].zero? }
      end

      raw.force_encoding(encoding || Encoding::UTF_8)
      results = Array.new(count)
      i = 0
      start = 0
      while i < count
        stop = offs[i + 1]
        results[i] = raw.byteslice(start, stop - start)
        start = stop
        i += 1
      end
      # Plaintexts that are not UTF-8 come back binary, as from decrypt (a check per value:
      # a valid whole can still be cut inside a character).
      results.each { |r| r.force_encoding(Encoding::BINARY) unless r.valid_encoding? } if decrypting && !raw.ascii_only?
      failed.each { |i| results[i] = error(statuses[i], "value #{base + i}: #{results[i].b.force_encoding(Encoding::UTF_8).scrub}", decrypting) }
      raw.clear
      [results, failed]
    end

    # The exception for a failed value's status, as Native.raise_error maps it.
    def error(status, message, decrypting)
      klass =
        case status
        when Native::ERROR_ARGUMENT then InvalidArgument
        when Native::ERROR_CONFIG then ConfigError
        when Native::ERROR_KEYSTORE then KeystoreError
        when Native::ERROR_CIPHER then decrypting ? DecryptionError : CipherError
        when Native::ERROR_AUTHENTICATION then AuthenticationError
        when Native::ERROR_ENCODING then EncodingError
        when Native::ERROR_IO then StreamError
        else InternalError
        end
      klass.new(message)
    end
  end

  class << self
    # Encrypts many values in one call into the library, with the options of encrypt, and
    # returns the encrypted values in order (nil stays nil, "" stays ""). A large batch (2048
    # values or 1 MiB and up) is encrypted on several threads, with the GVL released.
    #
    # @param values [Array, Enumerable] Strings or nil (with `type:`, values of that type)
    # @param on_error [Symbol] what a value that fails becomes: :raise (default) raises the
    #   first failure's exception, :nil puts nil in its place, :return puts the exception
    #   (message "value <index>: ...") in its place; the other values are never lost
    # @param threads [Integer, nil] the most threads to use; default SYMMETRIC_ENCRYPTION_THREADS,
    #   else every CPU
    # @return [Array<String, nil, Exception>]
    # @raise [TypeError] a value that is not a String or nil (with type: :string)
    # @raise [SymmetricEncryption::InvalidArgument] bad on_error or threads, or a bad
    #   SYMMETRIC_ENCRYPTION_THREADS
    # @raise [SymmetricEncryption::CipherError] no cipher has `version`
    # @see encrypt
    def encrypt_many(values, random_iv: nil, compress: false, type: :string, header: nil, version: nil,
                     on_error: :raise, threads: nil)
      on_error = Batch.on_error_arg(on_error)
      threads = Batch.threads_arg(threads)
      values = Batch.list(values)
      values = values.map { |v| Coerce.coerce_to_string(v, type) } unless type == :string
      state = current_state
      ctx = state.context || raise(ConfigError, NOT_LOADED)
      cipher(version_arg(version)) unless version.nil? # the gem's error for a version no cipher has

      random_iv = @randomize_iv if random_iv.nil?
      opts = Native.options(random_iv ? 1 : 0, compress ? 1 : 0, header.nil? ? -1 : (header ? 1 : 0),
                            version_arg(version))
      results, failed = Batch.run(ctx, values, opts, state.text_encoding, threads)
      Batch.finish(results, failed, on_error)
    end

    # Decrypts many values in one call into the library and returns the plaintexts in order
    # (nil stays nil, "" stays ""), each as decrypt returns it and failing as decrypt would
    # fail on it. As encrypt_many for `on_error` and `threads`. With a select_cipher block set,
    # the values are decrypted one by one (the block decides per value).
    #
    # @param values [Array, Enumerable] Strings or nil
    # @param type [Symbol] one of COERCION_TYPES (default :string); a value that does not
    #   coerce fails alone
    # @return [Array<Object, nil, Exception>]
    # @raise (see encrypt_many)
    # @see decrypt
    def decrypt_many(values, type: :string, on_error: :raise, threads: nil)
      on_error = Batch.on_error_arg(on_error)
      threads = Batch.threads_arg(threads)
      values = Batch.list(values)
      ctx = current_state.context || raise(ConfigError, NOT_LOADED)

      results, failed =
        if @select_cipher
          Batch.each_value(values) { |v| decrypt(v) }
        else
          Batch.run(ctx, values, nil, nil, threads)
        end
      Batch.finish(*Batch.coerce(results, failed, type), on_error)
    end
  end

  class Cipher
    # Cipher#encrypt for many values in one call; as SymmetricEncryption.encrypt_many for
    # `on_error` and `threads`.
    # @return [Array<String, nil, Exception>]
    def encrypt_many(values, random_iv: SymmetricEncryption.randomize_iv?, compress: false, header: always_add_header,
                     on_error: :raise, threads: nil)
      on_error = Batch.on_error_arg(on_error)
      threads = Batch.threads_arg(threads)
      values = Batch.list(values)
      ctx, version_arg = own_context
      opts = Native.options(random_iv ? 1 : 0, compress ? 1 : 0, header ? 1 : 0, version_arg)
      Batch.finish(*Batch.run(ctx, values, opts, @text_encoding, threads), on_error)
    end

    # Cipher#decrypt for many values in one call; as SymmetricEncryption.decrypt_many for
    # `on_error` and `threads`.
    # @return [Array<String, nil, Exception>]
    def decrypt_many(values, on_error: :raise, threads: nil)
      on_error = Batch.on_error_arg(on_error)
      threads = Batch.threads_arg(threads)
      values = Batch.list(values)
      ctx, version_arg = own_context
      results, failed =
        if version_arg == -1
          ctx = ctx.equal?(@ctx) ? decrypt_context : SymmetricEncryption.send(:limited, ctx)
          Batch.run(ctx, values, nil, nil, threads)
        else
          # A cipher of a loaded configuration that the library cannot select alone: the batch
          # call has no version argument for values without a header, so one by one.
          Batch.each_value(values) { |v| decrypt(v) }
        end
      Batch.finish(results, failed, on_error)
    end
  end
end
