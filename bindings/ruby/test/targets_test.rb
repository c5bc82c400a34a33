# frozen_string_literal: true

require_relative "test_helper"
require "stringio"

# Files the binding writes (issue 14, items 3 and 4): Reader.decrypt(target: path) goes through
# the library's atomic writing whatever the source: 0600, renamed only after the whole stream
# was authenticated, planted links replaced rather than followed, devices written in place.
class TargetsTest < SymmetricEncryptionTest
  PLAIN = Array.new(300_000) { |i| (i * 7 % 251).chr }.join.b

  def setup
    super
    skip_without_streams
    skip "libsymmetric_encryption has no se_reader_copy_to_file yet" unless
      SymmetricEncryption::Native.available?(:se_reader_copy_to_file)
    SymmetricEncryption.cipher = gcm_cipher(version: 2)
    SymmetricEncryption::Writer.open(tmp("secret.enc"), compress: false) { |f| f.write(PLAIN) }
    data = File.binread(tmp("secret.enc"))
    data.setbyte(data.bytesize - 1000, data.getbyte(data.bytesize - 1000) ^ 1)
    File.binwrite(tmp("tampered.enc"), data)
  end

  def mode(path)
    File.lstat(path).mode & 0o7777
  end

  # Each source form: a path with options (no whole-file shortcut), an IO, an IO without seek.
  def sources(name)
    [
      -> { [tmp(name), { version: 2 }] },
      -> { [File.open(tmp(name), "rb"), {}] },
      -> { [StringIO.new(File.binread(tmp(name))).tap { |io| io.singleton_class.send(:undef_method, :seek) }, {}] }
    ]
  end

  def decrypt(make, target)
    source, opts = make.call
    SymmetricEncryption::Reader.decrypt(source: source, target: target, **opts)
  ensure
    source.close if source.respond_to?(:close) && !source.is_a?(String) && !source.closed?
  end

  def test_a_tampered_stream_leaves_no_plaintext
    sources("tampered.enc").each_with_index do |make, i|
      target = tmp("out-#{i}.bin")
      assert_raises(SymmetricEncryption::AuthenticationError) { decrypt(make, target) }
      refute File.exist?(target), "source form #{i}: plaintext was left at the target"
    end
    assert_empty(Dir.children(@tmp).select { |n| n.end_with?(".tmp") })
  end

  def test_the_target_is_0600_and_a_planted_link_is_not_followed
    sources("secret.enc").each_with_index do |make, i|
      target = tmp("good-#{i}.bin")
      assert_equal PLAIN.bytesize, decrypt(make, target)
      assert_equal PLAIN, File.binread(target)
      assert_equal 0o600, mode(target)

      victim = tmp("victim-#{i}")
      File.binwrite(victim, "untouched")
      File.chmod(0o666, victim)
      planted = tmp("planted-#{i}")
      File.symlink(victim, planted)
      decrypt(make, planted)
      assert_equal "untouched", File.binread(victim)
      refute File.symlink?(planted)
      assert_equal 0o600, mode(planted)
    end
  end

  def test_devices_and_fifos_are_written_in_place
    File.symlink("/dev/null", tmp("to-null"))
    sources("secret.enc").each do |make|
      decrypt(make, tmp("to-null"))
      assert File.symlink?(tmp("to-null"))
    end
    assert File.chardev?("/dev/null")

    File.mkfifo(tmp("pipe"))
    reader = Thread.new { File.binread(tmp("pipe")) }
    decrypt(sources("secret.enc")[1], tmp("pipe"))
    assert_equal PLAIN, reader.value
    assert File.pipe?(tmp("pipe"))

    Dir.mkdir(tmp("outdir"))
    error = assert_raises(SymmetricEncryption::Error, SymmetricEncryption::InvalidArgument) do
      decrypt(sources("secret.enc")[0], tmp("outdir"))
    end
    assert_match(/is a directory/, error.message)
  end
end
