# frozen_string_literal: true

module SymmetricEncryption
  module ActiveRecord
    # Include in a model to leave its `:encrypted` attributes out of `as_json`, `to_json` and
    # `serializable_hash`, so a decrypted value cannot reach a JSON response by accident:
    #
    #   class Person < ActiveRecord::Base
    #     include SymmetricEncryption::ActiveRecord::ExcludeFromJson
    #     attribute :ssn, :encrypted
    #   end
    #   person.as_json                  # => {"id" => 1, "name" => "Jack"}
    #   person.as_json(methods: :ssn)   # => {..., "ssn" => "123"}: asked for by name
    #
    # `only:` cannot bring an encrypted attribute back; `methods:` can. `attributes` and
    # `to_yaml` still hold the values.
    module ExcludeFromJson
      # @param options [Hash, nil] as for ActiveModel::Serialization#serializable_hash
      # @return [Hash]
      def serializable_hash(options = nil)
        excluded = self.class.attribute_types.select { |_n, type| type.is_a?(EncryptedAttribute) }.keys
        return super if excluded.empty?

        options = options.nil? ? {} : options.dup
        options[:except] = Array(options[:except]) + excluded
        hash = super(options)
        if options[:only] # Active Record ignores :except when :only is given
          asked = Array(options[:methods]).map(&:to_s)
          excluded.each { |name| hash.delete(name) unless asked.include?(name) }
        end
        hash
      end
    end
  end
end
