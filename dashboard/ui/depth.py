"""The depth chart: cumulative bids and asks around the mid, from the hub's depth arrays.

Each frame replaces two small sources (at most ``MAX_DEPTH_POINTS`` per side) with numpy columns,
which Bokeh sends as binary buffers: 11 websocket fragments per message instead of 3, but plain
lists (the public route to 3 fragments) cost ~7x the serialization (534 vs 77 us for the four
300-point columns) and twice the bytes; ui/ws_batch.py makes the extra fragments cheap instead
(README, "Internals the app relies on"). Imports ``hub``, ``ui`` and Panel/Bokeh only.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, Range1d, Span, Step, VAreaStep
from bokeh.plotting import figure

from dashboard.hub import MarketView

from .base import ASK, BID, MUTED, STALE, LiveComponent, style_figure
from .cards import card, combined, fit_range, stale_label, title_html

MAX_DEPTH_POINTS = 300  # per side sent to the browser each depth frame
TOOLTIPS = [("price", "@price{0,0.[00000000]}"), ("cumulative", "@cum{0,0.[0000]}")]


class DepthChart(LiveComponent):
    """Cumulative depth around the mid: bids left (green), asks right (red), the mid dashed."""

    rate_hz = param.Number(default=8.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    span_pct = param.Number(default=1.0, bounds=(0.1, 10.0), step=0.1,
                            doc="Half-width of the x range around the mid, in percent of the mid.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.bids = ColumnDataSource({"price": [], "cum": []}, name="depth-bids")
        self.asks = ColumnDataSource({"price": [], "cum": []}, name="depth-asks")
        fig = figure(height=270, sizing_mode="stretch_width", x_range=Range1d(0, 1),
                     y_range=Range1d(0, 1), tools="save", toolbar_location=None)
        sides = ((self.bids, BID), (self.asks, ASK))
        # Hidden while their source is empty: BokehJS 3.10 hangs the page (an endless loop, no
        # error) drawing a visible VAreaStep with no points -- a page opened before the first book,
        # or right after a symbol change.
        # add_glyph, not fig.varea_step/step: Bokeh derives the non-selected and muted looks
        # ("auto") instead of two more glyph models per renderer and session.
        self._areas = [fig.add_glyph(src, VAreaStep(x="price", y1=0, y2="cum", step_mode="after",
                                                    fill_color=colour, fill_alpha=0.25),
                                     visible=False) for src, colour in sides]
        self._lines = [fig.add_glyph(src, Step(x="price", y="cum", mode="after", line_color=colour,
                                               line_width=2)) for src, colour in sides]
        fig.add_tools(HoverTool(renderers=self._lines, mode="vline", tooltips=TOOLTIPS))
        self.mid_line = Span(location=0, dimension="height", line_color=MUTED, line_dash="dashed",
                             line_width=1)
        self._label = stale_label()
        fig.add_layout(self.mid_line)
        fig.add_layout(self._label)
        fig.xaxis.axis_label, fig.yaxis.axis_label = "price", "cumulative size"
        style_figure(fig)
        self.plot = fig
        self.title = pn.pane.HTML(title_html("Depth", self.symbol, False), margin=(4, 6))
        slider = pn.widgets.FloatSlider.from_param(self.param.span_pct, name="span %", width=180)
        body = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._layout = card(self.title, slider, body=body)

    def __panel__(self):
        return self._layout

    def update(self, view: MarketView) -> None:
        if view.depth is None or view.mid is None:
            return
        mid, d = view.mid, view.depth
        half = mid * self.span_pct / 100
        kb, ka = d.bid_px >= mid - half, d.ask_px <= mid + half
        bid_px, bid_cum = _thin(d.bid_px[kb], d.bid_cum[kb])
        ask_px, ask_cum = _thin(d.ask_px[ka], d.ask_cum[ka])
        with combined(self.plot):
            self.bids.data = {"price": bid_px, "cum": bid_cum}
            self.asks.data = {"price": ask_px, "cum": ask_cum}
            self._show_areas()
            if self.mid_line.location != mid:
                self.mid_line.location = mid
            xr = self.plot.x_range
            centre, width = (xr.start + xr.end) / 2, xr.end - xr.start
            if abs(width - 2 * half) > 1e-9 * half or abs(centre - mid) > 0.1 * half:
                xr.update(start=mid - half, end=mid + half)
            top = max(bid_cum[-1] if len(bid_cum) else 0.0, ask_cum[-1] if len(ask_cum) else 0.0)
            fit_range(self.plot.y_range, 0.0, float(top), zero=True)

    @param.depends("span_pct", watch=True)
    def _on_span(self) -> None:
        self._shown_version = -1
        self._gate.reset()  # re-render on the next tick even if the book did not move

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        for glyphs, colour in ((self._areas, "fill_color"), (self._lines, "line_color")):
            for renderer, live in zip(glyphs, (BID, ASK), strict=True):
                setattr(renderer.glyph, colour, STALE if self.stale else live)
        for renderer in self._areas:
            renderer.glyph.fill_alpha = 0.12 if self.stale else 0.25
        self._label.visible = self.stale
        self.title.object = title_html("Depth", self.symbol, self.stale)

    def _show_areas(self) -> None:
        """An area is visible only with points to draw (see ``__init__``)."""
        for renderer, src in zip(self._areas, (self.bids, self.asks), strict=True):
            visible = len(src.data["price"]) > 0
            if renderer.visible != visible:
                renderer.visible = visible

    def reset(self) -> None:
        with combined(self.plot):
            self.bids.data = {"price": [], "cum": []}
            self.asks.data = {"price": [], "cum": []}
            self._show_areas()
        self.title.object = title_html("Depth", self.symbol, self.stale)


def _thin(px: np.ndarray, cum: np.ndarray,
          limit: int = MAX_DEPTH_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` points, always keeping the best level and the deepest (the total)."""
    if len(px) <= limit:
        return px, cum
    idx = np.unique(np.linspace(0, len(px) - 1, limit).round().astype(int))
    return px[idx], cum[idx]
