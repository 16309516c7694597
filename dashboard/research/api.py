"""The research API for notebooks and scripts: ``m = await open_market()``, ``await
m.collect(seconds=N)``, then the market as pandas DataFrames and a HoloViews heatmap.

    m = await open_market()                  # the embedded simulator on 127.0.0.1 (no account)
    m = await open_market("live")            # api.kucoin.com public data, no key
    m = await open_market("btc.rec.gz")      # a recording, replayed as fast as possible
    await m.collect(seconds=60)              # a recording: collect() plays it to the end
    m.trades_df("BTC-USDT"); m.top_of_book_df(...); m.book_df(..., levels=20); m.series_df(...)
    m.heatmap("BTC-USDT"); await m.close()   # or: async with await open_market() as m: ...

A facade, so it is a composition root like ``app.py``: the venue comes from ``dashboard.runtime``
(the one home for building the sim, live and replay feeds) and the data from the research
collector, the same one the dashboard runs beside its hub. Imports ``runtime``, ``config``, the
research cores and views; never the hub, the UI, Panel or Bokeh.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from pathlib import Path
from typing import cast

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the venv

from dashboard.config import Settings
from dashboard.domain.interfaces import MarketFeed
from dashboard.research import frames, views
from dashboard.research.collector import ResearchCollector
from dashboard.research.series import series_frame
from dashboard.runtime import Venue, build_venue

__all__ = ["Market", "open_market"]

DEFAULT_SYMBOLS = ("BTC-USDT", "ETH-USDT")
SOURCES = ("sim", "live")  # anything else is a recording's path
_END_NS = 2**63 - 1  # a window to the end of time: everything kept


async def open_market(source: str | os.PathLike[str] = "sim", *,
                      symbols: tuple[str, ...] | list[str] | None = None,
                      rate_per_s: float = 30.0, seed: int = 1, record: str | None = None,
                      book_source: str = "level2", column_s: float = 0.25, levels: int = 100,
                      capacity: int = 7200, interval_s: float = 1.0,
                      plotting: str | None = "hvplot", ready_timeout_s: float = 30.0) -> Market:
    """Open a market and start collecting. ``source``: "sim" (the embedded simulator, at
    ``rate_per_s`` order-flow actions per second from ``seed``), "live" (api.kucoin.com, public
    data) or a recording's path (its own symbols; ``symbols`` is then ignored). ``record`` also
    records a sim or live feed to that file. ``column_s``, ``levels`` and ``capacity`` shape the
    heatmap history, ``interval_s`` the series' rows. ``plotting="hvplot"`` sets pandas' plotting
    backend, so a DataFrame's ``.plot()`` draws with hvPlot (None: leave pandas alone). Waits
    until every book is live (sim, live) or the replay has started."""
    venue = build_venue(_settings(source, symbols, rate_per_s, seed, record, book_source))
    # both drivers are MarketFeeds; mypy reads their ``symbols: list[str]`` as not the protocol's
    feed = cast(MarketFeed, venue.feed)
    collector = ResearchCollector(feed, column_s=column_s, capacity=capacity,
                                  levels=levels, interval_s=interval_s)
    market = Market(venue, collector)
    if plotting == "hvplot":
        views.use_hvplot()
    try:
        await market.start(ready_timeout_s)
    except BaseException:
        await market.close()
        raise
    return market


def _settings(source: str | os.PathLike[str], symbols: tuple[str, ...] | list[str] | None,
              rate_per_s: float, seed: int, record: str | None, book_source: str) -> Settings:
    names = tuple(s.upper() for s in (symbols or DEFAULT_SYMBOLS))
    if isinstance(source, str) and source in SOURCES:
        return Settings(mode=source, symbols=names, sim_rate_per_s=rate_per_s, sim_seed=seed,
                        record_path=record, book_source=book_source)
    if record:
        raise ValueError("record= records a sim or live feed, not a replay")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no recording at {str(path)!r} (source: 'sim', 'live' or a path)")
    return Settings(mode="replay", replay_path=str(path), replay_speed=0.0)


class Market:
    """One venue's feed with a research collector; built by ``open_market``."""

    def __init__(self, venue: Venue, collector: ResearchCollector) -> None:
        self.venue = venue
        self.collector = collector
        self.mode = venue.settings.mode
        self._closed = False

    @property
    def feed(self):  # KucoinMarketFeed | ReplayMarketFeed
        return self.venue.feed

    @property
    def sim(self):  # the Simulator in sim mode, else None
        return self.venue.sim

    @property
    def symbols(self) -> list[str]:
        return list(self.venue.feed.symbols)

    # ---- lifecycle
    async def start(self, ready_timeout_s: float = 30.0) -> None:
        await self.venue.start()
        self.collector.attach()  # before the first snapshot: it sees every book from birth
        await self.venue.feed.start()
        await self.collector.start()
        if self.mode != "replay":
            await self._wait_live(ready_timeout_s)

    async def _wait_live(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while any(self.feed.book(s, 1) is None for s in self.symbols):
            if time.monotonic() > deadline:
                waiting = [s for s in self.symbols if self.feed.book(s, 1) is None]
                raise TimeoutError(f"books not live after {timeout_s:g} s: {', '.join(waiting)} "
                                   f"({self.feed.status().problem or self.feed.status().state})")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop collecting and close the feed, the session and the simulator (idempotent)."""
        if not self._closed:
            self._closed = True
            await self.collector.close()
            await self.venue.close()

    async def __aenter__(self) -> Market:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- collecting
    async def collect(self, seconds: float | None = None, *, progress: bool = True) -> pd.DataFrame:
        """Wait while the collector gathers: ``seconds`` of the market (sim, live), or a
        recording until it has been played (at most ``seconds`` when given). A progress bar
        shows in notebooks and terminals (``progress=False``: none). Returns ``summary()``."""
        if self.mode == "replay":
            await self._play_out(seconds, progress)
        else:
            if seconds is None or seconds < 0:
                raise ValueError("collect(seconds=N): how long to collect, in seconds")
            await self._wait(seconds, progress)
        return self.summary()

    async def _wait(self, seconds: float, progress: bool) -> None:
        bar = _bar(progress, total=round(seconds, 1), unit="s", desc="collecting")
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            await asyncio.sleep(min(0.25, seconds - elapsed))
            if bar is not None:  # update() honours mininterval: a saved notebook stays short
                bar.update(round(min(time.monotonic() - start, seconds), 1) - bar.n)
        if bar is not None:
            bar.close()

    async def _play_out(self, seconds: float | None, progress: bool) -> None:
        bar = _bar(progress, total=None, unit=" lines", desc=f"replaying {self.feed.path.name}")
        done = asyncio.ensure_future(self.feed.wait_finished())
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while not done.done() and (deadline is None or time.monotonic() < deadline):
                await asyncio.wait([done], timeout=0.25)
                if bar is not None:
                    bar.update(self.feed.lines - bar.n)
        finally:
            done.cancel()
            if bar is not None:
                bar.close()

    def summary(self) -> pd.DataFrame:
        """Per symbol: top-of-book changes, trades, series rows and heatmap columns kept."""
        rows = []
        for symbol in self.symbols:
            track = self.collector.track(symbol)
            history = track.history
            rows.append({"symbol": symbol, "top_changes": len(track.tops),
                         "trades": len(track.trades), "series_rows": len(track.series.rows),
                         "heatmap_columns": 0 if history is None else len(history.columns(0))})
        return pd.DataFrame(rows).set_index("symbol")

    # ---- DataFrames
    def trades_df(self, symbol: str) -> pd.DataFrame:
        """Every trade collected: ts, price, size, side (taker), trade_id, exact strings."""
        return frames.trades_frame(self.collector.track(self._known(symbol)).trades)

    def top_of_book_df(self, symbol: str) -> pd.DataFrame:
        """Every change of best bid/ask price or size: ts, best_bid, bid_size, best_ask,
        ask_size, exact strings."""
        return frames.top_of_book_frame(self.collector.track(self._known(symbol)).tops)

    def book_df(self, symbol: str, levels: int | None = 20) -> pd.DataFrame:
        """The book now: side, level, price, size (``levels`` per side; None: all of them)."""
        return frames.book_frame(self.feed.book(self._known(symbol), levels), levels)

    def series_df(self, symbol: str) -> pd.DataFrame:
        """The microstructure series, one row per interval, indexed by ``ts`` (UTC)."""
        return series_frame(self.collector.track(self._known(symbol)).series.rows)

    def history_df(self, symbol: str) -> pd.DataFrame:
        """The heatmap's cells in long form: ts, price (bucket), size, buy/sell volume."""
        history = self.collector.history(self._known(symbol))
        if history is None:
            return pd.DataFrame(columns=["ts", "price", "size", "buy_volume", "sell_volume"])
        return history.window(0, _END_NS).to_frame()

    def heatmap(self, symbol: str, *, log: bool = False, max_columns: int = 1200,
                width: int = 900, height: int = 420):  # hv.Overlay
        """The liquidity heatmap of everything collected (``views.heatmap``)."""
        symbol = self._known(symbol)
        history = self.collector.history(symbol)
        cols = None if history is None else history.window(0, _END_NS)
        periods = () if history is None else history.periods()
        return views.heatmap(cols, self.trades_df(symbol), periods,
                             column_ns=self.collector.column_ns,
                             title=symbol, log=log, max_columns=max_columns, width=width,
                             height=height)

    def _known(self, symbol: str) -> str:
        name = symbol.upper()
        if name not in self.symbols:
            raise KeyError(f"{symbol!r} is not collected here; symbols: {', '.join(self.symbols)}")
        return name


def _bar(progress: bool, **kwargs: object):  # a tqdm bar or None
    """tqdm's notebook bar when ipywidgets is there, its text bar otherwise (tqdm.auto would
    warn about the missing widgets on every import)."""
    if not progress:
        return None
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]  # no stubs in the venv
    else:
        from tqdm.std import tqdm  # type: ignore[import-untyped]
    return tqdm(**kwargs, leave=True, mininterval=2.0)  # a saved notebook keeps few lines
