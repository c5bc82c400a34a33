"""A Context sent to other processes: pickling (never key bytes), reloading once per process,
and real worker pools decrypting a partitioned column of gem-written values:
``concurrent.futures.ProcessPoolExecutor`` (spawned processes) and a ``dask.distributed``
LocalCluster with process workers (partitions scattered to the workers, then decrypted there).

The dask test needs ``dask[distributed]`` (the python suite installs it); with
``SE_REQUIRE_DASK=1`` (set by scripts/suites/python) a missing dask is a failure, not a skip.
"""

from __future__ import annotations

import base64
import concurrent.futures
import multiprocessing
import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import HERE, needs
from test_configs import copy_set, enter, set_json

import symmetric_encryption as se
from symmetric_encryption import context as se_context

pytestmark = needs("se_decrypt_batch", "se_context_load_in")


def column(meta: dict[str, Any], env: str, n: int) -> tuple[list[str], list[str]]:
    """``n`` gem-written values of ``env`` and their plaintexts."""
    samples = next(e for e in meta["environments"] if e["environment"] == env)["samples"]
    picked = [samples[i % len(samples)] for i in range(n)]
    return [s["ciphertext"] for s in picked], [s["plaintext_utf8"] for s in picked]


@pytest.fixture
def gem_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    """The gem's file_gcm_default set, staged; the working directory is its root."""
    root = copy_set("file_gcm_default", tmp_path)
    meta = set_json("file_gcm_default")
    enter(root, meta["env_vars"], monkeypatch)
    return root, meta


def test_pickle_holds_where_to_load_never_the_keys(gem_app: tuple[Path, dict[str, Any]]) -> None:
    root, meta = gem_app
    ctx = se.Context.load(env="production")
    data = pickle.dumps(ctx)
    keys = [base64.b64decode(c["key_b64"]) for e in meta["environments"]
            for c in e["resolved_ciphers"]]
    files = [p.read_bytes() for p in (root / "keys").iterdir()]
    for secret in keys + files:
        assert secret not in data
    assert str(root / "config" / "symmetric-encryption.yml").encode() in data
    # Once per process: every unpickling gives the same loaded context.
    a, b = pickle.loads(data), pickle.loads(data)
    assert a is b
    values, plain = column(meta, "production", 10)
    assert a.decrypt_many(values) == plain


def test_every_kind_of_loaded_context_pickles(gem_app: tuple[Path, dict[str, Any]]) -> None:
    root, meta = gem_app
    text = (root / "config" / "symmetric-encryption.yml").read_text()
    limited = se.Context.load(env="production", max_decompressed_size=4096)
    from_text = se.Context.from_yaml(text, env="production")
    both = se.Context.combine([from_text, se.Context.load(env="test")], randomize_iv=True)
    values, plain = column(meta, "production", 5)
    for ctx in (limited, from_text, both):
        back = pickle.loads(pickle.dumps(ctx))
        assert back.decrypt_many(values) == plain
        assert back.max_decompressed_size == ctx.max_decompressed_size
        assert [c.version for c in back.ciphers] == [c.version for c in ctx.ciphers]
        assert back.randomize_iv == ctx.randomize_iv


def test_a_context_from_raw_keys_refuses_to_pickle() -> None:
    raw = se.Context.from_cipher("aes-256-gcm", bytes(32))
    for ctx in (raw, se.Context.combine([raw])):
        with pytest.raises(TypeError, match="keys are never pickled"):
            pickle.dumps(ctx)


def decrypt_partition(ctx: se.Context, values: list[str]) -> tuple[int, list[str], int]:
    """A worker's task: the process id, the plaintexts, and how many contexts it loaded."""
    return os.getpid(), ctx.decrypt_many(values), len(se_context._LOADED)


def test_process_pool_workers_load_the_context_themselves(
    gem_app: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, meta = gem_app
    ctx = se.Context.load(env="production")
    values, plain = column(meta, "production", 20_000)
    parts = [values[i:i + 2_500] for i in range(0, len(values), 2_500)]
    # The workers start elsewhere: key paths still resolve against the app's directory.
    monkeypatch.chdir(tmp_path)
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
        results = list(pool.map(decrypt_partition, [ctx] * len(parts), parts))
    assert [v for _, part, _ in results for v in part] == plain
    assert os.getpid() not in {pid for pid, _, _ in results}
    # Each worker loaded the context once, however many partitions it decrypted.
    assert {loaded for _, _, loaded in results} == {1}


def test_dask_local_cluster_decrypts_a_partitioned_column(
    gem_app: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.environ.get("SE_REQUIRE_DASK") == "1":
        from dask.distributed import Client, LocalCluster
    else:
        distributed = pytest.importorskip("dask.distributed")
        Client, LocalCluster = distributed.Client, distributed.LocalCluster
    root, meta = gem_app
    ctx = se.Context.load(env="production")
    values, plain = column(meta, "production", 120_000)
    parts = [values[i:i + 7_500] for i in range(0, len(values), 7_500)]
    # Worker processes import this package and this module from the checkout.
    paths = [str(HERE.parent / "src"), str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    t0 = time.perf_counter()
    assert ctx.decrypt_many(values) == plain
    here = len(values) / (time.perf_counter() - t0)
    rates = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as cluster, \
                Client(cluster) as client:
            # The partitions live on the workers, as a dask collection's would.
            stored = client.scatter(parts)
            # Warm up: every worker loads the context once.
            client.gather(client.map(decrypt_partition, [ctx] * len(parts), stored))
            t0 = time.perf_counter()
            results = client.gather(client.map(decrypt_partition, [ctx] * len(parts), stored,
                                               pure=False))
            rates[workers] = len(values) / (time.perf_counter() - t0)
            assert [v for _, part, _ in results for v in part] == plain
            pids = {pid for pid, _, _ in results}
            assert len(pids) == workers and os.getpid() not in pids
            assert {loaded for _, _, loaded in results} == {1}
    print(f"\ndask LocalCluster, decrypt_many of {len(values):,} gem values in {len(parts)} "
          f"partitions: 1 worker {rates[1]:,.0f} values/s, 2 workers {rates[2]:,.0f} values/s "
          f"({rates[2] / rates[1]:.2f}x); in this process: {here:,.0f} values/s (information only, "
          "not asserted)")
