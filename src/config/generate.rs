//! Generating and rotating keys, as functions over a [`Config`]: what the gem's `--generate`,
//! `--rotate-keys`, `--rotate-kek`, `--activate-key` and `--cleanup-keys` do, with the same file
//! layout and names, returning what was done so a command line can print it.
//!
//! Layout per keystore (app `A`, environment `E`, version `N`):
//! - `development` and `test`: the fixed key and iv `1234567890ABCDEF`, aes-128-cbc, version 1.
//!   Not secret, by design: those environments must not need key management.
//! - `file`: the data key in `A_E_vN.encrypted_key`, encrypted by a key-encrypting key whose own
//!   key is in the configuration as `encrypted_key`, encrypted by a third key kept raw in
//!   `A_E_vN.kekek`. Key files are written with the first configured permission (default 0600);
//!   an existing file is renamed to `NAME.<unix time>`, never overwritten.
//! - `environment` and `heroku`: the encrypted data key goes into the variable `A_E_VN`
//!   (upper case, `-` becomes `_`), whose value is printed; the KEK is in the configuration.
//! - `memory`: the encrypted data key is in the configuration, with its KEK.
//! - `aws`: one file per region, `A_E_REGION_vN.encrypted_key`, each the data key encrypted by
//!   the KMS master key `alias/symmetric-encryption/A/E` of that region.
//! - `vault`: `A_E_vN.vault_key`, the data key wrapped by the Vault transit key
//!   `symmetric-encryption.A.E` (mount `transit`), which Vault makes and wraps itself
//!   (`datakey/wrapped`): the plaintext key never enters this process.
//!
//! Nothing here deletes a key file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::resolve;
use super::{Config, EntryConfig, EnvironmentConfig};
use crate::cipher::{Cipher, CipherName};
use crate::error::{Error, Result};
use crate::key::SecretBytes;
use crate::keystore::{aws, environment, file, AwsKeyFile, KeyIo, KeystoreKind};

/// The development and test key and iv (16 ASCII bytes, aes-128-cbc). Not a secret.
pub const DEV_KEY: &str = "1234567890ABCDEF";
/// The app name the gem's command line uses when none is given.
pub const DEFAULT_APP_NAME: &str = "symmetric-encryption";
/// The environments the gem's command line generates when none are given.
pub const DEFAULT_ENVIRONMENTS: [&str; 4] = ["development", "test", "release", "production"];
/// The cipher new keys use when none is given.
pub const DEFAULT_CIPHER: CipherName = CipherName::Aes256Gcm;

/// Where the gem's command line puts key files by default: `~/.symmetric-encryption`.
pub fn default_key_path() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".symmetric-encryption")
}

/// Something the user has to know or do after an operation.
#[derive(Clone, PartialEq, Eq)]
pub enum Notice {
    /// A key file was written; `previous` is where the file it replaced was moved.
    KeyFileWritten {
        /// The key file.
        path: PathBuf,
        /// Where the file it replaced was moved, if there was one.
        previous: Option<PathBuf>,
    },
    /// Set this environment variable wherever the application runs (`environment` keystore).
    SetEnvironmentVariable {
        /// The variable's name.
        name: String,
        /// Its value: the encrypted key, base64 (never a plaintext key).
        value: String,
    },
    /// Add this variable to the Heroku app (`heroku` keystore).
    HerokuConfigAdd {
        /// The variable's name.
        name: String,
        /// Its value: the encrypted key, base64.
        value: String,
    },
    /// The Vault transit key at `path` (`transit/keys/NAME`) did not exist and was created.
    TransitKeyCreated {
        /// Mount and key name.
        path: String,
    },
    /// The Vault transit key at `path` was rotated to `version`, and the stored data keys it
    /// wraps were rewrapped with it.
    TransitKeyRotated {
        /// Mount and key name.
        path: String,
        /// The transit key's new version.
        version: u32,
    },
}

