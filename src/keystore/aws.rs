//! The `aws` keystore: the data key encrypted by an AWS KMS master key (`master_key_alias`), one
//! copy per region in `key_files: [{region, file_name}]`, each file holding base64 of the KMS
//! ciphertext blob. The region is the entry's `region`, else `AWS_REGION`, else
//! `AWS_DEFAULT_REGION`.
//!
//! Everything but the KMS calls lives here, so the configuration is parsed and checked in every
//! build. The calls go through [`KmsClient`]: a build with the cargo feature `aws-kms` supplies
//! `AwsKms`, backed by `aws-sdk-kms` (timeouts, retries and fork safety are described there);
//! without it, loading or generating an aws entry fails with a clear error. Tests and embedders
//! can pass their own client in [`KeyIo::kms`].

use std::path::PathBuf;
use std::sync::Arc;

use super::{file, KeyIo};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::key::SecretBytes;

#[cfg(feature = "aws-kms")]
mod kms;
#[cfg(feature = "aws-kms")]
pub use kms::{AwsKms, KmsSettings};

/// Regions the generator writes key files for when none are given.
pub const DEFAULT_REGIONS: [&str; 4] = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"];

/// The error every aws operation gives in a build without the `aws-kms` feature.
pub const NO_KMS_SUPPORT: &str = "this entry uses the aws keystore, but this build of \
     symmetric-encryption has no AWS KMS support: rebuild it with the cargo feature `aws-kms` \
     (cargo build --features aws-kms), or use a library built with it";

/// One region's copy of the encrypted data key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AwsKeyFile {
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// File holding base64 of the KMS ciphertext blob.
    pub file_name: String,
}

/// The KMS operations the aws keystore needs. Implementations must be safe to share between
/// threads; calls block until KMS answers.
pub trait KmsClient: Send + Sync {
    /// KMS `Decrypt` of `ciphertext` in `region`: the plaintext data key.
    fn decrypt(&self, region: &str, ciphertext: &[u8]) -> Result<SecretBytes>;
    /// KMS `GenerateDataKey` of `key_len` bytes under `key_alias` in `region`: the plaintext.
    /// Creates the master key and alias first when the alias does not exist.
    fn generate_data_key(
        &self,
        region: &str,
        key_alias: &str,
        key_len: usize,
    ) -> Result<SecretBytes>;
    /// KMS `Encrypt` of `plaintext` under `key_alias` in `region`: the ciphertext blob.
    /// Creates the master key and alias first when the alias does not exist.
    fn encrypt(&self, region: &str, key_alias: &str, plaintext: &[u8]) -> Result<Vec<u8>>;
}

/// The master key alias the generator uses: `alias/symmetric-encryption/APP/ENV`, with the app
/// and environment names trimmed and in lower case, as the gem writes them.
pub fn master_key_alias(app: &str, env: &str) -> String {
    format!(
        "alias/symmetric-encryption/{}/{}",
        gem_name(app),
        gem_name(env)
    )
}

/// The key file name the generator uses for one region: `APP_ENV_REGION_vN.encrypted_key`, app
/// and environment trimmed and in lower case, as the gem writes them.
pub fn key_file_name(app: &str, env: &str, region: &str, version: u8) -> String {
    format!(
        "{}_{}_{region}_v{version}.encrypted_key",
        gem_name(app),
        gem_name(env)
    )
}

/// The gem's `name.downcase.strip` for aws names.
fn gem_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The KMS client to use: `io.kms` if set, else the built-in one.
pub fn client(io: &KeyIo) -> Result<Arc<dyn KmsClient>> {
    match &io.kms {
        Some(c) => Ok(c.clone()),
        None => builtin_client(),
    }
}

#[cfg(not(feature = "aws-kms"))]
fn builtin_client() -> Result<Arc<dyn KmsClient>> {
    Err(Error::Keystore(NO_KMS_SUPPORT.into()))
}

#[cfg(feature = "aws-kms")]
fn builtin_client() -> Result<Arc<dyn KmsClient>> {
    Ok(Arc::new(AwsKms::default()))
}

/// The region this process uses: `configured` (the entry's `region`), else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`.
pub fn current_region(configured: Option<&str>) -> Result<String> {
    if let Some(r) = configured.filter(|r| !r.trim().is_empty()) {
        return Ok(r.trim().to_string());
    }
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Ok(r) = std::env::var(var) {
            if !r.trim().is_empty() {
                return Ok(r.trim().to_string());
            }
        }
    }
    Err(Error::Config(
        "the aws keystore needs a region: set region in the entry, or AWS_REGION or \
         AWS_DEFAULT_REGION in the environment"
            .into(),
    ))
}

