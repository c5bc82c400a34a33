"""The Python surface: construction, options, types, module-level functions."""

from __future__ import annotations

import base64
import gc
import weakref

import pytest

import symmetric_encryption as se

KEY = bytes(range(32))
KEY16 = bytes(range(16))
IV = bytes(range(16))


@pytest.fixture
def gcm() -> se.Context:
    return se.Context.from_cipher("aes-256-gcm", KEY, version=2)


@pytest.fixture
def cbc() -> se.Context:
    return se.Context.from_cipher("aes-128-cbc", KEY16, IV, version=1)


def test_version_and_library() -> None:
    assert se.library_version() == se.__version__
    assert "RustCrypto" in se.backend() or se.backend()
    assert se.LIBRARY_PATH.endswith((".so", ".dylib", ".dll"))


def test_context_cannot_be_built_directly() -> None:
    with pytest.raises(TypeError, match="Context.load"):
        se.Context()


def test_round_trip_str_and_bytes(gcm: se.Context) -> None:
    token = gcm.encrypt("Grüße 🎉")
    assert isinstance(token, str) and token.startswith("QEVuQw")
    assert gcm.decrypt(token) == "Grüße 🎉"
    assert gcm.decrypt_bytes(token) == "Grüße 🎉".encode()
    assert gcm.decrypt(token.encode()) == "Grüße 🎉"
    binary = bytes(range(256))
    assert gcm.decrypt_bytes(gcm.encrypt(binary)) == binary
    assert gcm.decrypt_bytes(gcm.encrypt(bytearray(binary))) == binary
    assert gcm.decrypt_bytes(gcm.encrypt(memoryview(binary))) == binary


def test_empty_values(gcm: se.Context) -> None:
    assert gcm.encrypt("") == ""
    assert gcm.decrypt("") == ""
    assert gcm.decrypt_bytes(b"") == b""
    assert gcm.header("") is None


def test_random_and_deterministic_iv(gcm: se.Context) -> None:
    assert gcm.encrypt("x", random_iv=False) == gcm.encrypt("x", random_iv=False)
    assert gcm.encrypt("x", random_iv=True) != gcm.encrypt("x", random_iv=True)
    assert not gcm.randomize_iv  # from_cipher: the gem's Cipher.new default
    random = se.Context.combine([gcm], randomize_iv=True)
    assert random.randomize_iv
    assert random.encrypt("x") != random.encrypt("x")
    assert random.encrypt("x", random_iv=False) == gcm.encrypt("x", random_iv=False)


def test_compress_and_header_options(cbc: se.Context) -> None:
    text = "compressible " * 100
    small = cbc.encrypt(text, compress=True)
    assert len(small) < len(cbc.encrypt(text))
    h = cbc.header(small)
    assert h is not None and h.compressed and h.version == 1
    assert cbc.decrypt(small) == text
    bare = cbc.encrypt("no header", header=False)
    assert cbc.header(bare) is None
    assert not cbc.is_encrypted(bare)
    assert cbc.decrypt(bare) == "no header"


def test_header_fields(gcm: se.Context) -> None:
    h = gcm.header(gcm.encrypt("x", random_iv=True))
    assert h == se.Header(
        version=2, compressed=False, cipher_name=None, iv_len=12, has_key=False,
        has_auth_tag=True, chunk_size=None, length=38,
    )
    assert not h.chunked
    raw = base64.b64decode(gcm.encrypt("x"))
    assert gcm.header(raw, binary=True) == gcm.header(base64.b64encode(raw))


def test_is_encrypted(gcm: se.Context) -> None:
    assert gcm.is_encrypted(gcm.encrypt("x"))
    assert gcm.is_encrypted(gcm.encrypt("x").encode())
    assert not gcm.is_encrypted("plain text")
    assert not gcm.is_encrypted("")
    assert not gcm.is_encrypted(None)


def test_versions_and_combine(gcm: se.Context, cbc: se.Context) -> None:
    both = se.Context.combine([gcm, cbc])
    assert [c.version for c in both.ciphers] == [2, 1]
    assert both.primary.cipher_name == "aes-256-gcm"
    assert both.ciphers[1] == se.CipherInfo(
        version=1, cipher_name="aes-128-cbc", encoding="base64strict", always_add_header=True,
        authenticated=False, key_len=16, iv_len=16,
    )
    # Old values (version 1) still decrypt; new ones use the primary.
    old = cbc.encrypt("legacy")
    assert both.decrypt(old) == "legacy"
    assert both.header(both.encrypt("new")).version == 2
    assert both.header(both.encrypt("old", version=1)).version == 1
    # A value without a header is decrypted by the primary unless told otherwise.
    bare = cbc.encrypt("bare", header=False)
    assert both.decrypt(bare, version=1) == "bare"
    with pytest.raises(se.CipherError):
        both.decrypt(bare)
    # Inputs are not consumed.
    assert gcm.decrypt(gcm.encrypt("still usable")) == "still usable"


def test_encodings() -> None:
    values = {}
    for encoding in ("base64strict", "base64", "base64urlsafe", "base16"):
        ctx = se.Context.from_cipher("aes-128-cbc", KEY16, IV, encoding=encoding)
        values[encoding] = token = ctx.encrypt("?" * 60, random_iv=False)
        assert ctx.decrypt(token) == "?" * 60
        assert ctx.decode(ctx.encode(b"\x00\xff")) == b"\x00\xff"
    assert "\n" in values["base64"] and "\n" not in values["base64strict"]
    assert set(values["base16"]) <= set("0123456789abcdef")
    raw = se.Context.from_cipher("aes-128-cbc", KEY16, IV, encoding="none")
    with pytest.raises(se.ArgumentError, match="encrypt_bytes"):
        raw.encrypt("binary output")
    value = raw.encrypt_bytes("binary output")
    assert value.startswith(b"@EnC")
    assert raw.decrypt(value) == "binary output"


def test_repr_shows_no_key(gcm: se.Context) -> None:
    text = repr(gcm)
    assert "aes-256-gcm" in text and "v2" in text
    assert KEY.hex() not in text and base64.b64encode(KEY).decode() not in text


def test_context_is_freed() -> None:
    ctx = se.Context.from_cipher("aes-256-gcm", KEY)
    ref = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert ref() is None


def test_module_level_functions(gcm: se.Context) -> None:
    try:
        se.set_default_context(gcm)
        assert se.default_context() is gcm
        token = se.encrypt("script value", random_iv=True)
        assert se.decrypt(token) == "script value"
        assert se.decrypt_bytes(token) == b"script value"
        assert se.is_encrypted(token)
        with pytest.raises(TypeError):
            se.set_default_context("not a context")  # type: ignore[arg-type]
    finally:
        se.set_default_context(None)


def test_public_names() -> None:
    for name in se.__all__:
        assert hasattr(se, name), name
    assert se.Context.encrypt.__doc__ and se.Context.open.__doc__


def test_option_types_are_checked(gcm: se.Context) -> None:
    gcm.encrypt("x", random_iv=True, version=2)
    with pytest.raises(TypeError):
        gcm.encrypt("x", random_iv=1, version=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        gcm.encrypt("x", version=True)
    with pytest.raises(TypeError):
        gcm.encrypt("x", compress="yes")  # type: ignore[arg-type]
