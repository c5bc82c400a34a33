//! The `vault` keystore: the data key wrapped by a HashiCorp Vault or OpenBao transit key
//! (`transit_key` on the mount `transit_mount`, default `transit`). The wrapped key, Vault's
//! `vault:vN:...` ciphertext, is kept in a key file (`key_filename`, checked for mode and owner
//! like a file keystore's key file) or inline in the configuration (`encrypted_key`). Vault
//! never sees the data: only the data key goes to `transit/decrypt` when a context loads.
//!
//! Everything but the HTTP calls lives here, so the configuration is parsed and checked in
//! every build. The calls (`Transit`, with the cargo feature `vault`) read the address,
//! namespace, TLS settings and credentials from the environment Vault users know (`VAULT_ADDR`,
//! `VAULT_TOKEN`, ...: see `VaultSettings` and `Auth` in that build). Without the feature, loading or
//! generating a vault entry fails with a clear error.
//!
//! The Ruby gem has no such keystore: a configuration with a vault entry is readable by this
//! library only (Ruby, Python, C and the command line through it).

use std::path::{Path, PathBuf};

use super::file::{self, FilePolicy};
use super::KeyIo;
use crate::error::{Error, Result};
use crate::key::SecretBytes;

#[cfg(feature = "vault")]
mod auth;
#[cfg(feature = "vault")]
mod client;
#[cfg(feature = "vault")]
mod transit;
#[cfg(feature = "vault")]
pub use auth::{Auth, Secret};
#[cfg(feature = "vault")]
pub use client::VaultSettings;
#[cfg(feature = "vault")]
pub use transit::{KeyInfo, Transit};

/// The transit mount used when an entry names none.
pub const DEFAULT_MOUNT: &str = "transit";

/// The error every vault operation gives in a build without the `vault` feature.
pub const NO_VAULT_SUPPORT: &str = "this entry uses the vault keystore, but this build of \
     symmetric-encryption has no Vault support: rebuild it with the cargo feature `vault` \
     (cargo build --features vault), or use a library built with it";

/// A transit key: the mount of the transit engine and the key's name on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransitKey {
    /// Where the transit engine is mounted (`transit`).
    pub mount: String,
    /// The key's name on that mount.
    pub name: String,
}

impl TransitKey {
    /// The key of an entry: `transit_mount` (default [`DEFAULT_MOUNT`]) and `transit_key`,
    /// checked for the characters Vault allows.
    pub fn new(mount: Option<&str>, name: Option<&str>) -> Result<TransitKey> {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                Error::Config(
                    "the vault keystore needs transit_key: the name of the transit key that wraps \
                 the data key (e.g. symmetric-encryption.my_app.production)"
                        .into(),
                )
            })?;
        let mount = mount
            .map(|m| m.trim().trim_matches('/'))
            .filter(|m| !m.is_empty())
            .unwrap_or(DEFAULT_MOUNT);
        if !valid_name(name) {
            return Err(Error::Config(format!(
                "transit_key {name:?} is not a name Vault accepts: use letters, digits, '_', '-' \
                 and '.', starting and ending with a letter or digit (no '/')"
            )));
        }
        if !mount
            .split('/')
            .all(|part| !part.is_empty() && part.chars().all(safe_path_char))
        {
            return Err(Error::Config(format!(
                "transit_mount {mount:?} is not a mount path: use letters, digits, '_', '-', '.' \
                 and '/'"
            )));
        }
        Ok(TransitKey {
            mount: mount.to_string(),
            name: name.to_string(),
        })
    }

    /// `mount/keys/name`, the path policies and `vault read` name it by.
    pub fn path(&self) -> String {
        format!("{}/keys/{}", self.mount, self.name)
    }
}

impl std::fmt::Display for TransitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (mount {})", self.name, self.mount)
    }
}

fn safe_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Vault's name rule for transit keys: `\w([\w.-]*\w)?`.
fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    name.chars().all(safe_path_char)
        && name.chars().next().is_some_and(word)
        && name.chars().last().is_some_and(word)
}

/// The transit key name the generator uses: `symmetric-encryption.APP.ENV`, app and environment
/// trimmed and in lower case as for the aws alias. Vault key names cannot hold `/`, so the
/// parts are joined with `.`; other characters Vault refuses become `-`.
pub fn transit_key_name(app: &str, env: &str) -> String {
    let part = |s: &str| -> String {
        s.trim()
            .to_lowercase()
            .chars()
            .map(|c| if safe_path_char(c) { c } else { '-' })
            .collect()
    };
    format!("symmetric-encryption.{}.{}", part(app), part(env))
}

