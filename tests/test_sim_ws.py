"""The simulator's WebSocket on real sockets: handshake, keep-alive, subscribe, errors, pushes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import pytest

from dashboard.simulator.server import SimConfig, Simulator

from .simhelpers import Rest, Ws


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=200, history=False)) as s:
        yield s


@pytest.fixture
async def rest(sim):
    async with aiohttp.ClientSession() as session:
        yield Rest(session, sim.base_url, sim.demo)


async def test_bullet_points_back_at_simulator(sim, rest):
    """The public bullet names a ws:// endpoint on the simulator with KuCoin's ping settings."""
    data = await rest.ok("POST", "/api/v1/bullet-public", signed=False)
    server = data["instanceServers"][0]
    assert server["endpoint"].startswith(sim.base_url.replace("http", "ws"))
    assert (server["pingInterval"], server["pingTimeout"], server["encrypt"]) == (
        18000, 10000, False
    )
    assert data["token"]


async def test_invalid_token_gets_401_error_and_close(sim, rest):
    """An unknown token yields error 401 'token is invalid', then the socket closes."""
    ws = await rest.session.ws_connect(
        sim.base_url.replace("http", "ws") + "/ws?token=nope&connectId=x"
    )
    msg = await ws.receive_json(timeout=5)
    assert msg == {"id": "x", "type": "error", "code": 401, "data": "token is invalid"}
    assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_ping_pong_echoes_id(rest):
    """A JSON ping is answered by a pong with the same id."""
    ws = await Ws.connect(rest)
    await ws.send({"id": "p-1", "type": "ping"})
    assert await ws.recv() == {"id": "p-1", "type": "pong"}
    await ws.close()


@pytest.mark.parametrize(("frame", "code"), [
    ("this is not json", 400),
    ("[1, 2, 3]", 400),
    ({"id": "9", "type": "dance"}, 415),
    ({"id": "9", "type": "subscribe"}, 406),
    ({"id": "9", "type": "subscribe", "topic": "/market/match: BTC-USDT"}, 400),
    ({"id": "9", "type": "subscribe", "topic": "/market/nothing:BTC-USDT"}, 404),
    ({"id": "9", "type": "subscribe", "topic": "/market/match:NOPE-USDT"}, 404),
    ({"id": "9", "type": "subscribe", "topic": "/spotMarket/tradeOrdersV2",
      "privateChannel": True}, 403),
    ({"id": "9", "type": "subscribe", "topic": "/market/candles:BTC-USDT_7min"}, 400),
], ids=["not-json", "not-object", "unknown-type", "no-topic", "space-in-topic", "unknown-topic",
        "unknown-symbol", "private-on-public", "bad-candle-type"])
async def test_bad_frames_get_error_and_connection_lives(rest, frame, code):
    """Each malformed or refused frame gets an error frame with KuCoin's code; pings work after."""
    ws = await Ws.connect(rest)
    await ws.send(frame)
    err = await ws.recv()
    assert err["type"] == "error" and err["code"] == code, err
    await ws.send({"id": "alive", "type": "ping"})
    assert await ws.recv_until(lambda f: f["type"] == "pong") == {"id": "alive", "type": "pong"}
    await ws.close()


async def test_batched_subscribe_acks_and_per_symbol_topics(rest):
    """A comma-batched subscribe is acked once (id as string); pushes carry per-symbol topics."""
    ws = await Ws.connect(rest)
    await ws.send({"id": 12345, "type": "subscribe", "topic": "/market/level2:BTC-USDT,ETH-USDT",
                   "privateChannel": False, "response": True})
    assert await ws.recv_until(lambda f: f["type"] == "ack") == {"id": "12345", "type": "ack"}
    seen = set()
    while seen != {"/market/level2:BTC-USDT", "/market/level2:ETH-USDT"}:
        frame = await ws.recv_until(lambda f: f["type"] == "message")
        assert frame["subject"] == "trade.l2update"
        seen.add(frame["topic"])
    await ws.close()


async def test_topic_limit_per_connection(sim, rest):
    """Past the per-connection topic limit the subscribe is refused with 509."""
    sim.hub.max_topics_per_connection = 3
    ws = await Ws.connect(rest)
    assert (await ws.subscribe("/market/match:BTC-USDT,ETH-USDT,SOL-USDT"))["type"] == "ack"
    err = await ws.subscribe("/market/match:XRP-USDT", req_id="2")
    assert (err["type"], err["code"]) == ("error", 509)
    await ws.close()


async def test_idle_connection_closed_after_ping_timeout(rest):
    """Silent for pingInterval + pingTimeout: the server says 'ping timeout' and closes."""
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False, ping_interval_ms=300,
                                   ping_timeout_ms=300)) as s:
        ws = await Ws.connect(Rest(rest.session, s.base_url))
        frame = await ws.recv_until(lambda f: f["type"] == "error", timeout_s=5)
        assert (frame["code"], frame["data"]) == (400, "ping timeout")
        closing = await ws.ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_token_expiry_closes_and_refuses_reconnect(sim, rest):
    """An expired token closes live connections with 'token is expired' and cannot be reused."""
    data = await rest.ok("POST", "/api/v1/bullet-public", signed=False)
    url = f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=t1"
    ws = await rest.session.ws_connect(url)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    sim.hub.expire_all_tokens()
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == "error":
            break
    assert (msg["code"], msg["data"]) == (401, "token is expired")
    ws2 = await rest.session.ws_connect(url)
    assert (await ws2.receive_json(timeout=5))["data"] == "token is expired"
    await ws.close()
    await ws2.close()


