//! `--generate`, `--rotate-keys`, `--rotate-kek`, `--activate-key`, `--cleanup-keys` and
//! `--migrate`: read the configuration file, change it with [`crate::config::generate`], write it back,
//! and say what was done in the gem's words.
//!
//! Each returns an [`Outcome`]: the gem's instruction blocks (variables to set), lines for
//! standard output and warnings for standard error. Nothing here deletes a key file.
//!
//! Every operation comes twice: on a file (`rotate_keys`: read, change, write back, as the
//! command line does) and on a [`Config`] already in memory (`rotate_keys_config`: changed in
//! place, written to `save_to` when given), which is what the C ABI's configuration handle uses.

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

fn label(config: &Config, save_to: Option<&Path>) -> String {
    save_to.map_or_else(|| config.source().to_string(), shown)
}

fn save(config: &Config, save_to: Option<&Path>) -> Result<()> {
    match save_to {
        Some(p) => config.write(p),
        None => Ok(()),
    }
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
        if !config.environment_names().contains(&e.as_str()) {
            return Err(config.missing_listed_environment(e));
        }
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
    generate_config(Some(path), opts).map(|(_, out)| out)
}

/// [`generate()`], returning the new configuration too; with `save_to` `None` nothing but the
/// key files is written (the configuration stays in memory).
pub fn generate_config(
    save_to: Option<&Path>,
    opts: &GenerateOptions,
) -> Result<(Config, Outcome)> {
    if opts.environments.is_empty() {
        return Err(Error::Argument(
            "--environments is empty: name at least one environment".into(),
        ));
    }
    let (config, report) = match save_to {
        Some(path) => generate::generate_file(path, opts)?,
        None => generate::generate(opts)?,
    };
    let out = Outcome {
        notices: report.notices,
        lines: report.summary,
        warnings: gcm_notes(&config, &opts.environments),
        written: save_to.is_some(),
    };
    Ok((config, out))
}

/// The key commands' options as the command line takes them, as text (`None`: not given):
/// one parser of `--environments`, `--keystore`, `--cipher-name`, `--key-permissions` and
/// `--regions` for the command line and the C ABI.
#[derive(Debug, Clone, Default)]
pub struct KeyArgs {
    /// `--environments`, comma separated.
    pub environments: Option<String>,
    /// `--app-name`.
    pub app_name: Option<String>,
    /// `--keystore`: file, environment, heroku, memory, aws.
    pub keystore: Option<String>,
    /// `--cipher-name`.
    pub cipher_name: Option<String>,
    /// `--key-path`.
    pub key_path: Option<PathBuf>,
    /// `--key-permissions`, comma separated octal modes.
    pub key_permissions: Option<String>,
    /// `--regions`, comma separated.
    pub regions: Option<String>,
    /// `--rolling-deploy`.
    pub rolling_deploy: bool,
    /// `--gem-4.6`: keys gem 4.6 applications can use (CBC; a GCM cipher is refused).
    pub gem46: bool,
}

impl KeyArgs {
    /// `--environments` as a list (empty when not given).
    pub fn environment_list(&self) -> Vec<String> {
        self.environments
            .as_deref()
            .map(crate::cli::split_list)
            .unwrap_or_default()
    }

    /// `--regions` as a list (empty when not given).
    pub fn region_list(&self) -> Vec<String> {
        self.regions
            .as_deref()
            .map(crate::cli::split_list)
            .unwrap_or_default()
    }

    /// `--keystore`, checked.
    pub fn keystore_kind(&self) -> Result<Option<KeystoreKind>> {
        self.keystore
            .as_deref()
            .map(KeystoreKind::from_name)
            .transpose()
            .map_err(|e| e.context("--keystore"))
    }

    /// `--cipher-name`, checked.
    pub fn cipher(&self) -> Result<Option<CipherName>> {
        self.cipher_name
            .as_deref()
            .map(CipherName::from_name)
            .transpose()
            .map_err(|e| e.context("--cipher-name"))
    }

