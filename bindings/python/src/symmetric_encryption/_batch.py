"""Many values in one crossing: the bodies of `Context.encrypt_many` / `decrypt_many`.

The values go to the library in one call and come back in one buffer, with a status per value.
The library runs large batches on every core and ctypes releases the GIL for the call. What is
left in Python is kept to whole-list operations that run in C: when every value is text (or
every value bytes), the values are joined with NUL and the results come back joined the same
way (`se_*_batch_split`, `se_batch_join`), so a million values cost a ``join``, a ``decode``
and a ``split``. Joined text is handed over as its own UTF-8 form (no ``encode`` copy, see
`_utf8_of`), and the joined results are decoded straight from the library's buffer. A value
that contains NUL shows up as a count the library did not expect; then (and for mixed types,
or results that contain NUL) values are packed with offsets and results sliced by offset.
"""

from __future__ import annotations

import ctypes
import threading
from array import array
from itertools import accumulate, islice
from typing import Any, Iterable, Literal, Sequence

from . import _native, errors
from ._native import lib

#: What to do with a value that fails.
OnError = Literal["raise", "none", "return"]

#: The array typecode of size_t.
_SIZE_T = "Q" if ctypes.sizeof(ctypes.c_size_t) == 8 else "I"
_ON_ERROR = ("raise", "none", "return")
_NUL = 0


def _threads(threads: int | None) -> int:
    if threads is None:
        return 0
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive number or None, not {threads!r}")
    return threads


def _encode_one(v: object, i: int) -> bytes:
    if type(v) is bytes:
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    raise TypeError(f"value {i}: expected str, bytes or None, not {type(v).__name__}")


class _Joined:
    """Values joined by NUL, as the library takes them: ``arg`` (bytes, or a pointer into
    ``keep``, a str that stays referenced for the call) and ``size`` bytes."""

    __slots__ = ("arg", "size", "keep")

    def __init__(self, joined: str | bytes) -> None:
        self.keep = joined
        if isinstance(joined, bytes):
            self.arg: Any = joined
            self.size = len(joined)
            return
        size = ctypes.c_ssize_t()
        address = _utf8_of(joined, size)
        if address is None:
            self.arg = joined.encode("utf-8")
            self.size = len(self.arg)
        else:
            self.arg = ctypes.c_char_p(address)
            self.size = size.value


def _utf8_of(text: str, size: Any) -> int | None:
    """The address of ``text``'s UTF-8 form, kept by the str itself (for ASCII text, its own
    characters: no copy), through the C API's PyUnicode_AsUTF8AndSize; None where ctypes has
    no ``pythonapi`` (then the caller encodes). Raises UnicodeEncodeError as ``encode`` does."""
    if _AS_UTF8 is None:
        return None
    address: int | None = _AS_UTF8(text, ctypes.byref(size))
    return address


def _as_utf8() -> Any:
    try:
        f = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
    except AttributeError:
        return None
    f.restype = ctypes.c_void_p
    f.argtypes = [ctypes.py_object, ctypes.POINTER(ctypes.c_ssize_t)]
    return f


_AS_UTF8 = _as_utf8()


def _join(items: Sequence[Any]) -> _Joined | None:
    """``items`` joined by NUL when they are all text or all bytes, else None."""
    for sep in ("\0", b"\0"):
        try:
            joined = sep.join(items)
        except TypeError:
            continue
        return _Joined(joined)
    return None


def _joined(vals: Sequence[Any]) -> tuple[_Joined | None, list[int]]:
    """The values joined by NUL (``None`` as empty) when they are all text or all bytes, else
    None; and the indexes of the ``None`` values. A value that contains NUL is not looked for
    here: the library then counts more values than were given, and `run` falls back to
    offsets (a scan of the joined text would cost as much as the join)."""
    joined = _join(vals)
    if joined is not None:
        return joined, []
    nones = [i for i, v in enumerate(vals) if v is None]
    if not nones:
        return None, nones
    first = next((v for v in vals if v is not None), "")
    blank = "" if isinstance(first, str) else b""
    return _join([blank if v is None else v for v in vals]), nones


def _by_offsets(vals: Sequence[Any], base: int = 0) -> tuple[bytes, array[int]]:
    parts = [b"" if v is None else _encode_one(v, base + i) for i, v in enumerate(vals)]
    return b"".join(parts), array(_SIZE_T, accumulate(map(len, parts), initial=0))


#: Values per piece of a pipelined batch (see `_pipelined`): small enough that the first join
#: and the last split, which overlap nothing, are a small share of a large batch; large enough
#: that a piece's thread and call cost little beside its work.
_PIECE = 65536


