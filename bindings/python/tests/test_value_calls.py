"""The short-value path of encrypt / decrypt: one ``se_encrypt_call`` / ``se_decrypt_call``
through a per-thread frame into a per-thread buffer. Values around its limits, which calls it
makes, threads with several contexts, and the buffer wiped after every decrypt."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import needs

import symmetric_encryption as se
from symmetric_encryption import context

pytestmark = needs("se_encrypt_call", "se_decrypt_call")

LENGTHS = [0, 1, 31, 2047, 2048, 2049, 3000, 4095, 4096, 4097, 10_000]


@pytest.fixture
def ctx() -> se.Context:
    return se.Context.from_cipher("aes-256-gcm", bytes(range(32)), version=4)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts the frame calls context.py makes."""
    counts = {"encrypt": 0, "decrypt": 0}

    def wrap(name: str, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            counts[name] += 1
            return fn(*args)

        return call

    monkeypatch.setattr(context, "_encrypt_call", wrap("encrypt", context._encrypt_call))
    monkeypatch.setattr(context, "_decrypt_call", wrap("decrypt", context._decrypt_call))
    yield counts


@pytest.mark.parametrize("n", LENGTHS)
def test_every_length_round_trips(ctx: se.Context, n: int) -> None:
    text = "".join(chr(0x41 + i % 26) for i in range(n))
    for random_iv in (True, False):
        token = ctx.encrypt(text, random_iv=random_iv)
        assert ctx.decrypt(token) == text
        assert ctx.decrypt_bytes(token) == text.encode()
        assert ctx.decrypt(token.encode()) == text
        assert ctx.decrypt(bytearray(token.encode())) == text
        assert ctx.decrypt(memoryview(token.encode())) == text
    # Deterministic values are the same by either path: through the allocating call (version
    # given) and through the frame.
    assert ctx.encrypt(text, random_iv=False) == ctx.encrypt(text, random_iv=False, version=4)


def test_short_values_take_the_frame_and_long_ones_do_not(
    ctx: se.Context, counted: dict[str, int]
) -> None:
    token = ctx.encrypt("x" * 2048)
    assert counted == {"encrypt": 1, "decrypt": 0}
    ctx.decrypt(token)
    assert counted["decrypt"] == 1
    long_token = ctx.encrypt("x" * 2049)  # its result may not fit: the allocating call
    assert counted["encrypt"] == 1
    assert len(long_token) <= 4096
    ctx.decrypt(long_token)  # a value of at most 4096 bytes: the frame
    assert counted["decrypt"] == 2
    longer = ctx.encrypt("y" * 5000)
    assert len(longer) > 4096
    assert ctx.decrypt(longer) == "y" * 5000
    assert counted == {"encrypt": 1, "decrypt": 2}
    # A version means the allocating call.
    ctx.decrypt(token, version=4)
    assert counted["decrypt"] == 2


def test_a_short_compressed_value_that_inflates_past_the_buffer(
    ctx: se.Context, counted: dict[str, int]
) -> None:
    text = "z" * 100_000
    token = ctx.encrypt(text, compress=True)
    assert len(token) < 4096
    assert ctx.decrypt(token) == text  # the frame reports the size, the allocating call reads
    assert ctx.decrypt_bytes(token) == text.encode()
    assert counted["decrypt"] == 2


def test_the_buffer_is_wiped_after_each_decrypt(ctx: se.Context) -> None:
    """The buffer may hold the last encrypted value (not secret), never a plaintext."""
    secret = b"a secret of 32 bytes, as a card."
    token = ctx.encrypt(secret)
    assert ctx.decrypt(token) == secret.decode()
    assert secret not in context._scratch.buf.raw
    assert context._scratch.buf.raw[: len(secret)] == bytes(len(secret))
    assert ctx.decrypt_bytes(token) == secret
    assert secret not in context._scratch.buf.raw
    binary = ctx.encrypt(b"\xff\xfe not UTF-8")
    with pytest.raises(se.EncodingError, match="decrypt_bytes"):
        ctx.decrypt(binary)
    assert b"not UTF-8" not in context._scratch.buf.raw


def test_errors_come_from_the_frame_call(ctx: se.Context) -> None:
    token = ctx.encrypt("abc")
    with pytest.raises(se.AuthenticationError):
        ctx.decrypt(token[:-6] + "AAAA==")
    other = se.Context.from_cipher("aes-256-gcm", bytes(32), version=9)
    with pytest.raises(se.CipherError, match="9"):
        ctx.decrypt(other.encrypt("abc"))


def test_threads_and_contexts_each_have_their_frame() -> None:
    contexts = [
        se.Context.from_cipher("aes-256-gcm", bytes([i]) * 32, version=i) for i in range(1, 4)
    ]
    barrier = threading.Barrier(6)
    errors: list[str] = []

    def work(n: int) -> None:
        barrier.wait()
        for i in range(1500):
            c = contexts[(n + i) % 3]
            text = f"thread {n} value {i}"
            token = c.encrypt(text)
            for other in contexts:
                if other is not c:
                    try:
                        other.decrypt(token)
                        errors.append(f"{n}/{i}: decrypted with another context")
                    except se.CipherError:
                        pass
            if c.decrypt(token) != text:
                errors.append(f"{n}/{i}: wrong plaintext")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_contexts_dropped_from_other_threads() -> None:
    """A context freed while threads have frames for it: later contexts (which may reuse its
    address) get frames of their own."""
    for round_ in range(50):
        c = se.Context.from_cipher("aes-256-gcm", bytes([round_]) * 32, version=round_ % 256)
        token = c.encrypt("v")
        seen: list[str] = []
        t = threading.Thread(target=lambda: seen.append(c.decrypt(token)))
        t.start()
        t.join()
        assert seen == ["v"]
        del c, t
        gc.collect()
