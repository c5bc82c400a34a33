"""Context.encrypt_many / decrypt_many: gem-written values in one call, a result per value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ciphertext, needs, plaintext
from test_configs import copy_set, enter, set_json
from test_strings import CASES, ctx_of

import symmetric_encryption as se

pytestmark = needs("se_encrypt_batch", "se_decrypt_batch")

def single(ctx: se.Context, value: Any) -> Any:
    """What decrypt_bytes gives one value: its plaintext or its exception."""
    try:
        return ctx.decrypt_bytes(value)
    except se.Error as e:
        return e


def damaged(value: bytes) -> bytes:
    """The value with one byte of its encoded payload changed."""
    b = bytearray(value)
    if not b:
        return b"@"
    i = len(b) * 2 // 3
    b[i] = ord("A") if b[i] != ord("A") else ord("B")
    return bytes(b)


def test_every_gem_value_in_batches_with_failures_alone() -> None:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for case in CASES:
        key = (case["key_id"], case["version"], case["encoding"], case["always_add_header"])
        groups.setdefault(key, []).append(case)
    checked = 0
    for cases in groups.values():
        ctx = ctx_of(cases[0])
        values: list[Any] = []
        want: list[Any] = []
        for case in cases:
            good = ciphertext(case)
            bad = damaged(good)
            values += [good, bad, None]
            want += [plaintext(case), single(ctx, bad), None]
        got = ctx.decrypt_many_bytes(values, on_error="return")
        for i, (g, w) in enumerate(zip(got, want)):
            if isinstance(w, se.Error):
                assert type(g) is type(w) and str(g) == f"value {i}: {w}", (i, g, w)
            else:
                assert g == w, i
        checked += len(cases)
    assert checked == len(CASES) == 364


def test_a_gem_configuration_decrypts_a_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_set("file_gcm_default", tmp_path)
    meta = set_json("file_gcm_default")
    enter(root, meta["env_vars"], monkeypatch)
    for env in meta["environments"]:
        ctx = se.Context.load(env=env["environment"])
        samples = [(s["ciphertext"], s["plaintext_utf8"]) for s in env["samples"]]
        # 20,000 values: several threads. Every 11th damaged.
        column = [samples[i % len(samples)] for i in range(20_000)]
        values = [damaged(c.encode()).decode() if i % 11 == 0 else c
                  for i, (c, _) in enumerate(column)]
        for mode in ("return", "none"):
            got = ctx.decrypt_many(values, on_error=mode, threads=2)
            for i, ((_, pt), g) in enumerate(zip(column, got)):
                if i % 11:
                    assert g == pt, (env["environment"], i)
                elif mode == "none":
                    assert g is None or g == ctx.decrypt(values[i])
                else:
                    assert isinstance(g, se.Error) and str(g).startswith(f"value {i}: "), g
        with pytest.raises(se.Error, match="^value 0: "):
            ctx.decrypt_many(values)


def test_batch_encryption_is_encrypt_per_value() -> None:
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(range(32)), version=4)
    values = [f"row {i} ünïcode" for i in range(10_000)]
    assert ctx.encrypt_many(values, random_iv=False) == [ctx.encrypt(v, random_iv=False)
                                                         for v in values]
    assert ctx.encrypt_many_bytes(values[:5], random_iv=False) == [
        ctx.encrypt(v, random_iv=False).encode() for v in values[:5]]
    random = ctx.encrypt_many(iter(values), compress=True, threads=1)
    assert len(set(random)) == len(values)
    assert ctx.decrypt_many(random) == values
    assert ctx.decrypt_many_bytes(tuple(random[:3])) == [v.encode() for v in values[:3]]
    # Mixed types and None, as a column read from a database.
    mixed: list[Any] = ["a", b"b", bytearray(b"c"), memoryview(b"d"), None, ""]
    enc = ctx.encrypt_many(mixed)
    assert enc[4] is None and enc[5] == ""
    assert ctx.decrypt_many(enc) == ["a", "b", "c", "d", None, ""]
    assert ctx.decrypt_many([]) == []


def test_non_utf8_plaintext_is_an_encoding_error_of_that_value() -> None:
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    enc = ctx.encrypt_many([b"ok", b"\xff\xfe"])
    got = ctx.decrypt_many(enc, on_error="return")
    assert got[0] == "ok" and isinstance(got[1], se.EncodingError)
    assert ctx.decrypt_many_bytes(enc) == [b"ok", b"\xff\xfe"]


def test_bad_arguments_say_what_is_wrong() -> None:
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    with pytest.raises(ValueError, match="on_error"):
        ctx.decrypt_many(["x"], on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads"):
        ctx.decrypt_many(["x"], threads=0)
    with pytest.raises(TypeError, match="value 1: expected str, bytes or None, not int"):
        ctx.encrypt_many(["x", 5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a single str"):
        ctx.encrypt_many("abc")  # type: ignore[arg-type]
    with pytest.raises(se.CipherError, match="version 9"):
        ctx.encrypt_many(["x"], version=9)


def test_bad_thread_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_THREADS", "-2")
    with pytest.raises(se.ArgumentError, match="SYMMETRIC_ENCRYPTION_THREADS"):
        ctx.encrypt_many(["x"])
    assert len(ctx.encrypt_many(["x"], threads=2)) == 1


def test_the_thread_limit_is_the_librarys(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline counts threads as the library does (se_batch_thread_limit): the argument,
    # else the variable, else the CPUs this process may use (affinity, cgroup quota).
    import os

    from symmetric_encryption import _batch

    monkeypatch.delenv("SYMMETRIC_ENCRYPTION_THREADS", raising=False)
    assert 1 <= _batch._limit(0) <= len(os.sched_getaffinity(0))
    assert _batch._limit(5) == 5
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_THREADS", " 3 ")
    assert _batch._limit(0) == 3
    assert _batch._limit(2) == 2
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_THREADS", "many")
    with pytest.raises(se.ArgumentError, match="positive number of threads"):
        _batch._limit(0)
    # And so for a batch large enough to pipeline: the library's message.
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    with pytest.raises(se.ArgumentError, match="SYMMETRIC_ENCRYPTION_THREADS"):
        ctx.encrypt_many(["x"] * (2 * _batch._PIECE))


def test_values_and_results_with_nul_take_the_offset_path() -> None:
    # Values are joined with NUL when none contains it; these do, and so do their plaintexts.
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    values = ["a\0b", "plain", "\0", ""]
    enc = ctx.encrypt_many(values)
    assert ctx.decrypt_many(enc) == values
    assert ctx.decrypt_many_bytes(enc) == [v.encode() for v in values]
    assert ctx.decrypt_many([enc[1].encode(), enc[0]]) == ["plain", "a\0b"]  # mixed types
    binary = se.Context.from_cipher("aes-256-gcm", bytes(32), encoding="none")
    with pytest.raises(se.ArgumentError, match="encrypt_many_bytes"):
        binary.encrypt_many(["x", "y"])
    raw = binary.encrypt_many_bytes(["x", "y"])
    assert binary.decrypt_many(raw) == ["x", "y"]


@pytest.mark.parametrize("in_place", [True, False], ids=["str-utf8-in-place", "encoded-copy"])
def test_joined_text_reaches_the_library_the_same_either_way(
    monkeypatch: pytest.MonkeyPatch, in_place: bool
) -> None:
    # Joined text is passed by the address of its own UTF-8 form where ctypes has pythonapi,
    # else encoded: both must give the same values, and a NUL inside one value (which the
    # library sees as one value more) must still fall back to offsets.
    from symmetric_encryption import _batch

    if not in_place:
        monkeypatch.setattr(_batch, "_AS_UTF8", None)
    elif _batch._AS_UTF8 is None:
        pytest.skip("this Python's ctypes has no pythonapi")
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(range(32)), version=2)
    values = ["ascii", "ünïcode ✓", "", "日本語", "x" * 5000] * 700
    enc = ctx.encrypt_many(values, random_iv=False)
    assert enc == [ctx.encrypt(v, random_iv=False) for v in values]
    assert ctx.decrypt_many(enc) == values
    with_nul = values[:3] + ["a\0b"]
    assert ctx.decrypt_many(ctx.encrypt_many(with_nul)) == with_nul
    with pytest.raises(UnicodeEncodeError):
        ctx.encrypt_many(["ok", "\ud800"])


def count_pieces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the base index of every piece the pipeline starts."""
    from symmetric_encryption import _batch

    bases: list[int] = []
    original = _batch._Piece.start

    def start(self: Any) -> None:
        bases.append(self.base)
        original(self)

    monkeypatch.setattr(_batch._Piece, "start", start)
    return bases


