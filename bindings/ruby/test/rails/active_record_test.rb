# frozen_string_literal: true

require_relative "rails_helper"

# A model as a Rails application declares it with the gem.
class Person < ActiveRecord::Base
  include SymmetricEncryption::ActiveRecord::ExcludeFromJson

  attribute :ssn, :encrypted, random_iv: false
  attribute :age, :encrypted, type: :integer
  attribute :balance, :encrypted, type: :decimal
  attribute :born_on, :encrypted, type: :date
  attribute :seen_at, :encrypted, type: :time
  attribute :active, :encrypted, type: :boolean
  attribute :notes, :encrypted, compress: true
  attribute :prefs, :encrypted, type: :json
  attribute :api_key, :encrypted, version: 1

  validates :encrypted_token, symmetric_encryption: true
  validates :age, numericality: { allow_nil: true }
end

# The same table without ExcludeFromJson and with filtering off when it was declared.
class PlainPerson < ActiveRecord::Base
  self.table_name = "people"
  attribute :ssn, :encrypted, random_iv: false
end

class ActiveRecordTest < Minitest::Test
  def setup
    RailsHelper.use_ciphers
    Person.delete_all
  end

  def raw(record, column)
    Person.connection.select_value("SELECT #{column} FROM people WHERE id = #{record.id}")
  end

  def test_the_type_is_registered_when_active_record_loads
    assert_instance_of SymmetricEncryption::ActiveRecord::EncryptedAttribute, ActiveRecord::Type.lookup(:encrypted)
    assert_raises(ArgumentError) { SymmetricEncryption::ActiveRecord::EncryptedAttribute.new(type: :int) }
  end

  def test_save_and_reload_every_type
    born = Date.new(1970, 1, 2)
    seen = Time.new(2020, 5, 6, 7, 8, 9, "+02:00")
    person = Person.create!(name: "Jack", ssn: "123-45-6789", age: 42, balance: BigDecimal("10.25"), born_on: born,
                            seen_at: seen, active: false, notes: "n" * 500, prefs: { "a" => [1, 2] },
                            api_key: "secret key")
    person = Person.find(person.id)
    assert_equal "123-45-6789", person.ssn
    assert_equal 42, person.age
    assert_equal BigDecimal("10.25"), person.balance
    assert_equal born, person.born_on
    assert_equal seen, person.seen_at
    assert_equal false, person.active
    assert_equal "n" * 500, person.notes
    assert_equal({ "a" => [1, 2] }, person.prefs)
    assert_equal "secret key", person.api_key
  end

  def test_columns_hold_encrypted_text_with_the_options_asked_for
    person = Person.create!(ssn: "123", age: 1, notes: "n" * 500, api_key: "k")
    assert_equal "123", SymmetricEncryption.decrypt(raw(person, "ssn"))
    assert_equal "1", SymmetricEncryption.decrypt(raw(person, "age"))
    assert SymmetricEncryption.header(raw(person, "notes")).compressed?
    assert_equal 1, SymmetricEncryption.header(raw(person, "api_key")).version
    assert_equal 2, SymmetricEncryption.header(raw(person, "ssn")).version
    refute_match(/123/, raw(person, "ssn"))
  end

  def test_deterministic_values_can_be_queried
    person = Person.create!(ssn: "123-45-6789")
    Person.create!(ssn: "987-65-4321")
    encrypted = SymmetricEncryption.encrypt("123-45-6789", random_iv: false)
    assert_equal encrypted, raw(person, "ssn")
    assert_equal [person.id], Person.where(ssn: encrypted).pluck(:id)
    # Active Record serializes the plain value too, through the type
    assert_equal [person.id], Person.where(ssn: "123-45-6789").pluck(:id)
  end

  def test_random_iv_attributes_differ_on_every_write
    person = Person.create!(age: 5)
    first = raw(person, "age")
    person.update!(age: 6)
    person.update!(age: 5)
    refute_equal first, raw(person, "age")
  end

  def test_dirty_tracking_reports_only_real_changes
    person = Person.create!(ssn: "123", age: 30, notes: "x", prefs: { "a" => 1 })
    person = Person.find(person.id)
    person.ssn
    person.age
    person.notes
    refute person.changed?, "reading decrypted attributes is not a change: #{person.changes.keys}"
    person.age = "30" # the same value, as a form submits it
    refute person.age_changed?
    person.notes = "x"
    refute person.changed?
    person.age = 31
    assert person.age_changed?
    assert_equal [30, 31], person.changes["age"]
    person.save!
    assert person.saved_change_to_age?
    refute person.saved_change_to_ssn?
    person.reload
    refute person.changed?
  end

  def test_an_already_encrypted_value_stands_for_its_plaintext
    encrypted = SymmetricEncryption.encrypt("123", random_iv: true)
    person = Person.create!(ssn: encrypted, balance: SymmetricEncryption.encrypt("4.5"))
    assert_equal "123", person.ssn
    assert_equal BigDecimal("4.5"), person.balance
    person = Person.find(person.id)
    assert_equal "123", person.ssn
    assert_equal "123", SymmetricEncryption.decrypt(raw(person, "ssn")) # encrypted once, not twice
    person.ssn = SymmetricEncryption.encrypt("123", random_iv: true)
    refute person.ssn_changed?
    # Text that only looks encrypted (it does not decrypt) is a plain value.
    fake = "QEVuQwJAnot-a-value"
    assert_equal fake, Person.new(ssn: fake).ssn
  end

  def test_casting_on_assignment_never_raises
    person = Person.new(age: "abc", balance: "abc", born_on: "not a date", seen_at: "nope", active: "")
    assert_equal 0, person.age
    assert_equal BigDecimal("0"), person.balance
    assert_nil person.born_on
    assert_nil person.seen_at
    assert_nil person.active
    assert_equal "abc", person.age_before_type_cast
    assert_equal 12, Person.new(age: "12abc").age
    assert_equal Date.new(2001, 2, 3), Person.new(born_on: "2001-02-03").born_on
    assert_equal "55", Person.new(ssn: 55).ssn
  end

  def test_multiparameter_dates
    person = Person.new("born_on(1i)" => "1975", "born_on(2i)" => "11", "born_on(3i)" => "9")
    assert_equal Date.new(1975, 11, 9), person.born_on
    refute person.born_on_came_from_user?
  end

  def test_inspect_and_logs_filter_encrypted_attributes
    person = Person.create!(name: "Jack", ssn: "123-45-6789", age: 42)
    text = person.inspect
    assert_match(/name: "Jack"/, text)
    assert_match(/ssn: \[FILTERED\]/, text)
    assert_match(/age: \[FILTERED\]/, text)
    refute_match(/123-45-6789/, text)
    assert_equal "[FILTERED]", person.attribute_for_inspect(:ssn).to_s
    assert_includes Person.filter_attributes.map(&:to_s), "ssn"
  end

  def test_sql_logs_show_no_plaintext
    log = StringIO.new
    previous = ActiveRecord::Base.logger
    ActiveRecord::Base.logger = Logger.new(log)
    Person.create!(ssn: "123-45-6789", age: 42)
    ActiveRecord::Base.logger = previous
    refute_match(/123-45-6789/, log.string)
  end

  def test_json_leaves_encrypted_attributes_out
    person = Person.create!(name: "Jack", ssn: "123", age: 42)
    json = JSON.parse(person.to_json)
    assert_equal "Jack", json["name"]
    %w[ssn age api_key notes].each { |name| refute json.key?(name), "#{name} in #{json.keys}" }
    refute person.as_json(only: %i[name ssn]).key?("ssn")
    assert_equal "123", person.as_json(methods: :ssn)["ssn"]
    assert_equal "123", PlainPerson.find(person.id).as_json["ssn"] # not included there
  end

  def test_validator
    person = Person.new(encrypted_token: "plain")
    refute person.valid?
    assert_equal ["must be a value encrypted using SymmetricEncryption.encrypt"], person.errors[:encrypted_token]
    person.encrypted_token = SymmetricEncryption.encrypt("token")
    assert person.valid?
    person.encrypted_token = ""
    assert person.valid?
  end

  def test_numericality_reports_what_the_user_typed
    person = Person.new(age: "abc")
    refute person.valid?
    assert_equal ["is not a number"], person.errors[:age]
  end

  def test_filtering_can_be_turned_off_before_models_load
    SymmetricEncryption.filter_encrypted_attributes = false
    klass = Class.new(ActiveRecord::Base) do
      self.table_name = "people"
      attribute :ssn, :encrypted
    end
    refute_includes klass.filter_attributes.map(&:to_s), "ssn"
  ensure
    SymmetricEncryption.filter_encrypted_attributes = true
  end

  def test_version_that_no_cipher_has
    assert_raises(SymmetricEncryption::CipherError) do
      SymmetricEncryption::ActiveRecord::EncryptedAttribute.new(version: 99).serialize("value")
    end
  end
end
