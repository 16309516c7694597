"""``KucoinMarketFeed``: the live driver of ``KucoinMarketState`` (a ``domain`` ``MarketFeed``).

One public WebSocket carries ``/market/level2``, ``/market/match``, ``/market/ticker`` and
``/market/candles`` for the feed's symbols; every frame goes raw into the sans-I/O state. When it
asks for a snapshot, one owned task per symbol fetches it (retrying with backoff; full v3 book with
credentials, else ``level2_100`` and the status says the depth is partial). A reconnect voids every
book (§8.3). A supervisor notices a level-2 channel that went silent: it asks REST for the symbol's
sequence, and only when the exchange moved on without us is the channel resubscribed and the book
rebuilt, so a quiet market is not mistaken for a dead feed. What fails (an unreachable host, an
unknown symbol, a snapshot that keeps failing) is said in words in ``status().problem``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import aiohttp

from dashboard.aio import TaskOwner
from dashboard.domain.models import (
    Candle,
    FeedState,
    FeedStatus,
    Instrument,
)
from dashboard.kucoin.common.errors import KucoinError, KucoinTransportError
from dashboard.kucoin.common.retry import backoff
from dashboard.kucoin.common.ws import ConnState, KucoinWebSocket
from dashboard.kucoin.protocol import spot as c

from .market_state import BOOK_SOURCES, KucoinMarketState
from .rest import KucoinRestClient
from .state_reads import StateReads

log = logging.getLogger(__name__)

__all__ = ["BOOK_SOURCES", "FeedRecorder", "KucoinMarketFeed", "explain_failure"]


class FeedRecorder(Protocol):
    """Where a feed writes what it receives (``dashboard.recording.Recorder``); every call must be
    cheap and must never raise into the feed."""

    def frame(self, text: str) -> None: ...
    def snapshot(self, symbol: str, sequence: int | str, bids: list, asks: list) -> None: ...
    def instruments(self, instruments: Sequence[Instrument]) -> None: ...
    def disconnected(self, reason: str) -> None: ...
    def reset(self, symbol: str) -> None: ...
    def candles(self, symbol: str, interval: str, rows: list[Candle]) -> None: ...
    def status(self) -> str: ...


def explain_failure(exc: BaseException, host: str) -> str:
    """What went wrong with a call to ``host``, in words for the status line."""
    if isinstance(exc, KucoinTransportError):
        return f"cannot reach {exc.host or host} ({exc.reason or 'connection failed'})"
    if isinstance(exc, KucoinError):
        return f"{host} refused the call ({exc})"
    return f"unexpected failure talking to {host} ({type(exc).__name__}: {exc})"


class KucoinMarketFeed(StateReads):
    """Live books, trades, tickers and candles for a set of symbols. Constructing it does no I/O."""

    def __init__(self, rest: KucoinRestClient, symbols: Sequence[str], *,
                 session: aiohttp.ClientSession | None = None, full_book: bool | None = None,
                 trades_kept: int = 500, stale_after_s: float = 10.0,
                 supervise_every_s: float = 1.0, candle_intervals: Sequence[str] = (),
                 book_source: str = "level2", recorder: FeedRecorder | None = None,
                 retry_s: float = 5.0) -> None:
        self.state = KucoinMarketState(symbols, clock=time.monotonic, wall_clock=time.time,
                                       book_source=book_source, trades_kept=trades_kept)
        self.recorder = recorder
        self.rest = rest
        self.symbols = list(symbols)  # as asked for; ``state.symbols`` are the ones followed
        self._session = session
        self.full_book = rest.has_credentials if full_book is None else full_book
        self.stale_after_s = stale_after_s
        self.supervise_every_s = supervise_every_s
        self.retry_s = retry_s
        self.candle_intervals = list(candle_intervals)
        self._tasks = TaskOwner("kucoin-feed")
        self._snap_tasks: dict[str, asyncio.Task] = {}
        # what is wrong, by where: "symbols", a symbol's snapshot
        self._problems: dict[str, str] = {}
        self._running = False
        self.ws: KucoinWebSocket | None = None
        self._own_session = False

    @property
    def host(self) -> str:
        return self.rest.http.host

    # ---- lifecycle
    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        listed = await self._load_instruments()
        if self.recorder is not None:
            self.recorder.instruments(listed)
        unknown = self.state.set_instruments(listed)
        if unknown:
            log.warning("feed: %s does not list %s; following the others", self.host,
                        ", ".join(unknown))
        if not self.state.symbols:
            raise KucoinError(f"unknown symbols: {', '.join(unknown)}")
        self.ws = KucoinWebSocket(self._session, self.rest.post_bullet, private=False,
                                  on_frame=self.on_frame, on_connected=self._on_connected,
                                  on_disconnected=self._on_disconnected, name="kucoin-public")
        await self._subscribe(self.ws, self.state.symbols)
        self._running = True
        self.ws.start()
        self._tasks.spawn(self._supervise(), name="feed-supervisor")

    async def _load_instruments(self) -> list[Instrument]:
        """The exchange's symbol list, asked for every ``retry_s`` until it answers."""
        while True:
            try:
                instruments = await self.rest.get_symbols()
            except KucoinError as exc:
                self._problems["symbols"] = (f"{explain_failure(exc, self.host)}; "
                                             f"retrying every {self.retry_s:g} s")
                log.warning("feed: cannot load symbols yet (%s); retrying", exc)
                await asyncio.sleep(self.retry_s)
                continue
            self._problems.pop("symbols", None)
            return [i for i in instruments if i.symbol in self.symbols]

    async def _subscribe(self, ws: KucoinWebSocket, symbols: list[str]) -> None:
        await ws.subscribe(BOOK_SOURCES[self.state.book_source], symbols)
        await ws.subscribe(c.TOPIC_MATCH, symbols)
        await ws.subscribe(c.TOPIC_TICKER, symbols)
        if self.candle_intervals:
            await ws.subscribe(c.TOPIC_CANDLES,
                               [f"{s}_{i}" for s in symbols for i in self.candle_intervals])

    async def close(self) -> None:
        """Stop the socket first (no frame may start a task after this), then every task."""
        self._running = False
        if self.ws is not None:
            await self.ws.close()
        self._snap_tasks = {}
        await self._tasks.close()
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
        action = self.state.on_frame(text)
        if action is not None:
            self._want_snapshot(action.symbol)

    # ---- snapshots
    def _want_snapshot(self, symbol: str) -> None:
        if not self._running:  # not started (or closed): frames are counted, nothing is fetched
            return
        task = self._snap_tasks.get(symbol)
        if task is None or task.done():
            self._snap_tasks[symbol] = self._tasks.spawn(self._fetch_snapshot(symbol),
                                                         name=f"snapshot-{symbol}")

    async def _fetch_snapshot(self, symbol: str) -> None:
        delays = backoff(0.2, 5.0)
        sync = self.router.get(symbol)
        while not sync.live:
            try:
                seq, bids, asks = await self.rest.get_level2_snapshot(
                    symbol, None if self.full_book else 100)
            except Exception as exc:  # loop boundary: a dead task would leave the symbol waiting
                self._snapshot_failed(symbol, exc)
                await asyncio.sleep(next(delays))
                continue
            self._problems.pop(symbol, None)
            if self.recorder is not None:
                self.recorder.snapshot(symbol, seq, bids, asks)
            action = self.state.on_snapshot(symbol, seq, bids, asks)
            if action is not None and not sync.live:  # could not bridge the buffer: ask again
                await asyncio.sleep(next(delays))

    def _snapshot_failed(self, symbol: str, exc: Exception) -> None:
        self.state.on_snapshot_failed()
        self._problems[symbol] = (f"{symbol} book: {explain_failure(exc, self.host)}; "
                                  "retrying the snapshot")
        if isinstance(exc, KucoinError | aiohttp.ClientError | OSError):
            log.info("feed: snapshot for %s failed (%s); retrying", symbol, exc)
        else:
            log.exception("feed: unexpected failure fetching the %s snapshot; retrying", symbol)

    def _on_connected(self) -> None:
        """Every subscription is acked, so increments are buffering: snapshots can be asked for
        now, without waiting for a first increment that a quiet market may never send (§8.2)."""
        for symbol in self.state.on_subscribed():
            self._want_snapshot(symbol)

    def _on_disconnected(self, reason: str) -> None:
        if self.recorder is not None:
            self.recorder.disconnected(reason)
        self.state.on_disconnected()
        for task in self._snap_tasks.values():
            task.cancel()  # still owned by ``_tasks``, which awaits it on close
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
        if self.ws is None or self.ws.state is not ConnState.CONNECTED:
            return
        for symbol, since in self.state.silent(self.stale_after_s):
            level1 = await self.rest.request("GET", c.PATH_LEVEL1, params={"symbol": symbol})
            theirs = int(level1["sequence"]) if level1.get("sequence") else None
            if not self.state.judge_silence(symbol, since, theirs):
                continue
            log.warning("feed: %s level-2 channel silent for %.1f s while the book moved on; "
                        "resubscribing", symbol, time.monotonic() - since)
            if self.recorder is not None:
                self.recorder.reset(symbol)
            await self.ws.resubscribe(c.TOPIC_LEVEL2, [symbol])
            self._want_snapshot(symbol)  # buffering again; a quiet market may send nothing

    # ---- reads (MarketFeed): StateReads
    async def load_candles(self, symbol: str, interval: str) -> None:
        if symbol in self.state.unknown:
            return  # the exchange does not list it: there is no history to ask for
        history = await self.rest.get_candles(symbol, interval)
        if self.recorder is not None:
            self.recorder.candles(symbol, interval, history)
        self.state.on_candle_history(symbol, interval, history)

    def status(self) -> FeedStatus:
        base = self.state.status()
        ws = self.ws
        if ws is None or ws.state in (ConnState.IDLE, ConnState.CONNECTING):
            state = FeedState.CONNECTING
        elif ws.state in (ConnState.DISCONNECTED, ConnState.CLOSED):
            state = FeedState.DISCONNECTED
        else:
            state = base.state
        last = ws.stats.last_frame_monotonic if ws else None
        return dataclasses.replace(
            base, state=state, last_msg_age_s=None if last is None else time.monotonic() - last,
            reconnects=ws.stats.reconnects if ws else 0,
            bad_frames=base.bad_frames + (ws.stats.bad_frames if ws else 0),
            detail=self._detail(), problem=self._problem(ws))

    def _detail(self) -> str:
        if not self.state.level2:
            detail = (f"books from {BOOK_SOURCES[self.state.book_source]}: "
                      f"top {self.state.book_source[5:]} levels only")
        elif self.full_book:
            detail = ""
        else:
            detail = "public level2_100 snapshots: depth beyond 100 levels may be partial"
        if self.recorder is not None:
            detail = "; ".join(x for x in (detail, self.recorder.status()) if x)
        return detail

    def _problem(self, ws: KucoinWebSocket | None) -> str:
        """What is wrong and what is being retried, in words (empty when nothing is)."""
        problems = list(self._problems.values())
        if self.state.unknown:
            problems.append(f"{', '.join(self.state.unknown)}: not a symbol on {self.host} "
                            "(ignored; the others stream)")
        failure = ws.stats.last_failure if ws is not None else None
        if failure is not None and ws is not None and ws.state is not ConnState.CONNECTED:
            problems.append(f"WebSocket: {explain_failure(failure, self.host)}; reconnecting")
        return "; ".join(problems)
