"""The research DataFrames and HoloViews views on constructed data: known answers for every column
(floats and exact strings), the heatmap's dense price grid and its regridding, and the views
render with Bokeh."""

from __future__ import annotations

import math
from decimal import Decimal

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
from bokeh.models import GlyphRenderer, Image, Scatter

from dashboard.domain.models import BookSnapshot, Side, Trade
from dashboard.research import frames, views
from dashboard.research.history_frames import HistoryColumns, Period
from dashboard.research.measures import TopOfBook

D = Decimal
T0 = 1_796_000_000_000_000_000  # an epoch ns


def test_trades_frame_lists_floats_and_exact_strings():
    """One row per trade in order; side is the taker's; exact strings keep every digit."""
    trades = [Trade("BTC-USDT", "11", D("91250.10"), D("0.00012345"), Side.BUY, T0),
              Trade("BTC-USDT", "12", D("91249.9"), D("1E-8"), Side.SELL, T0 + 1)]
    df = frames.trades_frame(trades)
    assert list(df.columns) == list(frames.TRADE_COLUMNS)
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]"
    assert df["ts"].astype("int64").tolist() == [T0, T0 + 1]
    assert df["price"].tolist() == [91250.1, 91249.9]
    assert df["size"].tolist() == [0.00012345, 1e-8]
    assert df["side"].tolist() == ["buy", "sell"]
    assert df["trade_id"].tolist() == ["11", "12"]
    assert df["price_exact"].tolist() == ["91250.10", "91249.9"]
    assert df["size_exact"].tolist() == ["0.00012345", "0.00000001"]


def test_trades_frame_of_nothing_has_the_columns():
    """No trades yet: an empty frame with the same columns and dtypes."""
    df = frames.trades_frame([])
    assert list(df.columns) == list(frames.TRADE_COLUMNS) and len(df) == 0
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]" and df["price"].dtype == np.float64


def test_top_of_book_frame_shows_an_empty_side_as_nan_and_none():
    """An empty ask side is NaN in the floats and None in the exact strings."""
    tops = [TopOfBook(T0, D("100.5"), D("2"), D("101"), D("3.25")),
            TopOfBook(T0 + 5, D("100.5"), D("1"), None, D(0))]
    df = frames.top_of_book_frame(tops)
    assert list(df.columns) == list(frames.TOP_COLUMNS)
    assert df["ts"].astype("int64").tolist() == [T0, T0 + 5]
    assert df["best_bid"].tolist() == [100.5, 100.5]
    assert df["bid_size"].tolist() == [2.0, 1.0]
    assert df["best_ask"].iloc[0] == 101.0 and math.isnan(df["best_ask"].iloc[1])
    assert df["best_ask_exact"].tolist() == ["101", None]
    assert df["ask_size_exact"].tolist() == ["3.25", "0"]


def test_book_frame_lists_bids_then_asks_best_first():
    """Level 0 is the best of each side; ``levels`` cuts each side; attrs carry the sequence."""
    book = BookSnapshot("ETH-BTC", 42, ((D("0.0301"), D("5")), (D("0.0300"), D("7"))),
                        ((D("0.0302"), D("1.5")), (D("0.0305"), D("2"))))
    df = frames.book_frame(book, 1)
    assert df[["side", "level", "price", "size"]].values.tolist() == [
        ["bid", 0, 0.0301, 5.0], ["ask", 0, 0.0302, 1.5]]
    assert df["price_exact"].tolist() == ["0.0301", "0.0302"]
    assert df.attrs == {"symbol": "ETH-BTC", "sequence": 42}
    everything = frames.book_frame(book, None)
    assert everything["level"].tolist() == [0, 1, 0, 1]
    assert everything["price_exact"].tolist() == ["0.0301", "0.0300", "0.0302", "0.0305"]


def test_book_frame_of_no_book_is_empty():
    """A book that is not synced gives an empty frame, not an error."""
    df = frames.book_frame(None, 10)
    assert list(df.columns) == list(frames.BOOK_COLUMNS) and len(df) == 0
    assert df.attrs["sequence"] is None


def _columns(origin, sizes, column_ns=250_000_000) -> HistoryColumns:
    sizes = np.asarray(sizes, dtype=np.float32)
    n, _ = sizes.shape
    index = np.arange(n, dtype=np.int64) + T0 // column_ns
    zeros = np.zeros_like(sizes)
    best = np.full(n, np.nan)
    return HistoryColumns(index, index * column_ns, np.asarray(origin, dtype=np.int64), sizes,
                          zeros, zeros.copy(), best, best.copy(), np.arange(n, dtype=np.int64),
                          D("0.5"), n)


