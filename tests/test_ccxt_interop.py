"""Unmodified ccxt (async REST) and ccxt.pro against the simulator, only the API URLs overridden."""

from __future__ import annotations

import asyncio

import pytest

ccxt = pytest.importorskip(
    "ccxt.async_support", reason="ccxt is a test dependency: pip install -e '.[test]'"
)
ccxtpro = pytest.importorskip("ccxt.pro")

from dashboard.simulator.server import SimConfig, Simulator  # noqa: E402


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=100, history=True)) as s:
        yield s


def _point(exchange, sim: Simulator):
    for name in list(exchange.urls["api"]):
        exchange.urls["api"][name] = sim.base_url
    return exchange


@pytest.fixture
async def rest_client(sim):
    d = sim.demo
    ex = _point(ccxt.kucoin({"apiKey": d.key, "secret": d.secret, "password": d.passphrase}), sim)
    yield ex
    await ex.close()


@pytest.fixture
async def pro_client(sim):
    d = sim.demo
    ex = _point(
        ccxtpro.kucoin({"apiKey": d.key, "secret": d.secret, "password": d.passphrase}), sim
    )
    yield ex
    await ex.close()


async def test_load_markets_and_public_data(rest_client):
    """load_markets, fetch_ticker, fetch_order_book, fetch_trades and fetch_ohlcv all parse."""
    markets = await rest_client.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(markets)
    assert markets["BTC/USDT"]["precision"]["price"] == 0.1
    ticker = await rest_client.fetch_ticker("BTC/USDT")
    assert ticker["bid"] < ticker["ask"] and ticker["last"] > 0
    book = await rest_client.fetch_order_book("BTC/USDT", 20)
    assert len(book["bids"]) == 20 and book["bids"][0][0] < book["asks"][0][0]
    await asyncio.sleep(0.3)  # let the synthetic market trade
    trades = await rest_client.fetch_trades("BTC/USDT")
    assert trades and all(t["side"] in ("buy", "sell") and t["price"] > 0 for t in trades)
    candles = await rest_client.fetch_ohlcv("ETH/USDT", "1h", limit=50)
    assert len(candles) >= 24
    stamps = [row[0] for row in candles]
    assert stamps == sorted(stamps) and all(row[2] >= max(row[1], row[4]) for row in candles)


async def test_balance_and_order_lifecycle(rest_client):
    """fetch_balance, create_order, fetch_order, fetch_open_orders, cancel_order round-trip."""
    await rest_client.load_markets()
    balance = await rest_client.fetch_balance()
    assert balance["USDT"]["free"] == 1_000_000
    book = await rest_client.fetch_order_book("BTC/USDT", 20)
    price = round(book["bids"][-1][0] - 500, 1)
    order = await rest_client.create_order("BTC/USDT", "limit", "buy", 0.01, price)
    fetched = await rest_client.fetch_order(order["id"], "BTC/USDT")
    assert (fetched["status"], fetched["amount"], fetched["price"]) == ("open", 0.01, price)
    assert [o["id"] for o in await rest_client.fetch_open_orders("BTC/USDT")] == [order["id"]]
    held = await rest_client.fetch_balance()
    assert held["USDT"]["used"] > 0
    await rest_client.cancel_order(order["id"], "BTC/USDT")
    assert (await rest_client.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
    assert await rest_client.fetch_open_orders("BTC/USDT") == []


async def test_market_order_fills(rest_client):
    """A ccxt market sell fills against the synthetic book and the fills are visible."""
    await rest_client.load_markets()
    order = await rest_client.create_order("ETH/USDT", "market", "sell", 0.5)
    fetched = await rest_client.fetch_order(order["id"], "ETH/USDT")
    assert fetched["status"] == "closed" and fetched["filled"] == 0.5
    mine = await rest_client.fetch_my_trades("ETH/USDT")
    assert any(t["order"] == order["id"] for t in mine)


async def test_invalid_order_maps_to_ccxt_exception(rest_client):
    """A size below baseMinSize is refused with 400100, which ccxt maps to one of its errors."""
    await rest_client.load_markets()
    with pytest.raises(ccxt.BaseError, match="minimum"):
        await rest_client.create_order("BTC/USDT", "limit", "buy", 0.000001, 50_000, {"hf": True})


async def test_watch_order_book_stays_sorted_and_uncrossed(sim, pro_client):
    """ccxt.pro's level-2 sync on our feed: 60 updates, always sorted and never crossed."""
    sim.flow.rate_per_s = 1000
    await pro_client.load_markets()
    for _ in range(60):
        book = await asyncio.wait_for(pro_client.watch_order_book("BTC/USDT"), 10)
        bids = [p for p, *_ in book["bids"]]
        asks = [p for p, *_ in book["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids and asks and bids[0] < asks[0]
    # freeze the market; once ccxt has caught up its book equals the simulator's own, level by level
    sim.flow.rate_per_s = 0
    seq, sim_bids, sim_asks = sim.exchange.snapshot("BTC-USDT")
    deadline = asyncio.get_running_loop().time() + 5
    while pro_client.orderbooks["BTC/USDT"]["nonce"] != seq:
        assert asyncio.get_running_loop().time() < deadline, (
            "ccxt never caught up with the simulator"
        )
        await asyncio.sleep(0.05)
    book = pro_client.orderbooks["BTC/USDT"]
    assert [(p, s) for p, s, *_ in book["bids"]] == [(float(p), float(s)) for p, s in sim_bids]
    assert [(p, s) for p, s, *_ in book["asks"]] == [(float(p), float(s)) for p, s in sim_asks]


async def test_watch_trades_delivers(sim, pro_client):
    """watch_trades yields parsed trades from /market/match."""
    sim.flow.rate_per_s = 1000
    await pro_client.load_markets()
    trades = await asyncio.wait_for(pro_client.watch_trades("ETH/USDT"), 10)
    assert trades and trades[-1]["symbol"] == "ETH/USDT" and trades[-1]["amount"] > 0


async def test_watch_orders_delivers_own_order(sim, pro_client):
    """watch_orders sees an order placed through REST, via /spotMarket/tradeOrdersV2."""
    await pro_client.load_markets()
    watcher = asyncio.create_task(pro_client.watch_orders("SOL/USDT"))
    await asyncio.sleep(0.5)  # let the private subscription be acked
    placed = await pro_client.create_order("SOL/USDT", "limit", "buy", 1, 50)
    orders = await asyncio.wait_for(watcher, 10)
    assert any(o["id"] == placed["id"] for o in orders)
