//! `se_config`: a configuration file as a handle (parse, inspect without keys, write back), and
//! the key-management operations of the command line on it (`se_config_generate`,
//! `se_config_rotate_keys`, ...), each returning an `se_report` with what the command line
//! prints. All the logic is [`crate::cli::keys`] and [`crate::cli::reencrypt`]; this file only
//! converts arguments and results.

use std::ffi::c_char;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::context::{ctx_ref, se_context};
use super::{
    bytes, bytes_out, check_out, guard, guard_value, opt_str, req_str, se_bytes, se_status,
    write_out,
};
use crate::cli::keys::{self, KeyArgs, Outcome};
use crate::cli::reencrypt;
use crate::config::generate::Notice;
use crate::config::{Config, EntryConfig};
use crate::error::Error;

/// A parsed configuration file (every environment, keys not loaded). Changed in place by the
/// key-management calls; use it from one thread at a time. Free with `se_config_free`.
pub struct se_config {
    config: Config,
    /// Where the key-management calls write the file back; `None` for text parsed in memory.
    path: Option<PathBuf>,
}

/// The command line's key-management options, as text. Every field NULL (0 for the integer)
/// means the command line's default for that option. Get one from `se_key_options_default`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_key_options {
    /// `--environments`: comma separated names. NULL: development,test,release,production when
    /// generating, every environment of the file otherwise.
    pub environments: *const c_char,
    /// `--app-name`. NULL: symmetric-encryption when generating, the name in the current key
    /// file or variable names when rotating.
    pub app_name: *const c_char,
    /// `--keystore`: "file", "environment", "heroku", "memory" or "aws". NULL: file when
    /// generating, the current primary's keystore when rotating.
    pub keystore: *const c_char,
    /// `--cipher-name`. NULL: aes-256-gcm when generating, the current cipher when rotating.
    pub cipher_name: *const c_char,
    /// `--key-path`: directory of new key files. NULL: ~/.symmetric-encryption when generating,
    /// beside the current key files when rotating.
    pub key_path: *const c_char,
    /// `--key-permissions`: comma separated octal modes, e.g. "0600,0400".
    pub key_permissions: *const c_char,
    /// `--regions` (aws): comma separated.
    pub regions: *const c_char,
    /// `--rolling-deploy` (rotate keys): 1 puts the new key second, 0 first.
    pub rolling_deploy: i32,
}

/// A NUL-terminated string owned by a report, zeroed when freed.
type CText = Zeroizing<Vec<u8>>;

/// What a key-management call did, as the command line reports it. Every string is UTF-8,
/// NUL-terminated and owned by the report (valid until `se_report_free`). Variable values are
/// encrypted keys: the report zeroes its memory when freed.
pub struct se_report {
    stdout: Zeroizing<Vec<u8>>,
    stderr: Zeroizing<Vec<u8>>,
    lines: Vec<Zeroizing<Vec<u8>>>,
    files: Vec<Zeroizing<Vec<u8>>>,
    /// Name, value, heroku.
    variables: Vec<(CText, CText, bool)>,
    removals: Vec<(Zeroizing<Vec<u8>>, Vec<u8>)>,
    written: bool,
    failures: usize,
}

fn c_text(s: &str) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(s.len() + 1));
    v.extend(s.bytes().map(|b| if b == 0 { b' ' } else { b }));
    v.push(0);
    v
}

impl se_report {
    fn empty() -> se_report {
        se_report {
            stdout: c_text(""),
            stderr: c_text(""),
            lines: Vec::new(),
            files: Vec::new(),
            variables: Vec::new(),
            removals: Vec::new(),
            written: false,
            failures: 0,
        }
    }

    fn from_outcome(out: &Outcome) -> se_report {
        let mut r = se_report::empty();
        r.stdout = c_text(&out.stdout_text());
        let mut err = out.warnings.join("\n");
        if !err.is_empty() {
            err.push('\n');
        }
        r.stderr = c_text(&err);
        r.lines = out.lines.iter().map(|l| c_text(l)).collect();
        for n in &out.notices {
            match n {
                Notice::KeyFileWritten { path, .. } => {
                    r.files.push(c_text(&path.to_string_lossy()))
                }
                Notice::SetEnvironmentVariable { name, value } => {
                    r.variables.push((c_text(name), c_text(value), false))
                }
                Notice::HerokuConfigAdd { name, value } => {
                    r.variables.push((c_text(name), c_text(value), true))
                }
                // Vault notices are printed lines (stdout_text); no file or variable to report.
                Notice::TransitKeyCreated { .. } | Notice::TransitKeyRotated { .. } => {}
            }
        }
        r.written = out.written;
        r
    }

    fn boxed(self) -> *mut se_report {
        Box::into_raw(Box::new(self))
    }
}

impl se_key_options {
    /// # Safety
    /// Every non-NULL field NUL-terminated.
    unsafe fn args(&self) -> Result<KeyArgs, Error> {
        let s = |p: *const c_char, what: &str| -> Result<Option<String>, Error> {
            // SAFETY: the caller's contract on every field.
            Ok(unsafe { opt_str(p, what) }?.map(str::to_string))
        };
        Ok(KeyArgs {
            environments: s(self.environments, "options.environments")?,
            app_name: s(self.app_name, "options.app_name")?,
            keystore: s(self.keystore, "options.keystore")?,
            cipher_name: s(self.cipher_name, "options.cipher_name")?,
            key_path: s(self.key_path, "options.key_path")?.map(PathBuf::from),
            key_permissions: s(self.key_permissions, "options.key_permissions")?,
            regions: s(self.regions, "options.regions")?,
            rolling_deploy: match self.rolling_deploy {
                0 => false,
                1 => true,
                n => {
                    return Err(Error::Argument(format!(
                        "options.rolling_deploy is {n}: give 0 or 1"
                    )))
                }
            },
            gem46: false,
        })
    }
}

