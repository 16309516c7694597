"""The trade tape: trades newest first, buys green, sells red, large notionals bold on a band.

Only new trades travel: each frame streams the trades since the last one (with ``rollover``) and
moves the server-set y range. Imports ``hub``, ``domain``, ``ui`` and Panel/Bokeh only.
"""

from __future__ import annotations

from datetime import UTC, datetime

import panel as pn
import param
from bokeh.models import ColumnDataSource, HBar, Range1d, Text
from bokeh.plotting import figure

from dashboard.domain.models import Side, Trade
from dashboard.hub import MarketView

from .base import ACCENT, ASK, BID, MUTED, LiveComponent, style_figure
from .cards import card, combined, title_html

STABLE_QUOTES = {"USDT", "USDC", "USD", "DAI", "TUSD"}
LARGE_BY_BASE = {"BTC": 50_000.0, "ETH": 25_000.0}  # notional in a stablecoin quote
LARGE_BY_QUOTE = {"BTC": 1.0, "ETH": 10.0}


def default_large_threshold(symbol: str) -> float:
    """A trade notional (in the quote currency) worth highlighting on this market."""
    base, _, quote = symbol.partition("-")
    if quote in STABLE_QUOTES:
        return LARGE_BY_BASE.get(base, 10_000.0)
    return LARGE_BY_QUOTE.get(quote, 10_000.0)


TAPE_COLUMNS = ("y", "trade_id", "time", "price", "size", "side", "color", "weight", "bg")
TAPE_X = {"time": (0.02, "left"), "price": (0.58, "right"), "size": (0.83, "right"),
          "side": (0.98, "right")}


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
    large_threshold = param.Number(
        default=None, allow_None=True, bounds=(0, None),
        doc="Notional (price x size, quote currency) from which a trade is highlighted; None picks "
            "the symbol's default and a symbol change restores it.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        if self.large_threshold is None:
            self.large_threshold = default_large_threshold(self.symbol)
        self.source = ColumnDataSource({k: [] for k in TAPE_COLUMNS}, name="tape")
        self._shown_total: int | None = None
        self._seq = 0
        fig = figure(height=self._height(), sizing_mode="stretch_width", x_range=Range1d(0, 1),
                     y_range=Range1d(0.5, self.rows + 0.5), x_axis_type=None, y_axis_type=None,
                     tools="", toolbar_location=None, min_border=0)
        fig.grid.visible = False
        # add_glyph: one glyph model per renderer (Bokeh derives the others), see depth.py
        fig.add_glyph(self.source, HBar(y="y", left=0, right=1, height=0.92, fill_color=ACCENT,
                                        fill_alpha="bg", line_color=None))
        self._texts = [fig.add_glyph(self.source, Text(x=x, y="y", text=col, text_align=align,
                                                       text_baseline="middle", text_color="color",
                                                       text_font_style="weight",
                                                       text_font_size="12px"))
                       for col, (x, align) in TAPE_X.items()]
        style_figure(fig)
        fig.outline_line_color = None
        self.plot = fig
        self.title = pn.pane.HTML(title_html("Trades", self.symbol, False), margin=(4, 6))
        head = "".join(f"<span style='position:absolute;{'left' if a == 'left' else 'right'}:"
                       f"{100 * x if a == 'left' else 100 - 100 * x:.0f}%'>{c}</span>"
                       for c, (x, a) in TAPE_X.items())
        header = pn.pane.HTML(f"<div style='position:relative;height:18px;color:{MUTED};"
                              f"font-size:12px'>{head}</div>", sizing_mode="stretch_width",
                              margin=(0, 5))
        body = pn.Column(header, pn.pane.Bokeh(fig, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width", margin=0)
        self._layout = card(self.title, body=body)

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
        with combined(self.plot):
            self.source.stream({k: [r[k] for r in rows] for k in TAPE_COLUMNS}, rollover=self.rows)
            self.plot.y_range.update(start=self._seq - self.rows + 0.5, end=self._seq + 0.5)

    def _row(self, trade: Trade) -> dict:
        self._seq += 1
        large = float(trade.price * trade.size) >= (self.large_threshold or 0.0)
        when = datetime.fromtimestamp(trade.ts_ns / 1e9, UTC).strftime("%H:%M:%S.%f")[:-3]
        return {"y": self._seq, "trade_id": trade.trade_id, "time": when,
                "price": format(trade.price, "f"), "size": format(trade.size, "f"),
                "side": str(trade.side), "color": BID if trade.side is Side.BUY else ASK,
                "weight": "bold" if large else "normal", "bg": 0.22 if large else 0.0}

    def displayed(self) -> list[dict]:
        """The rows on screen, newest first (what a user reads top to bottom)."""
        data = self.source.data
        order = sorted(range(len(data["y"])), key=lambda i: data["y"][i], reverse=True)
        return [{k: data[k][i] for k in TAPE_COLUMNS} for i in order]

    @param.depends("stale", watch=True)
    def _on_stale(self) -> None:
        for renderer in self._texts:
            renderer.glyph.text_alpha = 0.45 if self.stale else 1.0
        self.title.object = title_html("Trades", self.symbol, self.stale)

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
        self.title.object = title_html("Trades", self.symbol, self.stale)

    @param.depends("symbol", watch=True)
    def _on_symbol_threshold(self) -> None:
        self.large_threshold = default_large_threshold(self.symbol)
