//! The stream reader: every layout the gem writes, one chunk in memory at a time.

use std::io::{self, Read, Seek, SeekFrom};

use flate2::bufread::GzDecoder;
use zeroize::Zeroizing;

use super::{error_of_kind, into_error, to_io, ReaderOptions, IO_BLOCK};
use crate::cipher::CipherName;
use crate::context::Context;
use crate::crypto::{BLOCK_LEN, TAG_LEN};
use crate::error::{Error, ErrorKind, Result};
use crate::header::{self, flags, Header, Parsed, MAGIC};

use super::body::{cbc_kind, gcm_kind, Body, Kind, Source};

/// Decrypts a stream written by [`Writer`](super::Writer) or the gem's `Writer`, as it is read.
///
/// GCM chunks are verified before any of their bytes are handed out, one chunk in memory at a
/// time; a single-value GCM stream (at most 16 MiB) is read whole and verified first. An error
/// after some verified chunks still surfaces as an error: discard what was read before it. Get
/// the library's [`Error`] back out of the `io::Error` with [`into_error`](super::into_error).
/// After an error every further read fails too, until a seek. An operation refused without
/// touching the stream (a seek the source cannot do, an offset before the start) leaves the
/// reader as it was: reads go on where they were.
///
/// With [`ReaderOptions::max_output`], a read that would hand out more than that many bytes
/// in all fails with a cipher error.
///
/// Seeking: uncompressed chunked streams seek directly, reading only the chunk that holds the
/// offset. Every other layout seeks forward by reading and discarding, and backward by going
/// back to the start of the stream and reading forward (as the gem does); `SeekFrom::End` on a
/// compressed stream reads it to the end first. Seeking past the end is allowed; reads there
/// return 0 bytes.
pub struct Reader<R: Read> {
    ctx: Context,
    opts: ReaderOptions,
    header: Option<Header>,
    header_len: u64,
    front: Front<R>,
    pos: u64,
    failed: Option<(ErrorKind, String)>,
}

impl<R: Read> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("header", &self.header)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

/// What the caller reads from: the decrypted body, or gzip over it.
enum Front<R: Read> {
    Plain(Body<R>),
    /// Compressed, nothing read yet: the gzip decoder is made on the first read, unless the
    /// body turns out to be empty (an empty compressed stream reads as empty, as in the gem).
    Pending(Body<R>),
    Gzip(Box<GzDecoder<Body<R>>>, bool),
    Empty(Body<R>),
    /// Only while being rebuilt.
    Taken,
}

impl<R: Read> Reader<R> {
    /// Reads the stream's header from `inner` and prepares to decrypt. The entry is the one
    /// named by the header's version; a stream without a header uses `opts.version`, else the
    /// primary. Errors: unknown version or malformed header (cipher), a key field that does not
    /// authenticate (authentication), I/O.
    pub fn new(ctx: &Context, inner: R, opts: &ReaderOptions) -> Result<Self> {
        let ctx = ctx.clone();
        let opened = open(&ctx, Source::new(inner), opts)?;
        Ok(Reader {
            ctx,
            opts: *opts,
            header: opened.header,
            header_len: opened.header_len,
            front: opened.front,
            pos: 0,
            failed: None,
        })
    }

    /// The stream's header, `None` for a stream without one.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Whether the stream is gzip-compressed (reads return the decompressed data).
    pub fn is_compressed(&self) -> bool {
        self.header.as_ref().is_some_and(|h| h.compressed)
    }

    /// The chunk size of a chunked GCM stream.
    pub fn chunk_size(&self) -> Option<usize> {
        self.header.as_ref().and_then(Header::chunk_size)
    }

    /// Sets or removes the output limit (see [`ReaderOptions::max_output`]): no plaintext past
    /// offset `max_output` is handed out, by reads or by seeks that read forward.
    pub fn set_max_output(&mut self, max_output: Option<u64>) {
        self.opts.max_output = max_output;
    }

    /// The output limit, if any.
    pub fn max_output(&self) -> Option<u64> {
        self.opts.max_output
    }

