//! Chunked GCM streams (SPEC section 8): the frame nonce, sealing and opening one frame, and the
//! plaintext size derived from the encrypted size.
//!
//! A frame is `ciphertext || 16-byte tag`. Nothing about a frame is stored beside it: its nonce
//! is `prefix(7) || index as u32 big-endian || last`, and its AAD is every byte of the stream's
//! header. A frame moved, duplicated, dropped or taken from another stream is therefore opened
//! with the wrong nonce or AAD and fails its tag check; a stream cut at a frame boundary leaves a
//! frame sealed as "not last" at the end, which fails too.

use zeroize::Zeroizing;

use crate::cipher::CipherName;
use crate::crypto::{Mode, PreparedKey, GCM_NONCE_LEN, TAG_LEN};
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

    /// Seals `input` (one chunk of plaintext) into `output`, as long, and returns its tag.
    pub fn seal_to(
        &self,
        index: u64,
        last: bool,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let n = nonce(&self.prefix, index, last)?;
        self.key.gcm_seal_to(&n, &self.aad, input, output)
    }

    /// Opens `frame` (ciphertext followed by the tag) in place; returns the plaintext length.
    /// The plaintext is `frame[..len]`.
    pub fn open(&self, index: u64, last: bool, frame: &mut [u8]) -> Result<usize> {
        if frame.len() < TAG_LEN {
            return Err(too_short(index, frame.len()));
        }
        let len = frame.len() - TAG_LEN;
        let (body, tag) = frame.split_at_mut(len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().expect("split at the tag length");
        self.open_detached(index, last, body, &tag)?;
        Ok(len)
    }

    /// Opens a chunk's ciphertext `body` in place, with its `tag` held apart (the reader opens
    /// chunks straight into the caller's buffer this way). On failure `body` is wiped.
    pub fn open_detached(
        &self,
        index: u64,
        last: bool,
        body: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let n = nonce(&self.prefix, index, last)?;
        let what = format!("stream's chunk {index}");
        self.key.gcm_open(&n, &self.aad, body, tag, &what)
    }
}

/// The error for a frame of `len` bytes, too short for its tag.
pub(crate) fn too_short(index: u64, len: usize) -> Error {
    Error::Cipher(format!(
        "chunk {index} is {len} bytes, too short to hold its 16-byte auth tag: the stream was \
         truncated"
    ))
}

/// The frame cipher of one chunked stream, for callers that lay out the frames themselves (the
/// Ruby binding's `SymmetricEncryption::ChunkedStream`, through `se_chunk_seal` and
/// `se_chunk_open`). [`Writer`](crate::stream::Writer) and [`Reader`](crate::stream::Reader)
/// do all of this for whole streams.
///
/// ```
/// use symmetric_encryption::stream::chunked::ChunkCipher;
/// use symmetric_encryption::CipherName;
///
/// let chunks = ChunkCipher::new(CipherName::Aes256Gcm, &[7u8; 32], b"1234567", b"header")?;
/// let frame = chunks.seal(0, true, b"the only chunk")?;
/// assert_eq!(frame.len(), 14 + 16);
/// assert_eq!(&chunks.open(0, true, &frame)?[..], b"the only chunk");
/// assert!(chunks.open(0, false, &frame).is_err()); // sealed as the last chunk
/// # Ok::<(), symmetric_encryption::Error>(())
/// ```
#[derive(Clone)]
pub struct ChunkCipher(Chunker);

impl std::fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkCipher([FILTERED])")
    }
}

