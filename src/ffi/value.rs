//! Single values: encrypt, decrypt, inspect, encode.

use std::ffi::c_char;

use super::context::{ctx_ref, fill_name, flag, se_context};
use super::{bytes, bytes_out, check_out, guard, guard_value, se_status, write_out};
use crate::context::EncryptOptions;
use crate::error::Error;
use crate::header::{self, Header};

/// A byte buffer owned by the library. Free it with `se_bytes_free` (which zeroes it first).
/// An empty result has `data == NULL` and `len == 0`.
#[repr(C)]
#[derive(Debug)]
pub struct se_bytes {
    /// The bytes (owned by the library until `se_bytes_free`), or NULL when empty.
    pub data: *mut u8,
    /// Their number.
    pub len: usize,
}

// SAFETY: an se_bytes owns its buffer (from Box::into_raw) alone, as the Box<[u8]> it came
// from did, so it may move to another thread like that Box (the batch threads write them).
unsafe impl Send for se_bytes {}

impl se_bytes {
    pub(crate) const EMPTY: se_bytes = se_bytes {
        data: std::ptr::null_mut(),
        len: 0,
    };

    pub(crate) fn from_vec(v: Vec<u8>) -> se_bytes {
        if v.is_empty() {
            return se_bytes::EMPTY;
        }
        // Without an unwiped copy left behind when the capacity is larger than the length.
        se_bytes::from_boxed(crate::wipe::into_boxed_slice(v))
    }

    pub(crate) fn from_boxed(b: Box<[u8]>) -> se_bytes {
        if b.is_empty() {
            return se_bytes::EMPTY;
        }
        let len = b.len();
        se_bytes {
            data: Box::into_raw(b).cast(),
            len,
        }
    }
}

/// Per-call options of `se_encrypt`. Every field is -1 for "the default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_encrypt_options {
    /// -1 = the context's randomize_iv setting, 0 = no, 1 = yes.
    pub random_iv: i32,
    /// -1 = default (no), 0, 1.
    pub compress: i32,
    /// -1 = the cipher's always_add_header, 0, 1.
    pub header: i32,
    /// -1 = the primary cipher, else 0..255.
    pub version: i32,
}

impl se_encrypt_options {
    pub(crate) fn resolve(&self) -> Result<EncryptOptions, Error> {
        let tri = |v: i32, what: &str| -> Result<Option<bool>, Error> {
            if v == -1 {
                Ok(None)
            } else {
                flag(v, false, what).map(Some)
            }
        };
        Ok(EncryptOptions {
            random_iv: tri(self.random_iv, "random_iv")?,
            compress: tri(self.compress, "compress")?,
            header: tri(self.header, "header")?,
            version: version_arg(self.version)?,
        })
    }
}

/// -1 = none, 0..255 = that version.
pub(crate) fn version_arg(v: i32) -> Result<Option<u8>, Error> {
    match v {
        -1 => Ok(None),
        0..=255 => Ok(Some(v as u8)),
        _ => Err(Error::Argument(format!(
            "version must be -1 (default) or 0..255, got {v}"
        ))),
    }
}

/// Options with every field -1 (all defaults).
#[no_mangle]
pub extern "C" fn se_encrypt_options_default() -> se_encrypt_options {
    se_encrypt_options {
        random_iv: -1,
        compress: -1,
        header: -1,
        version: -1,
    }
}

/// Reads optional encrypt options.
///
/// # Safety
/// `options` must be NULL or valid for a read.
pub(super) unsafe fn options(options: *const se_encrypt_options) -> Result<EncryptOptions, Error> {
    if options.is_null() {
        return Ok(EncryptOptions::default());
    }
    // SAFETY: non-NULL and readable per the caller's contract.
    unsafe { &*options }.resolve()
}

/// Shared shape of the byte-in, bytes-out calls.
///
/// # Safety
/// As for the exported functions that call it.
unsafe fn bytes_call(
    name: &str,
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
    f: impl FnOnce(&crate::Context, &[u8]) -> Result<Vec<u8>, Error>,
) -> se_status {
    let body = || {
        // SAFETY: caller's contract on ctx and data.
        let (ctx, data) = unsafe { (ctx_ref(ctx)?, bytes(data, len, "data")?) };
        let result = f(ctx, data)?;
        Ok(result)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out(name, out, body) }
}

