"""MarketHub: one per server process, shared by every session.

Owns the feed (and the account, when there is one): starts them, ticks at the dashboard's rate,
and computes once per tick what every viewer needs -- depth arrays, ladders grouped by tick and
their rows, spread, imbalance, the recent tape -- as immutable ``MarketView`` snapshots
(``market_view.py``, re-exported here). Sessions read the newest view at their own rate; nothing
here is per-session. Beside it, when given one, the research collector keeps the book history and
the microstructure series (``dashboard.research.collector``); the hub starts and closes it with the
feed. Imports ``domain``, ``aio`` and ``research`` only (never ``kucoin``, ``simulator``,
``recording`` or ``config``), so it runs on any MarketFeed, real or fake.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboard.aio import cancel_and_wait
from dashboard.domain.interfaces import MarketFeed, OrderGatewayPort
from dashboard.domain.models import Candle, FeedState, FeedStatus, Trade
from dashboard.market_view import LadderRows, MarketView, make_view, with_status
from dashboard.research.collector import ResearchCollector

# The views' types live in market_view.py; the two the UI reads are re-exported as the hub's API
# (the bucket rule's home is domain/buckets.py, not the hub).
__all__ = ["BOOK_LEVELS", "TAPE_KEPT", "HubStats", "LadderRows", "MarketHub", "MarketView"]

log = logging.getLogger(__name__)

BOOK_LEVELS = 400  # per side kept in a view: the ladder at coarse grouping and the depth chart
TAPE_KEPT = 200


@dataclass(slots=True)
class HubStats:
    ticks: int = 0
    views_built: int = 0
    tick_ms_last: float = 0.0
    loop_lag_ms: float = 0.0
    loop_lag_ms_max: float = 0.0
    watchers: Counter = field(default_factory=Counter)


class MarketHub:
    """Shared market state for one process. ``await hub.start()`` once; ``hub.view(symbol)``
    any time."""

    def __init__(self, feed: MarketFeed, account: OrderGatewayPort | None = None, *,
                 tick_s: float = 0.1, mode: str = "sim", trading_enabled: bool = True,
                 research: ResearchCollector | None = None) -> None:
        self.feed = feed
        self.research = research  # book history and series, once per process (None: not kept)
        self.account = account
        self.tick_s = tick_s
        self.mode = mode
        self.trading_enabled = trading_enabled and account is not None
        self.stats = HubStats()
        self._views: dict[str, MarketView] = {}
        self._trades_total: dict[str, int] = {}
        self._last_trade: dict[str, Trade | None] = {}
        self._version = 0
        self._task: asyncio.Task | None = None
        self._candle_tasks: dict[tuple[str, str], asyncio.Task] = {}
        self._candle_versions: dict[tuple[str, str], int] = {}
        self.started = asyncio.Event()
        self.error: str = ""
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop the feed and account live on

    @property
    def symbols(self) -> Sequence[str]:
        return self.feed.symbols

    # ---- lifecycle
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            if self.research is not None:
                self.research.attach()  # before the first snapshot: it sees the book from birth
            await self.feed.start()
            if self.account is not None:
                await self.account.start()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("hub: start failed")
            raise
        self._task = asyncio.create_task(self._run(), name="market-hub")
        if self.research is not None:
            await self.research.start()
        self.started.set()

    async def close(self) -> None:
        tasks = ([self._task] if self._task else []) + list(self._candle_tasks.values())
        self._task = None
        await cancel_and_wait(tasks)
        if self.research is not None:
            await self.research.close()
        if self.account is not None:
            await self.account.close()
        await self.feed.close()

    async def call(self, coro):
        """Await ``coro`` on the hub's own loop. The feed and the account (their aiohttp session,
        timers and futures) belong to that loop; a UI callback that happens to run elsewhere must
        not drive them from another loop, where their awaits would never complete."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or loop.is_closed():
            return await coro
        log.warning("hub: a call arrived on another event loop; running it on the hub's loop")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    # ---- interest: views are built for watched symbols only
    def watch(self, symbol: str) -> None:
        self.stats.watchers[symbol] += 1
        self._build(symbol)

    def unwatch(self, symbol: str) -> None:
        self.stats.watchers[symbol] -= 1
        if self.stats.watchers[symbol] <= 0:
            del self.stats.watchers[symbol]

    # ---- ticking
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        expected = loop.time() + self.tick_s
        while True:
            await asyncio.sleep(max(0.0, expected - loop.time()))
            now = loop.time()
            lag = max(0.0, (now - expected) * 1000)
            self.stats.loop_lag_ms = lag
            self.stats.loop_lag_ms_max = max(self.stats.loop_lag_ms_max, lag)
            expected = max(expected + self.tick_s, now)
            t0 = time.perf_counter()
            try:
                for symbol in list(self.stats.watchers):
                    self._build(symbol)
            except Exception:
                log.exception("hub: tick failed")
            self.stats.ticks += 1
            self.stats.tick_ms_last = (time.perf_counter() - t0) * 1000

    def _build(self, symbol: str) -> None:
        feed = self.feed
        book = feed.book(symbol, BOOK_LEVELS)
        trades = tuple(feed.trades(symbol, TAPE_KEPT))
        status = feed.status()
        prev = self._views.get(symbol)
        last = trades[-1] if trades else None
        same_book = book is None or (prev is not None and prev.book is not None
                                     and prev.book.sequence == book.sequence)
        if prev is not None and prev.live == (book is not None) and same_book \
                and last is self._last_trade.get(symbol) and prev.status.state == status.state:
            # nothing moved: keep the view (sessions skip re-rendering on an unchanged version)
            self._views[symbol] = with_status(prev, status)
            return
        self._count_new_trades(symbol, trades)
        self._version += 1
        live = book is not None and status.state not in (FeedState.DISCONNECTED, FeedState.STALE)
        if book is None and prev is not None:
            book = prev.book  # keep showing the last good book, marked not live (stale)
        self._views[symbol] = make_view(symbol, self._version, live, book, trades,
                                        self._trades_total[symbol], feed.instruments().get(symbol),
                                        feed.ticker(symbol), status)
        self.stats.views_built += 1

    def _count_new_trades(self, symbol: str, trades: tuple[Trade, ...]) -> None:
        last = self._last_trade.get(symbol)
        total = self._trades_total.get(symbol, 0)
        if trades:
            if last is None:
                total += len(trades)
            else:
                new = 0
                for t in reversed(trades):
                    if t is last or t == last:
                        break
                    new += 1
                total += new
            self._last_trade[symbol] = trades[-1]
        self._trades_total[symbol] = total

    def status(self) -> FeedStatus:
        return self.feed.status()

    def view(self, symbol: str) -> MarketView | None:
        view = self._views.get(symbol)
        if view is None:
            self._build(symbol)
            view = self._views.get(symbol)
        return view

    # ---- candles (history from REST, then live)
    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        key = (symbol, interval)
        if key not in self._candle_tasks:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # called outside the event loop: serve what is there
                return self.feed.candles(symbol, interval)
            self._candle_tasks[key] = asyncio.create_task(self._load_candles(symbol, interval),
                                                          name=f"candles-{symbol}-{interval}")
        return self.feed.candles(symbol, interval)

    def candles_version(self, symbol: str, interval: str) -> int:
        """Bumped when history arrives, so a chart knows to replace rather than patch."""
        return self._candle_versions.get((symbol, interval), 0)

    async def _load_candles(self, symbol: str, interval: str) -> None:
        try:
            await self.feed.load_candles(symbol, interval)
        except Exception as exc:
            log.warning("hub: candle history for %s %s failed: %s", symbol, interval, exc)
            return
        key = (symbol, interval)
        self._candle_versions[key] = self._candle_versions.get(key, 0) + 1
