"""The liquidity view on a real BookHistory fed by hand-made books: each new column is one patch
of one pixel column of the newest tile, equal to the book at that column's end placed on the
tile's price grid (recomputed here from the snapshot); full tiles and mid drift stream new tiles;
periods are shaded; the log switch re-sends once; a late session gets the whole history."""

from __future__ import annotations

import itertools
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.document.events import (
    ColumnDataChangedEvent,
    ColumnsPatchedEvent,
    ColumnsStreamedEvent,
)
from bokeh.protocol import Protocol

from dashboard.domain.models import BookSnapshot, Side, Trade
from dashboard.research.history import BookHistory
from dashboard.ui.liquidity import LiquidityView
from dashboard.ui.liquidity_model import TILE_COLUMNS

D = Decimal
SYM = "BTC-USDT"
COL_NS = 250_000_000
BUCKET = D("1")
LEVELS = 10
T0 = 1_800_000_000 * 10**9  # a column boundary (epoch ns)
_clock = itertools.count(1_000.0, 100.0)  # every tick is due


class FakeResearch:
    """What the view reads from ``hub.research``: one real BookHistory per symbol."""

    def __init__(self) -> None:
        self.histories: dict[str, BookHistory] = {}
        self.version = 0

    def history(self, symbol: str) -> BookHistory | None:
        return self.histories.get(symbol)

    def series_rows(self, symbol: str) -> tuple:
        return ()


class FakeHub:
    """A hub with research and no market views (the view then never reads as stale)."""

    def __init__(self, research: FakeResearch | None) -> None:
        self.research = research

    def view(self, symbol: str):
        return None


def snapshot(mid: int, seq: int, depth: int = 6) -> BookSnapshot:
    """Bids below and asks above ``mid`` at 0.3 steps (several per bucket), sizes from seq."""
    bids = tuple((D(mid) - D("0.3") * (k + 1), D(k + 1 + seq % 3) / 10) for k in range(depth))
    asks = tuple((D(mid) + D("0.3") * (k + 1), D(k + 2 + seq % 2) / 10) for k in range(depth))
    return BookSnapshot(SYM, seq, bids, asks)


def expected_cells(book: BookSnapshot) -> dict[Decimal, float]:
    """{bucket price: size} straight from the snapshot: bids floored, asks ceiled, summed."""
    cells: dict[Decimal, Decimal] = {}
    for side, rounding in ((book.bids, ROUND_FLOOR), (book.asks, ROUND_CEILING)):
        for price, size in side:
            key = (price / BUCKET).to_integral_value(rounding) * BUCKET
            cells[key] = cells.get(key, D(0)) + size
    return {p: float(np.float32(float(s))) for p, s in cells.items()}


class Market:
    """A BookHistory fed one snapshot per column; ``books[k]`` is column k's end-of-column book."""

    def __init__(self, research: FakeResearch, capacity: int = 2000, levels: int = LEVELS,
                 depth: int = 6) -> None:
        self.history = BookHistory(SYM, BUCKET, tick=D("0.1"), column_ns=COL_NS,
                                   capacity=capacity, levels=levels)
        self.depth = depth
        research.histories[SYM] = self.history
        self.research = research
        self.books: list[BookSnapshot] = []

    def column(self, mid: int = 100, trade: Trade | None = None) -> None:
        k = len(self.books)
        book = snapshot(mid, k, self.depth)
        self.history.on_book(T0 + k * COL_NS + 1, book)
        if trade is not None:
            self.history.on_trade(trade, T0 + k * COL_NS + 2)
        self.history.advance(T0 + (k + 1) * COL_NS)  # column k is final
        self.books.append(book)
        self.research.version += 1

    def columns(self, n: int, mid: int = 100) -> None:
        for _ in range(n):
            self.column(mid)


@pytest.fixture
def research() -> FakeResearch:
    return FakeResearch()


def rendered(research: FakeResearch) -> LiquidityView:
    view = LiquidityView(FakeHub(research), symbol=SYM)
    view.tick(next(_clock))
    return view


def record(view: LiquidityView) -> list:
    doc, events = Document(), []
    doc.add_root(view.plot)
    doc.on_change(events.append)
    return events


