//! Seeking in encrypted streams: direct on uncompressed chunked streams (only the chunk that
//! holds the offset is read and decrypted), forward-reading on every other layout.

mod stream_common;

use std::cell::Cell;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use stream_common::{context as vector_context, load_json, vectors};
use symmetric_encryption::stream::{self, Reader, ReaderOptions, Writer, WriterOptions};
use symmetric_encryption::{Cipher, CipherName, Context, ErrorKind};

const C: usize = 1024;

/// A seekable reader that counts the bytes read through it.
struct Counting {
    inner: Cursor<Vec<u8>>,
    read: Rc<Cell<u64>>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl Seek for Counting {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn context() -> Context {
    Context::new(vec![
        Cipher::new(CipherName::Aes256Gcm, &[4; 32], None)
            .unwrap()
            .with_version(1),
        Cipher::new(CipherName::Aes256Cbc, &[5; 32], Some(&[6; 16]))
            .unwrap()
            .with_version(2),
    ])
    .unwrap()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 7) as u8).collect()
}

fn encrypt(ctx: &Context, plain: &[u8], version: u8, compress: bool) -> Vec<u8> {
    let opts = WriterOptions {
        version: Some(version),
        compress: Some(compress),
        chunk_size: Some(C),
        ..WriterOptions::default()
    };
    let mut w = Writer::new(ctx, Vec::new(), &opts).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap()
}

/// Reads up to `n` bytes at the current position.
fn read_n<R: Read>(r: &mut R, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    r.take(n as u64).read_to_end(&mut out).unwrap();
    out
}

fn expect_at(plain: &[u8], offset: u64, n: usize) -> &[u8] {
    let start = (offset as usize).min(plain.len());
    &plain[start..(start + n).min(plain.len())]
}

