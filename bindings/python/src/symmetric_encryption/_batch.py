"""Many values in one crossing: the bodies of `Context.encrypt_many` / `decrypt_many`.

The values go to the library in one call and come back in one buffer, with a status per value.
The library runs large batches on every core and ctypes releases the GIL for the call. What is
left in Python is kept to whole-list operations that run in C: when every value is text (or
every value bytes) and none contains NUL, the values are joined with NUL and the results come
back joined the same way (`se_*_batch_split`, `se_batch_join`), so a million values cost a
``join``, an ``encode``, a ``decode`` and a ``split``. Otherwise (mixed types, NUL bytes,
results that contain NUL) values are packed with offsets and results sliced by offset.
"""

from __future__ import annotations

import ctypes
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


def _joined(vals: Sequence[Any]) -> tuple[bytes | None, list[int]]:
    """The values joined by NUL (``None`` as empty) when they are all text or all bytes and
    none contains NUL, else None; and the indexes of the ``None`` values."""
    nones: list[int] = []
    if None in vals:
        nones = [i for i, v in enumerate(vals) if v is None]
    items: Sequence[Any] = vals
    if nones:
        first = next((v for v in vals if v is not None), "")
        blank = "" if isinstance(first, str) else b""
        items = [blank if v is None else v for v in vals]
    try:
        text = "\0".join(items)
    except TypeError:
        pass
    else:
        if text.count("\0") != len(items) - 1:
            return None, nones
        return text.encode("utf-8"), nones
    try:
        data = b"\0".join(items)
    except TypeError:
        return None, nones
    if data.count(b"\0") != len(items) - 1:
        return None, nones
    return data, nones


def _by_offsets(vals: Sequence[Any]) -> tuple[bytes, array[int]]:
    parts = [b"" if v is None else _encode_one(v, i) for i, v in enumerate(vals)]
    return b"".join(parts), array(_SIZE_T, accumulate(map(len, parts), initial=0))


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
    data, nones = _joined(vals)
    batch = ctypes.c_void_p()
    out = ctypes.byref(batch)
    if data is not None:
        if options is not None:
            code = lib.se_encrypt_batch_split(ctx_handle, data, len(data), _NUL, options,
                                              n_threads, out)
        else:
            code = lib.se_decrypt_batch_split(ctx_handle, data, len(data), _NUL, n_threads, out)
    else:
        data, offsets = _by_offsets(vals)
        ptr = offsets.buffer_info()[0]
        if options is not None:
            code = lib.se_encrypt_batch(ctx_handle, data, len(data), ptr, count, options,
                                        n_threads, out)
        else:
            code = lib.se_decrypt_batch(ctx_handle, data, len(data), ptr, count, n_threads, out)
    _native.check(code)
    try:
        failed: list[tuple[int, int]] = []
        if lib.se_batch_failures(batch):
            statuses = array("i")
            statuses.frombytes(ctypes.string_at(lib.se_batch_statuses(batch), count * 4))
            failed = [(i, s) for i, s in enumerate(statuses) if s]
        results = _joined_results(batch, text, options is not None) if count > 1 else None
        if results is None:
            results = _sliced_results(batch, count, text, failed, options is not None)
    finally:
        lib.se_batch_free(batch)
    for i in nones:
        results[i] = None
    if not failed and not any(isinstance(r, errors.Error) for r in results):
        return results
    return _failures(results, failed, on_error)


def _joined_results(batch: ctypes.c_void_p, text: bool, encrypting: bool) -> list[Any] | None:
    """The results split at NUL, or None when a result contains NUL or is not text (UTF-8;
    ASCII for encrypted values, so that binary ones are reported)."""
    joined = _native.se_bytes()
    if lib.se_batch_join(batch, _NUL, ctypes.byref(joined)):
        return None
    raw = _native.take_bytes(joined)
    if not text:
        return raw.split(b"\0")
    try:
        return raw.decode("ascii" if encrypting else "utf-8").split("\0")
    except UnicodeDecodeError:
        return None


def _sliced_results(batch: ctypes.c_void_p, count: int, text: bool,
                    failed: list[tuple[int, int]], encrypting: bool) -> list[Any]:
    size = ctypes.c_size_t()
    ptr = lib.se_batch_data(batch, ctypes.byref(size))
    raw = ctypes.string_at(ptr, size.value) if ptr else b""
    offsets = array(_SIZE_T)
    offsets.frombytes(ctypes.string_at(lib.se_batch_offsets(batch),
                                       (count + 1) * offsets.itemsize))
    offs = offsets.tolist()
    slices = [raw[a:b] for a, b in zip(offs, islice(offs, 1, None))]
    if not text:
        return slices
    bad = {i for i, _ in failed}
    out: list[Any] = []
    for i, s in enumerate(slices):
        try:
            out.append(s.decode("utf-8" if i in bad or not encrypting else "ascii"))
        except UnicodeDecodeError:
            out.append(errors.ArgumentError(
                f"value {i}: this context's encoding is 'none': encrypted values are binary; "
                "use encrypt_many_bytes()") if encrypting else errors.EncodingError(
                f"value {i}: the decrypted value is not UTF-8 text: use decrypt_many_bytes()"))
    return out


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
