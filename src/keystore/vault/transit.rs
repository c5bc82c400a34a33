//! The transit operations the vault keystore uses: `decrypt` (at load), `datakey/wrapped` and
//! `encrypt` (new keys), `keys` (create, read, rotate) and `rewrap` (`--rotate-kek`).
//!
//! Each public method is one call: a runtime, a connection and (for AppRole and Kubernetes) a
//! login made for it and dropped after it, so nothing is left behind for a `fork()` to copy.
//! Every request is bounded by the request timeout, and every failure is an
//! [`Error::Keystore`] that says what happened (sealed, unreachable, slow, denied, missing key,
//! version too old) and what to do.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hyper::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::auth::{Auth, Secret};
use super::client::{Answer, Failure, Http, VaultSettings};
use super::{TransitKey, WrappedKey};
use crate::error::{Error, Result};
use crate::key::SecretBytes;
use crate::keystore::runtime;

/// The versions of a transit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The version new ciphertexts are made with.
    pub latest_version: u32,
    /// The oldest version Vault still decrypts with.
    pub min_decryption_version: u32,
}

/// Vault's transit engine, reached with the settings and credentials given.
///
/// ```no_run
/// use symmetric_encryption::keystore::vault::{Transit, TransitKey};
///
/// let transit = Transit::from_env()?; // VAULT_ADDR, VAULT_TOKEN, ...
/// let key = TransitKey::new(None, Some("symmetric-encryption.my_app.production"))?;
/// let info = transit.key_info(&key)?;
/// # Ok::<(), symmetric_encryption::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Transit {
    settings: VaultSettings,
    auth: Auth,
}

impl Transit {
    /// A client with these settings and credentials.
    pub fn new(settings: VaultSettings, auth: Auth) -> Transit {
        Transit { settings, auth }
    }

    /// A client configured by this process's environment ([`VaultSettings::from_env`],
    /// [`Auth::from_env`]).
    pub fn from_env() -> Result<Transit> {
        Ok(Transit::new(VaultSettings::from_env()?, Auth::from_env()?))
    }

    /// The settings in force.
    pub fn settings(&self) -> &VaultSettings {
        &self.settings
    }

    /// Connects and logs in, inside the runtime of one call.
    async fn open(&self) -> Result<Session<'_>> {
        let http = Http::new(&self.settings)?;
        let token = self.auth.token(&http).await?;
        Ok(Session {
            http,
            token,
            auth: &self.auth,
        })
    }

    /// Unwraps a data key (`transit/decrypt`).
    pub fn decrypt(&self, key: &TransitKey, wrapped: &WrappedKey) -> Result<SecretBytes> {
        runtime::run("Vault", || async {
            let s = self.open().await?;
            let body = json_body(&json!({ "ciphertext": wrapped.as_str() }));
            let answer = s
                .post(&format!("{}/decrypt/{}", key.mount, key.name), body)
                .await
                .map_err(|f| s.error(f, Op::Decrypt(wrapped.version()), key))?;
            #[derive(Deserialize)]
            struct Decrypted<'a> {
                #[serde(borrow)]
                data: Plaintext<'a>,
            }
            #[derive(Deserialize)]
            struct Plaintext<'a> {
                plaintext: &'a str,
            }
            // Borrowed from the zeroizing answer: the base64 of the key is not copied.
            answer
                .parse::<Decrypted<'_>>()
                .and_then(|d| STANDARD.decode(d.data.plaintext).ok())
                .map(SecretBytes::new)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| Error::Keystore("Vault decrypt answered without a key".into()))
        })
    }

    /// A new data key of `len` bytes wrapped by `key` (see [`super::new_wrapped_key`]); the flag
    /// says whether the transit key had to be created.
    pub fn new_wrapped_key(
        &self,
        key: &TransitKey,
        len: usize,
        plaintext: Option<&[u8]>,
    ) -> Result<(WrappedKey, bool)> {
        let random;
        let (path, body, op) = match (plaintext, len) {
            (None, 16 | 32 | 64) => (
                format!("{}/datakey/wrapped/{}", key.mount, key.name),
                json_body(&json!({ "bits": len * 8 })),
                Op::DataKey,
            ),
            (given, _) => {
                // Vault makes 128, 256 or 512 bit keys only: others are made here and wrapped.
                let data = match given {
                    Some(p) => p,
                    None => {
                        random = SecretBytes::random(len)?;
                        random.as_bytes()
                    }
                };
                #[derive(Serialize)]
                struct Plain<'a> {
                    plaintext: &'a str,
                }
                let b64 = Zeroizing::new(STANDARD.encode(data));
                (
                    format!("{}/encrypt/{}", key.mount, key.name),
                    Zeroizing::new(
                        serde_json::to_vec(&Plain { plaintext: &b64 }).unwrap_or_default(),
                    ),
                    Op::Encrypt,
                )
            }
        };
        runtime::run("Vault", || async {
            let s = self.open().await?;
            let mut created = false;
            let answer = match s.post(&path, body.clone()).await {
                Err(Failure::Status(_, errors)) if is_missing(&errors) => {
                    s.create_key(key).await?;
                    created = true;
                    s.post(&path, body.clone()).await
                }
                other => other,
            }
            .map_err(|f| s.error(f, op, key))?;
            Ok((ciphertext(&answer, key)?, created))
        })
    }

    /// The latest and minimum decryption versions of `key` (`keys/NAME`, `read`).
    pub fn key_info(&self, key: &TransitKey) -> Result<KeyInfo> {
        runtime::run("Vault", || async { self.open().await?.key_info(key).await })
    }

    /// Rotates `key`, then rewraps each of `wrapped` with the new version (see
    /// [`super::rotate_and_rewrap`]).
    pub fn rotate_and_rewrap(
        &self,
        key: &TransitKey,
        wrapped: &[WrappedKey],
    ) -> Result<(u32, Vec<WrappedKey>)> {
        runtime::run("Vault", || async {
            let s = self.open().await?;
            s.post(
                &format!("{}/keys/{}/rotate", key.mount, key.name),
                json_body(&json!({})),
            )
            .await
            .map_err(|f| s.error(f, Op::Rotate, key))?;
            let info = s.key_info(key).await?;
            let mut out = Vec::with_capacity(wrapped.len());
            for w in wrapped {
                let answer = s
                    .post(
                        &format!("{}/rewrap/{}", key.mount, key.name),
                        json_body(&json!({ "ciphertext": w.as_str() })),
                    )
                    .await
                    .map_err(|f| s.error(f, Op::Rewrap(w.version()), key))?;
                out.push(ciphertext(&answer, key)?);
            }
            Ok((info.latest_version, out))
        })
    }
}

