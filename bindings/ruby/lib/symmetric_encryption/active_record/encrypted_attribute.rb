# frozen_string_literal: true

require "active_model"

module SymmetricEncryption
  module ActiveRecord
    # The `:encrypted` attribute type, registered with Active Record when it loads:
    #
    #   class Person < ActiveRecord::Base
    #     attribute :ssn, :encrypted, random_iv: false      # deterministic: where(ssn: ...) works
    #     attribute :age, :encrypted, type: :integer
    #     attribute :notes, :encrypted, compress: true
    #     attribute :api_key, :encrypted, version: 3        # the cipher with version 3
    #   end
    #
    # The column holds the encrypted text; the attribute the decrypted, typed value. Assigned
    # values are cast the way Active Record casts an unencrypted attribute of that type (casting
    # never raises: what cannot be cast becomes what Active Record would make of it, or nil for
    # dates and times). Dirty tracking compares decrypted values, so reading an attribute, or
    # assigning the value it already has, is not a change even with random ivs.
    #
    # A value that is already encrypted with the loaded keys (it starts with the encoded
    # header and decrypts) stands for its plaintext, whether assigned or given to `where`:
    # `where(ssn: SymmetricEncryption.encrypt("123", random_iv: false))` finds the row, as
    # `where(ssn: "123")` does. (The gem would encrypt such a value once more.)
    class EncryptedAttribute < ::ActiveModel::Type::String
      # Types whose casting is Active Record's own.
      RAILS_TYPES = {
        integer: ::ActiveModel::Type::Integer,
        float: ::ActiveModel::Type::Float,
        decimal: ::ActiveModel::Type::Decimal,
        boolean: ::ActiveModel::Type::Boolean
      }.freeze

      # Types that take a multiparameter assignment (the Hash a `date_select` submits).
      MULTIPARAMETER_TYPES = {
        datetime: ::ActiveModel::Type::DateTime,
        time: ::ActiveModel::Type::Time,
        date: ::ActiveModel::Type::Date
      }.freeze

      # @param random_iv [Boolean] a new random iv on every write (default true); false for an
      #   attribute that is looked up by its encrypted value
      # @param compress [Boolean] compress before encrypting (default false)
      # @param type [Symbol] one of SymmetricEncryption::COERCION_TYPES (default :string)
      # @param version [Integer, nil] the cipher that encrypts (default: the primary); values
      #   are decrypted by the version in their header
      # @raise [ArgumentError] an unknown type
      def initialize(random_iv: true, compress: false, type: :string, version: nil)
        unless SymmetricEncryption::COERCION_TYPES.include?(type)
          raise ::ArgumentError, "Invalid type: #{type.inspect}. Valid types: #{SymmetricEncryption::COERCION_TYPES.inspect}"
        end

        super()
        @random_iv = random_iv
        @compress = compress
        @encrypted_type = type
        @version = version
        @rails_type = RAILS_TYPES[type]&.new
        @multiparameter_type = MULTIPARAMETER_TYPES[type]&.new
      end

      # @return [Symbol] :encrypted
      def type
        :encrypted
      end

      # The column's encrypted text to the attribute's value.
      # @param value [String, nil]
      # @return [Object, nil]
      def deserialize(value)
        return if value.nil?

        SymmetricEncryption.decrypt(value, type: @encrypted_type, version: @version)
      end

      # The attribute's value to the column's encrypted text (cast first, so what is written
      # can always be read back as the declared type).
      # @param value [Object]
      # @return [String, nil]
      def serialize(value)
        value = cast(value)
        return if value.nil?

        SymmetricEncryption.encrypt(value, type: @encrypted_type, compress: @compress, random_iv: @random_iv,
                                           version: @version)
      end

      # With a random iv the encrypted text differs on every write: compare decrypted values.
      def changed_in_place?(raw_old_value, new_value)
        # Nothing was read from the database: the value was assigned, not changed in place.
        return false if raw_old_value.nil?

        deserialize(raw_old_value) != new_value
      end

      # A multiparameter Hash was built by Active Record from form fields, so validations
      # report on the cast value, as for an unencrypted date.
      def value_constructed_by_mass_assignment?(value)
        multiparameter?(value)
      end

      private

      def multiparameter?(value)
        !@multiparameter_type.nil? && value.is_a?(::Hash)
      end

      def cast_value(value)
        value = plaintext_of(value)
        return @rails_type.cast(value) if @rails_type

        case @encrypted_type
        when :string then value.to_s # not ActiveModel's, which casts true to "t"
        when :json, :yaml then value
        else cast_time(multiparameter?(value) ? @multiparameter_type.cast(value) : value)
        end
      end

      # The plaintext of a value that is already encrypted, else the value.
      def plaintext_of(value)
        return value unless value.is_a?(::String) && !value.empty? && SymmetricEncryption.encrypted?(value)

        decrypted = SymmetricEncryption.try_decrypt(value)
        decrypted.nil? ? value : decrypted
      end

      # Dates and times through Coerce, not Active Record's types: Type::Time drops the date,
      # Type::DateTime gives a Time where reading back gives a DateTime.
      def cast_time(value)
        return if value.nil?
        return if value.is_a?(::String) && value.strip.empty?

        klass = Coerce::TYPE_MAP[@encrypted_type]
        return value if value.instance_of?(klass)

        value = Coerce.coerce(value, @encrypted_type)
        value.is_a?(klass) ? value : nil
      rescue SymmetricEncryption::CoercionError, ::ArgumentError, ::TypeError, ::RangeError
        nil # Active Record casts what it cannot parse to nil
      end
    end
  end
end
