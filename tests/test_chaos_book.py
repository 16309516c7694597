"""Chaos: the client's level-2 books against the simulator's own book, with every fault kind on.

The simulator's engine calls a recorder after every book-changing action, synchronously and in the
same loop, so the recorder keeps the simulator's exact book for each sequence it publishes. The
client's frame handler is wrapped: after every frame, each live book whose sequence the recorder
holds is compared level by level, and no live book may be crossed.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections import Counter, OrderedDict
from decimal import Decimal

import aiohttp

from dashboard.domain.models import FeedState
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.simulator.catalog import DEFAULT_SYMBOLS
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually

SYMBOLS = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT")
CHAOS_S = 40.0  # seconds of faults; the whole test stays near a minute
TOKEN_EXPIRY_EVERY_S = 4.0
FAULTS = {
    "l2_drop": 0.01, "l2_duplicate": 0.02, "l2_reorder": 0.02, "disconnect_per_s": 0.25,
    "rest_429": 0.15, "snapshot_5xx": 0.15, "snapshot_delay_s": 0.05,
}
Levels = tuple[tuple[Decimal, Decimal], ...]


class SimBookRecorder:
    """Engine listener: the simulator's exact book after each level-2 message, by sequence
    (bounded)."""

    def __init__(self, sim: Simulator, symbols: tuple[str, ...], keep: int = 3000) -> None:
        self.exchange = sim.exchange
        self.keep = keep
        self.misaligned = 0
        self.books: dict[str, OrderedDict[int, tuple[Levels, Levels]]] = {
            s: OrderedDict() for s in symbols}

    def on_book_changes(self, symbol: str, seq_start: int, seq_end: int, changes,
                        time_ms: int) -> None:
        books = self.books.get(symbol)
        if books is None:
            return
        seq, bids, asks = self.exchange.snapshot(symbol)
        if seq != seq_end:  # the engine swallows listener exceptions, so count instead of asserting
            self.misaligned += 1
            return
        books[seq] = (tuple(bids), tuple(asks))
        if len(books) > self.keep:
            books.popitem(last=False)


class BookChecker:
    """After every frame: each live book at a recorded sequence must equal the simulator's; none
    crossed."""

    def __init__(self, feed: KucoinMarketFeed, recorder: SimBookRecorder) -> None:
        self.feed = feed
        self.recorder = recorder
        self.checks: Counter[str] = Counter()
        self.unrecorded = 0
        self.mismatches: list[str] = []
        self.crossed: list[str] = []
        self._seen: dict[str, int] = {}

    def install(self) -> None:
        ws = self.feed.ws
        assert ws is not None
        inner = ws.on_frame

        def on_frame(text: str) -> None:
            inner(text)
            self.check()

        ws.on_frame = on_frame

    def check(self) -> None:
        for symbol, sync in self.feed.router.syncs.items():
            if not sync.live or self._seen.get(symbol) == sync.book.sequence:
                continue
            snap = self.feed.book(symbol)
            assert snap is not None
            self._seen[symbol] = snap.sequence
            if snap.bids and snap.asks and snap.bids[0][0] >= snap.asks[0][0]:
                self.crossed.append(f"{symbol}@{snap.sequence}: {snap.bids[0]} >= {snap.asks[0]}")
            want = self.recorder.books[symbol].get(snap.sequence)
            if want is None:
                self.unrecorded += 1
                continue
            self.checks[symbol] += 1
            if (snap.bids, snap.asks) != want:
                got = (snap.bids, snap.asks)
                self.mismatches.append(_describe(symbol, snap.sequence, got, want))

    @property
    def total(self) -> int:
        return sum(self.checks.values())


def _describe(symbol: str, seq: int, got: tuple[Levels, Levels],
              want: tuple[Levels, Levels]) -> str:
    diffs = []
    for side, g, w in (("bids", got[0], want[0]), ("asks", got[1], want[1])):
        gd, wd = dict(g), dict(w)
        diffs += [f"{side} {p}: client {gd.get(p)} sim {wd.get(p)}"
                  for p in sorted(gd.keys() | wd.keys()) if gd.get(p) != wd.get(p)]
    return f"{symbol}@{seq}: " + "; ".join(diffs[:5])


async def _expire_tokens_periodically(sim: Simulator) -> None:
    while True:
        await asyncio.sleep(TOKEN_EXPIRY_EVERY_S)
        sim.hub.expire_all_tokens()


def _final_book(source: KucoinMarketFeed | Simulator, symbol: str) -> tuple[int, Levels, Levels]:
    if isinstance(source, Simulator):
        seq, bids, asks = source.exchange.snapshot(symbol)
        return seq, tuple(bids), tuple(asks)
    book = source.book(symbol)
    assert book is not None
    return book.sequence, book.bids, book.asks


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_books_equal_the_simulators_under_every_fault(record_property):
    """With every fault on, each live client book equals the simulator's at its sequence; all
    recover."""
    rules = tuple(r for r in DEFAULT_SYMBOLS if r.symbol in SYMBOLS)
    async with Simulator(SimConfig(port=0, rate_per_s=800, history=False, symbols=rules)) as sim, \
            aiohttp.ClientSession() as session:
        recorder = SimBookRecorder(sim, SYMBOLS)
        sim.exchange.listeners.append(recorder)
        rest = KucoinRestClient(sim.base_url, sim.demo, session=session, timeout_s=2.0)
        feed = KucoinMarketFeed(rest, SYMBOLS, session=session, stale_after_s=3.0,
                                supervise_every_s=0.5)
        await feed.start()
        checker = BookChecker(feed, recorder)
        checker.install()
        try:
            await eventually(lambda: feed.status().state is FeedState.LIVE, 10.0)
            sim.faults.set(**FAULTS)
            expirer = asyncio.create_task(_expire_tokens_periodically(sim))
            try:
                await asyncio.sleep(CHAOS_S)  # the chaos phase itself, not a synchronisation
            finally:
                expirer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await expirer
            faults = Counter(sim.faults.counts)
            checks_in_chaos = checker.total
            sim.faults.clear()

            # Recovery: every book live again, equal to the simulator's at the same sequence.
            await eventually(lambda: feed.status().state is FeedState.LIVE, 8.0)
            before = Counter(checker.checks)
            await eventually(lambda: all(checker.checks[s] > before[s] + 20 for s in SYMBOLS), 8.0)
            sim.flow.rate_per_s = 0
            await eventually(lambda: all((b := feed.book(s)) is not None
                                         and b.sequence == sim.exchange.sequence(s)
                                         for s in SYMBOLS), 8.0)
            final_differs = [s for s in SYMBOLS if _final_book(feed, s) != _final_book(sim, s)]
        finally:
            await feed.close()
        leftover = [t.get_name() for t in asyncio.all_tasks()
                    if t.get_name().startswith(("snapshot-", "feed-", "kucoin-public"))]

    times = list(feed.counters.recovery_times_s)
    status = feed.status()
    report = (f"faults={dict(faults)} total={sum(faults.values())} checks={checker.total} "
              f"(during chaos {checks_in_chaos}) per_symbol={dict(checker.checks)} "
              f"unrecorded={checker.unrecorded} mismatches={len(checker.mismatches)} "
              f"crossed={len(checker.crossed)} gaps={status.gaps} resyncs={status.resyncs} "
              f"reconnects={status.reconnects} snapshots={feed.counters.snapshots} "
              f"snapshot_failures={feed.counters.snapshot_failures} recoveries={len(times)} "
              f"recovery_s median={statistics.median(times or [0]):.3f} "
              f"p95={_percentile(times or [0], 0.95):.3f} "
              f"max={max(times or [0]):.3f}")
    print(report)
    record_property("chaos_report", report)
    assert not checker.mismatches, (checker.mismatches[:5], report)
    assert not checker.crossed, (checker.crossed[:5], report)
    assert not final_differs, (final_differs, report)
    assert recorder.misaligned == 0, report
    assert len(times) >= 100, report  # many loss -> live episodes were measured
    assert not leftover, leftover  # close() cancelled and awaited every task the feed started
    assert sum(faults.values()) >= 1000, report
    assert all(faults[k] > 0 for k in ("l2_drop", "l2_duplicate", "l2_reorder", "disconnect",
                                       "rest_429", "snapshot_5xx", "snapshot_delay",
                                       "token_expiry")), report
    assert checks_in_chaos >= 500, report
