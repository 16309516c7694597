"""Level-2 sync state machine (protocol.md §8.2/§8.3) and the frame parser, incl. hypothesis
fuzzing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.kucoin.client.book_sync import NEED_SNAPSHOT, L2BookSync, L2Router, SyncState
from dashboard.kucoin.client.parse_l2 import L2Update, parse_l2_frame
from dashboard.kucoin.common.errors import KucoinProtocolError

from .conftest import SAMPLES

SCENARIOS = SAMPLES / "scenarios"
D = Decimal


def _load(name: str) -> dict:
    return json.loads((SCENARIOS / name).read_text())


def _frame(start, end, asks=(), bids=(), symbol="BTC-USDT", **extra) -> str:
    data = {"sequenceStart": start, "sequenceEnd": end, "symbol": symbol,
            "changes": {"asks": [list(c) for c in asks], "bids": [list(c) for c in bids]}, **extra}
    return json.dumps({"type": "message", "topic": f"/market/level2:{symbol}",
                       "subject": "trade.l2update", "data": data})


def _upd(start, end, asks=(), bids=(), symbol="BTC-USDT") -> L2Update:
    return L2Update(symbol, start, end, [list(c) for c in asks], [list(c) for c in bids])


def _levels(rows) -> dict:
    return {D(p): D(s) for p, s in rows}


def _live_sync(seq=10, bids=(("100", "1"),), asks=(("101", "1"),), **kw) -> L2BookSync:
    sync = L2BookSync("BTC-USDT", **kw)
    assert sync.on_snapshot(str(seq), [list(b) for b in bids], [list(a) for a in asks]) is None
    assert sync.live
    return sync


# -- scenario fixtures -----------------------------------------------------------------------------


def test_docs_example_fixture():
    """KuCoin's doc example (§8.4): skip change seq <= 16, delete 3988.61, set 3988.50 to 44,
    seq 19."""
    fx = _load("l2_sync_docs_example.json")
    sync = L2BookSync(fx["symbol"])
    action = sync.on_update(parse_l2_frame(json.dumps(fx["increments"][0])))
    assert action is not None and action.kind == NEED_SNAPSHOT
    snap = fx["snapshot"]
    assert sync.on_snapshot(snap["sequence"], snap["bids"], snap["asks"]) is None
    exp = fx["expected"]
    assert sync.live and sync.book.sequence == exp["sequence"]
    assert sync.book.levels() == (_levels(exp["bids"]), _levels(exp["asks"]))


@pytest.mark.parametrize("buffered_before_snapshot", [1, 2], ids=["after-1", "after-2"])
def test_gap_constructed_fixture(buffered_before_snapshot):
    """Constructed scenario: discard, straddle, price-0, stale re-delivery, then a gap asks for a
    new snapshot."""
    fx = _load("l2_sync_gap_constructed.json")
    frames = [json.dumps(m) for m in fx["increments"]]
    router = L2Router()
    snap = fx["snapshot"]
    for i, frame in enumerate(frames[:4]):
        router.apply_frame(frame)
        if i + 1 == buffered_before_snapshot:
            applied = router.on_snapshot(fx["symbol"], snap["sequence"], snap["bids"], snap["asks"])
            assert applied is None
    sync = router[fx["symbol"]]
    exp = fx["expected_after_increment_index_3"]
    assert sync.live and sync.book.sequence == exp["sequence"]
    assert sync.book.levels() == (_levels(exp["bids"]), _levels(exp["asks"]))
    stats = sync.stats
    assert (stats.price0_skipped, stats.stale_skipped, stats.gaps) == (1, 2, 0)
    action = router.apply_frame(frames[4])
    assert action is not None and action.kind == NEED_SNAPSHOT and action.reason == "gap"
    assert not sync.live and sync.stats.gaps == 1 and len(sync.book) == 0


# -- rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("snapshot_after", [1, 3], ids=["after-1", "after-3"])
def test_buffers_and_asks_for_snapshot_once(snapshot_after):
    """Increments are buffered (book untouched); NEED_SNAPSHOT once after `snapshot_after` of
    them."""
    sync = L2BookSync("BTC-USDT", snapshot_after=snapshot_after)
    actions = [sync.on_update(_upd(i, i, bids=[("100", str(i), str(i))])) for i in range(1, 6)]
    asked = [i for i, a in enumerate(actions) if a is not None]
    assert asked == [snapshot_after - 1]
    assert sync.state == SyncState.WAITING_SNAPSHOT and len(sync.book) == 0 and not sync.live


def test_stale_snapshot_asks_again_then_bridges():
    """A snapshot older than the buffer's first start - 1 is refused (counted); a newer one
    bridges."""
    sync = L2BookSync("BTC-USDT")
    sync.on_update(_upd(20, 20, bids=[("100", "2", "20")]))
    sync.on_update(_upd(21, 21, asks=[("101", "3", "21")]))
    action = sync.on_snapshot("18", [["100", "1"]], [["101", "1"]])
    assert action is not None and action.reason == "stale_snapshot"
    assert not sync.live and sync.stats.stale_snapshots == 1 and len(sync.book) == 0
    assert sync.on_snapshot("20", [["100", "2"]], [["101", "1"]]) is None
    assert sync.live and sync.book.sequence == 21
    assert sync.book.levels() == ({D(100): D(2)}, {D(101): D(3)})


def test_snapshot_exactly_bridging_start_minus_one():
    """Snapshot S = first start - 1 is accepted (continuity: start <= S + 1)."""
    sync = L2BookSync("BTC-USDT")
    sync.on_update(_upd(20, 22, bids=[("100", "5", "21")]))
    assert sync.on_snapshot("19", [["100", "1"]], [["101", "1"]]) is None
    assert sync.book.best_bid() == (D(100), D(5)) and sync.book.sequence == 22


def test_straddling_message_applies_only_newer_changes():
    """A message with start <= S < end applies only changes with seq > S."""
    sync = L2BookSync("BTC-USDT")
    sync.on_update(_upd(8, 12, asks=[("105", "9", "8"), ("106", "4", "12")],
                        bids=[("99", "7", "10")]))
    sync.on_snapshot("10", [["100", "1"], ["99", "6"]], [["105", "2"]])
    assert sync.book.levels() == ({D(100): D(1), D(99): D(6)}, {D(105): D(2), D(106): D(4)})
    assert sync.book.sequence == 12


@pytest.mark.parametrize(("start", "end"), [(5, 10), (10, 10), (3, 7)],
                         ids=["end-eq-seq", "single", "older"])
def test_duplicate_or_stale_ignored(start, end):
    """Live: sequenceEnd <= seq is ignored and counted."""
    sync = _live_sync(10)
    assert sync.on_update(_upd(start, end, bids=[("100", "9", str(end))])) is None
    assert sync.book.best_bid() == (D(100), D(1)) and sync.stats.stale_skipped == 1


def test_reorder_is_gap_then_resync():
    """Out-of-order delivery is a gap: book cleared, update buffered, new snapshot bridges and
    replays."""
    sync = _live_sync(10)
    action = sync.on_update(_upd(12, 12, bids=[("100", "3", "12")]))  # 11 not yet seen
    assert action is not None and action.reason == "gap"
    assert not sync.live and len(sync.book) == 0
    assert sync.stats.gaps == 1 and sync.stats.resyncs == 1
    # buffered: a snapshot is already being waited for
    assert sync.on_update(_upd(11, 11, bids=[("100", "2", "11")])) is None
    assert sync.on_snapshot("11", [["100", "2"]], [["101", "1"]]) is None
    assert sync.live and sync.book.sequence == 12 and sync.book.best_bid() == (D(100), D(3))


@pytest.mark.parametrize("side", ["asks", "bids"])
def test_price_zero_skipped_but_sequence_advances(side):
    """["0", "0", seq] is a pure sequence bump: skipped, counted, seq advances."""
    sync = _live_sync(10)
    before = sync.book.levels()
    assert sync.on_update(_upd(11, 11, **{side: [("0", "0", "11")]})) is None
    assert sync.book.levels() == before and sync.book.sequence == 11
    assert sync.stats.price0_skipped == 1


def test_empty_changes_advance_sequence():
    """An increment with no changes still advances seq (§8.3)."""
    sync = _live_sync(10)
    assert sync.on_update(_upd(11, 14)) is None
    assert sync.book.sequence == 14 and sync.stats.applied == 1


def test_size_zero_deletes_level():
    """Size "0" removes the level."""
    sync = _live_sync(10)
    sync.on_update(_upd(11, 11, bids=[("100", "0", "11")]))
    assert sync.book.best_bid() is None


def test_crossed_book_resyncs():
    """A change that crosses the book is corruption: counted, book cleared, new snapshot asked
    for."""
    sync = _live_sync(10)
    action = sync.on_update(_upd(11, 11, bids=[("101.5", "1", "11")]))
    assert action is not None and action.reason == "crossed"
    assert not sync.live and len(sync.book) == 0 and sync.stats.crossed == 1
    assert sync.on_snapshot("11", [["100", "1"]], [["101", "1"]]) is None and sync.live


def test_crossed_snapshot_refused():
    """A crossed snapshot is never published."""
    sync = L2BookSync("BTC-USDT")
    action = sync.on_snapshot("5", [["102", "1"]], [["101", "1"]])
    assert action is not None and action.reason == "crossed" and not sync.live


def test_buffer_overflow_drops_oldest_and_forces_snapshot():
    """Past max_buffer the oldest increment is dropped and one fresh snapshot is forced."""
    sync = L2BookSync("BTC-USDT", max_buffer=3)
    actions = [sync.on_update(_upd(i, i)) for i in range(1, 7)]
    reasons = [a.reason if a else None for a in actions]
    assert reasons == ["initial", None, None, "overflow", None, None]
    stats = sync.stats
    assert stats.buffered == 3 and stats.buffer_overflows == 3
    # 2 and 3 were dropped: snapshot 1 cannot bridge
    assert sync.on_snapshot("1", [], []).reason == "stale_snapshot"
    assert sync.on_snapshot("3", [["1", "1"]], []) is None and sync.book.sequence == 6


def test_reset_returns_to_buffering():
    """reset() (reconnect) clears book and buffer; the next increment asks for a snapshot again."""
    sync = _live_sync(10)
    sync.reset()
    assert not sync.live and len(sync.book) == 0 and sync.state == SyncState.BUFFERING
    action = sync.on_update(_upd(50, 50))
    assert action is not None and action.reason == "initial"


def test_snapshot_while_live_is_ignored():
    """An unsolicited snapshot does not rewind a live book."""
    sync = _live_sync(10)
    sync.on_update(_upd(11, 11, bids=[("100", "4", "11")]))
    assert sync.on_snapshot("5", [["1", "1"]], []) is None
    assert sync.book.sequence == 11 and sync.book.best_bid() == (D(100), D(4))


def test_bad_change_resyncs():
    """A change the book cannot hold (bad number) invalidates the book and asks for a snapshot."""
    sync = _live_sync(10)
    action = sync.on_update(_upd(11, 11, bids=[("1.2.3", "1", "11")]))
    assert action is not None and action.reason == "bad_change" and not sync.live


def test_router_keeps_symbols_independent():
    """Symbols have independent sequences (§8.3); non-level2 frames return None."""
    router = L2Router(["A-USDT", "B-USDT"])
    for sym in ("A-USDT", "B-USDT"):
        router.apply_frame(_frame(5, 5, symbol=sym))
    router.on_snapshot("A-USDT", "5", [["1", "1"]], [["2", "1"]])
    assert router["A-USDT"].live and not router["B-USDT"].live
    assert router.apply_frame('{"type":"welcome","id":"x"}') is None
    assert router.apply_frame(_frame(6, 6, bids=[("1", "3", "6")], symbol="A-USDT")) is None
    assert router["A-USDT"].book.best_bid() == (D(1), D(3))
    action = router.apply_frame(_frame(1, 1, symbol="C-USDT"))
    assert action is not None and action.symbol == "C-USDT"


# -- parser ----------------------------------------------------------------------------------------


def test_parse_doc_frame():
    """The §7.4 example frame decodes to an L2Update with int sequences and time_ms."""
    text = ('{"topic":"/market/level2:BTC-USDT","type":"message","subject":"trade.l2update",'
            '"data":{"changes":'
            '{"asks":[["18906","0.00331","14103845"]],"bids":[["18891.9","0.15688","14103847"]]},'
            '"sequenceEnd":14103847,"sequenceStart":14103844,"symbol":"BTC-USDT",'
            '"time":1663747970273}}')
    for raw in (text, text.encode()):
        upd = parse_l2_frame(raw)
        assert upd == L2Update("BTC-USDT", 14103844, 14103847, [["18906", "0.00331", "14103845"]],
                               [["18891.9", "0.15688", "14103847"]], 1663747970273)


@pytest.mark.parametrize("text", [
    '{"type":"welcome","id":"1"}', '{"type":"ack","id":"1"}',
    '{"type":"message","subject":"trade.ticker","topic":"/market/ticker:X","data":{}}',
], ids=["welcome", "ack", "ticker"])
def test_parse_other_messages_none(text):
    """Non-l2update frames give None."""
    assert parse_l2_frame(text) is None


_GOOD = {"sequenceStart": 1, "sequenceEnd": 2, "symbol": "X", "changes": {"asks": [], "bids": []}}


@pytest.mark.parametrize("text", [
    "not json", "[1,2]", "", b"\xff\xfe",
    json.dumps({"subject": "trade.l2update"}),
    json.dumps({"subject": "trade.l2update", "data": []}),
    json.dumps({"subject": "trade.l2update", "data": {**_GOOD, "sequenceStart": "1"}}),
    json.dumps({"subject": "trade.l2update", "data": {**_GOOD, "sequenceEnd": True}}),
    json.dumps({"subject": "trade.l2update", "data": {**_GOOD, "sequenceStart": 3}}),
    json.dumps({"subject": "trade.l2update",
                "data": {**_GOOD, "changes": {"asks": [["1", "2"]], "bids": []}}}),
    json.dumps({"subject": "trade.l2update",
                "data": {**_GOOD, "changes": {"asks": [["1", "2", 3]], "bids": []}}}),
    json.dumps({"subject": "trade.l2update",
                "data": {**_GOOD, "changes": {"asks": ["abc"], "bids": []}}}),
    json.dumps({"subject": "trade.l2update",
                "data": {**_GOOD, "changes": {"asks": [], "bids": [["x", "1", "2"]]}}}),
    json.dumps({"subject": "trade.l2update", "data": {**_GOOD, "changes": {"asks": []}}}),
    json.dumps({"subject": "trade.l2update", "data": {**_GOOD, "time": "5"}}),
], ids=["text", "array", "empty", "bad-utf8", "no-data", "data-list", "start-str", "end-bool",
        "start>end", "two-fields", "int-seq", "string-change", "bad-price", "no-bids", "time-str"])
def test_parse_malformed_raises(text):
    """Malformed frames raise KucoinProtocolError."""
    with pytest.raises(KucoinProtocolError):
        parse_l2_frame(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)
_change = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["0", "1.5", "10", "7"]),
                             st.integers()),
                   min_size=0, max_size=4)
_l2ish = st.fixed_dictionaries({
    "subject": st.sampled_from(["trade.l2update", "trade.ticker"]),
    "data": st.one_of(_json, st.fixed_dictionaries({
        "sequenceStart": st.one_of(st.integers(), st.text(max_size=3), st.booleans()),
        "sequenceEnd": st.one_of(st.integers(), st.none()),
        "symbol": st.one_of(st.just("X"), st.integers()),
        "changes": st.one_of(_json, st.fixed_dictionaries({
            "asks": st.lists(_change, max_size=3), "bids": st.lists(_change, max_size=3)})),
    }, optional={"time": _json})),
})


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.binary(), _json.map(json.dumps), _l2ish.map(json.dumps),
                 _l2ish.map(lambda m: json.dumps(m).encode())))
def test_fuzz_parser_only_protocol_errors(raw):
    """Arbitrary text/bytes/JSON shapes: an L2Update or None, or KucoinProtocolError -- nothing
    else."""
    try:
        result = parse_l2_frame(raw)
    except KucoinProtocolError:
        return
    assert result is None or isinstance(result, L2Update)
    if result is not None:
        assert result.sequence_start <= result.sequence_end
        changes = result.asks + result.bids
        assert all(len(c) == 3 and all(isinstance(x, str) for x in c) for c in changes)


# -- sync fuzzing ----------------------------------------------------------------------------------


def _history(draw_changes: list[list[tuple[bool, int, int]]]):
    """A consistent exchange history: messages, and the true book after each (never crossed:
    bids < asks)."""
    seq = 100
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    msgs, states = [], [(seq, dict(bids), dict(asks))]
    for changes in draw_changes:
        start = seq + 1
        a_ch, b_ch, seen = [], [], set()
        for is_bid, level, size in changes:
            # bids 0..24.75, asks 25..49.75
            price = f"{level / 4:.2f}" if is_bid else f"{25 + level / 4:.2f}"
            if (is_bid, price) in seen:
                continue
            seen.add((is_bid, price))
            seq += 1
            size_s = "0" if size == 0 else f"{size}.5"
            (b_ch if is_bid else a_ch).append([price, size_s, str(seq)])
            side = bids if is_bid else asks
            if size == 0:
                side.pop(price, None)
            else:
                side[price] = size_s
        if (not a_ch and not b_ch) or (changes and changes[0][2] == 7):  # sometimes a price-0 bump
            seq += 1
            a_ch.append(["0", "0", str(seq)])
        msgs.append(L2Update("X", start, seq, a_ch, b_ch))
        states.append((seq, dict(bids), dict(asks)))
    return msgs, states


_hist = st.lists(st.lists(st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 7)),
                          max_size=4),
                 min_size=5, max_size=60)
_perturb = st.lists(st.sampled_from(["ok"] * 12 + ["drop", "dup", "swap"]), min_size=60,
                    max_size=60)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hist, _perturb, st.integers(1, 3))
def test_fuzz_sync_live_book_is_true_book(changes, perturb, lag):
    """Dropped/duplicated/swapped increments, snapshots at random points: whenever LIVE the book is
    exactly the exchange's book at that sequence (so never crossed)."""
    msgs, states = _history(changes)
    truth = {seq: (bids, asks) for seq, bids, asks in states}
    stream, i = [], 0
    while i < len(msgs):
        op = perturb[i]
        if op == "drop":
            i += 1
            continue
        if op == "swap" and i + 1 < len(msgs):
            stream += [i + 1, i]
            i += 2
            continue
        stream += [i, i] if op == "dup" else [i]
        i += 1
    sync = L2BookSync("X")
    pending = None  # index of the message after which the requested snapshot is taken
    for n, idx in enumerate(stream):
        action = sync.on_update(msgs[idx])
        if action is not None:
            pending = n + lag
        if pending is not None and n >= pending:
            seq, bids, asks = states[min(max(stream[: n + 1]) + 1, len(states) - 1)]
            sync.on_snapshot(str(seq), bids.items(), asks.items())
            pending = None
        if sync.live:
            bids, asks = truth[sync.book.sequence]
            assert sync.book.levels() == (_levels(bids.items()), _levels(asks.items()))
            assert not sync.book.crossed()


