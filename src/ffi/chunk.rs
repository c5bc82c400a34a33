//! One frame of a chunked GCM stream (SPEC section 8), for bindings that lay out the frames
//! themselves: the Ruby binding's `SymmetricEncryption::ChunkedStream`. Stateless: each call
//! takes the stream's cipher, key, nonce prefix and header. Whole streams go through
//! `se_writer_*` and `se_reader_*`.

use std::ffi::c_char;

use super::{bytes, check_out, guard, req_str, se_bytes, se_status, write_out};
use crate::cipher::CipherName;
use crate::error::Error;
use crate::stream::chunked::ChunkCipher;

/// The frame cipher from the C arguments.
///
/// # Safety
/// As the callers' contracts.
unsafe fn chunk_cipher(
    cipher_name: *const c_char,
    key: *const u8,
    key_len: usize,
    nonce_prefix: *const u8,
    prefix_len: usize,
    header: *const u8,
    header_len: usize,
) -> Result<ChunkCipher, Error> {
    // SAFETY: the caller's contract: NUL-terminated name, buffers valid for their lengths.
    let (name, key, prefix, header) = unsafe {
        (
            req_str(cipher_name, "cipher_name")?,
            bytes(key, key_len, "key")?,
            bytes(nonce_prefix, prefix_len, "nonce_prefix")?,
            bytes(header, header_len, "header")?,
        )
    };
    ChunkCipher::new(CipherName::from_name(name)?, key, prefix, header)
}

/// Encrypts chunk `index` (from 0) of a chunked stream: `len` bytes at `data` under `key`
/// (`key_len` bytes, as `cipher_name` needs), with the nonce `nonce_prefix` (7 bytes) ||
/// `index` (u32, big-endian) || `last` (1 for the stream's last chunk, else 0) and the AAD
/// `header` (every byte of the stream's header). On success `*out` holds the ciphertext
/// followed by the 16-byte tag; free it with `se_bytes_free`.
/// Errors: `SE_ERROR_ARGUMENT` (NULL, a CBC cipher, a key or prefix of the wrong length,
/// an unknown cipher name), `SE_ERROR_CIPHER` (`index` 2^32 or more).
///
/// # Safety
/// `cipher_name` NUL-terminated; `key`, `nonce_prefix`, `header`, `data` valid for their
/// lengths (NULL allowed when a length is 0); `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_chunk_seal(
    cipher_name: *const c_char,
    key: *const u8,
    key_len: usize,
    nonce_prefix: *const u8,
    prefix_len: usize,
    header: *const u8,
    header_len: usize,
    index: u64,
    last: i32,
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { out.write(se_bytes::EMPTY) };
    }
    guard("se_chunk_seal", || {
        check_out(out, "out")?;
        // SAFETY: the caller's contract.
        let chunks = unsafe {
            chunk_cipher(
                cipher_name,
                key,
                key_len,
                nonce_prefix,
                prefix_len,
                header,
                header_len,
            )?
        };
        // SAFETY: the caller's contract.
        let data = unsafe { bytes(data, len, "data")? };
        let frame = chunks.seal(index, last != 0, data)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_bytes::from_vec(frame), "out") }
    })
}

/// Decrypts `len` bytes at `frame` (ciphertext and 16-byte tag) as chunk `index` of the stream
/// described by the same arguments as `se_chunk_seal`; `last` says whether the reader found it
/// at the end of the stream. On success `*out` holds the plaintext (free it with
/// `se_bytes_free`, which zeroes it). Errors: as `se_chunk_seal`, plus `SE_ERROR_CIPHER` (a
/// frame shorter than its tag: the stream was truncated) and `SE_ERROR_AUTHENTICATION` (the
/// frame was changed, moved, taken from another stream, or the stream was cut after it).
///
/// # Safety
/// As `se_chunk_seal`, with `frame` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn se_chunk_open(
    cipher_name: *const c_char,
    key: *const u8,
    key_len: usize,
    nonce_prefix: *const u8,
    prefix_len: usize,
    header: *const u8,
    header_len: usize,
    index: u64,
    last: i32,
    frame: *const u8,
    len: usize,
    out: *mut se_bytes,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { out.write(se_bytes::EMPTY) };
    }
    guard("se_chunk_open", || {
        check_out(out, "out")?;
        // SAFETY: the caller's contract.
        let chunks = unsafe {
            chunk_cipher(
                cipher_name,
                key,
                key_len,
                nonce_prefix,
                prefix_len,
                header,
                header_len,
            )?
        };
        // SAFETY: the caller's contract.
        let frame = unsafe { bytes(frame, len, "frame")? };
        let mut plain = chunks.open(index, last != 0, frame)?;
        let plain = std::mem::take(&mut *plain);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_bytes::from_vec(plain), "out") }
    })
}
