//! Every way loading a configuration can fail gives a clear error of the right kind that names
//! the file, the environment and the entry, says what to do, and never shows key bytes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use symmetric_encryption::config::{self, generate, Config};
use symmetric_encryption::keystore::{KeyIo, KmsClient};
use symmetric_encryption::{Context, Error, ErrorKind, KeystoreKind, SecretBytes};

/// Serializes the tests that change process-wide variables read by everyone
/// (SYMMETRIC_ENCRYPTION_*, RACK_ENV, RAILS_ENV, AWS_REGION).
static ENV_LOCK: Mutex<()> = Mutex::new(());

const KEY32: &str = "0123456789abcdefghijklmnopqrstuv";

fn load_err(yaml: &str, env: &str) -> Error {
    match Config::from_yaml_str(yaml, "app.yml").and_then(|c| c.context(Some(env))) {
        Ok(_) => panic!("loaded, but should have failed:\n{yaml}"),
        Err(e) => e,
    }
}

fn assert_msg(e: &Error, kind: ErrorKind, parts: &[&str]) {
    let m = e.to_string();
    assert_eq!(e.kind(), kind, "{m}");
    for p in parts {
        assert!(m.contains(p), "message lacks {p:?}: {m}");
    }
}

fn entry(fields: &str) -> String {
    format!("production:\n  ciphers:\n  - {fields}\n")
}

#[test]
fn wrong_key_length_names_cipher_and_sizes_but_not_the_key() {
    let e = load_err(
        &entry("cipher_name: aes-256-gcm\n    version: 2\n    key: SHORTSECRETKEY16"),
        "production",
    );
    assert_msg(
        &e,
        ErrorKind::Config,
        &[
            "app.yml, environment \"production\", cipher version 2:",
            "aes-256-gcm",
            "32-byte key",
            "16 bytes",
        ],
    );
    assert!(!e.to_string().contains("SHORTSECRETKEY16"));
    assert!(!format!("{e:?}").contains("SHORTSECRETKEY16"));
}

#[test]
fn wrong_iv_length() {
    let e = load_err(
        &entry(&format!(
            "cipher_name: aes-256-cbc\n    key: {KEY32}\n    iv: tooshort"
        )),
        "production",
    );
    assert_msg(
        &e,
        ErrorKind::Config,
        &["cipher version 0", "aes-256-cbc", "16-byte iv", "8 bytes"],
    );
    assert!(!e.to_string().contains("tooshort"));
}

#[test]
fn unknown_cipher_and_unknown_keystore_and_encoding() {
    let e = load_err(
        &entry("cipher_name: aes-256-xts\n    version: 3"),
        "production",
    );
    assert_msg(
        &e,
        ErrorKind::Config,
        &[
            "app.yml, environment \"production\"",
            "cipher version 3",
            "aes-256-xts",
            "aes-256-gcm",
        ],
    );
    let e = load_err(
        &entry("keystore: :azure\n    key_filename: x.key"),
        "production",
    );
    assert_msg(
        &e,
        ErrorKind::Config,
        &["unknown keystore", "azure", "file, environment"],
    );
    let e = load_err(&entry("keystore: gcp"), "production");
    assert_msg(&e, ErrorKind::Config, &["gcp keystore", "not supported"]);
    let e = load_err(
        &entry(&format!("key: {KEY32}\n    encoding: :base32")),
        "production",
    );
    assert_msg(&e, ErrorKind::Config, &["unknown encoding", "base32"]);
}

#[test]
fn two_entries_with_one_version_load_as_in_the_gem() {
    // SPEC section 5: not an error; the first entry with the version wins.
    let yaml = format!(
        "production:\n  ciphers:\n  - key: {KEY32}\n    version: 4\n  - key: {KEY32}\n    version: 4\n"
    );
    let ctx = Config::from_yaml_str(&yaml, "app.yml")
        .and_then(|c| c.context(Some("production")))
        .unwrap();
    assert_eq!(ctx.ciphers().count(), 2);
}

#[test]
fn mixed_encodings_other_than_base64_and_base64strict() {
    let yaml = format!(
        "production:\n  ciphers:\n  - key: {KEY32}\n    version: 2\n    encoding: :base16\n  \
         - key: {KEY32}\n    version: 1\n"
    );
    let e = load_err(&yaml, "production");
    assert_msg(
        &e,
        ErrorKind::Config,
        &[
            "environment \"production\"",
            "base16",
            "base64strict",
            "only base64 and base64strict",
        ],
    );
    let ok = format!(
        "production:\n  ciphers:\n  - key: {KEY32}\n    version: 2\n    encoding: :base64\n  \
         - key: {KEY32}\n    version: 1\n"
    );
    Context::from_yaml(&ok, Some("production")).unwrap();
}

