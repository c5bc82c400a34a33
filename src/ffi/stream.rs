//! Streams: `se_writer` and `se_reader` over a file path or caller-supplied callbacks, and
//! whole-file encrypt / decrypt.

use std::ffi::{c_char, c_void};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::context::{ctx_ref, flag, se_context};
use super::value::{header_info, se_header_info, version_arg};
use super::{check_out, guard, guard_value, opt_str, req_str, se_status, write_out};
use crate::cipher::CipherName;
use crate::error::Error;
use crate::stream::{self, FileWriter, Reader, ReaderOptions, Writer, WriterOptions};

/// Write callback: write `len` bytes from `data` for the stream whose `user` pointer this is.
/// Return the number of bytes written (all of them, or a positive part), or -1 on error.
pub type se_write_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> i64>;

/// Read callback: read up to `cap` bytes into `buf`. Return the number read, 0 at the end of
/// the data, or -1 on error.
pub type se_read_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, buf: *mut u8, cap: usize) -> i64>;

/// Seek callback: move to `offset` from `whence` (0 = start, 1 = current, 2 = end) and return
/// the new absolute position, or -1 on error.
pub type se_seek_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, offset: i64, whence: i32) -> i64>;

/// Options of a stream writer. Every field's zero / -1 / NULL value means "the default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_stream_options {
    /// gzip before encrypting: -1 = default (yes for callbacks; for paths, yes unless the name
    /// ends in .zip, .gz, .gzip or .xls?), 0 = no, 1 = yes.
    pub compress: i32,
    /// The cipher version that encrypts the stream key: -1 = the primary, else 0..255.
    pub version: i32,
    /// A stream cipher other than the entry's ("aes-256-gcm", ...); NULL = the entry's.
    pub cipher_name: *const c_char,
    /// GCM chunk size: a power of two from 1024 to 16777216; 0 = the default, 65536.
    pub chunk_size: u32,
    /// Write a header: -1 = default (yes), 0, 1. A CBC stream is written without one only when
    /// the key and iv are not random and it is not compressed; GCM streams always have one.
    pub header: i32,
    /// A random stream key, encrypted into the header: -1 = default (yes), 0, 1.
    pub random_key: i32,
    /// A random iv in the header: -1 = default (yes), 0, 1. A random key and GCM need it.
    pub random_iv: i32,
}

/// Stream options with every field at its default.
#[no_mangle]
pub extern "C" fn se_stream_options_default() -> se_stream_options {
    se_stream_options {
        compress: -1,
        version: -1,
        cipher_name: std::ptr::null(),
        chunk_size: 0,
        header: -1,
        random_key: -1,
        random_iv: -1,
    }
}

/// Reads optional stream options.
///
/// # Safety
/// `opts` must be NULL or valid for a read, with `cipher_name` NULL or NUL-terminated.
unsafe fn writer_options(opts: *const se_stream_options) -> Result<WriterOptions, Error> {
    let o = if opts.is_null() {
        se_stream_options_default()
    } else {
        // SAFETY: non-NULL and readable per the caller's contract.
        unsafe { *opts }
    };
    // SAFETY: the caller's contract covers the string.
    let name = unsafe { opt_str(o.cipher_name, "cipher_name") }?;
    Ok(WriterOptions {
        compress: if o.compress == -1 {
            None
        } else {
            Some(flag(o.compress, true, "compress")?)
        },
        version: version_arg(o.version)?,
        cipher_name: name.map(CipherName::from_name).transpose()?,
        chunk_size: (o.chunk_size != 0).then_some(o.chunk_size as usize),
        header: flag(o.header, true, "header")?,
        random_key: flag(o.random_key, true, "random_key")?,
        random_iv: flag(o.random_iv, true, "random_iv")?,
    })
}

struct CallbackWriter {
    write: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i64,
    user: *mut c_void,
}

