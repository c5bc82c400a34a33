"""symmetric_encryption.keys: generate -> rotate (rolling) -> activate -> rotate-kek ->
re-encrypt -> cleanup on the file, environment, heroku and memory keystores (aws against the
local KMS when SE_TEST_KMS_ENDPOINT is set), with every value written at each step decrypting
in Python, through the Rust command line and, when Ruby and its ffi gem are installed, in Ruby.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from conftest import HERE, REPO_ROOT, VECTORS, needs

import symmetric_encryption as se
from symmetric_encryption import keys

pytestmark = needs("se_config_generate", "se_cli_main")

RUBY_LIB = REPO_ROOT / "bindings" / "ruby" / "lib"
STORES = ["file", "environment", "heroku", "memory"]


def _ruby_ok() -> bool:
    if shutil.which("ruby") is None:
        return False
    r = subprocess.run(["ruby", "-e", "require 'ffi'"], capture_output=True)
    return r.returncode == 0


RUBY = _ruby_ok()


def _cli() -> list[str]:
    """The Rust binary when it is built next to the library, else the package's command."""
    lib = os.environ.get("SYMMETRIC_ENCRYPTION_LIB")
    if lib:
        binary = Path(lib).parent / "symmetric-encryption"
        if binary.is_file():
            return [str(binary)]
    return [sys.executable, "-m", "symmetric_encryption"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}


