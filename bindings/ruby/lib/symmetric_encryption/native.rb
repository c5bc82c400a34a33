# frozen_string_literal: true

require "ffi"

module SymmetricEncryption
  # The C ABI of libsymmetric_encryption, attached with ffi, and the few helpers that move
  # bytes across it. Nothing outside this file calls a `se_*` function directly.
  #
  # Finding the library, in order:
  # 1. the path in `SYMMETRIC_ENCRYPTION_LIB`;
  # 2. a copy built into the gem: `lib/symmetric_encryption/native/` (see `rake native`), or
  #    `symmetric_encryption/native/` in the gem's extension directory (built by `gem install`);
  # 3. the repository's `target/release` (a checkout of the whole project);
  # 4. an installed system library (a distribution package or `make install`): the
  #    directories of LD_LIBRARY_PATH, Ruby's libdir, /usr/local/lib, /usr/lib and /lib (with
  #    their multiarch and lib64 variants), the linker cache (`ldconfig -p`), then the
  #    dynamic linker's own search by name. A runtime package's `.so.MAJOR` is found too.
  module Native
    extend FFI::Library

    LIB_NAME = "libsymmetric_encryption.#{FFI::Platform::LIBSUFFIX}"

    # Where the library is looked for, in order.
    # @return [Array<String>]
    def self.candidates
      (local_candidates + system_candidates).uniq
    end

    # The environment variable, the gem's own copies and the repository's build.
    # @return [Array<String>]
    def self.local_candidates
      list = []
      env = ENV["SYMMETRIC_ENCRYPTION_LIB"]
      list << env if env && !env.empty?
      list << File.expand_path("native/#{LIB_NAME}", __dir__)
      list.concat(extension_candidates)
      list << File.expand_path("../../../../target/release/#{LIB_NAME}", __dir__)
    end

    # The copy `gem install` built into the gem's extension directory (on the load path once
    # the gem is activated).
    # @return [Array<String>]
    def self.extension_candidates
      $LOAD_PATH.map { |dir| File.join(dir.to_s, "symmetric_encryption", "native", LIB_NAME) }
                .reject { |path| path == File.expand_path("native/#{LIB_NAME}", __dir__) }
                .select { |path| File.file?(path) }
    end

    # System directories a packager installs shared libraries into, most specific first.
    # @return [Array<String>]
    def self.system_dirs
      dirs = ENV.fetch("LD_LIBRARY_PATH", "").split(File::PATH_SEPARATOR).reject(&:empty?)
      dirs << RbConfig::CONFIG["libdir"] if defined?(RbConfig)
      multiarch = defined?(RbConfig) ? RbConfig::CONFIG["arch"].to_s.sub(/-linux.*/, "-linux-gnu") : ""
      ["/usr/local/lib", "/usr/lib", "/lib"].each do |base|
        dirs << File.join(base, multiarch) unless multiarch.empty?
        dirs << "#{base}64" << base
      end
      dirs.compact.uniq
    end

    # An installed system library: `libsymmetric_encryption.so` (the development symlink) or
    # the versioned `.so.MAJOR` a runtime package ships, in system_dirs, then in the linker
    # cache.
    # @return [Array<String>]
    def self.system_candidates
      found = system_dirs.flat_map do |dir|
        [File.join(dir, LIB_NAME), *Dir.glob(File.join(dir, "#{LIB_NAME}.[0-9]*")).sort]
      end
      found.select { |path| File.file?(path) } + ldconfig_candidates
    end

    # Paths the linker cache knows for the library (Linux).
    # @return [Array<String>]
    def self.ldconfig_candidates
      ldconfig = ["/sbin/ldconfig", "/usr/sbin/ldconfig"].find { |p| File.executable?(p) }
      return [] unless ldconfig

      IO.popen([ldconfig, "-p"], err: File::NULL, &:read).each_line.filter_map do |line|
        name, path = line.split("=>").map(&:strip)
        path if name&.start_with?(LIB_NAME) && path && File.file?(path)
      end
    rescue SystemCallError
      []
    end

    # @return [String] the path of the library that was loaded
    def self.find_library
      env = ENV["SYMMETRIC_ENCRYPTION_LIB"]
      if env && !env.empty?
        return env if File.file?(env)

        raise LoadError, "SYMMETRIC_ENCRYPTION_LIB is set to #{env.inspect}, but no file is there. " \
                         "Point it at libsymmetric_encryption (built by `cargo build --release --lib`) or unset it."
      end
      found = local_candidates.find { |path| File.file?(path) } || system_candidates.first
      return found if found
      # Last, the dynamic linker's own search by name (its configured directories).
      return LIB_NAME if loadable?(LIB_NAME)

      raise LoadError, "symmetric-encryption: cannot find #{LIB_NAME}. Looked in: #{candidates.join(', ')}, " \
                       "the system library directories (#{system_dirs.join(', ')}) and the linker cache. " \
                       "Build it with `cargo build --release --lib` in the repository, install the gem " \
                       "(gem install symmetric-encryption-ffi compiles it), install the system library, " \
                       "or set SYMMETRIC_ENCRYPTION_LIB to its path."
    end

    # Whether the dynamic linker can open `name` by itself.
    def self.loadable?(name)
      FFI::DynamicLibrary.open(name, FFI::DynamicLibrary::RTLD_LAZY | FFI::DynamicLibrary::RTLD_LOCAL)
      true
    rescue LoadError
      false
    end

    LIBRARY_PATH = find_library
    ffi_lib LIBRARY_PATH

    # se_status values.
    OK = 0
    ERROR_ARGUMENT = 1
    ERROR_CONFIG = 2
    ERROR_KEYSTORE = 3
    ERROR_CIPHER = 4
    ERROR_AUTHENTICATION = 5
    ERROR_ENCODING = 6
    ERROR_IO = 7
    ERROR_INTERNAL = 99

    # Inputs at least this long go to the variants attached with `blocking: true`, which release
    # the GVL so other Ruby threads run while the library works. Below it, releasing and taking
    # back the GVL costs more than the work itself (see README, "Performance").
    BLOCKING_THRESHOLD = 16 * 1024

    # struct se_bytes
    class Bytes < FFI::Struct
      layout :data, :pointer, :len, :size_t
    end

    # struct se_encrypt_options
    class EncryptOptions < FFI::Struct
      layout :random_iv, :int32, :compress, :int32, :header, :int32, :version, :int32
    end

    # struct se_cipher_info
    class CipherInfo < FFI::Struct
      layout :version, :int32,
             :cipher_name, [:char, 32],
             :encoding, [:char, 16],
             :always_add_header, :int32,
             :authenticated, :int32,
             :key_len, :uint32,
             :iv_len, :uint32
    end

    # struct se_header_info
    class HeaderInfo < FFI::Struct
      layout :present, :int32,
             :version, :int32,
             :compressed, :int32,
             :iv_len, :uint32,
             :has_key, :int32,
             :has_auth_tag, :int32,
             :chunk_size, :uint32,
             :header_len, :uint32,
             :cipher_name, [:char, 32]
    end

    # struct se_stream_options
    class StreamOptions < FFI::Struct
      layout :compress, :int32, :version, :int32, :cipher_name, :pointer, :chunk_size, :uint32,
             :header, :int32, :random_key, :int32, :random_iv, :int32
    end

    callback :se_write_fn, %i[pointer pointer size_t], :int64
    callback :se_read_fn, %i[pointer pointer size_t], :int64
    callback :se_seek_fn, %i[pointer int64 int32], :int64

    attach_function :se_version, [], :string
    attach_function :se_backend, [], :string
    attach_function :se_last_error, [], :string
    attach_function :se_context_free, [:pointer], :void
    attach_function :se_context_new_cipher,
                    %i[string pointer size_t pointer size_t int32 string int32 pointer], :int
    attach_function :se_context_combine, %i[pointer size_t int32 pointer], :int
    attach_function :se_context_cipher_count, [:pointer], :size_t
    attach_function :se_context_cipher_info, %i[pointer size_t pointer], :int
    attach_function :se_context_randomize_iv, [:pointer], :int32
    attach_function :se_is_encrypted, %i[pointer pointer size_t], :int32
    attach_function :se_header, %i[pointer pointer size_t int32 pointer], :int
    attach_function :se_random_bytes, %i[size_t pointer], :int
    attach_function :se_bytes_free, [:pointer], :void

    # The value functions, twice: plain for small inputs, `blocking: true` (GVL released) for
    # large ones. The blocking variants are only ever given native memory, never a Ruby
    # string's buffer, since another thread may run (and move or change that string) meanwhile.
    {
      se_encrypt: %i[pointer pointer size_t pointer pointer],
      se_encrypt_binary: %i[pointer pointer size_t pointer pointer],
      se_decrypt_version: %i[pointer pointer size_t int32 pointer],
      se_decrypt_binary: %i[pointer pointer size_t int32 pointer],
      se_encode: %i[pointer pointer size_t pointer],
      se_decode: %i[pointer pointer size_t pointer]
    }.each do |name, args|
      attach_function name, args, :int
      attach_function :"#{name}_nogvl", name, args, :int, blocking: true
    end

    # Functions that arrive with the configuration and stream work. A library built before it
    # lacks them; `available?` says which are there, and the Ruby methods that need them raise
    # a clear error instead of failing at load time.
    OPTIONAL = {
      # Functions that release the GVL take text as native copies (Native.text_arg), never a
      # Ruby string's own buffer, which another thread could change or the GC move meanwhile.
      se_context_load: [%i[pointer pointer pointer], :int, { blocking: true }],
      se_context_load_yaml: [%i[pointer size_t pointer pointer], :int, { blocking: true }],
      se_context_select: [%i[pointer size_t pointer], :int, {}],
      se_encrypt_into: [%i[pointer pointer size_t pointer pointer size_t pointer], :int, {}],
      se_decrypt_into: [%i[pointer pointer size_t pointer size_t pointer], :int, {}],
      se_stream_options_default: [[], StreamOptions.by_value, {}],
      se_writer_open_path: [%i[pointer pointer pointer pointer], :int, { blocking: true }],
      se_writer_open_callbacks: [%i[pointer se_write_fn pointer pointer pointer], :int, {}],
      se_writer_write: [%i[pointer pointer size_t], :int, {}],
      se_writer_write_nogvl: [%i[pointer pointer size_t], :int, { blocking: true, c_name: :se_writer_write }],
      se_writer_close: [%i[pointer], :int, {}],
      se_writer_close_nogvl: [%i[pointer], :int, { blocking: true, c_name: :se_writer_close }],
      se_writer_free: [%i[pointer], :void, {}],
      se_reader_open_path: [%i[pointer pointer int32 pointer], :int, { blocking: true }],
      se_reader_open_callbacks: [%i[pointer se_read_fn se_seek_fn pointer int32 pointer], :int, {}],
      se_reader_read: [%i[pointer pointer size_t pointer], :int, {}],
      se_reader_read_nogvl: [%i[pointer pointer size_t pointer], :int, { blocking: true, c_name: :se_reader_read }],
      se_reader_seek: [%i[pointer int64 int32 pointer], :int, {}],
      se_reader_seek_nogvl: [%i[pointer int64 int32 pointer], :int, { blocking: true, c_name: :se_reader_seek }],
      se_reader_size: [%i[pointer pointer], :int, {}],
      se_reader_size_nogvl: [%i[pointer pointer], :int, { blocking: true, c_name: :se_reader_size }],
      se_reader_header: [%i[pointer pointer], :int, {}],
      se_reader_free: [%i[pointer], :void, {}],
      se_encrypt_file: [%i[pointer pointer pointer int32 int32], :int, { blocking: true }],
      se_decrypt_file: [%i[pointer pointer pointer], :int, { blocking: true }],
      se_context_cipher_key: [%i[pointer size_t pointer], :int, {}],
      se_context_cipher_iv: [%i[pointer size_t pointer], :int, {}],
      se_context_kek_encrypt: [%i[pointer size_t pointer size_t pointer], :int, {}],
      se_context_kek_decrypt: [%i[pointer size_t pointer size_t pointer], :int, {}],
      se_reader_copy_to_file: [%i[pointer pointer pointer], :int, {}],
      se_reader_copy_to_file_nogvl: [%i[pointer pointer pointer], :int,
                                     { blocking: true, c_name: :se_reader_copy_to_file }],
      # issue 14: the decompression limit of values, the output limit of streams
      se_context_with_max_decompressed_size: [%i[pointer uint64 pointer], :int, {}],
      se_context_max_decompressed_size: [%i[pointer], :uint64, {}],
      se_reader_set_max_output: [%i[pointer uint64], :int, {}],
      se_decrypt_file_max_output: [%i[pointer pointer pointer uint64], :int, { blocking: true }],
      # issue 18: one frame of a chunked stream (SymmetricEncryption::ChunkedStream)
      se_chunk_seal: [%i[string pointer size_t pointer size_t pointer size_t uint64 int32 pointer size_t pointer], :int, {}],
      se_chunk_open: [%i[string pointer size_t pointer size_t pointer size_t uint64 int32 pointer size_t pointer], :int, {}],
      # Many values in one call (batch.rb). Given native memory only, so the _nogvl variants
      # may release the GVL while the library works (on several threads for a large batch).
      se_encrypt_batch: [%i[pointer pointer size_t pointer size_t pointer size_t pointer], :int, {}],
      se_encrypt_batch_nogvl: [%i[pointer pointer size_t pointer size_t pointer size_t pointer], :int,
                               { blocking: true, c_name: :se_encrypt_batch }],
      se_decrypt_batch: [%i[pointer pointer size_t pointer size_t size_t pointer], :int, {}],
      se_decrypt_batch_nogvl: [%i[pointer pointer size_t pointer size_t size_t pointer], :int,
                               { blocking: true, c_name: :se_decrypt_batch }],
      # The same with the values joined by a separator byte, and the results joined back.
      se_encrypt_batch_split: [%i[pointer pointer size_t uint8 pointer size_t pointer], :int, {}],
      se_encrypt_batch_split_nogvl: [%i[pointer pointer size_t uint8 pointer size_t pointer], :int,
                                     { blocking: true, c_name: :se_encrypt_batch_split }],
      se_decrypt_batch_split: [%i[pointer pointer size_t uint8 size_t pointer], :int, {}],
      se_decrypt_batch_split_nogvl: [%i[pointer pointer size_t uint8 size_t pointer], :int,
                                     { blocking: true, c_name: :se_decrypt_batch_split }],
      se_batch_join: [%i[pointer uint8 pointer], :int, {}],
      se_batch_count: [%i[pointer], :size_t, {}],
      se_batch_failures: [%i[pointer], :size_t, {}],
      se_batch_data: [%i[pointer pointer], :pointer, {}],
      se_batch_offsets: [%i[pointer], :pointer, {}],
      se_batch_statuses: [%i[pointer], :pointer, {}],
      se_batch_free: [%i[pointer], :void, {}],
      se_batch_thread_limit: [%i[size_t pointer], :int, {}]
    }.freeze

    @available = {}
    OPTIONAL.each do |name, (args, ret, opts)|
      opts = opts.dup
      c_name = opts.delete(:c_name) || name
      begin
        attach_function name, c_name, args, ret, opts
        @available[name] = true
      rescue FFI::NotFoundError
        @available[name] = false
      end
    end

    # @param name [Symbol] a function of OPTIONAL
    # @return [Boolean] whether the loaded library exports it
    def self.available?(name)
      @available.fetch(name)
    end

    # Raises unless the loaded library exports `name`.
    # @raise [SymmetricEncryption::Error]
    def self.require!(name)
      return if @available.fetch(name)

      raise Error, "#{LIBRARY_PATH} does not export #{name}: it was built before that part of the C API " \
                   "existed. Rebuild libsymmetric_encryption from a newer checkout."
    end

    # Raises the exception for a failed call.
    # @param status [Integer] the se_status returned
    # @param decrypting [Boolean] whether the call decrypted (cipher errors then descend from
    #   OpenSSL::Cipher::CipherError, as the gem's do)
    def self.raise_error(status, decrypting = false)
      message = se_last_error
      message = "symmetric-encryption call failed with status #{status}" if message.nil? || message.empty?
      klass =
        case status
        when ERROR_ARGUMENT then InvalidArgument
        when ERROR_CONFIG then ConfigError
        when ERROR_KEYSTORE then KeystoreError
        when ERROR_CIPHER then decrypting ? DecryptionError : CipherError
        when ERROR_AUTHENTICATION then AuthenticationError
        when ERROR_ENCODING then EncodingError
        when ERROR_IO then StreamError
        else InternalError
        end
      raise klass, message
    end

    LEN_OFFSET = Bytes.offset_of(:len)
    # size_t is an unsigned long everywhere but 64-bit Windows: the hot paths read it inline.
    SIZE_T_IS_ULONG = FFI.type_size(:size_t) == FFI.type_size(:ulong)
    if FFI.type_size(:size_t) == 8
      # @return [Integer] the size_t at `offset` of `ptr`
      def self.size_at(ptr, offset)
        ptr.get_uint64(offset)
      end
    else
      def self.size_at(ptr, offset)
        ptr.get_uint32(offset)
      end
    end

    # An se_bytes result as a new binary Ruby string; frees the native buffer.
    def self.take_bytes(out)
      ptr = out.get_pointer(0)
      return String.new(encoding: Encoding::BINARY) if ptr.null?

      result = ptr.get_bytes(0, size_at(out, LEN_OFFSET))
      se_bytes_free(out)
      result
    end

    OUT_KEY = :__symmetric_encryption_out

    # A reusable se_bytes out-parameter for the calling fiber (fiber-local, so a C call never
    # shares one with another thread).
    def self.out_bytes
      Thread.current[OUT_KEY] || (Thread.current[OUT_KEY] = FFI::MemoryPointer.new(Bytes.size))
    end

    # se_encrypt_options for the given fields (-1 = default), shared and never written after
    # it is built. nil (NULL) when every field is the default. `version` must be -1..255.
    def self.options(random_iv, compress, header, version)
      index = (random_iv + 1) + ((compress + 1) * 3) + ((header + 1) * 9) + ((version + 1) * 27)
      return nil if index.zero?

      OPTIONS[index] || build_options(index, random_iv, compress, header, version)
    end
    # The cache of options(), by index: read without a lock (an entry, once there, never
    # changes; two threads may both build one, and either result is right).
    OPTIONS = []

    def self.build_options(index, random_iv, compress, header, version)
      ptr = FFI::MemoryPointer.new(EncryptOptions.size)
      ptr.put_array_of_int32(0, [random_iv, compress, header, version])
      OPTIONS[index] = ptr
    end
    private_class_method :build_options

    # Inputs shorter than this go through se_encrypt_into / se_decrypt_into with a reusable
    # per-fiber buffer of SCRATCH_SIZE bytes (large enough for any result of such an input,
    # whatever the encoding): no native allocation to free, no extra call.
    INTO_LIMIT = 4096
    SCRATCH_SIZE = 16 * 1024
    SCRATCH_KEY = :__symmetric_encryption_scratch
    ZEROS = ("\0" * SCRATCH_SIZE).b.freeze
    INTO = OPTIONAL.key?(:se_encrypt_into) && @available[:se_encrypt_into] && @available[:se_decrypt_into]

    # [buffer, size_t] for the calling fiber.
    def self.scratch
      Thread.current[SCRATCH_KEY] ||=
        [FFI::MemoryPointer.new(:uint8, SCRATCH_SIZE, false), FFI::MemoryPointer.new(:size_t)].freeze
    end

    # se_encrypt: the hot path of SymmetricEncryption.encrypt, kept free of allocations
    # beyond the result.
    # @return [String] binary
    def self.encrypt(ctx, data, opts)
      len = data.bytesize
      if INTO && len < INTO_LIMIT
        buf, out_len = Thread.current[SCRATCH_KEY] || scratch
        status = se_encrypt_into(ctx, data, len, opts, buf, SCRATCH_SIZE, out_len)
        return buf.get_bytes(0, SIZE_T_IS_ULONG ? out_len.get_ulong(0) : size_at(out_len, 0)) if status == OK
        # Too small after all (cannot happen for the sizes above): the allocating call.
        raise_error(status, false) unless status == ERROR_ARGUMENT && size_at(out_len, 0) > SCRATCH_SIZE
      end
      bytes_call(:se_encrypt, ctx, data, [opts], false)
    end

    # se_decrypt_version: the hot path of SymmetricEncryption.decrypt.
    # @return [String] binary
    def self.decrypt(ctx, data, version)
      len = data.bytesize
      if INTO && version == -1 && len < INTO_LIMIT
        buf, out_len = Thread.current[SCRATCH_KEY] || scratch
        status = se_decrypt_into(ctx, data, len, buf, SCRATCH_SIZE, out_len)
        if status == OK
          n = SIZE_T_IS_ULONG ? out_len.get_ulong(0) : size_at(out_len, 0)
          result = buf.get_bytes(0, n)
          buf.put_bytes(0, ZEROS, 0, n) # the plaintext does not stay in the shared buffer
          return result
        end
        # A compressed value may inflate past the buffer: the allocating call.
        raise_error(status, true) unless status == ERROR_ARGUMENT && size_at(out_len, 0) > SCRATCH_SIZE
      end
      bytes_call(:se_decrypt_version, ctx, data, [version], true)
    end

    # Calls a bytes-in, bytes-out function: `name(ctx, data, len, *args, out)`.
    # @return [String] binary
    def self.bytes_call(name, ctx, data, args, decrypting)
      out = out_bytes
      len = data.bytesize
      if len < BLOCKING_THRESHOLD
        status = __send__(name, ctx, data, len, *args, out)
      else
        # Copied into native memory: the GVL is released during the call.
        buf = FFI::MemoryPointer.new(:uint8, len, false)
        buf.put_bytes(0, data)
        status = __send__(:"#{name}_nogvl", ctx, buf, len, *args, out)
        buf.clear # the copy may be plaintext
      end
      raise_error(status, decrypting) unless status == OK

      take_bytes(out)
    end

    # Frees a stream handle when it is garbage collected, and keeps the ffi callbacks the
    # handle calls alive until then (finalizers run in no particular order, and a callback
    # freed before its handle would leave the library calling freed memory).
    class Releaser
      def initialize(free_function, keep)
        @free_function = free_function
        @keep = keep
      end

      def call(pointer)
        Native.public_send(@free_function, pointer)
        @keep = nil
      end
    end

    # @return [FFI::AutoPointer] `pointer`, freed with `free_function` when collected
    def self.handle(pointer, free_function, *keep)
      FFI::AutoPointer.new(pointer, Releaser.new(free_function, keep))
    end

    # A NUL-terminated native copy of `text` (nil stays NULL), for the functions that release
    # the GVL.
    # @raise [SymmetricEncryption::InvalidArgument] the text contains a NUL byte
    def self.text_arg(text)
      return nil if text.nil?

      text = text.to_s
      raise InvalidArgument, "#{text.inspect} contains a NUL byte" if text.include?("\0")

      FFI::MemoryPointer.from_string(text)
    end

    # A native copy of the bytes of `data` (for se_context_load_yaml).
    def self.bytes_arg(data)
      ptr = FFI::MemoryPointer.new(:uint8, [data.bytesize, 1].max, false)
      ptr.put_bytes(0, data)
      ptr
    end

    # A new context handle owned by Ruby (freed when garbage collected).
    def self.context(ptr)
      FFI::AutoPointer.new(ptr, method(:se_context_free))
    end

    # Runs `yield(out_pointer)` for a function with a `se_context **out`, raising on failure.
    # @return [FFI::AutoPointer]
    def self.new_context
      out = FFI::MemoryPointer.new(:pointer)
      status = yield(out)
      raise_error(status) unless status == OK

      context(out.get_pointer(0))
    end

    # @return [String] `len` random bytes from the operating system's CSPRNG (binary)
    def self.random_bytes(len)
      out = out_bytes
      status = se_random_bytes(len, out)
      raise_error(status) unless status == OK

      take_bytes(out)
    end

    # @return [Array<Hash>] what each cipher of `ctx` is, primary first (never keys)
    def self.cipher_infos(ctx)
      info = CipherInfo.new
      Array.new(se_context_cipher_count(ctx)) do |i|
        status = se_context_cipher_info(ctx, i, info)
        raise_error(status) unless status == OK

        {
          version: info[:version],
          cipher_name: info[:cipher_name].to_s,
          encoding: info[:encoding].to_s.to_sym,
          always_add_header: info[:always_add_header] == 1,
          authenticated: info[:authenticated] == 1,
          key_len: info[:key_len],
          iv_len: info[:iv_len]
        }
      end
    end

    # The raw key or iv of cipher `index` of `ctx` (se_context_cipher_key / _iv), as a binary
    # string; the native copy is zeroed and freed at once.
    # @param function [Symbol] :se_context_cipher_key or :se_context_cipher_iv
    # @return [String] binary ("" for a cipher without an iv)
    def self.secret(function, ctx, index)
      require!(function)
      out = FFI::MemoryPointer.new(Bytes.size)
      status = public_send(function, ctx, index, out)
      raise_error(status) unless status == OK

      take_bytes(out)
    end

    # @return [String] the library version, e.g. "0.1.0"
    def self.version
      se_version
    end

    # Key management (keystore.rb, cli.rb, key_management.rb): configuration handles, reports,
    # the keystores' data keys, and the command line in-process.
    class KeyOptions < FFI::Struct
      layout :environments, :pointer, :app_name, :pointer, :keystore, :pointer,
             :cipher_name, :pointer, :key_path, :pointer, :key_permissions, :pointer,
             :regions, :pointer, :rolling_deploy, :int32
    end

    class DataKeyOptions < FFI::Struct
      layout :keystore, :pointer, :cipher_name, :pointer, :app_name, :pointer,
             :environment, :pointer, :version, :int32, :key_path, :pointer,
             :key_permissions, :pointer, :regions, :pointer, :dek, :pointer, :dek_len, :size_t,
             :dek_iv, :pointer, :dek_iv_len, :size_t
    end

    {
      se_config_load: [%i[pointer pointer], :int],
      se_config_parse_yaml: [%i[pointer size_t pointer pointer], :int],
      se_config_free: [%i[pointer], :void],
      se_config_to_yaml: [%i[pointer pointer], :int],
      se_config_write: [%i[pointer pointer], :int],
      se_config_describe: [%i[pointer pointer], :int],
      se_config_context: [%i[pointer pointer pointer], :int],
      se_config_generate: [%i[pointer pointer pointer pointer], :int],
      se_config_rotate_keys: [%i[pointer pointer pointer], :int],
      se_config_rotate_kek: [%i[pointer pointer pointer], :int],
      se_config_activate_key: [%i[pointer pointer pointer], :int],
      se_config_cleanup_plan: [%i[pointer pointer pointer], :int],
      se_config_cleanup_keys: [%i[pointer pointer pointer], :int],
      se_config_migrate: [%i[pointer pointer], :int],
      se_reencrypt: [%i[pointer pointer int32 pointer], :int],
      se_keystore_generate_data_key: [%i[pointer pointer pointer], :int],
      se_keystore_read_key: [%i[pointer size_t pointer size_t pointer pointer], :int],
      se_report_free: [%i[pointer], :void],
      se_report_stdout: [%i[pointer], :string],
      se_report_stderr: [%i[pointer], :string],
      se_report_line_count: [%i[pointer], :size_t],
      se_report_line: [%i[pointer size_t], :string],
      se_report_file_count: [%i[pointer], :size_t],
      se_report_file: [%i[pointer size_t], :string],
      se_report_variable_count: [%i[pointer], :size_t],
      se_report_variable: [%i[pointer size_t pointer pointer pointer], :int],
      se_report_removal_count: [%i[pointer], :size_t],
      se_report_removal: [%i[pointer size_t pointer pointer pointer], :int],
      se_report_written: [%i[pointer], :int32],
      se_report_failures: [%i[pointer], :size_t],
      se_cli_main: [%i[int32 pointer], :int32]
    }.each do |name, (args, ret)|
      attach_function name, args, ret
      @available[name] = true
    rescue FFI::NotFoundError
      @available[name] = false
    end
  end
end
