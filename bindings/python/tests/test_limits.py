"""Issue 14: the decompression limit of values and the output limit of streams."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from conftest import needs, se

KEY = bytes(range(32))

needs_limits = needs(
    "se_context_with_max_decompressed_size", "se_context_max_decompressed_size",
    "se_reader_set_max_output", "se_decrypt_file_max_output",
)


@pytest.fixture
def ctx() -> se.Context:
    return se.Context.from_cipher("aes-256-gcm", KEY, version=1)


@needs_limits
def test_a_value_inflating_past_64_mib_is_refused(ctx: se.Context) -> None:
    assert ctx.max_decompressed_size == 64 << 20
    bomb = ctx.encrypt_bytes(bytes((64 << 20) + 1), compress=True)
    assert len(bomb) < 200_000
    with pytest.raises(se.CipherError) as e:
        ctx.decrypt_bytes(bomb)
    assert "64 MiB" in str(e.value) and "max_decompressed_size" in str(e.value)
    raised = ctx.with_max_decompressed_size(65 << 20)
    assert len(raised.decrypt_bytes(bomb)) == (64 << 20) + 1


@needs_limits
def test_the_limit_is_per_context(ctx: se.Context) -> None:
    value = ctx.encrypt_bytes(b"a" * 100_000, compress=True)
    small = ctx.with_max_decompressed_size(99_999)
    assert small.max_decompressed_size == 99_999
    assert ctx.max_decompressed_size == 64 << 20
    with pytest.raises(se.CipherError, match="99999 bytes"):
        small.decrypt_bytes(value)
    with pytest.raises(se.CipherError):
        small.decrypt(ctx.encrypt("a" * 100_000, compress=True))
    assert ctx.with_max_decompressed_size(100_000).decrypt_bytes(value) == b"a" * 100_000
    for bad in (0, -1, 1.5, True, "10", 1 << 64):
        with pytest.raises(ValueError):
            ctx.with_max_decompressed_size(bad)  # type: ignore[arg-type]


@needs_limits
def test_loading_takes_the_limit() -> None:
    yaml = """
test:
  ciphers:
  - key: 1234567890ABCDEF
    iv: 1234567890ABCDEF
    cipher_name: aes-128-cbc
    version: 1
"""
    loaded = se.Context.from_yaml(yaml, "test", max_decompressed_size=1000)
    assert loaded.max_decompressed_size == 1000
    assert se.Context.from_yaml(yaml, "test").max_decompressed_size == 64 << 20
    value = loaded.encrypt_bytes(b"z" * 5000, compress=True)
    with pytest.raises(se.CipherError):
        loaded.decrypt_bytes(value)


@needs_limits
def test_readers_and_decrypt_file_take_an_output_limit(ctx: se.Context, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with ctx.open(buf, "wb", compress=True) as w:
        w.write(bytes(300_000))
    data = buf.getvalue()
    with ctx.open(io.BytesIO(data), "rb", max_output=1000) as r:
        with pytest.raises(se.CipherError, match="1000 bytes"):
            r.read()
    with ctx.open(io.BytesIO(data), "rb", max_output=300_000) as r:
        assert len(r.read()) == 300_000
    with pytest.raises(ValueError):
        ctx.open(io.BytesIO(data), "rb", max_output=0)
    with pytest.raises(ValueError):
        ctx.open(io.BytesIO(), "wb", max_output=10)

    enc, out = tmp_path / "a.enc", tmp_path / "a.out"
    enc.write_bytes(data)
    with pytest.raises(se.CipherError):
        ctx.decrypt_file(enc, out, max_output=4096)
    assert not out.exists()
    ctx.decrypt_file(enc, out, max_output=300_000)
    assert out.stat().st_size == 300_000
