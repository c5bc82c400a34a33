#!/usr/bin/env python3
"""Python package vs a hand-written pyca/cryptography baseline: ops/s on 32-byte values.

The baseline writes the same aes-256-gcm value format directly:

    "@EnC" + version + flags 0x48 + u16le 12 + iv     <- additional authenticated data
    + u16le 16 + tag + ciphertext, base64 (strict)

with iv = os.urandom(12) (random) or HMAC-SHA256(key, plaintext)[:12] (deterministic). Both
sides are checked against each other before timing (the deterministic outputs are byte for
byte equal, and each side decrypts the other's values).

    SYMMETRIC_ENCRYPTION_LIB=target/release/libsymmetric_encryption.so \\
        python3 benches/python_bench.py [--seconds 0.4] [--repeat 5] [--breakdown]

Each figure is the best of --repeat runs of about --seconds each, the package's and the
baseline's runs interleaved (the machine may be shared).
"""

from __future__ import annotations

import argparse
import base64
import hmac as std_hmac
import os
import struct
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))

import symmetric_encryption as se  # noqa: E402

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as pyca_hmac
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover
    sys.exit("the benchmark needs pyca/cryptography: pip install cryptography")

KEY = bytes(range(32))
VERSION = 1
VALUE = b"4111-1111-1111-1111 exp 12/29 ok"  # 32 bytes
assert len(VALUE) == 32


class PycaBaseline:
    """The @EnC aes-256-gcm value format written by hand on pyca/cryptography."""

    def __init__(self, key: bytes, version: int, stdlib_hmac: bool = False) -> None:
        self.key = key
        self.aead = AESGCM(key)
        self.prefix = b"@EnC" + bytes([version, 0x48]) + struct.pack("<H", 12)
        self.tag_len_field = struct.pack("<H", 16)
        self.stdlib_hmac = stdlib_hmac

    def _hmac_iv(self, plain: bytes) -> bytes:
        if self.stdlib_hmac:
            return std_hmac.digest(self.key, plain, "sha256")[:12]
        h = pyca_hmac.HMAC(self.key, hashes.SHA256())
        h.update(plain)
        return h.finalize()[:12]

    def encrypt(self, plain: bytes, random_iv: bool = True) -> str:
        iv = os.urandom(12) if random_iv else self._hmac_iv(plain)
        aad = self.prefix + iv
        sealed = self.aead.encrypt(iv, plain, aad)  # ciphertext || tag
        return base64.b64encode(
            aad + self.tag_len_field + sealed[-16:] + sealed[:-16]
        ).decode("ascii")

    def decrypt(self, value: str) -> bytes:
        raw = base64.b64decode(value)
        if raw[:8] != self.prefix or raw[20:22] != self.tag_len_field:
            raise ValueError("not a version-1 aes-256-gcm value")
        iv, tag = raw[8:20], raw[22:38]
        return self.aead.decrypt(iv, raw[38:] + tag, raw[:20])


def _calibrate(fn: Callable[[], object], seconds: float) -> int:
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > 0.05:
            return max(1, int(n * seconds / dt))
        n *= 4


