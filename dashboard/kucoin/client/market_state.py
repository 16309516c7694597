"""``KucoinMarketState``: the sans-I/O core of a KuCoin market feed.

Fed raw WebSocket frames, REST snapshots, candle history, disconnects and resubscriptions, it keeps
the books (through the one level-2 entry point, ``L2Router.apply_frame``), trades, tickers, candles,
health counters and silence bookkeeping, and answers with an ``Action`` when a book needs a
snapshot. It never waits, fetches or reads a clock of its own: ``clock`` (monotonic seconds) and
``wall_clock`` (epoch seconds) are passed in. The live feed (``feed.py``) and the replay
(``dashboard.recording.replay``) are two drivers of it. Imports no I/O library, nothing above
``kucoin.client``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

import orjson

from dashboard.domain.book import OrderBook
from dashboard.domain.interfaces import FeedListener
from dashboard.domain.models import (
    BookSnapshot,
    Candle,
    FeedState,
    FeedStatus,
    Instrument,
    Ticker,
    Trade,
)
from dashboard.kucoin.common.errors import KucoinProtocolError
from dashboard.kucoin.protocol import spot as c

from . import parse
from .book_sync import Action, L2Router

log = logging.getLogger(__name__)

Clock = Callable[[], float]
BOOK_SOURCES = {"level2": c.TOPIC_LEVEL2, "depth50": c.TOPIC_DEPTH50, "depth5": c.TOPIC_DEPTH5}
CANDLES_KEPT = 3000  # live candles per (symbol, interval); the oldest 1000 go when it is reached
# what a malformed frame raises on its way through parse and the book: counted and skipped
BAD_FRAME_ERRORS = (KucoinProtocolError, orjson.JSONDecodeError, KeyError, TypeError, ValueError)


@dataclass(slots=True)
class FeedCounters:
    frames: int = 0
    bad_frames: int = 0
    snapshots: int = 0
    snapshot_failures: int = 0
    stale_recoveries: int = 0
    quiet_checks: int = 0
    recovery_times_s: deque = field(default_factory=lambda: deque(maxlen=1000))


class KucoinMarketState:
    """Books, trades, tickers and candles of ``symbols``, and what it takes to keep them valid."""

    def __init__(self, symbols: Sequence[str], *, clock: Clock, wall_clock: Clock,
                 book_source: str = "level2", trades_kept: int = 500, native: bool = True) -> None:
        if book_source not in BOOK_SOURCES:
            raise ValueError(f"book_source must be one of {', '.join(BOOK_SOURCES)}")
        self.symbols = list(symbols)  # the symbols followed (unknown ones leave at set_instruments)
        self.book_source = book_source
        self._clock = clock
        self._wall_clock = wall_clock
        self.router = L2Router(self.symbols, native=native, fixed=True, validate=True,
                               clock=clock, wall_clock=wall_clock)
        self.counters = FeedCounters()
        self.unknown: list[str] = []  # asked for, but the exchange does not list them
        self._instruments: dict[str, Instrument] = {}
        self._trades_kept = trades_kept
        self._trades: dict[str, deque[Trade]] = {s: deque(maxlen=trades_kept) for s in self.symbols}
        self._tickers: dict[str, Ticker] = {}
        self._candles: dict[tuple[str, str], list[Candle]] = {}
        self._depth_books: dict[str, OrderBook] = {}  # depth5/depth50: the latest top-N push
        self._last_l2: dict[str, float] = {}  # (re)subscription or depth push, clock seconds
        self._lost_at: dict[str, float] = {}  # when a symbol's book stopped being valid
        self._rate = Rate(clock)
        self.listeners: list[FeedListener] = []  # told around every input (ObservedFeed)
        self._trades_seen: dict[str, int] = dict.fromkeys(self.symbols, 0)
        self._depth_pushes: dict[str, int] = {}

    @property
    def level2(self) -> bool:
        """Books from ``/market/level2`` increments (True) or from top-N depth pushes."""
        return self.book_source == "level2"

    # ---- inputs
    def set_instruments(self, listed: Iterable[Instrument]) -> list[str]:
        """The exchange's symbol list: keep ours, drop (and return) the ones it does not list."""
        by_symbol = {i.symbol: i for i in listed}
        self._instruments = {s: by_symbol[s] for s in self.symbols if s in by_symbol}
        self.unknown = [s for s in self.symbols if s not in by_symbol]
        for symbol in self.unknown:
            self.symbols.remove(symbol)
            self.router.syncs.pop(symbol, None)
            self._trades.pop(symbol, None)
        now = self._clock()
        for symbol in self.symbols:
            self._lost_at[symbol] = now  # no book yet: recovery time counts from here
        return self.unknown

    def on_frame(self, text: str) -> Action | None:
        """One raw data frame; a bad one is counted and skipped. An Action: fetch that snapshot."""
        if self.listeners:
            return self._observed(self._on_frame, text)
        return self._on_frame(text)

    def _observed(self, handler: Callable[..., Action | None], *args: object) -> Action | None:
        """Run one input between the listeners' before and after calls (one timestamp each)."""
        ts_ns = int(self._wall_clock() * 1e9)
        for listener in self.listeners:
            listener.before_event(ts_ns)
        try:
            return handler(*args)
        finally:
            for listener in self.listeners:
                listener.after_event(ts_ns)

    def _on_frame(self, text: str) -> Action | None:
        self.counters.frames += 1
        self._rate.tick()
        try:
            if '"trade.l2update"' in text:
                return self._handle_level2(text)
            self._handle_message(orjson.loads(text))
        except BAD_FRAME_ERRORS as exc:
            self.counters.bad_frames += 1
            log.warning("feed: bad frame counted and skipped (%s): %.200s", exc, text)
        return None

    def on_snapshot(
        self, symbol: str, sequence: int | str, bids: list, asks: list
    ) -> Action | None:
        """A REST snapshot for ``symbol``; an Action: it could not bridge the buffer, ask again."""
        if self.listeners:
            return self._observed(self._on_snapshot, symbol, sequence, bids, asks)
        return self._on_snapshot(symbol, sequence, bids, asks)

    def _on_snapshot(
        self, symbol: str, sequence: int | str, bids: list, asks: list
    ) -> Action | None:
        sync = self.router.syncs.get(symbol)
        if sync is None:
            return None
        self.counters.snapshots += 1
        action = sync.on_snapshot(sequence, bids, asks)
        if sync.live:
            lost = self._lost_at.pop(symbol, None)
            if lost is not None:
                self.counters.recovery_times_s.append(self._clock() - lost)
        return action

    def on_snapshot_failed(self) -> None:
        self.counters.snapshot_failures += 1

    def on_subscribed(self) -> list[str]:
        """Every subscription is acked: the symbols whose snapshot can be asked for now."""
        now = self._clock()
        for symbol in self.symbols:
            self._last_l2[symbol] = now  # silence is measured from the (re)subscription
        if not self.level2:
            return []
        return [s for s in self.symbols if not self.router.syncs[s].live]

    def on_disconnected(self) -> None:
        """The connection is gone: every book is void (§8.3)."""
        self._observed(self._on_disconnected) if self.listeners else self._on_disconnected()

    def _on_disconnected(self) -> None:
        now = self._clock()
        for symbol in self.symbols:
            self._lost_at.setdefault(symbol, now)
        self.router.reset()
        self._depth_books.clear()

    def reset_symbol(self, symbol: str) -> None:
        """One symbol's channel is resubscribed: its book is void until a new snapshot."""
        if self.listeners:
            self._observed(self._reset_symbol, symbol)
        else:
            self._reset_symbol(symbol)

    def _reset_symbol(self, symbol: str) -> None:
        sync = self.router.syncs.get(symbol)
        if sync is None:
            return
        now = self._clock()
        self._lost_at.setdefault(symbol, now)
        sync.reset()
        self._last_l2[symbol] = now

    def on_candle_history(self, symbol: str, interval: str, history: Sequence[Candle]) -> None:
        """REST history under the live candles: a live candle wins at the same start."""
        key = (symbol, interval)
        merged = {cd.start_s: cd for cd in history}
        merged.update({cd.start_s: cd for cd in self._candles.get(key, [])})
        self._candles[key] = [merged[k] for k in sorted(merged)]

    def has_candles(self, symbol: str, interval: str) -> bool:
        return (symbol, interval) in self._candles

    # ---- frame handlers
    def _handle_level2(self, text: str) -> Action | None:
        action = self.router.apply_frame(text)
        if action is not None:
            self._lost_at.setdefault(action.symbol, self._clock())
        return action

    def _handle_message(self, frame: object) -> None:
        if type(frame) is not dict or type(topic := frame.get("topic", "")) is not str:
            raise KucoinProtocolError("a data frame must be a JSON object with a string topic")
        prefix, _, arg = topic.partition(":")
        data = frame["data"]
        if prefix == c.TOPIC_MATCH:
            self._handle_match(parse.parse_match(data))
        elif prefix == c.TOPIC_TICKER:
            self._tickers[arg] = parse.parse_ticker(data, arg)
        elif prefix == c.TOPIC_CANDLES:
            _symbol, _, interval = arg.rpartition("_")
            self._handle_candle(parse.parse_candle_push(data, interval))
        elif prefix in (c.TOPIC_DEPTH50, c.TOPIC_DEPTH5) and arg in self.router.syncs:
            self._handle_depth(arg, data)

    def _handle_match(self, trade: Trade) -> None:
        rows = self._trades.get(trade.symbol)
        if rows is not None:
            rows.append(trade)
            self._trades_seen[trade.symbol] += 1

    def _handle_depth(self, symbol: str, data: object) -> None:
        """``level2Depth5/50``: an authoritative top-N book on every push, no sequence (§7.5)."""
        if type(data) is not dict:
            raise KucoinProtocolError("depth push data must be an object")
        book = OrderBook(symbol)
        try:
            book.load(data["bids"], data["asks"], int(data.get("timestamp", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise KucoinProtocolError(f"malformed depth push: {exc}") from None
        self._depth_books[symbol] = book
        self._depth_pushes[symbol] = self._depth_pushes.get(symbol, 0) + 1
        self._last_l2[symbol] = self._clock()

    def _handle_candle(self, candle: Candle) -> None:
        rows = self._candles.setdefault((candle.symbol, candle.interval), [])
        if rows and rows[-1].start_s == candle.start_s:
            rows[-1] = candle
        elif not rows or rows[-1].start_s < candle.start_s:
            rows.append(candle)
            if len(rows) > CANDLES_KEPT:
                del rows[:1000]

    # ---- silence (the driver asks the exchange in between)
    def last_activity(self, symbol: str) -> float:
        """When this symbol's level-2 channel last showed life: a frame, or its (re)subscription."""
        sync = self.router.syncs.get(symbol)
        return max(self._last_l2.get(symbol, 0.0), sync.last_receive if sync is not None else 0.0)

    def silent(self, stale_after_s: float) -> list[tuple[str, float]]:
        """(symbol, last activity) of each level-2 channel silent for ``stale_after_s`` or more."""
        if not self.level2:
            return []  # depth topics push only on change: silence there is a quiet book
        now = self._clock()
        out = []
        for symbol in self.symbols:
            last = self.last_activity(symbol)
            if last and now - last >= stale_after_s:
                out.append((symbol, last))
        return out

    def judge_silence(self, symbol: str, since: float, theirs: int | None) -> bool:
        """The exchange's book is at ``theirs``; True: the channel is dead and the book was reset
        (resubscribe it), False: a frame came meanwhile, or the market is just quiet."""
        if self.last_activity(symbol) > since:
            return False
        ours = self.router.syncs[symbol].stats.last_sequence
        if theirs is not None and ours is not None and theirs <= ours:
            self.counters.quiet_checks += 1
            self._last_l2[symbol] = self._clock()
            return False
        self.counters.stale_recoveries += 1
        self.reset_symbol(symbol)
        return True

    # ---- reads
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def book(self, symbol: str, depth: int | None = None) -> BookSnapshot | None:
        ts_ms = int(self._wall_clock() * 1000)
        if not self.level2:
            top = self._depth_books.get(symbol)
            return None if top is None else top.snapshot(depth, ts_ms)
        sync = self.router.syncs.get(symbol)
        if sync is None or not sync.live:
            return None
        return sync.book.snapshot(depth, ts_ms)

    def trades(self, symbol: str, limit: int = 100) -> Sequence[Trade]:
        rows = self._trades.get(symbol, ())
        if limit < len(rows):  # the newest few without copying the whole deque
            return list(islice(reversed(rows), limit))[::-1]
        return list(rows)

    # ---- reads for listeners (ObservedFeed): cheap enough for every input
    def clock_ns(self) -> int:
        return int(self._wall_clock() * 1e9)

    def book_sequences(self) -> Mapping[str, int | None]:
        if not self.level2:
            return {s: self._depth_pushes.get(s) for s in self.symbols}
        return {s: sync.book.sequence if sync.live else None
                for s, sync in self.router.syncs.items()}

    def top_key(self, symbol: str) -> Hashable:
        if not self.level2:
            return self._depth_pushes.get(symbol)
        sync = self.router.syncs.get(symbol)
        return sync.book.top_key() if sync is not None and sync.live else None

    def top_of_book(self, symbol: str) -> BookSnapshot | None:
        if not self.level2:
            return self.book(symbol, 1)  # a depth push holds at most 50 levels
        sync = self.router.syncs.get(symbol)
        if sync is None or not sync.live:
            return None
        book = sync.book
        bid, ask = book.best_bid(), book.best_ask()
        return BookSnapshot(symbol, book.sequence, (bid,) if bid else (), (ask,) if ask else (),
                            int(self._wall_clock() * 1000))

    def trades_seen(self) -> Mapping[str, int]:
        return self._trades_seen  # read-only for callers (ObservedFeed)

    def ticker(self, symbol: str) -> Ticker | None:
        return self._tickers.get(symbol)

    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        return list(self._candles.get((symbol, interval), ()))

    def status(self) -> FeedStatus:
        """What the books and counters say; the driver adds the connection's side."""
        stats = [s.stats for s in self.router.syncs.values()]
        per_symbol = {s: "unknown" for s in self.unknown}
        if not self.level2:
            state = (FeedState.LIVE if len(self._depth_books) == len(self.symbols)
                     else FeedState.SYNCING)
            per_symbol.update({s: "live" if s in self._depth_books else "syncing"
                               for s in self.symbols})
        else:
            per_symbol.update({s: sync.state.value for s, sync in self.router.syncs.items()})
            if all(sync.live for sync in self.router.syncs.values()):
                state = FeedState.LIVE
            elif any(st.resyncs for st in stats):
                state = FeedState.RESYNCING
            else:
                state = FeedState.SYNCING
        return FeedStatus(
            state=state, messages=self.counters.frames, msgs_per_s=self._rate.per_s(),
            gaps=sum(st.gaps for st in stats), resyncs=sum(st.resyncs for st in stats),
            bad_frames=self.counters.bad_frames, latency_ms=self._latency(), per_symbol=per_symbol)

    def _latency(self) -> float | None:
        """Mean over the symbols of their latency EWMAs (receive time - the frame's data.time)."""
        values = [
            lat for sync in self.router.syncs.values() if (lat := sync.latency_ms) is not None
        ]
        return sum(values) / len(values) if values else None


class Rate:
    """Messages per second over the last few seconds, cheap enough for the hot path."""

    __slots__ = ("_buckets", "_clock", "_count", "_current")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: deque[tuple[int, int]] = deque(maxlen=5)
        self._current = int(clock())
        self._count = 0

    def tick(self) -> None:
        self._roll(int(self._clock()))
        self._count += 1

    def _roll(self, now: int) -> None:
        if now != self._current:
            self._buckets.append((self._current, self._count))
            self._current, self._count = now, 0

    def per_s(self) -> float:
        now = int(self._clock())
        self._roll(now)
        full = [n for sec, n in self._buckets if now - sec <= 5]
        return sum(full) / len(full) if full else 0.0
