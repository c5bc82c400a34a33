//! RSA PKCS#1 v1.5 decryption, for the gem's pre-v4 configuration files only (`private_rsa_key`,
//! a PEM `key_encrypting_key`, `encrypted_iv`, `iv_filename`): their data keys and ivs were
//! encrypted with an RSA public key, and this reads them back. Nothing here encrypts.
//!
//! The backend is the RustCrypto `rsa` crate in every build. Its advisory RUSTSEC-2023-0071
//! (the Marvin attack) is a timing side channel that needs an oracle: an attacker who submits
//! many chosen ciphertexts and measures how long each decryption takes. This library never
//! decrypts RSA ciphertext that a caller or a peer supplies: only the few values written in a
//! configuration file or a key file, once, when the configuration loads. Whoever can replace
//! those can already replace the keys themselves. Decryption is blinded all the same.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::rand_core::{CryptoRng, Error as RandError, RngCore};
use rsa::Pkcs1v15Encrypt;

use crate::error::{Error, Result};
use crate::key::SecretBytes;

/// An RSA private key read from PEM (`BEGIN RSA PRIVATE KEY`, PKCS#1, as the gem wrote it, or
/// `BEGIN PRIVATE KEY`, PKCS#8). Zeroized when dropped; `Debug` never shows it.
pub struct RsaPrivateKey(rsa::RsaPrivateKey);

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPrivateKey([FILTERED])")
    }
}

impl RsaPrivateKey {
    /// Parses a PEM private key. Errors say what is wrong with it, never what it holds.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let pem = pem.trim();
        if pem.contains("ENCRYPTED") {
            return Err(Error::Config(
                "the RSA private key is protected by a passphrase, which the gem never wrote: \
                 give the key without a passphrase (openssl rsa -in KEY -out PLAIN)"
                    .into(),
            ));
        }
        let key = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
        } else if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
        } else {
            Err("it does not start with -----BEGIN RSA PRIVATE KEY-----".to_string())
        };
        key.map(RsaPrivateKey).map_err(|why| {
            Error::Config(format!(
                "the RSA private key (private_rsa_key, or a PEM key_encrypting_key) cannot be \
                 read: {why}. It must be the PEM text the gem generated, indented under the \
                 field with `|`"
            ))
        })
    }

    /// Decrypts a PKCS#1 v1.5 ciphertext. A wrong key or damaged ciphertext is a keystore
    /// error; the caller says which value it was.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<SecretBytes> {
        self.0
            .decrypt_blinded(&mut OsRandom, Pkcs1v15Encrypt, ciphertext)
            .map(SecretBytes::new)
            .map_err(|_| {
                Error::Keystore(format!(
                    "RSA decryption failed ({} bytes, expected {}): the value was not encrypted \
                     with this RSA key, or it is damaged",
                    ciphertext.len(),
                    rsa::traits::PublicKeyParts::size(&self.0)
                ))
            })
    }
}

/// The operating system's random numbers, for the blinding factor.
struct OsRandom;

impl RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // A failing OS random source cannot be reported through this trait method; the
        // fallible one below is what the rsa crate calls for blinding.
        if super::fill_random(dest).is_err() {
            panic!("the operating system's random number generator failed");
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), RandError> {
        super::fill_random(dest).map_err(|_| RandError::new("getrandom failed"))
    }
}

impl CryptoRng for OsRandom {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_pem_key_without_showing_it() {
        let e = RsaPrivateKey::from_pem("MIIEsecretsecret").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = RsaPrivateKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("cannot be read"), "{e}");
        assert!(!e.to_string().contains("MIIEsecret"), "{e}");
    }
}
