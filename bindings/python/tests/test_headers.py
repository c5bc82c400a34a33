"""headers.json (malformed headers, decoding leniency, encrypted?) and tamper.json strings."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import ciphers_context, expected_exception, vector_json

import symmetric_encryption as se

HEADERS = vector_json("headers.json")
TAMPER = vector_json("tamper.json")

# Where the Ruby gem "fails open" (returns "" or mis-decodes) the library raises instead; the
# Rust conformance suite lists the same cases with the reasons (tests/conformance.rs, SPEC).
FAIL_OPEN: dict[str, type[se.Error]] = {
    "malformed-iv_length_exceeds_buffer": se.CipherError,
    "malformed-gcm_value_header_only": se.AuthenticationError,
    "malformed-chunked_header_without_data": se.CipherError,
    "decode-base16-trailing_newline": se.EncodingError,
    "decode-base16-newlines_inside": se.EncodingError,
    "decode-base16-spaces_inside": se.EncodingError,
    "decode-base16-invalid_chars": se.EncodingError,
    "decode-base16-odd_length": se.EncodingError,
    "gcm-riv-body_removed": se.AuthenticationError,
    "gcm-riv-z-body_removed": se.AuthenticationError,
}


def check_decrypt(
    ctx: se.Context, case_id: str, value: str | bytes, outcome: dict[str, Any]
) -> None:
    if case_id in FAIL_OPEN:
        with pytest.raises(FAIL_OPEN[case_id]):
            ctx.decrypt_bytes(value)
    elif outcome["ok"]:
        assert ctx.decrypt_bytes(value) == base64.b64decode(outcome["value_b64"])
    else:
        with pytest.raises(expected_exception(outcome)):
            ctx.decrypt_bytes(value)


def header_context(encoding: str = "base64strict") -> se.Context:
    ciphers = [{**c, "encoding": encoding} for c in HEADERS["context"]["ciphers"]]
    return ciphers_context(ciphers)


@pytest.mark.parametrize("case", HEADERS["malformed"], ids=lambda c: c["id"])
def test_malformed(case: dict[str, Any]) -> None:
    ctx = header_context()
    check_decrypt(ctx, case["id"], case["input_base64strict"], case["decrypt"])
    assert ctx.is_encrypted(case["input_base64strict"]) == case["present"]
    binary = bytes.fromhex(case["input_hex"])
    parse = case["parse"]
    if case["id"] in FAIL_OPEN and parse["ok"] and parse["value"]["offset"]:
        return  # the header parses in the gem; the library refuses it (see FAIL_OPEN)
    if parse["ok"]:
        h = ctx.header(binary, binary=True)
        if parse["value"]["offset"] == 0:
            assert h is None
        else:
            assert h is not None and h.length == parse["value"]["offset"]
            assert h.version == parse["value"]["version"]
            assert h.chunk_size == parse["value"]["chunk_size"]
            assert h.has_auth_tag == parse["value"]["authenticated"]
    elif parse["error_class"] != "OpenSSL::Cipher::CipherError" and "not found" not in parse.get(
        "error_message", ""
    ):
        # The gem's parse also decrypts the key field and looks the version up; header()
        # only reads the bytes, so only structural failures are expected here.
        with pytest.raises(se.CipherError):
            ctx.header(binary, binary=True)


@pytest.mark.parametrize("case", HEADERS["headers"], ids=lambda c: c["id"])
def test_header_parse(case: dict[str, Any]) -> None:
    ctx = header_context()
    outcome = case["parse_alone"]
    data = bytes.fromhex(case["header_hex"])
    if not outcome["ok"]:
        with pytest.raises(se.CipherError):
            ctx.header(data, binary=True)
        return
    h = ctx.header(data, binary=True)
    value = outcome["value"]
    if value["offset"] == 0:
        assert h is None
        return
    assert h is not None
    assert h.length == value["offset"] == case["length"]
    inputs = case["inputs"]
    assert h.version == inputs["version"]
    assert h.compressed == bool(inputs.get("compress"))


DECODING = [d for d in HEADERS["decoding"] if d["id"].startswith("decode-")]
MAGIC = [d for d in HEADERS["decoding"] if d["id"].startswith("magic-")]


@pytest.mark.parametrize("case", DECODING, ids=lambda c: c["id"])
def test_decoding_leniency(case: dict[str, Any]) -> None:
    ctx = header_context(case["encoding"])
    value: str | bytes = case["input"]
    if case["encoding"] == "none":
        value = base64.b64decode(value)
    assert ctx.is_encrypted(value) == case["encrypted?"]
    check_decrypt(ctx, case["id"], value, case["decrypt"])


@pytest.mark.parametrize("case", MAGIC, ids=lambda c: c["id"])
def test_encoded_magic_header(case: dict[str, Any]) -> None:
    ctx = header_context(case["encoding"])
    magic: str | bytes = case["encoded_magic_header"]
    if case.get("encoded_magic_header_wrapped") == "base64":
        magic = base64.b64decode(magic)
    value = ctx.encrypt_bytes("anything")
    assert value.startswith(magic.encode() if isinstance(magic, str) else magic)
    assert ctx.is_encrypted(value)
    assert not ctx.is_encrypted(b"x" + value)


@pytest.mark.parametrize("case", TAMPER["strings"], ids=lambda c: c["id"])
def test_tampered_values(case: dict[str, Any]) -> None:
    ctx = ciphers_context(TAMPER["ciphers"], primary=TAMPER["primary_version"])
    check_decrypt(ctx, case["id"], case["input_base64strict"], case["decrypt"])
