"""Finding the native library: $SYMMETRIC_ENCRYPTION_LIB, the copy inside the package, the
repository's build, then an installed system library (issue 21), so that a packager can ship
one libsymmetric_encryption.so for every language.

Each case imports a copy of the package, in a fresh interpreter, from a temporary directory
outside the repository, with the library placed where the case says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HERE

from symmetric_encryption import _native

PACKAGE = HERE.parent / "src" / "symmetric_encryption"
BUILT = Path(_native.LIB_PATH)
LIB = _native.LIB_FILE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux library names")


def package_copy(root: Path, bundled: bool = False) -> Path:
    """The package's Python files under root/site (no library inside unless `bundled`)."""
    site = root / "site"
    shutil.copytree(PACKAGE, site / "symmetric_encryption",
                    ignore=shutil.ignore_patterns("*.so", "*.dylib", "*.dll", "__pycache__"))
    if bundled:
        shutil.copy(BUILT, site / "symmetric_encryption" / LIB)
    return site


def loaded_from(site: Path, cwd: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SYMMETRIC_ENCRYPTION_LIB", "LD_LIBRARY_PATH", "PYTHONPATH")}
    clean.update(env)
    clean["PYTHONPATH"] = str(site)
    code = ("import symmetric_encryption as se; from symmetric_encryption import _native; "
            "ctx = se.Context.from_cipher('aes-128-cbc', key=b'k' * 16, iv=b'i' * 16); "
            "assert ctx.decrypt(ctx.encrypt('x')) == 'x'; print(_native.LIB_PATH)")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=clean, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_an_installed_runtime_library_is_found(tmp_path: Path) -> None:
    """Only the versioned name a runtime package ships (no development symlink), in a library
    directory of LD_LIBRARY_PATH."""
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    shutil.copy(BUILT, libdir / f"{LIB}.0")
    site = package_copy(tmp_path)
    got = loaded_from(site, tmp_path, LD_LIBRARY_PATH=str(libdir))
    assert got == str(libdir / f"{LIB}.0")


def test_the_development_name_comes_before_a_versioned_one(tmp_path: Path) -> None:
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    shutil.copy(BUILT, libdir / f"{LIB}.0")
    os.symlink(f"{LIB}.0", libdir / LIB)
    site = package_copy(tmp_path)
    assert loaded_from(site, tmp_path, LD_LIBRARY_PATH=str(libdir)) == str(libdir / LIB)


def test_the_bundled_copy_and_the_variable_come_before_the_system(tmp_path: Path) -> None:
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    shutil.copy(BUILT, libdir / LIB)
    site = package_copy(tmp_path, bundled=True)
    bundled = site / "symmetric_encryption" / LIB
    assert loaded_from(site, tmp_path, LD_LIBRARY_PATH=str(libdir)) == str(bundled)
    chosen = tmp_path / "chosen" / LIB
    chosen.parent.mkdir()
    shutil.copy(BUILT, chosen)
    got = loaded_from(site, tmp_path, LD_LIBRARY_PATH=str(libdir),
                      SYMMETRIC_ENCRYPTION_LIB=str(chosen))
    assert got == str(chosen)


def test_the_system_directories_are_listed() -> None:
    dirs = [str(d) for d in _native._system_dirs()]
    assert "/usr/local/lib" in dirs and "/usr/lib" in dirs
    assert dirs.index("/usr/local/lib") < dirs.index("/usr/lib")
