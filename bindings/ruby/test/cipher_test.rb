# frozen_string_literal: true

require_relative "test_helper"

class CipherTest < SymmetricEncryptionTest
  def test_defaults_are_the_gems
    cipher = SymmetricEncryption::Cipher.new(key: "k" * 32)
    assert_equal "aes-256-cbc", cipher.cipher_name
    assert_equal 0, cipher.version
    assert_equal :base64strict, cipher.encoding
    assert_equal true, cipher.always_add_header
    refute cipher.authenticated?
    assert_nil cipher.iv
  end

  def test_attributes
    cipher = gcm_cipher(version: 7, encoding: :base16, always_add_header: false)
    assert_equal "aes-256-gcm", cipher.cipher_name
    assert_equal 7, cipher.version
    assert_equal :base16, cipher.encoding
    assert_equal false, cipher.always_add_header
    assert cipher.authenticated?
    assert_equal "i" * 16, cbc_cipher.iv
  end

  def test_encrypt_decrypt_round_trip_every_cipher_and_encoding
    SymmetricEncryption::Cipher::CIPHERS.each do |name, (key_len, iv_len)|
      SymmetricEncryption::Cipher::ENCODINGS.each do |encoding|
        cipher = SymmetricEncryption::Cipher.new(key: "k" * key_len, iv: "v" * iv_len, cipher_name: name,
                                                 encoding: encoding, version: 3)
        ["hello", "\u00e9t\u00e9 \u{1F600}", "\x00\xFF\xFE".b, "x" * 70_000].each do |plain|
          [false, true].each do |random_iv|
            [false, true].each do |compress|
              encrypted = cipher.encrypt(plain, random_iv: random_iv, compress: compress)
              assert_equal plain.b, cipher.decrypt(encrypted).b, "#{name} #{encoding} #{random_iv} #{compress}"
            end
          end
        end
      end
    end
  end

  def test_encrypt_output_encoding
    assert_equal Encoding::UTF_8, cbc_cipher.encrypt("x").encoding
    assert_equal Encoding::BINARY, cbc_cipher(encoding: :none).encrypt("x").encoding
  end

  def test_decrypt_returns_utf8_when_valid_else_binary
    cipher = cbc_cipher
    text = cipher.decrypt(cipher.encrypt("caf\u00e9"))
    assert_equal Encoding::UTF_8, text.encoding
    assert_equal "caf\u00e9", text
    binary = cipher.decrypt(cipher.encrypt("\xFF\xFE".b))
    assert_equal Encoding::BINARY, binary.encoding
    assert_equal "\xFF\xFE".b, binary
  end

  def test_nil_and_empty
    cipher = gcm_cipher
    assert_nil cipher.encrypt(nil)
    assert_nil cipher.decrypt(nil)
    assert_equal "", cipher.encrypt("")
    assert_equal "", cipher.decrypt("")
    assert_nil cipher.binary_encrypt(nil)
    assert_equal "", cipher.binary_decrypt("")
    assert_nil cipher.encode(nil)
    assert_nil cipher.decode(nil)
  end

  def test_encrypt_calls_to_s
    assert_equal "42", cbc_cipher.decrypt(cbc_cipher.encrypt(42))
  end

  def test_deterministic_unless_random_iv
    cipher = gcm_cipher
    assert_equal cipher.encrypt("same"), cipher.encrypt("same")
    refute_equal cipher.encrypt("same", random_iv: true), cipher.encrypt("same", random_iv: true)
    cbc = cbc_cipher
    assert_equal cbc.encrypt("same"), cbc.encrypt("same")
    refute_equal cbc.encrypt("same", random_iv: true), cbc.encrypt("same", random_iv: true)
  end

  def test_randomize_iv_is_the_default_of_random_iv
    SymmetricEncryption.randomize_iv = true
    assert SymmetricEncryption.randomize_iv?
    cipher = cbc_cipher
    refute_equal cipher.encrypt("same"), cipher.encrypt("same")
    assert_equal cipher.encrypt("same", random_iv: false), cipher.encrypt("same", random_iv: false)
  end

  def test_header_option
    cipher = cbc_cipher(always_add_header: false)
    without = cipher.encrypt("abc")
    with = cipher.encrypt("abc", header: true)
    refute without.start_with?("QEVuQw")
    assert with.start_with?("QEVuQw")
    assert_equal "abc", cipher.decrypt(without)
    assert_equal "abc", cipher.decrypt(with)
    assert cbc_cipher.encrypt("abc").start_with?("QEVuQw")
    refute cbc_cipher.encrypt("abc", header: false).start_with?("QEVuQw")
  end

  def test_binary_encrypt_and_decrypt
    cipher = gcm_cipher(version: 9)
    binary = cipher.binary_encrypt("secret")
    assert_equal Encoding::BINARY, binary.encoding
    assert binary.start_with?("@EnC\x09".b)
    assert_equal "secret", cipher.binary_decrypt(binary)
    assert_equal cipher.encode(binary), cipher.encrypt("secret")
    assert_equal binary, cipher.decode(cipher.encrypt("secret"))
  end

  def test_encode_decode
    %i[base64strict base64 base64urlsafe base16 none].each do |encoding|
      cipher = cbc_cipher(encoding: encoding)
      data = (0..255).to_a.pack("C*")
      assert_equal data, cipher.decode(cipher.encode(data)), encoding.to_s
    end
    assert_equal "00ff", cbc_cipher(encoding: :base16).encode("\x00\xFF".b)
    assert_equal "AP8=", cbc_cipher.encode("\x00\xFF".b)
    assert_raises(SymmetricEncryption::EncodingError) { cbc_cipher(encoding: :base16).decode("zz") }
  end

  def test_encoded_magic_header
    assert_equal "QEVuQw", cbc_cipher.encoded_magic_header
    assert_equal "QEVuQw", cbc_cipher(encoding: :base64).encoded_magic_header
    assert_equal "40456e43", cbc_cipher(encoding: :base16).encoded_magic_header
    assert_equal "@EnC", cbc_cipher(encoding: :none).encoded_magic_header
  end

  def test_random_key_and_iv
    gcm = gcm_cipher
    assert_equal 32, gcm.random_key.bytesize
    assert_equal 12, gcm.random_iv.bytesize
    assert_equal 16, cbc_cipher.random_iv.bytesize
    refute_equal gcm.random_key, gcm.random_key
    assert_equal 16, SymmetricEncryption::Cipher.random_key("aes-128-gcm").bytesize
    assert_equal Encoding::BINARY, gcm.random_key.encoding
    assert_raises(SymmetricEncryption::InvalidArgument) { SymmetricEncryption::Cipher.random_key("des") }
  end

  def test_inspect_never_shows_the_key_or_iv
    key = "K3yM4terial-#{'z' * 20}"
    cipher = SymmetricEncryption::Cipher.new(key: key, iv: "IvMaterial123456", cipher_name: "aes-256-cbc")
    [cipher.inspect, cipher.to_s, cipher.instance_variables.map { |v| cipher.instance_variable_get(v).inspect }.join].each do |text|
      refute_includes text, key
      refute_includes text, "K3yM4"
    end
    refute_includes cipher.inspect, "IvMaterial"
    assert_match(/@key="\[FILTERED\]" @iv="\[FILTERED\]" @cipher_name="aes-256-cbc", @version=0/, cipher.inspect)
  end

  # ArgumentError (SymmetricEncryption::InvalidArgument), as the gem raises for a key of the
  # wrong length.
  def test_bad_arguments
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(key: "short") }
    error = assert_raises(ArgumentError) do
      SymmetricEncryption::Cipher.new(key: "k" * 16, cipher_name: "aes-256-gcm")
    end
    assert_match(/32/, error.message)
    refute_includes error.message, "k" * 16
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(key: "k" * 32, cipher_name: "rot13") }
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(key: "k" * 32, encoding: :base99) }
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(key: "k" * 32, iv: "short") }
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(key: "k" * 32, version: 256) }
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(key: nil) }
    assert_raises(ArgumentError) { SymmetricEncryption::Cipher.new(iv: "x") }
  end

  def test_wrong_key_fails
    a = cbc_cipher
    b = SymmetricEncryption::Cipher.new(key: "d" * 32, iv: "i" * 16, version: 1)
    encrypted = a.encrypt("some secret text that spans blocks")
    begin
      value = b.decrypt(encrypted)
      # CBC without authentication can decrypt to garbage with the wrong key: never the text.
      refute_equal "some secret text that spans blocks", value
    rescue OpenSSL::Cipher::CipherError => e
      assert_kind_of SymmetricEncryption::DecryptionError, e
    end
    g1 = gcm_cipher
    g2 = SymmetricEncryption::Cipher.new(key: "z" * 32, cipher_name: "aes-256-gcm", version: 2)
    assert_raises(SymmetricEncryption::AuthenticationError) { g2.decrypt(g1.encrypt("x")) }
  end

  def test_legacy_cipher_option_name
    cipher = SymmetricEncryption::Cipher.new(key: "k" * 16, iv: "v" * 16, cipher: "aes-128-cbc")
    assert_equal "aes-128-cbc", cipher.cipher_name
  end

  def test_key_is_not_retained_by_reference
    key = +"k" * 32
    cipher = SymmetricEncryption::Cipher.new(key: key, cipher_name: "aes-256-gcm")
    encrypted = cipher.encrypt("x")
    key.replace("j" * 32)
    assert_equal "x", cipher.decrypt(encrypted)
  end
end
