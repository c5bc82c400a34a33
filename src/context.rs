//! The loaded ciphers of one environment: the primary (which encrypts) and the others (which
//! still decrypt), looked up by the version in a value's header (SPEC section 5).

use std::sync::Arc;

use crate::cipher::{Cipher, ValueOptions};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::header::{self, Header};
pub use crate::inflate::DEFAULT_MAX_DECOMPRESSED_SIZE;

thread_local! {
    /// [`Context::decrypt_into`]'s decoded value and payload buffers, kept from call to call
    /// on each thread (the payload empty and wiped between calls).
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The most each [`SCRATCH`] buffer keeps between calls; a longer value's is freed after it.
const SCRATCH_KEPT: usize = 64 * 1024;

/// Per-call options of [`Context::encrypt`]. `None` means "the default".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Default: the context's `randomize_iv` setting.
    pub random_iv: Option<bool>,
    /// Default: no compression.
    pub compress: Option<bool>,
    /// Default: the entry's `always_add_header`.
    pub header: Option<bool>,
    /// Default: the primary cipher.
    pub version: Option<u8>,
}

/// One environment's ciphers. Immutable once built and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Context {
    ciphers: Vec<Arc<Cipher>>,
    randomize_iv: bool,
    max_decompressed: u64,
}

impl Context {
    /// A context whose first cipher is the primary. Refuses an empty list and encodings mixed
    /// other than base64 with base64strict. Ciphers may share a version, as in the gem: lookup by
    /// version returns the first with it (the primary first, then in order), and the primary
    /// still encrypts.
    pub fn new(ciphers: Vec<Cipher>) -> Result<Self> {
        let Some(primary) = ciphers.first() else {
            return Err(Error::Config("a context needs at least one cipher".into()));
        };
        for c in &ciphers {
            if !compatible_encodings(primary.encoding(), c.encoding()) {
                return Err(Error::Config(format!(
                    "cipher version {} uses encoding {} but the primary (version {}) uses {}: \
                     values are decoded with the primary's encoding before the header can be \
                     read, so only base64 and base64strict may be mixed (the others cannot read \
                     each other). Give every cipher of this environment the same encoding",
                    c.version(),
                    c.encoding(),
                    primary.version(),
                    primary.encoding()
                )));
            }
        }
        Ok(Context {
            ciphers: ciphers.into_iter().map(Arc::new).collect(),
            randomize_iv: false,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED_SIZE,
        })
    }

    /// The same context with the `randomize_iv` default set.
    pub fn with_randomize_iv(mut self, randomize_iv: bool) -> Self {
        self.randomize_iv = randomize_iv;
        self
    }

    /// The same context with another limit on the size a compressed value may inflate to when
    /// it is decrypted (default [`DEFAULT_MAX_DECOMPRESSED_SIZE`], 64 MiB). A value that would
    /// inflate past it is refused with a cipher error, before more than the limit is held in
    /// memory. Values that are not compressed are not affected (their plaintext is never
    /// larger than the value). The ciphers are shared, not copied.
    ///
    /// ```
    /// use symmetric_encryption::{Cipher, CipherName, Context, EncryptOptions, ErrorKind};
    ///
    /// let ctx = Context::new(vec![Cipher::new(CipherName::Aes256Gcm, &[7; 32], None)?])?;
    /// let opts = EncryptOptions { compress: Some(true), ..EncryptOptions::default() };
    /// let value = ctx.encrypt(&vec![b'a'; 100_000], &opts)?;
    /// let small = ctx.clone().with_max_decompressed_size(10_000);
    /// assert_eq!(small.decrypt(&value).unwrap_err().kind(), ErrorKind::Cipher);
    /// assert_eq!(ctx.decrypt(&value)?.len(), 100_000);
    /// # Ok::<(), symmetric_encryption::Error>(())
    /// ```
    pub fn with_max_decompressed_size(mut self, bytes: u64) -> Self {
        self.max_decompressed = bytes;
        self
    }

    /// The most a compressed value may inflate to when it is decrypted, in bytes.
    pub fn max_decompressed_size(&self) -> u64 {
        self.max_decompressed
    }

