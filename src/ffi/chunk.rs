//! One frame of a chunked GCM stream (SPEC section 8), for bindings that lay out the frames
//! themselves: the Ruby binding's `SymmetricEncryption::ChunkedStream`. Stateless: each call
//! takes the stream's cipher, key, nonce prefix and header. Whole streams go through
//! `se_writer_*` and `se_reader_*`.

use std::ffi::c_char;

use super::{bytes, bytes_out, req_str, se_bytes, se_status};
use crate::cipher::CipherName;
use crate::error::Error;
use crate::stream::chunked::ChunkCipher;

/// The shared body of `se_chunk_seal` and `se_chunk_open`: empties `*out`, builds the frame
/// cipher from `ptrs` (cipher name, key, nonce prefix, header) and `lens` (key, prefix, header),
/// runs `op` on the `len` bytes at `data` (named `what` in messages) and hands its result to
/// the caller in `*out`.
///
/// # Safety
/// As the callers' contracts: `ptrs[0]` NUL-terminated, the other buffers valid for their
/// lengths, `out` NULL or writable.
#[allow(clippy::too_many_arguments)]
unsafe fn frame_call(
    name: &str,
    what: &str,
    ptrs: [*const u8; 4],
    lens: [usize; 3],
    data: *const u8,
    len: usize,
    out: *mut se_bytes,
    op: impl FnOnce(&ChunkCipher, &[u8]) -> Result<Vec<u8>, Error>,
) -> se_status {
    let body = || {
        let [cipher_name, key, nonce_prefix, header] = ptrs;
        let [key_len, prefix_len, header_len] = lens;
        // SAFETY: the caller's contract: NUL-terminated name, buffers valid for their lengths.
        let (cipher_name, key, prefix, header, data) = unsafe {
            (
                req_str(cipher_name.cast::<c_char>(), "cipher_name")?,
                bytes(key, key_len, "key")?,
                bytes(nonce_prefix, prefix_len, "nonce_prefix")?,
                bytes(header, header_len, "header")?,
                bytes(data, len, what)?,
            )
        };
        let chunks = ChunkCipher::new(CipherName::from_name(cipher_name)?, key, prefix, header)?;
        let result = op(&chunks, data)?;
        Ok(result)
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out(name, out, body) }
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
    // SAFETY: the caller's contract, as `frame_call` needs it.
    unsafe {
        frame_call(
            "se_chunk_seal",
            "data",
            [cipher_name.cast(), key, nonce_prefix, header],
            [key_len, prefix_len, header_len],
            data,
            len,
            out,
            |chunks, data| chunks.seal(index, last != 0, data),
        )
    }
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
    // SAFETY: the caller's contract, as `frame_call` needs it.
    unsafe {
        frame_call(
            "se_chunk_open",
            "frame",
            [cipher_name.cast(), key, nonce_prefix, header],
            [key_len, prefix_len, header_len],
            frame,
            len,
            out,
            |chunks, frame| {
                Ok(std::mem::take(&mut *chunks.open(
                    index,
                    last != 0,
                    frame,
                )?))
            },
        )
    }
}
