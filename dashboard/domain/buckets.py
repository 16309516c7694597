"""The bucket rule, in one place for every view that groups prices by a multiple of the tick (the
ladder, its own-order marks and bucket label, the liquidity heatmap): bids floored, asks ceiled.

Imports only ``domain.numbers``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .numbers import round_to_step


def bucket_price(price: Decimal, bucket: Decimal, side: str) -> Decimal:
    """The bucket ``price`` falls in on ``side`` ("bid" or "ask"): bids floored, asks ceiled, so a
    bucket never shows a bid above the real best bid or an ask below the real best ask."""
    return round_to_step(price, bucket, ROUND_FLOOR if side == "bid" else ROUND_CEILING)
