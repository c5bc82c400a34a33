//! Rotation through the binary: a configuration generated and then taken through every key
//! operation still loads in the library, and everything encrypted at every step still
//! decrypts (after `--re-encrypt`, also once the old keys are removed). Also `--environments`,
//! `--migrate`, `--re-encrypt` edge cases and the gem's output for each step.
#![cfg(unix)]

mod cli_common;

use std::collections::BTreeMap;
use std::path::Path;

use cli_common::*;
use symmetric_encryption::{Config, Context};

const CONFIG: &str = "config/symmetric-encryption.yml";

/// The directory, the variables the environment keystore needs, and what was encrypted.
struct Deployment<'a> {
    dir: &'a Path,
    vars: BTreeMap<String, String>,
    /// Lines of `secrets.yml`: `name: ENCRYPTED`, with the plaintext of each name.
    values: Vec<(String, String)>,
    /// Encrypted files under `data/` with their plaintext.
    files: Vec<(String, Vec<u8>)>,
}

impl<'a> Deployment<'a> {
    fn vars(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Runs a command and picks up any variable it says to set.
    fn run(&mut self, args: &[&str]) -> String {
        let out = run_with(self.dir, args, &self.vars(), b"").ok().out();
        for (k, v) in exported(&out) {
            self.vars.insert(k, v);
        }
        out
    }

    fn run_in(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut all = vec!["-E", "production"];
        all.extend_from_slice(args);
        run_with(self.dir, &all, &self.vars(), stdin)
    }

    fn context(&self) -> Context {
        library_context(self.dir, CONFIG, "production", &self.vars())
    }

    fn secrets(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.dir.join("config/secrets.yml")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Encrypts a new value and a new file with the binary, and returns the version used.
    fn encrypt_new(&mut self, step: &str) -> u8 {
        let plain = format!("password for {step}");
        let v = self
            .run_in(&["-e", "-P"], format!("{plain}\n").as_bytes())
            .ok()
            .out();
        let mut text =
            std::fs::read_to_string(self.dir.join("config/secrets.yml")).unwrap_or_default();
        text.push_str(&format!("{step}: {}\n", v.trim()));
        std::fs::write(self.dir.join("config/secrets.yml"), text).unwrap();
        self.values.push((step.to_string(), plain));

        let data: Vec<u8> = format!("{step}\n").repeat(20_000).into_bytes();
        let name = format!("data/{step}.csv");
        std::fs::create_dir_all(self.dir.join("data")).unwrap();
        std::fs::write(self.dir.join(&name), &data).unwrap();
        let enc = format!("{name}.enc");
        self.run_in(&["-e", &name, "-o", &enc], b"").ok();
        std::fs::remove_file(self.dir.join(&name)).unwrap();
        self.files.push((enc, data));
        self.context()
            .header(v.trim().as_bytes())
            .unwrap()
            .unwrap()
            .version
    }

    /// Everything encrypted so far decrypts, with the binary and with the library. Returns the
    /// versions found.
    fn check_all(&self, step: &str) -> Vec<u8> {
        let ctx = self.context();
        let secrets = self.secrets();
        let mut versions = Vec::new();
        for (name, plain) in &self.values {
            let enc = &secrets[name];
            let out = self
                .run_in(&["-d", "-P"], format!("{enc}\n").as_bytes())
                .ok()
                .out();
            assert_eq!(out.trim_end(), plain, "{step}: value {name}");
            assert_eq!(ctx.decrypt(enc.as_bytes()).unwrap(), plain.as_bytes());
            versions.push(ctx.header(enc.as_bytes()).unwrap().unwrap().version);
        }
        for (file, plain) in &self.files {
            let r = self.run_in(&["-d", file], b"").ok();
            assert_eq!(&r.stdout, plain, "{step}: file {file}");
            let target = self.dir.join("lib.out");
            symmetric_encryption::stream::decrypt_file(&ctx, &self.dir.join(file), &target)
                .unwrap_or_else(|e| panic!("{step}: library, {file}: {e}"));
            assert_eq!(&std::fs::read(&target).unwrap(), plain);
            let bytes = std::fs::read(self.dir.join(file)).unwrap();
            versions.push(
                symmetric_encryption::header::parse(&bytes)
                    .unwrap()
                    .unwrap()
                    .header
                    .version,
            );
        }
        versions
    }

    fn production_versions(&self) -> Vec<u8> {
        let config = Config::from_path(&self.dir.join(CONFIG)).unwrap();
        config
            .environment("production")
            .unwrap()
            .ciphers
            .iter()
            .map(|c| c.version_or_default())
            .collect()
    }
}

fn lifecycle(keystore: &str, app: &str) {
    let dir = scratch();
    let mut d = Deployment {
        dir: dir.path(),
        vars: BTreeMap::new(),
        values: Vec::new(),
        files: Vec::new(),
    };
    d.run(&[
        "--generate",
        "--keystore",
        keystore,
        "--app-name",
        app,
        "--environments",
        "development,production",
        "--key-path",
        "keys",
    ]);
    assert_eq!(d.encrypt_new("s1_generate"), 1);
    d.check_all("generate");

    let out = d.run(&["--rotate-keys", "--rolling-deploy"]);
    assert!(out.contains("Rotated: production\n"), "{out}");
    assert!(
        out.contains("Left unchanged, no keystore to rotate: development\n"),
        "{out}"
    );
    assert_eq!(
        d.production_versions(),
        [1, 2],
        "rolling deploy: new key second"
    );
    assert_eq!(d.encrypt_new("s2_rolling"), 1, "not active yet");
    d.check_all("rotate-keys --rolling-deploy");

    let out = d.run(&["--activate-key"]);
    assert!(
        out.contains("production: version 2 is now the primary"),
        "{out}"
    );
    assert_eq!(d.production_versions(), [2, 1]);
    assert_eq!(d.encrypt_new("s3_activated"), 2);
    d.check_all("activate-key");

    d.run(&["--rotate-kek"]);
    assert_eq!(d.production_versions(), [2, 1], "the data keys stay");
    assert_eq!(d.encrypt_new("s4_kek"), 2);
    d.check_all("rotate-kek");

    d.run(&["--rotate-keys"]);
    assert_eq!(d.production_versions(), [3, 2, 1]);
    assert_eq!(d.encrypt_new("s5_rotated"), 3);
    let versions = d.check_all("rotate-keys");
    assert!(versions.contains(&1) && versions.contains(&2));

    // Move everything to version 3 (the default pattern finds config/secrets.yml; the data
    // files need their own pattern).
    let out = d.run(&["--re-encrypt", "-E", "production"]);
    assert!(out.contains("config/secrets.yml"), "{out}");
    let out = d.run(&["-r", "data/*.enc", "-E", "production"]);
    assert!(out.contains("Re-encrypted 4 whole file(s)"), "{out}");
    let versions = d.check_all("re-encrypt");
    assert!(versions.iter().all(|v| *v == 3), "{versions:?}");

    // Not a terminal: the versions are named and removed without asking (as the gem does).
    let out = d.run(&["--cleanup-keys"]);
    assert!(out.contains("production: version 2, 1"), "{out}");
    assert!(out.contains("production: removed 2, 1"), "{out}");
    assert_eq!(d.production_versions(), [3]);
    d.check_all("cleanup-keys");
    assert_eq!(d.encrypt_new("s6_clean"), 3);
    d.check_all("after cleanup");

    // Key files are never deleted, and the development entry never changed.
    if keystore == "file" {
        for v in 1..=3 {
            assert!(dir
                .path()
                .join(format!("keys/{app}_production_v{v}.kekek"))
                .exists());
        }
    }
    let dev = library_context(dir.path(), CONFIG, "development", &[]);
    assert_eq!(dev.primary().key(), b"1234567890ABCDEF");
}

#[test]
fn file_keystore_lifecycle() {
    lifecycle("file", "life_file");
}

#[test]
fn environment_keystore_lifecycle() {
    lifecycle("environment", "life-env");
}

#[test]
fn heroku_keystore_lifecycle() {
    lifecycle("heroku", "life_heroku");
}

/// Every line the gem printed for a step is printed by us, in the same order (we print more:
/// the key files written, which version became the primary).
fn assert_gem_lines(ours: &str, gems: &str, step: &str) {
    let normalise = |l: &str| -> String {
        match l.trim().strip_prefix("export ") {
            Some(rest) => format!("export {}", rest.split('=').next().unwrap()),
            None => l.to_string(),
        }
    };
    let ours: Vec<String> = ours.lines().map(normalise).collect();
    let mut at = 0;
    for line in gems.lines().map(normalise) {
        match ours[at..].iter().position(|l| *l == line) {
            Some(i) => at += i + 1,
            None => panic!("{step}: the gem's line {line:?} is missing from:\n{ours:#?}"),
        }
    }
}

#[test]
fn rotation_steps_print_what_the_gem_printed() {
    for set in ["rotation_file", "rotation_environment"] {
        let dir = scratch();
        let base = vectors().join("configs").join(set);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(base.join("set.json")).unwrap()).unwrap();
        let mut vars: Vec<(String, String)> = Vec::new();
        for step in json["steps"].as_array().unwrap() {
            let args = gem_args(step["command"].as_str().unwrap());
            let r = run_with(dir.path(), &strs(&args), &vars, b"").ok();
            let out = r.out();
            vars.extend(exported(&out));
            let expected = std::fs::read_to_string(
                base.join(step["dir"].as_str().unwrap())
                    .join("cli_output.txt"),
            )
            .unwrap();
            assert_gem_lines(&out, &expected, step["step"].as_str().unwrap());
            // Same versions, ciphers and order as the gem's configuration after the step.
            let ours = Config::from_path(&dir.path().join(CONFIG)).unwrap();
            let gems = Config::from_path(
                &base
                    .join(step["dir"].as_str().unwrap())
                    .join("config/symmetric-encryption.yml"),
            )
            .unwrap();
            for env in gems.environment_names() {
                let shape = |c: &Config| -> Vec<(u8, Option<_>, Option<String>)> {
                    c.environment(env)
                        .unwrap()
                        .ciphers
                        .iter()
                        .map(|e| {
                            (
                                e.version_or_default(),
                                e.cipher_name,
                                e.key_filename.clone().or(e.key_env_var.clone()),
                            )
                        })
                        .collect()
                };
                assert_eq!(shape(&ours), shape(&gems), "{set} {env}");
            }
        }
    }
}

#[test]
fn environments_limit_every_operation() {
    let dir = scratch();
    let d = dir.path();
    run(
        d,
        &[
            "-g",
            "-a",
            "app",
            "-S",
            "development,release,production",
            "-K",
            "keys",
        ],
    )
    .ok();
    let versions = |env: &str| -> Vec<u8> {
        Config::from_path(&d.join(CONFIG))
            .unwrap()
            .environment(env)
            .unwrap()
            .ciphers
            .iter()
            .map(|c| c.version_or_default())
            .collect()
    };
    let out = run(d, &["-R", "-D", "-S", "release"]).ok().out();
    assert!(out.contains("Rotated: release\n"), "{out}");
    assert!(!out.contains("production"), "{out}");
    assert_eq!(versions("release"), [1, 2]);
    assert_eq!(versions("production"), [1]);
    let out = run(d, &["-A", "-S", "production"]).ok().out();
    assert!(out.contains("Nothing to activate"), "{out}");
    run(d, &["-A", "-S", "release"]).ok();
    assert_eq!(versions("release"), [2, 1]);
    run(d, &["-U", "-S", "release"]).ok();
    let out = run(d, &["-X", "--force", "-S", "release,production"])
        .ok()
        .out();
    assert!(out.contains("release: removed 1"), "{out}");
    assert_eq!(versions("release"), [2]);

    for op in ["-R", "-U", "-A", "-X"] {
        run(d, &[op, "-S", "staging"]).fails(&[
            "\"staging\", given in --environments, is not in the file",
            "release",
        ]);
    }
    run(d, &["-R", "-c", "missing.yml"]).fails(&["missing.yml", "not found"]);
}

#[test]
fn nothing_to_do_leaves_the_file_alone() {
    let dir = scratch();
    let d = dir.path();
    run(d, &["-g", "-S", "development,test", "-K", "keys"]).ok();
    let before = std::fs::read(d.join(CONFIG)).unwrap();
    let out = run(d, &["--rotate-keys"]).ok().out();
    assert_eq!(
        out,
        "No new keys were generated. None of the environments in \
         config/symmetric-encryption.yml (development, test) has a keystore that this can \
         rotate.\n"
    );
    let out = run(d, &["--rotate-kek"]).ok().out();
    assert!(
        out.starts_with("No new key encrypting keys were generated."),
        "{out}"
    );
    assert!(run(d, &["-A"])
        .ok()
        .out()
        .starts_with("Nothing to activate"));
    assert!(run(d, &["-X"]).ok().out().starts_with("Nothing to remove"));
    assert_eq!(std::fs::read(d.join(CONFIG)).unwrap(), before);
}

#[test]
fn rotation_honours_cipher_keystore_key_path_and_app_name() {
    let dir = scratch();
    let d = dir.path();
    let out = run(
        d,
        &["-g", "-s", "environment", "-a", "shop", "-S", "production"],
    )
    .ok()
    .out();
    let vars = exported(&out);
    // --cipher-name is honoured (the gem ignores it when rotating); the app name comes from
    // the current variable's name.
    let out = run_with(d, &["-R", "-C", "aes-128-cbc"], &vars, b"")
        .ok()
        .out();
    assert!(out.contains("export SHOP_PRODUCTION_V2="), "{out}");
    let config = Config::from_path(&d.join(CONFIG)).unwrap();
    let primary = config
        .environment("production")
        .unwrap()
        .primary()
        .unwrap()
        .clone();
    assert_eq!(
        primary.cipher_name,
        Some(symmetric_encryption::CipherName::Aes128Cbc)
    );
    // Moving to another keystore, with key files where --key-path says.
    let mut vars = vars;
    vars.extend(exported(&out));
    let out = run_with(d, &["-R", "-s", "file", "-K", "vault"], &vars, b"")
        .ok()
        .out();
    assert!(
        out.contains("Key file written: vault/shop_production_v3.encrypted_key"),
        "{out}"
    );
    let ctx = library_context(d, CONFIG, "production", &vars);
    assert_eq!(ctx.primary().version(), 3);
    assert_eq!(ctx.ciphers().count(), 3);
}

#[test]
fn migrate_rewrites_legacy_forms_and_refuses_rsa() {
    let dir = scratch();
    let d = dir.path();
    let legacy = vectors().join("configs/handwritten_legacy");
    copy_tree(&legacy.join("keys"), &d.join("keys"));
    for f in std::fs::read_dir(d.join("keys")).unwrap() {
        set_mode(&f.unwrap().path(), 0o600);
    }
    std::fs::create_dir_all(d.join("config")).unwrap();
    let original = std::fs::read_to_string(legacy.join(CONFIG)).unwrap();
    std::fs::write(d.join(CONFIG), &original).unwrap();
    let vars = vec![
        (
            "SE_LEGACY_TEST_KEY".to_string(),
            "1OPcSsRyDUL1oL5rsAFNBDXoe3AppxoP".to_string(),
        ),
        (
            "SE_LEGACY_STAGING_IV".to_string(),
            "wsv4NnHwfnXxE4MK".to_string(),
        ),
    ];
    // RSA environments load, but --migrate does not rewrite them: it says how to move off RSA,
    // and the file is untouched.
    run_with(d, &["--migrate"], &vars, b"").fails(&["production_rsa", "RSA", "--rotate-keys"]);
    assert_eq!(std::fs::read_to_string(d.join(CONFIG)).unwrap(), original);

    // Without them: inline entries become ciphers: lists, and every key stays the same.
    let without_rsa = &original[..original.find("# production_rsa").unwrap()];
    std::fs::write(d.join(CONFIG), without_rsa).unwrap();
    let envs = ["development", "test", "yaml_types", "staging"];
    let before: Vec<Context> = envs
        .iter()
        .map(|e| library_context(d, CONFIG, e, &vars))
        .collect();
    let r = run_with(d, &["-m"], &vars, b"").ok();
    let out = r.out();
    assert!(
        out.contains("Existing configuration file successfully migrated to the new format"),
        "{out}"
    );
    assert!(
        out.contains("development: the cipher written directly"),
        "{out}"
    );
    assert!(r.stderr.contains("ERB"), "the ERB warning: {}", r.stderr);
    let text = std::fs::read_to_string(d.join(CONFIG)).unwrap();
    assert!(!text.contains("\n  cipher: "), "{text}");
    let config = Config::from_path(&d.join(CONFIG)).unwrap();
    for (env, old) in envs.iter().zip(before) {
        assert!(
            !config.environment(env).unwrap().is_legacy_inline(),
            "{env}"
        );
        let new = library_context(d, CONFIG, env, &[]);
        let pairs = old.ciphers().zip(new.ciphers());
        for (a, b) in pairs {
            assert_eq!(a.key(), b.key(), "{env}");
            assert_eq!(a.iv(), b.iv(), "{env}");
            assert_eq!(a.version(), b.version(), "{env}");
            assert_eq!(a.cipher_name(), b.cipher_name(), "{env}");
        }
    }
}

/// A configuration with two raw keys (versions 2 then 1) in `encoding`.
fn two_key_config(dir: &Path, encoding: &str) {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join(CONFIG),
        format!(
            "production:\n  ciphers:\n  - cipher_name: aes-256-gcm\n    version: 2\n    \
             key: ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n    encoding: {encoding}\n  - cipher_name: \
             aes-256-cbc\n    version: 1\n    key: 0123456789abcdef0123456789abcdef\n    \
             iv: 0123456789abcdef\n    encoding: {encoding}\n"
        ),
    )
    .unwrap();
}

