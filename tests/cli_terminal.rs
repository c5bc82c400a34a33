//! What happens on a terminal: `--prompt` asks twice, `--cleanup-keys` asks before removing
//! keys, large files get a progress bar. Run under util-linux `script`, which gives the command
//! a pseudo-terminal; skipped (with a note) where `script` is not installed.
#![cfg(unix)]

mod cli_common;

use std::path::Path;
use std::process::{Command, Stdio};

use cli_common::*;

const CONFIG: &str = "config/symmetric-encryption.yml";

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs the binary on a pseudo-terminal with `input` typed ahead. `None` when `script` is
/// missing. Returns the exit status and the screen (with `\r` removed).
fn on_terminal(dir: &Path, args: &[&str], input: &[u8]) -> Option<(i32, String)> {
    let line = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new("script");
    c.args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir)
        .env("HOME", dir)
        .env("SYMMETRIC_ENCRYPTION_CONFIG", CONFIG)
        .env("SYMMETRIC_ENCRYPTION_ENV", "production")
        .env_remove("RACK_ENV")
        .env_remove("RAILS_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match c.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: `script` (util-linux) is not installed: terminal test skipped");
            return None;
        }
        Err(e) => panic!("script: {e}"),
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    Some((out.status.code().unwrap_or(-1), screen))
}

fn setup(dir: &Path) {
    run(
        dir,
        &[
            "-g",
            "-a",
            "tty",
            "-S",
            "development,production",
            "-K",
            "keys",
        ],
    )
    .ok();
}

#[test]
fn prompt_asks_twice_and_again_on_a_mismatch() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let Some((code, screen)) = on_terminal(d, &["-e", "-P"], b"first\nsecond\nthird\nthird\n")
    else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert_eq!(
        screen.matches("Enter the value to encrypt:").count(),
        2,
        "{screen}"
    );
    assert_eq!(screen.matches("Re-enter the value to encrypt:").count(), 2);
    assert!(
        screen.contains("Values do not match, please try again"),
        "{screen}"
    );
    let value = screen
        .lines()
        .find(|l| l.starts_with("QEVuQw"))
        .expect("the encrypted value");
    let ctx = library_context(d, CONFIG, "production", &[]);
    assert_eq!(ctx.decrypt(value.as_bytes()).unwrap(), b"third");

    let Some((code, screen)) = on_terminal(d, &["-d", "-P"], format!("{value}\n").as_bytes())
    else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Enter the value to decrypt:"), "{screen}");
    assert!(screen.lines().any(|l| l == "third"), "{screen}");

    // Three mismatches: give up.
    let Some((code, screen)) = on_terminal(d, &["-e", "-P"], b"a\nb\na\nb\na\nb\n") else {
        return;
    };
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("did not match 3 times"), "{screen}");
}

#[test]
fn cleanup_asks_on_a_terminal() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    run(d, &["-R"]).ok();
    let before = std::fs::read(d.join(CONFIG)).unwrap();
    let Some((code, screen)) = on_terminal(d, &["-X"], b"no\n") else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("About to remove 1 encryption key(s)"),
        "{screen}"
    );
    assert!(screen.contains("production: version 1"), "{screen}");
    assert!(
        screen.contains("Remove them? Type 'yes' to continue:"),
        "{screen}"
    );
    assert!(screen.contains("Left config/symmetric-encryption.yml unchanged."));
    assert_eq!(std::fs::read(d.join(CONFIG)).unwrap(), before);

    let (code, screen) = on_terminal(d, &["-X"], b"yes\n").unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("production: removed 1"), "{screen}");

    run(d, &["-R"]).ok();
    let (code, screen) = on_terminal(d, &["-X", "--force"], b"").unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("Remove them?"),
        "--force does not ask: {screen}"
    );
    assert!(screen.contains("production: removed 2"), "{screen}");
}

#[test]
fn large_files_get_a_progress_bar_on_a_terminal() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    // Not compressed (-Z), so that the encrypted file is large too.
    std::fs::write(d.join("big.bin"), vec![7u8; 24 << 20]).unwrap();
    let Some((code, screen)) = on_terminal(d, &["-e", "big.bin", "-o", "big.enc", "-Z"], b"")
    else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("% ") && screen.contains(" MB"),
        "{screen:?}"
    );
    let (code, screen) = on_terminal(d, &["-d", "big.enc", "-o", "big.out"], b"").unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("MB"), "{screen:?}");
    assert_eq!(
        std::fs::read(d.join("big.out")).unwrap(),
        vec![7u8; 24 << 20]
    );
    // Small files: no bar.
    std::fs::write(d.join("small.bin"), b"small").unwrap();
    let (_, screen) = on_terminal(d, &["-e", "small.bin", "-o", "small.enc"], b"").unwrap();
    assert!(!screen.contains('%'), "{screen:?}");
}
