//! The gem's configuration file (`config/symmetric-encryption.yml`, SPEC section 7): ERB, then
//! YAML, then a model of environments and cipher entries, then the keys they name.
//!
//! ```no_run
//! use symmetric_encryption::config::Config;
//! use symmetric_encryption::Context;
//!
//! // What the gem does: the file from SYMMETRIC_ENCRYPTION_CONFIG or
//! // config/symmetric-encryption.yml, the environment from SYMMETRIC_ENCRYPTION_ENV, RACK_ENV,
//! // RAILS_ENV, else "development".
//! let ctx = Context::load(None, None)?;
//!
//! // Or step by step, with the parsed model in hand.
//! let config = Config::from_path("config/symmetric-encryption.yml".as_ref())?;
//! let production = config.context(Some("production"))?;
//! # Ok::<(), symmetric_encryption::Error>(())
//! ```
//!
//! Errors name the file, the environment and the entry:
//! `config/symmetric-encryption.yml, environment "production", cipher version 2: ...`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cipher::{Cipher, CipherName};
use crate::context::Context;
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::key::SecretBytes;
use crate::keystore::{
    self, file::parse_mode, AwsKeyFile, FilePolicy, KeyIo, KeystoreKind, KmsClient, Principal,
};

pub mod erb;
pub mod generate;
mod resolve;
mod vault_keys;
pub mod writer;
pub(crate) mod yaml;

use yaml::Node;

/// Where the gem looks for its configuration when `SYMMETRIC_ENCRYPTION_CONFIG` is not set.
pub const DEFAULT_CONFIG_PATH: &str = "config/symmetric-encryption.yml";

/// The environment used when no variable names one.
pub const DEFAULT_ENVIRONMENT: &str = "development";

pub(crate) fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The configuration file the gem would load: `SYMMETRIC_ENCRYPTION_CONFIG`, else
/// `config/symmetric-encryption.yml` (relative to the working directory).
pub fn default_path() -> PathBuf {
    non_empty_var("SYMMETRIC_ENCRYPTION_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

/// The environment the gem would use: `SYMMETRIC_ENCRYPTION_ENV`, else `RACK_ENV`, else
/// `RAILS_ENV`, else `development`.
pub fn default_environment() -> String {
    ["SYMMETRIC_ENCRYPTION_ENV", "RACK_ENV", "RAILS_ENV"]
        .iter()
        .find_map(|v| non_empty_var(v))
        .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string())
}

/// A parsed configuration file: environments in file order, each a list of cipher entries.
///
/// Parsing never reads keys; [`Config::context`] does, for one environment. An environment that
/// cannot be understood does not stop the others from loading (the gem only looks at the one it
/// needs): its error is reported when it is used, and it is written back unchanged.
#[derive(Clone)]
pub struct Config {
    source: String,
    environments: Vec<(String, EnvSlot)>,
    io: KeyIo,
}

#[derive(Clone, Debug)]
enum EnvSlot {
    Parsed(EnvironmentConfig),
    Invalid { node: Node, error: String },
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("source", &self.source)
            .field("environments", &self.environments)
            .field("io", &self.io)
            .finish()
    }
}

/// One environment: its cipher entries, the first of which (the primary) encrypts.
#[derive(Clone, Default, PartialEq)]
pub struct EnvironmentConfig {
    /// The cipher entries, primary first.
    pub ciphers: Vec<EntryConfig>,
    /// Written without `ciphers:` (one entry inline, the pre-v4 layout).
    legacy_inline: bool,
    /// An environment-level `private_rsa_key` (the pre-v4 RSA layout).
    legacy_rsa: bool,
    /// Other keys of the environment mapping, kept for writing back.
    extra: Vec<(String, Node)>,
}

impl fmt::Debug for EnvironmentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvironmentConfig")
            .field("ciphers", &self.ciphers)
            .field("legacy_inline", &self.legacy_inline)
            .field("legacy_rsa", &self.legacy_rsa)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl EnvironmentConfig {
    /// An environment with these entries.
    pub fn new(ciphers: Vec<EntryConfig>) -> Self {
        EnvironmentConfig {
            ciphers,
            ..Default::default()
        }
    }

    /// The entry that encrypts.
    pub fn primary(&self) -> Option<&EntryConfig> {
        self.ciphers.first()
    }

    /// Whether the file wrote this environment's single cipher inline (no `ciphers:` list).
    pub fn is_legacy_inline(&self) -> bool {
        self.legacy_inline
    }

    /// Whether the environment uses the pre-v4 RSA format anywhere (it loads; `--migrate` does
    /// not rewrite it).
    pub fn uses_legacy_rsa(&self) -> bool {
        self.legacy_rsa
            || self
                .ciphers
                .iter()
                .any(|c| !c.legacy_rsa_markers().is_empty())
    }
}

