# frozen_string_literal: true

require_relative "test_helper"
require "minitest/mock"
require "etc"

# SymmetricEncryption.encrypt_many / decrypt_many (and Cipher's): the gem's values in one call,
# a result per value, failures alone, several threads, the GVL released.
class BatchTest < SymmetricEncryptionTest
  STRINGS = TestHelper.vector_json("strings.json")

  def setup
    super
    return if SymmetricEncryption::Native.available?(:se_decrypt_batch)

    skip "libsymmetric_encryption has no se_decrypt_batch yet"
  end

  # What decrypt gives one value: its plaintext or its exception.
  def single(value)
    SymmetricEncryption.decrypt(value)
  rescue SymmetricEncryption::Error => e
    e
  end

  # The value with one character of its encoded payload changed.
  def damaged(value)
    return "@" if value.empty?

    bytes = value.b
    i = bytes.bytesize * 2 / 3
    bytes.setbyte(i, bytes.getbyte(i) == 65 ? 66 : 65)
    bytes.force_encoding(value.encoding)
  end

  def assert_same_failure(want, got, index)
    assert_instance_of want.class, got, "value #{index}: #{got.inspect}"
    assert_equal "value #{index}: #{want.message}", got.message
  end

  def test_every_gem_value_in_batches_with_failures_alone
    groups = STRINGS.fetch("cases").group_by do |c|
      c.values_at("key_id", "version", "encoding", "always_add_header")
    end
    checked = 0
    groups.each_value do |cases|
      desc = STRINGS.fetch("keys").fetch(cases.first.fetch("key_id")).merge(
        "version" => cases.first.fetch("version"), "encoding" => cases.first.fetch("encoding"),
        "always_add_header" => cases.first.fetch("always_add_header")
      )
      SymmetricEncryption.cipher = cipher_from(desc)
      values = []
      want = []
      cases.each do |c|
        good = ciphertext_of(c)
        bad = damaged(good)
        values.push(good, bad, nil)
        want.push(plaintext_of(c), single(bad), nil)
      end
      got = SymmetricEncryption.decrypt_many(values, on_error: :return)
      assert_equal values.size, got.size
      got.zip(want).each_with_index do |(g, w), i|
        if w.is_a?(Exception)
          assert_same_failure(w, g, i)
        elsif w.nil?
          assert_nil g, i
        else
          assert_equal w.b, g.b, "value #{i} (#{cases[i / 3].fetch('id')})"
          assert_equal single(values[i]).encoding, g.encoding, i unless g.empty?
        end
      end
      checked += cases.size
    end
    assert_equal 364, checked
  end

  # A copy of configs/`name` with its key files at 0600, as the current directory.
  def in_config_copy(name)
    copy = tmp(name)
    FileUtils.cp_r(vector_path("configs", name), copy)
    Dir.glob(File.join(copy, "keys", "*")).each { |f| File.chmod(0o600, f) }
    Dir.chdir(copy) { yield }
  end

  def test_a_gem_configuration_decrypts_a_column_on_several_threads
    skip_without_config_loading
    set = vector_json("configs", "file_gcm_default", "set.json")
    in_config_copy("file_gcm_default") do
      set.fetch("environments").each do |env|
        SymmetricEncryption.load!("config/symmetric-encryption.yml", env.fetch("environment"))
        samples = env.fetch("samples").map { |s| [ciphertext_of(s), s.fetch("plaintext_utf8")] }
        # 20,000 values: several threads. Every 11th damaged.
        column = Array.new(20_000) { |i| samples[i % samples.size] }
        values = column.each_with_index.map { |(c, _), i| (i % 11).zero? ? damaged(c) : c }
        got = SymmetricEncryption.decrypt_many(values, on_error: :return, threads: 2)
        first_failure = nil
        column.each_with_index do |(_, plain), i|
          if (i % 11).zero?
            # A damaged CBC value may still decrypt (to garbage): then it must be what decrypt gives.
            want = single(values[i])
            want.is_a?(Exception) ? assert_same_failure(want, got[i], i) : assert_equal(want, got[i])
            first_failure ||= i if want.is_a?(Exception)
          else
            assert_equal plain, got[i], "#{env['environment']} value #{i}"
            assert_equal Encoding::UTF_8, got[i].encoding
          end
        end
        nils = SymmetricEncryption.decrypt_many(values, on_error: :nil)
        assert_equal got.map { |g| g.is_a?(Exception) ? nil : g }, nils
        refute_nil first_failure
        error = assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.decrypt_many(values) }
        assert_match(/\Avalue #{first_failure}: /, error.message)
      end
    end
  end

  def test_deterministic_iv_is_encrypt_per_value
    SymmetricEncryption.cipher = gcm_cipher(version: 4)
    values = Array.new(10_000) { |i| "row #{i} ünïcode" }
    expected = values.map { |v| SymmetricEncryption.encrypt(v, random_iv: false) }
    assert_equal expected, SymmetricEncryption.encrypt_many(values, random_iv: false)
    assert(SymmetricEncryption.encrypt_many(values.first(3), random_iv: false).all? { |e| e.encoding == Encoding::UTF_8 })
    compressed = SymmetricEncryption.encrypt_many(values.first(5), random_iv: false, compress: true)
    assert_equal(values.first(5).map { |v| SymmetricEncryption.encrypt(v, random_iv: false, compress: true) }, compressed)

    cbc = cbc_cipher
    SymmetricEncryption.cipher = cbc
    headerless = values.first(50).map { |v| cbc.encrypt(v, random_iv: false, header: false) }
    assert_equal headerless, SymmetricEncryption.encrypt_many(values.first(50), random_iv: false, header: false)
    assert_equal headerless, cbc.encrypt_many(values.first(50), random_iv: false, header: false)
  end

  def test_random_iv_values_all_differ_and_decrypt_back
    SymmetricEncryption.cipher = gcm_cipher
    values = Array.new(10_000) { |i| "row #{i} ünïcode" }
    random = SymmetricEncryption.encrypt_many(values.each, random_iv: true, compress: true, threads: 1)
    assert_equal values.size, random.uniq.size
    assert_equal values, SymmetricEncryption.decrypt_many(random)
    assert_equal values.first(3), gcm_cipher.decrypt_many(random.first(3))
    assert_equal values.first(3), random.first(3).map { |r| SymmetricEncryption.decrypt(r) }

    # A column as a database gives it: nil, "", binary and text side by side.
    mixed = ["a", nil, "", "\xff\xfe".b, "é", "b".encode("UTF-16LE")]
    enc = SymmetricEncryption.encrypt_many(mixed)
    assert_nil enc[1]
    assert_equal "", enc[2]
    back = SymmetricEncryption.decrypt_many(enc)
    assert_equal(["a", nil, "", "\xff\xfe", "é", "b".encode("UTF-16LE")].map { |v| v&.b }, back.map { |b| b&.b })
    assert_equal Encoding::BINARY, back[3].encoding
    assert_equal Encoding::UTF_8, back[4].encoding
    assert_equal [], SymmetricEncryption.decrypt_many([])
  end

  def test_versions_types_and_encodings
    SymmetricEncryption.cipher = gcm_cipher(version: 2)
    SymmetricEncryption.secondary_ciphers = [cbc_cipher(version: 1)]
    old = SymmetricEncryption.encrypt_many(%w[x y], version: 1)
    assert_equal [1, 1], old.map { |e| SymmetricEncryption.header(e).version }
    assert_equal %w[x y], SymmetricEncryption.decrypt_many(old)
    error = assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.encrypt_many(["x"], version: 9) }
    assert_match(/version/, error.message)

    numbers = SymmetricEncryption.encrypt_many([1, nil, 3], type: :integer)
    assert_equal [1, nil, 3], SymmetricEncryption.decrypt_many(numbers, type: :integer)
    got = SymmetricEncryption.decrypt_many([numbers[0], SymmetricEncryption.encrypt("abc")], type: :integer,
                                                                                              on_error: :return)
    assert_equal 1, got[0]
    assert_instance_of SymmetricEncryption::CoercionError, got[1]
    assert_match(/\Avalue 1: /, got[1].message)

    SymmetricEncryption.cipher = gcm_cipher(encoding: :none)
    raw = SymmetricEncryption.encrypt_many(["z"])
    assert_equal Encoding::BINARY, raw[0].encoding
    assert_equal ["z"], SymmetricEncryption.decrypt_many(raw)
  end

  def test_select_cipher_decides_per_value
    headerless = cbc_cipher(version: 7).encrypt("plain", header: false, random_iv: false)
    SymmetricEncryption.cipher = gcm_cipher
    SymmetricEncryption.select_cipher { |_encoded, _decoded| cbc_cipher(version: 7) }
    assert_equal ["plain", nil], SymmetricEncryption.decrypt_many([headerless, nil])
  end

  def test_bad_arguments_say_what_is_wrong
    SymmetricEncryption.cipher = gcm_cipher
    error = assert_raises(ArgumentError) { SymmetricEncryption.decrypt_many(["x"], on_error: :ignore) }
    assert_match(/on_error/, error.message)
    [0, -1, 1.5, "2"].each do |bad|
      error = assert_raises(ArgumentError) { SymmetricEncryption.decrypt_many(["x"], threads: bad) }
      assert_match(/threads/, error.message)
    end
    error = assert_raises(TypeError) { SymmetricEncryption.encrypt_many(["x", 5]) }
    assert_equal "value 1: expected a String or nil, got Integer", error.message
    error = assert_raises(TypeError) { SymmetricEncryption.decrypt_many("abc") }
    assert_match(/single String/, error.message)
    assert_raises(TypeError) { SymmetricEncryption.decrypt_many(5) }
    reset_symmetric_encryption
    assert_raises(SymmetricEncryption::ConfigError) { SymmetricEncryption.decrypt_many(["x"]) }
  end

  def test_bad_thread_variable_is_the_libraries_error
    SymmetricEncryption.cipher = gcm_cipher
    saved = ENV.fetch("SYMMETRIC_ENCRYPTION_THREADS", nil)
    ENV["SYMMETRIC_ENCRYPTION_THREADS"] = "-2"
    error = assert_raises(SymmetricEncryption::InvalidArgument) { SymmetricEncryption.encrypt_many(["x"]) }
    assert_match(/SYMMETRIC_ENCRYPTION_THREADS/, error.message)
    assert_equal 1, SymmetricEncryption.encrypt_many(["x"], threads: 2).size
  ensure
    saved.nil? ? ENV.delete("SYMMETRIC_ENCRYPTION_THREADS") : ENV["SYMMETRIC_ENCRYPTION_THREADS"] = saved
  end

  # The pipeline counts threads as the library does (se_batch_thread_limit): the argument,
  # else the variable, else the CPUs this process may use (affinity, cgroup quota).
  def test_the_thread_limit_is_the_librarys
    pipeline = SymmetricEncryption::Batch::Pipeline
    saved = ENV.fetch("SYMMETRIC_ENCRYPTION_THREADS", nil)
    ENV.delete("SYMMETRIC_ENCRYPTION_THREADS")
    assert_includes 1..Etc.nprocessors, pipeline.limit(0)
    assert_equal 5, pipeline.limit(5)
    ENV["SYMMETRIC_ENCRYPTION_THREADS"] = " 3 "
    assert_equal 3, pipeline.limit(0)
    assert_equal 2, pipeline.limit(2)
    ENV["SYMMETRIC_ENCRYPTION_THREADS"] = "many"
    error = assert_raises(SymmetricEncryption::InvalidArgument) { pipeline.limit(0) }
    assert_match(/positive number of threads/, error.message)
  ensure
    saved.nil? ? ENV.delete("SYMMETRIC_ENCRYPTION_THREADS") : ENV["SYMMETRIC_ENCRYPTION_THREADS"] = saved
  end

  # Counts the pieces Batch::Pipeline starts during the block.
  def pieces_started
    pipeline = SymmetricEncryption::Batch::Pipeline
    original = pipeline.method(:start)
    started = 0
    pipeline.stub(:start, ->(*args) { started += 1; original.call(*args) }) { yield }
    started
  end

  # Counts the batches freed during the block (se_batch_free, which still frees them).
  def batches_freed
    native = SymmetricEncryption::Native
    free = native.method(:se_batch_free)
    freed = 0
    native.stub(:se_batch_free, ->(b) { freed += 1; free.call(b) }) { yield }
    freed
  end

  # `pieces` pieces of values, encrypted with a GCM cipher, which is then the cipher.
  def values_in_pieces(pieces)
    SymmetricEncryption.cipher = gcm_cipher
    SymmetricEncryption.encrypt_many(Array.new(pieces * SymmetricEncryption::Batch::Pipeline::PIECE) { |i| "v#{i}" })
  end

  # A batch of several pieces gives what one value at a time gives: results in order, and each
  # failure in its place with its index in the whole batch, whichever piece it is in, and
  # whatever path that piece takes (joined, redone by offsets after a NUL, by offsets because
  # it does not join).
  def test_a_batch_in_pieces_is_the_batch_in_one
    piece = SymmetricEncryption::Batch::Pipeline::PIECE
    SymmetricEncryption.cipher = gcm_cipher
    count = 3 * piece + 123
    plain = Array.new(count) { |i| i % 1000 == 7 ? "\xFFbinary #{i}".b : "row #{i} ünïcode" }
    values = SymmetricEncryption.encrypt_many(plain, random_iv: true)
    want = plain.map { |p| p.valid_encoding? ? p : p.b }
    # Piece 0: nils. Piece 1: a damaged value (read by offsets after the joined call). Piece 2:
    # a value with NUL (the library counts one more value: the piece is redone by offsets).
    # Piece 3: binary beside UTF-8 input, which does not join: by offsets from the start.
    edits = { 5 => nil, piece - 1 => nil, piece + 17 => damaged(values[piece + 17]),
              2 * piece + 3 => "#{values[2 * piece + 3]}\0", 3 * piece + 1 => "\xFF\xFE".b, 3 * piece + 2 => "é" }
    edits.each do |i, v|
      values[i] = v
      want[i] = v && single(v)
    end
    got = nil
    assert_equal 3, pieces_started { got = SymmetricEncryption.decrypt_many(values, on_error: :return, threads: 2) },
                 "of the 4 pieces, all but the one that does not join go through the pipeline"
    assert_equal count, got.size
    got.zip(want).each_with_index do |(g, w), i|
      if w.is_a?(Exception)
        assert_same_failure(w, g, i)
      else
        if w.nil?
          assert_nil g, "value #{i}"
        else
          assert_equal w, g, "value #{i}"
          assert_equal w.encoding, g.encoding, "value #{i}"
        end
      end
    end
    error = assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption.decrypt_many(values) }
    assert_match(/\Avalue #{piece + 17}: /, error.message)
    nils = SymmetricEncryption.decrypt_many(values, on_error: :nil)
    assert_equal(got.map { |g| g.is_a?(Exception) ? nil : g }, nils)

    # Encrypting in pieces: deterministic values equal encrypt's, one by one.
    text = Array.new(2 * piece + 9) { |i| i == piece + 3 ? nil : "det #{i}" }
    expected = text.map { |t| t && SymmetricEncryption.encrypt(t, random_iv: false) }
    assert_equal 3, pieces_started { assert_equal expected, SymmetricEncryption.encrypt_many(text, random_iv: false, threads: 2) }
    # A value of the wrong type is named by its index in the whole batch.
    text[2 * piece + 4] = 5
    error = assert_raises(TypeError) { SymmetricEncryption.encrypt_many(text, threads: 2) }
    assert_equal "value #{2 * piece + 4}: expected a String or nil, got Integer", error.message
  end

  # The library refusing a piece (its status, raised on the piece's thread) stops the batch
  # with that error; the pieces before it are freed and no thread is left running.
  def test_a_refused_piece_stops_the_batch
    values = values_in_pieces(3)
    native = SymmetricEncryption::Native
    real = native.method(:se_decrypt_batch_split_nogvl)
    calls = 0
    refuse_second = lambda do |*args|
      calls += 1
      calls == 2 ? native::ERROR_ARGUMENT : real.call(*args)
    end
    before = Thread.list.count(&:alive?)
    freed = batches_freed do
      native.stub(:se_decrypt_batch_split_nogvl, refuse_second) do
        assert_raises(SymmetricEncryption::InvalidArgument) { SymmetricEncryption.decrypt_many(values, threads: 2) }
      end
    end
    assert_equal 2, calls, "the batch stops at the refused piece"
    assert_equal 1, freed, "the first piece's batch is freed"
    assert_equal before, Thread.list.count(&:alive?)
  end

  # `threads: 1` (or SYMMETRIC_ENCRYPTION_THREADS=1) keeps a batch on one thread in all: no
  # pipeline, whose pieces would keep a second thread busy beside the library's.
  def test_one_thread_means_no_pipeline
    piece = SymmetricEncryption::Batch::Pipeline::PIECE
    SymmetricEncryption.cipher = gcm_cipher
    plain = Array.new(2 * piece) { |i| "v#{i}" }
    values = SymmetricEncryption.encrypt_many(plain)
    assert_equal 0, pieces_started { assert_equal plain, SymmetricEncryption.decrypt_many(values, threads: 1) }
    saved = ENV.fetch("SYMMETRIC_ENCRYPTION_THREADS", nil)
    ENV["SYMMETRIC_ENCRYPTION_THREADS"] = "1"
    assert_equal 0, pieces_started { assert_equal plain, SymmetricEncryption.decrypt_many(values) }
    ENV["SYMMETRIC_ENCRYPTION_THREADS"] = "3"
    assert_equal 2, pieces_started { assert_equal plain, SymmetricEncryption.decrypt_many(values) }
  ensure
    saved.nil? ? ENV.delete("SYMMETRIC_ENCRYPTION_THREADS") : ENV["SYMMETRIC_ENCRYPTION_THREADS"] = saved
  end

  # An exception in this thread while the next piece is in the library (here: after reading a
  # piece's results) waits for that piece's call and frees every batch the calls made.
  def test_an_exception_mid_batch_frees_every_piece
    values = values_in_pieces(3)
    batch = SymmetricEncryption::Batch
    made = 0
    call = batch.method(:call_joined)
    collect = batch.method(:collect_joined)
    failing = lambda do |*args|
      collect.call(*args) # frees the piece's batch, as it always does
      raise IOError, "reading the results failed"
    end
    before = Thread.list.count(&:alive?)
    freed = batches_freed do
      batch.stub(:call_joined, ->(*a, **k) { made += 1; call.call(*a, **k) }) do
        batch.stub(:collect_joined, failing) do
          error = assert_raises(IOError) { SymmetricEncryption.decrypt_many(values, threads: 2) }
          assert_equal "reading the results failed", error.message
        end
      end
    end
    assert_equal 2, made, "the first piece was being read while the second was in the library"
    assert_equal made, freed
    assert_equal before, Thread.list.count(&:alive?)
  end

  # A Ruby thread counts while a large batch is inside the library. Ruby code runs only with
  # the GVL, so if the call kept it, the counter could only move where the GVL changes hands
  # around the call: at most once before it and once after it (the counting thread sleeps after
  # each step, and the holder is asked to hand over at most once per 100 ms time slice). Released,
  # the thread counts about every half millisecond of the call (tens of ms for 100,000 values).
  def test_other_ruby_threads_run_while_a_large_batch_is_in_the_library
    SymmetricEncryption.cipher = gcm_cipher
    values = SymmetricEncryption.encrypt_many(Array.new(100_000) { |i| "value #{i}" })
    counter = 0
    counting = Thread.new do
      loop do
        counter += 1
        sleep 0.0005
      end
    end
    Thread.pass until counter.positive?
    native = SymmetricEncryption::Native
    # Strings joined by NUL go through the _split call; a value that is not text (here a nil
    # is not, but binary beside UTF-8 is) goes through the offsets one. Both must release it.
    {
      se_decrypt_batch_split_nogvl: values,
      se_decrypt_batch_nogvl: values + ["\xFF".b, "é"]
    }.each do |function, batch|
      original = native.method(function)
      samples = []
      hook = lambda do |*args|
        samples << counter
        status = original.call(*args)
        samples << counter
        status
      end
      got = native.stub(function, hook) { SymmetricEncryption.decrypt_many(batch, threads: 1, on_error: :return) }
      assert_equal "value 99999", got[99_999]
      assert_equal 2, samples.size, "the batch went through #{function}"
      assert_operator samples[1] - samples[0], :>, 2, "no other Ruby thread ran during #{function}"
    end
  ensure
    counting&.kill
  end
end