#[test]
fn missing_environment_lists_the_ones_there() {
    let e = load_err(&entry(&format!("key: {KEY32}")), "staging");
    assert_msg(
        &e,
        ErrorKind::Config,
        &[
            "app.yml",
            "environment \"staging\" not found",
            "production",
            "SYMMETRIC_ENCRYPTION_ENV",
        ],
    );
}

#[test]
fn missing_configuration_file() {
    let e = Context::load(
        Some(Path::new("/nonexistent/dir/se.yml")),
        Some("production"),
    )
    .unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Config,
        &["/nonexistent/dir/se.yml not found", "--generate"],
    );
}

#[test]
fn missing_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = entry("version: 5\n    key_filename: keys/missing.key");
    let e = Config::from_yaml_str(&yaml, "app.yml")
        .unwrap()
        .with_key_dir(dir.path())
        .context(Some("production"))
        .unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &[
            "app.yml, environment \"production\", cipher version 5",
            "missing.key not found",
        ],
    );
}

#[test]
fn missing_and_empty_environment_variable() {
    let yaml = entry("version: 6\n    key_env_var: SE_ERRORS_TEST_UNSET_VARIABLE\n    key_encrypting_key:\n      key: 0123456789abcdefghijklmnopqrstuv\n      iv: 0123456789abcdef");
    let e = load_err(&yaml, "production");
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &[
            "cipher version 6",
            "SE_ERRORS_TEST_UNSET_VARIABLE is not set",
        ],
    );
    std::env::set_var("SE_ERRORS_TEST_EMPTY_VARIABLE", "");
    let e = load_err(&yaml.replace("UNSET", "EMPTY"), "production");
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &["SE_ERRORS_TEST_EMPTY_VARIABLE is empty"],
    );
}

#[test]
fn no_key_and_no_keystore() {
    let e = load_err(
        &entry("cipher_name: aes-128-cbc\n    iv: 1234567890ABCDEF"),
        "production",
    );
    assert_msg(
        &e,
        ErrorKind::Config,
        &["no key", "key_filename", "key_env_var"],
    );
}

#[test]
fn a_key_that_does_not_belong_to_its_kek() {
    let dir = tempfile::tempdir().unwrap();
    let opts = generate::GenerateOptions {
        keystore: KeystoreKind::Environment,
        app_name: "kek-mismatch".into(),
        environments: vec!["production".into()],
        io: KeyIo {
            base_dir: Some(dir.path().into()),
            kms: None,
        },
        ..Default::default()
    };
    let (config, report) = generate::generate(&opts).unwrap();
    assert_eq!(report.notices.len(), 1);
    // A value for this variable from another generation: right length, wrong KEK.
    std::env::set_var(
        "KEK_MISMATCH_PRODUCTION_V1",
        "ScqvJXFt9GihQILcW90QxGVHd+CENxK2rbn3UIdgsp16MFz1rpZXBEzauouADnMU",
    );
    let e = config.context(Some("production")).unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &[
            "environment variable KEK_MISMATCH_PRODUCTION_V1",
            "does not decrypt with its key_encrypting_key",
        ],
    );
}

#[test]
fn legacy_rsa_entries_with_a_bad_or_missing_rsa_key_say_what_is_wrong() {
    let pem = "    -----BEGIN RSA PRIVATE KEY-----\n    MIIEpAIBAAKCAQEAu4OZMqC\n    -----END RSA PRIVATE KEY-----\n";
    let bad_key = [
        format!("production:\n  private_rsa_key: |\n{pem}  ciphers:\n  - encrypted_key: QUJD\n    version: 9\n"),
        format!("production:\n  ciphers:\n  - encrypted_key: QUJD\n    iv: A0rbUYRPhcasj1Ii\n    version: 5\n    key_encrypting_key: |\n  {}", pem.replace('\n', "\n  ")),
    ];
    for yaml in bad_key {
        let e = load_err(&yaml, "production");
        assert_msg(
            &e,
            ErrorKind::Config,
            &[
                "app.yml, environment \"production\"",
                "RSA private key",
                "cannot be read",
            ],
        );
        assert!(!e.to_string().contains("MIIE"), "{e}");
    }
    let no_key = [
        ("production:\n  ciphers:\n  - key_filename: keys/rsa.key\n    iv_filename: keys/rsa.iv\n    version: 8\n", "iv_filename"),
        ("production:\n  ciphers:\n  - encrypted_key: QUJD\n    encrypted_iv: QUJD\n    version: 7\n", "encrypted_iv"),
    ];
    for (yaml, field) in no_key {
        let e = load_err(yaml, "production");
        assert_msg(
            &e,
            ErrorKind::Config,
            &[
                "app.yml, environment \"production\"",
                field,
                "private_rsa_key",
            ],
        );
    }
}

