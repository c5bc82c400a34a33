"""configs/: every configuration set loaded with Context.load, as an application would.

Each set is copied to a temporary directory (key file paths in the YAML are relative to the
working directory), its files get the modes recorded in index.json (the loader refuses key
files readable by others), and the set's environment variables are set.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import VECTORS, cipher_context, needs_load, vector_json

import symmetric_encryption as se

pytestmark = needs_load

INDEX = vector_json("index.json")
SETS = vector_json("configs/index.json")["sets"]
PROBE = b"probe value for key comparison"


def set_json(name: str) -> dict[str, Any]:
    return vector_json(f"configs/{name}/set.json")


def copy_set(name: str, tmp_path: Path) -> Path:
    """Copies configs/<name> to tmp_path, giving every file its recorded mode."""
    target = tmp_path / name
    shutil.copytree(VECTORS / "configs" / name, target)
    prefix = f"configs/{name}/"
    for entry in INDEX["files"]:
        if entry["path"].startswith(prefix):
            os.chmod(target / entry["path"][len(prefix):], int(entry["mode"], 8))
    return target


def enter(directory: Path, env_vars: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SYMMETRIC_ENCRYPTION_CONFIG", "SYMMETRIC_ENCRYPTION_ENV", "RACK_ENV",
                "RAILS_ENV"):
        monkeypatch.delenv(var, raising=False)
    for name, value in env_vars.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(directory)


def check_resolved(ctx: se.Context, resolved: list[dict[str, Any]]) -> None:
    """The context holds exactly the resolved ciphers, primary first, with their keys."""
    got = [(c.version, c.cipher_name, c.encoding, c.always_add_header) for c in ctx.ciphers]
    want = [(r["version"], r["cipher_name"], r["encoding"], r["always_add_header"])
            for r in resolved]
    assert got == want
    for r in resolved:
        # Keys are never exposed; equal deterministic output proves equal key (and iv).
        reference = cipher_context(r)
        assert ctx.encrypt_bytes(PROBE, random_iv=False, version=r["version"]) == (
            reference.encrypt_bytes(PROBE, random_iv=False)
        ), f"version {r['version']}: the loaded key or iv differs from the resolved one"


def sample_ciphertext(sample: dict[str, Any]) -> bytes:
    data = sample["ciphertext"].encode("latin-1")
    if sample.get("ciphertext_wrapped") == "base64":
        data = base64.b64decode(data)
    return data


def check_sample(ctx: se.Context, sample: dict[str, Any]) -> None:
    plain = base64.b64decode(sample["plaintext_b64"])
    ct = sample_ciphertext(sample)
    assert ctx.decrypt_bytes(ct) == plain, sample["sample_id"]
    if sample.get("plaintext_utf8") is not None:
        assert ctx.decrypt(ct) == sample["plaintext_utf8"]
    if sample["deterministic"]:
        again = ctx.encrypt_bytes(
            plain,
            random_iv=False,
            compress=sample["compress"],
            version=sample["cipher_version"],
        )
        assert again == ct, sample["sample_id"]


FLAT = [
    (s["name"], e["environment"])
    for s in SETS
    if "steps" not in set_json(s["name"])
    for e in set_json(s["name"])["environments"]
]


@pytest.mark.parametrize("name,environment", FLAT, ids=[f"{n}-{e}" for n, e in FLAT])
def test_config_set(
    name: str, environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = set_json(name)
    root = copy_set(name, tmp_path)
    enter(root, meta.get("env_vars") or {}, monkeypatch)
    env = next(e for e in meta["environments"] if e["environment"] == environment)
    ctx = se.Context.load(meta["config_file"], env=environment)
    check_resolved(ctx, env["resolved_ciphers"])
    for sample in env["samples"]:
        check_sample(ctx, sample)


STEPPED = [s["name"] for s in SETS if "steps" in set_json(s["name"])]


@pytest.mark.parametrize("name", STEPPED)
def test_rotation_steps(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step snapshot of a key rotation; values from every step decrypt exactly as the
    reference's decrypt matrix says (a removed version cannot be read)."""
    meta = set_json(name)
    root = copy_set(name, tmp_path)
    samples = {s["sample_id"]: s for s in meta.get("samples", [])}
    for step in meta["steps"]:
        for env in step["environments"]:
            for s in env.get("samples", []):
                samples.setdefault(s["sample_id"], {**s, "environment": env["environment"]})
    checked = 0
    for step in meta["steps"]:
        with monkeypatch.context() as mp:
            enter(root / step["dir"], step.get("env_vars") or {}, mp)
            contexts = {}
            for env in step["environments"]:
                ctx = se.Context.load(meta["config_file"], env=env["environment"])
                contexts[env["environment"]] = ctx
                check_resolved(ctx, env["resolved_ciphers"])
                for sample in env.get("samples", []):
                    check_sample(ctx, sample)
                for sample_id in env.get("sample_ids", []):
                    check_sample(ctx, samples[sample_id])
            for sample_id, outcome in meta.get("decrypt_matrix", {}).get(step["step"], {}).items():
                sample = samples[sample_id]
                ctx = contexts[sample["environment"]]
                if outcome == "ok":
                    assert ctx.decrypt_bytes(sample_ciphertext(sample)) == base64.b64decode(
                        sample["plaintext_b64"]
                    )
                else:
                    with pytest.raises(se.CipherError, match="version"):
                        ctx.decrypt_bytes(sample_ciphertext(sample))
                checked += 1
            for item in step.get("step_01_samples_decrypt", []):
                sample = samples[item["sample_id"]]
                ctx = contexts[sample["environment"]]
                assert item["ok"]
                assert ctx.decrypt_bytes(sample_ciphertext(sample)) == base64.b64decode(
                    sample["plaintext_b64"]
                )
                checked += 1
    assert checked or name == "mixed_cipher_upgrade"


