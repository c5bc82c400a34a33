# frozen_string_literal: true

require_relative "test_helper"

# A configuration whose entries share a version loads (SPEC section 5, as in the gem, whose own
# test configuration has two version-1 entries): the primary encrypts, and a version selects
# the first entry with it in file order.
class SharedVersionsTest < SymmetricEncryptionTest
  YAML_TEXT = <<~YAML
    test:
      ciphers:
        - {key: '1234567890ABCDEF', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 2}
        - {key: 'BBBBBBBBBBBBBBBB', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}
        - {key: 'CCCCCCCCCCCCCCCC', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}
  YAML

  def cbc(key)
    SymmetricEncryption::Cipher.new(key: key, iv: "1234567890ABCDEF", cipher_name: "aes-128-cbc", version: 1)
  end

  def test_the_file_loads_and_the_first_entry_with_a_version_wins
    assert SymmetricEncryption.load_yaml!(YAML_TEXT, "test")
    assert_equal 2, SymmetricEncryption.cipher.version
    assert_equal [1, 1], SymmetricEncryption.secondary_ciphers.map(&:version)
    assert_equal 2, SymmetricEncryption.header(SymmetricEncryption.encrypt("x")).version

    first = cbc("B" * 16)
    later = cbc("C" * 16)
    value = "shared version"
    assert_equal first.encrypt(value, random_iv: false),
                 SymmetricEncryption.encrypt(value, version: 1, random_iv: false)
    assert_equal value, SymmetricEncryption.decrypt(first.encrypt(value))
    got = begin
      SymmetricEncryption.decrypt(later.encrypt(value))
    rescue SymmetricEncryption::Error
      nil
    end
    refute_equal value, got
  end
end
