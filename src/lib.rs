//! # symmetric-encryption
//!
//! The Ruby gem `symmetric-encryption`'s formats as a Rust library with a C ABI: the same
//! configuration file, key files and `@EnC` encrypted values, readable and writable from Rust,
//! C, Python and Ruby, and by applications that still run the gem.
//!
//! ```
//! use symmetric_encryption::{Cipher, CipherName, Context, EncryptOptions};
//!
//! let cipher = Cipher::new(CipherName::Aes256Gcm, &[7u8; 32], None)?.with_version(1);
//! let ctx = Context::new(vec![cipher])?;
//! let encrypted = ctx.encrypt(b"4111 1111 1111 1111", &EncryptOptions::default())?;
//! assert!(ctx.is_encrypted(&encrypted));
//! assert_eq!(ctx.decrypt(&encrypted)?, b"4111 1111 1111 1111");
//! # Ok::<(), symmetric_encryption::Error>(())
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod batch;
pub mod cipher;
pub mod cli;
pub mod config;
pub mod context;
pub mod crypto;
#[cfg(feature = "db")]
pub mod db;
pub mod encoding;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod header;
mod inflate;
pub mod key;
pub mod keystore;
pub mod stream;
#[allow(unsafe_code)]
pub(crate) mod sys;
mod wipe;

pub use cipher::{Cipher, CipherName, ValueOptions};
pub use config::{Config, EntryConfig, EnvironmentConfig};
pub use context::{Context, EncryptOptions, DEFAULT_MAX_DECOMPRESSED_SIZE};
pub use encoding::Encoding;
pub use error::{Error, ErrorKind, Result};
pub use header::Header;
pub use key::SecretBytes;
pub use keystore::KeystoreKind;

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The README's Rust example, compiled by `cargo test` so that it keeps working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