impl ChunkCipher {
    /// A chunk cipher for `cipher` (a GCM cipher) with the stream key `key`, the 7-byte nonce
    /// `prefix` and `header`, every byte of the stream's header (the AAD of every frame).
    ///
    /// # Errors
    /// [`Error::Argument`] for a CBC cipher (it cannot authenticate a chunk), a key of the wrong
    /// length for `cipher`, or a prefix that is not 7 bytes.
    pub fn new(cipher: CipherName, key: &[u8], prefix: &[u8], header: &[u8]) -> Result<Self> {
        if !cipher.is_authenticated() {
            return Err(Error::Argument(format!(
                "{} is not an authenticated cipher, so it cannot authenticate the chunks of a \
                 stream: use aes-256-gcm (or aes-128-gcm, aes-192-gcm)",
                cipher.as_str()
            )));
        }
        if key.len() != cipher.key_len() {
            return Err(Error::Argument(format!(
                "the key of a {} chunked stream must be {} bytes, but is {} bytes",
                cipher.as_str(),
                cipher.key_len(),
                key.len()
            )));
        }
        let prefix: [u8; NONCE_PREFIX_LEN] = prefix.try_into().map_err(|_| {
            Error::Argument(format!(
                "the nonce prefix of a chunked stream must be exactly {NONCE_PREFIX_LEN} bytes, \
                 but is {} bytes",
                prefix.len()
            ))
        })?;
        Ok(ChunkCipher(Chunker {
            key: PreparedKey::new(Mode::Gcm, key)?,
            prefix,
            aad: header.to_vec(),
        }))
    }

    /// Chunk `index` (from 0) of the stream encrypted: its ciphertext followed by its 16-byte
    /// tag. `last` says whether it is the stream's last chunk.
    ///
    /// # Errors
    /// [`Error::Cipher`] for an index of 2^32 or more.
    pub fn seal(&self, index: u64, last: bool, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut frame = Vec::with_capacity(plaintext.len() + TAG_LEN);
        frame.extend_from_slice(plaintext);
        let tag = self.0.seal(index, last, &mut frame)?;
        frame.extend_from_slice(&tag);
        Ok(frame)
    }

    /// Decrypts `frame` (ciphertext and tag) as chunk `index`; `last` as it was sealed.
    ///
    /// # Errors
    /// [`Error::Cipher`] for a frame shorter than its tag or an index of 2^32 or more;
    /// [`Error::Authentication`] when the frame was changed, moved to another position or
    /// stream, or is not the last chunk although `last` says so (a truncated stream).
    pub fn open(&self, index: u64, last: bool, frame: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut buf = Zeroizing::new(frame.to_vec());
        let len = self.0.open(index, last, &mut buf)?;
        buf.truncate(len);
        Ok(buf)
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

    /// The frame Ruby's OpenSSL computes for the same key, nonce and AAD (an implementation
    /// of its own): `aes-256-gcm`, nonce "1234567" || 00000001 || 01, AAD "the header".
    #[test]
    fn chunk_cipher_frames_match_openssl() {
        let key = b"0123456789abcdef0123456789abcdef";
        let c = ChunkCipher::new(CipherName::Aes256Gcm, key, b"1234567", b"the header").unwrap();
        let frame = c.seal(1, true, b"tail").unwrap();
        assert_eq!(
            hex::encode(&frame),
            "9645503e02f8f55c6bb8ad7c0c13bb8231115297"
        );
        assert_eq!(&c.open(1, true, &frame).unwrap()[..], b"tail");
        let e = c.open(1, false, &frame).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Authentication);
        assert_eq!(format!("{c:?}"), "ChunkCipher([FILTERED])");
    }

    #[test]
    fn chunk_cipher_refuses_bad_arguments() {
        let k = [1u8; 32];
        let cbc = ChunkCipher::new(CipherName::Aes256Cbc, &k, b"1234567", b"").unwrap_err();
        assert!(
            cbc.to_string().contains("not an authenticated cipher"),
            "{cbc}"
        );
        let short = ChunkCipher::new(CipherName::Aes256Gcm, &k[..16], b"1234567", b"").unwrap_err();
        assert!(
            short.to_string().contains("must be 32 bytes, but is 16"),
            "{short}"
        );
        let prefix = ChunkCipher::new(CipherName::Aes256Gcm, &k, b"123456", b"").unwrap_err();
        assert!(
            prefix.to_string().contains("exactly 7 bytes, but is 6"),
            "{prefix}"
        );
        let c = ChunkCipher::new(CipherName::Aes128Gcm, &k[..16], b"1234567", b"").unwrap();
        assert!(c.seal(MAX_CHUNKS, true, b"x").is_err());
        assert!(c
            .open(0, true, &[0u8; 15])
            .unwrap_err()
            .to_string()
            .contains("truncated"));
    }
}