fn value(ctx: &Context, plain: &str, version: u8) -> String {
    let v = ctx
        .encrypt(
            plain.as_bytes(),
            &symmetric_encryption::EncryptOptions {
                version: Some(version),
                ..Default::default()
            },
        )
        .unwrap();
    String::from_utf8(v).unwrap().trim_end().to_string()
}

#[test]
fn re_encrypt_values_in_place_and_names_what_it_cannot_decrypt() {
    let dir = scratch();
    let d = dir.path();
    two_key_config(d, "base64strict");
    let ctx = library_context(d, CONFIG, "production", &[]);
    let other = Context::from_yaml(
        "p:\n  ciphers:\n  - cipher_name: aes-256-gcm\n    version: 1\n    key: ZYXWVUTSRQPONMLKJIHGFEDCBA543210\n",
        Some("p"),
    )
    .unwrap();
    let old = value(&ctx, "old", 1);
    let current = value(&ctx, "current", 2);
    let foreign = value(&other, "foreign", 1);
    std::fs::create_dir_all(d.join("app/models")).unwrap();
    std::fs::create_dir_all(d.join(".hidden")).unwrap();
    let yml = format!("a: {old}\nb: \"{current}\"\nc: {foreign}\nd: not encrypted\n");
    std::fs::write(d.join("app/settings.yml"), &yml).unwrap();
    std::fs::write(d.join("app/models/user.rb"), format!("TOKEN = '{old}'\n")).unwrap();
    std::fs::write(d.join("app/notes.txt"), format!("{old}\n")).unwrap();
    std::fs::write(d.join(".hidden/x.yml"), format!("{old}\n")).unwrap();
    let big = format!("{}\nz: {old}\n", "# padding\n".repeat(30_000));
    std::fs::write(d.join("app/big.yml"), &big).unwrap();
    set_mode(&d.join("app/models/user.rb"), 0o640);
    std::os::unix::fs::symlink("models/user.rb", d.join("app/link.rb")).unwrap();

    let r = run(d, &["-E", "production", "-r"]);
    let out = r.out();
    let stderr = r.stderr.clone();
    let msg = r.fails(&["1 file(s) could not be fully re-encrypted"]);
    assert!(
        stderr.contains("1 value(s) could not be decrypted") && stderr.contains("app/settings.yml"),
        "{stderr} / {msg}"
    );
    // The file is reached twice (through the link), and re-encrypted once.
    assert!(
        out.contains("Re-encrypted 1 encrypted value(s) in: app/link.rb"),
        "{out}"
    );
    assert!(!out.contains("user.rb"), "{out}");
    assert!(
        out.contains("Skipped, not an encrypted file and larger than 256 KiB"),
        "{out}"
    );

    // settings.yml: the old value moved to version 2, the current and foreign ones untouched.
    let new = std::fs::read_to_string(d.join("app/settings.yml")).unwrap();
    let lines: Vec<&str> = new.lines().collect();
    let a = lines[0].strip_prefix("a: ").unwrap();
    assert_ne!(a, old);
    assert_eq!(ctx.decrypt(a.as_bytes()).unwrap(), b"old");
    assert_eq!(ctx.header(a.as_bytes()).unwrap().unwrap().version, 2);
    assert_eq!(lines[1], format!("b: \"{current}\""));
    assert_eq!(lines[2], format!("c: {foreign}"));
    assert_eq!(lines[3], "d: not encrypted");
    // The link still points at the file, which keeps its mode; other files are not touched.
    assert!(std::fs::symlink_metadata(d.join("app/link.rb"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(mode(&d.join("app/models/user.rb")), 0o640);
    assert_eq!(
        std::fs::read_to_string(d.join("app/notes.txt")).unwrap(),
        format!("{old}\n")
    );
    assert_eq!(
        std::fs::read_to_string(d.join(".hidden/x.yml")).unwrap(),
        format!("{old}\n")
    );
    assert_eq!(std::fs::read_to_string(d.join("app/big.yml")).unwrap(), big);

    // A second run finds everything current except the foreign value.
    let r = run(d, &["-E", "production", "-r", "app/**/*.{yml,rb}"]);
    assert!(
        r.out()
            .contains("Re-encrypted 0 whole file(s) and 0 value(s)"),
        "{}",
        r.out()
    );
    r.fails(&[]);
    // --key-version re-encrypts to an older key too.
    run(d, &["-E", "production", "-r", "app/models/*.rb", "-V", "1"]).ok();
    let rb = std::fs::read_to_string(d.join("app/models/user.rb")).unwrap();
    let v = rb
        .trim()
        .trim_start_matches("TOKEN = '")
        .trim_end_matches('\'');
    assert_eq!(ctx.header(v.as_bytes()).unwrap().unwrap().version, 1);
    let r = run(d, &["-E", "production", "-r", "nothing/*.yml"]).ok();
    assert_eq!(r.out(), "");
    assert!(
        r.stderr.contains("No files match nothing/*.yml"),
        "{}",
        r.stderr
    );
}

#[test]
fn re_encrypt_follows_base64_line_breaks() {
    let dir = scratch();
    let d = dir.path();
    two_key_config(d, "base64");
    let ctx = library_context(d, CONFIG, "production", &[]);
    let long = "x".repeat(200);
    let old = value(&ctx, &long, 1);
    assert!(
        old.contains('\n'),
        "base64 breaks lines every 60 characters"
    );
    std::fs::write(d.join("s.yml"), format!("k: {old}\nafter: 1\n")).unwrap();
    run(d, &["-E", "production", "-r", "s.yml"]).ok();
    let text = std::fs::read_to_string(d.join("s.yml")).unwrap();
    let new = text
        .strip_prefix("k: ")
        .unwrap()
        .strip_suffix("\nafter: 1\n")
        .unwrap();
    assert_eq!(ctx.decrypt(new.as_bytes()).unwrap(), long.as_bytes());
    assert_eq!(ctx.header(new.as_bytes()).unwrap().unwrap().version, 2); // A value over several lines decrypts from standard input too.
    let r = run_with(d, &["-E", "production", "-d", "-P"], &[], new.as_bytes()).ok();
    assert_eq!(r.out(), format!("{long}\n"));
}

#[test]
fn re_encrypt_leaves_undecryptable_files_alone() {
    let dir = scratch();
    let d = dir.path();
    two_key_config(d, "base64strict");
    std::fs::write(d.join("a.txt"), "x".repeat(100_000)).unwrap();
    run(
        d,
        &["-E", "production", "-e", "a.txt", "-o", "a.enc", "-V", "1"],
    )
    .ok();
    std::fs::copy(d.join("a.enc"), d.join("b.enc")).unwrap();
    let mut bytes = std::fs::read(d.join("b.enc")).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    std::fs::write(d.join("b.enc"), &bytes).unwrap();
    let r = run(d, &["-E", "production", "-r", "*.enc"]);
    assert!(
        r.out()
            .contains("Re-encrypting entire file: a.enc (version 1 -> 2)"),
        "{}",
        r.out()
    );
    assert!(
        r.stderr
            .contains("Could not re-encrypt, left unchanged: b.enc"),
        "{}",
        r.stderr
    );
    r.fails(&["1 file(s)"]);
    assert_eq!(std::fs::read(d.join("b.enc")).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let out = run(d, &["-E", "production", "-d", "a.enc"]).ok().stdout;
    assert_eq!(out, "x".repeat(100_000).as_bytes());
}
