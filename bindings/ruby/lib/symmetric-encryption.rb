# frozen_string_literal: true

# The gem's own require name: `require "symmetric-encryption"` works as it does for the gem.
require_relative "symmetric_encryption"
