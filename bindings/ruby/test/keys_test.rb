# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "yaml"

# Key management from Ruby: the gem's Keystore, Keystore::*, CLI.run!, Utils::ReEncryptFiles and
# Generator, over the C ABI. The full rotation runs for the file, environment, heroku and memory
# keystores (aws too when SE_TEST_KMS_ENDPOINT is set), and every value written at each step
# must still decrypt in Ruby, in Python and through the Rust command line.
class KeysTest < SymmetricEncryptionTest
  ROOT = File.expand_path("../../..", __dir__)
  PYTHON_SRC = File.join(ROOT, "bindings", "python", "src")
  STORES = %w[file environment heroku memory].freeze

  def setup
    super
    skip "libsymmetric_encryption has no key management yet" unless SymmetricEncryption::Native.available?(:se_config_generate)
    @cwd = Dir.pwd
    Dir.chdir(@tmp)
    @set_vars = []
  end

  def teardown
    Dir.chdir(@cwd) if @cwd
    @set_vars&.each { |v| ENV.delete(v) }
    super
  end

  def cli(*args)
    out, err = capture_io { SymmetricEncryption::CLI.run!(args) }
    [out, err]
  end

  # Sets the variables the CLI printed (export / heroku config:add lines).
  def set_printed_variables(text)
    text.scan(/export ([A-Z0-9_]+)="([^"]*)"/).each { |n, v| set_var(n, v) }
    text.scan(/heroku config:add ([A-Z0-9_]+)=(\S+)/).each { |n, v| set_var(n, v) }
  end

  def set_var(name, value)
    ENV[name] = value
    @set_vars << name
  end

  def python?
    @python = system("python3", "-c", "import ctypes", out: File::NULL, err: File::NULL) if @python.nil?
    @python
  end

  def versions(path, env = "production")
    YAML.safe_load(File.read(path), permitted_classes: [Symbol])[env]["ciphers"].map { |c| c["version"] }
  end

  # Every value decrypts in Ruby, in Python and with the command line.
  def check_everywhere(path, values, step)
    SymmetricEncryption.load!(path, "production")
    values.each { |token, plain| assert_equal plain, SymmetricEncryption.decrypt(token), "#{step}: Ruby" }
    text = File.read("data/values.yml")[/secret: (\S+)/, 1]
    assert_equal "in a text file", SymmetricEncryption.decrypt(text), "#{step}: the text file"
    assert_equal "a whole encrypted file\n", SymmetricEncryption::Reader.read("data/blob.enc"), "#{step}: file"
    values.each do |token, plain|
      out, = cli("-c", path, "-E", "production", "--info", token)
      assert_includes out, "decrypts", "#{step}: command line --info"
    end
    return unless python?

    File.write("values.json", JSON.generate(values))
    script = "import json,sys; import symmetric_encryption as se; " \
             "c=se.Context.load(sys.argv[1], env='production'); " \
             "assert all(c.decrypt(t)==p for t,p in json.load(open(sys.argv[2])).items()); print('ok')"
    env = { "PYTHONPATH" => PYTHON_SRC }
    out, err, status = Open3.capture3(env, "python3", "-c", script, path, "values.json")
    assert status.success? && out.strip == "ok", "#{step}: Python: #{err}"
  end

  def run_rotation(store)
    path = "config/symmetric-encryption.yml"
    extra = store == "aws" ? ["--regions", "us-east-1"] : []
    if store == "memory"
      # The command line has no memory keystore (as the gem's): the gem's API makes the file.
      config = SymmetricEncryption::Keystore.generate_data_keys(
        keystore: :memory, app_name: "rbapp", environments: %i[development production], cipher_name: "aes-256-gcm"
      )
      FileUtils.mkdir_p("config")
      File.write(path, SymmetricEncryption::KeyManagement.dump_yaml(config))
      out = "New configuration file created at: #{path}"
    else
      out, = cli("--generate", "--keystore", store, "--app-name", "rbapp", "--environments",
                 "development,production", "--key-path", File.join(@tmp, "keys"), "--config", path, *extra)
    end
    assert_includes out, "New configuration file created at: #{path}"
    assert_includes out, 'export RBAPP_PRODUCTION_V1="' if store == "environment"
    assert_includes out, "heroku config:add RBAPP_PRODUCTION_V1=" if store == "heroku"
    set_printed_variables(out)

    FileUtils.mkdir_p("data")
    SymmetricEncryption.load!(path, "production")
    File.write("blob.txt", "a whole encrypted file\n")
    SymmetricEncryption::Writer.encrypt(source: "blob.txt", target: "data/blob.enc")
    File.write("data/values.yml", "# values\nsecret: #{SymmetricEncryption.encrypt('in a text file')}\nplain: 1\n")
    values = { SymmetricEncryption.encrypt("generate") => "generate" }
    check_everywhere(path, values, "generate")

    # Rotation through the gem's API: the config hash, rotated and written back by the caller.
    config = SymmetricEncryption::KeyManagement.load_yaml(File.read(path))
    rotated, = capture_io do
      SymmetricEncryption::Keystore.rotate_keys!(config, app_name: "rbapp", rolling_deploy: true)
    end
    assert_equal [1, 2], config[:production][:ciphers].map { |c| c[:version] }
    assert_equal [1], config[:development][:ciphers].map { |c| c[:version] }
    set_printed_variables(rotated)
    File.write(path, SymmetricEncryption::KeyManagement.dump_yaml(config))
    SymmetricEncryption.load!(path, "production")
    assert_equal 1, SymmetricEncryption.cipher.version
    values[SymmetricEncryption.encrypt("rotate")] = "rotate"
    check_everywhere(path, values, "rotate")

    cli("--activate-key", "--config", path)
    assert_equal [2, 1], versions(path)
    SymmetricEncryption.load!(path, "production")
    values[SymmetricEncryption.encrypt("activate")] = "activate"
    check_everywhere(path, values, "activate")

    out, = cli("--rotate-kek", "--config", path)
    assert_includes out, 'export RBAPP_PRODUCTION_V2="' if store == "environment"
    set_printed_variables(out)
    SymmetricEncryption.load!(path, "production")
    values[SymmetricEncryption.encrypt("rotate-kek")] = "rotate-kek"
    check_everywhere(path, values, "rotate-kek")

    out, = capture_io { SymmetricEncryption::Utils::ReEncryptFiles.new.process_directory("data/**/*") }
    assert_includes out, "Re-encrypting entire file: data/blob.enc (version 1 -> 2)"
    assert_includes out, "Re-encrypted 1 encrypted value(s) in: data/values.yml"
    check_everywhere(path, values, "re-encrypt")

    cli("--cleanup-keys", "--force", "--config", path)
    assert_equal [2], versions(path)
    SymmetricEncryption.load!(path, "production")
    values.select! { |token, _| SymmetricEncryption.header(token).version == 2 }
    assert_equal 2, values.size
    check_everywhere(path, values, "cleanup")
  end

  STORES.each do |store|
    define_method(:"test_rotation_#{store}") { run_rotation(store) }
  end

  def test_rotation_aws
    endpoint = ENV.fetch("SE_TEST_KMS_ENDPOINT", nil)
    skip "SE_TEST_KMS_ENDPOINT is not set: no local KMS" if endpoint.nil? || endpoint.empty?

    { "AWS_ENDPOINT_URL" => endpoint, "AWS_ACCESS_KEY_ID" => "test", "AWS_SECRET_ACCESS_KEY" => "test",
      "AWS_EC2_METADATA_DISABLED" => "true", "AWS_REGION" => "us-east-1" }.each { |k, v| set_var(k, v) }
    run_rotation("aws")
  end

  def test_generate_data_keys_and_keystore_classes
    config = nil
    out, = capture_io do
      config = SymmetricEncryption::Keystore.generate_data_keys(
        keystore: :environment, app_name: "rbapp", environments: %i[development production], cipher_name: "aes-256-gcm"
      )
    end
    assert_equal SymmetricEncryption::Keystore.dev_config, config[:development]
    entry = config[:production][:ciphers].first
    assert_equal :environment, entry[:keystore]
    assert_equal "RBAPP_PRODUCTION_V1", entry[:key_env_var]
    assert_equal 1, entry[:version]
    assert_match(/\A\n\n\*{80}\nSet the environment variable as follows:\n  export RBAPP_PRODUCTION_V1="[^"]+"\n\*{80}\n\z/, out)
    set_printed_variables(out)
    key = SymmetricEncryption::Keystore.read_key(**entry)
    assert_equal 32, key.key.bytesize

    mem = SymmetricEncryption::Keystore::Memory.generate_data_key(cipher_name: "aes-128-cbc", app_name: "a",
                                                                   environment: "test", version: 255)
    assert_equal 1, mem[:version]
    assert_equal :memory, mem[:keystore]
    assert_equal 16, SymmetricEncryption::Keystore.read_key(**mem).key.bytesize

    file = SymmetricEncryption::Keystore::File.generate_data_key(
      key_path: File.join(@tmp, "k"), cipher_name: "aes-256-cbc", app_name: "a", environment: "prod", version: 3,
      permissions: "0400"
    )
    assert_equal 4, file[:version]
    assert_equal File.join(@tmp, "k", "a_prod_v4.encrypted_key"), file[:key_filename]
    assert_equal 0o400, File.stat(file[:key_filename]).mode & 0o777
    assert_equal "0400", file[:permissions]
    assert_equal 32, SymmetricEncryption::Keystore.read_key(**file).key.bytesize
    assert_equal({ key_path: File.join(@tmp, "k") }, SymmetricEncryption::Keystore::File.rotate_args(file))

    assert_raises(ArgumentError) { SymmetricEncryption::Keystore.constantize_symbol(:vault9) }
    assert_equal SymmetricEncryption::Keystore::Heroku, SymmetricEncryption::Keystore.keystore_for(keystore: :heroku)
  end

  def test_heroku_prints_as_the_gem_does
    out, = capture_io do
      SymmetricEncryption::Keystore::Heroku.generate_data_key(cipher_name: "aes-256-gcm", app_name: "my_app",
                                                              environment: "production")
    end
    expected = File.read(File.join(ROOT, "tests/vectors/configs/heroku_gcm/cli_output.txt"))
    mask = ->(s) { s.sub(/(heroku config:add [A-Z0-9_]+=)\S+/, '\1...') }
    assert mask.call(expected).start_with?(mask.call(out)), out
  end

  # As the gem's CLI: a failed command exits (SystemExit), usage errors with status 2; the
  # message goes to $stderr.
  def test_cli_errors
    error = nil
    _, err = capture_io { error = assert_raises(SystemExit) { SymmetricEncryption::CLI.run!(%w[--no-such-flag]) } }
    assert_equal 2, error.status
    assert_includes err, "--no-such-flag"
    _, err = capture_io do
      error = assert_raises(SystemExit) { SymmetricEncryption::CLI.run!(%w[--activate-key --config missing.yml]) }
    end
    assert_equal 1, error.status
    assert_includes err, "missing.yml"
    _, err = capture_io { assert_raises(SystemExit) { SymmetricEncryption::CLI.run!(%w[--generate --keystore bad]) } }
    assert_includes err, "Invalid keystore option: bad"
    assert_raises(ArgumentError) { SymmetricEncryption::CLI.new(%w[--cleanup-keys --rotate-keys]).run! }
  end

  # The gem's attributes, read by CLI.new; --help and --ciphers print and exit.
  def test_cli_attributes
    cli = SymmetricEncryption::CLI.new(%w[--rotate-keys --rolling-deploy -E preprod --environments a,b -V 3
                                          --key-permissions 0644,0600 --info x.enc --cipher-name aes-128-cbc])
    assert cli.rotate_keys
    assert cli.rolling_deploy
    assert_equal "preprod", cli.environment
    assert_equal %i[a b], cli.send(:environments)
    assert_equal 3, cli.version
    assert_equal %w[0644 0600], cli.key_permissions
    assert_equal "aes-128-cbc", cli.cipher_name
    assert_equal :file, cli.keystore
    assert_equal $stdin, SymmetricEncryption::CLI.new(%w[--encrypt]).encrypt
    assert_equal "**/*.{yml,rb}", SymmetricEncryption::CLI.new(%w[-r]).re_encrypt
    out, = capture_io { assert_raises(SystemExit) { SymmetricEncryption::CLI.new(%w[--help]) } }
    assert_includes out, "symmetric-encryption [options]"
    assert_includes out, "--rotate-keys"
    out, = capture_io { assert_raises(SystemExit) { SymmetricEncryption::CLI.new(%w[--ciphers]) } }
    assert_includes out, "Available Ciphers:"
    out, = capture_io { assert_raises(SystemExit) { SymmetricEncryption::CLI.new([]) } }
    assert_includes out, "--generate"
    out, = capture_io { SymmetricEncryption::CLI.new(%w[--compress]).run! }
    assert_includes out, "symmetric-encryption [options]"
    out, = capture_io { SymmetricEncryption::CLI.run!(%w[--version]) }
    assert_includes out, "Symmetric Encryption v#{SymmetricEncryption::VERSION}"
  end

  def test_generator_accessors
    SymmetricEncryption.cipher = cbc_cipher
    model = Class.new do
      attr_accessor :encrypted_ssn

      def encrypted_ssn_changed?
        true
      end
    end
    SymmetricEncryption::Generator.generate_decrypted_accessors(model, :ssn, :encrypted_ssn, {})
    record = model.new
    record.ssn = "123456789"
    refute_equal "123456789", record.encrypted_ssn
    assert_equal "123456789", SymmetricEncryption.decrypt(record.encrypted_ssn)
    record.encrypted_ssn = SymmetricEncryption.encrypt("987654321")
    assert_equal "987654321", record.ssn
    assert record.ssn.frozen?
    assert record.ssn_changed?
    assert_raises(ArgumentError) do
      SymmetricEncryption::Generator.generate_decrypted_accessors(model, :age, :encrypted_age, { bogus: 1 })
    end
  end

  def test_re_encrypt_contents
    SymmetricEncryption.cipher = gcm_cipher(version: 2)
    SymmetricEncryption.secondary_ciphers = [cbc_cipher(version: 1)]
    old = SymmetricEncryption.cipher(1).encrypt("pw")
    File.write("a.yml", "password: #{old}\nother: 1\n")
    re = SymmetricEncryption::Utils::ReEncryptFiles.new
    assert_equal 1, re.re_encrypt_contents("a.yml")
    value = File.read("a.yml")[/password: (\S+)/, 1]
    assert_equal 2, SymmetricEncryption.header(value).version
    assert_equal "pw", SymmetricEncryption.decrypt(value)
    assert_equal 0, re.re_encrypt_contents("a.yml")
  end
end
