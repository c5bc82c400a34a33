//! Key files are checked on the descriptor that is read (issue 14, item 2): a symbolic link
//! flipped between a good and a bad file never hands over the bad one, a FIFO is refused at
//! once, an oversized file is refused, and a link to a good key file still works.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use symmetric_encryption::keystore::file::{read_key_file, FilePolicy, MAX_KEY_FILE_BYTES};
use symmetric_encryption::ErrorKind;

fn write_mode(p: &Path, data: &[u8], mode: u32) {
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_flipping_symlink_never_loads_the_world_readable_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.key");
    let bad = dir.path().join("bad.key");
    write_mode(&good, b"GOOD-KEY-0600", 0o600);
    write_mode(&bad, b"BAD-KEY-0644", 0o644);
    let link = dir.path().join("current.key");
    std::os::unix::fs::symlink(&good, &link).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, dir) = (stop.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            let mut flips = 0u64;
            let tmp = dir.join("next.key");
            while !stop.load(Ordering::Relaxed) {
                let to = if flips.is_multiple_of(2) {
                    "bad.key"
                } else {
                    "good.key"
                };
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(dir.join(to), &tmp).unwrap();
                fs::rename(&tmp, dir.join("current.key")).unwrap();
                flips += 1;
            }
            flips
        })
    };

    let policy = FilePolicy::default();
    let (mut good_loads, mut refused) = (0, 0);
    for _ in 0..20_000 {
        match read_key_file(&link, &policy) {
            Ok(bytes) => {
                assert_eq!(
                    bytes.as_bytes(),
                    b"GOOD-KEY-0600",
                    "a 0644 key file was loaded"
                );
                good_loads += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Keystore);
                let m = e.to_string();
                assert!(m.contains("mode 0644") || m.contains("not found"), "{m}");
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(flips > 0);
    assert_eq!(good_loads + refused, 20_000);
}

#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("key.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // Run the load on a thread: if it blocked in open or read, the test would hang; instead
    // the receive below would time out and fail.
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        tx.send(read_key_file(&path, &FilePolicy::default()).map(|_| ()))
            .unwrap()
    });
    let result = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("loading a FIFO as a key file blocked");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Keystore);
    let m = err.to_string();
    assert!(
        m.contains("is a FIFO (named pipe), not a regular file"),
        "{m}"
    );

    // Through a symbolic link too.
    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let m = read_key_file(&link, &FilePolicy::default())
        .unwrap_err()
        .to_string();
    assert!(m.contains("FIFO"), "{m}");
}

#[test]
fn links_to_good_key_files_load_and_directories_and_huge_files_do_not() {
    let dir = tempfile::tempdir().unwrap();
    // The Kubernetes layout: key -> ..data/key, ..data -> ..2024_01_01/.
    let real_dir = dir.path().join("..2024_01_01");
    fs::create_dir(&real_dir).unwrap();
    write_mode(&real_dir.join("app.key"), b"K8S-KEY", 0o400);
    std::os::unix::fs::symlink(&real_dir, dir.path().join("..data")).unwrap();
    let link = dir.path().join("app.key");
    std::os::unix::fs::symlink(dir.path().join("..data/app.key"), &link).unwrap();
    assert_eq!(
        read_key_file(&link, &FilePolicy::default())
            .unwrap()
            .as_bytes(),
        b"K8S-KEY"
    );

    let m = read_key_file(&real_dir, &FilePolicy::default())
        .unwrap_err()
        .to_string();
    assert!(m.contains("is a directory, not a regular file"), "{m}");

    let big = dir.path().join("big.key");
    write_mode(&big, &vec![b'a'; MAX_KEY_FILE_BYTES as usize + 1], 0o600);
    let e = read_key_file(&big, &FilePolicy::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Keystore);
    assert!(e.to_string().contains("a key file is at most"), "{e}");
}
