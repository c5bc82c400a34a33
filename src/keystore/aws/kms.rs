//! The built-in [`KmsClient`]: AWS KMS through `aws-sdk-kms` (cargo feature `aws-kms`).
//!
//! Callers of this library are synchronous (the C ABI, the command line, Ruby and Python), and
//! keys are fetched rarely (when a context is loaded, when keys are generated or rotated), so
//! each KMS operation runs on a current-thread tokio runtime and an SDK client made for it and
//! dropped after it. Nothing (no runtime, no thread, no connection pool) outlives a call, which
//! is what makes the library safe to use in a process that forks after loading it (Puma,
//! Unicorn, Resque, Python's multiprocessing): a child starts from nothing, like the parent did.
//!
//! Credentials, endpoint and profile come from the SDK's standard chain: `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, SSO, web identity, ECS and EC2 instance roles;
//! `AWS_ENDPOINT_URL_KMS` or `AWS_ENDPOINT_URL` point it at another server. The region is the
//! one the keystore asks for.
//!
//! Every operation has a connect timeout, a per-attempt timeout, a bounded number of attempts
//! and a deadline over all of them ([`KmsSettings`]): an unreachable endpoint, denied access or a
//! missing key is an [`Error::Keystore`] within that time, never a hang.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, Tag};
use aws_sdk_kms::Client;

use super::KmsClient;
use crate::error::{Error, Result};
use crate::key::SecretBytes;

/// Timeouts and retries of the built-in KMS client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmsSettings {
    /// Time to open a connection to KMS.
    pub connect_timeout: Duration,
    /// Time for one attempt of one KMS request, connecting included.
    pub attempt_timeout: Duration,
    /// Time for one KMS request, all attempts and the waits between them included.
    pub operation_timeout: Duration,
    /// Attempts per request (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the first retry; later waits grow from it (with jitter).
    pub initial_backoff: Duration,
}

impl Default for KmsSettings {
    fn default() -> Self {
        KmsSettings {
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(15),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
        }
    }
}

/// AWS KMS through `aws-sdk-kms`: the client the aws keystore uses unless
/// [`KeyIo::kms`](crate::keystore::KeyIo::kms) names another.
///
/// ```no_run
/// use symmetric_encryption::keystore::aws::{AwsKms, KmsSettings};
/// use symmetric_encryption::keystore::KmsClient;
///
/// let kms = AwsKms::new(KmsSettings::default());
/// let key = kms.generate_data_key("us-east-1", "alias/symmetric-encryption/app/production", 32)?;
/// # Ok::<(), symmetric_encryption::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AwsKms {
    settings: KmsSettings,
}

impl AwsKms {
    /// A client with these timeouts and retries.
    pub fn new(settings: KmsSettings) -> Self {
        AwsKms { settings }
    }

    /// The timeouts and retries in force.
    pub fn settings(&self) -> &KmsSettings {
        &self.settings
    }

    /// The time one KMS request may take before it is abandoned: the SDK's operation timeout,
    /// plus a margin for loading the configuration and credentials, which it does not cover.
    fn deadline(&self) -> Duration {
        self.settings.operation_timeout + Duration::from_secs(5)
    }

    /// Runs `op` with a KMS client for `region`, on a runtime made for this call alone.
    fn call<T, F, Fut>(&self, region: &str, op: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(Kms) -> Fut + Send,
        Fut: Future<Output = Result<T>>,
    {
        let settings = self.settings;
        let deadline = self.deadline();
        let region = region.to_string();
        run(move || async move {
            let work = async {
                let kms = Kms::connect(&region, &settings).await;
                op(kms).await
            };
            match tokio::time::timeout(deadline, work).await {
                Ok(result) => result,
                Err(_) => Err(Error::Keystore(format!(
                    "no answer from KMS at {} within {} s. Check the network, the endpoint \
                     (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL) and the region",
                    endpoint(std::env::var("AWS_ENDPOINT_URL").ok().as_deref(), &region),
                    deadline.as_secs()
                ))),
            }
        })
    }
}

impl KmsClient for AwsKms {
    fn decrypt(&self, region: &str, ciphertext: &[u8]) -> Result<SecretBytes> {
        let blob = Blob::new(ciphertext.to_vec());
        self.call(region, move |kms| async move {
            let out = kms
                .client
                .decrypt()
                .ciphertext_blob(blob)
                .send()
                .await
                .map_err(|e| kms.error(e, None))?;
            plaintext(out.plaintext)
        })
    }

