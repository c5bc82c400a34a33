//! One cipher entry: a cipher name, a key, an optional iv, a version, an encoding and the
//! `always_add_header` setting; encrypts and decrypts single values (SPEC sections 2, 4, 5).

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

use zeroize::Zeroizing;

use crate::crypto::{self, Mode, PreparedKey, BLOCK_LEN, GCM_NONCE_LEN, TAG_LEN};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::header::{self, Header, Parsed};
use crate::key::SecretBytes;

/// A cipher algorithm the gem knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherName {
    /// `aes-128-cbc`: 16-byte key, 16-byte iv, not authenticated.
    Aes128Cbc,
    /// `aes-192-cbc`: 24-byte key, 16-byte iv, not authenticated.
    Aes192Cbc,
    /// `aes-256-cbc`: 32-byte key, 16-byte iv, not authenticated (gem 4.x's default).
    Aes256Cbc,
    /// `aes-128-gcm`: 16-byte key, 12-byte iv, authenticated.
    Aes128Gcm,
    /// `aes-192-gcm`: 24-byte key, 12-byte iv, authenticated.
    Aes192Gcm,
    /// `aes-256-gcm`: 32-byte key, 12-byte iv, authenticated (gem 5.0's default).
    Aes256Gcm,
}

impl CipherName {
    /// Every supported cipher.
    pub const ALL: [CipherName; 6] = [
        CipherName::Aes128Cbc,
        CipherName::Aes192Cbc,
        CipherName::Aes256Cbc,
        CipherName::Aes128Gcm,
        CipherName::Aes192Gcm,
        CipherName::Aes256Gcm,
    ];

    /// Parses an OpenSSL cipher name such as `aes-256-gcm` (case-insensitive).
    pub fn from_name(name: &str) -> Result<Self> {
        let lower = name.trim().to_ascii_lowercase();
        CipherName::ALL
            .into_iter()
            .find(|c| c.as_str() == lower)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unsupported cipher {}: use one of aes-128-cbc, aes-192-cbc, aes-256-cbc, \
                     aes-128-gcm, aes-192-gcm, aes-256-gcm",
                    crate::error::show_name(name)
                ))
            })
    }

    /// The OpenSSL name.
    pub fn as_str(self) -> &'static str {
        match self {
            CipherName::Aes128Cbc => "aes-128-cbc",
            CipherName::Aes192Cbc => "aes-192-cbc",
            CipherName::Aes256Cbc => "aes-256-cbc",
            CipherName::Aes128Gcm => "aes-128-gcm",
            CipherName::Aes192Gcm => "aes-192-gcm",
            CipherName::Aes256Gcm => "aes-256-gcm",
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            CipherName::Aes128Cbc | CipherName::Aes128Gcm => 16,
            CipherName::Aes192Cbc | CipherName::Aes192Gcm => 24,
            CipherName::Aes256Cbc | CipherName::Aes256Gcm => 32,
        }
    }

    /// iv length in bytes (16 for CBC, 12 for GCM).
    pub fn iv_len(self) -> usize {
        if self.is_authenticated() {
            GCM_NONCE_LEN
        } else {
            BLOCK_LEN
        }
    }

    /// Whether the cipher carries an authentication tag (GCM).
    pub fn is_authenticated(self) -> bool {
        matches!(
            self,
            CipherName::Aes128Gcm | CipherName::Aes192Gcm | CipherName::Aes256Gcm
        )
    }

    pub(crate) fn mode(self) -> Mode {
        if self.is_authenticated() {
            Mode::Gcm
        } else {
            Mode::Cbc
        }
    }
}

impl std::str::FromStr for CipherName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CipherName::from_name(s)
    }
}

impl fmt::Display for CipherName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-call options of [`Cipher::binary_encrypt`], already resolved against the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueOptions {
    /// A random iv (written into the header) instead of the configured / derived one.
    pub random_iv: bool,
    /// zlib-compress the plaintext first.
    pub compress: bool,
    /// Write a header (CBC; GCM values always have one).
    pub header: bool,
}

/// The most a compressed key field may inflate to: keys are at most 32 bytes.
const KEY_FIELD_LIMIT: u64 = 1024;

/// One cipher entry of a configuration. Immutable once built; cheap to share across threads.
#[derive(Clone)]
pub struct Cipher {
    name: CipherName,
    version: u8,
    key: PreparedKey,
    iv: Option<SecretBytes>,
    encoding: Encoding,
    always_add_header: bool,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher")
            .field("cipher_name", &self.name.as_str())
            .field("version", &self.version)
            .field("encoding", &self.encoding)
            .field("always_add_header", &self.always_add_header)
            .field("key", &"[FILTERED]")
            .field("iv", &self.iv.as_ref().map(|_| "[FILTERED]"))
            .finish()
    }
}

