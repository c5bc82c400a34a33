//! The decrypting layer under [`Reader`](super::Reader): the encrypted input ([`Source`]) and
//! the body that turns it into plaintext ([`Body`]), for each layout: CBC, single-value GCM,
//! chunked GCM. One chunk in memory at a time; a read of at least a chunk is opened straight
//! into the caller's buffer.

use std::io::{self, Read, Seek, SeekFrom};

use zeroize::Zeroizing;

use super::chunked::{self, Chunker, NONCE_PREFIX_LEN};
use super::{to_io, IO_BLOCK, MAX_CHUNK_SIZE};
use crate::cipher::{gcm_iv, Cipher, CipherName};
use crate::crypto::{CbcStream, PreparedKey, BLOCK_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::header::Parsed;
use crate::wipe;

/// The encrypted input: counts what it read (to find the stream's start again) and can give
/// back the few bytes read while looking for a header.
pub(super) struct Source<R> {
    pub(super) inner: R,
    pub(super) pending: Vec<u8>,
    pub(super) consumed: u64,
}

impl<R: Read> Source<R> {
    pub(super) fn new(inner: R) -> Self {
        Source {
            inner,
            pending: Vec::new(),
            consumed: 0,
        }
    }

    pub(super) fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        if !self.pending.is_empty() {
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.consumed += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("cannot read the encrypted stream", e)),
            }
        }
    }

    /// Appends to `buf` until it holds `want` bytes or the input ends. `grow`: enlarge `buf` a
    /// block at a time (for data of unknown size) instead of all at once.
    pub(super) fn read_full(&mut self, buf: &mut Vec<u8>, want: usize, grow: bool) -> Result<()> {
        while buf.len() < want {
            let start = buf.len();
            let step = if grow {
                (want - start).min(IO_BLOCK.max(start))
            } else {
                want - start
            };
            wipe::resize(buf, start + step);
            let n = self.read_some(&mut buf[start..]);
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            };
            buf.truncate(start + n);
            if n == 0 {
                break;
            }
        }
        Ok(())
    }
}

impl<R: Read + Seek> Source<R> {
    pub(super) fn position(&mut self) -> Result<u64> {
        self.inner.stream_position().map_err(seek_error)
    }

    /// Where the stream began in `inner` (where the reader was handed it). Valid only while
    /// `inner` is where the reads counted in `consumed` left it.
    pub(super) fn stream_start(&mut self) -> Result<u64> {
        let here = self.position()?;
        here.checked_sub(self.consumed)
            .ok_or_else(|| Error::Internal("the stream position went backwards".into()))
    }

    /// Moves `inner` to the absolute position `to`, keeping the count of bytes consumed in step
    /// with the stream's `start`.
    pub(super) fn seek_to(&mut self, start: u64, to: u64) -> Result<()> {
        self.inner.seek(SeekFrom::Start(to)).map_err(seek_error)?;
        self.consumed = to.saturating_sub(start);
        Ok(())
    }
}

