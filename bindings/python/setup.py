"""Build hook: puts the native library inside the package.

Everything else is in pyproject.toml. When the package is built (``pip install
./bindings/python``), ``build_py`` copies the shared library next to the Python modules:

1. ``$SYMMETRIC_ENCRYPTION_LIB`` if it names a file;
2. else, from a repository checkout, ``target/release/<lib>`` after ``cargo build --release
   --lib`` (a no-op when it is up to date; skipped when cargo is not installed but the library
   is already built, or when ``SYMMETRIC_ENCRYPTION_SKIP_CARGO=1``).

Without a library the build fails with a message saying how to provide one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent  # the repository root when building from a checkout

if sys.platform == "darwin":
    LIB_FILE = "libsymmetric_encryption.dylib"
elif sys.platform == "win32":
    LIB_FILE = "symmetric_encryption.dll"
else:
    LIB_FILE = "libsymmetric_encryption.so"


def _find_library() -> Path:
    env = os.environ.get("SYMMETRIC_ENCRYPTION_LIB")
    if env:
        path = Path(env)
        if not path.is_file():
            raise SystemExit(f"SYMMETRIC_ENCRYPTION_LIB={env} is not a file")
        return path
    built = ROOT / "target" / "release" / LIB_FILE
    if (ROOT / "Cargo.toml").is_file():
        cargo = shutil.which("cargo")
        if cargo and os.environ.get("SYMMETRIC_ENCRYPTION_SKIP_CARGO") != "1":
            print(f"running cargo build --release --lib in {ROOT}", file=sys.stderr)
            subprocess.run([cargo, "build", "--release", "--lib", "--features", "aws-kms,aws-lc"], cwd=ROOT, check=True)
        if built.is_file():
            return built
    raise SystemExit(
        f"symmetric-encryption: no native library to package. Build it with "
        f"`cargo build --release --lib --features aws-kms,aws-lc` in the repository ({built} is missing), or set "
        "SYMMETRIC_ENCRYPTION_LIB to the path of a built library."
    )


class BuildPyWithLibrary(build_py):
    """build_py that also copies the native library into the built package."""

    def run(self) -> None:
        super().run()
        if self.dry_run:
            return
        source = _find_library()
        target = Path(self.build_lib) / "symmetric_encryption" / LIB_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"copying {source} -> {target}", file=sys.stderr)
        shutil.copyfile(source, target)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform, not as pure Python."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