/// One cipher entry as written in the file. `None` means "not in the file" (the gem's default
/// applies; see the accessors). Key material is never shown by `Debug`.
#[derive(Clone, Default, PartialEq)]
pub struct EntryConfig {
    /// `cipher_name` (or the legacy `cipher`). Default aes-256-cbc, or, in a
    /// `key_encrypting_key`, the parent's.
    pub cipher_name: Option<CipherName>,
    /// `version`, default 0.
    pub version: Option<u8>,
    /// `always_add_header`, default true.
    pub always_add_header: Option<bool>,
    /// `encoding`, default base64strict.
    pub encoding: Option<Encoding>,
    /// `key`: the raw key, in the file (development and test only, or a KEK).
    pub key: Option<SecretBytes>,
    /// `iv`.
    pub iv: Option<SecretBytes>,
    /// `keystore`. When absent it is inferred from the fields present.
    pub keystore: Option<KeystoreKind>,
    /// `key_filename` (file keystore).
    pub key_filename: Option<String>,
    /// `key_env_var` (environment and heroku keystores).
    pub key_env_var: Option<String>,
    /// `encrypted_key` (memory keystore).
    pub encrypted_key: Option<SecretBytes>,
    /// `key_encrypting_key`: the entry whose key decrypts this one's stored key.
    pub key_encrypting_key: Option<Box<EntryConfig>>,
    /// `permissions`: allowed key file modes (file keystore). Default 0600 or 0400.
    pub permissions: Option<Vec<u32>>,
    /// `owner`: allowed key file owners (file keystore). Default: the current user.
    pub owner: Option<Vec<Principal>>,
    /// `group`: allowed key file groups (file keystore). Default: any.
    pub group: Option<Vec<Principal>>,
    /// `master_key_alias` (aws keystore).
    pub master_key_alias: Option<String>,
    /// `key_files` (aws keystore).
    pub key_files: Option<Vec<AwsKeyFile>>,
    /// `region` (aws keystore). Default: `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// `transit_mount` (vault keystore). Default `transit`.
    pub transit_mount: Option<String>,
    /// `transit_key` (vault keystore): the transit key that wraps the data key.
    pub transit_key: Option<String>,
    /// Markers of the pre-v4 RSA format found in this entry.
    legacy_rsa: Vec<&'static str>,
    /// Field names in the order the file (or the generator) wrote them.
    order: Vec<String>,
    /// Fields this library does not use, kept for writing back.
    extra: Vec<(String, Node)>,
}