def run(
    ctx_handle: int,
    values: Iterable[Any],
    options: Any,
    text: bool,
    on_error: str,
    threads: int | None,
) -> list[Any]:
    """Encrypts (``options``, a byref of se_encrypt_options, given) or decrypts ``values``;
    results as str when ``text``."""
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}, not {on_error!r}")
    n_threads = _threads(threads)
    if isinstance(values, (str, bytes, bytearray, memoryview)):
        raise TypeError("expected a sequence of values, not a single str or bytes value")
    vals = values if isinstance(values, (list, tuple)) else list(values)
    count = len(vals)
    if count == 0:
        return []
    encrypting = options is not None
    # The limit only for a batch large enough to pipeline (it reads the environment and asks
    # the OS for this process's CPUs).
    if count >= 2 * _PIECE and (limit := _limit(n_threads)) >= 2:
        results, failed, undecodable = _pipelined(ctx_handle, vals, options, text, limit - 1)
    else:
        joined, nones = _joined(vals)
        batch = _call(ctx_handle, vals, joined, options, n_threads, 0)
        results, failed, undecodable = _collect(batch, count, text, encrypting, nones, 0)
    if not failed and not undecodable:
        return results
    return _failures(results, failed, on_error)


def _limit(n_threads: int) -> int:
    """The most threads a call may keep busy, as the library resolves it
    (``se_batch_thread_limit``): ``n_threads``, else SYMMETRIC_ENCRYPTION_THREADS, else the
    CPUs this process may use (its affinity and cgroup quota).

    :raises ArgumentError: SYMMETRIC_ENCRYPTION_THREADS is not a positive number.
    """
    if "se_batch_thread_limit" in _native.MISSING:  # an older library: one piece at a time
        return 1
    out = ctypes.c_size_t()
    _native.check(lib.se_batch_thread_limit(n_threads, ctypes.byref(out)))
    return out.value


def _call(ctx_handle: int, vals: Sequence[Any], joined: _Joined | None, options: Any,
          n_threads: int, base: int) -> ctypes.c_void_p:
    """The library's batch of ``vals`` (free it with se_batch_free): by ``joined`` when given
    and the library counts as many values in it, else by offsets. Raises the call's error,
    so on the thread that made the call (the library keeps the message per thread)."""
    count = len(vals)
    batch = ctypes.c_void_p()
    out = ctypes.byref(batch)
    code = 0
    if joined is not None:
        if options is not None:
            code = lib.se_encrypt_batch_split(ctx_handle, joined.arg, joined.size, _NUL,
                                              options, n_threads, out)
        else:
            code = lib.se_decrypt_batch_split(ctx_handle, joined.arg, joined.size, _NUL,
                                              n_threads, out)
        if not code and lib.se_batch_count(batch) != count:
            # A value contains NUL: split there, the library saw more values than were given.
            lib.se_batch_free(batch)
            batch = ctypes.c_void_p()
            out = ctypes.byref(batch)
            joined = None
    if joined is None:
        data, offsets = _by_offsets(vals, base)
        ptr = offsets.buffer_info()[0]
        if options is not None:
            code = lib.se_encrypt_batch(ctx_handle, data, len(data), ptr, count, options,
                                        n_threads, out)
        else:
            code = lib.se_decrypt_batch(ctx_handle, data, len(data), ptr, count, n_threads, out)
    _native.check(code)
    return batch


def _collect(batch: ctypes.c_void_p, count: int, text: bool, encrypting: bool,
             nones: list[int], base: int) -> tuple[list[Any], list[tuple[int, int]], bool]:
    """The results of ``batch`` (freed here), the failed values as (index, status) with
    indexes from ``base``, and whether a result is an error in place of text that did not
    decode."""
    try:
        failed: list[tuple[int, int]] = []
        if lib.se_batch_failures(batch):
            statuses = array("i")
            statuses.frombytes(ctypes.string_at(lib.se_batch_statuses(batch), count * 4))
            failed = [(base + i, s) for i, s in enumerate(statuses) if s]
        results = _joined_results(batch, text, encrypting) if count > 1 else None
        undecodable = False
        if results is None:
            results, undecodable = _sliced_results(batch, count, text, failed, encrypting, base)
    finally:
        lib.se_batch_free(batch)
    for i in nones:
        results[i] = None
    return results, failed, undecodable


class _Piece(threading.Thread):
    """One piece of a pipelined batch: its library call on a thread of its own (ctypes
    releases the GIL for it). The call leaves ``batch`` set, or ``error`` (raised by
    `wait`); ``batch`` is None again once the piece's results are collected."""

    def __init__(self, ctx_handle: int, vals: Sequence[Any], joined: _Joined | None,
                 options: Any, n_threads: int, base: int, nones: list[int]) -> None:
        super().__init__(name="symmetric-encryption batch piece", daemon=True)
        self.args_ = (ctx_handle, vals, joined, options, n_threads, base)
        self.count = len(vals)
        self.base = base
        self.nones = nones
        self.batch: ctypes.c_void_p | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.batch = _call(*self.args_)
        except BaseException as e:  # handed to the caller's thread by wait()
            self.error = e

    def wait(self) -> None:
        """Waits for the call; raises its error."""
        self.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """After an exception: lets the call end, and frees what it made."""
        if self.ident is not None:
            self.join()
        batch, self.batch = self.batch, None
        if batch is not None:
            lib.se_batch_free(batch)


