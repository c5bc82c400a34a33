# frozen_string_literal: true

require_relative "test_helper"

# files/ and tamper.json files[]: encrypted streams written by the gem, read through Reader.
class VectorsFilesTest < SymmetricEncryptionTest
  MANIFEST = TestHelper.vector_json("files", "manifest.json")
  TAMPER = TestHelper.vector_json("tamper.json")

  def setup
    super
    skip_without_streams
  end

  # The manifest's ciphers, with `primary` first: from the set's configuration file when the
  # library can load one, else built in code.
  def use_ciphers(primary)
    if config_loading?
      env = primary == 1 ? "cbc_primary" : "gcm_primary"
      SymmetricEncryption.load!(vector_path("files", MANIFEST.fetch("config_file")), env)
    else
      use_manifest_ciphers(primary == 1 ? 1 : 2)
    end
  end

  MANIFEST.fetch("files").each do |f|
    define_method("test_file_#{f.fetch('name')}") do
      use_ciphers(f.fetch("primary_version_at_write"))
      path = vector_path("files", f.fetch("enc_file"))
      plain = File.binread(vector_path("files", f.fetch("plain_file")))
      assert_equal f.fetch("plaintext_sha256"), Digest::SHA256.hexdigest(plain)
      opts = f["read_with_version"] ? { version: f["read_with_version"] } : {}

      # whole, by path
      assert_equal plain, SymmetricEncryption::Reader.read(path, **opts).b

      # in pieces, through an IO (the callback reader)
      pieces = +""
      File.open(path, "rb") do |io|
        SymmetricEncryption::Reader.open(io, **opts) do |r|
          assert_equal !f["header"].nil?, r.header_present?
          assert_equal f.fetch("compress"), r.compressed? if r.header_present?
          while (piece = r.read(1000))
            pieces << piece
          end
          assert r.eof?
        end
      end
      assert_equal plain, pieces.b

      # lines, size and seeking
      SymmetricEncryption::Reader.open(path, **opts) do |r|
        assert_equal plain.bytesize, r.decrypted_size
        assert_equal File.size(path), r.size # the encrypted file's, as in the gem
        assert_equal plain, r.each_line.to_a.join.b
        next if plain.empty?

        middle = plain.bytesize / 2
        r.seek(middle)
        assert_equal middle, r.pos
        assert_equal plain.byteslice(middle, 100), r.read(100)
        r.seek(-10, IO::SEEK_END)
        assert_equal plain.byteslice(-10, 10), r.read
        r.rewind
        assert_equal plain.byteslice(0, 10), r.read(10)
      end

      # decrypted whole to a file
      target = tmp("out.plain")
      assert_equal plain.bytesize, SymmetricEncryption::Reader.decrypt(source: path, target: target, **opts)
      assert_equal plain, File.binread(target)
    end
  end

  def expected_error(outcome)
    if outcome["error_class"] == "OpenSSL::Cipher::CipherError" && outcome["error_message"].to_s.empty?
      SymmetricEncryption::AuthenticationError
    else
      SymmetricEncryption::CipherError
    end
  end

  TAMPER.fetch("files").each do |f|
    define_method("test_tamper_#{f.fetch('id').tr('-', '_')}") do
      ciphers = TAMPER.fetch("ciphers").map { |c| cipher_from(c) }
      SymmetricEncryption.cipher = ciphers.first
      SymmetricEncryption.secondary_ciphers = ciphers.drop(1)
      path = vector_path(f.fetch("file"))
      plain = File.binread(vector_path(f.fetch("plain_file")))
      outcome = f.fetch("read")
      # A chunked stream cut back to its header: the gem reads it as empty, we refuse it.
      if outcome["ok"] && f["note"].nil?
        assert_equal plain, SymmetricEncryption::Reader.read(path).b
        return
      end

      expected = f["note"] ? SymmetricEncryption::CipherError : expected_error(outcome)
      assert_raises(expected) do
        SymmetricEncryption::Reader.open(path) { |r| nil while r.read(1024) }
      end
      error = assert_raises(expected) { SymmetricEncryption::Reader.read(path) }
      assert SymmetricEncryption::Error === error # rubocop:disable Style/CaseEquality
      # the whole-file decryption leaves nothing behind
      target = tmp("tampered.plain")
      assert_raises(expected) { SymmetricEncryption::Reader.decrypt(source: path, target: target) }
      refute File.exist?(target), "#{f['id']}: a partial target was left"
    end
  end
end
