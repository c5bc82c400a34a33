//! The database scenarios of issue 16, run by tests/db_sqlite.rs (always), db_postgres.rs and
//! db_mysql.rs (when SE_TEST_POSTGRES_URL / SE_TEST_MYSQL_URL name a server; scripts/suites/db
//! starts both).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use symmetric_encryption::db::reencrypt::{self, Event, Options, Shard, Summary};
use symmetric_encryption::db::url::DbKind;
use symmetric_encryption::db::value;
use symmetric_encryption::db::{inventory, ColumnRef, Database, DbUrl};
use symmetric_encryption::{Cipher, CipherName, Context, EncryptOptions, Encoding};

/// A database to run the scenarios on.
pub struct TestDb {
    pub url: DbUrl,
    /// The URL as given, password included.
    pub raw: String,
    pub db: Database,
    pub rt: tokio::runtime::Runtime,
    /// Kept alive for SQLite.
    pub dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.sqlite3");
    std::fs::File::create(&path).unwrap();
    let mut t = connect(&format!("sqlite:{}", path.display()));
    t.dir = Some(dir);
    t
}

/// The server in `var`, or `None` with a notice (the test then passes without running).
pub fn from_env(var: &str) -> Option<TestDb> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(connect(&u)),
        _ => {
            eprintln!("skipped: {var} is not set (scripts/suites/db sets it)");
            None
        }
    }
}

fn connect(raw: &str) -> TestDb {
    let url = DbUrl::parse(raw).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(Database::connect(&url, 4)).unwrap();
    TestDb {
        url,
        raw: raw.to_string(),
        db,
        rt,
        dir: None,
    }
}

/// A bound parameter.
#[derive(Clone, Debug)]
pub enum P {
    I(i64),
    T(Option<String>),
    B(Option<Vec<u8>>),
}

impl TestDb {
    pub fn kind(&self) -> DbKind {
        self.url.kind()
    }

    pub fn int(&self) -> &'static str {
        match self.kind() {
            DbKind::Sqlite => "INTEGER",
            _ => "BIGINT",
        }
    }

    pub fn blob(&self) -> &'static str {
        match self.kind() {
            DbKind::Postgres => "BYTEA",
            _ => "BLOB",
        }
    }

    /// `?` or `$n`.
    pub fn ph(&self, n: usize) -> String {
        match self.kind() {
            DbKind::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }

    pub fn exec(&self, sql: &str, params: &[P]) -> u64 {
        self.rt.block_on(exec(&self.db, sql, params))
    }

    /// `INSERT INTO table (cols) VALUES (...)`.
    pub fn insert(&self, table: &str, cols: &str, params: &[P]) {
        let phs: Vec<String> = (1..=params.len()).map(|i| self.ph(i)).collect();
        self.exec(
            &format!("INSERT INTO {table} ({cols}) VALUES ({})", phs.join(", ")),
            params,
        );
    }

    /// `id -> value` of a table with an integer `id` key (values as bytes).
    pub fn values(&self, table: &str, col: &str) -> BTreeMap<i64, Option<Vec<u8>>> {
        self.rt.block_on(values(&self.db, table, col))
    }

    pub fn fresh(&self, table: &str, columns: &str) {
        self.exec(&format!("DROP TABLE IF EXISTS {table}"), &[]);
        self.exec(&format!("CREATE TABLE {table} ({columns})"), &[]);
    }
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p.clone() {
                P::I(i) => q.bind(i),
                P::T(t) => q.bind(t),
                P::B(b) => q.bind(b),
            };
        }
        q
    }};
}

pub async fn exec(db: &Database, sql: &str, params: &[P]) -> u64 {
    match db {
        Database::Sqlite(p) => bind_all!(sqlx::query(sql), params)
            .execute(p)
            .await
            .unwrap()
            .rows_affected(),
        Database::Postgres(p) => bind_all!(sqlx::query(sql), params)
            .execute(p)
            .await
            .unwrap()
            .rows_affected(),
        Database::MySql(p) => bind_all!(sqlx::query(sql), params)
            .execute(p)
            .await
            .unwrap()
            .rows_affected(),
    }
}

