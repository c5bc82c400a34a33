//! Configuration files an old application still has, loading unchanged (issue 13, item 1):
//! entries that share a version (the gem's own test configuration has two version-1 entries)
//! and the pre-v4 RSA forms (`private_rsa_key`, a PEM `key_encrypting_key`, `encrypted_iv`,
//! `iv_filename`). The RSA ciphertexts are made here with the public half of the RSA key in the
//! handwritten_legacy vectors (`tests/config_vectors.rs` checks the gem-made ones).
//!
//! With `SE_GEM_DIR` set to a checkout of the gem, its own `test/config/symmetric-encryption.yml`
//! is loaded too.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use symmetric_encryption::{Config, Context, EncryptOptions, ErrorKind};

/// Random padding for the test's own RSA encryption.
struct TestRng;
impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        getrandom::fill(dest).unwrap();
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for TestRng {}

/// The PEM private key of the handwritten_legacy vectors (the gem's v3-era format).
fn legacy_pem() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/configs/handwritten_legacy/config/symmetric-encryption.yml");
    let text = fs::read_to_string(path).unwrap();
    let start = text.find("-----BEGIN RSA PRIVATE KEY-----").unwrap();
    let end = text.find("-----END RSA PRIVATE KEY-----").unwrap() + 29;
    text[start..end]
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

fn public(pem: &str) -> RsaPublicKey {
    RsaPublicKey::from(&RsaPrivateKey::from_pkcs1_pem(pem).unwrap())
}

fn rsa_encrypt(key: &RsaPublicKey, data: &[u8]) -> Vec<u8> {
    key.encrypt(&mut TestRng, Pkcs1v15Encrypt, data).unwrap()
}

fn indent(pem: &str, by: usize) -> String {
    pem.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

fn write_key(dir: &Path, name: &str, data: &[u8]) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, data).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
}

const K2: &[u8] = b"2222222222222222";
const IV2: &[u8] = b"iv-of-version-2!";
const K1: &[u8] = b"1111111111111111";
const K0: &[u8] = b"0000000000000000";
const IV0: &[u8] = b"iv-of-version-0!";
const K1B: &[u8] = b"bbbbbbbbbbbbbbbb";
const IV1B: &[u8] = b"iv-of-the-2nd-v1";

/// The shape of the gem's own test configuration: five entries, a PEM key_encrypting_key in
/// each, two of them version 1, key files and iv files of raw RSA ciphertext.
fn gem_shaped(dir: &Path, pem: &str) -> String {
    let public = public(pem);
    write_key(dir, "keys/new.key", &rsa_encrypt(&public, K2));
    write_key(dir, "keys/new.iv", &rsa_encrypt(&public, IV2));
    write_key(dir, "keys/secondary.key", &rsa_encrypt(&public, K0));
    write_key(dir, "keys/secondary.iv", &rsa_encrypt(&public, IV0));
    let kek = format!("      key_encrypting_key: |\n{}", indent(pem, 8));
    format!(
        "test:\n  ciphers:\n\
         \x20   - key_filename: keys/new.key\n      iv_filename: keys/new.iv\n      cipher_name: aes-128-cbc\n      encoding: base64strict\n      version: 2\n      always_add_header: true\n{kek}\
         \x20   - key: 6BCDEF1234567890ABCDEF1234567890\n      iv: 6BCDEF1234567890\n      cipher_name: aes-256-cbc\n      version: 6\n{kek}\
         \x20   - encrypted_key: {}\n      iv: 1234567890ABCDEF\n      cipher_name: aes-128-cbc\n      version: 1\n      always_add_header: false\n{kek}\
         \x20   - key_filename: keys/secondary.key\n      iv_filename: keys/secondary.iv\n      cipher_name: aes-128-cbc\n      encoding: base64\n      version: 0\n      always_add_header: false\n{kek}\
         \x20   - encrypted_key: {}\n      encrypted_iv: {}\n      cipher_name: aes-128-cbc\n      version: 1\n      always_add_header: false\n{kek}",
        STANDARD.encode(rsa_encrypt(&public, K1)),
        STANDARD.encode(rsa_encrypt(&public, K1B)),
        STANDARD.encode(rsa_encrypt(&public, IV1B)),
    )
}