/// Reads into `buf` until it is full or the input ends; returns how many bytes were read.
pub(super) fn read_up_to<R: Read>(src: &mut Source<R>, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = src.read_some(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

pub(super) fn seek_error(e: io::Error) -> Error {
    Error::io("cannot seek in the encrypted stream", e)
}

/// The decrypting layer: ciphertext in, decrypted (possibly gzip) bytes out.
pub(super) struct Body<R> {
    pub(super) src: Source<R>,
    pub(super) kind: Kind,
    /// Decrypted bytes not handed out yet: `out[out_pos..]`. At most one chunk. Wiped when it
    /// grows and when the reader is dropped.
    pub(super) out: Zeroizing<Vec<u8>>,
    pub(super) out_pos: usize,
    pub(super) done: bool,
}

// One per stream, never in a collection: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Kind {
    Cbc {
        dec: Option<CbcStream>,
        key: PreparedKey,
        iv: [u8; BLOCK_LEN],
        saw_any: bool,
        inbuf: Vec<u8>,
    },
    /// GCM with the tag in the header: the whole body is read, then verified.
    Single {
        key: PreparedKey,
        iv: [u8; 12],
        aad: Vec<u8>,
        tag: [u8; TAG_LEN],
    },
    Chunked {
        chunker: Chunker,
        chunk_size: usize,
        index: u64,
        /// The first byte of the next frame, read to learn that the current one is not the last.
        peeked: Option<u8>,
    },
}

impl<R: Read> Body<R> {
    pub(super) fn is_drained(&self) -> bool {
        self.done && self.out_pos >= self.out.len()
    }

    /// Makes `out[out_pos..]` non-empty, unless the stream has ended.
    pub(super) fn fill(&mut self) -> Result<()> {
        while self.out_pos >= self.out.len() && !self.done {
            self.out.clear();
            self.out_pos = 0;
            match &mut self.kind {
                Kind::Cbc {
                    dec,
                    saw_any,
                    inbuf,
                    ..
                } => {
                    inbuf.resize(IO_BLOCK, 0);
                    let n = self.src.read_some(inbuf)?;
                    let Some(d) = dec.as_mut() else {
                        self.done = true;
                        continue;
                    };
                    // Room first: the decryptor appends, and Vec growth would not wipe.
                    wipe::reserve(&mut self.out, n + BLOCK_LEN);
                    if n == 0 {
                        let d = dec.take().expect("checked above");
                        d.finish(&mut self.out, *saw_any)?;
                        self.done = true;
                    } else {
                        *saw_any = true;
                        d.update(&inbuf[..n], &mut self.out)?;
                    }
                }
                Kind::Single { key, iv, aad, tag } => {
                    self.src
                        .read_full(&mut self.out, MAX_CHUNK_SIZE + 1, true)?;
                    if self.out.len() > MAX_CHUNK_SIZE {
                        self.out.clear();
                        return Err(Error::Cipher(format!(
                            "the stream has its auth tag in the header, so all of it has to be \
                             read before any of it can be verified, and it is larger than the \
                             {MAX_CHUNK_SIZE}-byte limit for that (writers chunk anything larger)"
                        )));
                    }
                    key.gcm_open(iv, aad, &mut self.out, tag, "stream")?;
                    self.done = true;
                }
                Kind::Chunked {
                    chunker,
                    chunk_size,
                    index,
                    peeked,
                } => {
                    // One buffer: the frame and one byte more, decrypted in place.
                    let frame = *chunk_size + TAG_LEN;
                    if let Some(b) = peeked.take() {
                        wipe::extend(&mut self.out, &[b]);
                    }
                    self.src.read_full(&mut self.out, frame + 1, false)?;
                    if self.out.is_empty() {
                        if *index == 0 {
                            return Err(chunked::cut_to_header());
                        }
                        self.done = true;
                        continue;
                    }
                    let last = self.out.len() <= frame;
                    if !last {
                        *peeked = self.out.pop();
                    }
                    let plain_len = chunker.open(*index, last, &mut self.out)?;
                    self.out.truncate(plain_len);
                    *index += 1;
                    self.done = last;
                }
            }
        }
        Ok(())
    }

    pub(super) fn read_plain(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.out_pos >= self.out.len() {
            if let Kind::Chunked { chunk_size, .. } = &self.kind {
                if !self.done && buf.len() >= *chunk_size {
                    return self.open_into(buf);
                }
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }

    /// Reads the next chunk of a chunked stream into `buf` (at least a chunk long) and opens
    /// it there: no copy through `out`, no zero-filling. The tag and the one byte that tells
    /// whether more frames follow go to a small array. Returns 0 at the end of the stream.
    pub(super) fn open_into(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Kind::Chunked {
            chunker,
            chunk_size,
            index,
            peeked,
        } = &mut self.kind
        else {
            unreachable!("only called for chunked streams");
        };
        let size = *chunk_size;
        loop {
            let mut got = 0;
            if let Some(b) = peeked.take() {
                buf[0] = b;
                got = 1;
            }
            got += read_up_to(&mut self.src, &mut buf[got..size])?;
            let mut tail = [0u8; TAG_LEN + 1];
            let mut tail_len = 0;
            if got == size {
                tail_len = read_up_to(&mut self.src, &mut tail)?;
            }
            if got + tail_len == 0 {
                if *index == 0 {
                    return Err(chunked::cut_to_header());
                }
                self.done = true;
                return Ok(0);
            }
            let last = tail_len <= TAG_LEN;
            if !last {
                *peeked = Some(tail[TAG_LEN]);
                tail_len = TAG_LEN;
            }
            // The frame is buf[..got] followed by tail[..tail_len]; its last 16 bytes the tag.
            let frame_len = got + tail_len;
            if frame_len < TAG_LEN {
                return Err(chunked::too_short(*index, frame_len));
            }
            let body_len = frame_len - TAG_LEN;
            let mut tag = [0u8; TAG_LEN];
            for (k, t) in tag.iter_mut().enumerate() {
                let at = body_len + k;
                *t = if at < got { buf[at] } else { tail[at - got] };
            }
            chunker.open_detached(*index, last, &mut buf[..body_len], &tag)?;
            *index += 1;
            self.done = last;
            if body_len > 0 || last {
                return Ok(body_len);
            }
        }
    }

    /// Reads to the end of the stream, verifying and discarding.
    pub(super) fn drain(&mut self) -> Result<()> {
        loop {
            self.out_pos = self.out.len();
            self.fill()?;
            if self.is_drained() {
                return Ok(());
            }
        }
    }
}

impl<R: Read> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plain(buf).map_err(to_io)
    }
}

/// The gzip decoder reads the decrypted chunk in place: no second buffer of plaintext.
impl<R: Read> io::BufRead for Body<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.out_pos >= self.out.len() {
            self.fill().map_err(to_io)?;
        }
        Ok(&self.out[self.out_pos.min(self.out.len())..])
    }

    fn consume(&mut self, amt: usize) {
        self.out_pos = (self.out_pos + amt).min(self.out.len());
    }
}

