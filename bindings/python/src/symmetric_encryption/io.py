"""Encrypted files and streams as :mod:`io` objects.

:meth:`Context.open <symmetric_encryption.Context.open>` returns a :class:`Reader` or a
:class:`Writer`; both are binary file objects (``io.BufferedIOBase``), context managers, and
work with ``shutil.copyfileobj`` and ``io.TextIOWrapper``::

    with ctx.open("data.csv.enc", "wb") as f:
        f.write(b"id,name\\n")
    with ctx.open("data.csv.enc", "r") as f:   # text
        for line in f:
            ...

The native reader and writer must not be used by two threads at once; each object here holds a
lock around its native calls, so sharing one between threads is safe (if rarely useful).
"""

from __future__ import annotations

import ctypes
import io
import threading
from typing import TYPE_CHECKING, Any, cast

from . import _native, errors
from ._native import lib

if TYPE_CHECKING:
    from .context import Context, Header

_DEFAULT_BUFFER = 64 * 1024


class _Callbacks:
    """Python file object behind C read/write/seek callbacks.

    An exception raised by the file object cannot cross the C stack: it is kept here, the
    callback returns -1, and :meth:`reraise` raises it once the C call has returned.
    """

    def __init__(self, fileobj: Any) -> None:
        self.fileobj = fileobj
        self.exc: BaseException | None = None
        readinto = getattr(fileobj, "readinto", None)
        self._readinto = readinto
        self.read_fn = _native.se_read_fn(self._read)
        self.write_fn = _native.se_write_fn(self._write)
        self.seek_fn = _native.se_seek_fn(self._seek)

    def _read(self, _user: int, buf: int, cap: int) -> int:
        try:
            if self._readinto is not None:
                view = (ctypes.c_char * cap).from_address(buf)
                n = self._readinto(view)
                if n is None:  # non-blocking file with no data: treat as an error
                    raise BlockingIOError("the file object returned None (non-blocking)")
                return int(n)
            data = self.fileobj.read(cap)
            if data is None:
                raise BlockingIOError("the file object returned None (non-blocking)")
            n = len(data)
            if n > cap:
                raise ValueError(f"read({cap}) returned {n} bytes")
            ctypes.memmove(buf, data, n)
            return n
        except BaseException as e:  # noqa: BLE001 - re-raised after the C call
            self.exc = e
            return -1

    def _write(self, _user: int, data: int, n: int) -> int:
        try:
            chunk = ctypes.string_at(data, n)
            view = memoryview(chunk)
            while view:
                written = self.fileobj.write(view)
                if written is None:
                    raise BlockingIOError("the file object returned None (non-blocking)")
                view = view[written:]
            return n
        except BaseException as e:  # noqa: BLE001
            self.exc = e
            return -1

    def _seek(self, _user: int, offset: int, whence: int) -> int:
        try:
            return int(self.fileobj.seek(offset, whence))
        except BaseException as e:  # noqa: BLE001
            self.exc = e
            return -1

    def check(self, code: int) -> None:
        """Raises the file object's exception if a callback failed, else the status's."""
        exc, self.exc = self.exc, None
        if exc is not None:
            raise exc
        _native.check(code)


def _is_path(file: object) -> bool:
    import os

    return isinstance(file, (str, bytes, os.PathLike))