/// The app name in a generated transit key name (`symmetric-encryption.APP.ENV`), if it is one.
pub fn app_name_of(transit_key: &str, env: &str) -> Option<String> {
    transit_key
        .strip_prefix("symmetric-encryption.")?
        .strip_suffix(&format!(".{}", env.trim().to_lowercase()))
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// The key file name the generator uses: `APP_ENV_vN.vault_key`.
pub fn key_file_name(app: &str, env: &str, version: u8) -> String {
    format!(
        "{}_{}_v{version}.vault_key",
        app.trim().to_lowercase(),
        env.trim().to_lowercase()
    )
}

/// A wrapped data key: Vault's transit ciphertext `vault:vN:BASE64`.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(String);

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not secret without Vault, but it is a key: show only its version.
        write!(f, "WrappedKey(vault:v{}:...)", self.version())
    }
}

impl WrappedKey {
    /// Parses `vault:vN:...` (surrounding white space ignored); `place` names where it was read
    /// in the error.
    pub fn parse(bytes: &[u8], place: &str) -> Result<WrappedKey> {
        let bad = || {
            Error::Keystore(format!(
                "{place} does not hold a Vault transit ciphertext (vault:vN:...): it is empty or \
                 damaged. Restore it, or generate new keys (--rotate-keys --keystore vault)"
            ))
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad())?.trim();
        let rest = text.strip_prefix("vault:v").ok_or_else(bad)?;
        let (version, body) = rest.split_once(':').ok_or_else(bad)?;
        if version.is_empty()
            || !version.bytes().all(|b| b.is_ascii_digit())
            || body.is_empty()
            || body.contains(char::is_whitespace)
        {
            return Err(bad());
        }
        Ok(WrappedKey(text.to_string()))
    }

    /// The ciphertext as Vault writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The transit key version that wrapped it (the `N` of `vault:vN:`).
    pub fn version(&self) -> u32 {
        self.0
            .strip_prefix("vault:v")
            .and_then(|r| r.split(':').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Where an entry keeps its wrapped key.
#[derive(Debug, Clone, Copy)]
pub enum WrappedSource<'a> {
    /// A key file (`key_filename`), read with the file keystore's checks.
    File(&'a str, &'a FilePolicy),
    /// Inline in the configuration (`encrypted_key`).
    Inline(&'a SecretBytes),
}

impl WrappedSource<'_> {
    /// The source of an entry's fields: the key file if there is one, else the inline value.
    pub fn of<'a>(
        key_filename: Option<&'a str>,
        encrypted_key: Option<&'a SecretBytes>,
        policy: &'a FilePolicy,
    ) -> Result<WrappedSource<'a>> {
        match (key_filename, encrypted_key) {
            (Some(f), _) => Ok(WrappedSource::File(f, policy)),
            (None, Some(k)) => Ok(WrappedSource::Inline(k)),
            (None, None) => Err(Error::Config(
                "the vault keystore needs the wrapped data key: key_filename (a file holding \
                 vault:vN:...) or encrypted_key (the vault:vN:... text itself)"
                    .into(),
            )),
        }
    }

    /// Reads and parses the wrapped key; also returns where it was, for messages.
    pub fn read(&self, io: &KeyIo) -> Result<(WrappedKey, String)> {
        match self {
            WrappedSource::File(name, policy) => {
                let path = io.resolve(Path::new(name));
                let place = format!("vault key file {}", path.display());
                let bytes = file::read_key_file(&path, policy)?;
                Ok((WrappedKey::parse(&bytes, &place)?, place))
            }
            WrappedSource::Inline(bytes) => {
                let place = "encrypted_key".to_string();
                Ok((WrappedKey::parse(bytes, &place)?, place))
            }
        }
    }
}

/// Reads the data key of a vault entry: the wrapped key from its file or the configuration,
/// unwrapped by Vault (`transit/decrypt`).
pub fn read_key(key: &TransitKey, source: WrappedSource<'_>, io: &KeyIo) -> Result<SecretBytes> {
    let (wrapped, place) = source.read(io)?;
    unwrap(key, &wrapped).map_err(|e| e.context(format!("Vault decrypt of {place}")))
}

#[cfg(feature = "vault")]
fn unwrap(key: &TransitKey, wrapped: &WrappedKey) -> Result<SecretBytes> {
    Transit::from_env()?.decrypt(key, wrapped)
}

#[cfg(not(feature = "vault"))]
fn unwrap(_: &TransitKey, _: &WrappedKey) -> Result<SecretBytes> {
    Err(Error::Keystore(NO_VAULT_SUPPORT.into()))
}

/// A new wrapped data key of `len` bytes. With `plaintext`, that key is wrapped (`encrypt`);
/// without, Vault makes one and returns it wrapped only (`datakey/wrapped`: the key never
/// enters this process). Creates the transit key when it is missing; the flag says so.
pub fn new_wrapped_key(
    key: &TransitKey,
    len: usize,
    plaintext: Option<&[u8]>,
) -> Result<(WrappedKey, bool)> {
    #[cfg(feature = "vault")]
    {
        Transit::from_env()?.new_wrapped_key(key, len, plaintext)
    }
    #[cfg(not(feature = "vault"))]
    {
        let _ = (key, len, plaintext);
        Err(Error::Keystore(NO_VAULT_SUPPORT.into()))
    }
}

