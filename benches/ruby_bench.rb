# frozen_string_literal: true

# 32-byte encrypt / decrypt operations per second through the Ruby binding, one thread.
#
#   cargo build --release --lib
#   ruby -Ibindings/ruby/lib benches/ruby_bench.rb [seconds per case, default 2]
#
# Also measures the layers under SymmetricEncryption.encrypt (the bare ffi call, the variant
# that releases the GVL) so a shortfall can be traced to where the time goes.

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
