# frozen_string_literal: true

require "bigdecimal"
require "date"
require "time"
require "json"
require "yaml"

module SymmetricEncryption
  # Converts values to and from the strings that are encrypted, for the `type:` option of
  # SymmetricEncryption.encrypt / decrypt. Same types and string forms as the gem (which uses
  # the coercible gem), built on the standard library only.
  module Coerce
    # Each coercion type and the Ruby class it stands for.
    TYPE_MAP = {
      string: String,
      integer: Integer,
      float: Float,
      decimal: BigDecimal,
      datetime: DateTime,
      time: Time,
      date: Date,
      boolean: nil,
      json: nil,
      yaml: nil
    }.freeze

    TRUE_STRINGS = %w[1 on t true y yes].freeze
    FALSE_STRINGS = %w[0 off f false n no].freeze

    # Classes YAML values may hold when decrypted with `type: :yaml` (Psych 4 loads safely).
    YAML_CLASSES = [Symbol, Date, Time, DateTime, BigDecimal].freeze

    # The string that is encrypted for `value`.
    #
    # @param value [Object]
    # @param type [Symbol] one of COERCION_TYPES
    # @return [String, nil] nil and "" are returned unchanged
    # @raise [SymmetricEncryption::InvalidArgument] unknown type
    def self.coerce_to_string(value, type)
      return value if value.nil? || value == ""

      case type
      when :string then value.to_s
      when :json then value.to_json
      when :yaml then value.to_yaml
      when :decimal then value.is_a?(BigDecimal) ? value.to_s("F") : value.to_s
      when :integer, :float, :datetime, :time, :date, :boolean then value.to_s
      else raise InvalidArgument, unknown(type)
      end
    end

    # The value of `type` that a decrypted string stands for.
    #
    # @param value [String, nil]
    # @param type [Symbol] one of COERCION_TYPES
    # @return [Object] nil and "" are returned unchanged
    # @raise [SymmetricEncryption::CoercionError] the string is not a valid value of `type`
    # @raise [SymmetricEncryption::InvalidArgument] unknown type
    def self.coerce_from_string(value, type)
      return value if value.nil? || value == ""

      case type
      when :string then value
      when :integer then to_integer(value)
      when :float then convert(value, type) { Float(value) }
      when :decimal then convert(value, type) { BigDecimal(value) }
      when :datetime then convert(value, type) { DateTime.parse(value) }
      when :time then convert(value, type) { Time.parse(value) }
      when :date then convert(value, type) { Date.parse(value) }
      when :boolean then to_boolean(value)
      when :json then convert(value, type) { JSON.parse(value) }
      when :yaml then convert(value, type) { load_yaml(value) }
      else raise InvalidArgument, unknown(type)
      end
    end

    # Coerces `value` into `type` (the gem's Coerce.coerce); json and yaml values are left as
    # they are.
    def self.coerce(value, type, _from_type = nil)
      return value if value.nil? || value == "" || %i[json yaml].include?(type)
      return coerce_to_string(value, :string) if type == :string

      coerce_from_string(value.is_a?(String) ? value : value.to_s, type)
    end

    def self.to_integer(value)
      Integer(value, 10)
    rescue ::ArgumentError
      # Scientific notation and decimals: "1e3", "12.7" (coercible truncates the same way)
      convert(value, :integer) { Float(value).to_i }
    end
    private_class_method :to_integer

    def self.to_boolean(value)
      key = value.to_s.downcase
      return true if TRUE_STRINGS.include?(key)
      return false if FALSE_STRINGS.include?(key)

      # The value itself stays out of the message: it is decrypted data.
      raise CoercionError, "cannot coerce the decrypted string to boolean (expected one of " \
                           "#{(TRUE_STRINGS + FALSE_STRINGS).join(', ')})"
    end
    private_class_method :to_boolean

    def self.load_yaml(value)
      if YAML.respond_to?(:safe_load)
        YAML.safe_load(value, permitted_classes: YAML_CLASSES, aliases: true)
      else
        YAML.load(value) # rubocop:disable Security/YAMLLoad
      end
    end
    private_class_method :load_yaml

    def self.convert(value, type)
      yield
    rescue ::ArgumentError, TypeError, JSON::ParserError, Psych::Exception => e
      # Not e.message: it quotes the decrypted string.
      raise CoercionError, "cannot coerce the decrypted string to #{type} (#{e.class})"
    end
    private_class_method :convert

    def self.unknown(type)
      "unknown type #{type.inspect}: expected one of #{TYPE_MAP.keys.map(&:inspect).join(', ')}"
    end
    private_class_method :unknown
  end
end