/// # Safety
/// `options` NULL or a valid `se_key_options` whose strings are NUL-terminated.
unsafe fn key_args(options: *const se_key_options) -> Result<KeyArgs, Error> {
    if options.is_null() {
        return Ok(KeyArgs::default());
    }
    // SAFETY: non-NULL and valid per the caller's contract.
    unsafe { (*options).args() }
}

/// # Safety
/// `cfg` NULL or a live handle from this library, not used by another thread.
unsafe fn cfg_mut<'a>(cfg: *mut se_config) -> Result<&'a mut se_config, Error> {
    if cfg.is_null() {
        return Err(Error::Argument("cfg is NULL".into()));
    }
    // SAFETY: non-NULL, live and exclusively ours for the call per the contract.
    Ok(unsafe { &mut *cfg })
}

/// # Safety
/// `cfg` NULL or a live handle from this library.
unsafe fn cfg_ref<'a>(cfg: *const se_config) -> Result<&'a se_config, Error> {
    if cfg.is_null() {
        return Err(Error::Argument("cfg is NULL".into()));
    }
    // SAFETY: non-NULL and live per the contract.
    Ok(unsafe { &*cfg })
}

/// # Safety
/// `out` NULL or writable.
unsafe fn clear<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
}

/// `se_key_options` with every option unset (the command line's defaults).
#[no_mangle]
pub extern "C" fn se_key_options_default() -> se_key_options {
    se_key_options {
        environments: std::ptr::null(),
        app_name: std::ptr::null(),
        keystore: std::ptr::null(),
        cipher_name: std::ptr::null(),
        key_path: std::ptr::null(),
        key_permissions: std::ptr::null(),
        regions: std::ptr::null(),
        rolling_deploy: 0,
    }
}

