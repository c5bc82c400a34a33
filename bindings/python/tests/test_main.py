"""python -m symmetric_encryption: the Rust command line, in-process (se_cli_main)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HERE, VECTORS, needs, needs_streams

import symmetric_encryption as se
from symmetric_encryption.__main__ import run

pytestmark = needs("se_context_load", "se_cli_main")

CONFIG = str(VECTORS / "files" / "config" / "symmetric-encryption.yml")
BASE = ["-c", CONFIG, "-E", "gcm_primary"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}


def test_version(capfd: pytest.CaptureFixture[str]) -> None:
    assert run(["-v"]) == 0
    assert se.library_version() in capfd.readouterr().out


def test_new_password(capfd: pytest.CaptureFixture[str]) -> None:
    assert run([*BASE, "-n", "30"]) == 0
    out = capfd.readouterr().out
    password = out.split("Generated Password: ")[1].split()[0]
    token = out.split("Encrypted: ")[1].split()[0]
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
def test_stdin_to_stdout() -> None:
    data = os.urandom(100_000)
    enc = subprocess.run(
        [sys.executable, "-m", "symmetric_encryption", *BASE, "-e", "-Z"],
        input=data, capture_output=True, env=_env(), check=True,
    ).stdout
    assert enc.startswith(b"@EnC")
    dec = subprocess.run(
        [sys.executable, "-m", "symmetric_encryption", *BASE, "-d"],
        input=enc, capture_output=True, env=_env(), check=True,
    ).stdout
    assert dec == data


def test_value_from_stdin_round_trip() -> None:
    enc = subprocess.run(
        [sys.executable, "-m", "symmetric_encryption", *BASE, "-e", "-P"],
        input=b"s3cret\n", capture_output=True, env=_env(), check=True,
    ).stdout.strip()
    assert se.Context.load(CONFIG, env="gcm_primary").decrypt(enc) == "s3cret"


def test_errors_exit_1_with_the_rust_message(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        from symmetric_encryption.__main__ import main

        main(["-c", CONFIG, "-E", "no_such_env", "-n"])
    assert info.value.code == 1
    err = capfd.readouterr().err
    assert err.startswith("symmetric-encryption: ") and "no_such_env" in err


def test_usage_error_exits_2(capfd: pytest.CaptureFixture[str]) -> None:
    assert run(["--encrypt", "--decrypt"]) == 2
    assert "cannot be used with" in capfd.readouterr().err
