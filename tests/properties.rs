//! Property tests of the value format: round trips over every cipher, encoding and option, and
//! "arbitrary input never panics" for every entry point that reads untrusted bytes. Also: error
//! messages and `Debug` output never show key bytes.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use proptest::prelude::*;
use symmetric_encryption::header::{self, MAGIC};
use symmetric_encryption::{
    Cipher, CipherName, Context, Encoding, EncryptOptions, Error, ErrorKind, Result,
};

fn cipher(name: CipherName, key: &[u8], iv: Option<&[u8]>, version: u8, enc: Encoding) -> Cipher {
    Cipher::new(
        name,
        &key[..name.key_len()],
        iv.map(|iv| &iv[..name.iv_len()]),
    )
    .expect("valid key and iv lengths")
    .with_version(version)
    .with_encoding(enc)
}

/// Key material for any cipher: 32 bytes, cut to the cipher's key length.
fn key32() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 32)
}

fn iv16() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 16))
}

fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // Compressible text, and text that looks like a header.
        "[a-c \n]{0,300}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|mut v| {
            let mut p = MAGIC.to_vec();
            p.append(&mut v);
            p
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every cipher x encoding x random_iv x compress x header: encrypt then decrypt gives the
    /// plaintext back, through the context and through the cipher; without a random iv the
    /// value is deterministic.
    #[test]
    fn every_combination_round_trips(
        plain in plaintext(),
        key in key32(),
        iv in iv16(),
        version in any::<u8>(),
    ) {
        let mut combinations = 0;
        for name in CipherName::ALL {
            for enc in Encoding::ALL {
                let c = cipher(name, &key, iv.as_deref(), version, enc);
                let ctx = Context::new(vec![c.clone()]).unwrap();
                for random_iv in [false, true] {
                    for compress in [false, true] {
                        for add_header in [false, true] {
                            combinations += 1;
                            let opts = EncryptOptions {
                                random_iv: Some(random_iv),
                                compress: Some(compress),
                                header: Some(add_header),
                                version: None,
                            };
                            let what = format!(
                                "{name} {enc} random_iv={random_iv} compress={compress} header={add_header}"
                            );
                            let value = ctx.encrypt(&plain, &opts).unwrap();
                            if plain.is_empty() {
                                prop_assert!(value.is_empty(), "{}", what);
                            }
                            prop_assert_eq!(&ctx.decrypt(&value).unwrap(), &plain, "{}", &what);
                            prop_assert_eq!(&c.decrypt(&value).unwrap(), &plain, "{}", &what);
                            let binary = enc.decode(&value).unwrap();
                            prop_assert_eq!(&c.binary_decrypt(&binary).unwrap(), &plain, "{}", &what);
                            let has_header = header::parse(&binary).unwrap().is_some();
                            let wants_header = !plain.is_empty()
                                && (name.is_authenticated() || add_header || random_iv || compress);
                            prop_assert_eq!(has_header, wants_header, "{}", &what);
                            if !random_iv {
                                prop_assert_eq!(&ctx.encrypt(&plain, &opts).unwrap(), &value, "{}", &what);
                            }
                        }
                    }
                }
            }
        }
        prop_assert_eq!(combinations, 6 * 5 * 2 * 2 * 2);
    }

    /// A context of several ciphers decrypts what any of them encrypted: the header's version
    /// selects the cipher, and a value without a header needs the version from the caller.
    #[test]
    fn every_version_of_a_context_decrypts(
        plain in prop::collection::vec(any::<u8>(), 1..100),
        keys in prop::collection::vec(key32(), 3),
        names in prop::collection::vec(prop::sample::select(CipherName::ALL.to_vec()), 3),
        versions in prop::sample::subsequence((1u8..=255).collect::<Vec<_>>(), 3).prop_shuffle(),
        add_header in any::<bool>(),
        enc in prop::sample::select(vec![Encoding::Base64Strict, Encoding::Base64]),
    ) {
        let ciphers: Vec<Cipher> = (0..3)
            .map(|i| {
                // base64 and base64strict may be mixed within one environment.
                let e = if i == 1 { Encoding::Base64 } else { enc };
                cipher(names[i], &keys[i], None, versions[i], e).with_always_add_header(add_header)
            })
            .collect();
        let ctx = Context::new(ciphers).unwrap();
        for v in versions {
            let opts = EncryptOptions { version: Some(v), ..EncryptOptions::default() };
            let value = ctx.encrypt(&plain, &opts).unwrap();
            prop_assert_eq!(&ctx.decrypt_with_version(&value, Some(v)).unwrap(), &plain);
            let binary = ctx.encoding().decode(&value).unwrap();
            if header::parse(&binary).unwrap().is_some() {
                prop_assert_eq!(&ctx.decrypt(&value).unwrap(), &plain);
            }
        }
    }

    /// Any change to an authenticated value's bytes (but cutting it to nothing, which is the
    /// empty value) is refused; a changed body or tag is an authentication error.
    #[test]
    fn altered_gcm_values_are_refused(
        plain in prop::collection::vec(any::<u8>(), 0..64),
        key in key32(),
        name in prop::sample::select(vec![CipherName::Aes128Gcm, CipherName::Aes192Gcm, CipherName::Aes256Gcm]),
        compress in any::<bool>(),
        random_iv in any::<bool>(),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<prop::sample::Index>(),
    ) {
        let c = cipher(name, &key, None, 7, Encoding::None);
        let ctx = Context::new(vec![c]).unwrap();
        let opts = EncryptOptions {
            random_iv: Some(random_iv),
            compress: Some(compress),
            ..EncryptOptions::default()
        };
        let value = ctx.binary_encrypt(&plain, &opts).unwrap();
        if value.is_empty() {
            return Ok(());
        }
        let parsed = header::parse(&value).unwrap().unwrap();

        let mut flipped = value.clone();
        let i = position.index(value.len());
        flipped[i] ^= 1 << bit;
        let err = ctx.decrypt(&flipped).expect_err("a flipped bit must be refused");
        if i >= parsed.aad_len + 2 {
            prop_assert_eq!(err.kind(), ErrorKind::Authentication, "byte {}: {}", i, err);
        }

        let n = 1 + cut.index(value.len() - 1);
        prop_assert!(n < value.len());
        prop_assert!(ctx.decrypt(&value[..n]).is_err(), "cut to {} bytes", n);
        let mut longer = value.clone();
        longer.push(0);
        prop_assert_eq!(ctx.decrypt(&longer).unwrap_err().kind(), ErrorKind::Authentication);
    }
}