#[test]
fn chunked_streams_seek_straight_to_the_chunk() {
    let ctx = context();
    let mut checked = 0;
    // 5000 bytes: chunks 0-3 full, chunk 4 holds 904. 4096: four full chunks.
    for n in [5000usize, 4096] {
        let plain = data(n);
        let enc = encrypt(&ctx, &plain, 1, false);
        let counter = Rc::new(Cell::new(0));
        let src = Counting {
            inner: Cursor::new(enc.clone()),
            read: counter.clone(),
        };
        let mut r = Reader::new(&ctx, src, &ReaderOptions::default()).unwrap();
        assert_eq!(r.chunk_size(), Some(C));
        assert_eq!(r.size().unwrap(), Some(n as u64));
        let last_chunk_start = (n - 1) / C * C;
        let offsets = [
            0,
            10, // inside the first chunk
            C as u64 - 1,
            C as u64,           // a chunk boundary
            2 * C as u64 + 452, // inside a middle chunk
            last_chunk_start as u64 - 1,
            last_chunk_start as u64,
            last_chunk_start as u64 + 100, // inside the last chunk
            n as u64 - 1,                  // the last byte
            n as u64,                      // the end
            n as u64 + 1000,               // past the end
            10,                            // and back
        ];
        for off in offsets {
            let before = counter.get();
            assert_eq!(r.seek(SeekFrom::Start(off)).unwrap(), off);
            assert_eq!(r.position(), off);
            let got = read_n(&mut r, 100);
            assert_eq!(got, expect_at(&plain, off, 100), "n={n} offset {off}");
            // At most the chunk(s) holding these 100 bytes, each with its tag and a lookahead
            // byte, were read: never the chunks before the offset.
            let read = counter.get() - before;
            assert!(
                read <= 2 * (C as u64 + 17),
                "n={n} offset {off}: read {read} bytes"
            );
            checked += 1;
        }
        // Relative seeks.
        r.seek(SeekFrom::Start(3000)).unwrap();
        assert_eq!(r.seek(SeekFrom::Current(-500)).unwrap(), 2500);
        assert_eq!(read_n(&mut r, 10), expect_at(&plain, 2500, 10));
        assert_eq!(r.seek(SeekFrom::Current(100)).unwrap(), 2610);
        assert_eq!(read_n(&mut r, 10), expect_at(&plain, 2610, 10));
        assert_eq!(r.seek(SeekFrom::End(-10)).unwrap(), n as u64 - 10);
        assert_eq!(read_n(&mut r, 100), expect_at(&plain, n as u64 - 10, 100));
        let err = r.seek(SeekFrom::End(-(n as i64) - 1)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        checked += 4;
    }
    println!("direct seeks on chunked streams: {checked} positions checked");
}

#[test]
fn seeking_never_decrypts_earlier_chunks() {
    let ctx = context();
    let plain = data(5000);
    let mut enc = encrypt(&ctx, &plain, 1, false);
    // Break chunk 0: a reader that decrypted it on the way to the last chunk would fail.
    let header_len = symmetric_encryption::header::parse(&enc)
        .unwrap()
        .unwrap()
        .len;
    enc[header_len + 5] ^= 0x80;
    let mut r = Reader::new(&ctx, Cursor::new(enc), &ReaderOptions::default()).unwrap();
    r.seek(SeekFrom::Start(4500)).unwrap();
    assert_eq!(read_n(&mut r, 500), &plain[4500..]);
    r.seek(SeekFrom::Start(2000)).unwrap();
    assert_eq!(read_n(&mut r, 10), &plain[2000..2010]);
    // Chunk 0 itself still fails, and a later seek recovers.
    r.seek(SeekFrom::Start(10)).unwrap_err();
    let mut buf = [0u8; 10];
    assert_eq!(
        stream::into_error(r.read(&mut buf).unwrap_err()).kind(),
        ErrorKind::Authentication
    );
    r.seek(SeekFrom::Start(1024)).unwrap();
    assert_eq!(read_n(&mut r, 10), &plain[1024..1034]);
    println!("seek past a broken chunk 0: 4 positions checked");
}

#[test]
fn other_layouts_seek_by_reading_forward() {
    let ctx = context();
    let mut checked = 0;
    // (version, compress, size): CBC, CBC gzip, single GCM, single GCM gzip, chunked GCM gzip.
    for (version, compress, n, size_known) in [
        (2, false, 5000, true),
        (2, true, 5000, false),
        (1, false, 1000, true),
        (1, true, 1000, false),
        (1, true, 50_000, false),
        (2, false, 0, true),
    ] {
        let plain = data(n);
        let enc = encrypt(&ctx, &plain, version, compress);
        let mut r = Reader::new(&ctx, Cursor::new(enc), &ReaderOptions::default()).unwrap();
        let size = r.size().unwrap();
        assert_eq!(
            size,
            size_known.then_some(n as u64),
            "v{version} z{compress} n={n}"
        );
        let n64 = n as u64;
        for off in [10, 3, n64 / 2, n64.saturating_sub(1), 0, n64, n64 + 7, 1] {
            assert_eq!(r.seek(SeekFrom::Start(off)).unwrap(), off);
            assert_eq!(
                read_n(&mut r, 64),
                expect_at(&plain, off, 64),
                "v{version} z{compress} n={n} offset {off}"
            );
            checked += 1;
        }
        let back = n64.min(3);
        assert_eq!(r.seek(SeekFrom::End(-(back as i64))).unwrap(), n64 - back);
        assert_eq!(read_n(&mut r, 10), expect_at(&plain, n64 - back, 10));
        checked += 1;
    }
    println!("forward-reading seeks on CBC, single-value and compressed streams: {checked} positions checked");
}

#[test]
fn seeks_in_the_vector_files() {
    let dir = vectors().join("files");
    let manifest = load_json(&dir.join("manifest.json"));
    let ctx = vector_context(manifest["ciphers"].as_array().unwrap(), 1);
    let mut checked = 0;
    for f in manifest["files"].as_array().unwrap() {
        let enc = std::fs::read(dir.join(f["enc_file"].as_str().unwrap())).unwrap();
        let plain = std::fs::read(dir.join(f["plain_file"].as_str().unwrap())).unwrap();
        let opts = ReaderOptions {
            version: f["read_with_version"].as_u64().map(|v| v as u8),
            ..ReaderOptions::default()
        };
        let mut r = Reader::new(&ctx, Cursor::new(enc), &opts).unwrap();
        let n = plain.len() as u64;
        let chunk = f["chunk_size"].as_u64().unwrap_or(1024);
        for off in [
            n / 2,
            1,
            chunk - 1,
            chunk,
            chunk + 1,
            n.saturating_sub(1),
            n + 1,
            0,
        ] {
            r.seek(SeekFrom::Start(off)).unwrap();
            let got = read_n(&mut r, 300);
            assert_eq!(
                got,
                expect_at(&plain, off, 300),
                "{} offset {off}",
                f["name"]
            );
            checked += 1;
        }
    }
    println!("seeks in the vectors' files: {checked} positions checked");
}
