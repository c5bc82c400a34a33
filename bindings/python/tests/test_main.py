"""python -m symmetric_encryption."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HERE, VECTORS, needs_load, needs_streams

import symmetric_encryption as se
from symmetric_encryption.__main__ import run

pytestmark = needs_load

CONFIG = str(VECTORS / "files" / "config" / "symmetric-encryption.yml")
BASE = ["-c", CONFIG, "-E", "gcm_primary"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-v"]) == 0
    assert se.library_version() in capsys.readouterr().out


def test_prompted_value_round_trip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "s3cret")
    assert run([*BASE, "-e", "-P"]) == 0
    token = capsys.readouterr().out.strip()
    ctx = se.Context.load(CONFIG, env="gcm_primary")
    assert ctx.decrypt(token) == "s3cret"
    monkeypatch.setattr("getpass.getpass", lambda prompt="": token)
    assert run([*BASE, "-d", "-P"]) == 0
    assert capsys.readouterr().out.strip() == "s3cret"


def test_new_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*BASE, "-n", "30"]) == 0
    password, token = capsys.readouterr().out.split()
    assert len(password) == 40  # 30 bytes, url-safe base64 without padding
    assert se.Context.load(CONFIG, env="gcm_primary").decrypt(token) == password


@needs_streams
def test_files(tmp_path: Path) -> None:
    src = tmp_path / "plain.txt"
    src.write_bytes(b"hello\n" * 10_000)
    assert run([*BASE, "-e", str(src), "-o", str(tmp_path / "a.enc")]) == 0
    assert run([*BASE, "-d", str(tmp_path / "a.enc"), "-o", str(tmp_path / "a.txt")]) == 0
    assert (tmp_path / "a.txt").read_bytes() == src.read_bytes()


@needs_streams
def test_stdin_to_stdout(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    data = os.urandom(100_000)
    enc = subprocess.run(
        [sys.executable, "-m", "symmetric_encryption", *BASE, "-e", "-Z"],
        input=data, capture_output=True, env=env, check=True,
    ).stdout
    assert enc.startswith(b"@EnC")
    dec = subprocess.run(
        [sys.executable, "-m", "symmetric_encryption", *BASE, "-d"],
        input=enc, capture_output=True, env=env, check=True,
    ).stdout
    assert dec == data


def test_errors_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        from symmetric_encryption.__main__ import main

        main(["-c", CONFIG, "-E", "no_such_env", "-n"])
    assert info.value.code == 1
    assert "ConfigError" in capsys.readouterr().err