impl fmt::Debug for EntryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryConfig")
            .field("cipher_name", &self.cipher_name)
            .field("version", &self.version)
            .field("always_add_header", &self.always_add_header)
            .field("encoding", &self.encoding)
            .field("key", &self.key)
            .field("iv", &self.iv)
            .field("keystore", &self.keystore)
            .field("key_filename", &self.key_filename)
            .field("key_env_var", &self.key_env_var)
            .field("encrypted_key", &self.encrypted_key)
            .field("key_encrypting_key", &self.key_encrypting_key)
            .field("permissions", &self.permissions)
            .field("owner", &self.owner)
            .field("group", &self.group)
            .field("master_key_alias", &self.master_key_alias)
            .field("key_files", &self.key_files)
            .field("region", &self.region)
            .field("transit_mount", &self.transit_mount)
            .field("transit_key", &self.transit_key)
            .field("legacy_rsa", &self.legacy_rsa)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl EntryConfig {
    /// The cipher, with the gem's default (aes-256-cbc) for a top-level entry.
    pub fn cipher_name_or_default(&self) -> CipherName {
        self.cipher_name.unwrap_or(CipherName::Aes256Cbc)
    }

    /// The version, default 0.
    pub fn version_or_default(&self) -> u8 {
        self.version.unwrap_or(0)
    }

    /// The keystore the key is read from: `keystore` if given, else by field (`encrypted_key`
    /// -> memory, `key_filename` -> file, `key_env_var` -> environment, `key_files` -> aws,
    /// `transit_key` -> vault). `None` when the key is in the file (`key`) or nothing says where
    /// it is.
    pub fn effective_keystore(&self) -> Option<KeystoreKind> {
        if self.key.is_some() {
            return None;
        }
        self.keystore.or(if self.transit_key.is_some() {
            Some(KeystoreKind::Vault)
        } else if self.encrypted_key.is_some() {
            Some(KeystoreKind::Memory)
        } else if self.key_filename.is_some() {
            Some(KeystoreKind::File)
        } else if self.key_env_var.is_some() {
            Some(KeystoreKind::Environment)
        } else if self.key_files.is_some() || self.master_key_alias.is_some() {
            Some(KeystoreKind::Aws)
        } else {
            None
        })
    }

    /// The checks a key file of this entry must pass.
    pub fn file_policy(&self) -> FilePolicy {
        FilePolicy {
            permissions: self
                .permissions
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| keystore::file::DEFAULT_PERMISSIONS.to_vec()),
            owner: self.owner.clone().unwrap_or_default(),
            group: self.group.clone().unwrap_or_default(),
        }
    }

    /// The pre-v4 RSA fields found in this entry (`private_rsa_key`, `encrypted_iv`,
    /// `iv_filename`, a PEM `key_encrypting_key`). Such entries load (the RSA key decrypts their
    /// key and iv) and are written back unchanged.
    pub fn legacy_rsa_markers(&self) -> &[&'static str] {
        &self.legacy_rsa
    }

    /// The text of a field kept as written (one this model does not parse), if it is a string.
    pub(crate) fn extra_text(&self, name: &str) -> Option<&str> {
        self.extra.iter().find_map(|(k, v)| match v {
            Node::Str(s) if k == name => Some(s.as_str()),
            _ => None,
        })
    }

    /// This entry's own RSA private key: a PEM `key_encrypting_key` (which the gem prefers), else
    /// an entry-level `private_rsa_key`.
    pub(crate) fn rsa_pem(&self) -> Option<&str> {
        self.extra_text("key_encrypting_key")
            .or_else(|| self.extra_text("private_rsa_key"))
    }

    /// Names of fields in the file that this library does not use (kept when writing back).
    pub fn unknown_fields(&self) -> impl Iterator<Item = &str> {
        self.extra.iter().map(|(k, _)| k.as_str())
    }

    /// Sets the order the writer puts fields in (names as in the file). Fields not named are
    /// written after these, in the generator's order.
    pub fn set_field_order(&mut self, fields: &[&str]) {
        self.order = fields.iter().map(|f| f.to_string()).collect();
    }

    /// Resolves this entry's key chain and builds its cipher.
    pub fn cipher(&self, io: &KeyIo) -> Result<Cipher> {
        self.cipher_with_rsa(io, None)
    }

    /// As [`EntryConfig::cipher`], for an entry of an environment that has a pre-v4
    /// `private_rsa_key` (given here as its PEM text).
    pub fn cipher_with_rsa(&self, io: &KeyIo, env_rsa: Option<&str>) -> Result<Cipher> {
        let r = resolve::resolve(self, CipherName::Aes256Cbc, io, env_rsa)?;
        Ok(Cipher::new(r.name, &r.key, r.iv.as_deref())?
            .with_version(self.version_or_default())
            .with_encoding(self.encoding.unwrap_or_default())
            .with_always_add_header(self.always_add_header.unwrap_or(true)))
    }

    /// How this entry is named in messages: `cipher version 2`.
    fn label(&self) -> String {
        format!("cipher version {}", self.version_or_default())
    }
}

impl Config {
    /// An empty configuration; `source` names it in messages.
    pub fn new(source: impl Into<String>) -> Self {
        Config {
            source: source.into(),
            environments: Vec::new(),
            io: KeyIo::default(),
        }
    }

