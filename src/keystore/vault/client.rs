//! HTTP to Vault or OpenBao: the address, namespace and TLS settings of the environment, one
//! connection per call, bounded in time, and the answer (or the failure) of one request.
//!
//! hyper 1 with rustls 0.23 on aws-lc-rs: the TLS stack the AWS SDK uses, so the `vault` and
//! `aws-kms` features together carry one TLS implementation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use zeroize::Zeroizing;

use super::auth::Secret;
use crate::error::{Error, Result};

/// The variable that allows `VAULT_SKIP_VERIFY`: without it set to `1`, a request to skip
/// certificate checks is refused.
pub const ALLOW_SKIP_VERIFY_VAR: &str = "SYMMETRIC_ENCRYPTION_VAULT_ALLOW_SKIP_VERIFY";

/// The largest answer read from Vault (its answers here are a few hundred bytes).
const MAX_ANSWER: usize = 1 << 20;

/// Where Vault is and how to talk to it. [`VaultSettings::from_env`] reads what the `vault` and
/// `bao` command lines read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSettings {
    /// `VAULT_ADDR` (or `BAO_ADDR`), e.g. `https://vault.example.com:8200`.
    pub address: String,
    /// `VAULT_NAMESPACE` (or `BAO_NAMESPACE`): sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// `VAULT_CACERT` (or `BAO_CACERT`): a PEM file of CA certificates to trust instead of the
    /// system's.
    pub ca_cert: Option<PathBuf>,
    /// `VAULT_CAPATH` (or `BAO_CAPATH`): a directory of PEM CA certificates to trust.
    pub ca_path: Option<PathBuf>,
    /// `VAULT_SKIP_VERIFY`: no certificate checks. Refused unless
    /// `SYMMETRIC_ENCRYPTION_VAULT_ALLOW_SKIP_VERIFY=1` is set too.
    pub skip_verify: bool,
    /// Time to open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for one request, connecting included. `VAULT_CLIENT_TIMEOUT` (seconds) sets it.
    pub request_timeout: Duration,
}

fn var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "t")
}

impl VaultSettings {
    /// The settings of this process's environment. The address is required.
    pub fn from_env() -> Result<VaultSettings> {
        let address = var(&["VAULT_ADDR", "BAO_ADDR"]).ok_or_else(|| {
            Error::Keystore(
                "this entry uses the vault keystore, but VAULT_ADDR is not set: set it (or \
                 BAO_ADDR) to the Vault or OpenBao server, e.g. https://vault.example.com:8200"
                    .into(),
            )
        })?;
        let skip_verify =
            var(&["VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"]).is_some_and(|v| truthy(&v));
        let request_timeout = match var(&["VAULT_CLIENT_TIMEOUT", "BAO_CLIENT_TIMEOUT"]) {
            None => Duration::from_secs(5),
            Some(v) => {
                let secs: f64 = v.trim_end_matches('s').parse().map_err(|_| {
                    Error::Keystore(format!(
                        "VAULT_CLIENT_TIMEOUT is {v:?}: give a number of seconds, e.g. 5"
                    ))
                })?;
                Duration::from_secs_f64(secs.clamp(0.1, 300.0))
            }
        };
        Ok(VaultSettings {
            address: address.trim_end_matches('/').to_string(),
            namespace: var(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]),
            ca_cert: var(&["VAULT_CACERT", "BAO_CACERT"]).map(PathBuf::from),
            ca_path: var(&["VAULT_CAPATH", "BAO_CAPATH"]).map(PathBuf::from),
            skip_verify,
            connect_timeout: Duration::from_secs(3).min(request_timeout),
            request_timeout,
        })
    }
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection (refused, DNS, TLS handshake, reset).
    Unreachable(String),
    /// No answer within the request timeout.
    Timeout,
    /// An HTTP error status, with Vault's `errors` list.
    Status(StatusCode, Vec<String>),
    /// An answer that is not what Vault sends.
    BadAnswer(String),
}

/// A connection setup for one call.
pub(super) struct Http {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    pub(super) settings: VaultSettings,
}

