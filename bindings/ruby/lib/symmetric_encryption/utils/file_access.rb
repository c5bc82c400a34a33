# frozen_string_literal: true

require "etc"

module SymmetricEncryption
  module Utils
    # What a key file must look like on disk (mode, owner, group) and the check that it does.
    # By default: mode 0600 or 0400, owned by the user running this process, any group.
    class FileAccess
      # Modes allowed when the configuration names none; the first is given to new key files.
      DEFAULT_PERMISSIONS = [0o600, 0o400].freeze

      # @return [Array<Integer>]
      attr_reader :permissions
      # @return [Array<Integer>, nil] uids (nil: the current user)
      attr_reader :owners
      # @return [Array<Integer>, nil] gids (nil: not checked)
      attr_reader :groups

      # @param permissions [Integer, String, Array, nil] octal modes: 0o640 or "0640"
      # @param owner [Integer, String, Array, nil] user names or uids
      # @param group [Integer, String, Array, nil] group names or gids
      # @raise [SymmetricEncryption::ConfigError] a mode, user or group that is not valid here
      def initialize(permissions: nil, owner: nil, group: nil)
        @permissions = permissions.nil? ? DEFAULT_PERMISSIONS : list(permissions, :permissions) { |p| mode(p) }
        @owners = owner.nil? ? nil : list(owner, :owner) { |o| id(o, :owner) { |n| Etc.getpwnam(n).uid } }
        @groups = group.nil? ? nil : list(group, :group) { |g| id(g, :group) { |n| Etc.getgrnam(n).gid } }
      end

      # @return [Integer] the mode new key files get
      def permission
        permissions.first
      end

      # @return [true]
      # @raise [SymmetricEncryption::ConfigError] the file's mode, owner or group is not allowed
      def verify!(file_name)
        stat = ::File.stat(file_name)
        mode = stat.mode & 0o7777
        unless permissions.include?(mode)
          fail!(file_name, "permissions: #{octal(mode)}. Expected #{permissions.map { |m| octal(m) }.join(' or ')}.")
        end
        if owners.nil? ? !stat.owned? : !owners.include?(stat.uid)
          expected = owners.nil? ? "it to be owned by the current user, #{user(Process.uid)}" : owners.map { |u| user(u) }.join(" or ")
          fail!(file_name, "owner: #{user(stat.uid)}. Expected #{expected}.")
        end
        if groups && !groups.include?(stat.gid)
          fail!(file_name, "group: #{group(stat.gid)}. Expected #{groups.map { |g| group(g) }.join(' or ')}.")
        end
        true
      end

      private

      def fail!(file_name, what)
        raise(SymmetricEncryption::ConfigError, "Symmetric Encryption key file '#{file_name}' has the wrong #{what}")
      end

      def list(values, option)
        ids = Array(values).map { |v| yield(v) }
        raise(SymmetricEncryption::ConfigError, "Symmetric Encryption was supplied an empty list of :#{option}.") if ids.empty?

        ids.freeze
      end

      def mode(value)
        m =
          case value
          when Integer then value
          when String then Integer(value, 8)
          end
        raise ArgumentError unless m && (0..0o7777).cover?(m)

        m
      rescue ArgumentError, TypeError
        raise(SymmetricEncryption::ConfigError,
              "Invalid Symmetric Encryption :permissions #{value.inspect}. Supply an octal file mode, without the " \
              "file type bits, as an Integer, 0o644, or a String, \"0644\".")
      end

      def id(value, option)
        case value
        when Integer
          return value unless value.negative?
        when String
          begin
            return yield(value)
          rescue ArgumentError
            raise(SymmetricEncryption::ConfigError,
                  "Unknown Symmetric Encryption :#{option} #{value.inspect}. There is no such #{option} on this " \
                  "machine. Supply its numeric id instead when the name cannot be resolved everywhere this " \
                  "configuration is loaded.")
          end
        end
        raise(SymmetricEncryption::ConfigError,
              "Invalid Symmetric Encryption :#{option} #{value.inspect}. Supply a name, such as \"root\", or its " \
              "numeric id, such as 0.")
      end

      def octal(mode)
        format("%04o", mode)
      end

      def user(uid)
        named(uid) { Etc.getpwuid(uid).name }
      end

      def group(gid)
        named(gid) { Etc.getgrgid(gid).name }
      end

      def named(numeric)
        name = begin
          yield
        rescue ArgumentError, NoMethodError
          nil
        end
        name ? "#{name} (#{numeric})" : numeric.to_s
      end
    end
  end
end
