//! One connection pool to one database, and what the inventory and the re-encryption ask of
//! it: describe a column and its table's primary key, read a batch of rows in key order, apply
//! a batch of conditional updates in one transaction. The SQL of each database is in its own
//! file (`sqlite.rs`, `postgres.rs`, `mysql.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::url::{DbKind, DbUrl};
use super::{mysql, postgres, sqlite};
use crate::error::{Error, Result};

/// A table and column as given on the command line: `TABLE.COLUMN` or `SCHEMA.TABLE.COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnRef {
    /// The table, possibly `schema.table`.
    pub table: String,
    /// The column.
    pub column: String,
}

impl ColumnRef {
    /// Parses `TABLE.COLUMN` (the last dot separates the column), or `TABLE.*` for every text
    /// and binary column of the table but its primary key ([`Database::expand`]). Names may
    /// hold letters, digits, `_` and `$`; anything else is refused, so names can be quoted
    /// safely.
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let bad = || {
            Error::Argument(format!(
                "{spec:?} is not TABLE.COLUMN: name a column as table.column (or \
                 schema.table.column, or table.* for all its text columns), with letters, \
                 digits, _ and $ only"
            ))
        };
        let (table, column) = spec.rsplit_once('.').ok_or_else(bad)?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        };
        if !(ok(column) || column == "*")
            || table.split('.').count() > 2
            || !table.split('.').all(ok)
        {
            return Err(bad());
        }
        Ok(ColumnRef {
            table: table.to_string(),
            column: column.to_string(),
        })
    }

    /// Parses a comma separated list of `TABLE.COLUMN`.
    pub fn parse_list(list: &str) -> Result<Vec<Self>> {
        let cols = crate::cli::split_list(list)
            .iter()
            .map(|s| ColumnRef::parse(s))
            .collect::<Result<Vec<_>>>()?;
        if cols.is_empty() {
            return Err(Error::Argument(
                "no column given: name them as TABLE.COLUMN[,TABLE.COLUMN...]".into(),
            ));
        }
        Ok(cols)
    }
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// How a primary-key column's values are read, compared and stored in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An integer column.
    Int,
    /// Text, or (PostgreSQL) any other type read as text and cast back.
    Text,
    /// A binary column.
    Bytes,
}

/// One column of a primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    /// Its name.
    pub name: String,
    /// How its values are handled.
    pub kind: KeyKind,
    /// The database's name for its type (PostgreSQL casts text back to it).
    pub sql_type: String,
}

/// One value of a primary-key column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyValue {
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Int(i) => write!(f, "{i}"),
            KeyValue::Text(s) => write!(f, "{s:?}"),
            KeyValue::Bytes(b) => {
                f.write_str("x'")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str("'")
            }
        }
    }
}

/// A whole primary key, printed as `id=5` or `(a=1, b="x")`.
pub struct KeyDisplay<'a>(pub &'a [KeyColumn], pub &'a [KeyValue]);

impl fmt::Display for KeyDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .zip(self.1)
            .map(|(c, v)| format!("{}={v}", c.name))
            .collect();
        if parts.len() == 1 {
            f.write_str(&parts[0])
        } else {
            write!(f, "({})", parts.join(", "))
        }
    }
}

/// What [`Database::describe`] found: the column's type and its table's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The column asked about.
    pub column: ColumnRef,
    /// The primary key's columns, in key order. Never empty.
    pub key: Vec<KeyColumn>,
    /// Whether the column is binary (BLOB, BYTEA, VARBINARY): values are written back as bytes.
    pub binary: bool,
    /// The first key column, as an integer expression for `--shard` and `--workers` (`None`
    /// when the key cannot be split that way).
    pub(crate) shard_expr: Option<String>,
}

/// One row read: its key and the column's value (bytes as stored; text as UTF-8).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The primary key.
    pub key: Vec<KeyValue>,
    /// The value, `None` for NULL.
    pub value: Option<Vec<u8>>,
    /// Whether the value was read as text (written back as text) rather than bytes.
    pub text: bool,
}

/// One conditional update: set the column to `new` where the key is `key` and the column is
/// still `old`.
#[derive(Clone)]
pub struct Update {
    /// The row's key.
    pub key: Vec<KeyValue>,
    /// The value read.
    pub old: Vec<u8>,
    /// The value to write.
    pub new: Vec<u8>,
    /// Whether the value is text (else bytes), as it was read.
    pub text: bool,
}

