//! The stream writer: gzip (optional), then CBC or GCM (single value or chunked).

use std::io::{self, Write};
use std::path::Path;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::chunked::{Chunker, NONCE_PREFIX_LEN};
use super::{to_io, AtomicFile, WriterOptions, DEFAULT_CHUNK_SIZE, IO_BLOCK};
use crate::context::Context;
use crate::crypto::{self, CbcStream, PreparedKey, BLOCK_LEN, GCM_NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::header::{Header, MAX_CHUNK_LOG2, MIN_CHUNK_LOG2};
use crate::key::SecretBytes;

/// Encrypts everything written to it into `W`, in the gem's stream format. Holds at most one
/// chunk of data. Call [`Writer::finish`] at the end: it writes the last chunk, the CBC padding
/// and the gzip trailer, and gives `W` back. A writer dropped without `finish` writes nothing
/// more and leaves an incomplete stream: for GCM nothing at all or chunks that fail
/// authentication, for CBC possibly data that decrypts to a prefix. Always finish.
pub struct Writer<W: Write> {
    sink: Sink<W>,
    gzip: Option<Gzip>,
    size: u64,
    failed: bool,
}

impl<W: Write> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("compressed", &self.gzip.is_some())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Writer<W> {
    /// A writer encrypting into `inner` with the entry `opts.version` (default: the primary).
    /// CBC streams write their header at once; GCM streams when they know whether they are one
    /// chunk or more. Errors: an unknown version (cipher), options that do not go together
    /// (argument), I/O.
    pub fn new(ctx: &Context, mut inner: W, opts: &WriterOptions) -> Result<Self> {
        let entry = match opts.version {
            Some(v) => ctx.cipher_by_version(v)?,
            None => ctx.primary(),
        };
        let name = opts.cipher_name.unwrap_or(entry.cipher_name());
        let other_cipher = name != entry.cipher_name();
        if opts.random_key && !opts.random_iv {
            return Err(Error::Argument(
                "random_key needs random_iv: a random key with the configured iv is not a \
                 supported stream layout"
                    .into(),
            ));
        }
        if other_cipher && !opts.random_key {
            return Err(Error::Argument(format!(
                "Cannot supply a :cipher_name ({name}) other than the entry's ({}) without \
                 random_key (and random_iv): the entry's key belongs to its own cipher",
                entry.cipher_name()
            )));
        }
        let chunk_log2 = chunk_log2(opts.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE))?;
        let compress = opts.compress.unwrap_or(true);

        let key_bytes = if opts.random_key {
            SecretBytes::random(name.key_len())?
        } else {
            SecretBytes::from_slice(entry.key())
        };
        let key = PreparedKey::new(name.mode(), &key_bytes)?;
        let header = Header {
            version: entry.version(),
            compressed: compress,
            encrypted_key: if opts.random_key {
                Some(entry.encrypt_key_field(&key_bytes)?)
            } else {
                None
            },
            cipher_name: other_cipher.then(|| name.as_str().to_string()),
            ..Header::default()
        };

        let body = if name.is_authenticated() {
            if !opts.random_iv {
                return Err(Error::Argument(format!(
                    "{name} streams need random_iv: re-using an iv with the same key exposes the \
                     data and makes the auth tag forgeable"
                )));
            }
            Body::Gcm(Box::new(Gcm {
                key,
                header,
                chunk_log2,
                buf: Vec::new(),
                ahead: Vec::new(),
                ahead_tag: None,
                chunker: None,
                index: 0,
            }))
        } else {
            let iv = if opts.random_iv {
                let mut iv = [0u8; BLOCK_LEN];
                crypto::fill_random(&mut iv)?;
                iv
            } else {
                entry.cbc_default_iv()
            };
            if opts.header || compress || opts.random_key || opts.random_iv {
                let header = Header {
                    iv: opts.random_iv.then(|| iv.to_vec()),
                    ..header
                };
                inner.write_all(&header.to_bytes()?).map_err(write_error)?;
            }
            Body::Cbc {
                enc: key.cbc_encryptor(iv),
                out: Vec::new(),
                any: false,
            }
        };
        Ok(Writer {
            sink: Sink { inner, body },
            gzip: compress.then(Gzip::new),
            size: 0,
            failed: false,
        })
    }

    /// Plaintext bytes written so far (before compression).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.sink.inner
    }

    /// Writes the end of the stream (last chunk, padding, gzip trailer), flushes and returns the
    /// inner writer.
    pub fn finish(mut self) -> Result<W> {
        if self.failed {
            return Err(failed_before());
        }
        if let Some(gz) = self.gzip.take() {
            gz.finish(&mut self.sink)?;
        }
        self.sink.finish()
    }

    fn write_plain(&mut self, data: &[u8]) -> Result<()> {
        if self.failed {
            return Err(failed_before());
        }
        let result = match &mut self.gzip {
            Some(gz) => gz.write(data, &mut self.sink),
            None => self.sink.write(data),
        };
        match result {
            Ok(()) => {
                self.size += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_plain(buf).map_err(to_io)?;
        Ok(buf.len())
    }

    /// Flushes the inner writer. Data held for the current chunk, CBC block or deflate window
    /// stays held: it can only be written once more data or [`Writer::finish`] completes it.
    fn flush(&mut self) -> io::Result<()> {
        self.sink.inner.flush()
    }
}

fn failed_before() -> Error {
    Error::Argument("the stream writer failed earlier; its output is incomplete".into())
}

fn write_error(e: io::Error) -> Error {
    Error::io("cannot write the encrypted stream", e)
}

/// Checks a chunk size and returns its log2.
fn chunk_log2(size: usize) -> Result<u8> {
    let ok = size.is_power_of_two()
        && (MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&(size.trailing_zeros() as u8));
    if !ok {
        return Err(Error::Argument(format!(
            "chunk size {size} is not supported: use a power of two from 1024 (1 KiB) to \
             16777216 (16 MiB)"
        )));
    }
    Ok(size.trailing_zeros() as u8)
}

/// The encrypting end: takes the (possibly compressed) bytes and writes ciphertext to `inner`.
struct Sink<W: Write> {
    inner: W,
    body: Body,
}

// One per stream, never in a collection: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Body {
    Cbc {
        enc: CbcStream,
        out: Vec<u8>,
        any: bool,
    },
    Gcm(Box<Gcm>),
}

