//! `--encrypt`, `--decrypt` and `--new-password`: files and standard input as streams (the
//! gem's `Writer` / `Reader` format, in bounded memory), single values as `@EnC` text.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::context::{Context, EncryptOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::stream::{self, AtomicFile, FileWriter, Reader, ReaderOptions, Writer, WriterOptions};

/// Where a command reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (no file given, or `-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// `None` or `-` is standard input.
    pub fn from_arg(arg: Option<&Path>) -> Input {
        match arg {
            None => Input::Stdin,
            Some(p) if p.as_os_str() == "-" => Input::Stdin,
            Some(p) => Input::File(p.to_path_buf()),
        }
    }

    /// The size in bytes, when known (a file, or standard input redirected from a file).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => stdin_size(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Input::Stdin => "standard input".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    fn open(&self) -> Result<Box<dyn Read>> {
        Ok(match self {
            Input::Stdin => Box::new(io::stdin().lock()),
            Input::File(p) => Box::new(
                File::open(p).map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?,
            ),
        })
    }
}

#[cfg(unix)]
fn stdin_size() -> Option<u64> {
    use std::os::fd::AsFd;
    let owned = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let meta = File::from(owned).metadata().ok()?;
    meta.is_file().then_some(meta.len())
}

#[cfg(not(unix))]
fn stdin_size() -> Option<u64> {
    None
}

/// Where a command writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (no `--output`).
    Stdout,
    /// A file, written under a temporary name and renamed when complete.
    File(PathBuf),
}

impl Output {
    /// `None` or `-` is standard output.
    pub fn from_arg(arg: Option<&Path>) -> Output {
        match arg {
            None => Output::Stdout,
            Some(p) if p.as_os_str() == "-" => Output::Stdout,
            Some(p) => Output::File(p.to_path_buf()),
        }
    }
}

/// How far a stream has got: input bytes read, of `total` when known. Reported after every
/// read; the caller decides how often to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes read so far.
    pub done: u64,
    /// The input's size, when it is a file whose size is known.
    pub total: Option<u64>,
}

/// Options of [`encrypt_stream`] and [`decrypt_stream`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// `-z` / `-Z`. `None`: the gem's rule: compressed, except files written under a name
    /// ending in .zip, .gz, .gzip or .xls plus one letter (see
    /// [`compress_by_default`](crate::stream::compress_by_default)).
    pub compress: Option<bool>,
    /// `--key-version`: encrypt with this version; decrypt a stream without a header with it.
    pub version: Option<u8>,
}

/// Counts what passes through and reports it.
struct Counted<'a, R> {
    inner: R,
    done: u64,
    total: Option<u64>,
    progress: &'a mut dyn FnMut(Progress),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        (self.progress)(Progress {
            done: self.done,
            total: self.total,
        });
        Ok(n)
    }
}

