"""Recording and replay (``dashboard/recording``): a live feed recorded against the simulator under
faults, then replayed through the same feed code, must end with the same books and the same
gap/resync history. Plus the file format, pacing, a recorder that loses its disk, and broken
recordings."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from dashboard.domain.models import FeedState
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.recording.format import RecordingError, decode, encode, read_header
from dashboard.recording.recorder import Recorder
from dashboard.recording.replay import ReplayMarketFeed
from dashboard.simulator.catalog import DEFAULT_SYMBOLS
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ("BTC-USDT", "ETH-USDT")


def _books(feed: KucoinMarketFeed) -> dict:
    out = {}
    for symbol, sync in feed.router.syncs.items():
        out[symbol] = (sync.live, sync.book.sequence, sync.book.levels(), sync.stats)
    return out


async def _record(path: Path, *, seconds: float, faults: dict | None = None,
                  disconnect: bool = False) -> dict:
    """Record a simulator market (optionally with faults and one forced disconnect); the live end
    state."""
    rules = tuple(r for r in DEFAULT_SYMBOLS if r.symbol in SYMBOLS)
    async with Simulator(SimConfig(port=0, rate_per_s=400, history=True, symbols=rules)) as sim, \
            aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, sim.demo, session=session, timeout_s=2.0)
        recorder = Recorder(path, source=sim.base_url, symbols=SYMBOLS)
        feed = KucoinMarketFeed(rest, SYMBOLS, session=session, candle_intervals=("1min",),
                                recorder=recorder)
        await feed.start()
        try:
            await feed.load_candles("BTC-USDT", "1min")
            await eventually(lambda: feed.status().state is FeedState.LIVE, 30.0)
            if faults:
                sim.faults.set(**faults)
            await asyncio.sleep(seconds / 2)
            if disconnect:
                sim.faults.set(disconnect_per_s=50.0)
                await eventually(lambda: feed.status().reconnects >= 1, 30.0)
                sim.faults.set(disconnect_per_s=0.0)
            await asyncio.sleep(seconds / 2)
            sim.faults.clear()
            await eventually(lambda: feed.status().state is FeedState.LIVE, 30.0)
            sim.flow.rate_per_s = 0
            try:
                await eventually(lambda: all((b := feed.book(s)) is not None
                                             and b.sequence == sim.exchange.sequence(s)
                                             for s in SYMBOLS), 30.0)
            except AssertionError as exc:  # say where each book stands, for a failure on CI
                books = {s: (b.sequence if (b := feed.book(s)) else None,
                             sim.exchange.sequence(s)) for s in SYMBOLS}
                raise AssertionError(f"{exc}; (feed, simulator) sequences: {books}; "
                                     f"status: {feed.status()}") from None
            status = feed.status()
            state = {"books": _books(feed), "gaps": status.gaps, "resyncs": status.resyncs,
                     "frames": feed.counters.frames, "snapshots": feed.counters.snapshots,
                     "trades": {s: [t.trade_id for t in feed.trades(s, 10**6)] for s in SYMBOLS},
                     "candles": feed.candles("BTC-USDT", "1min"), "reconnects": status.reconnects}
        finally:
            await feed.close()
            recorder.close()
    assert recorder.error is None
    return state


async def _replay(path: Path, speed: float = 0) -> ReplayMarketFeed:
    feed = ReplayMarketFeed(path, speed=speed)
    await feed.start()
    await asyncio.wait_for(feed.wait_finished(), 60)
    return feed


async def test_replay_reproduces_the_live_books_under_faults(tmp_path):
    """Drops, duplicates, reorders and a disconnect while recording: the replay ends with the
    recorded feed's exact books (every level, every sequence), the same gaps, resyncs, trades and
    candles."""
    path = tmp_path / "chaos.rec.gz"
    live = await _record(path, seconds=3.0,
                         faults={"l2_drop": 0.02, "l2_duplicate": 0.02, "l2_reorder": 0.02},
                         disconnect=True)
    assert live["gaps"] >= 1 and live["reconnects"] >= 1  # the faults really happened
    replay = await _replay(path)
    try:
        status = replay.status()
        assert replay.bad_lines == 0 and replay.error is None
        assert _books(replay) == live["books"]
        assert all(book[0] for book in live["books"].values())
        with gzip.open(path, "rt") as f:
            assert sum(line.startswith("D\t") for line in f) >= 1
        assert (status.gaps, status.resyncs) == (live["gaps"], live["resyncs"])
        assert replay.counters.frames == live["frames"]
        assert replay.counters.snapshots == live["snapshots"]
        assert {s: [t.trade_id for t in replay.trades(s, 10**6)] for s in SYMBOLS} == live["trades"]
        await replay.load_candles("BTC-USDT", "1min")
        assert replay.candles("BTC-USDT", "1min") == live["candles"]
        assert status.state is FeedState.LIVE and "finished" in status.detail
        assert set(replay.instruments()) == set(SYMBOLS)
        assert replay.instruments()["BTC-USDT"].price_increment == Decimal("0.1")
    finally:
        await replay.close()


def _tiny_recording(path: Path, span_s: float, frames: int = 11) -> None:
    """A hand-made recording: one symbol, a snapshot, then ``frames`` increments spread over
    ``span_s``."""
    t0 = 1_700_000_000.0
    inst = {"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "price_increment": "0.1",
            "base_increment": "0.00000001", "quote_increment": "0.000001",
            "base_min_size": "0.00001", "base_max_size": "10000", "quote_min_size": "0.1",
            "quote_max_size": "99999999", "min_funds": "0.1", "enable_trading": True}
    lines = [encode("H", t0, {"format": "kucoin-dashboard-recording", "version": 1,
                              "source": "test", "symbols": ["BTC-USDT"], "book_source": "level2"}),
             encode("I", t0, [inst]),
             encode("S", t0, {"symbol": "BTC-USDT", "sequence": 100, "bids": [["99", "1"]],
                              "asks": [["101", "1"]]})]
    for i in range(frames):
        seq = 101 + i
        frame = {"type": "message", "topic": "/market/level2:BTC-USDT", "subject": "trade.l2update",
                 "data": {"symbol": "BTC-USDT", "sequenceStart": seq, "sequenceEnd": seq, "time": 1,
                          "changes": {"asks": [], "bids": [["99", str(i + 2), str(seq)]]}}}
        lines.append(encode("F", t0 + span_s * i / max(1, frames - 1), json.dumps(frame)))
    path.write_text("".join(lines))


async def test_playback_follows_the_recorded_clock(tmp_path):
    path = tmp_path / "tiny.rec"
    _tiny_recording(path, span_s=1.0)
    started = time.monotonic()
    feed = await _replay(path, speed=1.0)
    paced = time.monotonic() - started
    await feed.close()
    started = time.monotonic()
    fast = await _replay(path, speed=0)
    unpaced = time.monotonic() - started
    await fast.close()
    assert paced >= 0.9  # one recorded second at 1x
    assert unpaced < paced
    assert fast.router["BTC-USDT"].book.levels()[0] == {Decimal(99): Decimal(12)}


def test_a_recorder_that_loses_its_disk_stops_and_says_so_and_the_feed_goes_on():
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available on this machine")
    recorder = Recorder("/dev/full", source="test", symbols=["BTC-USDT"], flush_every_s=0.0)
    feed = KucoinMarketFeed(KucoinRestClient("http://127.0.0.1:9"), ["BTC-USDT"], recorder=recorder)
    for _ in range(3):
        feed.on_frame('{"type":"message","topic":"/market/ticker:BTC-USDT",'
                      '"subject":"trade.ticker","data":{}}')
    assert feed.counters.frames == 3
    assert recorder.error and not recorder.recording
    assert "No space left on device" in feed.status().detail and "stopped" in feed.status().detail


def test_format_round_trip_and_frames_with_newlines():
    for kind, payload in [("F", '{"a":1}'), ("F", '{"a":\n1}'),
                          ("S", {"symbol": "X", "sequence": 5}), ("D", {})]:
        line = encode(kind, 12.5, payload)
        assert line.endswith("\n") and line.count("\n") == 1
        assert decode(line) == (kind, 12.5, payload)


@pytest.mark.parametrize(("content", "words"), [
    (None, "no recording at"),
    ("", "is empty"),
    ("hello\n", "not a recording line"),
    ('H\t1\t{"format": "other"}\n', "not a kucoin-dashboard recording"),
    ('H\t1\t{"format": "kucoin-dashboard-recording", "version": 9, "symbols": ["X"]}\n',
     "format version 9"),
    ('H\t1\t{"format": "kucoin-dashboard-recording", "version": 1, "symbols": []}\n',
     "names no symbols"),
])
def test_unreadable_recordings_are_refused_in_words(tmp_path, content, words):
    path = tmp_path / "bad.rec"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RecordingError, match=words):
        ReplayMarketFeed(path)


async def test_corrupt_lines_are_skipped_and_counted_and_a_truncated_gzip_is_reported(tmp_path):
    good = tmp_path / "tiny.rec"
    _tiny_recording(good, span_s=0.0)
    lines = good.read_text().splitlines(keepends=True)
    lines.insert(5, "garbage line\n")
    lines.insert(7, "S\t1\t{not json\n")
    lines.insert(9, 'S\t1\t{"symbol": "BTC-USDT"}\n')  # missing fields
    broken = tmp_path / "broken.rec"
    broken.write_text("".join(lines))
    feed = await _replay(broken)
    await feed.close()
    assert feed.bad_lines == 3 and feed.error is None
    assert feed.router["BTC-USDT"].live and feed.router["BTC-USDT"].book.sequence == 111
    assert "3 unreadable lines skipped" in feed.status().detail

    data = gzip.compress(good.read_bytes() * 50)
    cut = tmp_path / "cut.rec.gz"
    cut.write_bytes(data[: len(data) // 2])
    feed = await _replay(cut)
    await feed.close()
    assert feed.error and "stopped" in feed.status().detail


def test_info_command_summarises_a_recording(tmp_path):
    path = tmp_path / "tiny.rec"
    _tiny_recording(path, span_s=0.0)
    proc = subprocess.run([sys.executable, "-m", "dashboard.recording", "info", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["books"]["BTC-USDT"]["live"] and summary["books"]["BTC-USDT"]["sequence"] == 111
    assert summary["frames"] == 11 and summary["snapshots"] == 1 and summary["bad_lines"] == 0
    proc = subprocess.run([sys.executable, "-m", "dashboard.recording", "info",
                           str(tmp_path / "none.rec")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no recording at" in json.loads(proc.stdout)["error"]


def test_header_is_read_back(tmp_path):
    path = tmp_path / "h.rec.gz"
    Recorder(path, source="http://x", symbols=["A-B"]).close()
    header = read_header(path)
    assert header["symbols"] == ["A-B"] and header["source"] == "http://x"
    assert header["version"] == 1