class Values:
    """Values written so far (encrypted -> plaintext), checked in every language."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.items: dict[str, str] = {}

    def add(self, ctx: se.Context, step: str) -> str:
        plain = f"written at {step}"
        token = ctx.encrypt(plain)
        self.items[token] = plain
        return token

    def keep_version(self, ctx: se.Context, version: int) -> None:
        self.items = {
            t: p for t, p in self.items.items()
            if (h := ctx.header(t)) is not None and h.version == version
        }

    def check(self, step: str, blob: Path, text_file: Path) -> None:
        ctx = se.Context.load(self.config, env="production")
        for token, plain in self.items.items():
            assert ctx.decrypt(token) == plain, f"{step}: Python"
        m = re.search(r"secret: (\S+)", text_file.read_text())
        assert m and ctx.decrypt(m.group(1)) == "in a text file", f"{step}: the text file"
        out = blob.with_suffix(".out")
        ctx.decrypt_file(blob, out)
        assert out.read_bytes() == b"a whole encrypted file\n", f"{step}: the whole file"
        base = [*_cli(), "-c", str(self.config), "-E", "production"]
        for token, plain in self.items.items():
            r = subprocess.run([*base, "-d", "-P"], input=token.encode(), capture_output=True,
                               env=_env())
            assert r.returncode == 0, f"{step}: command line: {r.stderr.decode()}"
            assert r.stdout.decode().rstrip("\n") == plain, f"{step}: command line"
        if RUBY:
            script = (
                "require 'json'; require 'symmetric_encryption'; "
                "SymmetricEncryption.load!(ARGV[0], 'production'); "
                "JSON.parse(File.read(ARGV[1])).each { |t, p| "
                "  raise \"ruby: #{p}\" unless SymmetricEncryption.decrypt(t) == p }; "
                "puts 'ok'"
            )
            manifest = self.config.parent / "values.json"
            manifest.write_text(json.dumps(self.items))
            r = subprocess.run(["ruby", "-I", str(RUBY_LIB), "-e", script, str(self.config),
                                str(manifest)], capture_output=True, env=_env())
            assert r.returncode == 0 and r.stdout.strip() == b"ok", (
                f"{step}: Ruby: {r.stderr.decode()}"
            )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _set_variables(report: keys.Report, monkeypatch: pytest.MonkeyPatch) -> None:
    for v in report.variables:
        monkeypatch.setenv(v.name, v.value)


def _stores() -> list[str]:
    stores = list(STORES)
    if os.environ.get("SE_TEST_KMS_ENDPOINT"):
        stores.append("aws")
    return stores


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = os.environ.get("SE_TEST_KMS_ENDPOINT")
    if endpoint:
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("store", _stores())
def test_the_whole_rotation(store: str, workdir: Path, monkeypatch: pytest.MonkeyPatch,
                            kms: None) -> None:
    path = workdir / "config" / "symmetric-encryption.yml"
    cfg, report = keys.generate(path, keystore=store, app_name="pyapp",
                                environments=["development", "production"],
                                key_path=workdir / "keys",
                                regions=["us-east-1"] if store == "aws" else None)
    assert report.written and cfg.path == str(path)
    assert report.lines[-1] == f"New configuration file created at: {path}"
    if store == "environment":
        assert [v.name for v in report.variables] == ["PYAPP_PRODUCTION_V1"]
        assert 'export PYAPP_PRODUCTION_V1="' in report.stdout
        assert "value=" not in repr(report.variables[0])
    elif store == "heroku":
        assert report.variables[0].heroku
        assert "heroku config:add PYAPP_PRODUCTION_V1=" in report.stdout
    elif store == "file":
        assert len(report.files) == 2
        assert all(os.stat(f).st_mode & 0o777 == 0o600 for f in report.files)
    _set_variables(report, monkeypatch)
    with pytest.raises(se.ArgumentError, match="already exists"):
        keys.generate(path, keystore=store, key_path=workdir / "keys")

    prod = next(e for e in cfg.environments() if e.name == "production")
    assert prod.versions == (1,) and prod.entries[0].keystore == store
    assert "1234567890ABCDEF" not in json.dumps(cfg.describe())

    data = workdir / "data"
    data.mkdir()
    blob, text_file = data / "blob.enc", data / "values.yml"
    (workdir / "blob.txt").write_bytes(b"a whole encrypted file\n")
    ctx = cfg.context("production")
    ctx.encrypt_file(workdir / "blob.txt", blob)
    text_file.write_text(f"# values\nsecret: {ctx.encrypt('in a text file')}\nplain: 1\n")
    values = Values(path)
    values.add(ctx, "generate")
    values.check("generate", blob, text_file)

    report = cfg.rotate_keys(rolling_deploy=True)
    assert report.lines[0] == "Rotated: production"
    _set_variables(report, monkeypatch)
    assert cfg.environment("production").versions == (1, 2)
    ctx = cfg.context("production")
    token = values.add(ctx, "rotate")
    assert ctx.header(token).version == 1  # type: ignore[union-attr]
    values.check("rotate", blob, text_file)

    report = cfg.activate_key()
    assert report.written
    assert cfg.environment("production").versions == (2, 1)
    assert not cfg.activate_key().written
    ctx = cfg.context("production")
    token = values.add(ctx, "activate")
    assert ctx.header(token).version == 2  # type: ignore[union-attr]
    values.check("activate", blob, text_file)

    report = cfg.rotate_kek()
    assert report.written == (store != "aws")
    if store == "environment":
        assert 'export PYAPP_PRODUCTION_V2="' in report.stdout
    _set_variables(report, monkeypatch)
    ctx = cfg.context("production")
    values.add(ctx, "rotate-kek")
    values.check("rotate-kek", blob, text_file)

    report = keys.re_encrypt(ctx, "data/**/*")
    assert report.failures == 0, report.stderr
    assert "Re-encrypting entire file: data/blob.enc (version 1 -> 2)" in report.lines
    assert "Re-encrypted 1 encrypted value(s) in: data/values.yml" in report.lines
    m = re.search(r"secret: (\S+)", text_file.read_text())
    assert m and ctx.header(m.group(1)).version == 2  # type: ignore[union-attr]
    values.check("re-encrypt", blob, text_file)

    plan = cfg.cleanup_plan()
    assert plan.removals == (keys.Removal("production", (1,)),)
    assert "production" in plan.stdout and not plan.written
    report = cfg.cleanup_keys()
    assert report.written and report.removals == (keys.Removal("production", (1,)),)
    assert cfg.environment("production").versions == (2,)
    values.keep_version(ctx, 2)
    assert len(values.items) == 2
    values.check("cleanup", blob, text_file)

    assert "successfully migrated" in cfg.migrate().stdout
    values.check("migrate", blob, text_file)


def _masked(text: str) -> str:
    text = re.sub(r'(export [A-Z0-9_]+=)"[^"]*"', r'\1"..."', text)
    return re.sub(r"(heroku config:add [A-Z0-9_]+=)\S+", r"\1...", text)


@pytest.mark.parametrize("vector", ["environment_gcm", "heroku_gcm", "environment_cbc"])
def test_variables_are_printed_as_the_gem_prints_them(vector: str, workdir: Path) -> None:
    vdir = VECTORS / "configs" / vector
    meta = json.loads((vdir / "set.json").read_text())
    command = meta["commands"][0].split()
    args: dict[str, str] = {}
    flags = command[1:]
    for i, flag in enumerate(flags):
        if flag.startswith("--") and i + 1 < len(flags) and not flags[i + 1].startswith("--"):
            args[flag] = flags[i + 1]
    _, report = keys.generate(
        args["--config"], keystore=args["--keystore"], app_name=args["--app-name"],
        environments=args["--environments"].split(","), key_path=args.get("--key-path"),
        cipher_name=args.get("--cipher-name"),
    )
    expected = (vdir / "cli_output.txt").read_text()
    assert _masked(report.stdout) == _masked(expected)


def test_in_memory_config_and_errors(workdir: Path) -> None:
    yaml = (
        "development:\n  ciphers:\n  - key: 1234567890ABCDEF\n    iv: 1234567890ABCDEF\n"
        "    cipher_name: aes-128-cbc\n    version: 1\n"
    )
    cfg = keys.Config.from_yaml(yaml, source="inline")
    assert cfg.path is None
    report = cfg.rotate_keys()
    assert not report.written and "No new keys were generated" in report.stdout
    with pytest.raises(se.ArgumentError, match="parsed from text"):
        cfg.write()
    cfg.write(workdir / "out.yml")
    assert "ciphers:" in (workdir / "out.yml").read_text()
    with pytest.raises(se.ConfigError, match="staging"):
        cfg.activate_key(environments=["staging"])
    with pytest.raises(se.ConfigError, match="vault9"):
        cfg.rotate_keys(keystore="vault9")
    with pytest.raises(se.ConfigError):
        keys.Config.load(workdir / "missing.yml")
    mem, report = keys.generate(None, keystore="memory", environments=["production"])
    assert not report.written
    token = mem.context("production").encrypt("x")
    assert mem.context("production").decrypt(token) == "x"
    mem.close()
    with pytest.raises(ValueError, match="closed"):
        mem.to_yaml()


def test_python_m_is_the_rust_command_line(workdir: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "symmetric_encryption", "--help"],
                       capture_output=True, env=_env())
    assert r.returncode == 0
    assert b"--rotate-keys" in r.stdout and b"--rolling-deploy" in r.stdout
    r = subprocess.run([sys.executable, "-m", "symmetric_encryption", "--no-such-flag"],
                       capture_output=True, env=_env())
    assert r.returncode == 2
    r = subprocess.run(
        [sys.executable, "-m", "symmetric_encryption", "--generate", "--keystore", "environment",
         "--app-name", "cli", "--environments", "development,production", "--config", "se.yml"],
        capture_output=True, env=_env(), cwd=workdir,
    )
    assert r.returncode == 0, r.stderr
    assert b'export CLI_PRODUCTION_V1="' in r.stdout
    assert b"New configuration file created at: se.yml" in r.stdout
    assert keys.Config.load(workdir / "se.yml").environment("production").versions == (1,)
