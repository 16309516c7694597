"""The venue of a run mode, built in one place: the embedded simulator (``sim``), api.kucoin.com
(``live``) or a recording (``replay``), as the feed that reads it plus what the feed stands on
(the simulator, the HTTP session, the REST client, the recorder).

Two composition roots use it: ``app.py`` (the served dashboard, which adds the account and the
hub) and ``dashboard.research.api`` (``open_market`` for notebooks and scripts, which adds the
research collector). Constructing a venue does no I/O beyond binding the simulator's socket;
``start()`` starts the simulator, the owner starts the feed. Imports ``config``, ``kucoin``,
``simulator`` and ``recording``; never the hub, the research package, the UI or Panel.
"""

from __future__ import annotations

import atexit
import dataclasses
from dataclasses import dataclass

import aiohttp

from dashboard.config import Settings
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.protocol.signing import Credentials
from dashboard.recording.recorder import Recorder
from dashboard.recording.replay import ReplayMarketFeed
from dashboard.simulator.server import SimConfig, Simulator

__all__ = ["Venue", "build_venue"]


@dataclass(slots=True)
class Venue:
    """A run mode's feed and what it stands on. ``settings`` are the effective ones (a replay's
    symbols are the recording's and it has no credentials); ``credentials`` are the simulator's
    demo key in sim mode, the environment's live, None in a replay."""

    settings: Settings
    feed: KucoinMarketFeed | ReplayMarketFeed
    sim: Simulator | None = None
    session: aiohttp.ClientSession | None = None
    rest: KucoinRestClient | None = None
    recorder: Recorder | None = None
    credentials: Credentials | None = None

    async def start(self) -> None:
        """Start the simulator (sim mode); the feed is started by its owner (hub or collector)."""
        if self.sim is not None:
            await self.sim.start()

    async def close(self) -> None:
        """Close the feed, the session, the simulator and the recorder (each at most once)."""
        await self.feed.close()
        if self.session is not None and not self.session.closed:
            await self.session.close()
        if self.sim is not None:
            await self.sim.stop()
        if self.recorder is not None:
            self.recorder.close()


def build_venue(settings: Settings, *, candle_intervals: tuple[str, ...] = ("1min",)) -> Venue:
    """The venue ``settings.mode`` names. Must run inside an event loop (the HTTP session binds
    to it). A replay raises ``RecordingError`` (a ValueError) or OSError for an unreadable file."""
    if settings.mode == "replay":
        return _replay(settings)
    return _exchange(settings, candle_intervals)


def _replay(settings: Settings) -> Venue:
    """A recording, through the feed's own code; its symbols are the ones followed; no orders."""
    feed = ReplayMarketFeed(settings.replay_path or "", speed=settings.replay_speed)
    effective = dataclasses.replace(settings, symbols=tuple(feed.symbols), credentials=None)
    return Venue(effective, feed)


def _exchange(settings: Settings, candle_intervals: tuple[str, ...]) -> Venue:
    """The simulator (sim mode) or api.kucoin.com (live), the same client either way."""
    creds, rest_url, sim = settings.credentials, settings.rest_url, None
    if settings.mode == "sim":
        sim = Simulator(SimConfig(port=0, rate_per_s=settings.sim_rate_per_s,
                                  seed=settings.sim_seed))
        rest_url, creds = sim.bind(), sim.demo
    recorder = None
    if settings.record_path:
        recorder = Recorder(settings.record_path, source=rest_url, symbols=settings.symbols,
                            book_source=settings.book_source)
        atexit.register(recorder.close)  # a .gz needs its trailer; buffered lines need writing
    session = aiohttp.ClientSession()
    rest = KucoinRestClient(rest_url, creds, session=session)
    feed = KucoinMarketFeed(rest, settings.symbols, session=session,
                            candle_intervals=candle_intervals, book_source=settings.book_source,
                            recorder=recorder)
    return Venue(settings, feed, sim=sim, session=session, rest=rest, recorder=recorder,
                 credentials=creds)