def _apply(book: dict[str, dict[Decimal, Decimal]], seq: int, data: dict) -> int:
    """KuCoin §8.2 live rule, written out independently of any client code."""
    if data["sequenceEnd"] <= seq:
        return seq
    assert data["sequenceStart"] <= seq + 1, f"gap: {data['sequenceStart']} after {seq}"
    for side in ("asks", "bids"):
        for price, size, change_seq in data["changes"][side]:
            if int(change_seq) <= seq or Decimal(price) == 0:
                continue
            if Decimal(size) == 0:
                book[side].pop(Decimal(price), None)
            else:
                book[side][Decimal(price)] = Decimal(size)
    return data["sequenceEnd"]


@pytest.mark.parametrize("symbol", ["BTC-USDT", "ETH-BTC"])
async def test_snapshot_plus_increments_reproduces_later_snapshot(sim, rest, symbol):
    """REST snapshot + every level-2 increment after it == a later snapshot, level by level."""
    sim.flow.rate_per_s = 2000
    ws = await Ws.connect(rest)
    assert (await ws.subscribe(f"/market/level2:{symbol}"))["type"] == "ack"
    first = await ws.recv_until(lambda f: f["type"] == "message")
    snap = await rest.ok("GET", f"/api/v3/market/orderbook/level2?symbol={symbol}")
    book = {side: {Decimal(p): Decimal(s) for p, s in snap[side]} for side in ("asks", "bids")}
    seq = _apply(book, int(snap["sequence"]), first["data"])
    applied = 0
    while applied < 500:
        frame = await ws.recv_until(lambda f: f["type"] == "message")
        seq = _apply(book, seq, frame["data"])
        applied += 1
    sim.flow.rate_per_s = 0
    await asyncio.sleep(0.2)  # let the last increments arrive after the flow stops
    later = await rest.ok("GET", f"/api/v3/market/orderbook/level2?symbol={symbol}")
    while seq < int(later["sequence"]):
        seq = _apply(book, seq, (await ws.recv_until(lambda f: f["type"] == "message"))["data"])
    assert seq == int(later["sequence"])
    for side in ("asks", "bids"):
        assert sorted(book[side].items()) == sorted(
            (Decimal(p), Decimal(s)) for p, s in later[side]
        )
    await ws.close()


async def test_private_order_and_balance_pushes(sim, rest):
    """On a private connection an order yields received/open/canceled events, balance pushes."""
    ws = await Ws.connect(rest, private=True)
    assert (await ws.subscribe("/spotMarket/tradeOrdersV2", private=True))["type"] == "ack"
    assert (await ws.subscribe("/account/balance", req_id="2", private=True))["type"] == "ack"
    placed = await rest.ok("POST", "/api/v1/hf/orders", {
        "clientOid": "ws-priv-1", "symbol": "SOL-USDT", "side": "buy", "type": "limit",
        "price": "10", "size": "1"})
    await rest.ok("DELETE", f"/api/v1/hf/orders/{placed['orderId']}?symbol=SOL-USDT")
    types, balance_events = [], []
    while "canceled" not in types or not balance_events:
        frame = await ws.recv_until(lambda f: f["type"] == "message")
        assert frame["channelType"] == "private" and frame["userId"] == sim.demo_user_id
        if frame["topic"] == "/spotMarket/tradeOrdersV2":
            assert frame["data"]["clientOid"] == "ws-priv-1"
            types.append(frame["data"]["type"])
        else:
            balance_events.append(frame["data"]["relationEvent"])
    assert types == ["received", "open", "canceled"]
    assert "trade.hold" in balance_events
    await ws.close()


async def test_depth5_ticker_match_candles_push(sim, rest):
    """Depth5, ticker, match and candle topics all deliver in KuCoin's shapes."""
    sim.flow.rate_per_s = 500
    ws = await Ws.connect(rest)
    for i, topic in enumerate(["/spotMarket/level2Depth5:BTC-USDT", "/market/ticker:BTC-USDT",
                               "/market/match:BTC-USDT", "/market/candles:BTC-USDT_1min"]):
        assert (await ws.subscribe(topic, req_id=str(i)))["type"] == "ack"
    subjects = {}
    while len(subjects) < 4:
        frame = await ws.recv_until(lambda f: f["type"] == "message", timeout_s=10)
        subjects[frame["subject"]] = frame["data"]
    assert len(subjects["level2"]["asks"]) == 5 and isinstance(subjects["level2"]["timestamp"], int)
    match_time = subjects["trade.l3match"]["time"]
    assert isinstance(match_time, str) and len(match_time) == 19
    assert len(subjects["trade.candles.update"]["candles"]) == 7
    assert float(subjects["trade.ticker"]["bestAsk"]) > float(subjects["trade.ticker"]["bestBid"])
    await ws.close()
