//! Configuration text that costs too much or says too much (issue 14, items 6 and 7): loading
//! is linear, oversized or deeply nested text is refused at once, and no error repeats a
//! value written in the file.

use symmetric_encryption::config::{Config, MAX_CONFIG_BYTES};
use symmetric_encryption::{Error, ErrorKind};

const KEY32: &str = "0123456789abcdefghijklmnopqrstuv";
const SECRET: &str = "Sup3r-Secret-Value-9f2c";

fn load(yaml: &str) -> Result<(), Error> {
    Config::from_yaml_str(yaml, "app.yml")
        .and_then(|c| c.context(Some("production")))
        .map(|_| ())
}

fn entry(fields: &str) -> String {
    format!(
        "production:\n  ciphers:\n  - cipher_name: aes-256-gcm\n    version: 1\n    key: {KEY32}\n    {fields}\n"
    )
}

#[track_caller]
fn refused_without_secret(yaml: &str, parts: &[&str]) -> String {
    let e = load(yaml).expect_err("should be refused");
    let m = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Config, "{m}");
    assert!(!m.contains(SECRET), "the value is in the message: {m}");
    assert!(
        !format!("{e:?}").contains(SECRET),
        "the value is in Debug: {e:?}"
    );
    for p in parts {
        assert!(m.contains(p), "message lacks {p:?}: {m}");
    }
    m
}

#[test]
fn eighty_thousand_erb_comments_load() {
    let mut yaml = "<%# c %>\n".repeat(80_000);
    yaml.push_str(&entry("always_add_header: true"));
    load(&yaml).unwrap();
    // Line numbers stay right after all of them.
    let mut bad = "<%# c %>\n".repeat(80_000);
    bad.push_str("x: <% code %>\n");
    let m = load(&bad).unwrap_err().to_string();
    assert!(m.starts_with("app.yml, line 80001:"), "{m}");
}

#[test]
fn deep_nesting_is_refused_with_a_clear_error() {
    let e = load(&"[".repeat(100_000)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let m = e.to_string();
    assert!(m.contains("nest more than 64 levels"), "{m}");
    assert!(!m.contains("recursion limit"), "{m}");
}

#[test]
fn oversized_configurations_are_refused() {
    let mut yaml = entry("always_add_header: true");
    yaml.push_str(&"# padding\n".repeat(MAX_CONFIG_BYTES / 10 + 1));
    let m = load(&yaml).unwrap_err().to_string();
    assert!(m.contains("at most 1048576 bytes (1 MiB)"), "{m}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yml");
    std::fs::write(&path, &yaml).unwrap();
    let e = Config::from_path(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("1 MiB"), "{e}");

    // ERB that expands past the cap is refused too.
    std::env::set_var("SE_LIMITS_TEST_BIG", "x".repeat(MAX_CONFIG_BYTES));
    let m = load(&entry("# <%= ENV['SE_LIMITS_TEST_BIG'] %>"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("1 MiB"), "{m}");
}

#[test]
fn errors_describe_values_but_never_show_them() {
    // An unsupported ERB tag with a fallback key in it.
    refused_without_secret(
        &entry(&format!("iv: <%= ENV['SE_NOT_SET'] || '{SECRET}' %>")),
        &["unsupported ERB", "ENV.fetch('NAME', 'default')"],
    );
    refused_without_secret(
        &format!("<% key = '{SECRET}' %>\n{}", entry("version: 1")),
        &["unsupported ERB", "code tag"],
    );
    // !!int on a key.
    refused_without_secret(
        &format!("production:\n  ciphers:\n  - key: !!int '{SECRET}'\n"),
        &["!!int", "a string of 23 characters"],
    );
    // A value in permissions:, owner:, a key in a boolean field.
    refused_without_secret(
        &entry(&format!("permissions: '{SECRET}'")),
        &["permissions", "a string of 23 characters", "octal"],
    );
    refused_without_secret(
        &entry("permissions: 98765432109876543210"),
        &["permissions", "an integer of 20 digits"],
    );
    refused_without_secret(
        &entry(&format!("always_add_header: '{SECRET}'")),
        &[
            "always_add_header",
            "expected true or false",
            "23 characters",
        ],
    );
    refused_without_secret(
        &format!("production:\n  ciphers:\n  - key: {KEY32}\n    version: 12345678901234567890\n"),
        &["version", "20 digits", "0 to 255"],
    );
    // Names of ciphers, encodings and keystores: a long value is described, not shown.
    refused_without_secret(
        &format!("production:\n  ciphers:\n  - cipher_name: '{SECRET}'\n    key: {KEY32}\n"),
        &["unsupported cipher a string of 23 characters"],
    );
    refused_without_secret(
        &entry(&format!("encoding: '{SECRET}'")),
        &["unknown encoding a string of 23 characters"],
    );
    refused_without_secret(
        &entry(&format!("keystore: '{SECRET}'")),
        &["unknown keystore a string of 23 characters"],
    );
}
