# frozen_string_literal: true

require "tempfile"
require_relative "key_management"

module SymmetricEncryption
  # The `symmetric-encryption` command line: this project's Rust command line, run in this
  # process through the C ABI (`se_cli_main`), so its flags, output and files are exactly the
  # binary's. `symmetric-encryption --help` lists the flags (the gem's, plus --info, --force...).
  #
  # @example
  #   SymmetricEncryption::CLI.run!(%w[--generate --keystore environment --app-name shop
  #                                    --environments development,production])
  class CLI
    # Runs the command line on `argv` (without the program name). Output goes to `$stdout` and
    # `$stderr`: when those are the process's own, the command writes to them directly (prompts
    # included); when they are not (captured by a test, say), its output is collected and
    # written to them, and the error message goes into the exception instead.
    # @param argv [Array<String>]
    # @return [Integer] 0
    # @raise [ArgumentError] a usage error (status 2): the message is the parser's
    # @raise [SymmetricEncryption::Error] the command failed (status 1): its one-line message
    def self.run!(argv)
      new(argv).run!
    end

    # @param argv [Array<String>]
    def initialize(argv)
      @argv = argv.map(&:to_s)
    end

    # @see CLI.run!
    def run!
      status, err = with_stderr { with_stdout { KeyManagement.cli_main(@argv) } }
      case status
      when 0
        $stderr.write(err) unless err.nil? || err.empty?
        0
      when 2 then raise ArgumentError, message(err, status)
      else raise Error, message(err, status)
      end
    end

    private

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

    def message(err, status)
      return "symmetric-encryption exited with status #{status} (its message is above)" if err.nil?

      err.strip.sub(/\Asymmetric-encryption: /, "")
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