pub async fn values(db: &Database, table: &str, col: &str) -> BTreeMap<i64, Option<Vec<u8>>> {
    use sqlx::Row;
    let sql = format!("SELECT id, {col} FROM {table} ORDER BY id");
    macro_rules! get {
        ($p:expr) => {{
            let rows = sqlx::query(&sql).fetch_all($p).await.unwrap();
            rows.iter()
                .map(|r| {
                    let id: i64 = r.get(0);
                    let v = r
                        .try_get::<Option<String>, _>(1)
                        .map(|s| s.map(String::into_bytes))
                        .or_else(|_| r.try_get::<Option<Vec<u8>>, _>(1))
                        .unwrap();
                    (id, v)
                })
                .collect()
        }};
    }
    match db {
        Database::Sqlite(p) => get!(p),
        Database::Postgres(p) => get!(p),
        Database::MySql(p) => get!(p),
    }
}

/// Versions 3 (primary, aes-256-gcm), 2 (aes-256-cbc) and 1 (aes-128-gcm).
pub fn context() -> Context {
    let c = |v: u8, name: CipherName| {
        Cipher::new(name, &[v; 32][..name.key_len()], Some(&[v; 16][..name.iv_len()]))
            .unwrap()
            .with_version(v)
    };
    Context::new(vec![
        c(3, CipherName::Aes256Gcm),
        c(2, CipherName::Aes256Cbc),
        c(1, CipherName::Aes128Gcm),
    ])
    .unwrap()
}

/// A context with a key the test contexts do not have (its values are undecryptable there).
pub fn stranger() -> Context {
    let c = Cipher::new(CipherName::Aes256Gcm, &[99; 32], None)
        .unwrap()
        .with_version(1);
    Context::new(vec![c]).unwrap()
}

pub fn enc(ctx: &Context, plain: &str, version: u8, random: bool, compress: bool) -> String {
    let opts = EncryptOptions {
        random_iv: Some(random),
        compress: Some(compress),
        header: Some(true),
        version: Some(version),
    };
    String::from_utf8(ctx.encrypt(plain.as_bytes(), &opts).unwrap()).unwrap()
}

pub fn opts(dir: &std::path::Path) -> Options {
    Options {
        checkpoint_dir: dir.to_path_buf(),
        ..Options::default()
    }
}

pub fn run(t: &TestDb, ctx: &Context, cols: &str, o: &Options) -> (Vec<Summary>, Vec<String>) {
    let failures = std::sync::Mutex::new(Vec::new());
    let done = reencrypt::re_encrypt(&t.url, ctx, &ColumnRef::parse_list(cols).unwrap(), o, &|e| {
        if let Event::Undecryptable(f) = e {
            failures.lock().unwrap().push(f.to_string());
        }
    })
    .unwrap();
    (
        done.into_iter().map(|(_, s)| s).collect(),
        failures.into_inner().unwrap(),
    )
}

