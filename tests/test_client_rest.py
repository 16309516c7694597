"""KucoinRestClient against the real simulator over loopback: data, auth, rejections, limits,
faults."""

from __future__ import annotations

import asyncio
import socket
import time
from decimal import Decimal

import aiohttp
import pytest

from dashboard.domain.models import (
    Balance,
    Candle,
    Fill,
    Instrument,
    Order,
    OrderStatus,
    Side,
    Ticker,
    Trade,
)
from dashboard.kucoin.client.rest import KucoinRestClient, build_query
from dashboard.kucoin.common.errors import (
    KucoinAPIError,
    KucoinAuthError,
    KucoinHTTPError,
    KucoinOrderRejected,
    KucoinRateLimitError,
    KucoinServerError,
    KucoinTimeoutError,
    KucoinTransportError,
)
from dashboard.kucoin.protocol.signing import Credentials
from dashboard.simulator.server import SimConfig, Simulator

D = Decimal
SYMBOL = "BTC-USDT"


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False)) as s:
        yield s


@pytest.fixture
async def client(sim):
    async with KucoinRestClient(sim.base_url, sim.demo) as c:
        yield c


def limit_buy(client_oid: str, price: str = "80000", size: str = "0.001") -> dict:
    return {"clientOid": client_oid, "side": "buy", "symbol": SYMBOL, "type": "limit",
            "price": price, "size": size}


def market_buy(client_oid: str, funds: str = "1000") -> dict:
    return {"clientOid": client_oid, "side": "buy", "symbol": SYMBOL, "type": "market",
            "funds": funds}


class Sleeper:
    """An injectable sleep that records delays, optionally runs an action first, then really
    waits."""

    def __init__(self, action=None, wait: bool = True) -> None:
        self.calls: list[float] = []
        self.action = action
        self.wait = wait

    async def __call__(self, delay: float) -> None:
        self.calls.append(delay)
        if self.action is not None:
            self.action()
        await asyncio.sleep(delay if self.wait else 0)


# ---------------------------------------------------------------- public market data


async def test_server_time_is_epoch_ms(client) -> None:
    """GET /api/v1/timestamp returns the server clock in ms."""
    assert abs(await client.get_server_time() - time.time() * 1000) < 5_000


async def test_get_symbols_returns_instruments(client, sim) -> None:
    """Every simulator symbol arrives as an Instrument with exact increments."""
    instruments = await client.get_symbols()
    assert all(isinstance(i, Instrument) for i in instruments)
    assert {i.symbol for i in instruments} == set(sim.exchange.rules)
    btc = next(i for i in instruments if i.symbol == SYMBOL)
    assert (btc.base, btc.quote, btc.price_increment, btc.base_min_size) == (
        "BTC", "USDT", D("0.1"), D("0.00001"))


async def test_get_ticker_matches_the_book(client, sim) -> None:
    """Level-1 ticker carries the engine's best bid and ask."""
    ticker = await client.get_ticker(SYMBOL)
    bid, ask = sim.exchange.best_bid_ask(SYMBOL)
    assert isinstance(ticker, Ticker)
    assert (ticker.symbol, ticker.best_bid, ticker.best_ask) == (SYMBOL, bid, ask)


async def test_get_all_tickers_covers_every_symbol(client, sim) -> None:
    """allTickers gives one Ticker per symbol with bid < ask."""
    tickers = await client.get_all_tickers()
    assert {t.symbol for t in tickers} == set(sim.exchange.rules)
    assert all(t.best_bid < t.best_ask for t in tickers)


@pytest.mark.parametrize("depth", [20, 100, None],
                         ids=["level2_20", "level2_100", "full-v3-private"])
async def test_level2_snapshot(client, sim, depth) -> None:
    """(sequence, bids, asks) equal the engine's own snapshot, as KuCoin's strings."""
    seq, bids, asks = await client.get_level2_snapshot(SYMBOL, depth)
    engine_seq, engine_bids, engine_asks = sim.exchange.snapshot(SYMBOL, depth)
    assert seq == engine_seq
    assert [(D(p), D(s)) for p, s in bids] == list(engine_bids)
    assert [(D(p), D(s)) for p, s in asks] == list(engine_asks)
    assert all(isinstance(x, str) for row in bids + asks for x in row)


