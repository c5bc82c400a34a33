//! One column value: what it is (NULL, empty, plaintext, encrypted at a version, or not
//! decryptable here) and how it is re-encrypted while keeping what it was: its encoding (and
//! base64 line breaks), its header, its compression, and whether its iv was random or
//! deterministic. A deterministic iv is recognised by recomputing it from the plaintext: the
//! gem derives it as HMAC-SHA256(key, plaintext), so a value whose iv matches was written
//! without a random iv, and is written again the same way, so that lookups by encrypted value
//! (`where(ssn: encrypt(ssn))`) keep working under the new key.

use zeroize::Zeroizing;

use crate::cipher::CipherName;
use crate::context::{Context, EncryptOptions};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::header::{self, MAGIC};

/// What one value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// SQL NULL.
    Null,
    /// The empty string or no bytes.
    Empty,
    /// Not an encrypted value (it does not start with the encoded `@EnC` header).
    Plaintext,
    /// Encrypted with this key version, and this configuration decrypts it.
    Version(u8),
    /// Looks encrypted but cannot be decrypted here; the reason (never the value).
    Undecryptable(String),
}

/// The encoding a stored value was written with, found from its first bytes and alphabet.
pub fn detect_encoding(value: &[u8], ctx: &Context) -> Option<Encoding> {
    if value.starts_with(MAGIC) {
        return Some(Encoding::None);
    }
    if value.starts_with(Encoding::Base16.magic_prefix()) {
        return Some(Encoding::Base16);
    }
    if !value.starts_with(Encoding::Base64.magic_prefix()) {
        return None;
    }
    Some(if value.contains(&b'\n') {
        Encoding::Base64
    } else if value.iter().any(|&b| b == b'-' || b == b'_') {
        Encoding::Base64UrlSafe
    } else if value.iter().any(|&b| b == b'+' || b == b'/') {
        Encoding::Base64Strict
    } else {
        // Both alphabets read it the same: keep the configured one.
        match ctx.encoding() {
            Encoding::Base64UrlSafe => Encoding::Base64UrlSafe,
            _ => Encoding::Base64Strict,
        }
    })
}

/// A decrypted value and how it was written.
pub struct Opened {
    /// The key version in its header.
    pub version: u8,
    /// The plaintext (wiped when dropped).
    pub plain: Zeroizing<Vec<u8>>,
    /// Its encoding.
    pub encoding: Encoding,
    /// Whether it was compressed.
    pub compressed: bool,
    /// Whether its iv was random (else derived from the plaintext, or the configured one).
    pub random_iv: bool,
}

/// Decodes and decrypts an encrypted value (one that starts with the encoded header).
pub fn open(ctx: &Context, value: &[u8]) -> Result<Opened> {
    let encoding = detect_encoding(value, ctx)
        .ok_or_else(|| Error::Cipher("the value does not start with an encrypted header".into()))?;
    let binary = encoding.decode(value)?;
    let parsed = header::parse(&binary)?
        .ok_or_else(|| Error::Cipher("no header after the magic bytes".into()))?;
    let h = &parsed.header;
    let plain = Zeroizing::new(ctx.binary_decrypt_with_version(&binary, None)?);
    let cipher = ctx.cipher_for_header(h.version)?;
    let name = h
        .cipher_name
        .as_deref()
        .and_then(|n| CipherName::from_name(n).ok())
        .unwrap_or(cipher.cipher_name());
    let random_iv = match &h.iv {
        None => false,
        Some(iv) if name.is_authenticated() && h.encrypted_key.is_none() => {
            iv[..] != cipher.prepared_key().hmac_iv(&plain)[..]
        }
        // CBC writes an iv into the header only when it is random.
        Some(_) => true,
    };
    Ok(Opened {
        version: h.version,
        plain,
        encoding,
        compressed: h.compressed,
        random_iv,
    })
}

/// What one value is (decrypting it to be sure).
pub fn classify(ctx: &Context, value: Option<&[u8]>) -> Class {
    let Some(v) = value else {
        return Class::Null;
    };
    if v.is_empty() {
        return Class::Empty;
    }
    if detect_encoding(v, ctx).is_none() {
        return Class::Plaintext;
    }
    match open(ctx, v) {
        Ok(o) => Class::Version(o.version),
        Err(e) => Class::Undecryptable(e.to_string()),
    }
}

