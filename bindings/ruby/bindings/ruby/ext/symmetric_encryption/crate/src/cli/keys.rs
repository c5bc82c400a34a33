//! `--generate`, `--rotate-keys`, `--rotate-kek`, `--activate-key`, `--cleanup-keys` and
//! `--migrate`: read the configuration file, change it with [`config::generate`], write it back,
//! and say what was done in the gem's words.
//!
//! Each returns an [`Outcome`]: the gem's instruction blocks (variables to set), lines for
//! standard output and warnings for standard error. Nothing here deletes a key file.

use std::path::{Path, PathBuf};

use crate::cipher::CipherName;
use crate::config::generate::{
    self, GenerateOptions, Notice, Removal, Report, RotateKekOptions, RotateOptions,
};
use crate::config::{Config, EntryConfig};
use crate::error::{Error, Result};
use crate::keystore::KeystoreKind;

/// What a key command did, for printing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Key files written and variables to set, in order. Print each with
    /// [`Notice::gem_output`] (the gem's `export` / `heroku config:add` blocks) or `Display`.
    pub notices: Vec<Notice>,
    /// Lines for standard output, after the notices.
    pub lines: Vec<String>,
    /// Lines for standard error.
    pub warnings: Vec<String>,
    /// Whether the configuration file was written.
    pub written: bool,
}