async def test_full_book_without_credentials_is_refused_locally(sim) -> None:
    """The v3 full book is private: without a key the client refuses before sending (400001)."""
    async with KucoinRestClient(sim.base_url) as anon:
        with pytest.raises(KucoinAuthError) as info:
            await anon.get_level2_snapshot(SYMBOL, None)
    assert info.value.code == "400001" and "API key" in info.value.explanation


async def test_trade_history_and_candles_after_a_trade(client) -> None:
    """A crossing market order shows up in the trade history and the 1-minute candles."""
    await client.place_order(market_buy("tape-1"))
    trades = await client.get_trade_history(SYMBOL)
    assert trades and all(isinstance(t, Trade) for t in trades)
    assert trades[-1].side is Side.BUY and trades[-1].ts_ns > 10**18
    candles = await client.get_candles(SYMBOL, "1min")
    assert candles and isinstance(candles[-1], Candle)
    last = candles[-1]
    assert last.low <= min(last.open, last.close) <= max(last.open, last.close) <= last.high
    assert last.volume == sum((t.size for t in trades if t.ts_ns // 10**9 >= last.start_s), D(0))


async def test_candles_oldest_first_with_bounds() -> None:
    """With synthetic history, candles come back oldest first and within [start_s, end_s)."""
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=True)) as sim, \
            KucoinRestClient(sim.base_url) as client:
        end_s = int(time.time()) // 60 * 60
        candles = await client.get_candles(SYMBOL, "1min", start_s=end_s - 3600, end_s=end_s)
    starts = [c.start_s for c in candles]
    assert len(starts) > 10 and starts == sorted(starts)
    assert all(end_s - 3600 <= s < end_s for s in starts)


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
async def test_bullet(client, sim, private) -> None:
    """bullet-public/private return a token and a ws:// endpoint on the simulator's host."""
    wire = await client.post_bullet(private)
    assert wire["token"] and wire["instanceServers"][0]["endpoint"].startswith("ws://127.0.0.1")
    token = await client.request_bullet(private)
    assert token.token and token.endpoint.startswith("ws://127.0.0.1")
    assert token.ping_interval_ms > 0
    assert token.token not in repr(token)


# ---------------------------------------------------------------- accounts, orders, fills


async def test_get_accounts(client) -> None:
    """The demo user's spot balances arrive as Balance objects."""
    balances = {b.currency: b for b in await client.get_accounts()}
    assert balances["USDT"] == Balance("USDT", D("1000000"), D("0"))
    assert balances["BTC"].total == D("10")


async def test_order_lifecycle(client) -> None:
    """place -> get (by id and clientOid) -> open orders -> cancel -> cancelled."""
    ack = await client.place_order(limit_buy("life-1"))
    assert ack["clientOid"] == "life-1"
    order = await client.get_order(SYMBOL, ack["orderId"])
    assert isinstance(order, Order) and order.status is OrderStatus.OPEN
    assert (order.price, order.size, order.side) == (D("80000"), D("0.001"), Side.BUY)
    assert await client.get_order_by_client_oid(SYMBOL, "life-1") == order
    assert [o.order_id for o in await client.get_open_orders(SYMBOL)] == [ack["orderId"]]
    assert (await client.cancel_order(SYMBOL, ack["orderId"]))["orderId"] == ack["orderId"]
    cancelled = await client.get_order(SYMBOL, ack["orderId"])
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert await client.get_open_orders(SYMBOL) == []


