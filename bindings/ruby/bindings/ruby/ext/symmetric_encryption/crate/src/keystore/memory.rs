//! The `memory` keystore: the encrypted data key is in the configuration file itself, as
//! `encrypted_key` (binary). Nothing to read from outside.

use crate::error::{Error, Result};
use crate::key::SecretBytes;

/// The stored key of a memory entry.
pub fn read_key(encrypted_key: Option<&SecretBytes>) -> Result<SecretBytes> {
    encrypted_key.cloned().ok_or_else(|| {
        Error::Config(
            "the memory keystore needs encrypted_key (the encrypted data key, as !binary)".into(),
        )
    })
}
