# frozen_string_literal: true

require_relative "test_helper"
require "rbconfig"

# Finding the native library: SYMMETRIC_ENCRYPTION_LIB, the gem's own copy, the repository's
# build, then an installed system library (issue 21), so that a packager can ship one
# libsymmetric_encryption.so for every language. Each case loads a copy of lib/ in a fresh Ruby
# from a directory outside the repository.
class LibraryLookupTest < SymmetricEncryptionTest
  LIB = SymmetricEncryption::Native::LIB_NAME
  BUILT = SymmetricEncryption::Native::LIBRARY_PATH
  SCRIPT = 'require "symmetric_encryption"; ' \
           'c = SymmetricEncryption::Cipher.new(key: "k" * 16, iv: "i" * 16, cipher_name: "aes-128-cbc"); ' \
           'raise "round trip" unless c.decrypt(c.encrypt("x")) == "x"; ' \
           "puts SymmetricEncryption::Native::LIBRARY_PATH"

  def lib_copy(bundled: false)
    dir = tmp("site")
    FileUtils.mkdir_p(dir)
    FileUtils.cp_r(File.expand_path("../lib/.", __dir__), dir)
    FileUtils.rm_rf(File.join(dir, "symmetric_encryption", "native"))
    if bundled
      FileUtils.mkdir_p(File.join(dir, "symmetric_encryption", "native"))
      FileUtils.cp(BUILT, File.join(dir, "symmetric_encryption", "native", LIB))
    end
    dir
  end

  def loaded_from(lib_dir, env = {})
    clean = { "SYMMETRIC_ENCRYPTION_LIB" => nil, "LD_LIBRARY_PATH" => nil, "RUBYLIB" => nil, "RUBYOPT" => nil }
    out = IO.popen(clean.merge(env), [RbConfig.ruby, "-I", lib_dir, "-e", SCRIPT], chdir: @tmp,
                                                                                   err: %i[child out], &:read)
    assert $?.success?, out
    out.strip
  end

  def system_dir(*names)
    dir = tmp("prefix/lib")
    FileUtils.mkdir_p(dir)
    FileUtils.cp(BUILT, File.join(dir, names.first))
    names.drop(1).each { |n| File.symlink(names.first, File.join(dir, n)) }
    dir
  end

  def test_an_installed_runtime_library_is_found
    dir = system_dir("#{LIB}.0")
    assert_equal File.join(dir, "#{LIB}.0"), loaded_from(lib_copy, "LD_LIBRARY_PATH" => dir)
  end

  def test_the_development_name_comes_before_a_versioned_one
    dir = system_dir("#{LIB}.0", LIB)
    assert_equal File.join(dir, LIB), loaded_from(lib_copy, "LD_LIBRARY_PATH" => dir)
  end

  def test_the_bundled_copy_and_the_variable_come_before_the_system
    dir = system_dir(LIB)
    site = lib_copy(bundled: true)
    assert_equal File.join(site, "symmetric_encryption", "native", LIB), loaded_from(site, "LD_LIBRARY_PATH" => dir)
    chosen = tmp("chosen/#{LIB}")
    FileUtils.mkdir_p(File.dirname(chosen))
    FileUtils.cp(BUILT, chosen)
    assert_equal chosen, loaded_from(site, "LD_LIBRARY_PATH" => dir, "SYMMETRIC_ENCRYPTION_LIB" => chosen)
  end

  def test_the_system_directories_are_listed
    dirs = SymmetricEncryption::Native.system_dirs
    assert_includes dirs, "/usr/local/lib"
    assert_operator dirs.index("/usr/local/lib"), :<, dirs.index("/usr/lib")
  end
end