/// A request body without secrets.
fn json_body(v: &Value) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(serde_json::to_vec(v).unwrap_or_default())
}

fn ciphertext(answer: &Answer, key: &TransitKey) -> Result<WrappedKey> {
    let json = answer.json().unwrap_or_default();
    let text = json
        .pointer("/data/ciphertext")
        .and_then(Value::as_str)
        .unwrap_or_default();
    WrappedKey::parse(
        text.as_bytes(),
        &format!("Vault's answer for transit key {key}"),
    )
}

fn is_missing(errors: &[String]) -> bool {
    errors.iter().any(|e| e.contains("key not found"))
}

/// What was being done, for messages: the path and capability a policy needs.
#[derive(Debug, Clone, Copy)]
enum Op {
    Decrypt(u32),
    DataKey,
    Encrypt,
    Create,
    Read,
    Rotate,
    Rewrap(u32),
}

impl Op {
    fn describe(self, key: &TransitKey) -> (String, String, &'static str) {
        let (m, n) = (&key.mount, &key.name);
        match self {
            Op::Decrypt(_) => ("decrypt".into(), format!("{m}/decrypt/{n}"), "update"),
            Op::DataKey => (
                "datakey".into(),
                format!("{m}/datakey/wrapped/{n}"),
                "update",
            ),
            Op::Encrypt => ("encrypt".into(), format!("{m}/encrypt/{n}"), "update"),
            Op::Create => ("creating the key".into(), format!("{m}/keys/{n}"), "create"),
            Op::Read => ("reading the key".into(), format!("{m}/keys/{n}"), "read"),
            Op::Rotate => ("rotate".into(), format!("{m}/keys/{n}/rotate"), "update"),
            Op::Rewrap(_) => ("rewrap".into(), format!("{m}/rewrap/{n}"), "update"),
        }
    }
}

/// A connection and a token, for the requests of one call.
struct Session<'a> {
    http: Http,
    token: Secret,
    auth: &'a Auth,
}