impl Write for CallbackWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: the function pointer and user pointer were given together by the caller of
        // se_writer_open_callbacks, who guarantees they stay valid while the writer lives;
        // `buf` is a valid slice for the duration of the call.
        let n = unsafe { (self.write)(self.user, buf.as_ptr(), buf.len()) };
        match n {
            n if n < 0 => Err(io::Error::other("the write callback reported an error")),
            0 if !buf.is_empty() => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the write callback wrote nothing",
            )),
            n if n as u64 > buf.len() as u64 => Err(io::Error::other(
                "the write callback claims to have written more than it was given",
            )),
            n => Ok(n as usize),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum WriterKind {
    File(FileWriter),
    Callback(Writer<CallbackWriter>),
}

/// An encrypting stream writer. Not thread-safe: use it from one thread at a time. Write with
/// `se_writer_write`, finish with `se_writer_close`, release with `se_writer_free`.
pub struct se_writer {
    inner: Option<WriterKind>,
}

fn boxed_writer(w: WriterKind) -> *mut se_writer {
    Box::into_raw(Box::new(se_writer { inner: Some(w) }))
}

/// Opens a writer that encrypts into the file at `path`. The data goes to a temporary file in
/// the same directory, renamed onto `path` by `se_writer_close`; a writer freed without close
/// leaves nothing at `path`. `opts` NULL = defaults. Free `*out` with `se_writer_free`.
/// Errors: `SE_ERROR_ARGUMENT`, `SE_ERROR_IO` (the directory is not writable),
/// `SE_ERROR_CIPHER` (unknown version), `SE_ERROR_CONFIG` (unknown cipher name).
///
/// # Safety
/// `ctx` a live context; `path` NUL-terminated; `opts` NULL or readable; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_writer_open_path(
    ctx: *const se_context,
    path: *const c_char,
    opts: *const se_stream_options,
    out: *mut *mut se_writer,
) -> se_status {
    guard("se_writer_open_path", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract on every pointer.
        let (ctx, path, opts) =
            unsafe { (ctx_ref(ctx)?, req_str(path, "path")?, writer_options(opts)?) };
        let w = FileWriter::create(ctx, Path::new(path), &opts)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, boxed_writer(WriterKind::File(w)), "out") }
    })
}

/// Opens a writer that encrypts into `write(user, ...)`. The callback and `user` must stay
/// valid until the writer is freed. The header may be written at once; the rest is written as
/// chunks fill and at `se_writer_close`. Free `*out` with `se_writer_free`.
/// Errors: as `se_writer_open_path`; `SE_ERROR_IO` when the callback fails.
///
/// # Safety
/// `ctx` a live context; `write` a valid function; `opts` NULL or readable; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_writer_open_callbacks(
    ctx: *const se_context,
    write: se_write_fn,
    user: *mut c_void,
    opts: *const se_stream_options,
    out: *mut *mut se_writer,
) -> se_status {
    guard("se_writer_open_callbacks", || {
        check_out(out, "out")?;
        let write = write.ok_or_else(|| Error::Argument("write is NULL".into()))?;
        // SAFETY: caller's contract.
        let (ctx, opts) = unsafe { (ctx_ref(ctx)?, writer_options(opts)?) };
        let w = Writer::new(ctx, CallbackWriter { write, user }, &opts)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, boxed_writer(WriterKind::Callback(w)), "out") }
    })
}

/// Borrows a live writer handle.
///
/// # Safety
/// `w` NULL or a live handle not used by another thread.
unsafe fn writer_mut<'a>(w: *mut se_writer) -> Result<&'a mut WriterKind, Error> {
    if w.is_null() {
        return Err(Error::Argument("writer is NULL".into()));
    }
    // SAFETY: non-NULL live handle, exclusively used by this thread per the contract.
    unsafe { &mut *w }
        .inner
        .as_mut()
        .ok_or_else(|| Error::Argument("the writer is already closed".into()))
}

/// Encrypts and writes `len` bytes. Errors: `SE_ERROR_ARGUMENT` (NULL, closed writer),
/// `SE_ERROR_IO` (the file or callback failed).
///
/// # Safety
/// `w` a live writer; `data` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn se_writer_write(
    w: *mut se_writer,
    data: *const u8,
    len: usize,
) -> se_status {
    guard("se_writer_write", || {
        // SAFETY: caller's contract.
        let (w, data) = unsafe { (writer_mut(w)?, super::bytes(data, len, "data")?) };
        let r = match w {
            WriterKind::File(f) => f.write_all(data),
            WriterKind::Callback(c) => c.write_all(data),
        };
        r.map_err(stream::into_error)
    })
}

