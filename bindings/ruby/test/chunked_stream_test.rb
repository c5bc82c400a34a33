# frozen_string_literal: true

require_relative "test_helper"
require "openssl"
require "stringio"
require "zlib"

# SymmetricEncryption::ChunkedStream (se_chunk_seal / se_chunk_open) against the gem's chunked
# files in tests/vectors/files and against Ruby's OpenSSL, an implementation of its own.
class ChunkedStreamTest < SymmetricEncryptionTest
  MANIFEST = TestHelper.vector_json("files", "manifest.json")
  KEY = "0123456789abcdef0123456789abcdef"

  def setup
    super
    skip "libsymmetric_encryption has no se_chunk_seal" unless SymmetricEncryption::Native.available?(:se_chunk_seal)
    skip_without_config_loading
    SymmetricEncryption.load!(vector_path("files", MANIFEST.fetch("config_file")), "gcm_primary")
  end

  def stream(**opts)
    SymmetricEncryption::ChunkedStream.new(cipher_name: "aes-256-gcm", key: KEY, nonce_prefix: "1234567",
                                           header_bytes: "the header", chunk_size: 1024, **opts)
  end

  # What OpenSSL makes of chunk `number` with the nonce layout of SPEC section 8.
  def openssl_frame(number, data, last:, key: KEY, prefix: "1234567", aad: "the header")
    c = OpenSSL::Cipher.new("aes-256-gcm").encrypt
    c.key = key
    c.iv = prefix.b + [number].pack("N") + (last ? "\x01" : "\x00").b
    c.auth_data = aad
    (data.empty? ? "".b : c.update(data)) + c.final + c.auth_tag(16)
  end

  MANIFEST.fetch("files").select { |f| f["chunked"] }.each do |f|
    define_method("test_gem_file_#{f.fetch('name')}_frame_by_frame") do
      encrypted = File.binread(vector_path("files", f.fetch("enc_file")))
      plain = File.binread(vector_path("files", f.fetch("plain_file")))
      header = SymmetricEncryption::Header.new
      body_at = header.parse(encrypted)
      assert_equal f.fetch("header").fetch("length"), body_at
      chunks = SymmetricEncryption::ChunkedStream.new(
        # Without a stream key in the header (random_key: false) the version's own key is used.
        cipher_name: f.fetch("stream_cipher"), key: header.key || SymmetricEncryption.cipher(header.version).send(:key),
        nonce_prefix: header.iv,
        header_bytes: header.header_bytes, chunk_size: header.chunk_size
      )
      assert_equal body_at, chunks.header_size
      frames = encrypted.byteslice(body_at..).bytes.each_slice(chunks.frame_size).map { |b| b.pack("C*") }
      assert_equal f.fetch("chunk_count"), frames.size
      decrypted = frames.each_with_index.map do |frame, i|
        last = i == frames.size - 1
        data = chunks.decrypt(i, frame, last: last)
        # sealing the same data again gives the gem's bytes exactly
        assert_equal frame, chunks.encrypt(i, data, last: last), "chunk #{i} re-sealed"
        data
      end.join
      decrypted = Zlib::GzipReader.new(StringIO.new(decrypted)).read if f.fetch("compress")
      assert_equal plain, decrypted
    end
  end

  def test_frames_match_openssl
    s = stream
    [["", true], ["a" * 1024, false], ["tail", true]].each_with_index do |(data, last), i|
      frame = s.encrypt(i, data, last: last)
      assert_equal Encoding::BINARY, frame.encoding
      assert_equal openssl_frame(i, data, last: last), frame
      assert_equal data, s.decrypt(i, frame, last: last)
    end
  end

  def test_a_frame_out_of_place_fails_its_check
    frame = stream.encrypt(0, "chunk zero", last: false)
    assert_raises(SymmetricEncryption::AuthenticationError) { stream.decrypt(1, frame, last: false) }
    assert_raises(OpenSSL::Cipher::CipherError) { stream.decrypt(0, frame, last: true) }
    assert_raises(OpenSSL::Cipher::CipherError) { stream(nonce_prefix: "7654321").decrypt(0, frame, last: false) }
    assert_raises(OpenSSL::Cipher::CipherError) { stream(header_bytes: "other header").decrypt(0, frame, last: false) }
    tampered = frame.dup
    tampered.setbyte(3, tampered.getbyte(3) ^ 1)
    assert_raises(OpenSSL::Cipher::CipherError) { stream.decrypt(0, tampered, last: false) }
  end

  def test_a_frame_shorter_than_its_tag
    error = assert_raises(SymmetricEncryption::CipherError) { stream.decrypt(0, "short", last: true) }
    assert_match(/truncated/, error.message)
  end

  def test_bad_arguments
    e = assert_raises(ArgumentError) { stream(cipher_name: "aes-256-cbc") }
    assert_match(/not an authenticated cipher/, e.message)
    e = assert_raises(ArgumentError) { stream(nonce_prefix: "too short!") }
    assert_match(/exactly 7 bytes, but is 10/, e.message)
    e = assert_raises(ArgumentError) { stream(key: "short key") }
    refute_includes e.message, "short key"
    assert_raises(ArgumentError) { stream(cipher_name: "rot13") }
    e = assert_raises(SymmetricEncryption::CipherError) { stream.encrypt(2**32, "x", last: true) }
    assert_match(/at most 4294967296 chunks/, e.message)
    refute_includes stream.inspect, KEY
  end

  def test_nonce_prefixes_are_random
    a = SymmetricEncryption::ChunkedStream.generate_nonce_prefix
    assert_equal 7, a.bytesize
    refute_equal a, SymmetricEncryption::ChunkedStream.generate_nonce_prefix
  end
end
