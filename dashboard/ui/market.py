"""Hot market views: depth chart, order book ladder, trade tape, candles and a quote header.

Each component builds its Bokeh models once in ``__init__`` and afterwards only sends data: the
depth chart replaces two small sources, the ladder patches the cells that changed on a fixed grid
of rows, the tape streams the new trades, the candles patch the last bar and stream new ones.
Ranges are set by the server (``Range1d``), never auto-ranged, so browsers send no range traffic
back. Imports ``hub`` and ``domain`` only (never ``kucoin`` or ``simulator``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import panel as pn
import param
from bokeh.layouts import column as bokeh_column
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    HoverTool,
    HTMLTemplateFormatter,
    InlineStyleSheet,
    Label,
    Range1d,
    Span,
    TableColumn,
)
from bokeh.plotting import figure

from dashboard.domain.models import Candle, Instrument, Side, Trade
from dashboard.hub import MarketView

from .base import ACCENT, ASK, BID, GRID, MUTED, PANEL_BG, STALE, TEXT, LiveComponent, LiveHTML, style_figure

MAX_DEPTH_POINTS = 300  # per side sent to the browser each depth frame
GROUPS = [1, 2, 5, 10, 25, 50, 100, 1000]
INTERVALS = ["1min", "5min", "15min", "1hour", "4hour", "1day"]
INTERVAL_S = {"1min": 60, "5min": 300, "15min": 900, "1hour": 3600, "4hour": 14400, "1day": 86400}
MAX_CANDLES = 500  # kept per session (rollover)
VISIBLE_CANDLES = 120
STABLE_QUOTES = {"USDT", "USDC", "USD", "DAI", "TUSD"}
LARGE_BY_BASE = {"BTC": 50_000.0, "ETH": 25_000.0}  # notional in a stablecoin quote
LARGE_BY_QUOTE = {"BTC": 1.0, "ETH": 10.0}
ROW_PX = 22
CARD = {"background": PANEL_BG, "color": TEXT, "border-radius": "6px"}
# CSS text, not a model: a Bokeh model belongs to one document, so each table gets its own InlineStyleSheet.
TABLE_CSS = f"""
:host {{ background: {PANEL_BG}; }}
.slick-header-columns, .slick-header-column {{
  background: {PANEL_BG} !important; color: {MUTED}; border-color: {GRID}; }}