async def test_cancel_by_client_oid_and_cancel_all(client) -> None:
    """Cancel by clientOid, by symbol and across symbols empties the open orders."""
    for oid in ("c-1", "c-2", "c-3"):
        await client.place_order(limit_buy(oid))
    assert (await client.cancel_order_by_client_oid(SYMBOL, "c-1"))["clientOid"] == "c-1"
    assert len(await client.get_open_orders(SYMBOL)) == 2
    assert await client.cancel_all(SYMBOL) == "success"
    await client.place_order({**limit_buy("c-4"), "symbol": "ETH-USDT", "price": "2000",
                              "size": "0.01"})
    assert (await client.cancel_all())["succeedSymbols"] == ["ETH-USDT"]
    assert await client.get_open_orders("ETH-USDT") == []


@pytest.mark.parametrize("by", ["order_id", "client_oid"])
async def test_unknown_order_is_none(client, by) -> None:
    """KuCoin's 'order not exist' becomes None, not an exception."""
    if by == "order_id":
        assert await client.get_order(SYMBOL, "6b07c94f00000000000000ff") is None
    else:
        assert await client.get_order_by_client_oid(SYMBOL, "never-sent") is None


async def test_fills_and_filled_order(client) -> None:
    """A market buy fills: its fills are listed and the order reads FILLED."""
    ack = await client.place_order(market_buy("fill-1"))
    fills = await client.get_fills(SYMBOL, 10)
    assert fills and all(isinstance(f, Fill) for f in fills)
    mine = [f for f in fills if f.order_id == ack["orderId"]]
    assert mine and all(f.liquidity == "taker" and f.fee_currency == "USDT" for f in mine)
    order = await client.get_order(SYMBOL, ack["orderId"])
    assert order is not None and order.status is OrderStatus.FILLED
    assert order.filled_size == sum((f.size for f in mine), D(0))


async def test_place_order_test_reaches_no_book(client) -> None:
    """The test endpoint validates and signs but creates no order."""
    ack = await client.place_order_test(limit_buy("dry-1"))
    assert ack["orderId"]
    assert await client.get_open_orders(SYMBOL) == []


@pytest.mark.parametrize(("order", "code"), [
    (limit_buy("rej-1", size="0.000001"), "400100"),
    (limit_buy("rej-2", price="80000.05"), "400100"),
    (limit_buy("rej-3", size="100"), "200004"),
], ids=["size-below-min", "price-increment", "balance-insufficient"])
async def test_order_rejection(client, order, code) -> None:
    """A rule-breaking order raises KucoinOrderRejected with KuCoin's code and message."""
    with pytest.raises(KucoinOrderRejected) as info:
        await client.place_order(order)
    assert info.value.code == code and info.value.msg


async def test_unknown_path_is_api_error(client) -> None:
    """404000 arrives as a KucoinAPIError carrying the code and HTTP status."""
    with pytest.raises(KucoinAPIError) as info:
        await client.request("GET", "/api/v1/no-such-thing")
    assert (info.value.code, info.value.http_status) == ("404000", 404)


# ---------------------------------------------------------------- authentication


class TamperedSignature(Credentials):
    """Right key, secret and passphrase, but KC-API-SIGN computed over a different path."""

    def headers(self, timestamp_ms: int, method: str, path_with_query: str,
                body: str = "") -> dict[str, str]:
        return super().headers(timestamp_ms, method, path_with_query + "&tampered=1", body)


@pytest.mark.parametrize(("mutate", "code", "words"), [
    # §2.7: the passphrase header is HMAC'd with the secret and checked before the signature,
    # so a wrong secret is reported as 400004 first.
    (lambda k: Credentials(k.key, "wrong-secret", k.passphrase), "400004", "passphrase"),
    (lambda k: TamperedSignature(k.key, k.secret, k.passphrase), "400005", "signature"),
    (lambda k: Credentials(k.key, k.secret, "wrong-passphrase"), "400004", "passphrase"),
    (lambda k: Credentials("0123456789abcdef01234567", k.secret, k.passphrase), "400003",
     "does not exist"),
], ids=["wrong-secret", "bad-signature", "wrong-passphrase", "unknown-key"])
async def test_auth_failures(sim, mutate, code, words) -> None:
    """Each auth failure is a KucoinAuthError with KuCoin's code and a plain-words explanation."""
    async with KucoinRestClient(sim.base_url, mutate(sim.demo)) as bad:
        with pytest.raises(KucoinAuthError) as info:
            await bad.get_accounts()
    assert info.value.code == code and info.value.http_status == 401
    assert words in info.value.explanation


