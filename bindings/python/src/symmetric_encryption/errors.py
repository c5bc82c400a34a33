"""Exceptions: one class per failure kind of the library.

Every exception raised by the library itself is an :class:`Error`. Each C status has its own
subclass, so callers catch exactly what they can handle::

    try:
        plain = ctx.decrypt(value)
    except symmetric_encryption.AuthenticationError:
        ...  # tampered with, truncated, or encrypted with another key

Some also derive from the matching built-in exception (``ValueError``, ``OSError``) so code
that already catches those keeps working. Messages never contain keys or plaintext.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every exception raised by symmetric_encryption.

    :attr:`status` is the C status code (``se_status``) the error came from, or ``None`` for
    errors raised by the Python layer itself.
    """

    status: int | None = None

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ArgumentError(Error, ValueError):
    """A bad argument or option value (``SE_ERROR_ARGUMENT``)."""

    status = 1


class ConfigError(Error):
    """The configuration file or one of its entries is invalid, or the environment is not in
    it (``SE_ERROR_CONFIG``)."""

    status = 2


class KeystoreError(Error):
    """A key could not be read: missing key file or environment variable, wrong file
    permissions, KMS failure (``SE_ERROR_KEYSTORE``)."""

    status = 3


class CipherError(Error):
    """The value cannot be decrypted: unknown version, malformed header, bad padding, wrong
    key (``SE_ERROR_CIPHER``). Also raised when encrypting with a version that is not
    configured."""

    status = 4


class AuthenticationError(CipherError):
    """The authentication tag did not match: the value or stream was tampered with,
    truncated, or encrypted with another key (``SE_ERROR_AUTHENTICATION``).

    A subclass of :class:`CipherError` because both mean "this cannot be decrypted" (the
    Ruby gem raises ``CipherError`` for both); catch this one to tell tampering apart.
    """

    status = 5


class EncodingError(Error, ValueError):
    """The input is not valid for the context's encoding (``SE_ERROR_ENCODING``), or a
    decrypted value is not UTF-8 text (use ``decrypt_bytes`` for binary values)."""

    status = 6


class StreamError(Error, OSError):
    """Reading or writing a file or stream failed (``SE_ERROR_IO``)."""

    status = 7


class InternalError(Error):
    """A bug in the library (``SE_ERROR_INTERNAL``); the message says where. Please report it."""

    status = 99


class UnsupportedError(Error):
    """The loaded native library is older than this package and lacks a function."""


_BY_STATUS: dict[int, type[Error]] = {
    cls.status: cls  # type: ignore[misc,unused-ignore]
    for cls in (
        ArgumentError,
        ConfigError,
        KeystoreError,
        CipherError,
        AuthenticationError,
        EncodingError,
        StreamError,
        InternalError,
    )
}


def from_status(status: int, message: str) -> Error:
    """The exception for a C status code."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        return Error(f"{message} (unknown status {status})", status)
    return cls(message)


__all__ = [
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
]
