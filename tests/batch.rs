//! `Context::encrypt_many` / `decrypt_many` on the gem's values: every value written by the gem
//! decrypts in a batch (on several threads) to the gem's plaintext, a value that fails fails
//! alone with the error `decrypt` gives it, and batch encryption is `encrypt` per value.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use symmetric_encryption::batch::{threads_for, MIN_VALUES_PER_THREAD};
use symmetric_encryption::{Config, Context, EncryptOptions};

/// (ciphertext, plaintext) pairs written by the gem.
type Samples = Vec<(Vec<u8>, Vec<u8>)>;

/// The gem-generated `file_gcm_default` set, staged with 0600 key files, and its samples
/// (ciphertext, plaintext) per environment.
fn gem_set() -> (tempfile::TempDir, Vec<(String, Samples)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/configs/file_gcm_default");
    let meta: Value = serde_json::from_slice(&fs::read(root.join("set.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for sub in ["config", "keys"] {
        fs::create_dir_all(tmp.path().join(sub)).unwrap();
        for e in fs::read_dir(root.join(sub)).unwrap() {
            let e = e.unwrap();
            let dest = tmp.path().join(sub).join(e.file_name());
            fs::copy(e.path(), &dest).unwrap();
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let envs = meta["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|env| {
            let samples = env["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let ct = s["ciphertext"].as_str().unwrap().as_bytes().to_vec();
                    let pt = STANDARD
                        .decode(s["plaintext_b64"].as_str().unwrap())
                        .unwrap();
                    (ct, pt)
                })
                .collect::<Vec<_>>();
            (env["environment"].as_str().unwrap().to_string(), samples)
        })
        .collect();
    (tmp, envs)
}

fn context(dir: &Path, env: &str) -> Context {
    Config::from_path(&dir.join("config/symmetric-encryption.yml"))
        .unwrap()
        .with_key_dir(dir)
        .context(Some(env))
        .unwrap()
}

#[test]
fn gem_values_decrypt_in_batches_and_failures_stay_alone() {
    let (dir, envs) = gem_set();
    let mut checked = 0;
    for (env, samples) in &envs {
        let ctx = context(dir.path(), env);
        // Enough copies for several threads; every 13th value damaged.
        let copies = 2 * MIN_VALUES_PER_THREAD / samples.len() + 1;
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        let mut want: Vec<Option<&[u8]>> = Vec::new();
        for _ in 0..copies {
            for (ct, pt) in samples {
                if inputs.len().is_multiple_of(13) {
                    let mut bad = ct.clone();
                    let last = bad.len() - 3;
                    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
                    inputs.push(bad);
                    want.push(None);
                } else {
                    inputs.push(ct.clone());
                    want.push(Some(pt));
                }
            }
        }
        assert!(
            threads_for(inputs.len(), 0, 4) >= 2,
            "{env}: big enough for threads"
        );
        let results = ctx.decrypt_many(&inputs, 4).unwrap();
        assert_eq!(results.len(), inputs.len());
        for (i, (r, w)) in results.iter().zip(&want).enumerate() {
            match (r, w) {
                (Ok(got), Some(pt)) => assert_eq!(got, pt, "{env}: value {i}"),
                (Err(e), None) => {
                    let single = ctx.decrypt(&inputs[i]).unwrap_err();
                    assert_eq!(e.kind(), single.kind(), "{env}: value {i}");
                    assert_eq!(e.to_string(), single.to_string(), "{env}: value {i}");
                }
                (Ok(_), None) => {
                    // A damaged CBC value may still decrypt (no authentication): as decrypt.
                    assert!(ctx.decrypt(&inputs[i]).is_ok(), "{env}: value {i}");
                }
                (Err(e), Some(_)) => panic!("{env}: value {i} failed: {e}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 4 * 2 * MIN_VALUES_PER_THREAD, "checked {checked}");
}

#[test]
fn batch_encryption_is_encrypt_per_value() {
    let (dir, _) = gem_set();
    let ctx = context(dir.path(), "production");
    let values: Vec<String> = (0..3 * MIN_VALUES_PER_THREAD)
        .map(|i| format!("value {i}"))
        .collect();
    let deterministic = EncryptOptions {
        random_iv: Some(false),
        ..Default::default()
    };
    for threads in [1, 3] {
        let out = ctx.encrypt_many(&values, &deterministic, threads).unwrap();
        for (v, o) in values.iter().zip(&out) {
            let one = ctx.encrypt(v.as_bytes(), &deterministic).unwrap();
            assert_eq!(o.as_ref().unwrap(), &one);
        }
        // Random ivs: every value different, every one decrypts back.
        let random = ctx
            .encrypt_many(&values, &EncryptOptions::default(), threads)
            .unwrap();
        let back = ctx
            .decrypt_many(
                &random
                    .iter()
                    .map(|r| r.as_ref().unwrap())
                    .collect::<Vec<_>>(),
                threads,
            )
            .unwrap();
        for (v, b) in values.iter().zip(back) {
            assert_eq!(b.unwrap(), v.as_bytes());
        }
    }
    // A version that is not configured fails every value, with the message encrypt gives.
    let bad = EncryptOptions {
        version: Some(200),
        ..Default::default()
    };
    let out = ctx.encrypt_many(&values[..3], &bad, 1).unwrap();
    let single = ctx.encrypt(b"x", &bad).unwrap_err().to_string();
    assert!(out
        .iter()
        .all(|r| r.as_ref().unwrap_err().to_string() == single));
}

#[test]
fn a_bad_thread_variable_is_an_error_that_names_it() {
    // The only test here that sets the variable; the other tests pass their thread count.
    std::env::set_var("SYMMETRIC_ENCRYPTION_THREADS", "lots");
    let err = symmetric_encryption::batch::thread_limit(0)
        .unwrap_err()
        .to_string();
    std::env::set_var("SYMMETRIC_ENCRYPTION_THREADS", "3");
    let three = symmetric_encryption::batch::thread_limit(0).unwrap();
    std::env::remove_var("SYMMETRIC_ENCRYPTION_THREADS");
    assert!(
        err.contains("SYMMETRIC_ENCRYPTION_THREADS") && err.contains("\"lots\""),
        "{err}"
    );
    assert_eq!(three, 3);
    assert_eq!(symmetric_encryption::batch::thread_limit(5).unwrap(), 5);
}
