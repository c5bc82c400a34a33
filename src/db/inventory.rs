//! The inventory of a column: how many values are at each key version, plaintext, NULL,
//! empty, or not decryptable with this configuration. It tells an operator whether a key
//! version still has data, that is whether it can be retired (`--cleanup-keys`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::connection::{ColumnRef, Database, KeyDisplay, Partition};
use super::reencrypt::Failure;
use super::url::DbUrl;
use super::value::{self, Class};
use crate::context::Context;
use crate::error::Result;

/// Rows read per query.
const BATCH: usize = 5000;

/// The counts of one column (the JSON form of `--inventory --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Rows.
    pub total: u64,
    /// NULL values.
    pub null: u64,
    /// Empty values.
    pub empty: u64,
    /// Values that are not encrypted.
    pub plaintext: u64,
    /// Encrypted values this configuration cannot decrypt.
    pub undecryptable: u64,
    /// Decryptable values by key version.
    pub versions: BTreeMap<u8, u64>,
}

impl Inventory {
    /// Counts one value.
    pub fn count(&mut self, class: &Class) {
        self.total += 1;
        match class {
            Class::Null => self.null += 1,
            Class::Empty => self.empty += 1,
            Class::Plaintext => self.plaintext += 1,
            Class::Undecryptable(_) => self.undecryptable += 1,
            Class::Version(v) => *self.versions.entry(*v).or_default() += 1,
        }
    }
}

/// Counts the values of one column, reading it in key order; each value that does not decrypt
/// is passed to `on_failure`.
pub async fn inventory_column(
    db: &Database,
    ctx: &Context,
    column: &ColumnRef,
    on_failure: &(dyn Fn(&Failure) + Sync),
) -> Result<Inventory> {
    let info = db.describe(column).await?;
    let mut inv = Inventory::default();
    let mut after = None;
    loop {
        let rows = db
            .fetch(&info, after.as_deref(), Partition::ALL, BATCH)
            .await?;
        for r in &rows {
            let class = value::classify(ctx, r.value.as_deref());
            if let Class::Undecryptable(reason) = &class {
                on_failure(&Failure {
                    column: column.clone(),
                    key: KeyDisplay(&info.key, &r.key).to_string(),
                    reason: reason.clone(),
                });
            }
            inv.count(&class);
        }
        if rows.len() < BATCH {
            return Ok(inv);
        }
        after = rows.last().map(|r| r.key.clone());
    }
}

/// Connects to `url` and counts each column (`TABLE.*`: each text column of the table).
pub fn inventory(
    url: &DbUrl,
    ctx: &Context,
    columns: &[ColumnRef],
    on_failure: &(dyn Fn(&Failure) + Sync),
) -> Result<Vec<(ColumnRef, Inventory)>> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let db = Database::connect(url, 1).await?;
        let result = async {
            let mut out = Vec::new();
            for c in db.expand(columns).await? {
                let i = inventory_column(&db, ctx, &c, on_failure).await?;
                out.push((c, i));
            }
            Ok(out)
        }
        .await;
        db.close().await;
        result
    })
}

/// The inventories as one JSON object keyed by `TABLE.COLUMN`.
pub fn to_json(inventories: &[(ColumnRef, Inventory)]) -> String {
    let map: BTreeMap<String, &Inventory> = inventories
        .iter()
        .map(|(c, i)| (c.to_string(), i))
        .collect();
    serde_json::to_string_pretty(&map).unwrap_or_default()
}

/// The inventories as a table for people.
pub fn to_table(inventories: &[(ColumnRef, Inventory)]) -> String {
    let mut out = format!(
        "{:<32} {:>10} {:>8} {:>8} {:>10} {:>13}  versions\n",
        "column", "total", "null", "empty", "plaintext", "undecryptable"
    );
    for (c, i) in inventories {
        let versions: Vec<String> = i
            .versions
            .iter()
            .rev()
            .map(|(v, n)| format!("v{v}: {n}"))
            .collect();
        out.push_str(&format!(
            "{:<32} {:>10} {:>8} {:>8} {:>10} {:>13}  {}\n",
            c.to_string(),
            i.total,
            i.null,
            i.empty,
            i.plaintext,
            i.undecryptable,
            if versions.is_empty() {
                "-".to_string()
            } else {
                versions.join(", ")
            }
        ));
    }
    out
}
