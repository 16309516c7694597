"""Composition root: ``panel serve app.py`` (sim by default), ``KUCOIN_MODE=live panel serve
app.py`` or ``panel serve app.py --args live``; ``KUCOIN_MODE=replay KUCOIN_REPLAY=file`` plays a
recording.

The only place that wires the simulator, the KuCoin client and the UI together. One runtime per
server process (kept in ``pn.state.cache``) is shared by every browser session.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Iterator, Mapping

import aiohttp
import panel as pn

from dashboard.config import Settings, SettingsError, settings_from_env
from dashboard.domain.models import Instrument
from dashboard.domain.risk import RiskLimits, mid_prices
from dashboard.hub import MarketHub
from dashboard.kucoin.client.account import KucoinAccount
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.recording.recorder import Recorder
from dashboard.recording.replay import ReplayMarketFeed
from dashboard.research.collector import ResearchCollector
from dashboard.runtime import Venue, build_venue
from dashboard.simulator.server import Simulator
from dashboard.ui import bokeh_patches, ws_batch
from dashboard.ui.app import create_app, error_page
from dashboard.ui.options import UiOptions

log = logging.getLogger("dashboard.app")
CACHE_KEY = "kucoin-dashboard-runtime"
# Per-message costs under load (README, "Internals the app relies on"), both idempotent and stock
# when unsupported: PATCH-DOC without Bokeh's O(models) reference set (ui/bokeh_patches.py), one
# socket write per message instead of one per fragment (ui/ws_batch.py). DASHBOARD_BOKEH_PATCH=0 /
# DASHBOARD_WS_BATCH=0 leave Bokeh / Panel stock (benchmarks/dashboard_load.py --configs).
if os.environ.get("DASHBOARD_BOKEH_PATCH", "1") != "0":
    bokeh_patches.install()
if os.environ.get("DASHBOARD_WS_BATCH", "1") != "0":
    ws_batch.install()


class _FeedInstruments(Mapping[str, Instrument]):
    """The feed's instruments as a live mapping (they arrive when the feed starts)."""

    def __init__(self, feed: KucoinMarketFeed) -> None:
        self._feed = feed

    def __getitem__(self, symbol: str) -> Instrument:
        return self._feed.instruments()[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._feed.instruments())

    def __len__(self) -> int:
        return len(self._feed.instruments())


class Runtime:
    """Everything one server process shares: the venue (``dashboard.runtime``: simulator in sim
    mode, HTTP session, feed), the account, the hub."""

    def __init__(self, settings: Settings) -> None:
        self.venue = venue = build_venue(settings)
        self.settings = venue.settings  # a replay's: the recording's symbols, no credentials
        self.sim: Simulator | None = venue.sim
        self.recorder: Recorder | None = venue.recorder
        self.session: aiohttp.ClientSession | None = venue.session
        self.feed: KucoinMarketFeed | ReplayMarketFeed = venue.feed
        self.account: KucoinAccount | None = None
        if settings.mode == "replay":  # its symbols are on screen; no orders
            self.hub = MarketHub(self.feed, None, mode="replay", trading_enabled=False,
                                 research=ResearchCollector(self.feed))
        else:
            self._build_trading(venue)
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(self._start(), name="dashboard-runtime")

    def _build_trading(self, venue: Venue) -> None:
        """The account (when there are credentials) and the hub over the venue's feed."""
        settings, feed = venue.settings, venue.feed
        assert isinstance(feed, KucoinMarketFeed) and venue.rest is not None  # not a replay
        self.rest = venue.rest
        if venue.credentials is not None and venue.session is not None:
            limits = RiskLimits(max_orders_per_minute=settings.max_orders_per_minute,
                                max_notional=settings.max_notional,
                                cap_currency=settings.cap_currency)
            self.account = KucoinAccount(self.rest, venue.session, _FeedInstruments(feed),
                                         symbols=settings.symbols, limits=limits,
                                         prices=mid_prices(feed))
        self.hub = MarketHub(feed, self.account, mode=settings.mode,
                             trading_enabled=settings.trading_enabled,
                             research=ResearchCollector(feed))

    async def _start(self) -> None:
        await self.venue.start()
        # Long-lived state (the simulator's candle history and books, the app's modules) leaves the
        # GC's scans, and full collections become rarer: at 25 sessions the worst loop stall fell
        # from ~460 ms to ~80 ms (benchmarks/dashboard_load.py --sessions 10,25).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        try:
            await self.hub.start()
        except Exception as exc:  # shown on every page by the hub's error text
            log.error("dashboard could not start: %s", exc)


def get_runtime(settings: Settings) -> Runtime:
    runtime = pn.state.cache.get(CACHE_KEY)
    if runtime is None:
        runtime = pn.state.cache[CACHE_KEY] = Runtime(settings)
    return runtime


def main() -> pn.viewable.Viewable:
    try:
        settings = settings_from_env(args=sys.argv[1:])
    except SettingsError as exc:  # every bad setting, named with what it accepts
        _log_once("settings", "dashboard cannot start, fix these settings:\n  %s",
                  "\n  ".join(exc.problems))
        return error_page("fix these settings and restart the server", exc.problems)
    try:
        runtime = get_runtime(settings)
    except (ValueError, OSError) as exc:  # RecordingError is a ValueError
        _log_once("runtime", "dashboard cannot start: %s", exc)
        return error_page(str(exc))
    return create_app(runtime.hub, ui_options(runtime.settings, runtime.feed.instruments()))


def ui_options(settings: Settings, known: Mapping[str, Instrument] | None = None) -> UiOptions:
    """What the page may know of the settings (no keys, URLs or directories). Once the exchange's
    symbols are ``known``, the ones it does not list go last, so a page never opens on a symbol
    that does not exist (the health row names it as unknown)."""
    replay = settings.replay_path if settings.mode == "replay" else None
    symbols = tuple(settings.symbols)
    if known:
        symbols = tuple(sorted(symbols, key=lambda s: s not in known))  # stable: order kept
    return UiOptions(symbols=symbols, mode=settings.mode,
                     trading_enabled=settings.trading_enabled, replay_name=replay or "")


def _log_once(key: str, message: str, *args: object) -> None:
    """Once per server process, not once per page load (app.py runs for every session)."""
    flag = f"{CACHE_KEY}-logged-{key}"
    if not pn.state.cache.get(flag):
        pn.state.cache[flag] = True
        log.error(message, *args)


main().servable(title="KuCoin Research Dashboard")
