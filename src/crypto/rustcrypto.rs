//! The RustCrypto backend (default): `aes` (AES-NI detected at run time), `cbc`, `aes-gcm`
//! (CLMUL detected at run time), `hmac` + `sha2`, and the OS RNG through `getrandom`. Pure
//! Rust, no C toolchain needed.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Mode, BLOCK_LEN, GCM_NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};

pub const NAME: &str = "rustcrypto (aes 0.9 + aes-gcm 0.11, AES-NI/CLMUL detected at run time)";

/// What [`super::backend`] reports: [`NAME`] (nothing else is known only at run time).
pub fn describe() -> String {
    NAME.to_string()
}

type Aes128Gcm = AesGcm<Aes128, U12>;
type Aes192Gcm = AesGcm<Aes192, U12>;
type Aes256Gcm = AesGcm<Aes256, U12>;

/// A key schedule, zeroized on drop (the crates' `zeroize` features).
pub enum Engine {
    Cbc128(Aes128),
    Cbc192(Aes192),
    Cbc256(Aes256),
    Gcm128(Box<Aes128Gcm>),
    Gcm192(Box<Aes192Gcm>),
    Gcm256(Box<Aes256Gcm>),
}

macro_rules! cbc_dispatch {
    ($engine:expr, $aes:ident => $body:expr) => {
        match $engine {
            Engine::Cbc128($aes) => $body,
            Engine::Cbc192($aes) => $body,
            Engine::Cbc256($aes) => $body,
            _ => return Err(Error::Internal("CBC operation on a GCM key".into())),
        }
    };
}

macro_rules! gcm_dispatch {
    ($engine:expr, $gcm:ident => $body:expr) => {
        match $engine {
            Engine::Gcm128($gcm) => $body,
            Engine::Gcm192($gcm) => $body,
            Engine::Gcm256($gcm) => $body,
            _ => return Err(Error::Internal("GCM operation on a CBC key".into())),
        }
    };
}

impl Engine {
    pub fn new(mode: Mode, key: &[u8]) -> Result<Self> {
        let bad = || Error::Internal(format!("a {}-byte key reached the AES backend", key.len()));
        Ok(match (mode, key.len()) {
            (Mode::Cbc, 16) => Engine::Cbc128(Aes128::new_from_slice(key).map_err(|_| bad())?),
            (Mode::Cbc, 24) => Engine::Cbc192(Aes192::new_from_slice(key).map_err(|_| bad())?),
            (Mode::Cbc, 32) => Engine::Cbc256(Aes256::new_from_slice(key).map_err(|_| bad())?),
            (Mode::Gcm, 16) => {
                Engine::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
            (Mode::Gcm, 24) => {
                Engine::Gcm192(Box::new(Aes192Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
            (Mode::Gcm, 32) => {
                Engine::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
            _ => return Err(bad()),
        })
    }

    /// CBC over whole blocks, in place, no padding.
    pub fn cbc_blocks(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8], encrypt: bool) -> Result<()> {
        let (blocks, tail) = Array::slice_as_chunks_mut(buf);
        if !tail.is_empty() {
            return Err(Error::Internal("CBC block buffer".into()));
        }
        cbc_dispatch!(self, aes => {
            if encrypt {
                cbc::Encryptor::inner_iv_init(aes, iv.into()).encrypt_blocks(blocks);
            } else {
                cbc::Decryptor::inner_iv_init(aes, iv.into()).decrypt_blocks(blocks);
            }
        });
        Ok(())
    }

    pub fn gcm_seal(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = gcm_dispatch!(self, gcm => {
            gcm.encrypt_inout_detached(nonce.into(), aad, buf.into())
                .map_err(|_| Error::Internal("GCM seal failed (input too large)".into()))?
        });
        Ok(tag.into())
    }

    /// Seals `input` into `output` (the same length), leaving `input` as it is.
    pub fn gcm_seal_to(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = gcm_dispatch!(self, gcm => {
            let buf = aes_gcm::aead::inout::InOutBuf::new(input, output)
                .map_err(|_| Error::Internal("GCM seal: input and output differ in length".into()))?;
            gcm.encrypt_inout_detached(nonce.into(), aad, buf)
                .map_err(|_| Error::Internal("GCM seal failed (input too large)".into()))?
        });
        Ok(tag.into())
    }

    /// Opens in place; false when the tag does not match.
    pub fn gcm_open(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<bool> {
        Ok(gcm_dispatch!(self, gcm => {
            gcm.decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into()).is_ok()
        }))
    }
}

/// An HMAC-SHA256 key with its inner and outer pads hashed once.
#[derive(Clone)]
pub struct HmacKey(Hmac<Sha256>);

impl HmacKey {
    pub fn new(key: &[u8]) -> Self {
        HmacKey(
            <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
                .expect("HMAC takes keys of any length"),
        )
    }

    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf)
        .map_err(|e| Error::Internal(format!("the OS random number generator failed: {e}")))
}
