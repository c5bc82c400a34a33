//! Round trips through the stream Writer and Reader: every cipher and option, sizes around the
//! chunk boundaries, the layouts SPEC section 8 prescribes, and files.

use std::io::{Read, Write};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use symmetric_encryption::header::{self, flags};
use symmetric_encryption::stream::{
    self, FileWriter, Reader, ReaderOptions, Writer, WriterOptions,
};
use symmetric_encryption::{Cipher, CipherName, Context, ErrorKind};

/// Every cipher as an entry, version i+1 (aes-128-cbc is version 1 and primary).
fn context() -> Context {
    let ciphers = CipherName::ALL
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let key: Vec<u8> = (0..name.key_len()).map(|b| (b * 7 + i) as u8).collect();
            let iv: Vec<u8> = (0..name.iv_len()).map(|b| (b * 3 + i) as u8).collect();
            Cipher::new(name, &key, Some(&iv))
                .unwrap()
                .with_version(i as u8 + 1)
        })
        .collect();
    Context::new(ciphers).unwrap()
}

fn version_of(name: CipherName) -> u8 {
    CipherName::ALL.iter().position(|&c| c == name).unwrap() as u8 + 1
}

/// One combination of writer options.
#[derive(Debug, Clone)]
struct Case {
    entry: CipherName,
    opts: WriterOptions,
}

/// Every valid option combination for every cipher entry, with chunk size `chunk`.
fn cases(chunk: usize) -> Vec<Case> {
    let mut out = Vec::new();
    for entry in CipherName::ALL {
        let base = WriterOptions {
            version: Some(version_of(entry)),
            chunk_size: Some(chunk),
            ..WriterOptions::default()
        };
        let mut key_iv_header = vec![(true, true, true), (false, true, true)];
        if !entry.is_authenticated() {
            key_iv_header.extend([(false, false, true), (false, false, false)]);
        }
        for compress in [false, true] {
            for &(random_key, random_iv, header) in &key_iv_header {
                out.push(Case {
                    entry,
                    opts: WriterOptions {
                        compress: Some(compress),
                        random_key,
                        random_iv,
                        header,
                        ..base.clone()
                    },
                });
            }
            // A stream cipher other than the entry's, each way round.
            for other in [CipherName::Aes192Cbc, CipherName::Aes128Gcm] {
                if other != entry {
                    out.push(Case {
                        entry,
                        opts: WriterOptions {
                            compress: Some(compress),
                            cipher_name: Some(other),
                            ..base.clone()
                        },
                    });
                }
            }
        }
    }
    out
}

/// Writes `data` in pieces of the sizes in `splits` (cycled).
fn encrypt(ctx: &Context, case: &Case, data: &[u8], splits: &[usize]) -> Vec<u8> {
    let mut w = Writer::new(ctx, Vec::new(), &case.opts).unwrap();
    let mut rest = data;
    for &s in splits.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = s.clamp(1, rest.len());
        w.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
    }
    assert_eq!(w.size(), data.len() as u64);
    w.finish().unwrap()
}

fn decrypt(ctx: &Context, case: &Case, enc: &[u8], step: usize) -> Vec<u8> {
    let opts = ReaderOptions {
        version: Some(version_of(case.entry)),
        ..ReaderOptions::default()
    };
    let mut r = Reader::new(ctx, enc, &opts).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; step];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{case:?}: {}", stream::into_error(e)),
        }
    }
}