/// Finishes the stream: writes the last chunk, padding or gzip trailer and, for a path,
/// renames the temporary file onto the target. Does not free the handle. After close (even a
/// failed one) the writer takes no more data.
///
/// # Safety
/// `w` a live writer.
#[no_mangle]
pub unsafe extern "C" fn se_writer_close(w: *mut se_writer) -> se_status {
    guard("se_writer_close", || {
        if w.is_null() {
            return Err(Error::Argument("writer is NULL".into()));
        }
        // SAFETY: non-NULL live handle used by one thread.
        let kind = unsafe { &mut *w }
            .inner
            .take()
            .ok_or_else(|| Error::Argument("the writer is already closed".into()))?;
        match kind {
            WriterKind::File(f) => f.finish(),
            WriterKind::Callback(c) => c.finish().map(|_| ()),
        }
    })
}

/// Frees a writer. NULL is accepted. A writer not closed is abandoned: for a path, nothing is
/// left at the target.
///
/// # Safety
/// `w` NULL or a live writer, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn se_writer_free(w: *mut se_writer) {
    guard_value("se_writer_free", (), || {
        if !w.is_null() {
            // SAFETY: created by Box::into_raw in boxed_writer; the caller gives it up.
            drop(unsafe { Box::from_raw(w) });
        }
    })
}

struct CallbackReader {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64,
    seek: se_seek_fn,
    user: *mut c_void,
}

impl Read for CallbackReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the callbacks and user pointer stay valid while the reader lives (contract of
        // se_reader_open_callbacks); `buf` is valid for writes of buf.len() bytes.
        let n = unsafe { (self.read)(self.user, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            Err(io::Error::other("the read callback reported an error"))
        } else if n as u64 > buf.len() as u64 {
            Err(io::Error::other(
                "the read callback claims to have read more than it was asked",
            ))
        } else {
            Ok(n as usize)
        }
    }
}

impl Seek for CallbackReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let seek = self.seek.ok_or_else(|| {
            io::Error::new(io::ErrorKind::Unsupported, "no seek callback was given")
        })?;
        let (offset, whence) = match pos {
            SeekFrom::Start(o) => (
                i64::try_from(o).map_err(|_| io::Error::other("offset too large"))?,
                0,
            ),
            SeekFrom::Current(o) => (o, 1),
            SeekFrom::End(o) => (o, 2),
        };
        // SAFETY: as for read.
        let n = unsafe { seek(self.user, offset, whence) };
        u64::try_from(n).map_err(|_| io::Error::other("the seek callback reported an error"))
    }
}

enum ReaderKind {
    File(Reader<File>),
    Callback(Reader<CallbackReader>),
}

macro_rules! with_reader {
    ($r:expr, $x:ident => $body:expr) => {
        match $r {
            ReaderKind::File($x) => $body,
            ReaderKind::Callback($x) => $body,
        }
    };
}

/// A decrypting stream reader. Not thread-safe: use it from one thread at a time. Free with
/// `se_reader_free`.
pub struct se_reader {
    inner: ReaderKind,
}

