//! The checkpoint of a re-encryption: for each part of the table (worker, shard), the last key
//! done, saved after every committed batch so that `--resume` starts where a run stopped.
//!
//! One file per database, column and shard, in the checkpoint directory, written through a
//! temporary file and a rename so that a killed run leaves the old checkpoint or the new one,
//! never half of one. It holds keys, never values.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::connection::{ColumnRef, KeyValue, Partition};
use super::url::DbUrl;
use crate::error::{Error, Result};

/// Where one part of the table stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    /// Which rows this part reads.
    pub partition: Partition,
    /// The last key done (`None`: none yet).
    pub after: Option<Vec<KeyValue>>,
    /// Whether the part has read its last row.
    pub done: bool,
}

/// A saved re-encryption run of one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The database, without its password.
    pub database: String,
    /// `TABLE.COLUMN`.
    pub column: String,
    /// The key version values are re-encrypted to.
    pub target: u8,
    /// The parts, one per worker.
    pub parts: Vec<PartState>,
}

impl Checkpoint {
    /// A new checkpoint: nothing done yet.
    pub fn new(url: &DbUrl, column: &ColumnRef, target: u8, parts: &[Partition]) -> Self {
        Checkpoint {
            database: url.to_string(),
            column: column.to_string(),
            target,
            parts: parts
                .iter()
                .map(|&partition| PartState {
                    partition,
                    after: None,
                    done: false,
                })
                .collect(),
        }
    }

    /// The checkpoint file of `column` in `dir` for this database and these parts.
    pub fn path(dir: &Path, url: &DbUrl, column: &ColumnRef, parts: &[Partition]) -> PathBuf {
        let mut h = Sha256::new();
        h.update(url.to_string().as_bytes());
        for p in parts {
            h.update(format!(" {}/{}", p.remainder, p.modulus).as_bytes());
        }
        let digest = h.finalize();
        let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        dir.join(format!(
            "symmetric-encryption-{column}-{tag}.checkpoint.json"
        ))
    }

    /// Reads a checkpoint file; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::Argument(format!(
                "checkpoint {} is not valid ({e}): remove it and run without --resume",
                path.display()
            ))
        })
    }

    /// Writes the checkpoint (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        let io = |e| Error::io(format!("cannot write checkpoint {}", path.display()), e);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        tmp.write_all(&json).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Removes a checkpoint file (a finished run has nothing to resume).
    pub fn remove(path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(
                format!("cannot remove checkpoint {}", path.display()),
                e,
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse("postgres://u:pw@h/d").unwrap();
        let col = ColumnRef::parse("users.ssn").unwrap();
        let parts = [Partition::ALL];
        let path = Checkpoint::path(dir.path(), &url, &col, &parts);
        assert!(Checkpoint::load(&path).unwrap().is_none());
        let mut c = Checkpoint::new(&url, &col, 3, &parts);
        c.parts[0].after = Some(vec![KeyValue::Int(7), KeyValue::Text("x".into())]);
        c.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("pw"), "{text}");
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c));
        Checkpoint::remove(&path).unwrap();
        assert!(!path.exists());
    }
}
