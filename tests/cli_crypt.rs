//! `--encrypt`, `--decrypt`, `--prompt`, `--new-password`, `--key-version`, `--info`,
//! `--version`, `--ciphers`, `--help`, and the error contract (exit 1, one line; usage: exit 2).
#![cfg(unix)]

mod cli_common;

use std::path::Path;

use cli_common::*;
use symmetric_encryption::header;

const CONFIG: &str = "config/symmetric-encryption.yml";

/// A production environment with a file keystore (aes-256-gcm, version 1) and a second
/// version (2, aes-256-cbc), activated, so versions 2 (primary) and 1 both decrypt.
fn setup(dir: &Path) {
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
    run(dir, &["-R", "-C", "aes-256-cbc", "-c", CONFIG]).ok();
}

fn prod(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["-E", "production"];
    all.extend_from_slice(args);
    run(dir, &all)
}

fn prod_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut all = vec!["-E", "production"];
    all.extend_from_slice(args);
    run_with(dir, &all, &[], stdin)
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn file_header(path: &Path) -> header::Header {
    let bytes = std::fs::read(path).unwrap();
    header::parse(&bytes).unwrap().expect("a header").header
}

#[test]
fn files_round_trip_with_the_gems_compression_rules() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    std::fs::write(d.join("report.csv"), sample(200_000)).unwrap();

    prod(d, &["-e", "report.csv", "-o", "report.csv.enc"]).ok();
    let h = file_header(&d.join("report.csv.enc"));
    assert_eq!(h.version, 2, "the primary encrypts");
    assert!(h.compressed, "files are compressed by default");
    assert!(h.encrypted_key.is_some(), "streams carry a random key");

    // A target named .gz is not compressed again; -z and -Z decide when given.
    prod(d, &["--encrypt", "report.csv", "--output", "report.gz"]).ok();
    assert!(!file_header(&d.join("report.gz")).compressed);
    prod(d, &["-e", "report.csv", "-o", "forced.gz", "-z"]).ok();
    assert!(file_header(&d.join("forced.gz")).compressed);
    prod(d, &["-e", "report.csv", "-o", "plain.enc", "-Z"]).ok();
    assert!(!file_header(&d.join("plain.enc")).compressed);

    for enc in ["report.csv.enc", "report.gz", "forced.gz", "plain.enc"] {
        prod(d, &["-d", enc, "-o", "back.csv"]).ok();
        assert_eq!(
            std::fs::read(d.join("back.csv")).unwrap(),
            sample(200_000),
            "{enc}"
        );
        let r = prod(d, &["--decrypt", enc]).ok();
        assert_eq!(r.stdout, sample(200_000), "{enc} to stdout");
    }
    // The library reads what the command wrote.
    let ctx = library_context(d, CONFIG, "production", &[]);
    symmetric_encryption::stream::decrypt_file(&ctx, &d.join("report.csv.enc"), &d.join("lib.csv"))
        .unwrap();
    assert_eq!(std::fs::read(d.join("lib.csv")).unwrap(), sample(200_000));
}

#[test]
fn stdin_and_stdout_stream() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let data = sample(300_000);
    let enc = prod_in(d, &["-e"], &data).ok().stdout;
    let h = header::parse(&enc).unwrap().unwrap().header;
    assert!(
        h.compressed,
        "a stream to stdout is compressed by default, as in the gem"
    );
    assert_eq!(prod_in(d, &["-d"], &enc).ok().stdout, data);
    // "-" is standard input too.
    assert_eq!(prod_in(d, &["-d", "-"], &enc).ok().stdout, data);
    // An empty input is an empty stream.
    let empty = prod_in(d, &["-e", "-Z"], b"").ok().stdout;
    assert_eq!(prod_in(d, &["-d"], &empty).ok().stdout, b"");
    // Piped: no progress bar, nothing on stderr.
    let big = sample(10 << 20);
    let r = prod_in(d, &["-e", "-Z"], &big).ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    std::fs::write(d.join("big"), &big).unwrap();
    let r = prod(d, &["-e", "big", "-o", "big.enc"]).ok();
    assert!(
        r.stderr.is_empty(),
        "no progress bar unless stderr is a terminal"
    );
}

