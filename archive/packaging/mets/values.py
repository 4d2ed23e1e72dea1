"""Typed field/value XML for metadata that must come back as the same Python values.

The grammar (namespace :data:`~archive.packaging.mets.common.ARC_NS`)::

    field := <field name="KEY" [repeated="true"]> value* </field>
    value := <value type="string|integer|float|decimal|boolean|date|dateTime|time">TEXT</value>
           | <value type="null"/>
           | <value type="list"> value* </value>
           | <value type="map"> field* </value>

A field whose Python value is a list (or tuple) is ``repeated`` and holds one ``value`` per item;
any other field holds exactly one ``value``. Tuples come back as lists; mapping keys must be
strings. Text is stored verbatim (whitespace, newlines, XML-special characters all survive).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from archive.errors import PackagingError
from archive.packaging.mets.common import ARC_NS, check_text, q, sub

FIELD = q(ARC_NS, "field")
VALUE = q(ARC_NS, "value")

_SCALAR_DECODERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "integer": int,
    "float": float,
    "decimal": Decimal,
    "boolean": lambda text: {"true": True, "false": False}[text],
    "date": date.fromisoformat,
    "dateTime": datetime.fromisoformat,
    "time": time.fromisoformat,
}


def _scalar(value: Any) -> tuple[str, str] | None:
    """``(type, text)`` for a scalar Python value, or None if it is not one we store."""
    # order matters: bool is an int, datetime is a date
    if isinstance(value, str):
        return "string", value
    if isinstance(value, bool):
        return "boolean", "true" if value else "false"
    if isinstance(value, int):
        return "integer", str(value)
    if isinstance(value, float):
        return "float", repr(value)
    if isinstance(value, Decimal):
        return "decimal", str(value)
    if isinstance(value, datetime):
        return "dateTime", value.isoformat()
    if isinstance(value, date):
        return "date", value.isoformat()
    if isinstance(value, time):
        return "time", value.isoformat()
    return None


def encode_value(parent: etree._Element, value: Any, where: str) -> None:
    """Append one ``<value>`` for ``value`` to ``parent``."""
    if value is None:
        sub(parent, VALUE, type="null")
    elif isinstance(value, (list, tuple)):
        el = sub(parent, VALUE, type="list")
        for i, item in enumerate(value):
            encode_value(el, item, f"{where}[{i}]")
    elif isinstance(value, Mapping):
        el = sub(parent, VALUE, type="map")
        encode_fields(el, value, where)
    else:
        try:
            scalar = _scalar(value)
        except ValueError as exc:  # e.g. an int too long to print
            raise PackagingError(f"{where}: cannot store value: {exc}") from exc
        if scalar is None:
            raise PackagingError(f"{where}: cannot store a value of type {type(value).__name__}")
        kind, text = scalar
        sub(parent, VALUE, text, where, type=kind)


def encode_fields(parent: etree._Element, mapping: Mapping[str, Any], where: str) -> None:
    """Append one ``<field>`` per key of ``mapping`` to ``parent``."""
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise PackagingError(f"{where}: key {key!r} is not a string")
        here = f"{where}.{key}" if where else key
        check_text(key, f"{here} (key)")
        field = sub(parent, FIELD, name=key)
        if isinstance(value, (list, tuple)):
            field.set("repeated", "true")
            for i, item in enumerate(value):
                encode_value(field, item, f"{here}[{i}]")
        else:
            encode_value(field, value, here)


def decode_value(el: etree._Element) -> Any:
    kind = el.get("type", "string")
    if kind == "null":
        return None
    if kind == "list":
        return [decode_value(child) for child in el.iterchildren(VALUE)]
    if kind == "map":
        return decode_fields(el)
    decoder = _SCALAR_DECODERS.get(kind)
    if decoder is None:
        raise PackagingError(f"METS line {el.sourceline}: unknown value type {kind!r}")
    text = el.text or ""
    try:
        return decoder(text)
    except (ValueError, KeyError, InvalidOperation) as exc:
        raise PackagingError(f"METS line {el.sourceline}: {text!r} is not a valid {kind}") from exc


def decode_fields(parent: etree._Element) -> dict[str, Any]:
    """The mapping that :func:`encode_fields` wrote into ``parent``."""
    result: dict[str, Any] = {}
    for field in parent.iterchildren(FIELD):
        name = field.get("name")
        if name is None:
            raise PackagingError(f"METS line {field.sourceline}: <field> without a name")
        values = [decode_value(v) for v in field.iterchildren(VALUE)]
        if field.get("repeated") == "true":
            result[name] = values
        elif len(values) == 1:
            result[name] = values[0]
        else:
            raise PackagingError(
                f"METS line {field.sourceline}: field {name!r} holds {len(values)} values but is not repeated"
            )
    return result
