"""The simulator's REST surface over real HTTP: envelope, public data, auth errors, limits,
orders."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from dashboard.kucoin.protocol.signing import Credentials
from dashboard.simulator.server import SimConfig, Simulator

from .simhelpers import Rest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False)) as s:
        yield s


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def public(sim, session) -> Rest:
    return Rest(session, sim.base_url)


@pytest.fixture
def private(sim, session) -> Rest:
    return Rest(session, sim.base_url, sim.demo)


async def test_timestamp_and_status(public):
    """Server time is an int in ms; status is open."""
    ts = await public.ok("GET", "/api/v1/timestamp")
    assert isinstance(ts, int) and ts > 1_600_000_000_000
    assert await public.ok("GET", "/api/v1/status") == {"status": "open", "msg": ""}


async def test_symbols_v2_shape_matches_sample(public, samples_dir):
    """Every symbol carries exactly the keys of KuCoin's documented v2 symbol, numbers as
    strings."""
    sample = json.loads((samples_dir / "rest/symbols_v2.json").read_text())["data"][0]
    rows = await public.ok("GET", "/api/v2/symbols")
    assert {"BTC-USDT", "ETH-USDT"} <= {r["symbol"] for r in rows} and len(rows) >= 5
    for row in rows:
        assert set(row) == set(sample)
        for key in ("priceIncrement", "baseIncrement", "baseMinSize", "minFunds"):
            assert isinstance(row[key], str)


async def test_level2_snapshot_is_sorted_and_uncrossed(public):
    """level2_20 returns 20 levels a side, bids descending, asks ascending, sequence a string."""
    book = await public.ok("GET", "/api/v1/market/orderbook/level2_20?symbol=BTC-USDT")
    assert isinstance(book["sequence"], str) and int(book["sequence"]) > 0
    bids = [float(p) for p, _ in book["bids"]]
    asks = [float(p) for p, _ in book["asks"]]
    assert len(bids) == len(asks) == 20
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]


async def test_candles_newest_first_in_kucoin_row_order(session):
    """Candles: rows of 7 strings [t, o, c, h, l, v, turnover], newest first, within the range."""
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=True)) as s:
        await _check_candles(Rest(session, s.base_url))


async def _check_candles(public: Rest) -> None:
    rows = await public.ok("GET", "/api/v1/market/candles?symbol=ETH-USDT&type=1min")
    assert 100 <= len(rows) <= 1500
    starts = [int(r[0]) for r in rows]
    assert starts == sorted(starts, reverse=True)
    for _t, o, c, h, lo, _v, _turnover in rows[:50]:
        assert float(h) >= max(float(o), float(c)) and float(lo) <= min(float(o), float(c))
    hourly = await public.ok(
        "GET", f"/api/v1/market/candles?symbol=ETH-USDT&type=1hour&startAt={starts[-1]}")
    assert all(int(r[0]) % 3600 == 0 for r in hourly)


@pytest.mark.parametrize(("path", "code", "status"), [
    ("/api/v1/market/orderbook/level2_20", "400100", 400),
    ("/api/v1/market/orderbook/level2_20?symbol=NOPE-USDT", "400100", 400),
    ("/api/v1/market/candles?symbol=BTC-USDT&type=2min", "400100", 400),
    ("/api/v1/no/such/path", "404000", 404),
], ids=["missing-symbol", "unknown-symbol", "bad-candle-type", "unknown-path"])
async def test_bad_public_requests_get_kucoin_envelope(public, path, code, status):
    """Malformed public requests get KuCoin's envelope and code, never a traceback."""
    got_status, _, body = await public.call("GET", path)
    assert (got_status, body["code"]) == (status, code) and body["msg"]


