//! Generating and rotating keys: the files come out in the gem's layout (compared with the
//! gem's own output in the vectors, random bytes masked), the gem's rotation steps are
//! reproduced, and a generated configuration survives every rotation operation, written and
//! loaded back at each step, still decrypting what was written before.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use symmetric_encryption::config::generate::{
    self, GenerateOptions, Notice, Report, RotateKekOptions, RotateOptions,
};
use symmetric_encryption::keystore::KeyIo;
use symmetric_encryption::{CipherName, Config, Context, EncryptOptions, ErrorKind, KeystoreKind};

fn vectors() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/configs");
    assert!(
        dir.join("index.json").is_file(),
        "the vectors are missing: {} has no index.json",
        dir.display()
    );
    dir
}

#[path = "cli_common/yaml_mask.rs"]
mod yaml_mask;

/// The text with random parts replaced: key, iv and encrypted-key values (see
/// [`yaml_mask::masked_yaml`]), and the values in printed `export` / `heroku config:add` lines.
fn mask(text: &str) -> String {
    yaml_mask::masked_yaml(text)
        .lines()
        .map(|line| {
            let t = line.trim_start();
            if t.starts_with("export ") || t.starts_with("heroku config:add ") {
                format!("{}=<value>", line.split('=').next().unwrap())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn io(dir: &Path) -> KeyIo {
    KeyIo {
        base_dir: Some(dir.to_path_buf()),
        kms: None,
    }
}

fn notices_text(report: &Report) -> String {
    report
        .notices
        .iter()
        .filter_map(Notice::gem_output)
        .collect()
}

fn apply_variables(report: &Report) {
    for n in &report.notices {
        match n {
            Notice::SetEnvironmentVariable { name, value }
            | Notice::HerokuConfigAdd { name, value } => std::env::set_var(name, value),
            Notice::KeyFileWritten { .. }
            | Notice::TransitKeyCreated { .. }
            | Notice::TransitKeyRotated { .. } => {}
        }
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// (set, keystore, app, environments, cipher, key permissions) as given to the gem.
type GemCase = (
    &'static str,
    KeystoreKind,
    &'static str,
    &'static [&'static str],
    CipherName,
    Option<u32>,
);

#[test]
fn generated_files_have_the_gems_layout_and_names() {
    let root = vectors();
    let cases: [GemCase; 6] = [
        (
            "file_gcm_default",
            KeystoreKind::File,
            "my_app",
            &["development", "test", "release", "production"],
            CipherName::Aes256Gcm,
            None,
        ),
        (
            "file_cbc_permissions",
            KeystoreKind::File,
            "billing-service",
            &["staging", "production"],
            CipherName::Aes256Cbc,
            Some(0o640),
        ),
        (
            "file_aes128gcm",
            KeystoreKind::File,
            "svc",
            &["production"],
            CipherName::Aes128Gcm,
            None,
        ),
        (
            "environment_gcm",
            KeystoreKind::Environment,
            "my_app",
            &["development", "release", "production"],
            CipherName::Aes256Gcm,
            None,
        ),
        (
            "environment_cbc",
            KeystoreKind::Environment,
            "web-app",
            &["production"],
            CipherName::Aes256Cbc,
            None,
        ),
        (
            "heroku_gcm",
            KeystoreKind::Heroku,
            "my_app",
            &["production"],
            CipherName::Aes256Gcm,
            None,
        ),
    ];
    for (set, keystore, app, envs, cipher, perm) in cases {
        let dir = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            keystore,
            app_name: app.into(),
            environments: envs.iter().map(|e| e.to_string()).collect(),
            cipher_name: cipher,
            key_path: "keys".into(),
            key_permissions: perm.map(|p| vec![p]),
            regions: Vec::new(),
            io: io(dir.path()),
        };
        let path = dir.path().join("config/symmetric-encryption.yml");
        let (config, report) = generate::generate_file(&path, &opts).unwrap();
        let gem_dir = root.join(set);
        let gem_yaml = fs::read_to_string(gem_dir.join("config/symmetric-encryption.yml")).unwrap();
        let ours = fs::read_to_string(&path).unwrap();
        assert_eq!(mask(&ours), mask(&gem_yaml), "{set}: configuration layout");
        assert_eq!(ours, config.to_yaml());
        let gem_cli = fs::read_to_string(gem_dir.join("cli_output.txt")).unwrap();
        let gem_notices = gem_cli
            .strip_suffix("New configuration file created at: config/symmetric-encryption.yml\n")
            .unwrap();
        assert_eq!(
            mask(&notices_text(&report)),
            mask(gem_notices),
            "{set}: printed"
        );
        // The same key files, with the recorded modes.
        let meta: serde_json::Value =
            serde_json::from_slice(&fs::read(gem_dir.join("set.json")).unwrap()).unwrap();
        let mut expected: Vec<(String, u32)> = meta["key_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f["path"].as_str().unwrap().to_string(),
                            u32::from_str_radix(f["mode"].as_str().unwrap(), 8).unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        expected.sort();
        let mut ours: Vec<(String, u32)> = match fs::read_dir(dir.path().join("keys")) {
            Ok(rd) => rd
                .map(|e| {
                    let e = e.unwrap();
                    (e.file_name().into_string().unwrap(), mode(&e.path()))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        ours.sort();
        assert_eq!(ours, expected, "{set}: key files");
        // What was generated loads and works.
        apply_variables(&report);
        let loaded = Config::from_path(&path).unwrap().with_key_dir(dir.path());
        for env in envs {
            let ctx = loaded.context(Some(env)).unwrap();
            let v = ctx
                .encrypt(b"generated", &EncryptOptions::default())
                .unwrap();
            assert_eq!(ctx.decrypt(&v).unwrap(), b"generated");
        }
        // --generate never overwrites a configuration.
        let e = generate::generate_file(&path, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Argument);
        assert!(e.to_string().contains("already exists"), "{e}");
    }
    println!("generate: 6 gem layouts matched");
}

/// Runs each of the gem's rotation commands on the gem's previous step (its config, key files
/// and variables) and compares the result with the gem's next step: deterministic steps
/// (activate, cleanup) byte for byte, the others with random bytes masked.
fn replay_rotation_set(set: &str, app: &str, keystore: KeystoreKind) -> usize {
    let root = vectors().join(set);
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("set.json")).unwrap()).unwrap();
    let steps = meta["steps"].as_array().unwrap();
    let mut checked = 0;
    for (prev, step) in steps.iter().zip(&steps[1..]) {
        let dir = tempfile::tempdir().unwrap();
        let from = root.join(prev["dir"].as_str().unwrap());
        for sub in ["config", "keys"] {
            if let Ok(rd) = fs::read_dir(from.join(sub)) {
                fs::create_dir_all(dir.path().join(sub)).unwrap();
                for e in rd {
                    let e = e.unwrap();
                    let dest = dir.path().join(sub).join(e.file_name());
                    fs::copy(e.path(), &dest).unwrap();
                    fs::set_permissions(&dest, fs::Permissions::from_mode(0o600)).unwrap();
                }
            }
        }
        for (k, v) in prev["env_vars"].as_object().unwrap() {
            std::env::set_var(k, v.as_str().unwrap());
        }
        let path = dir.path().join("config/symmetric-encryption.yml");
        let name = step["step"].as_str().unwrap();
        let mut printed = String::new();
        let mut config = Config::from_path(&path).unwrap().with_key_dir(dir.path());
        let report = match name {
            "02_rotate_keys_rolling_deploy" | "05_rotate_keys" => generate::rotate_keys(
                &mut config,
                &RotateOptions {
                    app_name: app.into(),
                    rolling_deploy: name.starts_with("02"),
                    keystore: Some(keystore),
                    ..Default::default()
                },
            )
            .unwrap(),
            "03_activate_key" => generate::activate_key(&mut config, &[]).unwrap(),
            "04_rotate_kek" => generate::rotate_kek(
                &mut config,
                &RotateKekOptions {
                    environments: Vec::new(),
                    app_name: app.into(),
                },
            )
            .unwrap(),
            "06_cleanup_keys" => {
                let plan = generate::cleanup_plan(&config, &[]).unwrap();
                let warning = generate::cleanup_warning("config/symmetric-encryption.yml", &plan);
                let gem_cli = fs::read_to_string(
                    root.join(step["dir"].as_str().unwrap())
                        .join("cli_output.txt"),
                )
                .unwrap();
                assert!(gem_cli.starts_with(&warning), "{set}: {name}: warning");
                printed = warning;
                generate::cleanup_keys(&mut config, &[]).unwrap()
            }
            other => panic!("unknown step {other}"),
        };
        config.write(&path).unwrap();
        apply_variables(&report);
        let gem_dir = root.join(step["dir"].as_str().unwrap());
        let gem_yaml = fs::read_to_string(gem_dir.join("config/symmetric-encryption.yml")).unwrap();
        let ours = fs::read_to_string(&path).unwrap();
        if matches!(name, "03_activate_key" | "06_cleanup_keys") {
            assert_eq!(ours, gem_yaml, "{set}: {name}: byte for byte");
        } else {
            assert_eq!(mask(&ours), mask(&gem_yaml), "{set}: {name}: layout");
        }
        // What the command printed: the notices, then the summary lines.
        let gem_cli = fs::read_to_string(gem_dir.join("cli_output.txt")).unwrap();
        printed.push_str(&notices_text(&report));
        printed.push_str(&report.summary.join("\n"));
        if name != "03_activate_key" {
            assert!(
                mask(&gem_cli).starts_with(&mask(&printed)),
                "{set}: {name}: printed\n{printed}\n---\n{gem_cli}"
            );
        }
        // The same key file names as the gem's (backups named NAME.<unix time>).
        let listing = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(d.join("keys"))
                .map(|rd| {
                    rd.map(|e| {
                        let n = e.unwrap().file_name().into_string().unwrap();
                        match n.rsplit_once('.') {
                            Some((base, t)) if t.chars().all(|c| c.is_ascii_digit()) => {
                                format!("{base}.<time>")
                            }
                            _ => n,
                        }
                    })
                    .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        assert_eq!(
            listing(dir.path()),
            listing(&gem_dir),
            "{set}: {name}: key files"
        );
        // The configuration loads and its ciphers match the gem's versions and names.
        let loaded = Config::from_path(&path).unwrap().with_key_dir(dir.path());
        for env in step["environments"].as_array().unwrap() {
            let e = env["environment"].as_str().unwrap();
            let ours: Vec<(u8, String)> = loaded
                .ciphers(e)
                .unwrap()
                .iter()
                .map(|c| (c.version(), c.cipher_name().to_string()))
                .collect();
            let gem: Vec<(u8, String)> = env["resolved_ciphers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["version"].as_u64().unwrap() as u8,
                        c["cipher_name"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(ours, gem, "{set}: {name}: {e}");
        }
        checked += 1;
    }
    checked
}

#[test]
fn the_gems_rotation_steps_are_reproduced() {
    let a = replay_rotation_set("rotation_file", "my_app", KeystoreKind::File);
    let b = replay_rotation_set("rotation_environment", "env-app", KeystoreKind::Environment);
    assert_eq!(a + b, 10);
    println!("rotation: {} gem steps reproduced", a + b);
}

/// Values written during the round trip: (step, version, ciphertext, plaintext).
type Written = Vec<(String, u8, Vec<u8>, Vec<u8>)>;

fn reload(path: &Path, dir: &Path) -> Config {
    let c = Config::from_path(path).unwrap().with_key_dir(dir);
    // Writing what was read gives the same text again.
    assert_eq!(c.to_yaml(), fs::read_to_string(path).unwrap());
    c
}

fn write_values(ctx: &Context, step: &str, written: &mut Written) {
    for (i, (random_iv, compress)) in [(false, false), (true, true)].into_iter().enumerate() {
        for c in ctx.ciphers() {
            let plain = format!("{step}: value {i} for version {}", c.version()).into_bytes();
            let opts = EncryptOptions {
                random_iv: Some(random_iv),
                compress: Some(compress),
                header: None,
                version: Some(c.version()),
            };
            let ct = ctx.encrypt(&plain, &opts).unwrap();
            written.push((step.to_string(), c.version(), ct, plain));
        }
    }
}

/// Every value decrypts, except those of versions no longer configured, which fail with a
/// cipher error naming the version.
fn check_values(ctx: &Context, written: &Written, what: &str) -> usize {
    let versions: Vec<u8> = ctx.ciphers().map(|c| c.version()).collect();
    for (step, version, ct, plain) in written {
        match ctx.decrypt(ct) {
            Ok(p) => {
                assert!(
                    versions.contains(version),
                    "{what}: {step} v{version} decrypted"
                );
                assert_eq!(&p, plain, "{what}: value from {step}");
            }
            Err(e) => {
                assert!(
                    !versions.contains(version),
                    "{what}: {step} v{version}: {e}"
                );
                assert_eq!(e.kind(), ErrorKind::Cipher);
                assert!(e.to_string().contains(&format!("version {version}")), "{e}");
            }
        }
    }
    written.len()
}

fn round_trip(keystore: KeystoreKind, app: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config/symmetric-encryption.yml");
    let what = format!("{keystore}");
    let opts = GenerateOptions {
        keystore,
        app_name: app.into(),
        environments: vec!["development".into(), "production".into()],
        key_path: "keys".into(),
        key_permissions: (keystore == KeystoreKind::File).then(|| vec![0o640, 0o600]),
        io: io(dir.path()),
        ..Default::default()
    };
    let (_, report) = generate::generate_file(&path, &opts).unwrap();
    apply_variables(&report);
    let mut written = Written::new();
    let mut checks = 0;

    // 1. generated
    let config = reload(&path, dir.path());
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(ctx.primary().version(), 1);
    assert_eq!(ctx.primary().cipher_name(), CipherName::Aes256Gcm);
    write_values(&ctx, "generate", &mut written);
    let dev = config.context(Some("development")).unwrap();
    assert_eq!(dev.primary().key(), b"1234567890ABCDEF");
    if keystore == KeystoreKind::File {
        let f = dir
            .path()
            .join(format!("keys/{app}_production_v1.encrypted_key"));
        assert_eq!(mode(&f), 0o640, "first configured permission");
    }

    // 2. rotate keys, rolling deploy: the new key is second, the primary stays.
    let mut config = reload(&path, dir.path());
    let report = generate::rotate_keys(
        &mut config,
        &RotateOptions {
            app_name: app.into(),
            rolling_deploy: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.changed, ["production"]);
    assert_eq!(report.unchanged, ["development"]);
    assert_eq!(
        report.summary,
        [
            "Rotated: production",
            "Left unchanged, no keystore to rotate: development"
        ]
    );
    config.write(&path).unwrap();
    apply_variables(&report);
    let config = reload(&path, dir.path());
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(
        ctx.ciphers().map(|c| c.version()).collect::<Vec<_>>(),
        [1, 2]
    );
    checks += check_values(&ctx, &written, &what);
    write_values(&ctx, "rolling", &mut written);

    // 3. activate: the highest version becomes the primary.
    let mut config = reload(&path, dir.path());
    let report = generate::activate_key(&mut config, &[]).unwrap();
    assert_eq!(report.changed, ["production"]);
    config.write(&path).unwrap();
    let config = reload(&path, dir.path());
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(
        ctx.ciphers().map(|c| c.version()).collect::<Vec<_>>(),
        [2, 1]
    );
    checks += check_values(&ctx, &written, &what);
    write_values(&ctx, "activate", &mut written);
    let key_before = ctx.primary().key().to_vec();

    // 4. rotate the KEKs: same data key, new key-encrypting keys, old files kept.
    let mut config = reload(&path, dir.path());
    let before = config.to_yaml();
    let report = generate::rotate_kek(
        &mut config,
        &RotateKekOptions {
            environments: vec!["production".into()],
            app_name: app.into(),
        },
    )
    .unwrap();
    assert_eq!(report.changed, ["production"]);
    assert_ne!(config.to_yaml(), before);
    config.write(&path).unwrap();
    apply_variables(&report);
    let config = reload(&path, dir.path());
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(
        ctx.primary().key(),
        key_before,
        "rotate-kek keeps the data key"
    );
    checks += check_values(&ctx, &written, &what);
    write_values(&ctx, "rotate-kek", &mut written);
    if keystore == KeystoreKind::File {
        let backups = fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name().into_string().unwrap();
                n.starts_with(&format!("{app}_production_v2."))
                    && n.rsplit('.').next().unwrap().parse::<u64>().is_ok()
            })
            .count();
        assert_eq!(
            backups, 2,
            "the replaced .encrypted_key and .kekek are kept"
        );
    }

    // 5. rotate keys with another cipher: version 3 first.
    let mut config = reload(&path, dir.path());
    let report = generate::rotate_keys(
        &mut config,
        &RotateOptions {
            app_name: app.into(),
            cipher_name: Some(CipherName::Aes256Cbc),
            ..Default::default()
        },
    )
    .unwrap();
    config.write(&path).unwrap();
    apply_variables(&report);
    let config = reload(&path, dir.path());
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(
        ctx.ciphers().map(|c| c.version()).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(ctx.primary().cipher_name(), CipherName::Aes256Cbc);
    checks += check_values(&ctx, &written, &what);
    write_values(&ctx, "rotate", &mut written);

    // 6. cleanup: only version 3 is left; its values still decrypt, the others no longer.
    let mut config = reload(&path, dir.path());
    let plan = generate::cleanup_plan(&config, &[]).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].versions, [2, 1]);
    let report = generate::cleanup_keys(&mut config, &[]).unwrap();
    assert_eq!(report.summary, ["production: removed 2, 1"]);
    config.write(&path).unwrap();
    let config = reload(&path, dir.path());
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(ctx.ciphers().map(|c| c.version()).collect::<Vec<_>>(), [3]);
    checks += check_values(&ctx, &written, &what);
    // The development environment was never touched.
    assert_eq!(
        config.context(Some("development")).unwrap().primary().key(),
        b"1234567890ABCDEF"
    );
    // Nothing deleted key files.
    if keystore == KeystoreKind::File {
        for v in 1..=3 {
            assert!(dir
                .path()
                .join(format!("keys/{app}_production_v{v}.kekek"))
                .is_file());
        }
    }
    checks
}

#[test]
fn generate_write_load_and_rotate_file_environment_heroku() {
    let mut checks: HashMap<&str, usize> = HashMap::new();
    checks.insert("file", round_trip(KeystoreKind::File, "rt-file"));
    checks.insert(
        "environment",
        round_trip(KeystoreKind::Environment, "rt-env"),
    );
    checks.insert("heroku", round_trip(KeystoreKind::Heroku, "rt-heroku"));
    checks.insert("memory", round_trip(KeystoreKind::Memory, "rt-memory"));
    let total: usize = checks.values().sum();
    assert!(total > 100);
    println!("round trip: {total} value decryptions checked across {checks:?}");
}

#[test]
fn versions_wrap_from_255_to_1() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        keystore: KeystoreKind::Memory,
        app_name: "wrap".into(),
        environments: vec!["production".into()],
        io: io(dir.path()),
        ..Default::default()
    };
    let (mut config, _) = generate::generate(&opts).unwrap();
    config.environment_mut("production").unwrap().ciphers[0].version = Some(255);
    let rotate = RotateOptions {
        app_name: "wrap".into(),
        ..Default::default()
    };
    generate::rotate_keys(&mut config, &rotate).unwrap();
    let ctx = config.context(Some("production")).unwrap();
    assert_eq!(
        ctx.ciphers().map(|c| c.version()).collect::<Vec<_>>(),
        [1, 255]
    );
    // 255 is still the highest: the next rotation would need version 1 again.
    let e = generate::rotate_keys(&mut config, &rotate).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string().contains("version 1 is still configured"),
        "{e}"
    );
    // Rotation of an environment that is not in the file is refused.
    let e = generate::rotate_keys(
        &mut config,
        &RotateOptions {
            environments: vec!["staging".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("environment \"staging\", given in --environments, is not in the file"),
        "{e}"
    );
}
