"""strings.json: every single-value vector, through the Python API."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from conftest import b64, ciphertext, plaintext, vector_json

import symmetric_encryption as se

STRINGS = vector_json("strings.json")
CASES = STRINGS["cases"]


@functools.lru_cache(maxsize=None)
def context_for(key_id: str, version: int, encoding: str, always_add_header: bool) -> se.Context:
    key = STRINGS["keys"][key_id]
    return se.Context.from_cipher(
        key["cipher_name"],
        b64(key["key_b64"]),
        b64(key["iv_b64"]),
        version=version,
        encoding=encoding,
        always_add_header=always_add_header,
    )


def ctx_of(case: dict[str, Any]) -> se.Context:
    return context_for(case["key_id"], case["version"], case["encoding"], case["always_add_header"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_decrypt(case: dict[str, Any]) -> None:
    ctx = ctx_of(case)
    ct = ciphertext(case)
    plain = plaintext(case)
    assert ctx.decrypt_bytes(ct) == plain
    if case["encoding"] != "none":
        # str in, as read from a database column.
        assert ctx.decrypt_bytes(ct.decode("ascii")) == plain
    text = case.get("plaintext_utf8")
    if case.get("plaintext_file"):
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is not None:
        assert ctx.decrypt(ct) == text
    else:
        with pytest.raises(se.EncodingError, match="decrypt_bytes"):
            ctx.decrypt(ct)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["deterministic"]], ids=lambda c: c["id"]
)
def test_encrypt_is_byte_exact(case: dict[str, Any]) -> None:
    ctx = ctx_of(case)
    options = dict(
        random_iv=case["random_iv"], compress=case["compress"], header=case["always_add_header"]
    )
    expected = ciphertext(case)
    assert ctx.encrypt_bytes(plaintext(case), **options) == expected
    if case["encoding"] != "none":
        assert ctx.encrypt(plaintext(case), **options) == expected.decode("ascii")
        if case.get("plaintext_utf8") is not None:
            assert ctx.encrypt(case["plaintext_utf8"], **options) == expected.decode("ascii")


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c["deterministic"]], ids=lambda c: c["id"]
)
def test_random_iv_round_trip(case: dict[str, Any]) -> None:
    ctx = ctx_of(case)
    plain = plaintext(case)
    options = dict(random_iv=True, compress=case["compress"], header=case["always_add_header"])
    a = ctx.encrypt_bytes(plain, **options)
    b = ctx.encrypt_bytes(plain, **options)
    if plain:
        assert a != b, "a random iv gives a different value each time"
    assert ctx.decrypt_bytes(a) == plain
    assert ctx.decrypt_bytes(b) == plain


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["header"] is not None], ids=lambda c: c["id"]
)
def test_header(case: dict[str, Any]) -> None:
    ctx = ctx_of(case)
    expected = case["header"]
    h = ctx.header(ciphertext(case))
    assert h is not None
    assert h.version == expected["version"]
    assert h.compressed == expected["compress"]
    assert h.length == expected["length"]
    assert h.iv_len == len(b64(expected.get("iv_b64")) or b"")
    assert h.has_auth_tag == ("auth_tag_hex" in expected)
    assert h.cipher_name == expected.get("cipher_name")
    assert not h.chunked
    # The gem's encrypted? compares the encoded prefix, so it depends on the version byte
    # (base64 of "@EnC" + 0xFF no longer starts with "QEVuQw").
    magic = {"none": b"@EnC", "base16": b"40456e43"}.get(case["encoding"], b"QEVuQw")
    assert ctx.is_encrypted(ciphertext(case)) == ciphertext(case).startswith(magic)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["header"] is None and c["plaintext_len"]], ids=lambda c: c["id"]
)
def test_no_header(case: dict[str, Any]) -> None:
    ctx = ctx_of(case)
    assert ctx.header(ciphertext(case)) is None
