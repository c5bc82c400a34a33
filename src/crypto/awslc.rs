//! The aws-lc backend (cargo feature `aws-lc`): AWS-LC through `aws-lc-rs`, with its
//! hand-tuned AES-GCM (AVX-512 / VAES where the CPU has them) and its FIPS-validated lineage.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use super::{Mode, BLOCK_LEN, GCM_NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};

#[cfg(not(feature = "fips"))]
pub const NAME: &str = "aws-lc (aws-lc-rs 1.x)";
/// With the `fips` feature aws-lc-rs links AWS-LC's FIPS 140-3 module (aws-lc-fips-sys) instead.
#[cfg(feature = "fips")]
pub const NAME: &str = "aws-lc FIPS (aws-lc-rs 1.x, aws-lc-fips-sys)";

/// [`NAME`] and the linked AWS-LC version; in a `fips` build also whether the module reports
/// FIPS mode at run time (its power-on self tests passed and it runs in FIPS mode).
pub fn describe() -> String {
    let version = aws_lc_rs::awslc_version();
    #[cfg(feature = "fips")]
    let mode = match aws_lc_rs::try_fips_mode() {
        Ok(()) => "FIPS mode active",
        Err(_) => "FIPS mode NOT active",
    };
    #[cfg(not(feature = "fips"))]
    let mode = "not the FIPS module";
    format!("{NAME}: AWS-LC {version}, {mode}")
}

/// A key schedule held by AWS-LC (which zeroizes it when freed).
pub enum Engine {
    Cbc(Box<(EncryptingKey, DecryptingKey)>),
    Gcm(LessSafeKey),
}

fn internal(what: &str) -> Error {
    Error::Internal(format!("the aws-lc backend failed to {what}"))
}

impl Engine {
    pub fn new(mode: Mode, key: &[u8]) -> Result<Self> {
        Ok(match mode {
            Mode::Cbc => {
                let alg = match key.len() {
                    16 => &cipher::AES_128,
                    24 => &cipher::AES_192,
                    32 => &cipher::AES_256,
                    n => {
                        return Err(Error::Internal(format!(
                            "a {n}-byte key reached the AES backend"
                        )))
                    }
                };
                let unbound =
                    || UnboundCipherKey::new(alg, key).map_err(|_| internal("load a CBC key"));
                Engine::Cbc(Box::new((
                    EncryptingKey::cbc(unbound()?).map_err(|_| internal("load a CBC key"))?,
                    DecryptingKey::cbc(unbound()?).map_err(|_| internal("load a CBC key"))?,
                )))
            }
            Mode::Gcm => {
                let alg = match key.len() {
                    16 => &aead::AES_128_GCM,
                    24 => &aead::AES_192_GCM,
                    32 => &aead::AES_256_GCM,
                    n => {
                        return Err(Error::Internal(format!(
                            "a {n}-byte key reached the AES backend"
                        )))
                    }
                };
                Engine::Gcm(LessSafeKey::new(
                    UnboundKey::new(alg, key).map_err(|_| internal("load a GCM key"))?,
                ))
            }
        })
    }

    /// CBC over whole blocks, in place, no padding.
    pub fn cbc_blocks(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8], encrypt: bool) -> Result<()> {
        let Engine::Cbc(keys) = self else {
            return Err(Error::Internal("CBC operation on a GCM key".into()));
        };
        let (enc, dec) = &**keys;
        if encrypt {
            enc.less_safe_encrypt(buf, EncryptionContext::Iv128(FixedLength::from(iv)))
                .map_err(|_| internal("CBC-encrypt"))?;
        } else {
            dec.decrypt(buf, DecryptionContext::Iv128(FixedLength::from(iv)))
                .map_err(|_| internal("CBC-decrypt"))?;
        }
        Ok(())
    }

    pub fn gcm_seal(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let Engine::Gcm(key) = self else {
            return Err(Error::Internal("GCM operation on a CBC key".into()));
        };
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| internal("seal with GCM"))?;
        tag.as_ref()
            .try_into()
            .map_err(|_| internal("produce a 16-byte tag"))
    }

    /// Seals `input` into `output` (the same length), leaving `input` as it is.
    pub fn gcm_seal_to(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        // The FIPS module's approved sealing is in place (aws-lc-rs: the scatter form "must not
        // be used" there): a copy, then that. PreparedKey::gcm_seal_to checked the lengths.
        #[cfg(feature = "fips")]
        {
            output.copy_from_slice(input);
            self.gcm_seal(nonce, aad, output)
        }
        #[cfg(not(feature = "fips"))]
        {
            let Engine::Gcm(key) = self else {
                return Err(Error::Internal("GCM operation on a CBC key".into()));
            };
            let mut tag = [0u8; TAG_LEN];
            key.seal_out_of_place_scatter(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                input,
                output,
                &[],
                &mut tag,
            )
            .map_err(|_| internal("seal with GCM"))?;
            Ok(tag)
        }
    }

    /// Opens in place; false when the tag does not match.
    pub fn gcm_open(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<bool> {
        let Engine::Gcm(key) = self else {
            return Err(Error::Internal("GCM operation on a CBC key".into()));
        };
        Ok(key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                tag,
                buf,
            )
            .is_ok())
    }
}

/// An HMAC-SHA256 key prepared once (AWS-LC keeps the padded key state).
#[derive(Clone)]
pub struct HmacKey(hmac::Key);

impl HmacKey {
    pub fn new(key: &[u8]) -> Self {
        HmacKey(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.0, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf)
        .map_err(|_| Error::Internal("the aws-lc random number generator failed".into()))
}