#[test]
fn prompted_values() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    // Without a terminal the value is the first line of stdin.
    let encrypted = prod_in(d, &["-e", "-P"], b"s3cret password\n").ok().out();
    let value = encrypted.trim_end();
    assert_eq!(encrypted.lines().count(), 1);
    assert!(value.starts_with("QEVuQw"), "{value}");
    let ctx = library_context(d, CONFIG, "production", &[]);
    assert_eq!(ctx.decrypt(value.as_bytes()).unwrap(), b"s3cret password");
    assert_eq!(ctx.header(value.as_bytes()).unwrap().unwrap().version, 2);
    assert!(!ctx.header(value.as_bytes()).unwrap().unwrap().compressed);

    let plain = prod_in(d, &["-d", "-P"], format!("{value}\n").as_bytes())
        .ok()
        .out();
    assert_eq!(plain, "s3cret password\n");

    // -z compresses a value; -o writes it to a file instead of stdout.
    let r = prod_in(d, &["-e", "-P", "-z", "-o", "value.txt"], b"abc\n").ok();
    assert!(r.stdout.is_empty());
    let stored = std::fs::read(d.join("value.txt")).unwrap();
    assert!(ctx.header(&stored).unwrap().unwrap().compressed);
    prod_in(d, &["-d", "-P", "-o", "value.plain"], &stored).ok();
    assert_eq!(std::fs::read(d.join("value.plain")).unwrap(), b"abc");

    // --key-version picks the key.
    let v1 = prod_in(d, &["-e", "-P", "-V", "1"], b"old key\n")
        .ok()
        .out();
    assert_eq!(
        ctx.header(v1.trim().as_bytes()).unwrap().unwrap().version,
        1
    );
    assert_eq!(ctx.decrypt(v1.trim().as_bytes()).unwrap(), b"old key");

    prod_in(d, &["-e", "-P"], b"").fails(&["empty"]);
    prod_in(d, &["-d", "-P"], b"not encrypted\n").fails(&[]);
    prod_in(d, &["-e", "some-file", "-P"], b"x\n").fails(&["--prompt"]);
}

#[test]
fn wrong_key_version_is_named() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    std::fs::write(d.join("a.txt"), b"data").unwrap();
    for args in [
        &["-e", "a.txt", "-o", "a.enc", "-V", "9"][..],
        &["-e", "-P", "-V", "9"][..],
        &["-n", "-V", "9"][..],
        &["-r", "*.yml", "-V", "9"][..],
    ] {
        prod_in(d, args, b"x\n").fails(&["--key-version 9", "versions: 2, 1"]);
    }
    assert!(!d.join("a.enc").exists());
    prod(d, &["-e", "a.txt", "-V", "300"]).usage_error();
}

#[test]
fn gem_files_decrypt() {
    let dir = scratch();
    let d = dir.path();
    copy_tree(&vectors().join("files"), d);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    let mut checked = 0;
    for f in manifest["files"].as_array().unwrap() {
        let enc = f["enc_file"].as_str().unwrap();
        let plain = std::fs::read(d.join(f["plain_file"].as_str().unwrap())).unwrap();
        let mut args = vec!["-E", "cbc_primary", "-d", enc];
        let version = f["read_with_version"].as_u64().map(|v| v.to_string());
        if let Some(v) = &version {
            args.extend(["-V", v]);
        }
        let r = run(d, &args).ok();
        assert_eq!(r.stdout, plain, "{enc}");
        checked += 1;
    }
    assert!(checked >= 20);
}

