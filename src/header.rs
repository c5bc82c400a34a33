//! The `@EnC` header: bytes in, fields out, and back (SPEC section 3).
//!
//! Parsing is bounded: it never reads past the buffer and never panics; a truncated field or a
//! bad length is a [`Error::Cipher`] naming the field.

use crate::error::{Error, Result};

/// The four magic bytes every header starts with.
pub const MAGIC: &[u8; 4] = b"@EnC";

/// Flag bits of the header's second byte.
pub mod flags {
    /// The data is deflated (zlib) before it is encrypted.
    pub const COMPRESSED: u8 = 0x80;
    /// The header holds the iv (a random or deterministic iv, or a chunked stream's nonce
    /// prefix).
    pub const IV: u8 = 0x40;
    /// The header holds a per-value or per-stream key, encrypted with the version's key.
    pub const KEY: u8 = 0x20;
    /// The header names the cipher (when it differs from the version's).
    pub const CIPHER_NAME: u8 = 0x10;
    /// The header holds the GCM auth tag.
    pub const AUTH_TAG: u8 = 0x08;
    /// A chunked GCM stream: the header holds the chunk-size exponent.
    pub const CHUNKED: u8 = 0x04;
}

/// Smallest chunk-size exponent of a chunked stream (1 KiB chunks).
pub const MIN_CHUNK_LOG2: u8 = 10;
/// Largest chunk-size exponent of a chunked stream (16 MiB chunks).
pub const MAX_CHUNK_LOG2: u8 = 24;

/// The fields of a header.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Version of the cipher that encrypted the data (or the key field).
    pub version: u8,
    /// The data was compressed before encryption.
    pub compressed: bool,
    /// The iv (or, for chunked streams, the 7-byte nonce prefix), when present.
    pub iv: Option<Vec<u8>>,
    /// The encrypted data key, when present.
    pub encrypted_key: Option<Vec<u8>>,
    /// The cipher name, when present.
    pub cipher_name: Option<String>,
    /// log2 of the chunk size, for chunked streams.
    pub chunk_log2: Option<u8>,
    /// The authentication tag, when present. Always 16 bytes.
    pub auth_tag: Option<[u8; 16]>,
    /// Unused flag bits (0x02, 0x01) as found; written back as found so the AAD stays intact.
    pub reserved_flags: u8,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("version", &self.version)
            .field("compressed", &self.compressed)
            .field("iv_len", &self.iv.as_ref().map(Vec::len))
            .field(
                "encrypted_key_len",
                &self.encrypted_key.as_ref().map(Vec::len),
            )
            .field("cipher_name", &self.cipher_name)
            .field("chunk_size", &self.chunk_size())
            .field("auth_tag", &self.auth_tag.is_some())
            .finish()
    }
}

/// A parsed header and where it sits in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The header's fields.
    pub header: Header,
    /// Header length in bytes: the data starts here.
    pub len: usize,
    /// Bytes covered by the authentication tag (everything before the tag's length field).
    /// Equal to `len` when there is no tag.
    pub aad_len: usize,
}

impl Header {
    /// The flags byte this header writes.
    pub fn flags(&self) -> u8 {
        let mut f = self.reserved_flags & 0x03;
        if self.compressed {
            f |= flags::COMPRESSED;
        }
        if self.iv.is_some() {
            f |= flags::IV;
        }
        if self.encrypted_key.is_some() {
            f |= flags::KEY;
        }
        if self.cipher_name.is_some() {
            f |= flags::CIPHER_NAME;
        }
        if self.auth_tag.is_some() {
            f |= flags::AUTH_TAG;
        }
        if self.chunk_log2.is_some() {
            f |= flags::CHUNKED;
        }
        f
    }

    /// Chunk size in bytes, for chunked streams.
    pub fn chunk_size(&self) -> Option<usize> {
        self.chunk_log2.map(|n| 1usize << n)
    }

    /// Whether this header marks a chunked stream.
    pub fn is_chunked(&self) -> bool {
        self.chunk_log2.is_some()
    }

    /// Appends the header bytes before the tag (the AAD) to `out`. With a tag, the tag
    /// length field and the tag follow via [`Header::write_tag`].
    pub fn write_aad(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(MAGIC);
        out.push(self.version);
        out.push(self.flags());
        for (name, field) in [("iv", &self.iv), ("key", &self.encrypted_key)] {
            if let Some(v) = field {
                write_u16_field(out, name, v)?;
            }
        }
        if let Some(name) = &self.cipher_name {
            write_u16_field(out, "cipher name", name.as_bytes())?;
        }
        if let Some(n) = self.chunk_log2 {
            check_chunk_log2(n)?;
            out.push(n);
        }
        Ok(())
    }

    /// Appends the tag length field and `tag`.
    pub fn write_tag(out: &mut Vec<u8>, tag: &[u8; 16]) {
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(tag);
    }

    /// The whole header as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        self.write_aad(&mut out)?;
        if let Some(tag) = &self.auth_tag {
            Header::write_tag(&mut out, tag);
        }
        Ok(out)
    }
}

