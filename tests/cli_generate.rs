//! `--generate`: the gem's commands from the vectors give the gem's layout and output, and a
//! configuration the library loads.
#![cfg(unix)]

mod cli_common;

use std::path::Path;

use cli_common::*;
use symmetric_encryption::CipherName;

const CONFIG: &str = "config/symmetric-encryption.yml";

/// Runs the `--generate` command a vector set was made with, in `dir`.
fn generate_like(set: &str, dir: &Path) -> Run {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("configs").join(set).join("set.json")).unwrap(),
    )
    .unwrap();
    let command = json["commands"][0].as_str().unwrap();
    let args = gem_args(command);
    run(dir, &strs(&args)).ok()
}

fn vector_text(set: &str, file: &str) -> String {
    std::fs::read_to_string(vectors().join("configs").join(set).join(file)).unwrap()
}

#[test]
fn file_keystore_has_the_gems_layout_and_loads() {
    for set in ["file_gcm_default", "file_aes128gcm", "file_cbc_permissions"] {
        let dir = scratch();
        let r = generate_like(set, dir.path());
        let out = r.out();
        assert!(
            out.ends_with(&vector_text(set, "cli_output.txt")),
            "{set}: {out}"
        );
        let ours = std::fs::read_to_string(dir.path().join(CONFIG)).unwrap();
        assert_eq!(
            masked_yaml(&ours),
            masked_yaml(&vector_text(set, CONFIG)),
            "{set}: the generated file differs from the gem's beyond its random keys"
        );
        // Every key file named in the output exists with the configured mode.
        let expected_mode = if set == "file_cbc_permissions" {
            0o640
        } else {
            0o600
        };
        let written: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("Key file written: "))
            .collect();
        assert!(!written.is_empty(), "{set}: {out}");
        for f in written {
            assert_eq!(mode(&dir.path().join(f)), expected_mode, "{set}: {f}");
        }
        let config = symmetric_encryption::Config::from_path(&dir.path().join(CONFIG)).unwrap();
        for env in config.environment_names() {
            let ctx = library_context(dir.path(), CONFIG, env, &[]);
            let v = ctx.encrypt(b"ok", &Default::default()).unwrap();
            assert_eq!(ctx.decrypt(&v).unwrap(), b"ok");
        }
    }
}

#[test]
fn environment_and_heroku_keystores_print_what_to_set() {
    for set in ["environment_gcm", "environment_cbc", "heroku_gcm"] {
        let dir = scratch();
        let out = generate_like(set, dir.path()).out();
        let expected = vector_text(set, "cli_output.txt");
        // Same text as the gem's, except the random values.
        let vars = exported(&out);
        let gem_vars = exported(&expected);
        assert_eq!(
            vars.iter().map(|v| &v.0).collect::<Vec<_>>(),
            gem_vars.iter().map(|v| &v.0).collect::<Vec<_>>(),
            "{set}"
        );
        let mut normalised = out.clone();
        for ((_, ours), (_, gems)) in vars.iter().zip(&gem_vars) {
            normalised = normalised.replace(ours, gems);
        }
        assert_eq!(normalised, expected, "{set}");
        assert_eq!(
            masked_yaml(&std::fs::read_to_string(dir.path().join(CONFIG)).unwrap()),
            masked_yaml(&vector_text(set, CONFIG)),
            "{set}"
        );
        let production = library_context(dir.path(), CONFIG, "production", &vars);
        let v = production.encrypt(b"ok", &Default::default()).unwrap();
        assert_eq!(production.decrypt(&v).unwrap(), b"ok");
    }
}

#[test]
fn defaults_are_the_gems() {
    let dir = scratch();
    let out = run(dir.path(), &["--generate"]).ok().out();
    // HOME is the scratch directory: key files under ~/.symmetric-encryption.
    let keys = dir.path().join(".symmetric-encryption");
    for env in ["release", "production"] {
        for ext in ["encrypted_key", "kekek"] {
            let f = keys.join(format!("symmetric-encryption_{env}_v1.{ext}"));
            assert!(f.is_file(), "{} missing; output: {out}", f.display());
            assert_eq!(mode(&f), 0o600);
        }
    }
    let config = symmetric_encryption::Config::from_path(&dir.path().join(CONFIG)).unwrap();
    assert_eq!(
        config.environment_names(),
        ["development", "test", "release", "production"]
    );
    let ctx = library_context(dir.path(), CONFIG, "production", &[]);
    assert_eq!(ctx.primary().cipher_name(), CipherName::Aes256Gcm);
    let dev = library_context(dir.path(), CONFIG, "development", &[]);
    assert_eq!(dev.primary().key(), b"1234567890ABCDEF");
}

#[test]
fn an_existing_configuration_is_never_overwritten() {
    let dir = scratch();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join(CONFIG), "precious: {}\n").unwrap();
    run(
        dir.path(),
        &["-g", "-S", "production", "-K", "keys", "-c", CONFIG],
    )
    .fails(&["already exists", CONFIG]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(CONFIG)).unwrap(),
        "precious: {}\n"
    );
    assert!(!dir.path().join("keys").exists(), "no key may be made");
}

#[test]
fn bad_options_are_refused_before_anything_is_written() {
    let dir = scratch();
    let d = dir.path();
    run(d, &["-g", "-K", "keys", "-C", "aes-512-gcm"]).fails(&["aes-512-gcm"]);
    run(d, &["-g", "-K", "keys", "--key-permissions", "rw-"]).fails(&["--key-permissions"]);
    run(d, &["-g", "-K", "keys", "-S", ","]).fails(&["--environments"]);
    run(d, &["-g", "-K", "keys", "-s", "gcp"]).fails(&["gcp"]);
    run(d, &["-g", "-s", "memory"]).usage_error();
    assert!(!d.join(CONFIG).exists());
}

#[test]
fn aws_is_parsed_and_handed_to_the_library() {
    let dir = scratch();
    let msg = run(
        dir.path(),
        &[
            "-g",
            "--keystore",
            "aws",
            "--regions",
            "eu-west-1,eu-central-1",
            "-S",
            "development,production",
            "-a",
            "shop",
            "-K",
            "keys",
        ],
    )
    .fails(&["production"]);
    // Until the KMS client lands the library says what is missing, and nothing is written.
    assert!(msg.to_lowercase().contains("kms"), "{msg}");
    assert!(!dir.path().join(CONFIG).exists());
}

#[test]
fn key_permissions_and_cipher_reach_the_file() {
    let dir = scratch();
    run(
        dir.path(),
        &[
            "--generate",
            "--app-name",
            "billing",
            "--environments",
            "production",
            "--key-path",
            "keys",
            "--cipher-name",
            "aes-192-gcm",
            "--key-permissions",
            "0400,0600",
        ],
    )
    .ok();
    for ext in ["encrypted_key", "kekek"] {
        assert_eq!(
            mode(&dir.path().join(format!("keys/billing_production_v1.{ext}"))),
            0o400
        );
    }
    let text = std::fs::read_to_string(dir.path().join(CONFIG)).unwrap();
    assert!(text.contains("cipher_name: aes-192-gcm"), "{text}");
    let ctx = library_context(dir.path(), CONFIG, "production", &[]);
    assert_eq!(ctx.primary().cipher_name(), CipherName::Aes192Gcm);
}
