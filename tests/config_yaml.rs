//! The YAML forms the gem reads: anchors, aliases and merge keys, `!binary` and `!!binary`,
//! all-digit keys, Ruby symbols, legacy inline entries; and what the writer does with them.

use symmetric_encryption::{CipherName, Config, Context, Encoding, KeystoreKind};

const KEY32: &str = "0123456789abcdefghijklmnopqrstuv";

#[test]
fn anchors_aliases_and_merge_keys() {
    let yaml = format!(
        "defaults: &defaults\n  cipher_name: aes-256-cbc\n  key: {KEY32}\n  iv: 1234567890ABCDEF\n\
         development:\n  ciphers:\n  - <<: *defaults\n    version: 1\n\
         production:\n  ciphers:\n  - <<: *defaults\n    version: 2\n    encoding: :base16\n  \
         - &old\n    <<: *defaults\n    cipher_name: aes-128-cbc\n    key: 1234567890ABCDEF\n    version: 1\n    encoding: base16\n\
         staging:\n  ciphers:\n  - *old\n"
    );
    let config = Config::from_yaml_str(&yaml, "anchors.yml").unwrap();
    let dev = config.context(Some("development")).unwrap();
    assert_eq!(dev.primary().key(), KEY32.as_bytes());
    let prod = config.context(Some("production")).unwrap();
    assert_eq!(prod.encoding(), Encoding::Base16);
    let old = prod.cipher(1).unwrap();
    assert_eq!(old.cipher_name(), CipherName::Aes128Cbc);
    assert_eq!(old.key(), b"1234567890ABCDEF");
    let staging = config.context(Some("staging")).unwrap();
    assert_eq!(staging.primary().key(), old.key());
    // A value from one environment decrypts in another that shares the key through an alias.
    let v = prod
        .encrypt(
            b"shared",
            &symmetric_encryption::EncryptOptions {
                version: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(staging.decrypt(&v).unwrap(), b"shared");
}

#[test]
fn binary_tags_digits_and_symbols() {
    let yaml = "production:\n  :ciphers:\n  - :cipher_name: aes-128-cbc\n    :version: 3\n    \
                key: !!binary MDEyMzQ1Njc4OWFiY2RlZg==\n    iv: !binary |-\n      \
                AAECAwQFBgcICQoLDA0ODw==\n    encoding: :base64urlsafe\n\
                digits16:\n  cipher_name: aes-128-cbc\n  key: 1234567890123456\n\
                digits32:\n  key: 12345678901234567890123456789012\n  keystore: :memory\n";
    let config = Config::from_yaml_str(yaml, "t.yml").unwrap();
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(ctx.primary().key(), b"0123456789abcdef");
    assert_eq!(ctx.primary().iv(), Some(&(0u8..16).collect::<Vec<_>>()[..]));
    assert_eq!(ctx.encoding(), Encoding::Base64UrlSafe);
    assert_eq!(ctx.primary().version(), 3);
    let d16 = config.context(Some("digits16")).unwrap();
    assert_eq!(d16.primary().key(), b"1234567890123456");
    // `key` wins over a keystore, as in the gem; 32 digits do not fit 64 bits but are kept.
    let d32 = config.context(Some("digits32")).unwrap();
    assert_eq!(d32.primary().key(), b"12345678901234567890123456789012");
    let entry = &config.environment("digits32").unwrap().ciphers[0];
    assert_eq!(entry.keystore, Some(KeystoreKind::Memory));
    assert_eq!(entry.effective_keystore(), None);
}

#[test]
fn legacy_layout_is_written_in_the_current_one() {
    let yaml = format!(
        "# old style\ndevelopment:\n  cipher: aes-128-cbc\n  key: 1234567890ABCDEF\n  iv: 1234567890ABCDEF\n\
         production:\n  ciphers:\n  - key: {KEY32}\n    version: 2\n    always_add_header: false\n    \
         comment: kept as written\n    tags: [a, b]\n"
    );
    let config = Config::from_yaml_str(&yaml, "legacy.yml").unwrap();
    assert!(config
        .environment("development")
        .unwrap()
        .is_legacy_inline());
    let entry = &config.environment("production").unwrap().ciphers[0];
    assert_eq!(
        entry.unknown_fields().collect::<Vec<_>>(),
        ["comment", "tags"]
    );
    let written = config.to_yaml();
    assert!(
        written.contains(
            "development:\n  ciphers:\n  - cipher_name: aes-128-cbc\n    key: 1234567890ABCDEF\n    iv: 1234567890ABCDEF\n"
        ),
        "{written}"
    );
    assert!(
        written.contains(&format!(
            "  - key: '{KEY32}'\n    version: 2\n    always_add_header: false\n    comment: kept as written\n    tags:\n    - a\n    - b\n"
        )),
        "{written}"
    );
    // What was written loads to the same ciphers, and writes the same text again.
    let again = Config::from_yaml_str(&written, "written.yml").unwrap();
    assert_eq!(again.to_yaml(), written);
    for env in ["development", "production"] {
        let a = config.context(Some(env)).unwrap();
        let b = again.context(Some(env)).unwrap();
        let v = a.encrypt(b"same keys", &Default::default()).unwrap();
        assert_eq!(b.decrypt(&v).unwrap(), b"same keys");
        assert_eq!(
            a.primary().always_add_header(),
            b.primary().always_add_header()
        );
    }
    let ctx = Context::from_yaml(&written, Some("production")).unwrap();
    assert!(!ctx.primary().always_add_header());
}

#[test]
fn empty_and_comment_only_files() {
    let config = Config::from_yaml_str("# nothing yet\n", "empty.yml").unwrap();
    assert!(config.environment_names().is_empty());
    assert_eq!(
        config.to_yaml(),
        format!("{}--- {{}}\n", symmetric_encryption::config::writer::HEADER)
    );
    let e = config.context(Some("production")).unwrap_err();
    assert!(e.to_string().contains("no environments"), "{e}");
}