/// Encrypts `data` and encodes it with the context's encoding. `options` NULL = defaults.
/// Empty input gives empty output. On success `*out` holds the result: free it with
/// `se_bytes_free`. Thread-safe: many threads may share `ctx`.
/// Errors: `SE_ERROR_ARGUMENT` (NULL ctx/out, NULL data with len > 0, bad option),
/// `SE_ERROR_CIPHER` (the requested version is not configured).
///
/// # Safety
/// `ctx` a live handle; `data` valid for `len` bytes (or NULL with len 0); `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    options: *const se_encrypt_options,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        bytes_call("se_encrypt", ctx, data, len, out, |c, d| {
            let o = self::options(options)?;
            c.encrypt(d, &o)
        })
    }
}

/// Decodes and decrypts `data`; the cipher is chosen by the header's version (no header: the
/// primary). On success `*out` holds the plaintext: free it with `se_bytes_free`.
/// Errors: `SE_ERROR_ENCODING` (not valid for the encoding), `SE_ERROR_CIPHER` (bad or
/// truncated header, unknown version, bad padding, wrong key), `SE_ERROR_AUTHENTICATION` (the
/// auth tag does not match: tampered, truncated or wrong key), `SE_ERROR_ARGUMENT`.
///
/// # Safety
/// As `se_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe { bytes_call("se_decrypt", ctx, data, len, out, |c, d| c.decrypt(d)) }
}

/// As `se_decrypt`, with the version whose cipher decrypts a value that has no header
/// (-1 = the primary). A value with a header is still decrypted by its header's version.
///
/// # Safety
/// As `se_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_version(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    version: i32,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        bytes_call("se_decrypt_version", ctx, data, len, out, |c, d| {
            c.decrypt_with_version(d, version_arg(version)?)
        })
    }
}

/// As `se_encrypt` without the encoding step: the binary value (header + ciphertext).
///
/// # Safety
/// As `se_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_binary(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    options: *const se_encrypt_options,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        bytes_call("se_encrypt_binary", ctx, data, len, out, |c, d| {
            let o = self::options(options)?;
            c.binary_encrypt(d, &o)
        })
    }
}

/// As `se_decrypt_version` for a binary (not encoded) value.
///
/// # Safety
/// As `se_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_binary(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    version: i32,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        bytes_call("se_decrypt_binary", ctx, data, len, out, |c, d| {
            c.binary_decrypt_with_version(d, version_arg(version)?)
        })
    }
}

/// Encodes `data` with the context's (primary cipher's) encoding. Free `*out` with
/// `se_bytes_free`.
///
/// # Safety
/// As `se_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn se_encode(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        bytes_call("se_encode", ctx, data, len, out, |c, d| {
            Ok(c.encoding().encode(d))
        })
    }
}

/// Decodes `data` with the context's encoding. Errors: `SE_ERROR_ENCODING`.
///
/// # Safety
/// As `se_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn se_decode(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        bytes_call("se_decode", ctx, data, len, out, |c, d| {
            c.encoding().decode(d)
        })
    }
}

/// Frees a buffer returned by the library, zeroing it first. NULL, or a buffer whose `data` is
/// NULL, is accepted. Sets `data` to NULL and `len` to 0.
///
/// # Safety
/// `bytes` must be NULL or point to an `se_bytes` filled by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn se_bytes_free(bytes: *mut se_bytes) {
    guard_value("se_bytes_free", (), || {
        if bytes.is_null() {
            return;
        }
        // SAFETY: non-NULL and points to an se_bytes per the caller's contract.
        let b = unsafe { &mut *bytes };
        if !b.data.is_null() {
            // SAFETY: data/len came from Box<[u8]>::into_raw in se_bytes::from_vec.
            let mut owned =
                unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(b.data, b.len)) };
            zeroize::Zeroize::zeroize(&mut owned[..]);
        }
        *b = se_bytes::EMPTY;
    })
}