fn write_u16_field(out: &mut Vec<u8>, name: &str, v: &[u8]) -> Result<()> {
    let len = u16::try_from(v.len()).map_err(|_| {
        Error::Argument(format!(
            "the header's {name} field is {} bytes, at most 65535 fit",
            v.len()
        ))
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(v);
    Ok(())
}

fn check_chunk_log2(n: u8) -> Result<()> {
    if (MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&n) {
        Ok(())
    } else {
        let size = 1u64 << n.min(63);
        Err(Error::Cipher(format!(
            "chunk size {size} (2^{n}) is not supported: it has to be a power of two between 1024 and 16777216 bytes"
        )))
    }
}

/// Whether `buf` starts with a header: more than 6 bytes, starting with the magic.
pub fn present(buf: &[u8]) -> bool {
    buf.len() > 6 && buf.starts_with(MAGIC)
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        self.take_named(n, "", what)
    }

    /// As `take`, for the field `{prefix}{what}`: the name is only formatted for an error.
    fn take_named(&mut self, n: usize, prefix: &str, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
            Error::Cipher(format!(
                "truncated header: the {prefix}{what} needs {n} bytes at offset {}, but the value has only {} bytes: it was cut short or altered",
                self.pos,
                self.buf.len()
            ))
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16_field(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.take_named(2, "length of the ", what)?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        self.take(len, what)
    }
}

/// Parses the header at the start of `buf`. `Ok(None)` when there is no header (see
/// [`present`]). Errors name the field that is truncated or bad.
pub fn parse(buf: &[u8]) -> Result<Option<Parsed>> {
    if !present(buf) {
        return Ok(None);
    }
    let version = buf[4];
    let f = buf[5];
    let mut c = Cursor { buf, pos: 6 };
    let mut h = Header {
        version,
        compressed: f & flags::COMPRESSED != 0,
        reserved_flags: f & 0x03,
        ..Header::default()
    };
    if f & flags::IV != 0 {
        h.iv = Some(c.u16_field("iv")?.to_vec());
    }
    if f & flags::KEY != 0 {
        h.encrypted_key = Some(c.u16_field("encrypted key")?.to_vec());
    }
    if f & flags::CIPHER_NAME != 0 {
        let name = c.u16_field("cipher name")?;
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or_else(|| Error::Cipher("the header's cipher name is not ASCII text".into()))?;
        h.cipher_name = Some(name.to_string());
    }
    if f & flags::CHUNKED != 0 {
        let n = c.take(1, "chunk size")?[0];
        check_chunk_log2(n)?;
        h.chunk_log2 = Some(n);
    }
    let aad_len = c.pos;
    if f & flags::AUTH_TAG != 0 {
        let len_bytes = c.take(2, "length of the auth tag")?;
        let len = u16::from_le_bytes([len_bytes[0], len_bytes[1]]) as usize;
        if len != 16 {
            return Err(bad_tag_len(len));
        }
        // Fewer than 16 bytes left is a value cut short (take says so), not a short tag.
        let mut tag = [0u8; 16];
        tag.copy_from_slice(c.take(16, "auth tag")?);
        h.auth_tag = Some(tag);
    }
    Ok(Some(Parsed {
        header: h,
        len: c.pos,
        aad_len,
    }))
}

fn bad_tag_len(len: usize) -> Error {
    Error::Cipher(format!(
        "the auth tag must be exactly 16 bytes, but is {len} bytes: a shorter tag is refused because it is cheap to forge"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let h = Header {
            version: 7,
            compressed: true,
            iv: Some(vec![1; 12]),
            encrypted_key: Some(vec![2; 48]),
            cipher_name: Some("aes-256-gcm".into()),
            chunk_log2: Some(16),
            auth_tag: Some([9; 16]),
            reserved_flags: 0,
        };
        let bytes = h.to_bytes().unwrap();
        let p = parse(&bytes).unwrap().unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.len, bytes.len());
        assert_eq!(p.aad_len, bytes.len() - 18);
    }

    #[test]
    fn truncated_fields_are_named() {
        let bytes = [b'@', b'E', b'n', b'C', 1, flags::IV, 5];
        let err = parse(&bytes).unwrap_err().to_string();
        assert!(err.contains("length of the iv"), "{err}");
    }

    /// A tag field announcing 16 bytes with only 15 left is a value cut short, not a short tag.
    #[test]
    fn a_tag_cut_short_is_truncation() {
        let mut bytes = vec![b'@', b'E', b'n', b'C', 1, flags::AUTH_TAG, 16, 0];
        bytes.extend_from_slice(&[7; 15]);
        let err = parse(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("truncated header: the auth tag needs 16 bytes"),
            "{err}"
        );
        assert!(err.contains("cut short or altered"), "{err}");
        assert!(!err.contains("must be exactly 16"), "{err}");
        bytes[6] = 15;
        let err = parse(&bytes).unwrap_err().to_string();
        assert!(err.contains("must be exactly 16 bytes, but is 15"), "{err}");
    }
}
