# frozen_string_literal: true

require_relative "test_helper"

# encrypt/decrypt `type:`, with the gem's string forms.
class CoerceTest < SymmetricEncryptionTest
  def setup
    super
    SymmetricEncryption.cipher = gcm_cipher
  end

  def round_trip(value, type)
    encrypted = SymmetricEncryption.encrypt(value, type: type)
    [SymmetricEncryption.decrypt(encrypted), SymmetricEncryption.decrypt(encrypted, type: type)]
  end

  def test_coercion_types
    assert_equal %i[string integer float decimal datetime time date boolean json yaml],
                 SymmetricEncryption::COERCION_TYPES
  end

  def test_string
    assert_equal %w[abc abc], round_trip("abc", :string)
    assert_equal %w[12 12], round_trip(12, :string)
  end

  def test_integer
    assert_equal ["42", 42], round_trip(42, :integer)
    assert_equal ["-7", -7], round_trip(-7, :integer)
    assert_equal 123_456_789_012_345_678_901, round_trip(123_456_789_012_345_678_901, :integer).last
    assert_equal 1000, SymmetricEncryption::Coerce.coerce_from_string("1e3", :integer)
  end

  def test_float
    assert_equal ["3.25", 3.25], round_trip(3.25, :float)
    assert_equal(-0.5, round_trip(-0.5, :float).last)
  end

  def test_decimal
    value = BigDecimal("12345678901234567890.123456789")
    text, back = round_trip(value, :decimal)
    assert_equal "12345678901234567890.123456789", text
    assert_equal value, back
    assert_kind_of BigDecimal, back
  end

  def test_datetime
    value = DateTime.new(2024, 2, 29, 13, 14, 15, "+02:00")
    text, back = round_trip(value, :datetime)
    assert_equal "2024-02-29T13:14:15+02:00", text
    assert_equal value, back
    assert_kind_of DateTime, back
  end

  def test_time
    value = Time.new(2024, 2, 29, 13, 14, 15, "+00:00")
    text, back = round_trip(value, :time)
    assert_equal value.to_s, text
    assert_equal value, back
    assert_kind_of Time, back
  end

  def test_date
    value = Date.new(2024, 2, 29)
    assert_equal ["2024-02-29", value], round_trip(value, :date)
  end

  def test_boolean
    assert_equal ["true", true], round_trip(true, :boolean)
    assert_equal ["false", false], round_trip(false, :boolean)
    %w[1 on t true y yes TRUE Yes].each do |text|
      assert_equal true, SymmetricEncryption::Coerce.coerce_from_string(text, :boolean), text
    end
    %w[0 off f false n no FALSE].each do |text|
      assert_equal false, SymmetricEncryption::Coerce.coerce_from_string(text, :boolean), text
    end
    error = assert_raises(SymmetricEncryption::CoercionError) do
      SymmetricEncryption.decrypt(SymmetricEncryption.encrypt("maybe-secret"), type: :boolean)
    end
    refute_includes error.message, "maybe-secret"
  end

  def test_json
    value = { "a" => [1, 2, { "b" => nil }], "c" => "d" }
    text, back = round_trip(value, :json)
    assert_equal value.to_json, text
    assert_equal value, back
    assert_equal [1, "x"], round_trip([1, "x"], :json).last
  end

  def test_yaml
    value = { "a" => [1, 2.5, nil], "when" => Date.new(2020, 1, 2), "sym" => :s }
    text, back = round_trip(value, :yaml)
    assert_equal value.to_yaml, text
    assert_equal value, back
  end

  def test_nil_and_empty_are_not_coerced
    assert_nil SymmetricEncryption.encrypt(nil, type: :integer)
    assert_nil SymmetricEncryption.decrypt(nil, type: :integer)
    assert_equal "", SymmetricEncryption.decrypt("", type: :integer)
  end

  def test_bad_values_and_types
    encrypted = SymmetricEncryption.encrypt("not a number")
    %i[integer float decimal datetime time date json].each do |type|
      error = assert_raises(SymmetricEncryption::CoercionError, type.to_s) { SymmetricEncryption.decrypt(encrypted, type: type) }
      refute_includes error.message, "not a number"
      assert SymmetricEncryption::Error === error # rubocop:disable Style/CaseEquality
    end
    assert_raises(ArgumentError) { SymmetricEncryption.encrypt(1, type: :complex) }
    assert_raises(ArgumentError) { SymmetricEncryption.decrypt(encrypted, type: :complex) }
  end

  def test_coerce_helper
    assert_equal 5, SymmetricEncryption::Coerce.coerce("5", :integer)
    assert_equal "5", SymmetricEncryption::Coerce.coerce(5, :string)
    assert_equal({ "a" => 1 }, SymmetricEncryption::Coerce.coerce({ "a" => 1 }, :json))
  end
end