    /// What `--generate` makes of these options (the gem's defaults for the ones not given).
    pub fn generate_options(&self) -> Result<GenerateOptions> {
        if self.gem46 && self.key_permissions.is_some() {
            return Err(Error::Argument(
                "--gem-4.6 with --key-permissions: gem 4.6 cannot load a configuration with \
                 permissions: (its key file keystore refuses it). Leave out one of them"
                    .into(),
            ));
        }
        let defaults = GenerateOptions::default();
        Ok(GenerateOptions {
            keystore: self.keystore_kind()?.unwrap_or(KeystoreKind::File),
            app_name: self.app_name.clone().unwrap_or(defaults.app_name),
            environments: if self.environments.is_some() {
                self.environment_list()
            } else {
                defaults.environments
            },
            cipher_name: if self.gem46 {
                crate::cli::compat::gem46_cipher(self.cipher()?)?
            } else {
                self.cipher()?.unwrap_or(generate::DEFAULT_CIPHER)
            },
            key_path: self.key_path.clone().unwrap_or(defaults.key_path),
            key_permissions: self
                .key_permissions
                .as_deref()
                .map(crate::cli::parse_permissions)
                .transpose()?,
            regions: self.region_list(),
            io: defaults.io,
        })
    }

    /// What `--rotate-keys` makes of these options.
    pub fn rotate_keys_args(&self) -> Result<RotateKeysArgs> {
        Ok(RotateKeysArgs {
            environments: self.environment_list(),
            app_name: self.app_name.clone(),
            rolling_deploy: self.rolling_deploy,
            keystore: self.keystore_kind()?,
            cipher_name: if self.gem46 {
                Some(crate::cli::compat::gem46_cipher(self.cipher()?)?)
            } else {
                self.cipher()?
            },
            key_path: self.key_path.clone(),
            regions: self.region_list(),
        })
    }
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
    if let Some(key) = &entry.transit_key {
        if let Some(app) = crate::keystore::vault::app_name_of(key, env) {
            return Some(app);
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
    save_to: Option<&Path>,
    config: &Config,
    report: Report,
    considered: &[String],
    description: &str,
) -> Result<Outcome> {
    let mut out = Outcome {
        notices: report.notices,
        ..Default::default()
    };
    if report.changed.is_empty() {
        out.lines.push(format!(
            "No {description} were generated. None of the environments in {} ({}) has a \
             keystore that this can rotate.",
            label(config, save_to),
            considered.join(", ")
        ));
        return Ok(out);
    }
    save(config, save_to)?;
    out.written = save_to.is_some();
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
        label(config, save_to)
    ));
    Ok(out)
}

/// `--rotate-keys`: a new data key (version highest + 1) in every selected environment whose
/// key is kept in a keystore, first in the list (second with `--rolling-deploy`).
pub fn rotate_keys(path: &Path, args: &RotateKeysArgs) -> Result<Outcome> {
    let erb = erb_warning(path);
    let mut config = load(path)?;
    let mut out = rotate_keys_config(&mut config, Some(path), args)?;
    if out.written {
        out.warnings.extend(erb);
    }
    Ok(out)
}

/// [`rotate_keys`] on a configuration in memory, written to `save_to` when given and something
/// changed.
pub fn rotate_keys_config(
    config: &mut Config,
    save_to: Option<&Path>,
    args: &RotateKeysArgs,
) -> Result<Outcome> {
    let envs = selected(config, &args.environments)?;
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
        merge(&mut report, generate::rotate_keys(config, &opts)?);
    }
    let notes = gcm_notes(config, &report.changed);
    let mut out = finish_rotation(save_to, config, report, &envs, "new keys")?;
    out.warnings.extend(notes);
    Ok(out)
}

/// `--rotate-kek`: the current data key of every selected environment re-encrypted under new
/// key-encrypting keys. Key files keep their names (the old ones are moved aside); a variable
/// keeps its name and gets a new value, printed.
pub fn rotate_kek(path: &Path, environments: &[String], app_name: Option<&str>) -> Result<Outcome> {
    let erb = erb_warning(path);
    let mut config = load(path)?;
    let mut out = rotate_kek_config(&mut config, Some(path), environments, app_name)?;
    if out.written {
        out.warnings.extend(erb);
    }
    Ok(out)
}

/// [`rotate_kek`] on a configuration in memory, written to `save_to` when given and something
/// changed.
pub fn rotate_kek_config(
    config: &mut Config,
    save_to: Option<&Path>,
    environments: &[String],
    app_name: Option<&str>,
) -> Result<Outcome> {
    let envs = selected(config, environments)?;
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
        merge(&mut report, generate::rotate_kek(config, &opts)?);
    }
    finish_rotation(save_to, config, report, &envs, "new key encrypting keys")
}

/// `--activate-key`: the entry with the highest version becomes the primary in every selected
/// environment. The file is written only when that changes something.
pub fn activate_key(path: &Path, environments: &[String]) -> Result<Outcome> {
    let erb = erb_warning(path);
    let mut config = load(path)?;
    let mut out = activate_key_config(&mut config, Some(path), environments)?;
    if out.written {
        out.warnings.extend(erb);
    }
    Ok(out)
}

