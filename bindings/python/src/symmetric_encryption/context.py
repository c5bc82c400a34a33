"""`Context`: the ciphers of one environment, and everything done with them."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
import threading
from typing import TYPE_CHECKING, Any, Iterable, Literal, Union, overload

from . import _batch, _native, errors
from ._native import lib

if TYPE_CHECKING:
    import io as _io

    from .io import Reader, Writer

#: What a value to encrypt or decrypt may be.
Value = Union[str, bytes, bytearray, memoryview]
#: What a path may be.
StrPath = Union[str, "os.PathLike[str]"]

# The value methods call the library through `_native.fast` (no argtypes, see there): every
# argument must already be the exact ctypes type.
_encrypt = _native.fast.se_encrypt
_decrypt = _native.fast.se_decrypt
_decrypt_version = _native.fast.se_decrypt_version
_bytes_free = _native.fast.se_bytes_free
# Short values: one call through a frame, keeping the GIL (`_native.held`, see there).
_encrypt_call = getattr(_native.held, "se_encrypt_call", None)
_decrypt_call = getattr(_native.held, "se_decrypt_call", None)
_byref = ctypes.byref
_se_bytes = _native.se_bytes
_sizes = _native._SIZES
_size_arg = _native.size_arg


#: Results up to this size come back through a per-thread buffer in one foreign call
#: (``se_encrypt_call`` / ``se_decrypt_call``); larger ones, and values too long to give such a
#: result, through the allocating calls (``se_encrypt`` / ``se_decrypt``).
_SCRATCH_CAP = 4096
_ZEROS = memoryview(bytes(_SCRATCH_CAP))
_TOO_SMALL = _native.SE_ERROR_ARGUMENT
#: The longest value encrypted through the per-thread buffer: its result (iv, tag, header and
#: base64) fits. Values decrypted that way are at most `_SCRATCH_CAP` bytes long. -1 (none)
#: when the library predates the frame calls.
_SHORT_PLAIN = 2048 if _encrypt_call is not None else -1
_SHORT_VALUE = _SCRATCH_CAP if _decrypt_call is not None else -1


class _Scratch(threading.local):
    """One thread's result buffer, shared by every context. Decrypted bytes are wiped from it
    as soon as they are copied out."""

    def __init__(self) -> None:
        self.buf = ctypes.create_string_buffer(_SCRATCH_CAP)
        self.view = memoryview(self.buf).cast("B")


_scratch = _Scratch()


class _Calls(threading.local):
    """One thread's frame for one context's short-value calls (``se_value_call``): the
    context, this thread's result buffer and the length the library writes back, built once
    so that a call passes only the value. ``parts`` is (the frame's reference, the frame, the
    buffer, a memoryview of it)."""

    def __init__(self, ptr: int | None) -> None:
        buf, view = _scratch.buf, _scratch.view
        frame = _native.se_value_call(ptr, ctypes.addressof(buf), _SCRATCH_CAP, 0)
        self.parts = (_byref(frame), frame, buf, view)


def _tri(value: bool | None, what: str) -> int:
    if value is None:
        return -1
    if value is True or value is False:
        return int(value)
    raise TypeError(f"{what} must be True, False or None, not {value!r}")


def _version(value: int | None, what: str = "version") -> int:
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int (0..255) or None, not {type(value).__name__}")
    if not 0 <= value <= 255:
        raise errors.ArgumentError(f"{what} must be 0..255, got {value}")
    return value


def _options(
    random_iv: bool | None, compress: bool | None, header: bool | None, version: int | None
) -> object:
    """A reference (``byref``) to encrypt options, for the ``se_encrypt`` call.

    Options are read-only once built, so one instance per combination is shared by all calls
    and threads: building a ctypes struct costs more than encrypting a short value.
    """
    # The types are part of the key: 1 == True, but random_iv=1 or version=True are errors.
    key = (random_iv, compress, header, version, type(random_iv), type(compress), type(header),
           type(version))
    ref = _OPTIONS.get(key)
    if ref is None:
        opts = _native.se_encrypt_options(
            _tri(random_iv, "random_iv"),
            _tri(compress, "compress"),
            _tri(header, "header"),
            _version(version),
        )
        ref = _byref(opts)  # keeps `opts` alive
        if len(_OPTIONS) < 4096:
            _OPTIONS[key] = ref
    return ref


_OPTIONS: dict[tuple[object, ...], object] = {}
# The common cases of encrypt(), looked up without building a key.
_BY_RANDOM_IV = {v: _options(v, False, None, None) for v in (None, True, False)}


def _data(value: Value, what: str = "value") -> bytes:
    """The bytes of a value: str as UTF-8, bytes-like as is."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


