//! Resolving an entry's key (SPEC section 7): walk the `key_encrypting_key` chain to the end,
//! read each level's stored key from its keystore and decrypt it with the level above.
//!
//! The pre-v4 RSA forms are read as the gem reads them: an environment's `private_rsa_key`
//! applies to each of its entries, a PEM string as `key_encrypting_key` is that entry's own
//! (and wins); the RSA key then decrypts the stored key (`encrypted_key` is base64 here, a key
//! file holds raw RSA ciphertext), and the iv comes from `encrypted_iv` (base64) or the raw
//! file `iv_filename`. A `key` in the file is used as it is.

use std::path::Path;

use super::EntryConfig;
use crate::cipher::{Cipher, CipherName};
use crate::crypto::legacy_rsa::RsaPrivateKey;
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::key::SecretBytes;
use crate::keystore::vault::{TransitKey, WrappedSource};
use crate::keystore::{aws, environment, file, memory, vault, KeyIo, KeystoreKind};

/// An entry's cipher name, key and iv, resolved.
pub(crate) struct Resolved {
    pub name: CipherName,
    pub key: SecretBytes,
    pub iv: Option<SecretBytes>,
}

/// Resolves `entry`. `inherited` is the cipher name of the entry this one is the KEK of (a KEK
/// inherits only the cipher name), or aes-256-cbc at the top.
/// `env_rsa` is the environment's `private_rsa_key` (pre-v4), which applies to its entries.
pub(crate) fn resolve(
    entry: &EntryConfig,
    inherited: CipherName,
    io: &KeyIo,
    env_rsa: Option<&str>,
) -> Result<Resolved> {
    resolve_level(entry, inherited, io, 0, env_rsa)
}

/// Resolves the entry `level` steps up the chain (0: the data key's entry). An error of this
/// level names the level in words; errors from the levels above come back as they are (each
/// names its own level once).
fn resolve_level(
    entry: &EntryConfig,
    inherited: CipherName,
    io: &KeyIo,
    level: usize,
    env_rsa: Option<&str>,
) -> Result<Resolved> {
    let here = |e: Error| at_level(e, level);
    if let Some(pem) = entry.rsa_pem().or(env_rsa) {
        return resolve_rsa(entry, inherited, io, pem).map_err(here);
    }
    if let Some(field) = ["encrypted_iv", "iv_filename"]
        .into_iter()
        .find(|f| entry.extra_text(f).is_some())
    {
        return Err(here(Error::Config(format!(
            "{field} holds an RSA-encrypted iv, but neither this entry (key_encrypting_key) nor \
             its environment (private_rsa_key) gives the RSA private key that decrypts it: add \
             the key, or replace {field} with the iv itself (iv:)"
        ))));
    }
    let name = entry.cipher_name.unwrap_or(inherited);
    let key = match &entry.key {
        Some(k) => k.clone(),
        None => {
            let kind = entry.effective_keystore().ok_or_else(|| {
                here(Error::Config(
                    "no key: give key (development and test only), or say where the key is: \
                     key_filename (file keystore), key_env_var (environment), encrypted_key \
                     (memory), key_files (aws) or transit_key (vault)"
                        .into(),
                ))
            })?;
            let kek = match &entry.key_encrypting_key {
                Some(k) => Some(kek_cipher(k, name, io, level + 1)?),
                None => None,
            };
            let stored = read_stored(entry, kind, io).map_err(here)?;
            match kek {
                Some(kek) => kek.kek_decrypt(&stored).map_err(|e| {
                    here(Error::Keystore(format!(
                        "the key from {} does not decrypt with its key_encrypting_key ({e}): the \
                         stored key and this configuration do not belong together (a variable or \
                         key file of another environment, version or application?)",
                        describe(entry, kind, io)
                    )))
                })?,
                None => stored,
            }
        }
    };
    Ok(Resolved {
        name,
        key,
        iv: entry.iv.clone(),
    })
}

