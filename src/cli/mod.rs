//! What the `symmetric-encryption` command does, as library functions: the binary only parses
//! arguments, calls these and prints what they return.
//!
//! | command line | here |
//! |---|---|
//! | `--generate`, `--rotate-keys`, `--rotate-kek`, `--activate-key`, `--cleanup-keys`, `--migrate` | [`keys`] (over [`crate::config::generate`]) |
//! | `--encrypt`, `--decrypt` (files, stdin, prompted values), `--new-password` | [`crypt`] |
//! | `--prompt`, the confirmation of `--cleanup-keys` | [`prompt`] |
//! | `--re-encrypt` | [`reencrypt`] |
//! | `--info` | [`info`] |
//! | `--check` | [`check`] |
//! | `--inventory`, `--re-encrypt-columns` | `db` (over `crate::db`, feature `db`) |
//!
//! Every function returns the library's [`Error`](crate::Error); messages name the file, the
//! environment and the version, and never contain keys or plaintext.
//!
//! ```no_run
//! use symmetric_encryption::cli::Target;
//!
//! // --config deploy/se.yml --env production
//! let target = Target { config: Some("deploy/se.yml".into()), env: Some("production".into()) };
//! let ctx = target.load()?;
//! # Ok::<(), symmetric_encryption::Error>(())
//! ```

use std::path::PathBuf;

use crate::cipher::CipherName;
use crate::config::{self, generate, Config};
use crate::context::Context;
use crate::error::Result;

pub mod app;
mod bar;
pub mod check;
pub mod compat;
pub mod crypt;
pub mod db;
pub mod info;
pub mod keys;
pub mod prompt;
pub mod reencrypt;

/// The configuration file and environment a command works on (`--config`, `--env`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `--config`. `None`: `SYMMETRIC_ENCRYPTION_CONFIG`, else `config/symmetric-encryption.yml`.
    pub config: Option<PathBuf>,
    /// `--env`. `None`: `SYMMETRIC_ENCRYPTION_ENV`, `RACK_ENV`, `RAILS_ENV`, else `development`.
    pub env: Option<String>,
}

impl Target {
    /// The configuration file's path, as given (relative paths stay relative).
    pub fn config_path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(config::default_path)
    }

    /// The environment's name.
    pub fn environment(&self) -> String {
        self.env.clone().unwrap_or_else(config::default_environment)
    }

    /// Parses the configuration file (keys are not read yet).
    pub fn config(&self) -> Result<Config> {
        Config::from_path(&self.config_path())
    }

    /// Loads the environment's keys: the context that encrypts and decrypts.
    pub fn load(&self) -> Result<Context> {
        let config = self.config()?;
        let env = self.environment();
        if !config.environment_names().contains(&env.as_str()) {
            return Err(self.missing_environment(&config, &env));
        }
        config.context(Some(&env))
    }

    /// Why this configuration file: `"--config"`, `"SYMMETRIC_ENCRYPTION_CONFIG"` or the default.
    pub fn config_reason(&self) -> String {
        if self.config.is_some() {
            "given with --config".into()
        } else if config::non_empty_var("SYMMETRIC_ENCRYPTION_CONFIG").is_some() {
            "from SYMMETRIC_ENCRYPTION_CONFIG".into()
        } else {
            "the default (no --config, SYMMETRIC_ENCRYPTION_CONFIG unset)".into()
        }
    }

    /// Why this environment: `--env`, the first of `SYMMETRIC_ENCRYPTION_ENV`, `RACK_ENV`,
    /// `RAILS_ENV` that is set, or the default.
    pub fn environment_reason(&self) -> String {
        if self.env.is_some() {
            return "given with -E/--env".into();
        }
        match ["SYMMETRIC_ENCRYPTION_ENV", "RACK_ENV", "RAILS_ENV"]
            .into_iter()
            .find(|v| config::non_empty_var(v).is_some())
        {
            Some(var) => format!("from {var}"),
            None => "the default (no -E/--env; SYMMETRIC_ENCRYPTION_ENV, RACK_ENV and RAILS_ENV \
                     unset)"
                .into(),
        }
    }

    /// The command line's "environment not found": what the file has, where the name came
    /// from, and how to choose another (`-E`).
    fn missing_environment(&self, config: &Config, env: &str) -> crate::Error {
        let names = config.environment_names();
        crate::Error::Config(format!(
            "{}: environment {env:?} not found (the file has {}; {env:?} is {}). Choose the \
             environment with -E ENVIRONMENT (--env), or set SYMMETRIC_ENCRYPTION_ENV, RACK_ENV or \
             RAILS_ENV",
            config.source(),
            if names.is_empty() {
                "no environments".to_string()
            } else {
                names.join(", ")
            },
            self.environment_reason()
        ))
    }
}