def _bad(creds: Credentials, **over) -> dict:
    h = creds.headers(0, "GET", "/api/v1/accounts")
    return h


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda h, c: h.pop("KC-API-SIGN"), "400001"),
    (lambda h, c: h.update({"KC-API-KEY": "000000000000000000000000"}), "400003"),
    (lambda h, c: h.update({"KC-API-TIMESTAMP": str(int(h["KC-API-TIMESTAMP"]) - 60_000)}),
     "400002"),
    (lambda h, c: h.update({"KC-API-PASSPHRASE": "d3Jvbmc="}), "400004"),
    (lambda h, c: h.update({"KC-API-SIGN": "d3Jvbmc="}), "400005"),
    (lambda h, c: h.update({"KC-API-KEY-VERSION": "7"}), "400009"),
], ids=["missing-header", "unknown-key", "stale-timestamp", "bad-passphrase", "bad-signature",
        "bad-version"])
async def test_auth_failures_have_kucoin_codes(sim, public, mutate, code):
    """Each auth failure of protocol.md §2.7 maps to its KuCoin code with HTTP 401."""
    import time

    headers = sim.demo.headers(time.time_ns() // 1_000_000, "GET", "/api/v1/accounts")
    mutate(headers, sim.demo)
    status, _, body = await public.call("GET", "/api/v1/accounts", headers=headers, signed=False)
    assert (status, body["code"]) == (401, code), body


async def test_read_only_key_cannot_trade(sim, session):
    """A key without trading permission gets 400007 when placing an order."""
    ro = Credentials("aaaaaaaaaaaaaaaaaaaaaaaa", "ro-secret", "ro-pass", "3")
    sim.add_user("ro-user", {"USDT": 1000}, ro, can_trade=False)
    rest = Rest(session, sim.base_url, ro)
    assert await rest.ok("GET", "/api/v1/accounts")
    status, _, body = await rest.call("POST", "/api/v1/hf/orders", {
        "symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "1000", "size": "0.001"})
    assert body["code"] == "400007" and status == 401


async def test_rate_limit_headers_and_429(session):
    """Quota headers count down; past the quota the answer is HTTP 429 with code 429000."""
    quotas = {"public": 10, "spot": 4000, "management": 2000}
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False, quotas=quotas)) as s:
        rest = Rest(session, s.base_url)
        status, headers, _ = await rest.call("GET", "/api/v1/timestamp")
        assert status == 200 and headers["gw-ratelimit-limit"] == "10"
        assert headers["gw-ratelimit-remaining"] == "7"
        assert 0 < int(headers["gw-ratelimit-reset"]) <= 30_000
        await rest.call("GET", "/api/v1/timestamp")
        await rest.call("GET", "/api/v1/timestamp")
        status, headers, body = await rest.call("GET", "/api/v1/timestamp")
        assert (status, body["code"]) == (429, "429000")
        assert headers["gw-ratelimit-remaining"] == "1"


async def test_malformed_post_bodies(private):
    """Broken JSON and non-object bodies get 400100; a form body gets 415000."""
    for raw in ("{not json", "[1,2]"):
        status, _, body = await private.call("POST", "/api/v1/hf/orders", raw)
        assert body["code"] == "400100", body
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = await private.call("POST", "/api/v1/hf/orders", "a=b", headers=form)
    assert (status, body["code"]) == (415, "415000")


async def test_order_round_trip_hf(private):
    """Place a resting limit order, find it by id and clientOid and in active, cancel it, see it
    done."""
    book = await private.ok("GET", "/api/v1/market/orderbook/level2_20?symbol=BTC-USDT")
    price = str(round(float(book["bids"][-1][0]) - 100, 1))
    placed = await private.ok("POST", "/api/v1/hf/orders", {
        "clientOid": "round-trip-1", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
        "price": price, "size": "0.001"})
    oid = placed["orderId"]
    assert placed["clientOid"] == "round-trip-1" and len(oid) == 24
    by_id = await private.ok("GET", f"/api/v1/hf/orders/{oid}?symbol=BTC-USDT")
    by_coid = await private.ok("GET", "/api/v1/hf/orders/client-order/round-trip-1?symbol=BTC-USDT")
    assert by_id == by_coid and by_id["active"] is True and by_id["inOrderBook"] is True
    active = await private.ok("GET", "/api/v1/hf/orders/active?symbol=BTC-USDT")
    assert [o["id"] for o in active] == [oid]
    accounts = {a["currency"]: a for a in await private.ok("GET", "/api/v1/accounts?type=trade")}
    assert float(accounts["USDT"]["holds"]) > 0
    cancelled = await private.ok("DELETE", f"/api/v1/hf/orders/{oid}?symbol=BTC-USDT")
    assert cancelled == {"orderId": oid}
    done = await private.ok("GET", f"/api/v1/hf/orders/{oid}?symbol=BTC-USDT")
    assert done["active"] is False and done["cancelledSize"] == "0.001"
    status, _, body = await private.call("DELETE", f"/api/v1/hf/orders/{oid}?symbol=BTC-USDT")
    assert (status, body["code"], body["msg"]) == (
        200, "400100", "order_not_exist_or_not_allow_to_cancel")


@pytest.mark.parametrize(("order", "code"), [
    ({"price": "1000.05", "size": "0.001"}, "400100"),
    ({"price": "1000", "size": "0.000001"}, "400100"),
    ({"price": "10000", "size": "0.000012345"}, "400100"),
    ({"price": "1", "size": "0.00001"}, "600100"),
    ({"price": "1000", "size": "5000"}, "200004"),
    ({"symbol": "NOPE-USDT", "price": "1", "size": "1"}, "400100"),
], ids=["price-increment", "below-min-size", "size-increment", "below-min-funds",
        "insufficient-balance", "unknown-symbol"])
async def test_order_rejections_have_kucoin_codes(private, order, code):
    """Symbol rules and balances are enforced with KuCoin's codes; nothing is placed."""
    body = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", **order}
    _, _, payload = await private.call("POST", "/api/v1/hf/orders", body)
    assert payload["code"] == code, payload
    assert await private.ok("GET", "/api/v1/hf/orders/active?symbol=BTC-USDT") == []


async def test_hf_symbol_is_mandatory(private):
    """HF queries and cancels without ?symbol= get 400100."""
    _status, _, body = await private.call("GET", "/api/v1/hf/orders/active")
    assert body["code"] == "400100"


async def test_market_order_fills_and_reports_fills(private):
    """A market buy by funds trades against the book and shows up in HF fills."""
    placed = await private.ok("POST", "/api/v1/hf/orders", {
        "clientOid": "mkt-1", "symbol": "ETH-USDT", "side": "buy", "type": "market",
        "funds": "500"})
    order = await private.ok("GET", f"/api/v1/hf/orders/{placed['orderId']}?symbol=ETH-USDT")
    assert order["active"] is False and float(order["dealSize"]) > 0
    fills = await private.ok("GET", f"/api/v1/hf/fills?symbol=ETH-USDT&orderId={placed['orderId']}")
    assert fills["items"] and all(f["liquidity"] == "taker" for f in fills["items"])
    assert isinstance(fills["items"][0]["tradeId"], int)


async def test_fault_5xx_snapshot_and_runtime_switch(sim, public):
    """With snapshot_5xx on, book snapshots fail with 500000; switched off at run time, they
    succeed."""
    sim.faults.set(snapshot_5xx=1.0)
    path = "/api/v1/market/orderbook/level2_100?symbol=BTC-USDT"
    status, _, body = await public.call("GET", path)
    assert (status, body["code"]) == (500, "500000")
    sim.faults.set(snapshot_5xx=0.0)
    assert await public.ok("GET", path)
    assert sim.faults.counts["snapshot_5xx"] == 1


async def test_cli_serves_kucoin_and_control_paths_then_exits_cleanly(session):
    """``python -m dashboard.simulator`` prints its URL, answers REST and /sim/v1, and exits 0 on
    SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dashboard.simulator", "--port", "0", "--rate", "0", "--no-history",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        base_url = first.rsplit(" ", 1)[-1].strip()
        assert first.startswith("KuCoin simulator serving http://127.0.0.1:"), first
        data = await Rest(session, base_url).ok("GET", "/api/v1/timestamp")
        async with session.get(base_url + "/sim/v1/faults") as r:
            faults = await r.json()
        assert isinstance(data, int) and faults["data"]["config"]["l2_drop"] == 0.0
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
