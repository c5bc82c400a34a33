# frozen_string_literal: true

# 32-byte encrypt / decrypt operations per second through the Ruby binding, one thread.
#
#   cargo build --release --lib
#   ruby -Ibindings/ruby/lib benches/ruby_bench.rb [seconds per case, default 2]
#
# Also measures the layers under SymmetricEncryption.encrypt (the bare ffi call, the variant
# that releases the GVL) so a shortfall can be traced to where the time goes. Last, decrypt_many
# of a million values against the pure-Ruby gem's decrypt loop, when the gem's source is in
# /tmp/gemsrc (SE_BENCH_GEM_SRC; see the end of this file).

require "etc"
require "tmpdir"
$LOAD_PATH.unshift(File.expand_path("../bindings/ruby/lib", __dir__))
require "symmetric_encryption"

SECONDS = (ARGV[0] || 2).to_f
PLAINTEXT = ("x" * 32).freeze

ROUNDS = 3

# Best of ROUNDS runs of SECONDS / ROUNDS each: the machine may be shared, and the best run is
# the one least disturbed by other processes.
def measure(label, batch: 1000)
  2000.times { yield } if batch >= 1000 # warm up
  best = 0.0
  ROUNDS.times do
    count = 0
    start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    deadline = start + (SECONDS / ROUNDS)
    now = start
    while now < deadline
      batch.times { yield }
      count += batch
      now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
    best = [best, count / (now - start)].max
  end
  printf("%-56s %12s ops/s  %6.2f us/op\n", label, best.round.to_s.reverse.scan(/\d{1,3}/).join(",").reverse,
         1e6 / best)
  best
end

puts "symmetric-encryption Ruby binding #{SymmetricEncryption::VERSION}, native #{SymmetricEncryption.native_version}"
puts "#{RUBY_DESCRIPTION}, ffi #{FFI::VERSION}"
puts "backend: #{SymmetricEncryption::Native.se_backend}"
puts "32-byte plaintext, best of #{ROUNDS} runs in #{SECONDS}s per case, one thread"
puts

N = SymmetricEncryption::Native
results = {}
%w[aes-256-gcm aes-256-cbc].each do |name|
  key = SymmetricEncryption::Cipher.random_key(name)
  cipher = SymmetricEncryption::Cipher.new(key: key, iv: SymmetricEncryption::Cipher.random_iv(name),
                                           cipher_name: name, version: 1)
  SymmetricEncryption.cipher = cipher
  SymmetricEncryption.secondary_ciphers = []
  random = SymmetricEncryption.encrypt(PLAINTEXT, random_iv: true)
  fixed = SymmetricEncryption.encrypt(PLAINTEXT, random_iv: false)

  results["#{name} encrypt random_iv"] =
    measure("#{name} SymmetricEncryption.encrypt(random_iv: true)") { SymmetricEncryption.encrypt(PLAINTEXT, random_iv: true) }
  measure("#{name} SymmetricEncryption.encrypt (fixed iv)") { SymmetricEncryption.encrypt(PLAINTEXT) }
  results["#{name} decrypt"] =
    measure("#{name} SymmetricEncryption.decrypt") { SymmetricEncryption.decrypt(random) }
  measure("#{name} SymmetricEncryption.decrypt (fixed-iv value)") { SymmetricEncryption.decrypt(fixed) }
  measure("#{name} Cipher#encrypt(random_iv: true)") { cipher.encrypt(PLAINTEXT, random_iv: true) }

  # The layers underneath, for profiling.
  ctx = cipher.native_context
  opts = N.options(1, 0, -1, -1)
  out = FFI::MemoryPointer.new(N::Bytes.size)
  measure("#{name} bare se_encrypt + se_bytes_free") do
    N.se_encrypt(ctx, PLAINTEXT, 32, opts, out)
    N.se_bytes_free(out)
  end
  measure("#{name} bare se_encrypt_nogvl (GVL released)") do
    N.se_encrypt_nogvl(ctx, PLAINTEXT, 32, opts, out)
    N.se_bytes_free(out)
  end
  if N::INTO
    buf = FFI::MemoryPointer.new(:uint8, 4096)
    len = FFI::MemoryPointer.new(:size_t)
    measure("#{name} bare se_encrypt_into") { N.se_encrypt_into(ctx, PLAINTEXT, 32, opts, buf, 4096, len) }
  end
  puts
end

# Why small values keep the GVL: with another Ruby thread busy, a call that releases the GVL
# waits for that thread's time slice to end before it can return.
cipher = SymmetricEncryption::Cipher.new(key: SymmetricEncryption::Cipher.random_key("aes-256-gcm"),
                                         cipher_name: "aes-256-gcm", version: 1)