/// What `--version` prints: the library version, the crypto backend and the environment that
/// would be used.
pub fn version_text(target: &Target) -> String {
    format!(
        "Symmetric Encryption v{}\ncrypto backend: {}\nfeatures: {}\nenvironment: {}\n",
        crate::VERSION,
        crate::crypto::backend(),
        features_text(),
        target.environment()
    )
}

/// The cargo features this build has, and what the missing release features mean.
pub fn features_text() -> String {
    let release = [
        ("aws-kms", cfg!(feature = "aws-kms"), "no aws keystore"),
        (
            "aws-lc",
            cfg!(feature = "aws-lc"),
            "RustCrypto instead of AWS-LC",
        ),
        ("vault", cfg!(feature = "vault"), "no vault keystore"),
    ];
    let mut on: Vec<&str> = release.iter().filter(|f| f.1).map(|f| f.0).collect();
    let all = on.len() == release.len();
    // Not a release feature: AWS-LC's FIPS module as the aws-lc backend.
    if cfg!(feature = "fips") {
        on.push("fips");
    }
    if all {
        return format!(
            "{} (the release build: AWS KMS and Vault keystores, AWS-LC crypto)",
            on.join(", ")
        );
    }
    let missing: Vec<&str> = release.iter().filter(|f| !f.1).map(|f| f.2).collect();
    format!(
        "{} (not the release build: {}; install that with cargo install --path . --locked \
         --features aws-kms,aws-lc,vault)",
        if on.is_empty() {
            "none".to_string()
        } else {
            on.join(", ")
        },
        missing.join(", ")
    )
}

/// What `--ciphers` prints: the ciphers this library reads and writes, with their key and iv
/// sizes.
pub fn ciphers_text() -> String {
    let mut out = String::from("Available Ciphers: (key and iv sizes in bytes)\n");
    for c in CipherName::ALL {
        out.push_str(&format!(
            "  {:<12} key {:>2}  iv {:>2}  {}{}\n",
            c.as_str(),
            c.key_len(),
            c.iv_len(),
            if c.is_authenticated() {
                "authenticated"
            } else {
                "not authenticated"
            },
            if c == generate::DEFAULT_CIPHER {
                " (default for new keys)"
            } else {
                ""
            }
        ));
    }
    out
}

/// Parses `--key-permissions`: comma separated octal modes (`0640` or `0600,0400`).
pub fn parse_permissions(value: &str) -> Result<Vec<u32>> {
    let modes = split_list(value)
        .iter()
        .map(|m| crate::keystore::file::parse_mode(m))
        .collect::<Result<Vec<u32>>>()
        .map_err(|e| e.context("--key-permissions"))?;
    if modes.is_empty() {
        return Err(crate::Error::Argument(
            "--key-permissions is empty: give octal modes such as 0600 or 0640,0600".into(),
        ));
    }
    Ok(modes)
}

/// Splits a comma separated option value (`--environments a,b`, `--regions x,y`): items
/// trimmed, empty items dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(split_list(" a, b,,c "), ["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn permissions_are_octal() {
        assert_eq!(parse_permissions("0640").unwrap(), [0o640]);
        assert_eq!(parse_permissions("0600, 0400").unwrap(), [0o600, 0o400]);
        assert!(parse_permissions("rw").is_err());
        assert!(parse_permissions(",").is_err());
    }

    #[test]
    fn ciphers_are_listed() {
        let t = ciphers_text();
        assert!(t.contains("aes-256-gcm  key 32  iv 12  authenticated (default for new keys)"));
        assert_eq!(t.lines().count(), 7);
    }

    #[test]
    fn explicit_target_wins() {
        let t = Target {
            config: Some("x.yml".into()),
            env: Some("qa".into()),
        };
        assert_eq!(t.config_path(), PathBuf::from("x.yml"));
        assert_eq!(t.environment(), "qa");
    }
}
