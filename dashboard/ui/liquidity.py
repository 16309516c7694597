"""The liquidity view: a Bookmap-style heatmap of the resting book over time, with trade dots, the
best bid/ask, the feed's unvouched periods shaded, and a strip of one microstructure series below.

Data comes from the process-wide research collector (``hub.research``): each session only maps
the history's final columns onto its own Bokeh sources. The heatmap is a tiled image ring (one
``image`` CDS row per tile of ``TILE_COLUMNS`` columns, ../shared/research-features-and-scale.md
A1.3): a new column is a PATCH of one pixel column of the newest tile (about 1 KiB), a full tile
makes the next one a ``stream`` with rollover, and the whole ring is sent only when a session
opens (its catch-up) or the log scale is switched. Colour cut-offs are percentiles of what is in
view, set at most once a second as the mapper's two scalars (Bookmap's 5 %/95 %). The x range
follows the live edge while its end is near it; pan away and it stays where it was put.

Imports ``hub``, ``ui`` and Panel/Bokeh only (never ``kucoin``, ``simulator`` or ``config``).
"""

from __future__ import annotations

import math

import panel as pn
import param
from bokeh.core.property.validation import validate
from bokeh.layouts import column as bokeh_column
from bokeh.models import (
    ColumnDataSource,
    CustomJSHover,
    Grid,
    HoverTool,
    Image,
    Legend,
    LegendItem,
    LinearColorMapper,
    LinearInterpolator,
    Range1d,
    Scatter,
    Step,
)
from bokeh.palettes import interp_palette
from bokeh.plotting import figure
from bokeh.transform import linear_cmap, transform

from dashboard.research.history import BookHistory

from .base import ASK, BID, GRID, MUTED, PANEL_BG, TEXT, LiveComponent, RateGate, style_figure
from .cards import card, combined, stale_label, title_html
from .liquidity_model import (
    TileLayout,
    book_reach,
    cutoffs,
    largest_in_view,
    tile_geometry,
    top_lines,
    trade_dots,
)
from .series_strip import SERIES_FIELDS, SeriesStrip, period_glyph

# Bookmap's default map runs dark -> blue -> yellow -> orange -> red (research doc A1.1).
HEAT_PALETTE = interp_palette(("#0b1a3a", "#1f4fa8", "#2fa3c9", "#f0e442", "#f39c12", "#e53935"),
                              256)
AGGRESSOR_PALETTE = interp_palette((ASK, "#d0d0d0", BID), 11)  # sellers' red .. buyers' green
PERIOD_COLOURS = {"gap": "#f0b90b", "resync": "#9aa4b2", "reconnect": "#b48ef7",
                  "stale": "#6e7b8b"}
PERIOD_LABELS = {"gap": "gap (frames lost)", "resync": "resync", "reconnect": "reconnect",
                 "stale": "stale feed"}
MAX_DOTS = 20_000
LEAD_S = 1.0  # the x range ends this far past the live edge (room for the next columns)
FOLLOW_SLACK = 0.05  # the x range follows while its end is within this share of its width
HEIGHT = 250


