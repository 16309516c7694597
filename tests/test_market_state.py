"""The sans-I/O feed core (``KucoinMarketState``): plain frames in, a fake clock, no event loop.

The compiled level-2 path stamps receipts on the real monotonic clock, so these tests keep it out
(``native=False``); tests/test_l2fast.py holds the two paths equal.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from dashboard.domain.models import FeedState
from dashboard.kucoin.client.book_sync import NEED_SNAPSHOT
from dashboard.kucoin.client.market_state import KucoinMarketState
from dashboard.kucoin.client.parse import parse_symbols

from .conftest import load_sample

SYM, OTHER = "BTC-USDT", "ETH-USDT"


class FakeClock:
    """Monotonic seconds that move only when told; the wall clock a fixed epoch ahead."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1_700_000_000.0 + self.t


def _frame(start, end, asks=(), bids=(), symbol=SYM) -> str:
    data = {"sequenceStart": start, "sequenceEnd": end, "symbol": symbol,
            "changes": {"asks": [list(c) for c in asks], "bids": [list(c) for c in bids]}}
    return json.dumps({"type": "message", "topic": f"/market/level2:{symbol}",
                       "subject": "trade.l2update", "data": data})


def _instruments(*symbols):
    return parse_symbols([_symbol_row(s) for s in symbols])


def _symbol_row(symbol: str) -> dict:
    base, quote = symbol.split("-")
    return {"symbol": symbol, "name": symbol, "baseCurrency": base, "quoteCurrency": quote,
            "market": quote, "baseMinSize": "0.00001", "quoteMinSize": "0.1",
            "baseMaxSize": "10000", "quoteMaxSize": "99999999", "baseIncrement": "0.00000001",
            "quoteIncrement": "0.000001", "priceIncrement": "0.1", "priceLimitRate": "0.1",
            "minFunds": "0.1", "isMarginEnabled": True, "enableTrading": True,
            "feeCategory": 1, "makerFeeCoefficient": "1.00", "takerFeeCoefficient": "1.00",
            "st": False}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _state(clock: FakeClock, symbols=(SYM,), **kw) -> KucoinMarketState:
    state = KucoinMarketState(symbols, clock=clock, wall_clock=clock.wall, native=False, **kw)
    state.set_instruments(_instruments(*symbols))
    return state


def _live(state: KucoinMarketState, symbol: str = SYM, seq: int = 10) -> None:
    state.on_frame(_frame(seq + 1, seq + 1, bids=[("99", "1", str(seq + 1))], symbol=symbol))
    assert state.on_snapshot(symbol, seq, [["99", "2"]], [["101", "3"]]) is None


def test_first_increment_asks_for_a_snapshot_which_makes_the_book_live(clock):
    """Buffering asks for the first snapshot; it bridges the buffer and the book goes live."""
    state = _state(clock)
    action = state.on_frame(_frame(11, 11, bids=[("99", "1", "11")]))
    assert action is not None and (action.kind, action.symbol, action.reason) == (
        NEED_SNAPSHOT, SYM, "initial")
    assert state.book(SYM) is None and state.status().state is FeedState.SYNCING
    clock.t += 2.5
    assert state.on_snapshot(SYM, 10, [["99", "2"]], [["101", "3"]]) is None
    book = state.book(SYM)
    assert book is not None and book.sequence == 11
    assert state.status().state is FeedState.LIVE
    assert list(state.counters.recovery_times_s) == [2.5]  # measured on the given clock


def test_a_gap_voids_the_book_and_asks_again(clock):
    """A skipped sequence is a gap: the book is void, the status says resyncing."""
    state = _state(clock)
    _live(state)
    action = state.on_frame(_frame(15, 15, asks=[("101", "1", "15")]))
    assert action is not None and action.reason == "gap"
    assert state.book(SYM) is None
    status = state.status()
    assert (status.state, status.gaps, status.resyncs) == (FeedState.RESYNCING, 1, 1)


def test_trades_tickers_and_candles_from_frames(clock):
    """Match, ticker and candle pushes land in the tape, ticker and candles."""
    state = _state(clock)
    state.on_frame(json.dumps(load_sample("ws/match.json")))
    state.on_frame(json.dumps(load_sample("ws/ticker.json")))
    state.on_frame(json.dumps(load_sample("ws/candles.json")))
    assert [t.price for t in state.trades(SYM)] == [D("67523")]
    assert state.ticker(SYM) is not None
    candles = load_sample("ws/candles.json")
    interval = candles["topic"].rpartition("_")[2]
    assert len(state.candles(candles["data"]["symbol"], interval)) == 1
    assert state.counters.frames == 3 and state.counters.bad_frames == 0