#[test]
fn erb_outside_the_supported_subset_names_the_line() {
    let yaml = "production:\n  ciphers:\n  - key: <%= File.read('k') %>\n";
    let e = load_err(yaml, "production");
    assert_msg(
        &e,
        ErrorKind::Config,
        &["app.yml, line 3", "unsupported ERB", "ENV.fetch"],
    );
    let yaml = "production:\n  ciphers:\n  - key: <%= ENV.fetch('SE_ERRORS_TEST_NOT_SET') %>\n";
    let e = load_err(yaml, "production");
    assert_msg(
        &e,
        ErrorKind::Config,
        &["app.yml, line 3", "SE_ERRORS_TEST_NOT_SET is not set"],
    );
}

#[test]
fn erb_environment_variables_are_rendered() {
    std::env::set_var("SE_ERRORS_TEST_ERB_KEY", KEY32);
    let yaml = "production:\n  ciphers:\n  - key: <%= ENV['SE_ERRORS_TEST_ERB_KEY'] %>\n    iv: \"<%= ENV.fetch('SE_ERRORS_TEST_ERB_IV', '1234567890ABCDEF') %>\"\n    version: 1\n";
    let ctx = Context::from_yaml(yaml, Some("production")).unwrap();
    assert_eq!(ctx.primary().key(), KEY32.as_bytes());
    assert_eq!(ctx.primary().iv(), Some(&b"1234567890ABCDEF"[..]));
}

#[test]
fn invalid_yaml_names_the_line() {
    let e = load_err(
        "production:\n  ciphers:\n  - key: [unclosed\n",
        "production",
    );
    assert_msg(&e, ErrorKind::Config, &["app.yml, line", "invalid YAML"]);
    let e = load_err("- just\n- a list\n", "production");
    assert_msg(&e, ErrorKind::Config, &["mapping of environment names"]);
}

#[test]
fn bad_field_types_name_the_field() {
    let e = load_err(&entry("version: 256\n    key: x"), "production");
    assert_msg(
        &e,
        ErrorKind::Config,
        &["cipher entry 1", "version", "0 to 255"],
    );
    let e = load_err(&entry("version: 1\n    key: true"), "production");
    assert_msg(
        &e,
        ErrorKind::Config,
        &["cipher version 1", "key", "boolean", "quote"],
    );
    let e = load_err(
        &entry("version: 1\n    key_filename: k\n    permissions: rw-------"),
        "production",
    );
    assert_msg(&e, ErrorKind::Config, &["permissions", "octal"]);
}

fn write_key(dir: &Path, name: &str, mode: u32) {
    let p = dir.join(name);
    fs::write(&p, KEY32).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

fn file_config(dir: &Path, extra: &str) -> Result<Context, Error> {
    let yaml = format!(
        "production:\n  ciphers:\n  - cipher_name: aes-256-cbc\n    version: 3\n    key_filename: plain.key\n{extra}"
    );
    Config::from_yaml_str(&yaml, "app.yml")?
        .with_key_dir(dir)
        .context(Some("production"))
}

#[test]
fn key_file_mode_0644_is_refused_unless_the_entry_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    write_key(dir.path(), "plain.key", 0o644);
    let e = file_config(dir.path(), "").unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &[
            "app.yml, environment \"production\", cipher version 3",
            "plain.key has mode 0644",
            "0600 or 0400",
            "chmod 600",
            "permissions: '0644'",
        ],
    );
    // Listed as a string, in a list, or as the integer mode value (0644 octal = 420).
    for listed in [
        "    permissions: '0644'\n",
        "    permissions: \"0644\"\n",
        "    permissions: 0644\n",
        "    permissions:\n    - '0600'\n    - '0644'\n",
        "    permissions: 420\n",
    ] {
        let ctx = file_config(dir.path(), listed).unwrap_or_else(|e| panic!("{listed}: {e}"));
        assert_eq!(ctx.primary().key(), KEY32.as_bytes());
    }
    // Listing only another mode refuses the default ones too.
    write_key(dir.path(), "plain.key", 0o600);
    file_config(dir.path(), "").unwrap();
    let e = file_config(dir.path(), "    permissions: '0640'\n").unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &["mode 0600", "must have mode 0640"],
    );
    write_key(dir.path(), "plain.key", 0o400);
    file_config(dir.path(), "").unwrap();
}