def tile_column(view: LiquidityView, k: int) -> tuple[int, int]:
    """(tile row in the CDS, column in it) of history column k, from the CDS geometry alone."""
    x_ms = (T0 + k * COL_NS) / 1e6 + 1e-3
    data = view.tiles.data
    for i in range(len(data["x"]) - 1, -1, -1):
        if data["x"][i] <= x_ms < data["x"][i] + data["dw"][i]:
            width = data["image"][i].shape[1]
            return i, int((x_ms - data["x"][i]) // (data["dw"][i] / width))
    raise AssertionError(f"column {k} is in no tile")


def shown_cells(view: LiquidityView, k: int) -> dict[Decimal, float]:
    """{bucket price: size} that the image shows for history column k (non-NaN cells)."""
    i, c = tile_column(view, k)
    data = view.tiles.data
    image = data["image"][i]
    cell = data["dh"][i] / image.shape[0]
    cells = {}
    for r in np.flatnonzero(~np.isnan(image[:, c])):
        price = D(round(data["y"][i] + (r + 0.5) * cell, 6)).quantize(BUCKET)
        cells[price] = float(image[r, c])
    return cells


def test_first_render_shows_every_column(research):
    """A late session: the whole history arrives at once, each column equal to its book."""
    market = Market(research)
    market.columns(TILE_COLUMNS + 30)
    view = rendered(research)
    assert len(view.tiles.data["image"]) == 2
    for k, book in enumerate(market.books):
        assert shown_cells(view, k) == expected_cells(book), k


def test_new_column_is_one_patch_of_one_pixel_column(research):
    """The next column is a single ColumnsPatchedEvent on the tiles: the newest tile's column,
    equal to the snapshot's buckets; nothing else in the tiles changes."""
    market = Market(research)
    market.columns(5)
    view = rendered(research)
    before = [image.copy() for image in view.tiles.data["image"]]
    events = record(view)
    market.column(mid=102)  # the mid moved 2 buckets: still on the tile's grid
    assert view.tick(next(_clock))
    tile_events = [e for e in events if getattr(e, "model", None) is view.tiles]
    assert [type(e) for e in tile_events] == [ColumnsPatchedEvent]
    ((index, values),) = tile_events[0].patches["image"]
    assert index == (0, slice(None), 5)
    assert shown_cells(view, 5) == expected_cells(market.books[5])
    after = view.tiles.data["image"][0]
    np.testing.assert_array_equal(np.delete(after, 5, axis=1), np.delete(before[0], 5, axis=1))
    np.testing.assert_array_equal(np.asarray(values), after[:, 5])


def test_update_message_is_small(research):
    """One column update for one session serializes to under 4 KiB (the issue's budget), on the
    collector's default grid (100 levels a side) with a deep book."""
    market = Market(research, levels=100, depth=300)
    market.columns(TILE_COLUMNS // 2)
    view = rendered(research)
    events = record(view)
    market.column(trade=Trade(SYM, "t1", D("100.4"), D("0.5"), Side.BUY, T0))
    view.tick(next(_clock))
    msg = Protocol().create("PATCH-DOC", events)
    size = len(msg.header_json) + len(msg.metadata_json) + len(msg.content_json)
    size += sum(len(bytes(b.data)) for b in msg.buffers)
    assert 0 < size < 4096, size


def test_full_tile_streams_the_next(research):
    """Column TILE_COLUMNS starts a second tile: a stream with rollover, not a replace."""
    market = Market(research)
    market.columns(TILE_COLUMNS)
    view = rendered(research)
    events = record(view)
    market.column()
    view.tick(next(_clock))
    kinds = [type(e) for e in events if getattr(e, "model", None) is view.tiles]
    assert kinds == [ColumnsStreamedEvent]
    assert events[0].rollover and len(view.tiles.data["image"]) == 2
    assert shown_cells(view, TILE_COLUMNS) == expected_cells(market.books[-1])


def test_mid_drift_starts_a_new_tile(research):
    """A mid further than the tile's margin starts a new tile early, on a grid around it."""
    market = Market(research)
    market.columns(3)
    view = rendered(research)
    market.column(mid=140)  # 40 buckets away; the tile holds +-2 around its first grid
    view.tick(next(_clock))
    ys = view.tiles.data["y"]
    assert len(ys) == 2 and ys[1] - ys[0] == pytest.approx(40.0)
    assert shown_cells(view, 3) == expected_cells(market.books[3])


def test_trades_are_dots_by_aggressor(research):
    """A trade is a dot at its column's middle and its bucket, with its size and buyer share."""
    market = Market(research)
    market.columns(2)
    view = rendered(research)
    market.column(trade=Trade(SYM, "t1", D("100.4"), D("0.5"), Side.BUY, T0))
    view.tick(next(_clock))
    dots = view.dots.data
    assert dots["x"] == [(T0 + 2.5 * COL_NS) / 1e6]
    assert dots["y"] == [101.0]  # a taker buy lifts the asks: ceiled
    assert dots["volume"] == [0.5] and dots["buy_share"] == [1.0]


def test_best_bid_and_ask_lines(research):
    """Each column adds its best bid and ask to the lines."""
    market = Market(research)
    market.columns(4)
    view = rendered(research)
    assert list(view.tops.data["bid"]) == [float(b.bids[0][0]) for b in market.books]
    assert list(view.tops.data["ask"]) == [float(b.asks[0][0]) for b in market.books]


def test_periods_are_shaded(research):
    """A closed gap and an open stale period are two shaded strips; the open one reaches the
    live edge; the legend says what the shade means."""
    market = Market(research)
    market.columns(4)
    market.history.on_period("gap", T0 + COL_NS, T0 + 2 * COL_NS)
    market.history.on_period("stale", T0 + 3 * COL_NS)
    view = rendered(research)
    data = view.periods.data
    assert data["x0"] == [(T0 + COL_NS) / 1e6, (T0 + 3 * COL_NS) / 1e6]
    assert data["x1"][0] == (T0 + 2 * COL_NS) / 1e6
    assert data["x1"][1] >= (T0 + 4 * COL_NS) / 1e6  # the live edge
    assert [k.split()[0] for k in data["kind"]] == ["gap", "stale"]
    assert view.legend.visible


def test_log_switch_resends_once_in_log1p(research):
    """The log switch replaces the tiles once, with log(1 + size); the hover says so."""
    market = Market(research)
    market.columns(3)
    view = rendered(research)
    events = record(view)
    view.log_scale = True
    view.tick(next(_clock))
    kinds = [type(e) for e in events if getattr(e, "model", None) is view.tiles]
    assert kinds == [ColumnDataChangedEvent]
    for k, book in enumerate(market.books):
        want = {p: float(np.log1p(np.float32(s))) for p, s in expected_cells(book).items()}
        got = shown_cells(view, k)
        assert got.keys() == want.keys()
        assert all(math.isclose(got[p], want[p], rel_tol=1e-6) for p in want)
    assert view._hover.tooltips[-1][0] == "log(1 + size)"


def test_colour_cutoffs_are_percentiles_of_the_view(research):
    """The mapper's low/high are the 5th/95th percentiles of the non-empty cells in view."""
    market = Market(research)
    market.columns(20)
    view = rendered(research)
    sizes = np.array([s for b in market.books for s in expected_cells(b).values()])
    low, high = np.percentile(sizes, [5, 95])
    assert view.mapper.low == pytest.approx(low) and view.mapper.high == pytest.approx(high)


def test_live_edge_is_followed_until_panned_away(research):
    """The newest column stays in the x range while following (it moves ahead of the edge about
    once a second, not every column); after a pan the range stays put."""
    market = Market(research)
    market.columns(3)
    view = rendered(research)
    xr = view.heatmap.x_range
    changes = []
    xr.on_change("end", lambda _attr, _old, new: changes.append(new))

    def newest_end() -> float:
        return (T0 + len(market.books) * COL_NS) / 1e6

    assert xr.start < newest_end() <= xr.end
    for _ in range(12):  # 3 s of columns
        market.column()
        view.tick(next(_clock))
        assert xr.start < newest_end() <= xr.end
    assert 1 <= len(changes) <= 4  # about once a second
    xr.update(start=xr.start - 60_000, end=xr.end - 60_000)  # the user pans a minute back
    panned = (xr.start, xr.end)
    for _ in range(12):
        market.column()
        view.tick(next(_clock))
    assert (xr.start, xr.end) == panned


def test_symbol_change_catches_up_the_other_market(research):
    """A new symbol clears the view, then shows that market's whole history."""
    market = Market(research)
    market.columns(3)
    view = rendered(research)
    other = BookHistory("ETH-USDT", BUCKET, column_ns=COL_NS, levels=LEVELS)
    research.histories["ETH-USDT"] = other
    view.symbol = "ETH-USDT"
    assert view.tiles.data["image"] == []
    other.on_book(T0, snapshot(50, 1))
    other.advance(T0 + 2 * COL_NS)
    research.version += 1
    view.tick(next(_clock))
    assert len(view.tiles.data["image"]) == 1 and "ETH-USDT" in view.title.object


def test_without_research_the_view_says_so():
    """A hub that keeps no history: a short note, no data."""
    view = LiquidityView(FakeHub(None), symbol=SYM)
    assert not view.tick(next(_clock))
    assert view.note.visible and "no history kept" in view.note.object


def test_before_the_first_book_the_view_waits(research):
    view = LiquidityView(FakeHub(research), symbol=SYM)
    assert not view.tick(next(_clock))
    assert "waiting for the first book" in view.note.object


def test_price_range_fits_the_book_around_the_mid(research):
    """The first price range is centred on the newest mid and holds its whole (small) book."""
    market = Market(research)
    market.columns(3)
    view = rendered(research)
    yr, book = view.heatmap.y_range, market.books[-1]
    mid = float(book.bids[0][0] + book.asks[0][0]) / 2
    assert (yr.start + yr.end) / 2 == pytest.approx(mid)
    assert yr.start < float(book.bids[-1][0]) and float(book.asks[-1][0]) < yr.end
