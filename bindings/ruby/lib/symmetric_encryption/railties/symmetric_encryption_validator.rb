# frozen_string_literal: true

require "active_model"

# `validates :x, symmetric_encryption: true`: the value must be blank or an encrypted value
# (it starts with the encoded magic header), as with the gem.
#
#   class User < ActiveRecord::Base
#     validates :encrypted_ssn, symmetric_encryption: true
#   end
class SymmetricEncryptionValidator < ActiveModel::EachValidator
  # @param record [ActiveModel::Validations]
  # @param attribute [Symbol]
  # @param value [Object]
  def validate_each(record, attribute, value)
    return if value.blank? || SymmetricEncryption.encrypted?(value)

    record.errors.add(attribute, "must be a value encrypted using SymmetricEncryption.encrypt")
  end
end
