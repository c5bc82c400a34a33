# frozen_string_literal: true

require_relative "test_helper"
require "json"
require "yaml"

# The parts of the gem's API beyond encrypt/decrypt that code written for gem 5.0 and 4.6
# calls: mutable ciphers, the key and iv readers, Header, Key, Encoder, Config.
class GemApiTest < SymmetricEncryptionTest
  def test_cipher_writers_rebuild_the_same_object
    cipher = cbc_cipher(encoding: :base64strict)
    encrypted = cipher.encrypt("hello")
    cipher.encoding = :base16
    assert_equal :base16, cipher.encoding
    hex = cipher.encrypt("hello")
    assert_match(/\A\h+\z/, hex)
    assert_equal "40456e43", cipher.encoded_magic_header
    assert_equal "hello", cipher.decrypt(hex)
    cipher.encoding = :base64strict
    assert_equal encrypted, cipher.encrypt("hello")

    cipher.always_add_header = false
    refute cipher.always_add_header
    refute cipher.encrypt("hello").start_with?("QEVuQw")
    cipher.version = 9
    assert_equal 9, cipher.version
    cipher.always_add_header = true
    assert_equal 9, SymmetricEncryption::Header.new(version: 0).tap { |h| h.parse(cipher.binary_encrypt("x")) }.version
  end

  def test_changing_the_global_primary_takes_effect
    primary = cbc_cipher(version: 1)
    use_pair(primary, gcm_cipher(version: 2))
    SymmetricEncryption.cipher.encoding = :base16
    value = SymmetricEncryption.encrypt("abc")
    assert_match(/\A\h+\z/, value)
    assert_equal "abc", SymmetricEncryption.decrypt(value)
    # every value is decoded with the primary's encoding, as in the gem
    by_secondary = SymmetricEncryption.encrypt("abc", version: 2)
    assert_equal 2, SymmetricEncryption.header(by_secondary).version
    assert_equal "abc", SymmetricEncryption.decrypt(by_secondary)
  end

  def test_key_iv_and_key_writer
    cipher = cbc_cipher
    assert_equal "c" * 32, cipher.send(:key)
    assert_equal Encoding::BINARY, cipher.send(:key).encoding
    assert_equal "i" * 16, cipher.iv
    assert_raises(NoMethodError) { cipher.key }
    old = cipher.encrypt("x")
    cipher.key = "d" * 32
    refute_equal old, cipher.encrypt("x")
    cipher.iv = "j" * 16
    assert_equal "j" * 16, cipher.iv
    assert_equal "x", cipher.decrypt(cipher.encrypt("x"))
    assert_raises(ArgumentError) { cipher.key = "short" }
    assert_match(/must be exactly 32 bytes, but is 5 bytes/, assert_raises(ArgumentError) { cbc_cipher(key: "short") }.message)
    refute_match(/short/, assert_raises(ArgumentError) { cbc_cipher(key: "short") }.message)
    refute_match(/cccc/, cipher.inspect)
  end

  def test_loaded_cipher_key_and_iv
    skip_without_config_loading
    yaml = <<~YAML
      test:
        ciphers:
          - key: "#{'a' * 16}"
            iv: "#{'b' * 16}"
            cipher_name: aes-128-cbc
            version: 3
    YAML
    SymmetricEncryption.load_yaml!(yaml, "test")
    cipher = SymmetricEncryption.cipher
    assert_equal "a" * 16, cipher.send(:key)
    assert_equal "b" * 16, cipher.iv
    assert_equal 16, cipher.block_size
    cipher.encoding = :base16 # a loaded cipher becomes standalone, the global set follows
    assert_match(/\A\h+\z/, SymmetricEncryption.encrypt("z"))
    assert_equal "z", SymmetricEncryption.decrypt(SymmetricEncryption.encrypt("z"))
  end

  def test_block_size_and_unknown_version
    assert_equal 16, cbc_cipher.block_size
    assert_equal 1, gcm_cipher.block_size
    use_pair(gcm_cipher(version: 2))
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.cipher(99) }
  end

  def test_header_build_and_parse
    use_pair(cbc_cipher(version: 1))
    header = SymmetricEncryption::Header.new(version: 1, compress: true, iv: "i" * 16, key: "k" * 32, cipher_name: "aes-256-cbc")
    bytes = header.to_s
    assert bytes.start_with?("@EnC\x01".b)
    assert SymmetricEncryption::Header.present?(bytes)
    refute SymmetricEncryption::Header.present?("plain")
    parsed = SymmetricEncryption::Header.new
    assert_equal bytes.bytesize, parsed.parse(bytes + "data")
    assert_equal 1, parsed.version
    assert parsed.compressed?
    assert_equal "i" * 16, parsed.iv
    assert_equal "k" * 32, parsed.key
    assert_equal "aes-256-cbc", parsed.cipher_name
    buffer = bytes + "rest"
    assert_equal "rest", SymmetricEncryption::Header.new.parse!(buffer)
    assert_equal "rest", buffer
    assert_nil SymmetricEncryption::Header.new.parse!("no header".b)
    assert_equal bytes, SymmetricEncryption::Cipher.build_header(1, true, "i" * 16, "k" * 32, "aes-256-cbc")
    buf = SymmetricEncryption::Cipher.build_header(1, true) + "x"
    assert SymmetricEncryption::Cipher.has_header?(buf)
    assert SymmetricEncryption::Cipher.parse_header!(buf).compressed?
    assert_equal "x", buf
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption::Header.new(version: 1, auth_tag: "short") }
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption::Header.new.parse("@EnC\x01\x40\x10\x00ab".b) }
  end

  def test_header_of_values_the_library_wrote
    use_pair(gcm_cipher(version: 2))
    value = SymmetricEncryption.cipher.binary_encrypt("secret", random_iv: true)
    header = SymmetricEncryption::Header.new
    offset = header.parse(value)
    assert header.authenticated?
    assert_equal 16, header.auth_tag.bytesize
    assert_equal 12, header.iv.bytesize
    assert_equal value.byteslice(0, offset), header.to_s
  end

  def test_key
    key = SymmetricEncryption::Key.new(cipher_name: "aes-256-cbc")
    assert_equal 32, key.key.bytesize
    assert_equal 16, key.iv.bytesize
    refute_equal key.key, SymmetricEncryption::Key.new.key
    wrapped = key.encrypt("data key " * 4)
    assert_equal "data key " * 4, key.decrypt(wrapped)
    assert_nil key.encrypt(nil)
    fixed = SymmetricEncryption::Key.new(key: "k" * 32, iv: "i" * 16)
    # the raw cipher with that iv: what Cipher#binary_encrypt gives without a header
    assert_equal cbc_cipher(key: "k" * 32).binary_encrypt("abc", header: false, random_iv: false), fixed.encrypt("abc")
    gcm = SymmetricEncryption::Key.new(cipher_name: "aes-256-gcm")
    sealed = gcm.encrypt("abc")
    assert_equal 3 + 16, sealed.bytesize
    sealed.setbyte(0, sealed.getbyte(0) ^ 1)
    assert_raises(OpenSSL::Cipher::CipherError) { gcm.decrypt(sealed) }
    assert_raises(ArgumentError) { SymmetricEncryption::Key.new(key: "short") }
    refute_match(/k{4}/, fixed.inspect)
  end

  def test_encoder
    bytes = "\x00\xFFabc".b
    {
      base64: "AP9hYmM=\n", base64strict: "AP9hYmM=", base64urlsafe: "AP9hYmM=", base16: "00ff616263"
    }.each do |encoding, text|
      assert_equal text, SymmetricEncryption::Encoder[encoding].encode(bytes)
      assert_equal Encoding::UTF_8, SymmetricEncryption::Encoder.encode(bytes, encoding).encoding
      assert_equal bytes, SymmetricEncryption::Encoder.decode(text, encoding)
      assert_equal Encoding::BINARY, SymmetricEncryption::Encoder.decode(text, encoding).encoding
    end
    assert_equal bytes, SymmetricEncryption::Encoder[:none].encode(bytes)
    assert_nil SymmetricEncryption::Encoder[:base16].encode(nil)
    assert_raises(ArgumentError) { SymmetricEncryption::Encoder[:rot13] }
    assert_raises(SymmetricEncryption::EncodingError) { SymmetricEncryption::Encoder[:base16].decode("zz") }
  end

  def test_config_read_write_and_migrate
    skip_without_config_loading
    file = tmp("config/symmetric-encryption.yml")
    config = {
      production: { ciphers: [{ key: "A" * 32, iv: "B" * 16, cipher_name: "aes-256-cbc", version: 3, always_add_header: true }] }
    }
    SymmetricEncryption::Config.write_file(file, config)
    assert_match(/\A# This file was auto generated by symmetric-encryption/, File.read(file))
    assert_equal config, SymmetricEncryption::Config.read_file(file)
    loaded = SymmetricEncryption::Config.new(file_name: file, env: "production")
    assert_equal 3, loaded.config[:ciphers].first[:version]
    assert_equal [3], loaded.ciphers.map(&:version)
    assert SymmetricEncryption::Config.load!(file_name: file, env: "production")
    assert_equal 3, SymmetricEncryption.cipher.version
    assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption::Config.new(file_name: file, env: "nope").config }
    assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption::Config.new(file_name: tmp("none.yml"), env: "x").config }

    old = { key: "x", cipher: "aes-128-cbc", private_rsa_key: "PEM" }
    migrated = SymmetricEncryption::Config.migrate_old_formats!(old)
    assert_equal({ ciphers: [{ key: "x", cipher_name: "aes-128-cbc", private_rsa_key: "PEM" }] }, migrated)
    kek = { ciphers: [{ key_encrypting_key: "-----BEGIN RSA PRIVATE KEY-----" }] }
    assert_equal "-----BEGIN RSA PRIVATE KEY-----", SymmetricEncryption::Config.migrate_old_formats!(kek)[:ciphers][0][:private_rsa_key]
  end

  # Keystore.migrate_config! on the pre-v4 RSA entries of the vendored legacy configuration: the
  # iv it decrypts and the data key its RSAKey unwraps are the ones the library resolves.
  def test_migrate_config_unwraps_pre_v4_rsa_entries
    dir = vector_path("configs", "handwritten_legacy")
    yaml = YAML.safe_load(File.read(File.join(dir, "config", "symmetric-encryption.yml")), permitted_classes: [Symbol], aliases: true)
    env = yaml.fetch("production_rsa")
    resolved = JSON.parse(File.read(File.join(dir, "set.json"))).fetch("environments")
                   .find { |e| e["environment"] == "production_rsa" }.fetch("resolved_ciphers")
    want = resolved.to_h { |c| [c["version"], [c["key_b64"].unpack1("m"), c["iv_b64"].unpack1("m")]] }
    env.fetch("ciphers").each do |entry|
      config = entry.transform_keys(&:to_sym).merge(private_rsa_key: env.fetch("private_rsa_key"))
      config[:iv_filename] &&= File.join(dir, config[:iv_filename])
      returned = SymmetricEncryption::Keystore.migrate_config!(config)
      assert_same config, returned
      key, iv = want.fetch(config[:version])
      assert_equal iv, config[:iv]
      %i[private_rsa_key encrypted_iv iv_filename].each { |k| refute config.key?(k), k }
      rsa = config[:key_encrypting_key]
      assert_kind_of SymmetricEncryption::RSAKey, rsa
      refute_includes rsa.inspect, "PRIVATE"
      wrapped = config[:encrypted_key] || File.binread(File.join(dir, config[:key_filename]))
      assert_equal key, rsa.decrypt(wrapped)
      assert_equal "round trip", rsa.decrypt(rsa.encrypt("round trip"))
    end
    current = { key_filename: "x.key", iv: "1234567890123456", encrypted_iv: "ignored" }
    SymmetricEncryption::Keystore.migrate_config!(current)
    assert_equal({ key_filename: "x.key", iv: "1234567890123456" }, current)
  end

  private

  def use_pair(primary, *secondaries)
    SymmetricEncryption.cipher = primary
    SymmetricEncryption.secondary_ciphers = secondaries
  end
end
