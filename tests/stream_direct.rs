//! Reads of at least a chunk open the chunk straight into the caller's buffer (no copy through
//! the reader's own buffer). These tests hold that path to the same outcomes as the buffered
//! one: the same plaintext for every size around the chunk boundaries and for a source that
//! hands out a few bytes at a time, an error (never a short read) for every truncation, and a
//! wiped buffer when a chunk fails to authenticate.

use std::io::{Read, Write};

use symmetric_encryption::stream::{self, Reader, ReaderOptions, Writer, WriterOptions};
use symmetric_encryption::{Cipher, CipherName, Context, ErrorKind};

const CHUNK: usize = 1024;

fn context() -> Context {
    let key: Vec<u8> = (0..32).map(|b| b * 5 + 1).collect();
    Context::new(vec![Cipher::new(CipherName::Aes256Gcm, &key, None)
        .unwrap()
        .with_version(2)])
    .unwrap()
}

fn encrypt(ctx: &Context, data: &[u8]) -> Vec<u8> {
    let opts = WriterOptions {
        compress: Some(false),
        chunk_size: Some(CHUNK),
        ..WriterOptions::default()
    };
    let mut w = Writer::new(ctx, Vec::new(), &opts).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// Hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn read_all(r: &mut impl Read, step: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; step];
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 + i / 7) as u8).collect()
}

#[test]
fn every_size_and_source_reads_back() {
    let ctx = context();
    let mut checked = 0;
    for n in [
        0,
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK,
        2 * CHUNK + 15,
        3 * CHUNK + 17,
    ] {
        let plain = data(n);
        let enc = encrypt(&ctx, &plain);
        for step in [CHUNK, CHUNK + 1, 5 * CHUNK] {
            for trickle in [usize::MAX, 7, 1] {
                let src = Trickle {
                    data: &enc,
                    step: trickle,
                };
                let mut r = Reader::new(&ctx, src, &ReaderOptions::default()).unwrap();
                assert_eq!(read_all(&mut r, step).unwrap(), plain, "n={n} step={step}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8 * 3 * 3);
}

#[test]
fn every_truncation_is_an_error() {
    let ctx = context();
    let plain = data(2 * CHUNK + 100);
    let enc = encrypt(&ctx, &plain);
    // Every cut after the header: two full frames and a last one of 100 bytes, each with its
    // 16-byte tag, follow it.
    let header_len = enc.len() - (2 * (CHUNK + 16) + 100 + 16);
    let mut refused = 0;
    for cut in header_len..enc.len() {
        let mut r = Reader::new(&ctx, &enc[..cut], &ReaderOptions::default()).unwrap();
        let err = read_all(&mut r, 4 * CHUNK).unwrap_err();
        let kind = stream::into_error(err).kind();
        assert!(
            matches!(kind, ErrorKind::Authentication | ErrorKind::Cipher),
            "cut {cut}: {kind:?}"
        );
        refused += 1;
    }
    assert_eq!(refused, enc.len() - header_len);
}

#[test]
fn a_chunk_that_fails_is_wiped_from_the_callers_buffer() {
    let ctx = context();
    let plain = vec![0x5au8; 2 * CHUNK];
    let mut enc = encrypt(&ctx, &plain);
    let at = enc.len() - 40; // inside the second (last) chunk
    enc[at] ^= 1;
    let mut r = Reader::new(&ctx, &enc[..], &ReaderOptions::default()).unwrap();
    let mut buf = vec![0u8; CHUNK];
    assert_eq!(r.read(&mut buf).unwrap(), CHUNK);
    assert_eq!(buf, plain[..CHUNK]);
    let err = r.read(&mut buf).unwrap_err();
    assert_eq!(stream::into_error(err).kind(), ErrorKind::Authentication);
    assert!(
        !buf.contains(&0x5a),
        "unauthenticated plaintext left in the buffer"
    );
}