_any_change = st.tuples(st.sampled_from(["0", "1", "1.5", "2", "2.25", "3", "10", "bad"]),
                        st.sampled_from(["0", "0.0", "1", "2.5", "x"]), st.integers(0, 40).map(str))
_any_upd = st.builds(lambda s, n, a, b: L2Update("X", s, s + n, [list(c) for c in a],
                                                 [list(c) for c in b]),
                     st.integers(0, 30), st.integers(0, 3), st.lists(_any_change, max_size=3),
                     st.lists(_any_change, max_size=3))
_event = st.one_of(_any_upd,
                   st.tuples(st.integers(0, 35),
                             st.lists(_any_change.map(lambda c: c[:2]), max_size=3),
                             st.lists(_any_change.map(lambda c: c[:2]), max_size=3)),
                   st.just("reset"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=40), st.integers(1, 4))
def test_fuzz_sync_random_streams_never_crash_or_publish_crossed(events, max_buffer):
    """Random (often invalid) updates, snapshots and resets: no exception, never crossed while
    LIVE."""
    sync = L2BookSync("X", max_buffer=max_buffer)
    for ev in events:
        if ev == "reset":
            sync.reset()
        elif isinstance(ev, L2Update):
            sync.on_update(ev)
        else:
            sync.on_snapshot(*ev)
        if sync.live:
            assert not sync.book.crossed()
            assert sync.stats.last_sequence == sync.book.sequence