/// Checks that `--key-version` names a configured key.
pub fn check_version(ctx: &Context, version: Option<u8>) -> Result<()> {
    match version {
        Some(v) if ctx.cipher(v).is_none() => {
            let versions: Vec<String> = ctx.ciphers().map(|c| c.version().to_string()).collect();
            Err(Error::Argument(format!(
                "--key-version {v}: this environment has no key with version {v} (its versions: \
                 {})",
                versions.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

const BLOCK: usize = 64 * 1024;

/// Copies `from` into `to`, turning the stream's `io::Error`s back into the library's.
fn pump(
    from: &mut impl Read,
    to: &mut impl Write,
    input: &str,
    output: &dyn Fn() -> String,
) -> Result<()> {
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let e = stream::into_error(e);
                return Err(match e.kind() {
                    ErrorKind::Io => e.context(format!("cannot read {input}")),
                    _ => e.context(input),
                });
            }
        };
        to.write_all(&buf[..n])
            .map_err(|e| match stream::into_error(e) {
                Error::Io { source, .. } => Error::io(format!("cannot write {}", output()), source),
                other => other,
            })?;
    }
}

fn output_name(output: &Output) -> String {
    match output {
        Output::Stdout => "standard output".into(),
        Output::File(p) => p.display().to_string(),
    }
}

/// `--encrypt [FILE]`: encrypts `input` as a stream to `output`. Returns the plaintext size.
pub fn encrypt_stream(
    ctx: &Context,
    input: &Input,
    output: &Output,
    opts: &StreamOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64> {
    check_version(ctx, opts.version)?;
    let total = input.size();
    let mut reader = Counted {
        inner: input.open()?,
        done: 0,
        total,
        progress,
    };
    let wopts = WriterOptions {
        compress: opts.compress,
        version: opts.version,
        ..WriterOptions::default()
    };
    let name = input.describe();
    let out_name = || output_name(output);
    match output {
        Output::File(path) => {
            let mut w = FileWriter::create(ctx, path, &wopts)?;
            pump(&mut reader, &mut w, &name, &out_name)?;
            w.finish()?;
        }
        Output::Stdout => {
            let stdout = BufWriter::with_capacity(BLOCK, io::stdout().lock());
            let mut w = Writer::new(ctx, stdout, &wopts)?;
            pump(&mut reader, &mut w, &name, &out_name)?;
            w.finish()?
                .flush()
                .map_err(|e| Error::io("cannot write standard output", e))?;
        }
    }
    Ok(reader.done)
}

/// `--decrypt [FILE]`: decrypts the stream `input` to `output`. A file output appears only once
/// the whole stream was read (every GCM chunk verified); on standard output, verified chunks
/// may have been written before a later one fails: the error still comes back, and what was
/// written must be discarded.
pub fn decrypt_stream(
    ctx: &Context,
    input: &Input,
    output: &Output,
    opts: &StreamOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64> {
    check_version(ctx, opts.version)?;
    let total = input.size();
    let name = input.describe();
    let counted = Counted {
        inner: input.open()?,
        done: 0,
        total,
        progress,
    };
    let mut reader = Reader::new(
        ctx,
        counted,
        &ReaderOptions {
            version: opts.version,
            ..ReaderOptions::default()
        },
    )
    .map_err(|e| e.context(&name))?;
    let out_name = || output_name(output);
    match output {
        Output::File(path) => {
            let mut out = AtomicFile::create(path)?;
            pump(&mut reader, &mut out.file, &name, &out_name)?;
            out.commit()?;
        }
        Output::Stdout => {
            let mut stdout = BufWriter::with_capacity(BLOCK, io::stdout().lock());
            pump(&mut reader, &mut stdout, &name, &out_name)?;
            stdout
                .flush()
                .map_err(|e| Error::io("cannot write standard output", e))?;
        }
    }
    Ok(reader.position())
}

/// `--encrypt --prompt`: one value, encrypted and encoded as the configuration says (the
/// primary, or `version`), not compressed unless asked, as the gem's `encrypt` does.
pub fn encrypt_value(
    ctx: &Context,
    value: &[u8],
    compress: Option<bool>,
    version: Option<u8>,
) -> Result<Vec<u8>> {
    check_version(ctx, version)?;
    if value.is_empty() {
        return Err(Error::Argument(
            "the value is empty: an empty value encrypts to an empty string, so there is \
             nothing to encrypt"
                .into(),
        ));
    }
    ctx.encrypt(
        value,
        &EncryptOptions {
            compress: Some(compress.unwrap_or(false)),
            version,
            ..EncryptOptions::default()
        },
    )
}

/// `--decrypt --prompt`: one encoded value. `version` decrypts a value without a header.
pub fn decrypt_value(ctx: &Context, value: &[u8], version: Option<u8>) -> Result<Vec<u8>> {
    check_version(ctx, version)?;
    let value = value.trim_ascii();
    if value.is_empty() {
        return Err(Error::Argument("the value to decrypt is empty".into()));
    }
    ctx.decrypt_with_version(value, version)
}

/// Parses a size for `--max-decompressed-size`: a number of bytes, or with a suffix `K`, `M` or
/// `G` (also `KiB`, `MiB`, `GiB`; binary units, any case). At least 1 byte.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size: give bytes, or a number with K, M or G"
            ))
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: give bytes, or a number with K, M or G"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes == 0 {
        return Err("the size must be at least 1 byte".into());
    }
    Ok(bytes)
}

/// The largest `--new-password` size accepted.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The gem's default `--new-password` size.
pub const DEFAULT_PASSWORD_BYTES: usize = 22;

/// `--new-password [SIZE]`: URL-safe base64 (no padding) of `size` random bytes, as the gem's
/// `SymmetricEncryption.random_password` (Ruby's `SecureRandom.urlsafe_base64(size)`).
pub fn new_password(size: usize) -> Result<zeroize::Zeroizing<String>> {
    if size == 0 || size > MAX_PASSWORD_BYTES {
        return Err(Error::Argument(format!(
            "--new-password {size}: the size is a number of random bytes from 1 to \
             {MAX_PASSWORD_BYTES} (default {DEFAULT_PASSWORD_BYTES})"
        )));
    }
    let bytes = crate::crypto::random_bytes(size)?;
    Ok(zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..])))
}

/// Writes `data` to the file `path` (for `--output` with a single value): under a temporary
/// name, renamed when complete, created readable by the owner only.
pub fn write_value_file(path: &Path, data: &[u8]) -> Result<()> {
    let mut out = AtomicFile::create(path)?;
    out.file
        .write_all(data)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cipher, CipherName};

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("3k"), Ok(3072));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    fn ctx() -> Context {
        Context::new(vec![
            Cipher::new(CipherName::Aes256Gcm, &[7; 32], None)
                .unwrap()
                .with_version(2),
            Cipher::new(CipherName::Aes128Cbc, &[1; 16], Some(&[2; 16]))
                .unwrap()
                .with_version(1),
        ])
        .unwrap()
    }

    #[test]
    fn passwords_are_url_safe_base64_of_size_bytes() {
        let p = new_password(22).unwrap();
        assert_eq!(p.len(), 30);
        assert!(p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(*p, *new_password(22).unwrap());
        assert_eq!(new_password(3).unwrap().len(), 4);
        assert!(new_password(0).is_err());
        assert!(new_password(MAX_PASSWORD_BYTES + 1).is_err());
    }

    #[test]
    fn values_round_trip_with_versions() {
        let c = ctx();
        let e = encrypt_value(&c, b"secret", None, Some(1)).unwrap();
        assert_eq!(c.header(&e).unwrap().unwrap().version, 1);
        assert_eq!(decrypt_value(&c, &e, None).unwrap(), b"secret");
        let e = encrypt_value(&c, b"secret", Some(true), None).unwrap();
        let h = c.header(&e).unwrap().unwrap();
        assert!(h.compressed);
        assert_eq!(h.version, 2);
        let err = encrypt_value(&c, b"x", None, Some(9)).unwrap_err();
        assert!(err.to_string().contains("--key-version 9"), "{err}");
    }
}