/// Opens a reader over the encrypted file at `path`. `version`: the cipher for a stream without
/// a header (-1 = the primary); a header's version always wins. Free `*out` with
/// `se_reader_free`. Errors: `SE_ERROR_IO` (cannot open), `SE_ERROR_CIPHER` (bad header,
/// unknown version), `SE_ERROR_AUTHENTICATION` (the key in the header fails its tag).
///
/// # Safety
/// `ctx` a live context; `path` NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_open_path(
    ctx: *const se_context,
    path: *const c_char,
    version: i32,
    out: *mut *mut se_reader,
) -> se_status {
    guard("se_reader_open_path", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let (ctx, path) = unsafe { (ctx_ref(ctx)?, req_str(path, "path")?) };
        let file = File::open(path).map_err(|e| Error::io(format!("cannot open {path}"), e))?;
        let r = Reader::new(
            ctx,
            file,
            &ReaderOptions {
                version: version_arg(version)?,
                ..ReaderOptions::default()
            },
        )
        .map_err(|e| e.context(path))?;
        let handle = Box::into_raw(Box::new(se_reader {
            inner: ReaderKind::File(r),
        }));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Opens a reader over `read(user, ...)` (and `seek`, which may be NULL: then only forward
/// reading works, and `se_reader_size` / `se_reader_seek` report an error). The callbacks and
/// `user` must stay valid until the reader is freed. The header is read at once.
///
/// # Safety
/// `ctx` a live context; `read` (and `seek` if not NULL) valid functions; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_open_callbacks(
    ctx: *const se_context,
    read: se_read_fn,
    seek: se_seek_fn,
    user: *mut c_void,
    version: i32,
    out: *mut *mut se_reader,
) -> se_status {
    guard("se_reader_open_callbacks", || {
        check_out(out, "out")?;
        let read = read.ok_or_else(|| Error::Argument("read is NULL".into()))?;
        // SAFETY: caller's contract.
        let ctx = unsafe { ctx_ref(ctx)? };
        let src = CallbackReader { read, seek, user };
        let r = Reader::new(
            ctx,
            src,
            &ReaderOptions {
                version: version_arg(version)?,
                ..ReaderOptions::default()
            },
        )?;
        let handle = Box::into_raw(Box::new(se_reader {
            inner: ReaderKind::Callback(r),
        }));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle, "out") }
    })
}

/// Borrows a live reader.
///
/// # Safety
/// `r` NULL or a live handle used by this thread only.
unsafe fn reader_mut<'a>(r: *mut se_reader) -> Result<&'a mut ReaderKind, Error> {
    if r.is_null() {
        return Err(Error::Argument("reader is NULL".into()));
    }
    // SAFETY: non-NULL live handle per the contract.
    Ok(unsafe { &mut (*r).inner })
}

/// Reads up to `cap` decrypted bytes into `buf`; `*nread` is how many (0 = the end of the
/// stream). Errors: `SE_ERROR_AUTHENTICATION` (a chunk or value fails its tag: discard what
/// was read), `SE_ERROR_CIPHER` (truncated stream, bad padding), `SE_ERROR_IO`.
///
/// # Safety
/// `r` a live reader; `buf` writable for `cap` bytes; `nread` writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_read(
    r: *mut se_reader,
    buf: *mut u8,
    cap: usize,
    nread: *mut usize,
) -> se_status {
    if !nread.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { nread.write(0) };
    }
    guard("se_reader_read", || {
        check_out(nread, "nread")?;
        // SAFETY: caller's contract.
        let r = unsafe { reader_mut(r)? };
        if buf.is_null() && cap > 0 {
            return Err(Error::Argument("buf is NULL".into()));
        }
        if cap == 0 {
            return Ok(());
        }
        // SAFETY: non-NULL and writable for `cap` bytes per the contract.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf, cap) };
        let n = loop {
            match with_reader!(r, x => x.read(buf)) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stream::into_error(e)),
            }
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(nread, n, "nread") }
    })
}

/// Moves to `offset` from `whence` (0 = start, 1 = current position, 2 = end) in the
/// decrypted data; `*position` (may be NULL) gets the new position. A chunked GCM stream
/// decrypts only the chunk holding the offset; other layouts read forward from the start.
/// Seeking past the end is allowed (reads then return 0 bytes). Errors: `SE_ERROR_ARGUMENT`
/// (bad whence, before the start), `SE_ERROR_IO` (the source cannot seek).
///
/// # Safety
/// `r` a live reader; `position` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_seek(
    r: *mut se_reader,
    offset: i64,
    whence: i32,
    position: *mut u64,
) -> se_status {
    guard("se_reader_seek", || {
        // SAFETY: caller's contract.
        let r = unsafe { reader_mut(r)? };
        let pos = match whence {
            0 => SeekFrom::Start(
                u64::try_from(offset)
                    .map_err(|_| Error::Argument(format!("offset {offset} is before the start")))?,
            ),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => {
                return Err(Error::Argument(format!(
                    "whence must be 0, 1 or 2, got {whence}"
                )))
            }
        };
        let p = with_reader!(r, x => x.seek(pos)).map_err(stream::into_error)?;
        if !position.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { position.write(p) };
        }
        Ok(())
    })
}