/// Which rows one worker or shard reads: those whose split expression modulo `modulus` is
/// `remainder`. `modulus` 1 is every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// How many parts the table is split into.
    pub modulus: u32,
    /// Which part.
    pub remainder: u32,
}

impl Partition {
    /// Every row.
    pub const ALL: Partition = Partition {
        modulus: 1,
        remainder: 0,
    };
}

/// A connection pool to one database.
#[derive(Clone)]
pub enum Database {
    /// SQLite.
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
    /// MySQL or MariaDB.
    MySql(sqlx::MySqlPool),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Database::Sqlite(_) => "Database::Sqlite",
            Database::Postgres(_) => "Database::Postgres",
            Database::MySql(_) => "Database::MySql",
        })
    }
}

/// A driver error as a library error, naming what was being done; never the URL.
pub(crate) fn db_error(what: impl fmt::Display, e: sqlx::Error) -> Error {
    Error::io(what.to_string(), std::io::Error::other(e.to_string()))
}

/// Connects once and disconnects: a pool retries a refused connection until its timeout
/// (30 s), and a wrong host or port should be reported at once.
async fn try_once<O>(opts: &O) -> sqlx::Result<()>
where
    O: sqlx::ConnectOptions,
    O::Connection: Sized,
{
    sqlx::Connection::close(opts.connect().await?).await
}

/// Quotes a checked identifier (`a.b` becomes `"a"."b"`, or with backquotes for MySQL).
pub(crate) fn quote(name: &str, q: char) -> String {
    name.split('.')
        .map(|p| format!("{q}{p}{q}"))
        .collect::<Vec<_>>()
        .join(".")
}

impl Database {
    /// Connects, with a pool of up to `connections` connections.
    pub async fn connect(url: &DbUrl, connections: u32) -> Result<Self> {
        let what = format!("cannot connect to {url}");
        let n = connections.max(1);
        let db_error = |what: &str, e: sqlx::Error| {
            Error::io(
                what.to_string(),
                std::io::Error::other(super::url::scrub(e.to_string(), url)),
            )
        };
        Ok(match url.kind() {
            DbKind::Sqlite => Database::Sqlite(
                sqlite::connect(url.secret_url(), n)
                    .await
                    .map_err(|e| db_error(&what, e))?,
            ),
            DbKind::Postgres => Database::Postgres(
                async {
                    let opts: sqlx::postgres::PgConnectOptions = url.secret_url().parse()?;
                    try_once(&opts).await?;
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(n)
                        .connect_with(opts)
                        .await
                }
                .await
                .map_err(|e| db_error(&what, e))?,
            ),
            DbKind::MySql => Database::MySql(
                async {
                    let opts: sqlx::mysql::MySqlConnectOptions = url.secret_url().parse()?;
                    try_once(&opts).await?;
                    sqlx::mysql::MySqlPoolOptions::new()
                        .max_connections(n)
                        .connect_with(opts)
                        .await
                }
                .await
                .map_err(|e| db_error(&what, e))?,
            ),
        })
    }

    /// The column's type and its table's primary key. A missing table or column, or a table
    /// without a primary key, is a clear error.
    pub async fn describe(&self, column: &ColumnRef) -> Result<TableInfo> {
        let info = match self {
            Database::Sqlite(p) => sqlite::describe(p, column).await,
            Database::Postgres(p) => postgres::describe(p, column).await,
            Database::MySql(p) => mysql::describe(p, column).await,
        }?;
        if info.key.is_empty() {
            return Err(Error::Argument(format!(
                "table {} has no primary key: rows are read in key order and updated by key, so a \
                 table without one cannot be re-encrypted safely. Add a primary key (or a unique \
                 NOT NULL id column made the primary key) and run again",
                column.table
            )));
        }
        Ok(info)
    }