/// 1 if the encoded value starts with the encoded magic header (the gem's `encrypted?`), else
/// 0. Also 0 for NULL arguments.
///
/// # Safety
/// `ctx` a live handle; `data` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn se_is_encrypted(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
) -> i32 {
    guard_value("se_is_encrypted", 0, || {
        // SAFETY: caller's contract.
        match unsafe { (ctx_ref(ctx), bytes(data, len, "data")) } {
            (Ok(c), Ok(d)) => c.is_encrypted(d) as i32,
            _ => 0,
        }
    })
}

/// What a value's header says.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_header_info {
    /// 1 when the value has a header; when 0 the other fields are 0.
    pub present: i32,
    /// Version of the cipher that wrote it.
    pub version: i32,
    /// 1 when the data was compressed.
    pub compressed: i32,
    /// Length of the iv in the header (0 = none).
    pub iv_len: u32,
    /// 1 when the header carries an encrypted key.
    pub has_key: i32,
    /// 1 when the header carries an auth tag.
    pub has_auth_tag: i32,
    /// Chunk size of a chunked stream, else 0.
    pub chunk_size: u32,
    /// Header length in bytes.
    pub header_len: u32,
    /// The cipher name in the header, NUL-terminated; "" when absent.
    pub cipher_name: [c_char; 32],
}

/// The C description of a header (all zero when there is none).
pub(crate) fn header_info(h: Option<&Header>) -> se_header_info {
    let mut info = se_header_info {
        present: 0,
        version: 0,
        compressed: 0,
        iv_len: 0,
        has_key: 0,
        has_auth_tag: 0,
        chunk_size: 0,
        header_len: 0,
        cipher_name: [0; 32],
    };
    if let Some(h) = h {
        info.present = 1;
        info.version = h.version as i32;
        info.compressed = h.compressed as i32;
        info.iv_len = h.iv.as_ref().map_or(0, |v| v.len() as u32);
        info.has_key = h.encrypted_key.is_some() as i32;
        info.has_auth_tag = h.auth_tag.is_some() as i32;
        info.chunk_size = h.chunk_size().unwrap_or(0) as u32;
        info.header_len = h.to_bytes().map_or(0, |b| b.len() as u32);
        fill_name(
            &mut info.cipher_name,
            h.cipher_name.as_deref().unwrap_or(""),
        );
    }
    info
}

/// Decodes `data` with the context's encoding and describes its header into `*out` (`present`
/// = 0 when it has none). With `binary` = 1, `data` is not decoded first.
/// Errors: `SE_ERROR_ENCODING`, `SE_ERROR_CIPHER` (a malformed header), `SE_ERROR_ARGUMENT`.
///
/// # Safety
/// As `se_encrypt`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_header(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    binary: i32,
    out: *mut se_header_info,
) -> se_status {
    guard("se_header", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let (ctx, data) = unsafe { (ctx_ref(ctx)?, bytes(data, len, "data")?) };
        let decoded;
        let raw = if flag(binary, false, "binary")? {
            data
        } else {
            decoded = ctx.encoding().decode(data)?;
            &decoded
        };
        let parsed = header::parse(raw)?;
        let info = header_info(parsed.as_ref().map(|p| &p.header));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, info, "out") }
    })
}

/// Fills `*out` with `len` bytes from the operating system's CSPRNG (for new keys, ivs and
/// passwords). Free with `se_bytes_free`. Errors: `SE_ERROR_ARGUMENT` (len over 1 MiB).
///
/// # Safety
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_random_bytes(len: usize, out: *mut se_bytes) -> se_status {
    guard("se_random_bytes", || {
        check_out(out, "out")?;
        if len > 1 << 20 {
            return Err(Error::Argument(format!(
                "len {len} is over the 1 MiB limit"
            )));
        }
        let mut v = vec![0u8; len];
        crate::crypto::fill_random(&mut v)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_bytes::from_vec(v), "out") }
    })
}

/// Encrypts into a caller-supplied buffer (no allocation handed to the caller). `*out_len` gets
/// the result's length; when `out_cap` is too small the call returns `SE_ERROR_ARGUMENT` and
/// `*out_len` is the size needed (retry with a buffer that large).
///
/// # Safety
/// `ctx` live; `data` valid for `len`; `out_buf` writable for `out_cap`; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_into(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    options: *const se_encrypt_options,
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> se_status {
    // SAFETY: the caller's contract is encrypt_into's.
    unsafe {
        encrypt_into(
            "se_encrypt_into",
            ctx,
            (data, len),
            options,
            (out_buf, out_cap),
            out_len,
        )
    }
}