/// Every place that reads untrusted bytes: none of them may panic, whatever the input.
fn never_panics(ctxs: &[Context], input: &[u8]) {
    for ctx in ctxs {
        let _ = ctx.decrypt(input);
        let _ = ctx.decrypt_with_version(input, Some(1));
        let _ = ctx.binary_decrypt_with_version(input, None);
        let _ = ctx.header(input);
        let _ = ctx.is_encrypted(input);
        for c in ctx.ciphers() {
            let _ = c.binary_decrypt(input);
            let _ = c.decrypt(input);
            let _ = c.decrypt_key_field(input, 0);
            let _ = c.kek_decrypt(input);
        }
    }
    for enc in Encoding::ALL {
        let _ = enc.decode(input);
    }
    if let Ok(Some(p)) = header::parse(input) {
        assert!(p.aad_len <= p.len && p.len <= input.len());
        // What parses writes back to the same bytes.
        assert_eq!(p.header.to_bytes().unwrap(), &input[..p.len]);
    }
}

/// Contexts with ciphers of every kind and encoding, versions 0, 1, 2 and 200.
fn contexts() -> Vec<Context> {
    Encoding::ALL
        .iter()
        .map(|&enc| {
            Context::new(vec![
                cipher(CipherName::Aes256Gcm, &[1; 32], Some(&[2; 16]), 1, enc),
                cipher(CipherName::Aes128Cbc, &[3; 32], Some(&[4; 16]), 2, enc),
                cipher(CipherName::Aes192Cbc, &[5; 32], None, 0, enc),
                cipher(CipherName::Aes128Gcm, &[6; 32], None, 200, enc),
            ])
            .unwrap()
        })
        .collect()
}