#[test]
fn key_file_owner_and_group() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    write_key(dir.path(), "plain.key", 0o600);
    let meta = fs::metadata(dir.path().join("plain.key")).unwrap();
    let (uid, gid) = (meta.uid(), meta.gid());
    file_config(dir.path(), &format!("    owner: {uid}\n    group: {gid}\n")).unwrap();
    let e = file_config(dir.path(), &format!("    owner: {}\n", uid + 4242)).unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &["is owned by uid", "owner setting allows only"],
    );
    let e = file_config(dir.path(), &format!("    group: [{}]\n", gid + 4242)).unwrap_err();
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &["belongs to group", "group setting allows only"],
    );
    // A file of another user is refused by default (possible to set up only as root).
    let other = dir.path().join("plain.key");
    if std::os::unix::fs::chown(&other, Some(uid + 4242), None).is_ok() {
        let e = file_config(dir.path(), "").unwrap_err();
        assert_msg(
            &e,
            ErrorKind::Keystore,
            &[
                "is owned by uid",
                "must be owned by the user running this process",
                "chown",
            ],
        );
        file_config(dir.path(), &format!("    owner: [{uid}, {}]\n", uid + 4242)).unwrap();
    } else {
        println!("not root: the foreign-owner case was not exercised");
    }
}

#[test]
fn aws_entries_without_kms_support_say_so() {
    let _g = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let yaml = "production:\n  ciphers:\n  - keystore: :aws\n    cipher_name: aes-256-gcm\n    version: 1\n    master_key_alias: alias/symmetric-encryption/app/production\n    key_files:\n    - region: us-east-1\n      file_name: keys/app_production_us-east-1_v1.encrypted_key\n    iv: !binary |-\n      AAECAwQFBgcICQoL\n    region: us-east-1\n";
    let e = load_err(yaml, "production");
    // With KMS support built in, the missing key file is what fails.
    let expected = if cfg!(feature = "aws-kms") {
        "cannot read aws key file keys/app_production_us-east-1_v1.encrypted_key"
    } else {
        "aws-kms"
    };
    assert_msg(
        &e,
        ErrorKind::Keystore,
        &[
            "app.yml, environment \"production\", cipher version 1",
            expected,
        ],
    );
    let e = load_err(
        &yaml.replace(
            "    master_key_alias: alias/symmetric-encryption/app/production\n",
            "",
        ),
        "production",
    );
    assert_msg(&e, ErrorKind::Config, &["master_key_alias"]);
    std::env::remove_var("AWS_REGION");
    std::env::remove_var("AWS_DEFAULT_REGION");
    let e = load_err(&yaml.replace("    region: us-east-1\n", ""), "production");
    assert_msg(&e, ErrorKind::Config, &["needs a region", "AWS_REGION"]);
    std::env::set_var("AWS_REGION", "eu-west-1");
    let e = load_err(&yaml.replace("    region: us-east-1\n", ""), "production");
    assert_msg(
        &e,
        ErrorKind::Config,
        &["no key file for region eu-west-1", "us-east-1"],
    );
    std::env::remove_var("AWS_REGION");
}

/// A stand-in for KMS: "encrypts" by XOR with a per-region byte, so the seam can be tested.
struct FakeKms;

impl KmsClient for FakeKms {
    fn decrypt(
        &self,
        region: &str,
        ciphertext: &[u8],
    ) -> symmetric_encryption::Result<SecretBytes> {
        let x = region.len() as u8;
        Ok(SecretBytes::new(ciphertext.iter().map(|b| b ^ x).collect()))
    }
    fn generate_data_key(
        &self,
        _region: &str,
        _alias: &str,
        key_len: usize,
    ) -> symmetric_encryption::Result<SecretBytes> {
        SecretBytes::random(key_len)
    }
    fn encrypt(
        &self,
        region: &str,
        alias: &str,
        plaintext: &[u8],
    ) -> symmetric_encryption::Result<Vec<u8>> {
        assert!(alias.starts_with("alias/symmetric-encryption/"));
        let x = region.len() as u8;
        Ok(plaintext.iter().map(|b| b ^ x).collect())
    }
}