/// Checks a key or iv length, with a message giving the cipher and the byte counts.
fn check_len(name: CipherName, what: &str, expected: &[usize], actual: usize) -> Result<()> {
    if expected.contains(&actual) {
        return Ok(());
    }
    let expected = expected
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    Err(Error::Config(format!(
        "{name} needs a {expected}-byte {what}, but the configured {what} is {actual} bytes"
    )))
}

impl Cipher {
    /// A cipher entry with version 0, encoding base64strict and `always_add_header` true (the
    /// gem's defaults). `iv` may be `None`: CBC then uses 16 zero bytes, GCM never uses it for
    /// values.
    pub fn new(name: CipherName, key: &[u8], iv: Option<&[u8]>) -> Result<Self> {
        check_len(name, "key", &[name.key_len()], key.len())?;
        if let Some(iv) = iv {
            // GCM configs written by the gem carry a 12- or 16-byte iv; only the KEK path uses it.
            let allowed: &[usize] = if name.is_authenticated() {
                &[12, 16]
            } else {
                &[16]
            };
            check_len(name, "iv", allowed, iv.len())?;
        }
        Ok(Cipher {
            name,
            version: 0,
            key: PreparedKey::new(name.mode(), key)?,
            iv: iv.map(SecretBytes::from_slice),
            encoding: Encoding::default(),
            always_add_header: true,
        })
    }

    /// Sets the version written into headers.
    pub fn with_version(mut self, version: u8) -> Self {
        self.version = version;
        self
    }

    /// Sets the text encoding.
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Sets whether a header is written by default.
    pub fn with_always_add_header(mut self, always: bool) -> Self {
        self.always_add_header = always;
        self
    }

    /// The cipher (algorithm, key size and mode).
    pub fn cipher_name(&self) -> CipherName {
        self.name
    }
    /// The key version written into the header of every value this cipher encrypts.
    pub fn version(&self) -> u8 {
        self.version
    }
    /// How encrypted values are encoded as text.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
    /// Whether values get a header even when the options do not ask for one (the gem's
    /// `always_add_header`, on unless the configuration turns it off).
    pub fn always_add_header(&self) -> bool {
        self.always_add_header
    }
    /// The raw key. Handle with care: used for writing key files and re-encrypting keys.
    pub fn key(&self) -> &[u8] {
        self.key.raw()
    }
    /// The configured iv, if any.
    pub fn iv(&self) -> Option<&[u8]> {
        self.iv.as_deref()
    }
    /// The prepared key schedule (streams seal and open with it).
    pub(crate) fn prepared_key(&self) -> &PreparedKey {
        &self.key
    }

    /// The CBC iv used when none is in the header: the configured one, else 16 zero bytes.
    pub(crate) fn cbc_default_iv(&self) -> [u8; BLOCK_LEN] {
        let mut iv = [0u8; BLOCK_LEN];
        if let Some(c) = &self.iv {
            if c.len() == BLOCK_LEN {
                iv.copy_from_slice(c);
            }
        }
        iv
    }

    /// The options this entry uses when the caller gives none.
    pub fn default_options(&self, randomize_iv: bool) -> ValueOptions {
        ValueOptions {
            random_iv: randomize_iv,
            compress: false,
            header: self.always_add_header,
        }
    }

