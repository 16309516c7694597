"""HoloViews views of the research data for notebooks: the liquidity heatmap (book history as an
``hv.Image``, trades as dots, best bid/ask curves, unvouched periods shaded) and the switch that
makes a DataFrame's ``.plot()`` draw with hvPlot.

The live edge of the app is plain Bokeh (``dashboard.ui``); this is the historical view, built
once per call from a ``HistoryColumns`` window. Long windows are regridded here, in numpy (block
means over time), so a 30-minute history becomes at most ``max_columns`` image columns without
datashader. Times on the axes are UTC. Imports the research cores, numpy, pandas, holoviews and
hvplot only: never ``kucoin``, ``simulator``, ``recording``, ``config``, the hub, the UI or Panel.
"""

from __future__ import annotations

import holoviews as hv  # type: ignore[import-untyped]
import holoviews.plotting.bokeh  # type: ignore[import-untyped]  # .opts needs a backend
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the venv

from dashboard.research.history_frames import HistoryColumns, Period

__all__ = ["BUY_COLOUR", "SELL_COLOUR", "dense_grid", "heatmap", "use_hvplot"]

BUY_COLOUR = "#26a69a"  # taker buys (lifted asks)
SELL_COLOUR = "#ef5350"  # taker sells (hit bids)
CUTOFFS = (5.0, 95.0)  # colour limits at these percentiles of the visible sizes (Bookmap's)


def use_hvplot() -> None:
    """DataFrame ``.plot()`` draws with hvPlot (``.hvplot()`` works too): a notebook habit."""
    if pd.get_option("plotting.backend") == "hvplot":
        return  # once: in a notebook, setting it again re-sends the plotting extension's JS
    import hvplot.pandas  # type: ignore[import-untyped]  # noqa: F401  # registers .hvplot

    pd.set_option("plotting.backend", "hvplot")


def dense_grid(cols: HistoryColumns) -> tuple[np.ndarray, int]:
    """The columns on one price grid: ``(sizes[bucket_row, column], lowest bucket number)``.

    Each column's grid is centred on its own mid (``origin`` moves with the market); here every
    column is placed on the union of the grids, NaN where a column has no cell."""
    n, rows = cols.sizes.shape
    lo = int(cols.origin.min())
    width = int(cols.origin.max()) - lo + rows
    grid = np.full((n, width), np.nan, dtype=np.float32)
    where = (cols.origin - lo)[:, None] + np.arange(rows)[None, :]
    np.put_along_axis(grid, where, cols.sizes, axis=1)
    return grid.T, lo


def _regrid(grid: np.ndarray, x_ns: np.ndarray, max_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Block means of ``k`` consecutive columns (NaN-aware) when there are more than
    ``max_columns``; the x of a block is its first column's."""
    n = grid.shape[1]
    k = -(-n // max_columns)
    if k <= 1:
        return grid, x_ns
    n_keep = n - n % k or n
    blocks = grid[:, n - n_keep:].reshape(grid.shape[0], n_keep // k, k)
    counts = np.sum(~np.isnan(blocks), axis=2)
    sums = np.nansum(blocks, axis=2)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)
    return means, x_ns[n - n_keep::k]


def _times(ns: np.ndarray | pd.Series) -> np.ndarray:
    """UTC datetimes without a zone (what the Bokeh axis draws)."""
    return pd.to_datetime(np.asarray(ns, dtype=np.int64), unit="ns").values


def _image(cols: HistoryColumns, column_ns: int, max_columns: int, log: bool) -> hv.Image:
    grid, lo = dense_grid(cols)
    grid, x_ns = _regrid(grid, cols.ts_ns, max_columns)
    step = (int(x_ns[1] - x_ns[0]) if len(x_ns) > 1 else column_ns)
    grid = np.where(grid > 0, grid, np.nan)  # an empty bucket is no colour, not the lowest one
    if log:
        grid = np.log10(grid)
    bucket = float(cols.bucket)
    ys = (lo + np.arange(grid.shape[0])) * bucket
    seen = grid[~np.isnan(grid)]
    clim = tuple(np.percentile(seen, CUTOFFS)) if seen.size else (0.0, 1.0)
    label = "log10 size" if log else "size"
    # explicit bounds (not coordinates): a single column has no spacing to infer them from
    left, right = _times([x_ns[0], x_ns[-1] + step])
    bounds = (left, ys[0] - bucket / 2, right, ys[-1] + bucket / 2)
    image = hv.Image(np.flipud(grid), bounds=bounds, kdims=["ts", "price"], vdims=[label])
    return image.opts(cmap="viridis", clim=clim, colorbar=True, tools=["hover"], alpha=0.95)


def _trades(trades: pd.DataFrame, start_ns: int, end_ns: int) -> hv.Points:
    ts_ns = trades["ts"].astype("int64") if len(trades) else pd.Series([], dtype="int64")
    shown = trades[(ts_ns >= start_ns) & (ts_ns < end_ns)]
    frame = pd.DataFrame({"ts": _times(shown["ts"].astype("int64")),
                          "price": shown["price"].to_numpy(), "size": shown["size"].to_numpy(),
                          "side": shown["side"].to_numpy()})
    top = float(frame["size"].max()) if len(frame) else 1.0
    frame["dot"] = 4 + 16 * np.sqrt(frame["size"] / (top or 1.0))  # area grows with volume
    colour = hv.dim("side").categorize({"buy": BUY_COLOUR, "sell": SELL_COLOUR}, "grey")
    points = hv.Points(frame, kdims=["ts", "price"], vdims=["size", "side", "dot"])
    return points.opts(size="dot", color=colour, line_color="white", tools=["hover"])


def _periods(periods: tuple[Period, ...], end_ns: int) -> list[hv.VSpan]:
    spans = []
    for period in periods:
        start, stop = _times([period.start_ns, period.end_ns or end_ns])
        spans.append(hv.VSpan(start, stop).opts(color="grey", alpha=0.3))
    return spans


def heatmap(cols: HistoryColumns | None, trades: pd.DataFrame, periods: tuple[Period, ...] = (), *,
            column_ns: int, title: str = "", max_columns: int = 1200, log: bool = False,
            width: int = 900, height: int = 420) -> hv.Overlay:
    """The liquidity heatmap of ``cols``: resting size per price bucket over time (colour cut at
    the 5th/95th percentile of the window's sizes, or of log10 sizes with ``log``), the trades of
    ``trades`` (a ``trades_frame``) in the window as dots sized by volume and coloured by taker
    side, the best bid and ask at each column's end, and the feed's periods shaded grey."""
    if cols is None or len(cols) == 0:
        return hv.Overlay([hv.Curve([], "ts", "price").relabel(f"{title}: no history yet")])
    start_ns, end_ns = int(cols.ts_ns[0]), int(cols.ts_ns[-1]) + column_ns
    x = _times(cols.ts_ns + column_ns // 2)
    layers = [_image(cols, column_ns, max_columns, log),
              hv.Curve((x, cols.best_bid), "ts", "price", label="best bid").opts(color=BUY_COLOUR),
              hv.Curve((x, cols.best_ask), "ts", "price", label="best ask").opts(color=SELL_COLOUR),
              _trades(trades, start_ns, end_ns), *_periods(periods, end_ns)]
    return hv.Overlay(layers).opts(title=title, width=width, height=height, show_legend=True)
