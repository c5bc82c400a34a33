"""Django model field for columns a Rails application encrypts with the gem.

A Rails model::

    attribute :ssn, :encrypted, random_iv: false
    attribute :age, :encrypted, type: :integer

reads and writes the same rows as::

    from symmetric_encryption.django import EncryptedField

    class User(models.Model):
        ssn = EncryptedField(random_iv=False, null=True)
        age = EncryptedField(type="integer", null=True)

        class Meta:
            db_table = "users"

    User.objects.filter(ssn="123-45-6789")        # deterministic fields: exact and in lookups

The column is a text column holding the gem's encrypted values. ``type=`` takes the gem's
coercion types (:mod:`symmetric_encryption.coerce`). Lookups other than ``exact``, ``in`` and
``isnull`` are refused (they would compare ciphertext), and so is every lookup but ``isnull`` on
a random-iv field. :class:`EncryptedFieldsAdmin` keeps decrypted values out of the admin's
change lists. Needs ``pip install 'symmetric-encryption[django]'``.
"""

from __future__ import annotations

from typing import Any, Optional

from django import forms
from django.core import checks, exceptions
from django.db import models

from . import coerce, errors
from .context import Context
from ._orm import DecryptError, context_or_default, describe_failure

__all__ = ["EncryptedField", "EncryptedFieldsAdmin", "DecryptError", "FILTERED"]

_FORM_FIELDS: dict[str, type[forms.Field]] = {
    "integer": forms.IntegerField,
    "float": forms.FloatField,
    "decimal": forms.DecimalField,
    "datetime": forms.DateTimeField,
    "time": forms.DateTimeField,
    "date": forms.DateField,
    "boolean": forms.NullBooleanField,
    "json": forms.JSONField,
}
_DETERMINISTIC_LOOKUPS = ("exact", "in", "isnull")

#: What :class:`EncryptedFieldsAdmin` shows in place of a decrypted value.
FILTERED = "[FILTERED]"



class EncryptedField(models.TextField):  # type: ignore[type-arg]
    """A text column of values encrypted as the gem's ``:encrypted`` attribute writes them.

    :param type: the gem's coercion type, default ``"string"``.
    :param random_iv: a random iv per write (the gem's default, ``True``) or the deterministic
        iv that makes the field usable in ``filter(field=...)``.
    :param compress: compress before encrypting.
    :param version: encrypt with this key version instead of the primary.
    :param context: the :class:`Context`; default: the package's default context. Not part of
        migrations (it does not change the schema).
    """

    description = "Text encrypted with symmetric-encryption"

    def __init__(
        self,
        *args: Any,
        type: str = "string",  # noqa: A002 - the gem's option name
        random_iv: bool = True,
        compress: bool = False,
        version: Optional[int] = None,
        context: Optional[Context] = None,
        **kwargs: Any,
    ) -> None:
        self.coercion = coerce.check_type(type)
        self.random_iv = bool(random_iv)
        self.compress = bool(compress)
        self.version = version
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.coercion != "string":
            kwargs["type"] = self.coercion
        if not self.random_iv:
            kwargs["random_iv"] = False
        if self.compress:
            kwargs["compress"] = True
        if self.version is not None:
            kwargs["version"] = self.version
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        found = super().check(**kwargs)
        if self.db_index and self.random_iv:
            found.append(checks.Warning(
                "an index on a random-iv EncryptedField cannot serve lookups",
                hint="declare it random_iv=False to look rows up by value, or drop db_index",
                obj=self, id="symmetric_encryption.W001"))
        return found

    def _where(self) -> str:
        model = getattr(self, "model", None)
        table = model._meta.db_table if model is not None else "?"
        return f"column {table}.{self.column}"

    # Python value -> stored (encrypted) text; also used for lookups, so that
    # filter(ssn="123-45-6789") compares with the deterministic ciphertext.
    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if value == "" and self.coercion != "json":
            return ""
        try:
            text = coerce.to_string(value, self.coercion)
        except coerce.CoercionError as e:
            raise exceptions.ValidationError(f"{self._where()}: {e}") from None
        return context_or_default(self.context).encrypt(
            text, random_iv=self.random_iv, compress=self.compress, version=self.version
        )

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        if value == "":
            return "" if self.coercion == "string" else None
        ctx = context_or_default(self.context)
        try:
            return coerce.from_string(ctx.decrypt(value), self.coercion)
        except (errors.Error, coerce.CoercionError) as e:
            raise DecryptError(describe_failure(ctx, self._where(), value, e)) from None

    def to_python(self, value: Any) -> Any:
        """Form and serializer input: a string of the type (``"42"``), or an encrypted value
        (as ``dumpdata`` writes it), to the Python value."""
        if value is None or not isinstance(value, str):
            return value
        if value == "":
            return "" if self.coercion == "string" else None
        ctx = context_or_default(self.context)
        if ctx.is_encrypted(value):
            return self.from_db_value(value, None, None)
        if self.coercion == "string":
            return value
        try:
            return coerce.from_string(value, self.coercion)
        except coerce.CoercionError as e:
            raise exceptions.ValidationError(str(e), code="invalid") from None

    def value_to_string(self, obj: Any) -> Any:
        """What ``dumpdata`` writes: the encrypted value, never the plaintext."""
        return self.get_prep_value(self.value_from_object(obj))

    def get_lookup(self, lookup_name: str) -> Any:
        allowed = ("isnull",) if self.random_iv else _DETERMINISTIC_LOOKUPS
        if lookup_name not in allowed:
            why = ("it is encrypted with a random iv, so no stored value equals an encrypted "
                   "literal: declare it EncryptedField(random_iv=False) to look rows up by value"
                   if self.random_iv and lookup_name in _DETERMINISTIC_LOOKUPS
                   else "the database only holds ciphertext: only exact, in and isnull lookups work")
            raise exceptions.FieldError(f"{self._where()}: the lookup {lookup_name!r} is refused: {why}")
        return super().get_lookup(lookup_name)

    def formfield(self, **kwargs: Any) -> Any:
        form_class = _FORM_FIELDS.get(self.coercion)
        if form_class is not None:
            kwargs.setdefault("form_class", form_class)
            kwargs.setdefault("widget", None)
        return super().formfield(**kwargs)


class EncryptedFieldsAdmin:
    """A ``ModelAdmin`` mixin: encrypted fields named in ``list_display`` show ``[FILTERED]``,
    and are never searched (``search_fields`` would compare ciphertext)::

        @admin.register(User)
        class UserAdmin(EncryptedFieldsAdmin, admin.ModelAdmin):
            list_display = ("id", "ssn")
    """

    model: Any

    def _encrypted_names(self) -> set[str]:
        return {f.name for f in self.model._meta.get_fields() if isinstance(f, EncryptedField)}

    def get_list_display(self, request: Any) -> Any:
        shown = super().get_list_display(request)  # type: ignore[misc]
        encrypted = self._encrypted_names()
        return [_filtered_column(name) if name in encrypted else name for name in shown]

    def get_search_fields(self, request: Any) -> Any:
        fields = super().get_search_fields(request)  # type: ignore[misc]
        encrypted = self._encrypted_names()
        return [f for f in fields if f.lstrip("^=@").split("__")[0] not in encrypted]


def _filtered_column(name: str) -> Any:
    def column(obj: Any) -> str:
        return FILTERED if getattr(obj, name) not in (None, "") else ""

    column.short_description = name.replace("_", " ")  # type: ignore[attr-defined]
    return column