/// Parses a configuration file (ERB rendered, every environment; no key is read). `path` NULL:
/// `SYMMETRIC_ENCRYPTION_CONFIG`, else `config/symmetric-encryption.yml`. The key-management
/// calls on the handle write the file back to `path` (atomically, in the gem's layout), as the
/// command line does. On success `*out` owns a new handle (free it with `se_config_free`);
/// on failure `*out` is NULL.
/// Errors: `SE_ERROR_CONFIG` (missing or invalid file: the message names the file and line),
/// `SE_ERROR_IO`, `SE_ERROR_ARGUMENT` (NULL out, bad UTF-8).
///
/// # Safety
/// `path` NULL or NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_load(
    path: *const c_char,
    out: *mut *mut se_config,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(out) };
    guard("se_config_load", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let path = unsafe { opt_str(path, "path")? }
            .map_or_else(crate::config::default_path, PathBuf::from);
        let mut config = Config::from_path(&path)?;
        config.set_source(path.display().to_string());
        let handle = Box::into_raw(Box::new(se_config {
            config,
            path: Some(path),
        }));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Parses configuration text (`yaml_len` bytes of UTF-8, ERB rendered first). `source` names
/// it in messages (NULL: `"<yaml>"`). The handle has no file: key-management calls change it in
/// memory only; save it with `se_config_write` or read it with `se_config_to_yaml`.
/// Ownership and errors as `se_config_load`.
///
/// # Safety
/// `yaml` valid for `yaml_len` bytes; `source` NULL or NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_parse_yaml(
    yaml: *const c_char,
    yaml_len: usize,
    source: *const c_char,
    out: *mut *mut se_config,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(out) };
    guard("se_config_parse_yaml", || {
        check_out(out, "out")?;
        if yaml.is_null() {
            return Err(Error::Argument("yaml is NULL".into()));
        }
        // SAFETY: caller's contract.
        let (text, source) = unsafe {
            (
                bytes(yaml.cast(), yaml_len, "yaml")?,
                opt_str(source, "source")?,
            )
        };
        let text = std::str::from_utf8(text)
            .map_err(|_| Error::Argument("yaml is not valid UTF-8".into()))?;
        let config = Config::from_yaml_str(text, source.unwrap_or("<yaml>"))?;
        let handle = Box::into_raw(Box::new(se_config { config, path: None }));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Frees a configuration handle. NULL is accepted. Keys held in it are zeroized.
///
/// # Safety
/// `cfg` NULL or a live handle, not used by another thread, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn se_config_free(cfg: *mut se_config) {
    guard_value("se_config_free", (), || {
        if !cfg.is_null() {
            // SAFETY: created by Box::into_raw in this module; the caller gives it up.
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// The configuration as the gem writes it (UTF-8 YAML) into `*out`; free it with
/// `se_bytes_free`. The text holds the keys the file itself holds (development and test keys,
/// memory keystores' encrypted keys): `se_bytes_free` zeroes it.
/// Errors: `SE_ERROR_ARGUMENT` (NULL cfg or out).
///
/// # Safety
/// `cfg` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_to_yaml(cfg: *const se_config, out: *mut se_bytes) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let c = unsafe { cfg_ref(cfg)? };
        let text = Zeroizing::new(c.config.to_yaml());
        Ok(text.as_bytes().to_vec())
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_config_to_yaml", out, body) }
}

/// Writes the configuration to `path` (NULL: the file it was loaded from) atomically (temp
/// file + rename), in the gem's layout. Writing to another path does not change where later
/// key-management calls write.
/// Errors: `SE_ERROR_ARGUMENT` (NULL cfg; NULL path for a handle parsed from text), `SE_ERROR_IO`.
///
/// # Safety
/// `cfg` a live handle; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn se_config_write(cfg: *const se_config, path: *const c_char) -> se_status {
    guard("se_config_write", || {
        // SAFETY: caller's contract.
        let (c, path) = unsafe { (cfg_ref(cfg)?, opt_str(path, "path")?) };
        let target = match (path, &c.path) {
            (Some(p), _) => PathBuf::from(p),
            (None, Some(p)) => p.clone(),
            (None, None) => {
                return Err(Error::Argument(
                    "path is NULL and this configuration was parsed from text: give the path \
                     to write it to"
                        .into(),
                ))
            }
        };
        c.config.write(&target)
    })
}

fn describe_entry(e: &EntryConfig, primary: bool) -> serde_json::Value {
    serde_json::json!({
        "version": e.version_or_default(),
        "cipher_name": e.cipher_name_or_default().as_str(),
        "primary": primary,
        "keystore": e.effective_keystore().map(|k| k.as_str()),
        "key_in_file": e.key.is_some(),
        "key_filename": e.key_filename,
        "key_env_var": e.key_env_var,
        "master_key_alias": e.master_key_alias,
        "key_files": e.key_files.as_ref().map(|fs| fs.iter().map(|f| serde_json::json!({
            "region": f.region, "file_name": f.file_name,
        })).collect::<Vec<_>>()),
        "encoding": e.encoding.map(|x| x.name()),
        "always_add_header": e.always_add_header,
        "key_encrypting_key": e.key_encrypting_key.is_some(),
        "permissions": e.permissions.as_ref().map(|ps| ps.iter()
            .map(|p| format!("{p:04o}")).collect::<Vec<_>>()),
    })
}

/// Describes the configuration without any key, as JSON (UTF-8) in `*out` (free it with
/// `se_bytes_free`): `{"source": ..., "path": ...|null, "environments": [{"name": ...,
/// "entries": [{"version", "cipher_name", "primary", "keystore" (null when the key is in the
/// file), "key_in_file", "key_filename", "key_env_var", "master_key_alias", "key_files":
/// [{"region", "file_name"}], "encoding", "always_add_header", "key_encrypting_key" (whether
/// one secures the key), "permissions": ["0600", ...]}]}]}`, environments and entries in file
/// order (the first entry is the primary). Unset fields are null.
/// Errors: `SE_ERROR_ARGUMENT` (NULL cfg or out).
///
/// # Safety
/// `cfg` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_describe(
    cfg: *const se_config,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let c = unsafe { cfg_ref(cfg)? };
        let mut envs = Vec::new();
        for name in c.config.environment_names() {
            let env = c.config.environment(name)?;
            let entries: Vec<_> = env
                .ciphers
                .iter()
                .enumerate()
                .map(|(i, e)| describe_entry(e, i == 0))
                .collect();
            envs.push(serde_json::json!({"name": name, "entries": entries}));
        }
        let doc = serde_json::json!({
            "source": c.config.source(),
            "path": c.path.as_ref().map(|p| p.to_string_lossy().into_owned()),
            "environments": envs,
        });
        let text = serde_json::to_vec(&doc)
            .map_err(|e| Error::Internal(format!("cannot write the description: {e}")))?;
        Ok(text)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_config_describe", out, body) }
}

/// The environments' names, comma separated in file order, into `*out` (free with
/// `se_bytes_free`; not NUL-terminated).
/// Errors: `SE_ERROR_ARGUMENT` (NULL cfg or out).
///
/// # Safety
/// `cfg` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_environments(
    cfg: *const se_config,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let c = unsafe { cfg_ref(cfg)? };
        let names = c.config.environment_names().join(",");
        Ok(names.into_bytes())
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_config_environments", out, body) }
}

/// The key versions of one environment in file order (the primary first), one byte each, into
/// `*out` (free with `se_bytes_free`).
/// Errors: `SE_ERROR_CONFIG` (no such environment: the message lists the ones there),
/// `SE_ERROR_ARGUMENT` (NULL argument).
///
/// # Safety
/// `cfg` a live handle; `environment` NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_versions(
    cfg: *const se_config,
    environment: *const c_char,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let (c, env) = unsafe { (cfg_ref(cfg)?, req_str(environment, "environment")?) };
        let versions: Vec<u8> = c
            .config
            .environment(env)?
            .ciphers
            .iter()
            .map(EntryConfig::version_or_default)
            .collect();
        Ok(versions)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_config_versions", out, body) }
}

/// Loads the keys of one environment of the handle (`environment` NULL: the default
/// environment, as `se_context_load`) into a new context in `*out` (free with
/// `se_context_free`). Errors as `se_context_load`.
///
/// # Safety
/// `cfg` a live handle; `environment` NULL or NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_context(
    cfg: *const se_config,
    environment: *const c_char,
    out: *mut *mut se_context,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(out) };
    guard("se_config_context", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let (c, env) = unsafe { (cfg_ref(cfg)?, opt_str(environment, "environment")?) };
        let ctx = c.config.context(env)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_context::boxed(ctx), "out") }
    })
}

/// Runs `op` on the handle and hands its report to `*report`.
///
/// # Safety
/// `cfg` a live handle used by no other thread; `report` NULL or writable.
unsafe fn on_config(
    name: &str,
    cfg: *mut se_config,
    report: *mut *mut se_report,
    op: impl FnOnce(&mut Config, Option<&Path>) -> Result<Outcome, Error>,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(report) };
    guard(name, || {
        check_out(report, "report")?;
        // SAFETY: caller's contract.
        let c = unsafe { cfg_mut(cfg)? };
        let out = op(&mut c.config, c.path.as_deref())?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report, se_report::from_outcome(&out).boxed(), "report") }
    })
}