.slick-row, .slick-cell {{ background: {PANEL_BG} !important; color: {TEXT}; border-color: {GRID} !important; }}
.slick-cell.selected {{ background: {GRID} !important; }}
"""


# ---- small shared helpers
@contextlib.contextmanager
def _combined(model) -> Iterator[None]:
    """Send all changes of one render as one message (unless someone up the stack already holds)."""
    doc = model.document
    if doc is None or doc.callbacks.hold_value is not None:
        yield
        return
    doc.hold("combine")
    try:
        yield
    finally:
        doc.unhold()


def _fit(rng: Range1d, lo: float, hi: float, pad: float = 0.06, zero: bool = False) -> None:
    """Move a server-set range only when the data leaves it or fills less than half of it."""
    if not hi > lo:
        hi = lo + max(abs(lo) * 1e-3, 1e-9)
    span = hi - lo
    want = (0.0 if zero else lo - pad * span, hi + pad * span)
    inside = rng.start <= lo and hi <= rng.end
    if inside and (rng.end - rng.start) <= 2 * (want[1] - want[0]):
        return
    rng.update(start=want[0], end=want[1])


def _title_html(title: str, symbol: str, stale: bool, extra: str = "") -> str:
    badge = (f" <span style='background:{STALE};color:{PANEL_BG};padding:0 6px;border-radius:3px;"
             f"font-weight:700'>STALE</span>") if stale else ""
    more = f" <span style='color:{MUTED}'>{extra}</span>" if extra else ""
    return f"<b style='color:{TEXT}'>{title}</b> <span style='color:{MUTED}'>{symbol}</span>{more}{badge}"


def _card(title: pn.pane.HTML, *widgets, body) -> pn.Column:
    head = pn.Row(title, pn.layout.HSpacer(), *widgets, sizing_mode="stretch_width", margin=(0, 4))
    return pn.Column(head, body, sizing_mode="stretch_width", styles=CARD)


def _stale_label() -> Label:
    return Label(x=10, y=10, x_units="screen", y_units="screen", text="STALE", visible=False,
                 text_color=STALE, text_font_size="20px", text_font_style="bold")


def _quote(instrument: Instrument | None, symbol: str) -> tuple[str, str]:
    if instrument is not None:
        return instrument.base, instrument.quote
    base, _, quote = symbol.partition("-")
    return base, quote


def default_large_threshold(symbol: str) -> float:
    """A trade notional (in the quote currency) worth highlighting on this market."""
    base, _, quote = symbol.partition("-")
    if quote in STABLE_QUOTES:
        return LARGE_BY_BASE.get(base, 10_000.0)
    return LARGE_BY_QUOTE.get(quote, 10_000.0)


# ---- depth
class DepthChart(LiveComponent):
    """Cumulative depth around the mid: bids left (green), asks right (red), mid as a dashed line."""

    rate_hz = param.Number(default=8.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    span_pct = param.Number(default=1.0, bounds=(0.1, 10.0), step=0.1,
                            doc="Half-width of the x range around the mid, in percent of the mid.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.bids = ColumnDataSource({"price": [], "cum": []}, name="depth-bids")
        self.asks = ColumnDataSource({"price": [], "cum": []}, name="depth-asks")
        fig = figure(height=270, sizing_mode="stretch_width", x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                     tools="save", toolbar_location=None)
        # Hidden while their source is empty: BokehJS 3.10 hangs the page (an endless loop, no error) drawing a
        # visible VAreaStep with no points -- a page opened before the first book, or right after a symbol change.
        self._areas = [fig.varea_step(x="price", y1=0, y2="cum", step_mode="after", source=src, fill_color=colour,
                                      fill_alpha=0.25, visible=False)
                       for src, colour in ((self.bids, BID), (self.asks, ASK))]
        self._lines = [fig.step(x="price", y="cum", mode="after", source=src, line_color=colour, line_width=2)
                       for src, colour in ((self.bids, BID), (self.asks, ASK))]
        fig.add_tools(HoverTool(renderers=self._lines, mode="vline",
                                tooltips=[("price", "@price{0,0.[00000000]}"), ("cumulative", "@cum{0,0.[0000]}")]))
        self.mid_line = Span(location=0, dimension="height", line_color=MUTED, line_dash="dashed", line_width=1)
        self._label = _stale_label()
        fig.add_layout(self.mid_line)
        fig.add_layout(self._label)
        fig.xaxis.axis_label, fig.yaxis.axis_label = "price", "cumulative size"
        style_figure(fig)
        self.plot = fig
        self.title = pn.pane.HTML(_title_html("Depth", self.symbol, False), margin=(4, 6))
        slider = pn.widgets.FloatSlider.from_param(self.param.span_pct, name="span %", width=180)
        self._layout = _card(self.title, slider, body=pn.pane.Bokeh(fig, sizing_mode="stretch_width"))

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
        with _combined(self.plot):
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
            _fit(self.plot.y_range, 0.0, float(top), zero=True)

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
        self.title.object = _title_html("Depth", self.symbol, self.stale)

    def _show_areas(self) -> None:
        """An area is visible only with points to draw (see ``__init__``)."""
        for renderer, src in zip(self._areas, (self.bids, self.asks), strict=True):
            visible = len(src.data["price"]) > 0
            if renderer.visible != visible:
                renderer.visible = visible

    def reset(self) -> None:
        with _combined(self.plot):
            self.bids.data = {"price": [], "cum": []}
            self.asks.data = {"price": [], "cum": []}
            self._show_areas()
        self.title.object = _title_html("Depth", self.symbol, self.stale)


def _thin(px: np.ndarray, cum: np.ndarray, limit: int = MAX_DEPTH_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` points, always keeping the best level and the deepest (the total)."""
    if len(px) <= limit:
        return px, cum
    idx = np.unique(np.linspace(0, len(px) - 1, limit).round().astype(int))
    return px[idx], cum[idx]