/// Checks an aws entry's fields (in every build, with or without KMS support).
pub fn validate(master_key_alias: Option<&str>, key_files: &[AwsKeyFile]) -> Result<()> {
    if master_key_alias.is_none_or(|a| a.trim().is_empty()) {
        return Err(Error::Config(
            "the aws keystore needs master_key_alias (e.g. alias/symmetric-encryption/APP/ENV)"
                .into(),
        ));
    }
    if key_files.is_empty() {
        return Err(Error::Config(
            "the aws keystore needs key_files: a list of {region, file_name}, one per region"
                .into(),
        ));
    }
    Ok(())
}

/// Reads the data key of an aws entry: picks the key file of the current region, base64-decodes
/// it and decrypts the blob with KMS in that region.
pub fn read_key(
    master_key_alias: Option<&str>,
    key_files: &[AwsKeyFile],
    region: Option<&str>,
    io: &KeyIo,
) -> Result<SecretBytes> {
    validate(master_key_alias, key_files)?;
    let region = current_region(region)?;
    let kf = key_files
        .iter()
        .find(|k| k.region == region)
        .ok_or_else(|| {
            let have: Vec<&str> = key_files.iter().map(|k| k.region.as_str()).collect();
            Error::Config(format!(
            "the aws keystore has no key file for region {region} (key_files has {}): generate \
             one for this region or set AWS_REGION to one of those",
            have.join(", ")
        ))
        })?;
    let kms = client(io)?;
    let path = io.resolve(std::path::Path::new(&kf.file_name));
    let text = std::fs::read(&path).map_err(|e| {
        Error::Keystore(format!(
            "cannot read aws key file {} (region {region}): {e}",
            path.display()
        ))
    })?;
    let alias = master_key_alias.unwrap_or_default();
    // The gem writes these files with `Base64.encode64` (lines of 60) and reads them leniently.
    let blob = Encoding::Base64.decode(&text)?;
    if blob.is_empty() {
        return Err(Error::Keystore(format!(
            "aws key file {} (region {region}) holds no KMS ciphertext: it is empty or not \
             base64. Restore it, or generate new keys (--rotate-keys)",
            path.display()
        )));
    }
    kms.decrypt(&region, &blob).map_err(|e| {
        e.context(format!(
            "KMS Decrypt in region {region} (master key {alias}, key file {})",
            path.display()
        ))
    })
}

/// Encrypts `key` with KMS under `alias` in every region of `key_files` and writes each blob,
/// base64, to its file (mode 0600, an existing file moved aside). Returns the files written and
/// where their previous versions went.
pub fn write_key_files(
    key_files: &[AwsKeyFile],
    alias: &str,
    key: &[u8],
    io: &KeyIo,
) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let kms = client(io)?;
    let mut written = Vec::new();
    for kf in key_files {
        let blob = kms.encrypt(&kf.region, alias, key).map_err(|e| {
            e.context(format!(
                "KMS Encrypt in region {} (master key {alias})",
                kf.region
            ))
        })?;
        let path = io.resolve(std::path::Path::new(&kf.file_name));
        // As the gem writes them: `Base64.encode64`, lines of 60 characters.
        let backup = file::write_key_file(&path, &Encoding::Base64.encode(&blob), 0o600)?;
        written.push((path, backup));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_client_the_error_says_how_to_get_one() {
        let files = vec![AwsKeyFile {
            region: "us-east-1".into(),
            file_name: "x".into(),
        }];
        let e = read_key(
            Some("alias/a"),
            &files,
            Some("us-east-1"),
            &KeyIo::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Keystore);
        // With KMS support built in, the missing key file is what fails.
        let expected = if cfg!(feature = "aws-kms") {
            "cannot read aws key file x (region us-east-1)"
        } else {
            "aws-kms"
        };
        assert!(e.to_string().contains(expected), "{e}");
        let e = read_key(
            Some("alias/a"),
            &files,
            Some("eu-west-1"),
            &KeyIo::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("no key file for region eu-west-1"),
            "{e}"
        );
        let e = read_key(None, &files, Some("us-east-1"), &KeyIo::default()).unwrap_err();
        assert!(e.to_string().contains("master_key_alias"), "{e}");
    }

    #[test]
    fn names_like_the_gem() {
        assert_eq!(
            master_key_alias("my_app", "production"),
            "alias/symmetric-encryption/my_app/production"
        );
        assert_eq!(
            key_file_name("my_app", "production", "us-east-1", 3),
            "my_app_production_us-east-1_v3.encrypted_key"
        );
        assert_eq!(
            master_key_alias(" My_App", "Production "),
            "alias/symmetric-encryption/my_app/production"
        );
        assert_eq!(
            key_file_name("My_App", "Production", "eu-west-2", 1),
            "my_app_production_eu-west-2_v1.encrypted_key"
        );
    }
}