# ---- defaults and failures --------------------------------------------------------------


def test_load_defaults_from_cwd_and_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_set("file_gcm_default", tmp_path)
    enter(root, {"RAILS_ENV": "release"}, monkeypatch)
    meta = set_json("file_gcm_default")
    release = next(e for e in meta["environments"] if e["environment"] == "release")
    check_resolved(se.Context.load(), release["resolved_ciphers"])
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_ENV", "production")  # wins over RAILS_ENV
    production = next(e for e in meta["environments"] if e["environment"] == "production")
    check_resolved(se.Context.load(), production["resolved_ciphers"])


def test_load_path_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_set("file_gcm_default", tmp_path)
    enter(root, {}, monkeypatch)
    (root / "config" / "symmetric-encryption.yml").rename(root / "elsewhere.yml")
    monkeypatch.setenv("SYMMETRIC_ENCRYPTION_CONFIG", str(root / "elsewhere.yml"))
    assert se.Context.load(env="development").primary.cipher_name == "aes-128-cbc"
    # path objects are accepted
    assert se.Context.load(root / "elsewhere.yml", env="development").primary.version == 1


def test_unknown_environment_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_set("file_gcm_default", tmp_path)
    enter(root, {}, monkeypatch)
    with pytest.raises(se.ConfigError):
        se.Context.load("config/symmetric-encryption.yml", env="no_such_environment")


def test_missing_config_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter(tmp_path, {}, monkeypatch)
    with pytest.raises(se.ConfigError):
        se.Context.load(tmp_path / "missing.yml", env="production")


def test_key_file_readable_by_others_is_a_keystore_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_set("file_gcm_default", tmp_path)
    enter(root, {}, monkeypatch)
    os.chmod(root / "keys" / "my_app_production_v1.kekek", 0o644)
    with pytest.raises(se.KeystoreError):
        se.Context.load("config/symmetric-encryption.yml", env="production")


def test_missing_key_file_is_a_keystore_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_set("file_gcm_default", tmp_path)
    enter(root, {}, monkeypatch)
    (root / "keys" / "my_app_production_v1.encrypted_key").unlink()
    with pytest.raises(se.KeystoreError):
        se.Context.load("config/symmetric-encryption.yml", env="production")


def test_missing_key_env_var_is_a_keystore_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_set("environment_gcm", tmp_path)
    enter(root, {}, monkeypatch)  # the set's variables are not set
    monkeypatch.delenv("MY_APP_PRODUCTION_V1", raising=False)
    with pytest.raises(se.KeystoreError):
        se.Context.load("config/symmetric-encryption.yml", env="production")


@pytest.mark.skipif(
    "se_context_load_yaml" in se._native.MISSING, reason="se_context_load_yaml not exported yet"
)
def test_from_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (VECTORS / "files" / "config" / "symmetric-encryption.yml").read_text()
    manifest = vector_json("files/manifest.json")
    for env, primary in (("cbc_primary", 1), ("gcm_primary", 2)):
        ctx = se.Context.from_yaml(text, env=env)
        assert ctx.primary.version == primary
        assert sorted(c.version for c in ctx.ciphers) == sorted(
            c["version"] for c in manifest["ciphers"]
        )
    with pytest.raises(se.ConfigError):
        se.Context.from_yaml("production: [1, 2", env="production")


SHARED_VERSIONS = """\
test:
  ciphers:
    - {key: '1234567890ABCDEF', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 2}
    - {key: 'BBBBBBBBBBBBBBBB', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}
    - {key: 'CCCCCCCCCCCCCCCC', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}
"""


def test_entries_may_share_a_version() -> None:
    """SPEC section 5: the file loads, the primary encrypts, and version 1 is the first entry
    that has it (in file order); the later one is never selected."""
    ctx = se.Context.from_yaml(SHARED_VERSIONS, env="test")
    assert [c.version for c in ctx.ciphers] == [2, 1, 1]
    assert ctx.header(ctx.encrypt("x")).version == 2
    first = se.Context.from_cipher("aes-128-cbc", key=b"B" * 16, iv=b"1234567890ABCDEF", version=1)
    later = se.Context.from_cipher("aes-128-cbc", key=b"C" * 16, iv=b"1234567890ABCDEF", version=1)
    value = "shared version"
    assert ctx.encrypt(value, version=1, random_iv=False) == first.encrypt(value, random_iv=False)
    assert ctx.decrypt(first.encrypt(value)) == value
    try:
        got = ctx.decrypt_bytes(later.encrypt(value))
    except se.Error:
        got = None
    assert got != value.encode()
