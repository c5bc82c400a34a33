# frozen_string_literal: true

# Helper of the Active Record / Rails tests (scripts/suites/ruby-rails): a real SQLite database
# through Debian's ruby-activerecord and ruby-sqlite3, and a known set of ciphers.
require_relative "../test_helper"
require "active_record"
require "logger"
require "stringio"

module RailsHelper
  KEY = ("k" * 32).b
  IV = ("i" * 16).b

  module_function

  # A primary aes-256-gcm cipher (version 2) and an aes-256-cbc one with a configured iv
  # (version 1), as an application that rotated from CBC to GCM has.
  def use_ciphers
    SymmetricEncryption.cipher = SymmetricEncryption::Cipher.new(key: KEY, cipher_name: "aes-256-gcm", version: 2)
    SymmetricEncryption.secondary_ciphers = [
      SymmetricEncryption::Cipher.new(key: ("c" * 32).b, iv: IV, cipher_name: "aes-256-cbc", version: 1)
    ]
  end

  def connect
    return if ::ActiveRecord::Base.connected?

    ::ActiveRecord::Base.establish_connection(adapter: "sqlite3", database: File.join(Dir.mktmpdir("se-rails"), "test.sqlite3"))
    ::ActiveRecord::Migration.verbose = false
    ::ActiveRecord::Schema.define do
      create_table :people, force: true do |t|
        t.string :name
        t.string :ssn
        t.string :age
        t.string :balance
        t.string :born_on
        t.string :seen_at
        t.string :active
        t.string :notes
        t.string :prefs
        t.string :api_key
        t.string :encrypted_token
      end
      create_table :users, force: true do |t|
        t.string :encrypted_ssn
        t.string :encrypted_age
      end
    end
  end
end
RailsHelper.use_ciphers
RailsHelper.connect
