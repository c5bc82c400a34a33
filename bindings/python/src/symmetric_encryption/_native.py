"""The native library: finding it, loading it, and declaring its C functions.

This is the only module that knows the C ABI (``include/symmetric_encryption.h``). Everything
else calls the functions declared here through :data:`lib` and turns statuses into exceptions
with :func:`check`.

ctypes releases the GIL around every foreign call made through a ``CDLL``, so encryption in
one thread does not stop other Python threads. The one exception is :data:`held`, for the
value calls on short values (see there).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from collections.abc import Iterator
from pathlib import Path

from . import errors

#: Environment variable naming the shared library to load (a file path).
LIB_ENV_VAR = "SYMMETRIC_ENCRYPTION_LIB"

if sys.platform == "darwin":
    LIB_FILE = "libsymmetric_encryption.dylib"
elif sys.platform == "win32":
    LIB_FILE = "symmetric_encryption.dll"
else:
    LIB_FILE = "libsymmetric_encryption.so"


def _candidates() -> list[tuple[str, Path]]:
    """Where the library may be, in the order they are tried, with why each is a candidate."""
    found: list[tuple[str, Path]] = []
    env = os.environ.get(LIB_ENV_VAR)
    if env:
        found.append((f"${LIB_ENV_VAR}", Path(env)))
    here = Path(__file__).resolve().parent
    found.append(("inside the installed package", here / LIB_FILE))
    # Running from a checkout: <root>/bindings/python/src/symmetric_encryption/_native.py
    root = here.parents[3] if len(here.parents) > 3 else None
    if root is not None:
        found.append(("the repository's target/release", root / "target" / "release" / LIB_FILE))
    return found


def _system_dirs() -> list[Path]:
    """Directories a packager installs shared libraries into, most specific first."""
    dirs = [Path(d) for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    dirs += [Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"]
    multiarch = getattr(sys.implementation, "_multiarch", None)
    for base in ("/usr/local/lib", "/usr/lib", "/lib"):
        if multiarch:
            dirs.append(Path(base) / multiarch)
        dirs += [Path(base + "64"), Path(base)]
    return list(dict.fromkeys(dirs))


def _system_candidates() -> Iterator[tuple[str, Path]]:
    """An installed system library: the development symlink ``libsymmetric_encryption.so`` or
    the versioned ``.so.MAJOR`` that a runtime package ships, in the system directories, then
    where ``ctypes.util.find_library`` (the linker cache) says it is."""
    for d in _system_dirs():
        for path in [d / LIB_FILE, *sorted(d.glob(LIB_FILE + ".[0-9]*"))]:
            if path.is_file():
                yield "an installed system library", path
    import ctypes.util

    # Slow (it runs ldconfig), so only reached when nothing above was found.
    name = ctypes.util.find_library("symmetric_encryption")
    if name:
        # A bare name (Linux): the dynamic linker finds it in its configured directories.
        yield "the system linker's search (ctypes.util.find_library)", Path(name)


def _load() -> tuple[ctypes.CDLL, Path]:
    tried: list[str] = []
    for why, path in itertools.chain(_candidates(), _system_candidates()):
        if why.startswith("the system linker"):
            try:
                return ctypes.CDLL(str(path)), path
            except OSError as e:
                tried.append(f"  {path} ({why}): {e}")
            continue
        if not path.is_file():
            tried.append(f"  {path} ({why}): not found")
        else:
            try:
                return ctypes.CDLL(str(path)), path
            except OSError as e:
                tried.append(f"  {path} ({why}): {e}")
        if why.startswith("$"):
            # An explicit choice that does not work is an error, not a reason to load another
            # library silently.
            break
    raise ImportError(
        "symmetric_encryption: cannot load the native library "
        f"{LIB_FILE}. Looked in:\n"
        + "\n".join(tried)
        + "\n  the system library directories and the linker cache: not found"
        + f"\nBuild it with `cargo build --release --lib` and set {LIB_ENV_VAR} to its path, "
        "install the system library (libsymmetric_encryption.so), "
        "or reinstall the package from the repository (pip install ./bindings/python)."
    )


lib, LIB_PATH = _load()

# ---- statuses ----------------------------------------------------------------------------

SE_OK = 0
SE_ERROR_ARGUMENT = 1
SE_ERROR_CONFIG = 2
SE_ERROR_KEYSTORE = 3
SE_ERROR_CIPHER = 4
SE_ERROR_AUTHENTICATION = 5
SE_ERROR_ENCODING = 6
SE_ERROR_IO = 7
SE_ERROR_INTERNAL = 99

# ---- structs -----------------------------------------------------------------------------


class se_bytes(Structure):
    # POINTER(c_char) so that `data[:len]` copies into bytes without another foreign call.
    _fields_ = [("data", POINTER(c_char)), ("len", c_size_t)]


class se_encrypt_options(Structure):
    _fields_ = [
        ("random_iv", c_int32),
        ("compress", c_int32),
        ("header", c_int32),
        ("version", c_int32),
    ]


class se_value_call(Structure):
    """The fixed arguments of ``se_encrypt_call`` / ``se_decrypt_call``, passed by pointer."""

    _fields_ = [
        ("ctx", c_void_p),
        ("out_buf", c_void_p),
        ("out_cap", c_size_t),
        ("out_len", c_size_t),
    ]


class se_cipher_info(Structure):
    _fields_ = [
        ("version", c_int32),
        ("cipher_name", c_char * 32),
        ("encoding", c_char * 16),
        ("always_add_header", c_int32),
        ("authenticated", c_int32),
        ("key_len", c_uint32),
        ("iv_len", c_uint32),
    ]


class se_header_info(Structure):
    _fields_ = [
        ("present", c_int32),
        ("version", c_int32),
        ("compressed", c_int32),
        ("iv_len", c_uint32),
        ("has_key", c_int32),
        ("has_auth_tag", c_int32),
        ("chunk_size", c_uint32),
        ("header_len", c_uint32),
        ("cipher_name", c_char * 32),
    ]


class se_stream_options(Structure):
    _fields_ = [
        ("compress", c_int32),
        ("version", c_int32),
        ("cipher_name", c_char_p),
        ("chunk_size", c_uint32),
        ("header", c_int32),
        ("random_key", c_int32),
        ("random_iv", c_int32),
    ]


class se_key_options(Structure):
    _fields_ = [
        ("environments", c_char_p),
        ("app_name", c_char_p),
        ("keystore", c_char_p),
        ("cipher_name", c_char_p),
        ("key_path", c_char_p),
        ("key_permissions", c_char_p),
        ("regions", c_char_p),
        ("rolling_deploy", c_int32),
    ]


se_write_fn = CFUNCTYPE(c_int64, c_void_p, c_void_p, c_size_t)
se_read_fn = CFUNCTYPE(c_int64, c_void_p, c_void_p, c_size_t)
se_seek_fn = CFUNCTYPE(c_int64, c_void_p, c_int64, c_int32)

ctx_p = c_void_p  # se_context * (opaque)
writer_p = c_void_p  # se_writer *
reader_p = c_void_p  # se_reader *
status = c_int32

# name: (restype, argtypes). Data pointers are c_char_p so `bytes` pass without a copy.
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "se_version": (c_char_p, []),
    "se_backend": (c_char_p, []),
    "se_last_error": (c_char_p, []),
    "se_context_free": (None, [ctx_p]),
    "se_context_new_cipher": (
        status,
        [c_char_p, c_char_p, c_size_t, c_char_p, c_size_t, c_int32, c_char_p, c_int32,
         POINTER(ctx_p)],
    ),
    "se_context_combine": (status, [POINTER(ctx_p), c_size_t, c_int32, POINTER(ctx_p)]),
    "se_context_cipher_count": (c_size_t, [ctx_p]),
    "se_context_cipher_info": (status, [ctx_p, c_size_t, POINTER(se_cipher_info)]),
    "se_context_randomize_iv": (c_int32, [ctx_p]),
    "se_encrypt_options_default": (se_encrypt_options, []),
    "se_encrypt": (status, [ctx_p, c_char_p, c_size_t, POINTER(se_encrypt_options),
                            POINTER(se_bytes)]),
    "se_decrypt": (status, [ctx_p, c_char_p, c_size_t, POINTER(se_bytes)]),
    "se_encrypt_call": (status, [POINTER(se_value_call), c_char_p, c_int32,
                                 POINTER(se_encrypt_options)]),
    "se_decrypt_call": (status, [POINTER(se_value_call), c_char_p, c_int32]),
    "se_decrypt_version": (status, [ctx_p, c_char_p, c_size_t, c_int32, POINTER(se_bytes)]),
    "se_encrypt_binary": (status, [ctx_p, c_char_p, c_size_t, POINTER(se_encrypt_options),
                                   POINTER(se_bytes)]),
    "se_decrypt_binary": (status, [ctx_p, c_char_p, c_size_t, c_int32, POINTER(se_bytes)]),
    "se_encode": (status, [ctx_p, c_char_p, c_size_t, POINTER(se_bytes)]),
    "se_decode": (status, [ctx_p, c_char_p, c_size_t, POINTER(se_bytes)]),
    "se_bytes_free": (None, [POINTER(se_bytes)]),
    "se_is_encrypted": (c_int32, [ctx_p, c_char_p, c_size_t]),
    "se_header": (status, [ctx_p, c_char_p, c_size_t, c_int32, POINTER(se_header_info)]),
    "se_random_bytes": (status, [c_size_t, POINTER(se_bytes)]),
    # Configuration files (C-API-PLAN.md "Coming").
    "se_context_load": (status, [c_char_p, c_char_p, POINTER(ctx_p)]),
    "se_context_load_yaml": (status, [c_char_p, c_size_t, c_char_p, POINTER(ctx_p)]),
    # Streams.
    "se_stream_options_default": (se_stream_options, []),
    "se_writer_open_path": (status, [ctx_p, c_char_p, POINTER(se_stream_options),
                                     POINTER(writer_p)]),
    "se_writer_open_callbacks": (status, [ctx_p, se_write_fn, c_void_p,
                                          POINTER(se_stream_options), POINTER(writer_p)]),
    "se_writer_write": (status, [writer_p, c_void_p, c_size_t]),
    "se_writer_close": (status, [writer_p]),
    "se_writer_free": (None, [writer_p]),
    "se_reader_open_path": (status, [ctx_p, c_char_p, c_int32, POINTER(reader_p)]),
    "se_reader_open_callbacks": (status, [ctx_p, se_read_fn, se_seek_fn, c_void_p, c_int32,
                                          POINTER(reader_p)]),
    "se_reader_read": (status, [reader_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "se_reader_seek": (status, [reader_p, c_int64, c_int32, POINTER(c_uint64)]),
    "se_reader_size": (status, [reader_p, POINTER(c_uint64)]),
    "se_reader_header": (status, [reader_p, POINTER(se_header_info)]),
    "se_reader_free": (None, [reader_p]),
    "se_encrypt_file": (status, [ctx_p, c_char_p, c_char_p, c_int32, c_int32]),
    "se_decrypt_file": (status, [ctx_p, c_char_p, c_char_p]),
    # Configuration handles and key management (keys.py).
    "se_key_options_default": (se_key_options, []),
    "se_config_load": (status, [c_char_p, POINTER(c_void_p)]),
    "se_config_parse_yaml": (status, [c_char_p, c_size_t, c_char_p, POINTER(c_void_p)]),
    "se_config_free": (None, [c_void_p]),
    "se_config_to_yaml": (status, [c_void_p, POINTER(se_bytes)]),
    "se_config_write": (status, [c_void_p, c_char_p]),
    "se_config_describe": (status, [c_void_p, POINTER(se_bytes)]),
    "se_config_environments": (status, [c_void_p, POINTER(se_bytes)]),
    "se_config_versions": (status, [c_void_p, c_char_p, POINTER(se_bytes)]),
    "se_config_context": (status, [c_void_p, c_char_p, POINTER(ctx_p)]),
    "se_config_generate": (status, [c_char_p, POINTER(se_key_options), POINTER(c_void_p),
                                    POINTER(c_void_p)]),
    "se_config_rotate_keys": (status, [c_void_p, POINTER(se_key_options), POINTER(c_void_p)]),
    "se_config_rotate_kek": (status, [c_void_p, POINTER(se_key_options), POINTER(c_void_p)]),
    "se_config_activate_key": (status, [c_void_p, POINTER(se_key_options), POINTER(c_void_p)]),
    "se_config_cleanup_plan": (status, [c_void_p, POINTER(se_key_options), POINTER(c_void_p)]),
    "se_config_cleanup_keys": (status, [c_void_p, POINTER(se_key_options), POINTER(c_void_p)]),
    "se_config_migrate": (status, [c_void_p, POINTER(c_void_p)]),
    "se_reencrypt": (status, [ctx_p, c_char_p, c_int32, POINTER(c_void_p)]),
    "se_report_free": (None, [c_void_p]),
    "se_report_stdout": (c_char_p, [c_void_p]),
    "se_report_stderr": (c_char_p, [c_void_p]),
    "se_report_line_count": (c_size_t, [c_void_p]),
    "se_report_line": (c_char_p, [c_void_p, c_size_t]),
    "se_report_file_count": (c_size_t, [c_void_p]),
    "se_report_file": (c_char_p, [c_void_p, c_size_t]),
    "se_report_variable_count": (c_size_t, [c_void_p]),
    "se_report_variable": (status, [c_void_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p),
                                    POINTER(c_int32)]),
    "se_report_removal_count": (c_size_t, [c_void_p]),
    "se_report_removal": (status, [c_void_p, c_size_t, POINTER(c_char_p),
                                   POINTER(POINTER(ctypes.c_uint8)), POINTER(c_size_t)]),
    "se_report_written": (c_int32, [c_void_p]),
    "se_report_failures": (c_size_t, [c_void_p]),
    "se_cli_main": (c_int32, [c_int32, POINTER(c_char_p)]),
    # issue 14: the decompression limit of values, the output limit of streams
    "se_context_with_max_decompressed_size": (status, [ctx_p, c_uint64, POINTER(ctx_p)]),
    "se_context_max_decompressed_size": (c_uint64, [ctx_p]),
    "se_reader_set_max_output": (status, [reader_p, c_uint64]),
    "se_decrypt_file_max_output": (status, [ctx_p, c_char_p, c_char_p, c_uint64]),
    # issue 17: batches (packed, a status per value) and loading with a key directory
    "se_encrypt_batch": (status, [ctx_p, c_char_p, c_size_t, c_void_p, c_size_t,
                                  POINTER(se_encrypt_options), c_size_t, POINTER(c_void_p)]),
    "se_decrypt_batch": (status, [ctx_p, c_char_p, c_size_t, c_void_p, c_size_t, c_size_t,
                                  POINTER(c_void_p)]),
    "se_encrypt_batch_split": (status, [ctx_p, c_char_p, c_size_t, ctypes.c_uint8,
                                        POINTER(se_encrypt_options), c_size_t,
                                        POINTER(c_void_p)]),
    "se_decrypt_batch_split": (status, [ctx_p, c_char_p, c_size_t, ctypes.c_uint8, c_size_t,
                                        POINTER(c_void_p)]),
    "se_batch_join": (status, [c_void_p, ctypes.c_uint8, POINTER(se_bytes)]),
    "se_batch_count": (c_size_t, [c_void_p]),
    "se_batch_failures": (c_size_t, [c_void_p]),
    "se_batch_data": (c_void_p, [c_void_p, POINTER(c_size_t)]),
    "se_batch_offsets": (c_void_p, [c_void_p]),
    "se_batch_statuses": (c_void_p, [c_void_p]),
    "se_batch_free": (None, [c_void_p]),
    "se_batch_thread_limit": (status, [c_size_t, POINTER(c_size_t)]),
    "se_context_load_in": (status, [c_char_p, c_char_p, c_char_p, POINTER(ctx_p)]),
    "se_context_load_yaml_in": (status, [c_char_p, c_size_t, c_char_p, c_char_p,
                                         POINTER(ctx_p)]),
}

#: Functions of the ABI that the loaded library does not export (an older build).
MISSING: set[str] = set()

for _name, (_restype, _argtypes) in _SIGNATURES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        MISSING.add(_name)
        continue
    _fn.restype = _restype
    _fn.argtypes = _argtypes


# Hot path. Declared argtypes make ctypes convert every argument through `from_param`, which
# costs about as much as the encryption of a short value. `fast` is a second handle on the
# same library whose functions have no argtypes; only the value methods of context.py call
# them, always with exactly these argument types: ctypes.c_void_p (handles), bytes (data),
# ctypes.c_size_t (lengths), ctypes.byref(...) (structs and out-parameters), int (int32).
fast = ctypes.CDLL(str(LIB_PATH))
for _name in ("se_encrypt", "se_decrypt", "se_decrypt_version"):
    getattr(fast, _name).restype = c_int32
fast.se_bytes_free.restype = None

# Hotter still: the value calls on short values, through a ``PyDLL``, which keeps the GIL for
# the call. Releasing and taking back the GIL costs about 90 ns, more than half the library's
# work on a 32-byte value (about 150 ns); such a call holds the GIL for less time than a thread
# switch would cost another thread. context.py passes values of at most 4096 bytes here (the others go
# through `fast`, which releases the GIL), with the argument types of `fast`, the length as a
# plain int (the C parameter is an int32_t: no c_size_t to build).
held = ctypes.PyDLL(str(LIB_PATH))
for _name in ("se_encrypt_call", "se_decrypt_call"):
    if _name not in MISSING:  # else context.py uses the allocating calls for every value
        getattr(held, _name).restype = c_int32

_SIZES: dict[int, c_size_t] = {}


def size_arg(n: int) -> c_size_t:
    """A c_size_t for `n` (shared, never mutated: small lengths are cached)."""
    s = _SIZES.get(n)
    if s is None:
        s = c_size_t(n)
        if n < 4096:
            _SIZES[n] = s
    return s


def require(name: str) -> None:
    """Raises :class:`errors.UnsupportedError` when the library lacks function ``name``."""
    if name in MISSING:
        raise errors.UnsupportedError(
            f"the native library at {LIB_PATH} does not export {name}: it is older than this "
            "Python package; rebuild it (cargo build --release --lib)"
        )


def last_error() -> str:
    """The message of the last failed call on this thread."""
    msg = lib.se_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def check(code: int) -> None:
    """Raises the exception for a non-OK status, with the library's message."""
    if code != SE_OK:
        raise errors.from_status(code, last_error())


