//! Keys that applications still on gem 4.6 can use (`--gem-4.6`), and the note `--generate`
//! and `--rotate-keys` print when they write GCM keys, which gem 4.6 cannot read.
//!
//! Gem 4.6 (the latest released gem) reads this library's CBC values and files, and the
//! configuration files its generator writes, but not GCM (a gem 5.0 format: values and files
//! carry an authentication tag 4.6 does not know), and not the key file checks `permissions:`,
//! `owner:` and `group:` (its keystores refuse keywords they do not know). See
//! docs/src/gem-compatibility.md.

use crate::cipher::CipherName;
use crate::config::{Config, EntryConfig};
use crate::error::{Error, Result};

/// What `--generate` and `--rotate-keys` print (on standard error) when they write GCM keys.
pub fn gcm_note(cipher: CipherName) -> String {
    format!(
        "note: the new keys are {cipher}. Values and files encrypted with them are read by gem \
         5.0 and by this library (Ruby, Python, C), but NOT by gem 4.6, the latest released \
         gem. If an application on gem 4.6 must read this data, use CBC keys instead: \
         --gem-4.6 (aes-256-cbc, and a configuration gem 4.6 loads)"
    )
}

/// The cipher of new keys under `--gem-4.6`: `requested`, which must be CBC, else aes-256-cbc.
pub fn gem46_cipher(requested: Option<CipherName>) -> Result<CipherName> {
    match requested {
        None => Ok(CipherName::Aes256Cbc),
        Some(c) if !c.is_authenticated() => Ok(c),
        Some(c) => Err(Error::Argument(format!(
            "--gem-4.6 with --cipher-name {c}: gem 4.6 cannot read GCM values or files. Give a \
             CBC cipher (aes-256-cbc, the default with --gem-4.6) or leave out --gem-4.6"
        ))),
    }
}

/// Why gem 4.6 cannot use `entry`, if it cannot.
fn gem46_problem(entry: &EntryConfig) -> Option<String> {
    let mut level = Some(entry);
    while let Some(e) = level {
        let cipher = e.cipher_name.unwrap_or(entry.cipher_name_or_default());
        if cipher.is_authenticated() {
            return Some(format!("{cipher} (gem 4.6 reads CBC only)"));
        }
        for (field, present) in [
            ("permissions", e.permissions.is_some()),
            ("owner", e.owner.is_some()),
            ("group", e.group.is_some()),
        ] {
            if present {
                return Some(format!(
                    "{field}: (gem 4.6's key file keystore does not accept it)"
                ));
            }
        }
        level = e.key_encrypting_key.as_deref();
    }
    None
}

/// The entries of `environments` (all when empty) that gem 4.6 cannot use, as
/// `production, cipher version 2: aes-256-gcm (...)`.
pub fn gem46_problems(config: &Config, environments: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in config.environment_names() {
        if !environments.is_empty() && !environments.iter().any(|e| e == name) {
            continue;
        }
        let Ok(env) = config.environment(name) else {
            continue;
        };
        for entry in &env.ciphers {
            if let Some(p) = gem46_problem(entry) {
                out.push(format!(
                    "{name}, cipher version {}: {p}",
                    entry.version_or_default()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gem46_takes_cbc_only() {
        assert_eq!(gem46_cipher(None).unwrap(), CipherName::Aes256Cbc);
        assert_eq!(
            gem46_cipher(Some(CipherName::Aes128Cbc)).unwrap(),
            CipherName::Aes128Cbc
        );
        let e = gem46_cipher(Some(CipherName::Aes256Gcm)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Argument);
        assert!(e.to_string().contains("gem 4.6"), "{e}");
    }

    #[test]
    fn problems_name_the_environment_and_version() {
        let c = Config::from_yaml_str(
            "production:\n  ciphers:\n  - key: '12345678901234567890123456789012'\n    cipher_name: aes-256-gcm\n    version: 2\n  - key: '1234567890123456'\n    iv: '1234567890123456'\n    cipher_name: aes-128-cbc\n    version: 1\n    permissions: '0600'\n",
            "t.yml",
        )
        .unwrap();
        let p = gem46_problems(&c, &[]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("production, cipher version 2: aes-256-gcm"),
            "{p:?}"
        );
        assert!(p[1].contains("permissions"), "{p:?}");
    }
}
