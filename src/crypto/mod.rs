//! The only module that calls the AES, GCM, HMAC and random-number crates.
//!
//! Everything above this seam works with [`PreparedKey`] (a key schedule computed once) and a
//! handful of functions, so that another backend can later be dropped in behind a cargo feature
//! without touching the rest of the crate.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub mod legacy_rsa;

#[cfg(feature = "aws-lc")]
mod awslc;
#[cfg(feature = "aws-lc")]
use awslc as backend;
#[cfg(not(feature = "aws-lc"))]
mod rustcrypto;
#[cfg(not(feature = "aws-lc"))]
use rustcrypto as backend;

/// AES block size, and the CBC iv size.
pub const BLOCK_LEN: usize = 16;
/// GCM nonce size.
pub const GCM_NONCE_LEN: usize = 12;
/// GCM tag size.
pub const TAG_LEN: usize = 16;

/// The name of the crypto backend compiled in (a prefix of [`backend()`]).
pub const BACKEND: &str = backend::NAME;

/// The crypto backend, for `--version`, `se_backend()` and diagnostics: [`BACKEND`], and for
/// AWS-LC its version and whether FIPS mode is active (checked once, on the first call).
pub fn backend() -> &'static str {
    static DESCRIPTION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DESCRIPTION.get_or_init(backend::describe)
}

/// Block cipher mode of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Cipher block chaining with PKCS#7 padding (the gem's `-cbc` ciphers).
    Cbc,
    /// Galois/counter mode with a 16-byte tag (the gem's `-gcm` ciphers).
    Gcm,
}

/// A key with its AES key schedule computed once (at load), shared cheaply between threads
/// and streams. The schedule and the raw key are zeroized when the last clone is dropped.
#[derive(Clone)]
pub struct PreparedKey {
    engine: Arc<backend::Engine>,
    /// For GCM keys: HMAC-SHA256 under the same key, which derives deterministic ivs.
    hmac: Option<Arc<backend::HmacKey>>,
    raw: Arc<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreparedKey([FILTERED])")
    }
}

impl PreparedKey {
    /// Prepares `key` (16, 24 or 32 bytes) for `mode`. The caller has checked the length
    /// against the cipher name; a wrong length here is an internal error.
    pub fn new(mode: Mode, key: &[u8]) -> Result<Self> {
        Ok(PreparedKey {
            engine: Arc::new(backend::Engine::new(mode, key)?),
            hmac: (mode == Mode::Gcm).then(|| Arc::new(backend::HmacKey::new(key))),
            raw: Arc::new(Zeroizing::new(key.to_vec())),
        })
    }

    /// The raw key bytes (for writing key files and re-encrypting keys).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The deterministic GCM iv of `data`: the first 12 bytes of HMAC-SHA256(key, data).
    pub fn hmac_iv(&self, data: &[u8]) -> [u8; GCM_NONCE_LEN] {
        let full = Zeroizing::new(match &self.hmac {
            Some(h) => h.sign(data),
            None => backend::HmacKey::new(&self.raw).sign(data),
        });
        let mut iv = [0u8; GCM_NONCE_LEN];
        iv.copy_from_slice(&full[..GCM_NONCE_LEN]);
        iv
    }

    /// CBC-encrypts `data` with PKCS#7 padding, appending the ciphertext to `out`.
    pub fn cbc_encrypt(&self, iv: &[u8; BLOCK_LEN], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let pad = BLOCK_LEN - data.len() % BLOCK_LEN;
        out.reserve(data.len() + pad);
        out.extend_from_slice(data);
        out.resize(start + data.len() + pad, pad as u8);
        self.engine.cbc_blocks(iv, &mut out[start..], true)
    }

