"""Property-based fuzzing of the simulator's inputs: whatever arrives, the answer is KuCoin's
envelope (never a 500 with a traceback), and a WebSocket connection survives any text frame."""

from __future__ import annotations

import json

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.simulator.rest import ROUTES
from dashboard.simulator.server import SimConfig, Simulator

from .simhelpers import Rest, Ws

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False)) as s:
        s.limiter.quotas = {k: 10**9 for k in s.limiter.quotas}
        yield s


@pytest.fixture
async def rest(sim):
    async with aiohttp.ClientSession() as session:
        yield Rest(session, sim.base_url, sim.demo)


SAFE = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#%&?/+ "),
    max_size=12,
)
VALUES = st.one_of(
    SAFE, st.sampled_from(["BTC-USDT", "ETH-BTC", "0", "-1", "1e9", "NaN", "", "true"])
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), VALUES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE, inner, max_size=3),
    max_leaves=8,
)
BODY_KEYS = st.sampled_from(["symbol", "side", "type", "price", "size", "funds", "clientOid",
                             "timeInForce", "postOnly", "cancelAfter", "hidden", "stp"])


def _fill(path: str, value: str) -> str:
    out = path
    for name in ("{symbol}", "{currency}", "{order_id}", "{client_oid}", "{account_id}"):
        out = out.replace(name, value or "x")
    return out


@FUZZ
@given(route=st.sampled_from(ROUTES), params=st.dictionaries(st.sampled_from(
    ["symbol", "type", "startAt", "endAt", "currency", "lastId", "limit", "pageSize",
     "currentPage", "status", "side", "symbols", "orderId"]), VALUES, max_size=4),
    body=st.dictionaries(BODY_KEYS, JSONISH, max_size=6), path_value=SAFE)
async def test_every_route_answers_with_an_envelope(rest, route, params, body, path_value):
    """Random params and bodies on every route: JSON envelope with a string code, never HTTP 500."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    path = _fill(route.path, path_value) + (f"?{query}" if query else "")
    status, _, payload = await rest.call(
        route.method, path, body if route.method == "POST" else None
    )
    assert status != 500, payload
    assert isinstance(payload["code"], str)
    assert payload["code"] == "200000" or payload.get("msg"), payload


@FUZZ
@given(frame=st.one_of(st.text(max_size=200), JSONISH.map(json.dumps),
                       st.fixed_dictionaries({"id": JSONISH, "type": st.sampled_from(
                           ["subscribe", "unsubscribe", "ping", "x"]), "topic": JSONISH,
                           "response": JSONISH}).map(json.dumps)))
async def test_websocket_survives_any_text_frame(sim, rest, frame):
    """Any text frame gets a pong/ack/error or nothing, and the connection still answers pings."""
    ws = await Ws.connect(rest)
    await ws.send(frame)
    await ws.send({"id": "after", "type": "ping"})
    pong = await ws.recv_until(lambda f: f.get("type") == "pong" and f.get("id") == "after")
    assert pong == {"id": "after", "type": "pong"}
    await ws.close()
