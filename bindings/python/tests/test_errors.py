"""Each exception class, raised by a real failure of its kind."""

from __future__ import annotations

import base64
import ctypes
import os
from pathlib import Path

import pytest
from conftest import needs_load, needs_streams

import symmetric_encryption as se
from symmetric_encryption import _native, errors

KEY = bytes(range(32))
IV = bytes(range(16))


@pytest.fixture
def gcm() -> se.Context:
    return se.Context.from_cipher("aes-256-gcm", KEY, version=1)


@pytest.fixture
def cbc() -> se.Context:
    return se.Context.from_cipher("aes-256-cbc", KEY, IV, version=2)


def test_hierarchy() -> None:
    for cls in (se.ArgumentError, se.ConfigError, se.KeystoreError, se.CipherError,
                se.AuthenticationError, se.EncodingError, se.StreamError, se.InternalError,
                se.UnsupportedError):
        assert issubclass(cls, se.Error)
    assert issubclass(se.AuthenticationError, se.CipherError)
    assert issubclass(se.ArgumentError, ValueError)
    assert issubclass(se.EncodingError, ValueError)
    assert issubclass(se.StreamError, OSError)


def test_status_mapping() -> None:
    expected = {
        1: se.ArgumentError, 2: se.ConfigError, 3: se.KeystoreError, 4: se.CipherError,
        5: se.AuthenticationError, 6: se.EncodingError, 7: se.StreamError, 99: se.InternalError,
    }
    for status, cls in expected.items():
        e = errors.from_status(status, "message")
        assert type(e) is cls and e.status == status and str(e) == "message"
    unknown = errors.from_status(42, "odd")
    assert type(unknown) is se.Error and unknown.status == 42


def test_argument_error_from_the_library() -> None:
    # A NULL context reaches the C layer only through the private module.
    out = _native.se_bytes()
    with pytest.raises(se.ArgumentError, match="ctx"):
        _native.check(_native.lib.se_encrypt(None, b"x", 1, None, ctypes.byref(out)))