def _run(fn: Callable[[], object], loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return loops / (time.perf_counter() - t0)


def compare(
    a: Callable[[], object], b: Callable[[], object], seconds: float, repeat: int
) -> tuple[float, float]:
    """Best ops/s of `a` and of `b`, their runs interleaved so that load on the (shared)
    machine hits both alike."""
    la, lb = _calibrate(a, seconds), _calibrate(b, seconds)
    best_a = best_b = 0.0
    for _ in range(repeat):
        best_a = max(best_a, _run(a, la))
        best_b = max(best_b, _run(b, lb))
    return best_a, best_b


def ns_per_op(fn: Callable[[], object], seconds: float, repeat: int) -> float:
    loops = _calibrate(fn, seconds)
    return 1e9 / max(_run(fn, loops) for _ in range(repeat))


def breakdown(ctx: se.Context, base: PycaBaseline, seconds: float, repeat: int) -> None:
    """Where the time of one call goes: the package's Python glue, the two foreign calls
    (se_encrypt / se_decrypt and se_bytes_free) and the ctypes floor, against the pieces of
    the baseline."""
    import ctypes

    from symmetric_encryption import _native
    from symmetric_encryption.context import _options

    fast = _native.fast
    cptr, size = ctx._cptr, ctypes.c_size_t(len(VALUE))
    out = _native.se_bytes()
    ref = ctypes.byref(out)
    token = ctx.encrypt(VALUE, random_iv=True).encode()
    tsize = ctypes.c_size_t(len(token))
    opts = {True: _options(True, False, None, None), False: _options(False, False, None, None)}

    def c_encrypt(random_iv: bool) -> Callable[[], object]:
        o = opts[random_iv]

        def f() -> None:
            fast.se_encrypt(cptr, VALUE, size, o, ref)
            fast.se_bytes_free(ref)
        return f

    def c_decrypt() -> None:
        fast.se_decrypt(cptr, token, tsize, ref)
        fast.se_bytes_free(ref)

    def floor() -> None:
        fast.se_context_randomize_iv(cptr)
        fast.se_context_randomize_iv(cptr)

    aad = base.prefix + bytes(12)
    items = [
        ("package ctx.encrypt(random_iv=True)", lambda: ctx.encrypt(VALUE, random_iv=True)),
        ("  C calls only: se_encrypt + se_bytes_free", c_encrypt(True)),
        ("package ctx.encrypt(random_iv=False)", lambda: ctx.encrypt(VALUE, random_iv=False)),
        ("  C calls only: se_encrypt + se_bytes_free", c_encrypt(False)),
        ("package ctx.decrypt_bytes", lambda: ctx.decrypt_bytes(token)),
        ("  C calls only: se_decrypt + se_bytes_free", c_decrypt),
        ("ctypes floor: two trivial foreign calls", floor),
        ("baseline: os.urandom(12)", lambda: os.urandom(12)),
        ("baseline: AESGCM.encrypt", lambda: base.aead.encrypt(bytes(12), VALUE, aad)),
        ("baseline: pyca HMAC-SHA256", lambda: base._hmac_iv(VALUE)),
        ("baseline: stdlib hmac.digest", lambda: base_std_hmac(VALUE)),
        ("baseline: base64.b64encode(70 bytes)", lambda: base64.b64encode(bytes(70))),
    ]
    print("\nwhere the time goes (ns per call, best of runs):")
    for name, fn in items:
        print(f"  {name:<46} {ns_per_op(fn, seconds / 2, repeat):>7.0f}")


def batches(ctx: se.Context, base: PycaBaseline, n: int) -> None:
    """encrypt_many / decrypt_many of `n` 32-byte values (str in and out, as a column), on one
    thread and on every core, against a Python loop of the baseline over the same values. The
    loop is timed on a tenth of the values (it is the slow side) and reported per value."""
    plain = [VALUE.decode()] * n
    sample = max(1, n // 10)

    def rate(fn: Callable[[], object], count: int) -> float:
        best = 0.0
        for _ in range(2):
            t0 = time.perf_counter()
            fn()
            best = max(best, count / (time.perf_counter() - t0))
        return best

    tokens = ctx.encrypt_many(plain)
    assert ctx.decrypt_many(tokens[:3]) == plain[:3]
    assert [base.decrypt(t) for t in tokens[:3]] == [VALUE] * 3
    loop_dec = rate(lambda: [base.decrypt(t).decode() for t in tokens[:sample]], sample)
    loop_enc = rate(lambda: [base.encrypt(v.encode()) for v in plain[:sample]], sample)
    print(f"\nbatches of {n:,} values ({len(VALUE)} bytes, str in and out), values/s:")
    for label, threads in (("1 thread", 1), ("every core", None)):
        d = rate(lambda: ctx.decrypt_many(tokens, threads=threads), n)
        e = rate(lambda: ctx.encrypt_many(plain, threads=threads), n)
        print(f"decrypt_many, {label:<10} {d:>12,.0f}  pyca loop {loop_dec:>10,.0f}  "
              f"{d / loop_dec:>6.2f}x")
        print(f"encrypt_many, {label:<10} {e:>12,.0f}  pyca loop {loop_enc:>10,.0f}  "
              f"{e / loop_enc:>6.2f}x")


def base_std_hmac(plain: bytes) -> bytes:
    return std_hmac.digest(KEY, plain, "sha256")[:12]


def check_compatible(ctx: se.Context, base: PycaBaseline, base_std: PycaBaseline) -> None:
    det = ctx.encrypt(VALUE, random_iv=False)
    assert base.encrypt(VALUE, random_iv=False) == det, "deterministic outputs differ"
    assert base_std.encrypt(VALUE, random_iv=False) == det
    assert ctx.decrypt_bytes(base.encrypt(VALUE)) == VALUE
    assert base.decrypt(ctx.encrypt(VALUE, random_iv=True)) == VALUE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=0.4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=0, metavar="N",
                    help="also time encrypt_many / decrypt_many of N values against a loop of "
                         "the baseline over the same values")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time the pieces of one call (C calls, ctypes floor, baseline parts)")
    args = ap.parse_args()

    ctx = se.Context.from_cipher("aes-256-gcm", KEY, version=VERSION)
    base = PycaBaseline(KEY, VERSION)
    base_std = PycaBaseline(KEY, VERSION, stdlib_hmac=True)
    check_compatible(ctx, base, base_std)

    token_pkg = ctx.encrypt(VALUE, random_iv=True)
    token_base = base.encrypt(VALUE)

    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("encrypt, random iv", lambda: ctx.encrypt(VALUE, random_iv=True),
         lambda: base.encrypt(VALUE, True)),
        ("encrypt, deterministic iv", lambda: ctx.encrypt(VALUE, random_iv=False),
         lambda: base.encrypt(VALUE, False)),
        ("decrypt", lambda: ctx.decrypt_bytes(token_pkg), lambda: base.decrypt(token_base)),
        ("decrypt to str", lambda: ctx.decrypt(token_pkg),
         lambda: base.decrypt(token_base).decode()),
    ]

    import cryptography

    print(f"symmetric_encryption {se.__version__} (native {se.library_version()}, "
          f"{se.backend()})")
    print(f"pyca/cryptography {cryptography.__version__}, Python {sys.version.split()[0]}, "
          f"{len(VALUE)}-byte values, aes-256-gcm, best of {args.repeat}")
    print()
    header = f"{'operation':<28} {'package ops/s':>14} {'pyca ops/s':>12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name, pkg, ref in rows:
        a, b = compare(pkg, ref, args.seconds, args.repeat)
        print(f"{name:<28} {a:>14,.0f} {b:>12,.0f} {a / b:>6.2f}x")
    a, b = compare(lambda: ctx.encrypt(VALUE, random_iv=False),
                   lambda: base_std.encrypt(VALUE, False), args.seconds, args.repeat)
    print(f"{'encrypt, det. (stdlib hmac)':<28} {a:>14,.0f} {b:>12,.0f} {a / b:>6.2f}x")
    print("\nratio > 1: the package is faster. The last row's baseline computes the iv with the")
    print("standard library's hmac.digest (OpenSSL, one call) instead of pyca's HMAC object.")

    if args.batch:
        batches(ctx, base, args.batch)
    if args.breakdown:
        breakdown(ctx, base, args.seconds, args.repeat)


if __name__ == "__main__":
    main()