/// `--generate`: a new configuration with version 1 keys for every environment of
/// `options->environments` (development and test get the gem's fixed development key). Key
/// files are written now (file and aws keystores); variables to set are in the report.
/// `path` non-NULL: the configuration is written there (refused, before any key is made, if
/// the file exists) and the handle writes back there; NULL: it stays in memory.
/// On success `*out` owns the new handle (`se_config_free`) and `*report` the report
/// (`se_report_free`); on failure both are NULL.
/// Errors: `SE_ERROR_ARGUMENT` (bad option: unknown keystore or cipher, bad permissions, file
/// exists), `SE_ERROR_KEYSTORE` (KMS failure), `SE_ERROR_IO`.
///
/// # Safety
/// `path` NULL or NUL-terminated; `options` NULL or valid; `out` and `report` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_generate(
    path: *const c_char,
    options: *const se_key_options,
    out: *mut *mut se_config,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe {
        clear(out);
        clear(report);
    }
    guard("se_config_generate", || {
        check_out(out, "out")?;
        check_out(report, "report")?;
        // SAFETY: caller's contract.
        let (path, args) = unsafe { (opt_str(path, "path")?, key_args(options)?) };
        let path = path.map(PathBuf::from);
        let opts = args.generate_options()?;
        let (mut config, outcome) = keys::generate_config(path.as_deref(), &opts)?;
        if let Some(p) = &path {
            config.set_source(p.display().to_string());
        }
        let handle = Box::into_raw(Box::new(se_config { config, path }));
        // SAFETY: both checked non-NULL above.
        unsafe {
            write_out(out, handle, "out")?;
            write_out(report, se_report::from_outcome(&outcome).boxed(), "report")
        }
    })
}

/// `--rotate-keys`: a new data key (highest version + 1) in every environment of
/// `options->environments` (NULL: all) whose key is in a keystore, first in its list, or
/// second with `options->rolling_deploy` = 1 (then `se_config_activate_key` after the deploy).
/// `keystore`, `cipher_name`, `key_path`, `regions` and `app_name` change what the new key
/// uses. The handle changes in place and, when it has a file, the file is written back.
/// `*report` (free with `se_report_free`): files written, variables to set.
/// Errors: `SE_ERROR_CONFIG` (unknown environment), `SE_ERROR_ARGUMENT` (bad option),
/// `SE_ERROR_KEYSTORE`, `SE_ERROR_IO`. On failure the handle may hold the keys made so far
/// but the file is not written.
///
/// # Safety
/// `cfg` a live handle used by no other thread; `options` NULL or valid; `report` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_rotate_keys(
    cfg: *mut se_config,
    options: *const se_key_options,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    let args = match unsafe { key_args(options) } {
        Ok(a) => a,
        Err(e) => return guard("se_config_rotate_keys", || Err(e)),
    };
    // SAFETY: caller's contract.
    unsafe {
        on_config("se_config_rotate_keys", cfg, report, |c, p| {
            keys::rotate_keys_config(c, p, &args.rotate_keys_args()?)
        })
    }
}

/// `--rotate-kek`: the current data key of every selected environment re-encrypted under new
/// key-encrypting keys (file, environment, heroku and memory keystores; data keys and
/// versions stay). Uses `options->environments` and `options->app_name`. The previous key
/// files are moved aside, never deleted; a variable keeps its name and gets a new value (in the
/// report). Handle and file change as for `se_config_rotate_keys`; errors likewise.
///
/// # Safety
/// As `se_config_rotate_keys`.
#[no_mangle]
pub unsafe extern "C" fn se_config_rotate_kek(
    cfg: *mut se_config,
    options: *const se_key_options,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    let args = match unsafe { key_args(options) } {
        Ok(a) => a,
        Err(e) => return guard("se_config_rotate_kek", || Err(e)),
    };
    // SAFETY: caller's contract.
    unsafe {
        on_config("se_config_rotate_kek", cfg, report, |c, p| {
            keys::rotate_kek_config(c, p, &args.environment_list(), args.app_name.as_deref())
        })
    }
}

/// `--activate-key`: the entry with the highest version becomes the primary in every
/// environment of `options->environments` (NULL: all). Handle and file change only when that
/// changes something (`se_report_written`). Errors: `SE_ERROR_CONFIG`, `SE_ERROR_IO`.
///
/// # Safety
/// As `se_config_rotate_keys`.
#[no_mangle]
pub unsafe extern "C" fn se_config_activate_key(
    cfg: *mut se_config,
    options: *const se_key_options,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    let args = match unsafe { key_args(options) } {
        Ok(a) => a,
        Err(e) => return guard("se_config_activate_key", || Err(e)),
    };
    // SAFETY: caller's contract.
    unsafe {
        on_config("se_config_activate_key", cfg, report, |c, p| {
            keys::activate_key_config(c, p, &args.environment_list())
        })
    }
}

fn plan_report(plan: &keys::CleanupPlan) -> se_report {
    let mut r = se_report::empty();
    if !plan.is_empty() {
        r.stdout = c_text(&plan.warning());
    }
    r.removals = plan
        .removals
        .iter()
        .map(|rm| (c_text(&rm.environment), rm.versions.clone()))
        .collect();
    r
}

