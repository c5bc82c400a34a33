//! Where the keys of a configuration live (SPEC section 7): one module per keystore.
//!
//! A keystore holds the *stored* bytes of a key: the data key encrypted by its key-encrypting
//! key, or the raw key when the entry has none. Decrypting those bytes with the KEK chain is the
//! job of [`crate::config`]; reading and writing them is the job of this module.
//!
//! | keystore | stored bytes | module |
//! |---|---|---|
//! | `file` | a key file (`key_filename`), raw bytes, mode and owner checked | [`file`](mod@file) |
//! | `memory` | `encrypted_key` in the configuration file itself | [`memory`] |
//! | `environment`, `heroku` | base64 in an environment variable (`key_env_var`) | [`environment`] |
//! | `aws` | base64 KMS ciphertext blobs in one file per region (`key_files`) | [`aws`] |
//! | `vault` | a Vault / OpenBao transit ciphertext, in a key file or inline | [`vault`] |

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

pub mod aws;
pub mod environment;
pub mod file;
pub mod memory;
#[cfg(any(feature = "aws-kms", feature = "vault"))]
pub(crate) mod runtime;
pub mod vault;

pub use aws::{AwsKeyFile, KmsClient};
pub use file::{FilePolicy, Principal};

/// A keystore named in a configuration entry (`keystore: :file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeystoreKind {
    /// Key files on disk.
    File,
    /// The encrypted key inside the configuration file.
    Memory,
    /// An environment variable.
    Environment,
    /// An environment variable set with `heroku config:add` (reads like `Environment`).
    Heroku,
    /// AWS KMS (needs the `aws-kms` cargo feature).
    Aws,
    /// A HashiCorp Vault or OpenBao transit key (needs the `vault` cargo feature).
    Vault,
}

impl KeystoreKind {
    /// Every keystore, in the order the gem's documentation lists them.
    pub const ALL: [KeystoreKind; 6] = [
        KeystoreKind::File,
        KeystoreKind::Environment,
        KeystoreKind::Heroku,
        KeystoreKind::Memory,
        KeystoreKind::Aws,
        KeystoreKind::Vault,
    ];

    /// Parses a keystore name as written in configuration files: `file`, `:file`, `Heroku`.
    pub fn from_name(name: &str) -> Result<Self> {
        let n = name.trim().trim_start_matches(':').to_ascii_lowercase();
        Ok(match n.as_str() {
            "file" => KeystoreKind::File,
            "memory" => KeystoreKind::Memory,
            "environment" => KeystoreKind::Environment,
            "heroku" => KeystoreKind::Heroku,
            "aws" => KeystoreKind::Aws,
            "vault" | "openbao" => KeystoreKind::Vault,
            "gcp" => {
                return Err(Error::Config(
                    "the gcp keystore (Google Cloud KMS) is not supported by this library: keep \
                     the keys in a file, environment, heroku, aws (AWS KMS) or vault keystore"
                        .into(),
                ))
            }
            _ => {
                return Err(Error::Config(format!(
                    "unknown keystore {}: use one of file, environment, heroku, memory, aws, vault",
                    crate::error::show_name(name)
                )))
            }
        })
    }

    /// The name as the gem writes it (without the symbol colon).
    pub fn as_str(self) -> &'static str {
        match self {
            KeystoreKind::File => "file",
            KeystoreKind::Memory => "memory",
            KeystoreKind::Environment => "environment",
            KeystoreKind::Heroku => "heroku",
            KeystoreKind::Aws => "aws",
            KeystoreKind::Vault => "vault",
        }
    }
}

impl fmt::Display for KeystoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeystoreKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        KeystoreKind::from_name(s)
    }
}

/// How key material is reached from this process: the directory relative key paths resolve
/// against, and the KMS client for `aws` keystores.
#[derive(Clone, Default)]
pub struct KeyIo {
    /// Directory that relative key paths (`key_filename`, aws `file_name`, the generator's key
    /// path) resolve against. `None`: the process working directory, as the gem does.
    pub base_dir: Option<PathBuf>,
    /// KMS client for `aws` keystores. `None`: the built-in one (feature `aws-kms`).
    pub kms: Option<Arc<dyn KmsClient>>,
}

impl fmt::Debug for KeyIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyIo")
            .field("base_dir", &self.base_dir)
            .field("kms", &self.kms.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl KeyIo {
    /// `path` as this process opens it: relative paths joined to `base_dir` when one is set.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// The 80-star line the gem prints around instructions.
pub(crate) const STARS: &str =
    "********************************************************************************";
