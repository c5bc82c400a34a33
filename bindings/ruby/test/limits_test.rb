# frozen_string_literal: true

require_relative "test_helper"
require "stringio"

# Issue 14: the decompression limit of values and the output limit of stream readers.
class LimitsTest < Minitest::Test
  KEY = (0..31).to_a.pack("C*")

  def setup
    @saved = SymmetricEncryption.instance_variable_get(:@state)
    @cipher = SymmetricEncryption::Cipher.new(key: KEY, cipher_name: "aes-256-gcm", version: 1)
    SymmetricEncryption.cipher = @cipher
    SymmetricEncryption.secondary_ciphers = []
  end

  def teardown
    SymmetricEncryption.max_decompressed_size = nil
    SymmetricEncryption.instance_variable_set(:@state, @saved)
  end

  def test_a_value_inflating_past_64_mib_is_refused
    assert_equal 64 * 1024 * 1024, SymmetricEncryption.max_decompressed_size
    bomb = SymmetricEncryption.encrypt("\0" * ((64 << 20) + 1), compress: true)
    assert_operator bomb.bytesize, :<, 300_000
    e = assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.decrypt(bomb) }
    assert_includes e.message, "64 MiB"
    assert_includes e.message, "max_decompressed_size"
    assert_raises(SymmetricEncryption::CipherError) { @cipher.decrypt(bomb) }
    SymmetricEncryption.max_decompressed_size = 65 << 20
    assert_equal (64 << 20) + 1, SymmetricEncryption.decrypt(bomb).bytesize
  end

  def test_the_limit_applies_to_module_and_cipher_decrypts
    value = SymmetricEncryption.encrypt("a" * 100_000, compress: true)
    binary = @cipher.binary_encrypt("a" * 100_000, compress: true)
    SymmetricEncryption.max_decompressed_size = 99_999
    assert_equal 99_999, SymmetricEncryption.max_decompressed_size
    e = assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.decrypt(value) }
    assert_includes e.message, "99999 bytes"
    assert_raises(SymmetricEncryption::CipherError) { @cipher.decrypt(value) }
    assert_raises(SymmetricEncryption::CipherError) { @cipher.binary_decrypt(binary) }
    SymmetricEncryption.max_decompressed_size = 100_000
    assert_equal "a" * 100_000, SymmetricEncryption.decrypt(value)
    assert_equal "a" * 100_000, @cipher.decrypt(value)
    [0, -1, 1.5, "10", true].each do |bad|
      assert_raises(SymmetricEncryption::InvalidArgument) { SymmetricEncryption.max_decompressed_size = bad }
    end
  end

  def test_readers_and_decrypt_take_an_output_limit
    io = StringIO.new(String.new(encoding: Encoding::BINARY))
    SymmetricEncryption::Writer.open(io, compress: true) { |w| w.write("\0" * 300_000) }
    data = io.string
    e = assert_raises(SymmetricEncryption::CipherError) do
      SymmetricEncryption::Reader.open(StringIO.new(data), max_output: 1000, &:read)
    end
    assert_includes e.message, "1000 bytes"
    assert_equal 300_000, SymmetricEncryption::Reader.open(StringIO.new(data), max_output: 300_000, &:read).bytesize
    assert_raises(SymmetricEncryption::InvalidArgument) do
      SymmetricEncryption::Reader.open(StringIO.new(data), max_output: 0)
    end

    Dir.mktmpdir do |dir|
      enc = File.join(dir, "a.enc")
      out = File.join(dir, "a.out")
      File.binwrite(enc, data)
      assert_raises(SymmetricEncryption::CipherError) do
        SymmetricEncryption::Reader.decrypt(source: enc, target: out, max_output: 4096)
      end
      refute File.exist?(out), "nothing at the target past the limit"
      assert_equal 300_000, SymmetricEncryption::Reader.decrypt(source: enc, target: out, max_output: 300_000)
    end
  end
end
