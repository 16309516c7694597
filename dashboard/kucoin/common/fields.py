"""Typed readers of KuCoin JSON fields: each returns the field's value in its domain type or raises
``KucoinProtocolError`` naming the field (shared/kucoin/protocol.md §1.3). Product-neutral: the
spot parsers (``kucoin/client/parse.py``) and a futures client's use them alike. Never float.
Imports the protocol layer, the domain and this package's errors only.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from dashboard.domain.models import OrderType, Side
from dashboard.kucoin.protocol.numbers import parse_decimal

from .errors import KucoinProtocolError

INT_TEXT = re.compile(
    r"-?[0-9]{1,30}"
)  # ASCII digits only (int() also takes other scripts' digits)


def obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KucoinProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def seq(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise KucoinProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return value


def get(d: dict[str, Any], name: str) -> Any:
    if name not in d or d[name] is None:
        raise KucoinProtocolError(f"missing field {name!r}")
    return d[name]


def text(d: dict[str, Any], name: str) -> str:
    value = get(d, name)
    if not isinstance(value, str):
        raise KucoinProtocolError(f"field {name!r}: expected a string, got {value!r:.60}")
    return value


def opt_text(d: dict[str, Any], name: str) -> str:
    """A string that KuCoin may omit or send as null (clientOid on HF orders): '' then."""
    value = d.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KucoinProtocolError(f"field {name!r}: expected a string, got {value!r:.60}")
    return value


def to_dec(value: object, name: str) -> Decimal:
    try:
        return parse_decimal(value)
    except ValueError:
        raise KucoinProtocolError(f"field {name!r}: not a decimal number: {value!r:.60}") from None


def dec(d: dict[str, Any], name: str) -> Decimal:
    return to_dec(get(d, name), name)


def opt_dec(d: dict[str, Any], name: str) -> Decimal | None:
    value = d.get(name)
    return None if value is None else to_dec(value, name)


def to_int(value: object, name: str) -> int:
    """A JSON integer or a string of ASCII digits (match ``time``, balance ``time``,
    ``sequence``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and INT_TEXT.fullmatch(value):
        return int(value)
    raise KucoinProtocolError(f"field {name!r}: not an integer: {value!r:.60}")


def integer(d: dict[str, Any], name: str) -> int:
    return to_int(get(d, name), name)


def boolean(d: dict[str, Any], name: str) -> bool:
    value = get(d, name)
    if not isinstance(value, bool):
        raise KucoinProtocolError(f"field {name!r}: expected a boolean, got {value!r:.60}")
    return value


def enum[E: (Side, OrderType)](d: dict[str, Any], name: str, kind: type[E], what: str) -> E:
    value = text(d, name)
    try:
        return kind(value)
    except ValueError:
        raise KucoinProtocolError(f"field {name!r}: unknown {what} {value!r:.20}") from None


def side(d: dict[str, Any], name: str = "side") -> Side:
    return enum(d, name, Side, "side")


def order_type(d: dict[str, Any], name: str) -> OrderType:
    return enum(d, name, OrderType, "order type")


def id_text(d: dict[str, Any], name: str) -> str:
    """Ids KuCoin sends as strings or as JSON integers beyond 2**53 (HF fills, §5.7)."""
    value = get(d, name)
    if isinstance(value, str):
        return value
    return str(to_int(value, name))