    /// Reads, ERB-renders and parses a configuration file. Keys are not read yet. A file
    /// larger than [`MAX_CONFIG_BYTES`] is refused after reading one byte past the limit.
    pub fn from_path(path: &Path) -> Result<Config> {
        let text = read_capped(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Config(format!(
                    "configuration file {} not found: give its path, set \
                     SYMMETRIC_ENCRYPTION_CONFIG, or create one with symmetric-encryption \
                     --generate",
                    path.display()
                ))
            } else {
                Error::io(
                    format!("cannot read configuration file {}", path.display()),
                    e,
                )
            }
        })?;
        check_size(text.len(), &path.display().to_string())?;
        let text = zeroize::Zeroizing::new(String::from_utf8(text).map_err(|_| {
            Error::Config(format!(
                "configuration file {} is not UTF-8 text",
                path.display()
            ))
        })?);
        Config::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses configuration text (ERB first, reading the process environment). `source` names
    /// it in messages, e.g. the file name.
    /// Text larger than [`MAX_CONFIG_BYTES`] (before or after ERB) is refused at once.
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Config> {
        check_size(text.len(), source)?;
        let rendered =
            zeroize::Zeroizing::new(erb::render(text, source, &|name| std::env::var(name).ok())?);
        check_size(rendered.len(), source)?;
        let node = yaml::parse(&rendered, source)?;
        Config::from_node(node, source)
    }

    fn from_node(node: Node, source: &str) -> Result<Config> {
        let mut config = Config::new(source);
        let pairs = match node {
            Node::Null => Vec::new(),
            Node::Map(pairs) => pairs,
            other => {
                return Err(Error::Config(format!(
                    "{source}: the file must be a mapping of environment names (development, \
                     production...) to their settings, but it is {}",
                    other.kind()
                )))
            }
        };
        for (k, v) in pairs {
            let Some(name) = k.key_name() else {
                return Err(Error::Config(format!(
                    "{source}: environment names must be plain words, found {}",
                    k.kind()
                )));
            };
            let slot = match parse_environment(&v) {
                Ok(env) => EnvSlot::Parsed(env),
                Err(error) => EnvSlot::Invalid { node: v, error },
            };
            match config.environments.iter_mut().find(|(n, _)| *n == name) {
                Some(existing) => existing.1 = slot,
                None => config.environments.push((name, slot)),
            }
        }
        Ok(config)
    }

    /// What messages call this configuration (usually its path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renames the configuration in messages.
    pub fn set_source(&mut self, source: impl Into<String>) {
        self.source = source.into();
    }

    /// The environment names, in file order.
    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// One environment, or a config error saying it is missing (listing the ones present) or
    /// why it could not be understood.
    pub fn environment(&self, name: &str) -> Result<&EnvironmentConfig> {
        match self.environments.iter().find(|(n, _)| n == name) {
            Some((_, EnvSlot::Parsed(env))) => Ok(env),
            Some((_, EnvSlot::Invalid { error, .. })) => Err(Error::Config(format!(
                "{}, environment {name:?}: {error}",
                self.source
            ))),
            None => Err(self.missing_environment(name)),
        }
    }

    /// One environment, to change it.
    pub fn environment_mut(&mut self, name: &str) -> Result<&mut EnvironmentConfig> {
        let source = self.source.clone();
        let missing = self.missing_environment(name);
        match self.environments.iter_mut().find(|(n, _)| n == name) {
            Some((_, EnvSlot::Parsed(env))) => Ok(env),
            Some((_, EnvSlot::Invalid { error, .. })) => Err(Error::Config(format!(
                "{source}, environment {name:?}: {error}"
            ))),
            None => Err(missing),
        }
    }

    /// "Not found" for a name given in `--environments` (or the options that mirror it): the
    /// advice is to name environments of the file, not to set variables.
    pub(crate) fn missing_listed_environment(&self, name: &str) -> Error {
        let names = self.environment_names();
        Error::Config(format!(
            "{}: environment {name:?}, given in --environments, is not in the file (it has {}): \
             list only environments of the file, comma separated, or leave --environments out \
             to cover them all",
            self.source,
            if names.is_empty() {
                "no environments".to_string()
            } else {
                names.join(", ")
            }
        ))
    }

    fn missing_environment(&self, name: &str) -> Error {
        let names = self.environment_names();
        Error::Config(format!(
            "{}: environment {name:?} not found (the file has {}). Choose the environment with \
             SYMMETRIC_ENCRYPTION_ENV, RACK_ENV or RAILS_ENV, or pass it explicitly",
            self.source,
            if names.is_empty() {
                "no environments".to_string()
            } else {
                names.join(", ")
            }
        ))
    }

    /// Adds an environment at the end, or replaces the one with that name in place.
    pub fn set_environment(&mut self, name: impl Into<String>, env: EnvironmentConfig) {
        let name = name.into();
        match self.environments.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = EnvSlot::Parsed(env),
            None => self.environments.push((name, EnvSlot::Parsed(env))),
        }
    }

    /// Removes an environment; returns whether it was there.
    pub fn remove_environment(&mut self, name: &str) -> bool {
        let before = self.environments.len();
        self.environments.retain(|(n, _)| n != name);
        before != self.environments.len()
    }

    /// How key material is reached: the base directory of relative key paths and the KMS
    /// client.
    pub fn key_io(&self) -> &KeyIo {
        &self.io
    }

    /// Resolves relative key paths against `dir` instead of the working directory.
    pub fn with_key_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.io.base_dir = Some(dir.into());
        self
    }

    /// Uses `client` for the aws keystore instead of the built-in one.
    pub fn with_kms_client(mut self, client: Arc<dyn KmsClient>) -> Self {
        self.io.kms = Some(client);
        self
    }

    /// Replaces the key access settings.
    pub fn set_key_io(&mut self, io: KeyIo) {
        self.io = io;
    }

    /// Reads the keys of `env` and builds its ciphers, primary first.
    pub fn ciphers(&self, env: &str) -> Result<Vec<Cipher>> {
        let place = format!("{}, environment {env:?}", self.source);
        let ec = self.environment(env)?;
        let env_rsa = ec.extra.iter().find_map(|(k, v)| match v {
            Node::Str(s) if k == "private_rsa_key" => Some(s.as_str()),
            _ => None,
        });
        if ec.legacy_rsa && env_rsa.is_none() {
            return Err(Error::Config(format!(
                "{place}: private_rsa_key must be the PEM text of the RSA private key"
            )));
        }
        if ec.ciphers.is_empty() {
            return Err(Error::Config(format!(
                "{place}: no ciphers: add at least one entry under ciphers:"
            )));
        }
        // Entries may share a version (SPEC section 5): lookup by version takes the first.
        ec.ciphers
            .iter()
            .map(|c| {
                c.cipher_with_rsa(&self.io, env_rsa)
                    .map_err(|e| e.context(format!("{place}, {}", c.label())))
            })
            .collect()
    }

    /// The context of `env` (default: [`default_environment`]): reads every key and checks the
    /// entries fit together (versions, encodings).
    pub fn context(&self, env: Option<&str>) -> Result<Context> {
        let env = env.map_or_else(default_environment, str::to_string);
        let ciphers = self.ciphers(&env)?;
        Context::new(ciphers)
            .map_err(|e| e.context(format!("{}, environment {env:?}", self.source)))
    }

    /// The file as the gem writes it (see [`writer`]).
    pub fn to_yaml(&self) -> String {
        writer::to_yaml(self)
    }

    /// Writes the file as the gem writes it, replacing `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        writer::write_file(self, path)
    }
}