ctx = cipher.native_context
opts = N.options(1, 0, -1, -1)
out = FFI::MemoryPointer.new(N::Bytes.size)
busy = Thread.new { x = 0; loop { x += 1 } }
puts "with another Ruby thread busy:"
measure("aes-256-gcm se_encrypt, GVL kept (what encrypt uses)") do
  N.se_encrypt(ctx, PLAINTEXT, 32, opts, out)
  N.se_bytes_free(out)
end
measure("aes-256-gcm se_encrypt_nogvl, GVL released", batch: 1) do
  N.se_encrypt_nogvl(ctx, PLAINTEXT, 32, opts, out)
  N.se_bytes_free(out)
end
busy.kill
puts

measure("floor: ffi call of se_context_randomize_iv") { N.se_context_randomize_iv(nil) }
puts

# Many values in one call: decrypt_many of BATCH_VALUES gem-format values (32-byte plaintexts,
# aes-256-gcm, random iv), on one thread and on every core, beside the pure-Ruby gem's
# SymmetricEncryption.decrypt looped over GEM_VALUES of the same values. The gem runs in its
# own process (benches/ruby_gem_decrypt.rb), loaded from GEM_SRC (its source, extracted there
# by scripts/bench; never part of this repository).
BATCH_VALUES = Integer(ENV.fetch("SE_BENCH_BATCH_VALUES", 1_000_000))
GEM_VALUES = [Integer(ENV.fetch("SE_BENCH_GEM_VALUES", 100_000)), BATCH_VALUES].min
GEM_SRC = ENV.fetch("SE_BENCH_GEM_SRC", "/tmp/gemsrc")

def group(number)
  number.round.to_s.reverse.scan(/\d{1,3}/).join(",").reverse
end

if N.available?(:se_decrypt_batch)
  key = SymmetricEncryption::Cipher.random_key("aes-256-gcm")
  iv = SymmetricEncryption::Cipher.random_iv("aes-256-gcm")
  SymmetricEncryption.cipher = SymmetricEncryption::Cipher.new(key: key, iv: iv, cipher_name: "aes-256-gcm", version: 1)
  SymmetricEncryption.secondary_ciphers = []
  plain = Array.new(BATCH_VALUES) { |i| format("%032d", i) }
  encrypted = SymmetricEncryption.encrypt_many(plain, random_iv: true)
  abort "decrypt_many does not give the plaintexts back" unless SymmetricEncryption.decrypt_many(encrypted) == plain
  # Only the encrypted column stays, as in an application reading one: a second million live
  # strings would only make every GC of the measured rounds longer.
  first_plain = plain.first
  plain = nil

  rates = { 1 => 0.0, nil => 0.0 }
  ROUNDS.times do
    rates.each_key do |threads|
      GC.start # each round starts from the same heap
      start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      SymmetricEncryption.decrypt_many(encrypted, threads: threads)
      rates[threads] = [rates[threads], BATCH_VALUES / (Process.clock_gettime(Process::CLOCK_MONOTONIC) - start)].max
    end
  end
  cores = ENV["SYMMETRIC_ENCRYPTION_THREADS"] || Etc.nprocessors
  printf("%-56s %12s values/s\n", "ruby decrypt_many #{group(BATCH_VALUES)} values, threads: 1", group(rates[1]))
  printf("%-56s %12s values/s\n", "ruby decrypt_many #{group(BATCH_VALUES)} values, threads: default (#{cores})",
         group(rates[nil]))

  if File.file?(File.join(GEM_SRC, "lib", "symmetric_encryption.rb"))
    Dir.mktmpdir("se-bench") do |dir|
      file = File.join(dir, "values.txt")
      File.write(file, ["#{key.unpack1('H*')} #{iv.unpack1('H*')}", *encrypted.first(GEM_VALUES), first_plain].join("\n"))
      out = IO.popen(["ruby", "-I#{GEM_SRC}/lib", File.expand_path("ruby_gem_decrypt.rb", __dir__), file], &:read)
      gem_rate = out[/gem decrypt loop (\d+) values\/s/, 1]&.to_f
      abort "benches/ruby_gem_decrypt.rb failed: #{out}" unless $?.success? && gem_rate

      printf("%-56s %12s values/s\n", "ruby gem decrypt loop #{group(GEM_VALUES)} values (pure-Ruby gem)", group(gem_rate))
      printf("%-56s %12.1fx (1 thread %.1fx; goal >= 15x)\n", "ruby decrypt_many / gem decrypt loop",
             rates[nil] / gem_rate, rates[1] / gem_rate)
    end
  else
    puts "ruby gem decrypt loop: skipped, the gem's source is not in #{GEM_SRC} (extract it there: " \
         "mkdir -p #{GEM_SRC} && git --git-dir=PATH/TO/symmetric-encryption.git archive HEAD | tar -x -C #{GEM_SRC})"
  end
else
  puts "ruby decrypt_many: skipped, #{N::LIBRARY_PATH} has no se_decrypt_batch"
end
