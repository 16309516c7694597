"""Real KuCoin traffic (captures/index.md): rebuild the 9 cryptofeed-captured books and compare with
the peer.

The peer is cryptofeed 2.5.0's own KuCoin book logic on the same files, recorded in
fixtures/cryptofeed_peer/final_books.json (see fixtures/README-peer.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from dashboard.kucoin.client.book_sync import NEED_SNAPSHOT, L2Router
from dashboard.kucoin.client.parse_l2 import parse_l2_frame
from dashboard.kucoin.common.errors import KucoinProtocolError

from .conftest import FIXTURES, SHARED

CAPTURES = SHARED / "kucoin" / "captures"
CF = CAPTURES / "cryptofeed"
PEER = json.loads((FIXTURES / "cryptofeed_peer" / "final_books.json").read_text())
SYMBOLS = ["BCHSV-USDT", "SNX-BTC", "CAPP-BTC", "ANKR-BTC", "FET-BTC", "DAPPT-BTC", "NRG-BTC",
           "COV-BTC", "EQZ-BTC"]
# captures/index.md: increments per symbol and how many end after the snapshot's sequence
INCREMENTS = {"BCHSV-USDT": (2361, 2342), "SNX-BTC": (604, 600), "CAPP-BTC": (93, 92),
              "ANKR-BTC": (245, 243), "FET-BTC": (220, 218), "DAPPT-BTC": (170, 162),
              "NRG-BTC": (66, 60), "COV-BTC": (52, 48), "EQZ-BTC": (42, 40)}


def _snapshots() -> dict[str, tuple[float, dict]]:
    """KUCOIN.http.0.0 lines: ``URL -> <ts>: <body>``; symbol -> (ts, data)."""
    out = {}
    for line in (CF / "KUCOIN.http.0.0").read_text().splitlines():
        if not line.strip():
            continue
        url, rest = line.split(" -> ", 1)
        ts, body = rest.split(": ", 1)
        out[url.rsplit("symbol=", 1)[1]] = (float(ts), orjson.loads(body)["data"])
    return out


def _received_frames(path: Path) -> list[tuple[float, str]]:
    """KUCOIN.ws.* received lines ``<ts>: <json>`` (skipping connects and sent ``URL <- ...``
    frames)."""
    frames = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("wss"):
            continue
        ts, body = line.split(": ", 1)
        frames.append((float(ts), body))
    return frames


SNAPSHOTS = _snapshots()
FRAMES = _received_frames(CF / "KUCOIN.ws.1.0")


def _replay(deliver: str, path: str) -> tuple[L2Router, dict[str, int]]:
    """Feed every frame in file order; deliver each symbol's snapshot once it was asked for, either
    right away ("asked") or at its recorded time ("recorded": the first frame received after the
    REST answer).

    ``path``: "parsed" feeds ``parse_l2_frame`` results to ``on_update``; "compiled" and "python"
    feed the raw text to ``apply_frame`` with and without the compiled hot path."""
    router = L2Router(native=path == "compiled")
    wanted: set[str] = set()
    crossed_after_apply: dict[str, int] = dict.fromkeys(SYMBOLS, 0)
    for ts, text in FRAMES:
        upd = parse_l2_frame(text)
        if upd is None:
            continue
        action = router.on_update(upd) if path == "parsed" else router.apply_frame(text)
        if action is not None:
            assert action.kind == NEED_SNAPSHOT and action.reason == "initial", action
            wanted.add(action.symbol)
        for sym in list(wanted):
            snap_ts, snap = SNAPSHOTS[sym]
            if deliver == "asked" or ts >= snap_ts:
                assert router.on_snapshot(sym, snap["sequence"], snap["bids"], snap["asks"]) is None
                wanted.discard(sym)
        sync = router[upd.symbol]
        if sync.live and sync.book.crossed():
            crossed_after_apply[upd.symbol] += 1
    assert not wanted
    return router, crossed_after_apply


_REPLAYS = [(d, p) for d in ("asked", "recorded") for p in ("parsed", "compiled", "python")]


@pytest.fixture(scope="module", params=_REPLAYS,
                ids=lambda p: (f"snapshot-{'on-first' if p[0] == 'asked' else 'at-recorded-time'}"
                               f"-{p[1]}"))
def replay(request):
    return _replay(*request.param)


def test_capture_shape():
    """The vendored capture is what captures/index.md describes: 9 snapshots, 3853 level2
    increments."""
    assert sorted(SNAPSHOTS) == sorted(SYMBOLS)
    assert sum(parse_l2_frame(text) is not None for _, text in FRAMES) == 3853


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_rebuilds_every_book(replay, symbol):
    """Each book goes live from its snapshot, applies exactly the increments past it, never
    crosses."""
    router, crossed = replay
    sync = router[symbol]
    total, after = INCREMENTS[symbol]
    stats = sync.stats
    assert sync.live and stats.gaps == 0 and stats.resyncs == 0 and stats.crossed == 0
    assert stats.snapshots == 1
    assert stats.messages == total and stats.applied == after
    assert stats.stale_skipped == total - after
    assert crossed[symbol] == 0 and not sync.book.crossed()


def test_price_zero_bumps_skipped(replay):
    """1355 of the increments are ["0","0",seq] bumps: skipped (counted) and never a level at price
    0."""
    router, _ = replay
    assert sum(router[s].stats.price0_skipped for s in SYMBOLS) > 0
    for sym in SYMBOLS:
        bids, asks = router[sym].book.levels()
        assert Decimal(0) not in bids and Decimal(0) not in asks


def test_bchsv_final_top_of_book(replay):
    """captures/index.md: BCHSV-USDT ends at 243.216 / 243.457, sequence 1613277186234."""
    router, _ = replay
    book = router["BCHSV-USDT"].book
    assert book.sequence == 1613277186234
    assert book.best_bid()[0] == Decimal("243.216") and book.best_ask()[0] == Decimal("243.457")


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_equal_to_cryptofeed_peer(replay, symbol):
    """Level-by-level equality with cryptofeed's own book on identical data, same final sequence."""
    router, _ = replay
    book = router[symbol].book
    peer = PEER["books"][symbol]
    bids, asks = book.levels()
    assert book.sequence == peer["sequence"]
    assert bids == {Decimal(p): Decimal(s) for p, s in peer["bids"]}
    assert asks == {Decimal(p): Decimal(s) for p, s in peer["asks"]}
    assert book.depth(5) == ([(Decimal(p), Decimal(s)) for p, s in peer["bids"][:5]],
                             [(Decimal(p), Decimal(s)) for p, s in peer["asks"][:5]])


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_peer_count_difference_is_the_known_rule(replay, symbol):
    """cryptofeed applies the message that starts exactly at the snapshot sequence (we skip its
    already-applied change per change) and skips those starting below it: its increment count is
    ours + those starting at S."""
    router, _ = replay
    snap_seq = int(SNAPSHOTS[symbol][1]["sequence"])
    starts_at_s = sum(1 for _, text in FRAMES if (u := parse_l2_frame(text)) is not None
                      and u.symbol == symbol and u.sequence_start == snap_seq)
    peer_increments = PEER["l2_callbacks_per_symbol"][symbol] - 1  # minus the snapshot callback
    assert peer_increments == router[symbol].stats.applied + starts_at_s


