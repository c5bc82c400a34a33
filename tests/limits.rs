//! Issue 14: the decompression limit of values, the output limit of stream readers, and
//! readers left as they were by an operation that failed.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use symmetric_encryption::stream::{self, Reader, ReaderOptions, Writer, WriterOptions};
use symmetric_encryption::{
    Cipher, CipherName, Context, EncryptOptions, ErrorKind, DEFAULT_MAX_DECOMPRESSED_SIZE,
};

fn context(name: CipherName) -> Context {
    let key = vec![7u8; name.key_len()];
    Context::new(vec![Cipher::new(name, &key, None).unwrap().with_version(1)]).unwrap()
}

const COMPRESS: EncryptOptions = EncryptOptions {
    random_iv: None,
    compress: Some(true),
    header: None,
    version: None,
};

#[test]
fn a_value_inflating_past_the_default_limit_is_refused() {
    assert_eq!(DEFAULT_MAX_DECOMPRESSED_SIZE, 64 << 20);
    let ctx = context(CipherName::Aes256Gcm);
    assert_eq!(ctx.max_decompressed_size(), DEFAULT_MAX_DECOMPRESSED_SIZE);
    let bomb = ctx.encrypt(&vec![0u8; (64 << 20) + 1], &COMPRESS).unwrap();
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let e = ctx.decrypt(&bomb).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cipher);
    let msg = e.to_string();
    assert!(
        msg.contains("64 MiB") && msg.contains("with_max_decompressed_size"),
        "{msg}"
    );
    // The same value through a cipher used without a context, and as a binary value.
    let binary = ctx.encoding().decode(&bomb).unwrap();
    let e = ctx.primary().binary_decrypt(&binary).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cipher);
    let raised = ctx.clone().with_max_decompressed_size(65 << 20);
    assert_eq!(raised.decrypt(&bomb).unwrap().len(), (64 << 20) + 1);
}

#[test]
fn the_limit_is_per_context_and_exact() {
    for name in [CipherName::Aes128Cbc, CipherName::Aes256Gcm] {
        let ctx = context(name);
        let plain = vec![b'x'; 100_000];
        let value = ctx.encrypt(&plain, &COMPRESS).unwrap();
        let exact = ctx.clone().with_max_decompressed_size(100_000);
        assert_eq!(exact.decrypt(&value).unwrap(), plain, "{name}");
        let below = ctx.clone().with_max_decompressed_size(99_999);
        let e = below.decrypt(&value).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cipher, "{name}");
        assert!(e.to_string().contains("99999 bytes"), "{e}");
        let binary = ctx.binary_encrypt(&plain, &COMPRESS).unwrap();
        assert!(below.binary_decrypt_with_version(&binary, None).is_err());
        // Not compressed: not limited (never larger than the value).
        let raw = ctx.encrypt(&plain, &EncryptOptions::default()).unwrap();
        assert_eq!(below.decrypt(&raw).unwrap(), plain);
        assert_eq!(ctx.decrypt(&value).unwrap(), plain);
    }
}

#[test]
fn decrypt_into_writes_at_most_the_buffer() {
    let ctx = context(CipherName::Aes256Gcm);
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
    for opts in [COMPRESS, EncryptOptions::default()] {
        let value = ctx.encrypt(&plain, &opts).unwrap();
        let mut buf = vec![0xAAu8; 2000];
        let n = ctx.decrypt_into(&value, None, &mut buf[..1000]).unwrap();
        assert_eq!(n, plain.len());
        assert!(
            buf[..1000].iter().all(|&b| b == 0),
            "the part written is wiped"
        );
        assert!(
            buf[1000..].iter().all(|&b| b == 0xAA),
            "nothing past the buffer"
        );
        let mut full = vec![0u8; n];
        assert_eq!(ctx.decrypt_into(&value, None, &mut full).unwrap(), n);
        assert_eq!(full, plain);
        let mut bigger = vec![0u8; n + 10];
        assert_eq!(ctx.decrypt_into(&value, None, &mut bigger).unwrap(), n);
        assert_eq!(&bigger[..n], &plain[..]);
    }
    let value = ctx.encrypt(&plain, &COMPRESS).unwrap();
    let small = ctx.clone().with_max_decompressed_size(1000);
    let mut buf = vec![0u8; 10];
    let e = small.decrypt_into(&value, None, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cipher);
    assert_eq!(ctx.decrypt_into(b"", None, &mut buf).unwrap(), 0);
}

fn stream_of(ctx: &Context, plain: &[u8], compress: bool, chunk: usize) -> Vec<u8> {
    let opts = WriterOptions {
        compress: Some(compress),
        chunk_size: Some(chunk),
        ..WriterOptions::default()
    };
    let mut w = Writer::new(ctx, Vec::new(), &opts).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap()
}

