//! `--inventory` and `--re-encrypt-columns`: database columns after a key rotation (the `db`
//! feature; see `symmetric_encryption::db` for the library API). The flags are always known to
//! the command line, so that a build without the feature can say what is missing.

use super::bar::Bar;
use super::Target;
use crate::error::{Error, Result};

const DB: &str = "Database columns (after a key rotation)";

/// The database flags of the command line. Its `Debug` hides the URL (it may hold a password).
#[derive(clap::Args, Clone, Default)]
// Without these, the doc comment above would become the whole command's description in --help.
#[command(about = None, long_about = None)]
pub struct DbArgs {
    /// Database URL: sqlite:PATH, postgres://USER:PASSWORD@HOST:PORT/DB, mysql://... or
    /// mariadb://... [default: SYMMETRIC_ENCRYPTION_DB]
    #[arg(long, value_name = "URL", requires = "db_command", help_heading = DB)]
    pub db: Option<String>,

    /// Count, for each TABLE.COLUMN, the values at each key version, plaintext, NULL, empty and
    /// undecryptable (listed on standard error, exit status 1). Comma separated; TABLE.* is
    /// every text and binary column of the table but its primary key.
    #[arg(long, value_name = "TABLE.COLUMN,...", group = "db_command", help_heading = DB)]
    pub inventory: Option<String>,

    /// With --inventory: print one JSON object instead of a table.
    #[arg(long, conflicts_with = "re_encrypt_columns", help_heading = DB)]
    pub json: bool,

    /// Re-encrypt with the current key (or --key-version) every value of these columns that is
    /// at another version, on a live database: rows in primary-key order, one transaction per
    /// batch, each update conditional on the value being unchanged. Comma separated.
    #[arg(long, value_name = "TABLE.COLUMN,...", group = "db_command", help_heading = DB)]
    pub re_encrypt_columns: Option<String>,

    /// Rows per batch (one transaction each). [default: 1000]
    #[arg(long, value_name = "N", conflicts_with = "inventory", help_heading = DB)]
    pub batch_size: Option<usize>,

    /// Connections re-encrypting each column at once. [default: 1]
    #[arg(long, value_name = "N", conflicts_with = "inventory", help_heading = DB)]
    pub workers: Option<u32>,

    /// This machine's part of each table, I of N (1-based), when N machines share the work.
    #[arg(long, value_name = "I/N", conflicts_with = "inventory", help_heading = DB)]
    pub shard: Option<String>,

    /// Continue an interrupted --re-encrypt-columns run from its checkpoint (same --workers
    /// and --shard).
    #[arg(long, conflicts_with = "inventory", help_heading = DB)]
    pub resume: bool,

    /// Count what --re-encrypt-columns would change; change nothing.
    #[arg(long, conflicts_with = "inventory", help_heading = DB)]
    pub dry_run: bool,

    /// Read at most N rows per second (over all workers).
    #[arg(long, value_name = "N", conflicts_with = "inventory", help_heading = DB)]
    pub max_rows_per_second: Option<u64>,

    /// Directory for checkpoint files. [default: the current directory]
    #[arg(long, value_name = "DIR", conflicts_with = "inventory", help_heading = DB)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for DbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbArgs")
            .field("db", &self.db.as_ref().map(|_| "<hidden>"))
            .field("inventory", &self.inventory)
            .field("json", &self.json)
            .field("re_encrypt_columns", &self.re_encrypt_columns)
            .field("batch_size", &self.batch_size)
            .field("workers", &self.workers)
            .field("shard", &self.shard)
            .field("resume", &self.resume)
            .field("dry_run", &self.dry_run)
            .field("max_rows_per_second", &self.max_rows_per_second)
            .field("checkpoint_dir", &self.checkpoint_dir)
            .finish()
    }
}

/// What a database command ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// For standard output.
    pub stdout: String,
    /// Values that could not be decrypted (already listed through `warn`).
    pub undecryptable: u64,
}

#[cfg(not(feature = "db"))]
fn unavailable() -> Error {
    Error::Argument(
        "this build of symmetric-encryption has no database support: build it with \
         --features db"
            .into(),
    )
}

/// Runs `--inventory` or `--re-encrypt-columns`, whichever was given: values that do not
/// decrypt go to `warn` as they are found; a progress line is drawn on standard error when it
/// is a terminal (`--re-encrypt-columns` only).
pub fn command(
    args: &DbArgs,
    target: &Target,
    key_version: Option<u8>,
    warn: &(dyn Fn(&str) + Sync),
) -> Result<Finished> {
    let bar = std::sync::Mutex::new(Bar::new(args.re_encrypt_columns.is_some()));
    let draw = |line: &str| bar.lock().expect("progress bar").line(line);
    let warn_line = |line: &str| {
        bar.lock().expect("progress bar").clear();
        warn(line);
    };
    let progress = bar.lock().expect("progress bar").enabled();
    let done = if args.inventory.is_some() {
        inventory(args, target, &warn_line)
    } else {
        let draw = progress.then_some(&draw as &(dyn Fn(&str) + Sync));
        re_encrypt_columns(args, target, key_version, &warn_line, draw)
    };
    bar.lock().expect("progress bar").clear();
    done
}

