//! Conformance with the gem's configuration sets (`tests/vectors/configs`): every set loads,
//! every environment resolves to the recorded ciphers, every recorded sample decrypts (and
//! deterministic ones re-encrypt byte for byte), fresh values round-trip, every rotation step
//! decrypts as its matrix says, and files the gem wrote come back byte for byte from the writer.
//!
//! Key files are copied to a temporary directory with the mode recorded in `index.json`, and
//! loaded with that directory as the base of relative key paths. A missing or empty vectors
//! directory fails the test.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use symmetric_encryption::{Config, Context, EncryptOptions, ErrorKind};

/// Environment variables are process-wide: one test at a time touches them.
static ENV_LOCK: Mutex<()> = Mutex::new(());

fn vectors() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let configs = dir.join("configs");
    assert!(
        configs.join("index.json").is_file(),
        "the vectors are missing: {} has no index.json (run scripts/vendor-vectors.sh)",
        configs.display()
    );
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

/// Modes of every file in the vector set, by path relative to the vectors directory.
fn modes(root: &Path) -> HashMap<String, u32> {
    json(&root.join("index.json"))["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mode = f["mode"].as_str().unwrap_or("0600");
            (
                f["path"].as_str().unwrap().to_string(),
                u32::from_str_radix(mode, 8).unwrap(),
            )
        })
        .collect()
}

/// Copies `rel` (a set or step directory, relative to the vectors) to a temporary directory,
/// giving key files their recorded modes.
fn stage(root: &Path, rel: &str, modes: &HashMap<String, u32>) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for sub in ["config", "keys"] {
        let from = root.join(rel).join(sub);
        if !from.is_dir() {
            continue;
        }
        let to = tmp.path().join(sub);
        fs::create_dir_all(&to).unwrap();
        for entry in fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let dest = to.join(&name);
            fs::copy(entry.path(), &dest).unwrap();
            if sub == "keys" {
                let mode = modes
                    .get(&format!("{rel}/keys/{name}"))
                    .copied()
                    .unwrap_or(0o600);
                fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
    tmp
}

fn set_env_vars(vars: &Value) {
    if let Some(map) = vars.as_object() {
        for (k, v) in map {
            std::env::set_var(k, v.as_str().unwrap());
        }
    }
}

fn load(dir: &Path) -> Config {
    Config::from_path(&dir.join("config/symmetric-encryption.yml"))
        .unwrap()
        .with_key_dir(dir)
}

fn b64(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| STANDARD.decode(s).unwrap())
}

#[derive(Default)]
struct Counts {
    sets: usize,
    environments: usize,
    ciphers: usize,
    samples: usize,
    reencrypted: usize,
    fresh: usize,
    written: usize,
    matrix: usize,
}

/// The ciphers of `env` equal the recorded `resolved_ciphers`.
fn check_ciphers(config: &Config, env: &str, expected: &Value, what: &str, n: &mut Counts) {
    let ciphers = config
        .ciphers(env)
        .unwrap_or_else(|e| panic!("{what}: {env}: {e}"));
    let expected = expected.as_array().unwrap();
    assert_eq!(ciphers.len(), expected.len(), "{what}: {env}: cipher count");
    for (c, x) in ciphers.iter().zip(expected) {
        let at = format!("{what}: {env}: version {}", x["version"]);
        assert_eq!(c.version() as u64, x["version"].as_u64().unwrap(), "{at}");
        assert_eq!(
            c.cipher_name().as_str(),
            x["cipher_name"].as_str().unwrap(),
            "{at}"
        );
        assert_eq!(c.key(), b64(&x["key_b64"]).unwrap(), "{at}: key");
        assert_eq!(c.iv().map(<[u8]>::to_vec), b64(&x["iv_b64"]), "{at}: iv");
        assert_eq!(c.encoding().name(), x["encoding"].as_str().unwrap(), "{at}");
        assert_eq!(
            c.always_add_header(),
            x["always_add_header"].as_bool().unwrap(),
            "{at}"
        );
        n.ciphers += 1;
    }
}

fn ciphertext(set_dir: &Path, s: &Value) -> Vec<u8> {
    if let Some(f) = s["ciphertext_file"].as_str() {
        return fs::read(set_dir.join(f)).unwrap();
    }
    let text = s["ciphertext"].as_str().unwrap();
    if s["ciphertext_wrapped"].as_str() == Some("base64") {
        STANDARD.decode(text).unwrap()
    } else {
        text.as_bytes().to_vec()
    }
}

fn plaintext(set_dir: &Path, s: &Value) -> Vec<u8> {
    match s["plaintext_file"].as_str() {
        Some(f) => fs::read(set_dir.join(f)).unwrap(),
        None => b64(&s["plaintext_b64"]).unwrap(),
    }
}

