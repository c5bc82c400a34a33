//! Encrypted files and streams, in bounded memory (SPEC section 8): the gem's `Writer` and
//! `Reader` formats.
//!
//! - CBC streams: a header with the random stream key (encrypted by the entry) and iv, then one
//!   continuous CBC ciphertext. Nothing authenticates them: a wrong key is usually caught by the
//!   padding check, tampering mostly is not.
//! - GCM streams of at most one chunk: a single value with its tag in the header.
//! - GCM streams above one chunk: a chunked stream, every chunk sealed on its own (see
//!   [`chunked`]), verified before any of it is handed out.
//!
//! Compressed streams are gzip of the plaintext, cut into chunks after compression.
//!
//! ```
//! use std::io::{Read, Write};
//! use symmetric_encryption::stream::{Reader, ReaderOptions, Writer, WriterOptions};
//! use symmetric_encryption::{Cipher, CipherName, Context};
//!
//! let ctx = Context::new(vec![Cipher::new(CipherName::Aes256Gcm, &[7; 32], None)?.with_version(1)])?;
//! let mut w = Writer::new(&ctx, Vec::new(), &WriterOptions::default())?;
//! w.write_all(b"hello, stream").unwrap();
//! let encrypted = w.finish()?;
//!
//! let mut r = Reader::new(&ctx, &encrypted[..], &ReaderOptions::default())?;
//! let mut plain = Vec::new();
//! r.read_to_end(&mut plain).unwrap();
//! assert_eq!(plain, b"hello, stream");
//! # Ok::<(), symmetric_encryption::Error>(())
//! ```

mod body;
pub mod chunked;
mod output;
mod reader;
mod writer;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::cipher::CipherName;
use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};

pub use output::copy_to_file;
pub(crate) use output::AtomicFile;
pub use reader::Reader;
pub use writer::{FileWriter, Writer};

/// The default chunk size of GCM streams: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 16;
/// The smallest chunk size: 1 KiB.
pub const MIN_CHUNK_SIZE: usize = 1 << crate::header::MIN_CHUNK_LOG2;
/// The largest chunk size, and the largest single-value GCM stream a reader accepts: 16 MiB.
pub const MAX_CHUNK_SIZE: usize = 1 << crate::header::MAX_CHUNK_LOG2;

/// How much a reader or writer moves through its inner stream at a time (CBC, gzip).
pub(crate) const IO_BLOCK: usize = 64 * 1024;

/// Options of [`Writer::new`] (the gem's `Writer` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// gzip the data before encrypting it. `None`: yes for streams; for files, yes unless the
    /// target's name ends in .zip, .gz, .gzip or .xls plus one letter (see
    /// [`compress_by_default`]).
    pub compress: Option<bool>,
    /// The version of the entry that encrypts (the key field, or the data without a random
    /// key). `None`: the primary.
    pub version: Option<u8>,
    /// A stream cipher other than the entry's. Needs `random_key` (and so `random_iv`).
    pub cipher_name: Option<CipherName>,
    /// GCM chunk size: a power of two from 1 KiB to 16 MiB. `None`: 64 KiB.
    pub chunk_size: Option<usize>,
    /// A random stream key, encrypted into the header by the entry. Default true.
    pub random_key: bool,
    /// A random iv in the header. Default true; `random_key` and GCM need it.
    pub random_iv: bool,
    /// Write a header. Default true. A CBC stream is written without one only when this is
    /// false and neither the key nor the iv is random and it is not compressed; GCM streams
    /// always have one.
    pub header: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compress: None,
            version: None,
            cipher_name: None,
            chunk_size: None,
            random_key: true,
            random_iv: true,
            header: true,
        }
    }
}

/// Options of [`Reader::new`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderOptions {
    /// The entry that decrypts a stream without a header. `None`: the primary. Ignored when the
    /// stream has a header (its version decides).
    pub version: Option<u8>,
    /// The most plaintext the reader hands out, in bytes. `None` (the default): no limit, since
    /// a stream is read in bounded memory whatever its size. With a limit, a read that would go
    /// past it fails with a cipher error that names the limit: use it where the output goes
    /// somewhere bounded (memory, a small disk) and the input is not trusted, since a
    /// compressed stream can inflate about 1000 times.
    pub max_output: Option<u64>,
}

/// Whether a file written to `path` is compressed when the caller does not say: the gem's rule,
/// applied to the name of the file being written. Already-compressed formats are not
/// compressed again: names ending in `.zip`, `.gz`, `.gzip` or `.xls` plus one letter, digit or
/// `_` (`.xlsx`, `.xlsm`, `.xlsb`; plain `.xls` is not compressed, so it is), any case.
pub fn compress_by_default(path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return true;
    };
    let name = name.to_string_lossy().to_ascii_lowercase();
    let Some((_, ext)) = name.rsplit_once('.') else {
        return true;
    };
    let xls_w = ext.len() == 4
        && ext.starts_with("xls")
        && ext
            .as_bytes()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    !(matches!(ext, "zip" | "gz" | "gzip") || xls_w)
}

