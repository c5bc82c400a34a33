"""``python -m symmetric_encryption`` and the ``symmetric-encryption`` command installed with
the package: the Rust ``symmetric-encryption`` command line itself, run in this process through
the C ABI (``se_cli_main``), so every flag and message is the same::

    python -m symmetric_encryption -e secrets.csv -o secrets.csv.enc
    python -m symmetric_encryption --generate --app-name shop --key-path /etc/shop/keys
    symmetric-encryption --rotate-keys --rolling-deploy -c config/symmetric-encryption.yml

``symmetric-encryption --help`` lists every flag.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Sequence

from . import _native

PROG = "symmetric-encryption"


def run(argv: Sequence[str] | None = None) -> int:
    """Runs the command line on ``argv`` (without the program name; default
    ``sys.argv[1:]``) and returns its exit status (0 success, 1 failure, 2 usage error).
    It reads and writes the process's standard input, output and error directly (file
    descriptors 0, 1 and 2), after flushing Python's own buffers."""
    _native.require("se_cli_main")
    args = list(sys.argv[1:] if argv is None else argv)
    encoded = [os.fsencode(PROG)] + [os.fsencode(a) for a in args]
    arr = (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    status: int = _native.lib.se_cli_main(len(encoded), arr)
    return status


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: exits with :func:`run`'s status."""
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
