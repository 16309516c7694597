"""Each simulator fault kind is injected as configured, counted, and switchable at run time."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import aiohttp
import pytest

from dashboard.simulator.faults import FaultConfig, Faults
from dashboard.simulator.server import SimConfig, Simulator

from .simhelpers import Rest, Ws


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=1000, history=False)) as s:
        yield s


@pytest.fixture
async def rest(sim):
    async with aiohttp.ClientSession() as session:
        yield Rest(session, sim.base_url, sim.demo)


async def _l2_ranges(ws: Ws, n: int) -> list[tuple[int, int]]:
    out = []
    while len(out) < n:
        frame = await ws.recv_until(lambda f: f["type"] == "message")
        out.append((frame["data"]["sequenceStart"], frame["data"]["sequenceEnd"]))
    return out


async def _subscribed(rest: Rest) -> Ws:
    ws = await Ws.connect(rest)
    assert (await ws.subscribe("/market/level2:BTC-USDT"))["type"] == "ack"
    return ws


async def test_no_faults_means_contiguous_ranges(rest):
    """Without faults every level-2 message starts right after the previous one."""
    ws = await _subscribed(rest)
    ranges = await _l2_ranges(ws, 200)
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    await ws.close()


async def test_drop_makes_gaps(sim, rest):
    """l2_drop leaves holes in the sequence ranges a client sees."""
    sim.faults.set(l2_drop=0.2)
    ws = await _subscribed(rest)
    ranges = await _l2_ranges(ws, 200)
    gaps = sum(1 for a, b in itertools.pairwise(ranges) if b[0] > a[1] + 1)
    assert gaps > 5 and sim.faults.counts["l2_drop"] >= gaps
    await ws.close()


async def test_duplicate_repeats_frames(sim, rest):
    """l2_duplicate sends some ranges twice in a row."""
    sim.faults.set(l2_duplicate=0.2)
    ws = await _subscribed(rest)
    ranges = await _l2_ranges(ws, 200)
    assert sum(1 for a, b in itertools.pairwise(ranges) if a == b) > 5
    await ws.close()


async def test_reorder_swaps_frames(sim, rest):
    """l2_reorder delivers a frame after its successor."""
    sim.faults.set(l2_reorder=0.2)
    ws = await _subscribed(rest)
    ranges = await _l2_ranges(ws, 200)
    assert sum(1 for a, b in itertools.pairwise(ranges) if b[1] < a[0]) > 5
    assert sim.faults.counts["l2_reorder"] > 0
    await ws.close()


async def test_forced_disconnect(sim, rest):
    """disconnect_per_s=1 closes a live connection within about a second."""
    ws = await _subscribed(rest)
    sim.faults.set(disconnect_per_s=1.0)
    while True:
        msg = await asyncio.wait_for(ws.ws.receive(), 5)
        closing = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        if msg.type in closing:
            break
    assert sim.faults.counts["disconnect"] >= 1


async def test_429_burst_without_quota_headers(sim, rest):
    """rest_429 answers 429000 like an overloaded KuCoin: no quota headers, no quota used."""
    sim.faults.set(rest_429=1.0)
    for _ in range(3):
        status, headers, body = await rest.call("GET", "/api/v1/timestamp")
        assert (status, body["code"]) == (429, "429000") and "gw-ratelimit-remaining" not in headers
    sim.faults.set(rest_429=0.0)
    status, headers, _ = await rest.call("GET", "/api/v1/timestamp")
    assert status == 200 and headers["gw-ratelimit-remaining"] == "1997"


async def test_slow_snapshot(sim, rest):
    """snapshot_delay_s delays order-book snapshots by at least that long."""
    sim.faults.set(snapshot_delay_s=0.3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await rest.ok("GET", "/api/v1/market/orderbook/level2_100?symbol=BTC-USDT")
    assert loop.time() - t0 >= 0.3


async def test_runtime_control_endpoints(sim, rest):
    """POST /sim/v1/faults switches faults from another process; bad names are refused."""
    async with rest.session.post(sim.base_url + "/sim/v1/faults", json={"l2_drop": 0.5}) as r:
        body = await r.json()
    assert body["data"]["config"]["l2_drop"] == 0.5 and sim.faults.config.l2_drop == 0.5
    async with rest.session.post(sim.base_url + "/sim/v1/faults", json={"no_such": 1}) as r:
        assert r.status == 400 and (await r.json())["code"] == "400100"
    async with rest.session.post(sim.base_url + "/sim/v1/rate", json={"rate_per_s": 0}) as r:
        assert r.status == 200 and sim.flow.rate_per_s == 0


def test_faults_are_reproducible_for_a_seed():
    """The same seed gives the same sequence of fault decisions."""
    def decisions(seed: int) -> list:
        f = Faults(FaultConfig(l2_drop=0.1, l2_duplicate=0.1, l2_reorder=0.1), seed=seed)
        return [f.l2_action() for _ in range(500)]

    assert decisions(7) == decisions(7)
    assert decisions(7) != decisions(8)


async def test_client_message_rate_limit(sim, rest):
    """More than 100 client messages in 10 s get error 509; the connection stays usable for pongs
    after."""
    sim.hub.max_msgs_per_10s = 5
    ws = await Ws.connect(rest)
    for i in range(6):
        await ws.send({"id": f"p{i}", "type": "ping"})
    frames = [await ws.recv() for _ in range(6)]
    assert [f["type"] for f in frames] == ["pong"] * 5 + ["error"] and frames[-1]["code"] == 509
    await ws.close()


def test_start_up_config_is_frozen_and_run_time_faults_leave_it_alone():
    """SimConfig cannot change once built; faults switched at run time do not write back into it."""
    cfg = SimConfig(port=0, rate_per_s=0, history=False, faults=FaultConfig(l2_drop=0.1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.port = 1  # type: ignore[misc]
    sim = Simulator(cfg)
    sim.faults.set(l2_drop=0.5)
    assert (sim.faults.config.l2_drop, cfg.faults.l2_drop) == (0.5, 0.1)