    fn generate_data_key(
        &self,
        region: &str,
        key_alias: &str,
        key_len: usize,
    ) -> Result<SecretBytes> {
        let alias = key_alias.to_string();
        self.call(region, move |kms| async move {
            let request = || {
                let r = kms.client.generate_data_key().key_id(&alias);
                match key_len {
                    32 => r.key_spec(DataKeySpec::Aes256),
                    16 => r.key_spec(DataKeySpec::Aes128),
                    n => r.number_of_bytes(i32::try_from(n).unwrap_or(i32::MAX)),
                }
            };
            let out = match request().send().await {
                Err(e) if is_not_found(&e) => {
                    kms.create_master_key(&alias).await?;
                    request().send().await
                }
                other => other,
            }
            .map_err(|e| kms.error(e, Some(&alias)))?;
            plaintext(out.plaintext)
        })
    }

    fn encrypt(&self, region: &str, key_alias: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let alias = key_alias.to_string();
        // The SDK takes its own copy of the plaintext into the request; ours is zeroized.
        let data = SecretBytes::from_slice(plaintext);
        self.call(region, move |kms| async move {
            let request = || {
                kms.client
                    .encrypt()
                    .key_id(&alias)
                    .plaintext(Blob::new(data.to_vec()))
            };
            let out = match request().send().await {
                Err(e) if is_not_found(&e) => {
                    kms.create_master_key(&alias).await?;
                    request().send().await
                }
                other => other,
            }
            .map_err(|e| kms.error(e, Some(&alias)))?;
            out.ciphertext_blob
                .map(Blob::into_inner)
                .ok_or_else(|| Error::Keystore("KMS Encrypt answered without a ciphertext".into()))
        })
    }
}

/// Takes the plaintext out of a KMS answer without copying it, into zeroizing memory.
fn plaintext(blob: Option<Blob>) -> Result<SecretBytes> {
    blob.map(|b| SecretBytes::new(b.into_inner()))
        .ok_or_else(|| Error::Keystore("KMS answered without the plaintext key".into()))
}

fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("NotFoundException")
}

/// Runs a KMS future on a runtime of its own (see [`crate::keystore::runtime`]).
fn run<T, F, Fut>(make: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    crate::keystore::runtime::run("KMS", make)
}

/// An SDK client for one region and one call, and what error messages need to know.
struct Kms {
    client: Client,
    region: String,
    endpoint: String,
    settings: KmsSettings,
}

