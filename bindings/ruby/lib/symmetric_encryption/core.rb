# frozen_string_literal: true

require "base64"

module SymmetricEncryption
  # The coercion types of encrypt/decrypt `type:`.
  COERCION_TYPES = Coerce::TYPE_MAP.keys.freeze

  # The ciphers in force: the primary, the secondaries, and the native context that holds them
  # all (so a decrypt is a single native call). Replaced whole, never changed (but for the
  # context, built on first use), so a thread that reads it sees one consistent set.
  # @api private
  class State
    attr_reader :cipher, :secondary_ciphers, :fallback, :text_encoding

    # @param context [FFI::Pointer, nil] the native context, when it is already known
    # @param fallback [Array<Cipher>] ciphers that decrypt after the secondaries without being
    #   secondaries themselves (with_cipher's: the configured ones)
    def initialize(cipher, secondary_ciphers, context = nil, fallback: [])
      @cipher = cipher
      @secondary_ciphers = secondary_ciphers.dup.freeze
      @fallback = fallback
      @context = context
      @text_encoding = cipher && cipher.encoding == :none ? Encoding::BINARY : Encoding::UTF_8
    end

    # The native context holding the ciphers, built on first use: cipher= and
    # secondary_ciphers= may be called in any order, as with the gem, and only the set that is
    # used has to be valid. Two threads may both build it; they build the same thing.
    # @return [FFI::Pointer, nil] nil when no primary cipher is set
    def context
      @context || (@cipher && (@context = SymmetricEncryption.send(
        :limited, SymmetricEncryption.send(:combined_context, @cipher, @secondary_ciphers + @fallback)
      )))
    end
  end

  SCOPE_KEY = :__symmetric_encryption_scope
  private_constant :SCOPE_KEY

  NOT_LOADED = "Call SymmetricEncryption.load! or SymmetricEncryption.cipher= prior to encrypting or decrypting data"
  private_constant :NOT_LOADED

  @state = State.new(nil, [])
  @randomize_iv = false
  @filter_encrypted_attributes = true
  @select_cipher = nil
  @scopes = 0
  @lock = Mutex.new

  class << self
    # Sets the primary cipher (nil clears it). The secondary ciphers stay. The set is checked
    # when it is first used: a set that cannot be combined (encodings other than base64 and
    # base64strict mixed) then raises SymmetricEncryption::ConfigError.
    #
    # @param cipher [SymmetricEncryption::Cipher, nil]
    # @raise [SymmetricEncryption::InvalidArgument] not a SymmetricEncryption::Cipher
    def cipher=(cipher)
      check_cipher(cipher) unless cipher.nil?
      @lock.synchronize { @state = State.new(cipher, @state.secondary_ciphers) }
    end

    # The primary cipher, or the cipher with `version`.
    #
    # @param version [Integer, nil]
    # @return [SymmetricEncryption::Cipher] the primary when `version` is nil, or when it is 0
    #   and no cipher has it
    # @raise [SymmetricEncryption::ConfigError] nothing loaded yet
    # @raise [SymmetricEncryption::CipherError] no cipher has `version` (as gem 5.0; gem 4.6
    #   returned nil)
    def cipher(version = nil)
      state = current_state
      raise ConfigError, NOT_LOADED unless state.cipher

      primary = state.cipher
      return primary if version.nil? || primary.version == version

      found = state.secondary_ciphers.find { |c| c.version == version } ||
              state.fallback.find { |c| c.version == version } || (primary if version.zero?)
      return found if found

      versions = ([primary] + state.secondary_ciphers + state.fallback).map(&:version).uniq.sort
      raise CipherError, "Cipher with version:#{version.inspect} not found in any of the configured " \
                         "SymmetricEncryption ciphers. Available versions: #{versions.inspect}."
    end

    # @return [Boolean] whether a primary cipher is set
    def cipher?
      !current_state.cipher.nil?
    end

    # Sets the ciphers that still decrypt (after the primary).
    # @param ciphers [Array<SymmetricEncryption::Cipher>]
    def secondary_ciphers=(ciphers)
      raise InvalidArgument, "secondary_ciphers must be a collection" unless ciphers.respond_to?(:each)

      list = ciphers.to_a
      list.each { |c| check_cipher(c) }
      @lock.synchronize { @state = State.new(@state.cipher, list) }
    end

    # @return [Array<SymmetricEncryption::Cipher>]
    def secondary_ciphers
      current_state.secondary_ciphers
    end

    # Whether encrypt uses a random iv by default (default false).
    # @param value [Boolean]
    def randomize_iv=(value)
      @randomize_iv = value ? true : false
    end

    # @return [Boolean]
    def randomize_iv?
      @randomize_iv
    end

    # Whether attributes declared `attribute :x, :encrypted` are added to their model's
    # `filter_attributes` (so `inspect` and the logs show [FILTERED]). Default true; set it
    # before the models load (`config.symmetric_encryption.filter_encrypted_attributes = false`).
    # @param value [Boolean]
    def filter_encrypted_attributes=(value)
      @filter_encrypted_attributes = value ? true : false
    end

    # @return [Boolean]
    def filter_encrypted_attributes?
      @filter_encrypted_attributes
    end

    # A block that picks the cipher for values without a header:
    # `select_cipher { |encoded, decoded| SymmetricEncryption.cipher(0) }`. No block clears it.
    def select_cipher(&block)
      @select_cipher = block
    end

    # Runs the block with `cipher` as the primary and `secondary_ciphers` after it, for the
    # current fiber (and so thread) only; other threads keep the global ciphers. Threads
    # started inside the block do not inherit it (gem 5.0 keeps the scope in Ruby 3.2's fiber
    # storage, which they would inherit; this binding also runs on Ruby 3.1). Values of the
    # configured ciphers still decrypt inside the block, after the block's own ciphers.
    #
    # @param cipher [SymmetricEncryption::Cipher]
    # @param secondary_ciphers [Array<SymmetricEncryption::Cipher>]
    # @return the block's value
    def with_cipher(cipher, secondary_ciphers: [])
      raise InvalidArgument, "with_cipher needs a block" unless block_given?

      check_cipher(cipher)
      unless secondary_ciphers.respond_to?(:each) && !secondary_ciphers.is_a?(Cipher)
        raise InvalidArgument, "secondary_ciphers must be a collection of SymmetricEncryption::Cipher"
      end

      secondary_ciphers.each { |c| check_cipher(c) }
      # Values encrypted with the configured ciphers still decrypt inside the block (as in gem
      # 5.0): they come after the block's ciphers, so a version both have is the block's.
      outer = current_state
      scope = State.new(cipher, secondary_ciphers.to_a, fallback: [outer.cipher, *outer.secondary_ciphers].compact)
      scope.context # built now: an invalid set fails here, not inside the block
      previous = Thread.current[SCOPE_KEY]
      @lock.synchronize { @scopes += 1 }
      begin
        Thread.current[SCOPE_KEY] = scope
        yield
      ensure
        Thread.current[SCOPE_KEY] = previous
        @lock.synchronize { @scopes -= 1 }
      end
    end

    # Loads the ciphers of one environment from a configuration file (keys from key files,
    # environment variables or the file itself).
    #
    # @param file_name [String, nil] default: SYMMETRIC_ENCRYPTION_CONFIG, else
    #   config/symmetric-encryption.yml (under Rails.root in a Rails application)
    # @param env [String, Symbol, nil] default: SYMMETRIC_ENCRYPTION_ENV, RACK_ENV, RAILS_ENV
    #   (Rails.env in a Rails application), else "development"
    # @return [true]
    # @raise [SymmetricEncryption::ConfigError] the file, environment or an entry is invalid
    # @raise [SymmetricEncryption::KeystoreError] a key file or variable is missing, or a key
    #   file's permissions are wrong
    def load!(file_name = nil, env = nil)
      Native.require!(:se_context_load)
      file_name ||= rails_config_file
      env ||= rails_env
      ctx = Native.new_context { |out| Native.se_context_load(Native.text_arg(file_name), Native.text_arg(env), out) }
      install_context(ctx)
      true
    end

    # Loads the ciphers of one environment from configuration text (YAML with ERB).
    # @param yaml [String]
    # @param env [String, Symbol, nil] as for load!
    # @return [true]
    def load_yaml!(yaml, env = nil)
      Native.require!(:se_context_load_yaml)
      env ||= rails_env
      ctx = Native.new_context do |out|
        Native.se_context_load_yaml(Native.bytes_arg(yaml), yaml.bytesize, Native.text_arg(env), out)
      end
      install_context(ctx)
      true
    end

    # Encrypts `str` with the primary cipher (or the one with `version`) and encodes it.
    #
    # @param str [Object] coerced to a string according to `type`
    # @param random_iv [Boolean] default: randomize_iv?
    # @param compress [Boolean] zlib-compress first (default false)
    # @param type [Symbol] one of COERCION_TYPES (default :string)
    # @param header [Boolean] default: the cipher's always_add_header
    # @param version [Integer, nil] the cipher to encrypt with (default: the primary)
    # @return [String, nil] nil for nil, "" for ""
    # @raise [SymmetricEncryption::ConfigError] nothing loaded
    # @raise [SymmetricEncryption::CipherError] no cipher has `version`
    def encrypt(str, random_iv: nil, compress: false, type: :string, header: nil, version: nil)
      return str if str.nil?

      str = Coerce.coerce_to_string(str, type) unless type == :string && str.is_a?(String)
      return str if str.empty?

      state = @scopes.zero? ? @state : current_state
      ctx = state.context || raise(ConfigError, NOT_LOADED)
      cipher(version_arg(version)) unless version.nil? # the gem's error for a version no cipher has

      # The hot path: the options structure comes from Native's cache, indexed as there.
      random_iv = @randomize_iv if random_iv.nil?
      index = (random_iv ? 2 : 1) + (compress ? 6 : 3) + (header.nil? ? 0 : (header ? 18 : 9))
      index += (version_arg(version) + 1) * 27 unless version.nil?
      opts = Native::OPTIONS[index] ||
             Native.options(random_iv ? 1 : 0, compress ? 1 : 0, header.nil? ? -1 : (header ? 1 : 0),
                            version.nil? ? -1 : version)
      Native.encrypt(ctx, str, opts).force_encoding(state.text_encoding)
    end

    # Decodes and decrypts `str`. A value with a header is decrypted by the cipher of the
    # header's version; one without by the cipher with `version`, the select_cipher block, or
    # the primary.
    #
    # @param str [String, nil]
    # @param version [Integer, nil]
    # @param type [Symbol] one of COERCION_TYPES (default :string)
    # @return [Object] a String (UTF-8 when valid UTF-8, else binary) or the coerced value;
    #   nil for nil, "" for ""
    # @raise [SymmetricEncryption::DecryptionError] (an OpenSSL::Cipher::CipherError) bad
    #   padding, wrong key, malformed header, unknown version
    # @raise [SymmetricEncryption::AuthenticationError] GCM tag mismatch
    # @raise [SymmetricEncryption::EncodingError] not valid for the encoding
    def decrypt(str, version: nil, type: :string)
      return str if str.nil? || str == ""

      str = str.to_s
      state = @scopes.zero? ? @state : current_state
      ctx = state.context || raise(ConfigError, NOT_LOADED)

      decrypted =
        if @select_cipher && version.nil? && !value_header(ctx, str)
          decrypt_selected(ctx, str)
        else
          Native.decrypt(ctx, str, version.nil? ? -1 : version_arg(version))
        end
      decrypted = text(decrypted)
      type == :string ? decrypted : Coerce.coerce_from_string(decrypted, type)
    end

    # Like decrypt, but nil when the value cannot be decrypted (wrong key, garbage, tampered).
    # @param str [String, nil]
    # @return [String, nil]
    def try_decrypt(str)
      decrypt(str)
    rescue CipherError
      nil
    end

    # Whether `str` starts with the encoded magic header (it cannot tell a value encrypted
    # without a header).
    # @param str [String, nil]
    # @return [Boolean]
    def encrypted?(str)
      return false if str.nil? || str == ""

      str = str.to_s
      state = current_state
      ctx = state.context || raise(ConfigError, NOT_LOADED)

      Native.se_is_encrypted(ctx, str, str.bytesize) == 1
    end

    # The header of an encrypted value.
    # @param str [String, nil]
    # @return [SymmetricEncryption::Header, nil] nil when the value has no header
    # @raise [SymmetricEncryption::EncodingError]
    # @raise [SymmetricEncryption::DecryptionError] a malformed header
    def header(str)
      return if str.nil? || str == ""

      str = str.to_s
      state = current_state
      ctx = state.context || raise(ConfigError, NOT_LOADED)

      info = value_header(ctx, str)
      info && Header.from_binary(Native.bytes_call(:se_decode, ctx, str, [], true))
    end

    # A random password: url-safe base64 of `size` random bytes, without padding.
    # @param size [Integer] default 22
    # @return [String]
    def random_password(size = 22)
      Base64.urlsafe_encode64(Native.random_bytes(size), padding: false)
    end

    # @return [String] the native library's version
    def native_version
      Native.version
    end

    # Strings come back UTF-8 when their bytes are valid UTF-8, else binary (as in the gem).
    # @api private
    def text(bytes)
      bytes.force_encoding(Encoding::UTF_8)
      bytes.force_encoding(Encoding::BINARY) unless bytes.valid_encoding?
      bytes
    end

    # The native context in force for this fiber.
    # @api private
    def context!
      state = current_state
      state.context || raise(ConfigError, NOT_LOADED)
    end

    private

    # The with_cipher scope of this fiber, else the global ciphers. Thread.current[] is only
    # looked at while some with_cipher block runs somewhere.
    def current_state
      return @state if @scopes.zero?

      Thread.current[SCOPE_KEY] || @state
    end

    def version_arg(version)
      return -1 if version.nil?
      return version if version.is_a?(Integer) && version.between?(0, 255)

      raise InvalidArgument, "version must be an Integer 0..255, got #{version.inspect}"
    end

    def check_cipher(cipher)
      return if cipher.is_a?(Cipher)

      raise InvalidArgument, "expected a SymmetricEncryption::Cipher, got #{cipher.class}"
    end

    # A cipher changed (Cipher#encoding= and the other writers): the global set that holds it
    # builds its native context again on next use. with_cipher scopes are rebuilt as they are
    # entered, so only the global set needs it.
    def cipher_changed(cipher)
      @lock.synchronize do
        state = @state
        if state.cipher.equal?(cipher) || state.secondary_ciphers.any? { |c| c.equal?(cipher) }
          @state = State.new(state.cipher, state.secondary_ciphers)
        end
      end
    end

    # Replaces the ciphers with those of a loaded context.
    def install_context(ctx)
      infos = Native.cipher_infos(ctx)
      ciphers = infos.each_with_index.map { |info, i| Cipher.from_context(ctx, i, info) }
      @lock.synchronize { @state = State.new(ciphers.first, ciphers.drop(1), limited(ctx)) }
    end

    # One native context for the ciphers, primary first. A version that appears twice keeps
    # its first cipher, as `cipher(version)` does.
    def combined_context(primary, secondaries)
      list = [primary]
      secondaries.each { |c| list << c unless list.any? { |o| o.version == c.version } }

      # The ciphers of one loaded configuration, primary first and none left out: its context.
      parent = primary.native_context
      if !primary.standalone? && primary.index.zero? && list.all? { |c| c.native_context.equal?(parent) } &&
         list.size == Native.se_context_cipher_count(parent)
        return parent
      end

      # The primary's encoding decodes every value (as in the gem, whatever a secondary's own
      # encoding is): a secondary whose encoding cannot be combined joins with the primary's.
      contexts = list.map do |c|
        if compatible_encodings?(primary.encoding, c.encoding)
          c.single_context || parent_context_of(c, primary)
        else
          c.context_with_encoding(primary.encoding)
        end
      end.uniq(&:address)
      return contexts.first if contexts.size == 1 && list.size == 1 && primary.standalone?

      ptrs = FFI::MemoryPointer.new(:pointer, contexts.size)
      ptrs.put_array_of_pointer(0, contexts)
      Native.new_context { |out| Native.se_context_combine(ptrs, contexts.size, 0, out) }
    end

    def compatible_encodings?(a, b)
      a == b || (%i[base64 base64strict].include?(a) && %i[base64 base64strict].include?(b))
    end

    # Without se_context_select a cipher of a loaded configuration can only be combined as its
    # whole configuration, which works when its configuration's primary leads.
    def parent_context_of(cipher, primary)
      if cipher.equal?(primary) && !cipher.index.zero?
        raise ConfigError, "cipher version #{cipher.version} comes from a loaded configuration where it is not " \
                           "the primary; making it the primary needs se_context_select, which this " \
                           "libsymmetric_encryption does not export. Build the cipher with Cipher.new instead."
      end
      cipher.native_context
    end

    def value_header(ctx, str)
      info = Native::HeaderInfo.new
      status = Native.se_header(ctx, str, str.bytesize, 0, info)
      Native.raise_error(status, true) unless status == Native::OK
      info[:present] == 1 ? info : nil
    end

    def decrypt_selected(ctx, str)
      decoded = Native.bytes_call(:se_decode, ctx, str, [], true)
      cipher = @select_cipher.call(str, decoded)
      check_cipher(cipher)
      cipher.binary_decrypt(decoded)
    end

    def rails_config_file
      return unless defined?(::Rails) && ::Rails.respond_to?(:root) && ::Rails.root
      return if ENV["SYMMETRIC_ENCRYPTION_CONFIG"]

      File.join(::Rails.root.to_s, "config", "symmetric-encryption.yml")
    end

    def rails_env
      return unless defined?(::Rails) && ::Rails.respond_to?(:env)
      return if ENV["SYMMETRIC_ENCRYPTION_ENV"]

      ::Rails.env.to_s
    end
  end
end
