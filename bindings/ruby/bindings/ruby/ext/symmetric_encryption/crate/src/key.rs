//! Secret bytes: keys and ivs held in memory that is zeroized when dropped and never printed.

use std::fmt;
use std::ops::Deref;

use zeroize::Zeroizing;

/// Key material (a key, a decrypted key, an iv). Zeroized on drop; `Debug` prints `[FILTERED]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// Copies `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        SecretBytes(Zeroizing::new(bytes.to_vec()))
    }

    /// `n` bytes from the operating system's CSPRNG.
    pub fn random(n: usize) -> crate::Result<Self> {
        Ok(SecretBytes(crate::crypto::random_bytes(n)?))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for SecretBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        SecretBytes::new(v)
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        SecretBytes(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[FILTERED]")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_the_bytes() {
        let s = super::SecretBytes::from_slice(b"super secret key");
        assert_eq!(format!("{s:?}"), "[FILTERED]");
    }
}