/// The size of the decrypted data, when it is known without decrypting it (uncompressed
/// streams: from the encrypted size). Not authenticated until the data is read.
/// Errors: `SE_ERROR_ARGUMENT` for compressed streams (the size is only known by reading to
/// the end), `SE_ERROR_IO` (the source cannot seek).
///
/// # Safety
/// `r` a live reader; `size` writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_size(r: *mut se_reader, size: *mut u64) -> se_status {
    guard("se_reader_size", || {
        check_out(size, "size")?;
        // SAFETY: caller's contract.
        let r = unsafe { reader_mut(r)? };
        let s = with_reader!(r, x => x.size())?.ok_or_else(|| {
            Error::Argument(
                "the size of a compressed stream is not known without decompressing it: read it to the end".into(),
            )
        })?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(size, s, "size") }
    })
}

/// Sets the reader's output limit: no more than `max_output` bytes of plaintext in all (no
/// plaintext past offset `max_output`) are handed out; a read or seek that would go past it
/// fails with `SE_ERROR_CIPHER` and a message naming the limit. 0 removes the limit (the
/// default: streams are read in bounded memory, so their size is not limited). Use it where the
/// output goes somewhere bounded and the stream is not trusted: a compressed stream inflates
/// up to about 1000 times. Errors: `SE_ERROR_ARGUMENT` (NULL reader).
///
/// # Safety
/// `r` a live reader.
#[no_mangle]
pub unsafe extern "C" fn se_reader_set_max_output(r: *mut se_reader, max_output: u64) -> se_status {
    guard("se_reader_set_max_output", || {
        // SAFETY: caller's contract.
        let r = unsafe { reader_mut(r)? };
        let limit = (max_output != 0).then_some(max_output);
        with_reader!(r, x => x.set_max_output(limit));
        Ok(())
    })
}

/// Describes the stream's header into `*out` (`present` = 0 for a stream without one).
///
/// # Safety
/// `r` a live reader; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_header(
    r: *mut se_reader,
    out: *mut se_header_info,
) -> se_status {
    guard("se_reader_header", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let r = unsafe { reader_mut(r)? };
        let info = header_info(with_reader!(r, x => x.header()));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, info, "out") }
    })
}

/// Frees a reader. NULL is accepted.
///
/// # Safety
/// `r` NULL or a live reader, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn se_reader_free(r: *mut se_reader) {
    guard_value("se_reader_free", (), || {
        if !r.is_null() {
            // SAFETY: created by Box::into_raw in se_reader_open_*; the caller gives it up.
            drop(unsafe { Box::from_raw(r) });
        }
    })
}

/// Encrypts the file `source_path` into `target_path` in bounded memory (temporary file +
/// rename: nothing is left at the target on failure). `compress`: -1 = by the target's name as
/// the gem does (not for .zip .gz .gzip .xls?), 0, 1. `version`: -1 = the primary.
/// A new target is created with mode 0600; an existing regular file's permission bits are kept
/// (without setuid/setgid); a symbolic link at the target is replaced, not followed. A
/// character device or FIFO target (`/dev/null`, a named pipe) is written in place, never
/// replaced; a directory, block device or socket is refused with `SE_ERROR_ARGUMENT`.
/// Errors: `SE_ERROR_IO`, `SE_ERROR_CIPHER` (unknown version), `SE_ERROR_ARGUMENT`.
///
/// # Safety
/// `ctx` a live context; paths NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_file(
    ctx: *const se_context,
    source_path: *const c_char,
    target_path: *const c_char,
    compress: i32,
    version: i32,
) -> se_status {
    guard("se_encrypt_file", || {
        // SAFETY: caller's contract.
        let (ctx, src, dst) = unsafe {
            (
                ctx_ref(ctx)?,
                req_str(source_path, "source_path")?,
                req_str(target_path, "target_path")?,
            )
        };
        let compress = if compress == -1 {
            None
        } else {
            Some(flag(compress, true, "compress")?)
        };
        stream::encrypt_file(
            ctx,
            Path::new(src),
            Path::new(dst),
            compress,
            version_arg(version)?,
        )
    })
}

