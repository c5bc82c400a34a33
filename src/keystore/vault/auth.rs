//! How this process proves who it is to Vault: a token (`VAULT_TOKEN`, `~/.vault-token`), an
//! AppRole login, or a Kubernetes service-account login. Tokens, secret ids and service-account
//! tokens are kept in zeroizing memory and never shown by `Debug` or in messages.
//!
//! The method is `VAULT_AUTH_METHOD` (`token`, `approle` or `kubernetes`) when set; otherwise
//! AppRole when `VAULT_ROLE_ID` or `VAULT_ROLE_ID_FILE` is set, Kubernetes when `VAULT_K8S_ROLE`
//! is set, else a token.

use std::fmt;
use std::path::{Path, PathBuf};

use hyper::Method;
use zeroize::Zeroizing;

use super::client::{Failure, Http};
use crate::error::{Error, Result};

/// Where a Kubernetes pod finds its service-account token.
pub const K8S_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A token, secret id or service-account token: zeroized when dropped, never shown.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The secret, for a request header or body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How to authenticate to Vault.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A token; `source` says where it came from (`VAULT_TOKEN`, `~/.vault-token`).
    Token {
        /// The token.
        token: Secret,
        /// Where it was found, for messages.
        source: String,
    },
    /// AppRole: `auth/MOUNT/login` with a role id and a secret id.
    AppRole {
        /// `VAULT_APPROLE_MOUNT`, default `approle`.
        mount: String,
        /// `VAULT_ROLE_ID`, or the contents of `VAULT_ROLE_ID_FILE`.
        role_id: Secret,
        /// `VAULT_SECRET_ID`, or the contents of `VAULT_SECRET_ID_FILE` (none for a role
        /// without `bind_secret_id`).
        secret_id: Option<Secret>,
    },
    /// Kubernetes: `auth/MOUNT/login` with a role and the pod's service-account token.
    Kubernetes {
        /// `VAULT_K8S_MOUNT`, default `kubernetes`.
        mount: String,
        /// `VAULT_K8S_ROLE`.
        role: String,
        /// `VAULT_K8S_TOKEN_FILE`, default `K8S_TOKEN_FILE`; read at each login.
        jwt_file: PathBuf,
    },
}

fn var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .filter(|v| !v.trim().is_empty())
}

fn read_secret(path: &Path, what: &str) -> Result<Secret> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        Error::Keystore(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })?);
    let value = text.trim();
    if value.is_empty() {
        return Err(Error::Keystore(format!(
            "the {what} file {} is empty",
            path.display()
        )));
    }
    Ok(Secret::new(value.to_string()))
}

/// `NAME`, else the contents of the file `NAME_FILE`.
fn value_or_file(name: &str, what: &str) -> Result<Option<Secret>> {
    if let Some(v) = var(&[name]) {
        return Ok(Some(Secret::new(v.trim().to_string())));
    }
    match var(&[&format!("{name}_FILE")]) {
        Some(f) => read_secret(Path::new(f.trim()), what).map(Some),
        None => Ok(None),
    }
}

impl Auth {
    /// The method this process's environment asks for (see the module documentation).
    pub fn from_env() -> Result<Auth> {
        let method = var(&["VAULT_AUTH_METHOD"]).map(|m| m.trim().to_ascii_lowercase());
        let method = match method.as_deref() {
            Some(m @ ("token" | "approle" | "kubernetes")) => m.to_string(),
            Some(other) => {
                return Err(Error::Keystore(format!(
                    "VAULT_AUTH_METHOD is {other:?}: use token, approle or kubernetes"
                )))
            }
            None if var(&["VAULT_ROLE_ID", "VAULT_ROLE_ID_FILE"]).is_some() => "approle".into(),
            None if var(&["VAULT_K8S_ROLE"]).is_some() => "kubernetes".into(),
            None => "token".into(),
        };
        match method.as_str() {
            "approle" => {
                let role_id =
                    value_or_file("VAULT_ROLE_ID", "AppRole role id")?.ok_or_else(|| {
                        Error::Keystore(
                        "AppRole login needs a role id: set VAULT_ROLE_ID, or VAULT_ROLE_ID_FILE \
                         to a file holding it"
                            .into(),
                    )
                    })?;
                Ok(Auth::AppRole {
                    mount: mount("VAULT_APPROLE_MOUNT", "approle"),
                    role_id,
                    secret_id: value_or_file("VAULT_SECRET_ID", "AppRole secret id")?,
                })
            }
            "kubernetes" => Ok(Auth::Kubernetes {
                mount: mount("VAULT_K8S_MOUNT", "kubernetes"),
                role: var(&["VAULT_K8S_ROLE"])
                    .map(|r| r.trim().to_string())
                    .ok_or_else(|| {
                        Error::Keystore(
                            "Kubernetes login needs the Vault role: set VAULT_K8S_ROLE".into(),
                        )
                    })?,
                jwt_file: var(&["VAULT_K8S_TOKEN_FILE"])
                    .map(|f| PathBuf::from(f.trim()))
                    .unwrap_or_else(|| PathBuf::from(K8S_TOKEN_FILE)),
            }),
            _ => token_from_env(),
        }
    }