    /// Whether values get a random iv by default.
    pub fn randomize_iv(&self) -> bool {
        self.randomize_iv
    }

    /// The cipher that encrypts.
    pub fn primary(&self) -> &Cipher {
        &self.ciphers[0]
    }

    /// All ciphers, primary first.
    pub fn ciphers(&self) -> impl Iterator<Item = &Cipher> {
        self.ciphers.iter().map(|c| &**c)
    }

    /// The cipher with `version` (primary first, then the others in order).
    pub fn cipher(&self, version: u8) -> Option<&Cipher> {
        self.ciphers().find(|c| c.version() == version)
    }

    /// The cipher a header with `version` selects: that version's, or the primary when no
    /// cipher has it and the version is 0.
    pub fn cipher_for_header(&self, version: u8) -> Result<&Cipher> {
        match self.cipher(version) {
            Some(c) => Ok(c),
            None if version == 0 => Ok(self.primary()),
            None => Err(self.unknown_version(version, true)),
        }
    }

    /// `from_header`: the version is a value's (else the caller asked for it).
    fn unknown_version(&self, version: u8, from_header: bool) -> Error {
        let versions: Vec<String> = self.ciphers().map(|c| c.version().to_string()).collect();
        let why = if from_header {
            "the value was encrypted with a key that is not in this configuration"
        } else {
            "use one of those versions, or add a cipher with this version to the configuration"
        };
        Error::Cipher(format!(
            "cipher version {version} not found: no cipher with version {version} is configured \
             (versions configured: {}): {why}",
            versions.join(", ")
        ))
    }

    /// The cipher with `version`, or an error listing the versions that exist.
    pub fn cipher_by_version(&self, version: u8) -> Result<&Cipher> {
        self.cipher(version)
            .ok_or_else(|| self.unknown_version(version, false))
    }

    /// The text encoding of the primary cipher (used to decode every value).
    pub fn encoding(&self) -> Encoding {
        self.primary().encoding()
    }

    /// Resolves `opts` against the defaults: the cipher that encrypts and its options.
    pub fn resolve(&self, opts: &EncryptOptions) -> Result<(&Cipher, ValueOptions)> {
        let cipher = match opts.version {
            Some(v) => self.cipher_by_version(v)?,
            None => self.primary(),
        };
        let mut vo = cipher.default_options(self.randomize_iv);
        if let Some(r) = opts.random_iv {
            vo.random_iv = r;
        }
        if let Some(c) = opts.compress {
            vo.compress = c;
        }
        if let Some(h) = opts.header {
            vo.header = h;
        }
        Ok((cipher, vo))
    }

    /// Encrypts and encodes `data`. Empty in, empty out.
    pub fn encrypt(&self, data: &[u8], opts: &EncryptOptions) -> Result<Vec<u8>> {
        let (cipher, vo) = self.resolve(opts)?;
        cipher.encrypt(data, vo)
    }

    /// Encrypts `data` without encoding.
    pub fn binary_encrypt(&self, data: &[u8], opts: &EncryptOptions) -> Result<Vec<u8>> {
        let (cipher, vo) = self.resolve(opts)?;
        cipher.binary_encrypt(data, vo)
    }

