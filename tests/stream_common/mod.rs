//! Helpers shared by the integration tests: the vendored vectors and contexts built from them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use symmetric_encryption::{Cipher, CipherName, Context};

/// The vendored vectors directory; fails when it is missing or empty.
pub fn vectors() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let non_empty = std::fs::read_dir(&dir).map(|mut d| d.next().is_some());
    assert!(
        matches!(non_empty, Ok(true)),
        "the vectors directory {} is missing or empty: run scripts/vendor-vectors",
        dir.display()
    );
    dir
}

pub fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("valid base64")
}

/// A context of `ciphers` (vector cipher descriptions) with `primary` first.
pub fn context(ciphers: &[Value], primary: u64) -> Context {
    let mut list: Vec<&Value> = ciphers.iter().collect();
    list.sort_by_key(|c| c["version"].as_u64() != Some(primary));
    let built = list
        .into_iter()
        .map(|c| {
            let name = CipherName::from_name(c["cipher_name"].as_str().unwrap()).unwrap();
            let iv = (!c["iv_b64"].is_null()).then(|| b64(&c["iv_b64"]));
            Cipher::new(name, &b64(&c["key_b64"]), iv.as_deref())
                .unwrap()
                .with_version(c["version"].as_u64().unwrap() as u8)
                .with_always_add_header(c["always_add_header"].as_bool().unwrap_or(true))
        })
        .collect();
    Context::new(built).unwrap()
}