impl Context {
    /// Loads the gem's configuration: `path` or [`default_path`], environment `env` or
    /// [`default_environment`]. Relative key paths resolve against the working directory.
    pub fn load(path: Option<&Path>, env: Option<&str>) -> Result<Context> {
        let path = path.map_or_else(default_path, Path::to_path_buf);
        Config::from_path(&path)?.context(env)
    }

    /// Loads a configuration given as text (ERB and YAML), environment `env` or
    /// [`default_environment`].
    pub fn from_yaml(yaml: &str, env: Option<&str>) -> Result<Context> {
        Config::from_yaml_str(yaml, "<yaml>")?.context(env)
    }
}

/// The largest configuration accepted: 1 MiB. The gem's files are a few kilobytes, even with
/// many environments and key versions; anything this large is not a configuration file.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

fn check_size(len: usize, source: &str) -> Result<()> {
    if len > MAX_CONFIG_BYTES {
        return Err(Error::Config(format!(
            "{source}: the configuration is {len} bytes or more, but at most {MAX_CONFIG_BYTES} \
             bytes (1 MiB) are accepted: check that this is the configuration file"
        )));
    }
    Ok(())
}

/// Reads at most one byte more than [`MAX_CONFIG_BYTES`], so an oversized (or endless) file
/// is noticed without reading it all; the size check then refuses it.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut text)?;
    Ok(text)
}

