"""Key management: generate, rotate, activate, clean up and migrate a configuration file, and
re-encrypt files, as the ``symmetric-encryption`` command line does (the same code, through the
C ABI's ``se_config_*`` functions)::

    from symmetric_encryption import keys

    cfg, report = keys.generate("config/symmetric-encryption.yml", key_path="/etc/app/keys",
                                app_name="shop", environments=["development", "production"])
    print(report.stdout)                       # what the command line prints
    cfg.rotate_keys(rolling_deploy=True)       # deploy it, then:
    cfg.activate_key()
    keys.re_encrypt(cfg.context("production"), "config/**/*.yml")
    cfg.cleanup_keys()

A :class:`Config` loaded from a file writes every change back to that file, atomically and in
the gem's layout; one parsed from text (:meth:`Config.from_yaml`) changes in memory only
(:meth:`Config.to_yaml`, :meth:`Config.write`). Every operation returns a :class:`Report`: the
lines the command line prints, the key files written and the variables to set (environment
and heroku keystores). Failures raise the package's exceptions (:class:`ConfigError`,
:class:`KeystoreError`, :class:`ArgumentError`, ...).
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from . import _native
from ._native import lib
from .context import Context, StrPath

__all__ = [
    "Config",
    "Entry",
    "Environment",
    "Removal",
    "Report",
    "Variable",
    "generate",
    "re_encrypt",
]

Names = Optional[Iterable[str]]


@dataclass(frozen=True)
class Variable:
    """A variable to set wherever the application runs: ``export NAME=VALUE`` (environment
    keystore) or ``heroku config:add NAME=VALUE`` (``heroku`` is true). The value is an
    encrypted data key."""

    name: str
    value: str = ""
    heroku: bool = False

    def __repr__(self) -> str:  # the value is key material, even if encrypted
        return f"Variable(name={self.name!r}, heroku={self.heroku!r})"


@dataclass(frozen=True)
class Removal:
    """Versions removed (or, in a cleanup plan, to be removed) from one environment."""

    environment: str
    versions: tuple[int, ...]


@dataclass(frozen=True)
class Report:
    """What an operation did, as the command line reports it."""

    #: Everything the command line prints to standard output.
    stdout: str
    #: Warnings (and files that could not be re-encrypted), as printed to standard error.
    stderr: str
    #: The summary lines (per file for :func:`re_encrypt`).
    lines: tuple[str, ...]
    #: Key files written.
    files: tuple[str, ...]
    #: Variables to set.
    variables: tuple[Variable, ...]
    #: Versions removed per environment (cleanup and cleanup plan).
    removals: tuple[Removal, ...]
    #: Whether the configuration file was written (or, re-encrypting, anything changed).
    written: bool
    #: Files that could not be fully re-encrypted (left as they were).
    failures: int


@dataclass(frozen=True)
class Entry:
    """One key of an environment, described without the key."""

    version: int
    cipher_name: str
    primary: bool
    #: "file", "environment", "heroku", "memory", "aws"; None when the key is in the file.
    keystore: str | None
    key_filename: str | None
    key_env_var: str | None
    master_key_alias: str | None
    key_files: tuple[tuple[str, str], ...]
    encoding: str | None


@dataclass(frozen=True)
class Environment:
    """An environment of the configuration: its keys, the primary first."""

    name: str
    entries: tuple[Entry, ...]

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(e.version for e in self.entries)


def _text(p: bytes | None) -> str:
    return p.decode("utf-8", "replace") if p else ""


def _take_report(handle: ctypes.c_void_p) -> Report:
    r = handle.value
    try:
        variables = []
        for i in range(lib.se_report_variable_count(r)):
            name, value, heroku = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_int32()
            _native.check(lib.se_report_variable(r, i, ctypes.byref(name), ctypes.byref(value),
                                                 ctypes.byref(heroku)))
            variables.append(Variable(_text(name.value), _text(value.value), bool(heroku.value)))
        removals = []
        for i in range(lib.se_report_removal_count(r)):
            env = ctypes.c_char_p()
            vs = ctypes.POINTER(ctypes.c_uint8)()
            n = ctypes.c_size_t()
            _native.check(lib.se_report_removal(r, i, ctypes.byref(env), ctypes.byref(vs),
                                                ctypes.byref(n)))
            removals.append(Removal(_text(env.value), tuple(vs[k] for k in range(n.value))))
        return Report(
            stdout=_text(lib.se_report_stdout(r)),
            stderr=_text(lib.se_report_stderr(r)),
            lines=tuple(_text(lib.se_report_line(r, i)) for i in range(lib.se_report_line_count(r))),
            files=tuple(_text(lib.se_report_file(r, i)) for i in range(lib.se_report_file_count(r))),
            variables=tuple(variables),
            removals=tuple(removals),
            written=bool(lib.se_report_written(r)),
            failures=int(lib.se_report_failures(r)),
        )
    finally:
        lib.se_report_free(r)


class _Options:
    """Keeps the encoded option strings alive for as long as the C struct points at them."""

    def __init__(
        self,
        *,
        environments: Names = None,
        app_name: str | None = None,
        keystore: str | None = None,
        cipher_name: str | None = None,
        key_path: StrPath | None = None,
        key_permissions: Iterable[str | int] | str | None = None,
        regions: Names = None,
        rolling_deploy: bool = False,
    ) -> None:
        def names(v: Names, what: str) -> bytes | None:
            if v is None:
                return None
            if isinstance(v, str):
                return _native.c_str(v, what)
            return _native.c_str(",".join(v), what)

        perms: str | None
        if key_permissions is None or isinstance(key_permissions, str):
            perms = key_permissions
        else:
            perms = ",".join(p if isinstance(p, str) else f"{p:04o}" for p in key_permissions)
        self._keep = [
            names(environments, "environments"),
            _native.c_str(app_name, "app_name"),
            _native.c_str(keystore, "keystore"),
            _native.c_str(cipher_name, "cipher_name"),
            _native.c_path(key_path, "key_path"),
            _native.c_str(perms, "key_permissions"),
            names(regions, "regions"),
        ]
        self.c = _native.se_key_options(*self._keep, int(bool(rolling_deploy)))

    def ref(self) -> Any:
        return ctypes.byref(self.c)


class Config:
    """A configuration file (every environment; keys are read only by :meth:`context`).

    Not thread-safe: use one instance from one thread at a time.
    """

    __slots__ = ("_ptr",)

    _ptr: int | None

    def __init__(self) -> None:
        raise TypeError("use Config.load(), Config.from_yaml() or keys.generate()")

    @classmethod
    def _adopt(cls, handle: ctypes.c_void_p) -> Config:
        self = object.__new__(cls)
        self._ptr = handle.value
        return self

    def __del__(self, _free: object = lib.se_config_free) -> None:
        ptr = getattr(self, "_ptr", None)
        if ptr:
            self._ptr = None
            _free(ptr)  # type: ignore[operator]

    def close(self) -> None:
        """Frees the handle now (keys held in it are zeroized)."""
        ptr, self._ptr = self._ptr, None
        if ptr:
            lib.se_config_free(ptr)

    def __enter__(self) -> Config:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _h(self) -> int:
        if not self._ptr:
            raise ValueError("the configuration was closed")
        return self._ptr

    @classmethod
    def load(cls, path: StrPath | None = None) -> Config:
        """Parses a configuration file. Default path: ``$SYMMETRIC_ENCRYPTION_CONFIG``, else
        ``config/symmetric-encryption.yml``. Changes are written back to it.

        :raises ConfigError: the file is missing or invalid.
        """
        _native.require("se_config_load")
        out = ctypes.c_void_p()
        _native.check(lib.se_config_load(_native.c_path(path, "path"), ctypes.byref(out)))
        return cls._adopt(out)

    @classmethod
    def from_yaml(cls, text: str | bytes, source: str | None = None) -> Config:
        """Parses configuration text; changes stay in memory (see :meth:`write`)."""
        _native.require("se_config_parse_yaml")
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        out = ctypes.c_void_p()
        _native.check(lib.se_config_parse_yaml(data, len(data), _native.c_str(source, "source"),
                                               ctypes.byref(out)))
        return cls._adopt(out)

    def describe(self) -> dict[str, Any]:
        """The configuration without keys, as the C ABI's ``se_config_describe`` JSON."""
        out = _native.se_bytes()
        _native.check(lib.se_config_describe(self._h(), ctypes.byref(out)))
        doc: dict[str, Any] = json.loads(_native.take_bytes(out))
        return doc

    @property
    def path(self) -> str | None:
        """The file changes are written to; None for text parsed in memory."""
        p = self.describe()["path"]
        return str(p) if p is not None else None

    def environments(self) -> list[Environment]:
        """Every environment, in file order, with its keys described (no key material)."""
        envs = []
        for e in self.describe()["environments"]:
            entries = tuple(
                Entry(
                    version=int(x["version"]),
                    cipher_name=str(x["cipher_name"]),
                    primary=bool(x["primary"]),
                    keystore=x["keystore"],
                    key_filename=x["key_filename"],
                    key_env_var=x["key_env_var"],
                    master_key_alias=x["master_key_alias"],
                    key_files=tuple((f["region"], f["file_name"]) for f in x["key_files"] or ()),
                    encoding=x["encoding"],
                )
                for x in e["entries"]
            )
            envs.append(Environment(str(e["name"]), entries))
        return envs

    def environment(self, name: str) -> Environment:
        """One environment by name.

        :raises ConfigError: there is no such environment.
        """
        out = _native.se_bytes()
        _native.check(lib.se_config_versions(self._h(), _native.c_str(name, "name"),
                                             ctypes.byref(out)))
        _native.take_bytes(out)
        return next(e for e in self.environments() if e.name == name)

    def to_yaml(self) -> str:
        """The file as the gem writes it (it holds the keys the file holds: development and
        test keys, memory keystores' encrypted keys)."""
        out = _native.se_bytes()
        _native.check(lib.se_config_to_yaml(self._h(), ctypes.byref(out)))
        return _native.take_bytes(out).decode("utf-8")

    def write(self, path: StrPath | None = None) -> None:
        """Writes the file atomically (default: the file it was loaded from)."""
        _native.check(lib.se_config_write(self._h(), _native.c_path(path, "path")))

    def context(self, env: str | None = None) -> Context:
        """Loads the keys of one environment (default as :meth:`Context.load`)."""
        out = ctypes.c_void_p()
        _native.check(lib.se_config_context(self._h(), _native.c_str(env, "env"),
                                            ctypes.byref(out)))
        return Context._adopt(out)

    def _run(self, fn: Callable[..., int], opts: _Options | None) -> Report:
        report = ctypes.c_void_p()
        if opts is None:
            _native.check(fn(self._h(), ctypes.byref(report)))
        else:
            _native.check(fn(self._h(), opts.ref(), ctypes.byref(report)))
        return _take_report(report)

    def rotate_keys(
        self,
        *,
        environments: Names = None,
        app_name: str | None = None,
        rolling_deploy: bool = False,
        keystore: str | None = None,
        cipher_name: str | None = None,
        key_path: StrPath | None = None,
        regions: Names = None,
    ) -> Report:
        """``--rotate-keys``: a new key (highest version + 1) in every selected environment
        that keeps its key in a keystore; first, or second with ``rolling_deploy``."""
        opts = _Options(environments=environments, app_name=app_name, keystore=keystore,
                        cipher_name=cipher_name, key_path=key_path, regions=regions,
                        rolling_deploy=rolling_deploy)
        return self._run(lib.se_config_rotate_keys, opts)

    def rotate_kek(self, *, environments: Names = None, app_name: str | None = None) -> Report:
        """``--rotate-kek``: new key-encrypting keys for the current data keys."""
        return self._run(lib.se_config_rotate_kek,
                         _Options(environments=environments, app_name=app_name))

    def activate_key(self, *, environments: Names = None) -> Report:
        """``--activate-key``: the highest version becomes the primary."""
        return self._run(lib.se_config_activate_key, _Options(environments=environments))

    def cleanup_plan(self, *, environments: Names = None) -> Report:
        """What :meth:`cleanup_keys` would remove (``removals``, and the gem's warning as
        ``stdout``); changes nothing."""
        return self._run(lib.se_config_cleanup_plan, _Options(environments=environments))

    def cleanup_keys(self, *, environments: Names = None) -> Report:
        """``--cleanup-keys --force``: removes every version but the highest (key files are
        not deleted)."""
        return self._run(lib.se_config_cleanup_keys, _Options(environments=environments))

    def migrate(self) -> Report:
        """``--migrate``: writes the file in the current format."""
        return self._run(lib.se_config_migrate, None)