class _RawReader(io.RawIOBase):
    """Unbuffered decrypted stream over an ``se_reader``."""

    def __init__(self, ctx: Context, file: object, version: int) -> None:
        super().__init__()
        self._ctx = ctx  # the reader may borrow the context's ciphers
        self._lock = threading.Lock()  # the native reader is single-threaded
        self._handle: int | None = None
        self._cb: _Callbacks | None = None
        self._seekable = True
        # The plaintext position, kept here: tell() needs no foreign call, and a reader over
        # an unseekable source is never asked to seek (a failed seek ends the stream).
        self._pos = 0
        self.name = file if _is_path(file) else getattr(file, "name", None)
        out = ctypes.c_void_p()
        if _is_path(file):
            _native.require("se_reader_open_path")
            _native.check(
                lib.se_reader_open_path(
                    ctx._handle(), _native.c_path(cast(str, file), "path"), version,
                    ctypes.byref(out),
                )
            )
        else:
            if not (hasattr(file, "readinto") or hasattr(file, "read")):
                raise TypeError(
                    f"open() needs a path or a readable binary file, not {type(file).__name__}"
                )
            _native.require("se_reader_open_callbacks")
            cb = _Callbacks(file)
            seekable = getattr(file, "seekable", None)
            self._seekable = bool(seekable and seekable())
            seek_fn = cb.seek_fn if self._seekable else _native.se_seek_fn()  # NULL
            code = lib.se_reader_open_callbacks(
                ctx._handle(), cb.read_fn, seek_fn, None, version, ctypes.byref(out)
            )
            cb.check(code)
            self._cb = cb
        self._handle = out.value

    def _set_max_output(self, max_output: int) -> None:
        _native.require("se_reader_set_max_output")
        self._call(lib.se_reader_set_max_output(self._h(), max_output))

    def _h(self) -> int:
        if not self._handle:
            raise ValueError("I/O operation on closed file")
        return self._handle

    def _call(self, code: int) -> None:
        if self._cb is not None:
            self._cb.check(code)
        else:
            _native.check(code)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def readinto(self, b: Any) -> int:
        self._h()  # raises on a closed reader
        view = memoryview(b).cast("B")
        n = len(view)
        if n == 0:
            return 0
        buf = (ctypes.c_char * n).from_buffer(view)
        nread = ctypes.c_size_t()
        with self._lock:
            self._call(lib.se_reader_read(self._h(), buf, n, ctypes.byref(nread)))
            self._pos += nread.value
        return nread.value

    def readall(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            chunk = self.read(_DEFAULT_BUFFER)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._h()  # raises on a closed reader
        if not self._seekable:
            raise io.UnsupportedOperation("the underlying file is not seekable")
        if whence not in (io.SEEK_SET, io.SEEK_CUR, io.SEEK_END):
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if whence == io.SEEK_SET and offset < 0:
            raise ValueError(f"negative seek position {offset}")
        pos = ctypes.c_uint64()
        with self._lock:
            self._call(lib.se_reader_seek(self._h(), offset, whence, ctypes.byref(pos)))
            self._pos = pos.value
        return pos.value

    def tell(self) -> int:
        self._h()
        return self._pos

    def size(self) -> int:
        size = ctypes.c_uint64()
        with self._lock:
            self._call(lib.se_reader_size(self._h(), ctypes.byref(size)))
        return size.value

    def header(self) -> Header | None:
        from .context import Header

        info = _native.se_header_info()
        with self._lock:
            self._call(lib.se_reader_header(self._h(), ctypes.byref(info)))
        return Header._from_c(info)

    def close(self) -> None:
        with self._lock:
            h, self._handle = self._handle, None
            if h:
                lib.se_reader_free(h)
        super().close()

    def __del__(self, _free: Any = lib.se_reader_free) -> None:
        # Free the native reader even when the object was never closed. (`_free` is bound at
        # definition time: module globals may be gone at interpreter exit.)
        h = getattr(self, "_handle", None)
        if h:
            self._handle = None
            _free(h)


class Reader(io.BufferedIOBase):
    """A decrypted, readable, buffered view of an encrypted file or stream.

    Returned by :meth:`Context.open(file, "rb") <symmetric_encryption.Context.open>`.
    Supports ``read``, ``read1``, ``readinto``, ``readline``, line iteration, ``peek``, and
    ``seek`` / ``tell`` in plaintext positions (when the source is seekable).
    """

    _raw: _RawReader
    _buffer: io.BufferedReader

    def __init__(self) -> None:
        raise TypeError("use Context.open(file, 'rb')")

    @classmethod
    def _open(cls, ctx: Context, file: object, version: int) -> Reader:
        self = cls.__new__(cls)
        io.BufferedIOBase.__init__(self)
        self._raw = _RawReader(ctx, file, version)
        self._buffer = io.BufferedReader(self._raw, _DEFAULT_BUFFER)
        return self

    @property
    def name(self) -> Any:
        """The path or the file object's name, when there is one."""
        return self._raw.name

    @property
    def mode(self) -> str:
        return "rb"

    @property
    def header(self) -> Header | None:
        """The stream's header, or None for a stream without one."""
        return self._raw.header()

    @property
    def size(self) -> int:
        """The plaintext size in bytes.

        Uncompressed streams know it from their encrypted size (not yet authenticated). A
        compressed stream is decrypted to its end to find out, and the position restored.
        """
        try:
            return self._raw.size()
        except errors.ArgumentError:
            if not self.seekable():
                raise
        pos = self._buffer.tell()
        try:
            return self._buffer.seek(0, io.SEEK_END)
        finally:
            self._buffer.seek(pos)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def writable(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> bytes:
        return self._buffer.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self._buffer.read1(size)

    def readinto(self, b: Any) -> int:
        return self._buffer.readinto(b)

    def readinto1(self, b: Any) -> int:
        return self._buffer.readinto1(b)

    def peek(self, size: int = 0) -> bytes:
        return self._buffer.peek(size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._buffer.readline(size)

    def __iter__(self) -> Reader:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self

    def __next__(self) -> bytes:
        line = self._buffer.readline()
        if not line:
            raise StopIteration
        return line

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._buffer.seek(offset, whence)

    def tell(self) -> int:
        return self._buffer.tell()

    def close(self) -> None:
        if not self.closed:
            try:
                self._buffer.close()
            finally:
                super().close()

    def detach(self) -> io.RawIOBase:
        raise io.UnsupportedOperation("detach")

    def __repr__(self) -> str:
        return f"<symmetric_encryption.Reader name={self.name!r}{' closed' if self.closed else ''}>"


class Writer(io.BufferedIOBase):
    """Encrypts what is written to it into a file or stream.

    Returned by :meth:`Context.open(file, "wb") <symmetric_encryption.Context.open>`.
    :meth:`close` finishes the stream (last chunk, authentication tag) and, for a path, moves
    the temporary file over the target. Leaving a ``with`` block by an exception abandons the
    stream instead: a path target is left untouched.
    """

    _ctx: Context
    _lock: threading.Lock
    _handle: int | None
    _cb: _Callbacks | None
    _name: Any
    _cipher_name: bytes | None

    def __init__(self) -> None:
        raise TypeError("use Context.open(file, 'wb')")

    @classmethod
    def _open(
        cls,
        ctx: Context,
        file: object,
        compress: int,
        version: int,
        cipher_name: str | None,
        chunk_size: int | None,
    ) -> Writer:
        self = cls.__new__(cls)
        io.BufferedIOBase.__init__(self)
        self._ctx = ctx
        self._lock = threading.Lock()  # the native writer is single-threaded
        self._handle = None
        self._cb = None
        self._name = file if _is_path(file) else getattr(file, "name", None)
        _native.require("se_stream_options_default")
        opts = lib.se_stream_options_default()
        opts.compress = compress
        opts.version = version
        self._cipher_name = _native.c_str(cipher_name, "cipher_name")  # kept alive
        opts.cipher_name = self._cipher_name
        if chunk_size is not None:
            if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
                raise TypeError("chunk_size must be an int")
            if not 0 < chunk_size < 2**32:
                raise errors.ArgumentError(f"chunk_size must be positive, got {chunk_size}")
            opts.chunk_size = chunk_size
        out = ctypes.c_void_p()
        if _is_path(file):
            _native.require("se_writer_open_path")
            _native.check(
                lib.se_writer_open_path(
                    ctx._handle(), _native.c_path(cast(str, file), "path"), ctypes.byref(opts),
                    ctypes.byref(out),
                )
            )
        else:
            if not hasattr(file, "write"):
                raise TypeError(
                    f"open() needs a path or a writable binary file, not {type(file).__name__}"
                )
            _native.require("se_writer_open_callbacks")
            cb = _Callbacks(file)
            code = lib.se_writer_open_callbacks(
                ctx._handle(), cb.write_fn, None, ctypes.byref(opts), ctypes.byref(out)
            )
            cb.check(code)
            self._cb = cb
        self._handle = out.value
        return self

    @property
    def name(self) -> Any:
        """The path or the file object's name, when there is one."""
        return self._name

    @property
    def mode(self) -> str:
        return "wb"

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def _call(self, code: int) -> None:
        if self._cb is not None:
            self._cb.check(code)
        else:
            _native.check(code)

    def write(self, b: Any) -> int:
        """Encrypts and writes ``b`` (bytes-like); returns its length."""
        if isinstance(b, bytes):
            data: Any = b
            n = len(b)
        else:
            view = memoryview(b).cast("B")
            n = len(view)
            data = (ctypes.c_char * n).from_buffer(view) if not view.readonly else view.tobytes()
        with self._lock:
            h = self._handle
            if not h:
                raise ValueError("I/O operation on closed file")
            if n:
                self._call(lib.se_writer_write(h, data, n))
        return n

    def flush(self) -> None:
        # Data is encrypted in chunks; a partial chunk cannot be written before close().
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def close(self) -> None:
        """Finishes the stream. Closing twice does nothing."""
        with self._lock:
            h, self._handle = self._handle, None
            if h:
                try:
                    self._call(lib.se_writer_close(h))
                    if self._cb is not None:
                        flush = getattr(self._cb.fileobj, "flush", None)
                        if flush is not None:
                            flush()
                finally:
                    lib.se_writer_free(h)
        super().close()

    def abandon(self) -> None:
        """Discards the stream without finishing it: a path target is left untouched."""
        with self._lock:
            h, self._handle = self._handle, None
            if h:
                lib.se_writer_free(h)
        super().close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abandon()
        else:
            self.close()

    def __del__(self, _free: Any = lib.se_writer_free) -> None:
        # Never finish a stream implicitly: an unclosed writer is abandoned.
        h = getattr(self, "_handle", None)
        if h:
            self._handle = None
            _free(h)

    def detach(self) -> io.RawIOBase:
        raise io.UnsupportedOperation("detach")

    def __repr__(self) -> str:
        closed = " closed" if self.closed else ""
        return f"<symmetric_encryption.Writer name={self._name!r}{closed}>"


__all__ = ["Reader", "Writer"]