/// Rotates the transit key, then rewraps every key in `wrapped` with its new version
/// (`rewrap`: the data keys never leave Vault). Returns the new latest version and the
/// rewrapped keys, in order.
pub fn rotate_and_rewrap(
    key: &TransitKey,
    wrapped: &[WrappedKey],
) -> Result<(u32, Vec<WrappedKey>)> {
    #[cfg(feature = "vault")]
    {
        Transit::from_env()?.rotate_and_rewrap(key, wrapped)
    }
    #[cfg(not(feature = "vault"))]
    {
        let _ = (key, wrapped);
        Err(Error::Keystore(NO_VAULT_SUPPORT.into()))
    }
}

/// Writes a wrapped key to its key file (newline-terminated, mode `mode`, an existing file
/// moved aside): the path written and where the previous file went.
pub fn write_key_file(
    name: &str,
    wrapped: &WrappedKey,
    mode: u32,
    io: &KeyIo,
) -> Result<(PathBuf, Option<PathBuf>)> {
    let path = io.resolve(Path::new(name));
    let mut text = wrapped.as_str().as_bytes().to_vec();
    text.push(b'\n');
    let previous = file::write_key_file(&path, &text, mode)?;
    Ok((path, previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_the_aws_alias_without_slashes() {
        assert_eq!(
            transit_key_name(" My_App", "Production "),
            "symmetric-encryption.my_app.production"
        );
        assert_eq!(
            transit_key_name("a b", "x/y"),
            "symmetric-encryption.a-b.x-y"
        );
        assert_eq!(
            app_name_of("symmetric-encryption.my_app.production", "production").as_deref(),
            Some("my_app")
        );
        assert_eq!(app_name_of("other", "production"), None);
        assert_eq!(
            key_file_name("My_App", "production", 3),
            "my_app_production_v3.vault_key"
        );
        let k = TransitKey::new(None, Some(&transit_key_name("app", "prod"))).unwrap();
        assert_eq!(k.path(), "transit/keys/symmetric-encryption.app.prod");
    }

    #[test]
    fn entries_are_checked() {
        let e = TransitKey::new(None, None).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("transit_key"), "{e}");
        let e = TransitKey::new(None, Some("a/b")).unwrap_err();
        assert!(e.to_string().contains("no '/'"), "{e}");
        let e = TransitKey::new(Some("../x y"), Some("k")).unwrap_err();
        assert!(e.to_string().contains("transit_mount"), "{e}");
        let k = TransitKey::new(Some("/team/transit/"), Some("k")).unwrap();
        assert_eq!(k.mount, "team/transit");
        let policy = FilePolicy::default();
        let e = WrappedSource::of(None, None, &policy).unwrap_err();
        assert!(e.to_string().contains("key_filename"), "{e}");
    }

    #[test]
    fn wrapped_keys_are_parsed_and_never_shown() {
        let w = WrappedKey::parse(b" vault:v12:QUJD\n", "x").unwrap();
        assert_eq!(w.version(), 12);
        assert_eq!(w.as_str(), "vault:v12:QUJD");
        assert_eq!(format!("{w:?}"), "WrappedKey(vault:v12:...)");
        for bad in [
            &b""[..],
            b"vault:v1:",
            b"vault:vx:QUJD",
            b"QUJD",
            b"vault:v1:a b",
            b"\xff",
        ] {
            let e = WrappedKey::parse(bad, "key file k").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Keystore);
            assert!(e.to_string().starts_with("key file k does not hold"), "{e}");
        }
    }

    #[test]
    fn inline_keys_are_read_and_bad_files_refused() {
        let inline = SecretBytes::from_slice(b"vault:v1:QUJD");
        let policy = FilePolicy::default();
        let (w, place) = WrappedSource::of(None, Some(&inline), &policy)
            .unwrap()
            .read(&KeyIo::default())
            .unwrap();
        assert_eq!((w.version(), place.as_str()), (1, "encrypted_key"));
        let dir = tempfile::tempdir().unwrap();
        let io = KeyIo {
            base_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let (path, _) = write_key_file("k.vault_key", &w, 0o644, &io).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"vault:v1:QUJD\n");
        // Too open for the default policy: the file keystore's check refuses it.
        let e = read_key(
            &TransitKey::new(None, Some("k")).unwrap(),
            WrappedSource::File("k.vault_key", &policy),
            &io,
        )
        .unwrap_err();
        assert!(e.to_string().contains("0644"), "{e}");
    }
}