impl<R: Read + Seek> Body<R> {
    /// See [`Reader::size`]. Moves `src`; the caller puts it back.
    pub(super) fn size(&mut self, body_start: u64) -> Result<u64> {
        let end = self.src.inner.seek(SeekFrom::End(0)).map_err(seek_error)?;
        let d = end.checked_sub(body_start).ok_or_else(|| {
            Error::Cipher("the stream is shorter than its header: it was truncated".into())
        })?;
        match &self.kind {
            Kind::Chunked { chunk_size, .. } => chunked::plaintext_size(d, *chunk_size as u64),
            Kind::Single { .. } => Ok(d),
            Kind::Cbc { key, iv, .. } => {
                if d == 0 {
                    return Ok(0);
                }
                if d % BLOCK_LEN as u64 != 0 {
                    return Err(Error::Cipher(format!(
                        "wrong final block length: the CBC data is {d} bytes, not a multiple of \
                         16 (the stream was truncated)"
                    )));
                }
                let tail = if d >= 32 { 32 } else { 16 };
                self.src
                    .inner
                    .seek(SeekFrom::Start(body_start + d - tail))
                    .map_err(seek_error)?;
                let mut last = [0u8; 32];
                self.src
                    .inner
                    .read_exact(&mut last[..tail as usize])
                    .map_err(|e| Error::io("cannot read the encrypted stream", e))?;
                let (prev, block) = if tail == 32 {
                    let mut p = [0u8; BLOCK_LEN];
                    p.copy_from_slice(&last[..16]);
                    (p, &last[16..32])
                } else {
                    (*iv, &last[..16])
                };
                let mut plain = Vec::with_capacity(16);
                key.cbc_decrypt(&prev, block, &mut plain)?;
                Ok(d - 16 + plain.len() as u64)
            }
        }
    }
}

pub(super) fn cbc_kind(key: PreparedKey, iv: [u8; BLOCK_LEN]) -> Kind {
    Kind::Cbc {
        dec: Some(key.cbc_decryptor(iv)),
        key,
        iv,
        saw_any: false,
        inbuf: Vec::new(),
    }
}

pub(super) fn gcm_kind(
    entry: &Cipher,
    name: CipherName,
    key: PreparedKey,
    p: &Parsed,
    bytes: Vec<u8>,
) -> Result<Kind> {
    let h = &p.header;
    if h.is_chunked() {
        if h.auth_tag.is_some() {
            return Err(Error::Cipher(
                "the stream's header has both an auth tag and a chunk size: a chunked stream \
                 carries its tags after each chunk"
                    .into(),
            ));
        }
        let iv = h.iv.as_deref().unwrap_or_default();
        let prefix = <[u8; NONCE_PREFIX_LEN]>::try_from(iv).map_err(|_| {
            Error::Cipher(format!(
                "the chunked stream's nonce prefix (its header's iv) is {} bytes, it must be 7",
                iv.len()
            ))
        })?;
        let chunk_size = h
            .chunk_size()
            .ok_or_else(|| Error::Internal("chunked without a chunk size".into()))?;
        return Ok(Kind::Chunked {
            chunker: Chunker {
                key,
                prefix,
                aad: bytes,
            },
            chunk_size,
            index: 0,
            peeked: None,
        });
    }
    let Some(tag) = h.auth_tag else {
        return Err(Error::Cipher(format!(
            "{name} is an authenticated cipher, but the stream's header has no auth tag and is \
             not chunked: a stream written by an unauthenticated cipher (or by \
             symmetric-encryption 4.6) has to be read with the cipher that wrote it"
        )));
    };
    let iv = gcm_iv(h.iv.as_deref().or(entry.iv()), name)?;
    Ok(Kind::Single {
        key,
        iv,
        aad: bytes[..p.aad_len].to_vec(),
        tag,
    })
}

impl<R> Body<R> {
    pub(super) fn new(src: Source<R>, kind: Kind) -> Self {
        Body {
            src,
            kind,
            out: Zeroizing::new(Vec::new()),
            out_pos: 0,
            done: false,
        }
    }
}
