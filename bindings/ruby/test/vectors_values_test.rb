# frozen_string_literal: true

require_relative "test_helper"

# The value vectors (strings.json, strings_v46.json, headers.json, tamper.json strings[])
# through the Ruby API: Cipher.new for each case, SymmetricEncryption.* with the vectors'
# ciphers as the global ones.
class VectorsValuesTest < SymmetricEncryptionTest
  STRINGS = TestHelper.vector_json("strings.json")
  V46 = TestHelper.vector_json("strings_v46.json")
  HEADERS = TestHelper.vector_json("headers.json")
  TAMPER = TestHelper.vector_json("tamper.json")

  # Where the gem fails open and the library (SPEC, top) raises instead: case id => our error.
  FAIL_OPEN = {
    "gcm-riv-body_removed" => SymmetricEncryption::AuthenticationError,
    "gcm-riv-z-body_removed" => SymmetricEncryption::AuthenticationError,
    "malformed-iv_length_exceeds_buffer" => SymmetricEncryption::DecryptionError,
    "malformed-gcm_value_header_only" => SymmetricEncryption::AuthenticationError,
    "malformed-chunked_header_without_data" => SymmetricEncryption::DecryptionError,
    "decode-base16-trailing_newline" => SymmetricEncryption::EncodingError,
    "decode-base16-newlines_inside" => SymmetricEncryption::EncodingError,
    "decode-base16-spaces_inside" => SymmetricEncryption::EncodingError,
    "decode-base16-invalid_chars" => SymmetricEncryption::EncodingError,
    "decode-base16-odd_length" => SymmetricEncryption::EncodingError
  }.freeze

  # Our exception class for an error the gem raised (SPEC 5, "Error kinds").
  def expected_error(outcome)
    klass = outcome.fetch("error_class")
    message = outcome["error_message"].to_s
    case klass
    when "OpenSSL::Cipher::CipherError"
      message.empty? ? SymmetricEncryption::AuthenticationError : SymmetricEncryption::DecryptionError
    when "ArgumentError"
      message.include?("invalid base64") ? SymmetricEncryption::EncodingError : SymmetricEncryption::DecryptionError
    when "SymmetricEncryption::CipherError", "TypeError", "RuntimeError"
      SymmetricEncryption::DecryptionError
    else
      flunk "no mapping for the gem's #{klass}: #{message}"
    end
  end

  # Decrypts `input` with the global ciphers and compares with the gem's outcome (or ours,
  # where the gem fails open).
  def check_outcome(id, input, outcome)
    expected = FAIL_OPEN[id]
    if expected.nil? && outcome["ok"]
      value = SymmetricEncryption.decrypt(input)
      want = b64(outcome.fetch("value_b64"))
      assert_equal want, value.b, id
      assert_equal text_encoding_of(want), value.encoding, id unless value.empty?
      return
    end

    expected ||= expected_error(outcome)
    error = assert_raises(expected, id) { SymmetricEncryption.decrypt(input) }
    assert_instance_of expected, error, "#{id}: #{error.message}"
    # Whatever the kind, code written for the gem catches it.
    assert_kind_of OpenSSL::Cipher::CipherError, error, id unless expected == SymmetricEncryption::EncodingError
    assert SymmetricEncryption::Error === error, id # rubocop:disable Style/CaseEquality
    assert SymmetricEncryption::CipherError === error, id # rubocop:disable Style/CaseEquality
    assert_nil SymmetricEncryption.try_decrypt(input), id
    if outcome["error_class"] == "TypeError"
      assert_match(/truncated header/, error.message, "#{id}: must name what is missing")
    end
  end

  def text_encoding_of(bytes)
    bytes.dup.force_encoding(Encoding::UTF_8).valid_encoding? ? Encoding::UTF_8 : Encoding::BINARY
  end

  def test_strings_json_case_count
    assert_equal 364, STRINGS.fetch("cases").size
  end

  STRINGS.fetch("cases").each do |c|
    define_method("test_strings_#{c.fetch('id').tr('-', '_')}") do
      desc = STRINGS.fetch("keys").fetch(c.fetch("key_id")).merge(
        "version" => c.fetch("version"), "encoding" => c.fetch("encoding"),
        "always_add_header" => c.fetch("always_add_header")
      )
      cipher = cipher_from(desc)
      plain = plaintext_of(c)
      encrypted = ciphertext_of(c)

      decrypted = cipher.decrypt(encrypted)
      assert_equal plain, decrypted.b
      assert_equal text_encoding_of(plain), decrypted.encoding unless plain.empty?

      if c.fetch("deterministic")
        again = cipher.encrypt(plain, random_iv: false, compress: c.fetch("compress"),
                                      header: c.fetch("always_add_header"))
        assert_equal encrypted.b, again.b
      else
        again = cipher.encrypt(plain, random_iv: true, compress: c.fetch("compress"))
        refute_equal encrypted.b, again.b unless plain.empty?
        assert_equal plain, cipher.decrypt(again).b
      end

      # The same through the module API, with the header inspected.
      SymmetricEncryption.cipher = cipher
      assert_equal plain, SymmetricEncryption.decrypt(encrypted).b
      header = c["header"]
      got = SymmetricEncryption.header(encrypted)
      if header.nil? || plain.empty?
        assert_nil got
      else
        assert_equal header.fetch("version"), got.version
        assert_equal header.fetch("compress"), got.compressed?
        assert_equal header.fetch("length"), got.length
        same_or_nil b64(header["iv_b64"]), got.iv
        same_or_nil header["cipher_name"], got.cipher_name
        same_or_nil header["auth_tag_hex"], got.auth_tag&.unpack1("H*")
        assert_equal c.fetch("cipher_name").end_with?("gcm"), got.authenticated?
        # As in the gem, the test is the encoded prefix: with base64, versions 16 and up change
        # the sixth character, so their values are not reported as encrypted.
        assert_equal encrypted.b.start_with?(cipher.encoded_magic_header.b), SymmetricEncryption.encrypted?(encrypted)
        assert SymmetricEncryption.encrypted?(encrypted) if header.fetch("version") < 16
      end
    end
  end

  def test_strings_v46_json
    V46.fetch("cases").each do |c|
      id = c.fetch("id")
      cipher = cipher_from(c)
      encrypted = ciphertext_of(c)
      plain = plaintext_of(c)
      if c.fetch("v5_decrypt") == "ok"
        assert_equal plain, cipher.decrypt(encrypted).b, id
        if c["v5_reencrypt_identical"]
          again = cipher.encrypt(plain, random_iv: false, compress: c.fetch("compress"),
                                        header: c.fetch("always_add_header"))
          assert_equal encrypted.b, again.b, id
        end
      else
        # 4.6.0 wrote GCM values without an auth tag: refused.
        error = assert_raises(SymmetricEncryption::CipherError, id) { cipher.decrypt(encrypted) }
        assert_kind_of OpenSSL::Cipher::CipherError, error
      end
    end
  end

  def use_ciphers(descs, encoding: nil)
    ciphers = descs.map { |d| cipher_from(encoding ? d.merge("encoding" => encoding) : d) }
    SymmetricEncryption.cipher = ciphers.first
    SymmetricEncryption.secondary_ciphers = ciphers.drop(1)
  end

  def test_headers_json_headers
    use_ciphers(HEADERS.dig("context", "ciphers"))
    HEADERS.fetch("headers").each do |h|
      id = h.fetch("id")
      bytes = [h.fetch("header_hex")].pack("H*")
      # Six bytes or fewer are never a header.
      alone = SymmetricEncryption.header(Base64.strict_encode64(bytes))
      assert_nil alone, id if h.fetch("parse_alone").dig("value", "offset").zero?

      want = h.fetch("parse_with_trailing_byte").fetch("value")
      got = SymmetricEncryption.header(Base64.strict_encode64("#{bytes}\x00".b))
      assert_equal want.fetch("offset"), got.length, id
      assert_equal want.fetch("version"), got.version, id
      assert_equal want.fetch("compress"), got.compressed?, id
      same_or_nil want["iv_hex"], got.iv&.unpack1("H*"), id
      same_or_nil want["cipher_name"], got.cipher_name, id
      same_or_nil want["auth_tag_hex"], got.auth_tag&.unpack1("H*"), id
      same_or_nil want["chunk_size"], got.chunk_size, id
      assert_equal !want["key_hex"].nil?, got.key?, id
      assert_equal want.fetch("authenticated"), got.authenticated?, id
      assert_equal want.fetch("chunked"), got.chunked?, id
    end
  end

  def test_headers_json_malformed
    use_ciphers(HEADERS.dig("context", "ciphers"))
    cases = HEADERS.fetch("malformed")
    assert_equal 31, cases.size
    cases.each do |m|
      input = m.fetch("input_base64strict")
      assert_equal m.fetch("present"), SymmetricEncryption.encrypted?(input), m.fetch("id") unless input.empty?
      check_outcome(m.fetch("id"), input, m.fetch("decrypt"))
    end
  end

  def test_headers_json_decoding
    HEADERS.fetch("decoding").each do |d|
      id = d.fetch("id")
      use_ciphers(HEADERS.dig("context", "ciphers"), encoding: d.fetch("encoding"))
      if (magic = d["encoded_magic_header"])
        magic = b64(magic) if d["encoded_magic_header_wrapped"] == "base64"
        assert_equal magic.b, SymmetricEncryption.cipher.encoded_magic_header.b, id
        next
      end
      input = d.fetch("input")
      check_outcome(id, input, d.fetch("decrypt"))
      assert_equal d.fetch("encrypted?"), SymmetricEncryption.encrypted?(input), id
    end
  end

  def test_tamper_json_strings
    use_ciphers(TAMPER.fetch("ciphers"))
    assert_equal TAMPER.fetch("primary_version"), SymmetricEncryption.cipher.version
    TAMPER.fetch("strings").each do |s|
      check_outcome(s.fetch("id"), s.fetch("input_base64strict"), s.fetch("decrypt"))
    end
  end

  def test_tag_mismatch_is_an_authentication_error_rescued_as_the_gem_rescues_it
    use_ciphers(TAMPER.fetch("ciphers"))
    tampered = TAMPER.fetch("strings").find { |s| s["id"] == "gcm-riv-tag_byte_flipped" }.fetch("input_base64strict")
    rescued = []
    begin
      SymmetricEncryption.decrypt(tampered)
    rescue OpenSSL::Cipher::CipherError => e
      rescued << e.class
    end
    begin
      SymmetricEncryption.decrypt(tampered)
    rescue SymmetricEncryption::Error => e
      rescued << e.class
    end
    begin
      SymmetricEncryption.decrypt(tampered)
    rescue SymmetricEncryption::AuthenticationError => e
      rescued << e.class
    end
    assert_equal [SymmetricEncryption::AuthenticationError] * 3, rescued
  end

  private

  # assert_equal, or assert_nil when the vector has no such field.
  def same_or_nil(expected, actual, message = nil)
    expected.nil? ? assert_nil(actual, message) : assert_equal(expected, actual, message)
  end
end
