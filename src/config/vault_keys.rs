//! Generating and rotating keys of `vault` entries (see [`super::generate`]): a new data key
//! wrapped by the transit key, and `--rotate-kek` as a transit key rotation plus a `rewrap` of
//! every stored data key, so that the plaintext keys never leave Vault.

use super::generate::{DataKey, DataKeySpec, Notice};
use super::{EntryConfig, EnvironmentConfig};
use crate::error::Result;
use crate::key::SecretBytes;
use crate::keystore::vault::{self, TransitKey, WrappedKey, WrappedSource};
use crate::keystore::{KeyIo, KeystoreKind};

/// The transit key of a vault entry.
pub(super) fn transit_key_of(entry: &EntryConfig) -> Result<TransitKey> {
    TransitKey::new(entry.transit_mount.as_deref(), entry.transit_key.as_deref())
}

/// A new vault entry for `spec`: `dek` wrapped by Vault's `encrypt`, or, without one, a data
/// key made and wrapped by Vault (`datakey/wrapped`). `transit` is the key to use (the current
/// primary's when rotating), default `symmetric-encryption.APP.ENV` on the mount `transit`,
/// created when missing.
pub(super) fn generate_entry(
    spec: &DataKeySpec,
    dek: Option<&DataKey>,
    transit: Option<&TransitKey>,
    io: &KeyIo,
) -> Result<(EntryConfig, Vec<Notice>)> {
    let key = match transit {
        Some(k) => k.clone(),
        None => TransitKey::new(
            None,
            Some(&vault::transit_key_name(&spec.app_name, &spec.environment)),
        )?,
    };
    let name = spec.cipher_name;
    let iv = match dek.and_then(|d| d.iv.clone()) {
        Some(iv) => iv,
        None => SecretBytes::random(name.iv_len())?,
    };
    let (wrapped, created) =
        vault::new_wrapped_key(&key, name.key_len(), dek.map(|d| d.key.as_bytes()))?;
    let mut notices = Vec::new();
    if created {
        notices.push(Notice::TransitKeyCreated { path: key.path() });
    }
    let file_name = spec
        .key_path
        .join(vault::key_file_name(
            &spec.app_name,
            &spec.environment,
            spec.version,
        ))
        .to_string_lossy()
        .into_owned();
    let mode = spec
        .key_permissions
        .as_ref()
        .and_then(|p| p.first().copied())
        .unwrap_or(0o600);
    let (path, previous) = vault::write_key_file(&file_name, &wrapped, mode, io)?;
    notices.push(Notice::KeyFileWritten { path, previous });
    let mut entry = EntryConfig {
        keystore: Some(KeystoreKind::Vault),
        cipher_name: Some(name),
        version: Some(spec.version),
        transit_mount: Some(key.mount.clone()),
        transit_key: Some(key.name.clone()),
        key_filename: Some(file_name),
        iv: Some(iv),
        permissions: spec.key_permissions.clone(),
        ..Default::default()
    };
    entry.set_field_order(&[
        "keystore",
        "cipher_name",
        "version",
        "transit_mount",
        "transit_key",
        "key_filename",
        "iv",
        "permissions",
    ]);
    Ok((entry, notices))
}

/// `--rotate-kek` for an environment whose primary is a vault entry: rotates the primary's
/// transit key, then rewraps the stored key of every entry of the environment wrapped by that
/// transit key (files rewritten, the old ones moved aside; inline keys replaced). Versions,
/// ivs and data keys stay.
pub(super) fn rotate_kek(env: &mut EnvironmentConfig, io: &KeyIo) -> Result<Vec<Notice>> {
    let Some(primary) = env.ciphers.first() else {
        return Ok(Vec::new());
    };
    let key = transit_key_of(primary)?;
    let mut targets: Vec<usize> = Vec::new();
    let mut wrapped: Vec<WrappedKey> = Vec::new();
    for (i, e) in env.ciphers.iter().enumerate() {
        if e.effective_keystore() != Some(KeystoreKind::Vault) || transit_key_of(e)? != key {
            continue;
        }
        let policy = e.file_policy();
        let source =
            WrappedSource::of(e.key_filename.as_deref(), e.encrypted_key.as_ref(), &policy)?;
        let (w, _) = source
            .read(io)
            .map_err(|err| err.context(format!("cipher version {}", e.version_or_default())))?;
        targets.push(i);
        wrapped.push(w);
    }
    let (version, rewrapped) = vault::rotate_and_rewrap(&key, &wrapped)?;
    let mut notices = Vec::new();
    for (i, w) in targets.into_iter().zip(rewrapped) {
        let e = &mut env.ciphers[i];
        match e.key_filename.clone() {
            Some(name) => {
                let mode = e.file_policy().write_mode();
                let (path, previous) = vault::write_key_file(&name, &w, mode, io)?;
                notices.push(Notice::KeyFileWritten { path, previous });
            }
            None => e.encrypted_key = Some(SecretBytes::from_slice(w.as_str().as_bytes())),
        }
    }
    notices.push(Notice::TransitKeyRotated {
        path: key.path(),
        version,
    });
    Ok(notices)
}