/// `--cleanup-keys`, first half: what `se_config_cleanup_keys` would remove (every version but
/// the highest in each selected environment), changing nothing. `*report`: the gem's warning
/// naming them (`se_report_stdout`, "" when nothing would be removed) and the versions per
/// environment (`se_report_removal`). Errors: `SE_ERROR_CONFIG`.
///
/// # Safety
/// `cfg` a live handle; `options` NULL or valid; `report` writable.
#[no_mangle]
pub unsafe extern "C" fn se_config_cleanup_plan(
    cfg: *const se_config,
    options: *const se_key_options,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(report) };
    guard("se_config_cleanup_plan", || {
        check_out(report, "report")?;
        // SAFETY: caller's contract.
        let (c, args) = unsafe { (cfg_ref(cfg)?, key_args(options)?) };
        let plan = keys::cleanup_plan_config(
            c.config.clone(),
            c.path.as_deref(),
            &args.environment_list(),
        )?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report, plan_report(&plan).boxed(), "report") }
    })
}

/// `--cleanup-keys --force`: removes every version but the highest from each selected
/// environment (key files are not deleted). The removed versions are in the report
/// (`se_report_removal`). Handle and file change as for `se_config_rotate_keys`.
/// Errors: `SE_ERROR_CONFIG`, `SE_ERROR_IO`.
///
/// # Safety
/// As `se_config_rotate_keys`.
#[no_mangle]
pub unsafe extern "C" fn se_config_cleanup_keys(
    cfg: *mut se_config,
    options: *const se_key_options,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(report) };
    guard("se_config_cleanup_keys", || {
        check_out(report, "report")?;
        // SAFETY: caller's contract.
        let (c, args) = unsafe { (cfg_mut(cfg)?, key_args(options)?) };
        let plan = keys::cleanup_plan_config(
            c.config.clone(),
            c.path.as_deref(),
            &args.environment_list(),
        )?;
        let removals = plan_report(&plan).removals;
        let (config, outcome) = plan.apply_config()?;
        c.config = config;
        let mut r = se_report::from_outcome(&outcome);
        r.removals = removals;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report, r.boxed(), "report") }
    })
}

/// `--migrate`: writes the configuration back in the current format (a `ciphers:` list in
/// every environment, the gem's layout); for a handle without a file, only the report says
/// what changed (`se_config_to_yaml` gives the text). The pre-v4 RSA format is refused
/// (`SE_ERROR_CONFIG`: migrate it with the Ruby gem first). Errors also `SE_ERROR_IO`.
///
/// # Safety
/// As `se_config_rotate_keys`.
#[no_mangle]
pub unsafe extern "C" fn se_config_migrate(
    cfg: *mut se_config,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe {
        on_config("se_config_migrate", cfg, report, |c, p| {
            keys::migrate_config(c, p)
        })
    }
}

/// `--re-encrypt`: every encrypted file matching the glob `pattern` (NULL: the command line's
/// default, every .yml and .rb file under the working directory; relative to the working
/// directory; `{a,b}` alternatives as in a shell) re-encrypted with `version` of
/// `ctx` (-1: its primary), and every encrypted value inside matching text files up to
/// 256 KiB replaced in place (atomically). A file that cannot be re-encrypted is left as it
/// was: it is named in `se_report_stderr` and counted by `se_report_failures`; the call
/// still returns `SE_OK`. `*report`: one line per file changed (`se_report_line`), then the
/// summary line, as the command line prints them.
/// Errors: `SE_ERROR_ARGUMENT` (bad pattern or version, NULL ctx or report), `SE_ERROR_CIPHER`
/// (version not in the context).
///
/// # Safety
/// `ctx` a live context; `pattern` NULL or NUL-terminated; `report` writable.
#[no_mangle]
pub unsafe extern "C" fn se_reencrypt(
    ctx: *const se_context,
    pattern: *const c_char,
    version: i32,
    report: *mut *mut se_report,
) -> se_status {
    // SAFETY: caller's contract.
    unsafe { clear(report) };
    guard("se_reencrypt", || {
        check_out(report, "report")?;
        // SAFETY: caller's contract.
        let (ctx, pattern) = unsafe { (ctx_ref(ctx)?, opt_str(pattern, "pattern")?) };
        let pattern = pattern.unwrap_or(reencrypt::DEFAULT_PATTERN);
        let version = super::value::version_arg(version)?;
        let mut r = se_report::empty();
        let mut out = String::new();
        let mut err = String::new();
        let summary = reencrypt::re_encrypt(ctx, pattern, version, &mut |f| {
            if let Some(line) = f.line() {
                if f.is_failure() {
                    err.push_str(&line);
                    err.push('\n');
                } else {
                    out.push_str(&line);
                    out.push('\n');
                }
                r.lines.push(c_text(&line));
            }
        })?;
        let last = summary.line(pattern);
        // "No files match": standard error, as the command line prints it.
        let to = if summary.files == 0 {
            &mut err
        } else {
            &mut out
        };
        to.push_str(&last);
        to.push('\n');
        r.lines.push(c_text(&last));
        r.stdout = c_text(&out);
        r.stderr = c_text(&err);
        r.failures = summary.failures;
        r.written = summary.files_reencrypted + summary.values_reencrypted > 0;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(report, r.boxed(), "report") }
    })
}

/// Frees a report. NULL is accepted. Its memory is zeroed first.
///
/// # Safety
/// `report` NULL or a live report, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn se_report_free(report: *mut se_report) {
    guard_value("se_report_free", (), || {
        if !report.is_null() {
            // SAFETY: created by Box::into_raw in this module; the caller gives it up.
            drop(unsafe { Box::from_raw(report) });
        }
    })
}

/// # Safety
/// `report` NULL or a live report.
unsafe fn rep<'a>(report: *const se_report) -> Option<&'a se_report> {
    // SAFETY: NULL or live per the contract.
    unsafe { report.as_ref() }
}

fn ptr(v: &[u8]) -> *const c_char {
    v.as_ptr().cast()
}