    /// Encrypts and encodes `data`. Empty in, empty out.
    pub fn encrypt(&self, data: &[u8], opts: ValueOptions) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.encoding.encode(&self.binary_encrypt(data, opts)?))
    }

    /// Decodes and decrypts `data` with this entry (whatever version its header names).
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        self.binary_decrypt(&self.encoding.decode(data)?)
    }

    /// Encrypts `data` into the binary form (header + ciphertext), without encoding.
    pub fn binary_encrypt(&self, data: &[u8], opts: ValueOptions) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let compressed;
        let payload: &[u8] = if opts.compress {
            compressed = zlib_compress(data)?;
            &compressed
        } else {
            data
        };
        if self.name.is_authenticated() {
            let iv = if opts.random_iv {
                let mut iv = [0u8; GCM_NONCE_LEN];
                crypto::fill_random(&mut iv)?;
                iv
            } else {
                self.key.hmac_iv(data)
            };
            // The tag is filled in by `seal_value`; it must be set here so that the flags byte,
            // which is part of the AAD, carries 0x08 as in the gem.
            let h = Header {
                version: self.version,
                compressed: opts.compress,
                iv: Some(iv.to_vec()),
                // Placeholder: only sets the tag flag (0x08) in the AAD; seal_value writes the tag.
                auth_tag: Some([0u8; TAG_LEN]),
                ..Header::default()
            };
            let mut out = Vec::with_capacity(40 + payload.len());
            h.write_aad(&mut out)?;
            seal_value(&self.key, &iv, out, payload)
        } else {
            let iv = if opts.random_iv {
                let mut iv = [0u8; BLOCK_LEN];
                crypto::fill_random(&mut iv)?;
                iv
            } else {
                self.cbc_default_iv()
            };
            let mut out = Vec::with_capacity(24 + payload.len() + BLOCK_LEN);
            if opts.header || opts.random_iv || opts.compress {
                let h = Header {
                    version: self.version,
                    compressed: opts.compress,
                    iv: opts.random_iv.then(|| iv.to_vec()),
                    ..Header::default()
                };
                h.write_aad(&mut out)?;
            }
            self.key.cbc_encrypt(&iv, payload, &mut out)?;
            Ok(out)
        }
    }

    /// Decrypts a binary value (header + ciphertext) with this entry's key. A compressed value
    /// may inflate to at most [`DEFAULT_MAX_DECOMPRESSED_SIZE`](crate::DEFAULT_MAX_DECOMPRESSED_SIZE)
    /// bytes; a [`Context`](crate::Context) sets another limit.
    pub fn binary_decrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let parsed = header::parse(data)?;
        self.decrypt_parsed(
            data,
            parsed.as_ref(),
            0,
            crate::inflate::DEFAULT_MAX_DECOMPRESSED_SIZE,
        )
    }

    /// Decrypts `data` whose header (if any) has been parsed into `parsed`; a compressed value
    /// may inflate to at most `limit` bytes.
    pub(crate) fn decrypt_parsed(
        &self,
        data: &[u8],
        parsed: Option<&Parsed>,
        depth: u8,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let (mut payload, compressed) = self.decrypt_payload(data, parsed, depth)?;
        if compressed {
            return crate::inflate::inflate_to_vec(&payload, limit);
        }
        Ok(std::mem::take(&mut *payload))
    }

    /// As [`Cipher::decrypt_parsed`] (depth 0), appending the plaintext to `out` (grown with
    /// [`crate::wipe`]); on an error `out` may hold a tail past what it had, which the caller
    /// wipes and drops. An uncompressed value is opened in place at the end of `out`, with no
    /// buffer of its own, and a compressed one inflated onto its end (the batch calls' path).
    pub(crate) fn decrypt_parsed_append(
        &self,
        data: &[u8],
        parsed: Option<&Parsed>,
        limit: u64,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        if self.open_into(data, parsed, 0, out)? {
            let payload = Zeroizing::new(out[start..].to_vec());
            crate::wipe::resize(out, start);
            crate::inflate::inflate(&payload, limit, |piece| crate::wipe::extend(out, piece))?;
        }
        Ok(())
    }

    /// Decrypts `data` to its payload (wiped when dropped) and whether that is zlib-compressed.
    pub(crate) fn decrypt_payload(
        &self,
        data: &[u8],
        parsed: Option<&Parsed>,
        depth: u8,
    ) -> Result<(Zeroizing<Vec<u8>>, bool)> {
        // Sized to the body, as the payload is (GCM) or a little shorter (CBC's padding): one
        // allocation, exactly the size of a GCM value's plaintext.
        let body = parsed.map_or(data.len(), |p| data.len().saturating_sub(p.len));
        let mut payload = Zeroizing::new(Vec::with_capacity(body));
        let compressed = self.open_into(data, parsed, depth, &mut payload)?;
        Ok((payload, compressed))
    }

    /// Decrypts `data` to its payload, appended to `out` (grown with [`crate::wipe`]), and
    /// returns whether that is zlib-compressed. On an error `out` may hold a wiped tail.
    pub(crate) fn open_into(
        &self,
        data: &[u8],
        parsed: Option<&Parsed>,
        depth: u8,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        let Some(p) = parsed else {
            self.raw_value_decrypt(data, out)?;
            return Ok(false);
        };
        let h = &p.header;
        if h.is_chunked() {
            return Err(Error::Cipher(
                "this is a chunked stream, not a single value: read it with the stream reader \
                 (se_reader_*, se_decrypt_file, or the CLI's --decrypt)"
                    .into(),
            ));
        }
        let name = match &h.cipher_name {
            Some(n) => CipherName::from_name(n).map_err(|_| {
                Error::Cipher(format!("the header names an unsupported cipher {n:?}"))
            })?,
            None => self.name,
        };
        let key = self.value_key(name, h, depth)?;
        let body = &data[p.len..];
        if name.is_authenticated() {
            let tag = h.auth_tag.ok_or_else(|| missing_tag(name))?;
            let iv = gcm_iv(h.iv.as_deref().or(self.iv.as_deref()), name)?;
            let start = out.len();
            crate::wipe::extend(out, body);
            // On failure gcm_open wipes what it was given.
            key.gcm_open(&iv, &data[..p.aad_len], &mut out[start..], &tag, "value")?;
        } else {
            if h.auth_tag.is_some() {
                return Err(Error::Cipher(format!(
                    "the value has an auth tag, but {name} is not an authenticated cipher, so the \
                     tag cannot be verified"
                )));
            }
            let iv = match &h.iv {
                Some(iv) => <[u8; BLOCK_LEN]>::try_from(iv.as_slice()).map_err(|_| {
                    Error::Cipher(format!(
                        "the header's iv is {} bytes, {name} needs 16",
                        iv.len()
                    ))
                })?,
                None => self.cbc_default_iv(),
            };
            key.cbc_decrypt(&iv, body, out)?;
        }
        Ok(h.compressed)
    }

    /// The key that decrypts a value: from the header's key field when present, else this
    /// entry's key (re-prepared when the header names another algorithm).
    pub(crate) fn value_key(
        &self,
        name: CipherName,
        h: &Header,
        depth: u8,
    ) -> Result<Cow<'_, PreparedKey>> {
        if let Some(ek) = &h.encrypted_key {
            let key = SecretBytes::new(self.decrypt_key_field(ek, depth)?);
            if key.len() != name.key_len() {
                return Err(Error::Cipher(format!(
                    "the key in the header decrypts to {} bytes, {name} needs {}",
                    key.len(),
                    name.key_len()
                )));
            }
            return Ok(Cow::Owned(PreparedKey::new(name.mode(), &key)?));
        }
        if name == self.name {
            return Ok(Cow::Borrowed(&self.key));
        }
        if self.key.raw().len() != name.key_len() {
            return Err(Error::Cipher(format!(
                "the header names {name}, which needs a {}-byte key, but cipher version {} has a {}-byte key",
                name.key_len(),
                self.version,
                self.key.raw().len()
            )));
        }
        Ok(Cow::Owned(PreparedKey::new(name.mode(), self.key.raw())?))
    }

    /// A value without a header: raw CBC with the configured iv, appended to `out`. GCM values
    /// always have a header, so a GCM entry refuses this.
    fn raw_value_decrypt(&self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if self.name.is_authenticated() {
            return Err(Error::Cipher(format!(
                "the value has no header, but {} is an authenticated cipher whose values always \
                 have one (with the iv and auth tag): it was not encrypted by this cipher, or it \
                 is not an encrypted value",
                self.name
            )));
        }
        self.key.cbc_decrypt(&self.cbc_default_iv(), data, out)
    }

    /// Encrypts a stream or value key for a header's key field: exactly as the gem encrypts
    /// any value with `random_iv: false, header: false` (for GCM a full headered value).
    pub fn encrypt_key_field(&self, key: &[u8]) -> Result<Vec<u8>> {
        self.binary_encrypt(
            key,
            ValueOptions {
                random_iv: false,
                compress: false,
                header: false,
            },
        )
    }

    /// Decrypts a header's key field, accepting a nested header (at most one level).
    pub fn decrypt_key_field(&self, data: &[u8], depth: u8) -> Result<Vec<u8>> {
        if depth > 0 {
            return Err(Error::Cipher(
                "the header's key field nests another key field: refused".into(),
            ));
        }
        let parsed = header::parse(data).map_err(|e| e.context("the header's key field"))?;
        self.decrypt_parsed(data, parsed.as_ref(), depth + 1, KEY_FIELD_LIMIT)
            .map_err(|e| e.context("cannot decrypt the key in the header"))
    }

    /// Encrypts a key with this entry as a key-encrypting key: raw cipher with the configured
    /// iv, no header; GCM appends the 16-byte tag (AAD empty).
    pub fn kek_encrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        if self.name.is_authenticated() {
            let iv = gcm_iv(self.iv.as_deref(), self.name)?;
            let mut buf = data.to_vec();
            let tag = self.key.gcm_seal(&iv, &[], &mut buf)?;
            buf.extend_from_slice(&tag);
            Ok(buf)
        } else {
            let mut out = Vec::with_capacity(data.len() + BLOCK_LEN);
            self.key
                .cbc_encrypt(&self.cbc_default_iv(), data, &mut out)?;
            Ok(out)
        }
    }

    /// Decrypts a key encrypted with [`Cipher::kek_encrypt`].
    pub fn kek_decrypt(&self, data: &[u8]) -> Result<SecretBytes> {
        if self.name.is_authenticated() {
            if data.len() < TAG_LEN {
                return Err(Error::Cipher(format!(
                    "an encrypted key for {} of {} bytes is too short to hold its 16 byte auth tag",
                    self.name,
                    data.len()
                )));
            }
            let iv = gcm_iv(self.iv.as_deref(), self.name)?;
            let (body, tag) = data.split_at(data.len() - TAG_LEN);
            let mut buf = SecretBytes::from_slice(body);
            let tag: [u8; TAG_LEN] = tag.try_into().expect("split at 16");
            let mut raw = buf.to_vec();
            self.key
                .gcm_open(&iv, &[], &mut raw, &tag, "encrypted key")?;
            buf = SecretBytes::new(raw);
            Ok(buf)
        } else {
            let mut out = Vec::with_capacity(data.len());
            self.key
                .cbc_decrypt(&self.cbc_default_iv(), data, &mut out)?;
            Ok(SecretBytes::new(out))
        }
    }
}

