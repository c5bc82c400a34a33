"""Shared helpers: where the vectors are, contexts built from vector cipher descriptions.

The tests import the package from ``bindings/python/src`` (so they test this checkout, not an
installed copy) and find the native library via ``SYMMETRIC_ENCRYPTION_LIB`` or the
repository's ``target/release``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
VECTORS = REPO_ROOT / "tests" / "vectors"

sys.path.insert(0, str(HERE.parent / "src"))

import symmetric_encryption as se  # noqa: E402
from symmetric_encryption import _native  # noqa: E402


def needs(*functions: str) -> pytest.MarkDecorator:
    """Skips a test when the loaded library lacks one of the C functions (an older build)."""
    missing = sorted(set(functions) & _native.MISSING)
    return pytest.mark.skipif(
        bool(missing), reason=f"the native library does not export {', '.join(missing)} yet"
    )


needs_load = needs("se_context_load")
needs_streams = needs(
    "se_reader_open_path", "se_reader_open_callbacks", "se_writer_open_path",
    "se_writer_open_callbacks", "se_encrypt_file", "se_decrypt_file",
)


@functools.lru_cache(maxsize=None)
def vector_json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def b64(s: str | None) -> bytes | None:
    return None if s is None else base64.b64decode(s)


def cipher_context(desc: dict[str, Any], **overrides: Any) -> se.Context:
    """A one-cipher context from a vector cipher description."""
    d = {**desc, **overrides}
    return se.Context.from_cipher(
        d["cipher_name"],
        b64(d["key_b64"]),
        b64(d.get("iv_b64")),
        version=d["version"],
        encoding=d.get("encoding", "base64strict"),
        always_add_header=d.get("always_add_header", True),
    )


def ciphers_context(descs: list[dict[str, Any]], primary: int | None = None) -> se.Context:
    """A context holding every cipher in ``descs``; ``primary`` (a version) goes first."""
    ordered = list(descs)
    if primary is not None:
        ordered.sort(key=lambda d: d["version"] != primary)
    return se.Context.combine([cipher_context(d) for d in ordered])


def plaintext(case: dict[str, Any], root: Path = VECTORS) -> bytes:
    """The plaintext bytes of a vector case (inline or from its file)."""
    if case.get("plaintext_file"):
        data = (root / case["plaintext_file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == case["plaintext_sha256"]
        return data
    return base64.b64decode(case["plaintext_b64"])


def ciphertext(case: dict[str, Any], root: Path = VECTORS) -> bytes:
    """The encoded ciphertext of a vector case exactly as the reference returned it (for
    encoding ``none``: the raw binary)."""
    if case.get("ciphertext_file"):
        data = (root / case["ciphertext_file"]).read_bytes()
    else:
        data = case["ciphertext"].encode("latin-1")
    if case.get("ciphertext_wrapped") == "base64":
        data = base64.b64decode(data)
    return data


# Error classes of the reference (Ruby) and the exceptions they correspond to here.
def expected_exception(outcome: dict[str, Any]) -> type[BaseException]:
    cls = outcome.get("error_class") or ""
    if "CipherError" in cls:
        # OpenSSL::Cipher::CipherError is also what Ruby raises for a bad GCM tag.
        return se.CipherError  # includes AuthenticationError
    return se.Error
