"""The Ruby gem's coercion types (``type: :integer`` ...) as Python values.

A Rails model declares ``attribute :age, :encrypted, type: :integer``; the gem then encrypts the
*string* Ruby makes of the value (``42.to_s``) and turns the decrypted string back into the type.
To read and write the same column, Python must make and parse the same strings. This module does
that for every type the gem's Active Record attribute takes except ``:yaml`` (Ruby objects in
YAML have no faithful Python form):

=========== ============================ ==========================================
type        Python value                 string written (what Ruby writes)
=========== ============================ ==========================================
string      ``str``                      the text
integer     ``int``                      ``"42"``
float       ``float``                    ``"1.5"``, ``"1.0e+20"``, ``"Infinity"``
decimal     ``decimal.Decimal``          ``"1.5"``, ``"100.0"`` (BigDecimal ``to_s("F")``)
datetime    aware ``datetime.datetime``  ``"2024-01-31T10:00:00+00:00"`` (DateTime)
time        aware ``datetime.datetime``  ``"2024-01-31 10:00:00 +0000"`` (Time)
date        ``datetime.date``            ``"2024-01-31"``
boolean     ``bool``                     ``"true"`` / ``"false"``
json        ``dict``, ``list``, ...      compact JSON, non-ASCII kept as is
=========== ============================ ==========================================

Ruby's ``Time`` and ``DateTime`` strings carry whole seconds: fractions are dropped on write, as
in the gem. A naive ``datetime`` is taken as UTC.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

#: The types :func:`to_string` and :func:`from_string` take.
TYPES = ("string", "integer", "float", "decimal", "datetime", "time", "date", "boolean", "json")

_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}
_RUBY_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(UTC|Z|[+-]\d{2}:?\d{2})?$"
)


class CoercionError(ValueError):
    """A value is not of the declared type (the message names the type, never the value)."""


def check_type(type_: str) -> str:
    """``type_`` if it is one of :data:`TYPES`, else :class:`ValueError` listing them."""
    if type_ not in TYPES:
        raise ValueError(f"unknown coercion type {type_!r}: use one of {', '.join(TYPES)}")
    return type_


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=_dt.timezone.utc) if value.tzinfo is None else value


def _ruby_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(float(value))
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if e:
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return mantissa


def _ruby_decimal(value: Decimal) -> str:
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def to_string(value: Any, type_: str) -> str:
    """The string the gem encrypts for ``value`` of coercion type ``type_``.

    Raises :class:`CoercionError` (naming the type and the Python type given, never the value)
    when ``value`` is not of that type; ``bool`` is not accepted as an ``integer``.
    """
    if type_ == "string":
        return value if isinstance(value, str) else str(value)
    if type_ == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    kind = type(value).__name__
    if type_ == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if type_ == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _ruby_float(float(value))
    if type_ == "decimal" and isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return _ruby_decimal(Decimal(value))
    if type_ == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if type_ == "date" and isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return str(value.isoformat())
    if type_ in ("datetime", "time") and isinstance(value, _dt.datetime):
        value = _utc(value).replace(microsecond=0)
        if type_ == "datetime":
            return str(value.isoformat())
        return str(value.strftime("%Y-%m-%d %H:%M:%S %z"))
    check_type(type_)
    raise CoercionError(f"the column's type is {type_}: it takes {_EXPECTED[type_]}, not {kind}")


_EXPECTED = {
    "integer": "an int",
    "float": "a float or int",
    "decimal": "a Decimal or int",
    "boolean": "a bool",
    "date": "a datetime.date",
    "datetime": "a datetime.datetime",
    "time": "a datetime.datetime",
}


def _parse_time(text: str) -> _dt.datetime:
    m = _RUBY_TIME.match(text.strip())
    if not m:
        raise ValueError("not a time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = m.group(7) or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    zone = m.group(8)
    if zone in (None, "UTC", "Z"):
        tz: _dt.tzinfo = _dt.timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return _dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def from_string(text: str, type_: str) -> Any:
    """The Python value of a decrypted string the gem wrote for coercion type ``type_``.

    ``""`` is ``None`` for every type but ``string`` (the gem: a blank value is nil). Raises
    :class:`CoercionError` when the text is not of the type (the message never holds the text).
    """
    if type_ == "string":
        return text
    if text == "":
        return None
    try:
        if type_ == "integer":
            if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
                raise ValueError
            return int(text)
        if type_ == "float":
            special = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
            return special[text] if text in special else float(text)
        if type_ == "decimal":
            return Decimal(text.strip())
        if type_ == "boolean":
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError
        if type_ == "date":
            return _dt.date.fromisoformat(text.strip()[:10])
        if type_ in ("datetime", "time"):
            try:
                return _utc(_dt.datetime.fromisoformat(text.strip()))
            except ValueError:
                return _parse_time(text)
        if type_ == "json":
            return json.loads(text)
    except (ValueError, InvalidOperation, ArithmeticError) as e:
        raise CoercionError(
            f"the decrypted value ({len(text)} characters) is not a {type_} as the gem writes it"
        ) from e
    check_type(type_)
    raise AssertionError("unreachable")
