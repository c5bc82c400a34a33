//! `--info FILE_OR_VALUE`: what an encrypted file's or value's header says (the key version
//! that wrote it, cipher, compression, layout, whether it carries its own key), and whether
//! the loaded configuration decrypts it. Not in the gem: its users ask how to tell which key
//! version wrote a value, and this answers it without decrypting by hand.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::cipher::CipherName;
use crate::context::Context;
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::header::{self, Header};
use crate::stream::{Reader, ReaderOptions};

/// The longest header there can be: magic, version, flags, three u16 fields of up to 65535
/// bytes, the chunk size and the tag.
const MAX_HEADER: usize = 6 + 3 * (2 + 65535) + 1 + 2 + 16;

/// Text files up to this size are read as holding one encrypted value.
const MAX_VALUE_FILE: u64 = 256 * 1024;

/// What was inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An encrypted file (a stream written by `--encrypt` or the gem's `Writer`).
    Stream {
        /// The file as given.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A file holding one encoded value.
    ValueFile {
        /// The file as given.
        path: String,
    },
    /// An encoded value given on the command line.
    Value,
}

/// Whether the configuration decrypts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Decrypted all the way through (and, for GCM, authenticated).
    Decrypts {
        /// Whether a GCM tag checked it (false for CBC, which cannot tell a wrong key or
        /// altered data from the right plaintext).
        authenticated: bool,
    },
    /// It does not: why.
    DoesNot(String),
    /// The configuration could not be loaded: why.
    NoConfiguration(String),
}

/// What `--info` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// What was examined: a value or a file.
    pub subject: Subject,
    /// The encoding a value was decoded with (`None` for streams, which are binary).
    pub encoding: Option<Encoding>,
    /// The header, if there is one.
    pub header: Option<Header>,
    /// Why the header could not be read, if it could not.
    pub header_error: Option<String>,
    /// What the configuration is (`config/x.yml, environment production`).
    pub config_label: String,
    /// The loaded configuration's versions, primary first (empty when it did not load).
    pub versions: Vec<(u8, CipherName)>,
    /// Whether this configuration can decrypt it, and if not why.
    pub verdict: Verdict,
}

impl Info {
    /// Whether the configuration decrypts it.
    pub fn decrypts(&self) -> bool {
        matches!(self.verdict, Verdict::Decrypts { .. })
    }

    /// When the header does not fit this configuration (its version is not configured here, or
    /// its layout is GCM where the configured cipher of that version is CBC, or the reverse),
    /// the likely cause: the data belongs to another environment. `None` when it fits.
    pub fn environment_hint(&self) -> Option<String> {
        let h = self.header.as_ref()?;
        if self.versions.is_empty() || self.decrypts() {
            return None;
        }
        let authenticated = h.auth_tag.is_some() || h.is_chunked();
        let mismatch = match self.configured(h.version) {
            None => format!("version {} is not configured here", h.version),
            Some(c) if c.is_authenticated() != authenticated && h.cipher_name.is_none() => {
                format!(
                    "the header's layout is {} but version {} here is {c}",
                    if authenticated { "GCM" } else { "CBC" },
                    h.version
                )
            }
            Some(_) => return None,
        };
        Some(format!(
            "{mismatch}: the data was probably written under another environment; try it with \
             -E ENVIRONMENT (--env)"
        ))
    }

    fn is_stream(&self) -> bool {
        matches!(self.subject, Subject::Stream { .. })
    }

