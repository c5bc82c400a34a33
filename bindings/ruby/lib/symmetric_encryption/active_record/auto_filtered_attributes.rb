# frozen_string_literal: true

module SymmetricEncryption
  module ActiveRecord
    # Prepended to ActiveRecord::Base's singleton class when Active Record loads: every
    # `attribute :x, :encrypted` is added to its model's `filter_attributes`, so `inspect` and
    # the logs show `[FILTERED]` instead of the decrypted value, and `model.x` to the Rails
    # application's `config.filter_parameters`, so request parameters are filtered too.
    #
    #   Person.new(ssn: "123").inspect   # => #<Person id: nil, ssn: [FILTERED]>
    #
    # Only inspect and logs: `as_json` still renders the value (include ExcludeFromJson for
    # that). Turn it off before the models load:
    # `config.symmetric_encryption.filter_encrypted_attributes = false`.
    module AutoFilteredAttributes
      # Takes whatever Active Record's `attribute` takes (its signature changed across
      # versions) and hands it on.
      def attribute(name, *args, **options, &block)
        if SymmetricEncryption.filter_encrypted_attributes? && encrypted_type?(args.first)
          filter_encrypted_attribute(name)
        end
        super
      end

      private

      def encrypted_type?(cast_type)
        cast_type == :encrypted || cast_type.is_a?(EncryptedAttribute)
      end

      def filter_encrypted_attribute(name)
        name = name.to_sym
        self.filter_attributes += [name] unless filter_attributes.map(&:to_s).include?(name.to_s)
        add_to_filter_parameters(name)
      end

      def add_to_filter_parameters(name)
        return unless defined?(::Rails) && ::Rails.respond_to?(:application)

        config = ::Rails.application&.config
        return if config.nil? || self.name.nil? # an anonymous model has no parameter name

        filter = "#{model_name.element}.#{name}"
        config.filter_parameters << filter unless config.filter_parameters.include?(filter)
      end
    end
  end
end
