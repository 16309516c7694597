"""``ReplayMarketFeed``: a recording played back through ``KucoinMarketFeed``'s own frame and book code.

Frames go into ``KucoinMarketFeed.on_frame`` (the same decoding, level-2 sync, trades, tickers and candles);
each recorded snapshot is delivered to the symbol's sync at the point in the stream where the live feed
applied it; a recorded disconnect voids every book as it did live. So the replayed books go through the
states the live ones went through, level by level and sequence by sequence. Playback follows the recorded
clock scaled by ``speed`` (0: as fast as the loop allows). Nothing here sends anything anywhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from dashboard.domain.models import FeedState, FeedStatus
from dashboard.kucoin.client.feed import KucoinMarketFeed

from .format import RecordingError, candles_from_rows, decode, instrument_from_json, iter_lines, read_header

log = logging.getLogger(__name__)


class ReplayMarketFeed(KucoinMarketFeed):
    """A ``MarketFeed`` that plays one recording once (``domain.interfaces.MarketFeed``)."""

    def __init__(self, path: str | Path, *, speed: float = 1.0, trades_kept: int = 500) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0 (0: as fast as possible)")
        self.path = Path(path)
        self.header = read_header(self.path)
        super().__init__(None, list(self.header["symbols"]), full_book=True, trades_kept=trades_kept,  # type: ignore[arg-type]
                         book_source=self.header.get("book_source", "level2"))
        self.speed = speed
        self.lines = 0
        self.bad_lines = 0
        self.finished = False
        self._done = asyncio.Event()
        self.error: str | None = None
        self._recorded_candles: dict[tuple[str, str], list] = {}
        self._first_t: float | None = None
        self._at_t: float | None = None  # recorded time of the newest event played
        self._last_event = 0.0  # time.monotonic() when it was played

    # ---- lifecycle
    async def start(self) -> None:
        self._instruments = self._read_instruments()
        missing = [s for s in self.symbols if s not in self._instruments]
        if missing:
            raise RecordingError(f"{self.path.name} has no instrument rules for {', '.join(missing)}")
        now = time.monotonic()
        for symbol in self.symbols:
            self._lost_at[symbol] = now
        self._running = True
        self._tasks.append(asyncio.create_task(self._play(), name="replay"))

    def _read_instruments(self) -> dict:
        for line in iter_lines(self.path):
            kind, _, payload = decode(line)
            if kind == "I":
                return {row["symbol"]: instrument_from_json(row) for row in payload}  # type: ignore[union-attr]
            if kind == "F":
                break
        raise RecordingError(f"{self.path.name} has no instruments line before its first frame")

    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            for n, line in enumerate(iter_lines(self.path)):
                try:
                    kind, t, payload = decode(line)
                except RecordingError as exc:
                    self.bad_lines += 1
                    log.warning("replay: line %d skipped: %s", n + 1, exc)
                    continue
                if self._first_t is None:
                    self._first_t = t
                if self.speed > 0:
                    delay = t0 + (t - self._first_t) / self.speed - loop.time()
                    if delay > 0.002:
                        await asyncio.sleep(delay)
                    elif n % 500 == 0:
                        await asyncio.sleep(0)
                elif n % 500 == 0:
                    await asyncio.sleep(0)
                try:
                    self._dispatch(kind, payload)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.bad_lines += 1
                    log.warning("replay: line %d (%s) skipped: %s", n + 1, kind, exc)
                    continue
                self.lines += 1
                self._at_t = t
                self._last_event = time.monotonic()
        except EOFError:  # a .gz whose writer never closed it: everything before the cut was played
            self.error = "the file ends abruptly (the recorder was not closed); everything before was played"
            log.error("replay of %s: %s", self.path, self.error)
        except (OSError, UnicodeDecodeError) as exc:  # a corrupt .gz, a file gone
            self.error = str(exc)
            log.error("replay of %s stopped: %s", self.path, exc)
        self.finished = True
        self._done.set()
        log.info("replay of %s finished: %d events, %d bad lines", self.path.name, self.lines, self.bad_lines)

    async def wait_finished(self) -> None:
        """Until the last line was played (or the file could not be read further)."""
        await self._done.wait()

    def _dispatch(self, kind: str, payload: object) -> None:
        if kind == "F":
            self.on_frame(payload)  # type: ignore[arg-type]
        elif kind == "S":
            snap: dict = payload  # type: ignore[assignment]
            sync = self.router.syncs.get(snap["symbol"])
            if sync is None:
                return
            self.counters.snapshots += 1
            sync.on_snapshot(snap["sequence"], snap["bids"], snap["asks"])
            if sync.live:
                self._lost_at.pop(snap["symbol"], None)
        elif kind == "D":
            self._on_disconnected(str(payload.get("reason", "")))  # type: ignore[union-attr]
        elif kind == "R":
            sync = self.router.syncs.get(payload["symbol"])  # type: ignore[index]
            if sync is not None:
                self._lost_at.setdefault(sync.symbol, time.monotonic())
                sync.reset()
        elif kind == "C":
            row: dict = payload  # type: ignore[assignment]
            key = (row["symbol"], row["interval"])
            history = candles_from_rows(row["symbol"], row["interval"], row["rows"])
            self._recorded_candles[key] = history
            if key in self._candles:  # the chart asked already: merge as load_candles would have
                self._merge_history(key, history)

    # ---- the parts of KucoinMarketFeed that would talk to the exchange
    def _want_snapshot(self, symbol: str) -> None:
        """Snapshots come from the recording, at the point where the live feed applied them."""

    async def load_candles(self, symbol: str, interval: str) -> None:
        self._candles.setdefault((symbol, interval), [])
        history = self._recorded_candles.get((symbol, interval))
        if history:
            self._merge_history((symbol, interval), history)

    def status(self) -> FeedStatus:
        base = super().status()
        syncs = self.router.syncs
        if self.book_source != "level2":
            state = FeedState.LIVE if len(self._depth_books) == len(self.symbols) else FeedState.SYNCING
        elif all(s.live for s in syncs.values()):
            state = FeedState.LIVE
        elif base.resyncs:
            state = FeedState.RESYNCING
        else:
            state = FeedState.SYNCING
        at = "" if self._at_t is None else datetime.fromtimestamp(self._at_t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        speed = "as fast as possible" if self.speed == 0 else f"{self.speed:g}x"
        if self.error:
            detail = f"replay of {self.path.name} stopped at {at}: {self.error}"
        elif self.finished:
            detail = f"replay of {self.path.name} finished at {at} (restart the server to play it again)"
        else:
            detail = f"replay of {self.path.name} ({speed}), at {at}" if at else f"replay of {self.path.name}"
        if self.bad_lines:
            detail += f"; {self.bad_lines} unreadable lines skipped"
        return dataclasses.replace(
            base, state=state, detail=detail, latency_ms=None, reconnects=0,
            last_msg_age_s=None if not self._last_event else time.monotonic() - self._last_event)