impl Kms {
    async fn connect(region: &str, settings: &KmsSettings) -> Kms {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.connect_timeout)
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .operation_timeout(settings.operation_timeout)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts.max(1))
                    .with_initial_backoff(settings.initial_backoff),
            )
            .load()
            .await;
        Kms {
            client: Client::new(&config),
            region: region.to_string(),
            endpoint: endpoint(config.endpoint_url(), region),
            settings: *settings,
        }
    }

    /// CreateKey, then CreateAlias: the gem's `auto_create_master_key`, for a first Encrypt or
    /// GenerateDataKey under an alias that does not exist yet in this region.
    async fn create_master_key(&self, alias: &str) -> Result<()> {
        let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().ok();
        let created = self
            .client
            .create_key()
            .description(format!(
                "symmetric-encryption master key for {}",
                alias.trim_start_matches("alias/")
            ))
            .set_tags(
                [
                    tag("CreatedBy", "symmetric-encryption"),
                    tag("Alias", alias),
                ]
                .into_iter()
                .collect(),
            )
            .send()
            .await
            .map_err(|e| {
                self.error(e, Some(alias))
                    .context(format!("creating the master key for {alias}"))
            })?;
        let key_id = created
            .key_metadata
            .map(|m| m.key_id)
            .ok_or_else(|| Error::Keystore("KMS CreateKey answered without a key id".into()))?;
        match self
            .client
            .create_alias()
            .alias_name(alias)
            .target_key_id(&key_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Another process created the alias first: use its key, drop ours.
            Err(e) if e.code() == Some("AlreadyExistsException") => {
                let _ = self
                    .client
                    .schedule_key_deletion()
                    .key_id(&key_id)
                    .pending_window_in_days(7)
                    .send()
                    .await;
                Ok(())
            }
            Err(e) => Err(self.error(e, Some(alias)).context(format!(
                "creating the alias {alias} for the new key {key_id}"
            ))),
        }
    }

    /// A keystore error saying what KMS (or the way to it) answered, and what to do. The
    /// operation, region and alias are added by the caller's context.
    fn error<E, R>(&self, e: SdkError<E, R>, alias: Option<&str>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        let attempts = self.settings.max_attempts.max(1);
        let detail = chain(&e);
        let message = match &e {
            SdkError::TimeoutError(_) => format!(
                "no answer from KMS at {} in time ({attempts} attempt(s) of at most {} s, {} s \
                 in all). Check the network, the endpoint (AWS_ENDPOINT_URL_KMS, \
                 AWS_ENDPOINT_URL) and the region",
                self.endpoint,
                self.settings.attempt_timeout.as_secs_f32(),
                self.settings.operation_timeout.as_secs_f32()
            ),
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => format!(
                "cannot reach KMS at {} ({attempts} attempt(s)): {detail}. Check the network, \
                 the endpoint (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL) and the region",
                self.endpoint
            ),
            SdkError::DispatchFailure(_) if detail.contains("credential") => format!(
                "no AWS credentials for the request to KMS at {}: {detail}. Set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an \
                 instance, task or pod role",
                self.endpoint
            ),
            SdkError::DispatchFailure(_) => format!(
                "the request to KMS at {} could not be sent: {detail}",
                self.endpoint
            ),
            SdkError::ServiceError(_) => {
                let code = e.code().unwrap_or("error");
                let msg = e
                    .message()
                    .filter(|m| !m.is_empty())
                    .unwrap_or("no message");
                let hint = match (code, alias) {
                    ("NotFoundException", Some(a)) => format!(
                        " The master key {a} does not exist in {}: generate the keys for this \
                         region, or check the alias",
                        self.region
                    ),
                    ("NotFoundException", None) => format!(
                        " The master key that encrypted this key file does not exist in {}",
                        self.region
                    ),
                    ("AccessDeniedException", _) => {
                        " This role is not allowed to use the master key: see the IAM actions \
                         each role needs in the README's AWS section"
                            .to_string()
                    }
                    ("UnrecognizedClientException" | "InvalidSignatureException", _) => {
                        " The credentials were refused: check AWS_ACCESS_KEY_ID, \
                         AWS_SECRET_ACCESS_KEY and AWS_PROFILE"
                            .to_string()
                    }
                    ("InvalidCiphertextException", _) => {
                        " The key file is not a KMS ciphertext of this account and region: it \
                         may belong to another region, or be damaged"
                            .to_string()
                    }
                    ("DisabledException" | "KMSInvalidStateException", _) => {
                        " The master key is disabled or pending deletion: enable it in KMS"
                            .to_string()
                    }
                    _ => String::new(),
                };
                format!("KMS at {} answered {code} ({msg}).{hint}", self.endpoint)
            }
            _ => format!("KMS at {} failed: {detail}", self.endpoint),
        };
        Error::Keystore(message)
    }
}