def take_bytes(buf: se_bytes) -> bytes:
    """Copies a library-owned buffer into Python bytes and frees (zeroes) it."""
    if not buf.data:
        return b""
    try:
        data: bytes = buf.data[: buf.len]
        return data
    finally:
        lib.se_bytes_free(ctypes.byref(buf))


def c_str(value: str | bytes | None, what: str) -> bytes | None:
    """A NUL-terminated UTF-8 argument, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        raise TypeError(f"{what} must be str or None, not {type(value).__name__}")
    if b"\0" in value:
        raise errors.ArgumentError(f"{what} contains a NUL character")
    return value


def c_path(value: str | os.PathLike[str] | bytes | None, what: str) -> bytes | None:
    """A file system path argument, or None."""
    if value is None:
        return None
    try:
        p = os.fsencode(value)
    except TypeError:
        raise TypeError(
            f"{what} must be a path (str, bytes or os.PathLike), not {type(value).__name__}"
        ) from None
    if b"\0" in p:
        raise errors.ArgumentError(f"{what} contains a NUL character")
    return p


def version() -> str:
    """The native library's version string."""
    v: bytes = lib.se_version()
    return v.decode()


def backend() -> str:
    """The crypto backend compiled into the native library."""
    b: bytes = lib.se_backend()
    return b.decode()


__all__ = ["lib", "LIB_PATH", "MISSING", "check", "require", "take_bytes"]
