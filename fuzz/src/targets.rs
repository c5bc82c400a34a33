//! The fuzz targets' logic, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, nightly,
//! libFuzzer) and the stable mutation runner (`tests/fuzz.rs`, run by `scripts/suites/fuzz`).
//! Both include this file with `#[path]`, so the two always fuzz the same code.
//!
//! Every target takes arbitrary bytes and must never panic, never return an internal error, and
//! keep the invariants checked below (decrypted output within the limits; a stream reader that
//! agrees with a plain read of the same stream, whatever reads and seeks come before).

#![allow(dead_code)] // each cargo-fuzz binary uses one target

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use symmetric_encryption::stream::{self, Reader, ReaderOptions};
use symmetric_encryption::{header, Cipher, CipherName, Config, Context, Encoding, ErrorKind};

/// The limit fuzzed values may inflate to, and fuzzed streams may output: small, so that an
/// input costs microseconds, and so that the limits themselves are exercised.
pub const LIMIT: u64 = 1 << 20;

/// The names of the targets, as used by both runners and the corpus directories.
pub const NAMES: [&str; 5] = ["value", "header", "stream", "config", "c_api"];

/// What the targets decrypt with: the keys of the vectors.
pub struct Targets {
    /// One context per key, cipher, version and encoding used by `strings.json`.
    values: Vec<Context>,
    /// The ciphers the stream vectors (`files/`) were written with.
    streams: Context,
    /// Raw key material for the C context (one GCM cipher of the stream set).
    c_key: Vec<u8>,
    vectors: PathBuf,
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn b64(v: &serde_json::Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .expect("base64 in vectors")
    })
}

fn cipher_of(d: &serde_json::Value) -> Cipher {
    let name = CipherName::from_name(d["cipher_name"].as_str().unwrap()).unwrap();
    let key = b64(&d["key_b64"]).unwrap();
    let iv = b64(&d["iv_b64"]);
    Cipher::new(name, &key, iv.as_deref())
        .unwrap()
        .with_version(d["version"].as_u64().unwrap_or(0) as u8)
        .with_encoding(
            Encoding::from_name(d["encoding"].as_str().unwrap_or("base64strict")).unwrap(),
        )
        .with_always_add_header(d["always_add_header"].as_bool().unwrap_or(true))
}

impl Targets {
    /// Loads the keys from the vectors directory (`tests/vectors`).
    pub fn load(vectors: &Path) -> Targets {
        let strings = json(&vectors.join("strings.json"));
        let keys = &strings["keys"];
        let mut seen = Vec::new();
        let mut values = Vec::new();
        for case in strings["cases"].as_array().unwrap() {
            let id = (
                case["key_id"].as_str().unwrap_or("").to_string(),
                case["cipher_name"].as_str().unwrap_or("").to_string(),
                case["version"].as_u64().unwrap_or(0),
                case["encoding"]
                    .as_str()
                    .unwrap_or("base64strict")
                    .to_string(),
            );
            if seen.contains(&id) {
                continue;
            }
            let Some(key) = keys.get(&id.0) else { continue };
            let mut desc = key.clone();
            desc["cipher_name"] = id.1.clone().into();
            desc["version"] = id.2.into();
            desc["encoding"] = id.3.clone().into();
            let Ok(name) = CipherName::from_name(&id.1) else {
                continue;
            };
            let key_len = b64(&desc["key_b64"]).map_or(0, |k| k.len());
            if key_len != name.key_len() {
                continue;
            }
            seen.push(id);
            values.push(
                Context::new(vec![cipher_of(&desc)])
                    .unwrap()
                    .with_max_decompressed_size(LIMIT),
            );
        }
        assert!(!values.is_empty(), "no value keys in strings.json");
        let manifest = json(&vectors.join("files/manifest.json"));
        let ciphers: Vec<Cipher> = manifest["ciphers"]
            .as_array()
            .unwrap()
            .iter()
            .map(cipher_of)
            .collect();
        let c_key = ciphers
            .iter()
            .find(|c| c.cipher_name() == CipherName::Aes256Gcm)
            .map(|c| c.key().to_vec())
            .unwrap_or_else(|| vec![7; 32]);
        let streams = Context::new(ciphers)
            .unwrap()
            .with_max_decompressed_size(LIMIT);
        Targets {
            values,
            streams,
            c_key,
            vectors: vectors.to_path_buf(),
        }
    }

