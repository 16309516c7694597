"""The research collector: one per process, beside the hub, feeding every symbol's ``BookHistory``
(the heatmap) and ``SeriesBuilder`` (the microstructure series) from a feed, and keeping the
top-of-book changes and trades the research DataFrames list.

How it sees the market (``domain.interfaces.ObservedFeed``): the feed's core calls
``before_event``/``after_event`` around every input, with the feed's own clock (the wall clock live,
the recorded one in a replay). ``after_event`` notes every change of the top of book (price or
size) and every new trade, so ``top_of_book`` lists each change with the time of the input that
made it; ``before_event`` closes the heatmap columns that end at or before the input's time from
the book as it stood just before the input, so each column is the exact book at its end. A timer
(``run``) does the same between inputs, so the live edge moves in a quiet market and a stale feed
shows. Periods the feed could not vouch for come from the books' validity (a book that goes away
opens a period: "reconnect" when the feed is disconnected, "stale", "gap" when a gap was counted,
"resync" otherwise) and end when the book is back.

A feed that is not an ``ObservedFeed`` (a fake) is sampled on the timer only: tops every
``sample_s`` (changes in between are not seen), columns at their boundaries.

Imports ``dashboard.domain``, ``dashboard.aio`` and the research cores only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from dashboard.aio import cancel_and_wait
from dashboard.domain.buckets import choose_bucket
from dashboard.domain.interfaces import MarketFeed, ObservedFeed
from dashboard.domain.models import BookSnapshot, FeedState, Trade
from dashboard.research.history import BookHistory
from dashboard.research.measures import TopOfBook, book_mid, top_of_book
from dashboard.research.periods import Period
from dashboard.research.series import SeriesBuilder, SeriesRow

__all__ = ["CollectorStats", "ResearchCollector", "SymbolTrack"]

log = logging.getLogger(__name__)

TOPS_KEPT = 200_000  # top-of-book changes per symbol (about an hour of a busy book)
TRADES_KEPT = 100_000


@dataclass(slots=True)
class SymbolTrack:
    """What the collector keeps for one symbol. ``history`` is None until the first book (its
    bucket is chosen from that book's mid and the symbol's tick)."""

    symbol: str
    series: SeriesBuilder
    tops: deque[TopOfBook]
    trades: deque[Trade]  # as the exchange sent them (``ts_ns``: its match time)
    received_ns: deque[int]  # when each of ``trades`` arrived, on the feed's clock
    history: BookHistory | None = None
    live: bool = False  # the book was valid at the last look
    ever_live: bool = False  # a first sync is not a period; a later loss is
    period_kind: str | None = None  # the open period's kind while the book is away
    sequence: int | None = None
    top: tuple | None = None  # (bid, bid size, ask, ask size) of the last top seen
    top_key: Hashable = None  # the feed's cheap marker of that top (ObservedFeed.top_key)
    trades_seen: int = 0
    next_column_ns: int | None = None  # the next column boundary to sample the book at


@dataclass(slots=True)
class CollectorStats:
    events: int = 0
    columns_sampled: int = 0
    top_changes: int = 0
    trades: int = 0
    periods: int = 0
    sample_ms_max: float = 0.0  # the longest deep-book sampling (all symbols at one boundary)
    errors: int = 0


class ResearchCollector:
    """Book history, series, tops and trades of every symbol of ``feed`` (module docstring).

    ``column_s`` and ``levels`` shape the heatmap (``BookHistory``), ``capacity`` its length in
    columns; ``interval_s`` is the series' row width. ``clock_ns`` defaults to the feed's clock.
    """

    def __init__(self, feed: MarketFeed, *, column_s: float = 0.25, capacity: int = 7200,
                 levels: int = 100, interval_s: float = 1.0, sample_s: float = 0.05,
                 clock_ns: Callable[[], int] | None = None) -> None:
        self.feed = feed
        self.watched: ObservedFeed | None = feed if isinstance(feed, ObservedFeed) else None
        self.observed = self.watched is not None
        self.column_ns = round(column_s * 1e9)
        self.capacity = capacity
        self.levels = levels
        self.interval_s = interval_s
        self.sample_s = sample_s
        if clock_ns is None:
            clock_ns = feed.clock_ns if isinstance(feed, ObservedFeed) else time.time_ns
        self.clock_ns = clock_ns
        self.stats = CollectorStats()
        self.tracks: dict[str, SymbolTrack] = {}
        self.version = 0  # bumped whenever a column closes or a period changes
        self._task: asyncio.Task | None = None
        self._attached = False
        self._gaps = 0  # the feed's gap count at the last period opened
        self._last_input_ns = 0  # the time of the newest input seen (after_event or tick)

    # ---- lifecycle
    def attach(self) -> None:
        """Start listening to the feed (before ``feed.start()`` sees the first snapshot)."""
        if self.watched is not None and not self._attached:
            self.watched.add_listener(self)
            self._attached = True

    async def start(self) -> None:
        self.attach()
        self._task = asyncio.create_task(self._run(), name="research-collector")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait([task] if task else [])
        if self.watched is not None and self._attached:
            self.watched.remove_listener(self)
            self._attached = False

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._sleep_s())
            try:
                self.tick()
            except Exception:
                self.stats.errors += 1
                log.exception("research collector: tick failed")

    def _sleep_s(self) -> float:
        """Until the next column boundary (or the top-of-book sampling step, when polled)."""
        now = self.clock_ns()
        until = (self.column_ns - now % self.column_ns) / 1e9 + 0.0005
        return min(until, self.sample_s) if not self.observed else until

    # ---- reads
    def track(self, symbol: str) -> SymbolTrack:
        track = self.tracks.get(symbol)
        if track is None:
            track = self.tracks[symbol] = SymbolTrack(
                symbol, SeriesBuilder(self.interval_s), deque(maxlen=TOPS_KEPT),
                deque(maxlen=TRADES_KEPT), deque(maxlen=TRADES_KEPT))
        return track

    def history(self, symbol: str) -> BookHistory | None:
        return self.track(symbol).history

    def series_rows(self, symbol: str) -> Sequence[SeriesRow]:
        return self.track(symbol).series.rows

    @property
    def symbols(self) -> Sequence[str]:
        return self.feed.symbols

    # ---- FeedListener
    def before_event(self, ts_ns: int) -> None:
        try:
            self._close_columns(ts_ns)
        except Exception:  # a listener must not break the feed
            self.stats.errors += 1
            log.exception("research collector: before_event failed")

    def after_event(self, ts_ns: int) -> None:
        self.stats.events += 1
        self._last_input_ns = ts_ns
        assert self.watched is not None
        try:
            sequences, seen = self.watched.book_sequences(), self.watched.trades_seen()
            for symbol in self.feed.symbols:
                track = self.tracks.get(symbol) or self.track(symbol)
                sequence = sequences.get(symbol)
                if sequence is not None and sequence == track.sequence and track.live \
                        and seen.get(symbol, 0) == track.trades_seen:
                    continue  # the common case: another symbol's input
                self._look(track, ts_ns, sequence, seen.get(symbol, 0))
        except Exception:
            self.stats.errors += 1
            log.exception("research collector: after_event failed")

    def tick(self) -> None:
        """The timer's look: columns due, then tops, trades and periods (what events would do)."""
        now = self.clock_ns()
        self._close_columns(now)
        self._last_input_ns = now  # what the timer sees now stands from now on
        state = self.feed.status().state
        for symbol in self.feed.symbols:
            track = self.track(symbol)
            self._look(track, now, self._sequence(symbol), self._trades_seen(symbol), state)
            if track.history is not None:
                track.history.advance(now)
            track.series.advance(now)

    # ---- looking at one symbol
    def _look(self, track: SymbolTrack, ts_ns: int, sequence: int | None, seen: int,
              state: FeedState | None = None) -> None:
        stale = state is FeedState.STALE
        if sequence is None or stale:
            if track.live:
                self._book_lost(track, ts_ns, state)
            return
        if not track.live:
            self._book_back(track, ts_ns)
        if sequence != track.sequence:
            track.sequence = sequence
            self._note_top(track, ts_ns)
        if seen != track.trades_seen:
            self._note_trades(track, seen, ts_ns)

    def _sequence(self, symbol: str) -> int | None:
        if self.watched is not None:
            return self.watched.book_sequences().get(symbol)
        book = self.feed.book(symbol, 1)
        return None if book is None else book.sequence

    def _trades_seen(self, symbol: str) -> int:
        if self.watched is not None:
            return self.watched.trades_seen().get(symbol, 0)
        trades = self.feed.trades(symbol, 1)
        return hash(trades[-1].trade_id) if trades else 0  # a change marker, not a count

    def _note_top(self, track: SymbolTrack, ts_ns: int) -> None:
        if self.watched is not None:
            key = self.watched.top_key(track.symbol)
            if key is not None and key == track.top_key:
                return  # the book changed below the top
            track.top_key = key
            book = self.watched.top_of_book(track.symbol)
        else:
            book = self.feed.book(track.symbol, 1)
        if book is None:
            return
        top = top_of_book(book, ts_ns)
        key = (top.best_bid, top.bid_size, top.best_ask, top.ask_size)
        if key == track.top:
            return
        track.top = key
        track.tops.append(top)
        track.series.on_top(top)
        self.stats.top_changes += 1
        if track.history is None:
            self._start_history(track, book, ts_ns)

    def _note_trades(self, track: SymbolTrack, seen: int, ts_ns: int) -> None:
        """New trades, placed in the series and the heatmap at ``ts_ns``, when they arrived: one
        clock for books, tops and trades (the exchange's match time runs on another clock, and a
        trade stamped a little ahead would close a column before the book at its end was seen)."""
        new = seen - track.trades_seen if self.observed else 1000
        track.trades_seen = seen
        trades = self.feed.trades(track.symbol, max(1, new))
        last = track.trades[-1] if track.trades else None
        if not self.observed and last is not None:  # polled: keep those after the last one kept
            ids = [t.trade_id for t in trades]
            trades = trades[ids.index(last.trade_id) + 1:] if last.trade_id in ids else trades
        for trade in trades:
            track.trades.append(trade)
            track.received_ns.append(ts_ns)
            track.series.on_trade(replace(trade, ts_ns=ts_ns))
            if track.history is not None:
                track.history.on_trade(trade, ts_ns)
            self.stats.trades += 1

    # ---- periods
    def _book_lost(self, track: SymbolTrack, ts_ns: int, state: FeedState | None) -> None:
        status = self.feed.status()
        state = status.state if state is None else state
        if state is FeedState.DISCONNECTED:
            kind = "reconnect"
        elif state is FeedState.STALE:
            kind = "stale"
        elif status.gaps > self._gaps:
            kind = "gap"
        else:
            kind = "resync"
        self._gaps = status.gaps
        track.live = False
        track.period_kind = kind
        track.top = track.top_key = None
        track.sequence = None
        period = Period(kind, ts_ns)  # open until the book is back
        if track.history is not None:
            track.history.on_period(period)
        track.series.on_period(period)
        self.stats.periods += 1
        self.version += 1

    def _book_back(self, track: SymbolTrack, ts_ns: int) -> None:
        if track.ever_live and track.period_kind is not None:
            if track.history is not None:
                track.history.end_period(track.period_kind, ts_ns)
            track.series.end_period(track.period_kind, ts_ns)
            self.version += 1
        track.live = track.ever_live = True
        track.period_kind = None

    # ---- heatmap columns
    def _start_history(self, track: SymbolTrack, top: BookSnapshot, ts_ns: int) -> None:
        instrument = self.feed.instruments().get(track.symbol)
        tick = instrument.price_increment if instrument is not None else _price_step(top)
        mid = book_mid(top) or (top.bids or top.asks)[0][0]
        bucket = choose_bucket(mid, tick, self.levels)
        track.history = BookHistory(track.symbol, bucket, tick=tick, column_ns=self.column_ns,
                                    capacity=self.capacity, levels=self.levels)
        track.history.advance(ts_ns)
        track.next_column_ns = ts_ns - ts_ns % self.column_ns + self.column_ns
        book = self.feed.book(track.symbol, self._depth(track))
        if book is not None:
            track.history.on_book(ts_ns, book)
            track.series.on_book(book, ts_ns)

    def _depth(self, track: SymbolTrack) -> int | None:
        """Levels per side a column needs: the grid's reach in ticks (None: all of them)."""
        history = track.history
        instrument = self.feed.instruments().get(track.symbol)
        if history is None or instrument is None or instrument.price_increment <= 0:
            return None
        return int((history.levels + 1) * history.bucket / instrument.price_increment) + 1

    def _close_columns(self, ts_ns: int) -> None:
        """Close the columns that end at or before ``ts_ns``. No input came since the newest one
        seen (at ``_last_input_ns``), so the book as it is now -- before the input at ``ts_ns``
        is applied -- has stood since then: it is the book at the end of each of those columns.
        One deep snapshot per symbol per column, at most."""
        t0 = 0.0
        since = min(self._last_input_ns, ts_ns)  # the book below has stood since then
        for track in self.tracks.values():
            due = track.next_column_ns
            if due is None or ts_ns < due or track.history is None:
                continue
            t0 = t0 or time.perf_counter()
            book = self.feed.book(track.symbol, self._depth(track)) if track.live else None
            if book is not None:
                track.history.on_book(since, book)
                track.series.on_book(book, since)
            track.history.advance(ts_ns)
            track.next_column_ns = ts_ns - ts_ns % self.column_ns + self.column_ns
            self.stats.columns_sampled += 1
            self.version += 1
        if t0:
            self.stats.sample_ms_max = max(self.stats.sample_ms_max,
                                           (time.perf_counter() - t0) * 1000)


def _price_step(book: BookSnapshot) -> Decimal:
    """A feed without instruments: the finest step its best prices are quoted in."""
    exponents = [p.as_tuple().exponent for p, _ in (*book.bids[:1], *book.asks[:1])]
    return Decimal(1).scaleb(min(e for e in exponents if isinstance(e, int)))
