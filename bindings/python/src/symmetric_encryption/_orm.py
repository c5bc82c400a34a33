"""What the SQLAlchemy type and the Django field share: the error for a stored value that does
not decrypt, and its message."""

from __future__ import annotations

from . import errors
from .context import Context


class DecryptError(errors.Error):
    """A column value that does not decrypt (or does not coerce to the column's type).

    The message names the table, the column and the key version of the value, never the value.
    """


def describe_failure(ctx: Context, where: str, value: str, error: Exception) -> str:
    """The message for a stored value that does not decrypt: where, which key version, why."""
    try:
        header = ctx.header(value)
    except errors.Error:
        header = None
    if header is None:
        version = "no header, so the primary key"
    else:
        known = {c.version for c in ctx.ciphers}
        version = f"key version {header.version}" + (
            "" if header.version in known else " (not in this configuration)"
        )
    return (
        f"{where}: a stored value ({len(value)} characters, {version}) does not decrypt: "
        f"{type(error).__name__}: {error}"
    )


def context_or_default(ctx: Context | None) -> Context:
    """``ctx``, else the package's default context (loaded on first use)."""
    if ctx is not None:
        return ctx
    from . import default_context

    return default_context()
