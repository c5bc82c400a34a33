//! Re-encrypting database columns on a live database.
//!
//! Rows are read in primary-key order in batches. Every value not at the target version is
//! decrypted and encrypted again with the target key (keeping its encoding, header,
//! compression and kind of iv, see [`super::value`]); the batch's updates are applied in
//! one transaction, each conditional on the value still being what was read
//! (`UPDATE t SET c = new WHERE pk = k AND c = old`). A row the application changed in between
//! is left alone and counted: the application already writes with the new key. After each
//! batch the last key is saved in a [`Checkpoint`], which `resume` starts from.
//!
//! `workers` splits the table over that many connections, and `shard` (`I/N`) lets N machines
//! share one table: both split rows by the first key column modulo the number of parts (an
//! integer key as it is, others through a hash), so the parts never overlap and together cover
//! every row, rows inserted during the run included.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::checkpoint::Checkpoint;
use super::connection::{ColumnRef, Database, KeyDisplay, Partition, TableInfo, Update};
use super::url::DbUrl;
use super::value::{self, Outcome};
use crate::context::Context;
use crate::error::{Error, Result};

/// `--shard I/N`: this machine's part (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, 1..=count.
    pub index: u32,
    /// How many machines share the table.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 1, count: 1 }
    }
}

impl Shard {
    /// Parses `I/N` (1 <= I <= N).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::Argument(format!(
                "--shard {s:?} is not I/N: give this machine's part and the number of parts, \
                 1-based, for example --shard 1/2 on one machine and --shard 2/2 on the other"
            ))
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// How to re-encrypt.
#[derive(Debug, Clone)]
pub struct Options {
    /// Target key version. Default: the primary's.
    pub version: Option<u8>,
    /// Rows read and updated per transaction.
    pub batch_size: usize,
    /// Connections working on the table at once.
    pub workers: u32,
    /// This machine's part of the table.
    pub shard: Shard,
    /// Start where the checkpoint says the last run stopped.
    pub resume: bool,
    /// Count what would be re-encrypted; change nothing (no checkpoint is written).
    pub dry_run: bool,
    /// At most this many rows read per second, over all workers.
    pub max_rows_per_second: Option<u64>,
    /// Where checkpoint files go.
    pub checkpoint_dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            version: None,
            batch_size: 1000,
            workers: 1,
            shard: Shard::default(),
            resume: false,
            dry_run: false,
            max_rows_per_second: None,
            checkpoint_dir: PathBuf::from("."),
        }
    }
}

/// A value left as it was because it does not decrypt here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `TABLE.COLUMN`.
    pub column: ColumnRef,
    /// The row's primary key, as `id=5` or `(a=1, b="x")`.
    pub key: String,
    /// Why (never the value).
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: cannot decrypt, left as it is: {}",
            self.column, self.key, self.reason
        )
    }
}

/// What happened to one column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows read.
    pub rows: u64,
    /// Values re-encrypted and written (with `dry_run`: that would be).
    pub reencrypted: u64,
    /// Values already at the target version.
    pub current: u64,
    /// NULL, empty and plaintext values.
    pub skipped: u64,
    /// Values the application changed between our read and our update: left to it.
    pub changed_concurrently: u64,
    /// Values that do not decrypt here.
    pub undecryptable: u64,
    /// The target version.
    pub version: u8,
}

impl Summary {
    fn add(&mut self, o: &Summary) {
        self.rows += o.rows;
        self.reencrypted += o.reencrypted;
        self.current += o.current;
        self.skipped += o.skipped;
        self.changed_concurrently += o.changed_concurrently;
        self.undecryptable += o.undecryptable;
    }
}

/// What a run reports as it goes.
pub enum Event<'a> {
    /// A batch was committed; the column's totals so far.
    Progress(&'a ColumnRef, &'a Summary),
    /// A value that does not decrypt.
    Undecryptable(&'a Failure),
}

/// The parts of the table this run works on: one per worker, within this shard.
pub fn partitions(shard: Shard, workers: u32) -> Vec<Partition> {
    let workers = workers.max(1);
    let modulus = shard.count * workers;
    if modulus == 1 {
        return vec![Partition::ALL];
    }
    (0..workers)
        .map(|w| Partition {
            modulus,
            remainder: (shard.index - 1) + shard.count * w,
        })
        .collect()
}

struct Shared<'a> {
    ctx: &'a Context,
    db: &'a Database,
    info: &'a TableInfo,
    opts: &'a Options,
    target: u8,
    checkpoint: Mutex<(Checkpoint, PathBuf)>,
    total: Mutex<Summary>,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