@dataclass(frozen=True)
class CipherInfo:
    """What one cipher of a context is (never its key or iv)."""

    #: Version number written in the header of values it encrypts (0..255).
    version: int
    #: OpenSSL-style name, e.g. ``"aes-256-gcm"``.
    cipher_name: str
    #: Encoding of encrypted values: ``"base64strict"``, ``"base64"``, ``"base64urlsafe"``,
    #: ``"base16"`` or ``"none"`` (raw bytes).
    encoding: str
    #: Whether values get a header even when not required.
    always_add_header: bool
    #: True for GCM ciphers (values carry an authentication tag).
    authenticated: bool
    #: Key length in bytes.
    key_len: int
    #: Configured iv length in bytes (0 = none).
    iv_len: int


@dataclass(frozen=True)
class Header:
    """What the header of an encrypted value or stream says."""

    #: Version of the cipher that wrote the value.
    version: int
    #: Whether the data was compressed before encryption.
    compressed: bool
    #: The cipher named in the header, or None (the cipher of :attr:`version` is used).
    cipher_name: str | None
    #: Length of the iv stored in the header (0 = none).
    iv_len: int
    #: Whether the header carries an encrypted data key (streams).
    has_key: bool
    #: Whether the header carries an authentication tag (GCM values).
    has_auth_tag: bool
    #: Chunk size of a chunked GCM stream, else None.
    chunk_size: int | None
    #: Header length in bytes.
    length: int

    @property
    def chunked(self) -> bool:
        """Whether this is a chunked (multi-frame GCM) stream."""
        return self.chunk_size is not None

    @classmethod
    def _from_c(cls, info: _native.se_header_info) -> Header | None:
        if not info.present:
            return None
        return cls(
            version=info.version,
            compressed=bool(info.compressed),
            cipher_name=info.cipher_name.decode() or None,
            iv_len=info.iv_len,
            has_key=bool(info.has_key),
            has_auth_tag=bool(info.has_auth_tag),
            chunk_size=info.chunk_size or None,
            length=info.header_len,
        )