impl fmt::Debug for Notice {
    // The variable values are encrypted keys, but they are still keys: keep them out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::KeyFileWritten { path, previous } => f
                .debug_struct("KeyFileWritten")
                .field("path", path)
                .field("previous", previous)
                .finish(),
            Notice::SetEnvironmentVariable { name, .. } => f
                .debug_struct("SetEnvironmentVariable")
                .field("name", name)
                .finish_non_exhaustive(),
            Notice::HerokuConfigAdd { name, .. } => f
                .debug_struct("HerokuConfigAdd")
                .field("name", name)
                .finish_non_exhaustive(),
            Notice::TransitKeyCreated { path } => f
                .debug_struct("TransitKeyCreated")
                .field("path", path)
                .finish(),
            Notice::TransitKeyRotated { path, version } => f
                .debug_struct("TransitKeyRotated")
                .field("path", path)
                .field("version", version)
                .finish(),
        }
    }
}

impl Notice {
    /// What the gem prints for this notice (the starred block with the `export` or
    /// `heroku config:add` line, ending with a newline), or `None` for what it does silently.
    pub fn gem_output(&self) -> Option<String> {
        match self {
            Notice::SetEnvironmentVariable { name, value } => {
                Some(environment::export_instructions(name, value))
            }
            Notice::HerokuConfigAdd { name, value } => {
                Some(environment::heroku_instructions(name, value))
            }
            Notice::KeyFileWritten { .. }
            | Notice::TransitKeyCreated { .. }
            | Notice::TransitKeyRotated { .. } => None,
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::KeyFileWritten { path, previous } => {
                write!(f, "Key file written: {}", path.display())?;
                if let Some(p) = previous {
                    write!(f, " (the previous one was moved to {})", p.display())?;
                }
                Ok(())
            }
            Notice::TransitKeyCreated { path } => write!(
                f,
                "Vault transit key created: {path} (this needed the policy capability \"create\" \
                 on \"{path}\"; applications need only \"update\" on its decrypt path)"
            ),
            Notice::TransitKeyRotated { path, version } => write!(
                f,
                "Vault transit key {path} rotated to version {version}; the stored data keys it \
                 wraps were rewrapped with it. Once the new key files are on every machine, \
                 raise its min_decryption_version: vault write {path}/config \
                 min_decryption_version={version}"
            ),
            other => f.write_str(&other.gem_output().unwrap_or_default()),
        }
    }
}

/// Versions removed from (or to be removed from) one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The environment's name.
    pub environment: String,
    /// In file order.
    pub versions: Vec<u8>,
}

/// What an operation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Things to tell the user, in order (variables to set, files written).
    pub notices: Vec<Notice>,
    /// Environments changed.
    pub changed: Vec<String>,
    /// Environments left as they were (nothing to do there).
    pub unchanged: Vec<String>,
    /// Versions removed (cleanup).
    pub removed: Vec<Removal>,
    /// Summary lines as the command line prints them (`Rotated: production`).
    pub summary: Vec<String>,
}

/// A data key (and its iv) to put into a keystore.
#[derive(Debug, Clone)]
pub struct DataKey {
    /// The raw key (zeroized when dropped, never printed).
    pub key: SecretBytes,
    /// The raw iv; `None` for a cipher entry without one.
    pub iv: Option<SecretBytes>,
}

impl DataKey {
    /// A random key and iv for `cipher`.
    pub fn random(cipher: CipherName) -> Result<Self> {
        Ok(DataKey {
            key: SecretBytes::random(cipher.key_len())?,
            iv: Some(SecretBytes::random(cipher.iv_len())?),
        })
    }
}

/// What [`generate_data_key`] makes.
#[derive(Debug, Clone)]
pub struct DataKeySpec {
    /// Where the key is kept.
    pub keystore: KeystoreKind,
    /// The new entry's cipher.
    pub cipher_name: CipherName,
    /// The application's name, part of key file and variable names.
    pub app_name: String,
    /// The environment the key is for.
    pub environment: String,
    /// The version of the new entry.
    pub version: u8,
    /// Directory of the key files (file and aws keystores), as written into the configuration.
    pub key_path: PathBuf,
    /// Written as `permissions:`; the first is the mode of new key files (default 0600).
    pub key_permissions: Option<Vec<u32>>,
    /// aws: the regions to write key files for (default [`aws::DEFAULT_REGIONS`]).
    pub regions: Vec<String>,
}