def test_bad_frames_are_counted_and_skipped(clock):
    """Malformed frames never raise into the driver; each is counted once."""
    state = _state(clock)
    for text in ("{", '{"topic": 5}', _frame(3, 2), '{"topic":"/market/match:X","data":{}}'):
        assert state.on_frame(text) is None
    assert state.counters.frames == 4 and state.counters.bad_frames == 4


def test_candle_history_goes_under_live_bars(clock):
    """REST history merges under the live bars: a live bar wins at the same start."""
    state = _state(clock)
    push = load_sample("ws/candles.json")
    state.on_frame(json.dumps(push))
    symbol, interval = push["data"]["symbol"], push["topic"].rpartition("_")[2]
    live = state.candles(symbol, interval)[-1]
    older = live.__class__(symbol, interval, live.start_s - 60, *[D(1)] * 4, D(1), D(1))
    same = live.__class__(symbol, interval, live.start_s, *[D(2)] * 4, D(1), D(1))
    state.on_candle_history(symbol, interval, [older, same])
    assert state.candles(symbol, interval) == [older, live]


def test_disconnect_voids_every_book_and_resubscription_asks_for_snapshots(clock):
    """A lost connection voids every book (§8.3); once resubscribed, each wants a snapshot."""
    state = _state(clock, (SYM, OTHER))
    _live(state, SYM)
    _live(state, OTHER)
    state.on_disconnected()
    assert state.book(SYM) is None and state.book(OTHER) is None
    assert state.on_subscribed() == [SYM, OTHER]


def test_silence_is_judged_against_the_exchanges_sequence(clock):
    """Silence past the limit: a quiet market (their sequence not ahead) keeps the book; a moved
    market resets it for a resubscription."""
    state = _state(clock)
    state.on_subscribed()
    _live(state)
    assert state.silent(10.0) == []
    clock.t += 11
    [(symbol, since)] = state.silent(10.0)
    assert symbol == SYM
    assert state.judge_silence(SYM, since, theirs=11) is False  # quiet: nothing we missed
    assert state.counters.quiet_checks == 1 and state.book(SYM) is not None
    assert state.silent(10.0) == []  # measured again from the check
    clock.t += 11
    [(_, since)] = state.silent(10.0)
    assert state.judge_silence(SYM, since, theirs=50) is True
    assert state.counters.stale_recoveries == 1 and state.book(SYM) is None


def test_a_frame_during_the_check_means_not_silent(clock):
    """A frame that arrived while the exchange was asked wins over the answer."""
    state = _state(clock)
    _live(state)
    clock.t += 11
    [(_, since)] = state.silent(10.0)
    clock.t += 0.5
    state.on_frame(_frame(12, 12, bids=[("99", "4", "12")]))
    assert state.judge_silence(SYM, since, theirs=99) is False
    assert state.counters.stale_recoveries == 0 and state.book(SYM) is not None


def test_unknown_symbols_leave_and_are_named(clock):
    """A symbol the exchange does not list is dropped and named; the others are followed."""
    state = KucoinMarketState(["NOPE-USDT", SYM], clock=clock, wall_clock=clock.wall,
                              native=False)
    assert state.set_instruments(_instruments(SYM, OTHER)) == ["NOPE-USDT"]
    assert state.symbols == [SYM] and set(state.instruments()) == {SYM}
    _live(state)
    status = state.status()
    assert status.state is FeedState.LIVE
    assert status.per_symbol == {"NOPE-USDT": "unknown", SYM: "live"}
    assert state.on_frame(_frame(1, 1, symbol="NOPE-USDT")) is None  # not ours: ignored


def test_depth_pushes_are_the_book(clock):
    """With depth5 as the source, each push is the whole (top-N) book, stamped on the wall clock."""
    push = load_sample("ws/level2_depth5.json")
    symbol = push["topic"].partition(":")[2]
    state = _state(clock, (symbol,), book_source="depth5")
    assert state.status().state is FeedState.SYNCING
    state.on_frame(json.dumps(push))
    book = state.book(symbol)
    assert book is not None and book.ts_ms == int(clock.wall() * 1000)
    assert state.status().state is FeedState.LIVE and state.on_subscribed() == []


def test_message_rate_follows_the_clock(clock):
    """msg/s counts the frames of the last whole seconds of the given clock."""
    state = _state(clock)
    for second in range(3):
        clock.t = 200.0 + second
        for _ in range(10):
            state.on_frame('{"type":"message","topic":"/market/ticker:X","data":{}}')
    clock.t = 203.0
    assert state.status().msgs_per_s == pytest.approx(10.0)
