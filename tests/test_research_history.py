"""BookHistory: each heatmap column equals the exact book at the column's end (across a resync),
trade volume lands by taker side, best bid/ask per column, the ring wraps with sound cursors,
quiet columns repeat, periods are kept and bounded."""

from __future__ import annotations

import math
import random
import sys
from decimal import Decimal

import numpy as np
import pytest

from dashboard.domain.book import OrderBook
from dashboard.domain.models import BookSnapshot, Side, Trade
from dashboard.research.history import BookHistory, Period

D = Decimal
COL = 250_000_000  # ns
MS = 1_000_000


def _expected(snap: BookSnapshot, bucket: Decimal, levels: int) -> tuple[int, dict[int, Decimal]]:
    """The column a snapshot should give, computed with plain Decimal arithmetic: the grid's row 0
    as a bucket number, and {row: exact size}."""
    mid = (snap.bids[0][0] + snap.asks[0][0]) / 2
    origin = math.floor(mid / bucket) - levels
    sums: dict[int, Decimal] = {}
    for price, size in snap.bids:
        k = math.floor(price / bucket)
        sums[k] = sums.get(k, D(0)) + size
    for price, size in snap.asks:
        k = math.ceil(price / bucket)
        sums[k] = sums.get(k, D(0)) + size
    return origin, {k - origin: s for k, s in sums.items() if 0 <= k - origin < 2 * levels}


def _assert_column(cols, i: int, snap: BookSnapshot, bucket: Decimal, levels: int) -> None:
    origin, cells = _expected(snap, bucket, levels)
    assert int(cols.origin[i]) == origin
    want = np.zeros(2 * levels, dtype=np.float32)
    for row, size in cells.items():
        want[row] = np.float32(float(size))
    np.testing.assert_array_equal(cols.sizes[i], want)
    assert cols.best_bid[i] == float(snap.bids[0][0])
    assert cols.best_ask[i] == float(snap.asks[0][0])
    assert int(cols.sequence[i]) == snap.sequence
    for row in cells:
        assert cols.price(i, row) == (origin + row) * bucket


def _random_levels(rng: random.Random, mid: int, n: int) -> tuple[list, list]:
    """n bid and n ask rows around ``mid`` (in 0.1 ticks), as KuCoin strings."""
    bids = sorted(rng.sample(range(mid - 300, mid), n), reverse=True)
    asks = sorted(rng.sample(range(mid + 1, mid + 300), n))
    size = lambda: f"{rng.randint(1, 5000) / 1000:.3f}"  # noqa: E731
    return ([[f"{t / 10:.1f}", size()] for t in bids], [[f"{t / 10:.1f}", size()] for t in asks])


def _apply_random_change(rng: random.Random, book: OrderBook) -> None:
    bid = book.best_bid_tick() or 0
    ask = book.best_ask_tick() or 0
    if rng.random() < 0.5:
        tick = bid - rng.randint(-1, 40) if bid + 1 < ask else bid - rng.randint(0, 40)
        size = "0" if rng.random() < 0.3 else f"{rng.randint(1, 9000) / 1000:.3f}"
        book.set_bid(f"{tick / 10:.1f}", size if tick < ask else "0")
    else:
        tick = ask + rng.randint(-1, 40) if bid + 1 < ask else ask + rng.randint(0, 40)
        size = "0" if rng.random() < 0.3 else f"{rng.randint(1, 9000) / 1000:.3f}"
        book.set_ask(f"{tick / 10:.1f}", size if tick > bid else "0")