/// Names to reuse instead of the generated ones (rotating a KEK keeps its files and variable).
#[derive(Default)]
struct Names {
    key_filename: Option<String>,
    kekek_filename: Option<String>,
    key_env_var: Option<String>,
    /// vault: the transit key to wrap with (the primary's, when rotating).
    transit: Option<crate::keystore::vault::TransitKey>,
}

fn join(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// Makes a new entry holding `dek` (random if `None`) in the keystore of `spec`, writing key
/// files or printing variables as the keystore needs: the gem's `generate_data_key`.
pub fn generate_data_key(
    spec: &DataKeySpec,
    dek: Option<&DataKey>,
    io: &KeyIo,
) -> Result<(EntryConfig, Vec<Notice>)> {
    generate_with_names(spec, dek, &Names::default(), io)
}

fn generate_with_names(
    spec: &DataKeySpec,
    dek: Option<&DataKey>,
    names: &Names,
    io: &KeyIo,
) -> Result<(EntryConfig, Vec<Notice>)> {
    if spec.keystore == KeystoreKind::Vault {
        return super::vault_keys::generate_entry(spec, dek, names.transit.as_ref(), io);
    }
    let name = spec.cipher_name;
    let base = format!("{}_{}_v{}", spec.app_name, spec.environment, spec.version);
    let mut notices = Vec::new();
    let mut entry = EntryConfig {
        keystore: Some(spec.keystore),
        cipher_name: Some(name),
        version: Some(spec.version),
        ..Default::default()
    };
    let kms_dek;
    let dek = match (dek, spec.keystore) {
        (Some(d), _) => d,
        (None, KeystoreKind::Aws) => {
            let regions = regions(spec);
            let kms = aws::client(io)?;
            let alias = aws::master_key_alias(&spec.app_name, &spec.environment);
            let key = kms
                .generate_data_key(&regions[0], &alias, name.key_len())
                .map_err(|e| {
                    e.context(format!(
                        "KMS GenerateDataKey in region {} (master key {alias})",
                        regions[0]
                    ))
                })?;
            kms_dek = DataKey {
                key,
                iv: Some(SecretBytes::random(name.iv_len())?),
            };
            &kms_dek
        }
        (None, _) => {
            kms_dek = DataKey::random(name)?;
            &kms_dek
        }
    };
    entry.iv = dek.iv.clone();
    let mode = spec
        .key_permissions
        .as_ref()
        .and_then(|p| p.first().copied())
        .unwrap_or(0o600);
    match spec.keystore {
        KeystoreKind::File => {
            let kek = DataKey::random(name)?;
            let kekek = DataKey::random(name)?;
            let kek_cipher = Cipher::new(name, &kek.key, kek.iv.as_deref())?;
            let kekek_cipher = Cipher::new(name, &kekek.key, kekek.iv.as_deref())?;
            let dek_file = names
                .key_filename
                .clone()
                .unwrap_or_else(|| join(&spec.key_path, &format!("{base}.encrypted_key")));
            let kekek_file = names
                .kekek_filename
                .clone()
                .unwrap_or_else(|| join(&spec.key_path, &format!("{base}.kekek")));
            for (file_name, data) in [
                (&dek_file, kek_cipher.kek_encrypt(&dek.key)?),
                (&kekek_file, kekek.key.to_vec()),
            ] {
                let path = io.resolve(Path::new(file_name));
                let previous = file::write_key_file(&path, &data, mode)?;
                notices.push(Notice::KeyFileWritten { path, previous });
            }
            let mut kekek_entry = EntryConfig {
                key_filename: Some(kekek_file),
                iv: kekek.iv.clone(),
                permissions: spec.key_permissions.clone(),
                ..Default::default()
            };
            kekek_entry.set_field_order(&["key_filename", "iv", "permissions"]);
            let mut kek_entry = EntryConfig {
                encrypted_key: Some(SecretBytes::new(kekek_cipher.kek_encrypt(&kek.key)?)),
                iv: kek.iv.clone(),
                key_encrypting_key: Some(Box::new(kekek_entry)),
                ..Default::default()
            };
            kek_entry.set_field_order(&["encrypted_key", "iv", "key_encrypting_key"]);
            entry.key_filename = Some(dek_file);
            entry.key_encrypting_key = Some(Box::new(kek_entry));
            entry.permissions = spec.key_permissions.clone();
            entry.set_field_order(&[
                "keystore",
                "cipher_name",
                "version",
                "key_filename",
                "iv",
                "key_encrypting_key",
                "permissions",
            ]);
        }
        KeystoreKind::Environment | KeystoreKind::Heroku | KeystoreKind::Memory => {
            let kek = DataKey::random(name)?;
            let kek_cipher = Cipher::new(name, &kek.key, kek.iv.as_deref())?;
            let encrypted = kek_cipher.kek_encrypt(&dek.key)?;
            let mut kek_entry = EntryConfig {
                key: Some(kek.key.clone()),
                iv: kek.iv.clone(),
                ..Default::default()
            };
            kek_entry.set_field_order(&["key", "iv"]);
            entry.key_encrypting_key = Some(Box::new(kek_entry));
            if spec.keystore == KeystoreKind::Memory {
                entry.encrypted_key = Some(SecretBytes::new(encrypted));
                entry.set_field_order(&[
                    "keystore",
                    "cipher_name",
                    "version",
                    "encrypted_key",
                    "iv",
                    "key_encrypting_key",
                ]);
            } else {
                let var = names.key_env_var.clone().unwrap_or_else(|| {
                    environment::variable_name(&spec.app_name, &spec.environment, spec.version)
                });
                let value = environment::encode(&encrypted);
                notices.push(if spec.keystore == KeystoreKind::Heroku {
                    Notice::HerokuConfigAdd {
                        name: var.clone(),
                        value,
                    }
                } else {
                    Notice::SetEnvironmentVariable {
                        name: var.clone(),
                        value,
                    }
                });
                entry.key_env_var = Some(var);
                entry.set_field_order(&[
                    "keystore",
                    "cipher_name",
                    "version",
                    "key_env_var",
                    "iv",
                    "key_encrypting_key",
                ]);
            }
        }
        KeystoreKind::Vault => unreachable!("vault entries are made by vault_keys"),
        KeystoreKind::Aws => {
            let alias = aws::master_key_alias(&spec.app_name, &spec.environment);
            let key_files: Vec<AwsKeyFile> = regions(spec)
                .into_iter()
                .map(|region| AwsKeyFile {
                    file_name: join(
                        &spec.key_path,
                        &aws::key_file_name(
                            &spec.app_name,
                            &spec.environment,
                            &region,
                            spec.version,
                        ),
                    ),
                    region,
                })
                .collect();
            for (path, previous) in aws::write_key_files(&key_files, &alias, &dek.key, io)? {
                notices.push(Notice::KeyFileWritten { path, previous });
            }
            entry.master_key_alias = Some(alias);
            entry.key_files = Some(key_files);
            entry.set_field_order(&[
                "keystore",
                "cipher_name",
                "version",
                "master_key_alias",
                "key_files",
                "iv",
            ]);
        }
    }
    Ok((entry, notices))
}

fn regions(spec: &DataKeySpec) -> Vec<String> {
    if spec.regions.is_empty() {
        aws::DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect()
    } else {
        spec.regions.clone()
    }
}

/// The entry `--generate` writes for development and test.
pub fn dev_entry() -> EntryConfig {
    let mut e = EntryConfig {
        key: Some(SecretBytes::from_slice(DEV_KEY.as_bytes())),
        iv: Some(SecretBytes::from_slice(DEV_KEY.as_bytes())),
        cipher_name: Some(CipherName::Aes128Cbc),
        version: Some(1),
        ..Default::default()
    };
    e.set_field_order(&["key", "iv", "cipher_name", "version"]);
    e
}

/// Options of [`generate`]: the gem's `--generate` flags.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// `--keystore` (default file).
    pub keystore: KeystoreKind,
    /// `--app-name` (default `symmetric-encryption`).
    pub app_name: String,
    /// `--environments` (default development, test, release, production).
    pub environments: Vec<String>,
    /// `--cipher-name` (default aes-256-gcm).
    pub cipher_name: CipherName,
    /// `--key-path` (default `~/.symmetric-encryption`).
    pub key_path: PathBuf,
    /// `--key-permissions`: written as `permissions:` and used as the key files' mode.
    pub key_permissions: Option<Vec<u32>>,
    /// `--regions` (aws).
    pub regions: Vec<String>,
    /// Base directory for relative key paths and the KMS client.
    pub io: KeyIo,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            keystore: KeystoreKind::File,
            app_name: DEFAULT_APP_NAME.into(),
            environments: DEFAULT_ENVIRONMENTS.iter().map(|e| e.to_string()).collect(),
            cipher_name: DEFAULT_CIPHER,
            key_path: default_key_path(),
            key_permissions: None,
            regions: Vec::new(),
            io: KeyIo::default(),
        }
    }
}

