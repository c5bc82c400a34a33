# frozen_string_literal: true

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))

require "minitest/autorun"
require "json"
require "base64"
require "digest"
require "fileutils"
require "tmpdir"
require "symmetric_encryption"

module TestHelper
  VECTORS = File.expand_path("../../../tests/vectors", __dir__)

  module_function

  def vector_path(*parts)
    File.join(VECTORS, *parts)
  end

  def vector_json(*parts)
    JSON.parse(File.read(vector_path(*parts)))
  end

  def b64(value)
    value && Base64.strict_decode64(value)
  end

  # A Cipher from a vectors' cipher description (version, cipher_name, key_b64, iv_b64, ...).
  def cipher_from(desc, **overrides)
    SymmetricEncryption::Cipher.new(
      key: b64(desc.fetch("key_b64")),
      iv: b64(desc["iv_b64"]),
      cipher_name: desc.fetch("cipher_name"),
      version: desc.fetch("version", 0),
      encoding: (desc["encoding"] || "base64strict").to_sym,
      always_add_header: desc.fetch("always_add_header", true),
      **overrides
    )
  end

  # The plaintext of a vector case (inline or in a file), binary.
  def plaintext_of(item, root = VECTORS)
    if item["plaintext_file"]
      File.binread(File.join(root, item["plaintext_file"]))
    else
      b64(item.fetch("plaintext_b64"))
    end
  end

  # The ciphertext of a vector case as the gem returned it.
  def ciphertext_of(item, root = VECTORS)
    if item["ciphertext_file"]
      data = File.binread(File.join(root, item["ciphertext_file"]))
      item["ciphertext_wrapped"] == "raw" ? data : data.force_encoding(Encoding::UTF_8)
    elsif item["ciphertext_wrapped"] == "base64"
      b64(item.fetch("ciphertext"))
    else
      item.fetch("ciphertext")
    end
  end

  # Global state back to "nothing loaded".
  def reset_symmetric_encryption
    SymmetricEncryption.cipher = nil
    SymmetricEncryption.secondary_ciphers = []
    SymmetricEncryption.randomize_iv = false
    SymmetricEncryption.select_cipher
  end

  def streams?
    SymmetricEncryption::Native.available?(:se_reader_open_path)
  end

  def config_loading?
    SymmetricEncryption::Native.available?(:se_context_load)
  end

  # The ciphers of files/manifest.json as the global ciphers (without load!), the one with
  # `primary_version` first.
  def use_manifest_ciphers(primary_version)
    ciphers = vector_json("files", "manifest.json").fetch("ciphers").map { |c| cipher_from(c) }
    primary = ciphers.find { |c| c.version == primary_version }
    SymmetricEncryption.cipher = primary
    SymmetricEncryption.secondary_ciphers = ciphers - [primary]
  end
end

# Every test starts with nothing loaded and a fresh temporary directory.
class SymmetricEncryptionTest < Minitest::Test
  include TestHelper

  def setup
    reset_symmetric_encryption
    @tmp = Dir.mktmpdir("se-ruby-test")
  end

  def teardown
    reset_symmetric_encryption
    FileUtils.rm_rf(@tmp) if @tmp
  end

  def tmp(name)
    File.join(@tmp, name)
  end

  def gcm_cipher(version: 2, **opts)
    SymmetricEncryption::Cipher.new(key: "k" * 32, cipher_name: "aes-256-gcm", version: version, **opts)
  end

  def cbc_cipher(version: 1, **opts)
    SymmetricEncryption::Cipher.new(key: "c" * 32, iv: "i" * 16, cipher_name: "aes-256-cbc", version: version, **opts)
  end

  def skip_without_streams
    skip "libsymmetric_encryption has no stream functions yet (se_reader_open_path)" unless streams?
  end

  def skip_without_config_loading
    skip "libsymmetric_encryption has no se_context_load yet" unless config_loading?
  end
end
