//! `--check`: for one environment, which configuration file and environment were chosen and
//! why, every cipher entry (version, cipher, keystore, where its key is, the key file's mode
//! and owner) and whether its key loads, and warnings about what bites later: duplicate
//! versions, GCM entries that gem 4.x applications cannot read, a primary that is not the
//! highest version, key files other users can read, development keys in a production
//! environment. Not in the gem: it answers "why does this server not decrypt?" before the first
//! request does.

use std::fmt;
use std::path::Path;

use super::Target;
use crate::config::{Config, EntryConfig};
use crate::error::Result;
use crate::keystore::{KeyIo, KeystoreKind};

/// One cipher entry of the environment, as `--check` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCheck {
    /// The entry's version.
    pub version: u8,
    /// Its cipher's name.
    pub cipher: String,
    /// Where its key is, one line per level of the chain (the data key first, then each
    /// key-encrypting key).
    pub key_lines: Vec<String>,
    /// `None` when the key loads; else why not.
    pub error: Option<String>,
}

/// What `--check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The configuration file, and why it was chosen.
    pub config_line: String,
    /// The environment, and why it was chosen.
    pub environment_line: String,
    /// The entries, in file order (the first is the primary).
    pub entries: Vec<EntryCheck>,
    /// What will bite later.
    pub warnings: Vec<String>,
    /// `None` when the environment loads as a whole (every key, and the entries fit together:
    /// distinct versions, one encoding); else why not.
    pub load_error: Option<String>,
}

impl Check {
    /// How many entries' keys do not load (the command exits 1 when this is not 0).
    pub fn failures(&self) -> usize {
        self.entries.iter().filter(|e| e.error.is_some()).count()
    }

    /// Whether everything loads: every entry's key and the environment as a whole.
    pub fn passed(&self) -> bool {
        self.failures() == 0 && self.load_error.is_none()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "configuration: {}", self.config_line)?;
        writeln!(f, "environment:   {}", self.environment_line)?;
        writeln!(f, "entries (the first is the primary, which encrypts):")?;
        for e in &self.entries {
            writeln!(f, "  version {} ({})", e.version, e.cipher)?;
            for line in &e.key_lines {
                writeln!(f, "    {line}")?;
            }
            match &e.error {
                None => writeln!(f, "    loads: yes")?,
                Some(err) => writeln!(f, "    loads: NO: {err}")?,
            }
        }
        if self.warnings.is_empty() {
            writeln!(f, "warnings: none")?;
        } else {
            writeln!(f, "warnings:")?;
            for w in &self.warnings {
                writeln!(f, "  - {w}")?;
            }
        }
        let n = self.entries.len();
        match (self.failures(), &self.load_error) {
            (0, None) => writeln!(
                f,
                "result: the environment loads, with the keys of all {n} entries"
            ),
            (0, Some(e)) => writeln!(
                f,
                "result: every key loads, but the environment does not: {e}"
            ),
            (k, _) => writeln!(f, "result: {k} of {n} entries' keys do not load"),
        }
    }
}

/// Checks the environment of `target`. Errors only when the file cannot be parsed or has no
/// such environment; an entry whose key does not load is reported in the [`Check`].
pub fn check(target: &Target) -> Result<Check> {
    let path = target.config_path();
    let env_name = target.environment();
    let shown = match std::fs::canonicalize(&path) {
        Ok(abs) if abs != path => format!("{} ({})", path.display(), abs.display()),
        _ => path.display().to_string(),
    };
    let config_line = format!("{shown}, {}", target.config_reason());
    let config: Config = target.config()?;
    let environment_line = format!("{env_name}, {}", target.environment_reason());
    if !config.environment_names().contains(&env_name.as_str()) {
        // The same error as loading would give, with the -E advice.
        return Err(target.load().err().unwrap_or_else(|| {
            crate::Error::Internal("an environment not in the file loaded".into())
        }));
    }
    let env = config.environment(&env_name)?;
    let io = config.key_io();
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let production = env_name.to_ascii_lowercase().contains("prod");
    for entry in &env.ciphers {
        let mut key_lines = Vec::new();
        describe_chain(entry, io, 0, &mut key_lines, &mut warnings);
        let error = entry.cipher(io).err().map(|e| e.to_string());
        let version = entry.version_or_default();
        let cipher = entry.cipher_name_or_default();
        if cipher.is_authenticated() {
            warnings.push(format!(
                "version {version} uses {cipher}: applications still on gem 4.x cannot read \
                 what it encrypts (GCM came with gem 5.0); keep a CBC primary until every \
                 reader is on 5.0 or this library"
            ));
        }
        if production {
            if entry.key.is_some() {
                warnings.push(format!(
                    "version {version}: its key is written in the configuration file (key:), as \
                     development keys are, in environment {env_name:?}: keep production keys in \
                     a key file, variable or KMS (--rotate-keys --keystore file)"
                ));
            }
            let named = entry
                .key_filename
                .iter()
                .chain(entry.key_env_var.iter())
                .find(|n| {
                    let n = n.to_ascii_lowercase();
                    n.contains("development") || n.contains("_dev") || n.contains("_test")
                });
            if let Some(n) = named {
                warnings.push(format!(
                    "version {version}: its key {n:?} looks like a development or test key, in \
                     environment {env_name:?}"
                ));
            }
        }
        entries.push(EntryCheck {
            version,
            cipher: cipher.as_str().to_string(),
            key_lines,
            error,
        });
    }
    let versions: Vec<u8> = entries.iter().map(|e| e.version).collect();
    for (i, v) in versions.iter().enumerate() {
        if let Some(first) = versions[..i].iter().position(|w| w == v) {
            warnings.push(format!(
                "entries {} and {} both have version {v}: the version in each encrypted value's \
                 header selects its cipher, so values of version {v} only ever decrypt with entry \
                 {} (the first); give one of them another version",
                first + 1,
                i + 1,
                first + 1
            ));
        }
    }
    if let (Some(primary), Some(highest)) = (versions.first(), versions.iter().max()) {
        if primary < highest {
            warnings.push(format!(
                "the primary (first) entry is version {primary}, but version {highest} is \
                 configured too: new values are encrypted with the older key. Run \
                 --activate-key once every server has version {highest}"
            ));
        }
    }
    if entries.is_empty() {
        warnings.push("the environment has no cipher entries".into());
    }
    let load_error = config.context(Some(&env_name)).err().map(|e| e.to_string());
    Ok(Check {
        config_line,
        environment_line,
        entries,
        warnings,
        load_error,
    })
}