/// Everything the command line prints to standard output for this operation (the gem's
/// `export` / `heroku config:add` blocks, then the summary lines). Never NULL ("" for a NULL
/// report); owned by the report.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_stdout(report: *const se_report) -> *const c_char {
    // SAFETY: caller's contract.
    guard_value("se_report_stdout", c"".as_ptr(), || {
        match unsafe { rep(report) } {
            Some(r) => ptr(&r.stdout),
            None => c"".as_ptr(),
        }
    })
}

/// What the command line prints to standard error (warnings; files that could not be
/// re-encrypted), "" when nothing. Never NULL; owned by the report.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_stderr(report: *const se_report) -> *const c_char {
    // SAFETY: caller's contract.
    guard_value("se_report_stderr", c"".as_ptr(), || {
        match unsafe { rep(report) } {
            Some(r) => ptr(&r.stderr),
            None => c"".as_ptr(),
        }
    })
}

/// Number of summary lines (`se_report_line`); 0 for NULL.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_line_count(report: *const se_report) -> usize {
    // SAFETY: caller's contract.
    guard_value("se_report_line_count", 0, || {
        unsafe { rep(report) }.map_or(0, |r| r.lines.len())
    })
}

/// Summary line `index` (0-based), without a line end; NULL when out of range. Owned by the
/// report.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_line(report: *const se_report, index: usize) -> *const c_char {
    guard_value("se_report_line", std::ptr::null(), || {
        // SAFETY: caller's contract.
        unsafe { rep(report) }
            .and_then(|r| r.lines.get(index))
            .map_or(std::ptr::null(), |l| ptr(l))
    })
}

/// Number of key files written; 0 for NULL.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_file_count(report: *const se_report) -> usize {
    // SAFETY: caller's contract.
    guard_value("se_report_file_count", 0, || {
        unsafe { rep(report) }.map_or(0, |r| r.files.len())
    })
}

/// Path of key file `index` written (as named in the configuration); NULL when out of range.
/// Owned by the report.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_file(report: *const se_report, index: usize) -> *const c_char {
    guard_value("se_report_file", std::ptr::null(), || {
        // SAFETY: caller's contract.
        unsafe { rep(report) }
            .and_then(|r| r.files.get(index))
            .map_or(std::ptr::null(), |l| ptr(l))
    })
}

/// Number of variables to set (environment and heroku keystores); 0 for NULL.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_variable_count(report: *const se_report) -> usize {
    guard_value("se_report_variable_count", 0, || {
        // SAFETY: caller's contract.
        unsafe { rep(report) }.map_or(0, |r| r.variables.len())
    })
}

/// Variable `index` to set: `*name`, `*value` (the encrypted data key, base64; owned by the
/// report) and `*heroku` (1: `heroku config:add`, 0: `export`). Any out-pointer may be NULL.
/// Errors: `SE_ERROR_ARGUMENT` (NULL report, index out of range).
///
/// # Safety
/// `report` NULL or a live report; non-NULL out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn se_report_variable(
    report: *const se_report,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
    heroku: *mut i32,
) -> se_status {
    guard("se_report_variable", || {
        // SAFETY: caller's contract.
        let r = unsafe { rep(report) }.ok_or_else(|| Error::Argument("report is NULL".into()))?;
        let (n, v, h) = r.variables.get(index).ok_or_else(|| {
            Error::Argument(format!(
                "variable index {index} is out of range: the report has {}",
                r.variables.len()
            ))
        })?;
        // SAFETY: each pointer NULL or writable per the contract.
        unsafe {
            if !name.is_null() {
                name.write(ptr(n));
            }
            if !value.is_null() {
                value.write(ptr(v));
            }
            if !heroku.is_null() {
                heroku.write(i32::from(*h));
            }
        }
        Ok(())
    })
}

/// Number of environments with versions removed (cleanup) or to remove (cleanup plan).
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_removal_count(report: *const se_report) -> usize {
    guard_value("se_report_removal_count", 0, || {
        // SAFETY: caller's contract.
        unsafe { rep(report) }.map_or(0, |r| r.removals.len())
    })
}

/// Removal `index`: `*environment` and its `*count` versions at `*versions` (in file order),
/// owned by the report. Any out-pointer may be NULL.
/// Errors: `SE_ERROR_ARGUMENT` (NULL report, index out of range).
///
/// # Safety
/// `report` NULL or a live report; non-NULL out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn se_report_removal(
    report: *const se_report,
    index: usize,
    environment: *mut *const c_char,
    versions: *mut *const u8,
    count: *mut usize,
) -> se_status {
    guard("se_report_removal", || {
        // SAFETY: caller's contract.
        let r = unsafe { rep(report) }.ok_or_else(|| Error::Argument("report is NULL".into()))?;
        let (e, vs) = r.removals.get(index).ok_or_else(|| {
            Error::Argument(format!(
                "removal index {index} is out of range: the report has {}",
                r.removals.len()
            ))
        })?;
        // SAFETY: each pointer NULL or writable per the contract.
        unsafe {
            if !environment.is_null() {
                environment.write(ptr(e));
            }
            if !versions.is_null() {
                versions.write(vs.as_ptr());
            }
            if !count.is_null() {
                count.write(vs.len());
            }
        }
        Ok(())
    })
}

/// 1 when the operation wrote the configuration file or re-encrypted something, else 0.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_written(report: *const se_report) -> i32 {
    guard_value("se_report_written", 0, || {
        // SAFETY: caller's contract.
        unsafe { rep(report) }.map_or(0, |r| i32::from(r.written))
    })
}

