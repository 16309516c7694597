"""The hub's immutable snapshot of one market (``MarketView``) and what is derived from it once per
tick for every session: cumulative depth arrays, the book grouped by tick, the ladder's table rows.

The bucket rule (bids floored, asks ceiled to a multiple of the tick) is
``domain.buckets.bucket_price``:
the grouping, the own-order marks and the bucket label all ask it (or ``MarketView.bucket``).
Imports ``domain`` only (never ``kucoin``, ``simulator``, ``recording`` or ``config``); no Panel.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from dashboard.domain.buckets import bucket_price
from dashboard.domain.models import BookSnapshot, FeedStatus, Instrument, Ticker, Trade

MAX_SPAN_PCT = 10.0  # depth arrays cover mid +- this; sessions choose a narrower span themselves
LADDER_ROW_COLUMNS = ("price", "size", "cum", "side", "own", "bar")
OWN_MARK = "\u25cf"

Level = tuple[Decimal, Decimal, Decimal]  # (bucket price, size, cumulative size)
LadderRows = dict[str, tuple]  # column -> values, one per row of the fixed grid (read-only, shared)


@dataclass(frozen=True, slots=True)
class DepthArrays:
    """Cumulative depth as float arrays, for plotting: bids descending from the best, asks
    ascending."""

    bid_px: np.ndarray
    bid_cum: np.ndarray
    ask_px: np.ndarray
    ask_cum: np.ndarray


@dataclass(frozen=True, slots=True)
class Ladder:
    """The book grouped into buckets of ``bucket`` (a multiple of the tick): ``bucket_price``."""

    bucket: Decimal
    bids: tuple[Level, ...]  # best first
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class MarketView:
    symbol: str
    version: int
    ts_ms: int
    live: bool  # the book is synced and trustworthy
    instrument: Instrument | None
    book: BookSnapshot | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    mid: float | None
    spread: Decimal | None
    spread_bps: float | None
    imbalance: float | None  # (bid - ask) / (bid + ask) size over the top 10 levels, -1..1
    depth: DepthArrays | None
    trades: tuple[Trade, ...]  # oldest first
    trades_total: int  # trades seen since start; a session streams the ones it has not shown yet
    ticker: Ticker | None
    status: FeedStatus
    # Caches filled on demand, shared by every session reading this view:
    # (group, rows) -> Ladder, and (group, rows, own prices) -> LadderRows.
    _ladders: dict = field(default_factory=dict, compare=False, repr=False)
    _rows: dict = field(default_factory=dict, compare=False, repr=False)

    def bucket(self, group: int = 1) -> Decimal | None:
        """The ladder's bucket size for ``group`` ticks (None before the instrument is known)."""
        return None if self.instrument is None else self.instrument.price_increment * group

    def ladder(self, group: int = 1, rows: int = 15) -> Ladder | None:
        """Grouped ladder, cached on this view: computed once however many sessions ask."""
        bucket = self.bucket(group)
        if self.book is None or bucket is None:
            return None
        hit = self._ladders.get((group, rows))
        if hit is None:
            bids = _group(self.book.bids, bucket, "bid", rows)
            asks = _group(self.book.asks, bucket, "ask", rows)
            hit = self._ladders[(group, rows)] = Ladder(bucket, bids, asks)
        return hit

    def ladder_rows(self, group: int = 1, rows: int = 15,
                    own_prices: Collection[Decimal | str] = ()) -> LadderRows | None:
        """The ladder as table columns on a fixed grid of ``2 * rows + 1``: asks (padded at the top,
        the best ask next to the spread row), the spread row, bids (padded at the bottom). Buckets
        holding one of ``own_prices`` (the user's open orders, raw prices) carry ``OWN_MARK``.
        Built once per view and key, shared read-only by every session (tuples, not lists)."""
        own = frozenset(Decimal(p) for p in own_prices)
        key = (group, rows, own)
        hit = self._rows.get(key)
        if hit is None:
            ladder = self.ladder(group, rows)
            if ladder is None:
                return None
            hit = self._rows[key] = _ladder_table(ladder, rows, own, self._spread_text())
        return hit

    def _spread_text(self) -> str:
        return "" if self.spread is None else f"{self.spread} ({self.spread_bps:.1f} bps)"