impl Http {
    /// Builds the client (no connection is opened yet). Runs inside the call's runtime.
    pub(super) fn new(settings: &VaultSettings) -> Result<Http> {
        let scheme_ok =
            settings.address.starts_with("https://") || settings.address.starts_with("http://");
        if !scheme_ok {
            return Err(Error::Keystore(format!(
                "VAULT_ADDR is {:?}: it must start with https:// (or http:// for a dev server)",
                settings.address
            )));
        }
        let tls = tls_config(settings)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Http {
            client,
            settings: settings.clone(),
        })
    }

    /// Sends one request to `/v1/PATH`; the body of a successful answer.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> std::result::Result<Answer, Failure> {
        let uri = format!("{}/v1/{path}", self.settings.address);
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .header("X-Vault-Request", "true")
            .header("Content-Type", "application/json");
        if let Some(ns) = &self.settings.namespace {
            req = req.header("X-Vault-Namespace", ns.as_str());
        }
        if let Some(t) = token {
            let mut value = hyper::header::HeaderValue::from_str(t.expose()).map_err(|_| {
                Failure::BadAnswer("the token holds characters a header cannot carry".into())
            })?;
            value.set_sensitive(true);
            req = req.header("X-Vault-Token", value);
        }
        // hyper takes the body by value: its copy is not zeroized, ours is.
        let body = body.map(|b| Bytes::copy_from_slice(&b)).unwrap_or_default();
        let req = req
            .body(Full::new(body))
            .map_err(|e| Failure::BadAnswer(format!("cannot build the request to {uri}: {e}")))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                if is_timeout(&e) {
                    Failure::Timeout
                } else {
                    Failure::Unreachable(chain(&e))
                }
            })?;
            let status = resp.status();
            let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| Failure::Unreachable(format!("the answer was cut off: {e}")))?
                .to_bytes();
            Ok::<_, Failure>((status, Answer(Zeroizing::new(bytes.to_vec()))))
        };
        let (status, answer) = tokio::time::timeout(self.settings.request_timeout, exchange)
            .await
            .map_err(|_| Failure::Timeout)??;
        if status.is_success() {
            return Ok(answer);
        }
        let errors = answer
            .json()
            .ok()
            .as_ref()
            .and_then(|j| j.get("errors"))
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str())
                    .map(|m| m.chars().take(300).collect::<String>())
                    .collect()
            })
            .unwrap_or_default();
        Err(Failure::Status(status, errors))
    }
}

/// The body of an answer, zeroized when dropped (it may hold a key or a token).
pub(super) struct Answer(Zeroizing<Vec<u8>>);

impl Answer {
    /// The answer as JSON (`Null` when empty), for answers that hold no secret.
    pub(super) fn json(&self) -> std::result::Result<serde_json::Value, Failure> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.0).map_err(|e| {
            Failure::BadAnswer(format!(
                "the answer is not JSON ({e}): is VAULT_ADDR a Vault server?"
            ))
        })
    }

    /// The answer as `T`, which may borrow strings from it (a secret is then never copied out
    /// of this zeroizing buffer).
    pub(super) fn parse<'a, T: serde::Deserialize<'a>>(&'a self) -> Option<T> {
        serde_json::from_slice(&self.0).ok()
    }
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        if err.to_string().contains("timed out") {
            return true;
        }
        next = err.source();
    }
    false
}

/// An error and its sources, each once: `client error (Connect): tcp connect error: ...`.
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The TLS settings: the CA certificates of `VAULT_CACERT` / `VAULT_CAPATH`, else the system's;
/// no verification only when it is both asked for and allowed.
fn tls_config(settings: &VaultSettings) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Keystore(format!("cannot set up TLS for Vault: {e}")))?;
    if settings.skip_verify {
        if !std::env::var(ALLOW_SKIP_VERIFY_VAR).is_ok_and(|v| v.trim() == "1") {
            return Err(Error::Keystore(format!(
                "VAULT_SKIP_VERIFY is set, which would send the Vault token to any server that \
                 answers at {}: refused. Give the server's CA certificate in VAULT_CACERT \
                 instead; if you really mean it (a throw-away test server), set \
                 {ALLOW_SKIP_VERIFY_VAR}=1 too",
                settings.address
            )));
        }
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::NoVerify(provider())))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    let (certs, what) = if settings.ca_cert.is_some() || settings.ca_path.is_some() {
        let found = rustls_native_certs::load_certs_from_paths(
            settings.ca_cert.as_deref(),
            settings.ca_path.as_deref(),
        );
        let what = [&settings.ca_cert, &settings.ca_path]
            .iter()
            .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(e) = found.errors.first() {
            return Err(Error::Keystore(format!(
                "cannot read the CA certificates in {what} (VAULT_CACERT / VAULT_CAPATH): {e}"
            )));
        }
        (found.certs, format!("{what} (VAULT_CACERT / VAULT_CAPATH)"))
    } else {
        let found = rustls_native_certs::load_native_certs();
        (found.certs, "the system's CA certificates".to_string())
    };
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 && settings.address.starts_with("https://") {
        return Err(Error::Keystore(format!(
            "no CA certificate found in {what}: set VAULT_CACERT to the PEM file of the CA that \
             signed the Vault server's certificate"
        )));
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// `VAULT_SKIP_VERIFY`: a verifier that accepts any certificate (signatures still checked).
mod insecure {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    pub(super) struct NoVerify(pub(super) Arc<CryptoProvider>);

    impl ServerCertVerifier for NoVerify {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(address: &str) -> VaultSettings {
        VaultSettings {
            address: address.into(),
            namespace: None,
            ca_cert: None,
            ca_path: None,
            skip_verify: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn addresses_need_a_scheme_and_skip_verify_needs_consent() {
        let e = Http::new(&settings("vault:8200")).err().unwrap();
        assert!(e.to_string().contains("https://"), "{e}");
        if std::env::var_os(ALLOW_SKIP_VERIFY_VAR).is_none() {
            let mut s = settings("https://127.0.0.1:1");
            s.skip_verify = true;
            let e = Http::new(&s).err().unwrap();
            assert_eq!(e.kind(), crate::ErrorKind::Keystore);
            assert!(e.to_string().contains("VAULT_CACERT"), "{e}");
        }
        let mut s = settings("https://127.0.0.1:1");
        s.ca_cert = Some("/nonexistent/ca.pem".into());
        let e = Http::new(&s).err().unwrap();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
