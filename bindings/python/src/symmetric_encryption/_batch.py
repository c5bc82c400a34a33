"""Many values in one crossing: the bodies of `Context.encrypt_many` / `decrypt_many`.

The values are packed into one buffer with an array of offsets, handed to the library in one
call (`se_encrypt_batch` / `se_decrypt_batch`, which runs large batches on every core and does
not hold the GIL: ctypes releases it for the call), and the results come back packed the same
way with a status per value. Packing and unpacking use only whole-list operations (``join``,
``accumulate``, one ``decode``), so a million short values cost a few list passes in Python.
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


def _pack(values: Sequence[Any]) -> tuple[bytes, array, list[int]]:
    """One buffer, the ``count + 1`` offsets, and the indexes of the ``None`` values."""
    try:
        # All str (the common case: a column): one join and one encode.
        joined = "".join(values)
        data = joined.encode("utf-8")
        if len(data) == len(joined):
            lengths: Iterable[int] = map(len, values)
            return data, array(_SIZE_T, accumulate(lengths, initial=0)), []
    except TypeError:
        pass
    nones = [i for i, v in enumerate(values) if v is None]
    parts = [b"" if v is None else _encode_one(v, i) for i, v in enumerate(values)]
    return b"".join(parts), array(_SIZE_T, accumulate(map(len, parts), initial=0)), nones


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
    data, offsets, nones = _pack(vals)
    off_ptr = offsets.buffer_info()[0]
    batch = ctypes.c_void_p()
    if options is not None:
        code = lib.se_encrypt_batch(ctx_handle, data, len(data), off_ptr, count,
                                    options, n_threads, ctypes.byref(batch))
    else:
        code = lib.se_decrypt_batch(ctx_handle, data, len(data), off_ptr, count, n_threads,
                                    ctypes.byref(batch))
    _native.check(code)
    try:
        size = ctypes.c_size_t()
        ptr = lib.se_batch_data(batch, ctypes.byref(size))
        raw = ctypes.string_at(ptr, size.value) if ptr else b""
        out_offsets = array(_SIZE_T)
        out_offsets.frombytes(ctypes.string_at(lib.se_batch_offsets(batch),
                                               (count + 1) * out_offsets.itemsize))
        failed: list[tuple[int, int]] = []
        if lib.se_batch_failures(batch):
            statuses = array("i")
            statuses.frombytes(ctypes.string_at(lib.se_batch_statuses(batch), count * 4))
            failed = [(i, s) for i, s in enumerate(statuses) if s]
    finally:
        lib.se_batch_free(batch)
    offs = out_offsets.tolist()
    ends = islice(offs, 1, None)
    results: list[Any]
    if text:
        try:
            whole = raw.decode("utf-8")
        except UnicodeDecodeError:
            whole = None
        if whole is not None and len(whole) == len(raw):
            results = [whole[a:b] for a, b in zip(offs, ends)]
        else:
            results = _decode_each(raw, offs, failed, options is not None)
    else:
        results = [raw[a:b] for a, b in zip(offs, ends)]
    for i in nones:
        results[i] = None
    if not failed and not any(isinstance(r, errors.Error) for r in results):
        return results
    return _failures(results, raw, offs, failed, on_error)


def _decode_each(raw: bytes, offs: list[int], failed: list[tuple[int, int]],
                 encrypting: bool) -> list[Any]:
    bad = {i for i, _ in failed}
    out: list[Any] = []
    for i, (a, b) in enumerate(zip(offs, islice(offs, 1, None))):
        try:
            out.append(raw[a:b].decode("utf-8" if i in bad or not encrypting else "ascii"))
        except UnicodeDecodeError:
            out.append(errors.ArgumentError(
                f"value {i}: this context's encoding is 'none': encrypted values are binary; "
                "use encrypt_many_bytes()") if encrypting else errors.EncodingError(
                f"value {i}: the decrypted value is not UTF-8 text: use decrypt_many_bytes()"))
    return out


def _failures(results: list[Any], raw: bytes, offs: list[int],
              failed: list[tuple[int, int]], on_error: str) -> list[Any]:
    for i, status in failed:
        message = raw[offs[i]:offs[i + 1]].decode("utf-8", "replace")
        results[i] = errors.from_status(status, f"value {i}: {message}")
    if on_error == "raise":
        first = next(r for r in results if isinstance(r, errors.Error))
        raise first
    if on_error == "none":
        return [None if isinstance(r, errors.Error) else r for r in results]
    return results