/// A new configuration with version 1 keys for every environment (`--generate`). Key files are
/// written now; the configuration is returned for the caller to write (see
/// [`generate_file`]).
pub fn generate(opts: &GenerateOptions) -> Result<(Config, Report)> {
    let mut config = Config::new("<generated>");
    config.io = opts.io.clone();
    let mut report = Report::default();
    for env in &opts.environments {
        let entry = if env == "development" || env == "test" {
            dev_entry()
        } else {
            let spec = DataKeySpec {
                keystore: opts.keystore,
                cipher_name: opts.cipher_name,
                app_name: opts.app_name.clone(),
                environment: env.clone(),
                version: 1,
                key_path: opts.key_path.clone(),
                key_permissions: opts.key_permissions.clone(),
                regions: opts.regions.clone(),
            };
            let (entry, notices) = generate_data_key(&spec, None, &opts.io)
                .map_err(|e| e.context(format!("environment {env:?}")))?;
            report.notices.extend(notices);
            entry
        };
        config.set_environment(env.clone(), EnvironmentConfig::new(vec![entry]));
        report.changed.push(env.clone());
    }
    Ok((config, report))
}

/// [`generate`], then writes the configuration to `path`. Refuses (before creating any key) if
/// `path` exists: a configuration holding keys is never overwritten.
pub fn generate_file(path: &Path, opts: &GenerateOptions) -> Result<(Config, Report)> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::Argument(format!(
            "configuration file {} already exists: it is not overwritten. Remove it first, or \
             use --rotate-keys to add new keys to it",
            path.display()
        )));
    }
    let (mut config, mut report) = generate(opts)?;
    config.set_source(path.display().to_string());
    config.write(path)?;
    report.summary.push(format!(
        "New configuration file created at: {}",
        path.display()
    ));
    Ok((config, report))
}

