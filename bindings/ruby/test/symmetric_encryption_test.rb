# frozen_string_literal: true

require_relative "test_helper"

# The module API: SymmetricEncryption.encrypt/decrypt/... with ciphers set in code.
class SymmetricEncryptionModuleTest < SymmetricEncryptionTest
  def use(primary, *secondaries)
    SymmetricEncryption.cipher = primary
    SymmetricEncryption.secondary_ciphers = secondaries
  end

  def test_require_names
    assert require("symmetric-encryption") || $LOADED_FEATURES.any? { |f| f.end_with?("symmetric-encryption.rb") }
    assert defined?(SymmetricEncryption::Cipher)
    assert_match(/\A\d+\.\d+\.\d+/, SymmetricEncryption.native_version)
    assert_match(/\A\d+\.\d+\.\d+/, SymmetricEncryption::VERSION)
  end

  def test_library_loading
    lib = File.expand_path("../lib", __dir__)
    script = 'begin; require "symmetric_encryption"; puts SymmetricEncryption::Native::LIBRARY_PATH; ' \
             "rescue LoadError => e; puts \"LoadError: \#{e.message}\"; end"
    missing = IO.popen({ "SYMMETRIC_ENCRYPTION_LIB" => "/nonexistent/libsymmetric_encryption.so" },
                       [RbConfig.ruby, "-I", lib, "-e", script], err: %i[child out], &:read)
    assert_match(/LoadError: SYMMETRIC_ENCRYPTION_LIB is set to "\/nonexistent/, missing)
    found = IO.popen({ "SYMMETRIC_ENCRYPTION_LIB" => SymmetricEncryption::Native::LIBRARY_PATH },
                     [RbConfig.ruby, "-I", lib, "-e", script], err: %i[child out], &:read)
    assert_equal SymmetricEncryption::Native::LIBRARY_PATH, found.strip
    assert_includes SymmetricEncryption::Native.candidates, File.expand_path("../../../target/release/#{SymmetricEncryption::Native::LIB_NAME}", __dir__)
  end

  def test_nothing_loaded
    refute SymmetricEncryption.cipher?
    %i[encrypt decrypt encrypted? header].each do |m|
      error = assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption.public_send(m, "abc") }
      assert_match(/load!/, error.message)
    end
    assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption.cipher }
    assert_nil SymmetricEncryption.encrypt(nil)
    assert_nil SymmetricEncryption.decrypt(nil)
    assert_equal "", SymmetricEncryption.decrypt("")
  end

  def test_encrypt_decrypt
    use(gcm_cipher)
    assert SymmetricEncryption.cipher?
    encrypted = SymmetricEncryption.encrypt("Hello World")
    assert_equal Encoding::UTF_8, encrypted.encoding
    assert_equal "Hello World", SymmetricEncryption.decrypt(encrypted)
    assert_equal encrypted, SymmetricEncryption.encrypt("Hello World")
    refute_equal encrypted, SymmetricEncryption.encrypt("Hello World", random_iv: true)
    compressed = SymmetricEncryption.encrypt("a" * 1000, compress: true)
    assert SymmetricEncryption.header(compressed).compressed?
    assert_operator compressed.bytesize, :<, 200
    assert_equal "a" * 1000, SymmetricEncryption.decrypt(compressed)
    assert_equal "", SymmetricEncryption.encrypt("")
    assert_equal "", SymmetricEncryption.decrypt("")
  end

  def test_header_false_and_version
    cbc = cbc_cipher(version: 1)
    old = SymmetricEncryption::Cipher.new(key: "o" * 16, iv: "p" * 16, cipher_name: "aes-128-cbc", version: 5)
    use(cbc, old)
    bare = SymmetricEncryption.encrypt("abc", header: false)
    assert_nil SymmetricEncryption.header(bare)
    assert_equal "abc", SymmetricEncryption.decrypt(bare)

    # encrypt with a secondary cipher, decrypt by its header
    v5 = SymmetricEncryption.encrypt("abc", version: 5)
    assert_equal 5, SymmetricEncryption.header(v5).version
    assert_equal "abc", SymmetricEncryption.decrypt(v5)
    # a header-less value of a secondary cipher needs version:
    bare5 = SymmetricEncryption.encrypt("abc", version: 5, header: false)
    assert_equal "abc", SymmetricEncryption.decrypt(bare5, version: 5)
    refute_equal "abc", SymmetricEncryption.try_decrypt(bare5)

    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.encrypt("abc", version: 77) }
    assert_raises(ArgumentError) { SymmetricEncryption.encrypt("abc", version: 300) }
  end

  def test_cipher_lookup
    primary = gcm_cipher(version: 2)
    secondary = cbc_cipher(version: 1)
    use(primary, secondary)
    assert_same primary, SymmetricEncryption.cipher
    assert_same primary, SymmetricEncryption.cipher(2)
    assert_same secondary, SymmetricEncryption.cipher(1)
    assert_same primary, SymmetricEncryption.cipher(0)
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.cipher(9) } # as gem 5.0
    assert_equal [secondary], SymmetricEncryption.secondary_ciphers
  end

  def test_secondary_ciphers_decrypt
    old = cbc_cipher(version: 1)
    new = gcm_cipher(version: 2)
    from_old = old.encrypt("legacy")
    use(new, old)
    assert_equal "legacy", SymmetricEncryption.decrypt(from_old)
    assert_equal 2, SymmetricEncryption.header(SymmetricEncryption.encrypt("x")).version
    SymmetricEncryption.secondary_ciphers = []
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.decrypt(from_old) }
  end

  def test_cipher_and_secondary_ciphers_may_be_set_in_any_order
    SymmetricEncryption.secondary_ciphers = [cbc_cipher(version: 1, encoding: :base16)]
    SymmetricEncryption.cipher = gcm_cipher(version: 1) # same version as the stale secondary
    SymmetricEncryption.secondary_ciphers = []
    assert_equal "x", SymmetricEncryption.decrypt(SymmetricEncryption.encrypt("x"))
  end

  def test_duplicate_versions_keep_the_first
    first = gcm_cipher(version: 3)
    second = cbc_cipher(version: 3)
    use(first, second)
    assert_equal "x", SymmetricEncryption.decrypt(first.encrypt("x"))
    assert_same first, SymmetricEncryption.cipher(3)
  end

  # As in the gem, a set assembled in code decodes every value with the primary's encoding.
  def test_secondaries_with_another_encoding_use_the_primarys
    use(gcm_cipher(version: 2), cbc_cipher(version: 1, encoding: :base16))
    assert_equal "x", SymmetricEncryption.decrypt(SymmetricEncryption.encrypt("x"))
    by_secondary = SymmetricEncryption.encrypt("y", version: 1)
    assert by_secondary.start_with?("QEVuQwE"), by_secondary # base64strict, the primary's
    assert_equal "y", SymmetricEncryption.decrypt(by_secondary)
  end

  def test_cipher_setters_check_their_arguments
    assert_raises(ArgumentError) { SymmetricEncryption.cipher = "not a cipher" }
    assert_raises(ArgumentError) { SymmetricEncryption.secondary_ciphers = 5 }
    assert_raises(ArgumentError) { SymmetricEncryption.secondary_ciphers = [Object.new] }
  end

  def test_try_decrypt
    use(gcm_cipher)
    assert_equal "x", SymmetricEncryption.try_decrypt(SymmetricEncryption.encrypt("x"))
    assert_nil SymmetricEncryption.try_decrypt("QEVuQwJIDADPakWSaBJe/o1Uzb0QANmHSAaoxvdHGifgUaquIdxILANSCL0=")
    assert_nil SymmetricEncryption.try_decrypt("QEVuQwJIDAD") # truncated header
    assert_nil SymmetricEncryption.try_decrypt(nil)
  end

  def test_encrypted?
    use(gcm_cipher)
    assert SymmetricEncryption.encrypted?(SymmetricEncryption.encrypt("x"))
    refute SymmetricEncryption.encrypted?("plain text")
    refute SymmetricEncryption.encrypted?("")
    refute SymmetricEncryption.encrypted?(nil)
  end

  def test_header
    use(gcm_cipher(version: 4))
    value = SymmetricEncryption.encrypt("x", random_iv: true, compress: true)
    header = SymmetricEncryption.header(value)
    assert_equal 4, header.version
    assert header.compressed?
    assert header.compress
    assert_equal 12, header.iv.bytesize
    assert_equal 16, header.auth_tag.bytesize
    assert header.authenticated?
    refute header.chunked?
    refute header.key?
    assert_nil header.cipher_name
    assert_same SymmetricEncryption.cipher, header.cipher
    assert_match(/version=4/, header.inspect)
    assert_nil SymmetricEncryption.header(nil)
    SymmetricEncryption.cipher = cbc_cipher(always_add_header: false)
    assert_nil SymmetricEncryption.header(SymmetricEncryption.encrypt("x"))
  end

  def test_random_password
    password = SymmetricEncryption.random_password
    assert_match(/\A[A-Za-z0-9_-]{30}\z/, password) # 22 bytes -> 30 url-safe characters
    assert_equal 12, SymmetricEncryption.random_password(9).size
    refute_equal SymmetricEncryption.random_password, SymmetricEncryption.random_password
  end

  def test_select_cipher_for_values_without_a_header
    old = cbc_cipher(version: 0, always_add_header: false)
    new = gcm_cipher(version: 2)
    bare = old.encrypt("from the old days")
    use(new, old)
    SymmetricEncryption.select_cipher { |_encoded, _decoded| SymmetricEncryption.cipher(0) }
    assert_equal "from the old days", SymmetricEncryption.decrypt(bare)
    # values with a header ignore it
    assert_equal "y", SymmetricEncryption.decrypt(SymmetricEncryption.encrypt("y"))
    SymmetricEncryption.select_cipher
  end

  def test_errors_hierarchy
    assert_operator SymmetricEncryption::CipherError, :<, SymmetricEncryption::Error
    assert_operator SymmetricEncryption::ConfigError, :<, SymmetricEncryption::Error
    assert_operator SymmetricEncryption::Error, :<, StandardError
    assert_operator SymmetricEncryption::AuthenticationError, :<, OpenSSL::Cipher::CipherError
    assert_operator SymmetricEncryption::DecryptionError, :<, OpenSSL::Cipher::CipherError
    assert_operator SymmetricEncryption::InvalidArgument, :<, ArgumentError
    auth = SymmetricEncryption::AuthenticationError.new("x")
    assert SymmetricEncryption::Error === auth # rubocop:disable Style/CaseEquality
    assert SymmetricEncryption::CipherError === auth # rubocop:disable Style/CaseEquality
    refute SymmetricEncryption::ConfigError === auth # rubocop:disable Style/CaseEquality
    refute SymmetricEncryption::Error === RuntimeError.new("x") # rubocop:disable Style/CaseEquality
    caught =
      case auth
      when SymmetricEncryption::Error then :error
      end
    assert_equal :error, caught
  end

  def test_with_cipher_is_scoped_to_the_block
    global = gcm_cipher(version: 2)
    other = cbc_cipher(version: 1)
    use(global)
    value = SymmetricEncryption.with_cipher(other) do
      assert_same other, SymmetricEncryption.cipher
      assert_equal [], SymmetricEncryption.secondary_ciphers
      SymmetricEncryption.encrypt("inside")
    end
    assert_equal 1, SymmetricEncryption.header(value).version
    assert_same global, SymmetricEncryption.cipher
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.decrypt(value) }
    assert_equal "inside", other.decrypt(value)
  end

  def test_with_cipher_secondary_ciphers_nesting_and_exceptions
    a = gcm_cipher(version: 2)
    b = cbc_cipher(version: 1)
    c = SymmetricEncryption::Cipher.new(key: "q" * 16, cipher_name: "aes-128-gcm", version: 3)
    use(a)
    from_b = b.encrypt("b")
    from_a = a.encrypt("a")
    SymmetricEncryption.with_cipher(c, secondary_ciphers: [b]) do
      assert_equal "b", SymmetricEncryption.decrypt(from_b)
      # The configured cipher still decrypts, and is found by its version, after the block's.
      assert_equal "a", SymmetricEncryption.decrypt(from_a)
      assert_same a, SymmetricEncryption.cipher(2)
      assert_equal [b], SymmetricEncryption.secondary_ciphers
      SymmetricEncryption.with_cipher(b) do
        assert_same b, SymmetricEncryption.cipher
      end
      assert_same c, SymmetricEncryption.cipher
      assert_raises(RuntimeError) { SymmetricEncryption.with_cipher(a) { raise "boom" } }
      assert_same c, SymmetricEncryption.cipher
    end
    assert_same a, SymmetricEncryption.cipher
    assert_raises(ArgumentError) { SymmetricEncryption.with_cipher(a) }
    # A version the block's cipher shares with a configured one is the block's.
    a2 = SymmetricEncryption::Cipher.new(key: "z" * 32, cipher_name: "aes-256-gcm", version: 2)
    SymmetricEncryption.with_cipher(a2) do
      assert_same a2, SymmetricEncryption.cipher(2)
      assert_equal "x", a2.decrypt(SymmetricEncryption.encrypt("x"))
      assert_raises(SymmetricEncryption::DecryptionError) { SymmetricEncryption.decrypt(from_a) }
    end
  end

  def test_with_cipher_does_not_leak_into_other_threads_or_fibers
    global = gcm_cipher(version: 2)
    scoped = cbc_cipher(version: 1)
    use(global)
    inside = Queue.new
    t = Thread.new do
      inside.pop
      SymmetricEncryption.cipher.version
    end
    SymmetricEncryption.with_cipher(scoped) do
      inside << :go
      assert_equal 2, t.value
      assert_equal 2, Fiber.new { SymmetricEncryption.cipher.version }.resume
      assert_equal 1, SymmetricEncryption.cipher.version
    end
  end

  def test_threads_share_ciphers
    gcm = gcm_cipher(version: 2)
    cbc = cbc_cipher(version: 1)
    use(gcm, cbc)
    threads = Array.new(8) do |i|
      Thread.new do
        200.times do |j|
          plain = "thread #{i} value #{j} #{'x' * (j % 50)}"
          v = SymmetricEncryption.encrypt(plain, random_iv: j.odd?)
          raise "mismatch" unless SymmetricEncryption.decrypt(v) == plain

          w = SymmetricEncryption.encrypt(plain, version: 1)
          raise "mismatch" unless SymmetricEncryption.decrypt(w) == plain
        end
        # large values go through the GVL-releasing variants
        big = "#{i}" * 100_000
        raise "mismatch" unless SymmetricEncryption.decrypt(SymmetricEncryption.encrypt(big, random_iv: true)) == big

        :ok
      end
    end
    assert_equal [:ok] * 8, threads.map(&:value)
  end

  def test_large_values_release_the_gvl_and_stay_correct
    use(gcm_cipher)
    big = Random.new(1).bytes(4 * 1024 * 1024)
    ticks = 0
    ticker = Thread.new { loop { ticks += 1; Thread.pass } }
    encrypted = SymmetricEncryption.encrypt(big)
    decrypted = SymmetricEncryption.decrypt(encrypted)
    ticker.kill
    assert_equal big, decrypted
    assert_equal Encoding::BINARY, decrypted.encoding
    assert_operator ticks, :>, 0
  end

  def test_works_after_fork
    skip "fork is not available" unless Process.respond_to?(:fork)

    use(gcm_cipher)
    parent_value = SymmetricEncryption.encrypt("from parent", random_iv: true)
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      result = [SymmetricEncryption.decrypt(parent_value),
                SymmetricEncryption.encrypt("x", random_iv: true),
                SymmetricEncryption.random_password]
      writer.write(Marshal.dump(result))
      writer.close
      exit!(0)
    end
    writer.close
    decrypted, child_value, child_password = Marshal.load(reader.read) # rubocop:disable Security/MarshalLoad
    reader.close
    Process.wait(pid)
    assert_equal "from parent", decrypted
    assert_equal "x", SymmetricEncryption.decrypt(child_value)
    # the child's random bytes are its own
    refute_equal SymmetricEncryption.encrypt("x", random_iv: true), child_value
    refute_equal SymmetricEncryption.random_password, child_password
  end
end