def _group(levels: Sequence[tuple[Decimal, Decimal]], bucket: Decimal, side: str,
           rows: int) -> tuple[Level, ...]:
    out: list[list[Decimal]] = []
    for price, size in levels:
        p = bucket_price(price, bucket, side)
        if out and out[-1][0] == p:
            out[-1][1] += size
        elif len(out) == rows:
            break
        else:
            out.append([p, size])
    cum = Decimal(0)
    result = []
    for p, s in out:
        cum += s
        result.append((p, s, cum))
    return tuple(result)


def _ladder_table(ladder: Ladder, n: int, own: frozenset[Decimal], spread: str) -> LadderRows:
    asks, bids = ladder.asks[:n], ladder.bids[:n]
    top = max((float(s) for _, s, _ in (*asks, *bids)), default=0.0) or 1.0
    marked = {side: {bucket_price(o, ladder.bucket, side) for o in own} for side in ("bid", "ask")}

    def row(side: str, level: Level | None = None, text: str = "") -> tuple:
        if level is None:
            return (text, None, None, side, "", 0)
        price, size, cum = level
        mark = OWN_MARK if price in marked[side] else ""
        bar = round(100 * float(size) / top)
        return (format(price, "f"), float(size), float(cum), side, mark, bar)

    table = [row("ask") for _ in range(n - len(asks))]
    table += [row("ask", level) for level in reversed(asks)]
    table.append(row("spread", text=spread))
    table += [row("bid", level) for level in bids]
    table += [row("bid") for _ in range(n - len(bids))]
    return {k: tuple(r[i] for r in table) for i, k in enumerate(LADDER_ROW_COLUMNS)}


def depth_arrays(book: BookSnapshot, mid: float, span_pct: float = MAX_SPAN_PCT) -> DepthArrays:
    lo, hi = mid * (1 - span_pct / 100), mid * (1 + span_pct / 100)
    bid_px = np.fromiter((float(p) for p, _ in book.bids), float, len(book.bids))
    bid_sz = np.fromiter((float(s) for _, s in book.bids), float, len(book.bids))
    ask_px = np.fromiter((float(p) for p, _ in book.asks), float, len(book.asks))
    ask_sz = np.fromiter((float(s) for _, s in book.asks), float, len(book.asks))
    kb, ka = bid_px >= lo, ask_px <= hi
    return DepthArrays(bid_px[kb], np.cumsum(bid_sz)[kb], ask_px[ka], np.cumsum(ask_sz)[ka])


def with_status(view: MarketView, status: FeedStatus) -> MarketView:
    """The same view with a newer feed status (its caches kept: the book did not move)."""
    return replace(view, status=status, _ladders=view._ladders, _rows=view._rows)


def make_view(symbol: str, version: int, live: bool, book: BookSnapshot | None,
              trades: tuple[Trade, ...], total: int, instrument: Instrument | None,
              ticker: Ticker | None, status: FeedStatus) -> MarketView:
    best_bid = book.bids[0][0] if book and book.bids else None
    best_ask = book.asks[0][0] if book and book.asks else None
    mid = spread = spread_bps = imbalance = depth = None
    if book is not None and best_bid is not None and best_ask is not None:
        mid = float(best_bid + best_ask) / 2
        spread = best_ask - best_bid
        spread_bps = float(spread) / mid * 1e4
        bid_top = sum(float(s) for _, s in book.bids[:10])
        ask_top = sum(float(s) for _, s in book.asks[:10])
        imbalance = (bid_top - ask_top) / (bid_top + ask_top) if bid_top + ask_top else 0.0
        depth = depth_arrays(book, mid)
    return MarketView(symbol, version, int(time.time() * 1000), live, instrument, book, best_bid,
                      best_ask, mid, spread, spread_bps, imbalance, depth, trades, total, ticker,
                      status)
