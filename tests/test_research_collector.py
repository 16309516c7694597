"""The research collector on the real client against the simulator (127.0.0.1): heatmap columns
equal the exact book at each column's end (snapshots taken by the test's own listener), across a
resync; every top-of-book change is listed; trades arrive once; periods are named."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import aiohttp
import numpy as np
import pytest

from dashboard.domain.models import BookSnapshot
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.research.collector import ResearchCollector
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually

SYMBOL = "BTC-USDT"
COLUMN_NS = 100_000_000  # 100 ms columns: many of them in a short test


class BoundarySnapshots:
    """The test's own listener: at the first input past each column boundary it takes the whole
    book as it stands before that input, i.e. the book at the boundary (its own bookkeeping,
    not the collector's)."""

    def __init__(self, feed: KucoinMarketFeed) -> None:
        self.feed = feed
        self.books: dict[int, BookSnapshot | None] = {}  # column index -> book at its end
        self.last_column: int | None = None
        self.tops: list[tuple] = []

    def before_event(self, ts_ns: int) -> None:
        column = ts_ns // COLUMN_NS
        if self.last_column is not None and column > self.last_column:
            book = self.feed.book(SYMBOL)
            for k in range(self.last_column, column):
                self.books[k] = book
        self.last_column = column

    def after_event(self, ts_ns: int) -> None:
        book = self.feed.book(SYMBOL, 1)
        if book is not None:
            top = (book.bids[0] if book.bids else None, book.asks[0] if book.asks else None)
            if not self.tops or self.tops[-1][1:] != top:
                self.tops.append((ts_ns, *top))


def bucketed(book: BookSnapshot, bucket: Decimal, origin: int, rows: int) -> np.ndarray:
    """Plain bucketing: bids floored, asks ceiled to the bucket, summed exactly, on the grid."""
    sums = [Decimal(0)] * rows
    for ladder, rounding in ((book.bids, ROUND_FLOOR), (book.asks, ROUND_CEILING)):
        for price, size in ladder:
            row = int((price / bucket).to_integral_value(rounding)) - origin
            if 0 <= row < rows:
                sums[row] += size
    return np.array([float(s) for s in sums], dtype=np.float32)


@pytest.fixture
async def market():
    async with Simulator(SimConfig(port=0, rate_per_s=400, history=False)) as sim, \
            aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, None, session=session)
        feed = KucoinMarketFeed(rest, [SYMBOL, "ETH-USDT"], session=session)
        shots = BoundarySnapshots(feed)
        feed.add_listener(shots)  # first: it looks before the collector changes anything
        collector = ResearchCollector(feed, column_s=COLUMN_NS / 1e9, capacity=600, levels=60)
        assert collector.observed  # the real client is an ObservedFeed: every input is seen
        await collector.start()
        await feed.start()
        try:
            yield sim, feed, collector, shots
        finally:
            await collector.close()
            await feed.close()


async def test_columns_are_the_exact_book_at_each_column_end_across_a_resync(market):
    sim, _feed, collector, shots = market
    await eventually(lambda: collector.history(SYMBOL) is not None
                     and len(collector.history(SYMBOL).columns(0)) > 15, timeout_s=15)
    sim.faults.set(l2_drop=0.5)  # the client sees a gap and resyncs
    await eventually(lambda: collector.history(SYMBOL).periods(), timeout_s=15)
    sim.faults.set(l2_drop=0.0)
    await eventually(lambda: collector.history(SYMBOL).periods()[-1].end_ns is not None,
                     timeout_s=20)
    mark = collector.history(SYMBOL).cursor
    await eventually(lambda: collector.history(SYMBOL).cursor > mark + 10, timeout_s=15)

    history = collector.history(SYMBOL)
    cols = history.columns(0)
    rows = cols.sizes.shape[1]
    checked = 0
    for i, k in enumerate(cols.index):
        book = shots.books.get(int(k))
        if book is None or int(k) not in shots.books or int(k) + 1 not in shots.books:
            continue  # no snapshot of that boundary (the book was away, or the test's first)
        expected = bucketed(book, history.bucket, int(cols.origin[i]), rows)
        np.testing.assert_array_equal(cols.sizes[i], expected, err_msg=f"column {k}")
        assert cols.sequence[i] == book.sequence
        checked += 1
    assert checked > 20
    period = history.periods()[0]
    assert period.kind in ("gap", "resync") and period.end_ns > period.start_ns
    after = [k for k in cols.index if k * COLUMN_NS >= period.end_ns and int(k) in shots.books]
    assert after, "columns after the resync were checked too"


async def test_every_top_change_and_trade_is_listed_once(market):
    _sim, feed, collector, shots = market
    await eventually(lambda: len(collector.track(SYMBOL).trades) > 20, timeout_s=15)
    await eventually(lambda: len(collector.track(SYMBOL).tops) > 50, timeout_s=15)
    track = collector.track(SYMBOL)
    ids = [t.trade_id for t in track.trades]
    assert len(ids) == len(set(ids))
    # the feed keeps the newest trades: the collector's tail is the same sequence
    recent = [t.trade_id for t in feed.trades(SYMBOL, 100)]
    tail = ids[-len(recent):]
    assert tail == recent[-len(tail):] or recent[: len(tail)] == tail[: len(recent)]
    # every change the test's own listener saw (after the collector's first) is in the list
    ours = {(t.ts_ns, t.best_bid, t.bid_size, t.best_ask, t.ask_size) for t in track.tops}
    first = track.tops[0].ts_ns
    seen = [(ts, b[0], b[1], a[0], a[1]) for ts, b, a in shots.tops
            if ts > first and b is not None and a is not None]
    assert seen and all(s in ours for s in seen[:-5])
    series = track.series.rows
    assert series and sum(r.trades for r in series) > 0
