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


_NICE = (1, 2, 5)


def choose_bucket(
    mid: Decimal, tick: Decimal, levels: int, span: Decimal = Decimal("0.01")
) -> Decimal:
    """The heatmap's bucket for a grid of ``levels`` buckets each side of ``mid`` reaching about
    ``span`` of it (1 %): the smallest multiple of ``tick`` by 1, 2 or 5 x 10^k that does."""
    if mid <= 0 or tick <= 0 or levels <= 0:
        raise ValueError("mid, tick and levels must be > 0")
    want = mid * span / levels / tick  # ticks per bucket wanted
    scale = 1
    while True:
        for nice in _NICE:
            if nice * scale >= want:
                return tick * nice * scale
        scale *= 10