/// `se_encrypt_into` and `se_encrypt_call`.
///
/// # Safety
/// As `se_encrypt_into`.
unsafe fn encrypt_into(
    name: &str,
    ctx: *const se_context,
    (data, len): (*const u8, usize),
    options: *const se_encrypt_options,
    (out_buf, out_cap): (*mut u8, usize),
    out_len: *mut usize,
) -> se_status {
    guard(name, || {
        check_out(out_len, "out_len")?;
        // SAFETY: caller's contract.
        let (c, d, o) = unsafe {
            (
                ctx_ref(ctx)?,
                bytes(data, len, "data")?,
                self::options(options)?,
            )
        };
        let v = c.encrypt(d, &o)?;
        // SAFETY: caller's contract.
        unsafe { copy_into(&v, out_buf, out_cap, out_len) }
    })
}

/// Decrypts into a caller-supplied buffer, writing at most `out_cap` bytes. `*out_len` gets the
/// plaintext's length. When the plaintext is larger than `out_cap` the call returns
/// `SE_ERROR_ARGUMENT`, the bytes written are wiped (zeroed) again, and `*out_len` is the size
/// needed: retry with a buffer that large. A compressed value is inflated straight into
/// `out_buf` and past `out_cap` only counted, never held, up to the context's decompression
/// limit (64 MiB unless set with `se_context_with_max_decompressed_size`); past the limit the
/// call fails with `SE_ERROR_CIPHER` and `*out_len` is 0. On success the library keeps no copy:
/// the caller owns the plaintext in `out_buf` (and wipes it). `out_buf` must not overlap `data`.
/// Errors: as `se_decrypt`, plus `SE_ERROR_ARGUMENT` (buffer too small, NULL `out_buf` with
/// `out_cap` > 0, NULL `out_len`).
///
/// # Safety
/// As `se_encrypt_into`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_into(
    ctx: *const se_context,
    data: *const u8,
    len: usize,
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> se_status {
    // SAFETY: the caller's contract is decrypt_into's.
    unsafe {
        decrypt_into(
            "se_decrypt_into",
            ctx,
            (data, len),
            (out_buf, out_cap),
            out_len,
        )
    }
}

/// `se_decrypt_into` and `se_decrypt_call`.
///
/// # Safety
/// As `se_decrypt_into`.
unsafe fn decrypt_into(
    name: &str,
    ctx: *const se_context,
    (data, len): (*const u8, usize),
    (out_buf, out_cap): (*mut u8, usize),
    out_len: *mut usize,
) -> se_status {
    if !out_len.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { out_len.write(0) };
    }
    guard(name, || {
        check_out(out_len, "out_len")?;
        if out_buf.is_null() && out_cap > 0 {
            return Err(Error::Argument(format!(
                "out_buf is NULL but out_cap is {out_cap}"
            )));
        }
        // SAFETY: caller's contract.
        let (c, d) = unsafe { (ctx_ref(ctx)?, bytes(data, len, "data")?) };
        let out: &mut [u8] = if out_cap == 0 {
            &mut []
        } else {
            // SAFETY: non-NULL (checked above) and writable for `out_cap` bytes per the
            // contract; the caller's buffer does not overlap `data` (different roles).
            unsafe { std::slice::from_raw_parts_mut(out_buf, out_cap) }
        };
        let n = c.decrypt_into(d, None, out)?;
        // SAFETY: checked non-NULL above.
        unsafe { out_len.write(n) };
        if n > out_cap {
            return Err(Error::Argument(format!(
                "the output buffer holds {out_cap} bytes, {n} are needed"
            )));
        }
        Ok(())
    })
}

/// The fixed arguments of `se_encrypt_call` and `se_decrypt_call`, set once and passed by
/// pointer: for bindings that pay for every argument of a foreign call (Python's ctypes
/// converts each one, about 50 ns apiece), a call then passes three or four arguments instead
/// of six or seven. A binding keeps one per context and thread (the library writes `out_len`).
/// Those calls take the value's length as an `int32_t`, which ctypes passes from a plain
/// integer without building a `size_t` object; longer values go through `se_encrypt_into` /
/// `se_decrypt_into`.
#[repr(C)]
#[derive(Debug)]
pub struct se_value_call {
    /// The context (live for as long as the frame is used).
    pub ctx: *const se_context,
    /// The output buffer, writable for `out_cap` bytes (NULL with 0).
    pub out_buf: *mut u8,
    /// Its size.
    pub out_cap: usize,
    /// Written by each call: the result's length, or the size needed, as `*out_len` of
    /// `se_encrypt_into` / `se_decrypt_into`.
    pub out_len: usize,
}

