"""``KucoinMarketFeed``: the KuCoin implementation of ``domain.interfaces.MarketFeed``.

One public WebSocket carries ``/market/level2``, ``/market/match``, ``/market/ticker`` and
``/market/candles`` for the feed's symbols. Level-2 frames go raw into the sans-I/O
``L2Router``; when it asks for a snapshot, one owned task per symbol fetches it (retrying with
backoff; full v3 book with credentials, else ``level2_100`` and the status says the depth is
partial). A reconnect voids every book (§8.3). A supervisor notices a level-2 channel that went
silent: it asks REST for the symbol's sequence, and only when the exchange moved on without us is
the channel resubscribed and the book rebuilt, so a quiet market is not mistaken for a dead feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import orjson

from dashboard.aio import cancel_and_wait
from dashboard.domain.book import OrderBook
from dashboard.domain.models import BookSnapshot, Candle, FeedState, FeedStatus, Instrument, Ticker, Trade
from dashboard.kucoin.common.errors import KucoinError, KucoinProtocolError
from dashboard.kucoin.common.retry import backoff
from dashboard.kucoin.common.ws import ConnState, KucoinWebSocket
from dashboard.kucoin.protocol import spot as c

from . import parse
from .book_sync import FALLBACK, L2Router
from .parse_l2 import decode_l2
from .rest import KucoinRestClient

log = logging.getLogger(__name__)


BOOK_SOURCES = {"level2": c.TOPIC_LEVEL2, "depth50": c.TOPIC_DEPTH50, "depth5": c.TOPIC_DEPTH5}


class FeedRecorder(Protocol):
    """Where a feed writes what it receives (``dashboard.recording.Recorder``); every call must be cheap and
    must never raise into the feed."""

    def frame(self, text: str) -> None: ...
    def snapshot(self, symbol: str, sequence: int | str, bids: list, asks: list) -> None: ...
    def instruments(self, instruments: Sequence[Instrument]) -> None: ...
    def disconnected(self, reason: str) -> None: ...
    def reset(self, symbol: str) -> None: ...
    def candles(self, symbol: str, interval: str, rows: list[Candle]) -> None: ...
    def status(self) -> str: ...


@dataclass(slots=True)
class FeedCounters:
    frames: int = 0
    bad_frames: int = 0
    snapshots: int = 0
    snapshot_failures: int = 0
    stale_recoveries: int = 0
    quiet_checks: int = 0
    recovery_times_s: deque = field(default_factory=lambda: deque(maxlen=1000))


class KucoinMarketFeed:
    """Live books, trades, tickers and candles for a set of symbols. Constructing it does no I/O."""

    def __init__(self, rest: KucoinRestClient, symbols: Sequence[str], *, session: aiohttp.ClientSession | None = None,
                 full_book: bool | None = None, trades_kept: int = 500, stale_after_s: float = 10.0,
                 supervise_every_s: float = 1.0, candle_intervals: Sequence[str] = (),
                 book_source: str = "level2", recorder: FeedRecorder | None = None) -> None:
        if book_source not in BOOK_SOURCES:
            raise ValueError(f"book_source must be one of {', '.join(BOOK_SOURCES)}")
        self.book_source = book_source
        self.recorder = recorder
        self.rest = rest
        self.symbols = list(symbols)
        self._session = session
        self.full_book = (rest is not None and rest.has_credentials) if full_book is None else full_book
        self.stale_after_s = stale_after_s
        self.supervise_every_s = supervise_every_s
        self.candle_intervals = list(candle_intervals)
        self.router = L2Router(self.symbols)
        self.counters = FeedCounters()
        self._instruments: dict[str, Instrument] = {}
        self._trades: dict[str, deque[Trade]] = {s: deque(maxlen=trades_kept) for s in self.symbols}
        self._tickers: dict[str, Ticker] = {}
        self._candles: dict[tuple[str, str], list[Candle]] = {}
        self._last_l2: dict[str, float] = {}
        self._lost_at: dict[str, float] = {}  # when a symbol's book stopped being valid
        self._snap_tasks: dict[str, asyncio.Task] = {}
        self._retired: set[asyncio.Task] = set()  # cancelled snapshot tasks, awaited by close()
        self._tasks: list[asyncio.Task] = []
        self._running = False
        self._rate = _Rate()
        self._depth_books: dict[str, OrderBook] = {}  # book_source depth5/depth50: the latest top-N push
        self.ws: KucoinWebSocket | None = None
        self._own_session = False

    # ---- lifecycle
    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        delays = backoff(0.5, 10.0)
        while not self._instruments:
            try:
                instruments = await self.rest.get_symbols()
            except KucoinError as exc:
                log.warning("feed: cannot load symbols yet (%s); retrying", exc)
                await asyncio.sleep(next(delays))
                continue
            self._instruments = {i.symbol: i for i in instruments if i.symbol in self.symbols}
        if self.recorder is not None:
            self.recorder.instruments(list(self._instruments.values()))
        missing = [s for s in self.symbols if s not in self._instruments]
        if missing:
            raise KucoinError(f"unknown symbols: {', '.join(missing)}")
        for symbol in self.symbols:
            self._lost_at[symbol] = time.monotonic()
        self.ws = KucoinWebSocket(self._session, self.rest.post_bullet, private=False, on_frame=self.on_frame,
                                  on_connected=self._on_connected, on_disconnected=self._on_disconnected,
                                  name="kucoin-public")
        await self.ws.subscribe(BOOK_SOURCES[self.book_source], self.symbols)
        await self.ws.subscribe(c.TOPIC_MATCH, self.symbols)
        await self.ws.subscribe(c.TOPIC_TICKER, self.symbols)
        if self.candle_intervals:
            await self.ws.subscribe(c.TOPIC_CANDLES, [f"{s}_{i}" for s in self.symbols for i in self.candle_intervals])
        self._running = True
        self.ws.start()
        self._tasks.append(asyncio.create_task(self._supervise(), name="feed-supervisor"))

    async def close(self) -> None:
        """Stop the socket first (no frame may start a task after this), then cancel and await every task."""
        self._running = False
        if self.ws is not None:
            await self.ws.close()
        tasks = self._tasks + list(self._snap_tasks.values()) + list(self._retired)
        self._tasks, self._snap_tasks = [], {}
        self._retired.clear()
        await cancel_and_wait(tasks)
        if self._own_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> KucoinMarketFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- frames (hot path)
    def on_frame(self, text: str) -> None:
        if self.recorder is not None:
            self.recorder.frame(text)
        self.counters.frames += 1
        self._rate.tick()
        try:
            if '"trade.l2update"' in text:
                self._on_l2(text)
            else:
                self._on_other(orjson.loads(text))
        except (KucoinProtocolError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self.counters.bad_frames += 1
            log.warning("feed: bad frame counted and skipped (%s): %.200s", exc, text)

    def _on_l2(self, text: str) -> None:
        # The compiled path takes the common live frame (applied, or stale); it hands back everything else
        # untouched, and the validating Python path below owns those outcomes (buffering, gaps, bad frames).
        action = self.router.apply_native(text)
        if action is None:
            return
        if action is FALLBACK:
            fields = decode_l2(text)
            if fields is None:
                return
            symbol, start, end, asks, bids, time_ms = fields
            sync = self.router.syncs.get(symbol)
            if sync is None:
                return  # not ours
            sync.note_receive(time_ms)
            was_live = sync.live
            action = sync.feed(start, end, asks, bids)
            if was_live and not sync.live:
                self._lost_at[symbol] = time.monotonic()
            if action is None:
                return
        else:  # handled in C, and the book crossed: the resync has started
            self._lost_at.setdefault(action.symbol, time.monotonic())
        self._want_snapshot(action.symbol)

    def _last_activity(self, symbol: str) -> float:
        """When this symbol's level-2 channel last showed life: a frame, or its (re)subscription."""
        sync = self.router.syncs.get(symbol)
        return max(self._last_l2.get(symbol, 0.0), sync.last_receive if sync is not None else 0.0)

    def _on_other(self, frame: object) -> None:
        if type(frame) is not dict or type(topic := frame.get("topic", "")) is not str:
            raise KucoinProtocolError("a data frame must be a JSON object with a string topic")
        prefix, _, arg = topic.partition(":")
        data = frame["data"]
        if prefix == c.TOPIC_MATCH:
            trade = parse.parse_match(data)
            if trade.symbol in self._trades:
                self._trades[trade.symbol].append(trade)
        elif prefix == c.TOPIC_TICKER:
            self._tickers[arg] = parse.parse_ticker(data, arg)
        elif prefix == c.TOPIC_CANDLES:
            _symbol, _, interval = arg.rpartition("_")
            self._merge_candle(parse.parse_candle_push(data, interval))
        elif prefix in (c.TOPIC_DEPTH50, c.TOPIC_DEPTH5) and arg in self.router.syncs:
            self._on_depth(arg, data)

    def _on_depth(self, symbol: str, data: object) -> None:
        """``level2Depth5/50``: an authoritative top-N book on every push, no sequence to check (§7.5)."""
        if type(data) is not dict:
            raise KucoinProtocolError("depth push data must be an object")
        book = OrderBook(symbol)
        try:
            book.load(data["bids"], data["asks"], int(data.get("timestamp", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise KucoinProtocolError(f"malformed depth push: {exc}") from None
        self._depth_books[symbol] = book
        self._last_l2[symbol] = time.monotonic()

    def _merge_candle(self, candle: Candle) -> None:
        rows = self._candles.setdefault((candle.symbol, candle.interval), [])
        if rows and rows[-1].start_s == candle.start_s:
            rows[-1] = candle
        elif not rows or rows[-1].start_s < candle.start_s:
            rows.append(candle)
            if len(rows) > 3000:
                del rows[:1000]

    # ---- snapshots
    def _want_snapshot(self, symbol: str) -> None:
        if not self._running:  # not started (or closed): frames are still counted, nothing is fetched
            return
        task = self._snap_tasks.get(symbol)
        if task is None or task.done():
            self._snap_tasks[symbol] = asyncio.create_task(self._fetch_snapshot(symbol), name=f"snapshot-{symbol}")

    async def _fetch_snapshot(self, symbol: str) -> None:
        delays = backoff(0.2, 5.0)
        sync = self.router.get(symbol)
        while not sync.live:
            try:
                seq, bids, asks = await self.rest.get_level2_snapshot(symbol, None if self.full_book else 100)
            except (KucoinError, aiohttp.ClientError, OSError) as exc:
                self.counters.snapshot_failures += 1
                log.info("feed: snapshot for %s failed (%s); retrying", symbol, exc)
                await asyncio.sleep(next(delays))
                continue
            except Exception:  # loop boundary: a dead task would leave the symbol waiting forever
                self.counters.snapshot_failures += 1
                log.exception("feed: unexpected failure fetching the %s snapshot; retrying", symbol)
                await asyncio.sleep(next(delays))
                continue
            self.counters.snapshots += 1
            if self.recorder is not None:
                self.recorder.snapshot(symbol, seq, bids, asks)
            action = sync.on_snapshot(seq, bids, asks)
            if sync.live:
                lost = self._lost_at.pop(symbol, None)
                if lost is not None:
                    self.counters.recovery_times_s.append(time.monotonic() - lost)
                return
            if action is not None:  # the snapshot could not bridge the buffer: wait a little and ask again
                await asyncio.sleep(next(delays))

    def _on_connected(self) -> None:
        """Every subscription is acked, so increments are buffering: snapshots can be asked for now,
        without waiting for a first increment that a quiet market may never send (§8.2 step 2)."""
        now = time.monotonic()
        for symbol in self.symbols:
            self._last_l2[symbol] = now  # the supervisor measures silence from the (re)subscription
            if self.book_source == "level2" and not self.router.syncs[symbol].live:
                self._want_snapshot(symbol)

    def _on_disconnected(self, reason: str) -> None:
        if self.recorder is not None:
            self.recorder.disconnected(reason)
        now = time.monotonic()
        for symbol in self.symbols:
            self._lost_at.setdefault(symbol, now)
        self.router.reset()
        self._depth_books.clear()
        for task in self._snap_tasks.values():
            task.cancel()
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)
        self._snap_tasks.clear()

    # ---- staleness supervision
    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.supervise_every_s)
            try:
                await self._check_stale()
            except (KucoinError, aiohttp.ClientError, OSError) as exc:
                log.info("feed: staleness probe failed: %s", exc)

    async def _check_stale(self) -> None:
        if self.ws is None or self.ws.state is not ConnState.CONNECTED or self.book_source != "level2":
            return  # depth topics push only on change: silence there is a quiet book
        now = time.monotonic()
        for symbol in self.symbols:
            sync = self.router.syncs[symbol]
            last = self._last_activity(symbol)
            if not last or now - last < self.stale_after_s:
                continue
            level1 = await self.rest.request("GET", c.PATH_LEVEL1, params={"symbol": symbol})
            theirs = int(level1["sequence"]) if level1.get("sequence") else None  # the book's sequence
            ours = sync.stats.last_sequence
            if self._last_activity(symbol) > last:
                continue  # a frame arrived while we asked: not silent after all
            if theirs is not None and ours is not None and theirs <= ours:
                self.counters.quiet_checks += 1  # the market is quiet, not the channel
                self._last_l2[symbol] = time.monotonic()
                continue
            self.counters.stale_recoveries += 1
            log.warning("feed: %s level-2 channel silent for %.1f s while the book moved on; resubscribing",
                        symbol, now - last)
            self._lost_at.setdefault(symbol, now)
            if self.recorder is not None:
                self.recorder.reset(symbol)
            sync.reset()
            self._last_l2[symbol] = time.monotonic()
            await self.ws.resubscribe(c.TOPIC_LEVEL2, [symbol])
            self._want_snapshot(symbol)  # buffering again; a quiet market may send nothing to trigger it

    # ---- reads (MarketFeed)
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def book(self, symbol: str, depth: int | None = None) -> BookSnapshot | None:
        if self.book_source != "level2":
            top = self._depth_books.get(symbol)
            return None if top is None else top.snapshot(depth, int(time.time() * 1000))
        sync = self.router.syncs.get(symbol)
        if sync is None or not sync.live:
            return None
        return sync.book.snapshot(depth, int(time.time() * 1000))

    def trades(self, symbol: str, limit: int = 100) -> Sequence[Trade]:
        rows = self._trades.get(symbol, ())
        return list(rows)[-limit:]

    def ticker(self, symbol: str) -> Ticker | None:
        return self._tickers.get(symbol)

    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        return list(self._candles.get((symbol, interval), ()))

    async def load_candles(self, symbol: str, interval: str) -> None:
        history = await self.rest.get_candles(symbol, interval)
        if self.recorder is not None:
            self.recorder.candles(symbol, interval, history)
        self._merge_history((symbol, interval), history)

    def _merge_history(self, key: tuple[str, str], history: Sequence[Candle]) -> None:
        """REST history under the live candles: a live candle wins where both have the same start."""
        merged = {cd.start_s: cd for cd in history}
        merged.update({cd.start_s: cd for cd in self._candles.get(key, [])})
        self._candles[key] = [merged[k] for k in sorted(merged)]

    def status(self) -> FeedStatus:
        syncs = self.router.syncs
        stats = [s.stats for s in syncs.values()]
        ws = self.ws
        now = time.monotonic()
        last = ws.stats.last_frame_monotonic if ws else None
        if ws is None or ws.state in (ConnState.IDLE, ConnState.CONNECTING):
            state = FeedState.CONNECTING
        elif ws.state in (ConnState.DISCONNECTED, ConnState.CLOSED):
            state = FeedState.DISCONNECTED
        elif self.book_source != "level2":
            state = FeedState.LIVE if len(self._depth_books) == len(self.symbols) else FeedState.SYNCING
        elif all(s.live for s in syncs.values()):
            state = FeedState.LIVE
        elif any(st.resyncs for st in stats):
            state = FeedState.RESYNCING
        else:
            state = FeedState.SYNCING
        if self.book_source != "level2":
            detail = f"books from {BOOK_SOURCES[self.book_source]}: top {self.book_source[5:]} levels only"
        else:
            detail = "" if self.full_book else "public level2_100 snapshots: depth beyond 100 levels may be partial"
        if self.recorder is not None:
            detail = "; ".join(x for x in (detail, self.recorder.status()) if x)
        return FeedStatus(
            state=state, messages=self.counters.frames, msgs_per_s=self._rate.per_s(),
            last_msg_age_s=None if last is None else now - last,
            gaps=sum(st.gaps for st in stats), resyncs=sum(st.resyncs for st in stats),
            reconnects=ws.stats.reconnects if ws else 0, bad_frames=self.counters.bad_frames + (
                ws.stats.bad_frames if ws else 0),
            latency_ms=self._latency(), detail=detail,
            per_symbol=({sym: ("live" if sym in self._depth_books else "syncing") for sym in self.symbols}
                        if self.book_source != "level2" else {sym: s.state.value for sym, s in syncs.items()}))


    def _latency(self) -> float | None:
        """Mean over the symbols of each one's latency EWMA (receive time - the frame's data.time)."""
        values = [lat for sync in self.router.syncs.values() if (lat := sync.latency_ms) is not None]
        return sum(values) / len(values) if values else None


class _Rate:
    """Messages per second over the last few seconds, cheap enough for the hot path."""

    __slots__ = ("_buckets", "_count", "_current")

    def __init__(self) -> None:
        self._buckets: deque[tuple[int, int]] = deque(maxlen=5)
        self._current = int(time.monotonic())
        self._count = 0

    def tick(self) -> None:
        self._roll(int(time.monotonic()))
        self._count += 1

    def _roll(self, now: int) -> None:
        if now != self._current:
            self._buckets.append((self._current, self._count))
            self._current, self._count = now, 0

    def per_s(self) -> float:
        now = int(time.monotonic())
        self._roll(now)
        full = [n for sec, n in self._buckets if now - sec <= 5]
        return sum(full) / len(full) if full else 0.0
