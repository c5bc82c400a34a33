# frozen_string_literal: true

# A stand-in for the amazing_print gem (not packaged by Debian), for scripts/gem-tests.
module Kernel
  def ap(object, _options = {})
    puts object.inspect
    object
  end
end
