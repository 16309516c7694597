"""The quote header: last price, best bid/ask, spread in bps and the top-of-book imbalance.

Imports ``hub``, ``domain``, ``ui`` and Panel only (never ``kucoin`` or ``simulator``).
"""

from __future__ import annotations

import panel as pn
import param

from dashboard.domain.models import Side
from dashboard.hub import MarketView

from .base import ASK, BID, MUTED, STALE, LiveComponent, LiveHTML
from .cards import CARD, title_html


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
        head = title_html(self.symbol, "", self.stale)
        if view is None or view.best_bid is None or view.best_ask is None:
            return f"<div>{head}</div>"
        last = view.ticker.last_price if view.ticker and view.ticker.last_price is not None else (
            view.trades[-1].price if view.trades else None)
        up = view.trades[-1].side is Side.BUY if view.trades else True
        colour = STALE if self.stale else (BID if up else ASK)
        imb = view.imbalance or 0.0
        bar = (f"<span title='imbalance {imb:+.2f}' style='display:inline-block;width:80px;"
               "height:8px;"
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