impl Session<'_> {
    async fn post(
        &self,
        path: &str,
        body: Zeroizing<Vec<u8>>,
    ) -> std::result::Result<Answer, Failure> {
        self.http
            .call(Method::POST, path, Some(&self.token), Some(body))
            .await
    }

    async fn create_key(&self, key: &TransitKey) -> Result<()> {
        self.post(
            &format!("{}/keys/{}", key.mount, key.name),
            json_body(&json!({ "type": "aes256-gcm96" })),
        )
        .await
        .map(|_| ())
        .map_err(|f| self.error(f, Op::Create, key))
    }

    async fn key_info(&self, key: &TransitKey) -> Result<KeyInfo> {
        let answer = self
            .http
            .call(
                Method::GET,
                &format!("{}/keys/{}", key.mount, key.name),
                Some(&self.token),
                None,
            )
            .await
            .and_then(|a| a.json())
            .map_err(|f| self.error(f, Op::Read, key))?;
        let get = |p: &str| {
            answer
                .pointer(p)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
        };
        match (
            get("/data/latest_version"),
            get("/data/min_decryption_version"),
        ) {
            (Some(latest_version), Some(min_decryption_version)) => Ok(KeyInfo {
                latest_version,
                min_decryption_version,
            }),
            _ => Err(Error::Keystore(format!(
                "Vault's answer for transit key {key} has no version numbers"
            ))),
        }
    }

    fn error(&self, failure: Failure, op: Op, key: &TransitKey) -> Error {
        let address = &self.http.settings.address;
        let (what, path, capability) = op.describe(key);
        let errors = match &failure {
            Failure::Status(_, e) => e.join("; "),
            _ => String::new(),
        };
        let status = match &failure {
            Failure::Status(s, _) => s.as_u16(),
            _ => 0,
        };
        let message = match (status, op) {
            (403, _) => format!(
                "Vault at {address} denied {what} with transit key {key} to {} ({errors}): the \
                 token needs the policy capability \"{capability}\" on \"{path}\", or it has \
                 expired or been revoked. See the policies in the Vault chapter of the \
                 documentation",
                self.auth.describe()
            ),
            (400 | 404, _) if errors.contains("key not found") => match op {
                Op::Decrypt(v) | Op::Rewrap(v) => format!(
                    "transit key {key} does not exist on {address} ({errors}): it was deleted, \
                     or transit_key / transit_mount are wrong. A deleted transit key can only \
                     come back from a Vault backup (`vault write {m}/restore/{n}`); without it, \
                     data encrypted with this data key (wrapped with version v{v}) cannot be \
                     decrypted",
                    m = key.mount,
                    n = key.name
                ),
                _ => format!(
                    "transit key {key} does not exist on {address} ({errors}): create it \
                     (`vault write -f {}`), or check transit_key / transit_mount",
                    key.path()
                ),
            },
            (400, Op::Decrypt(v) | Op::Rewrap(v)) if errors.contains("too old") => format!(
                "the data key was wrapped with version v{v} of transit key {key}, which is \
                 below the key's min_decryption_version on {address} ({errors}). Lower \
                 min_decryption_version to {v} (`vault write {}/config \
                 min_decryption_version={v}`), then rewrap the stored keys with \
                 `symmetric-encryption --rotate-kek` before raising it again",
                key.path()
            ),
            (400, Op::Decrypt(_) | Op::Rewrap(_)) if errors.contains("ciphertext") => format!(
                "Vault at {address} cannot unwrap the data key with transit key {key} \
                 ({errors}): the stored key belongs to another transit key, or is damaged"
            ),
            (404, _) => format!(
                "Vault at {address} has no transit engine at {} ({errors}): enable it (`vault \
                 secrets enable -path={} transit`), or fix transit_mount",
                key.mount, key.mount
            ),
            _ => {
                return failure_error(
                    failure,
                    address,
                    &format!("{what} with transit key {key}"),
                    Some(&path),
                )
            }
        };
        Error::Keystore(message)
    }
}

/// The message of a failure that does not depend on the operation: sealed, unreachable, slow,
/// another status. `what` names the operation, `path` the request path.
pub(super) fn failure_error(
    failure: Failure,
    address: &str,
    what: &str,
    path: Option<&str>,
) -> Error {
    let at = path.map(|p| format!(" ({p})")).unwrap_or_default();
    Error::Keystore(match failure {
        Failure::Status(s, errors)
            if s.as_u16() == 503 && errors.iter().any(|e| e.contains("sealed")) =>
        {
            format!(
                "Vault at {address} is sealed, so {what} cannot be done: unseal it (`vault \
                 operator unseal`, or wait for auto-unseal), or point VAULT_ADDR at an unsealed \
                 node"
            )
        }
        Failure::Status(s, errors) if s.as_u16() == 503 || s.as_u16() == 429 => format!(
            "Vault at {address} is not available for {what}{at}: {} {}. Retry later, or point \
             VAULT_ADDR at the active node",
            s.as_u16(),
            errors.join("; ")
        ),
        Failure::Status(s, errors) => format!(
            "Vault at {address} answered {} to {what}{at}: {}",
            s.as_u16(),
            if errors.is_empty() {
                "no error message".to_string()
            } else {
                errors.join("; ")
            }
        ),
        Failure::Unreachable(detail) => format!(
            "cannot reach Vault at {address} for {what}: {detail}. Check VAULT_ADDR, the \
             network and, for https, VAULT_CACERT"
        ),
        Failure::Timeout => format!(
            "no answer from Vault at {address} for {what} in time: it is slow or unreachable. \
             Check VAULT_ADDR and the network (VAULT_CLIENT_TIMEOUT sets the time allowed per \
             request)"
        ),
        Failure::BadAnswer(detail) => format!("Vault at {address}, {what}: {detail}"),
    })
}
