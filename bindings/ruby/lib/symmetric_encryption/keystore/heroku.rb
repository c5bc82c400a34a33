# frozen_string_literal: true

module SymmetricEncryption
  module Keystore
    # As Environment, for Heroku: prints the `heroku config:add` command that sets the variable.
    class Heroku < Environment
      # @api private
      def self.keystore_name
        :heroku
      end

      # What the gem prints for a Heroku key: the starred `heroku config:add NAME=VALUE` block.
      def self.print_instructions(name, value)
        $stdout.write("\n\n#{STARS}\nAdd the environment key to Heroku:\n\n  heroku config:add #{name}=#{value}\n#{STARS}\n")
      end
    end
  end
end
