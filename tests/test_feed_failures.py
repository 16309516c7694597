"""Feed failures said in words (issue 8, item 8): an unreachable exchange, an unknown symbol among
known ones, and a damaged recording, each on the status the page shows and, for recordings, in the
CLI. Against the real simulator and real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import zlib
from pathlib import Path

import aiohttp
import pytest

from dashboard.domain.models import FeedState
from dashboard.hub import MarketHub
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.recording.format import DamagedRecording, RecordingError, encode
from dashboard.recording.replay import ReplayMarketFeed
from dashboard.simulator.server import SimConfig, Simulator
from dashboard.ui.health import FeedHealth

from .conftest import eventually

ROOT = Path(__file__).resolve().parent.parent
INSTRUMENT = {"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "price_increment": "0.1",
              "base_increment": "0.00000001", "quote_increment": "0.000001",
              "base_min_size": "0.00001", "base_max_size": "10000", "quote_min_size": "0.1",
              "quote_max_size": "99999999", "min_funds": "0.1", "enable_trading": True}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_unreachable_exchange_is_named_with_what_is_retried():
    """No answer from the REST host: connecting, and the status (and health row) says which host
    cannot be reached, why, and how often it is retried."""
    async with KucoinRestClient(f"http://127.0.0.1:{_closed_port()}", max_retries=0) as rest:
        feed = KucoinMarketFeed(rest, ["BTC-USDT"], retry_s=0.05)
        starting = asyncio.create_task(feed.start())
        try:
            await eventually(lambda: feed.status().problem != "", 10.0)
            status = feed.status()
            assert status.state is FeedState.CONNECTING
            assert (
                status.problem
                == "cannot reach 127.0.0.1 (connection refused); retrying every 0.05 s"
            )
            health = FeedHealth(MarketHub(feed, None))
            assert health.problem == status.problem and status.problem in health.summary
            assert status.problem in health._pane.object
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await feed.close()


async def test_an_unknown_symbol_is_named_and_the_others_stream():
    """NOPE-USDT beside BTC-USDT: BTC-USDT loads and streams, NOPE-USDT is named as unknown."""
    async with Simulator(SimConfig(port=0, rate_per_s=100)) as sim, aiohttp.ClientSession() as s:
        rest = KucoinRestClient(sim.base_url, None, session=s)
        async with KucoinMarketFeed(rest, ["NOPE-USDT", "BTC-USDT"], session=s) as feed:
            await eventually(lambda: feed.status().state is FeedState.LIVE, 10.0)
            await eventually(lambda: len(feed.trades("BTC-USDT")) > 0, 10.0)
            status = feed.status()
            assert feed.book("BTC-USDT") is not None and feed.book("NOPE-USDT") is None
            assert status.per_symbol == {"NOPE-USDT": "unknown", "BTC-USDT": "live"}
            assert status.problem.startswith("NOPE-USDT: not a symbol on 127.0.0.1")
            assert set(feed.instruments()) == {"BTC-USDT"}


def _recording_lines(frames: int) -> list[str]:
    """A recording: header, instruments, a snapshot, then ``frames`` increments."""
    t0 = 1_700_000_000.0
    lines = [encode("H", t0, {"format": "kucoin-dashboard-recording", "version": 1,
                              "source": "test", "symbols": ["BTC-USDT"], "book_source": "level2"}),
             encode("I", t0, [INSTRUMENT]),
             encode("S", t0, {"symbol": "BTC-USDT", "sequence": 100, "bids": [["99", "1"]],
                              "asks": [["101", "1"]]})]
    for i in range(frames):
        seq = 101 + i
        data = {"symbol": "BTC-USDT", "sequenceStart": seq, "sequenceEnd": seq, "time": 1,
                "changes": {"asks": [], "bids": [["99", str(i + 2), str(seq)]]}}
        lines.append(
            encode(
                "F",
                t0,
                json.dumps(
                    {
                        "type": "message",
                        "subject": "trade.l2update",
                        "topic": "/market/level2:BTC-USDT",
                        "data": data,
                    }
                ),
            )
        )
    return lines


HALF = 1503  # lines in the first deflate block of ``_damaged``


def _damaged(tmp_path: Path, where: str) -> Path:
    """The recording gzip-compressed in two deflate blocks, with 16 bytes overwritten at the start
    of the first (``"header"``) or of the second (``"middle"``): zlib's "invalid block type"."""
    lines = _recording_lines(3000)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    first = comp.compress("".join(lines[:HALF]).encode()) + comp.flush(zlib.Z_FULL_FLUSH)
    data = bytearray(first + comp.compress("".join(lines[HALF:]).encode()) + comp.flush())
    start = 10 if where == "header" else len(first)  # 10: the gzip header before the blocks
    data[start:start + 16] = b"\xff" * 16
    path = tmp_path / "flipped.rec.gz"
    path.write_bytes(bytes(data))
    return path


async def test_a_damaged_recording_is_played_up_to_the_damage_and_says_where(tmp_path):
    """Bytes overwritten mid-file: the replay finishes (no endless spinning), the books stay as
    they were before the damage, and the status names the file, the line and the byte offset."""
    path = _damaged(tmp_path, "middle")
    feed = ReplayMarketFeed(path, speed=0)
    await feed.start()
    try:
        await asyncio.wait_for(feed.wait_finished(), 30)
        damage = feed.damage
        assert isinstance(damage, DamagedRecording) and not damage.truncated
        assert 3 < damage.line <= HALF and damage.offset is not None
        assert feed.lines == damage.line  # every whole line before it was played
        status = feed.status()
        assert f"after line {damage.line}, near byte {damage.offset:,}" in status.problem
        assert "flipped.rec.gz is damaged" in status.problem and "stopped" in status.detail
        assert feed.router["BTC-USDT"].live
    finally:
        await feed.close()


def test_a_damaged_header_is_refused_in_words(tmp_path):
    """Damage in the first bytes: a RecordingError that says damaged, not a raw zlib error."""
    with pytest.raises(RecordingError, match=r"flipped\.rec\.gz is damaged .*after line 0"):
        ReplayMarketFeed(_damaged(tmp_path, "header"))


@pytest.mark.parametrize(
    ("where", "code"), [("middle", 1), ("header", 2)], ids=["middle", "header"]
)
def test_info_says_a_recording_is_damaged_in_one_line(tmp_path, where, code):
    """``python -m dashboard.recording info`` on a damaged file: non-zero exit, one clear line."""
    path = _damaged(tmp_path, where)
    proc = subprocess.run([sys.executable, "-m", "dashboard.recording", "info", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ})
    assert proc.returncode == code
    assert "Traceback" not in proc.stderr
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and "flipped.rec.gz is damaged" in json.loads(out[0])["error"]
    if code == 1:  # played up to the damage: the summary, and the one line on stderr
        assert json.loads(out[0])["damaged"]["line"] > 3
        assert proc.stderr.strip().startswith("info: flipped.rec.gz is damaged")
        assert len(proc.stderr.strip().splitlines()) == 1