    /// CBC-decrypts `data` and removes the PKCS#7 padding, appending the plaintext to `out`.
    pub fn cbc_decrypt(&self, iv: &[u8; BLOCK_LEN], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN) {
            return Err(wrong_final_block_length(data.len()));
        }
        let start = out.len();
        // `out` may hold earlier plaintexts (a batch's results): grown without leaving an
        // unwiped copy of them behind.
        crate::wipe::extend(out, data);
        self.engine.cbc_blocks(iv, &mut out[start..], false)?;
        match unpad(&out[start..]) {
            Some(len) => {
                zeroize::Zeroize::zeroize(&mut out[start + len..]);
                out.truncate(start + len);
                Ok(())
            }
            None => {
                zeroize::Zeroize::zeroize(&mut out[start..]);
                out.truncate(start);
                Err(bad_decrypt())
            }
        }
    }

    /// CBC over whole blocks with no padding, in place; returns the last ciphertext block (the
    /// next iv). `buf.len()` must be a multiple of 16.
    fn cbc_blocks(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8], encrypt: bool) -> Result<[u8; 16]> {
        debug_assert!(buf.len().is_multiple_of(BLOCK_LEN));
        if buf.is_empty() {
            return Ok(*iv);
        }
        let n = buf.len();
        let mut last = [0u8; BLOCK_LEN];
        if !encrypt {
            last.copy_from_slice(&buf[n - BLOCK_LEN..]);
        }
        self.engine.cbc_blocks(iv, buf, encrypt)?;
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
        self.engine.gcm_seal(nonce, aad, buf)
    }

    /// Seals `input` with AES-GCM into `output`, which must be as long, leaving `input` as it
    /// is: the stream writer seals a caller's whole chunk this way, with no copy of it first.
    pub fn gcm_seal_to(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        if input.len() != output.len() {
            return Err(Error::Internal(format!(
                "GCM seal of {} bytes into {}",
                input.len(),
                output.len()
            )));
        }
        self.engine.gcm_seal_to(nonce, aad, input, output)
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
        if self.engine.gcm_open(nonce, aad, buf, tag)? {
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

/// The length of `block` without its PKCS#7 padding, or None when the padding is invalid.
fn unpad(data: &[u8]) -> Option<usize> {
    let pad = *data.last()? as usize;
    if pad == 0 || pad > BLOCK_LEN || pad > data.len() {
        return None;
    }
    // Checked in full (no early exit) so the time taken does not say which byte was wrong.
    let bad = data[data.len() - pad..]
        .iter()
        .fold(0u8, |acc, &b| acc | (b ^ pad as u8));
    (bad == 0).then(|| data.len() - pad)
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

/// Fills `buf` with random bytes from the backend's CSPRNG (the OS for RustCrypto, AWS-LC's
/// DRBG for aws-lc).
///
/// Small requests (ivs, nonce prefixes) are served from a per-thread pool refilled 512 bytes at
/// a time, which takes a system call or a DRBG reseed off every value. Bytes are wiped from the
/// pool as they are handed out, and a process that forks discards its pool in the child (the
/// pool records the fork generation), so parent and child never share random bytes.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    let generation = match crate::sys::fork_generation() {
        Some(g) if buf.len() <= POOL_MAX_REQUEST => g,
        _ => return backend::fill_random(buf),
    };
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.generation != Some(generation) || pool.pos + buf.len() > POOL_SIZE {
            backend::fill_random(&mut pool.bytes[..])?;
            pool.pos = 0;
            pool.generation = Some(generation);
        }
        let start = pool.pos;
        let end = start + buf.len();
        buf.copy_from_slice(&pool.bytes[start..end]);
        zeroize::Zeroize::zeroize(&mut pool.bytes[start..end]);
        pool.pos = end;
        Ok(())
    })
}

const POOL_SIZE: usize = 512;
const POOL_MAX_REQUEST: usize = 64;

struct RandomPool {
    bytes: Zeroizing<[u8; POOL_SIZE]>,
    pos: usize,
    generation: Option<u64>,
}

thread_local! {
    static POOL: std::cell::RefCell<RandomPool> = std::cell::RefCell::new(RandomPool {
        bytes: Zeroizing::new([0u8; POOL_SIZE]),
        pos: POOL_SIZE,
        generation: None,
    });
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
    fn gcm_seal_to_is_gcm_seal() {
        for key_len in [16, 24, 32] {
            let key = PreparedKey::new(Mode::Gcm, &vec![3u8; key_len]).unwrap();
            let nonce = [4u8; 12];
            let input: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
            let mut in_place = input.clone();
            let want = key.gcm_seal(&nonce, b"aad", &mut in_place).unwrap();
            let mut out = vec![0u8; input.len()];
            assert_eq!(
                key.gcm_seal_to(&nonce, b"aad", &input, &mut out).unwrap(),
                want
            );
            assert_eq!(out, in_place);
            assert_eq!(input[1], 7, "the input is left as it was");
            let mut short = vec![0u8; 999];
            assert!(key.gcm_seal_to(&nonce, b"aad", &input, &mut short).is_err());
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
