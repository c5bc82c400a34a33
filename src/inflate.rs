//! zlib decompression of values, with a limit on the inflated size.
//!
//! A compressed value of a few megabytes can inflate to gigabytes (zlib reaches about 1000:1),
//! so every value decryption stops at a limit: [`DEFAULT_MAX_DECOMPRESSED_SIZE`] unless the
//! context says otherwise ([`Context::with_max_decompressed_size`](crate::Context)).

use std::io::Read;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The default limit on the size a compressed value may inflate to: 64 MiB, far above any
/// real column value and far below what a decompression bomb would take.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: u64 = 64 << 20;

/// How much is inflated at a time, at most.
const STEP: usize = 64 * 1024;

/// ... and at least this much, else four times the compressed size (a value that inflates
/// further takes more steps).
const MIN_STEP: usize = 4 * 1024;

/// Inflates the zlib data `data`, handing the output to `emit` a piece at a time, and returns
/// its total size. More than `limit` bytes is a cipher error that names the limit (nothing
/// past the limit is handed to `emit`).
pub(crate) fn inflate(data: &[u8], limit: u64, mut emit: impl FnMut(&[u8])) -> Result<u64> {
    // bufread: reads the slice directly, without a buffer of its own holding compressed data.
    let mut dec = flate2::bufread::ZlibDecoder::new(data);
    // A short value's piece buffer is short too: zeroing and wiping 64 KiB for a column value
    // of 100 bytes was most of its decryption.
    let step = STEP.min(data.len().saturating_mul(4).max(MIN_STEP));
    let mut piece = Zeroizing::new(vec![0u8; step]);
    let mut total = 0u64;
    loop {
        let n = match dec.read(&mut piece[..]) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Cipher(format!(
                    "the header says the value is compressed, but the decrypted data is not \
                     valid zlib ({e})"
                )))
            }
        };
        total += n as u64;
        if total > limit {
            return Err(limit_exceeded(limit));
        }
        emit(&piece[..n]);
    }
}

/// Inflates `data` into a new buffer (wiped as it grows; see [`crate::wipe`]).
pub(crate) fn inflate_to_vec(data: &[u8], limit: u64) -> Result<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        data.len().saturating_mul(3).min(limit as usize),
    ));
    inflate(data, limit, |piece| crate::wipe::extend(&mut out, piece))?;
    Ok(std::mem::take(&mut *out))
}

/// The error for a value that inflates past `limit`.
pub(crate) fn limit_exceeded(limit: u64) -> Error {
    Error::Cipher(format!(
        "the compressed value inflates to more than the decompression limit of {} ({limit} \
         bytes), so it was refused: it may be a decompression bomb. If the value is genuine, \
         raise the limit (Rust: Context::with_max_decompressed_size; C: \
         se_context_with_max_decompressed_size; Python and Ruby: max_decompressed_size; command \
         line: --max-decompressed-size)",
        human(limit)
    ))
}

/// `n` bytes in the largest binary unit that divides it (`64 MiB`), else in bytes.
pub(crate) fn human(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn stops_at_the_limit() {
        let z = zlib(&vec![0u8; 1 << 20]);
        assert_eq!(inflate_to_vec(&z, 1 << 20).unwrap().len(), 1 << 20);
        let e = inflate_to_vec(&z, (1 << 20) - 1).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Cipher);
        assert!(e.to_string().contains("1048575 bytes"), "{e}");
        let mut seen = 0u64;
        let e = inflate(&z, 100_000, |p| seen += p.len() as u64).unwrap_err();
        assert!(seen <= 100_000, "{seen}");
        assert!(e.to_string().contains("decompression limit"), "{e}");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(1536), "1536 bytes");
        assert_eq!(human(2048), "2 KiB");
    }
}
