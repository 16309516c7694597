"""BookHistory against a plain-Python model (hypothesis): for random streams of books (one-sided
and empty ones too), trades (late ones too) and quiet ticks, every column's sizes, grid origin,
best bid/ask, sequence and buy/sell volume equal a recomputation from the snapshot in effect at
the column's end, with its own floor/ceil bucketing (not ``bucket_price``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain.models import BookSnapshot, Side, Trade
from dashboard.research.history import BookHistory

D = Decimal
COL = 1000  # ns per column: small numbers, the rule does not care
START = 10**6
TICK = D("0.1")


@dataclass(frozen=True)
class _Book:
    dt: int
    best_bid: int  # in ticks
    spread: int
    bid_offsets: tuple[int, ...]  # ticks below the best bid (the first is 0 when present)
    ask_offsets: tuple[int, ...]
    sizes: tuple[int, ...]  # eighths


@dataclass(frozen=True)
class _Trade:
    dt: int
    late: int  # ns before now: a trade from a slower channel
    tick: int
    buy: bool
    eighths: int
    repeat: int  # fed this many times: cells that add up, in the open column or a final one


@dataclass(frozen=True)
class _Quiet:
    dt: int


def _offsets() -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(1, 60), max_size=8, unique=True).map(
        lambda xs: (0, *sorted(xs))) | st.just(())


_books = st.builds(_Book, st.integers(0, 2500), st.integers(9_970, 10_030), st.integers(1, 6),
                   _offsets(), _offsets(), st.lists(st.integers(1, 40), min_size=18, max_size=18)
                   .map(tuple))
_trades = st.builds(_Trade, st.just(0) | st.integers(0, 1500),
                    st.sampled_from([0, 0, 1, 700, 1000, 1000, 2500]),
                    st.integers(9_995, 10_005) | st.integers(9_930, 10_070), st.booleans(),
                    st.integers(1, 40), st.integers(1, 3))
_quiet = st.builds(_Quiet, st.integers(1, 4000))
_events = st.lists(st.one_of(_books, _trades, _trades, _quiet), min_size=20, max_size=80)


def _snapshot(spec: _Book, sequence: int) -> BookSnapshot:
    ask = spec.best_bid + spec.spread
    bids = tuple((D(spec.best_bid - o) * TICK, D(q) / 8)
                 for o, q in zip(spec.bid_offsets, spec.sizes, strict=False))
    asks = tuple((D(ask + o) * TICK, D(q) / 8)
                 for o, q in zip(spec.ask_offsets, spec.sizes[9:], strict=False))
    return BookSnapshot("X", sequence, bids, asks)


def _model_column(book: BookSnapshot | None, bucket: Decimal, levels: int):
    """(origin, sizes, best bid, best ask, sequence) recomputed by hand; origin None: no grid."""
    rows = 2 * levels
    if book is None or not (book.bids or book.asks):
        return None, np.full(rows, np.nan, dtype=np.float32), math.nan, math.nan, 0
    if book.bids and book.asks:
        centre = (book.bids[0][0] + book.asks[0][0]) / 2
    else:
        centre = (book.bids or book.asks)[0][0]
    origin = math.floor(centre / bucket) - levels
    exact = [D(0)] * rows
    for ladder, rounding in ((book.bids, math.floor), (book.asks, math.ceil)):
        for price, size in ladder:
            row = rounding(price / bucket) - origin
            if 0 <= row < rows:
                exact[row] += size
    sizes = np.array([float(x) for x in exact], dtype=np.float32)
    best_bid = float(book.bids[0][0]) if book.bids else math.nan
    best_ask = float(book.asks[0][0]) if book.asks else math.nan
    return origin, sizes, best_bid, best_ask, book.sequence


def _run(events, bucket: Decimal, levels: int):
    """Feed the history; return it with the books (ts, snapshot) and trades (ts, Trade) fed."""
    history = BookHistory("X", bucket, tick=TICK, column_ns=COL, capacity=1000, levels=levels)
    now, books, trades = START, [], []
    for n, event in enumerate(events):
        now += event.dt
        if isinstance(event, _Book):
            books.append((now, _snapshot(event, n + 1)))
            history.on_book(now, books[-1][1])
        elif isinstance(event, _Trade):
            side = Side.BUY if event.buy else Side.SELL
            for _ in range(event.repeat):
                trades.append(Trade("X", str(len(trades)), D(event.tick) * TICK,
                                    D(event.eighths) / 8, side, now - event.late))
                history.on_trade(trades[-1])
        else:
            history.advance(now)
    history.advance((now // COL + 1) * COL)
    return history, books, trades


@settings(max_examples=100, deadline=None)
@given(_events, st.sampled_from([1, 2, 5, 10]), st.integers(1, 8))
def test_every_column_equals_a_plain_recomputation(events, bucket_ticks, levels) -> None:
    """Sizes, origin, best prices, sequence and volumes of each column equal the model's."""
    bucket = D(bucket_ticks) * TICK
    history, books, trades = _run(events, bucket, levels)
    cols = history.window(0, 2**63)
    assert len(cols) == history.cursor - history.oldest
    origins: dict[int, int | None] = {}
    for i, k in enumerate(cols.index.tolist()):
        in_effect = [snap for ts, snap in books if ts < (k + 1) * COL]
        origin, sizes, bid, ask, seq = _model_column(in_effect[-1] if in_effect else None,
                                                     bucket, levels)
        origins[k] = origin
        np.testing.assert_array_equal(cols.sizes[i], sizes)
        if origin is not None:
            assert int(cols.origin[i]) == origin
        np.testing.assert_array_equal([cols.best_bid[i], cols.best_ask[i]], [bid, ask])
        assert int(cols.sequence[i]) == seq
    volume = {Side.BUY: np.zeros_like(cols.sizes, dtype=np.float32),
              Side.SELL: np.zeros_like(cols.sizes, dtype=np.float32)}
    exact: dict[tuple[Side, int, int], Decimal] = {}
    for trade in trades:
        k = trade.ts_ns // COL
        rounding = math.ceil if trade.side is Side.BUY else math.floor  # a buy lifts the asks
        if origins.get(k) is None:
            continue  # before the first column, or no book yet: nothing to draw
        row = rounding(trade.price / bucket) - origins[k]
        if 0 <= row < 2 * levels:
            key = (trade.side, k - int(cols.index[0]), row)
            exact[key] = exact.get(key, D(0)) + trade.size
    for (side, i, row), size in exact.items():
        volume[side][i, row] = float(size)  # eighths: float32 sums are exact
    np.testing.assert_array_equal(cols.buy_volume, volume[Side.BUY])
    np.testing.assert_array_equal(cols.sell_volume, volume[Side.SELL])
