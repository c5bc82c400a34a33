//! What `--output` does to what is already there (issue 14, items 3, 4 and 7): a device or
//! FIFO is written in place, never replaced by a regular file; a planted symbolic link is
//! replaced, not followed; modes are copied only from a regular file, without setuid/setgid;
//! plaintext files are created 0600; configuration errors never show a value.
#![cfg(unix)]

mod cli_common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use cli_common::*;

const CONFIG: &str = "config/symmetric-encryption.yml";

fn setup(dir: &Path) {
    run(dir, &["-g", "-a", "app", "-S", "production", "-K", "keys"]).ok();
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

fn encrypted_sample(d: &Path) -> Vec<u8> {
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    fs::write(d.join("plain.bin"), &plain).unwrap();
    prod(d, &["-e", "plain.bin", "-o", "secret.enc"]).ok();
    plain
}

fn is_char_device(p: &Path) -> bool {
    fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_char_device()
}

#[test]
fn a_character_device_is_written_in_place_not_replaced() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    encrypted_sample(d);
    // A null device of our own (root can make one); elsewhere /dev/null through a link.
    let node = d.join("null");
    let made = std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if made {
        prod(d, &["-d", "secret.enc", "-o", "null"]).ok();
        assert!(is_char_device(&node), "the device node was replaced");
        prod(d, &["-e", "plain.bin", "-o", "null"]).ok();
        assert!(is_char_device(&node));
        assert_eq!(mode(&node) & 0o7000, 0);
    } else {
        eprintln!("note: mknod is not allowed here; checking /dev/null through a link only");
    }
    let link = d.join("to-null");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    prod(d, &["-d", "secret.enc", "-o", "to-null"]).ok();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(is_char_device(Path::new("/dev/null")));
    // -P values too.
    let value = prod_in(d, &["-e", "-P"], b"pw\n").ok().out();
    prod_in(d, &["-d", "-P", "-o", "to-null"], value.as_bytes()).ok();
    assert!(is_char_device(Path::new("/dev/null")));
}

#[test]
fn a_fifo_is_written_in_place() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let plain = encrypted_sample(d);
    let fifo = d.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            fs::File::open(&fifo)
                .unwrap()
                .read_to_end(&mut got)
                .unwrap();
            got
        })
    };
    prod(d, &["-d", "secret.enc", "-o", "pipe"]).ok();
    assert_eq!(reader.join().unwrap(), plain);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn directories_are_refused_with_a_clear_message() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    encrypted_sample(d);
    fs::create_dir(d.join("outdir")).unwrap();
    prod(d, &["-d", "secret.enc", "-o", "outdir"]).fails(&["outdir is a directory"]);
    prod(d, &["-e", "plain.bin", "-o", "outdir"]).fails(&["outdir is a directory"]);
}

#[test]
fn modes_come_only_from_regular_files_without_setid_bits() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let plain = encrypted_sample(d);
    // A new plaintext file is 0600.
    prod(d, &["-d", "secret.enc", "-o", "new.bin"]).ok();
    assert_eq!(mode(&d.join("new.bin")), 0o600);
    // An existing one keeps its permission bits, not setuid/setgid.
    fs::write(d.join("old.bin"), b"old").unwrap();
    set_mode(&d.join("old.bin"), 0o6750);
    prod(d, &["-d", "secret.enc", "-o", "old.bin"]).ok();
    assert_eq!(mode(&d.join("old.bin")), 0o750);
    assert_eq!(fs::read(d.join("old.bin")).unwrap(), plain);
    // A planted link is replaced, not followed, and does not lend its target's mode.
    fs::write(d.join("victim"), b"untouched").unwrap();
    set_mode(&d.join("victim"), 0o666);
    std::os::unix::fs::symlink(d.join("victim"), d.join("planted")).unwrap();
    prod(d, &["-d", "secret.enc", "-o", "planted"]).ok();
    assert_eq!(fs::read(d.join("victim")).unwrap(), b"untouched");
    assert!(fs::symlink_metadata(d.join("planted")).unwrap().is_file());
    assert_eq!(mode(&d.join("planted")), 0o600);
}

#[test]
fn decrypted_values_are_written_0600_atomically() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let value = prod_in(d, &["-e", "-P"], b"the password\n").ok().out();
    prod_in(d, &["-d", "-P", "-o", "pw.txt"], value.as_bytes()).ok();
    assert_eq!(fs::read(d.join("pw.txt")).unwrap(), b"the password");
    assert_eq!(mode(&d.join("pw.txt")), 0o600);
    // Through a planted link: the link is replaced.
    fs::write(d.join("victim"), b"untouched").unwrap();
    std::os::unix::fs::symlink(d.join("victim"), d.join("pw2.txt")).unwrap();
    prod_in(d, &["-d", "-P", "-o", "pw2.txt"], value.as_bytes()).ok();
    assert_eq!(fs::read(d.join("victim")).unwrap(), b"untouched");
    assert_eq!(mode(&d.join("pw2.txt")), 0o600);
    // A value that does not decrypt leaves nothing.
    prod_in(
        d,
        &["-d", "-P", "-o", "pw3.txt"],
        b"QEVuQwBAEAAAAAAAAAAAAAAAAAAAAA==\n",
    )
    .fails(&[]);
    assert!(!d.join("pw3.txt").exists());
    let leftovers: Vec<_> = fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn configuration_errors_never_show_values() {
    let dir = scratch();
    let d = dir.path();
    setup(d);
    let secret = "Zz-not-for-logs-8841";
    let text = fs::read_to_string(d.join(CONFIG)).unwrap();
    for (find, replace) in [
        (
            "version: 1",
            format!("version: 1\n      always_add_header: '{secret}'"),
        ),
        (
            "version: 1",
            format!("version: 1\n      permissions: '{secret}'"),
        ),
        (
            "version: 1",
            format!("version: 1\n      iv: <%= ENV['NOPE'] || '{secret}' %>"),
        ),
        (
            "version: 1",
            format!("version: 1\n      key: !!int '{secret}'"),
        ),
    ] {
        assert!(text.contains(find), "{text}");
        fs::write(d.join("bad.yml"), text.replacen(find, &replace, 1)).unwrap();
        let r = prod_in(d, &["-c", "bad.yml", "-e", "-P"], b"x\n");
        let m = r.fails(&[]);
        assert!(!m.contains(secret), "{m}");
    }
}
