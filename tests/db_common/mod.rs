//! The database scenarios of issue 16, run by tests/db_sqlite.rs (always), db_postgres.rs and
//! db_mysql.rs (when SE_TEST_POSTGRES_URL / SE_TEST_MYSQL_URL name a server; scripts/suites/db
//! starts both).
#![allow(dead_code)]

/// The scenarios as `#[test]` functions, each on the database `$db()` returns (`None`: skipped
/// because no server was given). Each of tests/db_{sqlite,postgres,mysql}.rs expands it once.
macro_rules! db_scenarios {
    ($db:ident) => {
        #[test]
        fn mixed_column_value_by_value() {
            if let Some(t) = $db() {
                db_common::mixed_column(&t, "se_mixed");
            }
        }

        #[test]
        fn composite_and_text_keys() {
            if let Some(t) = $db() {
                db_common::composite_key(&t, "se_composite");
            }
        }

        #[test]
        fn table_without_primary_key_is_refused() {
            if let Some(t) = $db() {
                db_common::no_primary_key(&t, "se_nopk");
            }
        }

        #[test]
        fn two_shards_cover_the_table_once() {
            if let Some(t) = $db() {
                db_common::two_shards(&t, "se_shards");
            }
        }

        #[test]
        fn concurrent_writes_are_never_lost() {
            if let Some(t) = $db() {
                db_common::concurrent_writer(&t, "se_writer");
            }
        }

        #[test]
        fn command_line_kill_and_resume() {
            if let Some(t) = $db() {
                db_common::kill_and_resume(&t, "se_resume");
            }
        }

        #[test]
        fn command_line_statuses_json_and_no_password() {
            if let Some(t) = $db() {
                db_common::command_line_contract(&t, "se_cli");
            }
        }
    };
}

mod cli;
mod scenarios;

pub use cli::*;
pub use scenarios::*;

use std::collections::BTreeMap;

use symmetric_encryption::db::reencrypt::{self, Event, Options, Summary};
use symmetric_encryption::db::url::DbKind;
use symmetric_encryption::db::value;
use symmetric_encryption::db::{ColumnRef, Database, DbUrl};
use symmetric_encryption::{Cipher, CipherName, Context, Encoding, EncryptOptions};

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
        Cipher::new(
            name,
            &[v; 32][..name.key_len()],
            Some(&[v; 16][..name.iv_len()]),
        )
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
    let done = reencrypt::re_encrypt(
        &t.url,
        ctx,
        &ColumnRef::parse_list(cols).unwrap(),
        o,
        &|e| {
            if let Event::Undecryptable(f) = e {
                failures.lock().unwrap().push(f.to_string());
            }
        },
    )
    .unwrap();
    (
        done.into_iter().map(|(_, s)| s).collect(),
        failures.into_inner().unwrap(),
    )
}

/// What a stored value is: (version, plaintext, random iv, compressed, encoding).
pub fn describe(ctx: &Context, v: &[u8]) -> (u8, Vec<u8>, bool, bool, Encoding) {
    let o = value::open(ctx, v).unwrap();
    (
        o.version,
        o.plain.to_vec(),
        o.random_iv,
        o.compressed,
        o.encoding,
    )
}

pub fn fill(t: &TestDb, table: &str, n: i64, version: u8) {
    fill_with(t, &context(), table, n, version)
}

pub fn fill_with(t: &TestDb, ctx: &Context, table: &str, n: i64, version: u8) {
    t.fresh(table, &format!("id {} PRIMARY KEY, secret TEXT", t.int()));
    // One multi-row insert per 500 rows.
    for chunk in (1..=n).collect::<Vec<_>>().chunks(500) {
        let mut params = Vec::new();
        let mut rows = Vec::new();
        for &id in chunk {
            rows.push(format!(
                "({}, {})",
                t.ph(params.len() + 1),
                t.ph(params.len() + 2)
            ));
            params.push(P::I(id));
            params.push(P::T(Some(enc(
                ctx,
                &format!("row {id}"),
                version,
                true,
                false,
            ))));
        }
        t.exec(
            &format!(
                "INSERT INTO {table} (id, secret) VALUES {}",
                rows.join(", ")
            ),
            &params,
        );
    }
}
