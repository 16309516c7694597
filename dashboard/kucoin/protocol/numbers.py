"""Decimal <-> KuCoin number strings. KuCoin prints plain decimals without exponent or
trailing zeros ("67269", "0.000025"); nothing here goes through float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def fmt(value: Decimal) -> str:
    """Plain decimal text without trailing zeros: Decimal('1.2300') -> '1.23', 1E+2 -> '100'."""
    if not value:
        return "0"
    text = format(value.normalize(), "f")
    return text


def parse_decimal(text: object) -> Decimal:
    """Parse a KuCoin number (string or int) exactly; ValueError on anything else."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"not a decimal string: {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal string: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when value is an integer multiple of increment (KuCoin's increment rules)."""
    return increment > 0 and (value % increment) == 0