/// Why `--migrate` leaves a pre-v4 RSA environment alone, and how to move off RSA.
pub(crate) fn legacy_rsa_error(marker: &str) -> Error {
    Error::Config(format!(
        "this environment uses the pre-v4 RSA key format ({marker}). It loads as it is, but \
         --migrate does not rewrite it (the gem's --migrate would keep the RSA key in every \
         entry). To move its keys out of RSA, rotate to a current keystore (for example \
         `symmetric-encryption --rotate-keys --keystore file`, then --activate-key, re-encrypt \
         the data, and --cleanup-keys) so that no entry keeps private_rsa_key, encrypted_iv or \
         iv_filename, then run --migrate again"
    ))
}

// ---- From YAML nodes to the model -------------------------------------------------------------

type FieldResult<T> = std::result::Result<T, String>;

fn named(pairs: &[(Node, Node)]) -> FieldResult<Vec<(String, &Node)>> {
    let mut out: Vec<(String, &Node)> = Vec::new();
    for (k, v) in pairs {
        let name = k
            .key_name()
            .ok_or_else(|| format!("field names must be plain words, found {}", k.kind()))?;
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => out.push((name, v)),
        }
    }
    Ok(out)
}

fn parse_environment(node: &Node) -> FieldResult<EnvironmentConfig> {
    let Node::Map(pairs) = node else {
        return Err(format!(
            "expected a mapping with a ciphers: list, found {}",
            node.kind()
        ));
    };
    let fields = named(pairs)?;
    let mut env = EnvironmentConfig::default();
    if !fields.iter().any(|(n, _)| n == "ciphers") {
        env.legacy_inline = true;
        env.ciphers
            .push(parse_entry(pairs).map_err(|m| format!("the cipher written inline: {m}"))?);
        return Ok(env);
    }
    for (name, value) in fields {
        match name.as_str() {
            "ciphers" => match value {
                Node::Null => {}
                Node::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let Node::Map(p) = item else {
                            return Err(format!(
                                "cipher entry {}: expected a mapping, found {}",
                                i + 1,
                                item.kind()
                            ));
                        };
                        let entry = parse_entry(p)
                            .map_err(|m| format!("{}: {m}", entry_label_from_node(p, i)))?;
                        env.ciphers.push(entry);
                    }
                }
                other => {
                    return Err(format!(
                        "ciphers: expected a list of cipher entries, found {}",
                        other.kind()
                    ))
                }
            },
            "private_rsa_key" => {
                env.legacy_rsa = true;
                env.extra.push((name, value.clone()));
            }
            _ => env.extra.push((name, value.clone())),
        }
    }
    Ok(env)
}

fn entry_label_from_node(pairs: &[(Node, Node)], index: usize) -> String {
    let version = pairs
        .iter()
        .find(|(k, _)| k.key_name().as_deref() == Some("version"))
        .and_then(|(_, v)| match v {
            Node::Int(i) => i.parse::<u8>().ok(),
            _ => None,
        });
    match version {
        Some(v) => format!("cipher version {v}"),
        None => format!("cipher entry {}", index + 1),
    }
}

