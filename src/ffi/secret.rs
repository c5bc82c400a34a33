//! The raw key and iv of one cipher of a context, for bindings whose users reach them (the
//! gem's private `Cipher#key` and `Cipher#iv`, which the gem's own code and tests read, and which
//! a Ruby cipher needs to rebuild itself when one of its attributes is changed).
//!
//! Everything else in the C API keeps keys inside the library; these two functions are the
//! deliberate exception, so they sit apart.

use super::context::{ctx_ref, se_context};
use super::value::se_bytes;
use super::{bytes, bytes_out, se_status};
use crate::error::Error;

/// Copies the raw key of cipher `index` of `ctx` (0 = its primary) into `*out`: 16, 24 or 32
/// bytes. The copy is secret: free it with `se_bytes_free` (which zeroes it) as soon as it has
/// been used, and never log it.
/// Errors: `SE_ERROR_ARGUMENT` (NULL ctx or out, index out of range).
///
/// # Safety
/// `ctx` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_cipher_key(
    ctx: *const se_context,
    index: usize,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let ctx = unsafe { ctx_ref(ctx) }?;
        let key = nth(ctx, index)?.key().to_vec();
        Ok(key)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_context_cipher_key", out, body) }
}

/// Copies the configured iv of cipher `index` of `ctx` into `*out`; an empty result
/// (`data == NULL`, `len == 0`) when the cipher has none. Free it with `se_bytes_free`.
/// Errors: `SE_ERROR_ARGUMENT` (NULL ctx or out, index out of range).
///
/// # Safety
/// `ctx` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_cipher_iv(
    ctx: *const se_context,
    index: usize,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let ctx = unsafe { ctx_ref(ctx) }?;
        let iv = nth(ctx, index)?
            .iv()
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        Ok(iv)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_context_cipher_iv", out, body) }
}

fn nth(ctx: &crate::context::Context, index: usize) -> Result<&crate::cipher::Cipher, Error> {
    let count = ctx.ciphers().count();
    ctx.ciphers().nth(index).ok_or_else(|| {
        Error::Argument(format!(
            "index {index} is out of range: the context has {count} ciphers"
        ))
    })
}

/// Encrypts `len` bytes at `data` with cipher `index` of `ctx` used as a key-encrypting key,
/// as the gem's `SymmetricEncryption::Key#encrypt`: the raw cipher with the cipher's configured
/// iv, no header; GCM appends its 16-byte tag. On success `*out` holds the result (free it with
/// `se_bytes_free`). Errors: `SE_ERROR_ARGUMENT` (NULL, index out of range), `SE_ERROR_CIPHER`
/// (a GCM cipher without an iv).
///
/// # Safety
/// `ctx` a live handle; `data` valid for `len` bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_kek_encrypt(
    ctx: *const se_context,
    index: usize,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let (ctx, data) = unsafe { (ctx_ref(ctx)?, bytes(data, len, "data")?) };
        let result = nth(ctx, index)?.kek_encrypt(data)?;
        Ok(result)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_context_kek_encrypt", out, body) }
}

/// Decrypts what `se_context_kek_encrypt` wrote (the gem's `Key#decrypt`). The result is
/// secret (usually a key): free it with `se_bytes_free`, which zeroes it.
/// Errors: `SE_ERROR_ARGUMENT` (NULL, index out of range), `SE_ERROR_CIPHER` (bad padding,
/// wrong key, too short), `SE_ERROR_AUTHENTICATION` (GCM tag mismatch).
///
/// # Safety
/// `ctx` a live handle; `data` valid for `len` bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_kek_decrypt(
    ctx: *const se_context,
    index: usize,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract.
        let (ctx, data) = unsafe { (ctx_ref(ctx)?, bytes(data, len, "data")?) };
        let plain = nth(ctx, index)?.kek_decrypt(data)?;
        Ok(plain.as_bytes().to_vec())
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_context_kek_decrypt", out, body) }
}