# ---- ladder
LADDER_COLUMNS = ("price", "size", "cum", "side", "own", "bar", "color", "shade")
# The ladder's rows for one (view, grouping, own orders, stale) are the same for every session showing them:
# built once per process, shared read-only (``_patch_changes`` copies before a replace; a patch sends values).
_LADDER_TABLES: dict[tuple, dict[str, list]] = {}
_LADDER_TABLES_KEPT = 64


class OrderBookLadder(LiveComponent):
    """The book grouped by ``group`` ticks: asks above (best ask next to the spread row), bids below."""

    rate_hz = param.Number(default=8.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    group = param.Selector(default=1, objects=GROUPS, doc="Bucket size in multiples of the price tick.")
    rows = param.Integer(default=12, bounds=(3, 50), doc="Rows per side.")
    own_prices = param.ClassSelector(class_=(set, frozenset), default=frozenset(),
                                     doc="Prices of the user's open orders (raw, ungrouped); their buckets are marked.")
    selected_price = param.String(default="", doc="Price (exact, as text) of the last row the user clicked.")
    selected_side = param.Selector(default="", objects=["", "bid", "ask"], doc="Book side of the clicked row.")
    bucket_label = param.String(default="", constant=True, doc="Output: the bucket size shown, e.g. 'bucket 1.0 USDT'.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.source = ColumnDataSource({k: [] for k in LADDER_COLUMNS}, name="ladder")
        self.source.selected.on_change("indices", self._on_select)
        self._decimals = 4
        self._size_fmt = HTMLTemplateFormatter(template=self._size_template())
        self._cum_fmt = HTMLTemplateFormatter(template=self._cum_template())
        own_fmt = HTMLTemplateFormatter(template=f"<span style='color:{ACCENT};font-weight:700'><%= value %></span>")
        price_fmt = HTMLTemplateFormatter(
            template="<span style='color:<%= color %>;font-weight:600'><%= value %></span>")
        self._columns = [TableColumn(field="own", title="", width=16, formatter=own_fmt, sortable=False),
                         TableColumn(field="price", title="price", formatter=price_fmt, sortable=False),
                         TableColumn(field="size", title="size", formatter=self._size_fmt, sortable=False),
                         TableColumn(field="cum", title="cum", formatter=self._cum_fmt, sortable=False)]
        self.plot = DataTable(source=self.source, columns=self._columns, index_position=None, sortable=False,
                              reorderable=False, row_height=ROW_PX, height=self._height(),
                              sizing_mode="stretch_width", stylesheets=[InlineStyleSheet(css=TABLE_CSS)])
        self.title = pn.pane.HTML("", margin=(4, 6))
        group = pn.widgets.Select.from_param(self.param.group, name="", width=70)
        self._layout = _card(self.title, group, body=pn.pane.Bokeh(self.plot, sizing_mode="stretch_width"))
        self._set_title(None)

    def __panel__(self):
        return self._layout

    def _height(self) -> int:
        return (2 * self.rows + 1) * ROW_PX + 30

    def _size_template(self) -> str:
        return ("<div style='text-align:right;background:linear-gradient(to left, <%= shade %> <%= bar %>%, "
                f"transparent <%= bar %>%)'><%= value.toFixed({self._decimals}) %></div>")

    def _cum_template(self) -> str:
        return f"<div style='text-align:right;color:{MUTED}'><%= value.toFixed({self._decimals}) %></div>"

    def update(self, view: MarketView) -> None:
        ladder = view.ladder(self.group, self.rows)
        if ladder is None:
            return
        self._set_title(view.instrument)
        self._set_decimals(view.instrument)
        key = (view.symbol, view.version, self.group, self.rows, frozenset(self.own_prices), self.stale)
        data = _LADDER_TABLES.get(key)
        if data is None:  # the first session to render this view builds the rows; the others reuse them
            data = _LADDER_TABLES[key] = self._table(view, ladder)
            while len(_LADDER_TABLES) > _LADDER_TABLES_KEPT:
                del _LADDER_TABLES[next(iter(_LADDER_TABLES))]
        with _combined(self.plot):
            _patch_changes(self.source, data)

    def _table(self, view: MarketView, ladder) -> dict[str, list]:
        n, bucket = self.rows, ladder.bucket
        own = [Decimal(p) for p in self.own_prices]
        asks, bids = ladder.asks[:n], ladder.bids[:n]
        top = max((float(s) for _, s, _ in (*asks, *bids)), default=0.0) or 1.0
        cols: dict[str, list] = {k: [] for k in LADDER_COLUMNS}

        def add(side: str, level=None, text: str = "") -> None:
            price, size, cum = level if level is not None else (None, None, None)
            live = {"bid": BID, "ask": ASK}.get(side, MUTED)
            colour = STALE if self.stale else live
            marked = price is not None and any(
                (price <= o < price + bucket) if side == "bid" else (price - bucket < o <= price) for o in own)
            row = {"price": format(price, "f") if price is not None else text, "side": side,
                   "size": float(size) if size is not None else None, "cum": float(cum) if cum is not None else None,
                   "own": "\u25cf" if marked else "", "bar": round(100 * float(size) / top) if size else 0,
                   "color": colour, "shade": _rgba(colour, 0.25)}
            for k in LADDER_COLUMNS:
                cols[k].append(row[k])

        for _ in range(n - len(asks)):
            add("ask")
        for level in reversed(asks):
            add("ask", level)
        spread = "" if view.spread is None else f"{view.spread} ({view.spread_bps:.1f} bps)"
        add("spread", text=spread)
        for level in bids:
            add("bid", level)
        for _ in range(n - len(bids)):
            add("bid")
        return cols

    def _set_title(self, instrument: Instrument | None) -> None:
        _, quote = _quote(instrument, self.symbol)
        label = f"bucket {instrument.price_increment * self.group} {quote}" if instrument else ""
        if label != self.bucket_label:
            with param.edit_constant(self):
                self.bucket_label = label
        html = _title_html("Order book", self.symbol, self.stale, label)
        if html != self.title.object:
            self.title.object = html

    def _set_decimals(self, instrument: Instrument | None) -> None:
        decimals = 4 if instrument is None else min(4, max(0, -instrument.base_increment.as_tuple().exponent))
        if decimals != self._decimals:
            self._decimals = decimals
            self._size_fmt.template, self._cum_fmt.template = self._size_template(), self._cum_template()

    def _on_select(self, attr, old, new) -> None:
        if not new:
            return
        i = new[0]
        price, side = self.source.data["price"][i], self.source.data["side"][i]
        self.source.selected.indices = []  # rows are positions, not prices: don't keep a moving highlight
        if side in ("bid", "ask") and price:
            self.selected_side = side
            self.selected_price = price

    @param.depends("group", "rows", "own_prices", "stale", watch=True)
    def _invalidate(self) -> None:
        self._shown_version = -1
        self._gate.reset()
        self.plot.height = self._height()
        view = self.hub.view(self.symbol)
        self._set_title(view.instrument if view is not None else None)

    def reset(self) -> None:
        self.source.data = {k: [] for k in LADDER_COLUMNS}
        self._set_title(None)


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _patch_changes(source: ColumnDataSource, new: dict[str, list]) -> None:
    """Patch only the cells that changed; replace when the shape changed."""
    old = source.data
    if set(old) != set(new) or any(len(old[k]) != len(v) for k, v in new.items()):
        source.data = {k: list(v) for k, v in new.items()}  # own lists: a later patch edits them in place
        return
    patches = {k: [(i, b) for i, (a, b) in enumerate(zip(old[k], v, strict=True)) if a != b] for k, v in new.items()}
    patches = {k: v for k, v in patches.items() if v}
    if patches:
        source.patch(patches)


# ---- tape
TAPE_COLUMNS = ("y", "trade_id", "time", "price", "size", "side", "color", "weight", "bg")
TAPE_X = {"time": (0.02, "left"), "price": (0.58, "right"), "size": (0.83, "right"), "side": (0.98, "right")}


class TradeTape(LiveComponent):
    """Trades, newest on top; buys green, sells red, large notionals bold on an accent band.

    Drawn as text in a Bokeh figure, not a DataTable, so that only new trades travel: ``stream``
    appends at the end of the source and a DataTable would show them at the bottom (its order can
    only be changed by the user clicking a header; there is no server-side initial sort). Here each
    trade gets y = its sequence number and the server moves the y range to the newest ``rows``,
    so newest-first costs the k new rows plus two range numbers per frame, and ``rollover`` drops
    the rows that scrolled out.
    """

    rate_hz = param.Number(default=4.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    rows = param.Integer(default=14, bounds=(5, 60), doc="Trades shown (and kept in the browser).")
    large_threshold = param.Number(default=None, allow_None=True, bounds=(0, None),
                                   doc="Notional (price x size, quote currency) from which a trade is highlighted; "
                                       "None picks the symbol's default and a symbol change restores it.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        if self.large_threshold is None:
            self.large_threshold = default_large_threshold(self.symbol)
        self.source = ColumnDataSource({k: [] for k in TAPE_COLUMNS}, name="tape")
        self._shown_total: int | None = None
        self._seq = 0
        fig = figure(height=self._height(), sizing_mode="stretch_width", x_range=Range1d(0, 1),
                     y_range=Range1d(0.5, self.rows + 0.5), x_axis_type=None, y_axis_type=None, tools="",
                     toolbar_location=None, min_border=0)
        fig.grid.visible = False
        fig.hbar(y="y", left=0, right=1, height=0.92, fill_color=ACCENT, fill_alpha="bg", line_color=None,
                 source=self.source)
        self._texts = [fig.text(x=x, y="y", text=col, text_align=align, text_baseline="middle", text_color="color",
                                text_font_style="weight", text_font_size="12px", source=self.source)
                       for col, (x, align) in TAPE_X.items()]
        style_figure(fig)
        fig.outline_line_color = None
        self.plot = fig
        self.title = pn.pane.HTML(_title_html("Trades", self.symbol, False), margin=(4, 6))
        head = "".join(f"<span style='position:absolute;{'left' if a == 'left' else 'right'}:"
                       f"{100 * x if a == 'left' else 100 - 100 * x:.0f}%'>{c}</span>" for c, (x, a) in TAPE_X.items())
        header = pn.pane.HTML(f"<div style='position:relative;height:18px;color:{MUTED};font-size:12px'>{head}</div>",
                              sizing_mode="stretch_width", margin=(0, 5))
        self._layout = _card(self.title, body=pn.Column(header, pn.pane.Bokeh(fig, sizing_mode="stretch_width"),
                                                        sizing_mode="stretch_width", margin=0))

    def __panel__(self):
        return self._layout

    def _height(self) -> int:
        return self.rows * 19 + 4

    def update(self, view: MarketView) -> None:
        new = view.trades_total - (self._shown_total if self._shown_total is not None else 0)
        count = min(new, len(view.trades), self.rows)
        self._shown_total = view.trades_total
        if count <= 0:
            return
        rows = [self._row(t) for t in view.trades[-count:]]
        with _combined(self.plot):
            self.source.stream({k: [r[k] for r in rows] for k in TAPE_COLUMNS}, rollover=self.rows)
            self.plot.y_range.update(start=self._seq - self.rows + 0.5, end=self._seq + 0.5)

    def _row(self, trade: Trade) -> dict:
        self._seq += 1
        large = float(trade.price * trade.size) >= (self.large_threshold or 0.0)
        when = datetime.fromtimestamp(trade.ts_ns / 1e9, UTC).strftime("%H:%M:%S.%f")[:-3]
        return {"y": self._seq, "trade_id": trade.trade_id, "time": when, "price": format(trade.price, "f"),
                "size": format(trade.size, "f"), "side": str(trade.side),
                "color": BID if trade.side is Side.BUY else ASK, "weight": "bold" if large else "normal",
                "bg": 0.22 if large else 0.0}

    def displayed(self) -> list[dict]:
        """The rows on screen, newest first (what a user reads top to bottom)."""
        data = self.source.data
        order = sorted(range(len(data["y"])), key=lambda i: data["y"][i], reverse=True)
        return [{k: data[k][i] for k in TAPE_COLUMNS} for i in order]

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        for renderer in self._texts:
            renderer.glyph.text_alpha = 0.45 if self.stale else 1.0
        self.title.object = _title_html("Trades", self.symbol, self.stale)

    @param.depends("rows", watch=True)
    def _on_rows(self) -> None:
        self.plot.height = self._height()
        self.reset()

    def reset(self) -> None:
        self._shown_total, self._seq = None, 0
        self._shown_version = -1
        self._gate.reset()
        self.source.data = {k: [] for k in TAPE_COLUMNS}
        self.plot.y_range.update(start=0.5 - self.rows, end=0.5)
        self.title.object = _title_html("Trades", self.symbol, self.stale)

    @param.depends("symbol", watch=True)
    def _on_symbol_threshold(self) -> None:
        self.large_threshold = default_large_threshold(self.symbol)


# ---- candles
CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume", "color")


class CandleChart(LiveComponent):
    """OHLC candles with volume below: history from the hub, then the last bar patched and new bars streamed."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    interval = param.Selector(default="1min", objects=INTERVALS, doc="Candle interval (KuCoin's names).")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.source = ColumnDataSource({k: [] for k in CANDLE_COLUMNS}, name="candles")
        self._last: Candle | None = None
        self._history_version = -1
        x_range = Range1d(0, 1)
        price = figure(height=270, sizing_mode="stretch_width", x_axis_type="datetime", x_range=x_range,
                       y_range=Range1d(0, 1), tools="xpan,xwheel_zoom,save", toolbar_location=None)
        price.segment(x0="time", y0="high", x1="time", y1="low", line_color="color", source=self.source)
        self._bars = price.vbar(x="time", top="open", bottom="close", width=self._width(), fill_color="color",
                                line_color="color", source=self.source)
        price.add_tools(HoverTool(renderers=[self._bars], mode="vline", formatters={"@time": "datetime"},
                                  tooltips=[("time", "@time{%F %H:%M}"), ("open", "@open{0,0.[00000000]}"),
                                            ("high", "@high{0,0.[00000000]}"), ("low", "@low{0,0.[00000000]}"),
                                            ("close", "@close{0,0.[00000000]}"), ("volume", "@volume{0,0.[0000]}")]))
        volume = figure(height=100, sizing_mode="stretch_width", x_axis_type="datetime", x_range=x_range,
                        y_range=Range1d(0, 1), tools="", toolbar_location=None)
        self._vol = volume.vbar(x="time", top="volume", width=self._width(), fill_color="color", fill_alpha=0.6,
                                line_color=None, source=self.source)
        price.xaxis.visible = False
        volume.yaxis.ticker.desired_num_ticks = 2
        self._label = _stale_label()
        price.add_layout(self._label)
        for fig in (price, volume):
            style_figure(fig)
            fig.min_border_left = 60
        self.price_figure, self.volume_figure = price, volume
        self.plot = bokeh_column(price, volume, sizing_mode="stretch_width")
        self.title = pn.pane.HTML(_title_html("Candles", self.symbol, False, self.interval), margin=(4, 6))
        pick = pn.widgets.Select.from_param(self.param.interval, name="", width=90)
        self._layout = _card(self.title, pick, body=pn.pane.Bokeh(self.plot, sizing_mode="stretch_width"))

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
        with _combined(self.plot):
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
        _fit(self.price_figure.y_range, min(data["low"][first:]), max(data["high"][first:]))
        _fit(self.volume_figure.y_range, 0.0, max(data["volume"][first:]), zero=True)

    @param.depends("interval", watch=True)
    def _on_interval(self) -> None:
        self._bars.glyph.width = self._vol.glyph.width = self._width()
        self.reset()
        self._shown_version = -1
        self._gate.reset()

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        for renderer in (self._bars, self._vol):
            renderer.glyph.fill_alpha = 0.3 if self.stale else (0.6 if renderer is self._vol else 1.0)
        self._label.visible = self.stale
        self.title.object = _title_html("Candles", self.symbol, self.stale, self.interval)

    def reset(self) -> None:
        self._last = None
        self._history_version = -1
        self.source.data = {k: [] for k in CANDLE_COLUMNS}
        self.title.object = _title_html("Candles", self.symbol, self.stale, self.interval)


def _candle_columns(candles: Sequence[Candle]) -> dict[str, list]:
    cols: dict[str, list] = {k: [] for k in CANDLE_COLUMNS}
    for c in candles:
        o, cl = float(c.open), float(c.close)
        for k, v in (("time", c.start_s * 1000.0), ("open", o), ("high", float(c.high)), ("low", float(c.low)),
                     ("close", cl), ("volume", float(c.volume)), ("color", BID if cl >= o else ASK)):
            cols[k].append(v)
    return cols


# ---- header
class MarketHeader(LiveComponent):
    """One line of quote: last price, best bid/ask, spread in bps and the top-of-book imbalance."""

    rate_hz = param.Number(default=4.0, bounds=(0.2, 30.0), doc="Render rate of this component.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.pane = LiveHTML(self._html(None), margin=(4, 8))
        self._layout = pn.Column(self.pane, sizing_mode="stretch_width", styles=CARD)

    def __panel__(self):
        return self._layout

    def update(self, view: MarketView) -> None:
        html = self._html(view)
        if html != self.pane.object:
            self.pane.object = html

    def _html(self, view: MarketView | None) -> str:
        head = _title_html(self.symbol, "", self.stale)
        if view is None or view.best_bid is None or view.best_ask is None:
            return f"<div>{head}</div>"
        last = view.ticker.last_price if view.ticker and view.ticker.last_price is not None else (
            view.trades[-1].price if view.trades else None)
        up = view.trades[-1].side is Side.BUY if view.trades else True
        colour = STALE if self.stale else (BID if up else ASK)
        imb = view.imbalance or 0.0
        bar = (f"<span title='imbalance {imb:+.2f}' style='display:inline-block;width:80px;height:8px;"
               f"background:{ASK};vertical-align:middle'><span style='display:block;height:8px;"
               f"width:{50 * (1 + imb):.0f}%;background:{BID}'></span></span>")
        cell = ("<span style='margin-right:12px;white-space:nowrap'><span style='color:" + MUTED
                + "'>{}</span> {}</span> ")  # the trailing space lets the cells wrap
        shown = last if last is not None else ""
        return ("<div style='font-size:14px;line-height:1.6'>" + head
                + f" <b style='font-size:20px;color:{colour};margin-left:10px'>{shown}</b><br>"
                + cell.format("bid", f"<span style='color:{BID}'>{view.best_bid}</span>")
                + cell.format("ask", f"<span style='color:{ASK}'>{view.best_ask}</span>")
                + cell.format("spread", f"{view.spread} ({view.spread_bps:.2f} bps)")
                + "<br>" + cell.format("imbalance", f"{bar} {imb:+.2f}") + "</div>")

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        self._shown_version = -1
        self._gate.reset()

    def reset(self) -> None:
        self.pane.object = self._html(None)
