"""Decode raw ``/market/level2`` WebSocket frames (protocol.md §7.4) into small tuples, fast.

One real frame (cryptofeed capture, 2021)::

    {"data":{"sequenceStart":1613277183874,"symbol":"BCHSV-USDT","changes":{"asks":[],
     "bids":[["242.649","5","1613277183874"]]},"sequenceEnd":1613277183874},
     "subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}

Validation is structural and cheap: ints where KuCoin sends ints, three strings per change, the
change sequence all ASCII digits, price and size plain decimals. Imports no I/O library.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from dashboard.kucoin.common.errors import KucoinProtocolError
from dashboard.kucoin.protocol.spot import SUBJECT_L2UPDATE

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

SEQ_MAX = 2**63 - 1  # sequences are 64-bit signed on KuCoin's side and in our book

Change = list[str]  # [price, size, sequence], all strings (wire spelling)


class L2Update(NamedTuple):
    """One ``trade.l2update``: an inclusive engine-sequence range and its level changes."""

    symbol: str
    sequence_start: int
    sequence_end: int
    asks: list[Change]
    bids: list[Change]
    time_ms: int = 0


def _bad(reason: str) -> KucoinProtocolError:
    return KucoinProtocolError(f"malformed level2 frame: {reason}")


def _check_changes(changes: object) -> None:
    if type(changes) is not list:
        raise _bad("changes side is not a list")
    for ch in changes:
        if type(ch) is not list or len(ch) != 3:
            raise _bad(f"change is not [price, size, sequence]: {ch!r}")
        price, size, seq = ch
        if type(price) is not str or type(size) is not str or type(seq) is not str:
            raise _bad(f"change fields must be strings: {ch!r}")
        # One dot at most, ASCII digits only ("242.649", "0", "5"); the change sequence is digits.
        if not (price.isascii() and size.isascii() and seq.isascii() and seq.isdigit()
                and price.replace(".", "", 1).isdigit() and size.replace(".", "", 1).isdigit()):
            raise _bad(f"change is not numeric: {ch!r}")


def decode_l2(text: str | bytes) -> tuple[str, int, int, list[Change], list[Change], int] | None:
    """``decode_l2_fast`` plus a check of every change (three numeric strings): the validating
    decoder."""
    fields = decode_l2_fast(text)
    if fields is not None:
        _check_changes(fields[3])
        _check_changes(fields[4])
    return fields


def decode_l2_fast(
    text: str | bytes,
) -> tuple[str, int, int, list[Change], list[Change], int] | None:
    """``decode_l2`` for the hot path: checks the message envelope and sequence fields only.

    The individual changes are validated where they are used: ``L2BookSync`` applies them through
    ``OrderBook``, which refuses a malformed price or size, and turns that into a resync (one check
    per value instead of two -- benchmarks/l2_throughput.py measured the double check at ~28% of the
    per-message cost).
    """
    try:
        msg = _loads(text)
    except (_JSONDecodeError, TypeError):
        raise _bad("not JSON") from None
    if type(msg) is not dict:
        raise _bad("not a JSON object")
    if msg.get("subject") != SUBJECT_L2UPDATE:
        return None
    try:
        data = msg["data"]
        symbol = data["symbol"]
        start = data["sequenceStart"]
        end = data["sequenceEnd"]
        changes = data["changes"]
        asks = changes["asks"]
        bids = changes["bids"]
        time_ms = data.get("time", 0)
    except (KeyError, TypeError, AttributeError):
        raise _bad("missing data fields") from None
    if (type(symbol) is not str or type(start) is not int or type(end) is not int or start > end
            or type(asks) is not list or type(bids) is not list or type(time_ms) is not int):
        raise _bad("ill-typed symbol, sequences, changes or time")
    if start < 0 or end > SEQ_MAX:
        raise _bad(f"sequence out of range: {start}..{end}")
    return symbol, start, end, asks, bids, time_ms


def parse_l2_frame(text: str | bytes) -> L2Update | None:
    """Decode one raw frame: an ``L2Update`` for ``trade.l2update``, None for any other message.

    Raises ``KucoinProtocolError`` for a frame that is not JSON or breaks the §7.4 shape.
    """
    fields = decode_l2(text)
    return None if fields is None else L2Update._make(fields)
