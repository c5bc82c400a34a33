# frozen_string_literal: true

require "fileutils"
require_relative "lib/symmetric_encryption/version"

# `gem build bindings/ruby/symmetric-encryption-ffi.gemspec` (from anywhere) gives a source gem:
# the Ruby code, the Rust sources of libsymmetric_encryption and the command line, and
# ext/symmetric_encryption/extconf.rb, which `gem install` runs to compile them (a Rust toolchain
# is needed on the installing machine, as a C compiler is for a C extension).
module SymmetricEncryptionGemspec
  # Absolute before anything changes directory (__dir__ of an eval'd gemspec can be relative).
  HERE = File.expand_path(__dir__)
  ROOT = File.expand_path("../..", HERE)
  CRATE = File.join(HERE, "ext/symmetric_encryption/crate")
  # What cargo needs to build the library and the binary (benches/ because Cargo.toml names one).
  CRATE_FILES = %w[Cargo.toml Cargo.lock build.rs cbindgen.toml LICENSE README.md
                   src/**/*.rs include/*.h benches/*.rs].freeze

  module_function

  # Copies the crate's sources from the repository into ext/symmetric_encryption/crate (ignored
  # by git), so that they are inside the gem. Outside a checkout (an unpacked gem) the copy that
  # is already there is used.
  def vendor_crate
    return unless File.file?(File.join(ROOT, "Cargo.toml")) && File.file?(File.join(ROOT, "src/lib.rs"))

    wanted = CRATE_FILES.flat_map { |pattern| Dir.glob(pattern, base: ROOT) }
                        .select { |rel| File.file?(File.join(ROOT, rel)) }
    stale = Dir.glob("**/*", base: CRATE).select { |rel| File.file?(File.join(CRATE, rel)) } - wanted
    stale.each { |rel| File.delete(File.join(CRATE, rel)) }
    wanted.each do |rel|
      from = File.join(ROOT, rel)
      to = File.join(CRATE, rel)
      next if File.file?(to) && FileUtils.compare_file(from, to)

      FileUtils.mkdir_p(File.dirname(to))
      FileUtils.cp(from, to)
    end
  end
end

# `gem build path/to/this.gemspec` from another directory: RubyGems before 3.4 checks and packs
# the files relative to the working directory, so build here (the .gem is written here too).
if defined?(Gem::Commands::BuildCommand) && File.expand_path(Dir.pwd) != SymmetricEncryptionGemspec::HERE
  Dir.chdir(SymmetricEncryptionGemspec::HERE)
end

Gem::Specification.new do |spec|
  SymmetricEncryptionGemspec.vendor_crate

  spec.name = "symmetric-encryption-ffi"
  spec.version = SymmetricEncryption::VERSION
  spec.summary = "The symmetric-encryption gem's API over the native libsymmetric_encryption"
  spec.description = <<~TEXT
    A drop-in for the core API of the symmetric-encryption gem (SymmetricEncryption.encrypt,
    decrypt, load!, Cipher, Reader, Writer) built on ffi over libsymmetric_encryption, a Rust
    implementation of the gem's formats: the same configuration files, key files, @EnC values
    and encrypted files, read and written by Ruby, Python and C alike. Installing the gem
    compiles the library and the symmetric-encryption command line (a Rust toolchain is needed).
  TEXT
  spec.license = "Apache-2.0"
  spec.authors = ["symmetric-encryption contributors"]
  spec.required_ruby_version = ">= 2.7"

  Dir.chdir(SymmetricEncryptionGemspec::HERE) do
    spec.files = Dir["lib/**/*.rb", "lib/symmetric_encryption/native/*", "README.md",
                     "exe/*", "ext/symmetric_encryption/extconf.rb",
                     "ext/symmetric_encryption/crate/**/*"].select { |f| File.file?(f) }
  end
  spec.require_paths = ["lib"]
  spec.bindir = "exe"
  spec.executables = ["symmetric-encryption"]
  spec.extensions = ["ext/symmetric_encryption/extconf.rb"]

  spec.add_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5.0"
end
