//! `--check`: the configuration file and environment chosen and why, every entry and whether
//! its key loads, the warnings, and exit status 1 when a key does not load.
#![cfg(unix)]

mod cli_common;

use std::path::Path;

use cli_common::*;

const CONFIG: &str = "config/symmetric-encryption.yml";

fn generate(dir: &Path) {
    run(
        dir,
        &[
            "-g",
            "-a",
            "app",
            "-S",
            "development,production",
            "-K",
            "keys",
        ],
    )
    .ok();
}

fn check(dir: &Path) -> Run {
    run(dir, &["--check", "-E", "production", "-c", CONFIG])
}

/// The key files of the production environment's data keys.
fn production_key_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("production"))
        .collect();
    files.sort();
    files
}

#[test]
fn lists_the_choice_and_every_entry() {
    let dir = scratch();
    generate(dir.path());
    let out = check(dir.path()).ok().out();
    for expected in [
        "configuration: config/symmetric-encryption.yml (",
        "given with --config",
        "environment:   production, given with -E/--env",
        "version 1 (aes-256-gcm)",
        "key: file keystore, ",
        "mode 0600, owner ",
        "key_encrypting_key: memory keystore: encrypted_key in the configuration file",
        "key_encrypting_key, level 2: file keystore, ",
        "loads: yes",
        "gem 4.x",
        "result: the environment loads, with the keys of all 1 entries",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
}

#[test]
fn says_when_the_variables_chose() {
    let dir = scratch();
    generate(dir.path());
    let vars = [
        (
            "SYMMETRIC_ENCRYPTION_CONFIG".to_string(),
            CONFIG.to_string(),
        ),
        ("RAILS_ENV".to_string(), "production".to_string()),
    ];
    let out = run_with(dir.path(), &["--check"], &vars, b"").ok().out();
    assert!(out.contains("from SYMMETRIC_ENCRYPTION_CONFIG"), "{out}");
    assert!(out.contains("production, from RAILS_ENV"), "{out}");
}

#[test]
fn a_missing_key_file_fails_with_status_1() {
    let dir = scratch();
    generate(dir.path());
    for f in production_key_files(dir.path()) {
        std::fs::remove_file(f).unwrap();
    }
    let r = check(dir.path());
    let out = r.out();
    assert!(out.contains("cannot be read"), "{out}");
    assert!(out.contains("loads: NO: "), "{out}");
    assert!(
        out.contains("result: 1 of 1 entries' keys do not load"),
        "{out}"
    );
    r.fails(&["environment production does not load"]);
}

#[test]
fn warns_about_a_key_file_others_can_read() {
    let dir = scratch();
    generate(dir.path());
    for f in production_key_files(dir.path()) {
        set_mode(&f, 0o644);
    }
    let r = check(dir.path());
    let out = r.out();
    assert!(out.contains("mode 0644"), "{out}");
    assert!(
        out.contains("is readable by every user (mode 0644)"),
        "{out}"
    );
    // The file keystore refuses such a file: the key does not load.
    assert!(out.contains("loads: NO: "), "{out}");
    r.fails(&["does not load"]);
}

#[test]
fn warns_about_a_primary_that_is_not_the_highest_version() {
    let dir = scratch();
    generate(dir.path());
    // A rolling deploy puts the new version 2 second.
    run(dir.path(), &["-R", "-D", "-c", CONFIG, "-S", "production"]).ok();
    let out = check(dir.path()).ok().out();
    assert!(
        out.contains("the primary (first) entry is version 1, but version 2 is configured too"),
        "{out}"
    );
    assert!(out.contains("--activate-key"), "{out}");
}

#[test]
fn warns_about_duplicate_versions() {
    let dir = scratch();
    generate(dir.path());
    run(dir.path(), &["-R", "-c", CONFIG, "-S", "production"]).ok();
    let path = dir.path().join(CONFIG);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("version: 2", "version: 1")).unwrap();
    let out = check(dir.path()).ok().out();
    assert!(out.contains("entries 1 and 2 both have version 1"), "{out}");
    assert!(
        out.contains("only ever decrypt with entry 1 (the first)"),
        "{out}"
    );
    // The gem loads such a file (the first entry with a version wins), and so does this library.
    assert!(out.contains("result: the environment loads"), "{out}");
}

#[test]
fn warns_about_development_keys_in_production() {
    let dir = scratch();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join(CONFIG),
        "production:\n  ciphers:\n  - key: \"1234567890ABCDEF1234567890ABCDEF\"\n    \
         iv: \"1234567890ABCDEF\"\n    cipher_name: aes-256-cbc\n    version: 1\n",
    )
    .unwrap();
    let out = check(dir.path()).ok().out();
    assert!(out.contains("version 1 (aes-256-cbc)"), "{out}");
    assert!(
        out.contains("key: in the configuration file (key:)"),
        "{out}"
    );
    assert!(
        out.contains(
            "its key is written in the configuration file (key:), as development keys are"
        ),
        "{out}"
    );
    assert!(!out.contains("gem 4.x"), "no GCM entry: {out}");
}

#[test]
fn an_unknown_environment_names_the_flag() {
    let dir = scratch();
    generate(dir.path());
    run(dir.path(), &["--check", "-E", "staging", "-c", CONFIG]).fails(&[
        "environment \"staging\" not found",
        "development, production",
        "-E ENVIRONMENT (--env)",
    ]);
}
