"""Exact decimals as text: the one plain-decimal formatter, the increment test, and amounts shown to
a currency's precision. Pure; imports nothing from ``dashboard``.

KuCoin, the simulator and the page all print decimals the same way: no exponent, no trailing
zeros ("67269", "0.000025"). Nothing here goes through float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, Decimal, localcontext

from .models import Instrument

DEFAULT_STEP = Decimal("0.00000001")  # a currency no market here names: 8 decimals


def plain(value: Decimal) -> str:
    """Plain decimal text without trailing zeros: Decimal('1.2300') -> '1.23', 1E+2 -> '100'."""
    return format(value.normalize(), "f") if value else "0"


def plain_or_dash(value: Decimal | None) -> str:
    """``plain`` for a value that may be missing, shown as '-'."""
    return "-" if value is None else plain(value)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when value is an integer multiple of step (the increment rules)."""
    return step > 0 and value % step == 0


def currency_steps(instruments: Iterable[Instrument]) -> dict[str, Decimal]:
    """The finest amount each currency is traded in: its base increment where it is a base, its
    quote increment where it is a quote (the currency's precision, as the markets in use see it)."""
    steps: dict[str, Decimal] = {}
    for inst in instruments:
        pairs = ((inst.base, inst.base_increment), (inst.quote, inst.quote_increment))
        for currency, step in pairs:
            if step > 0 and (currency not in steps or step < steps[currency]):
                steps[currency] = step
    return steps


def amount_text(value: Decimal, currency: str, steps: Mapping[str, Decimal]) -> str:
    """An amount of ``currency`` to that currency's precision, rounded down (never show more than
    there is): fees and holds computed by the exchange can carry 18 decimals."""
    if not value.is_finite():
        return str(value)
    with localcontext() as ctx:
        ctx.prec = 60  # quantize raises past the context's 28 digits: a large balance at 1e-8
        return plain(value.quantize(steps.get(currency, DEFAULT_STEP), rounding=ROUND_DOWN))


def round_to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` as a whole multiple of ``step``, rounded the named ``decimal`` way."""
    return (value / step).to_integral_value(rounding=rounding) * step
