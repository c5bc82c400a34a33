//! The library scenarios: inventory, the mixed column, keys, shards, a concurrent writer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use symmetric_encryption::db::reencrypt::{self, Shard};
use symmetric_encryption::db::url::DbKind;
use symmetric_encryption::db::value;
use symmetric_encryption::db::{inventory, ColumnRef, Database};
use symmetric_encryption::{Encoding, EncryptOptions};

use super::*;

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

    // TABLE.* is every text and binary column but the key.
    let all = ColumnRef::parse_list(&format!("{table}.*,{table}.raw")).unwrap();
    let inv_all = inventory::inventory(&t.url, &ctx, &all, &|_| {}).unwrap();
    assert_eq!(inv_all, inv);

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
        (
            sums[0].rows,
            sums[0].reencrypted,
            sums[0].current,
            sums[0].skipped
        ),
        (11, 6, 1, 3)
    );
    assert_eq!(sums[0].undecryptable, 1);
    assert_eq!(
        (sums[1].reencrypted, sums[1].current, sums[1].skipped),
        (5, 1, 5)
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with(&format!("{table}.secret id=9: cannot decrypt")));
    assert!(
        !failures[0].contains(text[8].as_deref().unwrap()),
        "{}",
        failures[0]
    );

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
                    assert_ne!(v0, 3);
                    assert_eq!(v1, 3, "{col} id {id}");
                    assert_eq!(p1, p0, "{col} id {id}: same plaintext");
                    assert_eq!(r1, r0, "{col} id {id}: same kind of iv");
                    assert_eq!(c1, c0, "{col} id {id}: same compression");
                    assert_eq!(e1, e0, "{col} id {id}: same encoding");
                    if e0 != Encoding::None {
                        // The line end of a text value is kept (raw bytes may end in 0x0a).
                        assert_eq!(new.ends_with(b"\n"), old.ends_with(b"\n"), "{col} id {id}");
                    }
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
                    P::T(Some(enc(
                        &ctx,
                        &plain,
                        1 + (n % 3) as u8,
                        n % 2 == 0,
                        false,
                    ))),
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
    let star = ColumnRef::parse_list(&format!("{table}.*")).unwrap();
    let e = reencrypt::re_encrypt(&t.url, &ctx, &star, &opts(dir.path()), &|_| {}).unwrap_err();
    assert!(e.to_string().contains("has no primary key"), "{e}");
    let nothing = ColumnRef::parse_list("se_no_such_table.*").unwrap();
    let e = inventory::inventory(&t.url, &ctx, &nothing, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("or does not exist"), "{e}");
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
                assert_eq!(
                    plain,
                    p.as_bytes(),
                    "id {id}: the application's write was lost"
                );
                if ver != 3 {
                    assert_eq!(v, w.as_bytes());
                    kept_old += 1;
                }
            }
            None => {
                assert_eq!(
                    (ver, plain),
                    (3, format!("row {id}").into_bytes()),
                    "id {id}"
                )
            }
        }
    }
    eprintln!(
        "writer: {} rows written, {} changed under the run, {kept_old} old-key writes left after the run",
        written.len(),
        sums[0].changed_concurrently
    );
}