/// Decrypts the file `source_path` into `target_path` in bounded memory. The plaintext is
/// written to a temporary file renamed onto the target only after the whole stream was read
/// and, for GCM, authenticated; on failure nothing is left at the target. (CBC streams carry
/// no authentication: only their padding is checked.) The target rules of `se_encrypt_file`
/// apply (0600, links replaced, devices and FIFOs written in place: there, data written
/// before a failure stays written).
/// Errors: `SE_ERROR_AUTHENTICATION`, `SE_ERROR_CIPHER`, `SE_ERROR_IO`, `SE_ERROR_ARGUMENT`.
///
/// # Safety
/// `ctx` a live context; paths NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_file(
    ctx: *const se_context,
    source_path: *const c_char,
    target_path: *const c_char,
) -> se_status {
    guard("se_decrypt_file", || {
        // SAFETY: caller's contract.
        let (ctx, src, dst) = unsafe {
            (
                ctx_ref(ctx)?,
                req_str(source_path, "source_path")?,
                req_str(target_path, "target_path")?,
            )
        };
        stream::decrypt_file(ctx, Path::new(src), Path::new(dst))
    })
}

/// Decrypts the rest of reader `r` into the file `target_path`, as `se_decrypt_file` does for
/// two paths: the plaintext goes to a temporary file (created with `O_EXCL`, mode 0600) in the
/// target's directory, renamed onto the target only after the stream was read to its end and,
/// for GCM, authenticated; on failure nothing is left at the target. A character device or
/// FIFO target is written in place; a directory or other special file is refused
/// (`SE_ERROR_ARGUMENT`). `*written` (may be NULL) gets the number of bytes written. The
/// reader is not freed; after a failure only `se_reader_free` is useful.
/// Errors: `SE_ERROR_AUTHENTICATION`, `SE_ERROR_CIPHER`, `SE_ERROR_IO`, `SE_ERROR_ARGUMENT`.
///
/// # Safety
/// `r` a live reader used by this thread only; `target_path` NUL-terminated; `written` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn se_reader_copy_to_file(
    r: *mut se_reader,
    target_path: *const c_char,
    written: *mut u64,
) -> se_status {
    if !written.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { written.write(0) };
    }
    guard("se_reader_copy_to_file", || {
        // SAFETY: caller's contract.
        let (r, dst) = unsafe { (reader_mut(r)?, req_str(target_path, "target_path")?) };
        let n = with_reader!(r, x => stream::copy_to_file(x, Path::new(dst)))?;
        if !written.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { written.write(n) };
        }
        Ok(())
    })
}

/// As `se_decrypt_file`, with an output limit: when the decrypted data would be larger than
/// `max_output` bytes the call fails with `SE_ERROR_CIPHER` (a message naming the limit) and
/// nothing is left at the target. 0 = no limit (as `se_decrypt_file`).
///
/// # Safety
/// `ctx` a live context; paths NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_file_max_output(
    ctx: *const se_context,
    source_path: *const c_char,
    target_path: *const c_char,
    max_output: u64,
) -> se_status {
    guard("se_decrypt_file_max_output", || {
        // SAFETY: caller's contract.
        let (ctx, src, dst) = unsafe {
            (
                ctx_ref(ctx)?,
                req_str(source_path, "source_path")?,
                req_str(target_path, "target_path")?,
            )
        };
        let opts = ReaderOptions {
            max_output: (max_output != 0).then_some(max_output),
            ..ReaderOptions::default()
        };
        stream::decrypt_file_with(ctx, Path::new(src), Path::new(dst), &opts)
    })
}
