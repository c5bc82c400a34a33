//! The command line on a database: exit statuses, the JSON inventory, kill and --resume, and
//! the URL's password never printed.

use std::collections::BTreeMap;

use symmetric_encryption::db::{inventory, ColumnRef};

use super::*;

/// The command line end to end: a configuration generated and rotated, a run killed halfway and
/// resumed, the exit statuses, the JSON inventory.
pub fn kill_and_resume(t: &TestDb, table: &str) {
    use crate::cli_common::{library_context, run_with, scratch};
    let dir = scratch();
    let d = dir.path();
    let url = t.raw.clone();
    run(
        d,
        &[
            "--generate",
            "--environments",
            "production",
            "--key-path",
            "keys",
        ],
    )
    .ok();
    let config = "config/symmetric-encryption.yml";
    let v1 = library_context(d, config, "production", &[]);
    let n = 3000;
    fill_with(t, &v1, table, n, 1);
    t.insert(
        table,
        "id, secret",
        &[
            P::I(n + 1),
            P::T(Some(enc(&stranger(), "not ours", 1, true, false))),
        ],
    );
    run(d, &["--rotate-keys"]).ok();
    let ctx = library_context(d, config, "production", &[]);
    assert_eq!(ctx.primary().version(), 2);
    let column = format!("{table}.secret");
    let versions = || {
        inventory::inventory(
            &t.url,
            &ctx,
            &ColumnRef::parse_list(&column).unwrap(),
            &|_| {},
        )
        .unwrap()[0]
            .1
            .versions
            .clone()
    };

    // Usage errors: exit 2.
    run(
        d,
        &[
            "--db",
            &url,
            "--re-encrypt-columns",
            &column,
            "--shard",
            "3/2",
        ],
    )
    .usage_error();
    run(d, &["--re-encrypt-columns", &column]).usage_error();
    run(
        d,
        &["--db", &url, "--re-encrypt-columns", &column, "--resume"],
    )
    .usage_error();

    // A slow run, killed once it has committed a few batches.
    let mut child = crate::cli_common::command(
        d,
        &[
            "--db",
            &url,
            "--re-encrypt-columns",
            &column,
            "--batch-size",
            "50",
            "--max-rows-per-second",
            "1500",
        ],
    )
    .env("SYMMETRIC_ENCRYPTION_ENV", "production")
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
        assert!(
            std::time::Instant::now() < deadline,
            "the run made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mid = versions();
    assert!(mid[&1] > 0 && mid[&2] > 0, "{mid:?}");
    let checkpoints: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(".checkpoint.json")
        })
        .collect();
    assert_eq!(checkpoints.len(), 1);

    // Resumed: it starts after the checkpoint, finishes, and lists the value it cannot decrypt.
    let out = run_with(
        d,
        &["--re-encrypt-columns", &column, "--resume"],
        &[
            ("SYMMETRIC_ENCRYPTION_DB".into(), url.clone()),
            production(),
        ],
        b"",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("{column} id={}: cannot decrypt", n + 1)),
        "{}",
        out.stderr
    );
    let stdout = out.out();
    let read: u64 = stdout
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        read < n as u64,
        "the resumed run read {read} rows: {stdout}"
    );
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

/// The command in `dir`, on the environment `production` (whose keys are in key files, so
/// that `--rotate-keys` makes new ones).
fn run(dir: &std::path::Path, args: &[&str]) -> crate::cli_common::Run {
    crate::cli_common::run_with(dir, args, &[production()], b"")
}

fn production() -> (String, String) {
    ("SYMMETRIC_ENCRYPTION_ENV".into(), "production".into())
}

/// The password of a `scheme://user:password@host/...` URL, if it has one.
fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split('/').next()?.rsplit_once('@')?.0;
    auth.split_once(':').map(|(_, p)| p.to_string())
}

