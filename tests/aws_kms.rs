//! The aws keystore against a KMS server: moto's (`scripts/moto-server`), at the URL in
//! `SE_TEST_KMS_ENDPOINT`. Run with the cargo feature `aws-kms`:
//!
//! ```text
//! scripts/moto-server run cargo test --features aws-kms --test aws_kms
//! ```
//!
//! Without `SE_TEST_KMS_ENDPOINT` every test says loudly that it was skipped and passes; the
//! test command always sets it. The KMS calls go through the library's own client and the
//! standard AWS chain: the tests only set `AWS_ENDPOINT_URL`, test credentials and the region.

#[cfg(not(feature = "aws-kms"))]
#[test]
fn aws_kms_tests_need_the_aws_kms_feature() {
    use std::io::Write as _;
    // Straight to stderr in one write: cargo's capture would hide an eprintln! of a passing test.
    let text = "\n\n*** SKIPPED: the AWS KMS tests (tests/aws_kms.rs) need the cargo feature \
                aws-kms: scripts/moto-server run cargo test --features aws-kms --test aws_kms\n\n";
    let _ = std::io::stderr().write_all(text.as_bytes());
}

#[cfg(feature = "aws-kms")]
mod kms {
    use std::collections::HashMap;
    use std::fs;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::{Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    use symmetric_encryption::config::generate::{self, GenerateOptions, RotateOptions};
    use symmetric_encryption::keystore::aws::{AwsKms, KmsSettings};
    use symmetric_encryption::keystore::KmsClient;
    use symmetric_encryption::{Config, Context, EncryptOptions, Error, ErrorKind, KeystoreKind};

    /// The tests change process-wide variables (AWS_REGION, AWS_ENDPOINT_URL): one at a time.
    static ENV_LOCK: Mutex<()> = Mutex::new(());

    const REGIONS: [&str; 2] = ["us-east-1", "eu-west-2"];

    /// Says once, past cargo's output capture (straight to stderr, in one write), that these
    /// tests did not run.
    fn skipped(_test: &str) {
        static BANNER: std::sync::Once = std::sync::Once::new();
        BANNER.call_once(|| {
            let text = "\n\n*** SKIPPED: the AWS KMS tests (tests/aws_kms.rs) did not run: \
                        SE_TEST_KMS_ENDPOINT is not set, so there is no KMS server to test \
                        against.\n*** Run them with: scripts/moto-server run cargo test \
                        --features aws-kms --test aws_kms\n\n";
            let _ = std::io::stderr().write_all(text.as_bytes());
        });
    }

    /// Holds the lock and the KMS environment of one test.
    struct Kms {
        endpoint: String,
        _guard: MutexGuard<'static, ()>,
        _home: tempfile::TempDir,
    }

    impl Kms {
        /// The KMS environment, or `None` (after saying so, loudly) when no server was given.
        fn setup(test: &str) -> Option<Kms> {
            let Some(endpoint) = std::env::var("SE_TEST_KMS_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
            else {
                skipped(test);
                return None;
            };
            let guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            // No profile, SSO or instance role of the machine running the tests may be used.
            let home = tempfile::tempdir().unwrap();
            for (k, v) in [
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ] {
                std::env::set_var(k, v);
            }
            std::env::set_var("AWS_CONFIG_FILE", home.path().join("config"));
            std::env::set_var(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("credentials"),
            );
            for k in [
                "AWS_ENDPOINT_URL_KMS",
                "AWS_SESSION_TOKEN",
                "AWS_PROFILE",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            ] {
                std::env::remove_var(k);
            }
            Some(Kms {
                endpoint,
                _guard: guard,
                _home: home,
            })
        }

        fn region(&self, region: Option<&str>) {
            match region {
                Some(r) => std::env::set_var("AWS_REGION", r),
                None => std::env::remove_var("AWS_REGION"),
            }
        }

        /// The master key id behind `alias` in `region`, if the alias exists there.
        fn alias_target(&self, region: &str, alias: &str) -> Option<String> {
            let region = region.to_string();
            let endpoint = self.endpoint.clone();
            let alias = alias.to_string();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(region))
                    .endpoint_url(endpoint)
                    .load()
                    .await;
                let client = aws_sdk_kms::Client::new(&config);
                let out = client.list_aliases().send().await.unwrap();
                out.aliases()
                    .iter()
                    .find(|a| a.alias_name() == Some(alias.as_str()))
                    .and_then(|a| a.target_key_id().map(str::to_string))
            })
        }
    }

    /// An app name no earlier test or run used, so its master keys do not exist yet.
    fn unique_app(name: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("{name}-{}-{nanos}", std::process::id())
    }

    struct Generated {
        _dir: tempfile::TempDir,
        config: PathBuf,
        keys: PathBuf,
        app: String,
        alias: String,
    }

    /// `--generate --keystore aws --regions us-east-1,eu-west-2` for development and production.
    fn generate_config(name: &str) -> Generated {
        let dir = tempfile::tempdir().unwrap();
        let app = unique_app(name);
        let config = dir.path().join("config/symmetric-encryption.yml");
        let keys = dir.path().join("keys");
        let opts = GenerateOptions {
            keystore: KeystoreKind::Aws,
            app_name: app.clone(),
            environments: vec!["development".into(), "production".into()],
            key_path: keys.clone(),
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        };
        fs::create_dir_all(config.parent().unwrap()).unwrap();
        let (_, report) = generate::generate_file(&config, &opts).unwrap();
        assert_eq!(report.notices.len(), 2, "{report:?}");
        Generated {
            alias: format!("alias/symmetric-encryption/{app}/production"),
            _dir: dir,
            config,
            keys,
            app,
        }
    }

    fn load(config: &Path) -> Result<Context, Error> {
        Context::load(Some(config), Some("production"))
    }

    const VALUES: [&str; 4] = [
        "",
        "hello world",
        "ünïcödé ✓",
        "0123456789012345678901234567890",
    ];

    #[test]
    fn generate_for_two_regions_then_decrypt_the_same_values_in_both() {
        let Some(kms) = Kms::setup("generate_for_two_regions_then_decrypt_the_same_values_in_both")
        else {
            return;
        };
        for r in REGIONS {
            assert_eq!(
                kms.alias_target(r, "alias/symmetric-encryption/none/x"),
                None
            );
        }
        let g = generate_config("two-regions");

        // The CMK and its alias were created in each region, and a key file written per region
        // in the gem's names, base64 as the gem writes it, mode 0600.
        for r in REGIONS {
            assert!(kms.alias_target(r, &g.alias).is_some(), "no alias in {r}");
            let file = g
                .keys
                .join(format!("{}_production_{r}_v1.encrypted_key", g.app));
            let meta = fs::metadata(&file).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            let text = fs::read_to_string(&file).unwrap();
            assert!(
                text.ends_with('\n') && text.lines().all(|l| l.len() <= 60),
                "{text}"
            );
        }
        let yaml = fs::read_to_string(&g.config).unwrap();
        assert!(yaml.contains("keystore: :aws"), "{yaml}");
        assert!(
            yaml.contains(&format!("master_key_alias: {}", g.alias)),
            "{yaml}"
        );
        for r in REGIONS {
            assert!(yaml.contains(&format!("- region: {r}")), "{yaml}");
        }

        // The region from AWS_REGION, else AWS_DEFAULT_REGION.
        let mut contexts = Vec::new();
        for r in REGIONS {
            kms.region(Some(r));
            contexts.push((r.to_string(), load(&g.config).unwrap()));
        }
        kms.region(None);
        std::env::set_var("AWS_DEFAULT_REGION", "eu-west-2");
        contexts.push(("AWS_DEFAULT_REGION".into(), load(&g.config).unwrap()));
        std::env::remove_var("AWS_DEFAULT_REGION");

        let first = &contexts[0].1;
        assert_eq!(first.primary().version(), 1);
        assert_eq!(first.primary().key().len(), 32);
        for (a_name, a) in &contexts {
            assert_eq!(a.primary().key(), first.primary().key(), "{a_name}");
            for v in VALUES {
                let encrypted = a.encrypt(v.as_bytes(), &EncryptOptions::default()).unwrap();
                for (b_name, b) in &contexts {
                    assert_eq!(
                        b.decrypt(&encrypted).unwrap(),
                        v.as_bytes(),
                        "encrypted in {a_name}, decrypted in {b_name}"
                    );
                }
            }
        }

        // A region without a key file is a configuration error naming it.
        kms.region(Some("ap-south-1"));
        let e = load(&g.config).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains("ap-south-1"), "{e}");
        kms.region(None);
    }

    #[test]
    fn rotate_keys_adds_a_version_in_every_region_and_keeps_the_master_key() {
        let Some(kms) = Kms::setup("rotate_keys_adds_a_version_in_every_region") else {
            return;
        };
        let g = generate_config("rotate");
        let targets: HashMap<&str, String> = REGIONS
            .iter()
            .map(|r| (*r, kms.alias_target(r, &g.alias).unwrap()))
            .collect();
        kms.region(Some("us-east-1"));
        let old = load(&g.config)
            .unwrap()
            .encrypt(b"before rotation", &EncryptOptions::default())
            .unwrap();

        let mut config = Config::from_path(&g.config).unwrap();
        let report = generate::rotate_keys(
            &mut config,
            &RotateOptions {
                app_name: g.app.clone(),
                environments: vec!["production".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(report.changed, ["production"]);
        assert_eq!(report.notices.len(), 2);
        config.write(&g.config).unwrap();

        for r in REGIONS {
            // Same master key (the alias existed), a new key file beside the old one.
            assert_eq!(kms.alias_target(r, &g.alias).as_ref(), Some(&targets[r]));
            for v in [1, 2] {
                let f = g
                    .keys
                    .join(format!("{}_production_{r}_v{v}.encrypted_key", g.app));
                assert!(f.is_file(), "{}", f.display());
            }
        }
        let mut contexts = Vec::new();
        for r in REGIONS {
            kms.region(Some(r));
            let ctx = load(&g.config).unwrap();
            assert_eq!(ctx.primary().version(), 2);
            assert_eq!(ctx.decrypt(&old).unwrap(), b"before rotation");
            contexts.push(ctx);
        }
        assert_eq!(contexts[0].primary().key(), contexts[1].primary().key());
        assert_ne!(
            contexts[0].primary().key(),
            contexts[0].cipher(1).unwrap().key()
        );
        let new = contexts[1]
            .encrypt(b"after rotation", &EncryptOptions::default())
            .unwrap();
        assert_eq!(contexts[0].decrypt(&new).unwrap(), b"after rotation");

        // --rotate-keys --regions: the new key goes to the regions given; a region without the
        // master key gets one.
        let mut config = Config::from_path(&g.config).unwrap();
        generate::rotate_keys(
            &mut config,
            &RotateOptions {
                app_name: g.app.clone(),
                regions: vec!["us-east-1".into(), "us-west-2".into()],
                ..Default::default()
            },
        )
        .unwrap();
        config.write(&g.config).unwrap();
        let entry = &config.environment("production").unwrap().ciphers[0];
        let regions: Vec<&str> = entry
            .key_files
            .as_ref()
            .unwrap()
            .iter()
            .map(|k| k.region.as_str())
            .collect();
        assert_eq!(regions, ["us-east-1", "us-west-2"]);
        assert!(kms.alias_target("us-west-2", &g.alias).is_some());
        kms.region(Some("us-east-1"));
        let ctx = load(&g.config).unwrap();
        assert_eq!(ctx.primary().version(), 3);
        assert_eq!(ctx.decrypt(&new).unwrap(), b"after rotation");
        kms.region(None);
    }

    fn assert_names_region_and_alias(e: &Error, region: &str, alias: &str, also: &[&str]) {
        let m = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Keystore, "{m}");
        for part in [region, alias].iter().chain(also) {
            assert!(m.contains(part), "the message lacks {part:?}: {m}");
        }
    }

    #[test]
    fn an_unreachable_endpoint_fails_fast_naming_region_and_alias() {
        let Some(kms) = Kms::setup("an_unreachable_endpoint_fails_fast") else {
            return;
        };
        let g = generate_config("unreachable");
        // Port 1 on the loopback: nothing listens there, connections are refused at once.
        std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
        kms.region(Some("eu-west-2"));
        let started = Instant::now();
        let e = load(&g.config).err().unwrap();
        let load_time = started.elapsed();
        assert_names_region_and_alias(
            &e,
            "eu-west-2",
            &g.alias,
            &["KMS Decrypt", "http://127.0.0.1:1", "cannot reach KMS"],
        );

        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let e = generate::generate(&GenerateOptions {
            keystore: KeystoreKind::Aws,
            app_name: g.app.clone(),
            environments: vec!["production".into()],
            key_path: dir.path().into(),
            regions: vec!["us-west-1".into()],
            ..Default::default()
        })
        .err()
        .unwrap();
        let generate_time = started.elapsed();
        assert_names_region_and_alias(&e, "us-west-1", &g.alias, &["GenerateDataKey"]);
        eprintln!(
            "unreachable endpoint: load failed after {load_time:?}, generate after \
             {generate_time:?}\n  {e}"
        );
        assert!(load_time < Duration::from_secs(10), "{load_time:?}");
        assert!(generate_time < Duration::from_secs(10), "{generate_time:?}");
        std::env::set_var("AWS_ENDPOINT_URL", &kms.endpoint);
        kms.region(None);
    }

    #[test]
    fn missing_credentials_are_a_clear_error() {
        let Some(kms) = Kms::setup("missing_credentials_are_a_clear_error") else {
            return;
        };
        std::env::remove_var("AWS_ACCESS_KEY_ID");
        std::env::remove_var("AWS_SECRET_ACCESS_KEY");
        let started = Instant::now();
        let e = AwsKms::default()
            .decrypt("us-east-1", b"not a blob")
            .err()
            .unwrap();
        let elapsed = started.elapsed();
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        eprintln!("no credentials: failed after {elapsed:?}: {e}");
        assert_eq!(e.kind(), ErrorKind::Keystore, "{e}");
        assert!(e.to_string().contains("no AWS credentials"), "{e}");
        assert!(e.to_string().contains(&kms.endpoint), "{e}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    }

    #[test]
    fn a_silent_endpoint_times_out() {
        let Some(_kms) = Kms::setup("a_silent_endpoint_times_out") else {
            return;
        };
        // Accepts connections (the kernel does) but never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::env::set_var("AWS_ENDPOINT_URL", &url);
        let client = AwsKms::new(KmsSettings {
            connect_timeout: Duration::from_millis(500),
            attempt_timeout: Duration::from_millis(700),
            operation_timeout: Duration::from_secs(2),
            max_attempts: 2,
            initial_backoff: Duration::from_millis(50),
        });
        let started = Instant::now();
        let e = client.decrypt("us-east-1", b"not a blob").err().unwrap();
        let elapsed = started.elapsed();
        eprintln!("silent endpoint: failed after {elapsed:?}: {e}");
        assert_eq!(e.kind(), ErrorKind::Keystore, "{e}");
        assert!(e.to_string().contains(&url), "{e}");
        assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
        drop(listener);
        std::env::set_var("AWS_ENDPOINT_URL", &_kms.endpoint);
    }

    #[test]
    fn kms_refusals_are_keystore_errors_naming_region_alias_and_file() {
        let Some(kms) = Kms::setup("kms_refusals_are_keystore_errors") else {
            return;
        };
        let g = generate_config("refusals");
        let region = "eu-west-2";
        kms.region(Some(region));

        // The other region's key file: its master key is not in this region, so KMS refuses.
        let file = |r: &str| {
            g.keys
                .join(format!("{}_production_{r}_v1.encrypted_key", g.app))
        };
        let mine = fs::read(file(region)).unwrap();
        fs::copy(file("us-east-1"), file(region)).unwrap();
        let e = load(&g.config).err().unwrap();
        let path = file(region).display().to_string();
        assert_names_region_and_alias(&e, region, &g.alias, &["KMS Decrypt", &path]);
        assert!(e.to_string().contains("AccessDeniedException"), "{e}");
        eprintln!("another region's key file: {e}");

        // A key file that is not a KMS blob.
        fs::write(
            file(region),
            b"bm90IGEga21zIGJsb2IgYXQgYWxsLCBqdXN0IHRleHQ=\n",
        )
        .unwrap();
        let e = load(&g.config).err().unwrap();
        assert_names_region_and_alias(&e, region, &g.alias, &["InvalidCiphertextException"]);
        eprintln!("not a KMS blob: {e}");

        // An empty key file.
        fs::write(file(region), b"").unwrap();
        let e = load(&g.config).err().unwrap();
        assert_names_region_and_alias(&e, region, "empty", &[]);
        fs::write(file(region), mine).unwrap();
        load(&g.config).unwrap();

        // A master key alias that does not exist: Encrypt under it creates it, as the gem does.
        let client = AwsKms::default();
        let alias = format!("alias/symmetric-encryption/{}/new", g.app);
        assert_eq!(kms.alias_target(region, &alias), None);
        let blob = client.encrypt(region, &alias, b"0123456789abcdef").unwrap();
        assert!(kms.alias_target(region, &alias).is_some());
        assert_eq!(
            client.decrypt(region, &blob).unwrap().as_bytes(),
            b"0123456789abcdef"
        );
        // ... but the blob is no use in another region.
        let e = client.decrypt("us-east-1", &blob).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Keystore, "{e}");
        kms.region(None);
    }

    #[test]
    fn data_keys_of_each_length() {
        let Some(_kms) = Kms::setup("data_keys_of_each_length") else {
            return;
        };
        let client = AwsKms::default();
        let alias = format!("alias/symmetric-encryption/{}/lengths", unique_app("len"));
        for len in [16, 24, 32] {
            let key = client.generate_data_key("us-east-1", &alias, len).unwrap();
            assert_eq!(key.len(), len);
            assert_eq!(format!("{key:?}"), "[FILTERED]");
            let blob = client.encrypt("us-east-1", &alias, &key).unwrap();
            assert!(!blob.windows(len).any(|w| w == &key[..]));
            assert_eq!(client.decrypt("us-east-1", &blob).unwrap(), key);
        }
    }

    /// Runs the command line with `stdin`; its status, standard output and error.
    fn cli(args: &[&str], region: &str, stdin: &[u8]) -> (bool, Vec<u8>, String) {
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_symmetric-encryption"))
            .args(args)
            .env("AWS_REGION", region)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), out.stdout, err)
    }

    #[test]
    fn the_command_line_generates_rotates_and_uses_aws_keys() {
        let Some(kms) = Kms::setup("the_command_line_generates_rotates_and_uses_aws_keys") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let app = unique_app("cli");
        let config = dir.path().join("se.yml");
        let keys = dir.path().join("keys");
        let config_s = config.to_str().unwrap();
        let (ok, _, err) = cli(
            &[
                "--generate",
                "--keystore",
                "aws",
                "--regions",
                "us-east-1,eu-west-2",
                "--app-name",
                &app,
                "--environments",
                "development,production",
                "--key-path",
                keys.to_str().unwrap(),
                "--config",
                config_s,
            ],
            "us-east-1",
            b"",
        );
        assert!(ok, "{err}");
        let alias = format!("alias/symmetric-encryption/{app}/production");
        for r in REGIONS {
            assert!(kms.alias_target(r, &alias).is_some(), "no alias in {r}");
        }
        let encrypt = |region: &str, text: &[u8]| {
            let (ok, out, err) = cli(
                &["-E", "production", "-c", config_s, "--encrypt"],
                region,
                text,
            );
            assert!(ok, "{err}");
            out
        };
        let decrypt = |region: &str, value: &[u8]| {
            let (ok, out, err) = cli(
                &["-E", "production", "-c", config_s, "--decrypt"],
                region,
                value,
            );
            assert!(ok, "{err}");
            out
        };
        let v1 = encrypt("us-east-1", b"through the command line");
        assert_eq!(decrypt("eu-west-2", &v1), b"through the command line");

        let (ok, _, err) = cli(
            &[
                "--rotate-keys",
                "--app-name",
                &app,
                "--environments",
                "production",
                "--regions",
                "eu-west-2,us-west-1",
                "--config",
                config_s,
            ],
            "us-east-1",
            b"",
        );
        assert!(ok, "{err}");
        for r in ["eu-west-2", "us-west-1"] {
            let f = keys.join(format!("{app}_production_{r}_v2.encrypted_key"));
            assert!(f.is_file(), "{}", f.display());
        }
        assert!(kms.alias_target("us-west-1", &alias).is_some());
        let ctx = {
            kms.region(Some("eu-west-2"));
            let c = load(&config).unwrap();
            kms.region(None);
            c
        };
        assert_eq!(ctx.primary().version(), 2);
        // --encrypt from standard input writes a stream (the gem's file format).
        let v2 = encrypt("eu-west-2", b"after rotation");
        assert_eq!(decrypt("eu-west-2", &v2), b"after rotation");
        assert_eq!(decrypt("eu-west-2", &v1), b"through the command line");
    }

    /// The directory holding the shared library cargo built for this test run, with the same
    /// features: beside this test's executable (target/debug/deps), where `cargo test` leaves
    /// it (only `cargo build` copies it up to target/debug).
    fn library_dir() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().to_path_buf()
    }

    #[test]
    fn a_c_program_loads_forks_and_uses_kms_in_the_children() {
        let Some(kms) = Kms::setup("a_c_program_loads_forks_and_uses_kms_in_the_children") else {
            return;
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let lib = library_dir();
        assert!(
            lib.join("libsymmetric_encryption.so").is_file(),
            "no libsymmetric_encryption.so in {}",
            lib.display()
        );
        let g = generate_config("fork");
        let exe = g.keys.parent().unwrap().join("test_fork_kms");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g", "-I"])
            .arg(root.join("include"))
            .arg(root.join("bindings/c/test_fork_kms.c"))
            .arg(format!("-L{}", lib.display()))
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .args(["-lsymmetric_encryption", "-o"])
            .arg(&exe)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&exe)
            .arg(&g.config)
            .arg("production")
            .env("AWS_REGION", "eu-west-2")
            // Cargo's LD_LIBRARY_PATH would put target/debug (a library cargo test does not
            // update) before the rpath.
            .env("LD_LIBRARY_PATH", &lib)
            .env("AWS_ENDPOINT_URL", &kms.endpoint)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Indented, so that its closing "N passed, N failed" line is not taken for this run's.
        for line in stdout.lines().chain(stderr.lines()) {
            eprintln!("  test_fork_kms: {line}");
        }
        assert!(out.status.success(), "{stdout}{stderr}");
        let last = stdout.lines().last().unwrap_or_default();
        assert!(
            last.ends_with(" passed, 0 failed") && !last.starts_with("0 passed"),
            "{stdout}"
        );
    }
}
