"""``ReplayMarketFeed``: the replay driver of ``KucoinMarketState``, the live feed's own core.

Frames go into ``KucoinMarketState.on_frame`` (the same decoding, level-2 sync, trades, tickers and
candles as live); each recorded snapshot is delivered at the point in the stream where the live feed
applied it; a recorded disconnect voids every book as it did live. So the replayed books go through
the states the live ones went through, level by level and sequence by sequence. Playback follows
the recorded clock scaled by ``speed`` (0: as fast as the loop allows). A damaged file is played up
to the damage and the status says where it is. Nothing here sends anything anywhere. Imports the
KuCoin client's core and ``domain``; never the simulator, the hub, the UI or the config.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from dashboard.aio import TaskOwner
from dashboard.domain.models import (
    Candle,
    FeedState,
    FeedStatus,
    Instrument,
)
from dashboard.kucoin.client.market_state import KucoinMarketState
from dashboard.kucoin.client.state_reads import StateReads

from .format import (
    DamagedRecording,
    RecordingError,
    candles_from_rows,
    decode,
    instrument_from_json,
    iter_lines,
    read_header,
)

log = logging.getLogger(__name__)
_REPLAY_ERRORS = (KeyError, TypeError, ValueError, AttributeError)  # a line the state cannot take


class ReplayMarketFeed(StateReads):
    """A ``MarketFeed`` that plays one recording once (``domain.interfaces.MarketFeed``)."""

    def __init__(self, path: str | Path, *, speed: float = 1.0, trades_kept: int = 500) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0 (0: as fast as possible)")
        self.path = Path(path)
        self.header = read_header(self.path)
        self.symbols = list(self.header["symbols"])
        self.state = KucoinMarketState(
            self.symbols, clock=time.monotonic, wall_clock=self._recorded_now,
            book_source=self.header.get("book_source", "level2"), trades_kept=trades_kept)
        self.speed = speed
        self.lines = 0
        self.bad_lines = 0
        self.finished = False
        self.error: str | None = None
        self.damage: DamagedRecording | None = None
        self._done = asyncio.Event()
        self._tasks = TaskOwner("replay")
        self._recorded_candles: dict[tuple[str, str], list[Candle]] = {}
        self._at_t: float | None = None  # recorded time of the newest event played
        self._last_event = 0.0  # time.monotonic() when it was played

    def _recorded_now(self) -> float:
        """The core's wall clock: the recorded time of the event being played (the machine's
        clock before the first), so a replay's books, trades and research columns carry the
        recording's times."""
        return time.time() if self._at_t is None else self._at_t

    # ---- lifecycle
    async def start(self) -> None:
        instruments = self._read_instruments()
        missing = [s for s in self.symbols if s not in instruments]
        if missing:
            raise RecordingError(
                f"{self.path.name} has no instrument rules for {', '.join(missing)}"
            )
        self.state.set_instruments(instruments.values())
        self._tasks.spawn(self._play(), name="replay")

    async def close(self) -> None:
        await self._tasks.close()

    def _read_instruments(self) -> dict[str, Instrument]:
        for line in iter_lines(self.path):
            kind, _, payload = decode(line)
            if kind == "I" and isinstance(payload, list):
                return {row["symbol"]: instrument_from_json(row) for row in payload}
            if kind == "F":
                break
        raise RecordingError(f"{self.path.name} has no instruments line before its first frame")

    async def wait_finished(self) -> None:
        """Until the last line was played (or the file could not be read further)."""
        await self._done.wait()

    # ---- playback
    async def _play(self) -> None:
        try:
            await self._play_lines()
        except DamagedRecording as exc:  # everything before the damage was played
            self.damage = exc
            self.error = (str(exc) if not exc.truncated else
                          "the file ends abruptly (the recorder was not closed); "
                          "everything before was played")
            log.warning("replay of %s stopped: %s", self.path, exc)  # and in status().problem
        except OSError as exc:  # a file gone
            self.error = str(exc)
            log.error("replay of %s stopped: %s", self.path, exc)
        finally:
            self.finished = True
            self._done.set()
        log.info("replay of %s finished: %d events, %d bad lines", self.path.name, self.lines,
                 self.bad_lines)

    async def _play_lines(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first_t: float | None = None
        for n, line in enumerate(iter_lines(self.path)):
            try:
                kind, t, payload = decode(line)
            except RecordingError as exc:
                self.bad_lines += 1
                log.warning("replay: line %d skipped: %s", n + 1, exc)
                continue
            first_t = t if first_t is None else first_t
            delay = t0 + (t - first_t) / self.speed - loop.time() if self.speed > 0 else 0.0
            if delay > 0.002:
                await asyncio.sleep(delay)
            elif n % 500 == 0:
                await asyncio.sleep(0)
            self._at_t = t  # before the dispatch: the core's clock (listeners, book ts) reads it
            try:
                self._dispatch(kind, payload)
            except _REPLAY_ERRORS as exc:
                self.bad_lines += 1
                log.warning("replay: line %d (%s) skipped: %s", n + 1, kind, exc)
                continue
            self.lines += 1
            self._last_event = time.monotonic()

    def _dispatch(self, kind: str, payload: object) -> None:
        if kind == "F":
            self.state.on_frame(str(payload))  # its snapshot requests are the recording's S lines
        elif kind == "S":
            snap = _mapping(payload)
            self.state.on_snapshot(snap["symbol"], snap["sequence"], snap["bids"], snap["asks"])
        elif kind == "D":
            self.state.on_disconnected()
        elif kind == "R":
            self.state.reset_symbol(_mapping(payload)["symbol"])
        elif kind == "C":
            row = _mapping(payload)
            history = candles_from_rows(row["symbol"], row["interval"], row["rows"])
            self._recorded_candles[(row["symbol"], row["interval"])] = history
            if self.state.has_candles(row["symbol"], row["interval"]):  # the chart asked already
                self.state.on_candle_history(row["symbol"], row["interval"], history)

    # ---- reads (MarketFeed): StateReads
    async def load_candles(self, symbol: str, interval: str) -> None:
        """The recorded history (as ``load_candles`` fetched it live), once it has been played."""
        self.state.on_candle_history(
            symbol, interval, self._recorded_candles.get((symbol, interval), [])
        )

    def status(self) -> FeedStatus:
        base = self.state.status()
        at = "" if self._at_t is None else datetime.fromtimestamp(self._at_t, UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
        speed = "as fast as possible" if self.speed == 0 else f"{self.speed:g}x"
        if self.error:
            detail = f"replay of {self.path.name} stopped at {at}: {self.error}"
        elif self.finished:
            detail = (
                f"replay of {self.path.name} finished at {at} (restart the server to play it again)"
            )
        else:
            detail = (
                f"replay of {self.path.name} ({speed}), at {at}"
                if at
                else f"replay of {self.path.name}"
            )
        if self.bad_lines:
            detail += f"; {self.bad_lines} unreadable lines skipped"
        state = base.state
        if self.damage is not None and state is not FeedState.LIVE:
            state = FeedState.DISCONNECTED  # nothing more will come: not "syncing" for ever
        return dataclasses.replace(
            base, state=state, detail=detail, latency_ms=None, reconnects=0,
            problem="" if self.damage is None else f"recording {self.damage}; replay stopped there",
            last_msg_age_s=None if not self._last_event else time.monotonic() - self._last_event)


def _mapping(payload: object) -> dict:
    if not isinstance(payload, dict):
        raise TypeError(f"expected a JSON object, got {type(payload).__name__}")
    return payload