/// `--inventory`. Undecryptable values go to `warn` as they are found.
#[cfg(not(feature = "db"))]
pub fn inventory(_: &DbArgs, _: &Target, _: &(dyn Fn(&str) + Sync)) -> Result<Finished> {
    Err(unavailable())
}

/// `--re-encrypt-columns`. Undecryptable values go to `warn`, progress lines to `progress`.
#[cfg(not(feature = "db"))]
pub fn re_encrypt_columns(
    _: &DbArgs,
    _: &Target,
    _: Option<u8>,
    _: &(dyn Fn(&str) + Sync),
    _: Option<&(dyn Fn(&str) + Sync)>,
) -> Result<Finished> {
    Err(unavailable())
}

/// `--inventory`. Undecryptable values go to `warn` as they are found.
#[cfg(feature = "db")]
pub fn inventory(args: &DbArgs, target: &Target, warn: &(dyn Fn(&str) + Sync)) -> Result<Finished> {
    use crate::db::{inventory, ColumnRef, DbUrl};
    let cols = ColumnRef::parse_list(args.inventory.as_deref().unwrap_or_default())
        .map_err(|e| e.context("--inventory"))?;
    let url = DbUrl::from_arg_or_env(args.db.as_deref())?;
    let ctx = target.load()?;
    let found = inventory::inventory(&url, &ctx, &cols, &|f| warn(&f.to_string()))?;
    let undecryptable = found.iter().map(|(_, i)| i.undecryptable).sum();
    let stdout = if args.json {
        format!("{}\n", inventory::to_json(&found))
    } else {
        inventory::to_table(&found)
    };
    Ok(Finished {
        stdout,
        undecryptable,
    })
}

/// `--re-encrypt-columns`. Undecryptable values go to `warn`, progress lines to `progress`.
#[cfg(feature = "db")]
pub fn re_encrypt_columns(
    args: &DbArgs,
    target: &Target,
    key_version: Option<u8>,
    warn: &(dyn Fn(&str) + Sync),
    progress: Option<&(dyn Fn(&str) + Sync)>,
) -> Result<Finished> {
    use crate::db::reencrypt::{self, Event, Options, Shard};
    use crate::db::{ColumnRef, DbUrl};
    let cols = ColumnRef::parse_list(args.re_encrypt_columns.as_deref().unwrap_or_default())
        .map_err(|e| e.context("--re-encrypt-columns"))?;
    let defaults = Options::default();
    let positive = |name: &str, v: Option<u64>| -> Result<()> {
        match v {
            Some(0) => Err(Error::Argument(format!("{name} must be at least 1"))),
            _ => Ok(()),
        }
    };
    positive("--batch-size", args.batch_size.map(|v| v as u64))?;
    positive("--workers", args.workers.map(u64::from))?;
    positive("--max-rows-per-second", args.max_rows_per_second)?;
    let opts = Options {
        version: key_version,
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        workers: args.workers.unwrap_or(defaults.workers),
        shard: args
            .shard
            .as_deref()
            .map(Shard::parse)
            .transpose()?
            .unwrap_or_default(),
        resume: args.resume,
        dry_run: args.dry_run,
        max_rows_per_second: args.max_rows_per_second,
        checkpoint_dir: args
            .checkpoint_dir
            .clone()
            .unwrap_or(defaults.checkpoint_dir),
    };
    let url = DbUrl::from_arg_or_env(args.db.as_deref())?;
    let ctx = target.load()?;
    let started = std::time::Instant::now();
    let done = reencrypt::re_encrypt(&url, &ctx, &cols, &opts, &|e| match e {
        Event::Undecryptable(f) => warn(&f.to_string()),
        Event::Progress(c, s) => {
            if let Some(p) = progress {
                let rate = s.rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
                p(&format!(
                    "{c}: {} rows read, {} re-encrypted, {rate:.0} rows/s",
                    s.rows, s.reencrypted
                ));
            }
        }
    })?;
    let mut stdout = String::new();
    let mut undecryptable = 0;
    for (c, s) in &done {
        undecryptable += s.undecryptable;
        let verb = if opts.dry_run {
            "would be re-encrypted"
        } else {
            "re-encrypted"
        };
        stdout.push_str(&format!(
            "{c}: {} rows read, {} {verb} to version {}, {} already at version {}, {} NULL, \
             empty or plaintext",
            s.rows, s.reencrypted, s.version, s.current, s.version, s.skipped
        ));
        if s.changed_concurrently > 0 {
            stdout.push_str(&format!(
                ", {} changed by the application meanwhile (left as it wrote them)",
                s.changed_concurrently
            ));
        }
        if s.undecryptable > 0 {
            stdout.push_str(&format!(
                ", {} cannot be decrypted (left as they are, listed on standard error)",
                s.undecryptable
            ));
        }
        stdout.push('\n');
    }
    Ok(Finished {
        stdout,
        undecryptable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_url() {
        let args = DbArgs {
            db: Some("postgres://app:s3cret@db/prod".into()),
            ..DbArgs::default()
        };
        let shown = format!("{args:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<hidden>"),
            "{shown}"
        );
    }
}
