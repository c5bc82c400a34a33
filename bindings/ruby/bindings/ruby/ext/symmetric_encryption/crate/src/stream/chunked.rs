//! Chunked GCM streams (SPEC section 8): the frame nonce, sealing and opening one frame, and the
//! plaintext size derived from the encrypted size.
//!
//! A frame is `ciphertext || 16-byte tag`. Nothing about a frame is stored beside it: its nonce
//! is `prefix(7) || index as u32 big-endian || last`, and its AAD is every byte of the stream's
//! header. A frame moved, duplicated, dropped or taken from another stream is therefore opened
//! with the wrong nonce or AAD and fails its tag check; a stream cut at a frame boundary leaves a
//! frame sealed as "not last" at the end, which fails too.

use crate::crypto::{PreparedKey, GCM_NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};

/// Length of the random nonce prefix held in a chunked stream's iv field.
pub const NONCE_PREFIX_LEN: usize = 7;

/// A chunked stream holds at most 2^32 chunks (the chunk number is a u32).
pub const MAX_CHUNKS: u64 = 1 << 32;

/// The nonce of chunk `index`.
pub(crate) fn nonce(
    prefix: &[u8; NONCE_PREFIX_LEN],
    index: u64,
    last: bool,
) -> Result<[u8; GCM_NONCE_LEN]> {
    let index = u32::try_from(index).map_err(|_| {
        Error::Cipher(format!(
            "a chunked stream holds at most {MAX_CHUNKS} chunks; chunk {index} is past that"
        ))
    })?;
    let mut n = [0u8; GCM_NONCE_LEN];
    n[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    n[NONCE_PREFIX_LEN..NONCE_PREFIX_LEN + 4].copy_from_slice(&index.to_be_bytes());
    n[GCM_NONCE_LEN - 1] = u8::from(last);
    Ok(n)
}

/// The chunk parameters shared by the writer and the reader of one stream.
#[derive(Clone)]
pub(crate) struct Chunker {
    pub key: PreparedKey,
    pub prefix: [u8; NONCE_PREFIX_LEN],
    /// Every byte of the stream's header.
    pub aad: Vec<u8>,
}

impl Chunker {
    /// Seals `buf` (one chunk of plaintext) in place and returns its tag.
    pub fn seal(&self, index: u64, last: bool, buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let n = nonce(&self.prefix, index, last)?;
        self.key.gcm_seal(&n, &self.aad, buf)
    }

    /// Opens `frame` (ciphertext followed by the tag) in place; returns the plaintext length.
    /// The plaintext is `frame[..len]`.
    pub fn open(&self, index: u64, last: bool, frame: &mut [u8]) -> Result<usize> {
        if frame.len() < TAG_LEN {
            return Err(Error::Cipher(format!(
                "chunk {index} is {} bytes, too short to hold its 16-byte auth tag: the stream was \
                 truncated",
                frame.len()
            )));
        }
        let len = frame.len() - TAG_LEN;
        let (body, tag) = frame.split_at_mut(len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().expect("split at the tag length");
        let n = nonce(&self.prefix, index, last)?;
        let what = format!("stream's chunk {index}");
        self.key.gcm_open(&n, &self.aad, body, &tag, &what)?;
        Ok(len)
    }
}

/// The plaintext size of a chunked stream whose frames take `body_len` bytes, with chunks of
/// `chunk_size` bytes. A stream with no frame at all, or whose last frame is shorter than a tag,
/// is a truncation error.
pub fn plaintext_size(body_len: u64, chunk_size: u64) -> Result<u64> {
    let frame = chunk_size + TAG_LEN as u64;
    if body_len == 0 {
        return Err(cut_to_header());
    }
    let full = body_len / frame;
    let rest = body_len % frame;
    if rest == 0 {
        return Ok(full * chunk_size);
    }
    if rest < TAG_LEN as u64 {
        return Err(Error::Cipher(format!(
            "chunk {full} is {rest} bytes, too short to hold its 16-byte auth tag: the stream was \
             truncated"
        )));
    }
    Ok(full * chunk_size + rest - TAG_LEN as u64)
}

/// The error for a chunked stream that holds no chunk at all.
pub(crate) fn cut_to_header() -> Error {
    Error::Cipher(
        "the chunked stream ends right after its header, with no chunk: it was truncated (a \
         chunked stream always holds at least one chunk). The gem reads such a stream as empty; \
         this library refuses it"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Mode;

    #[test]
    fn nonce_layout() {
        let n = nonce(&[1, 2, 3, 4, 5, 6, 7], 0x0102_0304, true).unwrap();
        assert_eq!(n, [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 1]);
        assert!(nonce(&[0; 7], MAX_CHUNKS, false).is_err());
    }

    #[test]
    fn sizes_from_the_encrypted_length() {
        let c = 1024;
        assert_eq!(plaintext_size(1040, c).unwrap(), 1024);
        assert_eq!(plaintext_size(1040 + 17, c).unwrap(), 1025);
        assert_eq!(plaintext_size(2 * 1040, c).unwrap(), 2048);
        assert!(plaintext_size(0, c).is_err());
        assert!(plaintext_size(1040 + 15, c).is_err());
    }

    #[test]
    fn a_frame_opens_only_at_its_own_position() {
        let ch = Chunker {
            key: PreparedKey::new(Mode::Gcm, &[9; 32]).unwrap(),
            prefix: [3; 7],
            aad: b"header".to_vec(),
        };
        let mut buf = b"chunk data".to_vec();
        let tag = ch.seal(1, false, &mut buf).unwrap();
        buf.extend_from_slice(&tag);
        for (i, last) in [(0, false), (1, true), (2, false)] {
            let mut f = buf.clone();
            assert!(ch.open(i, last, &mut f).is_err(), "{i} {last}");
        }
        let n = ch.open(1, false, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"chunk data");
    }
}