class Context:
    """The ciphers of one environment: a primary cipher that encrypts, and older ones that
    still decrypt values written with them (chosen by the version in each value's header).

    A context is immutable and safe to share between threads; the native calls do not hold
    the GIL. Build one with :meth:`load` (a configuration file), :meth:`from_yaml`,
    :meth:`from_cipher` or :meth:`combine`::

        ctx = Context.load("config/symmetric-encryption.yml", env="production")
        token = ctx.encrypt("4111 1111 1111 1111")
        assert ctx.decrypt(token) == "4111 1111 1111 1111"
    """

    __slots__ = ("_ptr", "_cptr", "_calls", "_recipe", "__weakref__")

    _ptr: int | None
    _cptr: ctypes.c_void_p
    #: This thread's frame for the short-value calls (lives and dies with the context).
    _calls: _Calls
    #: How to load this context again in another process (see `__reduce__`), or None.
    _recipe: tuple[Any, ...] | None

    def __init__(self) -> None:
        raise TypeError(
            "use Context.load(), Context.from_yaml(), Context.from_cipher() or "
            "Context.combine() to build a Context"
        )

    @classmethod
    def _adopt(cls, handle: ctypes.c_void_p) -> Context:
        self = object.__new__(cls)
        self._ptr = handle.value
        self._cptr = ctypes.c_void_p(handle.value)  # for the argtypes-free hot path
        self._calls = _Calls(handle.value)
        self._recipe = None
        return self

    def _with_recipe(self, recipe: tuple[Any, ...] | None) -> Context:
        self._recipe = recipe
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickles as what is needed to load the context again, never its keys: the
        configuration file's absolute path (or the configuration text given to
        :meth:`from_yaml`), the environment, the directory relative key paths resolve
        against, and the decompression limit. Unpickling loads it once per process and shares
        it (see :func:`symmetric_encryption.context.reload`), so a data engine's workers read
        key files or call KMS once, not once per task.

        :raises TypeError: the context was built from raw keys (:meth:`from_cipher`, or a
            :meth:`combine` of such): their keys are never pickled; load it from a
            configuration instead.
        """
        if self._recipe is None:
            raise TypeError(
                "this Context was built from raw keys (Context.from_cipher, or combine() of "
                "one): keys are never pickled. Build it with Context.load() or "
                "Context.from_yaml() so that worker processes can load it themselves"
            )
        return (reload, (self._recipe,))

    def __del__(self, _free: object = lib.se_context_free) -> None:
        # `_free` is bound at definition time: module globals may be gone at interpreter exit.
        ptr = getattr(self, "_ptr", None)
        if ptr:
            self._ptr = None
            self._cptr = ctypes.c_void_p()
            _free(ptr)  # type: ignore[operator]

    # ---- construction -----------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: StrPath | None = None,
        env: str | None = None,
        *,
        max_decompressed_size: int | None = None,
    ) -> Context:
        """Loads one environment of a configuration file, reading its keys.

        :param path: the YAML configuration file. Default: ``$SYMMETRIC_ENCRYPTION_CONFIG``,
            else ``config/symmetric-encryption.yml`` (relative to the working directory).
        :param env: the environment. Default: ``$SYMMETRIC_ENCRYPTION_ENV``, ``$RACK_ENV``,
            ``$RAILS_ENV``, else ``"development"``.
        :raises ConfigError: the file is missing or invalid, or has no such environment.
        :raises KeystoreError: a key file, key environment variable or KMS key cannot be read
            (key files must have mode 0600 or 0400 and belong to the current user).

        Key file paths in the configuration are relative to the working directory, as in the
        Ruby gem.

        :param max_decompressed_size: see :meth:`with_max_decompressed_size` (default 64 MiB).
        """
        _native.require("se_context_load")
        out = ctypes.c_void_p()
        _native.check(
            lib.se_context_load(
                _native.c_path(path, "path"), _native.c_str(env, "env"), _byref(out)
            )
        )
        where = path if path is not None else os.environ.get(
            "SYMMETRIC_ENCRYPTION_CONFIG", "config/symmetric-encryption.yml")
        recipe = ("file", os.path.abspath(os.fspath(where)), _resolved_env(env), os.getcwd())
        return cls._adopt(out)._with_recipe(recipe)._limited(max_decompressed_size)

    @classmethod
    def from_yaml(
        cls,
        yaml: str | bytes,
        env: str | None = None,
        *,
        max_decompressed_size: int | None = None,
    ) -> Context:
        """Loads one environment of a configuration given as text (ERB is evaluated first).

        :param yaml: the configuration file's contents.
        :param env: the environment, defaulted as in :meth:`load`.
        :param max_decompressed_size: see :meth:`with_max_decompressed_size` (default 64 MiB).
        :raises ConfigError, KeystoreError: as :meth:`load`.
        """
        _native.require("se_context_load_yaml")
        data = _data(yaml, "yaml")
        out = ctypes.c_void_p()
        _native.check(
            lib.se_context_load_yaml(data, len(data), _native.c_str(env, "env"), _byref(out))
        )
        recipe = ("yaml", data, _resolved_env(env), os.getcwd())
        return cls._adopt(out)._with_recipe(recipe)._limited(max_decompressed_size)

    def with_max_decompressed_size(self, max_decompressed_size: int) -> Context:
        """A context with the same ciphers and another decompression limit.

        A compressed value is refused with :class:`CipherError` (naming the limit) when it
        would inflate to more than ``max_decompressed_size`` bytes; the default, 64 MiB
        (67108864), is far above any real column. Values that are not compressed are never
        larger than the value itself and are not affected. This context is not changed.

        :raises ValueError: the limit is not a positive integer.
        """
        _native.require("se_context_with_max_decompressed_size")
        if (
            not isinstance(max_decompressed_size, int)
            or isinstance(max_decompressed_size, bool)
            or not 0 < max_decompressed_size < 1 << 64
        ):
            raise ValueError(
                f"max_decompressed_size must be a positive number of bytes, not "
                f"{max_decompressed_size!r}"
            )
        out = ctypes.c_void_p()
        _native.check(
            lib.se_context_with_max_decompressed_size(
                self._handle(), max_decompressed_size, _byref(out)
            )
        )
        recipe = None if self._recipe is None else ("limit", self._recipe, max_decompressed_size)
        return type(self)._adopt(out)._with_recipe(recipe)

    def _limited(self, max_decompressed_size: int | None) -> Context:
        if max_decompressed_size is None:
            return self
        return self.with_max_decompressed_size(max_decompressed_size)

    @property
    def max_decompressed_size(self) -> int:
        """The most a compressed value may inflate to when decrypted, in bytes."""
        _native.require("se_context_max_decompressed_size")
        return int(lib.se_context_max_decompressed_size(self._handle()))

    @classmethod
    def from_cipher(
        cls,
        cipher_name: str,
        key: bytes,
        iv: bytes | None = None,
        version: int = 0,
        encoding: str = "base64strict",
        always_add_header: bool = True,
    ) -> Context:
        """A context holding one cipher, built from a raw key (the gem's ``Cipher.new``).

        :param cipher_name: ``"aes-256-gcm"``, ``"aes-128-cbc"``, ...
        :param key: the raw key: 16, 24 or 32 bytes to match the cipher.
        :param iv: the configured iv (CBC without a random iv uses it; GCM never does), or
            None for none.
        :param version: 0..255, written in the header of values it encrypts.
        :param encoding: ``"base64strict"``, ``"base64"``, ``"base64urlsafe"``, ``"base16"``
            or ``"none"``.
        :param always_add_header: whether values get a header when not required.
        :raises ConfigError: unknown cipher or encoding, key or iv of the wrong length.
        """
        key_b = _key_bytes(key, "key")
        iv_b = None if iv is None else _key_bytes(iv, "iv")
        if not isinstance(always_add_header, bool):
            raise TypeError("always_add_header must be True or False")
        out = ctypes.c_void_p()
        _native.check(
            lib.se_context_new_cipher(
                _native.c_str(cipher_name, "cipher_name"),
                key_b,
                len(key_b),
                iv_b,
                0 if iv_b is None else len(iv_b),
                _version(version),
                _native.c_str(encoding, "encoding"),
                int(always_add_header),
                _byref(out),
            )
        )
        return cls._adopt(out)

    @classmethod
    def combine(cls, contexts: Iterable[Context], randomize_iv: bool | None = None) -> Context:
        """One context holding the ciphers of several: the first one's primary is the primary,
        then every other cipher in order (the gem's ``cipher=`` plus ``secondary_ciphers=``).

        :param contexts: the contexts to combine (not consumed).
        :param randomize_iv: whether values get a random iv by default; None keeps the first
            context's setting.
        :raises ArgumentError: an empty list.
        :raises ConfigError: two ciphers with one version.
        """
        items = list(contexts)
        for c in items:
            if not isinstance(c, Context):
                raise TypeError(f"combine() takes Contexts, not {type(c).__name__}")
        if not items:
            raise errors.ArgumentError("combine() needs at least one context")
        arr = (ctypes.c_void_p * len(items))(*(c._handle() for c in items))
        out = ctypes.c_void_p()
        _native.check(
            lib.se_context_combine(arr, len(items), _tri(randomize_iv, "randomize_iv"), _byref(out))
        )
        recipes = [c._recipe for c in items]
        recipe = None if None in recipes else ("combine", tuple(recipes), randomize_iv)
        # `items` keeps the inputs alive until the call has returned.
        del items
        return cls._adopt(out)._with_recipe(recipe)

    def _handle(self) -> int:
        ptr = self._ptr
        if not ptr:
            raise errors.ArgumentError("this Context has been freed")
        return ptr

    # ---- description ------------------------------------------------------------------

    @property
    def ciphers(self) -> list[CipherInfo]:
        """The ciphers, primary first (never their keys)."""
        h = self._handle()
        result = []
        for i in range(lib.se_context_cipher_count(h)):
            info = _native.se_cipher_info()
            _native.check(lib.se_context_cipher_info(h, i, _byref(info)))
            result.append(
                CipherInfo(
                    version=info.version,
                    cipher_name=info.cipher_name.decode(),
                    encoding=info.encoding.decode(),
                    always_add_header=bool(info.always_add_header),
                    authenticated=bool(info.authenticated),
                    key_len=info.key_len,
                    iv_len=info.iv_len,
                )
            )
        return result

    @property
    def primary(self) -> CipherInfo:
        """The cipher that encrypts."""
        return self.ciphers[0]

    @property
    def randomize_iv(self) -> bool:
        """Whether values get a random iv unless ``random_iv=False`` is given."""
        return bool(lib.se_context_randomize_iv(self._handle()))

    def __repr__(self) -> str:
        if not self._ptr:
            return "<symmetric_encryption.Context (freed)>"
        ciphers = self.ciphers
        p = ciphers[0]
        return (
            f"<symmetric_encryption.Context primary=v{p.version} {p.cipher_name} "
            f"encoding={p.encoding} versions={[c.version for c in ciphers]}>"
        )

    # ---- values -----------------------------------------------------------------------

    def encrypt(
        self,
        value: Value,
        *,
        random_iv: bool | None = None,
        compress: bool = False,
        header: bool | None = None,
        version: int | None = None,
    ) -> str:
        """Encrypts a value and encodes it with the context's encoding.

        :param value: text (encrypted as UTF-8) or bytes.
        :param random_iv: a random iv (True), or one derived from the key and value so that
            equal values give equal results (False: searchable, but reveals equality).
            None: the context's default.
        :param compress: compress (zlib) before encrypting.
        :param header: whether to write a header; None: the cipher's ``always_add_header``.
            GCM, ``random_iv`` and ``compress`` always write one.
        :param version: encrypt with this cipher version instead of the primary.
        :returns: the encrypted, encoded value (``""`` for an empty value).
        :raises CipherError: ``version`` is not configured.
        :raises ArgumentError: the context's encoding is ``"none"`` (binary output: use
            :meth:`encrypt_bytes`).
        """
        if compress is False and header is None and version is None and (
            random_iv is None or random_iv is True or random_iv is False
        ):
            opts = _BY_RANDOM_IV[random_iv]
        else:
            opts = _options(random_iv, compress, header, version)
        # _data(value), inlined for the usual types: a call costs more than the encoding.
        if type(value) is bytes:
            data = value
        elif type(value) is str:
            data = value.encode()
        else:
            data = _data(value)
        n = len(data)
        if n <= _SHORT_PLAIN:
            ref, frame, buf, _ = self._calls.parts
            code = _encrypt_call(ref, data, n, opts)  # type: ignore[misc]
            if not code:
                try:
                    # Slicing the ctypes array gives bytes (typeshed says list): faster than a
                    # memoryview slice.
                    text: str = buf[: frame.out_len].decode("ascii")  # type: ignore[attr-defined]
                    return text
                except UnicodeDecodeError:
                    raise errors.ArgumentError(
                        "this context's encoding is 'none': encrypted values are binary; "
                        "use encrypt_bytes()"
                    ) from None
            if code != _TOO_SMALL or frame.out_len <= _SCRATCH_CAP:
                _native.check(code)
        out = _se_bytes()
        ref = _byref(out)
        code = _encrypt(self._cptr, data, _sizes.get(n) or _size_arg(n), opts, ref)
        if code:
            _native.check(code)
        ptr = out.data
        if not ptr:
            return ""
        try:
            result: bytes = ptr[: out.len]
        finally:
            _bytes_free(ref)
        try:
            return result.decode("ascii")
        except UnicodeDecodeError:
            raise errors.ArgumentError(
                "this context's encoding is 'none': encrypted values are binary; "
                "use encrypt_bytes()"
            ) from None

    def encrypt_bytes(
        self,
        value: Value,
        *,
        random_iv: bool | None = None,
        compress: bool = False,
        header: bool | None = None,
        version: int | None = None,
    ) -> bytes:
        """As :meth:`encrypt`, returning the encoded value as bytes (for encoding ``"none"``:
        the raw binary value)."""
        opts = _options(random_iv, compress, header, version)
        data = _data(value)
        out = _se_bytes()
        _native.check(
            _encrypt(ctypes.c_void_p(self._handle()), data, _size_arg(len(data)), opts, _byref(out))
        )
        return _native.take_bytes(out)

    def decrypt_bytes(self, value: Value, *, version: int | None = None) -> bytes:
        """Decodes and decrypts a value, returning the plaintext bytes.

        The cipher is chosen by the version in the value's header; a value without a header is
        decrypted with ``version`` (default: the primary cipher).

        :raises EncodingError: the value is not valid for the context's encoding.
        :raises CipherError: malformed header, unknown version, bad padding, wrong key.
        :raises AuthenticationError: the authentication tag does not match.
        """
        # _data(value), inlined for the usual types: a call costs more than the encoding.
        if type(value) is bytes:
            data = value
        elif type(value) is str:
            data = value.encode()
        else:
            data = _data(value)
        n = len(data)
        if version is None and n <= _SHORT_VALUE:
            ref, frame, buf, view = self._calls.parts
            code = _decrypt_call(ref, data, n)  # type: ignore[misc]
            if not code:
                k = frame.out_len
                result: bytes = buf[:k]  # type: ignore[assignment]
                view[:k] = _ZEROS[:k]
                return result
            if code != _TOO_SMALL or frame.out_len <= _SCRATCH_CAP:
                _native.check(code)
        out = _se_bytes()
        ref = _byref(out)
        if version is None:
            code = _decrypt(self._cptr, data, _sizes.get(n) or _size_arg(n), ref)
        else:
            code = _decrypt_version(
                self._cptr, data, _size_arg(n), ctypes.c_int32(_version(version)), ref
            )
        if code:
            _native.check(code)
        ptr = out.data
        if not ptr:
            return b""
        try:
            plain: bytes = ptr[: out.len]
        finally:
            _bytes_free(ref)
        return plain

    def decrypt(self, value: Value, *, version: int | None = None) -> str:
        """As :meth:`decrypt_bytes`, returning the plaintext as text.

        :raises EncodingError: also when the plaintext is not UTF-8 (use
            :meth:`decrypt_bytes` for binary values).
        """
        # decrypt_bytes, inlined: one Python call less on the hot path.
        # _data(value), inlined for the usual types: a call costs more than the encoding.
        if type(value) is bytes:
            data = value
        elif type(value) is str:
            data = value.encode()
        else:
            data = _data(value)
        n = len(data)
        if version is None and n <= _SHORT_VALUE:
            ref, frame, buf, view = self._calls.parts
            code = _decrypt_call(ref, data, n)  # type: ignore[misc]
            if not code:
                k = frame.out_len
                try:
                    return str(view[:k], "utf-8")
                except UnicodeDecodeError:
                    raise errors.EncodingError(
                        "the decrypted value is not UTF-8 text: use decrypt_bytes()"
                    ) from None
                finally:
                    view[:k] = _ZEROS[:k]
            if code != _TOO_SMALL or frame.out_len <= _SCRATCH_CAP:
                _native.check(code)
        out = _se_bytes()
        ref = _byref(out)
        if version is None:
            code = _decrypt(self._cptr, data, _sizes.get(n) or _size_arg(n), ref)
        else:
            code = _decrypt_version(
                self._cptr, data, _size_arg(n), ctypes.c_int32(_version(version)), ref
            )
        if code:
            _native.check(code)
        ptr = out.data
        if not ptr:
            return ""
        try:
            plain: bytes = ptr[: out.len]
        finally:
            _bytes_free(ref)
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.EncodingError(
                "the decrypted value is not UTF-8 text: use decrypt_bytes()"
            ) from None

    # ---- many values at once ----------------------------------------------------------

    def encrypt_many(
        self,
        values: Iterable[Value | None],
        *,
        random_iv: bool | None = None,
        compress: bool = False,
        header: bool | None = None,
        version: int | None = None,
        on_error: _batch.OnError = "raise",
        threads: int | None = None,
    ) -> list[Any]:
        """Encrypts many values in one call, with the options of :meth:`encrypt`, and returns
        the encrypted values in order (``None`` stays ``None``).

        The values cross into the library once; a large batch (2048 values or 1 MiB and up)
        runs on every core, without holding the GIL. This is the call for a column, a
        DataFrame partition, or a re-encryption pass.

        :param on_error: what a value that fails becomes: ``"raise"`` (default) raises the
            first failure's exception; ``"none"`` puts ``None`` in its place; ``"return"`` puts
            the exception itself (an :class:`~symmetric_encryption.Error`, whose message
            starts with ``value <index>:``) in its place. The other values are never lost.
        :param threads: the most threads to use. Default: ``$SYMMETRIC_ENCRYPTION_THREADS``,
            else every CPU the process may use.
        :raises CipherError: ``version`` is not configured (for the whole call).
        """
        opts = _options(random_iv, compress, header, version)
        return _batch.run(self._handle(), values, opts, True, on_error, threads)

    def encrypt_many_bytes(
        self,
        values: Iterable[Value | None],
        *,
        random_iv: bool | None = None,
        compress: bool = False,
        header: bool | None = None,
        version: int | None = None,
        on_error: _batch.OnError = "raise",
        threads: int | None = None,
    ) -> list[Any]:
        """As :meth:`encrypt_many`, returning bytes (for encoding ``"none"``: binary)."""
        opts = _options(random_iv, compress, header, version)
        return _batch.run(self._handle(), values, opts, False, on_error, threads)

    def decrypt_many(
        self,
        values: Iterable[Value | None],
        *,
        on_error: _batch.OnError = "raise",
        threads: int | None = None,
    ) -> list[Any]:
        """Decrypts many values in one call and returns the plaintexts as text, in order
        (``None`` stays ``None``). As :meth:`encrypt_many` for ``on_error`` and ``threads``;
        each value fails as :meth:`decrypt` would fail on it (a plaintext that is not UTF-8
        is an :class:`EncodingError`: use :meth:`decrypt_many_bytes`)."""
        return _batch.run(self._handle(), values, None, True, on_error, threads)

    def decrypt_many_bytes(
        self,
        values: Iterable[Value | None],
        *,
        on_error: _batch.OnError = "raise",
        threads: int | None = None,
    ) -> list[Any]:
        """As :meth:`decrypt_many`, returning the plaintexts as bytes."""
        return _batch.run(self._handle(), values, None, False, on_error, threads)

    def is_encrypted(self, value: Value | None) -> bool:
        """Whether ``value`` starts with the encoded ``@EnC`` header (the gem's
        ``encrypted?``). None is not encrypted."""
        if value is None:
            return False
        data = _data(value)
        return bool(lib.se_is_encrypted(self._handle(), data, len(data)))

    def header(self, value: Value, *, binary: bool = False) -> Header | None:
        """Reads the header of an encrypted value (decoding it first unless ``binary``).

        :returns: the header, or None when the value has none.
        :raises EncodingError: the value is not valid for the encoding.
        :raises CipherError: the header is malformed.
        """
        data = _data(value)
        info = _native.se_header_info()
        _native.check(
            lib.se_header(self._handle(), data, len(data), int(bool(binary)), _byref(info))
        )
        return Header._from_c(info)

    def encode(self, data: bytes) -> str:
        """Encodes bytes with the context's encoding (no encryption)."""
        b = _data(data, "data")
        out = _se_bytes()
        _native.check(lib.se_encode(self._handle(), b, len(b), _byref(out)))
        return _native.take_bytes(out).decode("latin-1")

    def decode(self, value: Value) -> bytes:
        """Decodes a value with the context's encoding (no decryption).

        :raises EncodingError: the value is not valid for the encoding.
        """
        b = _data(value)
        out = _se_bytes()
        _native.check(lib.se_decode(self._handle(), b, len(b), _byref(out)))
        return _native.take_bytes(out)

    # ---- files and streams ------------------------------------------------------------

    @overload
    def open(
        self,
        file: StrPath | _io.RawIOBase | _io.BufferedIOBase | object,
        mode: Literal["rb"] = "rb",
        *,
        version: int | None = None,
        max_output: int | None = None,
    ) -> Reader: ...

    @overload
    def open(
        self,
        file: StrPath | object,
        mode: Literal["wb"],
        *,
        compress: bool | None = None,
        version: int | None = None,
        cipher_name: str | None = None,
        chunk_size: int | None = None,
    ) -> Writer: ...

    @overload
    def open(
        self,
        file: StrPath | object,
        mode: Literal["r", "rt", "w", "wt"],
        *,
        compress: bool | None = None,
        version: int | None = None,
        cipher_name: str | None = None,
        chunk_size: int | None = None,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        max_output: int | None = None,
    ) -> _io.TextIOWrapper: ...

    def open(
        self,
        file: object,
        mode: str = "rb",
        *,
        compress: bool | None = None,
        version: int | None = None,
        cipher_name: str | None = None,
        chunk_size: int | None = None,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        max_output: int | None = None,
    ) -> object:
        """Opens an encrypted file or stream for reading or writing, like :func:`open`.

        ``file`` is a path, or a binary file object (reading needs ``read`` or ``readinto``,
        and ``seek`` for random access; writing needs ``write``; it is not closed). ``mode``
        is ``"rb"`` (a :class:`~symmetric_encryption.io.Reader`: readable, seekable, line
        iteration), ``"wb"`` (a :class:`~symmetric_encryption.io.Writer`), or ``"r"`` /
        ``"w"`` for text, wrapped in :class:`io.TextIOWrapper` with ``encoding`` (default
        UTF-8), ``errors`` and ``newline``.

        Writing: ``compress`` gzips before encrypting (default: yes for streams; for paths
        by file name, not for ``.gz``, ``.zip``, ``.xls*``); ``version`` picks the cipher
        (default: the primary); ``cipher_name`` overrides the stream cipher (e.g.
        ``"aes-256-gcm"``); ``chunk_size`` sets the GCM frame size (default 65536). A path is
        written to a temporary file that replaces the target only on a clean close.

        Reading: ``version`` is the cipher for streams without a header (default: the
        primary). Authenticated chunks are returned as they are verified; a later bad chunk
        raises :class:`AuthenticationError`. ``max_output`` limits the plaintext handed out
        (default: no limit): a read past that many bytes raises :class:`CipherError`.

        :raises StreamError: the file cannot be opened, read or written.
        :raises CipherError, AuthenticationError: the stream cannot be decrypted.
        """
        from . import io as _se_io

        if mode not in ("rb", "wb", "r", "rt", "w", "wt"):
            raise ValueError(f"invalid mode {mode!r}: use 'rb', 'wb', 'r' or 'w'")
        text = "b" not in mode
        if not text and (encoding is not None or errors is not None or newline is not None):
            raise ValueError("encoding, errors and newline are for text modes only")
        binary: _se_io.Reader | _se_io.Writer
        if mode.startswith("r"):
            if compress is not None or cipher_name is not None or chunk_size is not None:
                raise ValueError("compress, cipher_name and chunk_size are for writing")
            binary = _se_io.Reader._open(self, file, _version(version))
            if max_output is not None:
                binary._raw._set_max_output(_max_output(max_output))
        else:
            if max_output is not None:
                raise ValueError("max_output is for reading")
            binary = _se_io.Writer._open(
                self, file, _tri(compress, "compress"), _version(version), cipher_name,
                chunk_size,
            )
        if not text:
            return binary
        import io as _stdio

        return _stdio.TextIOWrapper(
            binary,
            encoding=encoding or "utf-8",
            errors=errors,
            newline=newline,
        )

    def encrypt_file(
        self,
        source: StrPath,
        target: StrPath,
        *,
        compress: bool | None = None,
        version: int | None = None,
    ) -> None:
        """Encrypts a whole file in bounded memory.

        :param compress: gzip first; None decides by the target's file name as the gem does.
        :param version: the cipher version (default: the primary).
        :raises StreamError: a file cannot be read or written.
        """
        _native.require("se_encrypt_file")
        _native.check(
            lib.se_encrypt_file(
                self._handle(),
                _native.c_path(source, "source"),
                _native.c_path(target, "target"),
                _tri(compress, "compress"),
                _version(version),
            )
        )

    def decrypt_file(
        self, source: StrPath, target: StrPath, *, max_output: int | None = None
    ) -> None:
        """Decrypts a whole file in bounded memory; ``target`` is written only once the whole
        stream has been authenticated.

        :param max_output: the most plaintext to write, in bytes (default: no limit); past it
            :class:`CipherError` is raised and nothing is left at ``target``.
        :raises StreamError, CipherError, AuthenticationError: as :meth:`open`.
        """
        if max_output is not None:
            _native.require("se_decrypt_file_max_output")
            _native.check(
                lib.se_decrypt_file_max_output(
                    self._handle(),
                    _native.c_path(source, "source"),
                    _native.c_path(target, "target"),
                    _max_output(max_output),
                )
            )
            return
        _native.require("se_decrypt_file")
        _native.check(
            lib.se_decrypt_file(
                self._handle(), _native.c_path(source, "source"), _native.c_path(target, "target")
            )
        )


def _resolved_env(env: str | None) -> str:
    """The environment the library uses for ``env``: as `se_context_load` resolves it."""
    if env is not None:
        return env
    for name in ("SYMMETRIC_ENCRYPTION_ENV", "RACK_ENV", "RAILS_ENV"):
        v = os.environ.get(name)
        if v:
            return v
    return "development"


_LOADED: dict[tuple[Any, ...], Context] = {}
_LOADED_LOCK = threading.Lock()


def reload(recipe: tuple[Any, ...]) -> Context:
    """The context a pickled :class:`Context` describes, loaded at most once per process
    (later calls with the same description return the same, immutable context)."""
    with _LOADED_LOCK:
        ctx = _LOADED.get(recipe)
        if ctx is None:
            ctx = _LOADED[recipe] = _build(recipe)
        return ctx


def _build(recipe: tuple[Any, ...]) -> Context:
    kind = recipe[0]
    out = ctypes.c_void_p()
    if kind == "file":
        _, path, env, key_dir = recipe
        _native.require("se_context_load_in")
        _native.check(lib.se_context_load_in(
            os.fsencode(path), env.encode(), os.fsencode(key_dir), _byref(out)))
    elif kind == "yaml":
        _, data, env, key_dir = recipe
        _native.require("se_context_load_yaml_in")
        _native.check(lib.se_context_load_yaml_in(
            data, len(data), env.encode(), os.fsencode(key_dir), _byref(out)))
    elif kind == "limit":
        return _build(recipe[1]).with_max_decompressed_size(recipe[2])
    elif kind == "combine":
        return Context.combine([_build(r) for r in recipe[1]], recipe[2])
    else:
        raise ValueError(f"not a pickled symmetric_encryption.Context: {kind!r}")
    return Context._adopt(out)._with_recipe(recipe)


def _max_output(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 1 << 64:
        raise ValueError(f"max_output must be a positive number of bytes, not {value!r}")
    return value


def _key_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


__all__ = ["Context", "CipherInfo", "Header"]