def generate(
    path: StrPath | None = None,
    *,
    keystore: str | None = None,
    app_name: str | None = None,
    environments: Names = None,
    cipher_name: str | None = None,
    key_path: StrPath | None = None,
    key_permissions: Iterable[str | int] | str | None = None,
    regions: Names = None,
) -> tuple[Config, Report]:
    """``--generate``: a new configuration with version 1 keys. Written to ``path`` (refused
    if it exists) unless ``path`` is None; key files are written either way.

    Defaults as the command line's: keystore ``file``, app ``symmetric-encryption``,
    environments development, test, release, production, cipher aes-256-gcm, key path
    ``~/.symmetric-encryption``.
    """
    _native.require("se_config_generate")
    opts = _Options(environments=environments, app_name=app_name, keystore=keystore,
                    cipher_name=cipher_name, key_path=key_path, key_permissions=key_permissions,
                    regions=regions)
    out, report = ctypes.c_void_p(), ctypes.c_void_p()
    _native.check(lib.se_config_generate(_native.c_path(path, "path"), opts.ref(),
                                         ctypes.byref(out), ctypes.byref(report)))
    return Config._adopt(out), _take_report(report)


def re_encrypt(ctx: Context, pattern: str | None = None, *, version: int | None = None) -> Report:
    """``--re-encrypt``: every encrypted file matching ``pattern`` (default
    ``"**/*.{yml,rb}"``), and every encrypted value in matching text files up to 256 KiB,
    re-encrypted with ``version`` (default: the primary). Files that cannot be re-encrypted
    are left as they were and counted in ``failures``."""
    _native.require("se_reencrypt")
    report = ctypes.c_void_p()
    _native.check(lib.se_reencrypt(ctx._handle(), _native.c_str(pattern, "pattern"),
                                   -1 if version is None else int(version),
                                   ctypes.byref(report)))
    return _take_report(report)
