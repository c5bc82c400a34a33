//! The library's one error type. Its kinds match the `se_status` codes of the C ABI.
//!
//! Messages say what was wrong, where, and what to do. They never carry key bytes or plaintext.

use std::fmt;

/// What went wrong, as a category. Each kind is one `se_status` value of the C ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A bad or missing argument, or a bad option value.
    Argument,
    /// The configuration file or one of its entries is invalid, or the environment is missing.
    Config,
    /// A key file, environment variable or KMS problem, including file permissions.
    Keystore,
    /// Unknown version, bad header, bad padding, wrong key: the data cannot be decrypted.
    Cipher,
    /// An authentication tag did not match: the data was altered, truncated or the key is wrong.
    Authentication,
    /// The input is not valid for the configured encoding.
    Encoding,
    /// File or stream I/O.
    Io,
    /// A bug in this library.
    Internal,
}

impl ErrorKind {
    /// The lowercase name of the kind, as used in messages and bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Argument => "argument",
            ErrorKind::Config => "config",
            ErrorKind::Keystore => "keystore",
            ErrorKind::Cipher => "cipher",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Encoding => "encoding",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The library's error: a kind and a message for people.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given to the library is invalid: a NULL pointer, a bad option, a key of the
    /// wrong length.
    #[error("{0}")]
    Argument(String),
    /// The configuration file or an entry is invalid, or the environment is missing.
    #[error("{0}")]
    Config(String),
    /// A key could not be read: a key file (missing, wrong mode or owner), an environment
    /// variable, KMS or Vault.
    #[error("{0}")]
    Keystore(String),
    /// A value or stream could not be encrypted or decrypted: unknown version, malformed or
    /// truncated data, bad padding, a limit exceeded.
    #[error("{0}")]
    Cipher(String),
    /// A GCM tag did not match: the data was altered or truncated, or the key is wrong.
    #[error("{0}")]
    Authentication(String),
    /// The text is not valid in the cipher's encoding (for example non-hex base16).
    #[error("{0}")]
    Encoding(String),
    /// Reading or writing a file or stream failed.
    #[error("{message}: {source}")]
    Io {
        /// What was being done, naming the file.
        message: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A bug in this library; the message says where.
    #[error("internal error (a bug in symmetric-encryption, please report it): {0}")]
    Internal(String),
}

/// Shorthand for results of this library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Argument(_) => ErrorKind::Argument,
            Error::Config(_) => ErrorKind::Config,
            Error::Keystore(_) => ErrorKind::Keystore,
            Error::Cipher(_) => ErrorKind::Cipher,
            Error::Authentication(_) => ErrorKind::Authentication,
            Error::Encoding(_) => ErrorKind::Encoding,
            Error::Io { .. } => ErrorKind::Io,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// An I/O error, with what was being done (`"cannot read /etc/x"`) as context.
    pub fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            message: message.into(),
            source,
        }
    }

    /// The same error with `context` put before its message (`"context: message"`).
    pub fn context(self, context: impl fmt::Display) -> Self {
        match self {
            Error::Argument(m) => Error::Argument(format!("{context}: {m}")),
            Error::Config(m) => Error::Config(format!("{context}: {m}")),
            Error::Keystore(m) => Error::Keystore(format!("{context}: {m}")),
            Error::Cipher(m) => Error::Cipher(format!("{context}: {m}")),
            Error::Authentication(m) => Error::Authentication(format!("{context}: {m}")),
            Error::Encoding(m) => Error::Encoding(format!("{context}: {m}")),
            Error::Io { message, source } => Error::Io {
                message: format!("{context}: {message}"),
                source,
            },
            Error::Internal(m) => Error::Internal(format!("{context}: {m}")),
        }
    }

    /// The standard authentication failure message.
    pub(crate) fn auth_failed(what: &str) -> Self {
        Error::Authentication(format!(
            "authentication failed: the auth tag of the {what} does not match. The data was \
             altered or truncated, or it was encrypted with a different key"
        ))
    }
}

/// How a configuration value is named in an error: never its text, since a value in the
/// wrong field may be a key or a password and messages end up in logs. Gives its length.
pub(crate) fn describe_text(s: &str) -> String {
    match s.chars().count() {
        0 => "an empty string".to_string(),
        1 => "a string of 1 character".to_string(),
        n => format!("a string of {n} characters"),
    }
}

/// A value of a field that takes one of a few names (a cipher, an encoding, a keystore):
/// shown quoted when it looks like a mistyped name (at most 16 letters, digits, `-` or `_`),
/// otherwise only described, as [`describe_text`] does.
pub(crate) fn show_name(s: &str) -> String {
    let t = s.trim();
    if !t.is_empty()
        && t.len() <= 16
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':')
    {
        format!("{t:?}")
    } else {
        describe_text(s)
    }
}
