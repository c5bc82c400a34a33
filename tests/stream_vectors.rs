//! Conformance of the stream reader with the gem's streams: every file in the vectors' `files/`
//! and every stream in `tamper/`, through the public API only.

mod stream_common;

use std::io::Read;

use serde_json::Value;
use sha2::{Digest, Sha256};
use stream_common::{b64, context, load_json, vectors};
use symmetric_encryption::stream::{self, Reader, ReaderOptions};
use symmetric_encryption::{Context, ErrorKind};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Reads the whole stream in reads of `step` bytes. Returns what was delivered and the error.
fn read_all(
    ctx: &Context,
    data: &[u8],
    opts: &ReaderOptions,
    step: usize,
) -> (Vec<u8>, Option<symmetric_encryption::Error>) {
    let mut out = Vec::new();
    let mut r = match Reader::new(ctx, data, opts) {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    let mut buf = vec![0u8; step];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(stream::into_error(e))),
        }
    }
}

#[test]
fn every_file_in_the_vectors_decrypts() {
    let dir = vectors().join("files");
    let manifest = load_json(&dir.join("manifest.json"));
    let ciphers = manifest["ciphers"].as_array().unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(!files.is_empty(), "files/manifest.json lists no files");
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for f in files {
        let name = f["name"].as_str().unwrap();
        let enc = std::fs::read(dir.join(f["enc_file"].as_str().unwrap())).unwrap();
        let plain = std::fs::read(dir.join(f["plain_file"].as_str().unwrap())).unwrap();
        assert_eq!(sha256_hex(&plain), f["plaintext_sha256"].as_str().unwrap());
        if let Some(r) = f["v5_read"].as_str() {
            assert_eq!(r, "ok", "{name}: the vectors say 5.0.0 cannot read it");
        }
        let opts = ReaderOptions {
            version: f["read_with_version"].as_u64().map(|v| v as u8),
            ..ReaderOptions::default()
        };
        // Whatever the primary, the header (or the explicit version) selects the entry.
        for primary in [1, 2] {
            let ctx = context(ciphers, primary);
            for step in [1, 7, 1024, 1 << 20] {
                let (out, err) = read_all(&ctx, &enc, &opts, step);
                assert!(err.is_none(), "{name} (step {step}): {err:?}");
                assert_eq!(out.len(), plain.len(), "{name} (step {step})");
                assert!(out == plain, "{name} (step {step}): plaintext differs");
            }
        }

        // The header as the manifest describes it.
        let ctx = context(ciphers, 1);
        let mut r = Reader::new(&ctx, std::io::Cursor::new(&enc), &opts).unwrap();
        match (&f["header"], r.header()) {
            (Value::Null, None) => {}
            (Value::Null, Some(h)) => panic!("{name}: unexpected header {h:?}"),
            (expected, None) => panic!("{name}: no header, expected {expected}"),
            (expected, Some(h)) => {
                assert_eq!(u64::from(h.version), expected["version"].as_u64().unwrap());
                assert_eq!(
                    format!("0x{:02x}", h.flags()),
                    expected["flags"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(h.compressed, f["compress"].as_bool().unwrap(), "{name}");
                assert_eq!(
                    h.iv.clone(),
                    (!expected["iv_b64"].is_null()).then(|| b64(&expected["iv_b64"]))
                );
                assert_eq!(
                    h.cipher_name.as_deref(),
                    expected["cipher_name"].as_str(),
                    "{name}"
                );
                assert_eq!(
                    h.chunk_size().map(|c| c as u64),
                    expected["chunk_size"].as_u64(),
                    "{name}"
                );
            }
        }
        // The size, where it can be had without decrypting.
        let size = r.size().unwrap();
        if f["compress"].as_bool() == Some(true) {
            assert_eq!(size, None, "{name}");
        } else {
            assert_eq!(size, Some(plain.len() as u64), "{name}");
        }

        // And the same file through decrypt_file.
        let src = dir.join(f["enc_file"].as_str().unwrap());
        let target = tmp.path().join(format!("{name}.out"));
        if opts.version.is_none() {
            stream::decrypt_file(&ctx, &src, &target).unwrap();
            assert!(
                std::fs::read(&target).unwrap() == plain,
                "{name}: decrypt_file"
            );
        }
        checked += 1;
    }
    println!("stream vectors: {checked} files decrypted (each with 2 primaries x 4 read sizes, header, size, decrypt_file)");
    assert_eq!(checked, files.len());
}

/// The error kind we give for the gem's outcome, where it is not one of the cases where SPEC
/// says we must be stricter.
fn expected_kind(case: &Value) -> Option<ErrorKind> {
    let read = &case["read"];
    let id = case["id"].as_str().unwrap();
    if id.ends_with("all_chunks_removed") {
        // The gem reads a chunked stream cut down to its header as empty; SPEC: we refuse it.
        return Some(ErrorKind::Cipher);
    }
    if read["ok"].as_bool().unwrap() {
        return None;
    }
    match read["error_class"].as_str().unwrap() {
        // Every tamper stream is GCM: OpenSSL's error is a failed tag check.
        "OpenSSL::Cipher::CipherError" => Some(ErrorKind::Authentication),
        "SymmetricEncryption::CipherError" => Some(ErrorKind::Cipher),
        other => panic!("{id}: unexpected error class {other}"),
    }
}

#[test]
fn every_tampered_stream_fails_as_recorded() {
    let root = vectors();
    let tamper = load_json(&root.join("tamper.json"));
    let ctx = context(
        tamper["ciphers"].as_array().unwrap(),
        tamper["primary_version"].as_u64().unwrap(),
    );
    let cases = tamper["files"].as_array().unwrap();
    assert!(!cases.is_empty(), "tamper.json lists no files");
    let tmp = tempfile::tempdir().unwrap();
    let (mut checked, mut same_count) = (0, 0);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let enc = std::fs::read(root.join(case["file"].as_str().unwrap())).unwrap();
        let plain = std::fs::read(root.join(case["plain_file"].as_str().unwrap())).unwrap();
        let expected = expected_kind(case);
        for step in [1024, 1 << 20] {
            let (out, err) = read_all(&ctx, &enc, &ReaderOptions::default(), step);
            match (expected, &err) {
                (None, None) => assert!(out == plain, "{id}: plaintext differs"),
                (Some(kind), Some(e)) => {
                    assert_eq!(e.kind(), kind, "{id}: {e}");
                    // Whatever came out before the error was verified plaintext.
                    assert!(plain.starts_with(&out), "{id}: unverified data delivered");
                }
                (None, Some(e)) => panic!("{id}: expected success, got {e}"),
                (Some(kind), None) => {
                    panic!("{id}: expected a {kind} error, read {} bytes", out.len())
                }
            }
            if step == 1024 && out.len() as u64 == case["read"]["bytes_returned"].as_u64().unwrap()
            {
                same_count += 1;
            }
        }

        // decrypt_file leaves nothing behind on failure, the plaintext on success.
        let src = root.join(case["file"].as_str().unwrap());
        let target = tmp.path().join(format!("{id}.out"));
        let result = stream::decrypt_file(&ctx, &src, &target);
        match expected {
            None => {
                result.unwrap();
                assert!(std::fs::read(&target).unwrap() == plain);
                std::fs::remove_file(&target).unwrap();
            }
            Some(kind) => {
                assert_eq!(result.unwrap_err().kind(), kind, "{id}: decrypt_file");
                assert!(!target.exists(), "{id}: decrypt_file left a target");
            }
        }
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{id}: decrypt_file left a file behind"
        );
        checked += 1;
    }
    println!(
        "stream tamper vectors: {checked} streams checked ({same_count} delivered exactly the \
         gem's byte count before the error)"
    );
    assert_eq!(checked, cases.len());
}

#[test]
fn errors_name_what_is_wrong() {
    let root = vectors();
    let tamper = load_json(&root.join("tamper.json"));
    let ctx = context(tamper["ciphers"].as_array().unwrap(), 2);
    let read = |file: &str| {
        let enc = std::fs::read(root.join("tamper").join(file)).unwrap();
        read_all(&ctx, &enc, &ReaderOptions::default(), 4096)
            .1
            .expect("an error")
            .to_string()
    };
    let msg = read("chunked_header_version_unknown.enc");
    println!("{msg}");
    assert!(
        msg.contains("version 99") && msg.contains("2, 1, 3"),
        "{msg}"
    );
    let msg = read("chunked_all_chunks_removed.enc");
    println!("{msg}");
    assert!(msg.contains("no chunk"), "{msg}");
    let msg = read("chunked_last_chunk_cut_to_10_bytes.enc");
    println!("{msg}");
    assert!(msg.contains("chunk 4 is 10 bytes"), "{msg}");
    let msg = read("chunked_chunks_0_1_swapped.enc");
    println!("{msg}");
    assert!(msg.contains("chunk 0"), "{msg}");
}
