//! The only module that calls the AES, GCM, HMAC and random-number crates.
//!
//! Everything above this seam works with [`PreparedKey`] (a key schedule computed once) and a
//! handful of functions, so that another backend can later be dropped in behind a cargo feature
//! without touching the rest of the crate.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// AES block size, and the CBC iv size.
pub const BLOCK_LEN: usize = 16;
/// GCM nonce size.
pub const GCM_NONCE_LEN: usize = 12;
/// GCM tag size.
pub const TAG_LEN: usize = 16;

/// The name of the crypto backend compiled in, for `--version` and diagnostics.
pub const BACKEND: &str =
    "RustCrypto (aes 0.8, aes-gcm 0.10, AES-NI and CLMUL detected at run time)";

/// Block cipher mode of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cbc,
    Gcm,
}

type Aes128Gcm = AesGcm<Aes128, U12>;
type Aes192Gcm = AesGcm<Aes192, U12>;
type Aes256Gcm = AesGcm<Aes256, U12>;

#[derive(Clone)]
enum Engine {
    Cbc128(Aes128),
    Cbc192(Aes192),
    Cbc256(Aes256),
    Gcm128(Box<Aes128Gcm>),
    Gcm192(Box<Aes192Gcm>),
    Gcm256(Box<Aes256Gcm>),
}

/// A key with its AES key schedule computed once. The schedule and the raw key are zeroized
/// on drop.
#[derive(Clone)]
pub struct PreparedKey {
    engine: Engine,
    raw: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreparedKey([FILTERED])")
    }
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

impl PreparedKey {
    /// Prepares `key` (16, 24 or 32 bytes) for `mode`. The caller has checked the length
    /// against the cipher name; a wrong length here is an internal error.
    pub fn new(mode: Mode, key: &[u8]) -> Result<Self> {
        let bad = || Error::Internal(format!("a {}-byte key reached the AES backend", key.len()));
        let engine = match (mode, key.len()) {
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
        };
        Ok(PreparedKey {
            engine,
            raw: Zeroizing::new(key.to_vec()),
        })
    }

    /// The raw key bytes (for writing key files and re-encrypting keys).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// CBC-encrypts `data` with PKCS#7 padding, appending the ciphertext to `out`.
    pub fn cbc_encrypt(&self, iv: &[u8; BLOCK_LEN], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let padded = (data.len() / BLOCK_LEN + 1) * BLOCK_LEN;
        out.resize(start + padded, 0);
        out[start..start + data.len()].copy_from_slice(data);
        let buf = &mut out[start..];
        cbc_dispatch!(&self.engine, aes => {
            cbc::Encryptor::inner_iv_init(aes.clone(), iv.into())
                .encrypt_padded_mut::<Pkcs7>(buf, data.len())
                .map_err(|_| Error::Internal("CBC padding buffer too small".into()))?;
        });
        Ok(())
    }

    /// CBC-decrypts `data` and removes the PKCS#7 padding, appending the plaintext to `out`.
    pub fn cbc_decrypt(&self, iv: &[u8; BLOCK_LEN], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if data.is_empty() || data.len() % BLOCK_LEN != 0 {
            return Err(wrong_final_block_length(data.len()));
        }
        let start = out.len();
        out.extend_from_slice(data);
        let result = cbc_dispatch!(&self.engine, aes => {
            cbc::Decryptor::inner_iv_init(aes.clone(), iv.into())
                .decrypt_padded_mut::<Pkcs7>(&mut out[start..])
                .map(|plain| plain.len())
        });
        match result {
            Ok(len) => {
                out.truncate(start + len);
                Ok(())
            }
            Err(_) => {
                zeroize_tail(out, start);
                Err(bad_decrypt())
            }
        }
    }