/// Incompressible bytes, so that compressed streams still cross chunk boundaries.
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Checks the layout SPEC section 8 prescribes for `case` and `n` plaintext bytes.
fn check_layout(case: &Case, enc: &[u8], n: usize, chunk: usize) {
    let o = &case.opts;
    let stream_cipher = o.cipher_name.unwrap_or(case.entry);
    let compress = o.compress.unwrap();
    let headerless =
        !(stream_cipher.is_authenticated() || o.header || compress || o.random_key || o.random_iv);
    if headerless {
        assert!(!enc.starts_with(header::MAGIC), "{case:?}");
        assert_eq!(enc.len(), if n == 0 { 0 } else { (n / 16 + 1) * 16 });
        return;
    }
    assert!(enc.starts_with(header::MAGIC), "{case:?}");
    if enc.len() == 6 {
        assert_eq!(n, 0);
        return;
    }
    let p = header::parse(enc).unwrap().unwrap();
    let h = &p.header;
    assert_eq!(h.version, version_of(case.entry));
    assert_eq!(h.compressed, compress);
    assert_eq!(h.encrypted_key.is_some(), o.random_key, "{case:?}");
    assert_eq!(
        h.cipher_name.as_deref(),
        o.cipher_name
            .filter(|&c| c != case.entry)
            .map(|c| c.as_str()),
    );
    let body = enc.len() - p.len;
    if !stream_cipher.is_authenticated() {
        assert_eq!(h.flags() & (flags::AUTH_TAG | flags::CHUNKED), 0);
        assert_eq!(h.iv.as_ref().map(Vec::len), o.random_iv.then_some(16));
        if !compress {
            assert_eq!(body, if n == 0 { 0 } else { (n / 16 + 1) * 16 });
        }
        return;
    }
    // GCM: the compressed size decides the layout, so only check it for uncompressed data.
    if h.is_chunked() {
        assert!(h.auth_tag.is_none());
        assert_eq!(h.iv.as_ref().map(Vec::len), Some(7));
        assert_eq!(h.chunk_size(), Some(chunk));
        if !compress {
            assert!(n > chunk, "{case:?}: {n} bytes chunked");
            assert_eq!(body, n + n.div_ceil(chunk) * 16);
        }
    } else {
        assert!(h.auth_tag.is_some());
        assert_eq!(h.iv.as_ref().map(Vec::len), Some(12));
        if !compress {
            assert!(n <= chunk, "{case:?}: {n} bytes not chunked");
            assert_eq!(body, n);
        }
    }
}

#[test]
fn round_trips_at_the_chunk_boundaries_for_every_cipher_and_option() {
    let ctx = context();
    let mut checked = 0;
    for chunk in [1024, 4096] {
        let all = cases(chunk);
        for case in &all {
            for n in [
                0,
                1,
                chunk - 1,
                chunk,
                chunk + 1,
                2 * chunk,
                2 * chunk + 1,
                3 * chunk,
            ] {
                let data = noise(n, n as u32);
                // All at once, pieces of every size, and whole chunks (which the writer seals
                // straight from the caller's buffer once the first chunk is out).
                for splits in [&[usize::MAX][..], &[1, 100, 1000, 3], &[chunk]] {
                    let enc = encrypt(&ctx, case, &data, splits);
                    check_layout(case, &enc, n, chunk);
                    for step in [1, 1000, 1 << 16] {
                        if step == 1 && n > 2048 {
                            continue;
                        }
                        assert!(decrypt(&ctx, case, &enc, step) == data, "{case:?} n={n}");
                        checked += 1;
                    }
                }
            }
        }
        println!("chunk {chunk}: {} option combinations", all.len());
    }
    println!("stream round trips at chunk boundaries: {checked} decryptions checked");
}

#[test]
fn a_single_gcm_stream_is_a_value() {
    // At most one chunk, uncompressed: exactly a value as Context::decrypt reads it.
    let ctx = context();
    for entry in [CipherName::Aes128Gcm, CipherName::Aes256Gcm] {
        for random_key in [true, false] {
            let case = Case {
                entry,
                opts: WriterOptions {
                    compress: Some(false),
                    version: Some(version_of(entry)),
                    random_key,
                    ..WriterOptions::default()
                },
            };
            let data = noise(5000, 9);
            let enc = encrypt(&ctx, &case, &data, &[usize::MAX]);
            assert_eq!(ctx.binary_decrypt_with_version(&enc, None).unwrap(), data);
        }
    }
}

#[test]
fn compressible_data_shrinks_and_round_trips() {
    let ctx = context();
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(20_000);
    for entry in [CipherName::Aes256Cbc, CipherName::Aes256Gcm] {
        let case = Case {
            entry,
            opts: WriterOptions {
                version: Some(version_of(entry)),
                chunk_size: Some(1024),
                ..WriterOptions::default()
            },
        };
        let enc = encrypt(&ctx, &case, text.as_bytes(), &[4096]);
        assert!(enc.len() < text.len() / 20, "{} bytes", enc.len());
        let h = header::parse(&enc).unwrap().unwrap().header;
        assert!(h.compressed, "streams compress by default");
        assert_eq!(decrypt(&ctx, &case, &enc, 333), text.as_bytes());
    }
}