/// Files that could not be fully re-encrypted (`se_reencrypt`), else 0.
///
/// # Safety
/// `report` NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn se_report_failures(report: *const se_report) -> usize {
    guard_value("se_report_failures", 0, || {
        // SAFETY: caller's contract.
        unsafe { rep(report) }.map_or(0, |r| r.failures)
    })
}

/// Runs the `symmetric-encryption` command line in this process, exactly as the binary: `argv`
/// holds `argc` NUL-terminated arguments, the first being the program name (as `main`
/// receives them). Reads standard input and writes to the process's standard output and error
/// (file descriptors 0, 1, 2; flush your own buffers first). Returns the exit status: 0
/// success, 1 failure (a one-line message on standard error), 2 usage error. Arguments need
/// not be UTF-8. Never unwinds: an internal error prints a message and returns 1.
///
/// # Safety
/// `argv` valid for `argc` pointers, each a NUL-terminated string (NULL `argv` with `argc` 0 is
/// accepted).
#[no_mangle]
pub unsafe extern "C" fn se_cli_main(argc: i32, argv: *const *const c_char) -> i32 {
    guard_value("se_cli_main", 1, || {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if !argv.is_null() {
            for i in 0..usize::try_from(argc).unwrap_or(0) {
                // SAFETY: argv holds argc pointers per the contract.
                let p = unsafe { *argv.add(i) };
                if p.is_null() {
                    break;
                }
                // SAFETY: NUL-terminated per the contract.
                let bytes = unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes();
                args.push(os_string(bytes));
            }
        }
        if args.is_empty() {
            args.push("symmetric-encryption".into());
        }
        crate::cli::app::main(args)
    })
}

#[cfg(unix)]
fn os_string(b: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b).to_os_string()
}

#[cfg(not(unix))]
fn os_string(b: &[u8]) -> std::ffi::OsString {
    String::from_utf8_lossy(b).into_owned().into()
}

/// The gem's `Keystore::<Name>.generate_data_key` arguments. Strings NULL mean "not given".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_data_key_options {
    /// "file", "environment", "heroku", "memory" or "aws" (required).
    pub keystore: *const c_char,
    /// The cipher of the new key (NULL: aes-256-cbc, the gem's keystores' default).
    pub cipher_name: *const c_char,
    /// Used in key file and variable names (required).
    pub app_name: *const c_char,
    /// Used in key file and variable names (required).
    pub environment: *const c_char,
    /// The current version: the new key gets `version + 1`, and 255 wraps to 1, as in the gem.
    pub version: i32,
    /// Directory of the key files (file and aws keystores; required for them).
    pub key_path: *const c_char,
    /// Comma separated octal modes (file keystore): written as `permissions:`, the first is the
    /// mode of the new key files.
    pub key_permissions: *const c_char,
    /// Comma separated regions (aws; NULL: the gem's four default regions).
    pub regions: *const c_char,
    /// The data key to store (`dek:` in the gem), or NULL for a new random one.
    pub dek: *const u8,
    /// Length of `dek`.
    pub dek_len: usize,
    /// The iv that goes with `dek` (NULL: a new random one).
    pub dek_iv: *const u8,
    /// Length of `dek_iv`.
    pub dek_iv_len: usize,
}

/// `se_data_key_options` with nothing set (version 0).
#[no_mangle]
pub extern "C" fn se_data_key_options_default() -> se_data_key_options {
    se_data_key_options {
        keystore: std::ptr::null(),
        cipher_name: std::ptr::null(),
        app_name: std::ptr::null(),
        environment: std::ptr::null(),
        version: 0,
        key_path: std::ptr::null(),
        key_permissions: std::ptr::null(),
        regions: std::ptr::null(),
        dek: std::ptr::null(),
        dek_len: 0,
        dek_iv: std::ptr::null(),
        dek_iv_len: 0,
    }
}