/// Seals `payload` with GCM after the header prefix in `out` (which is the AAD, and whose flags
/// must announce the tag), writing the tag field and the ciphertext.
pub(crate) fn seal_value(
    key: &PreparedKey,
    iv: &[u8; GCM_NONCE_LEN],
    mut out: Vec<u8>,
    payload: &[u8],
) -> Result<Vec<u8>> {
    if out.len() < 6 || out[5] & header::flags::AUTH_TAG == 0 {
        return Err(Error::Internal(
            "a GCM value header without the auth tag flag".into(),
        ));
    }
    let aad_len = out.len();
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(&[0u8; TAG_LEN]);
    let body_start = out.len();
    out.extend_from_slice(payload);
    let (head, body) = out.split_at_mut(body_start);
    let tag = key.gcm_seal(iv, &head[..aad_len], body)?;
    head[aad_len + 2..].copy_from_slice(&tag);
    Ok(out)
}

fn missing_tag(name: CipherName) -> Error {
    Error::Cipher(format!(
        "{name} is an authenticated cipher, but the value has no auth tag. Values written by an \
         unauthenticated cipher (or by symmetric-encryption 4.6, which wrote GCM values without a \
         tag) must be decrypted by the cipher that wrote them: keep it in the configuration as a \
         secondary cipher so the header's version selects it"
    ))
}