    /// `columns` with each `TABLE.*` replaced by the table's text and binary columns that are
    /// not part of its primary key, in table order. A table without such columns is an error.
    pub async fn expand(&self, columns: &[ColumnRef]) -> Result<Vec<ColumnRef>> {
        let mut out: Vec<ColumnRef> = Vec::new();
        for c in columns {
            if c.column != "*" {
                if !out.contains(c) {
                    out.push(c.clone());
                }
                continue;
            }
            let names = match self {
                Database::Sqlite(p) => sqlite::text_columns(p, &c.table).await,
                Database::Postgres(p) => postgres::text_columns(p, &c.table).await,
                Database::MySql(p) => mysql::text_columns(p, &c.table).await,
            }?;
            if names.is_empty() {
                return Err(Error::Argument(format!(
                    "{c}: table {} has no text or binary column outside its primary key, or does \
                     not exist",
                    c.table
                )));
            }
            for column in names {
                let c = ColumnRef {
                    table: c.table.clone(),
                    column,
                };
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` rows after `after` (all rows when `None`) in key order, of `part`.
    pub async fn fetch(
        &self,
        info: &TableInfo,
        after: Option<&[KeyValue]>,
        part: Partition,
        limit: usize,
    ) -> Result<Vec<Fetched>> {
        let r = match self {
            Database::Sqlite(p) => sqlite::fetch(p, info, after, part, limit).await,
            Database::Postgres(p) => postgres::fetch(p, info, after, part, limit).await,
            Database::MySql(p) => mysql::fetch(p, info, after, part, limit).await,
        };
        r.map_err(|e| db_error(format!("cannot read {}", info.column), e))
    }

    /// Applies `updates` in one transaction; returns how many rows changed (the others had
    /// been changed by someone else since they were read, and are left as they are).
    pub async fn apply(&self, info: &TableInfo, updates: &[Update]) -> Result<u64> {
        if updates.is_empty() {
            return Ok(0);
        }
        let r = match self {
            Database::Sqlite(p) => sqlite::apply(p, info, updates).await,
            Database::Postgres(p) => postgres::apply(p, info, updates).await,
            Database::MySql(p) => mysql::apply(p, info, updates).await,
        };
        r.map_err(|e| db_error(format!("cannot update {}", info.column), e))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(p) => p.close().await,
            Database::Postgres(p) => p.close().await,
            Database::MySql(p) => p.close().await,
        }
    }
}

/// `WHERE` text for "key after the given one", for keys of `n` columns, with `col(i)` the
/// quoted column i and `param(i)` the next placeholder, for a value of column i: `a > ?`, or
/// `(a > ?) OR (a = ? AND b > ?)` for composite keys, which every database can use its index
/// for. Returns the text and, for each placeholder in order, the key column it binds.
pub(crate) fn after_clause(
    n: usize,
    col: &dyn Fn(usize) -> String,
    param: &mut dyn FnMut(usize) -> String,
) -> (String, Vec<usize>) {
    let mut ors = Vec::new();
    let mut binds = Vec::new();
    for last in 0..n {
        let mut ands = Vec::new();
        for i in 0..last {
            ands.push(format!("{} = {}", col(i), param(i)));
            binds.push(i);
        }
        ands.push(format!("{} > {}", col(last), param(last)));
        binds.push(last);
        ors.push(format!("({})", ands.join(" AND ")));
    }
    (format!("({})", ors.join(" OR ")), binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_refs() {
        let c = ColumnRef::parse("users.ssn").unwrap();
        assert_eq!((c.table.as_str(), c.column.as_str()), ("users", "ssn"));
        let c = ColumnRef::parse("app.users.ssn").unwrap();
        assert_eq!(c.table, "app.users");
        assert_eq!(ColumnRef::parse("users.*").unwrap().column, "*");
        assert!(ColumnRef::parse("*.ssn").is_err());
        assert!(ColumnRef::parse("users.s*").is_err());
        assert!(ColumnRef::parse("users").is_err());
        assert!(ColumnRef::parse("users.ss n").is_err());
        assert!(ColumnRef::parse("a\".b").is_err());
        assert!(ColumnRef::parse_list(" , ").is_err());
        assert_eq!(ColumnRef::parse_list("a.b, c.d").unwrap().len(), 2);
    }

    #[test]
    fn after_clause_for_composite_keys() {
        let mut k = 0;
        let (sql, binds) = after_clause(2, &|i| ["a", "b"][i].to_string(), &mut |_| {
            k += 1;
            format!("${k}")
        });
        assert_eq!(sql, "((a > $1) OR (a = $2 AND b > $3))");
        assert_eq!(binds, [0, 0, 1]);
    }
}