#[test]
fn aws_keystore_through_a_kms_client() {
    let _g = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let io = KeyIo {
        base_dir: Some(dir.path().into()),
        kms: Some(Arc::new(FakeKms)),
    };
    let opts = generate::GenerateOptions {
        keystore: KeystoreKind::Aws,
        app_name: "cloud".into(),
        environments: vec!["production".into()],
        key_path: "keys".into(),
        regions: vec!["us-east-1".into(), "eu-west-2".into()],
        io: io.clone(),
        ..Default::default()
    };
    let (config, report) = generate::generate(&opts).unwrap();
    assert_eq!(report.notices.len(), 2);
    assert!(dir
        .path()
        .join("keys/cloud_production_eu-west-2_v1.encrypted_key")
        .is_file());
    let yaml = config.to_yaml();
    assert!(yaml.contains("keystore: :aws"), "{yaml}");
    assert!(yaml.contains("master_key_alias: alias/symmetric-encryption/cloud/production"));
    assert!(yaml.contains("    key_files:\n    - region: us-east-1\n      file_name: keys/cloud_production_us-east-1_v1.encrypted_key\n"), "{yaml}");
    let reloaded = Config::from_yaml_str(&yaml, "aws.yml").unwrap();
    let mut reloaded = reloaded;
    reloaded.set_key_io(io);
    std::env::set_var("AWS_REGION", "eu-west-2");
    let a = reloaded.context(Some("production")).unwrap();
    std::env::set_var("AWS_REGION", "us-east-1");
    let b = config.context(Some("production")).unwrap();
    std::env::remove_var("AWS_REGION");
    assert_eq!(a.primary().key(), b.primary().key());
    let v = a.encrypt(b"through kms", &Default::default()).unwrap();
    assert_eq!(b.decrypt(&v).unwrap(), b"through kms");
}

#[test]
fn default_path_and_environment_follow_the_gem() {
    let _g = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let vars = [
        "SYMMETRIC_ENCRYPTION_CONFIG",
        "SYMMETRIC_ENCRYPTION_ENV",
        "RACK_ENV",
        "RAILS_ENV",
    ];
    let saved: Vec<_> = vars.iter().map(std::env::var_os).collect();
    for v in vars {
        std::env::remove_var(v);
    }
    assert_eq!(
        config::default_path(),
        Path::new("config/symmetric-encryption.yml")
    );
    assert_eq!(config::default_environment(), "development");
    std::env::set_var("RAILS_ENV", "rails");
    assert_eq!(config::default_environment(), "rails");
    std::env::set_var("RACK_ENV", "rack");
    assert_eq!(config::default_environment(), "rack");
    std::env::set_var("SYMMETRIC_ENCRYPTION_ENV", "se");
    assert_eq!(config::default_environment(), "se");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("se.yml");
    fs::write(
        &path,
        format!("se:\n  ciphers:\n  - key: {KEY32}\n    version: 7\nrack:\n  ciphers:\n  - key: {KEY32}\n    version: 8\n"),
    )
    .unwrap();
    std::env::set_var("SYMMETRIC_ENCRYPTION_CONFIG", &path);
    assert_eq!(config::default_path(), path);
    assert_eq!(Context::load(None, None).unwrap().primary().version(), 7);
    assert_eq!(
        Context::load(None, Some("rack"))
            .unwrap()
            .primary()
            .version(),
        8
    );
    std::env::remove_var("SYMMETRIC_ENCRYPTION_ENV");
    assert_eq!(Context::load(None, None).unwrap().primary().version(), 8);

    for (v, old) in vars.iter().zip(saved) {
        match old {
            Some(x) => std::env::set_var(v, x),
            None => std::env::remove_var(v),
        }
    }
}

#[test]
fn debug_output_never_shows_keys() {
    let yaml = format!(
        "production:\n  ciphers:\n  - key: {KEY32}\n    iv: SECRETIV12345678\n    version: 1\n    key_encrypting_key:\n      key: {KEY32}\n"
    );
    let config = Config::from_yaml_str(&yaml, "app.yml").unwrap();
    let shown = format!("{config:?}");
    assert!(
        !shown.contains(KEY32) && !shown.contains("SECRETIV"),
        "{shown}"
    );
    let ctx = config.context(Some("production")).unwrap();
    let shown = format!("{ctx:?}");
    assert!(
        !shown.contains(KEY32) && !shown.contains("SECRETIV"),
        "{shown}"
    );
}