/// Decrypts `sample` with `ctx`; deterministic samples must also re-encrypt identically.
fn check_sample(ctx: &Context, set_dir: &Path, s: &Value, what: &str, n: &mut Counts) {
    let id = s["sample_id"].as_str().unwrap();
    let ct = ciphertext(set_dir, s);
    let plain = plaintext(set_dir, s);
    let got = ctx
        .decrypt(&ct)
        .unwrap_or_else(|e| panic!("{what}: sample {id}: {e}"));
    assert_eq!(got, plain, "{what}: sample {id}");
    n.samples += 1;
    if s["deterministic"].as_bool() == Some(true) {
        let opts = EncryptOptions {
            random_iv: Some(false),
            compress: Some(s["compress"].as_bool().unwrap_or(false)),
            header: None,
            version: s["cipher_version"].as_u64().map(|v| v as u8),
        };
        assert_eq!(
            ctx.encrypt(&plain, &opts).unwrap(),
            ct,
            "{what}: sample {id} re-encrypted"
        );
        n.reencrypted += 1;
    }
}

fn check_fresh(ctx: &Context, what: &str, n: &mut Counts) {
    for (value, random_iv, compress) in [
        (&b"4111 1111 1111 1111"[..], false, false),
        (
            &b"a fresh value, compressed with a random iv"[..],
            true,
            true,
        ),
        (&[0u8, 255, 1, 254][..], true, false),
    ] {
        let opts = EncryptOptions {
            random_iv: Some(random_iv),
            compress: Some(compress),
            ..Default::default()
        };
        let enc = ctx.encrypt(value, &opts).unwrap();
        assert!(
            ctx.is_encrypted(&enc) || !ctx.primary().always_add_header(),
            "{what}"
        );
        assert_eq!(ctx.decrypt(&enc).unwrap(), value, "{what}");
        n.fresh += 1;
    }
}

/// The writer reproduces a file the gem wrote, byte for byte.
fn check_writer(config: &Config, original: &Path, what: &str, n: &mut Counts) {
    let text = fs::read_to_string(original).unwrap();
    assert_eq!(
        config.to_yaml(),
        text,
        "{what}: writer output differs from the gem's file"
    );
    n.written += 1;
}

fn check_plain_set(root: &Path, set: &str, modes: &HashMap<String, u32>, n: &mut Counts) {
    let rel = format!("configs/{set}");
    let set_dir = root.join(&rel);
    let meta = json(&set_dir.join("set.json"));
    set_env_vars(&meta["env_vars"]);
    if set == "handwritten_legacy" {
        // Deliberately unset: the ERB default applies.
        std::env::remove_var("SE_LEGACY_TEST_IV");
    }
    let tmp = stage(root, &rel, modes);
    let config = load(tmp.path());
    let envs = meta["environments"].as_array().unwrap();
    assert!(!envs.is_empty(), "{set}: no environments");
    for env in envs {
        let name = env["environment"].as_str().unwrap();
        check_ciphers(&config, name, &env["resolved_ciphers"], set, n);
        let ctx = config.context(Some(name)).unwrap();
        for s in env["samples"].as_array().unwrap() {
            check_sample(&ctx, &set_dir, s, &format!("{set}: {name}"), n);
        }
        check_fresh(&ctx, &format!("{set}: {name}"), n);
        n.environments += 1;
    }
    if meta["kind"].as_str() != Some("handwritten") {
        check_writer(
            &config,
            &set_dir.join("config/symmetric-encryption.yml"),
            set,
            n,
        );
    }
    n.sets += 1;
}

fn check_rotation_set(root: &Path, set: &str, modes: &HashMap<String, u32>, n: &mut Counts) {
    let set_dir = root.join("configs").join(set);
    let meta = json(&set_dir.join("set.json"));
    let samples: HashMap<&str, &Value> = meta["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["sample_id"].as_str().unwrap(), s))
        .collect();
    let matrix = meta["decrypt_matrix"].as_object().unwrap();
    let steps = meta["steps"].as_array().unwrap();
    assert!(steps.len() >= 5, "{set}: steps");
    for step in steps {
        let step_name = step["step"].as_str().unwrap();
        let rel = format!("configs/{set}/{}", step["dir"].as_str().unwrap());
        set_env_vars(&step["env_vars"]);
        let tmp = stage(root, &rel, modes);
        let config = load(tmp.path());
        let what = format!("{set}: {step_name}");
        let mut contexts = HashMap::new();
        for env in step["environments"].as_array().unwrap() {
            let name = env["environment"].as_str().unwrap();
            check_ciphers(&config, name, &env["resolved_ciphers"], &what, n);
            let ctx = config.context(Some(name)).unwrap();
            check_fresh(&ctx, &what, n);
            contexts.insert(name.to_string(), ctx);
            n.environments += 1;
        }
        let row = matrix[step_name].as_object().unwrap();
        assert_eq!(row.len(), samples.len(), "{what}: matrix row");
        for (id, expected) in row {
            let s = samples[id.as_str()];
            let ctx = &contexts[s["environment"].as_str().unwrap()];
            let got = ctx.decrypt(&ciphertext(&set_dir, s));
            if expected.as_str() == Some("ok") {
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{what}: {id}: {e}")),
                    plaintext(&set_dir, s),
                    "{what}: {id}"
                );
            } else {
                let e = got.expect_err(&format!("{what}: {id} should not decrypt"));
                assert_eq!(e.kind(), ErrorKind::Cipher, "{what}: {id}: {e}");
                assert!(e.to_string().contains("no cipher with version"), "{e}");
            }
            n.matrix += 1;
        }
        // Samples written at this step also re-encrypt byte for byte where deterministic.
        for s in samples.values() {
            if s["encrypted_at_step"].as_str() == Some(step_name) {
                let ctx = &contexts[s["environment"].as_str().unwrap()];
                check_sample(ctx, &set_dir, s, &what, n);
            }
        }
        check_writer(
            &config,
            &root.join(&rel).join("config/symmetric-encryption.yml"),
            &what,
            n,
        );
    }
    n.sets += 1;
}

