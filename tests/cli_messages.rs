//! Messages a first trial found wrong or confusing (issue 19), each checked as the user meets
//! it: a closed pipe, a GCM value cut short, `--info` under the wrong environment, an unknown
//! environment from `-E` or `--environments`, a readable key file deep in a KEK chain, and the
//! gcp keystore refusal.
#![cfg(unix)]

mod cli_common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use base64::Engine;
use cli_common::*;

const CONFIG: &str = "config/symmetric-encryption.yml";

fn generate(dir: &Path, extra: &[&str]) {
    let mut args = vec![
        "-g",
        "-a",
        "app",
        "-S",
        "development,production",
        "-K",
        "keys",
    ];
    args.extend_from_slice(extra);
    run(dir, &args).ok();
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = scratch();
    generate(dir.path(), &[]);
    let plain: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.path().join("big.txt"), &plain).unwrap();
    run(
        dir.path(),
        &["-E", "production", "-e", "big.txt", "-o", "big.enc"],
    )
    .ok();
    // `-d big.enc | head -2`: read a little, then close the pipe.
    let mut child = command(dir.path(), &["-E", "production", "-d", "big.enc"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(&first, b"line 0\nline 1\nli");
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.is_empty(),
        "a closed pipe should be quiet: {stderr:?}"
    );
}

#[test]
fn a_gcm_value_cut_short_says_so() {
    let dir = scratch();
    generate(dir.path(), &[]);
    let ctx = library_context(dir.path(), CONFIG, "production", &[]);
    let value = ctx
        .encrypt(b"x", &symmetric_encryption::EncryptOptions::default())
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(&value).unwrap();
    assert!(
        raw.len() > 16,
        "a GCM value is its header and a tag at least: {} bytes",
        raw.len()
    );
    // One byte off the end (the 1-byte ciphertext of "x"): the tag check says what happened.
    raw.pop();
    let cut = b64.encode(&raw);
    run_with(
        dir.path(),
        &["-E", "production", "-d", "-P"],
        &[],
        cut.as_bytes(),
    )
    .fails(&["altered or truncated"]);
    // One more: the cut now reaches into the auth tag, which ends the header.
    raw.pop();
    let cut = b64.encode(&raw);
    let msg = run_with(
        dir.path(),
        &["-E", "production", "-d", "-P"],
        &[],
        cut.as_bytes(),
    )
    .fails(&["truncated", "auth tag", "cut short or altered"]);
    assert!(!msg.contains("must be exactly 16"), "{msg}");
}

#[test]
fn info_under_the_wrong_environment_suggests_e() {
    let dir = scratch();
    // production: aes-256-gcm; development: the gem's aes-128-cbc development key; both
    // version 1.
    generate(dir.path(), &["-C", "aes-256-gcm"]);
    std::fs::write(dir.path().join("plain.txt"), "hello\n".repeat(100)).unwrap();
    run(
        dir.path(),
        &["-E", "production", "-e", "plain.txt", "-o", "plain.enc"],
    )
    .ok();
    let r = run(dir.path(), &["-E", "development", "--info", "plain.enc"]);
    let out = r.out();
    assert!(out.contains("hint:"), "{out}");
    assert!(
        out.contains("written under another environment; try it with -E ENVIRONMENT (--env)"),
        "{out}"
    );
    r.fails(&["cannot decrypt it"]);
}

#[test]
fn an_unknown_environment_names_e_and_why() {
    let dir = scratch();
    generate(dir.path(), &[]);
    let vars = [("RAILS_ENV".to_string(), "staging".to_string())];
    run_with(dir.path(), &["-e", "-P"], &vars, b"x\n").fails(&[
        "environment \"staging\" not found",
        "development, production",
        "\"staging\" is from RAILS_ENV",
        "-E ENVIRONMENT (--env)",
    ]);
}

#[test]
fn an_unknown_environment_in_environments_says_so() {
    let dir = scratch();
    generate(dir.path(), &[]);
    let msg = run(
        dir.path(),
        &["-R", "-c", CONFIG, "--environments", "staging"],
    )
    .fails(&[
        "environment \"staging\", given in --environments, is not in the file",
        "development, production",
    ]);
    assert!(!msg.contains("RAILS_ENV"), "{msg}");
}

#[test]
fn a_readable_kek_file_names_the_level_in_words() {
    let dir = scratch();
    generate(dir.path(), &[]);
    // The file keystore's chain: data key file <- encrypted_key in the file <- .kekek file.
    let kekek: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.contains("production") && name.ends_with(".kekek")
        })
        .collect();
    assert_eq!(kekek.len(), 1, "one .kekek file for production");
    set_mode(&kekek[0], 0o644);
    let msg = run(dir.path(), &["-E", "production", "-e", "-P"]).fails(&[
        "the key_encrypting_key of its key_encrypting_key (two levels above the data key)",
        "0644",
    ]);
    assert!(
        !msg.contains("key_encrypting_key: key_encrypting_key:"),
        "{msg}"
    );
}

#[test]
fn the_gcp_refusal_suggests_only_what_keystore_takes() {
    let dir = scratch();
    let msg = run(dir.path(), &["-g", "--keystore", "gcp", "-K", "keys"]).fails(&["gcp"]);
    assert!(!msg.contains("memory"), "{msg}");
    assert!(msg.contains("file, environment, heroku, aws"), "{msg}");
}
