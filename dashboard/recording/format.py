"""The recording file: one event per line, ``KIND<TAB>TIME<TAB>PAYLOAD``, maybe gzip-compressed.

TIME is the wall clock (``time.time()``, seconds) when the event happened. KIND and PAYLOAD:

    H  header: JSON {"format": "kucoin-dashboard-recording", "version": 1, "source": URL,
       "symbols": [...],
       "book_source": "level2"|"depth50"|"depth5", "created": ISO time}; always the first line
    I  instruments: JSON list of Instrument fields (decimals as strings)
    F  a raw WebSocket text frame, verbatim (KuCoin never puts a newline in a frame; one that
       has one is a J)
    J  a raw frame as a JSON string (frames with a newline or tab)
    S  a level-2 snapshot as applied: JSON {"symbol", "sequence", "bids", "asks"} (KuCoin's strings)
    D  the WebSocket connection was lost (every book is void, protocol.md §8.3): JSON {"reason"}
    R  one symbol's book was reset for a resubscription (silent channel): JSON {"symbol"}
    C  candle history from REST: JSON {"symbol", "interval",
       "rows": [[start_s, o, h, l, c, v, turnover]]}

Imports nothing above ``domain``.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from dashboard.domain.models import Candle, Instrument

FORMAT = "kucoin-dashboard-recording"
VERSION = 1
KINDS = frozenset("HIFJSDRC")


class RecordingError(ValueError):
    """A file that is not a recording this version can replay; the message says why."""


class DamagedRecording(RecordingError):
    """The file cannot be read past ``line`` (the last whole line read, 0: none) because its bytes
    are damaged near ``offset`` (in the file as stored; a compressed file is read ahead in blocks,
    so the damage lies at or shortly before it). ``truncated``: it simply ends too early."""

    def __init__(
        self, path: str | Path, line: int, offset: int | None, cause: BaseException
    ) -> None:
        self.path, self.line, self.offset = Path(path), line, offset
        self.truncated = isinstance(cause, EOFError)
        where = f"after line {line}" + ("" if offset is None else f", near byte {offset:,}")
        if self.truncated:
            what = "ends abruptly (the recorder was not closed)"
        else:
            what = f"is damaged ({_DAMAGE_WORDS.get(type(cause), type(cause).__name__)}: {cause})"
        super().__init__(f"{self.path.name} {what} {where}")


# what reading a damaged file raises: gzip's CRC/header checks, zlib's inflate, a cut, bad UTF-8
_DAMAGE_ERRORS = (zlib.error, gzip.BadGzipFile, EOFError, UnicodeDecodeError)
_DAMAGE_WORDS = {zlib.error: "corrupt compressed data", gzip.BadGzipFile: "gzip check failed",
                 UnicodeDecodeError: "not UTF-8 text"}


def open_text(path: str | Path, mode: str) -> IO[str]:
    """A text file, gzip-compressed when the name ends in ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b"), encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")  # the caller closes it


def encode(kind: str, t: float, payload: object) -> str:
    """One line (with its newline). ``payload`` is the raw frame text for F, JSON-able otherwise."""
    if kind == "F":
        text = payload  # type: ignore[assignment]
        if "\n" in text or "\r" in text or "\t" in text:  # type: ignore[operator]
            return f"J\t{t:.6f}\t{orjson.dumps(text).decode()}\n"
        return f"F\t{t:.6f}\t{text}\n"
    return f"{kind}\t{t:.6f}\t{orjson.dumps(payload).decode()}\n"


def decode(line: str) -> tuple[str, float, object]:
    """(kind, time, payload) of one line; raises ``RecordingError`` for a malformed one."""
    kind, sep1, rest = line.partition("\t")
    t, sep2, payload = rest.partition("\t")
    if not (sep1 and sep2) or kind not in KINDS:
        raise RecordingError(f"not a recording line: {line[:80]!r}")
    try:
        when = float(t)
    except ValueError:
        raise RecordingError(f"bad time in line: {line[:80]!r}") from None
    payload = payload.rstrip("\n")
    if kind == "F":
        return "F", when, payload
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise RecordingError(f"bad JSON in a {kind} line: {line[:80]!r}") from None
    return ("F" if kind == "J" else kind), when, value


def read_header(path: str | Path) -> dict:
    """The header of a recording, checked; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"no recording at {str(path)!r}")
    try:
        with open_text(path, "r") as f:
            first = f.readline()
    except _DAMAGE_ERRORS as exc:
        raise DamagedRecording(path, 0, None, exc) from None
    except OSError as exc:
        raise RecordingError(f"cannot read {str(path)!r}: {exc}") from None
    if not first:
        raise RecordingError(f"{str(path)!r} is empty")
    kind, _, header = decode(first)
    if kind != "H" or not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{str(path)!r} is not a kucoin-dashboard recording (no header line)")
    if header.get("version") != VERSION:
        raise RecordingError(f"{str(path)!r} is recording format version {header.get('version')}; "
                             f"this version replays {VERSION}")
    if not isinstance(header.get("symbols"), list) or not header["symbols"]:
        raise RecordingError(f"{str(path)!r} names no symbols")
    return header


def iter_lines(path: str | Path) -> Iterator[str]:
    """Every line of the file; ``DamagedRecording`` where it cannot be read further."""
    path = Path(path)
    raw = open(path, "rb")  # noqa: SIM115 -- closed below, after the text layer over it
    text = (io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", newline="\n")
            if path.suffix == ".gz" else io.TextIOWrapper(raw, encoding="utf-8", newline="\n"))
    n = 0
    try:
        for line in text:
            n += 1
            yield line
    except _DAMAGE_ERRORS as exc:
        raise DamagedRecording(path, n, raw.tell(), exc) from None
    finally:
        text.close()  # and the gzip layer, which does not close a file it was handed:
        raw.close()


# ---- domain objects <-> JSON
def instrument_to_json(inst: Instrument) -> dict:
    return {
        f.name: (str(v) if isinstance(v := getattr(inst, f.name), Decimal) else v)
        for f in fields(inst)
    }


def instrument_from_json(row: dict) -> Instrument:
    kwargs: dict[str, Any] = {}
    for f in fields(Instrument):
        value = row[f.name]
        kwargs[f.name] = Decimal(value) if f.type in ("Decimal", Decimal) else value
    return Instrument(**kwargs)


def candle_rows(candles: list[Candle]) -> list[list]:
    return [
        [
            c.start_s,
            str(c.open),
            str(c.high),
            str(c.low),
            str(c.close),
            str(c.volume),
            str(c.turnover),
        ]
        for c in candles
    ]


def candles_from_rows(symbol: str, interval: str, rows: list[list]) -> list[Candle]:
    return [Candle(symbol, interval, int(r[0]), *(Decimal(x) for x in r[1:7])) for r in rows]