    /// The plaintext position: bytes read (or skipped by seeking) so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(error_of_kind(*kind, message.clone()));
        }
        let result = self.read_limited(buf);
        match &result {
            Ok(n) => self.pos += *n as u64,
            Err(e) => self.failed = Some((e.kind(), e.to_string())),
        }
        result
    }

    /// [`Reader::read_front`] within [`ReaderOptions::max_output`].
    fn read_limited(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Some(max) = self.opts.max_output else {
            return self.read_front(buf);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let room = max.saturating_sub(self.pos);
        if room == 0 {
            // At the limit: only the end of the stream may follow.
            let mut probe = Zeroizing::new([0u8; 1]);
            return match self.read_front(&mut probe[..])? {
                0 => Ok(0),
                _ => Err(output_limit(max)),
            };
        }
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        self.read_front(&mut buf[..n])
    }

    fn read_front(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.front {
                Front::Plain(body) => return body.read_plain(buf),
                Front::Empty(_) => return Ok(0),
                Front::Taken => {
                    return Err(Error::Internal("the stream reader lost its input".into()))
                }
                Front::Pending(body) => {
                    body.fill()?;
                    let empty = body.is_drained();
                    let Front::Pending(body) = std::mem::replace(&mut self.front, Front::Taken)
                    else {
                        unreachable!("matched above")
                    };
                    self.front = if empty {
                        Front::Empty(body)
                    } else {
                        Front::Gzip(Box::new(GzDecoder::new(body)), false)
                    };
                }
                Front::Gzip(_, true) => return Ok(0),
                Front::Gzip(dec, ended) => match dec.read(buf) {
                    Ok(0) => {
                        // The gzip member ended: read (and so authenticate) whatever follows, up
                        // to the end of the stream. Data after the member is ignored, as by
                        // the gem's GzipReader.
                        dec.get_mut().drain()?;
                        *ended = true;
                        return Ok(0);
                    }
                    Ok(n) => return Ok(n),
                    Err(e) => return Err(gzip_error(e)),
                },
            }
        }
    }
}

fn output_limit(max: u64) -> Error {
    Error::Cipher(format!(
        "the stream decrypts to more than the output limit of {} ({max} bytes) set for this \
         reader, so reading stopped there. If the stream is genuine, raise the limit or remove \
         it (Rust: ReaderOptions::max_output; C: se_reader_set_max_output, \
         se_decrypt_file_max_output; Python and Ruby: max_output)",
        crate::inflate::human(max)
    ))
}

fn gzip_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return into_error(e);
    }
    Error::Cipher(format!(
        "the stream's header says it is compressed, but the decrypted data is not valid gzip \
         ({e}): the stream was altered or truncated, or it was decrypted with the wrong key"
    ))
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf).map_err(to_io)
    }
}

impl<R: Read + Seek> Reader<R> {
    /// The plaintext size when it is known without decrypting the data: uncompressed chunked
    /// and single-value GCM streams (from the encrypted size) and uncompressed CBC streams (from
    /// the encrypted size and the last block's padding). `None` for compressed streams. The
    /// figure is not authenticated: reading the data is what verifies it.
    pub fn size(&mut self) -> Result<Option<u64>> {
        let header_len = self.header_len;
        let body = match &mut self.front {
            Front::Plain(b) => b,
            _ => return Ok(None),
        };
        let start = body.src.stream_start()?;
        let here = start + body.src.consumed;
        let result = body.size(start + header_len);
        if let Err(e) = body.src.seek_to(start, here) {
            return Err(self.broken(e));
        }
        result.map(Some)
    }

    /// Records that the reader is in an undefined state after `e` (reads fail until a seek).
    fn broken(&mut self, e: Error) -> Error {
        self.failed = Some((e.kind(), e.to_string()));
        e
    }

    /// The encrypted input, wherever the front keeps it.
    fn source_mut(&mut self) -> Result<&mut Source<R>> {
        source_of(&mut self.front)
    }