def test_peer_recorded_with_cryptofeed():
    """The peer file comes from cryptofeed's playback with its documented 3823 L2 callbacks."""
    assert PEER["cryptofeed_version"] == "2.5.0"
    assert PEER["playback"]["callbacks"]["l2_book"] == 3823


# -- tardis-node sample: price-0 bumps and an edited sequenceStart > sequenceEnd -------------------

TARDIS = json.loads((CAPTURES / "tardis-node" / "kucoin_mapper_test_messages.json").read_text())
TARDIS_L2 = [m for m in TARDIS if m.get("subject") == "trade.l2update"]


def test_tardis_messages_parse():
    """Every tardis level2 message parses, except the hand-edited one with sequenceStart >
    sequenceEnd."""
    good, bad = 0, 0
    for msg in TARDIS:
        text = json.dumps(msg)
        data = msg.get("data", {})
        if msg.get("subject") == "trade.l2update" and data["sequenceStart"] > data["sequenceEnd"]:
            with pytest.raises(KucoinProtocolError):
                parse_l2_frame(text)
            bad += 1
            continue
        upd = parse_l2_frame(text)
        good += upd is not None
    assert (good, bad) == (len(TARDIS_L2) - 1, 1)


def test_tardis_price_zero_bumps_advance_sequence():
    """The tardis bump messages ["0","0",seq] advance a live book's sequence without touching any
    level."""
    bumps = [m for m in TARDIS_L2
             if all(c[0] == "0"
                    for c in m["data"]["changes"]["asks"] + m["data"]["changes"]["bids"])
             and m["data"]["sequenceStart"] <= m["data"]["sequenceEnd"]]
    assert bumps
    for msg in bumps:
        upd = parse_l2_frame(json.dumps(msg))
        router = L2Router()
        router.on_update(upd)
        router.on_snapshot(upd.symbol, str(upd.sequence_start - 1), [["1", "1"]], [["2", "1"]])
        sync = router[upd.symbol]
        assert sync.live and sync.book.sequence == upd.sequence_end
        # tardis hand-edited some change sequences below sequenceStart (outside the protocol's
        # [start, end]); a contiguous message skips the per-change filter, so those are counted as
        # price-0 bumps instead -- either way no level is touched.
        assert 1 <= sync.stats.price0_skipped <= len(upd.asks + upd.bids)
        assert sync.book.levels() == ({Decimal(1): Decimal(1)}, {Decimal(2): Decimal(1)})