fn check_upgrade_set(root: &Path, set: &str, modes: &HashMap<String, u32>, n: &mut Counts) {
    let set_dir = root.join("configs").join(set);
    let meta = json(&set_dir.join("set.json"));
    let steps = meta["steps"].as_array().unwrap();
    let mut earlier: Vec<&Value> = Vec::new();
    for step in steps {
        let rel = format!("configs/{set}/{}", step["dir"].as_str().unwrap());
        let tmp = stage(root, &rel, modes);
        let config = load(tmp.path());
        let what = format!("{set}: {}", step["step"].as_str().unwrap());
        for env in step["environments"].as_array().unwrap() {
            let name = env["environment"].as_str().unwrap();
            check_ciphers(&config, name, &env["resolved_ciphers"], &what, n);
            let ctx = config.context(Some(name)).unwrap();
            for s in env["samples"].as_array().unwrap() {
                check_sample(&ctx, &set_dir, s, &what, n);
            }
            check_fresh(&ctx, &what, n);
            n.environments += 1;
            if let Some(old) = step["step_01_samples_decrypt"].as_array() {
                assert_eq!(old.len(), earlier.len(), "{what}");
                for s in &earlier {
                    assert_eq!(
                        ctx.decrypt(&ciphertext(&set_dir, s)).unwrap(),
                        plaintext(&set_dir, s),
                        "{what}: earlier sample {}",
                        s["sample_id"]
                    );
                    n.matrix += 1;
                }
            }
        }
        earlier = step["environments"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["samples"].as_array().unwrap())
            .collect();
        check_writer(
            &config,
            &root.join(&rel).join("config/symmetric-encryption.yml"),
            &what,
            n,
        );
    }
    n.sets += 1;
}

#[test]
fn every_configuration_set_loads_decrypts_and_writes_back() {
    let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = vectors();
    let modes = modes(&root);
    let index = json(&root.join("configs/index.json"));
    let sets = index["sets"].as_array().unwrap();
    assert!(sets.len() >= 12, "only {} configuration sets", sets.len());
    let mut n = Counts::default();
    for set in sets {
        let name = set["dir"].as_str().unwrap();
        match set["kind"].as_str().unwrap() {
            "rotation" => check_rotation_set(&root, name, &modes, &mut n),
            "upgrade" => check_upgrade_set(&root, name, &modes, &mut n),
            _ => check_plain_set(&root, name, &modes, &mut n),
        }
    }
    assert_eq!(n.sets, sets.len());
    assert!(n.samples > 100 && n.matrix > 100, "too few samples checked");
    println!(
        "configs: {} sets, {} environment loads, {} ciphers matched, {} samples decrypted \
         ({} re-encrypted byte for byte), {} rotation-matrix decryptions, {} fresh round trips, \
         {} files written back byte for byte",
        n.sets, n.environments, n.ciphers, n.samples, n.reencrypted, n.matrix, n.fresh, n.written
    );
}

#[test]
fn context_load_with_explicit_path_and_environment() {
    let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = vectors();
    let set_dir = root.join("configs/environment_gcm");
    let meta = json(&set_dir.join("set.json"));
    set_env_vars(&meta["env_vars"]);
    let path = set_dir.join("config/symmetric-encryption.yml");
    for env in meta["environments"].as_array().unwrap() {
        let name = env["environment"].as_str().unwrap();
        let ctx = Context::load(Some(&path), Some(name)).unwrap();
        let s = &env["samples"][0];
        assert_eq!(
            ctx.decrypt(s["ciphertext"].as_str().unwrap().as_bytes())
                .unwrap(),
            b64(&s["plaintext_b64"]).unwrap()
        );
        let yaml = fs::read_to_string(&path).unwrap();
        let ctx = Context::from_yaml(&yaml, Some(name)).unwrap();
        assert_eq!(ctx.primary().version(), 1);
    }
}