#[test]
fn wrong_key_and_unknown_version_are_refused() {
    let ctx = context();
    // The same versions with other keys.
    let other = Context::new(
        CipherName::ALL
            .iter()
            .enumerate()
            .map(|(i, &name)| {
                Cipher::new(name, &vec![0xA5; name.key_len()], None)
                    .unwrap()
                    .with_version(i as u8 + 1)
            })
            .collect(),
    )
    .unwrap();
    let only_v1 = Context::new(vec![ctx.primary().clone()]).unwrap();
    let data = noise(3000, 1);
    for (entry, kind) in [
        (CipherName::Aes256Gcm, ErrorKind::Authentication),
        (CipherName::Aes256Cbc, ErrorKind::Cipher),
    ] {
        let case = Case {
            entry,
            opts: WriterOptions {
                version: Some(version_of(entry)),
                chunk_size: Some(1024),
                ..WriterOptions::default()
            },
        };
        let enc = encrypt(&ctx, &case, &data, &[usize::MAX]);
        let err = Reader::new(&other, &enc[..], &ReaderOptions::default()).unwrap_err();
        assert_eq!(err.kind(), kind, "{entry}: {err}");
        let err = Reader::new(&only_v1, &enc[..], &ReaderOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cipher, "{entry}: {err}");
        assert!(err.to_string().contains("version"), "{err}");
    }
}

#[test]
fn an_error_after_verified_chunks_still_surfaces_and_sticks() {
    let ctx = context();
    let case = Case {
        entry: CipherName::Aes256Gcm,
        opts: WriterOptions {
            version: Some(version_of(CipherName::Aes256Gcm)),
            compress: Some(false),
            chunk_size: Some(1024),
            ..WriterOptions::default()
        },
    };
    let data = noise(4000, 2);
    let mut enc = encrypt(&ctx, &case, &data, &[usize::MAX]);
    let last = enc.len() - 1;
    enc[last] ^= 1;
    let mut r = Reader::new(&ctx, &enc[..], &ReaderOptions::default()).unwrap();
    let mut buf = vec![0u8; 1024];
    for i in 0..3 {
        assert_eq!(r.read(&mut buf).unwrap(), 1024);
        assert_eq!(buf[..], data[i * 1024..(i + 1) * 1024]);
    }
    let e = r.read(&mut buf).unwrap_err();
    assert_eq!(stream::into_error(e).kind(), ErrorKind::Authentication);
    let e = r.read(&mut buf).unwrap_err();
    assert_eq!(stream::into_error(e).kind(), ErrorKind::Authentication);
}

#[test]
fn an_unfinished_gcm_stream_never_reads_as_complete() {
    let ctx = context();
    let case = Case {
        entry: CipherName::Aes256Gcm,
        opts: WriterOptions {
            version: Some(version_of(CipherName::Aes256Gcm)),
            // Uncompressed, so that full chunks are written before the drop.
            compress: Some(false),
            chunk_size: Some(1024),
            ..WriterOptions::default()
        },
    };
    let mut out = Vec::new();
    {
        let mut w = Writer::new(&ctx, &mut out, &case.opts).unwrap();
        w.write_all(&noise(10_000, 3)).unwrap();
        // Dropped without finish.
    }
    assert!(out.len() > 9 * 1024, "{} bytes written", out.len());
    let mut r = Reader::new(&ctx, &out[..], &ReaderOptions::default()).unwrap();
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(stream::into_error(err).kind(), ErrorKind::Authentication);
}

