"""The KuCoin WebSocket client and the market feed's supervisor against the simulator on a loopback
port.

Connection-level faults are made on the simulator's side, as a network or KuCoin would make them:
the server closes the socket, tokens expire, the server's writer stops (a dead connection that stays
open), or the server forgets one subscription (a silent channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.domain.models import FeedState
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.common.ws import ConnState, KucoinWebSocket, SubscribeError
from dashboard.kucoin.protocol import spot as c
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually

SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]


@pytest.fixture
async def sim():
    # short heartbeats so a dead connection is noticed within a second (pingInterval + pingTimeout)
    async with Simulator(SimConfig(port=0, rate_per_s=200, history=False, ping_interval_ms=300,
                                   ping_timeout_ms=500)) as s:
        yield s


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def rest(sim, session):
    return KucoinRestClient(sim.base_url, sim.demo, session=session)


class Bullets:
    """Counts bullet calls and remembers each token."""

    def __init__(self, rest: KucoinRestClient) -> None:
        self.rest = rest
        self.tokens: list[str] = []

    async def __call__(self, private: bool) -> dict:
        data = await self.rest.post_bullet(private)
        self.tokens.append(data["token"])
        return data


@pytest.fixture
async def make_ws(rest, session):
    sockets: list[KucoinWebSocket] = []

    def make(**kw) -> tuple[KucoinWebSocket, Bullets]:
        bullets = Bullets(rest)
        ws = KucoinWebSocket(session, bullets, backoff_base_s=0.05, ack_timeout_s=2.0, **kw)
        sockets.append(ws)
        return ws, bullets

    yield make
    for ws in sockets:
        await ws.close()


def _server_conn(sim: Simulator, ws: KucoinWebSocket):
    """The simulator's side of the client's current connection."""
    return next(conn for conn in sim.hub.connections if conn.connect_id == ws.stats.last_connect_id)


def _l2(*symbols: str) -> set[str]:
    return {f"{c.TOPIC_LEVEL2}:{s}" for s in symbols}


class SubscriptionSpy:
    """Records the topic of every subscribe/unsubscribe request the simulator receives."""

    def __init__(self, sim: Simulator) -> None:
        self.topics: list[tuple[str, str]] = []
        self._inner = sim.hub._on_subscription

    def __call__(self, conn, req_id: str, msg: dict, subscribe: bool) -> None:
        self.topics.append(("subscribe" if subscribe else "unsubscribe", msg.get("topic")))
        self._inner(conn, req_id, msg, subscribe)


# ---- connection, welcome, subscriptions

async def test_connect_uses_a_fresh_token_and_waits_for_welcome(sim, make_ws):
    """start() fetches one bullet, connects with its token and a connectId, and is connected after
    welcome."""
    ws, bullets = make_ws()
    ws.start()
    await ws.wait_connected(5.0)
    assert ws.state is ConnState.CONNECTED and ws.stats.connects == 1 and len(bullets.tokens) == 1
    conn = _server_conn(sim, ws)
    assert conn.token.value == bullets.tokens[0]


async def test_subscriptions_are_batched_and_acked(sim, make_ws, monkeypatch):
    """With two topics per request, three symbols go out in two subscribe messages, each acked."""
    spy = SubscriptionSpy(sim)
    monkeypatch.setattr(sim.hub, "_on_subscription", spy)
    ws, _ = make_ws(max_topics_per_request=2)
    await ws.subscribe(c.TOPIC_LEVEL2, SYMBOLS)
    ws.start()
    await ws.wait_connected(5.0)  # set only once every batch was acked
    assert spy.topics == [("subscribe", "/market/level2:BTC-USDT,ETH-USDT"),
                          ("subscribe", "/market/level2:SOL-USDT")]
    assert _server_conn(sim, ws).topics == _l2(*SYMBOLS)
    await ws.subscribe(c.TOPIC_MATCH, SYMBOLS)  # while connected: returns after the acks
    assert spy.topics[2:] == [("subscribe", "/market/match:BTC-USDT,ETH-USDT"),
                              ("subscribe", "/market/match:SOL-USDT")]
    assert {t for t in _server_conn(sim, ws).topics if t.startswith(c.TOPIC_MATCH)} == \
        {f"{c.TOPIC_MATCH}:{s}" for s in SYMBOLS}


@pytest.mark.parametrize("connected", [False, True], ids=["before-start", "while-connected"])
async def test_refuses_more_topics_than_one_connection_takes(make_ws, connected):
    """Up to max_topics_per_connection is accepted; one more raises SubscribeError(509) and is not
    remembered."""
    ws, _ = make_ws(max_topics_per_connection=3)
    if connected:
        ws.start()
        await ws.wait_connected(5.0)
    await ws.subscribe(c.TOPIC_LEVEL2, SYMBOLS)  # exactly the limit, on a new prefix
    with pytest.raises(SubscribeError) as refused:
        await ws.subscribe(c.TOPIC_MATCH, ["BTC-USDT"])
    assert refused.value.code == 509
    assert ws.topics() == [f"{c.TOPIC_LEVEL2}:{s}" for s in SYMBOLS]


async def test_subscribe_error_frame_raises_and_is_forgotten(sim, make_ws):
    """A topic the server refuses raises SubscribeError with its code and topic; the connection
    stays usable."""
    ws, _ = make_ws()
    ws.start()
    await ws.wait_connected(5.0)
    with pytest.raises(SubscribeError) as refused:
        await ws.subscribe(c.TOPIC_LEVEL2, ["NOPE-USDT"])
    assert (refused.value.code, refused.value.topic) == (404, "/market/level2:NOPE-USDT")
    assert ws.topics() == []
    await ws.subscribe(c.TOPIC_LEVEL2, ["BTC-USDT"])
    assert _server_conn(sim, ws).topics == _l2("BTC-USDT")


# ---- reconnects

async def _force_close(sim: Simulator, ws: KucoinWebSocket) -> None:
    await sim.hub.close(_server_conn(sim, ws))


async def _expire_tokens(sim: Simulator, ws: KucoinWebSocket) -> None:
    sim.hub.expire_all_tokens()  # the simulator's sweeper closes the connection within a second


async def _stop_server_writer(sim: Simulator, ws: KucoinWebSocket) -> None:
    """The server keeps the socket open and keeps reading, but sends nothing more: a dead
    connection."""
    name = f"ws-writer-{ws.stats.last_connect_id}"
    writer = next(t for t in asyncio.all_tasks() if t.get_name() == name)
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer


@pytest.mark.parametrize("fault", [_force_close, _expire_tokens, _stop_server_writer],
                         ids=["forced-disconnect", "token-expiry", "dead-connection"])
async def test_reconnects_with_a_fresh_token_and_resubscribes(sim, make_ws, fault):
    """After the fault the client connects again with a new token and every topic is subscribed
    again."""
    disconnects: list[str] = []
    ws, bullets = make_ws(max_topics_per_request=2, on_disconnected=disconnects.append)
    await ws.subscribe(c.TOPIC_LEVEL2, SYMBOLS)
    await ws.subscribe(c.TOPIC_TICKER, ["BTC-USDT"])
    ws.start()
    await ws.wait_connected(5.0)
    first = ws.stats.last_connect_id
    await fault(sim, ws)
    await eventually(lambda: ws.stats.connects == 2, 5.0)
    await ws.wait_connected(5.0)  # every topic acked again
    assert ws.stats.last_connect_id != first and len(disconnects) == 1
    assert len(set(bullets.tokens)) == len(bullets.tokens) >= 2
    assert _server_conn(sim, ws).topics == _l2(*SYMBOLS) | {f"{c.TOPIC_TICKER}:BTC-USDT"}
    assert ws.stats.silent_drops == (fault is _stop_server_writer)
    frames = ws.stats.frames
    await eventually(lambda: ws.stats.frames > frames + 10, 5.0)  # data flows on the new connection


async def test_pings_keep_a_quiet_connection_alive(sim, make_ws):
    """With no data at all, JSON pings and pongs keep the connection up past pingInterval +
    pingTimeout."""
    sim.flow.rate_per_s = 0
    ws, _ = make_ws()
    ws.start()
    await ws.wait_connected(5.0)
    await eventually(lambda: ws.stats.pongs >= 6, 5.0)  # about 1.8 s: more than twice 0.8 s
    assert ws.stats.connects == 1 and ws.stats.silent_drops == 0
    assert ws.stats.ping_rtt_ms is not None


# ---- the feed's staleness supervisor

@pytest.fixture
async def feed(rest, session):
    f = KucoinMarketFeed(rest, SYMBOLS, session=session, stale_after_s=0.6, supervise_every_s=0.1)
    await f.start()
    yield f
    await f.close()


def _live(feed: KucoinMarketFeed) -> bool:
    return feed.status().state is FeedState.LIVE


async def _books_equal_the_simulators(feed: KucoinMarketFeed, sim: Simulator) -> None:
    """Freeze the market, wait for the client to catch up, then compare every book exactly."""
    sim.flow.rate_per_s = 0
    await eventually(lambda: all((b := feed.book(s)) is not None
                                 and b.sequence == sim.exchange.sequence(s)
                                 for s in SYMBOLS), 5.0)
    for symbol in SYMBOLS:
        seq, bids, asks = sim.exchange.snapshot(symbol)
        book = feed.book(symbol)
        assert (book.sequence, book.bids, book.asks) == (seq, tuple(bids), tuple(asks)), symbol


async def test_supervisor_recovers_a_silent_channel(sim, feed):
    """A level-2 channel the server stopped serving is noticed, resubscribed, and the book is live
    and right."""
    await eventually(lambda: _live(feed), 5.0)
    topic = f"{c.TOPIC_LEVEL2}:ETH-USDT"
    conn = _server_conn(sim, feed.ws)
    # the server forgets this one subscription; the socket stays healthy
    sim.hub.subs[topic].discard(conn)
    await eventually(lambda: feed.counters.stale_recoveries >= 1, 5.0)
    await eventually(lambda: conn in sim.hub.subs.get(topic, ()) and _live(feed), 5.0)
    assert feed.ws.stats.connects == 1  # recovered without a reconnect
    await _books_equal_the_simulators(feed, sim)


async def test_quiet_market_is_not_mistaken_for_a_silent_channel(sim, feed):
    """With no order flow the supervisor asks REST, sees nothing moved, and leaves the channel
    alone."""
    await eventually(lambda: _live(feed), 5.0)
    sim.flow.rate_per_s = 0
    await eventually(lambda: feed.counters.quiet_checks >= 2 * len(SYMBOLS), 5.0)
    assert feed.counters.stale_recoveries == 0 and _live(feed)
    await _books_equal_the_simulators(feed, sim)


async def test_market_quiet_from_the_start_still_gets_live_books(sim, rest, session):
    """Snapshots are asked for once subscribed, so books go live even if no increment ever comes."""
    sim.flow.rate_per_s = 0
    async with KucoinMarketFeed(rest, SYMBOLS, session=session, stale_after_s=0.6,
                                supervise_every_s=0.1) as feed:
        await eventually(lambda: _live(feed), 5.0)
        await eventually(lambda: feed.counters.quiet_checks >= len(SYMBOLS), 5.0)
        assert feed.counters.stale_recoveries == 0
        await _books_equal_the_simulators(feed, sim)


# ---- the frame handler never raises

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                     | st.text(),
                     lambda inner: (st.lists(inner, max_size=4)
                                    | st.dictionaries(st.text(), inner, max_size=4)),
                     max_leaves=12)
_topics = st.sampled_from([f"{p}:{s}" for p in (c.TOPIC_LEVEL2, c.TOPIC_MATCH, c.TOPIC_TICKER)
                           for s in SYMBOLS]
                          + [f"{c.TOPIC_CANDLES}:BTC-USDT_1min", "", "nonsense"])
_subjects = st.sampled_from([c.SUBJECT_L2UPDATE, c.SUBJECT_MATCH, c.SUBJECT_TICKER,
                             c.SUBJECT_CANDLES, "x"])
_l2_data = st.fixed_dictionaries({
    "symbol": st.sampled_from([*SYMBOLS, "NOPE-USDT"]), "sequenceStart": st.integers(-5, 2**63),
    "sequenceEnd": st.integers(-5, 2**63),
    "changes": st.fixed_dictionaries({
        "asks": st.lists(st.lists(st.text(max_size=6), max_size=4), max_size=3),
        "bids": st.lists(st.lists(st.text(max_size=6), max_size=4), max_size=3)})})
_frames = st.one_of(
    st.text(),
    _json.map(json.dumps),
    st.builds(lambda topic, subject, data: json.dumps({"type": "message", "topic": topic,
                                                       "subject": subject, "data": data}),
              _topics, _subjects, _json | _l2_data),
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frames)
def test_on_frame_never_raises_and_counts_malformed_frames(text):
    """Arbitrary text into an unstarted feed: no exception escapes, and text that is not JSON is a
    bad frame."""
    feed = KucoinMarketFeed(KucoinRestClient("http://127.0.0.1:9"), SYMBOLS)
    feed.on_frame(text)
    assert feed.counters.frames == 1
    if not _is_json(text):
        assert feed.counters.bad_frames == 1
    assert feed.book("BTC-USDT") is None  # nothing was fetched, so nothing can be live
