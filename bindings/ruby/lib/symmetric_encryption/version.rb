# frozen_string_literal: true

module SymmetricEncryption
  # Version of this Ruby binding (the native library's is SymmetricEncryption.native_version).
  VERSION = "0.1.0"
end