/// An error and its sources, each once: `dispatch failure: io error: ... Connection refused`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// Where KMS requests of `region` go, for messages: `AWS_ENDPOINT_URL_KMS`, else the endpoint
/// the SDK's configuration names (`AWS_ENDPOINT_URL`, the profile's `endpoint_url`), else the
/// public endpoint of the region.
fn endpoint(configured: Option<&str>, region: &str) -> String {
    let ignore = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let configured = std::env::var("AWS_ENDPOINT_URL_KMS")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| configured.filter(|v| !v.is_empty()).map(str::to_string));
    match configured {
        Some(url) if !ignore => url,
        _ => format!("https://kms.{region}.amazonaws.com"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_kms::operation::encrypt::EncryptError;

    #[test]
    fn runs_inside_and_outside_a_tokio_runtime() {
        assert_eq!(run(|| async { Ok(7) }).unwrap(), 7);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = rt.block_on(async { run(|| async { Ok(8) }) });
        assert_eq!(got.unwrap(), 8);
    }

    fn offline(endpoint: &str) -> Kms {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .build();
        Kms {
            client: Client::from_conf(conf),
            region: "eu-west-1".into(),
            endpoint: endpoint.into(),
            settings: KmsSettings::default(),
        }
    }

    fn service_error(code: &str, message: &str) -> SdkError<EncryptError, ()> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(EncryptError::generic(meta), ())
    }

    #[test]
    fn service_errors_say_what_kms_said_and_what_to_do() {
        let kms = offline("https://kms.eu-west-1.amazonaws.com");
        let alias = "alias/symmetric-encryption/app/production";
        let e = kms.error(
            service_error("AccessDeniedException", "not authorized"),
            Some(alias),
        );
        assert_eq!(e.kind(), crate::ErrorKind::Keystore);
        let m = e.to_string();
        assert!(m.contains("AccessDeniedException (not authorized)"), "{m}");
        assert!(m.contains("IAM"), "{m}");
        let m = kms
            .error(
                service_error("NotFoundException", "no such alias"),
                Some(alias),
            )
            .to_string();
        assert!(m.contains(alias) && m.contains("eu-west-1"), "{m}");
        let m = kms
            .error(service_error("InvalidCiphertextException", ""), None)
            .to_string();
        assert!(m.contains("another region"), "{m}");
    }

    #[test]
    fn network_errors_name_the_endpoint() {
        let kms = offline("http://127.0.0.1:1");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e: SdkError<EncryptError, ()> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let m = kms.error(e, None).to_string();
        assert!(m.contains("cannot reach KMS at http://127.0.0.1:1"), "{m}");
        assert!(m.contains("AWS_ENDPOINT_URL"), "{m}");
        let e: SdkError<EncryptError, ()> = SdkError::timeout_error("slow");
        let m = kms.error(e, None).to_string();
        assert!(
            m.contains("no answer from KMS at http://127.0.0.1:1"),
            "{m}"
        );
    }

    #[test]
    fn the_endpoint_named_in_messages() {
        // Only AWS_ENDPOINT_URL_KMS is read here; tests never set it.
        if std::env::var_os("AWS_ENDPOINT_URL_KMS").is_none() {
            assert_eq!(
                endpoint(None, "eu-central-1"),
                "https://kms.eu-central-1.amazonaws.com"
            );
            assert_eq!(
                endpoint(Some("http://localhost:4566"), "eu-central-1"),
                "http://localhost:4566"
            );
        }
    }

    #[test]
    fn defaults_bound_every_call() {
        let s = KmsSettings::default();
        assert!(s.max_attempts >= 1 && s.max_attempts <= 5);
        assert!(AwsKms::new(s).deadline() <= Duration::from_secs(30));
    }
}
