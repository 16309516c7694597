"""Decimal <-> KuCoin number strings. KuCoin prints plain decimals without exponent or
trailing zeros ("67269", "0.000025"); nothing here goes through float.

The formatter and the increment test have one home, ``dashboard.domain.numbers``; the wire layer
(client and simulator) uses them under their wire names.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from dashboard.domain.numbers import is_multiple
from dashboard.domain.numbers import plain as fmt

__all__ = ["fmt", "is_multiple", "parse_decimal"]


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