async fn run_part(sh: &Shared<'_>, index: usize) -> Result<()> {
    let (part, mut after) = {
        let cp = sh.checkpoint.lock().expect("checkpoint lock");
        let state = &cp.0.parts[index];
        if state.done {
            return Ok(());
        }
        (state.partition, state.after.clone())
    };
    let start = Instant::now();
    let mut read = 0u64;
    let batch = sh.opts.batch_size.max(1);
    loop {
        let rows = sh.db.fetch(sh.info, after.as_deref(), part, batch).await?;
        let mut s = Summary::default();
        let mut updates = Vec::new();
        for r in &rows {
            s.rows += 1;
            match value::re_encrypt(sh.ctx, r.value.as_deref(), sh.target) {
                Outcome::Skip(_) => s.skipped += 1,
                Outcome::Current => s.current += 1,
                Outcome::New(new) => updates.push(Update {
                    key: r.key.clone(),
                    old: r.value.clone().unwrap_or_default(),
                    new,
                    text: r.text,
                }),
                Outcome::Undecryptable(reason) => {
                    s.undecryptable += 1;
                    let f = Failure {
                        column: sh.info.column.clone(),
                        key: KeyDisplay(&sh.info.key, &r.key).to_string(),
                        reason,
                    };
                    (sh.on_event)(Event::Undecryptable(&f));
                }
            }
        }
        if sh.opts.dry_run {
            s.reencrypted = updates.len() as u64;
        } else {
            let changed = sh.db.apply(sh.info, &updates).await?;
            s.reencrypted = changed;
            s.changed_concurrently = updates.len() as u64 - changed.min(updates.len() as u64);
        }
        let last = rows.last().map(|r| r.key.clone());
        let finished = rows.len() < batch;
        if last.is_some() {
            after = last;
        }
        if !sh.opts.dry_run {
            let mut cp = sh.checkpoint.lock().expect("checkpoint lock");
            cp.0.parts[index].after = after.clone();
            cp.0.parts[index].done = finished;
            cp.0.save(&cp.1)?;
        }
        {
            let mut total = sh.total.lock().expect("summary lock");
            total.add(&s);
            (sh.on_event)(Event::Progress(&sh.info.column, &total));
        }
        if finished {
            return Ok(());
        }
        read += rows.len() as u64;
        if let Some(max) = sh.opts.max_rows_per_second.filter(|m| *m > 0) {
            let per_worker = (max as f64 / sh.opts.workers.max(1) as f64).max(1e-3);
            let due = Duration::from_secs_f64(read as f64 / per_worker);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Re-encrypts one column (see the module docs) over `db`, one thread per part driving its
/// reads and writes on `rt`. Values that do not decrypt are reported through `on_event` and
/// counted; they are not an error.
pub fn re_encrypt_column(
    rt: &tokio::runtime::Runtime,
    db: &Database,
    url: &DbUrl,
    ctx: &Context,
    column: &ColumnRef,
    opts: &Options,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Summary> {
    crate::cli::crypt::check_version(ctx, opts.version)?;
    let target = opts.version.unwrap_or_else(|| ctx.primary().version());
    let info = rt.block_on(db.describe(column))?;
    let parts = partitions(opts.shard, opts.workers);
    if parts.len() > 1 && info.shard_expr.is_none() {
        return Err(Error::Argument(format!(
            "{} cannot be split over workers or shards (its key cannot be split): run with \
             --workers 1 and no --shard",
            column.table
        )));
    }
    let path = Checkpoint::path(&opts.checkpoint_dir, url, column, &parts);
    let checkpoint = match Checkpoint::load(&path)? {
        Some(cp) if opts.resume => {
            if cp.target != target {
                return Err(Error::Argument(format!(
                    "checkpoint {} re-encrypts {column} to version {}, not {target}: resume with \
                     --key-version {}, or run without --resume to start over",
                    path.display(),
                    cp.target,
                    cp.target
                )));
            }
            cp
        }
        _ if opts.resume => {
            return Err(Error::Argument(format!(
                "--resume: there is no checkpoint for {column} with these --workers and --shard \
                 (looked for {}): give the same --workers and --shard as the run to resume, or \
                 run without --resume",
                path.display()
            )))
        }
        _ => Checkpoint::new(url, column, target, &parts),
    };
    let shared = Shared {
        ctx,
        db,
        info: &info,
        opts,
        target,
        checkpoint: Mutex::new((checkpoint, path.clone())),
        total: Mutex::new(Summary {
            version: target,
            ..Summary::default()
        }),
        on_event,
    };
    let handle = rt.handle();
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..parts.len())
            .map(|i| {
                let sh = &shared;
                scope.spawn(move || handle.block_on(run_part(sh, i)))
            })
            .collect();
        runs.into_iter().try_for_each(|r| {
            r.join()
                .unwrap_or_else(|_| Err(Error::Internal("a re-encryption worker panicked".into())))
        })
    })?;
    if !opts.dry_run {
        Checkpoint::remove(&path)?;
    }
    let total = shared.total.lock().expect("summary lock").clone();
    Ok(total)
}

/// Connects to `url` and re-encrypts each column in turn (`TABLE.*`: each text column of the
/// table).
pub fn re_encrypt(
    url: &DbUrl,
    ctx: &Context,
    columns: &[ColumnRef],
    opts: &Options,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Vec<(ColumnRef, Summary)>> {
    let rt = super::runtime()?;
    let db = rt.block_on(Database::connect(url, opts.workers))?;
    let result = rt.block_on(db.expand(columns)).and_then(|columns| {
        columns
            .into_iter()
            .map(|c| re_encrypt_column(&rt, &db, url, ctx, &c, opts, on_event).map(|s| (c, s)))
            .collect()
    });
    rt.block_on(db.close());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/2", "3/2", "1", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partitions_cover_each_shard() {
        assert_eq!(partitions(Shard::default(), 1), [Partition::ALL]);
        let all: Vec<u32> = [1, 2]
            .iter()
            .flat_map(|&i| partitions(Shard { index: i, count: 2 }, 3))
            .map(|p| {
                assert_eq!(p.modulus, 6);
                p.remainder
            })
            .collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
    }
}
