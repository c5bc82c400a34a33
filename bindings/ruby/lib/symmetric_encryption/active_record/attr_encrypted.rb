# frozen_string_literal: true

module SymmetricEncryption
  module ActiveRecord
    # Gem 4.x's `attr_encrypted`, for applications that have not moved to the `:encrypted`
    # attribute type yet. Included in ActiveRecord::Base for Active Record before 7.0 (as gem
    # 4.6 does; 7.0's own encryption uses the same method names).
    #
    #   class User < ActiveRecord::Base
    #     attr_encrypted :ssn, random_iv: false   # column encrypted_ssn
    #   end
    #   user.ssn = "123"             # encrypted_ssn is set to the encrypted value
    #   user.encrypted_ssn = value   # an already encrypted value; user.ssn decrypts it
    module AttrEncrypted
      # @api private
      def self.included(base)
        base.extend(ClassMethods)
      end

      # The class-level declarations.
      module ClassMethods
        # Declares `name` / `name=` / `name_changed?` over the column `encrypted_<name>`.
        # @param names [Array<Symbol>]
        # @param random_iv [Boolean, nil] nil: SymmetricEncryption.randomize_iv? (a warning when
        #   that is false, as in gem 4.6)
        # @param type [Symbol] one of SymmetricEncryption::COERCION_TYPES
        # @param compress [Boolean]
        # @raise [ArgumentError] an unknown type
        def attr_encrypted(*names, random_iv: nil, type: :string, compress: false)
          unless SymmetricEncryption::COERCION_TYPES.include?(type)
            raise ::ArgumentError, "Invalid type: #{type.inspect}. Valid types: #{SymmetricEncryption::COERCION_TYPES.inspect}"
          end

          random_iv = true if random_iv.nil? && SymmetricEncryption.randomize_iv?
          if random_iv.nil?
            warn("attr_encrypted() no longer allows a default value for option `random_iv`. " \
                 "Add `random_iv: false` if it is required.")
          end
          names.each do |name|
            AttrEncrypted.define_accessors(self, name.to_sym, :"encrypted_#{name}",
                                           random_iv: random_iv ? true : false, type: type, compress: compress)
            encrypted_attributes[name.to_sym] = :"encrypted_#{name}"
          end
        end

        # @return [Hash{Symbol => Symbol}] decrypted name => encrypted column
        def encrypted_attributes
          @encrypted_attributes ||= superclass.respond_to?(:encrypted_attributes) ? superclass.encrypted_attributes.dup : {}
        end

        # @return [Array<Symbol>] the decrypted names
        def encrypted_keys
          encrypted_attributes.keys
        end

        # @return [Array<Symbol>] the encrypted columns
        def encrypted_columns
          encrypted_attributes.values
        end

        # @return [Boolean]
        def encrypted_attribute?(attribute)
          encrypted_keys.include?(attribute.to_sym)
        end

        # @return [Boolean]
        def encrypted_column?(attribute)
          encrypted_columns.include?(attribute.to_sym)
        end
      end

      # @api private
      # Defines the accessors in a module of the model (so the model can override them and call
      # super). The decrypted value is cached until the encrypted column changes.
      def self.define_accessors(model, name, column, random_iv:, type:, compress:)
        mod = if model.const_defined?(:EncryptedAttributes, false)
                model.const_get(:EncryptedAttributes)
              else
                model.const_set(:EncryptedAttributes, Module.new).tap { |m| model.include(m) }
              end
        value_ivar = :"@#{name}"
        stored_ivar = :"@stored_#{column}"

        mod.send(:define_method, :"#{name}=") do |value|
          value = SymmetricEncryption::Coerce.coerce(value, type).freeze
          return if instance_variable_get(value_ivar) == value && !value.nil? && value != ""

          encrypted = SymmetricEncryption.encrypt(value, random_iv: random_iv, compress: compress, type: type)&.freeze
          public_send(:"#{column}=", encrypted)
          instance_variable_set(stored_ivar, encrypted)
          instance_variable_set(value_ivar, value)
        end

        mod.send(:define_method, name) do
          current = public_send(column)
          if !instance_variable_defined?(stored_ivar) || instance_variable_get(stored_ivar) != current
            instance_variable_set(value_ivar, SymmetricEncryption.decrypt(current, type: type).freeze)
            instance_variable_set(stored_ivar, current)
          end
          instance_variable_get(value_ivar)
        end

        mod.send(:define_method, :"#{name}_changed?") { public_send(:"#{column}_changed?") }
      end
    end
  end
end
