"""The strip under the liquidity heatmap: one chosen microstructure series over time, on the
heatmap's own x range (zoom and pan move both), with the feed's unvouched periods shaded from the
heatmap's period source.

New rows are streamed (rollover); choosing another series replaces the source once. Reads
``SeriesRow`` values (Decimal or float, None when undefined) by field name. Imports Bokeh,
numpy, ``ui.base``/``ui.cards`` and ``research.series`` (plain data) only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Line, Range1d, VStrip
from bokeh.plotting import figure

from dashboard.research.series import SeriesRow

from .base import ACCENT, style_figure
from .cards import fit_range

SERIES_FIELDS = ("queue_imbalance", "spread_bps", "ofi", "trade_imbalance", "realized_vol_1m",
                 "buy_volume", "sell_volume", "depth_bid_10bps", "depth_ask_10bps",
                 "depth_bid_50bps", "depth_ask_50bps", "microprice", "mid")
MAX_POINTS = 3600  # one hour of 1 s rows


class SeriesStrip:
    """A line of ``field`` per series row, x at the middle of its interval (epoch ms)."""

    def __init__(self, x_range, periods: ColumnDataSource, field: str = "queue_imbalance",
                 height: int = 100) -> None:
        self.field = field
        self.source = ColumnDataSource({"x": [], "value": []}, name="liq-series")
        fig = figure(height=height, sizing_mode="stretch_width", x_axis_type="datetime",
                     x_range=x_range, y_range=Range1d(-1, 1), tools="", toolbar_location=None)
        fig.add_glyph(periods, period_glyph())
        line = fig.add_glyph(self.source, Line(x="x", y="value", line_color=ACCENT,
                                               line_width=1.5))
        fig.add_tools(HoverTool(renderers=[line], mode="vline", formatters={"@x": "datetime"},
                                tooltips=[("time", "@x{%F %T}"), ("value", "@value{0,0.[0000]}")]))
        fig.yaxis.ticker.desired_num_ticks = 3
        style_figure(fig)
        fig.min_border_left = 70
        self.figure = fig
        self._last_ts: int | None = None

    def show(self, field: str, rows: Sequence[SeriesRow]) -> None:
        """Another series: replace the source with all of ``rows``."""
        self.field = field
        self._last_ts = None
        self.source.data = {"x": [], "value": []}
        self.update(rows)

    def update(self, rows: Sequence[SeriesRow]) -> bool:
        """Stream the rows newer than the last shown; True when there were any."""
        new = _newer(rows, self._last_ts)
        if not new:
            return False
        self._last_ts = new[-1].ts_ns
        half = _half_interval_ms(rows)
        points = {"x": [r.ts_ns / 1e6 + half for r in new],
                  "value": [_number(getattr(r, self.field)) for r in new]}
        if len(self.source.data["x"]):
            self.source.stream(points, rollover=MAX_POINTS)
        else:
            self.source.data = points
        return True

    def fit(self, view: tuple[float, float]) -> None:
        """The y range around the values in the x ``view`` (server-set: no range traffic)."""
        xs, values = np.asarray(self.source.data["x"]), np.asarray(self.source.data["value"])
        if not len(xs):
            return
        inside = values[(xs >= view[0]) & (xs <= view[1]) & ~np.isnan(values)]
        if len(inside):
            fit_range(self.figure.y_range, float(inside.min()), float(inside.max()))

    def reset(self) -> None:
        self._last_ts = None
        self.source.data = {"x": [], "value": []}


def period_glyph() -> VStrip:
    """A shaded period (a new model per figure: models belong to one document). Its edges keep a
    resync of a few ms, far narrower than a pixel, visible as a line at any zoom."""
    return VStrip(x0="x0", x1="x1", fill_color="color", fill_alpha=0.25, line_color="color",
                  line_alpha=0.8, line_width=1.5)


def _newer(rows: Sequence[SeriesRow], last_ts: int | None) -> list[SeriesRow]:
    """The rows after ``last_ts`` (all when None), oldest first; walks from the newest end."""
    if last_ts is None:
        return list(rows)
    new = []
    for row in reversed(rows):
        if row.ts_ns <= last_ts:
            break
        new.append(row)
    new.reverse()
    return new


def _half_interval_ms(rows: Sequence[SeriesRow]) -> float:
    if len(rows) < 2:
        return 500.0
    return (rows[-1].ts_ns - rows[-2].ts_ns) / 2e6


def _number(value) -> float:
    return math.nan if value is None else float(value)