#[test]
fn files_appear_whole_or_not_at_all() {
    let ctx = context();
    let dir = tempfile::tempdir().unwrap();
    let files = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // Dropped without finish: nothing at the target, no temp file left.
    let target = dir.path().join("dropped.enc");
    {
        let mut w = FileWriter::create(&ctx, &target, &WriterOptions::default()).unwrap();
        w.write_all(&noise(100_000, 4)).unwrap();
        assert_eq!(
            files(dir.path()).len(),
            1,
            "the temp file exists while writing"
        );
    }
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));

    // encrypt_file / decrypt_file round trip; compression by the target's name.
    let plain = dir.path().join("data.bin");
    let data = b"some data to encrypt\n".repeat(5000);
    std::fs::write(&plain, &data).unwrap();
    for (name, compressed) in [
        ("data.enc", true),
        ("data.zip", false),
        ("data.xlsx", false),
    ] {
        let enc = dir.path().join(name);
        stream::encrypt_file(&ctx, &plain, &enc, None, Some(6)).unwrap();
        let bytes = std::fs::read(&enc).unwrap();
        assert_eq!(
            header::parse(&bytes).unwrap().unwrap().header.compressed,
            compressed,
            "{name}"
        );
        let back = dir.path().join(format!("{name}.out"));
        stream::decrypt_file(&ctx, &enc, &back).unwrap();
        assert!(std::fs::read(&back).unwrap() == data);
    }
    // An existing target is replaced only by a complete file, keeping its permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let enc = dir.path().join("data.enc");
        let out = dir.path().join("existing.out");
        std::fs::write(&out, b"old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        stream::decrypt_file(&ctx, &enc, &out).unwrap();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // A failing decrypt leaves the old file as it was.
        let mut bad = std::fs::read(&enc).unwrap();
        let n = bad.len();
        bad.truncate(n - 1);
        let bad_path = dir.path().join("bad.enc");
        std::fs::write(&bad_path, &bad).unwrap();
        let err = stream::decrypt_file(&ctx, &bad_path, &out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
        assert!(std::fs::read(&out).unwrap() == data);
    }
    let before = files(dir.path());
    assert!(before.iter().all(|f| !f.ends_with(".tmp")), "{before:?}");
    // A missing source is an I/O error naming it.
    let err =
        stream::decrypt_file(&ctx, &dir.path().join("nope"), &dir.path().join("x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("nope"), "{err}");
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

#[test]
fn any_data_round_trips() {
    let ctx = context();
    let all = cases(1024);
    let checked = std::cell::Cell::new(0);
    let strategy = (
        0..all.len(),
        0usize..5000,
        any::<u32>(),
        proptest::collection::vec(1usize..3000, 1..6),
        1usize..5000,
    );
    runner(256)
        .run(&strategy, |(i, len, seed, splits, step)| {
            let case = &all[i];
            let data = noise(len, seed);
            let enc = encrypt(&ctx, case, &data, &splits);
            check_layout(case, &enc, len, 1024);
            prop_assert!(
                decrypt(&ctx, case, &enc, step) == data,
                "{case:?} len={len}"
            );
            checked.set(checked.get() + 1);
            Ok(())
        })
        .unwrap();
    println!(
        "stream round trips, random data, splits and read sizes: {} cases",
        checked.get()
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let ctx = context();
    let checked = std::cell::Cell::new(0);
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..3000),
        1usize..2000,
    );
    runner(256)
        .run(&strategy, |(bytes, step)| {
            if let Ok(mut r) = Reader::new(&ctx, &bytes[..], &ReaderOptions::default()) {
                let mut buf = vec![0u8; step];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            }
            // Arbitrary frames after a real chunked header (version 6 is aes-256-gcm): refused.
            let mut with_header = b"@EnC\x06\x44\x07\x00abcdefg\x0a".to_vec();
            with_header.extend_from_slice(&bytes);
            let mut r = Reader::new(&ctx, &with_header[..], &ReaderOptions::default()).unwrap();
            prop_assert!(r.read_to_end(&mut Vec::new()).is_err());
            checked.set(checked.get() + 1);
            Ok(())
        })
        .unwrap();
    println!(
        "stream reader on arbitrary bytes: {} cases, no panic",
        checked.get()
    );
}

#[test]
fn a_truncated_gzip_stream_is_an_error_not_a_short_read() {
    // A compressed CBC stream with the entry's key and iv: header "@EnC" v1 0x80, then raw CBC
    // of the gzip bytes. Cut the gzip data short (CBC padding stays valid): the reader must not
    // return the shortened plaintext as complete.
    let ctx = context();
    let entry = ctx.cipher(1).unwrap();
    let data = noise(20_000, 5);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&data).unwrap();
    let gzip = gz.finish().unwrap();
    let mut checked = 0;
    for cut in [gzip.len() - 1, gzip.len() - 8, gzip.len() / 2, 11] {
        let raw = symmetric_encryption::ValueOptions {
            random_iv: false,
            compress: false,
            header: false,
        };
        let mut enc = b"@EnC\x01\x80".to_vec();
        enc.extend_from_slice(&entry.binary_encrypt(&gzip[..cut], raw).unwrap());
        let mut r = Reader::new(&ctx, &enc[..], &ReaderOptions::default()).unwrap();
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(
            stream::into_error(err).kind(),
            ErrorKind::Cipher,
            "cut at {cut}"
        );
        checked += 1;
    }
    // And the whole gzip data reads back.
    let mut enc = b"@EnC\x01\x80".to_vec();
    enc.extend_from_slice(
        &entry
            .binary_encrypt(
                &gzip,
                symmetric_encryption::ValueOptions {
                    random_iv: false,
                    compress: false,
                    header: false,
                },
            )
            .unwrap(),
    );
    let mut out = Vec::new();
    Reader::new(&ctx, &enc[..], &ReaderOptions::default())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert!(out == data);
    println!("truncated gzip streams: {checked} cuts refused");
}
