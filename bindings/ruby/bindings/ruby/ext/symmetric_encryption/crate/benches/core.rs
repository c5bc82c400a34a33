//! Criterion benchmarks of the Rust core (`cargo bench --bench core`; add
//! `--features aws-lc` for the aws-lc backend). The cross-language table (C ABI, Python, Ruby,
//! OpenSSL and pyca/cryptography baselines) is `scripts/bench`.

use std::io::{Read, Write};

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use symmetric_encryption::stream::{self, Reader, ReaderOptions, Writer, WriterOptions};
use symmetric_encryption::{Cipher, CipherName, Context, EncryptOptions};

fn context(name: CipherName) -> Context {
    let key = vec![7u8; name.key_len()];
    let cipher = Cipher::new(name, &key, Some(&[9u8; 16][..name.iv_len().max(12)]))
        .unwrap()
        .with_version(1);
    Context::new(vec![cipher]).unwrap()
}

const VALUE: &[u8; 32] = b"4111-1111-1111-1111 exp 12/2030.";

fn values(c: &mut Criterion) {
    let mut g = c.benchmark_group("value 32 bytes");
    for (label, name, random_iv) in [
        ("aes-256-gcm random iv", CipherName::Aes256Gcm, true),
        ("aes-256-gcm deterministic iv", CipherName::Aes256Gcm, false),
        ("aes-256-cbc random iv", CipherName::Aes256Cbc, true),
    ] {
        let ctx = context(name);
        let opts = EncryptOptions {
            random_iv: Some(random_iv),
            ..Default::default()
        };
        g.bench_function(BenchmarkId::new("encrypt", label), |b| {
            b.iter(|| ctx.encrypt(black_box(VALUE), &opts).unwrap())
        });
        let enc = ctx.encrypt(VALUE, &opts).unwrap();
        g.bench_function(BenchmarkId::new("decrypt", label), |b| {
            b.iter(|| ctx.decrypt(black_box(&enc)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("value 16 KiB");
    let big = vec![0x5au8; 16 * 1024];
    g.throughput(Throughput::Bytes(big.len() as u64));
    for (label, name) in [
        ("aes-256-gcm", CipherName::Aes256Gcm),
        ("aes-256-cbc", CipherName::Aes256Cbc),
    ] {
        let ctx = context(name);
        let opts = EncryptOptions {
            random_iv: Some(true),
            ..Default::default()
        };
        g.bench_function(BenchmarkId::new("encrypt", label), |b| {
            b.iter(|| ctx.encrypt(black_box(&big), &opts).unwrap())
        });
        let enc = ctx.encrypt(&big, &opts).unwrap();
        g.bench_function(BenchmarkId::new("decrypt", label), |b| {
            b.iter(|| ctx.decrypt(black_box(&enc)).unwrap())
        });
    }
    g.finish();
}

const STREAM_LEN: usize = 256 << 20;

fn streams(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream 256 MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(STREAM_LEN as u64));
    let block = vec![0x33u8; 1 << 16];
    let opts = WriterOptions {
        compress: Some(false),
        ..Default::default()
    };
    for (label, name) in [
        ("aes-256-gcm", CipherName::Aes256Gcm),
        ("aes-256-cbc", CipherName::Aes256Cbc),
    ] {
        let ctx = context(name);
        g.bench_function(BenchmarkId::new("encrypt in memory", label), |b| {
            b.iter(|| {
                let mut w = Writer::new(&ctx, std::io::sink(), &opts).unwrap();
                for _ in 0..STREAM_LEN / block.len() {
                    w.write_all(&block).unwrap();
                }
                w.finish().unwrap();
            })
        });
        let mut w = Writer::new(
            &ctx,
            Vec::with_capacity(STREAM_LEN + (STREAM_LEN >> 10)),
            &opts,
        )
        .unwrap();
        for _ in 0..STREAM_LEN / block.len() {
            w.write_all(&block).unwrap();
        }
        let encrypted = w.finish().unwrap();
        g.bench_function(BenchmarkId::new("decrypt in memory", label), |b| {
            let mut buf = vec![0u8; 1 << 16];
            b.iter(|| {
                let mut r = Reader::new(&ctx, &encrypted[..], &ReaderOptions::default()).unwrap();
                while r.read(&mut buf).unwrap() > 0 {}
            })
        });
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.bin");
        std::fs::write(&plain, vec![0x44u8; STREAM_LEN]).unwrap();
        let enc = dir.path().join("plain.bin.enc");
        let out = dir.path().join("plain.out");
        g.bench_function(BenchmarkId::new("encrypt file to file", label), |b| {
            b.iter(|| stream::encrypt_file(&ctx, &plain, &enc, Some(false), None).unwrap())
        });
        g.bench_function(BenchmarkId::new("decrypt file to file", label), |b| {
            b.iter(|| stream::decrypt_file(&ctx, &enc, &out).unwrap())
        });
    }
    g.finish();
}

/// A configuration whose data key sits under a three-level key chain (DEK <- KEK <- KEKEK, the
/// last in a key file), loaded from scratch: YAML, key file checks, two key decryptions.
fn config_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let name = CipherName::Aes256Gcm;
    let kekek = Cipher::new(name, &[1u8; 32], Some(&[2u8; 12])).unwrap();
    let kek = Cipher::new(name, &[3u8; 32], Some(&[4u8; 12])).unwrap();
    let dek = [5u8; 32];
    let kek_encrypted = kekek.kek_encrypt(kek.key()).unwrap();
    let dek_encrypted = kek.kek_encrypt(&dek).unwrap();
    let key_file = dir.path().join("app_production_v1.kekek");
    std::fs::write(&key_file, kekek.key()).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let yaml = format!(
        "production:\n  ciphers:\n  - cipher_name: aes-256-gcm\n    version: 1\n    encrypted_key: !binary |-\n      {}\n    iv: !binary |-\n      {}\n    key_encrypting_key:\n      encrypted_key: !binary |-\n        {}\n      iv: !binary |-\n        {}\n      key_encrypting_key:\n        key_filename: {}\n        iv: !binary |-\n          {}\n",
        b64(&dek_encrypted),
        b64(&[6u8; 12]),
        b64(&kek_encrypted),
        b64(&[4u8; 12]),
        key_file.display(),
        b64(&[2u8; 12]),
    );
    let path = dir.path().join("symmetric-encryption.yml");
    std::fs::write(&path, &yaml).unwrap();
    let ctx = Context::load(Some(&path), Some("production")).expect("the benchmark config loads");
    assert_eq!(ctx.primary().key(), &dek);
    c.bench_function("config load, three-level key chain", |b| {
        b.iter(|| Context::load(Some(black_box(&path)), Some("production")).unwrap())
    });
}

criterion_group!(benches, values, streams, config_load);
criterion_main!(benches);