/// `se_encrypt_into(call->ctx, data, len, options, call->out_buf, call->out_cap,
/// &call->out_len)`: the same result, errors and buffer rules. Errors also: `SE_ERROR_ARGUMENT`
/// for a NULL `call` or a negative `len`.
///
/// # Safety
/// `call` NULL or valid for reads and writes of an `se_value_call` whose fields meet
/// `se_encrypt_into`'s contract; `data` valid for `len`; `options` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_call(
    call: *mut se_value_call,
    data: *const u8,
    len: i32,
    options: *const se_encrypt_options,
) -> se_status {
    // SAFETY: `call` is NULL or valid per the contract; NULL is refused by frame().
    match unsafe { frame(call, len, "se_encrypt_call") } {
        // SAFETY: the frame's fields meet se_encrypt_into's contract per this one.
        Ok((f, len)) => unsafe {
            encrypt_into(
                "se_encrypt_call",
                f.ctx,
                (data, len),
                options,
                (f.out_buf, f.out_cap),
                &mut f.out_len,
            )
        },
        Err(status) => status,
    }
}

/// `se_decrypt_into(call->ctx, data, len, call->out_buf, call->out_cap, &call->out_len)`: the
/// same result, errors and buffer rules (a plaintext too large for the buffer is wiped again
/// and `out_len` is the size needed). Errors also: `SE_ERROR_ARGUMENT` for a NULL `call` or a
/// negative `len`.
///
/// # Safety
/// As `se_encrypt_call`, with `se_decrypt_into`'s contract for the fields.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_call(
    call: *mut se_value_call,
    data: *const u8,
    len: i32,
) -> se_status {
    // SAFETY: as in se_encrypt_call.
    match unsafe { frame(call, len, "se_decrypt_call") } {
        // SAFETY: the frame's fields meet se_decrypt_into's contract per this one.
        Ok((f, len)) => unsafe {
            decrypt_into(
                "se_decrypt_call",
                f.ctx,
                (data, len),
                (f.out_buf, f.out_cap),
                &mut f.out_len,
            )
        },
        Err(status) => status,
    }
}

/// The frame behind `call` and the length, or the status (with the last error set) for a NULL
/// frame or a negative length.
///
/// # Safety
/// `call` NULL or valid for reads and writes, not aliased for the call's duration.
unsafe fn frame<'a>(
    call: *mut se_value_call,
    len: i32,
    name: &str,
) -> Result<(&'a mut se_value_call, usize), se_status> {
    // SAFETY: per the contract, non-NULL means valid and unaliased.
    let f = unsafe { call.as_mut() };
    match (f, usize::try_from(len)) {
        (Some(f), Ok(len)) => Ok((f, len)),
        (None, _) => Err(guard(name, || {
            Err(Error::Argument(
                "call (the se_value_call frame) is NULL".into(),
            ))
        })),
        (_, Err(_)) => Err(guard(name, || {
            Err(Error::Argument(format!("len is negative ({len})")))
        })),
    }
}

/// # Safety
/// `out_buf` writable for `out_cap` bytes (or NULL with 0); `out_len` writable.
unsafe fn copy_into(
    v: &[u8],
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> Result<(), Error> {
    // SAFETY: out_len checked non-NULL by the caller.
    unsafe { out_len.write(v.len()) };
    if v.len() > out_cap {
        return Err(Error::Argument(format!(
            "the output buffer holds {out_cap} bytes, {} are needed",
            v.len()
        )));
    }
    if !v.is_empty() {
        if out_buf.is_null() {
            return Err(Error::Argument("out_buf is NULL".into()));
        }
        // SAFETY: out_buf writable for out_cap >= v.len() bytes; no overlap with our Vec.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out_buf, v.len()) };
    }
    Ok(())
}
