# frozen_string_literal: true

require "yaml"

module SymmetricEncryption
  # The C ABI's key management (`se_config_*`, `se_keystore_*`, `se_reencrypt`) for the gem's
  # Ruby classes: Keystore, Keystore::File/Environment/Heroku/Memory, CLI, Utils::ReEncryptFiles.
  # Configurations cross the boundary as the YAML the gem writes (Psych reads it back into the
  # gem's hashes: symbols, binary strings), so no format is implemented twice.
  module KeyManagement
    # What a key-management call did, as the command line reports it.
    class Report
      # @return [String] what the command line prints to standard output
      attr_reader :stdout
      # @return [String] what it prints to standard error
      attr_reader :stderr
      # @return [Array<String>] summary lines (per file for re-encryption)
      attr_reader :lines
      # @return [Array<String>] key files written
      attr_reader :files
      # @return [Array<Array(String, String, Boolean)>] variables to set: name, value, heroku?
      attr_reader :variables
      # @return [Hash{String => Array<Integer>}] versions removed (or to remove) per environment
      attr_reader :removals
      # @return [Integer] files that could not be fully re-encrypted
      attr_reader :failures

      # @param ptr [FFI::Pointer] an se_report; freed here
      def initialize(ptr)
        @stdout = utf8(Native.se_report_stdout(ptr))
        @stderr = utf8(Native.se_report_stderr(ptr))
        @lines = Array.new(Native.se_report_line_count(ptr)) { |i| utf8(Native.se_report_line(ptr, i)) }
        @files = Array.new(Native.se_report_file_count(ptr)) { |i| utf8(Native.se_report_file(ptr, i)) }
        @variables = Array.new(Native.se_report_variable_count(ptr)) { |i| variable(ptr, i) }
        @removals = {}
        Native.se_report_removal_count(ptr).times { |i| removal(ptr, i) }
        @written = Native.se_report_written(ptr) == 1
        @failures = Native.se_report_failures(ptr)
      ensure
        Native.se_report_free(ptr)
      end

      # @return [Boolean] whether the configuration file was written (or anything re-encrypted)
      def written?
        @written
      end

      def inspect
        "#<#{self.class.name} lines=#{@lines.inspect} files=#{@files.inspect} " \
          "variables=#{@variables.map(&:first).inspect}>"
      end

      private

      def utf8(str)
        (str || "").dup.force_encoding(Encoding::UTF_8)
      end

      def variable(ptr, index)
        name = FFI::MemoryPointer.new(:pointer)
        value = FFI::MemoryPointer.new(:pointer)
        heroku = FFI::MemoryPointer.new(:int32)
        KeyManagement.check(Native.se_report_variable(ptr, index, name, value, heroku))
        [utf8(name.get_pointer(0).read_string), utf8(value.get_pointer(0).read_string), heroku.read_int32 == 1]
      end

      def removal(ptr, index)
        env = FFI::MemoryPointer.new(:pointer)
        versions = FFI::MemoryPointer.new(:pointer)
        count = FFI::MemoryPointer.new(:size_t)
        KeyManagement.check(Native.se_report_removal(ptr, index, env, versions, count))
        n = Native.size_at(count, 0)
        @removals[utf8(env.get_pointer(0).read_string)] = n.zero? ? [] : versions.get_pointer(0).read_array_of_uint8(n)
      end
    end

    # A parsed configuration (every environment) on the native side.
    class Handle
      # @param ptr [FFI::Pointer] an se_config, owned from now on
      def initialize(ptr)
        @ptr = FFI::AutoPointer.new(ptr, Native.method(:se_config_free))
      end

      # @return [FFI::Pointer]
      attr_reader :ptr

      # @return [String] the configuration in the gem's layout
      def to_yaml
        out = Native.out_bytes
        KeyManagement.check(Native.se_config_to_yaml(@ptr, out))
        Native.take_bytes(out).force_encoding(Encoding::UTF_8)
      end

      # @return [Hash] the gem's in-memory form: environments as symbols, entries with symbol keys
      def to_h
        KeyManagement.load_yaml(to_yaml)
      end

      # Runs `se_config_<operation>` and returns its Report.
      def run(operation, options = nil)
        report = FFI::MemoryPointer.new(:pointer)
        status =
          if options.nil?
            Native.public_send(:"se_config_#{operation}", @ptr, report)
          else
            Native.public_send(:"se_config_#{operation}", @ptr, options.pointer, report)
          end
        KeyManagement.check(status)
        Report.new(report.get_pointer(0))
      end

      # Writes the configuration file atomically (nil: the file it was loaded from).
      def write(path = nil)
        KeyManagement.check(Native.se_config_write(@ptr, Native.text_arg(path)))
      end
    end

    # An se_key_options with its strings kept alive.
    class Options
      FIELDS = %i[environments app_name keystore cipher_name key_path key_permissions regions].freeze

      # @return [FFI::Pointer]
      attr_reader :pointer

      def initialize(rolling_deploy: false, **values)
        unknown = values.keys - FIELDS
        raise InvalidArgument, "unknown key-management option(s) #{unknown.inspect}" unless unknown.empty?

        @struct = Native::KeyOptions.new
        @keep = []
        FIELDS.each do |f|
          value = KeyManagement.list(values[f])
          next if value.nil?

          @keep << (ptr = Native.text_arg(value))
          @struct[f] = ptr
        end
        @struct[:rolling_deploy] = rolling_deploy ? 1 : 0
        @pointer = @struct.pointer
      end
    end

    module_function

    # Raises the library's exception for a failed status.
    def check(status)
      Native.raise_error(status) unless status == Native::OK
    end

    # Raises unless the library has the key-management functions.
    def require!
      Native.require!(:se_config_generate)
    end

    # Arrays and symbols as the comma separated text the C options take; nil stays nil.
    def list(value)
      case value
      when nil then nil
      when Array then value.empty? ? nil : value.map(&:to_s).join(",")
      else value.to_s
      end
    end

    # YAML text in the gem's layout to the gem's hash (symbol keys throughout).
    def load_yaml(text)
      data = YAML.safe_load(text, permitted_classes: [Symbol], aliases: true) || {}
      symbolize(data)
    end

    # The gem's hash to YAML text in its layout (string keys, as Config.write_file makes them).
    def dump_yaml(hash)
      stringify(hash).to_yaml
    end

    def symbolize(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), h| h[k.to_sym] = symbolize(v) }
      when Array then value.map { |v| symbolize(v) }
      else value
      end
    end

    def stringify(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), h| h[k.to_s] = stringify(v) }
      when Array then value.map { |v| stringify(v) }
      else value
      end
    end

    # @return [Handle] the configuration file at `path` (nil: the default)
    def load(path = nil)
      require!
      out = FFI::MemoryPointer.new(:pointer)
      check(Native.se_config_load(Native.text_arg(path), out))
      Handle.new(out.get_pointer(0))
    end

    # @return [Handle] a configuration given as the gem's hash (kept in memory)
    def parse(full_config, source = "<configuration>")
      require!
      text = full_config.is_a?(String) ? full_config : dump_yaml(full_config)
      out = FFI::MemoryPointer.new(:pointer)
      check(Native.se_config_parse_yaml(Native.bytes_arg(text), text.bytesize, Native.text_arg(source), out))
      Handle.new(out.get_pointer(0))
    end

    # se_config_generate.
    # @return [Array(Handle, Report)]
    def generate(path = nil, **options)
      require!
      opts = Options.new(**options)
      out = FFI::MemoryPointer.new(:pointer)
      report = FFI::MemoryPointer.new(:pointer)
      check(Native.se_config_generate(Native.text_arg(path), opts.pointer, out, report))
      [Handle.new(out.get_pointer(0)), Report.new(report.get_pointer(0))]
    end

    # Replaces the contents of `target` (a Hash, changed in place) with `source`.
    def replace!(target, source)
      target.clear
      source.each { |k, v| target[k] = v }
      target
    end

    # The gem's `Keystore::<Name>.generate_data_key` through se_keystore_generate_data_key.
    # @return [Array(Hash, Report)] the new entry (the gem's hash) and the report
    def generate_data_key(keystore:, app_name:, environment:, cipher_name: nil, version: 0, key_path: nil,
                          permissions: nil, regions: nil, dek: nil)
      require!
      opts = Native::DataKeyOptions.new
      keep = []
      set = lambda do |field, value|
        next if value.nil?

        keep << (ptr = Native.text_arg(value))
        opts[field] = ptr
      end
      set.call(:keystore, keystore.to_s)
      set.call(:cipher_name, cipher_name&.to_s)
      set.call(:app_name, app_name.to_s)
      set.call(:environment, environment.to_s)
      set.call(:key_path, key_path&.to_s)
      set.call(:key_permissions, permissions_text(permissions))
      set.call(:regions, list(regions))
      opts[:version] = Integer(version || 0)
      if dek
        key = dek.key.to_s.b
        keep << (kp = Native.bytes_arg(key))
        opts[:dek] = kp
        opts[:dek_len] = key.bytesize
        if dek.iv
          iv = dek.iv.to_s.b
          keep << (ip = Native.bytes_arg(iv))
          opts[:dek_iv] = ip
          opts[:dek_iv_len] = iv.bytesize
        end
      end
      out = Native.out_bytes
      report = FFI::MemoryPointer.new(:pointer)
      status = Native.se_keystore_generate_data_key(opts.pointer, out, report)
      keep.each(&:clear) if dek
      check(status)
      text = Native.take_bytes(out).force_encoding(Encoding::UTF_8)
      entry = load_yaml(text).fetch(environment.to_sym).fetch(:ciphers).first
      [entry, Report.new(report.get_pointer(0))]
    end

    # The gem's `permissions:` (Integer, "0600", or an Array of them) as the C option's text.
    def permissions_text(permissions)
      return nil if permissions.nil?

      Array(permissions).map { |p| p.is_a?(Integer) ? format("%04o", p) : p.to_s }.join(",")
    end

    # The data key of one entry (the gem's hash), through its keystore and key-encrypting keys.
    # @return [Array(String, String)] key and iv, binary
    def read_key(entry)
      require!
      text = dump_yaml({ "key" => { "ciphers" => [entry] } })
      key = FFI::MemoryPointer.new(Native::Bytes.size)
      iv = FFI::MemoryPointer.new(Native::Bytes.size)
      check(Native.se_keystore_read_key(Native.bytes_arg(text), text.bytesize, Native.text_arg("key"), 0, key, iv))
      [Native.take_bytes(key), Native.take_bytes(iv)]
    end

    # Runs the command line in this process.
    # @param argv [Array<String>] without the program name
    # @return [Integer] the exit status
    def cli_main(argv)
      Native.require!(:se_cli_main)
      args = ["symmetric-encryption", *argv.map(&:to_s)]
      ptrs = args.map { |a| FFI::MemoryPointer.from_string(a) }
      argv_ptr = FFI::MemoryPointer.new(:pointer, ptrs.size + 1)
      argv_ptr.write_array_of_pointer(ptrs + [nil])
      $stdout.flush
      $stderr.flush
      Native.se_cli_main(args.size, argv_ptr)
    end
  end
end
