"""Symmetric Encryption for Python: the Ruby gem symmetric-encryption's encrypted values
(``@EnC`` headers), configuration files, key files and encrypted files, over the Rust library
``libsymmetric_encryption``.

Values::

    import symmetric_encryption as se

    ctx = se.Context.load("config/symmetric-encryption.yml", env="production")
    token = ctx.encrypt("secret")          # str, e.g. "QEVuQwJIDAA..."
    ctx.decrypt(token)                     # "secret"
    ctx.decrypt_bytes(token)               # b"secret"
    ctx.encrypt("a@example.com", random_iv=False)   # equal inputs give equal outputs

Files::

    with ctx.open("report.csv.enc", "wb") as f:
        f.write(b"...")
    with ctx.open("report.csv.enc", "r") as f:
        for line in f: ...

For scripts, the module-level :func:`encrypt` / :func:`decrypt` use a default context: the
one given to :func:`load`, else one loaded on first use from the default configuration file
and environment (``SYMMETRIC_ENCRYPTION_CONFIG``, ``SYMMETRIC_ENCRYPTION_ENV`` ...).

Failures raise a subclass of :class:`Error`, one per kind: :class:`ConfigError`,
:class:`KeystoreError`, :class:`CipherError`, :class:`AuthenticationError`,
:class:`EncodingError`, :class:`StreamError`, :class:`ArgumentError`, :class:`InternalError`.
"""

from __future__ import annotations

import threading

from . import _native
from .context import CipherInfo, Context, Header, StrPath, Value
from .errors import (
    ArgumentError,
    AuthenticationError,
    CipherError,
    ConfigError,
    EncodingError,
    Error,
    InternalError,
    KeystoreError,
    StreamError,
    UnsupportedError,
)
from .io import Reader, Writer

__version__ = "0.1.0"

#: Path of the native library that was loaded.
LIBRARY_PATH = str(_native.LIB_PATH)


def library_version() -> str:
    """Version of the loaded native library, e.g. ``"0.1.0"``."""
    return _native.version()


def backend() -> str:
    """The crypto backend compiled into the native library."""
    return _native.backend()


_default: Context | None = None
_default_lock = threading.Lock()


def load(path: StrPath | None = None, env: str | None = None) -> Context:
    """Loads a configuration (see :meth:`Context.load`), makes it the default context of the
    module-level functions, and returns it."""
    global _default
    ctx = Context.load(path, env)
    with _default_lock:
        _default = ctx
    return ctx


def set_default_context(ctx: Context | None) -> None:
    """Makes ``ctx`` the default context (None: load the default configuration on next use)."""
    global _default
    if ctx is not None and not isinstance(ctx, Context):
        raise TypeError("set_default_context() takes a Context or None")
    with _default_lock:
        _default = ctx


def default_context() -> Context:
    """The default context, loading the default configuration on first use."""
    global _default
    ctx = _default
    if ctx is None:
        with _default_lock:
            if _default is None:
                _default = Context.load()
            ctx = _default
    return ctx


def encrypt(
    value: Value,
    *,
    random_iv: bool | None = None,
    compress: bool = False,
    header: bool | None = None,
    version: int | None = None,
) -> str:
    """:meth:`Context.encrypt` with the default context."""
    return default_context().encrypt(
        value, random_iv=random_iv, compress=compress, header=header, version=version
    )


def decrypt(value: Value, *, version: int | None = None) -> str:
    """:meth:`Context.decrypt` with the default context."""
    return default_context().decrypt(value, version=version)


def decrypt_bytes(value: Value, *, version: int | None = None) -> bytes:
    """:meth:`Context.decrypt_bytes` with the default context."""
    return default_context().decrypt_bytes(value, version=version)


def is_encrypted(value: Value | None) -> bool:
    """:meth:`Context.is_encrypted` with the default context."""
    return default_context().is_encrypted(value)


__all__ = [
    "Context",
    "CipherInfo",
    "Header",
    "Reader",
    "Writer",
    "Error",
    "ArgumentError",
    "ConfigError",
    "KeystoreError",
    "CipherError",
    "AuthenticationError",
    "EncodingError",
    "StreamError",
    "InternalError",
    "UnsupportedError",
    "load",
    "set_default_context",
    "default_context",
    "encrypt",
    "decrypt",
    "decrypt_bytes",
    "is_encrypted",
    "library_version",
    "backend",
    "LIBRARY_PATH",
    "__version__",
]
