//! Conformance with the Ruby gem (issue #2, value format): every value-format vector in
//! `tests/vectors` (a vendored copy of `../shared/vectors`, refreshed by
//! `scripts/vendor-vectors`) must give the gem's recorded outcome, or, where the gem fails open
//! (SPEC, list at the top), our error.
//!
//! A missing or empty vector directory fails: nothing here is ever skipped. Each test counts the
//! cases it checked, prints the count, and asserts it equals the number in the file and in
//! `index.json`'s summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use symmetric_encryption::header::{self, Parsed, MAGIC};
use symmetric_encryption::{
    Cipher, CipherName, Context, Encoding, EncryptOptions, ErrorKind, Result,
};

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn read(rel: &str) -> Vec<u8> {
    let path = vectors_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "conformance vector {} cannot be read ({e}): the vectors are missing; vendor them \
             with scripts/vendor-vectors (this suite never skips)",
            path.display()
        )
    })
}

fn load(rel: &str) -> Value {
    let v: Value = serde_json::from_slice(&read(rel))
        .unwrap_or_else(|e| panic!("{rel} is not valid JSON: {e}"));
    assert!(
        v.as_object().is_some_and(|o| !o.is_empty()),
        "{rel} is empty: the vectors are missing or damaged"
    );
    v
}

fn summary(path: &[&str]) -> usize {
    let index = load("index.json");
    let mut v = &index["summary"];
    for p in path {
        v = &v[*p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("index.json has no summary count at {path:?}")) as usize
}

/// The non-empty array `key` of `v`.
fn cases<'a>(v: &'a Value, key: &str, file: &str) -> &'a [Value] {
    let arr = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{file} has no `{key}` array"));
    assert!(!arr.is_empty(), "{file}: `{key}` is empty");
    arr
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field `{key}` is missing or not a string in {v}"))
}