/// Options of [`rotate_keys`]: the gem's `--rotate-keys` flags.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Environments to rotate (empty: all).
    pub environments: Vec<String>,
    /// `--app-name`: used in new key file and variable names.
    pub app_name: String,
    /// `--rolling-deploy`: add the new key second, to be activated by a later deploy.
    pub rolling_deploy: bool,
    /// The keystore of the new key (default: the current primary's).
    pub keystore: Option<KeystoreKind>,
    /// The cipher of the new key (default: the current primary's).
    pub cipher_name: Option<CipherName>,
    /// Directory of new key files (default: that of the primary's key files).
    pub key_path: Option<PathBuf>,
    /// aws: regions for new key files (default: the primary's).
    pub regions: Vec<String>,
}

impl Default for RotateOptions {
    fn default() -> Self {
        RotateOptions {
            environments: Vec::new(),
            app_name: DEFAULT_APP_NAME.into(),
            rolling_deploy: false,
            keystore: None,
            cipher_name: None,
            key_path: None,
            regions: Vec::new(),
        }
    }
}

/// The environments an operation covers: `wanted`, or all; a name not in the file is an error.
fn selected(config: &Config, wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(config
            .environment_names()
            .into_iter()
            .map(str::to_string)
            .collect());
    }
    for w in wanted {
        if !config.environment_names().contains(&w.as_str()) {
            return Err(config.missing_listed_environment(w));
        }
    }
    Ok(config
        .environment_names()
        .into_iter()
        .filter(|n| wanted.iter().any(|w| w == n))
        .map(str::to_string)
        .collect())
}