    /// Runs target `name` on `data`.
    pub fn run(&self, name: &str, data: &[u8]) {
        match name {
            "value" => self.value(data),
            "header" => header_target(data),
            "stream" => self.stream(data),
            "config" => config_target(data),
            "c_api" => self.c_api(data),
            _ => panic!("no fuzz target {name}"),
        }
    }

    /// The first byte picks a context, the rest is the value.
    pub fn value(&self, data: &[u8]) {
        let Some((&pick, value)) = data.split_first() else {
            return;
        };
        let ctx = &self.values[pick as usize % self.values.len()];
        let plain = ctx.decrypt(value);
        if let Err(e) = &plain {
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
        }
        if let Ok(p) = &plain {
            assert!(
                p.len() as u64 <= LIMIT.max(value.len() as u64),
                "{} bytes out",
                p.len()
            );
        }
        // decrypt_into agrees with decrypt, whatever the buffer size.
        let mut buf = vec![0u8; (pick as usize) * 3];
        match (ctx.decrypt_into(value, None, &mut buf), &plain) {
            (Ok(n), Ok(p)) => {
                assert_eq!(n, p.len());
                if n <= buf.len() {
                    assert_eq!(&buf[..n], &p[..]);
                } else {
                    assert!(buf.iter().all(|&b| b == 0), "a buffer too small is wiped");
                }
            }
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{a} / {b}"),
            (a, b) => panic!(
                "decrypt_into {:?} but decrypt {:?}",
                a.map(|_| ()),
                b.as_ref().map(|_| ())
            ),
        }
        let _ = ctx.header(value);
        let _ = ctx.is_encrypted(value);
        if let Err(e) = ctx.binary_decrypt_with_version(value, Some(0)) {
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
        }
    }

    /// A stream with a script of reads and seeks in front of it: see [`Script`].
    pub fn stream(&self, data: &[u8]) {
        let (script, enc) = Script::split(data);
        let opts = ReaderOptions {
            max_output: Some(LIMIT),
            ..ReaderOptions::default()
        };
        // The reference: one plain read of the whole stream.
        let reference = Reader::new(&self.streams, Cursor::new(enc), &opts).and_then(|mut r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map_err(stream::into_error)?;
            Ok(out)
        });
        if let Err(e) = &reference {
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
        }
        let plain = reference.ok();
        for seekable in [true, false] {
            let src = Source {
                inner: Cursor::new(enc),
                seekable,
            };
            let Ok(mut r) = Reader::new(&self.streams, src, &opts) else {
                continue;
            };
            script.run(&mut r, plain.as_deref(), seekable);
        }
    }
}

/// A source that can be told not to seek, like C callbacks without a seek function.
struct Source<'a> {
    inner: Cursor<&'a [u8]>,
    seekable: bool,
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Seek for Source<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        if !self.seekable {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "no seek"));
        }
        self.inner.seek(pos)
    }
}

/// Operations on a reader, from the front of a fuzz input: one byte `n` (the number of
/// operations, mod 16), then `n` operations of 3 bytes (kind, then a 16-bit argument); the rest
/// is the encrypted stream.
pub struct Script(Vec<(u8, u16)>);

impl Script {
    /// Splits `data` into the script and the stream.
    pub fn split(data: &[u8]) -> (Script, &[u8]) {
        let Some((&n, rest)) = data.split_first() else {
            return (Script(Vec::new()), data);
        };
        let n = (n % 16) as usize;
        let take = (n * 3).min(rest.len());
        let ops = rest[..take]
            .chunks_exact(3)
            .map(|c| (c[0] % 6, u16::from_le_bytes([c[1], c[2]])))
            .collect();
        (Script(ops), &rest[take..])
    }

    /// The bytes of a script (for seeds).
    pub fn encode(ops: &[(u8, u16)]) -> Vec<u8> {
        let mut out = vec![ops.len() as u8];
        for (k, a) in ops {
            out.push(*k);
            out.extend_from_slice(&a.to_le_bytes());
        }
        out
    }