fn load(dir: &Path, yaml: &str, env: &str) -> symmetric_encryption::Result<Context> {
    fs::write(dir.join("app.yml"), yaml).unwrap();
    Config::from_path(&dir.join("app.yml"))?
        .with_key_dir(dir)
        .context(Some(env))
}

#[test]
fn the_gem_shaped_test_configuration_loads_with_rsa_keys_and_shared_versions() {
    let dir = tempfile::tempdir().unwrap();
    let pem = legacy_pem();
    let ctx = load(dir.path(), &gem_shaped(dir.path(), &pem), "test").unwrap();
    let got: Vec<(u8, Vec<u8>, Option<Vec<u8>>)> = ctx
        .ciphers()
        .map(|c| (c.version(), c.key().to_vec(), c.iv().map(<[u8]>::to_vec)))
        .collect();
    let want: Vec<(u8, Vec<u8>, Option<Vec<u8>>)> = vec![
        (2, K2.to_vec(), Some(IV2.to_vec())),
        (
            6,
            b"6BCDEF1234567890ABCDEF1234567890".to_vec(),
            Some(b"6BCDEF1234567890".to_vec()),
        ),
        (1, K1.to_vec(), Some(b"1234567890ABCDEF".to_vec())),
        (0, K0.to_vec(), Some(IV0.to_vec())),
        (1, K1B.to_vec(), Some(IV1B.to_vec())),
    ];
    assert_eq!(got, want);

    // The primary encrypts; version 1 is the first entry that has it.
    let v = ctx.encrypt(b"hello", &EncryptOptions::default()).unwrap();
    assert_eq!(ctx.header(&v).unwrap().unwrap().version, 2);
    assert_eq!(ctx.cipher(1).unwrap().key(), K1);
    let one = EncryptOptions {
        version: Some(1),
        header: Some(true),
        ..Default::default()
    };
    let v1 = ctx.encrypt(b"hello", &one).unwrap();
    assert_eq!(ctx.decrypt(&v1).unwrap(), b"hello");
    // A version-1 value made with the later entry's key is not read by it.
    let later = Context::new(vec![ctx.ciphers().nth(4).unwrap().clone()]).unwrap();
    let v1b = later.encrypt(b"hello", &one).unwrap();
    assert_ne!(ctx.decrypt(&v1b).ok().as_deref(), Some(&b"hello"[..]));

    // Written back, the RSA fields stay as they were and the file loads to the same keys.
    let config = Config::from_path(&dir.path().join("app.yml"))
        .unwrap()
        .with_key_dir(dir.path());
    let again = load(dir.path(), &config.to_yaml(), "test").unwrap();
    assert!(config.to_yaml().contains("BEGIN RSA PRIVATE KEY"));
    let keys = |c: &Context| c.ciphers().map(|c| c.key().to_vec()).collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&ctx));
}

#[test]
fn an_environment_level_private_rsa_key_applies_to_an_inline_entry_and_to_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let pem = legacy_pem();
    let public = public(&pem);
    let key = b"0123456789abcdef0123456789abcdef";
    let iv = b"fedcba9876543210";
    let ek = STANDARD.encode(rsa_encrypt(&public, key));
    let ei = STANDARD.encode(rsa_encrypt(&public, iv));
    let inline = format!(
        "v3:\n  private_rsa_key: |\n{}  cipher: aes-256-cbc\n  encrypted_key: {ek}\n  encrypted_iv: {ei}\n",
        indent(&pem, 4)
    );
    let ctx = load(dir.path(), &inline, "v3").unwrap();
    assert_eq!(ctx.primary().key(), key);
    assert_eq!(ctx.primary().iv(), Some(&iv[..]));

    let listed = format!(
        "v3:\n  private_rsa_key: |\n{}  ciphers:\n  - encrypted_key: {ek}\n    encrypted_iv: {ei}\n    version: 3\n  - key: 1234567890ABCDEF\n    iv: 1234567890ABCDEF\n    cipher_name: aes-128-cbc\n    version: 2\n",
        indent(&pem, 4)
    );
    let ctx = load(dir.path(), &listed, "v3").unwrap();
    assert_eq!(ctx.primary().key(), key);
    assert_eq!(ctx.cipher(2).unwrap().key(), b"1234567890ABCDEF");
}

