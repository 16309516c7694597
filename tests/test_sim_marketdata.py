"""The simulator's candle query against a plain full scan of the same store (the rule it had
before it searched from the newest end): every type and window, on seeded history plus trades."""

from __future__ import annotations

import pytest

from dashboard.simulator.catalog import DEFAULT_SYMBOLS
from dashboard.simulator.engine import Exchange
from dashboard.simulator.marketdata import CANDLE_TYPES, Candle, MarketData, bucket_start

NOW = 1_790_000_000


def full_scan(market: MarketData, symbol: str, type_: str, start_s: int, end_s: int,
              limit: int) -> list[tuple]:
    data = market.symbols[symbol]
    store = data.hours if CANDLE_TYPES[type_] >= 3600 else data.minutes
    out: dict[int, Candle] = {}
    for start in store.order:  # oldest first, every row
        b = bucket_start(start, type_)
        if start_s <= b < end_s:
            row = store.rows[start]
            if b not in out:
                out[b] = Candle(b, row.open, row.close, row.high, row.low, row.volume,
                                row.turnover)
            else:
                out[b].merge(row)
    return [out[k].to_wire() for k in sorted(out, reverse=True)[:limit]]


@pytest.fixture(scope="module")
def market() -> MarketData:
    exchange = Exchange(DEFAULT_SYMBOLS)
    market = MarketData(list(exchange.rules.values()))
    market.seed_history(NOW, seed=3)
    return market


@pytest.mark.parametrize("type_", sorted(CANDLE_TYPES))
@pytest.mark.parametrize("back_s", [60, 3_600, 86_400, 40 * 86_400])
def test_candles_equal_a_full_scan(market, type_, back_s):
    symbol = next(iter(market.symbols))
    start = bucket_start(NOW - back_s, type_)
    got = [c.to_wire() for c in market.candles(symbol, type_, start, NOW + 1, 1500)]
    assert got == full_scan(market, symbol, type_, start, NOW + 1, 1500)
    current = market.current_candle(symbol, type_, NOW)
    expected = full_scan(market, symbol, type_, bucket_start(NOW, type_), NOW + 1, 1)
    assert ([current.to_wire()] if current else []) == expected