    /// Decodes and decrypts `data`; the cipher is chosen by the header's version, else the
    /// primary. Empty in, empty out.
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.decrypt_with_version(data, None)
    }

    /// As [`Context::decrypt`], with the version to use for a value that has no header.
    pub fn decrypt_with_version(&self, data: &[u8], version: Option<u8>) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let binary = self.encoding().decode(data)?;
        self.binary_decrypt_with_version(&binary, version)
    }

    /// Decrypts a binary (decoded) value.
    pub fn binary_decrypt_with_version(&self, data: &[u8], version: Option<u8>) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let parsed = header::parse(data)?;
        self.cipher_for_value(parsed.as_ref(), version)?
            .decrypt_parsed(data, parsed.as_ref(), 0, self.max_decompressed)
    }

    /// As [`Context::decrypt`], appending the plaintext to `out` and decoding into `scratch`
    /// (reused from value to value): the batch calls' path, with no allocation per value for
    /// the common GCM value. On an error `out` may hold a wiped tail, which the caller drops.
    pub(crate) fn decrypt_append(
        &self,
        data: &[u8],
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.encoding().decode_into(data, scratch)?;
        if scratch.is_empty() {
            return Ok(());
        }
        let parsed = header::parse(scratch)?;
        self.cipher_for_value(parsed.as_ref(), None)?
            .decrypt_parsed_append(scratch, parsed.as_ref(), self.max_decompressed, out)
    }

    /// Decodes and decrypts `data` into `out`, and returns the plaintext's length. When that is
    /// larger than `out.len()`, `out` is wiped and holds nothing: call again with a buffer of
    /// the returned length. A compressed value is inflated straight into `out` (no copy of
    /// the whole plaintext is made) and past it only counted, up to the context's
    /// [decompression limit](Context::with_max_decompressed_size). `version` as for
    /// [`Context::decrypt_with_version`].
    pub fn decrypt_into(&self, data: &[u8], version: Option<u8>, out: &mut [u8]) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // The decoded value (ciphertext, not secret) and the payload go into per-thread
        // buffers: no allocation per call for the short values this call is for. The payload
        // is wiped as soon as it is copied out (and `wipe` wipes what growing it leaves).
        SCRATCH.with_borrow_mut(|(binary, payload)| {
            let result = self.decrypt_into_with(data, version, binary, payload, out);
            zeroize::Zeroize::zeroize(&mut payload[..]);
            payload.clear();
            for buf in [binary, payload] {
                if buf.capacity() > SCRATCH_KEPT {
                    *buf = Vec::new();
                }
            }
            result
        })
    }

    /// [`Context::decrypt_into`], with its decode buffer and payload buffer.
    fn decrypt_into_with(
        &self,
        data: &[u8],
        version: Option<u8>,
        binary: &mut Vec<u8>,
        payload: &mut Vec<u8>,
        out: &mut [u8],
    ) -> Result<usize> {
        self.encoding().decode_into(data, binary)?;
        if binary.is_empty() {
            // As decrypt: a value that decodes to nothing is empty.
            return Ok(0);
        }
        let parsed = header::parse(binary)?;
        let cipher = self.cipher_for_value(parsed.as_ref(), version)?;
        let compressed = cipher.open_into(binary, parsed.as_ref(), 0, payload)?;
        let total = if compressed {
            let mut at = 0usize;
            let result = crate::inflate::inflate(payload, self.max_decompressed, |piece| {
                let n = out.len().saturating_sub(at).min(piece.len());
                if n > 0 {
                    out[at..at + n].copy_from_slice(&piece[..n]);
                }
                at = at.saturating_add(piece.len());
            });
            match result {
                Ok(total) => total as usize,
                Err(e) => {
                    zeroize::Zeroize::zeroize(&mut *out);
                    return Err(e);
                }
            }
        } else {
            if payload.len() <= out.len() {
                out[..payload.len()].copy_from_slice(payload);
            }
            payload.len()
        };
        if total > out.len() {
            zeroize::Zeroize::zeroize(&mut *out);
        }
        Ok(total)
    }

    /// The cipher that decrypts a value: its header's version, else `version`, else the
    /// primary.
    fn cipher_for_value(
        &self,
        parsed: Option<&header::Parsed>,
        version: Option<u8>,
    ) -> Result<&Cipher> {
        match (parsed, version) {
            (Some(p), _) => self.cipher_for_header(p.header.version),
            (None, Some(v)) => self.cipher_by_version(v),
            (None, None) => Ok(self.primary()),
        }
    }

    /// Whether `data` looks encrypted: it starts with the encoded magic bytes.
    pub fn is_encrypted(&self, data: &[u8]) -> bool {
        data.starts_with(self.encoding().magic_prefix())
    }

    /// Decodes `data` and parses its header, if it has one.
    pub fn header(&self, data: &[u8]) -> Result<Option<Header>> {
        let binary = self.encoding().decode(data)?;
        Ok(header::parse(&binary)?.map(|p| p.header))
    }
}

