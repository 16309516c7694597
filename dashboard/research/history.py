"""Book history for the liquidity heatmap: a sans-I/O ring of fixed-width time columns per symbol.

Each column holds the resting size per price bucket on a grid of ``2 x levels`` buckets centred on
the mid, the traded buy/sell volume per bucket (by taker side), and the best bid/ask. Timestamps are
passed in; nothing here reads a clock, sleeps or does I/O, so the hub (or a replay, or a test)
drives it. The feed's gap, resync, reconnect and stale periods are kept beside it as intervals
(``periods.Period``, fed as ``SeriesBuilder`` takes them).

The sampling rule: column ``k`` covers ``[k * column_ns, (k + 1) * column_ns)`` and shows the book
as it stood at the column's END, i.e. the last snapshot given with a ts inside the column, or the
one in effect before it when none came (a quiet column repeats the last state). A column is final
once an event (or ``advance``) at or past its end arrives; ``columns(since)`` returns only final
columns. The grid of a column is centred on the mid of that same end-of-column book.

The bucket rule (bids floored, asks ceiled) is ``dashboard.domain.buckets.bucket_price``; a trade
is bucketed by the side of the book it hit: a taker buy lifts asks (ceiled), a taker sell hits
bids (floored). Sizes are summed exactly (Decimal) per bucket, then stored as float32 for drawing.

Memory: the fixed part is allocated at construction (``fixed_nbytes``). With the defaults
(7,200 columns of 250 ms = 30 min, 2 x 100 buckets) one symbol takes 7,200 x 200 x 4 B = 5.76 MB
for the sizes, 7,200 x 32 B = 230,400 B for the per-column vectors and 7,200 x 8 B = 57,600 B for
the table of volume cells: 6,048,000 B. Traded volume is sparse (most cells of most columns see no
trade), so only the non-empty cells are held, per column one small array of (row, buy, sell) at
12 B a cell plus a 112 B array header; it grows with the trades (``volume_nbytes``) and is freed
when the ring reuses the column. ``nbytes`` is the sum of both.

Imports ``dashboard.domain``, ``research.history_frames``/``measures``/``periods``, numpy and
the stdlib only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from dashboard.domain.buckets import bucket_price
from dashboard.domain.models import BookSnapshot, Side, Trade
from dashboard.research.history_frames import HistoryColumns
from dashboard.research.measures import book_mid
from dashboard.research.periods import PERIOD_KINDS, Period, PeriodLog, as_period

__all__ = ["PERIOD_KINDS", "BookHistory", "HistoryColumns", "Period"]

_Row = tuple[np.ndarray, int, float, float, int]  # sizes, origin, best bid, best ask, sequence
# One traded cell of a column: its grid row and the buy/sell volume there (rows sorted, unique).
_CELL = np.dtype([("row", np.int32), ("buy", np.float32), ("sell", np.float32)])


@dataclass(slots=True)
class _OpenTrades:
    """Volume traded in the open column, exact, by bucket index (price / bucket)."""

    buy: dict[int, Decimal]
    sell: dict[int, Decimal]


class BookHistory:
    """The heatmap history of one symbol (see the module docstring for the sampling rule).

    ``bucket`` is the price step of the grid, a multiple of the symbol's ``tick`` (checked when
    given); ``levels`` buckets on each side of the mid's bucket; ``capacity`` columns of
    ``column_ns`` each (defaults: 30 min of 250 ms columns); the newest ``max_periods`` periods.
    A snapshot needs only the levels that reach the grid: ``book.snapshot(n)`` with
    n >= (levels + 1) x bucket / tick gives every column exactly.
    """

    def __init__(
        self,
        symbol: str,
        bucket: Decimal,
        *,
        tick: Decimal | None = None,
        column_ns: int = 250_000_000,
        capacity: int = 7200,
        levels: int = 100,
        max_periods: int = 1000,
    ) -> None:
        if bucket <= 0 or column_ns <= 0 or capacity <= 0 or levels <= 0:
            raise ValueError("bucket, column_ns, capacity and levels must be > 0")
        if tick is not None and (tick <= 0 or bucket % tick):
            raise ValueError(f"bucket {bucket} is not a multiple of the tick {tick}")
        self.symbol = symbol
        self.bucket = bucket
        self.column_ns = column_ns
        self.capacity = capacity
        self.levels = levels
        rows = 2 * levels
        self._sizes = np.full((capacity, rows), np.nan, dtype=np.float32)
        self._cells = np.full(capacity, None, dtype=object)  # per slot: a _CELL array or None
        self._origin = np.zeros(capacity, dtype=np.int64)  # bucket index of row 0
        self._best_bid = np.full(capacity, np.nan)
        self._best_ask = np.full(capacity, np.nan)
        self._sequence = np.zeros(capacity, dtype=np.int64)
        self._open: int | None = None  # index of the column still taking events
        self._cursor = 0  # index of the next column to be closed (= newest final + 1)
        self._first = 0  # index of the first column ever opened
        self._book: BookSnapshot | None = None  # the latest snapshot given
        self._last: _Row | None = None  # the last closed column's book part, for repeats
        self._last_book: BookSnapshot | None = None  # the snapshot ``_last`` was made from
        self._trades = _OpenTrades({}, {})
        self._periods = PeriodLog(max_periods)  # checks max_periods > 0
        self.trades_outside = 0  # trades whose bucket fell off their column's grid
        self.trades_dropped = 0  # trades too late for the ring

    # -- writes ------------------------------------------------------------------------------------

    def on_book(self, ts_ns: int, snapshot: BookSnapshot) -> None:
        """The book as of ``ts_ns`` (a resync's new snapshot too). Cheap: it is only kept until its
        column closes, so calling this on every change costs a reference, not a bucketing."""
        self.advance(ts_ns)
        self._book = snapshot

    def sample(self, ts_ns: int, snapshot: BookSnapshot) -> None:
        """The book at the instant ``ts_ns``, for a driver on a timer: at a column boundary it is
        the state at the END of the column before, which it closes. A timer at each boundary thus
        gives exact columns for one snapshot per column (``on_book`` on every change does too)."""
        self.advance(ts_ns - 1)
        self._book = snapshot
        self.advance(ts_ns)

    def on_trade(self, trade: Trade, ts_ns: int | None = None) -> None:
        """A trade at ``ts_ns`` (default ``trade.ts_ns``; pass the clock the books use)."""
        ts = trade.ts_ns if ts_ns is None else ts_ns
        self.advance(ts)
        index = ts // self.column_ns
        hit = "ask" if trade.side == Side.BUY else "bid"
        where = int(bucket_price(trade.price, self.bucket, hit) / self.bucket)
        if index == self._open:
            side = self._trades.buy if trade.side == Side.BUY else self._trades.sell
            side[where] = side.get(where, Decimal(0)) + trade.size
        elif index >= self.oldest:  # a late trade: into its own, already final, column
            self._add_volume(index, where, trade.side, float(trade.size))
        else:
            self.trades_dropped += 1

    def advance(self, ts_ns: int) -> None:
        """Close every column that ends at or before ``ts_ns`` (quiet ones repeat the last state).
        A driver calls this on a timer so the live edge moves when nothing happens."""
        index = ts_ns // self.column_ns
        if self._open is None:
            self._open = self._cursor = self._first = index
            return
        if index <= self._open:
            return
        self._close(self._open)
        first = max(self._open + 1, index - self.capacity)  # older ones would be overwritten
        for k in range(first, index):
            self._close(k)
        self._open = index

    def on_period(self, period: Period | str, start_ns: int | None = None,
                  end_ns: int | None = None) -> None:
        """A period the feed could not vouch for, as a ``Period`` (as ``SeriesBuilder`` takes it)
        or as ``(kind, start_ns, end_ns)``; an end of None opens it (see ``end_period``)."""
        self._periods.add(as_period(period, start_ns, end_ns))

    def end_period(self, kind: str, end_ns: int) -> None:
        """Close the latest open period of ``kind`` (nothing to do if none is open)."""
        self._periods.end(kind, end_ns)

    # -- closing a column --------------------------------------------------------------------------

    def _close(self, index: int) -> None:
        slot = index % self.capacity
        sizes, origin, best_bid, best_ask, sequence = self._book_row()
        self._sizes[slot] = sizes
        self._origin[slot] = origin
        self._best_bid[slot] = best_bid
        self._best_ask[slot] = best_ask
        self._sequence[slot] = sequence
        self._cursor = index + 1
        trades, self._trades = self._trades, _OpenTrades({}, {})
        self._cells[slot] = self._traded_cells(slot, trades)

    def _book_row(self) -> _Row:
        """The bucketed book at the end of the column being closed (reused while unchanged)."""
        if self._last is not None and self._book is self._last_book:
            return self._last
        self._last_book = self._book
        self._last = _bucket_book(self._book, self.bucket, self.levels)
        return self._last

    def _grid_row(self, slot: int, where: int) -> int | None:
        """The row of bucket ``where`` on the grid of ``slot``; None when off it (or no grid)."""
        row = where - int(self._origin[slot])
        no_grid = np.isnan(self._best_bid[slot]) and np.isnan(self._best_ask[slot])
        return None if no_grid or not 0 <= row < 2 * self.levels else row

    def _traded_cells(self, slot: int, trades: _OpenTrades) -> np.ndarray | None:
        """The closed column's volume cells from its exact sums (None when nothing traded)."""
        cells: dict[int, list[float]] = {}
        for field, volumes in ((1, trades.buy), (2, trades.sell)):
            for where, size in volumes.items():
                row = self._grid_row(slot, where)
                if row is None:
                    self.trades_outside += 1  # no grid yet, or too far from the mid to draw
                    continue
                cells.setdefault(row, [row, 0.0, 0.0])[field] = float(size)
        if not cells:
            return None
        return np.array([tuple(cells[row]) for row in sorted(cells)], dtype=_CELL)

    def _add_volume(self, index: int, where: int, side: Side, size: float) -> None:
        """A late trade into the final column ``index``: into its cell, inserted if new."""
        slot = index % self.capacity
        row = self._grid_row(slot, where)
        if row is None:
            self.trades_outside += 1
            return
        cells = self._cells[slot]
        if cells is None:
            cells = np.zeros(0, dtype=_CELL)
        i = int(np.searchsorted(cells["row"], row))
        if i == len(cells) or cells["row"][i] != row:
            cells = np.insert(cells, i, (row, 0.0, 0.0))  # a new array: the slot owns its cells
        cells["buy" if side == Side.BUY else "sell"][i] += size
        self._cells[slot] = cells

    # -- reads -------------------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """Index of the next column to become final: pass it to ``columns`` next time."""
        return self._cursor

    @property
    def oldest(self) -> int:
        """Index of the oldest final column still in the ring (== ``cursor`` when empty)."""
        return max(self._cursor - self.capacity, self._first)

    @property
    def fixed_nbytes(self) -> int:
        """Bytes allocated at construction: sizes, per-column vectors and the volume table."""
        arrays = (self._sizes, self._origin, self._best_bid, self._best_ask, self._sequence,
                  self._cells)
        return sum(a.nbytes for a in arrays)

    @property
    def volume_nbytes(self) -> int:
        """Bytes of the traded-volume cells held now (each column's array, header included):
        grows with trades, shrinks as the ring reuses columns."""
        return sum(sys.getsizeof(cells) for cells in self._cells if cells is not None)

    @property
    def nbytes(self) -> int:
        """Bytes the ring holds: ``fixed_nbytes + volume_nbytes``."""
        return self.fixed_nbytes + self.volume_nbytes

    def columns(self, since_index: int) -> HistoryColumns:
        """The final columns with index >= ``since_index`` (clipped to the ring); the result's
        ``next_cursor`` is what to pass next time. Columns that fell off the ring are skipped."""
        return self._gather(max(since_index, self.oldest), self._cursor)

    def window(self, start_ns: int, end_ns: int) -> HistoryColumns:
        """The final columns whose start lies in ``[start_ns, end_ns)`` (a late session's
        catch-up: ``window(0, 2**63)`` is the whole ring; ``.to_frame()`` for the long form)."""
        lo = -(-start_ns // self.column_ns)
        hi = -(-end_ns // self.column_ns)
        return self._gather(max(lo, self.oldest), min(hi, self._cursor))

    def periods(self, start_ns: int | None = None, end_ns: int | None = None) -> tuple[Period, ...]:
        """The kept periods overlapping ``[start_ns, end_ns)`` (all by default), oldest first."""
        return self._periods.overlapping(start_ns, end_ns)

    def _gather(self, lo: int, hi: int) -> HistoryColumns:
        index = np.arange(lo, max(lo, hi), dtype=np.int64)
        slots = index % self.capacity
        buy, sell = self._dense_volume(slots)
        return HistoryColumns(
            index=index,
            ts_ns=index * self.column_ns,
            origin=self._origin[slots],
            sizes=self._sizes[slots],
            buy_volume=buy,
            sell_volume=sell,
            best_bid=self._best_bid[slots],
            best_ask=self._best_ask[slots],
            sequence=self._sequence[slots],
            bucket=self.bucket,
            next_cursor=max(lo, hi),
        )

    def _dense_volume(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Buy and sell volume of ``slots`` as dense float32 (n, rows) arrays, built now."""
        buy = np.zeros((len(slots), 2 * self.levels), dtype=np.float32)
        sell = np.zeros_like(buy)
        for i, cells in enumerate(self._cells[slots]):
            if cells is not None:
                buy[i, cells["row"]] = cells["buy"]
                sell[i, cells["row"]] = cells["sell"]
        return buy, sell


def _bucket_book(book: BookSnapshot | None, bucket: Decimal, levels: int) -> _Row:
    """One column's book part: size per bucket on a grid of 2 x levels centred on the mid."""
    rows = 2 * levels
    if book is None or not (book.bids or book.asks):
        return np.full(rows, np.nan, dtype=np.float32), 0, np.nan, np.nan, 0
    mid = book_mid(book)
    if mid is None:  # one side only: centre on it
        mid = (book.bids or book.asks)[0][0]
    origin = int(bucket_price(mid, bucket, "bid") / bucket) - levels
    exact: dict[int, Decimal] = {}
    for side, ladder in (("bid", book.bids), ("ask", book.asks)):
        for price, size in ladder:
            row = int(bucket_price(price, bucket, side) / bucket) - origin
            if not 0 <= row < rows:
                if (row < 0) == (side == "bid"):
                    break  # past the far edge: the rest of this ladder is off the grid too
                continue
            exact[row] = exact.get(row, Decimal(0)) + size
    sizes = np.zeros(rows, dtype=np.float32)
    for row, size in exact.items():
        sizes[row] = float(size)
    best_bid = float(book.bids[0][0]) if book.bids else np.nan
    best_ask = float(book.asks[0][0]) if book.asks else np.nan
    return sizes, origin, best_bid, best_ask, book.sequence