    /// CBC over whole blocks with no padding, in place; returns the last ciphertext block (the
    /// next iv). `buf.len()` must be a multiple of 16.
    fn cbc_blocks(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8], encrypt: bool) -> Result<[u8; 16]> {
        debug_assert!(buf.len() % BLOCK_LEN == 0);
        if buf.is_empty() {
            return Ok(*iv);
        }
        let n = buf.len();
        let mut last = [0u8; BLOCK_LEN];
        if !encrypt {
            last.copy_from_slice(&buf[n - BLOCK_LEN..]);
        }
        cbc_dispatch!(&self.engine, aes => {
            if encrypt {
                cbc::Encryptor::inner_iv_init(aes.clone(), iv.into())
                    .encrypt_padded_mut::<NoPadding>(buf, n)
                    .map_err(|_| Error::Internal("CBC block buffer".into()))?;
            } else {
                cbc::Decryptor::inner_iv_init(aes.clone(), iv.into())
                    .decrypt_padded_mut::<NoPadding>(buf)
                    .map_err(|_| Error::Internal("CBC block buffer".into()))?;
            }
        });
        if encrypt {
            last.copy_from_slice(&buf[n - BLOCK_LEN..]);
        }
        Ok(last)
    }

    /// Seals `buf` in place with AES-GCM and returns the tag.
    pub fn gcm_seal(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = gcm_dispatch!(&self.engine, gcm => {
            gcm.encrypt_in_place_detached(nonce.into(), aad, buf)
                .map_err(|_| Error::Internal("GCM seal failed (input too large)".into()))?
        });
        Ok(tag.into())
    }

    /// Opens `buf` in place with AES-GCM, checking `tag`. A mismatch is an authentication
    /// error naming `what`, and `buf` is zeroed.
    pub fn gcm_open(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
        what: &str,
    ) -> Result<()> {
        let ok = gcm_dispatch!(&self.engine, gcm => {
            gcm.decrypt_in_place_detached(nonce.into(), aad, buf, tag.into()).is_ok()
        });
        if ok {
            Ok(())
        } else {
            zeroize::Zeroize::zeroize(buf);
            Err(Error::auth_failed(what))
        }
    }

    /// An incremental CBC encryptor starting at `iv`.
    pub fn cbc_encryptor(&self, iv: [u8; BLOCK_LEN]) -> CbcStream {
        CbcStream {
            key: self.clone(),
            iv,
            pending: Zeroizing::new(Vec::with_capacity(BLOCK_LEN)),
            encrypt: true,
        }
    }

    /// An incremental CBC decryptor starting at `iv`.
    pub fn cbc_decryptor(&self, iv: [u8; BLOCK_LEN]) -> CbcStream {
        CbcStream {
            key: self.clone(),
            iv,
            pending: Zeroizing::new(Vec::with_capacity(BLOCK_LEN)),
            encrypt: false,
        }
    }
}

/// Incremental CBC with PKCS#7 padding, for streams: feed any number of bytes with
/// [`CbcStream::update`], then call [`CbcStream::finish`].
pub struct CbcStream {
    key: PreparedKey,
    iv: [u8; BLOCK_LEN],
    pending: Zeroizing<Vec<u8>>,
    encrypt: bool,
}

