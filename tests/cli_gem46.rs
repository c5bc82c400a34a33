//! Keys for applications still on gem 4.6 (issue 13, item 6): gem 4.6 reads CBC, not GCM.
//! `--generate` and `--rotate-keys` say so when they write GCM keys; `--cipher-name
//! aes-256-cbc` and `--gem-4.6` give keys gem 4.6 can use, in the layout gem 4.6's own
//! generator writes (the v46_file_cbc vectors).
#![cfg(unix)]

mod cli_common;

use cli_common::*;
use symmetric_encryption::{CipherName, Config};

const CONFIG: &str = "config/symmetric-encryption.yml";

fn generate(dir: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "--generate",
        "--keystore",
        "file",
        "--app-name",
        "legacy_app",
        "--environments",
        "development,production",
        "--key-path",
        "keys",
        "--config",
        CONFIG,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn primary_cipher(dir: &std::path::Path, env: &str) -> CipherName {
    library_context(dir, CONFIG, env, &[])
        .primary()
        .cipher_name()
}

#[test]
fn the_default_gcm_keys_come_with_the_gem_46_note() {
    let dir = scratch();
    let r = generate(dir.path(), &[]).ok();
    assert_eq!(
        primary_cipher(dir.path(), "production"),
        CipherName::Aes256Gcm
    );
    assert!(r.stderr.contains("NOT by gem 4.6"), "{}", r.stderr);
    assert!(r.stderr.contains("--gem-4.6"), "{}", r.stderr);
    // Standard output stays the gem's.
    assert!(!r.out().contains("gem 4.6"), "{}", r.out());
}

#[test]
fn gem_46_and_cipher_name_cbc_give_the_layout_gem_46_writes() {
    let expected =
        std::fs::read_to_string(vectors().join("configs/v46_file_cbc").join(CONFIG)).unwrap();
    for extra in [&["--gem-4.6"][..], &["--cipher-name", "aes-256-cbc"][..]] {
        let dir = scratch();
        let r = generate(dir.path(), extra).ok();
        assert!(!r.stderr.contains("gem 4.6"), "{extra:?}: {}", r.stderr);
        let ours = std::fs::read_to_string(dir.path().join(CONFIG)).unwrap();
        assert_eq!(
            masked_yaml(&ours),
            masked_yaml(&expected),
            "{extra:?}: differs from gem 4.6's generated file beyond its random keys"
        );
        assert_eq!(
            primary_cipher(dir.path(), "production"),
            CipherName::Aes256Cbc
        );
        let ctx = library_context(dir.path(), CONFIG, "production", &[]);
        let v = ctx.encrypt(b"for gem 4.6", &Default::default()).unwrap();
        assert_eq!(ctx.decrypt(&v).unwrap(), b"for gem 4.6");
    }
}

#[test]
fn gem_46_refuses_what_gem_46_cannot_read() {
    let dir = scratch();
    generate(dir.path(), &["--gem-4.6", "--cipher-name", "aes-256-gcm"]).fails(&[
        "--gem-4.6",
        "GCM",
        "aes-256-cbc",
    ]);
    generate(dir.path(), &["--gem-4.6", "--key-permissions", "0600"]).fails(&[
        "--gem-4.6",
        "--key-permissions",
        "permissions:",
    ]);
    assert!(!dir.path().join(CONFIG).exists(), "nothing written");
    run(dir.path(), &["--gem-4.6", "--ciphers"]).fails(&["--generate or --rotate-keys"]);
    // Another CBC cipher is fine.
    generate(dir.path(), &["--gem-4.6", "--cipher-name", "aes-128-cbc"]).ok();
    assert_eq!(
        primary_cipher(dir.path(), "production"),
        CipherName::Aes128Cbc
    );
}

#[test]
fn rotating_for_gem_46_adds_a_cbc_key_and_names_what_gem_46_still_cannot_read() {
    let dir = scratch();
    generate(dir.path(), &[]).ok();
    let r = run(
        dir.path(),
        &[
            "--rotate-keys",
            "--gem-4.6",
            "--environments",
            "production",
            "--config",
            CONFIG,
        ],
    )
    .ok();
    let ctx = library_context(dir.path(), CONFIG, "production", &[]);
    assert_eq!(ctx.primary().version(), 2);
    assert_eq!(ctx.primary().cipher_name(), CipherName::Aes256Cbc);
    assert!(
        r.stderr
            .contains("production, cipher version 1: aes-256-gcm"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("NOT by gem 4.6"),
        "no GCM note for CBC keys: {}",
        r.stderr
    );

    // A CBC file rotates to CBC without a note; asking for GCM brings the note.
    let r = run(
        dir.path(),
        &[
            "--rotate-keys",
            "--environments",
            "production",
            "--config",
            CONFIG,
        ],
    )
    .ok();
    assert!(!r.stderr.contains("gem 4.6"), "{}", r.stderr);
    assert_eq!(
        primary_cipher(dir.path(), "production"),
        CipherName::Aes256Cbc
    );
    let r = run(
        dir.path(),
        &[
            "--rotate-keys",
            "--cipher-name",
            "aes-256-gcm",
            "--environments",
            "production",
            "--config",
            CONFIG,
        ],
    )
    .ok();
    assert!(r.stderr.contains("NOT by gem 4.6"), "{}", r.stderr);
    let config = Config::from_path(&dir.path().join(CONFIG)).unwrap();
    assert_eq!(config.environment("production").unwrap().ciphers.len(), 4);
}