#[test]
fn a_tampered_file_fails_and_leaves_nothing() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    // A GCM primary: version 1 is aes-256-gcm.
    // Not a multiple of the AES block: read as a header-less CBC stream below, a multiple of
    // 16 bytes would decrypt with valid padding about once in 256 runs.
    std::fs::write(d.join("a.txt"), sample(200_003)).unwrap();
    prod(d, &["-e", "a.txt", "-o", "a.enc", "-V", "1", "-Z"]).ok();
    let mut bytes = std::fs::read(d.join("a.enc")).unwrap();
    let at = bytes.len() - 1000;
    bytes[at] ^= 1;
    std::fs::write(d.join("a.enc"), &bytes).unwrap();
    prod(d, &["-d", "a.enc", "-o", "out.txt"]).fails(&["a.enc", "authentication"]);
    assert!(!d.join("out.txt").exists(), "no plaintext at the target");
    prod(d, &["-d", "a.enc"]).fails(&["authentication"]);
    // Truncated.
    std::fs::write(d.join("cut.enc"), &bytes[..bytes.len() / 2]).unwrap();
    prod(d, &["-d", "cut.enc", "-o", "out.txt"]).fails(&["cut.enc"]);
    assert!(!d.join("out.txt").exists());
    // Not encrypted at all.
    prod(d, &["-d", "a.txt", "-o", "out.txt"]).fails(&["a.txt"]);
}

#[test]
fn configuration_errors() {
    let dir = scratch();
    let d = dir.path();
    run(d, &["-e", "-P"]).fails(&["config/symmetric-encryption.yml", "not found"]);
    run(d, &["-d", "x", "-c", "nowhere.yml"]).fails(&["nowhere.yml", "not found"]);
    run(d, &["-r"]).fails(&["not found"]);
    setup(d);
    run_with(d, &["-e", "-P", "-E", "staging"], &[], b"x\n").fails(&[
        "environment \"staging\" not found",
        "development, production",
    ]);
    // The environment comes from the variables as in the gem.
    let r = run_with(
        d,
        &["-e", "-P"],
        &[("RAILS_ENV".into(), "qa".into())],
        b"x\n",
    );
    r.fails(&["\"qa\""]);
    let kekek = d.join("keys/app_production_v1.kekek");
    set_mode(&kekek, 0o644);
    prod_in(d, &["-e", "-P"], b"x\n").fails(&["app_production_v1.kekek", "0644", "chmod"]);
    set_mode(&kekek, 0o600);
    std::fs::remove_file(d.join("keys/app_production_v2.encrypted_key")).unwrap();
    prod_in(d, &["-e", "-P"], b"x\n").fails(&["app_production_v2.encrypted_key"]);
}

#[test]
fn new_passwords() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let out = prod(d, &["--new-password"]).ok().out();
    let lines: Vec<&str> = out.lines().collect();
    let password = lines[0].strip_prefix("Generated Password: ").unwrap();
    let encrypted = lines[1].strip_prefix("Encrypted: ").unwrap();
    assert_eq!(password.len(), 30, "22 random bytes");
    assert!(password
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let ctx = library_context(d, CONFIG, "production", &[]);
    assert_eq!(
        ctx.decrypt(encrypted.as_bytes()).unwrap(),
        password.as_bytes()
    );

    let out = prod(d, &["-n", "12", "-o", "pw.enc"]).ok().out();
    let password = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("Generated Password: ")
        .unwrap();
    assert_eq!(password.len(), 16);
    let stored = std::fs::read(d.join("pw.enc")).unwrap();
    assert_eq!(ctx.decrypt(&stored).unwrap(), password.as_bytes());
    prod(d, &["-n", "0"]).fails(&["--new-password 0"]);
}

