# frozen_string_literal: true

# The vault keystore from Ruby, against a real OpenBao dev server. scripts/suites/vault starts
# the servers and sets SE_TEST_VAULT_ADDR and SE_TEST_VAULT_ROOT_TOKEN (plus
# SE_TEST_VAULT_SEALED_ADDR and the SE_TEST_VAULT_TLS_* variables of a -dev-tls server); without
# them these tests are skipped. Keys are generated and rotated with the symmetric-encryption
# command line beside the native library, and loaded with decrypt-only tokens.

require_relative "test_helper"
require "open3"
require "socket"

class VaultTest < Minitest::Test
  OPERATOR_POLICY = <<~HCL
    path "transit/keys/symmetric-encryption.*" { capabilities = ["create", "read", "update"] }
    path "transit/datakey/wrapped/symmetric-encryption.*" { capabilities = ["update"] }
    path "transit/encrypt/symmetric-encryption.*" { capabilities = ["update"] }
    path "transit/rewrap/symmetric-encryption.*" { capabilities = ["update"] }
  HCL

  LIBRARY_VARS = %w[VAULT_ADDR BAO_ADDR VAULT_TOKEN BAO_TOKEN VAULT_NAMESPACE VAULT_CACERT
                    BAO_CACERT VAULT_SKIP_VERIFY VAULT_CLIENT_TIMEOUT VAULT_AUTH_METHOD
                    VAULT_ROLE_ID VAULT_ROLE_ID_FILE VAULT_SECRET_ID VAULT_SECRET_ID_FILE
                    VAULT_K8S_ROLE].freeze

  VALUES = ["", "hello world", "ünïcödé ✓"].freeze

  def setup
    skip "SE_TEST_VAULT_ADDR is not set: run scripts/suites/vault" if ENV["SE_TEST_VAULT_ADDR"].to_s.empty?
    @saved = (LIBRARY_VARS + ["HOME"]).to_h { |v| [v, ENV[v]] }
    LIBRARY_VARS.each { |v| ENV.delete(v) }
    @dir = Dir.mktmpdir("se-vault")
    ENV["HOME"] = @dir
  end

  def teardown
    return unless @saved

    @saved.each { |k, v| v.nil? ? ENV.delete(k) : ENV[k] = v }
    FileUtils.rm_rf(@dir)
  end

  def use(prefix = "SE_TEST_VAULT")
    skip "#{prefix}_ADDR is not set" if ENV["#{prefix}_ADDR"].to_s.empty?
    @addr = ENV.fetch("#{prefix}_ADDR")
    @root = ENV.fetch("#{prefix}_ROOT_TOKEN")
    @cacert = ENV["#{prefix}_CACERT"]
    ENV["VAULT_ADDR"] = @addr
    ENV["VAULT_CACERT"] = @cacert if @cacert
  end

  def bao(*args)
    env = { "VAULT_ADDR" => @addr, "VAULT_TOKEN" => @root, "HOME" => @dir }
    env["VAULT_CACERT"] = @cacert if @cacert
    out, err, status = Open3.capture3(env, "bao", *args)
    assert status.success?, err
    out.strip
  end

  def token(name, policy)
    file = File.join(@dir, "#{name}.hcl")
    File.write(file, policy)
    bao("policy", "write", name, file)
    bao("token", "create", "-policy", name, "-ttl", "10m", "-field", "token")
  end

  def runtime(key)
    token("se-rb-runtime-#{key}", %(path "transit/decrypt/#{key}" { capabilities = ["update"] }\n))
  end

  def cli_binary
    dirs = [ENV["SYMMETRIC_ENCRYPTION_LIB"] && File.dirname(ENV["SYMMETRIC_ENCRYPTION_LIB"]), ENV["SE_LIB_DIR"]]
    root = File.expand_path("../../..", __dir__)
    dirs += [File.join(root, "target/release"), File.join(root, "target/debug")]
    found = dirs.compact.map { |d| File.join(d, "symmetric-encryption") }.find { |f| File.file?(f) }
    flunk "no symmetric-encryption binary beside the library" unless found
    found
  end

  def cli(*args)
    out, err, status = Open3.capture3(cli_binary, *args, "--config", @config)
    assert status.success?, err
    out
  end

  # --generate --keystore vault as the operator; returns the transit key name.
  def generate(name)
    ENV["VAULT_TOKEN"] = token("se-rb-operator", OPERATOR_POLICY)
    @app = "rb_#{name}_#{Process.pid}_#{rand(10**9)}"
    @config = File.join(@dir, "symmetric-encryption.yml")
    out = cli("--generate", "--keystore", "vault", "--app-name", @app, "--environments", "production",
              "--key-path", File.join(@dir, "keys"))
    key = "symmetric-encryption.#{@app}.production"
    assert_includes out, "Vault transit key created: transit/keys/#{key}"
    key
  end

  def load!
    SymmetricEncryption.load!(@config, "production")
  end

  def key_file(version)
    File.join(@dir, "keys", "#{@app}_production_v#{version}.vault_key")
  end

  def round_trip
    VALUES.map do |v|
      e = SymmetricEncryption.encrypt(v)
      assert_equal v, SymmetricEncryption.decrypt(e)
      e
    end
  end

  def test_generate_load_and_a_denied_token
    use
    key = generate("gen")
    assert File.read(key_file(1)).start_with?("vault:v1:")
    error = assert_raises(SymmetricEncryption::KeystoreError) { load! }
    assert_includes error.message, "denied"

    ENV["VAULT_TOKEN"] = runtime(key)
    load!
    encrypted = round_trip
    load!
    assert_equal VALUES, encrypted.map { |e| SymmetricEncryption.decrypt(e) }
  end

  def test_rotate_keys_then_rotate_kek_with_rewrap
    use
    key = generate("rot")
    rt = runtime(key)
    ENV["VAULT_TOKEN"] = rt
    load!
    v1 = round_trip

    ENV["VAULT_TOKEN"] = token("se-rb-operator", OPERATOR_POLICY)
    assert_includes cli("--rotate-keys", "--keystore", "vault"), "Rotated: production"
    ENV["VAULT_TOKEN"] = rt
    load!
    assert_equal 2, SymmetricEncryption.cipher.version
    v2 = round_trip
    assert_equal VALUES, v1.map { |e| SymmetricEncryption.decrypt(e) }

    old_v1 = File.binread(key_file(1))
    ENV["VAULT_TOKEN"] = token("se-rb-operator", OPERATOR_POLICY)
    assert_includes cli("--rotate-kek"), "rotated to version 2"
    bao("write", "transit/keys/#{key}/config", "min_decryption_version=2")
    ENV["VAULT_TOKEN"] = rt
    load!
    assert_equal VALUES + VALUES, (v1 + v2).map { |e| SymmetricEncryption.decrypt(e) }

    File.binwrite(key_file(1), old_v1)
    error = assert_raises(SymmetricEncryption::KeystoreError) { load! }
    assert_includes error.message, "min_decryption_version"
  end

  def test_unreachable_and_sealed_servers
    use
    key = generate("down")
    ENV["VAULT_TOKEN"] = runtime(key)
    server = TCPServer.new("127.0.0.1", 0)
    port = server.addr[1]
    server.close
    ENV["VAULT_ADDR"] = "http://127.0.0.1:#{port}"
    error = assert_raises(SymmetricEncryption::KeystoreError) { load! }
    assert_includes error.message, "cannot reach Vault at http://127.0.0.1:#{port}"

    sealed = ENV["SE_TEST_VAULT_SEALED_ADDR"]
    return if sealed.to_s.empty?

    ENV["VAULT_ADDR"] = sealed
    error = assert_raises(SymmetricEncryption::KeystoreError) { load! }
    assert_includes error.message, "is sealed"
  end

  def test_tls_with_vault_cacert
    use("SE_TEST_VAULT_TLS")
    key = generate("tls")
    ENV["VAULT_TOKEN"] = runtime(key)
    load!
    round_trip
    ENV.delete("VAULT_CACERT")
    error = assert_raises(SymmetricEncryption::KeystoreError) { load! }
    assert_includes error.message, "VAULT_CACERT"
  end
end