/// The two commands' exit statuses (0, 1, 2), the exact shape of `--inventory --json`, and
/// the URL's password in no output, whether the run succeeds or fails.
pub fn command_line_contract(t: &TestDb, table: &str) {
    use crate::cli_common::{library_context, scratch, Run};
    let dir = scratch();
    let d = dir.path();
    let url = t.raw.clone();
    run(
        d,
        &[
            "--generate",
            "--environments",
            "production",
            "--key-path",
            "keys",
        ],
    )
    .ok();
    let v1 = library_context(d, "config/symmetric-encryption.yml", "production", &[]);
    fill_with(t, &v1, table, 20, 1);
    t.insert(table, "id, secret", &[P::I(21), P::T(None)]);
    t.insert(table, "id, secret", &[P::I(22), P::T(Some(String::new()))]);
    t.insert(
        table,
        "id, secret",
        &[P::I(23), P::T(Some("not encrypted".into()))],
    );
    let column = format!("{table}.secret");
    // A URL whose password is wrong, to a server that is there (or, for SQLite, to none).
    let secret = "Wr0ng-s3cret-pw";
    let wrong = match t.kind() {
        DbKind::Sqlite => format!("postgres://nobody:{secret}@127.0.0.1:1/none"),
        _ => {
            let pw = password_of(&url).expect("the test servers' URLs carry a password");
            url.replacen(&format!(":{pw}@"), &format!(":{secret}@"), 1)
        }
    };
    let mut runs: Vec<Run> = Vec::new();
    macro_rules! keep {
        ($r:expr) => {{
            runs.push($r);
            runs.last().unwrap()
        }};
    }

    // Exit 0, and the JSON object exactly as documented.
    let r = keep!(run(d, &["--db", &url, "--inventory", &column, "--json"]));
    assert_eq!(r.code, 0, "{r:?}");
    let json: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ column.clone(): {
            "total": 23, "null": 1, "empty": 1, "plaintext": 1, "undecryptable": 0,
            "versions": {"1": 20}
        }})
    );
    let r = keep!(run(d, &["--rotate-keys"]));
    assert_eq!(r.code, 0, "{r:?}");
    let r = keep!(run(
        d,
        &[
            "--db",
            &url,
            "--re-encrypt-columns",
            &column,
            "--batch-size",
            "7"
        ]
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out().contains("20 re-encrypted to version 2"),
        "{}",
        r.out()
    );
    let r = keep!(run(d, &["--db", &url, "--inventory", &column, "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(json[&column]["versions"], serde_json::json!({"2": 20}));
    let r = keep!(run(d, &["--db", &url, "--inventory", &column]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out().contains("v2: 20"), "{}", r.out());

    // Exit 1: a value this configuration cannot decrypt, listed on standard error.
    t.insert(
        table,
        "id, secret",
        &[
            P::I(24),
            P::T(Some(enc(&stranger(), "not ours", 1, true, false))),
        ],
    );
    for args in [
        vec!["--db", &url, "--inventory", &column, "--json"],
        vec!["--db", &url, "--re-encrypt-columns", &column],
    ] {
        let r = keep!(run(d, &args));
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr
                .contains(&format!("{column} id=24: cannot decrypt")),
            "{r:?}"
        );
    }
    // Exit 1: the server refuses the password (or is not there).
    let r = keep!(run(d, &["--db", &wrong, "--inventory", &column]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot connect to"), "{r:?}");

    // Exit 2: usage errors, before or after connecting.
    let nopk = format!("{table}_nopk");
    t.fresh(&nopk, "id INTEGER, secret TEXT");
    for args in [
        vec!["--db", &url, "--inventory", "no_dot"],
        vec!["--db", &url, "--inventory", "no_such_table.secret"],
        vec![
            "--db",
            &url,
            "--inventory",
            &format!("{table}.no_such_column"),
        ],
        vec![
            "--db",
            &url,
            "--re-encrypt-columns",
            &format!("{nopk}.secret"),
        ],
        vec![
            "--db",
            &url,
            "--re-encrypt-columns",
            &column,
            "--batch-size",
            "0",
        ],
        vec![
            "--db",
            &url,
            "--re-encrypt-columns",
            &column,
            "--shard",
            "0/2",
        ],
        vec![
            "--db",
            &url,
            "--re-encrypt-columns",
            &column,
            "--key-version",
            "9",
        ],
        vec![
            "--db",
            &wrong.replacen("://", ":/", 1),
            "--inventory",
            &column,
        ],
        vec!["--inventory", &column],
        vec!["--db", &url, "--inventory", &column, "--encrypt"],
        vec!["--db", &url, "--encrypt"],
        vec!["--db", &url, "--inventory", &column, "--workers", "2"],
        vec!["--db", &url, "--re-encrypt-columns", &column, "--json"],
    ] {
        let r = keep!(run(d, &args));
        assert_eq!(r.code, 2, "{r:?}");
        assert!(!r.stderr.contains("panicked"), "{r:?}");
    }
    let r = keep!(run(
        d,
        &[
            "--db",
            &url,
            "--re-encrypt-columns",
            &format!("{nopk}.secret")
        ]
    ));
    assert!(r.stderr.contains("has no primary key"), "{r:?}");

    // No output of any of these runs shows a password.
    let passwords: Vec<String> = password_of(&url)
        .into_iter()
        .chain([secret.into()])
        .collect();
    for r in &runs {
        let all = format!("{} {}", r.out(), r.stderr);
        for pw in &passwords {
            assert!(
                !all.contains(pw.as_str()),
                "{:?} printed the password: {all}",
                r.args
            );
        }
    }
    let checkpoints = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(".checkpoint.json")
        })
        .count();
    assert_eq!(checkpoints, 0, "a finished run leaves no checkpoint");
}