/// One new data key in a keystore, as the gem's `Keystore::<Name>.generate_data_key`: key
/// files are written (file, aws), the variable to set is in the report (environment, heroku).
/// `*entry_yaml` (free with `se_bytes_free`) is a configuration in the gem's layout with one
/// environment (`options->environment`) holding the one new entry: what to add to a
/// configuration's `ciphers:`. It holds the key-encrypting key for the environment, heroku
/// and memory keystores, as the gem's entry does; `se_bytes_free` zeroes it.
/// `*report` (free with `se_report_free`): files written, variables to set.
/// Errors: `SE_ERROR_ARGUMENT` (missing or bad option, dek of the wrong length),
/// `SE_ERROR_KEYSTORE` (KMS), `SE_ERROR_IO`.
///
/// # Safety
/// `options` valid, its strings NUL-terminated and buffers valid for their lengths; outs
/// writable.
#[no_mangle]
pub unsafe extern "C" fn se_keystore_generate_data_key(
    options: *const se_data_key_options,
    entry_yaml: *mut se_bytes,
    report: *mut *mut se_report,
) -> se_status {
    if !entry_yaml.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { entry_yaml.write(se_bytes::EMPTY) };
    }
    // SAFETY: caller's contract.
    unsafe { clear(report) };
    guard("se_keystore_generate_data_key", || {
        check_out(entry_yaml, "entry_yaml")?;
        check_out(report, "report")?;
        if options.is_null() {
            return Err(Error::Argument("options is NULL".into()));
        }
        // SAFETY: non-NULL and valid per the contract.
        let o = unsafe { &*options };
        // SAFETY: the fields' contract.
        let (keystore, cipher, app, env, key_path, perms, regions, dek, dek_iv) = unsafe {
            (
                req_str(o.keystore, "options.keystore")?,
                opt_str(o.cipher_name, "options.cipher_name")?,
                req_str(o.app_name, "options.app_name")?,
                req_str(o.environment, "options.environment")?,
                opt_str(o.key_path, "options.key_path")?,
                opt_str(o.key_permissions, "options.key_permissions")?,
                opt_str(o.regions, "options.regions")?,
                (!o.dek.is_null())
                    .then(|| bytes(o.dek, o.dek_len, "options.dek"))
                    .transpose()?,
                (!o.dek_iv.is_null())
                    .then(|| bytes(o.dek_iv, o.dek_iv_len, "options.dek_iv"))
                    .transpose()?,
            )
        };
        if !(0..=255).contains(&o.version) {
            return Err(Error::Argument(format!(
                "options.version is {}: give the current version, 0..255",
                o.version
            )));
        }
        let keystore = crate::keystore::KeystoreKind::from_name(keystore)?;
        let cipher_name = cipher
            .map(crate::cipher::CipherName::from_name)
            .transpose()?
            .unwrap_or(crate::cipher::CipherName::Aes256Cbc);
        let needs_path = matches!(
            keystore,
            crate::keystore::KeystoreKind::File | crate::keystore::KeystoreKind::Aws
        );
        if needs_path && key_path.is_none() {
            return Err(Error::Argument(format!(
                "options.key_path is NULL: the {} keystore writes key files there",
                keystore.as_str()
            )));
        }
        let version = if o.version >= 255 {
            1
        } else {
            o.version as u8 + 1
        };
        let spec = crate::config::generate::DataKeySpec {
            keystore,
            cipher_name,
            app_name: app.to_string(),
            environment: env.to_string(),
            version,
            key_path: PathBuf::from(key_path.unwrap_or(".")),
            key_permissions: perms.map(crate::cli::parse_permissions).transpose()?,
            regions: regions.map(crate::cli::split_list).unwrap_or_default(),
        };
        let supplied = dek
            .map(|k| -> Result<_, Error> {
                Ok(crate::config::generate::DataKey {
                    key: crate::key::SecretBytes::from_slice(k),
                    iv: Some(match dek_iv {
                        Some(iv) => crate::key::SecretBytes::from_slice(iv),
                        None => crate::key::SecretBytes::random(cipher_name.iv_len())?,
                    }),
                })
            })
            .transpose()?;
        if let Some(d) = &supplied {
            if d.key.as_bytes().len() != cipher_name.key_len() {
                return Err(Error::Argument(format!(
                    "options.dek is {} bytes, but {} needs {}",
                    d.key.as_bytes().len(),
                    cipher_name.as_str(),
                    cipher_name.key_len()
                )));
            }
        }
        let io = crate::keystore::KeyIo::default();
        let (entry, notices) =
            crate::config::generate::generate_data_key(&spec, supplied.as_ref(), &io)?;
        let mut config = Config::new("<generated>");
        config.set_environment(
            env.to_string(),
            crate::config::EnvironmentConfig::new(vec![entry]),
        );
        let text = Zeroizing::new(config.to_yaml());
        let outcome = Outcome {
            notices,
            ..Default::default()
        };
        // SAFETY: both checked non-NULL above.
        unsafe {
            write_out(
                entry_yaml,
                se_bytes::from_vec(text.as_bytes().to_vec()),
                "entry_yaml",
            )?;
            write_out(report, se_report::from_outcome(&outcome).boxed(), "report")
        }
    })
}

/// Reads the data key of entry `index` (0 = the primary) of `environment` in configuration
/// text (`yaml_len` bytes, the gem's layout), through its whole chain of key-encrypting keys
/// and keystore (key file, variable, KMS): the gem's `Keystore.read_key`. `*key` gets the raw
/// key, `*iv` its iv (empty when none), both to be freed (and zeroed) with `se_bytes_free`.
/// Meant for key-management tools: keep the key out of logs and files.
/// Errors: as `se_context_load`; `SE_ERROR_ARGUMENT` for an index out of range.
///
/// # Safety
/// `yaml` valid for `yaml_len` bytes; `environment` NUL-terminated; `key` and `iv` writable.
#[no_mangle]
pub unsafe extern "C" fn se_keystore_read_key(
    yaml: *const c_char,
    yaml_len: usize,
    environment: *const c_char,
    index: usize,
    key: *mut se_bytes,
    iv: *mut se_bytes,
) -> se_status {
    for out in [key, iv] {
        if !out.is_null() {
            // SAFETY: non-NULL, writable per the contract.
            unsafe { out.write(se_bytes::EMPTY) };
        }
    }
    guard("se_keystore_read_key", || {
        check_out(key, "key")?;
        check_out(iv, "iv")?;
        if yaml.is_null() {
            return Err(Error::Argument("yaml is NULL".into()));
        }
        // SAFETY: caller's contract.
        let (text, env) = unsafe {
            (
                bytes(yaml.cast(), yaml_len, "yaml")?,
                req_str(environment, "environment")?,
            )
        };
        let text = std::str::from_utf8(text)
            .map_err(|_| Error::Argument("yaml is not valid UTF-8".into()))?;
        let config = Config::from_yaml_str(text, "<yaml>")?;
        let entries = &config.environment(env)?.ciphers;
        let entry = entries.get(index).ok_or_else(|| {
            Error::Argument(format!(
                "index {index} is out of range: environment {env:?} has {} entries",
                entries.len()
            ))
        })?;
        let cipher = entry
            .cipher(config.key_io())
            .map_err(|e| e.context(format!("environment {env:?}")))?;
        // SAFETY: both checked non-NULL above.
        unsafe {
            write_out(key, se_bytes::from_vec(cipher.key().to_vec()), "key")?;
            write_out(
                iv,
                se_bytes::from_vec(cipher.iv().unwrap_or_default().to_vec()),
                "iv",
            )
        }
    })
}