async def test_local_clock_off_by_a_minute_is_measured_before_the_first_private_call(sim) -> None:
    """The lazy clock sync makes a private call work even when the local clock is 60 s fast."""
    async with KucoinRestClient(sim.base_url, sim.demo, clock=lambda: time.time() + 60) as client:
        assert await client.get_accounts()
        assert client.clock_syncs == 1 and abs(client.clock_offset_ms + 60_000) < 2_000


async def test_clock_jump_triggers_resync_after_400002(sim) -> None:
    """After a 400002 the client re-measures its offset and the same call succeeds."""
    shift = [0.0]
    async with KucoinRestClient(sim.base_url, sim.demo,
                                clock=lambda: time.time() + shift[0]) as client:
        await client.get_accounts()
        shift[0] = -60.0  # the local clock jumps back a minute
        assert await client.get_accounts()
        assert client.clock_syncs == 2 and abs(client.clock_offset_ms - 60_000) < 2_000


async def test_server_clock_skew_resync(sim, client) -> None:
    """The exchange clock runs 60 s ahead: the client gets 400002, re-syncs its offset and
    succeeds."""
    assert await client.get_accounts()
    sim.clock_skew_ms = 60_000
    assert await client.get_accounts()
    assert client.clock_syncs == 2 and abs(client.clock_offset_ms - 60_000) < 2_000


async def test_comma_query_is_signed_as_sent(client) -> None:
    """trade-fees?symbols=BTC-USDT,ETH-USDT: the comma list is signed exactly as sent."""
    fees = await client.get_trade_fees(["BTC-USDT", "ETH-USDT"])
    assert [f["symbol"] for f in fees] == ["BTC-USDT", "ETH-USDT"]


def test_build_query_keeps_order_and_safe_characters() -> None:
    """Insertion order, None dropped, commas raw, other specials percent-encoded."""
    assert build_query({"symbols": "BTC-USDT,ETH-USDT", "x": None, "type": "1min", "n": 5}) == \
        "symbols=BTC-USDT,ETH-USDT&type=1min&n=5"
    assert build_query({"p": "abc!@#11"}) == "p=abc%21%40%2311"


def test_repr_hides_secrets(sim) -> None:
    """repr/str of the client show neither the secret, the passphrase nor the whole key."""
    client = KucoinRestClient(sim.base_url, sim.demo)
    for text in (repr(client), str(client)):
        assert sim.demo.secret not in text and sim.demo.passphrase not in text
        assert sim.demo.key not in text
        assert sim.demo.key[-4:] in text


# ---------------------------------------------------------------- rate limits


async def test_small_public_quota_waits_for_reset_instead_of_429() -> None:
    """With a 10-weight public quota per 0.5 s window, 8 tickers (weight 2) all succeed by
    waiting."""
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False,
                                   quotas={"public": 10, "spot": 4000, "management": 2000})) as sim:
        sim.limiter.window_ms = 500
        sleeper = Sleeper()
        async with KucoinRestClient(sim.base_url, max_retries=0, sleep=sleeper) as client:
            tickers = [await client.get_ticker(SYMBOL) for _ in range(8)]
    assert len(tickers) == 8
    assert sleeper.calls and all(0 < d <= 0.5 for d in sleeper.calls)
    assert client.limiter.waited_s > 0


async def test_429_burst_idempotent_get_retries(sim) -> None:
    """A 429000 on a GET blocks the pool briefly, then the retry succeeds."""
    sleeper = Sleeper(action=lambda: sim.faults.set(rest_429=0.0))
    async with KucoinRestClient(sim.base_url, sleep=sleeper) as client:
        sim.faults.set(rest_429=1.0)
        ticker = await client.get_ticker(SYMBOL)
    assert ticker.symbol == SYMBOL
    assert sim.faults.counts["rest_429"] == 1 and sleeper.calls