    /// Runs the script on `r`. When the stream reads cleanly (`plain` is its content), every
    /// byte a read returns must be the byte at that offset, and a seek the source refuses must
    /// leave reads going on where they were.
    fn run<R: Read + Seek>(&self, r: &mut Reader<R>, plain: Option<&[u8]>, seekable: bool) {
        let mut buf = vec![0u8; 70_000];
        let mut broken = false; // a read failed: further reads may fail until a seek
        for &(kind, arg) in &self.0 {
            let before = r.position();
            match kind {
                0 | 5 => {
                    let want = if kind == 5 {
                        buf.len()
                    } else {
                        arg as usize % buf.len()
                    };
                    match r.read(&mut buf[..want]) {
                        Ok(n) => {
                            if let Some(p) = plain {
                                let at = (before as usize).min(p.len());
                                let end = (at + n).min(p.len());
                                assert_eq!(&buf[..n], &p[at..end], "read at {before}");
                            }
                            assert_eq!(r.position(), before + n as u64);
                        }
                        Err(e) => {
                            let e = stream::into_error(e);
                            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
                            assert!(
                                plain.is_none(),
                                "a stream that reads cleanly failed at {before}: {e}"
                            );
                            broken = true;
                        }
                    }
                }
                1..=3 => {
                    let pos = match kind {
                        1 => SeekFrom::Start(arg as u64 * 7),
                        2 => SeekFrom::Current(arg as i16 as i64),
                        _ => SeekFrom::End(-((arg % 4096) as i64)),
                    };
                    match r.seek(pos) {
                        Ok(p) => {
                            assert_eq!(r.position(), p);
                            broken = false;
                        }
                        Err(e) => {
                            let e = stream::into_error(e);
                            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
                            if e.kind() == ErrorKind::Io && !seekable {
                                // Refused without touching the stream: nothing changed.
                                assert_eq!(r.position(), before, "a refused seek moved the reader");
                            }
                        }
                    }
                }
                _ => {
                    if let Err(e) = r.size() {
                        assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
                    }
                    assert_eq!(r.position(), before);
                }
            }
        }
        // Whatever came before, a clean stream reads on to its end from where the reader is.
        if let (Some(p), false) = (plain, broken) {
            let at = r.position();
            let mut rest = Vec::new();
            match r.read_to_end(&mut rest) {
                Ok(_) => {
                    let at = (at as usize).min(p.len());
                    assert_eq!(&rest[..], &p[at..], "reading on from {at}");
                }
                Err(e) => {
                    let e = stream::into_error(e);
                    panic!("a stream that reads cleanly failed after the script: {e}");
                }
            }
        }
    }
}

/// Headers: parsing never panics, and a parsed header writes back to bytes that parse to it.
pub fn header_target(data: &[u8]) {
    let parsed = match header::parse(data) {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
            return;
        }
    };
    assert!(parsed.len <= data.len() && parsed.aad_len <= parsed.len);
    if let Ok(bytes) = parsed.header.to_bytes() {
        if bytes.len() > 6 {
            let again = header::parse(&bytes)
                .expect("a written header parses")
                .expect("present");
            assert_eq!(again.header, parsed.header, "header round trip");
            assert_eq!(again.len, bytes.len());
        }
    }
}

/// Configurations: parsing (YAML and ERB) never panics; keys are not loaded (no file, variable
/// or KMS is touched), but every environment's entries are read, and written back.
pub fn config_target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let config = match Config::from_yaml_str(&text, "fuzz.yml") {
        Ok(c) => c,
        Err(e) => {
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
            return;
        }
    };
    for name in config.environment_names() {
        let _ = config.environment(name);
    }
    let written = config.to_yaml();
    if let Err(e) = Config::from_yaml_str(&written, "written.yml") {
        assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
    }
}

impl Targets {
    /// The seeds of target `name`, from the vectors.
    pub fn seeds(&self, name: &str) -> Vec<Vec<u8>> {
        let v = &self.vectors;
        let mut out = Vec::new();
        match name {
            "value" | "c_api" => {
                let strings = json(&v.join("strings.json"));
                for case in strings["cases"].as_array().unwrap() {
                    let ct = match (
                        case["ciphertext"].as_str(),
                        case["ciphertext_wrapped"].as_str(),
                    ) {
                        (Some(c), Some("base64")) => b64(&serde_json::Value::from(c)).unwrap(),
                        (Some(c), _) => c.as_bytes().to_vec(),
                        _ => match case["ciphertext_file"].as_str() {
                            Some(f) => match std::fs::read(v.join(f)) {
                                Ok(b) if b.len() < 100_000 => b,
                                _ => continue,
                            },
                            None => continue,
                        },
                    };
                    let pick = self.value_index(case);
                    let mut seed = vec![pick];
                    seed.extend_from_slice(&ct);
                    out.push(seed);
                }
                if name == "c_api" {
                    out.extend(self.seeds("stream").into_iter().take(20).map(|mut s| {
                        s.insert(0, 0xff);
                        s
                    }));
                }
            }
            "header" => {
                let headers = json(&v.join("headers.json"));
                for h in headers["headers"].as_array().unwrap() {
                    if let Some(x) = h["header_hex"].as_str() {
                        out.push(hex_decode(x));
                    }
                }
                for h in headers["malformed"].as_array().unwrap() {
                    if let Some(x) = h["input_hex"].as_str() {
                        out.push(hex_decode(x));
                    }
                }
            }
            "stream" => {
                for entry in std::fs::read_dir(v.join("files")).unwrap().flatten() {
                    let p = entry.path();
                    if p.extension().is_some_and(|e| e == "enc") {
                        let enc = std::fs::read(&p).unwrap();
                        if enc.len() > 300_000 {
                            continue;
                        }
                        out.push([&[0u8][..], &enc].concat());
                        let script = Script::encode(&[
                            (0, 100),
                            (1, 3),
                            (0, 2000),
                            (3, 10),
                            (1, 0),
                            (4, 0),
                            (0, 50),
                        ]);
                        out.push([&script[..], &enc].concat());
                    }
                }
            }
            "config" => {
                for set in std::fs::read_dir(v.join("configs")).unwrap().flatten() {
                    let dir = set.path().join("config");
                    let Ok(files) = std::fs::read_dir(&dir) else {
                        continue;
                    };
                    for f in files.flatten() {
                        if f.path().extension().is_some_and(|e| e == "yml") {
                            out.push(std::fs::read(f.path()).unwrap());
                        }
                    }
                }
            }
            _ => panic!("no fuzz target {name}"),
        }
        out
    }