    fn configured(&self, version: u8) -> Option<CipherName> {
        self.versions
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, c)| *c)
    }
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut row = |k: &str, v: String| writeln!(f, "{:<15}{v}", format!("{k}:"));
        match &self.subject {
            Subject::Stream { path, size } => row(
                "file",
                format!("{path} ({size} bytes), an encrypted stream"),
            )?,
            Subject::ValueFile { path } => row("file", format!("{path}, one encrypted value"))?,
            Subject::Value => row("value", "given on the command line".into())?,
        }
        if let Some(e) = self.encoding {
            row("encoding", e.name().to_string())?;
        }
        match (&self.header, &self.header_error) {
            (_, Some(e)) => row("header", format!("malformed: {e}"))?,
            (None, None) => row(
                "header",
                "none: raw ciphertext, which names no version; it decrypts only with the \
                 primary or the version given with --key-version"
                    .into(),
            )?,
            (Some(h), None) => {
                let authenticated = h.auth_tag.is_some() || h.is_chunked();
                row("header", "present".into())?;
                row(
                    "version",
                    match self.configured(h.version) {
                        Some(_) => format!("{} (configured here)", h.version),
                        None if self.versions.is_empty() => h.version.to_string(),
                        None => format!(
                            "{} (not in this configuration, which has {})",
                            h.version,
                            self.versions
                                .iter()
                                .map(|(v, _)| v.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                )?;
                row(
                    "cipher",
                    match (&h.cipher_name, self.configured(h.version)) {
                        (Some(n), _) => format!("{n} (named in the header)"),
                        (None, Some(c)) => {
                            format!(
                                "{c} (not named in the header: that of version {})",
                                h.version
                            )
                        }
                        (None, None) => format!(
                            "not named in the header: that of version {} ({})",
                            h.version,
                            if authenticated {
                                "an aes-*-gcm cipher"
                            } else {
                                "an aes-*-cbc cipher"
                            }
                        ),
                    },
                )?;
                row(
                    "compressed",
                    match (h.compressed, self.is_stream()) {
                        (true, true) => "yes (gzip)".into(),
                        (true, false) => "yes (zlib)".into(),
                        (false, _) => "no".into(),
                    },
                )?;
                let layout = match (h.chunk_size(), self.is_stream()) {
                    (Some(c), _) => {
                        format!("chunked stream, chunks of {c} bytes, each with its tag")
                    }
                    (None, true) if h.auth_tag.is_some() => {
                        "single-chunk stream, one value with its tag in the header".into()
                    }
                    (None, true) => "CBC stream (not authenticated)".into(),
                    (None, false) if h.auth_tag.is_some() => "authenticated value".into(),
                    (None, false) => "CBC value (not authenticated)".into(),
                };
                row("layout", layout)?;
                row(
                    "iv",
                    match (&h.iv, h.is_chunked()) {
                        (Some(iv), true) => format!("{}-byte nonce prefix in the header", iv.len()),
                        (Some(iv), false) => format!("{} bytes in the header", iv.len()),
                        (None, _) => "not in the header: the configured iv of that version".into(),
                    },
                )?;
                row(
                    "key",
                    match &h.encrypted_key {
                        Some(k) => format!(
                            "carried in the header ({} bytes, encrypted with version {})",
                            k.len(),
                            h.version
                        ),
                        None => format!("not carried: the key of version {}", h.version),
                    },
                )?;
                row(
                    "auth tag",
                    match (&h.auth_tag, h.is_chunked()) {
                        (Some(_), _) => "16 bytes in the header".into(),
                        (None, true) => "16 bytes after every chunk".into(),
                        (None, false) => "none".into(),
                    },
                )?;
            }
        }
        row("configuration", self.config_label.clone())?;
        row(
            "decrypts",
            match &self.verdict {
                Verdict::Decrypts {
                    authenticated: true,
                } => "yes, decrypted and authenticated with this configuration".into(),
                Verdict::Decrypts {
                    authenticated: false,
                } => "yes, decrypted with this configuration (CBC: only the padding was \
                      checked, nothing authenticates it)"
                    .into(),
                Verdict::DoesNot(e) => format!("no: {e}"),
                Verdict::NoConfiguration(e) => {
                    format!("unknown, the configuration did not load: {e}")
                }
            },
        )?;
        if let Some(hint) = self.environment_hint() {
            row("hint", hint)?;
        }
        Ok(())
    }
}

/// Decodes `text` with the configuration's encoding, or, without one, as base64 (lenient) or
/// base16, whichever reveals a header.
fn decode(text: &[u8], ctx: Option<&Context>) -> (Encoding, Result<Vec<u8>>) {
    if let Some(c) = ctx {
        return (c.encoding(), c.encoding().decode(text));
    }
    let hex = Encoding::Base16;
    if text.starts_with(hex.magic_prefix()) {
        if let Ok(b) = hex.decode(text) {
            return (hex, Ok(b));
        }
    }
    (Encoding::Base64, Encoding::Base64.decode(text))
}

fn read_prefix(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?
        .take(MAX_HEADER as u64)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

fn versions(ctx: Option<&Context>) -> Vec<(u8, CipherName)> {
    ctx.map(|c| {
        c.ciphers()
            .map(|x| (x.version(), x.cipher_name()))
            .collect()
    })
    .unwrap_or_default()
}

/// Reads the stream through, which checks every chunk (GCM) or the padding (CBC).
fn verify_stream(ctx: &Context, path: &Path, version: Option<u8>) -> Result<()> {
    let f =
        File::open(path).map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    let mut r = Reader::new(
        ctx,
        BufReader::new(f),
        &ReaderOptions {
            version,
            ..ReaderOptions::default()
        },
    )?;
    io::copy(&mut r, &mut io::sink()).map_err(crate::stream::into_error)?;
    Ok(())
}

/// Inspects `subject`: an existing file's path, else an encoded value. `loaded` is the
/// configuration (or why it did not load), `label` how to name it, `version` the
/// `--key-version` for data without a header.
pub fn describe(
    subject: &str,
    loaded: &std::result::Result<Context, Error>,
    label: &str,
    version: Option<u8>,
) -> Result<Info> {
    let ctx = loaded.as_ref().ok();
    let mut info = Info {
        subject: Subject::Value,
        encoding: None,
        header: None,
        header_error: None,
        config_label: label.to_string(),
        versions: versions(ctx),
        verdict: match loaded {
            Ok(_) => Verdict::DoesNot(String::new()),
            Err(e) => Verdict::NoConfiguration(e.to_string()),
        },
    };
    let path = Path::new(subject);
    let value: Vec<u8>;
    if path.is_file() {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("cannot read {subject}"), e))?
            .len();
        let prefix =
            read_prefix(path).map_err(|e| Error::io(format!("cannot read {subject}"), e))?;
        if header::present(&prefix) || size > MAX_VALUE_FILE {
            info.subject = Subject::Stream {
                path: subject.to_string(),
                size,
            };
            match header::parse(&prefix) {
                Ok(p) => info.header = p.map(|p| p.header),
                Err(e) => info.header_error = Some(e.to_string()),
            }
            if let Some(c) = ctx {
                info.verdict = match verify_stream(c, path, version) {
                    Ok(()) => Verdict::Decrypts {
                        authenticated: info
                            .header
                            .as_ref()
                            .is_some_and(|h| h.auth_tag.is_some() || h.is_chunked()),
                    },
                    Err(e) => Verdict::DoesNot(e.to_string()),
                };
            }
            return Ok(info);
        }
        info.subject = Subject::ValueFile {
            path: subject.to_string(),
        };
        value = prefix.trim_ascii().to_vec();
    } else {
        value = subject.trim().as_bytes().to_vec();
    }
    if value.is_empty() {
        return Err(Error::Argument(format!(
            "--info {subject:?}: neither a file nor an encrypted value"
        )));
    }
    let (encoding, decoded) = decode(&value, ctx);
    info.encoding = Some(encoding);
    match decoded.and_then(|b| header::parse(&b)) {
        Ok(p) => info.header = p.map(|p| p.header),
        Err(e) => info.header_error = Some(e.to_string()),
    }
    let encoded_text = value
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"+/-_=\r\n".contains(&b));
    if info.header.is_none() && !encoded_text {
        return Err(Error::Argument(match info.subject {
            // Most likely a file name with a typo.
            Subject::Value => {
                format!(
                    "--info {subject:?}: there is no such file, and it is not an encrypted value"
                )
            }
            _ => format!(
                "--info {subject:?}: neither an encrypted file nor a file holding one encrypted \
                 value"
            ),
        }));
    }
    if let Some(c) = ctx {
        info.verdict = match c.decrypt_with_version(&value, version) {
            Ok(_) => Verdict::Decrypts {
                authenticated: info.header.as_ref().is_some_and(|h| h.auth_tag.is_some()),
            },
            Err(e) => Verdict::DoesNot(e.to_string()),
        };
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cipher, EncryptOptions};

    fn ctx() -> Context {
        Context::new(vec![
            Cipher::new(CipherName::Aes256Gcm, &[7; 32], None)
                .unwrap()
                .with_version(3),
            Cipher::new(CipherName::Aes256Cbc, &[1; 32], Some(&[2; 16]))
                .unwrap()
                .with_version(2),
        ])
        .unwrap()
    }

    #[test]
    fn a_value_names_its_version() {
        let c = ctx();
        let v = c
            .encrypt(
                b"secret",
                &EncryptOptions {
                    version: Some(2),
                    compress: Some(true),
                    ..Default::default()
                },
            )
            .unwrap();
        let loaded = Ok(c);
        let info = describe(std::str::from_utf8(&v).unwrap(), &loaded, "t.yml", None).unwrap();
        let h = info.header.as_ref().unwrap();
        assert_eq!(h.version, 2);
        assert!(h.compressed);
        assert!(info.decrypts());
        let text = info.to_string();
        assert!(
            text.contains("version:       2 (configured here)"),
            "{text}"
        );
        assert!(
            text.contains("aes-256-cbc (not named in the header"),
            "{text}"
        );
        assert!(!text.contains("secret"));
    }

    #[test]
    fn without_a_configuration_the_header_is_still_read() {
        let v = ctx().encrypt(b"x", &EncryptOptions::default()).unwrap();
        let loaded = Err(Error::Config("no file".into()));
        let info = describe(std::str::from_utf8(&v).unwrap(), &loaded, "t.yml", None).unwrap();
        assert_eq!(info.header.as_ref().unwrap().version, 3);
        assert!(!info.decrypts());
        assert!(info.to_string().contains("the configuration did not load"));
    }

    #[test]
    fn an_unknown_version_is_named() {
        let other = Context::new(vec![Cipher::new(CipherName::Aes256Gcm, &[9; 32], None)
            .unwrap()
            .with_version(7)])
        .unwrap();
        let v = other.encrypt(b"x", &EncryptOptions::default()).unwrap();
        let info = describe(std::str::from_utf8(&v).unwrap(), &Ok(ctx()), "t.yml", None).unwrap();
        let text = info.to_string();
        assert!(
            text.contains("7 (not in this configuration, which has 3, 2)"),
            "{text}"
        );
        assert!(!info.decrypts());
    }
}