/// Where the key of `entry` (at chain `level`) is, then its key-encrypting key's, one line each.
fn describe_chain(
    entry: &EntryConfig,
    io: &KeyIo,
    level: usize,
    lines: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let what = match level {
        0 => "key".to_string(),
        1 => "key_encrypting_key".to_string(),
        n => format!("key_encrypting_key, level {n}"),
    };
    let place = match entry.effective_keystore() {
        None if entry.key.is_some() => "in the configuration file (key:)".to_string(),
        None => "nowhere: the entry names no key or keystore".to_string(),
        Some(KeystoreKind::File) => match &entry.key_filename {
            Some(name) => {
                let path = io.resolve(Path::new(name));
                format!(
                    "file keystore, {}: {}",
                    path.display(),
                    file_facts(&path, entry, warnings)
                )
            }
            None => "file keystore, but no key_filename".to_string(),
        },
        Some(kind @ (KeystoreKind::Environment | KeystoreKind::Heroku)) => {
            match &entry.key_env_var {
                Some(var) => format!(
                    "{kind} keystore, variable {var} ({})",
                    if std::env::var_os(var).is_some() {
                        "set"
                    } else {
                        "NOT set"
                    }
                ),
                None => format!("{kind} keystore, but no key_env_var"),
            }
        }
        Some(KeystoreKind::Memory) => {
            "memory keystore: encrypted_key in the configuration file".to_string()
        }
        Some(KeystoreKind::Aws) => {
            let regions = entry
                .key_files
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(|k| format!("{} ({})", k.region, k.file_name))
                .collect::<Vec<_>>();
            format!(
                "aws keystore, KMS alias {}, encrypted data key for {}",
                entry.master_key_alias.as_deref().unwrap_or("(none)"),
                if regions.is_empty() {
                    "no region".to_string()
                } else {
                    regions.join(", ")
                }
            )
        }
        Some(KeystoreKind::Vault) => format!(
            "vault keystore, transit key {} (mount {}), wrapped data key in {}",
            entry.transit_key.as_deref().unwrap_or("(none)"),
            entry.transit_mount.as_deref().unwrap_or("transit"),
            match &entry.key_filename {
                Some(name) => {
                    let path = io.resolve(Path::new(name));
                    format!("{}: {}", path.display(), file_facts(&path, entry, warnings))
                }
                None => "the configuration file (encrypted_key)".to_string(),
            }
        ),
    };
    lines.push(format!("{what}: {place}"));
    if let Some(kek) = &entry.key_encrypting_key {
        describe_chain(kek, io, level + 1, lines, warnings);
    }
}

/// A key file's mode and owner, and a warning when other users can read it.
fn file_facts(path: &Path, entry: &EntryConfig, warnings: &mut Vec<String>) -> String {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return format!("cannot be read ({e})"),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o7777;
        let allowed = entry.file_policy().permissions;
        if mode & 0o004 != 0 {
            warnings.push(format!(
                "key file {} is readable by every user (mode {mode:04o}): chmod 0600 it",
                path.display()
            ));
        } else if mode & 0o040 != 0 {
            warnings.push(format!(
                "key file {} is readable by its group (mode {mode:04o}){}",
                path.display(),
                if allowed.contains(&mode) {
                    ", which the entry's permissions allow"
                } else {
                    ""
                }
            ));
        }
        format!(
            "mode {mode:04o}, owner {}, group {}",
            user_name(meta.uid()),
            meta.gid()
        )
    }
    #[cfg(not(unix))]
    {
        let _ = (meta, entry, warnings);
        "present".to_string()
    }
}

/// `name (uid)` from /etc/passwd, or the uid alone.
#[cfg(unix)]
fn user_name(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse::<u32>().ok()?;
            (id == uid).then(|| name.to_string())
        })
    });
    match name {
        Some(n) => format!("{n} ({uid})"),
        None => uid.to_string(),
    }
}
