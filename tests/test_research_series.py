"""Microstructure series (issue 9 item 2): known answers computed by hand for every column, OFI
against an independent pandas computation, gaps, empty intervals, the taker side, realised vol."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from dashboard.domain.models import BookSnapshot, Side, Trade
from dashboard.kucoin.client import parse
from dashboard.research.measures import (
    TopOfBook,
    depth_within,
    microprice,
    mid,
    ofi_contribution,
    queue_imbalance,
    realized_vol,
    spread_bps,
    top_of_book,
)
from dashboard.research.series import SeriesBuilder, series_frame

from .conftest import load_sample

D = Decimal
S = 1_000_000_000  # ns per second


def top(ts_ns: int, bid: str | None, bid_size: str, ask: str | None, ask_size: str) -> TopOfBook:
    return TopOfBook(ts_ns, None if bid is None else D(bid), D(bid_size),
                     None if ask is None else D(ask), D(ask_size))


def trade(ts_ns: int, side: Side, size: str, price: str = "100") -> Trade:
    return Trade("BTC-USDT", str(ts_ns), D(price), D(size), side, ts_ns)


def book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> BookSnapshot:
    return BookSnapshot("BTC-USDT", 1, tuple((D(p), D(q)) for p, q in bids),
                        tuple((D(p), D(q)) for p, q in asks))


# -- OFI contribution: every case of the non-strict inequalities ----------------------------------

@pytest.mark.parametrize(("prev", "cur", "expected"), [
    (("100", "2", "102", "5"), ("101", "3", "102", "5"), "3"),  # bid up: +q_b(n); ask 5-5
    (("100", "2", "102", "5"), ("99", "4", "102", "5"), "-2"),  # bid down: -q_b(n-1)
    (("100", "2", "102", "5"), ("100", "7", "102", "5"), "5"),  # bid same: 7 - 2
    (("100", "2", "102", "5"), ("100", "2", "101.5", "3"), "-3"),  # ask down: -q_a(n)
    (("100", "2", "102", "5"), ("100", "2", "103", "4"), "5"),  # ask up: +q_a(n-1)
    (("100", "2", "102", "5"), ("100", "2", "102", "8"), "-3"),  # ask same: -(8 - 5)
    (("100", "2", "102", "5"), ("100", "2", "102", "5"), "0"),  # nothing changed
    (("100", "2", "102", "5"), ("101", "1", "101.5", "6"), "-5"),  # both improve: +1 - 6
    ((None, "0", "102", "5"), ("100", "2", "102", "5"), "2"),  # a bid appears (from -inf)
    (("100", "2", "102", "5"), ("100", "2", None, "0"), "5"),  # the ask side empties (+inf)
], ids=["bid-up", "bid-down", "bid-same", "ask-down", "ask-up", "ask-same", "unchanged",
        "both-improve", "bid-appears", "ask-empties"])
def test_ofi_contribution(prev, cur, expected) -> None:
    """e_n follows Cont-Kukanov-Stoikov with >= and <=: equal prices give the size change."""
    assert ofi_contribution(top(0, *prev), top(1, *cur)) == D(expected)


# -- one row, every column by hand ---------------------------------------------------------------

def test_row_known_answers() -> None:
    """Every column of one interval equals the value computed by hand."""
    b = SeriesBuilder(interval_s=1.0)
    b.on_top(top(10 * S + 100, "100.00", "1", "100.02", "4"))
    b.on_top(top(10 * S + 200, "100.00", "3", "100.02", "1"))  # bid same +2, ask same +3: e = 5
    b.on_book(book([("100.00", "3"), ("99.95", "2"), ("99.90", "1"), ("99.60", "4"),
                    ("99.40", "10")],
                   [("100.02", "1"), ("100.08", "2"), ("100.15", "5"), ("100.50", "6"),
                    ("100.70", "7")]), 10 * S + 300)
    b.on_trade(trade(10 * S + 400, Side.BUY, "0.5"))
    b.on_trade(trade(10 * S + 500, Side.BUY, "1.5"))
    b.on_trade(trade(10 * S + 600, Side.SELL, "1"))
    assert len(b.rows) == 0  # nothing closed before the interval ends
    (row,) = b.advance(11 * S)
    assert row.ts_ns == 10 * S
    assert (row.best_bid, row.bid_size, row.best_ask, row.ask_size) == (
        D("100.00"), D("3"), D("100.02"), D("1"))
    assert row.mid == D("100.01")
    assert row.microprice == (D("100.00") * 1 + D("100.02") * 3) / 4 == D("100.015")
    assert row.spread_bps == D(10_000) * D("0.02") / D("100.01")
    assert row.queue_imbalance == D("0.5")  # (3 - 1) / 4
    assert row.ofi == D(5)
    # mid 100.01: 10 bps reaches 99.90999 / 100.11001, 50 bps 99.50995 / 100.51005
    assert (row.depth_bid_10bps, row.depth_ask_10bps) == (D(5), D(3))
    assert (row.depth_bid_50bps, row.depth_ask_50bps) == (D(10), D(14))
    assert (row.buy_volume, row.sell_volume) == (D(2), D(1))
    assert row.trade_imbalance == D(1) / D(3)
    assert row.realized_vol_1m is None  # no minute of history yet
    assert (row.gap, row.top_changes, row.trades) == (False, 2, 3)


def test_depth_boundary_is_inclusive() -> None:
    """A level exactly X bps from the mid counts (p >= m(1 - X/1e4), p <= m(1 + X/1e4))."""
    snapshot = book([("99.95", "1"), ("99.90", "2"), ("99.89", "4")],
                    [("100.05", "1"), ("100.10", "3"), ("100.11", "5")])
    assert depth_within(snapshot, D(10)) == (D(3), D(4))  # mid 100: 99.90 and 100.10 included
    assert depth_within(book([("99", "1")], []), D(10)) is None


class _Untouchable:
    """A price that fails any comparison: a level the depth walk must never reach."""

    def _touched(self, other: object) -> bool:
        raise AssertionError("depth_within walked past the first level beyond its bound")

    __lt__ = __le__ = __gt__ = __ge__ = _touched


def test_depth_walk_stops_at_the_first_level_past_the_bound() -> None:
    """Each side is left at its first level beyond X bps; deeper levels are never read."""
    far = (_Untouchable(), D(100))
    snapshot = BookSnapshot("BTC-USDT", 1,
                            ((D("99.99"), D(1)), (D("99.95"), D(2)), (D("99.80"), D(4)), far),
                            ((D("100.01"), D(1)), (D("100.05"), D(3)), (D("100.20"), D(5)), far))
    assert depth_within(snapshot, D(10)) == (D(3), D(4))  # mid 100: 99.90 .. 100.10


class _CountingLadder(tuple):
    """A ladder that counts how often it is walked from the top (indexing is not counted)."""

    walks = 0

    def __iter__(self):
        type(self).walks += 1
        return super().__iter__()


def test_depth_is_measured_once_per_snapshot() -> None:
    """Intervals over an unchanged snapshot reuse its depth; a new snapshot is measured anew."""
    _CountingLadder.walks = 0
    bids = _CountingLadder(((D("99.99"), D(1)), (D("99.50"), D(2))))
    asks = ((D("100.01"), D(1)), (D("100.40"), D(3)))
    b = SeriesBuilder()
    b.on_book(BookSnapshot("BTC-USDT", 1, bids, asks), 0)
    rows = b.advance(10 * S)
    assert [(r.depth_bid_10bps, r.depth_bid_50bps, r.depth_ask_50bps) for r in rows] == [
        (D(1), D(3), D(4))] * 10
    assert _CountingLadder.walks == 2  # one walk for 10 bps, one for 50 bps
    b.on_book(BookSnapshot("BTC-USDT", 2, _CountingLadder(bids[:1]), asks), 10 * S)
    (row,) = b.advance(11 * S)
    assert (row.depth_bid_50bps, _CountingLadder.walks) == (D(1), 4)


def test_microprice_is_mid_plus_spread_times_imbalance() -> None:
    """P_w = m + s (I - 1/2) with I = Q_b/(Q_a+Q_b) (section A2), on random tops (seeded)."""
    for t in _random_tops(seed=3, n=200):
        m, s = mid(t), t.best_ask - t.best_bid
        i = t.bid_size / (t.bid_size + t.ask_size)
        assert abs(microprice(t) - (m + s * (i - D("0.5")))) < D("1e-20")
        assert abs(queue_imbalance(t) - (2 * i - 1)) < D("1e-25")  # (Qb - Qa)/(Qb + Qa)
        assert spread_bps(t) == D(10_000) * s / m


def test_top_of_book_from_a_snapshot() -> None:
    """The best level of each side with its size; an empty side is None with size 0."""
    snapshot = book([("99.95", "1"), ("99.90", "2")], [])
    assert top_of_book(snapshot, 7) == TopOfBook(7, D("99.95"), D(1), None, D(0))


def test_one_sided_top_gives_no_prices() -> None:
    """With an empty ask side mid, microprice, spread and queue imbalance are None, sizes stay."""
    b = SeriesBuilder()
    b.on_top(top(0, "100", "2", None, "0"))
    (row,) = b.advance(S)
    assert (row.best_bid, row.best_ask, row.mid, row.microprice) == (D(100), None, None, None)
    assert (row.spread_bps, row.queue_imbalance) == (None, None)


# -- empty intervals, the taker side, late inputs --------------------------------------------------

def test_empty_intervals_carry_state_and_zero_flows() -> None:
    """An interval with no input carries the state forward; flows are 0, trade imbalance None."""
    b = SeriesBuilder(interval_s=0.5)
    b.on_top(top(0, "100", "2", "101", "2"))
    b.on_trade(trade(1, Side.SELL, "1"))
    rows = b.advance(2 * S)
    assert [r.ts_ns for r in rows] == [0, S // 2, S, 3 * S // 2]
    for r in rows[1:]:
        assert (r.best_bid, r.best_ask, r.mid) == (D(100), D(101), D("100.5"))
        assert (r.ofi, r.buy_volume, r.sell_volume, r.trade_imbalance) == (0, 0, 0, None)
        assert (r.top_changes, r.trades) == (0, 0)
    assert rows[0].trade_imbalance == -1
    frame = series_frame(rows)
    assert frame["trade_imbalance"].isna().tolist() == [False, True, True, True]


def test_trade_side_is_the_takers_from_a_kucoin_match() -> None:
    """A KuCoin /market/match push (side = taker) lands as buy volume; a taker sell as sell."""
    bought = parse.parse_match(load_sample("ws/match.json")["data"])
    assert bought.side is Side.BUY
    b = SeriesBuilder()
    b.on_trade(bought)
    b.on_trade(trade(bought.ts_ns + 1, Side.SELL, "0.001"))
    (row,) = b.advance(bought.ts_ns - bought.ts_ns % S + S)
    assert (row.buy_volume, row.sell_volume) == (D("0.003"), D("0.001"))
    assert row.trade_imbalance == D("0.002") / D("0.004")


def test_late_trade_counts_in_the_open_interval() -> None:
    """A trade stamped before the open interval counts there and in late_inputs."""
    b = SeriesBuilder()
    b.on_top(top(5 * S, "100", "1", "101", "1"))
    b.on_trade(trade(4 * S, Side.BUY, "2"))
    (row,) = b.advance(6 * S)
    assert (row.ts_ns, row.buy_volume, b.late_inputs) == (5 * S, D(2), 1)


def test_interval_must_be_positive() -> None:
    """A zero interval is refused."""
    with pytest.raises(ValueError, match="interval_s"):
        SeriesBuilder(interval_s=0)


# -- gaps ------------------------------------------------------------------------------------------

def test_gap_flags_overlapping_intervals_and_breaks_ofi() -> None:
    """Rows overlapping a gap are flagged (already emitted ones too); OFI skips the jump across."""
    b = SeriesBuilder()
    b.on_top(top(0, "100", "1", "101", "1"))
    b.advance(3 * S)
    changed = b.on_gap(S + S // 2, 2 * S)  # [1.5 s, 2 s] meets row 1 only
    assert [r.ts_ns for r in changed] == [S]
    b.on_top(top(3 * S + 1, "105", "9", "106", "9"))  # would be e = 9 + 1 without the gap
    b.on_top(top(3 * S + 2, "105", "10", "106", "9"))  # bid same: +1
    b.on_gap(4 * S + 10, 4 * S + 10)  # a point period lasts 1 ns
    rows = b.advance(6 * S)
    assert [r.gap for r in b.rows] == [False, True, False, False, True, False]
    assert rows[0].ofi == 1
    assert series_frame(b.rows)["gap"].dtype == bool


def test_begin_and_end_gap_flag_rows_while_open() -> None:
    """A stale period with no known end flags every row until it ends."""
    b = SeriesBuilder()
    b.on_top(top(0, "100", "1", "101", "1"))
    b.begin_gap(S + 5)
    b.advance(3 * S)
    b.end_gap(3 * S + 1)
    b.advance(5 * S)
    assert [r.gap for r in b.rows] == [False, True, True, True, False]


# -- OFI against plain pandas ----------------------------------------------------------------------

def _random_tops(seed: int, n: int) -> list[TopOfBook]:
    """A random walk of best levels on a coarse grid so equal prices are frequent."""
    rng = random.Random(seed)
    bid, ask, ts = 1000, 1002, 3 * S + 123
    tops = []
    for _ in range(n):
        ts += rng.randrange(1, S // 5)
        bid = min(bid + rng.choice((-1, 0, 0, 1)), ask - 1)
        ask = max(ask + rng.choice((-1, 0, 0, 1)), bid + 1)
        tops.append(TopOfBook(ts, D(bid) / 2, D(rng.randrange(1, 20)), D(ask) / 2,
                              D(rng.randrange(1, 20))))
    return tops


def _pandas_ofi(tops: list[TopOfBook], interval_ns: int) -> pd.Series:
    """OFI per interval from a top-of-book DataFrame with shift() and the same inequalities."""
    df = pd.DataFrame(
        [(t.ts_ns, float(t.best_bid or 0), float(t.bid_size), float(t.best_ask or 0),
          float(t.ask_size)) for t in tops],
        columns=["ts", "b", "qb", "a", "qa"])
    pb, pqb, pa, pqa = df["b"].shift(), df["qb"].shift(), df["a"].shift(), df["qa"].shift()
    e = ((df["b"] >= pb) * df["qb"] - (df["b"] <= pb) * pqb
         - (df["a"] <= pa) * df["qa"] + (df["a"] >= pa) * pqa)
    e = e.iloc[1:]  # the first record has no predecessor
    t_k = pd.to_datetime(df["ts"].iloc[1:], unit="ns", utc=True).dt.floor(pd.Timedelta(interval_ns))
    return e.groupby(pd.DatetimeIndex(t_k, name="ts")).sum()


@pytest.mark.parametrize("interval_s", [1.0, 0.25], ids=["1s", "250ms"])
def test_ofi_equals_an_independent_pandas_computation(interval_s) -> None:
    """Per-interval OFI equals diff/shift + groupby-on-floor(ts) over the same tops (seeded)."""
    tops = _random_tops(seed=9, n=400)
    b = SeriesBuilder(interval_s=interval_s)
    for t in tops:
        b.on_top(t)
    b.advance(tops[-1].ts_ns + S)
    ours = series_frame(b.rows)["ofi"]
    theirs = _pandas_ofi(tops, b.interval_ns).reindex(ours.index, fill_value=0.0)
    assert len(ours) > 20 and (ours != 0).sum() > 10
    assert ours.tolist() == theirs.tolist()  # half-ticks and whole sizes: exact in float


# -- realised volatility ---------------------------------------------------------------------------

@pytest.mark.parametrize("interval_s", [1.0, 0.25], ids=["1s", "250ms"])
def test_realized_vol_matches_numpy(interval_s) -> None:
    """realized_vol_1m = sqrt(sum of squared 1 s log mid returns over the last 60 s), as numpy."""
    rng = np.random.default_rng(1)
    mids = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, 90)))
    ticks = [D(int(m * 10_000)) / 10_000 for m in mids]  # exact mids on a 0.0001 grid
    b = SeriesBuilder(interval_s=interval_s)
    for k, m in enumerate(ticks):
        b.on_top(TopOfBook(k * S + S // 3, m - D("0.01"), D(1), m + D("0.01"), D(1)))
    b.advance(90 * S)
    per_second = [r for r in b.rows if (r.ts_ns + b.interval_ns) % S == 0]
    exact = np.array([float(m) for m in ticks])
    for k, row in enumerate(per_second):
        if k < 60:
            assert row.realized_vol_1m is None
        else:
            expected = np.sqrt(np.sum(np.diff(np.log(exact[k - 60:k + 1])) ** 2))
            assert row.realized_vol_1m == pytest.approx(expected, rel=1e-12)


def test_realized_vol_none_after_a_gap() -> None:
    """A minute whose grid includes a gap gives no volatility (its mids are not vouched for)."""
    b = SeriesBuilder()
    b.on_top(top(0, "100", "1", "101", "1"))
    b.advance(70 * S)
    assert b.rows[-1].realized_vol_1m == 0.0
    b.on_gap(70 * S, 70 * S)
    b.advance(130 * S)
    assert b.rows[-1].realized_vol_1m is None
    b.advance(131 * S)  # the window still holds the mid at 71 s, the end of the gap's row
    assert b.rows[-1].realized_vol_1m is None
    b.advance(132 * S)
    assert b.rows[-1].realized_vol_1m == 0.0
    assert realized_vol([D(1), None, D(2)]) is None
    assert realized_vol([D(1), D(math.e)]) == pytest.approx(1.0)


# -- memory and the frame --------------------------------------------------------------------------

def test_rows_are_bounded_and_a_long_silence_is_cheap() -> None:
    """At most max_rows rows (default one hour at 1 s); a day of silence emits only what is kept."""
    b = SeriesBuilder()
    assert b.rows.maxlen == 3600 and b.rows.maxlen * 1.0 >= 30 * 60
    b.on_top(top(0, "100", "1", "101", "1"))
    closed = b.on_trade(trade(86_400 * S + 5, Side.BUY, "1"))
    assert len(b.rows) == 3600 and len(closed) < 3600 + 61 + 2
    assert b.rows[-1].ts_ns == 86_399 * S and b.rows[-1].mid == D("100.5")
    assert b.rows[-1].realized_vol_1m == 0.0  # the carried mid is constant over the minute
    (row,) = b.advance(86_401 * S)
    assert (row.ts_ns, row.buy_volume) == (86_400 * S, D(1))
    closed = b.advance(10 * 86_400 * S)  # advance skips a long silence the same way
    assert len(closed) < 3600 + 61 + 2 and b.rows[-1].ts_ns == 10 * 86_400 * S - S
    assert [r.ts_ns for r in b.rows] == list(range(b.rows[0].ts_ns, 10 * 86_400 * S, S))


def test_series_frame_types() -> None:
    """ts is a UTC DatetimeIndex of interval starts; measures are float64, None is NaN."""
    b = SeriesBuilder()
    b.on_top(top(1_700_000_000 * S + 7, "100", "3", "101", "1"))
    rows = b.advance(1_700_000_002 * S)
    frame = series_frame(rows)
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert frame.index.name == "ts"
    assert frame.index[0] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")
    assert frame["mid"].dtype == np.float64 and frame["mid"].iloc[1] == 100.5
    assert frame["microprice"].iloc[0] == 100.75
    assert math.isnan(frame["depth_bid_10bps"].iloc[0])
    assert frame["top_changes"].tolist() == [1, 0]
    assert series_frame([]).empty