/// Bytes that start like a header (magic, a configured or unknown version, any flags), so the
/// parser and the decryptors get past the first check.
fn header_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![0u8, 1, 2, 9, 200]),
        any::<u8>(),
        prop::collection::vec(
            prop_oneof![
                any::<u8>(),
                Just(0u8),
                Just(12),
                Just(16),
                Just(b'@'),
                Just(10),
                Just(24)
            ],
            0..80,
        ),
    )
        .prop_map(|(version, flags, tail)| {
            let mut v = MAGIC.to_vec();
            v.push(version);
            v.push(flags);
            v.extend(tail);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..120)) {
        never_panics(&contexts(), &input);
    }

    #[test]
    fn header_like_bytes_never_panic(input in header_like()) {
        never_panics(&contexts(), &input);
        // The same bytes as each encoding gives them.
        let ctxs = contexts();
        for (ctx, enc) in ctxs.iter().zip(Encoding::ALL) {
            never_panics(std::slice::from_ref(ctx), &enc.encode(&input));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(input in "[A-Za-z0-9+/=_\\- \n*]{0,120}") {
        never_panics(&contexts(), input.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets stay out of messages
// ---------------------------------------------------------------------------------------------

/// The forms in which key bytes could leak into a message.
fn key_forms(key: &[u8]) -> Vec<String> {
    let mut forms = vec![
        hex::encode(key),
        hex::encode_upper(key),
        STANDARD.encode(key),
        STANDARD_NO_PAD.encode(key),
        URL_SAFE.encode(key),
        URL_SAFE_NO_PAD.encode(key),
        format!("{key:?}"),
    ];
    if let Ok(text) = std::str::from_utf8(key) {
        forms.push(text.to_string());
    }
    forms
}

fn assert_no_key(what: &str, text: &str, key: &[u8]) {
    for form in key_forms(key) {
        assert!(
            !text.contains(&form),
            "{what} shows the key ({form}): {text}"
        );
    }
}

fn assert_err_has_no_key(what: &str, r: Result<Vec<u8>>, key: &[u8]) -> Error {
    let err = r.expect_err(what);
    assert_no_key(what, &err.to_string(), key);
    assert_no_key(what, &format!("{err:?}"), key);
    err
}

#[test]
fn error_messages_never_show_the_key() {
    // A printable key too: the gem's development key is text.
    let keys: [&[u8]; 2] = [
        &[
            0x5a, 0x13, 0xc4, 0x9e, 0x01, 0x77, 0xf0, 0x2b, 0x88, 0x31, 0x6d, 0xe2, 0x40, 0x19,
            0xab, 0x5c, 0x9d, 0x03, 0x7e, 0xb1, 0x64, 0x2f, 0xd8, 0x11, 0x0c, 0x95, 0x4a, 0xe7,
            0x36, 0x80, 0xfb, 0x22,
        ],
        b"1234567890ABCDEF1234567890ABCDEF",
    ];
    for key in keys {
        for name in CipherName::ALL {
            let key = &key[..name.key_len()];
            let c = Cipher::new(name, key, None).unwrap().with_version(3);
            let ctx = Context::new(vec![c.clone()]).unwrap();
            let value = ctx
                .binary_encrypt(b"4111 1111 1111 1111", &EncryptOptions::default())
                .unwrap();
            let what = |s: &str| format!("{name}: {s}");

            // Wrong key: bad padding, or a tag mismatch.
            let mut other_key = key.to_vec();
            other_key[0] ^= 0xff;
            let other = Context::new(vec![Cipher::new(name, &other_key, None)
                .unwrap()
                .with_version(3)])
            .unwrap();
            let err = assert_err_has_no_key(
                &what("wrong key"),
                other.binary_decrypt_with_version(&value, None),
                key,
            );
            assert_no_key(&what("wrong key"), &err.to_string(), &other_key);
            // A flipped last byte.
            let mut flipped = value.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert_err_has_no_key(
                &what("flipped"),
                ctx.binary_decrypt_with_version(&flipped, None),
                key,
            );
            // Truncated, unknown version, not block-aligned, garbage text.
            assert_err_has_no_key(
                &what("truncated"),
                ctx.binary_decrypt_with_version(&value[..value.len() - 3], None),
                key,
            );
            let mut unknown = value.clone();
            unknown[4] = 99;
            let err = assert_err_has_no_key(
                &what("unknown version"),
                ctx.binary_decrypt_with_version(&unknown, None),
                key,
            );
            assert_eq!(err.kind(), ErrorKind::Cipher);
            assert_err_has_no_key(&what("garbage"), ctx.decrypt(b"QEVuQwNAAgAB"), key);
            assert_err_has_no_key(
                &what("raw"),
                ctx.binary_decrypt_with_version(&[7u8; 17], None),
                key,
            );
            // The key as a key-encrypting key.
            assert_err_has_no_key(
                &what("kek"),
                c.kek_decrypt(&[9u8; 48]).map(|k| k.to_vec()),
                key,
            );
            // A configuration error about the key or iv names lengths, never bytes.
            let long_key = [key, &[0x42][..]].concat();
            let err = Cipher::new(name, &long_key, None).expect_err("a long key");
            assert_eq!(err.kind(), ErrorKind::Config);
            assert_no_key(&what("key length"), &err.to_string(), key);
            let err = Cipher::new(name, key, Some(&key[..5])).expect_err("a short iv");
            assert_eq!(err.kind(), ErrorKind::Config);
            assert_no_key(&what("iv length"), &err.to_string(), &key[..5]);
        }
    }
}

#[test]
fn debug_output_filters_keys_and_ivs() {
    let key = [0xa7u8; 32];
    let iv = [0x3cu8; 16];
    for name in CipherName::ALL {
        let c = Cipher::new(name, &key[..name.key_len()], Some(&iv[..name.iv_len()])).unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("[FILTERED]"), "{shown}");
        assert_no_key("Debug of a cipher", &shown, &key[..name.key_len()]);
        assert_no_key("Debug of a cipher", &shown, &iv[..name.iv_len()]);
        let ctx = Context::new(vec![c]).unwrap();
        let shown = format!("{ctx:?}");
        assert!(shown.contains("[FILTERED]"), "{shown}");
        assert_no_key("Debug of a context", &shown, &key[..name.key_len()]);
        assert_no_key("Debug of a context", &shown, &iv[..name.iv_len()]);
    }
}