#[test]
fn a_value_encrypted_for_another_rsa_key_names_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let other = RsaPrivateKey::new(&mut TestRng, 2048).unwrap();
    let ek = STANDARD.encode(rsa_encrypt(
        &RsaPublicKey::from(&other),
        b"0123456789abcdef",
    ));
    write_key(
        dir.path(),
        "keys/other.key",
        &rsa_encrypt(&RsaPublicKey::from(&other), b"0123456789abcdef"),
    );
    let pem = indent(&legacy_pem(), 8);
    for (fields, named) in [
        (format!("encrypted_key: {ek}"), "encrypted_key".to_string()),
        (
            "key_filename: keys/other.key".to_string(),
            dir.path().join("keys/other.key").display().to_string(),
        ),
    ] {
        let yaml = format!(
            "prod:\n  ciphers:\n    - {fields}\n      iv: 1234567890ABCDEF\n      cipher_name: aes-128-cbc\n      key_encrypting_key: |\n{pem}"
        );
        let e = load(dir.path(), &yaml, "prod").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Keystore, "{e}");
        let m = e.to_string();
        assert!(m.contains("RSA decryption failed"), "{m}");
        assert!(m.contains(&named), "{m}");
        assert!(m.contains("environment \"prod\""), "{m}");
        assert!(!m.contains("MIIE"), "{m}");
    }
}

#[test]
fn entries_that_share_a_version_load_and_the_first_wins() {
    let yaml = "test:\n  ciphers:\n\
                \x20 - {key: '1234567890ABCDEF', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 2}\n\
                \x20 - {key: 'BBBBBBBBBBBBBBBB', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}\n\
                \x20 - {key: 'CCCCCCCCCCCCCCCC', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}\n";
    let ctx = Context::from_yaml(yaml, Some("test")).unwrap();
    assert_eq!(ctx.ciphers().count(), 3);
    assert_eq!(ctx.primary().version(), 2);
    assert_eq!(ctx.cipher(1).unwrap().key(), b"BBBBBBBBBBBBBBBB");
    assert_eq!(ctx.cipher_by_version(1).unwrap().key(), b"BBBBBBBBBBBBBBBB");
    let v = ctx.encrypt(b"x", &EncryptOptions::default()).unwrap();
    assert_eq!(ctx.header(&v).unwrap().unwrap().version, 2);
}

/// The gem's own test configuration, from a checkout named by SE_GEM_DIR.
#[test]
fn the_gems_own_test_configuration_loads() {
    let Some(gem) = std::env::var_os("SE_GEM_DIR") else {
        eprintln!("SE_GEM_DIR is not set: skipping the gem's own test configuration");
        return;
    };
    let gem = Path::new(&gem);
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("test/config");
    fs::create_dir_all(&to).unwrap();
    for entry in fs::read_dir(gem.join("test/config")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        fs::set_permissions(
            to.join(entry.file_name()),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let config = Config::from_path(&to.join("symmetric-encryption.yml"))
        .unwrap()
        .with_key_dir(dir.path());
    let ctx = config.context(Some("test")).unwrap();
    let versions: Vec<u8> = ctx.ciphers().map(|c| c.version()).collect();
    assert_eq!(versions, [2, 6, 1, 0, 1]);
    assert!(std::ptr::eq(
        ctx.cipher(1).unwrap(),
        ctx.ciphers().nth(2).unwrap()
    ));
    let v = ctx.encrypt(b"gem", &EncryptOptions::default()).unwrap();
    assert_eq!(ctx.decrypt(&v).unwrap(), b"gem");
}
