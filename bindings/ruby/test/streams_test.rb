# frozen_string_literal: true

require_relative "test_helper"
require "stringio"

# Reader and Writer: files and IO streams, large data, lines, seeking, failures, threads.
class StreamsTest < SymmetricEncryptionTest
  LINES = Array.new(2000) { |i| "line #{i}: #{'abc' * (i % 37)} \u00e9\n" }.join

  def setup
    super
    skip_without_streams
    SymmetricEncryption.cipher = gcm_cipher(version: 2)
    SymmetricEncryption.secondary_ciphers = [cbc_cipher(version: 1)]
  end

  def test_write_and_read_a_file
    path = tmp("data.enc")
    result = SymmetricEncryption::Writer.open(path) do |f|
      assert_equal 6, f.write("Hello ")
      f << "World" << "\n"
      f.write(nil)
      assert_equal 12, f.size
      :done
    end
    assert_equal :done, result
    refute_equal "Hello World\n", File.binread(path)
    assert SymmetricEncryption::Reader.header_present?(path)
    assert_equal "Hello World\n", SymmetricEncryption::Reader.read(path)
    assert_equal Encoding::UTF_8, SymmetricEncryption::Reader.read(path).encoding
    refute SymmetricEncryption::Reader.empty?(path)
  end

  def test_round_trips_every_option
    data = LINES * 3
    [nil, false, true].each do |compress|
      [nil, 1, 2].each do |version|
        [nil, "aes-128-cbc", "aes-256-gcm"].each do |cipher_name|
          [nil, 1024].each do |chunk_size|
            path = tmp("opts-#{compress}-#{version}-#{cipher_name}-#{chunk_size}.enc")
            opts = { compress: compress, version: version, cipher_name: cipher_name, chunk_size: chunk_size }.compact
            SymmetricEncryption::Writer.open(path, **opts) { |f| f.write(data) }
            SymmetricEncryption::Reader.open(path) do |r|
              assert_equal version || 2, r.version, opts.inspect
              assert_equal compress != false, r.compressed?, opts.inspect
              assert_equal data, r.read, opts.inspect
            end
          end
        end
      end
    end
  end

  def test_compression_by_file_name_as_the_gem
    data = "z" * 100_000
    %w[plain.enc archive.gz archive.zip sheet.xlsx].each do |name|
      SymmetricEncryption::Writer.open(tmp(name)) { |f| f.write(data) }
      compressed = SymmetricEncryption::Reader.open(tmp(name), &:compressed?)
      assert_equal name == "plain.enc", compressed, name
      assert_equal data, SymmetricEncryption::Reader.read(tmp(name))
    end
    io = StringIO.new(+"".b)
    SymmetricEncryption::Writer.open(io, close_stream: false) { |f| f.write(data) }
    assert_operator io.string.bytesize, :<, 1000 # streams compress by default
  end

  def test_empty_streams
    path = tmp("empty.enc")
    SymmetricEncryption::Writer.open(path) { |_f| nil }
    assert File.exist?(path)
    assert SymmetricEncryption::Reader.empty?(path)
    assert_equal "", SymmetricEncryption::Reader.read(path)
    SymmetricEncryption::Reader.open(path) do |r|
      assert r.eof?
      assert_nil r.read(10)
      assert_nil r.gets
      assert_equal "", r.read
    end
    # As the gem (4.6 and 5.0): a missing file is an error, not an empty one.
    assert_raises(Errno::ENOENT) { SymmetricEncryption::Reader.empty?(tmp("missing.enc")) }
    File.write(tmp("zero.enc"), "")
    assert SymmetricEncryption::Reader.empty?(tmp("zero.enc"))
  end

  def test_reading_lines
    path = tmp("lines.enc")
    SymmetricEncryption::Writer.write(path, LINES, chunk_size: 1024)
    SymmetricEncryption::Reader.open(path, buffer_size: 128) do |r|
      lines = []
      r.each_line { |line| lines << line }
      assert_equal LINES.lines, lines
      assert_equal Encoding::UTF_8, lines.last.encoding
    end
    SymmetricEncryption::Reader.open(path) do |r|
      assert_equal "line 0:  \u00e9", r.gets(chomp: true)
      assert_equal "line 1: abc \u00e9\n", r.readline
      assert_equal "line", r.gets(4)
      assert_equal " 2: abc", r.gets("c", 100)[0, 8]
      assert_equal "abc \u00e9\n", r.gets
      assert_equal LINES.lines.drop(3), r.readlines
      assert_nil r.gets
      assert_raises(EOFError) { r.readline }
    end
    SymmetricEncryption::Reader.open(path) do |r|
      assert_equal LINES, r.gets(nil)
    end
  end

  def test_multibyte_separator_across_buffer_boundaries
    text = Array.new(500) { |i| "record #{i}|~|" }.join
    path = tmp("sep.enc")
    SymmetricEncryption::Writer.write(path, text)
    SymmetricEncryption::Reader.open(path, buffer_size: 131) do |r|
      assert_equal text.split("|~|").map { |s| "#{s}|~|" }, r.each_line("|~|").to_a
    end
    para = "one\ntwo\n\n\n\nthree\n\nfour"
    SymmetricEncryption::Writer.write(path, para)
    SymmetricEncryption::Reader.open(path) do |r|
      assert_equal ["one\ntwo\n\n", "three\n\n", "four"], r.each_line("").to_a
    end
  end

  def test_read_lengths_outbuf_and_positions
    data = Random.new(3).bytes(200_000)
    path = tmp("bin.enc")
    SymmetricEncryption::Writer.write(path, data, compress: false, chunk_size: 4096)
    SymmetricEncryption::Reader.open(path) do |r|
      assert_equal data.bytesize, r.decrypted_size
      # size is the encrypted file's, as in the gem
      assert_equal File.size(path), r.size
    end
    File.open(path, "rb") do |io|
      SymmetricEncryption::Reader.open(io) { |r| assert_equal [File.size(path), data.bytesize], [r.size, r.decrypted_size] }
    end
    SymmetricEncryption::Reader.open(path) do |r|
      assert_equal "", r.read(0)
      first = r.read(10)
      assert_equal Encoding::BINARY, first.encoding
      assert_equal data[0, 10], first
      assert_equal 10, r.pos
      buf = +"old contents"
      assert_same buf, r.read(5000, buf)
      assert_equal data[10, 5000], buf
      r.seek(100, IO::SEEK_CUR)
      assert_equal 5110, r.tell
      assert_equal data[5110, 7], r.read(7)
      r.seek(-3, IO::SEEK_END)
      assert_equal data[-3, 3], r.read(10)
      assert r.eof?
      assert_nil r.read(1)
      r.pos = 150_000
      assert_equal data[150_000, 4096 * 3], r.read(4096 * 3)
      r.rewind
      assert_equal 0, r.pos
      assert_equal data, r.read.b
      assert_raises(ArgumentError) { r.seek(-1) }
    end
  end

  def test_io_streams_through_callbacks
    io = StringIO.new(+"".b)
    SymmetricEncryption::Writer.open(io, compress: false) { |f| f.write(LINES) }
    assert io.closed?
    encrypted = io.string
    assert encrypted.start_with?("@EnC")
    reader_io = StringIO.new(encrypted)
    SymmetricEncryption::Reader.open(reader_io) do |r|
      assert_equal LINES.lines.first, r.gets
      r.seek(0)
      assert_equal LINES, r.read
    end
    assert reader_io.closed?

    # close_stream: false keeps the stream open
    kept = StringIO.new(+"".b)
    SymmetricEncryption::Writer.open(kept, close_stream: false) { |f| f.write("x") }
    refute kept.closed?
    kept.rewind
    SymmetricEncryption::Reader.open(kept, close_stream: false) { |r| assert_equal "x", r.read }
    refute kept.closed?
  end

  def test_a_stream_that_cannot_seek
    reader, writer = IO.pipe
    SymmetricEncryption::Writer.open(writer, compress: true) { |f| f.write(LINES) }
    SymmetricEncryption::Reader.open(reader) { |r| assert_equal LINES, r.read }
  end

  def test_exceptions_in_the_stream_reach_the_caller
    failing = Object.new
    def failing.write(_data)
      raise Errno::ENOSPC, "disk full"
    end

    def failing.close; end
    assert_raises(Errno::ENOSPC) do
      SymmetricEncryption::Writer.open(failing, compress: false) { |f| f.write("x" * 200_000) }
    end

    bad = Object.new
    def bad.read(_n)
      raise IOError, "broken"
    end

    def bad.close; end
    assert_raises(IOError) { SymmetricEncryption::Reader.open(bad, &:read) }
  end

  def test_an_exception_in_the_block_leaves_no_file
    path = tmp("partial.enc")
    assert_raises(RuntimeError) do
      SymmetricEncryption::Writer.open(path) do |f|
        f.write("x" * 300_000)
        raise "stop"
      end
    end
    refute File.exist?(path)
  end

  def test_closed_streams
    writer = SymmetricEncryption::Writer.open(tmp("c.enc"))
    writer.write("abc")
    writer.close
    assert writer.closed?
    writer.close
    assert_raises(IOError) { writer.write("x") }
    reader = SymmetricEncryption::Reader.open(tmp("c.enc"))
    assert_equal "abc", reader.read
    reader.close
    assert reader.closed?
    assert_raises(IOError) { reader.read }
  end

  def test_writer_encrypt_and_reader_decrypt
    source = tmp("source.txt")
    File.write(source, LINES)
    # between paths: whole-file functions
    assert_equal LINES.bytesize, SymmetricEncryption::Writer.encrypt(source: source, target: tmp("a.enc"))
    assert_equal LINES.bytesize, SymmetricEncryption::Reader.decrypt(source: tmp("a.enc"), target: tmp("a.txt"))
    assert_equal LINES, File.read(tmp("a.txt"))
    # with streams and options: streaming through Writer / Reader
    File.open(source, "rb") do |src|
      assert_equal LINES.bytesize,
                   SymmetricEncryption::Writer.encrypt(source: src, target: tmp("b.enc"), compress: true,
                                                       block_size: 1000, chunk_size: 2048)
    end
    out = StringIO.new(+"".b)
    assert_equal LINES.bytesize, SymmetricEncryption::Reader.decrypt(source: tmp("b.enc"), target: out, block_size: 777)
    assert_equal LINES, out.string.force_encoding(Encoding::UTF_8)
    assert_raises(Errno::ENOENT) { SymmetricEncryption::Reader.decrypt(source: tmp("nope"), target: tmp("x")) }
  end

  def test_writer_without_header_random_key_or_iv
    SymmetricEncryption.with_cipher(cbc_cipher) { cbc_streams_without_header_random_key_or_iv }
    # GCM streams always need a random iv.
    assert_raises(ArgumentError) { SymmetricEncryption::Writer.open(tmp("g.enc"), random_key: false, random_iv: false) }
  end

  def cbc_streams_without_header_random_key_or_iv
    path = tmp("bare.enc")
    SymmetricEncryption::Writer.open(path, header: false, random_key: false, random_iv: false, compress: false) do |f|
      f.write(LINES)
    end
    refute File.binread(path).start_with?("@EnC"), "no header was asked for"
    SymmetricEncryption::Reader.open(path) do |f|
      refute f.header_present?
      assert_equal LINES, f.read.force_encoding(Encoding::UTF_8)
    end
    fixed = tmp("fixed.enc")
    SymmetricEncryption::Writer.open(fixed, random_key: false, random_iv: false, compress: false) { |f| f.write(LINES) }
    assert SymmetricEncryption::Reader.header_present?(fixed)
    assert_equal LINES, SymmetricEncryption::Reader.read(fixed).force_encoding(Encoding::UTF_8)
  end

  def test_unsupported_writer_options_are_refused
    assert_raises(ArgumentError) { SymmetricEncryption::Writer.open(tmp("x.enc"), random_key: true, random_iv: false) }
  end

  def test_tampered_file_fails_authentication
    path = tmp("t.enc")
    SymmetricEncryption::Writer.write(path, LINES * 5, compress: false, chunk_size: 1024)
    bytes = File.binread(path)
    bytes.setbyte(bytes.bytesize / 2, bytes.getbyte(bytes.bytesize / 2) ^ 1)
    File.binwrite(path, bytes)
    error = assert_raises(SymmetricEncryption::AuthenticationError) { SymmetricEncryption::Reader.read(path) }
    assert_kind_of OpenSSL::Cipher::CipherError, error
    File.binwrite(path, bytes.byteslice(0, bytes.bytesize - 100))
    assert_raises(SymmetricEncryption::CipherError) { SymmetricEncryption::Reader.read(path) }
  end

  def test_missing_file
    assert_raises(Errno::ENOENT) { SymmetricEncryption::Reader.open(tmp("missing.enc")) }
    assert_raises(SymmetricEncryption::StreamError) do
      SymmetricEncryption::Writer.open(File.join(@tmp, "no", "such", "dir", "x.enc")) { |f| f.write("x") }
    end
  end

  # Large files stream through bounded memory: a 64 MiB file written and read in pieces
  # while the process's resident memory stays far below the file size.
  def test_large_file_in_bounded_memory
    path = tmp("large.enc")
    block = Random.new(7).bytes(1 << 20)
    total = 64
    digest = Digest::SHA256.new
    GC.start
    rss_before = rss_kib
    SymmetricEncryption::Writer.open(path, compress: false) do |f|
      total.times do |i|
        digest << block << [i].pack("Q")
        f.write(block)
        f.write([i].pack("Q"))
      end
    end
    assert_operator File.size(path), :>, total << 20
    expected_size = (total << 20) + (total * 8)
    read_digest = Digest::SHA256.new
    count = 0
    SymmetricEncryption::Reader.open(path) do |r|
      assert_equal expected_size, r.decrypted_size
      while (piece = r.read(1 << 16))
        read_digest << piece
        count += piece.bytesize
      end
    end
    assert_equal expected_size, count
    assert_equal digest.hexdigest, read_digest.hexdigest
    GC.start
    grown = rss_kib - rss_before
    assert_operator grown, :<, 16 * 1024, "resident memory grew by #{grown} KiB for a #{total} MiB file"
  end

  def test_threads_each_with_their_own_files
    threads = Array.new(6) do |i|
      Thread.new do
        path = tmp("thread-#{i}.enc")
        data = "#{i}:" + (LINES * (i + 1))
        SymmetricEncryption::Writer.open(path, compress: i.even?, chunk_size: 2048) { |f| data.each_line { |l| f << l } }
        SymmetricEncryption::Reader.open(path) { |r| r.each_line.to_a.join } == data
      end
    end
    assert_equal [true] * 6, threads.map(&:value)
  end

  def rss_kib
    File.read("/proc/self/status")[/VmRSS:\s+(\d+)/, 1].to_i
  rescue Errno::ENOENT
    0
  end
end