fn parse_entry(pairs: &[(Node, Node)]) -> FieldResult<EntryConfig> {
    let mut e = EntryConfig::default();
    for (name, value) in named(pairs)? {
        let canonical = if name == "cipher" {
            "cipher_name".to_string()
        } else {
            name.clone()
        };
        let f = name.as_str();
        let err = |m: String| format!("{f}: {m}");
        match f {
            "cipher_name" | "cipher" => {
                e.cipher_name = text(value)
                    .map_err(err)?
                    .map(|t| {
                        CipherName::from_name(t.trim_start_matches(':')).map_err(|x| x.to_string())
                    })
                    .transpose()?;
            }
            "version" => e.version = version(value).map_err(err)?,
            "always_add_header" => e.always_add_header = boolean(value).map_err(err)?,
            "encoding" => {
                e.encoding = text(value)
                    .map_err(err)?
                    .map(|t| Encoding::from_name(&t).map_err(|x| x.to_string()))
                    .transpose()?;
            }
            "key" => e.key = bytes(value).map_err(err)?,
            "iv" => e.iv = bytes(value).map_err(err)?,
            "encrypted_key" => e.encrypted_key = bytes(value).map_err(err)?,
            "keystore" => {
                e.keystore = text(value)
                    .map_err(err)?
                    .map(|t| KeystoreKind::from_name(&t).map_err(|x| x.to_string()))
                    .transpose()?;
            }
            "key_filename" => e.key_filename = text(value).map_err(err)?,
            "key_env_var" => e.key_env_var = text(value).map_err(err)?,
            "key_encrypting_key" => match value {
                Node::Null => {}
                Node::Map(p) => {
                    e.key_encrypting_key = Some(Box::new(
                        parse_entry(p).map_err(|m| format!("key_encrypting_key: {m}"))?,
                    ))
                }
                Node::Str(_) => {
                    e.legacy_rsa
                        .push("an RSA private key as key_encrypting_key");
                    e.extra.push((name.clone(), value.clone()));
                }
                other => {
                    return Err(format!(
                        "key_encrypting_key: expected a mapping (key, iv, ...), found {}",
                        other.kind()
                    ))
                }
            },
            "permissions" => {
                e.permissions = one_or_many(value)
                    .into_iter()
                    .map(|v| match v {
                        Node::Int(i) => i
                            .parse::<u32>()
                            .map_err(|_| format!("permissions: an integer of {} digits is not a file mode: write it as a quoted string such as '0600'", i.len())),
                        Node::Str(s) => parse_mode(s).map_err(|x| x.to_string()),
                        other => Err(format!(
                            "permissions: expected a mode such as '0600', found {}",
                            other.kind()
                        )),
                    })
                    .collect::<FieldResult<Vec<u32>>>()
                    .map(|v| (!v.is_empty()).then_some(v))?;
            }
            "owner" | "group" => {
                let list = one_or_many(value)
                    .into_iter()
                    .map(|v| match v {
                        Node::Int(i) => i.parse::<u32>().map(Principal::Id).map_err(|_| {
                            format!(
                                "{f}: an integer of {} digits is not a user or group id",
                                i.len()
                            )
                        }),
                        Node::Str(s) => Ok(Principal::parse(s)),
                        other => Err(format!(
                            "{f}: expected a name or a numeric id, found {}",
                            other.kind()
                        )),
                    })
                    .collect::<FieldResult<Vec<Principal>>>()?;
                let list = (!list.is_empty()).then_some(list);
                if f == "owner" {
                    e.owner = list;
                } else {
                    e.group = list;
                }
            }
            "master_key_alias" => e.master_key_alias = text(value).map_err(err)?,
            "region" => e.region = text(value).map_err(err)?,
            "key_files" => e.key_files = key_files(value).map_err(err)?,
            "transit_mount" => e.transit_mount = text(value).map_err(err)?,
            "transit_key" => e.transit_key = text(value).map_err(err)?,
            "private_rsa_key" | "encrypted_iv" | "iv_filename" => {
                e.legacy_rsa.push(match f {
                    "private_rsa_key" => "private_rsa_key",
                    "encrypted_iv" => "encrypted_iv",
                    _ => "iv_filename",
                });
                e.extra.push((name.clone(), value.clone()));
            }
            _ => e.extra.push((name.clone(), value.clone())),
        }
        if !e.order.contains(&canonical) {
            e.order.push(canonical);
        }
    }
    Ok(e)
}