/// Encrypts the file `source` into `target`, in bounded memory. `compress`: `None` applies
/// [`compress_by_default`] to `target`, as the gem does. `version`: the entry that encrypts,
/// `None` for the primary. The target appears only once the whole stream is written (temp file
/// in the same directory, renamed); on error nothing is left at the target.
pub fn encrypt_file(
    ctx: &Context,
    source: &Path,
    target: &Path,
    compress: Option<bool>,
    version: Option<u8>,
) -> Result<()> {
    let mut input = File::open(source)
        .map_err(|e| Error::io(format!("cannot open {}", source.display()), e))?;
    let opts = WriterOptions {
        compress,
        version,
        ..WriterOptions::default()
    };
    let mut out = FileWriter::create(ctx, target, &opts)?;
    copy(&mut input, &mut out, source, target)?;
    out.finish()
}

/// Decrypts the file `source` into `target`, in bounded memory. The plaintext goes to a temp
/// file in the target's directory, renamed to `target` only after the whole stream was read:
/// for GCM streams that means every chunk (or the single value) authenticated, so a failed
/// decrypt never leaves unauthenticated plaintext at the target. CBC streams carry no
/// authentication: only their padding (and, when compressed, the gzip checksum) is checked.
pub fn decrypt_file(ctx: &Context, source: &Path, target: &Path) -> Result<()> {
    decrypt_file_with(ctx, source, target, &ReaderOptions::default())
}

/// As [`decrypt_file`], with reader options: `opts.max_output` limits the size of the
/// decrypted file (past it, the decrypt fails and nothing is left at the target);
/// `opts.version` decrypts a stream without a header.
pub fn decrypt_file_with(
    ctx: &Context,
    source: &Path,
    target: &Path,
    opts: &ReaderOptions,
) -> Result<()> {
    let input = File::open(source)
        .map_err(|e| Error::io(format!("cannot open {}", source.display()), e))?;
    let mut reader = Reader::new(ctx, input, opts).map_err(|e| e.context(source.display()))?;
    let mut out = AtomicFile::create(target)?;
    copy(&mut reader, &mut out.file, source, target)?;
    out.commit()
}

/// Copies `input` to `output` in blocks, mapping errors back to ours with the file names.
fn copy(
    input: &mut impl Read,
    output: &mut impl Write,
    source: &Path,
    target: &Path,
) -> Result<()> {
    let mut buf = vec![0u8; IO_BLOCK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let e = into_error_with(e, || format!("cannot read {}", source.display()));
                return Err(match e.kind() {
                    ErrorKind::Io => e,
                    _ => e.context(source.display()),
                });
            }
        };
        output
            .write_all(&buf[..n])
            .map_err(|e| into_error_with(e, || format!("cannot write {}", target.display())))?;
    }
}

/// Gets our [`Error`] back out of an `io::Error` returned by a [`Reader`] or [`Writer`] (their
/// `Read` / `Write` methods can only return `io::Error`). An error that did not come from this
/// library is an [`Error::Io`].
pub fn into_error(e: io::Error) -> Error {
    into_error_with(e, || "stream I/O failed".to_string())
}

fn into_error_with(e: io::Error, context: impl FnOnce() -> String) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(ours) = inner.downcast::<Error>() {
                return *ours;
            }
        }
        return Error::Internal("an error changed type while being unwrapped".into());
    }
    Error::io(context(), e)
}

/// Wraps our error for the `Read` / `Write` traits; [`into_error`] unwraps it.
pub(crate) fn to_io(e: Error) -> io::Error {
    let kind = match &e {
        Error::Io { source, .. } => source.kind(),
        Error::Argument(_) => io::ErrorKind::InvalidInput,
        Error::Cipher(_) | Error::Authentication(_) | Error::Encoding(_) => {
            io::ErrorKind::InvalidData
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// Rebuilds an error from what was kept of it, for readers that keep failing after a failure.
pub(crate) fn error_of_kind(kind: ErrorKind, message: String) -> Error {
    match kind {
        ErrorKind::Argument => Error::Argument(message),
        ErrorKind::Config => Error::Config(message),
        ErrorKind::Keystore => Error::Keystore(message),
        ErrorKind::Cipher => Error::Cipher(message),
        ErrorKind::Authentication => Error::Authentication(message),
        ErrorKind::Encoding => Error::Encoding(message),
        ErrorKind::Io => Error::io(message, io::Error::other("the stream failed earlier")),
        ErrorKind::Internal => Error::Internal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_by_file_name() {
        for (name, compress) in [
            ("a.txt", true),
            ("a.enc", true),
            ("a", true),
            ("dir.zip/a.csv", true),
            ("a.zip", false),
            ("A.ZIP", false),
            ("a.gz", false),
            ("a.gzip", false),
            ("a.xlsx", false),
            ("a.xlsm", false),
            ("a.xls", true),
            ("a.xlsx.enc", true),
            ("a.tgz", true),
        ] {
            assert_eq!(compress_by_default(Path::new(name)), compress, "{name}");
        }
    }

    #[test]
    fn readers_and_writers_can_move_between_threads() {
        fn check<T: Send + 'static>() {}
        check::<Writer<Vec<u8>>>();
        check::<Reader<File>>();
        check::<FileWriter>();
    }

    #[test]
    fn errors_survive_the_io_round_trip() {
        let e = to_io(Error::Authentication("tag".into()));
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(into_error(e).kind(), ErrorKind::Authentication);
        let plain = io::Error::new(io::ErrorKind::BrokenPipe, "pipe");
        assert_eq!(into_error(plain).kind(), ErrorKind::Io);
    }
}