class LiquidityView(LiveComponent):
    """Heatmap, trade dots, best bid/ask and shaded periods of ``symbol``, and a series strip."""

    rate_hz = param.Number(default=4.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    log_scale = param.Boolean(default=False, doc="Colour by log(1 + size) instead of size.")
    low_pct = param.Number(default=5.0, bounds=(0.0, 49.0),
                           doc="Lower colour cut-off: this percentile of the sizes in view.")
    high_pct = param.Number(default=95.0, bounds=(51.0, 100.0),
                            doc="Upper colour cut-off: this percentile of the sizes in view.")
    series = param.Selector(default="queue_imbalance", objects=list(SERIES_FIELDS),
                            doc="The microstructure series in the strip under the heatmap.")
    window_s = param.Number(default=120.0, bounds=(10.0, 3600.0),
                            doc="Seconds shown at the live edge when the view opens.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.tiles = ColumnDataSource({k: [] for k in ("image", "x", "y", "dw", "dh")},
                                      name="liq-tiles")
        self.dots = ColumnDataSource({k: [] for k in ("x", "y", "volume", "root", "buy_share")},
                                     name="liq-trades")
        self.tops = ColumnDataSource({"x": [], "bid": [], "ask": []}, name="liq-top")
        self.periods = ColumnDataSource({"x0": [], "x1": [], "kind": [], "color": []},
                                        name="liq-periods")
        self.mapper = LinearColorMapper(palette=HEAT_PALETTE, low=0, high=1,
                                        nan_color="rgba(0, 0, 0, 0)")
        self.dot_size = LinearInterpolator(x=[0, 1], y=[3, 22], clip=True)
        self.heatmap = self._heatmap_figure()
        self.strip = SeriesStrip(self.heatmap.x_range, self.periods, self.series)
        # no x axis of its own (the strip's is below it): its grid reuses the strip's ticker
        self.heatmap.add_layout(Grid(dimension=0, ticker=self.strip.figure.xaxis[0].ticker,
                                     grid_line_color=GRID, grid_line_alpha=0.6))
        self.plot = bokeh_column(self.heatmap, self.strip.figure, sizing_mode="stretch_width")
        self.title = pn.pane.HTML(title_html("Liquidity", self.symbol, False), margin=(4, 6))
        self.note = pn.pane.HTML("", visible=False, css_classes=["liquidity-note"],
                                 styles={"color": MUTED}, margin=(0, 8))
        log = pn.widgets.Checkbox.from_param(self.param.log_scale, name="log", width=50)
        pick = pn.widgets.Select.from_param(self.param.series, name="", width=160)
        body = pn.Column(self.note, pn.pane.Bokeh(self.plot, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width", margin=0, css_classes=["liquidity-view"])
        self._layout = card(self.title, log, pick, body=body)
        self._slow = RateGate()  # colour cut-offs, periods, reset ranges: at most 1 Hz
        self._forget()

    def __panel__(self):
        return self._layout

    # ---- figure (built once)
    def _heatmap_figure(self):
        fig = figure(height=HEIGHT, sizing_mode="stretch_width", x_axis_type=None,
                     x_range=Range1d(0, 1, name="liq-x"), y_range=Range1d(0, 1),
                     tools="xpan,pan,wheel_zoom,box_zoom,reset,save", active_drag="xpan",
                     active_scroll="wheel_zoom", toolbar_location="right")
        fig.toolbar.autohide = True
        image = fig.add_glyph(self.tiles, Image(image="image", x="x", y="y", dw="dw", dh="dh",
                                                color_mapper=self.mapper))
        for side, colour in (("bid", BID), ("ask", ASK)):
            fig.add_glyph(self.tops, Step(x="x", y=side, mode="after", line_color=colour,
                                          line_width=1.5))
        # drawn over the heat: its cells are opaque
        strips = fig.add_glyph(self.periods, period_glyph())
        dots = fig.add_glyph(self.dots, Scatter(
            x="x", y="y", size=transform("root", self.dot_size), line_color=PANEL_BG,
            line_width=0.5, fill_alpha=0.8,
            fill_color=linear_cmap("buy_share", AGGRESSOR_PALETTE, 0.0, 1.0)))
        self._price_hover = CustomJSHover(args={"bucket": 1.0, "digits": 2}, code=(
            "return (Math.round(value / bucket) * bucket).toFixed(digits)"))
        self._hover = HoverTool(renderers=[image], tooltips=self._tooltips(),
                                formatters={"$x": "datetime", "$y": self._price_hover})
        fig.add_tools(self._hover, HoverTool(
            renderers=[dots], formatters={"@x": "datetime"},
            tooltips=[("time", "@x{%F %T.%3N} UTC"), ("traded", "@volume{0,0.[0000]}"),
                      ("buyers", "@buy_share{0%}")]))
        self.legend = Legend(items=[LegendItem(label={"field": "kind"}, renderers=[strips])],
                             name="liq-legend",
                             location="top_left", visible=False, background_fill_color=PANEL_BG,
                             background_fill_alpha=0.7, label_text_color=TEXT,
                             label_text_font_size="10px", title="not vouched for",
                             title_text_color=MUTED, title_text_font_size="10px")
        fig.add_layout(self.legend)
        self._label = stale_label()
        fig.add_layout(self._label)
        style_figure(fig)
        fig.min_border_left = 70
        return fig

    def _tooltips(self) -> list[tuple[str, str]]:
        size = "log(1 + size)" if self.log_scale else "size"
        return [("time", "$x{%F %T.%3N} UTC"), ("price", "$y{custom}"),
                (size, "@image{0,0.[0000]}")]

    # ---- driving
    def tick(self, now: float | None = None) -> bool:
        """Render when due and the collector has closed a column (or a 1 Hz refresh is due)."""
        if not self._due(now):
            return False
        research = self.hub.research
        if research is None:
            self._say("no history kept: this server runs without the research collector")
            return False
        view = self.hub.view(self.symbol)
        stale = view is not None and not view.live
        if stale != self.stale:
            self.stale = stale
        history = research.history(self.symbol)
        if history is None:
            self._say(f"waiting for the first book of {self.symbol}")
            return False
        slow = self._slow.due(now, 1.0)
        if research.version == self._shown_version and not slow:
            return False
        self._shown_version = research.version
        # validate(False): the data is built here, in shapes this module fixes; Bokeh's check of
        # the whole column-data dict on every stream/patch was ~1/6 of a render (cProfile)
        with combined(self.plot), validate(False):
            self._say("")
            self.render(history, research.series_rows(self.symbol), slow)
        self.renders += 1
        return True

    def render(self, history: BookHistory, rows, slow: bool = True) -> None:
        """Bring the sources up to the history's newest final column."""
        if self._ring is None or history is not self._history:
            self._catch_up(history)
            self.strip.show(self.series, rows)
            slow = True
        else:
            self._append(history)
            self.strip.update(rows)
        self._follow()
        if slow:
            self._sync_periods(history)
            self._recolour()

    def _catch_up(self, history: BookHistory) -> None:
        """The whole ring at once (a session that opens late, a new symbol, the log switch)."""
        self._history, self._column_ms = history, history.column_ns / 1e6
        self._bucket = float(history.bucket)
        self._ring = TileLayout(2 * history.levels, log=self.log_scale)
        self._max_tiles = -(-history.capacity // self._ring.width) + 4
        cols = history.window(0, 2**63)
        tiles = self._tile_rows(self._ring.write(cols).new)
        self.tiles.data = {k: v[-self._max_tiles:] for k, v in tiles.items()}
        self.dots.data = {k: v[-MAX_DOTS:] for k, v in
                          trade_dots(cols, self._column_ms, self._bucket).items()}
        self.tops.data = top_lines(cols, self._column_ms)
        self._cursor = cols.next_cursor
        self._edge_ms = self._range_end = None
        digits = max(0, -int(history.bucket.as_tuple().exponent))
        self._price_hover.args = {"bucket": self._bucket, "digits": digits}
        self.title.object = self._title()

    def _append(self, history: BookHistory) -> None:
        """The columns closed since the last render: patch the newest tile, stream new ones."""
        cols = history.columns(self._cursor)
        if not len(cols):
            return
        write = self._ring.write(cols)
        if write.patch is not None:
            col, block = write.patch
            last, k = len(self.tiles.data["image"]) - 1, block.shape[1]
            where = (last, slice(None), col) if k == 1 else (last, slice(None),
                                                             slice(col, col + k))
            self.tiles.patch({"image": [(where, block[:, 0] if k == 1 else block.ravel())]})
        if write.new:
            self.tiles.stream(self._tile_rows(write.new), rollover=self._max_tiles)
        dots = trade_dots(cols, self._column_ms, self._bucket)
        if dots["x"]:
            self.dots.stream(dots, rollover=MAX_DOTS)
        # lists: a few values go as JSON, not as one binary buffer (a websocket fragment) each
        tops = {k: v.tolist() for k, v in top_lines(cols, self._column_ms).items()}
        self.tops.stream(tops, rollover=history.capacity)
        self._cursor = cols.next_cursor

    def _tile_rows(self, new) -> dict[str, list]:
        rows: dict[str, list] = {k: [] for k in ("image", "x", "y", "dw", "dh")}
        for tile, image in new:
            rows["image"].append(image)
            geometry = tile_geometry(tile, self._ring.rows, self._ring.width, self._column_ms,
                                     self._bucket)
            for key, value in geometry.items():
                rows[key].append(value)
        return rows

    # ---- ranges, periods, colours
    def _follow(self) -> None:
        """Keep the live edge in view unless the user has panned away from it. The range is
        moved ``LEAD_S`` ahead of the edge, so it moves about once a second, not every column:
        two range changes per column were ~1/4 of a render (cProfile)."""
        self._edge_ms = edge = self._cursor * self._column_ms
        xr, yr = self.heatmap.x_range, self.heatmap.y_range
        if self._range_end is None:
            width = self.window_s * 1000
        else:
            width = xr.end - xr.start
            if not self._following():
                return
        if self._range_end is None or edge > self._range_end - self._column_ms:
            self._range_end = end = edge + LEAD_S * 1000
            xr.update(start=end - width, end=end)
            self._follow_price(yr)

    def _following(self) -> bool:
        """The x range ends near where this view last put it (the user has not panned away)."""
        xr = self.heatmap.x_range
        return self._range_end is not None and (
            xr.end >= self._range_end - FOLLOW_SLACK * (xr.end - xr.start))

    def _follow_price(self, yr: Range1d) -> None:
        """Centre the price range on the newest mid once it drifts; the first time, fit it to
        the newest column's resting book."""
        bids, asks = self.tops.data["bid"], self.tops.data["ask"]
        if not len(bids):
            return
        sides = [p for p in (bids[-1], asks[-1]) if not math.isnan(p)]
        if not sides:
            return
        mid = sum(sides) / len(sides)  # one side only: centre on it
        first = not self._y_fitted
        half = self._book_reach(mid) if first else (yr.end - yr.start) / 2
        if half is None:
            return
        if first or abs(mid - (yr.start + yr.end) / 2) > 0.3 * half:
            yr.update(start=mid - half, end=mid + half)
            self._y_fitted = True

    def _book_reach(self, mid: float) -> float | None:
        """How far from ``mid`` the newest column's resting book reaches (``book_reach``)."""
        images = self.tiles.data["image"]
        if not images or self._ring is None or self._ring.tile is None:
            return None
        column = images[-1][:, self._ring.next_index - self._ring.tile.start - 1]
        return book_reach(column, self.tiles.data["y"][-1], self._bucket, mid)

    def _sync_periods(self, history: BookHistory) -> None:
        """Every kept period as a shaded strip; an open one reaches the live edge."""
        periods = history.periods()
        key = (periods, self._edge_ms if any(p.end_ns is None for p in periods) else None)
        if key == self._periods_key:
            return
        self._periods_key = key
        self.periods.data = {
            "x0": [p.start_ns / 1e6 for p in periods],
            "x1": [self._edge_ms if p.end_ns is None else p.end_ns / 1e6 for p in periods],
            "kind": [PERIOD_LABELS.get(p.kind, p.kind) for p in periods],
            "color": [PERIOD_COLOURS.get(p.kind, MUTED) for p in periods]}
        if self.legend.visible != bool(periods):
            self.legend.visible = bool(periods)

    def _recolour(self) -> None:
        """Cut-offs and dot scale from what is in view; reset goes back to the live edge."""
        xr, yr = self.heatmap.x_range, self.heatmap.y_range
        view = (xr.start, xr.end)
        data = self.tiles.data
        cut = cutoffs(data["image"], list(zip(data["x"], data["dw"], strict=True)), view,
                      self.low_pct, self.high_pct)
        if cut is not None and (self.mapper.low, self.mapper.high) != cut:
            self.mapper.update(low=cut[0], high=cut[1])
        largest = largest_in_view(self.dots.data["x"], self.dots.data["root"], view)
        if largest > 0 and list(self.dot_size.x) != [0, largest]:
            self.dot_size.x = [0, largest]
        self.strip.fit(view)
        if self._following():
            xr.update(reset_start=xr.start, reset_end=xr.end)
            yr.update(reset_start=yr.start, reset_end=yr.end)

    # ---- state
    def _say(self, text: str) -> None:
        if self.note.object != text:
            self.note.object = text
        if self.note.visible != bool(text):
            self.note.visible = bool(text)

    def _title(self) -> str:
        extra = ""
        if self._history is not None:
            extra = (f"{self._history.column_ns / 1e6:g} ms columns · bucket "
                     f"{self._history.bucket}")
        return title_html("Liquidity", self.symbol, self.stale, extra)

    def _forget(self) -> None:
        self._ring: TileLayout | None = None
        self._history: BookHistory | None = None
        self._cursor = 0
        self._edge_ms: float | None = None  # the newest final column's end, epoch ms
        self._range_end: float | None = None  # where this view last put the x range's end
        self._periods_key: tuple | None = None
        self._y_fitted = False  # the price range was fitted to a column's book once

    def reset(self) -> None:
        self._forget()
        with combined(self.plot):
            for source in (self.tiles, self.dots, self.tops, self.periods):
                source.data = {k: [] for k in source.data}
            self.strip.reset()
            self.legend.visible = False
        self.title.object = self._title()
        self._slow.reset()

    @param.depends("log_scale", watch=True)
    def _on_log(self) -> None:
        self._hover.tooltips = self._tooltips()
        self._ring = None  # re-sent once with the other transform
        self._shown_version = -1
        self._gate.reset()

    @param.depends("low_pct", "high_pct", watch=True)
    def _on_cutoffs(self) -> None:
        self._slow.reset()
        self._gate.reset()

    @param.depends("series", watch=True)
    def _on_series(self) -> None:
        research = self.hub.research
        rows = research.series_rows(self.symbol) if research is not None else ()
        self.strip.show(self.series, rows)
        self._slow.reset()

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        self._label.visible = self.stale
        self.title.object = self._title()