impl CbcStream {
    /// Processes `input`, appending whatever output is ready to `out`. A decryptor holds back
    /// the last block until [`finish`](Self::finish), because it carries the padding.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if !self.pending.is_empty() {
            let take = (BLOCK_LEN - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < BLOCK_LEN || (!self.encrypt && input.is_empty()) {
                return Ok(());
            }
            let start = out.len();
            out.extend_from_slice(&self.pending);
            self.pending.clear();
            self.iv = self
                .key
                .cbc_blocks(&self.iv, &mut out[start..], self.encrypt)?;
        }
        let mut whole = input.len() / BLOCK_LEN * BLOCK_LEN;
        if !self.encrypt && whole == input.len() && whole > 0 {
            whole -= BLOCK_LEN; // keep the final block back: it may be the padding block
        }
        if whole > 0 {
            let start = out.len();
            out.extend_from_slice(&input[..whole]);
            self.iv = self
                .key
                .cbc_blocks(&self.iv, &mut out[start..], self.encrypt)?;
        }
        self.pending.extend_from_slice(&input[whole..]);
        Ok(())
    }

    /// Finishes the stream: pads and encrypts the last block, or decrypts and unpads it.
    /// A decryptor that saw no data at all gives no output (an empty stream).
    pub fn finish(mut self, out: &mut Vec<u8>, saw_any: bool) -> Result<()> {
        if self.encrypt {
            let mut last = Zeroizing::new(std::mem::take(&mut *self.pending));
            let pad = BLOCK_LEN - last.len();
            last.resize(BLOCK_LEN, pad as u8);
            let start = out.len();
            out.extend_from_slice(&last);
            self.key.cbc_blocks(&self.iv, &mut out[start..], true)?;
            return Ok(());
        }
        if self.pending.is_empty() && !saw_any {
            return Ok(());
        }
        if self.pending.len() != BLOCK_LEN {
            return Err(wrong_final_block_length(self.pending.len()));
        }
        let mut block = Zeroizing::new([0u8; BLOCK_LEN]);
        block.copy_from_slice(&self.pending);
        self.key.cbc_blocks(&self.iv, &mut block[..], false)?;
        let pad = block[BLOCK_LEN - 1] as usize;
        if pad == 0
            || pad > BLOCK_LEN
            || block[BLOCK_LEN - pad..].iter().any(|&b| b as usize != pad)
        {
            return Err(bad_decrypt());
        }
        out.extend_from_slice(&block[..BLOCK_LEN - pad]);
        Ok(())
    }
}

fn zeroize_tail(out: &mut Vec<u8>, start: usize) {
    zeroize::Zeroize::zeroize(&mut out[start..]);
    out.truncate(start);
}

fn wrong_final_block_length(len: usize) -> Error {
    Error::Cipher(format!(
        "wrong final block length: CBC data must be a non-empty multiple of 16 bytes, got {len} \
         (the value is truncated, or it is not encrypted with this cipher)"
    ))
}

fn bad_decrypt() -> Error {
    Error::Cipher(
        "bad decrypt: the padding is wrong after CBC decryption, so the key or iv does not match \
         the one that encrypted the value (or the value was altered)"
            .into(),
    )
}

/// The first 12 bytes of HMAC-SHA256(key, data): the deterministic GCM iv.
pub fn hmac_iv(key: &[u8], data: &[u8]) -> [u8; GCM_NONCE_LEN] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    let full = mac.finalize().into_bytes();
    let mut iv = [0u8; GCM_NONCE_LEN];
    iv.copy_from_slice(&full[..GCM_NONCE_LEN]);
    iv
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf)
        .map_err(|e| Error::Internal(format!("the OS random number generator failed: {e}")))
}

/// `n` random bytes, in zeroizing memory.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    fill_random(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_stream_matches_one_shot_for_every_split() {
        let key = PreparedKey::new(Mode::Cbc, &[7u8; 32]).unwrap();
        let iv = [3u8; 16];
        let data: Vec<u8> = (0..100u8).collect();
        let mut one = Vec::new();
        key.cbc_encrypt(&iv, &data, &mut one).unwrap();
        for split in 0..data.len() {
            let mut enc = key.cbc_encryptor(iv);
            let mut out = Vec::new();
            enc.update(&data[..split], &mut out).unwrap();
            enc.update(&data[split..], &mut out).unwrap();
            enc.finish(&mut out, true).unwrap();
            assert_eq!(out, one, "split {split}");
            let mut dec = key.cbc_decryptor(iv);
            let mut plain = Vec::new();
            dec.update(&one[..split], &mut plain).unwrap();
            dec.update(&one[split..], &mut plain).unwrap();
            dec.finish(&mut plain, true).unwrap();
            assert_eq!(plain, data, "split {split}");
        }
    }

    #[test]
    fn gcm_open_rejects_a_flipped_bit() {
        let key = PreparedKey::new(Mode::Gcm, &[1u8; 16]).unwrap();
        let nonce = [2u8; 12];
        let mut buf = b"hello".to_vec();
        let tag = key.gcm_seal(&nonce, b"aad", &mut buf).unwrap();
        buf[0] ^= 1;
        let err = key
            .gcm_open(&nonce, b"aad", &mut buf, &tag, "value")
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Authentication);
    }
}