def test_columns_equal_the_exact_book_at_each_column_end_across_a_resync():
    """Every column is the book as it stood at the column's end, bucketed (bids floored, asks
    ceiled) on a grid around that book's mid; a resync's new snapshot shows from its column on."""
    rng = random.Random(9)
    bucket, levels = D("0.5"), 12  # a grid narrower than the book: off-grid levels are dropped
    history = BookHistory("BTC-USDT", bucket, column_ns=COL, capacity=400, levels=levels)
    shallow = BookHistory("BTC-USDT", bucket, column_ns=COL, capacity=400, levels=levels)
    book = OrderBook("BTC-USDT", 1)
    book.load(*_random_levels(rng, 912_000, 150), sequence=1)  # deeper than 65
    at_end: dict[int, BookSnapshot] = {}  # column -> the last snapshot taken inside it
    ts = 1_700_000_000 * 10**9 + 17 * MS
    first = last = -1
    for step in range(400):
        ts += rng.randint(1, 120) * MS if step % 37 else 900 * MS  # now and then quiet columns
        if step == 200:  # a resync: the book replaced by a snapshot far away
            book.load(*_random_levels(rng, 950_000, 100), sequence=book.sequence + 500)
        else:
            _apply_random_change(rng, book)
            book.sequence += 1
        snap = book.snapshot()
        history.on_book(ts, snap)
        shallow.on_book(ts, book.snapshot((levels + 1) * 5))  # enough levels: bucket / tick = 5
        at_end[ts // COL] = snap
        first, last = (ts // COL if first < 0 else first), ts // COL
    history.advance((last + 1) * COL)
    cols = history.window(0, 2**63)
    assert list(cols.index) == list(range(first, last + 1))
    assert len(at_end) < len(cols) - 10  # the stream did leave columns without a book
    assert history.cursor == last + 1
    shown = at_end[first]
    for i, column in enumerate(cols.index):
        shown = at_end.get(int(column), shown)  # a column without a book repeats the last one
        _assert_column(cols, i, shown, bucket, levels)
    assert D(cols.best_bid[-1]) > 94_000 > D(cols.best_bid[0])  # the resync moved the grid
    shallow.advance((last + 1) * COL)
    np.testing.assert_array_equal(shallow.window(0, 2**63).sizes, cols.sizes)


def test_the_book_given_at_a_columns_end_is_not_shown_in_that_column():
    """A snapshot stamped exactly at a column's end belongs to the next column."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=10, levels=3)
    before = BookSnapshot("X", 1, ((D(10), D(1)),), ((D(11), D(1)),))
    after = BookSnapshot("X", 2, ((D(10), D(7)),), ((D(11), D(1)),))
    history.on_book(0, before)
    history.on_book(COL, after)
    history.advance(2 * COL)
    cols = history.columns(0)
    assert list(cols.sequence) == [1, 2]


def _top_book(seq: int, bid: str, ask: str) -> BookSnapshot:
    return BookSnapshot("X", seq, ((D(bid), D("1")),), ((D(ask), D("2")),))


def _trade(n: int, price: str, size: str, side: Side, ts_ns: int) -> Trade:
    return Trade("X", str(n), D(price), D(size), side, ts_ns)


def test_trade_volume_lands_in_its_column_and_bucket_by_taker_side():
    """A taker buy counts in the ceiled bucket, a taker sell in the floored one; best bid/ask
    per column follow the book."""
    bucket, levels = D("0.5"), 4
    history = BookHistory("X", bucket, column_ns=COL, capacity=10, levels=levels)
    history.on_book(0, _top_book(1, "100.0", "100.5"))  # mid 100.25 -> centre 100.0, origin 98.0
    history.on_trade(_trade(1, "100.3", "0.25", Side.BUY, 10 * MS))  # ceil -> 100.5
    history.on_trade(_trade(2, "100.5", "0.5", Side.BUY, 20 * MS))  # 100.5
    history.on_trade(_trade(3, "100.3", "1.5", Side.SELL, 30 * MS))  # floor -> 100.0
    history.on_book(COL + 1, _top_book(2, "101.0", "101.5"))  # next column: mid 101.25
    history.on_trade(_trade(4, "101.0", "2", Side.SELL, COL + 5 * MS))  # 101.0
    history.advance(2 * COL)
    cols = history.columns(0)
    assert list(cols.best_bid) == [100.0, 101.0] and list(cols.best_ask) == [100.5, 101.5]
    assert [cols.price(0, 0), cols.price(1, 0)] == [D("98.0"), D("99.0")]
    expect_buy = np.zeros((2, 2 * levels), dtype=np.float32)
    expect_sell = np.zeros((2, 2 * levels), dtype=np.float32)
    expect_buy[0, 5] = 0.75  # (100.5 - 98.0) / 0.5
    expect_sell[0, 4] = 1.5  # (100.0 - 98.0) / 0.5
    expect_sell[1, 4] = 2.0  # (101.0 - 99.0) / 0.5
    np.testing.assert_array_equal(cols.buy_volume, expect_buy)
    np.testing.assert_array_equal(cols.sell_volume, expect_sell)
    assert history.trades_outside == 0


def test_late_trades_go_to_their_own_column_and_far_ones_are_counted():
    """A trade stamped in a final column is added there; one before the ring, or off the grid,
    is counted instead of drawn."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=3, levels=2)
    history.on_book(0, _top_book(1, "10", "11"))  # mid 10.5 -> centre 10, rows 8..11
    history.advance(5 * COL)  # columns 0..4 final; ring keeps 2..4
    history.on_trade(_trade(1, "9", "3", Side.SELL, 3 * COL + 1))
    history.on_trade(_trade(2, "9", "3", Side.SELL, 1 * COL))  # fell off the ring
    history.on_trade(_trade(3, "50", "1", Side.BUY, 5 * COL))  # off the grid
    history.advance(6 * COL)
    cols = history.columns(0)
    assert list(cols.index) == [3, 4, 5]
    assert cols.sell_volume[0, 1] == 3.0 and cols.sell_volume.sum() == 3.0
    assert cols.buy_volume.sum() == 0.0
    assert (history.trades_dropped, history.trades_outside) == (1, 1)


def test_quiet_columns_repeat_the_last_state_and_columns_before_a_book_are_empty():
    """Columns with no new book show the last one; a column before any book is NaN."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=50, levels=2)
    history.advance(0)
    history.on_book(COL + 3, _top_book(4, "10", "11"))
    history.advance(7 * COL + 1)
    cols = history.columns(0)
    assert list(cols.index) == list(range(7))
    assert np.isnan(cols.sizes[0]).all() and np.isnan(cols.best_bid[0])
    for i in range(2, 7):
        np.testing.assert_array_equal(cols.sizes[i], cols.sizes[1])
    assert list(cols.sequence[1:]) == [4] * 6
    assert list(cols.sizes[1]) == [0.0, 0.0, 1.0, 2.0]  # mid 10.5: rows 8..11; bid 10, ask 11


def test_ring_wraps_dropping_the_oldest_and_cursors_hold():
    """Past capacity the oldest columns go; following the cursor yields every kept column once,
    and a cursor older than the ring is clipped to its oldest column."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=5, levels=2)
    seen: list[int] = []
    cursor = 0
    for k in range(12):
        history.on_book(k * COL, _top_book(k, "10", "11"))
        if k % 3 == 2:
            cols = history.columns(cursor)
            seen += list(cols.index)
            assert list(cols.sequence) == list(cols.index)  # each column shows its own book
            cursor = cols.next_cursor
    history.advance(12 * COL)
    seen += list(history.columns(cursor).index)
    assert seen == list(range(12))
    assert (history.oldest, history.cursor) == (7, 12)
    assert list(history.columns(0).index) == [7, 8, 9, 10, 11]
    assert list(history.columns(0).sequence) == [7, 8, 9, 10, 11]
    empty = history.columns(history.cursor)
    assert len(empty) == 0 and empty.next_cursor == 12


def test_a_silence_longer_than_the_ring_keeps_only_the_newest_columns():
    """Advancing over more than capacity columns fills only what the ring can hold."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=4, levels=2)
    history.on_book(0, _top_book(1, "10", "11"))
    history.advance(1000 * COL)
    cols = history.columns(0)
    assert list(cols.index) == [996, 997, 998, 999]
    assert list(cols.sequence) == [1, 1, 1, 1]


def test_window_selects_columns_by_start_time():
    """``window`` returns the final columns whose start lies in [start, end)."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=20, levels=2)
    history.on_book(0, _top_book(1, "10", "11"))
    history.advance(10 * COL)
    assert list(history.window(2 * COL, 5 * COL).index) == [2, 3, 4]
    assert list(history.window(2 * COL + 1, 5 * COL + 1).index) == [3, 4, 5]
    assert list(history.window(8 * COL, 99 * COL).index) == [8, 9]  # the open column is not final
    assert list(history.window(8 * COL, 99 * COL).ts_ns) == [8 * COL, 9 * COL]


def test_long_form_frame_lists_every_non_empty_cell():
    """``to_frame`` gives one row per cell with resting size or traded volume."""
    history = BookHistory("X", D("0.5"), column_ns=COL, capacity=10, levels=4)
    history.on_book(0, _top_book(1, "100.0", "100.5"))
    history.on_trade(_trade(1, "101.5", "0.5", Side.BUY, 1))
    history.advance(COL)
    frame = history.window(0, COL).to_frame()
    assert list(frame.columns) == ["ts", "price", "size", "buy_volume", "sell_volume"]
    assert frame[["price", "size", "buy_volume"]].values.tolist() == [
        [100.0, 1.0, 0.0], [100.5, 2.0, 0.0], [101.5, 0.0, 0.5],
    ]
    assert str(frame["ts"].dt.tz) == "UTC" and frame["ts"].iloc[0].value == 0


def test_periods_are_kept_filtered_by_overlap_and_bounded():
    """Periods are kept as intervals (open ones closed by end_period), selected by overlap, and
    only the newest ``max_periods`` stay."""
    history = BookHistory("X", D("1"), max_periods=3)
    history.on_period("gap", 100, 200)
    history.on_period("stale", 300)
    history.on_period("resync", 350, 400)
    history.end_period("stale", 500)
    assert history.periods() == (
        Period("gap", 100, 200), Period("stale", 300, 500), Period("resync", 350, 400),
    )
    assert history.periods(200, 360) == (Period("stale", 300, 500), Period("resync", 350, 400))
    history.on_period("reconnect", 600)
    assert history.periods(550) == (Period("reconnect", 600, None),)  # open: runs to now
    assert [p.kind for p in history.periods()] == ["stale", "resync", "reconnect"]
    with pytest.raises(ValueError):
        history.on_period("nap", 1, 2)


def test_the_fixed_memory_of_30_minutes_of_one_symbol_is_about_6_mb():
    """The default ring (7,200 columns of 2 x 100 buckets) allocates 6,048,000 bytes: float32
    sizes, four 8-byte vectors per column and one 8-byte volume reference per column."""
    history = BookHistory("X", D("0.1"))
    assert history.capacity * history.column_ns == 30 * 60 * 10**9
    assert history.levels == 100
    assert history.fixed_nbytes == 7200 * 200 * 4 + 7200 * 4 * 8 + 7200 * 8 == 6_048_000
    assert history.volume_nbytes == 0 and history.nbytes == 6_048_000


def test_volume_memory_grows_with_traded_cells_and_is_freed_when_the_ring_reuses_a_column():
    """Only non-empty volume cells are held: 12 B each plus one array header per traded column;
    a column reused by the ring drops its cells. Dense arrays come out the same."""
    header = sys.getsizeof(np.zeros(0, dtype=[("r", np.int32), ("b", np.float32)]))
    history = BookHistory("X", D("1"), column_ns=COL, capacity=3, levels=4)
    history.on_book(0, _top_book(1, "10", "11"))  # mid 10.5 -> centre 10, rows 6..13
    history.on_trade(_trade(1, "11", "1", Side.BUY, 1))
    history.on_trade(_trade(2, "10", "2", Side.SELL, 2))
    history.on_trade(_trade(3, "11", "3", Side.SELL, 3))  # the same bucket as trade 1: one cell
    history.advance(COL)
    assert history.volume_nbytes == header + 2 * 12
    history.on_trade(_trade(4, "12", "4", Side.BUY, COL + 1))
    history.advance(2 * COL)
    history.on_trade(_trade(5, "8", "5", Side.SELL, 10))  # late: a new cell in column 0
    assert history.volume_nbytes == (header + 3 * 12) + (header + 12)
    assert history.nbytes == history.fixed_nbytes + history.volume_nbytes
    cols = history.columns(0)
    assert cols.buy_volume.dtype == np.float32 and cols.buy_volume.shape == (2, 8)
    assert cols.buy_volume[0].tolist() == [0, 0, 0, 0, 0, 1, 0, 0]  # row 5: bucket 11
    assert cols.sell_volume[0].tolist() == [0, 0, 5, 0, 2, 3, 0, 0]
    assert cols.buy_volume[1].tolist() == [0, 0, 0, 0, 0, 0, 4, 0]
    history.advance(5 * COL)  # columns 2..4 reuse every slot, none traded
    assert history.volume_nbytes == 0
    assert history.columns(0).buy_volume.sum() == history.columns(0).sell_volume.sum() == 0


def test_sampling_on_a_timer_at_column_ends_gives_the_book_at_each_end():
    """``sample`` at a boundary closes the column before with the book at that instant; changes
    after the boundary show only in later columns."""
    history = BookHistory("X", D("1"), column_ns=COL, capacity=10, levels=2)
    book = OrderBook("X")
    book.load([["10", "1"]], [["12", "1"]], sequence=1)
    history.sample(0, book.snapshot())
    book.set_bid("10", "5")
    book.sequence = 2
    history.sample(COL, book.snapshot())  # the state at the end of column 0
    book.set_bid("10", "9")
    book.sequence = 3
    history.on_book(COL + 1, book.snapshot())  # inside column 1, then a quiet tick
    history.sample(2 * COL, book.snapshot())
    cols = history.columns(0)
    assert list(cols.index) == [0, 1] and list(cols.sequence) == [2, 3]
    assert [float(cols.sizes[i].max()) for i in range(2)] == [5.0, 9.0]


def test_a_bucket_must_be_a_multiple_of_the_tick():
    """The grid's step is a multiple of the symbol's tick (checked when the tick is given)."""
    BookHistory("X", D("0.5"), tick=D("0.1"))
    with pytest.raises(ValueError, match="multiple"):
        BookHistory("X", D("0.25"), tick=D("0.1"))