def test_a_batch_in_pieces_is_the_batch_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch of several pieces gives what one value at a time gives, each failure in its place
    # with its index in the whole batch, whichever piece it is in and whatever path that piece
    # takes (joined; redone by offsets after a NUL; by offsets because it does not join).
    from symmetric_encryption import _batch

    piece = _batch._PIECE
    ctx = se.Context.from_cipher("aes-256-gcm", bytes(range(32)))
    count = 3 * piece + 123
    plain = [f"row {i} ünïcode" for i in range(count)]
    values: list[Any] = ctx.encrypt_many(plain)
    want: list[Any] = list(plain)
    edits: dict[int, Any] = {
        5: None, piece - 1: None,                                  # piece 0: None
        piece + 17: damaged(values[piece + 17].encode()).decode(),  # piece 1: a failure
        2 * piece + 3: values[2 * piece + 3] + "\0",                 # piece 2: NUL, one value more
        3 * piece + 1: values[3 * piece + 1].encode(),              # piece 3: bytes beside str
    }
    for i, v in edits.items():
        values[i] = v
        want[i] = None if v is None else single(ctx, v)
        if isinstance(want[i], bytes):
            want[i] = want[i].decode()
    bases = count_pieces(monkeypatch)
    got = ctx.decrypt_many(values, on_error="return", threads=2)
    assert bases == [0, piece, 2 * piece, 3 * piece]
    assert len(got) == count
    for i, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, se.Error):
            assert type(g) is type(w) and str(g) == f"value {i}: {w}", (i, g, w)
        else:
            assert g == w, i
    with pytest.raises(se.Error, match=f"^value {piece + 17}: "):
        ctx.decrypt_many(values)
    assert ctx.decrypt_many(values, on_error="none") == [
        None if isinstance(g, se.Error) else g for g in got]

    # Encrypting in pieces: deterministic values equal encrypt's, one by one.
    text: list[Any] = [None if i == piece + 3 else f"det {i}" for i in range(2 * piece + 9)]
    bases.clear()
    assert ctx.encrypt_many(text, random_iv=False, threads=2) == [
        None if t is None else ctx.encrypt(t, random_iv=False) for t in text]
    assert bases == [0, piece, 2 * piece]
    # A value of the wrong type is named by its index in the whole batch.
    text[2 * piece + 4] = 5
    with pytest.raises(TypeError, match=f"^value {2 * piece + 4}: expected str"):
        ctx.encrypt_many(text, threads=2)


