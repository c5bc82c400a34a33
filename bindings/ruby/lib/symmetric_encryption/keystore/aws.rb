# frozen_string_literal: true

module SymmetricEncryption
  module Keystore
    # The data key encrypted by an AWS KMS master key (`alias/symmetric-encryption/APP/ENV`), one
    # key file per region. Key generation and reading go through the library's KMS client (built
    # with the aws-kms feature).
    class Aws
      # A new data key (version + 1) from KMS and its entry; writes a key file per region.
      # @return [Hash] keystore, cipher_name, version, master_key_alias, key_files, iv
      def self.generate_data_key(cipher_name:, app_name:, environment:, key_path:, version: 0, regions: nil,
                                 dek: nil, **_args)
        entry, = KeyManagement.generate_data_key(
          keystore: :aws, cipher_name: Memory.dek_cipher(dek, cipher_name), app_name: app_name,
          environment: environment, version: version, key_path: key_path, regions: regions, dek: dek
        )
        entry
      end

      # Where the current key files are, so a rotated key is written beside them.
      # @return [Hash]
      def self.rotate_args(config)
        files = config[:key_files] || []
        args = {}
        args[:key_path] = ::File.dirname(files.first[:file_name]) unless files.empty?
        args[:regions] = files.map { |f| f[:region] } unless files.empty?
        args
      end
    end
  end
end
