# frozen_string_literal: true

# The baseline of benches/ruby_bench.rb's decrypt_many case: the pure-Ruby symmetric-encryption
# gem decrypting the same values, one SymmetricEncryption.decrypt call per value. Run in its
# own process (the gem and this project's binding both define SymmetricEncryption), with the
# gem's source on the load path, never copied into this repository:
#
#   mkdir -p /tmp/gemsrc && git --git-dir=PATH/TO/symmetric-encryption.git archive HEAD | tar -x -C /tmp/gemsrc
#   ruby -I/tmp/gemsrc/lib benches/ruby_gem_decrypt.rb VALUES_FILE
#
# VALUES_FILE (written by ruby_bench.rb): the key and the iv in hex on the first line, then one
# encrypted value per line, then the plaintext of the first value. Prints
# "gem decrypt loop <n> values/s".

require "tmpdir"

path = ARGV[0] or abort("usage: ruby -I/tmp/gemsrc/lib #{$PROGRAM_NAME} VALUES_FILE")

begin
  require "coercible"
rescue LoadError
  # The gem requires coercible (Debian's ruby-coercible) but uses it only for non-string
  # `type:` values; this loop decrypts strings, so an empty module stands in for it.
  stub = Dir.mktmpdir("coercible-stand-in")
  File.write(File.join(stub, "coercible.rb"), "module Coercible; end\n")
  $LOAD_PATH.unshift(stub)
end
require "symmetric_encryption"
abort("loaded this project's binding, not the gem: put the gem's lib first") if defined?(SymmetricEncryption::Native)

lines = File.readlines(path, chomp: true)
key_hex, iv_hex = lines.shift.split
expected = lines.pop
values = lines
SymmetricEncryption.cipher = SymmetricEncryption::Cipher.new(
  cipher_name: "aes-256-gcm", key: [key_hex].pack("H*"), iv: [iv_hex].pack("H*"), version: 1
)
abort("the gem does not decrypt the values") unless SymmetricEncryption.decrypt(values.first) == expected

values.first(2000).each { |v| SymmetricEncryption.decrypt(v) } # warm up
start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
values.each { |v| SymmetricEncryption.decrypt(v) }
elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
puts "gem decrypt loop #{(values.size / elapsed).round} values/s"