fn opt_s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn b(v: &Value, key: &str) -> bool {
    v[key]
        .as_bool()
        .unwrap_or_else(|| panic!("field `{key}` is missing or not a bool in {v}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("field `{key}` is missing or not a number in {v}"))
}

fn b64(text: &str) -> Vec<u8> {
    B64.decode(text)
        .unwrap_or_else(|e| panic!("bad base64 in vectors {text:?}: {e}"))
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex in vectors {text:?}: {e}"))
}

fn opt_b64(v: &Value, key: &str) -> Option<Vec<u8>> {
    opt_s(v, key).map(b64)
}

fn opt_hex(v: &Value, key: &str) -> Option<Vec<u8>> {
    opt_s(v, key).map(unhex)
}

/// A cipher from a vectors cipher description (`cipher_name`, `key_b64`, `iv_b64`, and
/// optionally `version`, `encoding`, `always_add_header`).
fn cipher_from(desc: &Value) -> Cipher {
    let name = CipherName::from_name(s(desc, "cipher_name")).expect("cipher name");
    let key = b64(s(desc, "key_b64"));
    let iv = opt_b64(desc, "iv_b64");
    let mut c = Cipher::new(name, &key, iv.as_deref()).expect("cipher from the vectors");
    if let Some(v) = desc.get("version").and_then(Value::as_u64) {
        c = c.with_version(u8::try_from(v).expect("version fits u8"));
    }
    if let Some(e) = opt_s(desc, "encoding") {
        c = c.with_encoding(Encoding::from_name(e).expect("encoding"));
    }
    if let Some(h) = desc.get("always_add_header").and_then(Value::as_bool) {
        c = c.with_always_add_header(h);
    }
    c
}

/// The context of a `ciphers` list (first = primary), optionally with every encoding replaced.
fn context_from(ciphers: &Value, encoding: Option<Encoding>) -> Context {
    let list = ciphers.as_array().expect("ciphers array");
    let ciphers = list
        .iter()
        .map(|d| {
            let c = cipher_from(d);
            match encoding {
                Some(e) => c.with_encoding(e),
                None => c,
            }
        })
        .collect();
    Context::new(ciphers).expect("context from the vectors")
}

/// Plaintext of a case: `plaintext_b64`, or `plaintext_file` checked against its SHA-256.
fn plaintext(case: &Value) -> Vec<u8> {
    let p = match opt_s(case, "plaintext_file") {
        Some(file) => {
            let p = read(file);
            assert_eq!(
                hex::encode(Sha256::digest(&p)),
                s(case, "plaintext_sha256"),
                "{file}: SHA-256"
            );
            p
        }
        None => b64(s(case, "plaintext_b64")),
    };
    assert_eq!(p.len() as u64, u(case, "plaintext_len"), "plaintext_len");
    if let Some(text) = opt_s(case, "plaintext_utf8") {
        assert_eq!(text.as_bytes(), p.as_slice(), "plaintext_utf8");
    }
    p
}

/// The encoded ciphertext of a case, as the gem returned it.
fn ciphertext(case: &Value) -> Vec<u8> {
    match (
        opt_s(case, "ciphertext_file"),
        opt_s(case, "ciphertext_wrapped"),
    ) {
        (Some(file), None | Some("raw")) => read(file),
        (Some(file), Some(w)) => panic!("{file}: unknown ciphertext_wrapped {w:?}"),
        (None, None) => s(case, "ciphertext").as_bytes().to_vec(),
        (None, Some("base64")) => b64(s(case, "ciphertext")),
        (None, Some(w)) => panic!("unknown ciphertext_wrapped {w:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------

/// What a call must give: the bytes, or an error of a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok(Vec<u8>),
    Err(ErrorKind),
}

/// Our error kind for an error the gem raised (SPEC section 5, "Error kinds").
fn kind_of_gem_error(class: &str, message: &str) -> ErrorKind {
    match class {
        // OpenSSL raises a GCM tag mismatch with an empty message.
        "OpenSSL::Cipher::CipherError" if message.is_empty() => ErrorKind::Authentication,
        "OpenSSL::Cipher::CipherError"
            if message == "bad decrypt" || message == "wrong final block length" =>
        {
            ErrorKind::Cipher
        }
        "SymmetricEncryption::CipherError" => ErrorKind::Cipher,
        // `iv must be 16 bytes`: an iv of the wrong length in a header.
        "ArgumentError" if message.contains("iv") => ErrorKind::Cipher,
        // Base64.urlsafe_decode64 refusing the text.
        "ArgumentError" if message.contains("invalid base64") => ErrorKind::Encoding,
        // `unsupported cipher algorithm (...)` from OpenSSL::Cipher.new.
        "RuntimeError" if message.contains("unsupported cipher") => ErrorKind::Cipher,
        // Ruby's TypeError on a truncated header (it indexes past the end and gets nil). We
        // raise a cipher error naming the missing field (checked in `check`).
        "TypeError" => ErrorKind::Cipher,
        _ => panic!("no error kind mapped for the gem's {class}: {message:?}"),
    }
}

/// An outcome object `{"ok": true, "value_b64": ...}` / `{"ok": false, "error_class", ...}`.
fn expect_from_outcome(o: &Value) -> Expect {
    if b(o, "ok") {
        Expect::Ok(b64(s(o, "value_b64")))
    } else {
        Expect::Err(kind_of_gem_error(
            s(o, "error_class"),
            opt_s(o, "error_message").unwrap_or(""),
        ))
    }
}

/// The gem's class of a failed outcome, for the truncated-header check.
fn gem_class(o: &Value) -> Option<&str> {
    (!b(o, "ok")).then(|| s(o, "error_class"))
}

/// Compares `actual` with `expected`; `Err` describes the difference. Where the gem raised a
/// TypeError (a truncated header), our cipher error must say what is missing.
fn check(
    actual: &Result<Vec<u8>>,
    expected: &Expect,
    gem_class: Option<&str>,
) -> Result<(), String> {
    match (actual, expected) {
        (Ok(got), Expect::Ok(want)) if got == want => Ok(()),
        (Ok(got), Expect::Ok(want)) => Err(format!(
            "decrypted to {} bytes {:?}, expected {} bytes {:?}",
            got.len(),
            String::from_utf8_lossy(&got[..got.len().min(60)]),
            want.len(),
            String::from_utf8_lossy(&want[..want.len().min(60)]),
        )),
        (Ok(got), Expect::Err(kind)) => Err(format!(
            "succeeded ({} bytes), expected a {kind} error",
            got.len()
        )),
        (Err(e), Expect::Ok(_)) => Err(format!("failed ({}: {e}), expected success", e.kind())),
        (Err(e), Expect::Err(kind)) if e.kind() != *kind => {
            Err(format!("{} error ({e}), expected a {kind} error", e.kind()))
        }
        (Err(e), Expect::Err(_)) => {
            if gem_class == Some("TypeError") && !e.to_string().contains("truncated header") {
                return Err(format!(
                    "the gem's TypeError (truncated header) must be a cipher error naming what \
                     is missing, got: {e}"
                ));
            }
            Ok(())
        }
    }
}

/// A case where the gem fails open and we return our error instead (SPEC, list at the top).
/// Each use asserts the vectors still record the gem failing open, so a change in the vectors
/// makes us look at the case again.
struct FailOpen {
    id: &'static str,
    ours: ErrorKind,
    why: &'static str,
}

fn fail_open<'a>(table: &'a [FailOpen], id: &str) -> Option<&'a FailOpen> {
    table.iter().find(|f| f.id == id)
}

/// Collects failures so one run reports every case that disagrees.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
    checked: BTreeMap<&'static str, usize>,
}

impl Report {
    fn result(&mut self, what: &'static str, id: &str, r: Result<(), String>) {
        *self.checked.entry(what).or_default() += 1;
        if let Err(e) = r {
            self.failures.push(format!("{id} [{what}]: {e}"));
        }
    }

    fn count(&self, what: &str) -> usize {
        self.checked.get(what).copied().unwrap_or(0)
    }

    fn finish(self, file: &str) {
        let counts: Vec<String> = self
            .checked
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        say(format_args!(
            "conformance {file}: checked {}",
            counts.join(", ")
        ));
        assert!(
            self.failures.is_empty(),
            "{file}: {} check(s) failed:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// Writes a line to the process's stderr directly: the test harness captures `eprintln!` of
/// passing tests, and the counts should show in every run.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

fn flags_of(text: &str) -> u8 {
    u8::from_str_radix(text.trim_start_matches("0x"), 16).expect("flags hex")
}

/// Checks our parse of a value's binary form against the case's `header` object (or null).
fn check_header_fields(decoded: &[u8], want: &Value) -> Result<(), String> {
    let parsed = header::parse(decoded).map_err(|e| format!("header parse failed: {e}"))?;
    if want.is_null() {
        return match parsed {
            None => Ok(()),
            Some(p) => Err(format!("expected no header, parsed {:?}", p.header)),
        };
    }
    let p = parsed.ok_or("expected a header, parsed none")?;
    let len = u(want, "length") as usize;
    eq("header length", p.len, len)?;
    eq(
        "header hex",
        hex::encode(&decoded[..len]),
        s(want, "hex").to_string(),
    )?;
    eq("version", u64::from(p.header.version), u(want, "version"))?;
    eq("flags", p.header.flags(), flags_of(s(want, "flags")))?;
    eq("compress", p.header.compressed, b(want, "compress"))?;
    eq("iv", p.header.iv.clone(), opt_b64(want, "iv_b64"))?;
    eq(
        "auth tag",
        p.header.auth_tag.map(|t| t.to_vec()),
        opt_hex(want, "auth_tag_hex"),
    )?;
    if let Some(n) = want.get("auth_data_len").and_then(Value::as_u64) {
        eq("auth data length", p.aad_len as u64, n)?;
    }
    if let Some(name) = opt_s(want, "cipher_name") {
        eq("cipher name", p.header.cipher_name.as_deref(), Some(name))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// strings.json
// ---------------------------------------------------------------------------------------------

#[test]
fn strings_json() {
    let file = load("strings.json");
    let keys = &file["keys"];
    let all = cases(&file, "cases", "strings.json");
    let mut r = Report::default();
    for case in all {
        let id = s(case, "id");
        let key = &keys[s(case, "key_id")];
        assert!(key.is_object(), "{id}: unknown key_id");
        assert_eq!(s(key, "cipher_name"), s(case, "cipher_name"), "{id}");
        let encoding = Encoding::from_name(s(case, "encoding")).expect("encoding");
        let always = b(case, "always_add_header");
        let compress = b(case, "compress");
        let random_iv = b(case, "random_iv");
        let cipher = cipher_from(key)
            .with_version(u8::try_from(u(case, "version")).expect("version"))
            .with_encoding(encoding)
            .with_always_add_header(always);
        let ctx = Context::new(vec![cipher]).expect("context");
        let plain = plaintext(case);
        let ct = ciphertext(case);

        r.result("cases", id, Ok(()));
        r.result(
            "decrypt",
            id,
            check(&ctx.decrypt(&ct), &Expect::Ok(plain.clone()), None),
        );
        let decoded = ctx.encoding().decode(&ct);
        r.result(
            "header",
            id,
            decoded
                .map_err(|e| format!("decode failed: {e}"))
                .and_then(|d| {
                    eq("decoded length", d.len() as u64, u(case, "decoded_len"))?;
                    check_header_fields(&d, &case["header"])
                }),
        );

        // The per-call `header` option defaults to the cipher's always_add_header and
        // random_iv to the context's randomize_iv (false): only compress is given.
        let opts = EncryptOptions {
            random_iv: random_iv.then_some(true),
            compress: Some(compress),
            ..EncryptOptions::default()
        };
        if b(case, "deterministic") {
            assert!(!random_iv, "{id}: deterministic with a random iv");
            r.result(
                "deterministic encrypt",
                id,
                match ctx.encrypt(&plain, &opts) {
                    Ok(ours) if ours == ct => Ok(()),
                    Ok(ours) => Err(format!(
                        "encrypts to {:?}, the gem wrote {:?}",
                        String::from_utf8_lossy(&ours[..ours.len().min(100)]),
                        String::from_utf8_lossy(&ct[..ct.len().min(100)])
                    )),
                    Err(e) => Err(format!("encrypt failed: {e}")),
                },
            );
        } else {
            // A random iv: our value has the same shape and decrypts back.
            r.result(
                "random encrypt",
                id,
                (|| {
                    let ours = ctx.encrypt(&plain, &opts).map_err(|e| e.to_string())?;
                    eq(
                        "round trip",
                        ctx.decrypt(&ours).map_err(|e| e.to_string())?,
                        plain.clone(),
                    )?;
                    let d = ctx.encoding().decode(&ours).map_err(|e| e.to_string())?;
                    eq("decoded length", d.len() as u64, u(case, "decoded_len"))?;
                    let theirs = &case["header"];
                    match header::parse(&d).map_err(|e| e.to_string())? {
                        None => eq("header", theirs.is_null(), true),
                        Some(p) => {
                            eq("header length", p.len as u64, u(theirs, "length"))?;
                            eq("flags", p.header.flags(), flags_of(s(theirs, "flags")))
                        }
                    }
                })(),
            );
        }
    }
    assert_eq!(r.count("cases"), all.len());
    assert_eq!(r.count("cases"), summary(&["strings", "cases"]));
    assert_eq!(
        r.count("deterministic encrypt"),
        summary(&["strings", "deterministic"])
    );
    assert_eq!(
        r.count("deterministic encrypt") + r.count("random encrypt"),
        all.len()
    );
    r.finish("strings.json");
}

// ---------------------------------------------------------------------------------------------
// strings_v46.json
// ---------------------------------------------------------------------------------------------

#[test]
fn strings_v46_json() {
    let file = load("strings_v46.json");
    let all = cases(&file, "cases", "strings_v46.json");
    let mut r = Report::default();
    for case in all {
        let id = s(case, "id");
        let encoding = Encoding::from_name(s(case, "encoding")).expect("encoding");
        let cipher = cipher_from(case)
            .with_encoding(encoding)
            .with_always_add_header(b(case, "always_add_header"));
        let ctx = Context::new(vec![cipher]).expect("context");
        let plain = plaintext(case);
        let ct = ciphertext(case);
        // "ok", or "<error class>: <message>" from 5.0.0. The GCM values 4.6 wrote carry no
        // tag: 5.0 refuses them (SymmetricEncryption::CipherError -> cipher).
        let outcome = s(case, "v5_decrypt");
        let (expected, class) = match outcome.split_once(": ") {
            _ if outcome == "ok" => (Expect::Ok(plain.clone()), None),
            Some((class, msg)) => (Expect::Err(kind_of_gem_error(class, msg)), Some(class)),
            None => panic!("{id}: unreadable v5_decrypt {outcome:?}"),
        };
        r.result("cases", id, check(&ctx.decrypt(&ct), &expected, class));
        match case.get("v5_reencrypt_identical").and_then(Value::as_bool) {
            Some(identical) => r.result(
                "re-encrypt",
                id,
                ctx.encrypt(
                    &plain,
                    &EncryptOptions {
                        compress: Some(b(case, "compress")),
                        ..EncryptOptions::default()
                    },
                )
                .map_err(|e| e.to_string())
                .and_then(|ours| eq("identical to the 4.6 value", ours == ct, identical)),
            ),
            None => assert!(
                !b(case, "deterministic") || expected != Expect::Ok(plain),
                "{id}: a deterministic value without v5_reencrypt_identical"
            ),
        }
    }
    assert_eq!(r.count("cases"), all.len());
    assert_eq!(r.count("cases"), summary(&["v46", "strings"]));
    r.finish("strings_v46.json");
}

// ---------------------------------------------------------------------------------------------
// headers.json
// ---------------------------------------------------------------------------------------------

/// What the gem's `Header#parse` does: parse, select the cipher of the header's version (an
/// unknown version is an error, version 0 falls back to the primary), and decrypt the key field
/// with it. Returns the parse and the decrypted key.
fn gem_parse(ctx: &Context, bytes: &[u8]) -> Result<Option<(Parsed, Option<Vec<u8>>)>> {
    let Some(p) = header::parse(bytes)? else {
        return Ok(None);
    };
    let cipher = ctx.cipher_for_header(p.header.version)?;
    let key = match &p.header.encrypted_key {
        Some(ek) => Some(cipher.decrypt_key_field(ek, 0)?),
        None => None,
    };
    Ok(Some((p, key)))
}

/// Compares a successful parse with the outcome's `value`.
fn check_parse_value(got: &Option<(Parsed, Option<Vec<u8>>)>, v: &Value) -> Result<(), String> {
    let offset = u(v, "offset") as usize;
    let Some((p, key)) = got else {
        return eq("offset", 0, offset);
    };
    let h = &p.header;
    eq("offset", p.len, offset)?;
    eq("version", u64::from(h.version), u(v, "version"))?;
    eq("compress", h.compressed, b(v, "compress"))?;
    eq("iv", h.iv.clone(), opt_hex(v, "iv_hex"))?;
    eq("key", key.clone(), opt_hex(v, "key_hex"))?;
    eq(
        "cipher name",
        h.cipher_name.as_deref(),
        opt_s(v, "cipher_name"),
    )?;
    eq(
        "auth tag",
        h.auth_tag.map(|t| t.to_vec()),
        opt_hex(v, "auth_tag_hex"),
    )?;
    eq(
        "chunk size",
        h.chunk_size().map(|n| n as u64),
        v["chunk_size"].as_u64(),
    )?;
    eq("authenticated", h.auth_tag.is_some(), b(v, "authenticated"))?;
    eq("chunked", h.is_chunked(), b(v, "chunked"))
}

/// [`gem_parse`] against an outcome, with our error where the gem fails open.
fn check_gem_parse(
    ctx: &Context,
    bytes: &[u8],
    want: &Value,
    ours: Option<ErrorKind>,
) -> Result<(), String> {
    let got = gem_parse(ctx, bytes);
    if ours.is_some() || !b(want, "ok") {
        let as_bytes = got.map(|_| Vec::new());
        let expected = match ours {
            Some(kind) => Expect::Err(kind),
            None => expect_from_outcome(want),
        };
        return check(&as_bytes, &expected, gem_class(want));
    }
    match got {
        Err(e) => Err(format!(
            "parse failed ({}: {e}), expected success",
            e.kind()
        )),
        Ok(p) => check_parse_value(&p, &want["value"]),
    }
}

#[test]
fn headers_json_headers() {
    let file = load("headers.json");
    let ctx = context_from(&file["context"]["ciphers"], None);
    let all = cases(&file, "headers", "headers.json");
    let mut r = Report::default();
    for case in all {
        let id = s(case, "id");
        let bytes = unhex(s(case, "header_hex"));
        eq("length", bytes.len() as u64, u(case, "length")).unwrap();
        r.result("headers", id, Ok(()));
        r.result(
            "parse_alone",
            id,
            check_gem_parse(&ctx, &bytes, &case["parse_alone"], None),
        );
        for trailing in [0x00u8, 0xff] {
            let mut with = bytes.clone();
            with.push(trailing);
            r.result(
                "parse_with_trailing_byte",
                id,
                check_gem_parse(&ctx, &with, &case["parse_with_trailing_byte"], None),
            );
        }
        // Building the header from its inputs gives the gem's bytes: the key field is the key
        // encrypted by the cipher of the header's version, deterministically.
        r.result("build", id, build_header(&ctx, case, &bytes));
    }
    assert_eq!(r.count("headers"), all.len());
    assert_eq!(r.count("headers"), summary(&["headers", "headers"]));
    r.finish("headers.json headers[]");
}

fn build_header(ctx: &Context, case: &Value, bytes: &[u8]) -> Result<(), String> {
    let inputs = &case["inputs"];
    let version = u8::try_from(u(inputs, "version")).expect("version");
    let encrypted_key = match opt_hex(inputs, "key_hex") {
        Some(key) => Some(
            ctx.cipher_for_header(version)
                .and_then(|c| c.encrypt_key_field(&key))
                .map_err(|e| format!("key field: {e}"))?,
        ),
        None => None,
    };
    eq(
        "encrypted key",
        encrypted_key.clone(),
        opt_hex(case, "encrypted_key_hex"),
    )?;
    let h = header::Header {
        version,
        compressed: b(inputs, "compress"),
        iv: opt_hex(inputs, "iv_hex"),
        encrypted_key,
        cipher_name: opt_s(inputs, "cipher_name").map(str::to_string),
        chunk_log2: inputs["chunk_size"].as_u64().map(|n| {
            assert!(n.is_power_of_two());
            n.trailing_zeros() as u8
        }),
        auth_tag: opt_hex(inputs, "auth_tag_hex").map(|t| t.try_into().expect("16-byte tag")),
        reserved_flags: 0,
    };
    eq("flags", h.flags(), flags_of(s(case, "flags")))?;
    let ours = h.to_bytes().map_err(|e| e.to_string())?;
    eq("header bytes", hex::encode(&ours), hex::encode(bytes))?;
    if let Some(aad) = opt_s(case, "auth_data_hex") {
        let p = header::parse(bytes)
            .map_err(|e| e.to_string())?
            .ok_or("no header")?;
        eq(
            "auth data",
            hex::encode(&bytes[..p.aad_len]),
            aad.to_string(),
        )?;
    }
    Ok(())
}

/// malformed[] cases where the gem fails open, with our error (SPEC, list at the top).
const MALFORMED_PARSE_FAIL_OPEN: &[FailOpen] = &[FailOpen {
    id: "malformed-iv_length_exceeds_buffer",
    ours: ErrorKind::Cipher,
    why: "the gem takes the 5 bytes that are there as a 16-byte iv; a field length running \
          past the buffer is an error for us",
}];

const MALFORMED_DECRYPT_FAIL_OPEN: &[FailOpen] = &[
    FailOpen {
        id: "malformed-iv_length_exceeds_buffer",
        ours: ErrorKind::Cipher,
        why: "the gem decrypts a header whose iv length runs past the buffer to \"\"",
    },
    FailOpen {
        id: "malformed-gcm_value_header_only",
        ours: ErrorKind::Authentication,
        why: "the gem returns \"\" for a GCM value cut down to its header without checking \
              the tag; we check it (it covers empty data) and it fails",
    },
    FailOpen {
        id: "malformed-chunked_header_without_data",
        ours: ErrorKind::Cipher,
        why: "the gem decrypts a chunked-stream header as an empty value; SPEC 5: a header \
              with the chunked flag is a stream, not a value",
    },
];

#[test]
fn headers_json_malformed() {
    let file = load("headers.json");
    let ctx = context_from(&file["context"]["ciphers"], None);
    let all = cases(&file, "malformed", "headers.json");
    let mut r = Report::default();
    for case in all {
        let id = s(case, "id");
        let bytes = unhex(s(case, "input_hex"));
        let text = s(case, "input_base64strict");
        assert_eq!(b64(text), bytes, "{id}: the two inputs differ");
        r.result("malformed", id, Ok(()));
        r.result(
            "present",
            id,
            eq("present", bytes.starts_with(MAGIC), b(case, "present")).and_then(|_| {
                eq(
                    "encrypted?",
                    ctx.is_encrypted(text.as_bytes()),
                    b(case, "present"),
                )
            }),
        );

        let parse_override = fail_open(MALFORMED_PARSE_FAIL_OPEN, id);
        if let Some(f) = parse_override {
            assert!(
                b(&case["parse"], "ok"),
                "{id}: the gem no longer fails open: {}",
                f.why
            );
        }
        r.result(
            "parse",
            id,
            check_gem_parse(&ctx, &bytes, &case["parse"], parse_override.map(|f| f.ours)),
        );

        let want = &case["decrypt"];
        let expected = match fail_open(MALFORMED_DECRYPT_FAIL_OPEN, id) {
            Some(f) => {
                assert_eq!(
                    expect_from_outcome(want),
                    Expect::Ok(Vec::new()),
                    "{id}: the gem no longer fails open: {}",
                    f.why
                );
                Expect::Err(f.ours)
            }
            None => expect_from_outcome(want),
        };
        r.result(
            "decrypt",
            id,
            check(&ctx.decrypt(text.as_bytes()), &expected, gem_class(want)),
        );
    }
    assert_eq!(r.count("malformed"), all.len());
    assert_eq!(r.count("malformed"), summary(&["headers", "malformed"]));
    r.finish("headers.json malformed[]");
}

/// decoding[] cases where the gem silently mis-decodes base16 and we refuse the text.
const DECODING_FAIL_OPEN: &[FailOpen] = &[
    FailOpen {
        id: "decode-base16-trailing_newline",
        ours: ErrorKind::Encoding,
        why: "non-hex base16 (a newline): the gem mis-decodes it",
    },
    FailOpen {
        id: "decode-base16-newlines_inside",
        ours: ErrorKind::Encoding,
        why: "non-hex base16 (newlines): the gem mis-decodes it",
    },
    FailOpen {
        id: "decode-base16-spaces_inside",
        ours: ErrorKind::Encoding,
        why: "non-hex base16 (spaces): the gem mis-decodes it",
    },
    FailOpen {
        id: "decode-base16-invalid_chars",
        ours: ErrorKind::Encoding,
        why: "non-hex base16 (`*!`): the gem mis-decodes it into version 161",
    },
    FailOpen {
        id: "decode-base16-odd_length",
        ours: ErrorKind::Encoding,
        why: "odd-length base16: the gem pads the last nibble with 0 (a mis-decode that the \
              CBC padding happens to catch); SPEC 6 makes it an encoding error",
    },
];

#[test]
fn headers_json_decoding() {
    let file = load("headers.json");
    let all = cases(&file, "decoding", "headers.json");
    let mut r = Report::default();
    for case in all {
        let id = s(case, "id");
        let encoding = Encoding::from_name(s(case, "encoding")).expect("encoding");
        r.result("decoding", id, Ok(()));
        if let Some(magic) = opt_s(case, "encoded_magic_header") {
            let magic = match opt_s(case, "encoded_magic_header_wrapped") {
                Some("base64") => b64(magic),
                None => magic.as_bytes().to_vec(),
                Some(w) => panic!("{id}: unknown wrapping {w:?}"),
            };
            r.result(
                "magic",
                id,
                eq("magic prefix", encoding.magic_prefix().to_vec(), magic),
            );
            continue;
        }
        let ctx = context_from(&file["context"]["ciphers"], Some(encoding));
        let input = s(case, "input").as_bytes();
        let want = &case["decrypt"];
        let expected = match fail_open(DECODING_FAIL_OPEN, id) {
            Some(f) => {
                assert_ne!(
                    gem_class(want),
                    Some("ArgumentError"),
                    "{id}: the gem now refuses the text: {}",
                    f.why
                );
                Expect::Err(f.ours)
            }
            None => expect_from_outcome(want),
        };
        r.result(
            "decrypt",
            id,
            check(&ctx.decrypt(input), &expected, gem_class(want)),
        );
        r.result(
            "encrypted?",
            id,
            eq("encrypted?", ctx.is_encrypted(input), b(case, "encrypted?")),
        );
    }
    assert_eq!(r.count("decoding"), all.len());
    assert_eq!(r.count("decoding"), summary(&["headers", "decoding"]));
    assert_eq!(r.count("magic"), Encoding::ALL.len());
    r.finish("headers.json decoding[]");
}

// ---------------------------------------------------------------------------------------------
// tamper.json (strings[]; files[] is the stream reader's)
// ---------------------------------------------------------------------------------------------

const TAMPER_FAIL_OPEN: &[FailOpen] = &[
    FailOpen {
        id: "gcm-riv-body_removed",
        ours: ErrorKind::Authentication,
        why: "a GCM value cut down to its header: the gem returns \"\" without checking the tag",
    },
    FailOpen {
        id: "gcm-riv-z-body_removed",
        ours: ErrorKind::Authentication,
        why: "a compressed GCM value cut down to its header: the gem returns \"\" without \
              checking the tag",
    },
];

#[test]
fn tamper_json_strings() {
    let file = load("tamper.json");
    let ctx = context_from(&file["ciphers"], None);
    assert_eq!(
        u64::from(ctx.primary().version()),
        u(&file, "primary_version")
    );
    let all = cases(&file, "strings", "tamper.json");
    let mut r = Report::default();
    for case in all {
        let id = s(case, "id");
        let want = &case["decrypt"];
        let expected = match fail_open(TAMPER_FAIL_OPEN, id) {
            Some(f) => {
                assert!(
                    case.get("note").is_some()
                        && expect_from_outcome(want) == Expect::Ok(Vec::new()),
                    "{id}: the gem no longer fails open: {}",
                    f.why
                );
                Expect::Err(f.ours)
            }
            None => {
                assert!(
                    case.get("note").is_none(),
                    "{id}: a case the reference accepts although altered, not decided here"
                );
                expect_from_outcome(want)
            }
        };
        r.result(
            "strings",
            id,
            check(
                &ctx.decrypt(s(case, "input_base64strict").as_bytes()),
                &expected,
                gem_class(want),
            ),
        );
    }
    assert_eq!(r.count("strings"), all.len());
    assert_eq!(r.count("strings"), summary(&["tamper", "strings"]));
    r.finish("tamper.json strings[]");
}

/// tamper.json files[] marked in `note` as accepted by the reference although altered: chunked
/// streams cut back to their header. SPEC 8 makes them a truncation error of the stream reader
/// (its own suite); here we check the value API does not read them as an empty value either.
#[test]
fn tamper_json_files_accepted_by_the_reference() {
    let file = load("tamper.json");
    let ctx = context_from(&file["ciphers"], None);
    let noted: Vec<&Value> = cases(&file, "files", "tamper.json")
        .iter()
        .filter(|c| c.get("note").is_some())
        .collect();
    assert!(
        !noted.is_empty(),
        "tamper.json: no files[] case carries a note"
    );
    for case in &noted {
        let id = s(case, "id");
        assert!(
            b(&case["read"], "ok"),
            "{id}: the reference no longer accepts it"
        );
        let bytes = read(s(case, "file"));
        let err = ctx.binary_decrypt_with_version(&bytes, None).expect_err(id);
        assert_eq!(err.kind(), ErrorKind::Cipher, "{id}: {err}");
    }
    say(format_args!(
        "conformance tamper.json files[]: checked {} noted case(s) against the value API",
        noted.len()
    ));
}

// ---------------------------------------------------------------------------------------------
// The vendored copy itself
// ---------------------------------------------------------------------------------------------

/// Every file this suite reads is in `index.json` with the recorded size and SHA-256, so a
/// partial or edited copy fails here instead of passing quietly.
#[test]
fn vectors_match_their_index() {
    let index = load("index.json");
    let files = index["files"].as_array().expect("index.json files");
    let mut checked = 0;
    for f in files {
        let path = s(f, "path");
        let used = [
            "strings.json",
            "strings_v46.json",
            "headers.json",
            "tamper.json",
        ]
        .contains(&path)
            || path.starts_with("strings_data/")
            || path.starts_with("tamper/")
            || path == "configs/index.json"
            || (path.starts_with("configs/") && path.ends_with("/set.json"));
        if !used {
            continue;
        }
        let bytes = read(path);
        assert_eq!(bytes.len() as u64, u(f, "size"), "{path}: size");
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            s(f, "sha256"),
            "{path}: SHA-256"
        );
        checked += 1;
    }
    say(format_args!(
        "conformance index.json: checked {checked} vendored file(s)"
    ));
    assert!(
        checked >= 4,
        "index.json lists too few of the files this suite reads"
    );
}

// ---------------------------------------------------------------------------------------------
// configs/*/set.json samples, at the value level
// ---------------------------------------------------------------------------------------------

/// The samples of every configuration set, decrypted with the ciphers the set resolves to
/// (`resolved_ciphers`, primary first) and, when deterministic, re-encrypted byte for byte.
/// Loading the configuration files themselves is the config suite's job; this checks only that
/// each environment's values are what our value format reads and writes.
#[test]
fn configs_samples() {
    let listed = cases(&load("configs/index.json"), "sets", "configs/index.json").len();
    let mut r = Report::default();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(vectors_dir().join("configs"))
        .expect("configs directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("set.json").is_file())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), listed, "configs/index.json");
    assert_eq!(
        dirs.len(),
        summary(&["configs", "sets"]) + summary(&["v46", "configs"])
    );
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let set = load(&format!("configs/{name}/set.json"));
        r.result("sets", &name, Ok(()));
        let Some(envs) = set["environments"].as_array() else {
            continue;
        };
        for env in envs {
            let ctx = context_from(&env["resolved_ciphers"], None);
            for sample in env["samples"].as_array().into_iter().flatten() {
                let id = format!("{name}/{}", s(sample, "sample_id"));
                let plain = plaintext(sample);
                let ct = ciphertext(sample);
                let version = u8::try_from(u(sample, "cipher_version")).expect("version");
                r.result(
                    "samples",
                    &id,
                    check(
                        &ctx.decrypt_with_version(&ct, Some(version)),
                        &Expect::Ok(plain.clone()),
                        None,
                    ),
                );
                if b(sample, "deterministic") {
                    let opts = EncryptOptions {
                        compress: Some(b(sample, "compress")),
                        version: Some(version),
                        ..EncryptOptions::default()
                    };
                    r.result(
                        "deterministic encrypt",
                        &id,
                        ctx.encrypt(&plain, &opts)
                            .map_err(|e| e.to_string())
                            .and_then(|ours| eq("ciphertext", ours, ct)),
                    );
                }
            }
        }
    }
    assert!(r.count("samples") > 0, "no configuration samples found");
    r.finish("configs/*/set.json samples");
}