pub(crate) fn gcm_iv(iv: Option<&[u8]>, name: CipherName) -> Result<[u8; GCM_NONCE_LEN]> {
    let iv = iv.ok_or_else(|| Error::Cipher(format!("{name} needs an iv, and there is none")))?;
    <[u8; GCM_NONCE_LEN]>::try_from(iv)
        .map_err(|_| Error::Cipher(format!("the iv is {} bytes, {name} needs 12", iv.len())))
}

/// zlib (RFC 1950) at level 6, zlib's default, so values match the gem byte for byte.
fn zlib_compress(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 16),
        flate2::Compression::new(6),
    );
    enc.write_all(data)
        .map_err(|e| Error::Internal(format!("zlib compression failed: {e}")))?;
    enc.finish()
        .map_err(|e| Error::Internal(format!("zlib compression failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags byte is part of the AAD: a GCM value has to announce its tag (0x08) in it,
    /// or the gem computes a different AAD and cannot read the value.
    #[test]
    fn gcm_values_announce_their_tag() {
        let opts = ValueOptions {
            random_iv: false,
            compress: false,
            header: false,
        };
        for name in [
            CipherName::Aes128Gcm,
            CipherName::Aes192Gcm,
            CipherName::Aes256Gcm,
        ] {
            let c = Cipher::new(name, &[1u8; 32][..name.key_len()], None).unwrap();
            let value = c.binary_encrypt(b"x", opts).unwrap();
            assert_eq!(
                value[5],
                header::flags::IV | header::flags::AUTH_TAG,
                "{name}"
            );
            assert_eq!(c.binary_decrypt(&value).unwrap(), b"x", "{name}");
        }
    }
}