#[test]
fn info_tells_which_key_wrote_it() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    std::fs::write(d.join("a.txt"), sample(150_000)).unwrap();
    prod(d, &["-e", "a.txt", "-o", "a.enc", "-V", "1", "-Z"]).ok();
    let out = prod(d, &["--info", "a.enc"]).ok().out();
    for expected in [
        "version:       1 (configured here)",
        "compressed:    no",
        "chunked stream, chunks of 65536 bytes",
        "carried in the header",
        "decrypts:      yes, decrypted and authenticated",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    let value = prod_in(d, &["-e", "-P", "-z"], b"v\n").ok().out();
    let out = prod(d, &["--info", value.trim()]).ok().out();
    assert!(out.contains("version:       2 (configured here)"), "{out}");
    assert!(
        out.contains("aes-256-cbc (not named in the header"),
        "{out}"
    );
    assert!(out.contains("compressed:    yes (zlib)"), "{out}");
    assert!(out.contains("CBC value (not authenticated)"), "{out}");
    assert!(!out.contains("\nv\n"), "never the plaintext");
    // A value in a file.
    std::fs::write(d.join("value.txt"), &value).unwrap();
    let out = prod(d, &["--info", "value.txt"]).ok().out();
    assert!(out.contains("one encrypted value"), "{out}");

    // Another configuration's value: the header is still read, and the answer is no.
    let other = scratch();
    setup(other.path());
    run(other.path(), &["-R", "-E", "production"]).ok();
    run(other.path(), &["-A"]).ok();
    let foreign = run_with(other.path(), &["-E", "production", "-e", "-P"], &[], b"x\n")
        .ok()
        .out();
    let r = prod(d, &["--info", foreign.trim()]);
    let out = r.out();
    assert!(
        out.contains("version:       3 (not in this configuration, which has 2, 1)"),
        "{out}"
    );
    r.fails(&["cannot decrypt"]);
    // Without a configuration at all.
    let empty = scratch();
    let r = run(empty.path(), &["--info", foreign.trim()]);
    assert!(
        r.out().contains("the configuration did not load"),
        "{}",
        r.out()
    );
    r.fails(&[]);
    prod(d, &["--info", "no-such-file.txt"]).fails(&["no such file"]);
    std::fs::write(d.join("README.md"), "# Read me\n").unwrap();
    prod(d, &["--info", "README.md"]).fails(&["neither an encrypted file"]);
}

#[test]
fn version_ciphers_and_help() {
    let dir = scratch();
    let d = dir.path();
    let out = run(d, &["-v"]).ok().out();
    assert!(out.starts_with(&format!(
        "Symmetric Encryption v{}\ncrypto backend: {}",
        symmetric_encryption::VERSION,
        symmetric_encryption::crypto::BACKEND
    )));
    assert!(out.contains("environment: development"));
    let out = run(d, &["--ciphers"]).ok().out();
    for c in symmetric_encryption::CipherName::ALL {
        assert!(out.contains(c.as_str()));
    }
    let help = run(d, &["--help"]).ok().out();
    for flag in [
        "-e, --encrypt",
        "-d, --decrypt",
        "-o, --output",
        "-P, --prompt",
        "-z, --compress",
        "-Z, --no-compress",
        "-E, --env",
        "-c, --config",
        "-m, --migrate",
        "-r, --re-encrypt",
        "-n, --new-password",
        "-g, --generate",
        "-s, --keystore",
        "-B, --regions",
        "-K, --key-path",
        "--key-permissions",
        "-a, --app-name",
        "-S, --environments",
        "-C, --cipher-name",
        "-R, --rotate-keys",
        "-U, --rotate-kek",
        "-D, --rolling-deploy",
        "-A, --activate-key",
        "-X, --cleanup-keys",
        "--force",
        "-V, --key-version",
        "-L, --ciphers",
        "-v, --version",
        "-h, --help",
        "--info",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for default in [
        "aes-256-gcm",
        "symmetric-encryption",
        "development,test,release,production",
        "~/.symmetric-encryption",
        "**/*.{yml,rb}",
        "config/symmetric-encryption.yml",
        "[default: 22]",
        "0600,0400",
        "us-east-1,us-east-2,us-west-1,us-west-2",
    ] {
        assert!(help.contains(default), "--help lacks the default {default}");
    }
    assert_eq!(run(d, &["-h"]).ok().out(), help);
}

#[test]
fn usage_errors_exit_2() {
    let dir = scratch();
    let d = dir.path();
    let stderr = run(d, &[]).usage_error();
    assert!(stderr.contains("--encrypt"), "no arguments: the help");
    run(d, &["-e", "-d"]).usage_error();
    run(d, &["-R", "-X"]).usage_error();
    run(d, &["--bogus"]).usage_error();
    run(d, &["-E", "production"]).usage_error();
    run(d, &["-n", "lots"]).usage_error();
}