struct Gcm {
    key: PreparedKey,
    /// Version, compression, key field and cipher name; the iv, chunk size and tag are added
    /// once the layout is known.
    header: Header,
    chunk_log2: u8,
    /// Data of the current chunk, at most one chunk. A full chunk is sealed only once more data
    /// arrives, because whether it is the last one is part of its nonce.
    buf: Vec<u8>,
    /// A whole chunk of the caller's, sealed straight from the caller's buffer into this one
    /// (no copy of the plaintext first), as a chunk that is not the last: its tag is `ahead_tag`.
    /// Written as it is once more data arrives; should the stream end instead, it is opened
    /// again and sealed as the last chunk (that ciphertext never leaves the writer).
    ahead: Vec<u8>,
    ahead_tag: Option<[u8; TAG_LEN]>,
    chunker: Option<Chunker>,
    index: u64,
}

impl Drop for Gcm {
    fn drop(&mut self) {
        // A writer dropped unfinished may hold plaintext.
        zeroize::Zeroize::zeroize(&mut self.buf);
        zeroize::Zeroize::zeroize(&mut self.ahead);
    }
}

impl<W: Write> Sink<W> {
    fn write(&mut self, mut data: &[u8]) -> Result<()> {
        match &mut self.body {
            Body::Cbc { enc, out, any } => {
                *any |= !data.is_empty();
                for piece in data.chunks(IO_BLOCK) {
                    out.clear();
                    enc.update(piece, out)?;
                    self.inner.write_all(out).map_err(write_error)?;
                }
            }
            Body::Gcm(g) => {
                let chunk = 1usize << g.chunk_log2;
                while !data.is_empty() {
                    if g.buf.len() == chunk || g.ahead_tag.is_some() {
                        g.seal_chunk(&mut self.inner, false)?;
                    }
                    // A whole chunk of the caller's, once the first chunk is out (until then
                    // the stream may still be a single value): sealed from where it is.
                    if g.buf.is_empty() && g.chunker.is_some() && data.len() >= chunk {
                        g.seal_ahead(&data[..chunk])?;
                        data = &data[chunk..];
                        continue;
                    }
                    if g.buf.capacity() < chunk {
                        g.buf.reserve_exact(chunk - g.buf.len());
                    }
                    let take = (chunk - g.buf.len()).min(data.len());
                    g.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<W> {
        match self.body {
            Body::Cbc { enc, mut out, any } => {
                // An empty stream is the header alone, with no padding block (as the gem).
                if any {
                    out.clear();
                    enc.finish(&mut out, true)?;
                    self.inner.write_all(&out).map_err(write_error)?;
                }
            }
            Body::Gcm(mut g) => {
                if g.chunker.is_some() {
                    g.seal_chunk(&mut self.inner, true)?;
                } else {
                    g.seal_single(&mut self.inner)?;
                }
            }
        }
        self.inner.flush().map_err(write_error)?;
        Ok(self.inner)
    }
}

impl Gcm {
    /// Seals the buffered chunk, writing the chunked header first if this is the first chunk.
    fn seal_chunk(&mut self, out: &mut impl Write, last: bool) -> Result<()> {
        if self.chunker.is_none() {
            let mut prefix = [0u8; NONCE_PREFIX_LEN];
            crypto::fill_random(&mut prefix)?;
            self.header.iv = Some(prefix.to_vec());
            self.header.chunk_log2 = Some(self.chunk_log2);
            let aad = self.header.to_bytes()?;
            out.write_all(&aad).map_err(write_error)?;
            self.chunker = Some(Chunker {
                key: self.key.clone(),
                prefix,
                aad,
            });
        }
        let chunker = self.chunker.as_ref().expect("set above");
        let (body, tag) = match self.ahead_tag.take() {
            Some(tag) if last => {
                // Sealed ahead as a chunk with more to follow, but the stream ends here.
                chunker.open_detached(self.index, false, &mut self.ahead, &tag)?;
                let tag = chunker.seal(self.index, true, &mut self.ahead)?;
                (&self.ahead, tag)
            }
            Some(tag) => (&self.ahead, tag),
            None => {
                let tag = chunker.seal(self.index, last, &mut self.buf)?;
                (&self.buf, tag)
            }
        };
        out.write_all(body).map_err(write_error)?;
        out.write_all(&tag).map_err(write_error)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals `data`, one whole chunk, into `ahead` as a chunk with more to follow.
    fn seal_ahead(&mut self, data: &[u8]) -> Result<()> {
        let chunker = self.chunker.as_ref().expect("only after the first chunk");
        if self.ahead.len() != data.len() {
            self.ahead = vec![0u8; data.len()];
        }
        self.ahead_tag = Some(chunker.seal_to(self.index, false, data, &mut self.ahead)?);
        Ok(())
    }

    /// Writes the whole stream as one value with its tag in the header (at most one chunk).
    fn seal_single(&mut self, out: &mut impl Write) -> Result<()> {
        let mut iv = [0u8; GCM_NONCE_LEN];
        crypto::fill_random(&mut iv)?;
        self.header.iv = Some(iv.to_vec());
        // Sets the tag flag in the AAD; the tag itself is written after sealing.
        self.header.auth_tag = Some([0u8; TAG_LEN]);
        let mut head = Vec::with_capacity(128);
        self.header.write_aad(&mut head)?;
        let tag = self.key.gcm_seal(&iv, &head, &mut self.buf)?;
        Header::write_tag(&mut head, &tag);
        out.write_all(&head).map_err(write_error)?;
        out.write_all(&self.buf).map_err(write_error)?;
        self.buf.clear();
        Ok(())
    }
}

/// gzip (RFC 1952) at level 6, written by hand over raw deflate so that nothing is written
/// behind the caller's back when a writer is dropped unfinished.
struct Gzip {
    deflate: Compress,
    crc: Crc,
    out: Vec<u8>,
    started: bool,
}

impl Gzip {
    fn new() -> Self {
        Gzip {
            deflate: Compress::new(Compression::new(6), false),
            crc: Crc::new(),
            out: Vec::with_capacity(IO_BLOCK),
            started: false,
        }
    }

    /// The 10-byte member header: no name or extra fields, the write time, OS 3 (Unix), as
    /// Ruby's `Zlib::GzipWriter` writes it.
    fn header() -> [u8; 10] {
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let m = mtime.to_le_bytes();
        [0x1f, 0x8b, 8, 0, m[0], m[1], m[2], m[3], 0, 3]
    }

    fn start<W: Write>(&mut self, sink: &mut Sink<W>) -> Result<()> {
        if !self.started {
            self.started = true;
            sink.write(&Self::header())?;
        }
        Ok(())
    }

    fn write<W: Write>(&mut self, mut data: &[u8], sink: &mut Sink<W>) -> Result<()> {
        self.start(sink)?;
        self.crc.update(data);
        while !data.is_empty() {
            self.out.clear();
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(data, &mut self.out, FlushCompress::None)
                .map_err(|e| Error::Internal(format!("gzip compression failed: {e}")))?;
            let used = (self.deflate.total_in() - before) as usize;
            data = &data[used..];
            if !self.out.is_empty() {
                sink.write(&self.out)?;
            }
        }
        Ok(())
    }

    fn finish<W: Write>(mut self, sink: &mut Sink<W>) -> Result<()> {
        self.start(sink)?;
        loop {
            self.out.clear();
            let status = self
                .deflate
                .compress_vec(&[], &mut self.out, FlushCompress::Finish)
                .map_err(|e| Error::Internal(format!("gzip compression failed: {e}")))?;
            sink.write(&self.out)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        sink.write(&trailer)
    }
}

/// An encrypted file written to a temporary file in the target's directory and renamed onto
/// the target by [`FileWriter::finish`]. Dropped without `finish`, nothing is left at the
/// target (the temporary file is removed).
pub struct FileWriter {
    writer: Writer<AtomicFile>,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("target", &self.writer.get_ref().target())
            .field("writer", &self.writer)
            .finish()
    }
}

impl FileWriter {
    /// Starts writing the encrypted file `target`. `opts.compress` `None` applies
    /// [`compress_by_default`](super::compress_by_default) to `target`.
    pub fn create(ctx: &Context, target: &Path, opts: &WriterOptions) -> Result<Self> {
        let opts = WriterOptions {
            compress: Some(
                opts.compress
                    .unwrap_or_else(|| super::compress_by_default(target)),
            ),
            ..opts.clone()
        };
        let file = AtomicFile::create(target)?;
        Ok(FileWriter {
            writer: Writer::new(ctx, file, &opts)?,
        })
    }

    /// Plaintext bytes written so far.
    pub fn size(&self) -> u64 {
        self.writer.size()
    }

    /// The file this writer produces.
    pub fn target(&self) -> &Path {
        self.writer.get_ref().target()
    }

    /// Ends the stream, syncs the file and renames it onto the target.
    pub fn finish(self) -> Result<()> {
        self.writer.finish()?.commit()
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::CipherName;

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_log2(1024).unwrap(), 10);
        assert_eq!(chunk_log2(1 << 24).unwrap(), 24);
        for bad in [0, 512, 1000, 3 << 10, 1 << 25] {
            assert!(chunk_log2(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_option_combinations_are_refused() {
        let c = crate::Cipher::new(CipherName::Aes256Cbc, &[1; 32], Some(&[2; 16]))
            .unwrap()
            .with_version(1);
        let ctx = Context::new(vec![c]).unwrap();
        let try_opts = |o: WriterOptions| Writer::new(&ctx, Vec::new(), &o).unwrap_err().kind();
        use crate::ErrorKind::*;
        let d = WriterOptions::default();
        assert_eq!(
            try_opts(WriterOptions {
                random_iv: false,
                ..d.clone()
            }),
            Argument
        );
        assert_eq!(
            try_opts(WriterOptions {
                random_key: false,
                cipher_name: Some(CipherName::Aes128Cbc),
                ..d.clone()
            }),
            Argument
        );
        assert_eq!(
            try_opts(WriterOptions {
                random_key: false,
                random_iv: false,
                cipher_name: Some(CipherName::Aes256Gcm),
                ..d.clone()
            }),
            Argument
        );
        assert_eq!(
            try_opts(WriterOptions {
                cipher_name: Some(CipherName::Aes256Gcm),
                chunk_size: Some(4096 + 1),
                ..d.clone()
            }),
            Argument
        );
        assert_eq!(
            try_opts(WriterOptions {
                version: Some(9),
                ..d
            }),
            Cipher
        );
    }
}
