"""The product-neutral transport (``dashboard.kucoin.common``) used on its own, as a Futures client
would: ``KucoinHttp`` against the simulator, transport failures named by host and reason, and a
WebSocket whose private topics are the caller's to say."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from dashboard.kucoin.common.errors import KucoinTransportError
from dashboard.kucoin.common.http import KucoinHttp
from dashboard.kucoin.common.ratelimit import POOL_MANAGEMENT
from dashboard.kucoin.common.ws import KucoinWebSocket
from dashboard.kucoin.protocol import messages as m
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually


async def test_kucoin_http_alone_signs_syncs_the_clock_and_decodes():
    """A bare ``KucoinHttp`` (no spot client) makes a signed private call: the clock offset is
    measured first, once, and ``data`` comes back decoded."""
    async with Simulator(SimConfig(port=0, rate_per_s=0)) as sim, \
            KucoinHttp(sim.base_url, sim.demo) as http:
        data = await http.request("GET", "/api/v1/accounts", params={"type": "trade"},
                                  private=True, pool=POOL_MANAGEMENT, weight=5)
        await http.request("GET", "/api/v1/accounts", private=True, pool=POOL_MANAGEMENT)
        assert isinstance(data, list) and {row["currency"] for row in data} >= {"USDT"}
        assert http.clock_syncs == 1 and http.clock_offset_ms is not None
        assert abs(http.clock_offset_ms) < 2_000


async def test_a_refused_connection_is_named_by_host_and_reason():
    """A closed port: ``KucoinTransportError`` with the host and "connection refused"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with KucoinHttp(f"http://127.0.0.1:{port}", max_retries=0) as http:
        with pytest.raises(KucoinTransportError) as info:
            await http.request("GET", "/api/v1/timestamp")
    assert (info.value.host, info.value.reason) == ("127.0.0.1", "connection refused")


class _RecordingServer:
    """A minimal KuCoin-shaped WebSocket endpoint that acks and keeps every subscribe message."""

    def __init__(self) -> None:
        self.subscribes: list[dict] = []

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(m.welcome(request.query.get("connectId", "")))
        async for msg in ws:
            frame = msg.json()
            if frame.get("type") == "subscribe":
                self.subscribes.append(frame)
                await ws.send_json(m.ack(frame["id"]))
        return ws


@pytest.mark.parametrize(("private_topics", "expected"), [
    (frozenset(), False),
    (frozenset({"/spotMarket/tradeOrdersV2"}), True),
], ids=["neutral-default", "caller-says-private"])
async def test_private_channel_follows_the_callers_topics(private_topics, expected):
    """``privateChannel`` is true exactly for the topics the caller names as private."""
    server = _RecordingServer()
    app = web.Application()
    app.router.add_get("/ws", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def bullet(private: bool) -> dict:
        return {"token": "t", "instanceServers": [{"endpoint": f"ws://127.0.0.1:{port}/ws",
                                                   "pingInterval": 18000, "pingTimeout": 10000}]}

    try:
        async with aiohttp.ClientSession() as session:
            ws = KucoinWebSocket(session, bullet, private=True, private_topics=private_topics)
            await ws.subscribe("/spotMarket/tradeOrdersV2")
            await ws.subscribe("/market/ticker", ["BTC-USDT"])
            ws.start()
            try:
                await eventually(lambda: len(server.subscribes) == 2, 5.0)
            finally:
                await ws.close()
    finally:
        await runner.cleanup()
    flags = {f["topic"]: f["privateChannel"] for f in server.subscribes}
    assert flags == {"/spotMarket/tradeOrdersV2": expected, "/market/ticker:BTC-USDT": False}