impl Outcome {
    /// Everything for standard output, as the command prints it: the gem's blocks for
    /// variables, `Key file written: ...` lines, then the summary lines.
    pub fn stdout_text(&self) -> String {
        let mut out = String::new();
        for n in &self.notices {
            match n.gem_output() {
                Some(text) => out.push_str(&text),
                None => {
                    out.push_str(&n.to_string());
                    out.push('\n');
                }
            }
        }
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// A warning when the file uses ERB: writing it back replaces each `<%= ... %>` with the value
/// it rendered to this time, as the gem does.
fn erb_warning(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    text.windows(2).any(|w| w == b"<%").then(|| {
        format!(
            "warning: {} used ERB (<%= ... %>): it was written back with the values the ERB \
             rendered to this time; put the ERB back by hand if you need it",
            shown(path)
        )
    })
}

fn load(path: &Path) -> Result<Config> {
    let mut config = Config::from_path(path)?;
    config.set_source(shown(path));
    Ok(config)
}

/// Checks that every name in `environments` is in the file (a clear error listing the ones
/// there otherwise) and returns the names to work on, in file order.
fn selected(config: &Config, environments: &[String]) -> Result<Vec<String>> {
    for e in environments {
        config.environment(e)?;
    }
    Ok(config
        .environment_names()
        .into_iter()
        .filter(|n| environments.is_empty() || environments.iter().any(|e| e == n))
        .map(str::to_string)
        .collect())
}

/// `--generate`: a new configuration file with version 1 keys for every environment. Refuses
/// to overwrite an existing file (before any key is made).
pub fn generate(path: &Path, opts: &GenerateOptions) -> Result<Outcome> {
    if opts.environments.is_empty() {
        return Err(Error::Argument(
            "--environments is empty: name at least one environment".into(),
        ));
    }
    let (config, report) = generate::generate_file(path, opts)?;
    Ok(Outcome {
        notices: report.notices,
        lines: report.summary,
        warnings: gcm_notes(&config, &opts.environments),
        written: true,
    })
}

/// The gem 4.6 note, once, when the newest key of one of `environments` is GCM.
fn gcm_notes(config: &Config, environments: &[String]) -> Vec<String> {
    environments
        .iter()
        .filter_map(|e| config.environment(e).ok())
        .filter_map(|env| env.ciphers.iter().max_by_key(|c| c.version_or_default()))
        .map(EntryConfig::cipher_name_or_default)
        .find(|c| c.is_authenticated())
        .map(super::compat::gcm_note)
        .into_iter()
        .collect()
}

/// Options of [`rotate_keys`]: the command line's flags, unset ones `None` or empty.
#[derive(Debug, Clone, Default)]
pub struct RotateKeysArgs {
    /// `--environments` (empty: all).
    pub environments: Vec<String>,
    /// `--app-name`. `None`: taken from the current key file or variable names of each
    /// environment (`my_app_production_v1.encrypted_key` -> `my_app`), else the gem's default.
    pub app_name: Option<String>,
    /// `--rolling-deploy`.
    pub rolling_deploy: bool,
    /// `--keystore`. `None`: the current primary's keystore.
    pub keystore: Option<KeystoreKind>,
    /// `--cipher-name`. `None`: the current primary's cipher.
    pub cipher_name: Option<CipherName>,
    /// `--key-path`. `None`: beside the current key files.
    pub key_path: Option<PathBuf>,
    /// `--regions` (aws).
    pub regions: Vec<String>,
}

/// The app name the generator used for an entry's key files or variable, read back from their
/// names: `A_E_vN.encrypted_key`, `A_E_REGION_vN.encrypted_key`, `A_E_VN`,
/// `alias/symmetric-encryption/A/E`.
pub fn app_name_of(entry: &EntryConfig, env: &str) -> Option<String> {
    fn strip_version<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
        let (rest, v) = s.rsplit_once(marker)?;
        (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
    }
    if let Some(alias) = &entry.master_key_alias {
        if let Some(app) = alias
            .strip_prefix("alias/symmetric-encryption/")
            .and_then(|r| r.strip_suffix(&format!("/{env}")))
        {
            return Some(app.to_string());
        }
    }
    if let Some(file) = &entry.key_filename {
        let name = Path::new(file).file_name()?.to_str()?;
        let stem = name.strip_suffix(".encrypted_key")?;
        let rest = strip_version(stem, "_v")?;
        return rest
            .strip_suffix(&format!("_{env}"))
            .filter(|a| !a.is_empty())
            .map(str::to_string);
    }
    if let Some(var) = &entry.key_env_var {
        let rest = strip_version(var, "_V")?;
        let env_part = format!("_{}", env.to_uppercase().replace('-', "_"));
        return rest
            .strip_suffix(&env_part)
            .filter(|a| !a.is_empty())
            .map(str::to_lowercase);
    }
    None
}

fn merge(into: &mut Report, from: Report) {
    into.notices.extend(from.notices);
    into.changed.extend(from.changed);
    into.unchanged.extend(from.unchanged);
    into.removed.extend(from.removed);
}

/// The gem's report of a rotation: which environments changed, which had nothing to rotate;
/// the file is written only when something changed.
fn finish_rotation(
    path: &Path,
    config: &Config,
    report: Report,
    considered: &[String],
    description: &str,
    erb: Option<String>,
) -> Result<Outcome> {
    let mut out = Outcome {
        notices: report.notices,
        ..Default::default()
    };
    if report.changed.is_empty() {
        out.lines.push(format!(
            "No {description} were generated. None of the environments in {} ({}) has a \
             keystore that this can rotate.",
            shown(path),
            considered.join(", ")
        ));
        return Ok(out);
    }
    config.write(path)?;
    out.written = true;
    out.lines
        .push(format!("Rotated: {}", report.changed.join(", ")));
    if !report.unchanged.is_empty() {
        out.lines.push(format!(
            "Left unchanged, no keystore to rotate: {}",
            report.unchanged.join(", ")
        ));
    }
    out.lines.push(format!(
        "Existing configuration file updated with {description}: {}",
        shown(path)
    ));
    out.warnings.extend(erb);
    Ok(out)
}

/// `--rotate-keys`: a new data key (version highest + 1) in every selected environment whose
/// key is kept in a keystore, first in the list (second with `--rolling-deploy`).
pub fn rotate_keys(path: &Path, args: &RotateKeysArgs) -> Result<Outcome> {
    let erb = erb_warning(path);
    let mut config = load(path)?;
    let envs = selected(&config, &args.environments)?;
    let mut report = Report::default();
    for env in &envs {
        let app_name = args
            .app_name
            .clone()
            .or_else(|| {
                config
                    .environment(env)
                    .ok()
                    .and_then(|e| e.primary())
                    .and_then(|p| app_name_of(p, env))
            })
            .unwrap_or_else(|| generate::DEFAULT_APP_NAME.to_string());
        let opts = RotateOptions {
            environments: vec![env.clone()],
            app_name,
            rolling_deploy: args.rolling_deploy,
            keystore: args.keystore,
            cipher_name: args.cipher_name,
            key_path: args.key_path.clone(),
            regions: args.regions.clone(),
        };
        merge(&mut report, generate::rotate_keys(&mut config, &opts)?);
    }
    let notes = gcm_notes(&config, &report.changed);
    let mut out = finish_rotation(path, &config, report, &envs, "new keys", erb)?;
    out.warnings.extend(notes);
    Ok(out)
}

/// `--rotate-kek`: the current data key of every selected environment re-encrypted under new
/// key-encrypting keys. Key files keep their names (the old ones are moved aside); a variable
/// keeps its name and gets a new value, printed.
pub fn rotate_kek(path: &Path, environments: &[String], app_name: Option<&str>) -> Result<Outcome> {
    let erb = erb_warning(path);
    let mut config = load(path)?;
    let envs = selected(&config, environments)?;
    let mut report = Report::default();
    for env in &envs {
        let app_name = app_name
            .map(str::to_string)
            .or_else(|| {
                config
                    .environment(env)
                    .ok()
                    .and_then(|e| e.primary())
                    .and_then(|p| app_name_of(p, env))
            })
            .unwrap_or_else(|| generate::DEFAULT_APP_NAME.to_string());
        let opts = RotateKekOptions {
            environments: vec![env.clone()],
            app_name,
        };
        merge(&mut report, generate::rotate_kek(&mut config, &opts)?);
    }
    finish_rotation(path, &config, report, &envs, "new key encrypting keys", erb)
}

/// `--activate-key`: the entry with the highest version becomes the primary in every selected
/// environment. The file is written only when that changes something.
pub fn activate_key(path: &Path, environments: &[String]) -> Result<Outcome> {
    let erb = erb_warning(path);
    let mut config = load(path)?;
    selected(&config, environments)?;
    let report = generate::activate_key(&mut config, environments)?;
    let mut out = Outcome::default();
    if report.changed.is_empty() {
        out.lines.push(format!(
            "Nothing to activate: in every environment of {} the key with the highest version \
             is already the primary. The file was left unchanged.",
            shown(path)
        ));
        return Ok(out);
    }
    config.write(path)?;
    out.written = true;
    out.lines = report.summary;
    out.lines.push(format!(
        "Activated the keys with the highest versions in: {}",
        shown(path)
    ));
    out.warnings.extend(erb);
    Ok(out)
}

/// What `--cleanup-keys` is about to do: shown (and, on a terminal, confirmed) before
/// [`CleanupPlan::apply`].
#[derive(Debug, Clone)]
pub struct CleanupPlan {
    path: PathBuf,
    config: Config,
    environments: Vec<String>,
    erb: Option<String>,
    /// The versions that would be removed, per environment.
    pub removals: Vec<Removal>,
}

impl CleanupPlan {
    /// Whether there is anything to remove.
    pub fn is_empty(&self) -> bool {
        self.removals.is_empty()
    }

    /// The gem's warning naming every version that is about to be removed.
    pub fn warning(&self) -> String {
        generate::cleanup_warning(&shown(&self.path), &self.removals)
    }

    /// What to print when the user says no.
    pub fn declined(&self) -> String {
        format!("Left {} unchanged.", shown(&self.path))
    }

    /// Removes the planned versions and writes the file.
    pub fn apply(mut self) -> Result<Outcome> {
        let mut out = Outcome::default();
        if self.removals.is_empty() {
            out.lines.push(format!(
                "Nothing to remove: every environment of {} has a single key. The file was left \
                 unchanged.",
                shown(&self.path)
            ));
            return Ok(out);
        }
        let report = generate::cleanup_keys(&mut self.config, &self.environments)?;
        self.config.write(&self.path)?;
        out.written = true;
        out.lines = report.summary;
        out.lines.push(format!(
            "Removed all but the key with the highest version in: {}",
            shown(&self.path)
        ));
        out.warnings.extend(self.erb);
        Ok(out)
    }
}

/// `--cleanup-keys`, first half: what would be removed from the selected environments.
pub fn cleanup_plan(path: &Path, environments: &[String]) -> Result<CleanupPlan> {
    let erb = erb_warning(path);
    let config = load(path)?;
    selected(&config, environments)?;
    let removals = generate::cleanup_plan(&config, environments)?;
    Ok(CleanupPlan {
        path: path.to_path_buf(),
        config,
        environments: environments.to_vec(),
        erb,
        removals,
    })
}

/// `--migrate`: rewrites the file in the current format (a `ciphers:` list in every
/// environment, `cipher_name:` for `cipher:`, the gem's layout). The pre-v4 RSA format is
/// refused: migrate it with the Ruby gem first.
pub fn migrate(path: &Path) -> Result<Outcome> {
    let erb = erb_warning(path);
    let config = load(path)?;
    let mut out = Outcome::default();
    for name in config.environment_names() {
        let env = config.environment(name)?;
        if env.uses_legacy_rsa() {
            let marker = env
                .ciphers
                .iter()
                .flat_map(|c| c.legacy_rsa_markers().iter().copied())
                .next()
                .unwrap_or("private_rsa_key");
            return Err(crate::config::legacy_rsa_error(marker)
                .context(format!("{}, environment {name:?}", shown(path))));
        }
        if env.is_legacy_inline() {
            out.lines.push(format!(
                "{name}: the cipher written directly under the environment is now the first \
                 entry of a ciphers: list"
            ));
        }
    }
    config.write(path)?;
    out.written = true;
    out.lines.push(format!(
        "Existing configuration file successfully migrated to the new format: {}",
        shown(path)
    ));
    out.warnings.extend(erb);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(f: impl FnOnce(&mut EntryConfig)) -> EntryConfig {
        let mut e = EntryConfig::default();
        f(&mut e);
        e
    }

    #[test]
    fn app_names_come_back_from_generated_names() {
        let e = entry(|e| e.key_filename = Some("keys/my_app_production_v12.encrypted_key".into()));
        assert_eq!(app_name_of(&e, "production").as_deref(), Some("my_app"));
        let e = entry(|e| e.key_env_var = Some("ENV_APP_PRODUCTION_V2".into()));
        assert_eq!(app_name_of(&e, "production").as_deref(), Some("env_app"));
        let e = entry(|e| e.master_key_alias = Some("alias/symmetric-encryption/shop/prod".into()));
        assert_eq!(app_name_of(&e, "prod").as_deref(), Some("shop"));
        let e = entry(|e| e.key_filename = Some("/etc/secret.key".into()));
        assert_eq!(app_name_of(&e, "production"), None);
        let e = entry(|e| e.key_filename = Some("a_staging_v1.encrypted_key".into()));
        assert_eq!(app_name_of(&e, "production"), None);
    }
}
