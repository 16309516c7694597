"""Candles with volume below: history from the hub, then the last bar patched and new bars streamed.

Imports ``hub``, ``domain``, ``ui`` and Panel/Bokeh only (never ``kucoin`` or ``simulator``).
"""

from __future__ import annotations

from collections.abc import Sequence

import panel as pn
import param
from bokeh.layouts import column as bokeh_column
from bokeh.models import ColumnDataSource, Grid, HoverTool, Range1d, Segment, VBar
from bokeh.plotting import figure

from dashboard.domain.models import Candle
from dashboard.hub import MarketView

from .base import ASK, BID, LiveComponent, style_figure
from .cards import card, combined, fit_range, stale_label, title_html

INTERVALS = ["1min", "5min", "15min", "1hour", "4hour", "1day"]
INTERVAL_S = {"1min": 60, "5min": 300, "15min": 900, "1hour": 3600, "4hour": 14400, "1day": 86400}
MAX_CANDLES = 500  # kept per session (rollover)
VISIBLE_CANDLES = 120
TOOLTIPS = [("time", "@time{%F %H:%M}"), ("open", "@open{0,0.[00000000]}"),
            ("high", "@high{0,0.[00000000]}"), ("low", "@low{0,0.[00000000]}"),
            ("close", "@close{0,0.[00000000]}"), ("volume", "@volume{0,0.[0000]}")]
CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume", "color")


class CandleChart(LiveComponent):
    """OHLC candles with volume below: history from the hub, then the last bar patched and new
    bars streamed."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    interval = param.Selector(default="1min", objects=INTERVALS,
                              doc="Candle interval (KuCoin's names).")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.source = ColumnDataSource({k: [] for k in CANDLE_COLUMNS}, name="candles")
        self._last: Candle | None = None
        self._history_version = -1
        x_range = Range1d(0, 1)
        volume = figure(height=100, sizing_mode="stretch_width", x_axis_type="datetime",
                        x_range=x_range, y_range=Range1d(0, 1), tools="", toolbar_location=None)
        self._vol = volume.add_glyph(self.source, VBar(x="time", top="volume", width=self._width(),
                                                       fill_color="color", fill_alpha=0.6,
                                                       line_color=None))
        volume.yaxis.ticker.desired_num_ticks = 2
        # No x axis of its own (the volume's is below it): its grid reuses the volume's datetime
        # ticker, ~15 fewer models per session than a second, hidden datetime axis.
        price = figure(height=270, sizing_mode="stretch_width", x_axis_type=None, x_range=x_range,
                       y_range=Range1d(0, 1), tools="xpan,xwheel_zoom,save", toolbar_location=None)
        price.add_layout(Grid(dimension=0, ticker=volume.xaxis[0].ticker))
        price.add_glyph(self.source, Segment(x0="time", y0="high", x1="time", y1="low",
                                             line_color="color"))
        self._bars = price.add_glyph(self.source, VBar(x="time", top="open", bottom="close",
                                                       width=self._width(), fill_color="color",
                                                       line_color="color"))
        price.add_tools(HoverTool(renderers=[self._bars], mode="vline", tooltips=TOOLTIPS,
                                  formatters={"@time": "datetime"}))
        self._label = stale_label()
        price.add_layout(self._label)
        for fig in (price, volume):
            style_figure(fig)
            fig.min_border_left = 60
        self.price_figure, self.volume_figure = price, volume
        self.plot = bokeh_column(price, volume, sizing_mode="stretch_width")
        self.title = pn.pane.HTML(title_html("Candles", self.symbol, False, self.interval),
                                  margin=(4, 6))
        pick = pn.widgets.Select.from_param(self.param.interval, name="", width=90)
        body = pn.pane.Bokeh(self.plot, sizing_mode="stretch_width")
        self._layout = card(self.title, pick, body=body)

    def __panel__(self):
        return self._layout

    def _width(self) -> float:
        return INTERVAL_S[self.interval] * 1000 * 0.7

    def _always_render(self) -> bool:
        return self._history_version <= 0  # history loads asynchronously: poll until it is there

    def update(self, view: MarketView) -> None:
        candles = self.hub.candles(self.symbol, self.interval)
        if not candles:
            return
        version = self.hub.candles_version(self.symbol, self.interval)
        history_arrived, self._history_version = version != self._history_version, version
        with combined(self.plot):
            if history_arrived or not self._apply(candles):
                self.source.data = _candle_columns(candles[-MAX_CANDLES:])
            self._last = candles[-1]
            self._fit_ranges()

    def _apply(self, candles: Sequence[Candle]) -> bool:
        """Patch the last shown bar and stream newer ones; False when only a replace will do."""
        last = self._last
        if last is None:
            return False
        i = len(candles)
        while i > 0 and candles[i - 1].start_s > last.start_s:
            i -= 1
        if i == 0 or candles[i - 1].start_s != last.start_s:
            return False
        if candles[i - 1] != last:
            row = _candle_columns([candles[i - 1]])
            n = len(self.source.data["time"])
            self.source.patch({k: [(n - 1, v[0])] for k, v in row.items()})
        if i < len(candles):
            self.source.stream(_candle_columns(candles[i:][-MAX_CANDLES:]), rollover=MAX_CANDLES)
        return True

    def _fit_ranges(self) -> None:
        data, step = self.source.data, INTERVAL_S[self.interval] * 1000
        times = data["time"]
        end = times[-1] + 2 * step
        start = max(times[0] - step, end - (VISIBLE_CANDLES + 2) * step)
        xr = self.price_figure.x_range
        if (xr.start, xr.end) != (start, end):
            xr.update(start=start, end=end)
        first = next(k for k, t in enumerate(times) if t >= start)
        fit_range(self.price_figure.y_range, min(data["low"][first:]), max(data["high"][first:]))
        fit_range(self.volume_figure.y_range, 0.0, max(data["volume"][first:]), zero=True)

    @param.depends("interval", watch=True)
    def _on_interval(self) -> None:
        self._bars.glyph.width = self._vol.glyph.width = self._width()
        self.reset()
        self._shown_version = -1
        self._gate.reset()

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        for renderer in (self._bars, self._vol):
            live = 0.6 if renderer is self._vol else 1.0
            renderer.glyph.fill_alpha = 0.3 if self.stale else live
        self._label.visible = self.stale
        self.title.object = title_html("Candles", self.symbol, self.stale, self.interval)

    def reset(self) -> None:
        self._last = None
        self._history_version = -1
        self.source.data = {k: [] for k in CANDLE_COLUMNS}
        self.title.object = title_html("Candles", self.symbol, self.stale, self.interval)


def _candle_columns(candles: Sequence[Candle]) -> dict[str, list]:
    cols: dict[str, list] = {k: [] for k in CANDLE_COLUMNS}
    for c in candles:
        o, cl = float(c.open), float(c.close)
        for k, v in (("time", c.start_s * 1000.0), ("open", o), ("high", float(c.high)),
                     ("low", float(c.low)), ("close", cl), ("volume", float(c.volume)),
                     ("color", BID if cl >= o else ASK)):
            cols[k].append(v)
    return cols
