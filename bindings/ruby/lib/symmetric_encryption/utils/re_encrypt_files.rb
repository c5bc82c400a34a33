# frozen_string_literal: true

module SymmetricEncryption
  module Utils
    # Re-encrypting after a key rotation: whole encrypted files, and the encrypted values inside
    # text files such as `config/*.yml` (a value is found by its encoded header). Values and
    # files that this configuration cannot decrypt are left as they are.
    #
    # @example
    #   SymmetricEncryption::Utils::ReEncryptFiles.new(version: 4).process_directory("config/**/*.yml")
    class ReEncryptFiles
      # Text files larger than this are not searched for values.
      MAX_TEXT_FILE = 256 * 1024

      # @return [SymmetricEncryption::Cipher] the cipher values are re-encrypted with
      attr_accessor :cipher
      # @return [Integer]
      attr_accessor :version

      # @param version [Integer, nil] the key version to re-encrypt with (default: the primary)
      # @raise [SymmetricEncryption::Error] no cipher has that version (or nothing is loaded)
      def initialize(version: nil)
        primary = SymmetricEncryption.cipher
        raise ConfigError, "Call SymmetricEncryption.load! before re-encrypting" unless primary

        @version = version || primary.version
        @cipher = SymmetricEncryption.cipher(@version) ||
                  raise(ArgumentError, "No cipher with version #{@version} is configured")
      end

      # @param encrypted [String] an encrypted value
      # @return [String] it, re-encrypted with #cipher; unchanged when it cannot be decrypted
      def re_encrypt(encrypted)
        unencrypted = SymmetricEncryption.try_decrypt(encrypted)
        unencrypted ? cipher.encrypt(unencrypted) : encrypted
      end

      # Re-encrypts the values in a text file, in place.
      # @return [Integer] values re-encrypted (0 for a file over 256 KiB, which is skipped)
      def re_encrypt_contents(file_name)
        return 0 if ::File.size(file_name) > MAX_TEXT_FILE

        hits, output = re_encrypt_lines(::File.read(file_name))
        ::File.binwrite(file_name, output) if hits.positive?
        hits
      end

      # @param lines [String] text
      # @return [Array(Integer, String)] values replaced, and the new text
      def re_encrypt_lines(lines)
        hits = 0
        out = +""
        lines.each_line do |line|
          line.force_encoding(Encoding::UTF_8)
          found = line.valid_encoding? && line.match(regexp)
          if found
            encrypted = found[0]
            replacement = re_encrypt(encrypted)
            if replacement == encrypted
              out << line
            else
              hits += 1
              out << line.gsub(encrypted, replacement)
            end
          else
            out << line
          end
        end
        [hits, out]
      end

      # Re-encrypts a whole encrypted file (compressed), through a temporary file beside it.
      def re_encrypt_file(file_name)
        temp = ::File.join(::File.dirname(file_name), "__re_encrypting_#{::File.basename(file_name)}")
        SymmetricEncryption::Reader.open(file_name) do |source|
          SymmetricEncryption::Writer.encrypt(source: source, target: temp, compress: true, version: version)
        end
        ::File.rename(temp, file_name)
      rescue StandardError
        ::File.delete(temp) if temp && ::File.exist?(temp)
        raise
      end

      # Re-encrypts every file matching `path` (a Dir glob, "**/*.yml"): through the library's
      # `--re-encrypt` (se_reencrypt), printing what it did per file, as the command line does.
      # @return [Integer] files that could not be fully re-encrypted
      def process_directory(path)
        report_ptr = FFI::MemoryPointer.new(:pointer)
        KeyManagement.check(Native.se_reencrypt(SymmetricEncryption.context!, Native.text_arg(path), version,
                                                report_ptr))
        report = KeyManagement::Report.new(report_ptr.get_pointer(0))
        $stdout.write(report.stdout)
        $stderr.write(report.stderr) unless report.stderr.empty?
        report.failures
      end

      private

      def regexp
        @regexp ||= %r{#{Regexp.escape(SymmetricEncryption.cipher.encoded_magic_header)}([A-Za-z0-9+/]+[=\\n]*)}
      end
    end
  end
end
