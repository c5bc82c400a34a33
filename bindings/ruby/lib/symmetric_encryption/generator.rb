# frozen_string_literal: true

module SymmetricEncryption
  # Adds the accessors of an encrypted attribute to a model class (what Mongoid's
  # `field :encrypted_ssn, encrypted: true` uses): `ssn=` encrypts into `encrypted_ssn`, `ssn`
  # decrypts it (once per encrypted value), `ssn_changed?` asks `encrypted_ssn_changed?`.
  # The methods live in the model's own `EncryptedAttributes` module, so the model can override
  # them and call `super`.
  module Generator
    OPTIONS = %i[random_iv compress type version].freeze

    # @param model [Class]
    # @param decrypted_name [Symbol] e.g. :ssn
    # @param encrypted_name [Symbol] e.g. :encrypted_ssn
    # @param options [Hash] :type (default :string), :random_iv, :compress, :version
    # @raise [ArgumentError] an unknown option or type
    def self.generate_decrypted_accessors(model, decrypted_name, encrypted_name, options)
      unknown = options.keys - OPTIONS
      unless unknown.empty?
        raise(ArgumentError,
              "SymmetricEncryption Invalid options #{options.reject { |k, _| OPTIONS.include?(k) }.inspect} " \
              "when encrypting '#{decrypted_name}'")
      end
      random_iv = options[:random_iv] || false
      compress = options[:compress] || false
      type = options[:type] || :string
      version = options[:version]
      unless SymmetricEncryption::COERCION_TYPES.include?(type)
        raise(ArgumentError, "Invalid type: #{type.inspect}. Valid types: #{SymmetricEncryption::COERCION_TYPES.inspect}")
      end

      mod = accessors_module(model)
      ivar = :"@#{decrypted_name}"
      stored = :"@stored_#{encrypted_name}"
      encrypted_writer = :"#{encrypted_name}="

      mod.send(:define_method, :"#{decrypted_name}=") do |value|
        v = SymmetricEncryption::Coerce.coerce(value, type).freeze
        return if instance_variable_get(ivar) == v && !v.nil? && v != ""

        encrypted = SymmetricEncryption.encrypt(v, random_iv: random_iv, compress: compress, type: type,
                                                   version: version).freeze
        instance_variable_set(stored, encrypted)
        public_send(encrypted_writer, encrypted)
        instance_variable_set(ivar, v)
      end

      mod.send(:define_method, decrypted_name) do
        current = public_send(encrypted_name)
        if !instance_variable_defined?(stored) || instance_variable_get(stored) != current
          instance_variable_set(ivar, SymmetricEncryption.decrypt(current.freeze, type: type, version: version).freeze)
          instance_variable_set(stored, current)
        end
        instance_variable_get(ivar)
      end

      mod.send(:define_method, :"#{decrypted_name}_changed?") do
        public_send(:"#{encrypted_name}_changed?")
      end
    end

    # The model's own EncryptedAttributes module (not an ancestor's), included once.
    def self.accessors_module(model)
      return model.const_get(:EncryptedAttributes) if model.const_defined?(:EncryptedAttributes, false)

      mod = model.const_set(:EncryptedAttributes, Module.new)
      model.send(:include, mod)
      mod
    end
    private_class_method :accessors_module
  end
end
