# frozen_string_literal: true

require "optparse"
require "tempfile"
require_relative "key_management"

module SymmetricEncryption
  # The `symmetric-encryption` command line, shaped as the gem's SymmetricEncryption::CLI: `new`
  # reads the options into the gem's attributes (`cli.rotate_keys`, `cli.environment`, ...),
  # `--help` and `--ciphers` print and exit there, and `run!` runs the command. The command
  # itself is this project's Rust command line, run in this process through the C ABI
  # (`se_cli_main`) with the arguments as given, so its flags, output and files are exactly the
  # binary's (`symmetric-encryption --help` lists them: the gem's, plus --info, --check...).
  #
  # As in the gem, a command that fails ends with SystemExit (status 1, or 2 for a usage error);
  # its one-line message goes to `$stderr` (the gem prints it on standard output).
  #
  # @example
  #   SymmetricEncryption::CLI.run!(%w[--generate --keystore environment --app-name shop
  #                                    --environments development,production])
  class CLI
    # The keystores `--keystore` names (the gem's, and vault).
    KEYSTORES = %i[aws heroku environment file gcp vault].freeze

    # The flags that name a command; without one, `run!` prints the help.
    ACTIONS = %i[show_version encrypt decrypt random_password migrate re_encrypt activate_key rotate_kek
                 rotate_keys cleanup_keys generate].freeze

    # The gem's attributes, read from the arguments by `new`.
    attr_reader :key_path, :app_name, :encrypt, :config_file_path,
                :decrypt, :random_password, :new_keys, :generate, :environment,
                :keystore, :re_encrypt, :version, :output_file_name, :compress,
                :environments, :cipher_name, :rolling_deploy, :rotate_keys, :rotate_kek, :prompt, :show_version,
                :cleanup_keys, :activate_key, :migrate, :regions, :key_permissions, :key_path_supplied,
                :force

    # Runs the command line on `argv` (without the program name).
    # @param argv [Array<String>]
    # @return [Integer] 0
    # @raise [SystemExit] the command failed (status 1), a usage error (2), or --help / --ciphers
    def self.run!(argv)
      new(argv).run!
    end

    # Reads the options. With no arguments, `--help` or `--ciphers` it prints and exits, as the
    # gem does. Flags the gem does not have are left to the command line, which checks them all.
    # @param argv [Array<String>]
    # @raise [SystemExit] no arguments, --help, --ciphers
    def initialize(argv)
      @argv = argv.map(&:to_s)
      set_defaults
      if @argv.empty?
        native(["--help"])
        exit(-10)
      end
      parse(@argv.dup)
    end

    # Runs the command.
    # @return [Integer] 0
    # @raise [ArgumentError] --cleanup-keys with --rotate-keys
    # @raise [SystemExit] the command failed: status 1 (its message is on `$stderr`), 2 for a
    #   usage error
    def run!
      raise ArgumentError, "Cannot cleanup keys and rotate keys at the same time" if cleanup_keys && rotate_keys
      if ACTIONS.none? { |a| public_send(a) } && !@extra_action
        native(["--help"])
        return 0
      end

      if (generate || rotate_keys) && !KEYSTORES.include?(keystore)
        warn "Invalid keystore option: #{keystore}, must be one of #{KEYSTORES.join(', ')}"
        exit(2)
      end
      status = native(@argv)
      exit(status) unless status.zero?
      0
    end

    private

    attr_writer :environments

    def set_defaults
      @environment = ENV["SYMMETRIC_ENCRYPTION_ENV"] || ENV["RACK_ENV"] || ENV["RAILS_ENV"] || "development"
      @config_file_path = File.expand_path(ENV["SYMMETRIC_ENCRYPTION_CONFIG"] || "config/symmetric-encryption.yml")
      @app_name = "symmetric-encryption"
      @key_path = "#{Dir.home}/.symmetric-encryption"
      @cipher_name = "aes-256-gcm"
      @keystore = :file
      @rolling_deploy = @prompt = @force = @show_version = @key_path_supplied = false
      @version = begin
        SymmetricEncryption.cipher&.version
      rescue StandardError
        nil
      end
    end

    # The gem's options, into its attributes. An option this parser does not know (one of the
    # command line's own, such as --info or --check) is skipped here and checked by the command
    # line when it runs.
    def parse(args)
      parser.order!(args) { |_operand| nil }
    rescue OptionParser::InvalidOption, OptionParser::MissingArgument, OptionParser::InvalidArgument => e
      # The option was taken off `args` already; go on with the rest.
      @extra_action ||= e.is_a?(OptionParser::InvalidOption)
      retry
    end

    def parser
      @parser ||= OptionParser.new do |o|
        o.on("-e", "--encrypt [FILE_NAME]") { |f| @encrypt = f || $stdin }
        o.on("-d", "--decrypt [FILE_NAME]") { |f| @decrypt = f || $stdin }
        o.on("-o", "--output FILE_NAME") { |f| @output_file_name = f }
        o.on("--force") { @force = true }
        o.on("-P", "--prompt") { @prompt = true }
        o.on("-z", "--compress") { @compress = true }
        o.on("-Z", "--no-compress") { @compress = false }
        o.on("-E", "--env ENVIRONMENT") { |e| @environment = e }
        o.on("-c", "--config CONFIG_FILE_PATH") { |p| @config_file_path = p }
        o.on("-m", "--migrate") { @migrate = true }
        o.on("-r", "--re-encrypt [PATTERN]") { |p| @re_encrypt = p || "**/*.{yml,rb}" }
        o.on("-n", "--new-password [SIZE]") { |s| @random_password = (s || 22).to_i }
        o.on("-g", "--generate") { |g| @generate = g }
        o.on("-s", "--keystore KEYSTORE") { |k| @keystore = (k || "file").downcase.to_sym }
        o.on("-B", "--regions [REGIONS]") { |r| @regions = r.to_s.split(",").map(&:strip) if r }
        o.on("-K", "--key-path KEY_PATH") { |p| (@key_path = p) && (@key_path_supplied = true) }
        o.on("--key-permissions PERMISSIONS") do |p|
          list = p.split(",").map(&:strip)
          @key_permissions = list.size == 1 ? list.first : list
        end
        o.on("-a", "--app-name NAME") { |n| @app_name = n }
        o.on("-S", "--environments ENVIRONMENTS") { |e| @environments = e.split(",").map(&:strip).map(&:to_sym) }
        o.on("-C", "--cipher-name NAME") { |n| @cipher_name = n }
        o.on("-R", "--rotate-keys") { @rotate_keys = true }
        o.on("-U", "--rotate-kek") { @rotate_kek = true }
        o.on("-D", "--rolling-deploy") { @rolling_deploy = true }
        o.on("-A", "--activate-key") { @activate_key = true }
        o.on("-X", "--cleanup-keys") { @cleanup_keys = true }
        o.on("-V", "--key-version NUMBER") { |n| @version = n.to_i }
        o.on("-L", "--ciphers") { native(["--ciphers"]) && exit }
        o.on("-v", "--version") { @show_version = true }
        o.on("-h", "--help") { native(["--help"]) && exit }
      end
    end

    # Runs the Rust command line on `argv`. Output goes to `$stdout` and `$stderr`: when those
    # are the process's own, the command writes to them directly (prompts included); when they
    # are not (captured by a test, say), its output is collected and written to them.
    # @return [Integer] the exit status
    def native(argv)
      status, err = with_stderr { with_stdout { KeyManagement.cli_main(argv) } }
      $stderr.write(err) unless err.nil? || err.empty?
      status
    end

    def process_stream?(io, fd)
      io.respond_to?(:fileno) && io.fileno == fd
    rescue IOError, NotImplementedError
      false
    end

    # Runs the block with file descriptor 1 sent to $stdout when $stdout is not the process's
    # own standard output.
    def with_stdout(&block)
      return yield if process_stream?($stdout, 1)

      status, text = redirect(1, &block)
      $stdout.write(text)
      status
    end

    # Runs the block with file descriptor 2 collected unless $stderr is the process's own.
    # @return [Array(Object, String|nil)]
    def with_stderr(&block)
      return [yield, nil] if process_stream?($stderr, 2)

      redirect(2, &block)
    end

    # Sends file descriptor `fd` to a temporary file while the block runs.
    # @return [Array(Object, String)] the block's result and what was written
    def redirect(fd)
      stream = fd == 1 ? STDOUT : STDERR
      saved = stream.dup
      Tempfile.create("se-cli") do |tmp|
        stream.flush
        stream.reopen(tmp)
        begin
          result = yield
        ensure
          stream.flush
          stream.reopen(saved)
          saved.close
        end
        tmp.rewind
        [result, tmp.read.force_encoding(Encoding::UTF_8)]
      end
    end
  end
end