    fn seek_inner(&mut self, pos: SeekFrom) -> Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(d) => offset(self.pos, d)?,
            SeekFrom::End(d) => {
                // Refuse at once, before reading anything, when the source cannot seek.
                self.source_mut()?.position()?;
                let size = match self.size()? {
                    Some(s) => s,
                    None => self.size_by_reading()?,
                };
                offset(size, d)?
            }
        };
        // A source that cannot seek is read forward, whatever the layout.
        let direct = matches!(&self.front, Front::Plain(b) if matches!(b.kind, Kind::Chunked { .. }))
            && self.source_mut()?.position().is_ok();
        if direct {
            self.seek_chunk(target)?;
        } else {
            self.seek_forward(target)?;
        }
        self.pos = target;
        Ok(target)
    }

    /// Positions an uncompressed chunked stream at `target`, decrypting only the chunk that
    /// holds it.
    fn seek_chunk(&mut self, target: u64) -> Result<()> {
        let size = self.size()?.unwrap_or(0);
        let start = self.source_mut()?.stream_start()?;
        let result = self.seek_chunk_from(target, size, start);
        result.map_err(|e| self.broken(e))
    }

    /// [`Reader::seek_chunk`] once nothing can fail before the state changes.
    fn seek_chunk_from(&mut self, target: u64, size: u64, start: u64) -> Result<()> {
        let header_len = self.header_len;
        let Front::Plain(body) = &mut self.front else {
            return Err(Error::Internal("direct seek on a compressed stream".into()));
        };
        self.failed = None;
        body.out.clear();
        body.out_pos = 0;
        let Kind::Chunked {
            chunk_size,
            index,
            peeked,
            ..
        } = &mut body.kind
        else {
            return Err(Error::Internal("direct seek on an unchunked stream".into()));
        };
        *peeked = None;
        if target >= size {
            body.done = true;
            return Ok(());
        }
        let c = *chunk_size as u64;
        let k = target / c;
        body.src
            .seek_to(start, start + header_len + k * (c + TAG_LEN as u64))?;
        *index = k;
        body.done = false;
        body.fill()?;
        body.out_pos = ((target - k * c) as usize).min(body.out.len());
        Ok(())
    }

    /// Positions any stream at `target` by reading forward, from the start if `target` is
    /// behind the current position.
    fn seek_forward(&mut self, target: u64) -> Result<()> {
        if target < self.pos || self.failed.is_some() {
            self.rewind()?;
        }
        let mut scratch = vec![0u8; IO_BLOCK.min((target - self.pos) as usize)];
        while self.pos < target {
            let want = scratch.len().min((target - self.pos) as usize);
            if self.read_inner(&mut scratch[..want])? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Reads from here to the end, returning the plaintext size.
    fn size_by_reading(&mut self) -> Result<u64> {
        let mut scratch = vec![0u8; IO_BLOCK];
        while self.read_inner(&mut scratch)? > 0 {}
        Ok(self.pos)
    }

    /// Goes back to the start of the stream and reads its header again. When the source
    /// cannot seek, or the header cannot be read again, the reader is left as it was.
    fn rewind(&mut self) -> Result<()> {
        let src = source_of(&mut self.front)?;
        let start = src.stream_start()?;
        let consumed = src.consumed;
        let pending = std::mem::take(&mut src.pending);
        if let Err(e) = src.seek_to(start, start) {
            src.pending = pending;
            return Err(e);
        }
        let parts = match open_parts(&self.ctx, src, &self.opts) {
            Ok(parts) => parts,
            Err(e) => {
                // Back to where the reads had left the source, with what it held.
                let back = src.seek_to(start, start + consumed);
                src.pending = pending;
                return Err(match back {
                    Ok(()) => e,
                    Err(b) => self.broken(b),
                });
            }
        };
        let src = match std::mem::replace(&mut self.front, Front::Taken) {
            Front::Plain(b) | Front::Pending(b) | Front::Empty(b) => b.src,
            Front::Gzip(d, _) => d.into_inner().src,
            Front::Taken => return Err(Error::Internal("the stream reader lost its input".into())),
        };
        let opened = parts.into_opened(src);
        self.front = opened.front;
        self.header = opened.header;
        self.header_len = opened.header_len;
        self.pos = 0;
        self.failed = None;
        Ok(())
    }
}

/// The encrypted input, wherever `front` keeps it.
fn source_of<R: Read>(front: &mut Front<R>) -> Result<&mut Source<R>> {
    match front {
        Front::Plain(b) | Front::Pending(b) | Front::Empty(b) => Ok(&mut b.src),
        Front::Gzip(d, _) => Ok(&mut d.get_mut().src),
        Front::Taken => Err(Error::Internal(
            "the stream reader lost its input in an earlier failed operation".into(),
        )),
    }
}

fn offset(base: u64, delta: i64) -> Result<u64> {
    base.checked_add_signed(delta).ok_or_else(|| {
        Error::Argument(format!(
            "cannot seek to {base} {} {}: before the start of the stream",
            if delta < 0 { '-' } else { '+' },
            delta.unsigned_abs()
        ))
    })
}

impl<R: Read + Seek> Seek for Reader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        // A seek that fails part-way marks the reader failed where it happens (reads fail until
        // the next successful seek); one refused before anything moved changes nothing.
        self.seek_inner(pos).map_err(to_io)
    }
}

/// A freshly opened stream.
struct Opened<R: Read> {
    front: Front<R>,
    header: Option<Header>,
    header_len: u64,
}

/// Reads the header and sets up decryption.
fn open<R: Read>(ctx: &Context, mut src: Source<R>, opts: &ReaderOptions) -> Result<Opened<R>> {
    Ok(open_parts(ctx, &mut src, opts)?.into_opened(src))
}

/// What reading a header decided: how to decrypt the body.
struct Parts {
    kind: Kind,
    header: Option<Header>,
    header_len: u64,
    compressed: bool,
}

impl Parts {
    fn into_opened<R: Read>(self, src: Source<R>) -> Opened<R> {
        let body = Body::new(src, self.kind);
        Opened {
            front: if self.compressed {
                Front::Pending(body)
            } else {
                Front::Plain(body)
            },
            header: self.header,
            header_len: self.header_len,
        }
    }
}