def test_dense_grid_places_each_column_on_the_union_of_the_grids():
    """Column 0 covers buckets 10-12, column 1 buckets 12-14: one grid of 10-14, NaN elsewhere."""
    grid, lo = views.dense_grid(_columns([10, 12], [[1, 2, 3], [4, 5, 6]]))
    assert lo == 10
    expected = np.array([[1, np.nan], [2, np.nan], [3, 4], [np.nan, 5], [np.nan, 6]])
    np.testing.assert_array_equal(grid, expected.astype(np.float32))


def test_regrid_takes_nan_aware_block_means():
    """Five columns at most two per block: the newest four in two blocks, NaN ignored; a block
    with no value stays NaN."""
    grid = np.array([[9, 1, 3, np.nan, 5], [9, np.nan, np.nan, 2, 4]], dtype=np.float32)
    x = np.arange(5, dtype=np.int64) * 10
    means, xs = views._regrid(grid, x, max_columns=3)
    np.testing.assert_array_equal(means, np.array([[2, 5], [np.nan, 3]], dtype=np.float32))
    assert xs.tolist() == [10, 30]
    same, xs_same = views._regrid(grid, x, max_columns=5)
    assert same is grid and xs_same is x


def test_heatmap_renders_with_trades_curves_and_periods():
    """The overlay renders to a Bokeh figure with an image, trade dots and a shaded period; the
    image's colour limits are the 5th/95th percentiles of the non-empty cells."""
    cols = _columns([10, 11, 12], [[0, 1, 2], [3, 0, 4], [5, 6, 0]])
    trades = frames.trades_frame([Trade("X", "1", D("5.5"), D("2"), Side.BUY, T0 + 1),
                                  Trade("X", "2", D("6"), D("1"), Side.SELL, T0 + 10**9 // 2),
                                  Trade("X", "3", D("6"), D("1"), Side.SELL, T0 + 10**10)])
    overlay = views.heatmap(cols, trades, (Period("gap", T0, T0 + 10**8),),
                            column_ns=250_000_000, title="X")
    points = overlay.Points.I
    assert len(points) == 2  # the trade after the window is not drawn
    image = overlay.Image.I
    assert image.opts.get().kwargs["clim"] == tuple(np.percentile([1, 2, 3, 4, 5, 6], (5, 95)))
    fig = hv.render(overlay, backend="bokeh")
    glyphs = [r.glyph for r in fig.renderers if isinstance(r, GlyphRenderer)]
    assert any(isinstance(g, Image) for g in glyphs) and any(isinstance(g, Scatter) for g in glyphs)


def test_heatmap_of_no_history_is_a_placeholder_that_renders():
    """Before the first book: an empty overlay that still renders."""
    overlay = views.heatmap(None, frames.trades_frame([]), column_ns=1, title="X")
    assert hv.render(overlay, backend="bokeh") is not None


def test_use_hvplot_makes_dataframe_plot_draw_with_hvplot():
    """After ``use_hvplot``, ``df.plot()`` and ``df.hvplot()`` return HoloViews objects."""
    before = pd.get_option("plotting.backend")
    try:
        views.use_hvplot()
        df = pd.DataFrame({"x": [1, 2, 3], "y": [3.0, 1.0, 2.0]})
        assert isinstance(df.plot(x="x", y="y"), hv.core.Dimensioned)
        assert isinstance(df.hvplot.scatter(x="x", y="y"), hv.core.Dimensioned)
    finally:
        pd.set_option("plotting.backend", before)


@pytest.mark.parametrize("log", [False, True], ids=["linear", "log"])
def test_heatmap_log_toggle_changes_the_colour_scale(log):
    """With ``log`` the image holds log10 sizes, and its label says so."""
    cols = _columns([0], [[1, 10, 100]])
    image = views.heatmap(cols, frames.trades_frame([]), column_ns=250_000_000, log=log).Image.I
    label = "log10 size" if log else "size"
    assert image.vdims[0].name == label
    cells = image.dframe().sort_values("price")  # the price axis runs up: bucket 2 is on top
    np.testing.assert_allclose(cells["price"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(cells[label], [0.0, 1.0, 2.0] if log else [1.0, 10.0, 100.0],
                               rtol=1e-6)
