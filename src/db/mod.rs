//! Encrypted database columns after a key rotation: count the values at each key version
//! ([`inventory`]), and re-encrypt the old ones with the new key on a live database
//! ([`reencrypt`]), through SQLite, PostgreSQL or MySQL/MariaDB (the `db` feature, with
//! sqlx).
//!
//! | concept | module |
//! |---|---|
//! | connection URL, password never shown | [`url`] |
//! | the connection pool; describe, read a batch, apply a batch | [`connection`] (the SQL of each database in `sqlite.rs`, `postgres.rs`, `mysql.rs`) |
//! | one value: what it is, re-encrypted keeping its kind | [`value`] |
//! | counts per version | [`inventory`] |
//! | re-encryption: batches, conditional updates, workers, shards | [`reencrypt`] |
//! | where a run stands, for `--resume` | [`checkpoint`] |
//!
//! ```no_run
//! use symmetric_encryption::db::{inventory, ColumnRef, DbUrl};
//! # use symmetric_encryption::{Cipher, CipherName, Context};
//! # let cipher = Cipher::new(CipherName::Aes256Gcm, &[7u8; 32], None)?.with_version(1);
//! # let ctx = Context::new(vec![cipher])?;
//! let url = DbUrl::parse("sqlite:db/production.sqlite3")?;
//! let cols = ColumnRef::parse_list("users.ssn")?;
//! for (col, inv) in inventory::inventory(&url, &ctx, &cols, &|f| eprintln!("{f}"))? {
//!     println!("{col}: {:?}", inv.versions);
//! }
//! # Ok::<(), symmetric_encryption::Error>(())
//! ```

pub mod checkpoint;
pub mod connection;
pub mod inventory;
mod mysql;
mod postgres;
pub mod reencrypt;
mod sqlite;
pub mod url;
pub mod value;

pub use connection::{ColumnRef, Database};
pub use url::DbUrl;

use crate::error::{Error, Result};

/// The runtime the database drivers run on: two threads for the drivers' I/O; the workers
/// of a re-encryption are threads of their own.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the database runtime", e))
}