fn compatible_encodings(a: Encoding, b: Encoding) -> bool {
    use Encoding::*;
    a == b || matches!((a, b), (Base64, Base64Strict) | (Base64Strict, Base64))
}

/// Values of every kind for the tests of the decrypt paths, with the context that wrote them.
#[cfg(test)]
pub(crate) mod samples {
    use super::*;
    use crate::cipher::CipherName;

    /// A context of two ciphers: GCM version 2 (primary) and CBC version 1 with a fixed iv.
    pub(crate) fn context() -> Context {
        let gcm = Cipher::new(CipherName::Aes256Gcm, &[7u8; 32], None)
            .unwrap()
            .with_version(2);
        let cbc = Cipher::new(CipherName::Aes256Cbc, &[8u8; 32], Some(&[9u8; 16]))
            .unwrap()
            .with_version(1);
        Context::new(vec![gcm, cbc]).unwrap()
    }

    /// `plain` encrypted every way (GCM random and fixed iv, compressed, CBC with and without
    /// a header), each beside a tampered and a truncated copy, after an empty value, one that
    /// decodes to nothing and one that is not base64.
    pub(crate) fn values(ctx: &Context, plains: &[&[u8]]) -> Vec<Vec<u8>> {
        let with = |random_iv, compress, header, version| EncryptOptions {
            random_iv: Some(random_iv),
            compress: Some(compress),
            header,
            version,
        };
        let mut values: Vec<Vec<u8>> = vec![b"".to_vec(), b"==".to_vec(), b"@@@".to_vec()];
        for plain in plains {
            for opts in [
                with(true, false, None, None),
                with(false, false, None, None),
                with(true, true, None, None),
                with(true, false, None, Some(1)),
                with(false, true, Some(true), Some(1)),
                with(false, false, Some(false), Some(1)),
            ] {
                let value = ctx.encrypt(plain, &opts).unwrap();
                let mut tampered = value.clone();
                let i = tampered.len() * 2 / 3;
                tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
                let mut short = value.clone();
                short.truncate(value.len() - 8);
                values.extend([value, tampered, short]);
            }
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decrypt_into`, with its per-thread buffers, gives `decrypt`'s result or error for every
    /// kind of value, in any order: long values (whose buffers are freed after them) between
    /// short ones, failures between successes, compressed values, CBC with and without header.
    #[test]
    fn decrypt_into_is_decrypt() {
        let ctx = samples::context();
        let long = vec![b'q'; 100_000];
        let values = samples::values(
            &ctx,
            &[
                b"short plaintext, compressible: aaaaaaaaaaaaaaaaaaaaaaa",
                &long,
            ],
        );
        // Interleave long and short values.
        let order: Vec<usize> = (0..values.len())
            .map(|i| {
                if i % 2 == 0 {
                    i / 2
                } else {
                    values.len() - 1 - i / 2
                }
            })
            .collect();
        let mut out = vec![0u8; 200_000];
        for n in order {
            let v = &values[n];
            match ctx.decrypt(v) {
                Ok(want) => {
                    let got = ctx.decrypt_into(v, None, &mut out).unwrap();
                    assert_eq!(&out[..got], &want[..], "value {n}");
                    // Too small: the size needed, the buffer wiped.
                    if !want.is_empty() {
                        let mut small = vec![0xAAu8; want.len() - 1];
                        assert_eq!(ctx.decrypt_into(v, None, &mut small).unwrap(), want.len());
                        assert!(small.iter().all(|&b| b == 0), "value {n} wiped");
                    }
                }
                Err(want) => {
                    let got = ctx.decrypt_into(v, None, &mut out).unwrap_err();
                    assert_eq!(
                        (got.kind(), got.to_string()),
                        (want.kind(), want.to_string()),
                        "value {n}"
                    );
                }
            }
        }
        // The buffers are empty between calls, and a long value's are not kept.
        SCRATCH.with_borrow(|(binary, payload)| {
            assert!(payload.is_empty());
            assert!(binary.capacity() <= SCRATCH_KEPT && payload.capacity() <= SCRATCH_KEPT);
        });
    }
}
