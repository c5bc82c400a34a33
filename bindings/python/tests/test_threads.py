"""One context shared by 8 threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import needs_streams

import symmetric_encryption as se

THREADS = 8
ROUNDS = 300


def test_eight_threads_share_one_context() -> None:
    gcm = se.Context.from_cipher("aes-256-gcm", bytes(range(32)), version=2)
    cbc = se.Context.from_cipher("aes-128-cbc", bytes(16), bytes(16), version=1)
    ctx = se.Context.combine([gcm, cbc], randomize_iv=True)
    expected_det = {i: ctx.encrypt(f"value {i}", random_iv=False) for i in range(20)}
    barrier = threading.Barrier(THREADS)

    def work(n: int) -> int:
        barrier.wait()  # start together
        done = 0
        for i in range(ROUNDS):
            text = f"thread {n} round {i} " + "x" * (i % 50)
            token = ctx.encrypt(text, compress=(i % 7 == 0))
            assert ctx.decrypt(token) == text
            old = ctx.encrypt(text, version=1)
            assert ctx.decrypt(old) == text
            k = i % 20
            assert ctx.encrypt(f"value {k}", random_iv=False) == expected_det[k]
            try:
                ctx.decrypt(token[:-8] + "AAAAAAAA")
            except se.Error as e:
                # The message comes from this thread's own failed call.
                assert isinstance(e, (se.AuthenticationError, se.EncodingError, se.CipherError))
            else:
                raise AssertionError("tampered value decrypted")
            done += 1
        return done

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    assert results == [ROUNDS] * THREADS


def test_errors_stay_on_their_thread() -> None:
    """se_last_error is per thread: concurrent failures of different kinds keep their own
    class and message."""
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32), version=1)
    good = ctx.encrypt("x")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    barrier = threading.Barrier(THREADS)

    def work(n: int) -> None:
        barrier.wait()
        for _ in range(200):
            if n % 2:
                try:
                    ctx.decrypt(tampered)
                except se.AuthenticationError as e:
                    assert "auth" in str(e)
                else:
                    raise AssertionError
            else:
                try:
                    ctx.encrypt("x", version=99)
                except se.CipherError as e:
                    assert not isinstance(e, se.AuthenticationError)
                    assert "99" in str(e)
                else:
                    raise AssertionError

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))


def test_calls_release_the_gil() -> None:
    """ctypes.CDLL (unlike PyDLL) releases the GIL around each foreign call."""
    import ctypes

    from symmetric_encryption import _native

    assert isinstance(_native.lib, ctypes.CDLL)
    assert not isinstance(_native.lib, ctypes.PyDLL)


@needs_streams
def test_one_stream_shared_by_threads(tmp_path: Path) -> None:
    """Readers and writers serialise their native calls: sharing one cannot corrupt memory."""
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(range(32)), version=2)
    path = tmp_path / "shared.enc"
    blocks = [bytes([i]) * 1000 for i in range(THREADS)]
    with ctx.open(path, "wb", chunk_size=1024) as w:
        def write(i: int) -> None:
            for _ in range(50):
                w.write(blocks[i])
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(write, range(THREADS)))
    with ctx.open(path, "rb") as r:
        def read(_: int) -> list[bytes]:
            got = []
            while True:
                assert r.header is not None
                chunk = r.read(1000)
                if not chunk:
                    return got
                got.append(chunk)
        with ThreadPoolExecutor(THREADS) as pool:
            chunks = [c for part in pool.map(read, range(THREADS)) for c in part]
    assert sorted(chunks) == sorted(b for b in blocks for _ in range(50))