/// Whether an entry is kept in a keystore the rotation commands manage: one with a
/// key-encrypting key (file, environment, heroku, memory) or in KMS.
fn rotatable(e: &EntryConfig) -> bool {
    e.key.is_none()
        && (e.key_encrypting_key.is_some()
            || matches!(
                e.effective_keystore(),
                Some(KeystoreKind::Aws | KeystoreKind::Vault)
            ))
}

fn dir_of(file_name: &str) -> PathBuf {
    match Path::new(file_name).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Copies the settings a new key must keep from the entry it replaces or follows: encoding and
/// header setting (so the environment keeps one encoding), and key file owner and group.
fn carry_over(old: &EntryConfig, new: &mut EntryConfig) {
    new.always_add_header = new.always_add_header.or(old.always_add_header);
    new.encoding = new.encoding.or(old.encoding);
    if new.keystore == Some(KeystoreKind::File) {
        new.owner = new.owner.clone().or_else(|| old.owner.clone());
        new.group = new.group.clone().or_else(|| old.group.clone());
        let old_kekek = old
            .key_encrypting_key
            .as_ref()
            .and_then(|k| k.key_encrypting_key.as_ref());
        let new_kekek = new
            .key_encrypting_key
            .as_mut()
            .and_then(|k| k.key_encrypting_key.as_mut());
        if let (Some(o), Some(n)) = (old_kekek, new_kekek) {
            n.owner = n.owner.clone().or_else(|| o.owner.clone());
            n.group = n.group.clone().or_else(|| o.group.clone());
        }
    }
}

fn push_summary(report: &mut Report, verb: &str) {
    if !report.changed.is_empty() {
        report
            .summary
            .push(format!("{verb}: {}", report.changed.join(", ")));
    }
    if !report.unchanged.is_empty() {
        report.summary.push(format!(
            "Left unchanged, no keystore to rotate: {}",
            report.unchanged.join(", ")
        ));
    }
}

/// Adds a new data key to every selected environment whose primary is kept in a keystore
/// (`--rotate-keys`): version = the highest version + 1 (after 255 comes 1), first in the list
/// (second with `rolling_deploy`), new key files beside the current ones. Environments whose key
/// is in the file itself (development, test) are left unchanged.
pub fn rotate_keys(config: &mut Config, opts: &RotateOptions) -> Result<Report> {
    let mut report = Report::default();
    let io = config.io.clone();
    let source = config.source.clone();
    for env_name in selected(config, &opts.environments)? {
        let env = config.environment_mut(&env_name)?;
        let Some(primary) = env.ciphers.first().filter(|p| rotatable(p)).cloned() else {
            report.unchanged.push(env_name);
            continue;
        };
        let max = env
            .ciphers
            .iter()
            .map(EntryConfig::version_or_default)
            .max()
            .unwrap_or(0);
        let version = max.checked_add(1).unwrap_or(1);
        if env
            .ciphers
            .iter()
            .any(|c| c.version_or_default() == version)
        {
            return Err(Error::Config(format!(
                "{source}, environment {env_name:?}: the next version after {max} is {version}, \
                 but version {version} is still configured: remove it first (--cleanup-keys), \
                 or renumber the entries"
            )));
        }
        let keystore = opts
            .keystore
            .or(primary.effective_keystore())
            .unwrap_or(KeystoreKind::File);
        let key_path = opts.key_path.clone().unwrap_or_else(|| {
            primary
                .key_filename
                .as_deref()
                .or(primary
                    .key_files
                    .as_ref()
                    .and_then(|f| f.first())
                    .map(|f| f.file_name.as_str()))
                .map(dir_of)
                .unwrap_or_else(default_key_path)
        });
        let regions = if opts.regions.is_empty() {
            primary
                .key_files
                .as_ref()
                .map(|f| f.iter().map(|k| k.region.clone()).collect())
                .unwrap_or_default()
        } else {
            opts.regions.clone()
        };
        let spec = DataKeySpec {
            keystore,
            cipher_name: opts
                .cipher_name
                .unwrap_or_else(|| primary.cipher_name_or_default()),
            app_name: opts.app_name.clone(),
            environment: env_name.clone(),
            version,
            key_path,
            key_permissions: primary.permissions.clone(),
            regions,
        };
        // A new vault key is wrapped by the primary's transit key when that is a vault one.
        let names = Names {
            transit: (keystore == KeystoreKind::Vault
                && primary.effective_keystore() == Some(KeystoreKind::Vault))
            .then(|| super::vault_keys::transit_key_of(&primary))
            .transpose()?,
            ..Default::default()
        };
        let (mut entry, notices) = generate_with_names(&spec, None, &names, &io)
            .map_err(|e| e.context(format!("environment {env_name:?}")))?;
        carry_over(&primary, &mut entry);
        report.notices.extend(notices);
        let at = if opts.rolling_deploy { 1 } else { 0 };
        env.ciphers.insert(at, entry);
        report.changed.push(env_name);
    }
    push_summary(&mut report, "Rotated");
    Ok(report)
}

/// Options of [`rotate_kek`].
#[derive(Debug, Clone)]
pub struct RotateKekOptions {
    /// Environments to rotate (empty: all).
    pub environments: Vec<String>,
    /// `--app-name`: names new files only where the current ones cannot be reused.
    pub app_name: String,
}

impl Default for RotateKekOptions {
    fn default() -> Self {
        RotateKekOptions {
            environments: Vec::new(),
            app_name: DEFAULT_APP_NAME.into(),
        }
    }
}

/// Re-encrypts the current data key of every selected environment under new key-encrypting
/// keys (`--rotate-kek`): the data key, its version and iv stay; the KEK chain, the stored
/// encrypted key and the KEKEK are new. Key files keep their names (the old ones are moved to
/// `NAME.<unix time>`); an environment variable keeps its name and gets a new value (printed).
pub fn rotate_kek(config: &mut Config, opts: &RotateKekOptions) -> Result<Report> {
    let mut report = Report::default();
    let io = config.io.clone();
    let source = config.source.clone();
    for env_name in selected(config, &opts.environments)? {
        let env = config.environment_mut(&env_name)?;
        if env.primary().and_then(EntryConfig::effective_keystore) == Some(KeystoreKind::Vault) {
            let place = format!("{source}, environment {env_name:?}");
            let notices = super::vault_keys::rotate_kek(env, &io).map_err(|e| e.context(&place))?;
            report.notices.extend(notices);
            report.changed.push(env_name);
            continue;
        }
        // A pre-v4 RSA key is no key-encrypting-key chain to rotate: --rotate-keys moves off it.
        let rsa = env.legacy_rsa;
        let Some(primary) = env
            .ciphers
            .first()
            .filter(|p| p.key.is_none() && p.key_encrypting_key.is_some())
            .filter(|p| !rsa && p.rsa_pem().is_none())
            .cloned()
        else {
            report.unchanged.push(env_name);
            continue;
        };
        let place = format!("{source}, environment {env_name:?}, {}", primary.label());
        let keystore = primary
            .effective_keystore()
            .ok_or_else(|| Error::Config(format!("{place}: no keystore")))?;
        let current = resolve::resolve(&primary, CipherName::Aes256Cbc, &io, None)
            .map_err(|e| e.context(&place))?;
        let dek = DataKey {
            key: current.key,
            iv: current.iv,
        };
        let names = Names {
            key_filename: primary.key_filename.clone(),
            kekek_filename: primary
                .key_encrypting_key
                .as_ref()
                .and_then(|k| k.key_encrypting_key.as_ref())
                .and_then(|k| k.key_filename.clone()),
            key_env_var: primary.key_env_var.clone(),
            transit: None,
        };
        let spec = DataKeySpec {
            keystore,
            cipher_name: current.name,
            app_name: opts.app_name.clone(),
            environment: env_name.clone(),
            version: primary.version_or_default(),
            key_path: primary
                .key_filename
                .as_deref()
                .map(dir_of)
                .unwrap_or_else(default_key_path),
            key_permissions: primary.permissions.clone(),
            regions: Vec::new(),
        };
        let (mut entry, notices) =
            generate_with_names(&spec, Some(&dek), &names, &io).map_err(|e| e.context(&place))?;
        if primary.version.is_none() {
            entry.version = None;
        }
        carry_over(&primary, &mut entry);
        report.notices.extend(notices);
        env.ciphers[0] = entry;
        report.changed.push(env_name);
    }
    push_summary(&mut report, "Rotated");
    Ok(report)
}

/// Makes the entry with the highest version the primary in every selected environment
/// (`--activate-key`), after a rolling deploy has put the new key on every machine.
pub fn activate_key(config: &mut Config, environments: &[String]) -> Result<Report> {
    let mut report = Report::default();
    for env_name in selected(config, environments)? {
        let env = config.environment_mut(&env_name)?;
        let highest = env
            .ciphers
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (c.version_or_default(), std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        match highest {
            Some(i) if i > 0 => {
                let entry = env.ciphers.remove(i);
                let v = entry.version_or_default();
                env.ciphers.insert(0, entry);
                report
                    .summary
                    .push(format!("{env_name}: version {v} is now the primary"));
                report.changed.push(env_name);
            }
            _ => report.unchanged.push(env_name),
        }
    }
    Ok(report)
}

/// What [`cleanup_keys`] would remove: every entry but the one with the highest version, per
/// selected environment with more than one.
pub fn cleanup_plan(config: &Config, environments: &[String]) -> Result<Vec<Removal>> {
    let mut plan = Vec::new();
    for env_name in selected(config, environments)? {
        let env = config.environment(&env_name)?;
        let Some(keep) = highest_index(env) else {
            continue;
        };
        let versions: Vec<u8> = env
            .ciphers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != keep)
            .map(|(_, c)| c.version_or_default())
            .collect();
        if !versions.is_empty() {
            plan.push(Removal {
                environment: env_name,
                versions,
            });
        }
    }
    Ok(plan)
}

fn highest_index(env: &EnvironmentConfig) -> Option<usize> {
    env.ciphers
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (c.version_or_default(), std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

/// The warning the command line shows before [`cleanup_keys`] (and asks to confirm on a
/// terminal).
pub fn cleanup_warning(config_label: &str, plan: &[Removal]) -> String {
    let count: usize = plan.iter().map(|r| r.versions.len()).sum();
    let mut out = format!("About to remove {count} encryption key(s) from {config_label}:\n");
    for r in plan {
        out.push_str(&format!(
            "  {}: version {}\n",
            r.environment,
            join_versions(&r.versions)
        ));
    }
    out.push_str(
        "Any data encrypted with a key that is removed can no longer be decrypted. A key that is\n\
         there to encrypt different data, rather than being an earlier generation of the same key,\n\
         looks exactly the same from here.\n",
    );
    out
}

fn join_versions(v: &[u8]) -> String {
    v.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

/// Keeps only the entry with the highest version in every selected environment
/// (`--cleanup-keys`). Key files and variables are left alone: the removed keys stay
/// recoverable from them.
pub fn cleanup_keys(config: &mut Config, environments: &[String]) -> Result<Report> {
    let plan = cleanup_plan(config, environments)?;
    let mut report = Report::default();
    for removal in plan {
        let env = config.environment_mut(&removal.environment)?;
        if let Some(keep) = highest_index(env) {
            let kept = env.ciphers.remove(keep);
            env.ciphers = vec![kept];
        }
        report.summary.push(format!(
            "{}: removed {}",
            removal.environment,
            join_versions(&removal.versions)
        ));
        report.changed.push(removal.environment.clone());
        report.removed.push(removal);
    }
    Ok(report)
}