    /// What this method is, for messages (never the secret): `the token in VAULT_TOKEN`.
    pub fn describe(&self) -> String {
        match self {
            Auth::Token { source, .. } => format!("the token in {source}"),
            Auth::AppRole { mount, .. } => format!("AppRole login at auth/{mount}"),
            Auth::Kubernetes { mount, role, .. } => {
                format!("Kubernetes login at auth/{mount} as role {role}")
            }
        }
    }

    /// A token to send: the configured one, or one from a login.
    pub(super) async fn token(&self, http: &Http) -> Result<Secret> {
        #[derive(serde::Serialize)]
        struct Login<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            role_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            secret_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            role: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            jwt: Option<&'a str>,
        }
        let jwt;
        let (mount, login) = match self {
            Auth::Token { token, .. } => return Ok(token.clone()),
            Auth::AppRole {
                mount,
                role_id,
                secret_id,
            } => (
                mount,
                Login {
                    role_id: Some(role_id.expose()),
                    secret_id: secret_id.as_ref().map(Secret::expose),
                    role: None,
                    jwt: None,
                },
            ),
            Auth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => {
                jwt = read_secret(jwt_file, "Kubernetes service-account token")?;
                (
                    mount,
                    Login {
                        role_id: None,
                        secret_id: None,
                        role: Some(role),
                        jwt: Some(jwt.expose()),
                    },
                )
            }
        };
        let body = Zeroizing::new(serde_json::to_vec(&login).unwrap_or_default());
        let answer = http
            .call(
                Method::POST,
                &format!("auth/{mount}/login"),
                None,
                Some(body),
            )
            .await
            .map_err(|f| self.login_error(f, &http.settings.address))?;
        #[derive(serde::Deserialize)]
        struct LoggedIn<'a> {
            #[serde(borrow)]
            auth: ClientToken<'a>,
        }
        #[derive(serde::Deserialize)]
        struct ClientToken<'a> {
            client_token: &'a str,
        }
        answer
            .parse::<LoggedIn<'_>>()
            .map(|l| Secret::new(l.auth.client_token.to_string()))
            .ok_or_else(|| {
                Error::Keystore(format!(
                    "{} at {} answered without a client token",
                    self.describe(),
                    http.settings.address
                ))
            })
    }

    fn login_error(&self, failure: Failure, address: &str) -> Error {
        let what = self.describe();
        let hint = match self {
            Auth::AppRole { .. } => {
                "check VAULT_ROLE_ID and VAULT_SECRET_ID (a secret id expires and may be used a \
                 limited number of times), and VAULT_APPROLE_MOUNT"
            }
            Auth::Kubernetes { .. } => {
                "check VAULT_K8S_ROLE, that the role is bound to this pod's service account and \
                 namespace, and VAULT_K8S_MOUNT"
            }
            Auth::Token { .. } => "",
        };
        match failure {
            Failure::Status(status, errors) if status.as_u16() == 404 => Error::Keystore(format!(
                "{what} failed: there is no such auth method on {address} ({}). Enable it, or \
                 set the mount ({hint})",
                errors.join("; ")
            )),
            Failure::Status(status, errors) if status.as_u16() == 400 || status.as_u16() == 403 => {
                Error::Keystore(format!(
                    "{what} was refused by {address} ({}): {hint}",
                    errors.join("; ")
                ))
            }
            other => super::transit::failure_error(other, address, &what, None),
        }
    }
}

fn mount(name: &str, default: &str) -> String {
    var(&[name])
        .map(|m| m.trim().trim_matches('/').to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// `VAULT_TOKEN` (or `BAO_TOKEN`), else the token helper's file `~/.vault-token`.
fn token_from_env() -> Result<Auth> {
    for name in ["VAULT_TOKEN", "BAO_TOKEN"] {
        if let Some(t) = var(&[name]) {
            return Ok(Auth::Token {
                token: Secret::new(t.trim().to_string()),
                source: name.into(),
            });
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = Path::new(&home).join(".vault-token");
        if path.is_file() {
            return Ok(Auth::Token {
                token: read_secret(&path, "Vault token")?,
                source: path.display().to_string(),
            });
        }
    }
    Err(Error::Keystore(
        "no Vault credentials: set VAULT_TOKEN, log in with `vault login` / `bao login` (which \
         writes ~/.vault-token), or use AppRole (VAULT_ROLE_ID and VAULT_SECRET_ID) or \
         Kubernetes (VAULT_K8S_ROLE) login"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_shown() {
        let a = Auth::AppRole {
            mount: "approle".into(),
            role_id: Secret::new("role-1234".into()),
            secret_id: Some(Secret::new("s3cr3t-id".into())),
        };
        let shown = format!("{a:?} {}", a.describe());
        assert!(
            !shown.contains("role-1234") && !shown.contains("s3cr3t-id"),
            "{shown}"
        );
        let t = Auth::Token {
            token: Secret::new("hvs.abcdef".into()),
            source: "VAULT_TOKEN".into(),
        };
        let shown = format!("{t:?} {}", t.describe());
        assert!(!shown.contains("hvs.abcdef"), "{shown}");
        assert!(shown.contains("the token in VAULT_TOKEN"), "{shown}");
    }
}