/// [`activate_key`] on a configuration in memory, written to `save_to` when given and something
/// changed.
pub fn activate_key_config(
    config: &mut Config,
    save_to: Option<&Path>,
    environments: &[String],
) -> Result<Outcome> {
    selected(config, environments)?;
    let report = generate::activate_key(config, environments)?;
    let mut out = Outcome::default();
    if report.changed.is_empty() {
        out.lines.push(format!(
            "Nothing to activate: in every environment of {} the key with the highest version \
             is already the primary. The file was left unchanged.",
            label(config, save_to)
        ));
        return Ok(out);
    }
    save(config, save_to)?;
    out.written = save_to.is_some();
    out.lines = report.summary;
    out.lines.push(format!(
        "Activated the keys with the highest versions in: {}",
        label(config, save_to)
    ));
    Ok(out)
}

/// What `--cleanup-keys` is about to do: shown (and, on a terminal, confirmed) before
/// [`CleanupPlan::apply`].
#[derive(Debug, Clone)]
pub struct CleanupPlan {
    path: Option<PathBuf>,
    label: String,
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
        generate::cleanup_warning(&self.label, &self.removals)
    }

    /// What to print when the user says no.
    pub fn declined(&self) -> String {
        format!("Left {} unchanged.", self.label)
    }

    /// Removes the planned versions and writes the file.
    pub fn apply(self) -> Result<Outcome> {
        self.apply_config().map(|(_, out)| out)
    }

    /// Removes the planned versions, writes the file when the plan has a path, and returns the
    /// configuration as it is now.
    pub fn apply_config(mut self) -> Result<(Config, Outcome)> {
        let mut out = Outcome::default();
        if self.removals.is_empty() {
            out.lines.push(format!(
                "Nothing to remove: every environment of {} has a single key. The file was left \
                 unchanged.",
                self.label
            ));
            return Ok((self.config, out));
        }
        let report = generate::cleanup_keys(&mut self.config, &self.environments)?;
        save(&self.config, self.path.as_deref())?;
        out.written = self.path.is_some();
        out.lines = report.summary;
        out.lines.push(format!(
            "Removed all but the key with the highest version in: {}",
            self.label
        ));
        if out.written {
            out.warnings.extend(self.erb);
        }
        Ok((self.config, out))
    }
}

/// `--cleanup-keys`, first half: what would be removed from the selected environments.
pub fn cleanup_plan(path: &Path, environments: &[String]) -> Result<CleanupPlan> {
    let erb = erb_warning(path);
    let config = load(path)?;
    let mut plan = cleanup_plan_config(config, Some(path), environments)?;
    plan.erb = erb;
    Ok(plan)
}

/// [`cleanup_plan`] for a configuration in memory; [`CleanupPlan::apply_config`] writes it to
/// `save_to` when given.
pub fn cleanup_plan_config(
    config: Config,
    save_to: Option<&Path>,
    environments: &[String],
) -> Result<CleanupPlan> {
    selected(&config, environments)?;
    let removals = generate::cleanup_plan(&config, environments)?;
    Ok(CleanupPlan {
        path: save_to.map(Path::to_path_buf),
        label: label(&config, save_to),
        config,
        environments: environments.to_vec(),
        erb: None,
        removals,
    })
}

/// `--migrate`: rewrites the file in the current format (a `ciphers:` list in every
/// environment, `cipher_name:` for `cipher:`, the gem's layout). The pre-v4 RSA format is
/// refused: migrate it with the Ruby gem first.
pub fn migrate(path: &Path) -> Result<Outcome> {
    let erb = erb_warning(path);
    let config = load(path)?;
    let mut out = migrate_config(&config, Some(path))?;
    out.warnings.extend(erb);
    Ok(out)
}

/// [`migrate`] on a configuration in memory (it is already in the current model once parsed),
/// written to `save_to` when given.
pub fn migrate_config(config: &Config, save_to: Option<&Path>) -> Result<Outcome> {
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
                .context(format!("{}, environment {name:?}", label(config, save_to))));
        }
        if env.is_legacy_inline() {
            out.lines.push(format!(
                "{name}: the cipher written directly under the environment is now the first \
                 entry of a ciphers: list"
            ));
        }
    }
    save(config, save_to)?;
    out.written = save_to.is_some();
    out.lines.push(format!(
        "Existing configuration file successfully migrated to the new format: {}",
        label(config, save_to)
    ));
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