    fn value_index(&self, case: &serde_json::Value) -> u8 {
        // The contexts were built in the order of the cases' first appearance; find this one's
        // by what it decrypts.
        let ct = case["ciphertext"].as_str().unwrap_or("").as_bytes();
        self.values
            .iter()
            .position(|c| c.decrypt(ct).is_ok())
            .unwrap_or(0) as u8
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

// ---- the C entry points -----------------------------------------------------------------

mod c {
    //! The C ABI driven as a C program would: handles, out-parameters and callbacks.
    #![allow(unsafe_code)]

    use std::ffi::c_void;
    use std::io::{Cursor, Read, Seek, SeekFrom};

    use symmetric_encryption::ffi::*;

    pub struct Ctx(pub *mut se_context);

    impl Ctx {
        pub fn gcm(key: &[u8]) -> Ctx {
            let mut ctx = std::ptr::null_mut();
            // SAFETY: valid strings and key buffer; `ctx` is a writable out-parameter.
            let st = unsafe {
                se_context_new_cipher(
                    c"aes-256-gcm".as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    std::ptr::null(),
                    0,
                    2,
                    std::ptr::null(),
                    -1,
                    &mut ctx,
                )
            };
            assert_eq!(st, se_status::SE_OK);
            let mut limited = std::ptr::null_mut();
            // SAFETY: `ctx` is live; `limited` writable.
            let st =
                unsafe { se_context_with_max_decompressed_size(ctx, super::LIMIT, &mut limited) };
            assert_eq!(st, se_status::SE_OK);
            // SAFETY: `ctx` came from se_context_new_cipher and is not used again.
            unsafe { se_context_free(ctx) };
            Ctx(limited)
        }
    }

    impl Drop for Ctx {
        fn drop(&mut self) {
            // SAFETY: a live handle from this library, freed once.
            unsafe { se_context_free(self.0) }
        }
    }

    fn ok(st: se_status) {
        assert_ne!(
            st,
            se_status::SE_ERROR_INTERNAL,
            "internal error from the C ABI"
        );
    }

    /// Values: se_decrypt, se_decrypt_into (with a buffer from the first byte), se_header.
    pub fn values(ctx: &Ctx, cap: usize, value: &[u8]) {
        let mut out = se_bytes {
            data: std::ptr::null_mut(),
            len: 0,
        };
        // SAFETY: live context, `value` valid for its length, `out` writable.
        let st = unsafe { se_decrypt(ctx.0, value.as_ptr(), value.len(), &mut out) };
        ok(st);
        let full = (st == se_status::SE_OK).then(|| {
            if out.data.is_null() {
                return Vec::new();
            }
            // SAFETY: `out` was filled by se_decrypt on success (non-NULL: `len` bytes).
            unsafe { std::slice::from_raw_parts(out.data, out.len).to_vec() }
        });
        // SAFETY: filled by the library (or EMPTY).
        unsafe { se_bytes_free(&mut out) };
        let mut buf = vec![0xAAu8; cap + 16];
        let mut len = 0usize;
        // SAFETY: `buf` writable for `cap` bytes (and more: the canary after it).
        let st = unsafe {
            se_decrypt_into(
                ctx.0,
                value.as_ptr(),
                value.len(),
                buf.as_mut_ptr(),
                cap,
                &mut len,
            )
        };
        ok(st);
        assert!(
            buf[cap..].iter().all(|&b| b == 0xAA),
            "se_decrypt_into wrote past out_cap"
        );
        if let (se_status::SE_OK, Some(f)) = (st, &full) {
            assert_eq!(&buf[..len], &f[..]);
        }
        let mut info = std::mem::MaybeUninit::<se_header_info>::zeroed();
        // SAFETY: as above; `info` writable.
        ok(unsafe { se_header(ctx.0, value.as_ptr(), value.len(), 0, info.as_mut_ptr()) });
        // SAFETY: as above.
        let _ = unsafe { se_is_encrypted(ctx.0, value.as_ptr(), value.len()) };
    }

    unsafe extern "C" fn read_cb(user: *mut c_void, buf: *mut u8, cap: usize) -> i64 {
        if buf.is_null() || cap == 0 {
            return 0;
        }
        // SAFETY: `user` is the Cursor passed to se_reader_open_callbacks, alive meanwhile;
        // `buf` writable for `cap` bytes.
        let (cur, buf) = unsafe {
            (
                &mut *(user as *mut Cursor<Vec<u8>>),
                std::slice::from_raw_parts_mut(buf, cap),
            )
        };
        cur.read(buf).map_or(-1, |n| n as i64)
    }

    unsafe extern "C" fn seek_cb(user: *mut c_void, offset: i64, whence: i32) -> i64 {
        // SAFETY: as read_cb.
        let cur = unsafe { &mut *(user as *mut Cursor<Vec<u8>>) };
        let pos = match whence {
            0 if offset >= 0 => SeekFrom::Start(offset as u64),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return -1,
        };
        cur.seek(pos).map_or(-1, |p| p as i64)
    }

    /// A stream through se_reader_open_callbacks, with and without a seek callback, driven by
    /// the script. A refused seek (no callback) must leave reads working.
    pub fn stream(ctx: &Ctx, ops: &[(u8, u16)], enc: &[u8]) {
        for seekable in [true, false] {
            let mut cur = Cursor::new(enc.to_vec());
            let mut r = std::ptr::null_mut();
            let seek: se_seek_fn = if seekable { Some(seek_cb) } else { None };
            // SAFETY: the callbacks and `cur` outlive the reader (freed below).
            let st = unsafe {
                se_reader_open_callbacks(
                    ctx.0,
                    Some(read_cb),
                    seek,
                    (&mut cur as *mut Cursor<Vec<u8>>).cast(),
                    -1,
                    &mut r,
                )
            };
            ok(st);
            if st != se_status::SE_OK {
                continue;
            }
            // SAFETY: `r` is live.
            ok(unsafe { se_reader_set_max_output(r, super::LIMIT) });
            let mut buf = vec![0u8; 70_000];
            for &(kind, arg) in ops {
                let mut n = 0usize;
                let mut pos = 0u64;
                // SAFETY: `r` live; buffers writable for the sizes given.
                let st = unsafe {
                    match kind {
                        0 | 5 => {
                            se_reader_read(r, buf.as_mut_ptr(), arg as usize % buf.len(), &mut n)
                        }
                        1 => se_reader_seek(r, arg as i64 * 7, 0, &mut pos),
                        2 => se_reader_seek(r, arg as i16 as i64, 1, &mut pos),
                        3 => se_reader_seek(r, -((arg % 4096) as i64), 2, std::ptr::null_mut()),
                        _ => se_reader_size(r, &mut pos),
                    }
                };
                ok(st);
            }
            // SAFETY: `r` live, freed once.
            unsafe { se_reader_free(r) };
        }
    }
}

impl Targets {
    /// The C entry points. First byte 0xff: a stream (script and stream follow); otherwise the
    /// first byte sets `se_decrypt_into`'s buffer size and the rest is a value.
    pub fn c_api(&self, data: &[u8]) {
        thread_local! {
            static CTX: std::cell::OnceCell<c::Ctx> = const { std::cell::OnceCell::new() };
        }
        let Some((&first, rest)) = data.split_first() else {
            return;
        };
        CTX.with(|cell| {
            let ctx = cell.get_or_init(|| c::Ctx::gcm(&self.c_key));
            if first == 0xff {
                let (script, enc) = Script::split(rest);
                c::stream(ctx, &script.0, enc);
            } else {
                c::values(ctx, first as usize * 5, rest);
            }
        });
    }
}