class _Lib:
    """The library with some functions replaced, for `_batch.lib`."""

    def __init__(self, real: Any, **replaced: Any) -> None:
        self.real, self.replaced = real, replaced

    def __getattr__(self, name: str) -> Any:
        return self.replaced.get(name) or getattr(self.real, name)


def test_a_refused_piece_stops_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    # The library refusing a piece (its status, raised on the piece's thread) stops the batch
    # with that error; the pieces before it are freed and no thread is left running.
    import threading

    from symmetric_encryption import _batch

    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    values = ctx.encrypt_many([f"v{i}" for i in range(3 * _batch._PIECE)])
    real = _batch.lib
    calls: list[int] = []
    freed: list[int] = []

    def refuse_second(*args: Any) -> int:
        calls.append(1)
        return 1 if len(calls) == 2 else int(real.se_decrypt_batch_split(*args))

    def free(batch: Any) -> None:
        freed.append(1)
        real.se_batch_free(batch)

    monkeypatch.setattr(_batch, "lib", _Lib(real, se_decrypt_batch_split=refuse_second,
                                            se_batch_free=free))
    before = threading.active_count()
    with pytest.raises(se.ArgumentError):
        ctx.decrypt_many(values, threads=2)
    assert len(calls) == 2, "the batch stops at the refused piece"
    assert len(freed) == 1, "the first piece's batch is freed"
    assert threading.active_count() == before


def test_one_thread_means_no_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    # threads=1 (or SYMMETRIC_ENCRYPTION_THREADS=1) keeps a batch on one thread in all: no
    # pipeline, whose pieces would keep a second thread busy beside the library's.
    from symmetric_encryption import _batch

    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    plain = [f"v{i}" for i in range(2 * _batch._PIECE)]
    values = ctx.encrypt_many(plain)
    bases = count_pieces(monkeypatch)
    assert ctx.decrypt_many(values, threads=1) == plain
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_THREADS", "1")
    assert ctx.decrypt_many(values) == plain
    assert bases == []
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_THREADS", "3")
    assert ctx.decrypt_many(values) == plain
    assert bases == [0, _batch._PIECE]


def test_an_exception_mid_batch_frees_every_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    # An exception in this thread while the next piece is in the library (here: after reading
    # a piece's results) waits for that piece's call and frees every batch the calls made.
    import threading

    from symmetric_encryption import _batch

    ctx = se.Context.from_cipher("aes-256-gcm", bytes(32))
    values = ctx.encrypt_many([f"v{i}" for i in range(3 * _batch._PIECE)])
    made: list[int] = []
    freed: list[int] = []
    real_call, real_collect, real_free = _batch._call, _batch._collect, _batch.lib.se_batch_free

    def call(*args: Any) -> Any:
        batch = real_call(*args)
        made.append(batch.value)
        return batch

    def free(batch: Any) -> None:
        freed.append(batch.value)
        real_free(batch)

    def failing(*args: Any) -> Any:
        real_collect(*args)  # frees the piece's batch, as it always does
        raise OSError("reading the results failed")

    monkeypatch.setattr(_batch, "_call", call)
    monkeypatch.setattr(_batch, "_collect", failing)
    monkeypatch.setattr(_batch, "lib", _Lib(_batch.lib, se_batch_free=free))
    before = threading.active_count()
    with pytest.raises(OSError, match="reading the results failed"):
        ctx.decrypt_many(values, threads=2)
    assert len(made) == 2, "the first piece was being read while the second was in the library"
    assert sorted(made) == sorted(freed)
    assert threading.active_count() == before
