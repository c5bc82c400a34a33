"""``python -m symmetric_encryption``: encrypt and decrypt from scripts, with the flags of the
``symmetric-encryption`` command line (the gem's) for those operations::

    python -m symmetric_encryption -e secrets.csv -o secrets.csv.enc     # a file
    python -m symmetric_encryption -d secrets.csv.enc                     # to stdout
    some-command | python -m symmetric_encryption -e > out.enc            # stdin
    python -m symmetric_encryption -e -P                                  # a value, prompted
    python -m symmetric_encryption -n                                     # a new password

Configuration and environment come from -c / -E, else the usual defaults
(``SYMMETRIC_ENCRYPTION_CONFIG``, ``config/symmetric-encryption.yml``;
``SYMMETRIC_ENCRYPTION_ENV``, ``RACK_ENV``, ``RAILS_ENV``, ``development``). Key generation and
rotation are the ``symmetric-encryption`` binary's.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import os
import shutil
import sys
from typing import BinaryIO, Sequence

from . import Context, Error, __version__, library_version


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m symmetric_encryption",
        description="Encrypt or decrypt files, streams and values with a symmetric-encryption "
        "configuration.",
    )
    op = p.add_mutually_exclusive_group(required=True)
    op.add_argument("-e", "--encrypt", nargs="?", const="-", metavar="FILE",
                    help="encrypt FILE, or stdin when no file is given")
    op.add_argument("-d", "--decrypt", nargs="?", const="-", metavar="FILE",
                    help="decrypt FILE, or stdin when no file is given")
    op.add_argument("-n", "--new-password", nargs="?", const=22, type=int, metavar="SIZE",
                    help="print a random password of SIZE bytes (url-safe base64, default 22) "
                    "and its encrypted form")
    op.add_argument("-v", "--version", action="store_true", help="print the versions")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("-P", "--prompt", action="store_true",
                   help="encrypt or decrypt a value typed at a prompt (not echoed)")
    z = p.add_mutually_exclusive_group()
    z.add_argument("-z", "--compress", dest="compress", action="store_true", default=None,
                   help="compress before encrypting (the default for files and streams)")
    z.add_argument("-Z", "--no-compress", dest="compress", action="store_false",
                   help="do not compress")
    p.add_argument("-E", "--env", metavar="ENVIRONMENT", help="environment in the config file")
    p.add_argument("-c", "--config", metavar="CONFIG_FILE_PATH", help="configuration file")
    p.add_argument("-V", "--key-version", type=int, metavar="NUMBER",
                   help="cipher version to encrypt with (default: the primary)")
    return p


def _prompt(confirm: bool) -> str:
    value = getpass.getpass("Value: ")
    if confirm and getpass.getpass("Again: ") != value:
        raise SystemExit("the values do not match")
    return value


def _emit(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)


def _binary_out(output: str | None) -> BinaryIO:
    return open(output, "wb") if output else sys.stdout.buffer


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        print(f"symmetric-encryption (Python) {__version__}, native library {library_version()}")
        return 0

    ctx = Context.load(args.config, args.env)

    if args.new_password is not None:
        password = base64.urlsafe_b64encode(os.urandom(args.new_password)).decode().rstrip("=")
        _emit(f"{password}\n{ctx.encrypt(password, random_iv=True)}", args.output)
        return 0

    if args.prompt:
        if args.encrypt is not None:
            _emit(ctx.encrypt(_prompt(confirm=True), compress=bool(args.compress),
                              version=args.key_version, random_iv=True), args.output)
        else:
            _emit(ctx.decrypt(_prompt(confirm=False)), args.output)
        return 0

    if args.encrypt is not None:
        if args.encrypt != "-" and args.output:
            ctx.encrypt_file(args.encrypt, args.output, compress=args.compress,
                             version=args.key_version)
            return 0
        source = sys.stdin.buffer if args.encrypt == "-" else open(args.encrypt, "rb")
        target = args.output if args.output else sys.stdout.buffer
        with source, ctx.open(target, "wb", compress=args.compress,
                              version=args.key_version) as w:
            shutil.copyfileobj(source, w)
        return 0

    if args.decrypt != "-" and args.output:
        ctx.decrypt_file(args.decrypt, args.output)
        return 0
    reader_source = sys.stdin.buffer if args.decrypt == "-" else args.decrypt
    out = _binary_out(args.output)
    try:
        with ctx.open(reader_source, "rb") as r:
            shutil.copyfileobj(r, out)
    finally:
        out.flush()
        if out is not sys.stdout.buffer:
            out.close()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: runs the command and turns library errors into a message and exit 1."""
    try:
        sys.exit(run(argv))
    except Error as e:
        print(f"symmetric-encryption: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