/// An entry protected by an RSA key (the pre-v4 formats).
fn resolve_rsa(
    entry: &EntryConfig,
    inherited: CipherName,
    io: &KeyIo,
    pem: &str,
) -> Result<Resolved> {
    let name = entry.cipher_name.unwrap_or(inherited);
    let rsa = RsaPrivateKey::from_pem(pem)?;
    let mut iv = entry.iv.clone();
    if let Some(b64) = entry.extra_text("encrypted_iv") {
        let ct = Encoding::Base64.decode(b64.as_bytes())?;
        iv = Some(rsa.decrypt(&ct).map_err(|e| e.context("encrypted_iv"))?);
    }
    if let Some(name) = entry.extra_text("iv_filename") {
        let path = io.resolve(Path::new(name));
        let ct = std::fs::read(&path).map_err(|e| {
            Error::Keystore(format!(
                "cannot read the iv file {} (iv_filename): {e}",
                path.display()
            ))
        })?;
        iv = Some(
            rsa.decrypt(&ct)
                .map_err(|e| e.context(format!("iv file {}", path.display())))?,
        );
    }
    let key = match &entry.key {
        Some(k) => k.clone(),
        None => {
            let kind = entry.effective_keystore().ok_or_else(|| {
                Error::Config(
                    "no key: an entry with an RSA private key needs encrypted_key (base64 of \
                     the RSA-encrypted key) or key_filename (a file of RSA-encrypted bytes)"
                        .into(),
                )
            })?;
            let stored = match (kind, &entry.encrypted_key) {
                // Pre-v4 files hold the RSA ciphertext as base64 text, not !binary.
                (KeystoreKind::Memory, Some(text)) => {
                    SecretBytes::new(Encoding::Base64.decode(text.as_bytes())?)
                }
                _ => read_stored(entry, kind, io)?,
            };
            rsa.decrypt(&stored)
                .map_err(|e| e.context(describe(entry, kind, io)))?
        }
    };
    Ok(Resolved { name, key, iv })
}

fn kek_cipher(
    entry: &EntryConfig,
    inherited: CipherName,
    io: &KeyIo,
    level: usize,
) -> Result<Cipher> {
    let r = resolve_level(entry, inherited, io, level, None)?;
    Cipher::new(r.name, &r.key, r.iv.as_deref()).map_err(|e| at_level(e, level))
}

/// Puts the chain level before an error of that level, in words.
fn at_level(e: Error, level: usize) -> Error {
    match level {
        0 => e,
        1 => e.context("its key_encrypting_key (the key that encrypts the data key)"),
        2 => e.context(
            "the key_encrypting_key of its key_encrypting_key (two levels above the data key)",
        ),
        n => e.context(format!(
            "the key_encrypting_key {n} levels above the data key"
        )),
    }
}

/// Where `entry`'s stored key comes from, for messages.
fn describe(entry: &EntryConfig, kind: KeystoreKind, io: &KeyIo) -> String {
    match kind {
        KeystoreKind::File => format!(
            "key file {}",
            io.resolve(Path::new(entry.key_filename.as_deref().unwrap_or("?")))
                .display()
        ),
        KeystoreKind::Environment | KeystoreKind::Heroku => format!(
            "environment variable {}",
            entry.key_env_var.as_deref().unwrap_or("?")
        ),
        KeystoreKind::Memory => "encrypted_key".into(),
        KeystoreKind::Aws => "AWS KMS".into(),
        KeystoreKind::Vault => format!(
            "Vault transit key {}",
            entry.transit_key.as_deref().unwrap_or("?")
        ),
    }
}

/// The stored bytes of `entry` from keystore `kind`.
pub(crate) fn read_stored(
    entry: &EntryConfig,
    kind: KeystoreKind,
    io: &KeyIo,
) -> Result<SecretBytes> {
    match kind {
        KeystoreKind::File => {
            let name = entry
                .key_filename
                .as_deref()
                .ok_or_else(|| Error::Config("the file keystore needs key_filename".into()))?;
            file::read_key_file(&io.resolve(Path::new(name)), &entry.file_policy())
        }
        KeystoreKind::Memory => memory::read_key(entry.encrypted_key.as_ref()),
        KeystoreKind::Environment | KeystoreKind::Heroku => {
            let var = entry
                .key_env_var
                .as_deref()
                .ok_or_else(|| Error::Config(format!("the {kind} keystore needs key_env_var")))?;
            environment::read_key(var)
        }
        KeystoreKind::Aws => aws::read_key(
            entry.master_key_alias.as_deref(),
            entry.key_files.as_deref().unwrap_or(&[]),
            entry.region.as_deref(),
            io,
        ),
        KeystoreKind::Vault => {
            let key =
                TransitKey::new(entry.transit_mount.as_deref(), entry.transit_key.as_deref())?;
            let policy = entry.file_policy();
            let source = WrappedSource::of(
                entry.key_filename.as_deref(),
                entry.encrypted_key.as_ref(),
                &policy,
            )?;
            vault::read_key(&key, source, io)
        }
    }
}
