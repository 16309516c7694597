"""``Recorder``: what a feed receives, to one file (format.py), never getting in the feed's way.

A write that fails (disk full, file gone) stops the recording -- once, logged, and visible in
``status()`` -- and the live feed goes on. Writes are buffered; ``flush()`` runs at most every
``flush_every_s`` (and at ``close()``), so a crash loses at most that much of the recording.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from dashboard.domain.models import Candle, Instrument

from .format import FORMAT, VERSION, candle_rows, encode, instrument_to_json, open_text

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, path: str | Path, *, source: str, symbols: Sequence[str],
                 book_source: str = "level2", flush_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self.flush_every_s = flush_every_s
        self.lines = 0
        self.frames = 0
        self.error: str | None = None
        self._next_flush = 0.0
        try:
            self._f: IO[str] | None = open_text(self.path, "w")
        except OSError as exc:
            raise OSError(f"cannot record to {str(self.path)!r}: {exc.strerror or exc}") from None
        self._write("H", {"format": FORMAT, "version": VERSION, "source": source,
                          "symbols": list(symbols), "book_source": book_source,
                          "created": datetime.now(UTC).isoformat()})

    # ---- events
    def frame(self, text: str) -> None:
        self.frames += 1
        self._write("F", text)

    def snapshot(self, symbol: str, sequence: int | str, bids: list, asks: list) -> None:
        self._write("S", {"symbol": symbol, "sequence": int(sequence), "bids": bids, "asks": asks})

    def instruments(self, instruments: Iterable[Instrument]) -> None:
        self._write("I", [instrument_to_json(i) for i in instruments])

    def disconnected(self, reason: str) -> None:
        self._write("D", {"reason": reason})

    def reset(self, symbol: str) -> None:
        self._write("R", {"symbol": symbol})

    def candles(self, symbol: str, interval: str, rows: list[Candle]) -> None:
        self._write("C", {"symbol": symbol, "interval": interval, "rows": candle_rows(rows)})

    # ---- state
    @property
    def recording(self) -> bool:
        return self._f is not None

    def status(self) -> str:
        if self.error:
            return f"recording to {self.path.name} stopped: {self.error}"
        return f"recording to {self.path.name}: {self.frames:,} frames"

    def close(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError as exc:
                self._fail(exc)

    # ---- internals
    def _write(self, kind: str, payload: object) -> None:
        f = self._f
        if f is None:
            return
        now = time.time()
        try:
            f.write(encode(kind, now, payload))
            if now >= self._next_flush:
                self._next_flush = now + self.flush_every_s
                f.flush()
        except (OSError, ValueError) as exc:
            self._fail(exc)
            return
        self.lines += 1

    def _fail(self, exc: Exception) -> None:
        self.error = getattr(exc, "strerror", None) or str(exc)
        log.error("recording to %s stopped after %d lines: %s (the live feed goes on)",
                  self.path, self.lines, self.error)
        f, self._f = self._f, None
        if f is not None:
            with contextlib.suppress(OSError, ValueError):
                f.close()