/// Reads the header from `src` and decides how to decrypt what follows.
fn open_parts<R: Read>(ctx: &Context, src: &mut Source<R>, opts: &ReaderOptions) -> Result<Parts> {
    let parsed = read_header(src)?;
    let (entry, parsed) = match parsed {
        Some((p, bytes)) => (ctx.cipher_for_header(p.header.version)?, Some((p, bytes))),
        None => {
            let entry = match opts.version {
                Some(v) => ctx.cipher_by_version(v)?,
                None => ctx.primary(),
            };
            (entry, None)
        }
    };
    let Some((p, bytes)) = parsed else {
        if entry.cipher_name().is_authenticated() {
            return Err(Error::Cipher(format!(
                "the stream has no header, but {} streams always have one (with the iv and auth \
                 tag): it is not an encrypted stream, or not one of this cipher",
                entry.cipher_name()
            )));
        }
        let kind = cbc_kind(entry.prepared_key().clone(), entry.cbc_default_iv());
        return Ok(Parts {
            kind,
            header: None,
            header_len: 0,
            compressed: false,
        });
    };
    let h = &p.header;
    let name = match &h.cipher_name {
        Some(n) => CipherName::from_name(n)
            .map_err(|_| Error::Cipher(format!("the header names an unsupported cipher {n:?}")))?,
        None => entry.cipher_name(),
    };
    let key = entry.value_key(name, h, 0)?.into_owned();
    let kind = if name.is_authenticated() {
        gcm_kind(entry, name, key, &p, bytes)?
    } else {
        if h.auth_tag.is_some() || h.is_chunked() {
            return Err(Error::Cipher(format!(
                "the stream's header has an auth tag or chunk size, but {name} is not an \
                 authenticated cipher, so they cannot be verified"
            )));
        }
        let iv = match &h.iv {
            Some(iv) => <[u8; BLOCK_LEN]>::try_from(iv.as_slice()).map_err(|_| {
                Error::Cipher(format!(
                    "the header's iv is {} bytes, {name} needs 16",
                    iv.len()
                ))
            })?,
            None => entry.cbc_default_iv(),
        };
        cbc_kind(key, iv)
    };
    Ok(Parts {
        kind,
        header_len: p.len as u64,
        compressed: h.compressed,
        header: Some(p.header),
    })
}

/// Reads the header field by field (never past it). `None` when the stream does not start with
/// one; the bytes looked at are given back to `src`. Returns the parsed header and its bytes.
fn read_header<R: Read>(src: &mut Source<R>) -> Result<Option<(Parsed, Vec<u8>)>> {
    let mut hb = Vec::with_capacity(128);
    src.read_full(&mut hb, 6, false)?;
    if hb.len() < 6 || !hb.starts_with(MAGIC) {
        src.pending = hb;
        return Ok(None);
    }
    let f = hb[5];
    let mut take = |hb: &mut Vec<u8>, n: usize, what: &str| -> Result<()> {
        let want = hb.len() + n;
        src.read_full(hb, want, false)?;
        if hb.len() < want {
            return Err(Error::Cipher(format!(
                "truncated header: the stream ends inside the header's {what}"
            )));
        }
        Ok(())
    };
    for (flag, what) in [
        (flags::IV, "iv"),
        (flags::KEY, "encrypted key"),
        (flags::CIPHER_NAME, "cipher name"),
    ] {
        if f & flag != 0 {
            take(&mut hb, 2, &format!("length of the {what}"))?;
            let n = u16::from_le_bytes([hb[hb.len() - 2], hb[hb.len() - 1]]) as usize;
            take(&mut hb, n, what)?;
        }
    }
    if f & flags::CHUNKED != 0 {
        take(&mut hb, 1, "chunk size")?;
    }
    if f & flags::AUTH_TAG != 0 {
        take(&mut hb, 2, "length of the auth tag")?;
        let n = u16::from_le_bytes([hb[hb.len() - 2], hb[hb.len() - 1]]) as usize;
        if n == TAG_LEN {
            take(&mut hb, n, "auth tag")?;
        }
    }
    if hb.len() == 6 {
        // No fields: too short for `header::parse`, which needs more than 6 bytes to see a
        // header in a value. In a stream it is a header (e.g. an empty stream written with the
        // entry's key and iv); raw CBC data is never 6 bytes long.
        let header = Header {
            version: hb[4],
            compressed: f & flags::COMPRESSED != 0,
            reserved_flags: f & 0x03,
            ..Header::default()
        };
        return Ok(Some((
            Parsed {
                header,
                len: 6,
                aad_len: 6,
            },
            hb,
        )));
    }
    match header::parse(&hb)? {
        Some(p) if p.len == hb.len() => Ok(Some((p, hb))),
        _ => Err(Error::Internal(
            "the stream header was read with a different length than it parses to".into(),
        )),
    }
}
