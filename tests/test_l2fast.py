"""The compiled level-2 hot path (``kucoin/client/_l2fast.c``) against the pure-Python path.

The compiled path must either do exactly what the Python path does, or hand the frame back
(FALLBACK) having changed nothing. Checked three ways: direct calls on hand-made frames (handled vs
handed back), a hypothesis differential run (random frame streams, valid and broken, fed to both
routers, every observable compared after every frame), and a run of the book tests with the
compiled modules switched off (``DASHBOARD_PURE_PYTHON=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.domain import book as book_module
from dashboard.kucoin.client import book_sync
from dashboard.kucoin.client.book_sync import L2Router

ROOT = Path(__file__).resolve().parent.parent
PURE = os.environ.get("DASHBOARD_PURE_PYTHON", "") not in ("", "0")


def test_compiled_modules_are_built_unless_switched_off():
    """`pip install -e .` compiles both extensions; DASHBOARD_PURE_PYTHON=1 switches them off."""
    if PURE:
        assert not book_sync.NATIVE
        assert book_module.BookCore is book_module._PyBookCore
    else:
        assert book_sync.NATIVE, ("the compiled level-2 path is missing: "
                                  "run `pip install -e .` (needs gcc)")
        assert book_module.BookCore.__module__ == "dashboard.domain._bookcore"
        assert book_sync.L2BookSync.__mro__[1].__name__ == "SyncCore"


needs_native = pytest.mark.skipif(not book_sync.NATIVE,
                                  reason="compiled path switched off (DASHBOARD_PURE_PYTHON)")


def frame(symbol="A-USDT", start=11, end=11, asks=(), bids=(), **extra) -> str:
    data = {"sequenceStart": start, "symbol": symbol, "changes": {"asks": [list(c) for c in asks],
                                                                  "bids": [list(c) for c in bids]},
            "sequenceEnd": end, "time": 1700000000000}
    data.update(extra)
    return json.dumps({"type": "message", "topic": f"/market/level2:{symbol}",
                       "subject": "trade.l2update", "data": data})


def live_router(native: bool, symbols=("A-USDT",), seq=10) -> L2Router:
    router = L2Router(symbols, native=native)
    for s in symbols:
        bids, asks = [["99.5", "1"], ["99", "2"]], [["100.5", "1"], ["101", "3"]]
        assert router.on_snapshot(s, seq, bids, asks) is None
    return router


def observe(router: L2Router) -> dict:
    out = {}
    for symbol, sync in sorted(router.syncs.items()):
        bk = sync.book
        # the heap layout too, taken before best_* pops anything
        heaps = (list(bk._bid_heap), list(bk._ask_heap))
        out[symbol] = (sync.stats, sync.state, bk.levels(), bk.sequence, bk.price_scale, heaps,
                       bk.best_bid_tick(), bk.best_ask_tick())
    return out


@needs_native
def test_handles_a_contiguous_frame_itself():
    router = live_router(True)
    sync = router["A-USDT"]
    text = frame(start=11, end=12, asks=[["100.5", "0", "11"], ["100.7", "4", "12"]],
                 bids=[["99.5", "2.50", "12"]])
    assert book_sync._l2fast.apply_frame(text, router.syncs) is None
    bids, asks = sync.book.levels()
    assert sync.book.sequence == 12 and sync.stats.applied == 1
    assert asks == {Decimal("100.7"): Decimal("4"), Decimal("101"): Decimal("3")}
    assert bids == {Decimal("99.5"): Decimal("2.50"), Decimal("99"): Decimal("2")}
    assert sync.book._bids[995] == "2.50"  # the exact wire spelling is kept
    # bytes too; the frame is now stale
    assert book_sync._l2fast.apply_frame(text.encode(), router.syncs) is None
    assert sync.stats.stale_skipped == 1
    # receive bookkeeping, on time.monotonic()'s clock; latency from data.time (1700000000000: long
    # ago)
    assert 0 < time.monotonic() - sync.last_receive < 5
    assert abs(sync.latency_ms - (time.time() * 1000 - 1_700_000_000_000)) < 5_000


@pytest.mark.parametrize("native", [True, False])
def test_receive_bookkeeping_on_both_paths(native):
    router = live_router(native)
    sync = router["A-USDT"]
    assert sync.last_receive == 0.0 and sync.latency_ms is None
    now_ms = int(time.time() * 1000)
    router.apply_frame(frame(time=now_ms - 250))
    assert 0 < time.monotonic() - sync.last_receive < 5 and 200 < sync.latency_ms < 2_000
    router.apply_frame(frame(start=12, end=12, time=now_ms - 250 - 10_000))
    assert 300 < sync.latency_ms < 2_000  # an EWMA: one late frame moves it by 1%


@needs_native
@pytest.mark.parametrize("text", [
    frame(start=13, end=13, asks=[["100.6", "1", "13"]]),  # gap
    frame(start=10, end=12, asks=[["100.6", "1", "11"]]),  # straddles the book's sequence
    frame(asks=[["100.55", "1", "11"]]),  # more decimals than the book's scale: Python rescales
    frame(asks=[["100.6", "1e3", "11"]]),  # malformed size
    frame(asks=[["1e2", "1", "11"]]),  # rare price spelling (Decimal in Python)
    frame(asks=[["100.6", 1, "11"]]),  # a number where a string belongs
    frame(symbol="B-USDT"),  # first sight of a symbol
    frame(symbol="A\\u002dUSDT").replace("\\\\", "\\"),  # an escape: same symbol after decoding
    frame(start="11"),  # ill-typed sequence
    frame(start=12, end=11),  # start > end
    frame() + "x",  # trailing garbage
    frame().replace('"data"', '"data":{}, "data"', 1),  # duplicate key
    frame().replace("trade.l2update", "trade.ticker"),  # another subject
    "[1, 2]", "", "{", "null",
])
def test_hands_back_everything_else_untouched(text):
    router = live_router(True)
    before = observe(router)
    assert book_sync._l2fast.apply_frame(text, router.syncs) is book_sync.FALLBACK
    assert observe(router) == before


@needs_native
def test_crossed_book_is_returned_for_the_resync():
    router = live_router(True)
    sync = router["A-USDT"]
    text = frame(bids=[["100.5", "1", "11"]])  # bid at the best ask
    assert book_sync._l2fast.apply_frame(text, router.syncs) is sync
    router2 = live_router(True)
    action = router2.apply_frame(text)
    assert action is not None and action.reason == "crossed"
    assert router2["A-USDT"].stats.crossed == 1


# ------------------------------------------------------------------------------------- differential
# Mostly frames the compiled path handles (so that it really runs: see test_differential_mix below),
# with every kind of frame it must hand back mixed in. Bids sit below asks, except now and then (a
# crossed book).
_BID_PRICES = ["98", "98.75", "99", "99.5", "99.50", "99.0", "0", "007", "97.", "0.0"]
_ASK_PRICES = ["100", "100.5", "100.0", "101", "100.25", "102", "0", "0100.5"]
_ODD_PRICES = ["", ".5", "1e2", "abc", "100.5.1", "-1", "99.9999999999999999999",
               "12345678901234567890", "100.125"]
_SIZES = ["1", "2", "0", "0.0", "0.000", "2.5", "3.10", ".5", "5.", "00", "10000.00000001"]
_ODD_SIZES = ["", "1e3", "-1", "1..2", "x", " 1", "."]


@st.composite
def _change(draw, side: str):
    kind = draw(st.integers(0, 99))
    own, other = (_BID_PRICES, _ASK_PRICES) if side == "bids" else (_ASK_PRICES, _BID_PRICES)
    price = draw(st.sampled_from(_ODD_PRICES if kind == 0 else other if kind == 1 else own))
    size = draw(st.sampled_from(_ODD_SIZES if kind == 2 else _SIZES))
    c = [price, size, str(draw(st.integers(0, 60)))]
    if kind == 3:
        return draw(st.sampled_from([c[:2], [*c, "x"], [c[0], 1, c[2]], {"p": 1}]))
    return c


_MUTATIONS = ["none"] * 40 + ["bytes", "escape", "dup", "float", "neg", "huge", "subject",
                              "trailing", "cut", "ws", "nonascii"]


@st.composite
def _frame_text(draw, seqs: dict):
    symbol = draw(st.sampled_from(["A-USDT", "A-USDT", "B-USDT", "C-USDT"]))
    base = seqs.get(symbol, 10)
    start = base + draw(st.sampled_from([1] * 30 + [0, -1, -3, 2, 4]))
    end = start + draw(st.sampled_from([0, 0, 0, 1, 2, -1]))
    seqs[symbol] = max(base, end)
    asks = draw(st.lists(_change("asks"), max_size=4))
    bids = draw(st.lists(_change("bids"), max_size=4))
    data = {"symbol": symbol, "sequenceStart": start, "sequenceEnd": end,
            "changes": {"asks": asks, "bids": bids}, "time": 1}
    keys = draw(st.permutations(list(data)))
    data = {k: data[k] for k in keys}
    if draw(st.booleans()):
        del data["time"]
    msg = {"type": "message", "topic": "/market/level2:" + symbol, "subject": "trade.l2update",
           "data": data}
    text = json.dumps(msg, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    mutate = draw(st.sampled_from(_MUTATIONS))
    if mutate == "none":
        return text
    if mutate == "bytes":
        return text.encode()
    if mutate == "escape":
        return text.replace('"A-USDT"', '"A\\u002dUSDT"')
    if mutate == "dup":
        return text.replace('"symbol"', '"symbol": "B-USDT", "symbol"', 1)
    if mutate == "float":
        return text.replace(f'"sequenceEnd": {end}', f'"sequenceEnd": {end}.0').replace(
            f'"sequenceEnd":{end}', f'"sequenceEnd":{end}.0')
    if mutate == "neg":
        return text.replace(f'"sequenceStart": {start}', f'"sequenceStart": -{start}').replace(
            f'"sequenceStart":{start}', f'"sequenceStart":-{start}')
    if mutate == "huge":
        return text.replace('"time": 1', '"time": 123456789012345678901234').replace(
            '"time":1', '"time":1e400')
    if mutate == "subject":
        return text.replace("trade.l2update", "trade.l2Update")
    if mutate == "trailing":
        return text + draw(st.sampled_from([" ", "\n", "x", "{}"]))
    if mutate == "cut":
        return text[: draw(st.integers(0, len(text) - 1))]
    if mutate == "ws":
        return "\t\r\n " + text.replace(":", " : ") + "\n"
    return text.replace('"message"', '"m\u00e9ssage"')  # nonascii


@st.composite
def _script(draw):
    seqs: dict = {}
    ops = []
    for _ in range(draw(st.integers(1, 40))):
        if draw(st.integers(0, 2)) == 0:
            symbol = draw(st.sampled_from(["A-USDT", "B-USDT", "C-USDT"]))
            snap_seq = seqs.get(symbol, 10) + draw(st.sampled_from([0, 0, 0, -1, -5, 1]))
            bid_levels = st.tuples(st.sampled_from(["98", "99", "99.5", "97.25"]),
                                   st.sampled_from(["1", "2.5"]))
            ask_levels = st.tuples(st.sampled_from(["100.5", "101", "102"]),
                                   st.sampled_from(["1", "0.5"]))
            bids = [[p, s] for p, s in draw(st.lists(bid_levels, max_size=3))]
            asks = [[p, s] for p, s in draw(st.lists(ask_levels, max_size=3))]
            ops.append(("snapshot", symbol, snap_seq, bids, asks))
        else:
            ops.append(("frame", draw(_frame_text(seqs))))
    return ops


def _run(router: L2Router, op) -> object:
    try:
        if op[0] == "snapshot":
            return ("ok", router.on_snapshot(*op[1:]))
        return ("ok", router.apply_frame(op[1]))
    except Exception as exc:  # compared, not swallowed
        return ("raised", type(exc).__name__, str(exc))


def test_compiled_and_python_paths_agree():
    """Every return value, exception, book level, heap layout, sequence and counter equal after
    every step, over a mix in which the compiled path both handles frames and hands them back
    (both counted)."""
    seen: Counter[str] = Counter()

    def counting(text, syncs):
        result = book_sync._native_apply(text, syncs)
        seen["fallback" if result is book_sync.FALLBACK else "handled"] += 1
        return result

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_script(), st.integers(0, 2))
    def check(script, scale):
        fast = L2Router(price_scale=scale, native=True)
        if fast._native is not None:
            fast._native = counting
        slow = L2Router(price_scale=scale, native=False)
        for op in script:
            assert _run(fast, op) == _run(slow, op), op
            assert observe(fast) == observe(slow), op

    check()
    if book_sync.NATIVE:
        # typically ~1,000 handled and ~4,000 handed back
        assert seen["handled"] >= 300 and seen["fallback"] >= 300, seen


_VALID = frame(start=11, end=12, asks=[["100.5", "0", "11"], ["100.7", "4", "12"]],
               bids=[["99.5", "2.50", "12"]])


@st.composite
def _flipped(draw):
    """A valid frame with a few bytes replaced, inserted or deleted (what a hand-written scanner
    gets wrong)."""
    raw = bytearray(_VALID.encode())
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(raw) - 1))
        op = draw(st.integers(0, 2))
        byte = draw(st.sampled_from(b'{}[]",:0123456789.-eE \\x\x00\xc3\x80'))
        if op == 0:
            raw[i] = byte
        elif op == 1:
            raw.insert(i, byte)
        else:
            del raw[i]
    data = bytes(raw)
    if draw(st.booleans()):
        return data
    return data.decode("utf-8", "replace")


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_flipped(), st.text(max_size=300), st.binary(max_size=300)))
def test_fuzzed_frames_same_outcome_on_both_paths(raw):
    """Random and byte-flipped frames against live books: the same result or exception, the same
    books."""
    fast, slow = live_router(True), live_router(False)
    assert _run(fast, ("frame", raw)) == _run(slow, ("frame", raw))
    assert observe(fast) == observe(slow)


def test_long_churn_rebuilds_heaps_identically():
    """Levels added and deleted at ever new prices: the lazy-deletion heaps outgrow the book and get
    rebuilt (OrderBook's 2 x levels + 64 rule) -- with the same layout on both paths."""
    fast, slow = live_router(True), live_router(False)
    frames = []
    for i in range(400):
        seq = 11 + i
        ask, bid = f"{102 + i * 0.5:.1f}", f"{98 - i * 0.1:.1f}"
        gone_ask, gone_bid = f"{102 + (i - 1) * 0.5:.1f}", f"{98 - (i - 1) * 0.1:.1f}"
        frames.append(frame(start=seq, end=seq,
                            asks=[[ask, "1", str(seq)], [gone_ask, "0", str(seq)]],
                            bids=[[bid, "2", str(seq)], [gone_bid, "0", str(seq)]]))
    rebuilt = 0
    for text in frames:
        heap_before = fast["A-USDT"].book._ask_heap
        assert fast.apply_frame(text) == slow.apply_frame(text)
        rebuilt += fast["A-USDT"].book._ask_heap is not heap_before
        assert [list(b._bid_heap) for b in (fast["A-USDT"].book, slow["A-USDT"].book)] == [
            list(slow["A-USDT"].book._bid_heap)] * 2
    assert rebuilt >= 2
    assert observe(fast) == observe(slow)


def test_pure_python_build_passes_the_book_tests():
    """The same book tests with the compiled modules switched off: the fallback must stay a working
    product."""
    if PURE:
        pytest.skip("already running with DASHBOARD_PURE_PYTHON=1")
    env = {**os.environ, "DASHBOARD_PURE_PYTHON": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_l2fast.py",
         "tests/test_book.py", "tests/test_book_sync.py", "tests/test_captures.py",
         "-k", "not test_pure_python_build"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