/// What re-encrypting one value gives.
pub enum Outcome {
    /// NULL, empty or plaintext: nothing to do.
    Skip(Class),
    /// Already at the target version.
    Current,
    /// The new value (same encoding, compression and kind of iv).
    New(Vec<u8>),
    /// Cannot be decrypted here: left as it is.
    Undecryptable(String),
}

/// Re-encrypts `value` with version `target`, keeping what it was (see the module docs).
pub fn re_encrypt(ctx: &Context, value: Option<&[u8]>, target: u8) -> Outcome {
    let v = match value {
        None => return Outcome::Skip(Class::Null),
        Some([]) => return Outcome::Skip(Class::Empty),
        Some(v) if detect_encoding(v, ctx).is_none() => return Outcome::Skip(Class::Plaintext),
        Some(v) => v,
    };
    let opened = match open(ctx, v) {
        Ok(o) => o,
        Err(e) => return Outcome::Undecryptable(e.to_string()),
    };
    if opened.version == target {
        return Outcome::Current;
    }
    let opts = EncryptOptions {
        random_iv: Some(opened.random_iv),
        compress: Some(opened.compressed),
        header: Some(true),
        version: Some(target),
    };
    let binary = match ctx.binary_encrypt(&opened.plain, &opts) {
        Ok(b) => b,
        Err(e) => return Outcome::Undecryptable(format!("cannot encrypt it again: {e}")),
    };
    let mut out = opened.encoding.encode(&binary);
    // Keep the stored value's line end (Ruby's encode64 ends with one; apps often strip it).
    if opened.encoding == Encoding::Base64 && !v.ends_with(b"\n") {
        while out.last() == Some(&b'\n') {
            out.pop();
        }
    }
    Outcome::New(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cipher;

    fn ctx() -> Context {
        let c = |v: u8, name| {
            Cipher::new(
                name,
                &[v; 32][..name.key_len()],
                Some(&[v; 16][..name.iv_len()]),
            )
            .unwrap()
            .with_version(v)
        };
        Context::new(vec![
            c(3, CipherName::Aes256Gcm),
            c(2, CipherName::Aes256Cbc),
            c(1, CipherName::Aes128Gcm),
        ])
        .unwrap()
    }

    fn enc(ctx: &Context, v: u8, random: bool, compress: bool) -> Vec<u8> {
        let opts = EncryptOptions {
            random_iv: Some(random),
            compress: Some(compress),
            header: Some(true),
            version: Some(v),
        };
        ctx.encrypt(b"123-45-6789", &opts).unwrap()
    }

    #[test]
    fn ivs_are_recognised() {
        let ctx = ctx();
        for v in [1, 2, 3] {
            for random in [false, true] {
                for compress in [false, true] {
                    let o = open(&ctx, &enc(&ctx, v, random, compress)).unwrap();
                    assert_eq!(
                        (o.version, o.random_iv, o.compressed),
                        (v, random, compress)
                    );
                }
            }
        }
    }

    #[test]
    fn re_encryption_keeps_the_kind_of_value() {
        let ctx = ctx();
        let det = enc(&ctx, 1, false, false);
        let Outcome::New(n) = re_encrypt(&ctx, Some(&det), 3) else {
            panic!("not re-encrypted")
        };
        assert_eq!(
            n,
            enc(&ctx, 3, false, false),
            "deterministic stays deterministic"
        );
        let Outcome::New(n) = re_encrypt(&ctx, Some(&enc(&ctx, 2, true, true)), 3) else {
            panic!("not re-encrypted")
        };
        let o = open(&ctx, &n).unwrap();
        assert!(o.random_iv && o.compressed && o.version == 3);
        assert!(matches!(
            re_encrypt(&ctx, Some(&enc(&ctx, 3, true, false)), 3),
            Outcome::Current
        ));
        assert!(matches!(
            re_encrypt(&ctx, Some(b"plain"), 3),
            Outcome::Skip(Class::Plaintext)
        ));
        assert!(matches!(
            re_encrypt(&ctx, Some(b"QEVuQwJ4AAAA"), 3),
            Outcome::Undecryptable(_)
        ));
        let wrapped = Encoding::Base64.encode(
            &ctx.binary_encrypt(
                &[7u8; 80],
                &EncryptOptions {
                    version: Some(1),
                    ..Default::default()
                },
            )
            .unwrap(),
        );
        let Outcome::New(n) = re_encrypt(&ctx, Some(&wrapped), 3) else {
            panic!("not re-encrypted")
        };
        assert!(n.contains(&b'\n') && n.ends_with(b"\n"));
        assert_eq!(detect_encoding(&n, &ctx), Some(Encoding::Base64));
    }
}
