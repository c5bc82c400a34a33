"""What the ORM tests share: a context made from the gem's vector keys, and the gem's values."""

from __future__ import annotations

from typing import Any

from conftest import b64, vector_json  # type: ignore[import-not-found]

import symmetric_encryption as se

# The environment the ORM tests use: version 2 (aes-256-gcm, primary) and version 1
# (aes-256-cbc), with the keys the gem's vectors were written with.
PRIMARY_VERSION = 2
OLD_VERSION = 1


def _keys() -> dict[str, Any]:
    return vector_json("strings.json")["keys"]


_ORM_CONTEXT: list[se.Context] = []


def orm_context() -> se.Context:
    """The two-version context of the ORM tests (one per process)."""
    if _ORM_CONTEXT:
        return _ORM_CONTEXT[0]
    keys = _keys()
    gcm = se.Context.from_cipher("aes-256-gcm", b64(keys["aes-256-gcm"]["key_b64"]),
                                 b64(keys["aes-256-gcm"]["iv_b64"]), version=PRIMARY_VERSION)
    cbc = se.Context.from_cipher("aes-256-cbc", b64(keys["aes-256-cbc"]["key_b64"]),
                                 b64(keys["aes-256-cbc"]["iv_b64"]), version=OLD_VERSION)
    _ORM_CONTEXT.append(se.Context.combine([gcm, cbc]))
    return _ORM_CONTEXT[0]


def gem_cases(cipher_name: str) -> list[dict[str, Any]]:
    """The gem's deterministic base64strict values with a header for one cipher, text only."""
    return [
        c for c in vector_json("strings.json")["cases"]
        if c.get("cipher_name") == cipher_name and c.get("encoding") == "base64strict"
        and c.get("always_add_header") and c.get("deterministic") and not c.get("compress")
        and c.get("plaintext_utf8") and c.get("key_id") == cipher_name
    ]


def case_context(case: dict[str, Any]) -> se.Context:
    """The one-cipher context the gem wrote a vector case with."""
    key = _keys()[case["key_id"]]
    return se.Context.from_cipher(case["cipher_name"], b64(key["key_b64"]), b64(key["iv_b64"]),
                                  version=case["version"])
