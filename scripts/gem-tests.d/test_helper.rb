# frozen_string_literal: true

# Stands in for the gem's test/test_helper.rb when scripts/gem-tests runs the gem's test files:
# the same set-up (minitest, Active Record, the test configuration), over this project's
# binding instead of the pure-Ruby gem.
require "yaml"
require "minitest/autorun"
require "minitest/stub_any_instance"
require "amazing_print"
require "active_record"
require "symmetric-encryption"
require "fileutils"

%w[test_new.key test_secondary_1.key].each do |key|
  path = File.join(__dir__, "config", key)
  FileUtils.chmod(0o600, path) if File.exist?(path)
end

SymmetricEncryption.load!(File.join(__dir__, "config", "symmetric-encryption.yml"), "test")