async def test_429_on_order_raises_without_resending(sim, client) -> None:
    """A 429000 on POST /hf/orders raises KucoinRateLimitError after exactly one attempt."""
    await client.get_accounts()  # clock already synced: the only call under the fault is the order
    sim.faults.set(rest_429=1.0)
    with pytest.raises(KucoinRateLimitError) as info:
        await client.place_order(limit_buy("rl-1"))
    sim.faults.set(rest_429=0.0)
    assert sim.faults.counts["rest_429"] == 1
    assert info.value.code == "429000" and info.value.retry_after_s > 0
    assert await client.get_order_by_client_oid(SYMBOL, "rl-1") is None


# ------------------------------------------------------------ server errors, timeouts, transport


async def test_snapshot_5xx_retried_until_switched_off(sim) -> None:
    """500000 on snapshots: the idempotent GET retries with backoff and succeeds once the fault
    ends."""
    sleeper = Sleeper(action=lambda: sim.faults.set(snapshot_5xx=0.0), wait=False)
    async with KucoinRestClient(sim.base_url, sleep=sleeper) as client:
        sim.faults.set(snapshot_5xx=1.0)
        seq, bids, asks = await client.get_level2_snapshot(SYMBOL, 20)
    assert seq > 0 and bids and asks
    assert sim.faults.counts["snapshot_5xx"] == 1 and len(sleeper.calls) == 1


async def test_snapshot_5xx_gives_up_after_max_retries(sim) -> None:
    """A persistent 500000 raises KucoinServerError after 1 + max_retries attempts."""
    sleeper = Sleeper(wait=False)
    async with KucoinRestClient(sim.base_url, max_retries=2, sleep=sleeper) as client:
        sim.faults.set(snapshot_5xx=1.0)
        with pytest.raises(KucoinServerError) as info:
            await client.get_level2_snapshot(SYMBOL, 100)
    assert info.value.code == "500000" and info.value.http_status == 500
    assert sim.faults.counts["snapshot_5xx"] == 3 and len(sleeper.calls) == 2


async def test_slow_snapshot_times_out(sim) -> None:
    """A snapshot slower than timeout_s raises KucoinTimeoutError (also a TimeoutError)."""
    sim.faults.set(snapshot_delay_s=0.5)
    async with KucoinRestClient(sim.base_url, timeout_s=0.1, max_retries=0) as client:
        with pytest.raises(TimeoutError) as info:
            await client.get_level2_snapshot(SYMBOL, 20)
    assert isinstance(info.value, KucoinTimeoutError)
    sim.faults.set(snapshot_delay_s=0.0)


async def test_non_json_answer_is_http_error(client) -> None:
    """A non-JSON body (here aiohttp's plain-text 400 for /ws without upgrade) is a
    KucoinHTTPError."""
    with pytest.raises(KucoinHTTPError) as info:
        await client.request("GET", "/ws")
    assert info.value.status == 400


async def test_connection_refused_is_transport_error() -> None:
    """Nothing listening: KucoinTransportError after the retries (injected sleep, no real wait)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeper = Sleeper(wait=False)
    async with KucoinRestClient(f"http://127.0.0.1:{port}", max_retries=2, sleep=sleeper) as client:
        with pytest.raises(KucoinTransportError):
            await client.get_server_time()
    assert len(sleeper.calls) == 2


async def test_injected_session_is_not_closed_and_close_is_idempotent(sim) -> None:
    """close() twice is fine; an injected session stays open for its owner."""
    async with aiohttp.ClientSession() as session:
        client = KucoinRestClient(sim.base_url, session=session)
        assert await client.get_server_time() > 0
        await client.close()
        await client.close()
        assert not session.closed
        with pytest.raises(KucoinTransportError):
            await client.get_server_time()