def test_argument_error_from_options(gcm: se.Context) -> None:
    with pytest.raises(se.ArgumentError, match="0..255"):
        gcm.encrypt("x", version=256)
    with pytest.raises(se.ArgumentError):
        se.Context.combine([])
    with pytest.raises(TypeError):
        gcm.encrypt("x", random_iv="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        gcm.encrypt(42)  # type: ignore[arg-type]


def test_config_error() -> None:
    with pytest.raises(se.ConfigError, match="aes-999"):
        se.Context.from_cipher("aes-999-gcm", KEY)
    with pytest.raises(se.ConfigError, match="32"):
        se.Context.from_cipher("aes-256-gcm", KEY[:16])
    with pytest.raises(se.ConfigError):
        se.Context.from_cipher("aes-256-cbc", KEY, IV, encoding="base32")
    # Two ciphers with one version are allowed, as in the gem: the first one wins.
    a = se.Context.from_cipher("aes-256-gcm", KEY, version=3)
    b = se.Context.from_cipher("aes-256-gcm", bytes(reversed(KEY)), version=3)
    both = se.Context.combine([a, b])
    assert [c.version for c in both.ciphers] == [3, 3]
    assert both.decrypt(a.encrypt("first wins")) == "first wins"
    with pytest.raises(se.AuthenticationError):
        both.decrypt(b.encrypt("never selected"))


@needs_load
def test_keystore_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text(
        "production:\n"
        "  ciphers:\n"
        "    - key_filename: missing.key\n"
        "      iv: '1234567890123456'\n"
        "      cipher_name: aes-256-cbc\n"
        "      version: 1\n"
    )
    with pytest.raises(se.KeystoreError):
        se.Context.load(tmp_path / "config.yml", env="production")


def test_cipher_error(gcm: se.Context, cbc: se.Context) -> None:
    with pytest.raises(se.CipherError, match="version"):
        gcm.encrypt("x", version=7)  # not configured
    other = se.Context.from_cipher("aes-256-gcm", KEY, version=9)
    with pytest.raises(se.CipherError, match="9"):
        gcm.decrypt(other.encrypt("x"))  # unknown version
    wrong_key = se.Context.from_cipher("aes-256-cbc", bytes(32), IV, version=2)
    with pytest.raises(se.CipherError) as info:
        wrong_key.decrypt(cbc.encrypt("some secret text"))  # bad padding
    assert not isinstance(info.value, se.AuthenticationError)


def test_authentication_error(gcm: se.Context) -> None:
    raw = bytearray(base64.b64decode(gcm.encrypt("attack at dawn", random_iv=True)))
    raw[-1] ^= 1  # flip a ciphertext bit
    with pytest.raises(se.AuthenticationError, match="auth"):
        gcm.decrypt(base64.b64encode(bytes(raw)))
    wrong_key = se.Context.from_cipher("aes-256-gcm", bytes(32), version=1)
    with pytest.raises(se.AuthenticationError):
        wrong_key.decrypt(gcm.encrypt("attack at dawn"))
    with pytest.raises(se.CipherError):  # also a CipherError
        wrong_key.decrypt(gcm.encrypt("attack at dawn"))


def test_encoding_error() -> None:
    ctx = se.Context.from_cipher("aes-256-cbc", KEY, IV, encoding="base16")
    with pytest.raises(se.EncodingError, match="base16"):
        ctx.decrypt("40456e43zz")
    urlsafe = se.Context.from_cipher("aes-256-cbc", KEY, IV, encoding="base64urlsafe")
    with pytest.raises(se.EncodingError):
        urlsafe.decrypt("QEVu Qw==")
    binary = se.Context.from_cipher("aes-256-cbc", KEY, IV)
    with pytest.raises(se.EncodingError, match="decrypt_bytes"):
        binary.decrypt(binary.encrypt(b"\xff\xfe not utf-8"))
    with pytest.raises(ValueError):  # EncodingError is a ValueError
        ctx.decrypt("40456e43zz")


@needs_streams
def test_stream_error(gcm: se.Context, tmp_path: Path) -> None:
    with pytest.raises(se.StreamError):
        gcm.open(tmp_path / "does-not-exist.enc", "rb")
    with pytest.raises(se.StreamError):
        gcm.decrypt_file(tmp_path / "nope.enc", tmp_path / "out")
    with pytest.raises(OSError):
        gcm.open(tmp_path / "no-such-dir" / "x.enc", "rb")


def test_unsupported_error_names_the_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native, "MISSING", {"se_context_load"})
    with pytest.raises(se.UnsupportedError, match="se_context_load"):
        se.Context.load("x.yml")


def test_messages_do_not_leak_keys_or_plaintext(gcm: se.Context) -> None:
    secret = "my very secret plaintext"
    raw = bytearray(base64.b64decode(gcm.encrypt(secret)))
    raw[-1] ^= 1
    with pytest.raises(se.AuthenticationError) as info:
        gcm.decrypt(base64.b64encode(bytes(raw)))
    message = str(info.value)
    assert secret not in message
    assert KEY.hex() not in message and base64.b64encode(KEY).decode() not in message


def test_import_error_lists_where_it_looked(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "SYMMETRIC_ENCRYPTION_LIB": str(tmp_path / "nope.so")}
    src = Path(se.__file__).resolve().parent.parent
    # A copy of the package outside the repository, so only the env var can find a library.
    import shutil

    shutil.copytree(src / "symmetric_encryption", tmp_path / "pkg" / "symmetric_encryption",
                    ignore=shutil.ignore_patterns("*.so", "*.dylib", "*.dll", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-c", "import symmetric_encryption"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path / "pkg")},
        capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "nope.so" in proc.stderr and "SYMMETRIC_ENCRYPTION_LIB" in proc.stderr
    # Without the variable, every place is listed.
    del env["SYMMETRIC_ENCRYPTION_LIB"]
    proc = subprocess.run(
        [sys.executable, "-c", "import symmetric_encryption"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path / "pkg")},
        capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert "inside the installed package" in proc.stderr
    assert "target/release" in proc.stderr