#[test]
fn readers_stop_at_their_output_limit() {
    let ctx = context(CipherName::Aes256Gcm);
    let plain = vec![0u8; 200_000];
    for compress in [false, true] {
        let enc = stream_of(&ctx, &plain, compress, 4096);
        let opts = ReaderOptions {
            max_output: Some(5000),
            ..ReaderOptions::default()
        };
        let mut r = Reader::new(&ctx, Cursor::new(&enc), &opts).unwrap();
        let mut out = Vec::new();
        let e = stream::into_error(r.read_to_end(&mut out).unwrap_err());
        assert_eq!(e.kind(), ErrorKind::Cipher);
        assert!(e.to_string().contains("5000 bytes"), "{e}");
        assert_eq!(out.len(), 5000, "compress={compress}");
        // Seeking past the limit by reading forward fails too; removing the limit reads all.
        r.set_max_output(None);
        r.seek(SeekFrom::Start(0)).unwrap();
        out.clear();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, plain);
        r.set_max_output(Some(plain.len() as u64));
        r.seek(SeekFrom::Start(0)).unwrap();
        out.clear();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), plain.len(), "a limit of exactly the size");
    }
}

#[test]
fn decrypt_file_with_an_output_limit_leaves_nothing() {
    let ctx = context(CipherName::Aes256Gcm);
    let dir = tempfile::tempdir().unwrap();
    let (src, enc, dec) = (
        dir.path().join("a"),
        dir.path().join("a.enc"),
        dir.path().join("a.out"),
    );
    std::fs::write(&src, vec![0u8; 100_000]).unwrap();
    stream::encrypt_file(&ctx, &src, &enc, Some(true), None).unwrap();
    let limited = ReaderOptions {
        max_output: Some(4096),
        ..ReaderOptions::default()
    };
    let e = stream::decrypt_file_with(&ctx, &enc, &dec, &limited).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cipher);
    assert!(!dec.exists());
    stream::decrypt_file_with(&ctx, &enc, &dec, &ReaderOptions::default()).unwrap();
    assert_eq!(std::fs::read(&dec).unwrap().len(), 100_000);
}

/// A source that reads but cannot seek, like C callbacks without a seek function.
struct NoSeek(Cursor<Vec<u8>>);

impl Read for NoSeek {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for NoSeek {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no seek"))
    }
}

#[test]
fn a_failed_rewind_leaves_the_reader_as_it_was() {
    let plain: Vec<u8> = (0..50_000u32).map(|i| (i * 13 + i / 300) as u8).collect();
    for name in [CipherName::Aes256Gcm, CipherName::Aes256Cbc] {
        for compress in [false, true] {
            let ctx = context(name);
            let enc = stream_of(&ctx, &plain, compress, 1024);
            let mut r =
                Reader::new(&ctx, NoSeek(Cursor::new(enc)), &ReaderOptions::default()).unwrap();
            let mut head = [0u8; 10];
            r.read_exact(&mut head).unwrap();
            let e = stream::into_error(r.seek(SeekFrom::Start(0)).unwrap_err());
            assert_eq!(e.kind(), ErrorKind::Io, "{name} {compress}: {e}");
            assert!(r.seek(SeekFrom::End(0)).is_err());
            assert_eq!(r.is_compressed(), compress);
            let size = r.size();
            if compress {
                assert!(matches!(size, Ok(None)), "{name}");
            } else {
                assert_eq!(size.unwrap_err().kind(), ErrorKind::Io, "{name}");
            }
            assert_eq!(r.position(), 10);
            assert_eq!(r.seek(SeekFrom::Current(90)).unwrap(), 100);
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).unwrap();
            assert_eq!(&rest[..], &plain[100..], "{name} compress={compress}");
        }
    }
}

/// Found by the fuzz target `value`: "Q" decodes to no bytes under a lenient encoding, which
/// decrypt took as an empty value and decrypt_into as a truncated one.
#[test]
fn decrypt_into_agrees_with_decrypt_on_a_value_that_decodes_to_nothing() {
    for enc in symmetric_encryption::Encoding::ALL {
        let cipher = Cipher::new(CipherName::Aes128Cbc, &[3; 16], None)
            .unwrap()
            .with_encoding(enc);
        let ctx = Context::new(vec![cipher]).unwrap();
        for value in [&b"Q"[..], b"=", b"\n"] {
            let mut buf = [0u8; 4];
            match (ctx.decrypt(value), ctx.decrypt_into(value, None, &mut buf)) {
                (Ok(p), Ok(n)) => assert_eq!(p.len(), n, "{enc:?}"),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{enc:?}"),
                (a, b) => panic!("{enc:?} {value:?}: decrypt {a:?}, decrypt_into {b:?}"),
            }
        }
    }
}
