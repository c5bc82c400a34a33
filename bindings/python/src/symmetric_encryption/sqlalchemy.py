"""SQLAlchemy (2.x) column type for columns a Rails application encrypts with the gem.

A Rails model::

    attribute :ssn, :encrypted, random_iv: false
    attribute :age, :encrypted, type: :integer

reads and writes the same rows as::

    from symmetric_encryption.sqlalchemy import Encrypted

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        encrypted_ssn: Mapped[str | None] = mapped_column("ssn", Encrypted(random_iv=False))
        age: Mapped[int | None] = mapped_column(Encrypted(type="integer"))

    session.scalars(select(User).where(User.encrypted_ssn == "123-45-6789"))

Values are encrypted when bound (inserts, updates, and the right-hand side of comparisons) and
decrypted when read. A deterministic column (``random_iv=False``) can be compared for equality:
the literal encrypts to the stored value. Comparing a random-iv column is refused, since it
could never match. Needs ``pip install 'symmetric-encryption[sqlalchemy]'``.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.base import SchemaEventTarget
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.types import TypeDecorator

from . import coerce, errors
from ._orm import DecryptError, context_or_default, describe_failure
from .context import Context

__all__ = ["Encrypted", "DecryptError"]


class Encrypted(TypeDecorator[Any]):
    """A text column holding values encrypted as the gem's ``:encrypted`` attribute writes them.

    :param type: the gem's coercion type (``"string"`` (default), ``"integer"``, ``"float"``,
        ``"decimal"``, ``"datetime"``, ``"time"``, ``"date"``, ``"boolean"``, ``"json"``):
        what Python values the column takes and returns (see :mod:`symmetric_encryption.coerce`).
    :param random_iv: a new random iv per write (the gem's default, ``True``), or the
        deterministic iv that makes equal values encrypt equally, so the column can be queried.
    :param compress: compress before encrypting (the gem's ``compress: true``).
    :param version: encrypt with this key version instead of the primary (decryption always
        follows each value's header).
    :param context: the :class:`Context` to use; default: the package's default context
        (:func:`symmetric_encryption.default_context`, loaded on first use).
    """

    impl = Text
    cache_ok = True

    def __init__(
        self,
        type: str = "string",  # noqa: A002 - the gem's option name
        *,
        random_iv: bool = True,
        compress: bool = False,
        version: Optional[int] = None,
        context: Optional[Context] = None,
    ) -> None:
        super().__init__()
        self.coercion = coerce.check_type(type)
        self.random_iv = bool(random_iv)
        self.compress = bool(compress)
        self.version = version
        self.context = context
        self._columns: list[Any] = []

    # SQLAlchemy calls this when the type is given to a Column: remember where it lives, so that
    # errors can say which table and column a bad value came from.
    def _set_parent(self, parent: SchemaEventTarget, outer: bool = False, **kw: Any) -> None:
        super()._set_parent(parent, outer=outer, **kw)
        self._columns.append(parent)

    def _where(self) -> str:
        names = []
        for column in self._columns:
            table = getattr(column, "table", None)
            names.append(f"{getattr(table, 'name', '?')}.{column.name}" if table is not None else str(column.name))
        return "column " + (", ".join(names) if names else "(an Encrypted column)")

    @property
    def python_type(self) -> type:
        return {
            "string": str, "integer": int, "float": float, "boolean": bool, "json": object,
        }.get(self.coercion, object)

    def coerce_compared_value(self, op: OperatorType | None, value: Any) -> Any:
        return self

    class comparator_factory(TypeDecorator.Comparator[Any]):  # noqa: N801 - SQLAlchemy's name
        """Refuses comparisons that could never match on a random-iv column."""

        def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> Any:
            column_type = self.type
            compares_values = any(o is not None for o in other)
            if isinstance(column_type, Encrypted) and column_type.random_iv and compares_values:
                raise errors.ArgumentError(
                    f"{column_type._where()} is encrypted with a random iv, so no stored value "
                    "equals an encrypted literal: declare it Encrypted(random_iv=False) (the "
                    "gem's `random_iv: false`) to query it by value"
                )
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[str]:
        if value is None:
            return None
        if value == "" and self.coercion != "json":
            return ""
        text = coerce.to_string(value, self.coercion)
        return context_or_default(self.context).encrypt(
            text, random_iv=self.random_iv, compress=self.compress, version=self.version
        )

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        raise errors.ArgumentError(
            f"{self._where()}: an encrypted value cannot be rendered as a SQL literal; use a "
            "bound parameter (the default)"
        )

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).decode("ascii", errors="replace")
        if value == "":
            return "" if self.coercion == "string" else None
        ctx = context_or_default(self.context)
        try:
            return coerce.from_string(ctx.decrypt(value), self.coercion)
        except (errors.Error, coerce.CoercionError, UnicodeDecodeError) as e:
            raise DecryptError(describe_failure(ctx, self._where(), value, e)) from None
