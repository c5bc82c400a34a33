# frozen_string_literal: true

require_relative "rails_helper"

# Gem 4.6's attr_encrypted, on Active Record before 7.0.
class AttrEncryptedTest < Minitest::Test
  def self.model
    @model ||= Class.new(ActiveRecord::Base) do
      self.table_name = "users"
      def self.name
        "User"
      end
      attr_encrypted :ssn, random_iv: false
      attr_encrypted :age, type: :integer, random_iv: true
      validates :encrypted_ssn, symmetric_encryption: true
    end
  end

  def setup
    skip "attr_encrypted is gem 4.x's API for Active Record before 7.0" unless ActiveRecord.version < Gem::Version.new("7.0.0")
    RailsHelper.use_ciphers
  end

  def test_writes_the_encrypted_column_and_reads_it_back
    user = self.class.model.create!(ssn: "123-45-6789", age: 42)
    assert_equal SymmetricEncryption.encrypt("123-45-6789", random_iv: false), user.encrypted_ssn
    user = self.class.model.find(user.id)
    assert_equal "123-45-6789", user.ssn
    assert_equal 42, user.age
    assert_equal({ ssn: :encrypted_ssn, age: :encrypted_age }, self.class.model.encrypted_attributes)
    assert self.class.model.encrypted_column?(:encrypted_ssn)
  end

  def test_assigning_an_already_encrypted_value
    user = self.class.model.new
    user.encrypted_ssn = SymmetricEncryption.encrypt("987")
    assert_equal "987", user.ssn
    assert user.ssn_changed?
    user.encrypted_ssn = SymmetricEncryption.encrypt("654")
    assert_equal "654", user.ssn # the cache follows the column
  end

  def test_assigning_the_same_value_is_not_a_change
    user = self.class.model.create!(ssn: "123", age: 1)
    user = self.class.model.find(user.id)
    user.age # decrypted and cached, as gem 4.6 compares with the cached value
    user.age = 1
    user.ssn = "123"
    refute user.changed?
    assert_nil self.class.model.new(ssn: nil).encrypted_ssn
  end
end