def _pipelined(ctx_handle: int, vals: Sequence[Any], options: Any, text: bool,
               n_threads: int) -> tuple[list[Any], list[tuple[int, int]], bool]:
    """A large batch in pieces of `_PIECE` values, with the Python work overlapping the
    library's: while piece i is in the library (on a thread of its own, without the GIL), this
    thread joins piece i + 1 and then splits the results of piece i - 1. Done in one piece,
    the join, the library's work and the split run one after the other. One piece is in the
    library at a time, on ``n_threads`` (one fewer than the call may use: this thread is the
    other one). Results and failures (indexes into the whole batch) are those of one piece."""
    results: list[Any] = []
    failed: list[tuple[int, int]] = []
    undecodable = False
    encrypting = options is not None
    # Every piece started and not yet collected: whatever happens (the library refuses a
    # piece, KeyboardInterrupt), each one's call is waited for and what it made is freed.
    live: list[_Piece] = []

    def collect(piece: _Piece) -> None:
        nonlocal undecodable
        batch, piece.batch = piece.batch, None
        assert batch is not None
        part, part_failed, bad = _collect(batch, piece.count, text, encrypting, piece.nones,
                                          piece.base)
        live.remove(piece)
        results.extend(part)
        failed.extend(part_failed)
        undecodable = undecodable or bad

    try:
        previous: _Piece | None = None
        for base in range(0, len(vals), _PIECE):
            values = vals[base:base + _PIECE]
            joined, nones = _joined(values)
            if previous is not None:
                previous.wait()
            current = _Piece(ctx_handle, values, joined, options, n_threads, base, nones)
            live.append(current)
            current.start()
            if previous is not None:
                collect(previous)
            previous = current
        if previous is not None:
            previous.wait()
            collect(previous)
    finally:
        for piece in live:
            piece.abandon()
    return results, failed, undecodable


def _joined_results(batch: ctypes.c_void_p, text: bool, encrypting: bool) -> list[Any] | None:
    """The results split at NUL, or None when a result contains NUL or is not text (UTF-8;
    ASCII for encrypted values, so that binary ones are reported)."""
    joined = _native.se_bytes()
    if lib.se_batch_join(batch, _NUL, ctypes.byref(joined)):
        return None
    if not joined.data:
        return None
    try:
        # Read in place: for text, decoded straight from the library's buffer (one copy).
        address = ctypes.cast(joined.data, ctypes.c_void_p).value or 0
        view = memoryview((ctypes.c_char * joined.len).from_address(address))
        if not text:
            return view.tobytes().split(b"\0")
        try:
            return str(view, "ascii" if encrypting else "utf-8").split("\0")
        except UnicodeDecodeError:
            return None
    finally:
        lib.se_bytes_free(ctypes.byref(joined))


def _sliced_results(batch: ctypes.c_void_p, count: int, text: bool,
                    failed: list[tuple[int, int]], encrypting: bool,
                    base: int = 0) -> tuple[list[Any], bool]:
    """The results sliced by offset, and whether one of them is an error in place of text
    that did not decode."""
    size = ctypes.c_size_t()
    ptr = lib.se_batch_data(batch, ctypes.byref(size))
    raw = ctypes.string_at(ptr, size.value) if ptr else b""
    offsets = array(_SIZE_T)
    offsets.frombytes(ctypes.string_at(lib.se_batch_offsets(batch),
                                       (count + 1) * offsets.itemsize))
    offs = offsets.tolist()
    slices = [raw[a:b] for a, b in zip(offs, islice(offs, 1, None))]
    if not text:
        return slices, False
    bad = {i - base for i, _ in failed}
    undecodable = False
    out: list[Any] = []
    for i, s in enumerate(slices):
        try:
            out.append(s.decode("utf-8" if i in bad or not encrypting else "ascii"))
        except UnicodeDecodeError:
            undecodable = True
            out.append(errors.ArgumentError(
                f"value {base + i}: this context's encoding is 'none': encrypted values are binary; "
                "use encrypt_many_bytes()") if encrypting else errors.EncodingError(
                f"value {base + i}: the decrypted value is not UTF-8 text: use decrypt_many_bytes()"))
    return out, undecodable


def _failures(results: list[Any], failed: list[tuple[int, int]], on_error: str) -> list[Any]:
    for i, status in failed:
        message = results[i]
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        results[i] = errors.from_status(status, f"value {i}: {message}")
    if on_error == "raise":
        first = next(r for r in results if isinstance(r, errors.Error))
        raise first
    if on_error == "none":
        return [None if isinstance(r, errors.Error) else r for r in results]
    return results