fn one_or_many(v: &Node) -> Vec<&Node> {
    match v {
        Node::Null => Vec::new(),
        Node::Seq(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn text(v: &Node) -> FieldResult<Option<String>> {
    match v {
        Node::Null => Ok(None),
        Node::Str(s) => Ok(Some(s.clone())),
        Node::Int(i) => Ok(Some(i.clone())),
        other => Err(format!("expected a string, found {}", other.kind())),
    }
}

fn bytes(v: &Node) -> FieldResult<Option<SecretBytes>> {
    match v {
        Node::Null => Ok(None),
        Node::Str(s) => Ok(Some(SecretBytes::from_slice(s.as_bytes()))),
        Node::Binary(b) => Ok(Some(b.clone())),
        // An unquoted all-digit value is a YAML integer; the gem uses its decimal digits.
        Node::Int(i) => Ok(Some(SecretBytes::from_slice(i.as_bytes()))),
        Node::Bool(_) => Err(
            "expected a string or !binary, found a boolean (YAML reads yes, no, true, false, on \
             and off as booleans): quote the value"
                .into(),
        ),
        other => Err(format!(
            "expected a string or !binary, found {}",
            other.kind()
        )),
    }
}

fn version(v: &Node) -> FieldResult<Option<u8>> {
    match v {
        Node::Null => Ok(None),
        Node::Int(i) => i.parse::<u8>().map(Some).map_err(|_| {
            if i.len() <= 4 {
                format!("{i} is out of range: versions are 0 to 255")
            } else {
                format!(
                    "an integer of {} digits is out of range: versions are 0 to 255",
                    i.len()
                )
            }
        }),
        other => Err(format!(
            "expected an integer from 0 to 255, found {}",
            other.kind()
        )),
    }
}

fn boolean(v: &Node) -> FieldResult<Option<bool>> {
    match v {
        Node::Null => Ok(None),
        Node::Bool(b) => Ok(Some(*b)),
        Node::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(Some(true)),
            "false" | "no" | "off" => Ok(Some(false)),
            _ => Err(format!(
                "expected true or false, found {}",
                crate::error::describe_text(s)
            )),
        },
        other => Err(format!("expected true or false, found {}", other.kind())),
    }
}

fn key_files(v: &Node) -> FieldResult<Option<Vec<AwsKeyFile>>> {
    let items = match v {
        Node::Null => return Ok(None),
        Node::Seq(items) => items,
        other => {
            return Err(format!(
                "expected a list of {{region, file_name}}, found {}",
                other.kind()
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Node::Map(p) = item else {
                return Err(format!("entry {}: expected {{region, file_name}}", i + 1));
            };
            let fields = named(p)?;
            let get = |n: &str| -> FieldResult<String> {
                fields
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| text(v))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| format!("entry {}: {n} is missing", i + 1))
            };
            Ok(AwsKeyFile {
                region: get("region")?,
                file_name: get("file_name")?,
            })
        })
        .collect::<FieldResult<Vec<_>>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_legacy_entries_and_defaults() {
        let c = Config::from_yaml_str(
            "development:\n  cipher: aes-128-cbc\n  key: 1234567890ABCDEF\n  iv: 1234567890ABCDEF\n",
            "t.yml",
        )
        .unwrap();
        let env = c.environment("development").unwrap();
        assert!(env.is_legacy_inline());
        let e = env.primary().unwrap();
        assert_eq!(e.cipher_name, Some(CipherName::Aes128Cbc));
        assert_eq!(e.version_or_default(), 0);
        let ctx = c.context(Some("development")).unwrap();
        assert_eq!(ctx.primary().key(), b"1234567890ABCDEF");
        assert!(ctx.primary().always_add_header());
    }

    #[test]
    fn symbol_keys_and_values() {
        let c = Config::from_yaml_str(
            ":production:\n  :ciphers:\n  - :cipher_name: :aes-128-cbc\n    :key: 1234567890ABCDEF\n    :encoding: :base16\n",
            "t.yml",
        )
        .unwrap();
        let ctx = c.context(Some("production")).unwrap();
        assert_eq!(ctx.encoding(), Encoding::Base16);
    }

    #[test]
    fn a_broken_environment_does_not_stop_the_others() {
        let c = Config::from_yaml_str(
            "good:\n  ciphers:\n  - key: 1234567890ABCDEF\n    cipher_name: aes-128-cbc\nbad:\n  ciphers:\n  - version: 300\n",
            "t.yml",
        )
        .unwrap();
        c.context(Some("good")).unwrap();
        let e = c.context(Some("bad")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(
            e.to_string().starts_with(
                "t.yml, environment \"bad\": cipher entry 1: version: 300 is out of range"
            ),
            "{e}"
        );
    }

    #[test]
    fn default_environment_order() {
        // Only checks the fallback: the variables may be set by the caller's environment.
        if ["SYMMETRIC_ENCRYPTION_ENV", "RACK_ENV", "RAILS_ENV"]
            .iter()
            .all(|v| std::env::var(v).is_err())
        {
            assert_eq!(default_environment(), "development");
        }
    }
}
