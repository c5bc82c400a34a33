# frozen_string_literal: true

require_relative "test_helper"

# configs/: every configuration set loaded with SymmetricEncryption.load! from a copy of its
# directory (key files given their recorded modes, the set's variables set, the working
# directory changed to the copy since key paths are relative), checked against the ciphers it
# resolves to and its samples.
class VectorsConfigsTest < SymmetricEncryptionTest
  INDEX = TestHelper.vector_json("configs", "index.json")
  PROBE = "probe: the same text through the loaded and the expected cipher"

  def setup
    super
    skip_without_config_loading
  end

  # Copies `dir` into the temporary directory with key files at their recorded modes, sets
  # `env_vars`, changes into the copy, and yields; restores everything after.
  def in_copy(dir, env_vars, key_files)
    copy = File.join(@tmp, "set-#{File.basename(dir)}-#{rand(1 << 30)}")
    FileUtils.cp_r(dir, copy)
    modes = (key_files || []).to_h { |k| [k.fetch("path"), k.fetch("mode", "0600").to_i(8)] }
    Dir.glob(File.join(copy, "keys", "**", "*")).select { |f| File.file?(f) }.each do |f|
      relative = f.delete_prefix(File.join(copy, "keys") + File::SEPARATOR)
      File.chmod(modes.fetch(relative, 0o600), f)
    end
    saved = env_vars.keys.to_h { |k| [k, ENV[k]] }
    env_vars.each { |k, v| ENV[k] = v }
    Dir.chdir(copy) { yield copy }
  ensure
    saved&.each { |k, v| v.nil? ? ENV.delete(k) : ENV[k] = v }
  end

  # The loaded ciphers are the expected ones: same attributes, same keys (the same
  # deterministic output as a Cipher built from the expected key and iv).
  def assert_resolves_to(label, resolved)
    loaded = [SymmetricEncryption.cipher, *SymmetricEncryption.secondary_ciphers]
    assert_equal resolved.size, loaded.size, "#{label}: cipher count"
    resolved.zip(loaded).each do |want, got|
      what = "#{label} v#{want['version']}"
      assert_equal want.fetch("version"), got.version, what
      assert_equal want.fetch("cipher_name"), got.cipher_name, what
      assert_equal want.fetch("encoding"), got.encoding.to_s, what
      assert_equal want.fetch("always_add_header"), got.always_add_header, what
      expected = cipher_from(want)
      assert_equal expected.encrypt(PROBE, random_iv: false),
                   SymmetricEncryption.encrypt(PROBE, version: got.version, random_iv: false), "#{what}: key or iv"
    end
  end

  def check_sample(label, sample)
    id = "#{label}/#{sample.fetch('sample_id')}"
    plain = plaintext_of(sample)
    encrypted = ciphertext_of(sample)
    version = sample.fetch("cipher_version")
    assert_equal plain, SymmetricEncryption.decrypt(encrypted, version: version).b, id
    return unless sample.fetch("deterministic")

    again = SymmetricEncryption.encrypt(plain, version: version, random_iv: false, compress: sample.fetch("compress"))
    assert_equal encrypted.b, again.b, id
  end

  def load_environment(name)
    SymmetricEncryption.load!("config/symmetric-encryption.yml", name)
  end

  def test_every_set_is_covered
    names = INDEX.fetch("sets").map { |s| s.fetch("dir") }
    assert_equal names.sort, Dir.children(vector_path("configs")).select { |d| File.directory?(vector_path("configs", d)) }.sort
  end

  INDEX.fetch("sets").each do |entry|
    name = entry.fetch("dir")
    define_method("test_config_set_#{name}") do
      set = vector_json("configs", name, "set.json")
      if set["steps"]
        check_steps(name, set)
      else
        in_copy(vector_path("configs", name), set.fetch("env_vars") || {}, set["key_files"]) do
          set.fetch("environments").each { |env| check_environment(name, env) }
        end
      end
    end
  end

  def check_environment(set_name, env)
    label = "#{set_name}/#{env.fetch('environment')}"
    # Every environment loads, the pre-v4 RSA ones (handwritten_legacy) included.
    assert load_environment(env.fetch("environment"))
    assert_resolves_to(label, env.fetch("resolved_ciphers"))
    (env["samples"] || []).each { |sample| check_sample(label, sample) }
  end

  # rotation_* and mixed_cipher_upgrade: a snapshot per step.
  def check_steps(set_name, set)
    samples = (set["samples"] || []).to_h { |s| [s.fetch("sample_id"), s] }
    set.fetch("steps").each do |step|
      label = "#{set_name}/#{step.fetch('step')}"
      in_copy(File.join(vector_path("configs", set_name), step.fetch("dir")), step["env_vars"] || {}, step["key_files"]) do
        step.fetch("environments").each do |env|
          check_environment(label, env)
        end
        matrix = set.dig("decrypt_matrix", step.fetch("step")) || {}
        by_env = matrix.keys.group_by { |id| samples.fetch(id).fetch("environment") }
        by_env.each do |env_name, ids|
          load_environment(env_name)
          ids.each do |id|
            sample = samples.fetch(id)
            if matrix.fetch(id) == "ok"
              check_sample("#{label}/#{env_name}", sample)
            else
              assert_raises(SymmetricEncryption::CipherError, "#{label}/#{id}") do
                SymmetricEncryption.decrypt(ciphertext_of(sample), version: sample.fetch("cipher_version"))
              end
            end
          end
        end
      end
    end
  end

  def test_load_defaults_and_errors
    dir = vector_path("configs", "memory_api")
    in_copy(dir, {}, nil) do
      # no arguments: config/symmetric-encryption.yml and the environment from the variables
      saved = %w[SYMMETRIC_ENCRYPTION_ENV RACK_ENV RAILS_ENV SYMMETRIC_ENCRYPTION_CONFIG].to_h { |k| [k, ENV[k]] }
      begin
        saved.each_key { |k| ENV.delete(k) }
        ENV["RACK_ENV"] = "production"
        assert SymmetricEncryption.load!
        production = SymmetricEncryption.cipher.cipher_name
        ENV["SYMMETRIC_ENCRYPTION_ENV"] = "development"
        assert SymmetricEncryption::Config.load!
        assert SymmetricEncryption.cipher?
        refute_nil production

        error = assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption.load!(nil, "no_such_env") }
        assert_match(/no_such_env/, error.message)
        assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption.load!("missing.yml", "production") }
      ensure
        saved.each { |k, v| v.nil? ? ENV.delete(k) : ENV[k] = v }
      end
    end
  end

  def test_key_file_permissions_are_checked
    set = vector_json("configs", "file_gcm_default", "set.json")
    in_copy(vector_path("configs", "file_gcm_default"), {}, set["key_files"]) do
      Dir.glob("keys/*").each { |f| File.chmod(0o644, f) }
      error = assert_raises(SymmetricEncryption::KeystoreError) { load_environment("production") }
      assert_match(/keys\/|permission|0644|644/, error.message)
    end
  end

  def test_load_yaml
    skip "no se_context_load_yaml" unless SymmetricEncryption::Native.available?(:se_context_load_yaml)

    yaml = File.read(vector_path("files", "config", "symmetric-encryption.yml"))
    assert SymmetricEncryption.load_yaml!(yaml, "gcm_primary")
    assert_equal 2, SymmetricEncryption.cipher.version
    assert_equal [1, 3, 46], SymmetricEncryption.secondary_ciphers.map(&:version).sort
  end

  def test_loaded_ciphers_work_as_ciphers_and_with_with_cipher
    in_copy(vector_path("files"), {}, nil) do
      SymmetricEncryption.load!("config/symmetric-encryption.yml", "gcm_primary")
      primary = SymmetricEncryption.cipher
      secondary = SymmetricEncryption.cipher(1)
      assert_equal "x", primary.decrypt(primary.encrypt("x"))
      assert_equal "y", secondary.decrypt(secondary.encrypt("y"))
      assert_equal 1, SymmetricEncryption.header(secondary.encrypt("y")).version
      assert_includes primary.inspect, '@key="[FILTERED]"' # the gem's layout, never the bytes

      other = gcm_cipher(version: 9)
      SymmetricEncryption.with_cipher(other, secondary_ciphers: [primary]) do
        assert_equal 9, SymmetricEncryption.header(SymmetricEncryption.encrypt("z")).version
        assert_equal "x", SymmetricEncryption.decrypt(primary.encrypt("x"))
      end
      # the loaded set, reassigned as it was
      SymmetricEncryption.cipher = primary
      assert_equal "w", SymmetricEncryption.decrypt(SymmetricEncryption.encrypt("w"))

      # a secondary of the loaded set as the primary
      SymmetricEncryption.cipher = secondary
      SymmetricEncryption.secondary_ciphers = []
      if SymmetricEncryption::Native.available?(:se_context_select)
        assert_equal 1, SymmetricEncryption.header(SymmetricEncryption.encrypt("v")).version
      else
        error = assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption.encrypt("v") }
        assert_match(/se_context_select/, error.message)
      end
    end
  end
end