/// What a stored value is: (version, plaintext, random iv, compressed, encoding).
pub fn describe(ctx: &Context, v: &[u8]) -> (u8, Vec<u8>, bool, bool, Encoding) {
    let o = value::open(ctx, v).unwrap();
    (o.version, o.plain.to_vec(), o.random_iv, o.compressed, o.encoding)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// The mixed column: three versions, plaintext, NULL, empty, undecryptable, deterministic and
/// random ivs, compressed; a text column and a binary one; checked value by value.
pub fn mixed_column(t: &TestDb, table: &str) {
    let ctx = context();
    t.fresh(
        table,
        &format!("id {} PRIMARY KEY, secret TEXT, raw {}", t.int(), t.blob()),
    );
    let long = "x".repeat(300);
    let wrapped = String::from_utf8(
        Encoding::Base64.encode(
            &ctx.binary_encrypt(
                long.as_bytes(),
                &EncryptOptions {
                    version: Some(1),
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
    )
    .unwrap();
    let text: Vec<Option<String>> = vec![
        Some(enc(&ctx, "v1 det", 1, false, false)),
        Some(enc(&ctx, "v1 random compressed", 1, true, true)),
        Some(enc(&ctx, "v2 det", 2, false, false)),
        Some(enc(&ctx, "v2 random", 2, true, false)),
        Some(enc(&ctx, "v3 current", 3, true, false)),
        Some("plain text".into()),
        None,
        Some(String::new()),
        Some(enc(&stranger(), "not ours", 1, true, false)),
        Some(enc(&ctx, &long, 1, false, true)),
        Some(wrapped.clone()),
    ];
    let bin = |plain: &str, v: u8, random: bool| {
        ctx.binary_encrypt(
            plain.as_bytes(),
            &EncryptOptions {
                version: Some(v),
                random_iv: Some(random),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let raw: Vec<Option<Vec<u8>>> = vec![
        Some(bin("b1", 1, false)),
        Some(bin("b2", 2, true)),
        Some(bin("b3", 3, false)),
        Some(b"\x00\x01 plain bytes".to_vec()),
        None,
        Some(Vec::new()),
        Some(enc(&ctx, "base64 in a blob", 1, true, false).into_bytes()),
        Some(bin("b1 again", 1, true)),
        None,
        Some(bin("b2 again", 2, false)),
        None,
    ];
    for (i, (s, r)) in text.iter().zip(&raw).enumerate() {
        t.insert(
            table,
            "id, secret, raw",
            &[P::I(i as i64 + 1), P::T(s.clone()), P::B(r.clone())],
        );
    }
    let before_text = t.values(table, "secret");
    let before_raw = t.values(table, "raw");

    // Inventory first.
    let cols = ColumnRef::parse_list(&format!("{table}.secret,{table}.raw")).unwrap();
    let inv = inventory::inventory(&t.url, &ctx, &cols, &|_| {}).unwrap();
    let s = &inv[0].1;
    assert_eq!(
        (s.total, s.null, s.empty, s.plaintext, s.undecryptable),
        (11, 1, 1, 1, 1)
    );
    assert_eq!(s.versions, BTreeMap::from([(1, 4), (2, 2), (3, 1)]));
    let r = &inv[1].1;
    assert_eq!((r.total, r.null, r.empty, r.plaintext), (11, 3, 1, 1));
    assert_eq!(r.versions, BTreeMap::from([(1, 3), (2, 2), (3, 1)]));

    // Dry run changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.dry_run = true;
    o.batch_size = 3;
    let (sums, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    assert_eq!(sums[0].reencrypted, 6);
    assert_eq!(t.values(table, "secret"), before_text);

    o.dry_run = false;
    let (sums, failures) = run(t, &ctx, &format!("{table}.secret,{table}.raw"), &o);
    assert_eq!(
        (sums[0].rows, sums[0].reencrypted, sums[0].current, sums[0].skipped),
        (11, 6, 1, 3)
    );
    assert_eq!(sums[0].undecryptable, 1);
    assert_eq!((sums[1].reencrypted, sums[1].current, sums[1].skipped), (5, 1, 5));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with(&format!("{table}.secret id=9: cannot decrypt")));
    assert!(!failures[0].contains(text[8].as_deref().unwrap()), "{}", failures[0]);

    for (col, before) in [("secret", before_text), ("raw", before_raw)] {
        let after = t.values(table, col);
        for (id, old) in &before {
            let new = &after[id];
            let Some(old) = old else {
                assert!(new.is_none(), "{col} id {id}");
                continue;
            };
            let new = new.as_ref().unwrap();
            match value::classify(&ctx, Some(old)) {
                value::Class::Version(3)
                | value::Class::Plaintext
                | value::Class::Empty
                | value::Class::Undecryptable(_) => {
                    assert_eq!(new, old, "{col} id {id} must not change")
                }
                value::Class::Version(_) => {
                    let (v0, p0, r0, c0, e0) = describe(&ctx, old);
                    let (v1, p1, r1, c1, e1) = describe(&ctx, new);
                    assert_eq!(v0 == 3, false);
                    assert_eq!(v1, 3, "{col} id {id}");
                    assert_eq!(p1, p0, "{col} id {id}: same plaintext");
                    assert_eq!(r1, r0, "{col} id {id}: same kind of iv");
                    assert_eq!(c1, c0, "{col} id {id}: same compression");
                    assert_eq!(e1, e0, "{col} id {id}: same encoding");
                    assert_eq!(new.ends_with(b"\n"), old.ends_with(b"\n"));
                    if !r0 {
                        // Deterministic: exactly what the application would write today.
                        let again = ctx
                            .binary_encrypt(
                                &p0,
                                &EncryptOptions {
                                    compress: Some(c0),
                                    ..Default::default()
                                },
                            )
                            .unwrap();
                        assert_eq!(e0.decode(new).unwrap(), again, "{col} id {id}");
                    }
                }
                value::Class::Null => unreachable!(),
            }
        }
    }
    let inv = inventory::inventory(&t.url, &ctx, &cols, &|_| {}).unwrap();
    assert_eq!(inv[0].1.versions, BTreeMap::from([(3, 7)]));
    assert_eq!(inv[1].1.versions, BTreeMap::from([(3, 6)]));
    // A second run has nothing left to do.
    let (sums, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    assert_eq!((sums[0].reencrypted, sums[0].current), (0, 7));
}

/// Composite and text primary keys; --key-version to an older key.
pub fn composite_key(t: &TestDb, table: &str) {
    let ctx = context();
    t.fresh(
        table,
        &format!(
            "tenant VARCHAR(32) NOT NULL, n {} NOT NULL, secret TEXT, PRIMARY KEY (tenant, n)",
            t.int()
        ),
    );
    for tenant in ["b", "a", "c"] {
        for n in 0..25 {
            let plain = format!("{tenant}{n}");
            t.insert(
                table,
                "tenant, n, secret",
                &[
                    P::T(Some(tenant.into())),
                    P::I(n),
                    P::T(Some(enc(&ctx, &plain, 1 + (n % 3) as u8, n % 2 == 0, false))),
                ],
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.batch_size = 7;
    o.version = Some(2);
    let (sums, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    assert_eq!(sums[0].rows, 75);
    assert_eq!(sums[0].current, 24);
    assert_eq!(sums[0].reencrypted, 51);
    let inv = inventory::inventory(
        &t.url,
        &ctx,
        &ColumnRef::parse_list(&format!("{table}.secret")).unwrap(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(inv[0].1.versions, BTreeMap::from([(2, 75)]));
    // Workers split composite keys too (by the first column's hash).
    o.version = None;
    o.workers = 3;
    let (sums, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    assert_eq!((sums[0].rows, sums[0].reencrypted), (75, 75));
}

/// A table without a primary key is refused, with a message that says so.
pub fn no_primary_key(t: &TestDb, table: &str) {
    let ctx = context();
    t.fresh(table, "id INTEGER, secret TEXT");
    let cols = ColumnRef::parse_list(&format!("{table}.secret")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = reencrypt::re_encrypt(&t.url, &ctx, &cols, &opts(dir.path()), &|_| {}).unwrap_err();
    assert!(e.to_string().contains("has no primary key"), "{e}");
    let e = inventory::inventory(&t.url, &ctx, &cols, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("has no primary key"), "{e}");
    let missing = ColumnRef::parse_list(&format!("{table}.nope")).unwrap();
    let e = inventory::inventory(&t.url, &ctx, &missing, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("has no column nope"), "{e}");
}

fn fill(t: &TestDb, table: &str, n: i64, version: u8) {
    fill_with(t, &context(), table, n, version)
}

fn fill_with(t: &TestDb, ctx: &Context, table: &str, n: i64, version: u8) {
    t.fresh(table, &format!("id {} PRIMARY KEY, secret TEXT", t.int()));
    // One multi-row insert per 500 rows.
    for chunk in (1..=n).collect::<Vec<_>>().chunks(500) {
        let mut params = Vec::new();
        let mut rows = Vec::new();
        for &id in chunk {
            rows.push(format!("({}, {})", t.ph(params.len() + 1), t.ph(params.len() + 2)));
            params.push(P::I(id));
            params.push(P::T(Some(enc(ctx, &format!("row {id}"), version, true, false))));
        }
        t.exec(
            &format!("INSERT INTO {table} (id, secret) VALUES {}", rows.join(", ")),
            &params,
        );
    }
}

/// Two shards, as two machines would run them (one after the other here, and then at once):
/// each row is re-encrypted by exactly one of them.
pub fn two_shards(t: &TestDb, table: &str) {
    let ctx = context();
    fill(t, table, 1000, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.batch_size = 64;
    o.shard = Shard { index: 1, count: 2 };
    let (a, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    let inv = |t: &TestDb| {
        inventory::inventory(
            &t.url,
            &ctx,
            &ColumnRef::parse_list(&format!("{table}.secret")).unwrap(),
            &|_| {},
        )
        .unwrap()[0]
            .1
            .versions
            .clone()
    };
    assert_eq!(inv(t), BTreeMap::from([(1, 500), (3, 500)]));
    o.shard = Shard { index: 2, count: 2 };
    o.workers = 2;
    let (b, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    assert_eq!(a[0].rows + b[0].rows, 1000);
    assert_eq!(a[0].reencrypted + b[0].reencrypted, 1000);
    assert_eq!(inv(t), BTreeMap::from([(3, 1000)]));
    for (id, v) in t.values(table, "secret") {
        let (ver, plain, ..) = describe(&ctx, v.as_deref().unwrap());
        assert_eq!((ver, plain), (3, format!("row {id}").into_bytes()));
    }
}

/// The application writes while the re-encryption runs: none of its writes is lost, and
/// every row it did not touch is re-encrypted.
pub fn concurrent_writer(t: &TestDb, table: &str) {
    let ctx = context();
    let n = 2000;
    fill(t, table, n, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let url = t.url.clone();
    let writer = {
        let stop = Arc::clone(&stop);
        let ctx = ctx.clone();
        let table = table.to_string();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let db = rt.block_on(Database::connect(&url, 1)).unwrap();
            let ph = |i| match url.kind() {
                DbKind::Postgres => format!("${i}"),
                _ => "?".to_string(),
            };
            let sql = format!("UPDATE {table} SET secret = {} WHERE id = {}", ph(1), ph(2));
            let mut written = BTreeMap::new();
            let mut x: u64 = 88172645463325252;
            let mut k = 0;
            // Bounded: at most 20000 writes, stopping when the run is over.
            while !stop.load(Ordering::SeqCst) && k < 20000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = (x % n as u64) as i64 + 1;
                // The application writes with the new key, and sometimes (an old server not yet
                // deployed) with the old one.
                let version = if k % 5 == 0 { 1 } else { 3 };
                let v = enc(&ctx, &format!("app {id} {k}"), version, true, false);
                rt.block_on(exec(&db, &sql, &[P::T(Some(v.clone())), P::I(id)]));
                written.insert(id, (v, format!("app {id} {k}")));
                k += 1;
            }
            written
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.batch_size = 50;
    o.workers = 2;
    o.max_rows_per_second = Some(4000);
    let (sums, _) = run(t, &ctx, &format!("{table}.secret"), &o);
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(!written.is_empty());
    let after = t.values(table, "secret");
    let mut kept_old = 0;
    for (id, v) in &after {
        let v = v.as_deref().unwrap();
        let (ver, plain, ..) = describe(&ctx, v);
        match written.get(id) {
            Some((w, p)) => {
                // The application's last write is there, or it was an old-key write that the
                // run re-encrypted afterwards (same plaintext, new key).
                assert_eq!(plain, p.as_bytes(), "id {id}: the application's write was lost");
                if ver != 3 {
                    assert_eq!(v, w.as_bytes());
                    kept_old += 1;
                }
            }
            None => {
                assert_eq!((ver, plain), (3, format!("row {id}").into_bytes()), "id {id}")
            }
        }
    }
    eprintln!(
        "writer: {} rows written, {} changed under the run, {kept_old} old-key writes left after the run",
        written.len(),
        sums[0].changed_concurrently
    );
}

/// The command line end to end: a configuration generated and rotated, a run killed halfway and
/// resumed, the exit statuses, the JSON inventory.
pub fn kill_and_resume(t: &TestDb, table: &str) {
    use crate::cli_common::{library_context, run, run_with, scratch};
    let dir = scratch();
    let d = dir.path();
    let url = t.raw.clone();
    run(d, &["--generate", "--environments", "development", "--key-path", "keys"]).ok();
    let config = "config/symmetric-encryption.yml";
    let v1 = library_context(d, config, "development", &[]);
    let n = 3000;
    fill_with(t, &v1, table, n, 1);
    t.insert(
        table,
        "id, secret",
        &[P::I(n + 1), P::T(Some(enc(&stranger(), "not ours", 1, true, false)))],
    );
    run(d, &["--rotate-keys"]).ok();
    let ctx = library_context(d, config, "development", &[]);
    assert_eq!(ctx.primary().version(), 2);
    let column = format!("{table}.secret");
    let versions = || {
        inventory::inventory(&t.url, &ctx, &ColumnRef::parse_list(&column).unwrap(), &|_| {})
            .unwrap()[0]
            .1
            .versions
            .clone()
    };

    // Usage errors: exit 2.
    run(d, &["--db", &url, "--re-encrypt-columns", &column, "--shard", "3/2"]).usage_error();
    run(d, &["--re-encrypt-columns", &column]).usage_error();
    run(d, &["--db", &url, "--re-encrypt-columns", &column, "--resume"]).usage_error();

    // A slow run, killed once it has committed a few batches.
    let mut child = crate::cli_common::command(
        d,
        &[
            "--db", &url, "--re-encrypt-columns", &column, "--batch-size", "50",
            "--max-rows-per-second", "1500",
        ],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let done = versions().get(&2).copied().unwrap_or(0);
        if done >= 300 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run made no progress");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mid = versions();
    assert!(mid[&1] > 0 && mid[&2] > 0, "{mid:?}");
    let checkpoints: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".checkpoint.json"))
        .collect();
    assert_eq!(checkpoints.len(), 1);

    // Resumed: it starts after the checkpoint, finishes, and lists the value it cannot decrypt.
    let out = run_with(
        d,
        &["--re-encrypt-columns", &column, "--resume"],
        &[("SYMMETRIC_ENCRYPTION_DB".into(), url.clone())],
        b"",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(&format!("{column} id={}: cannot decrypt", n + 1)), "{}", out.stderr);
    let stdout = out.out();
    let read: u64 = stdout
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(read < n as u64, "the resumed run read {read} rows: {stdout}");
    assert!(!stdout.contains("changed by the application"), "{stdout}");
    assert_eq!(versions(), BTreeMap::from([(2, n as u64)]));

    // The inventory as JSON, and its exit status.
    let out = run(d, &["--db", &url, "--inventory", &column, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &json[&column];
    assert_eq!(c["total"], n + 1);
    assert_eq!(c["undecryptable"], 1);
    assert_eq!(c["versions"], serde_json::json!({"2": n}));
    let table_out = run(d, &["--db", &url, "--inventory", &column]);
    assert!(table_out.out().contains("v2: 3000"), "{}", table_out.out());
    assert!(!table_out.stderr.contains(&url) || !url.contains('@'));
}
