"""The page's ``?symbol=`` link: which market a shared link names, and keeping the URL honest.

A link may spell the market in any case (``?symbol=eth-usdt`` shows ETH-USDT) and the URL is then
corrected to the market's own name. A link naming no market here leaves the default market on
screen, corrects the URL to it, and says so on the page (never silently). Imports Panel and
``ui.base`` only (never ``kucoin``, ``simulator`` or ``config``).
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Sequence

import panel as pn
import param

from .base import ACCENT, PANEL_BG, TEXT

MAX_ECHO = 40  # characters of an unknown name repeated on the page


def resolve_symbol(requested: str, symbols: Sequence[str]) -> str | None:
    """The market ``requested`` names, whatever its case (``eth-usdt`` -> ``ETH-USDT``), or None."""
    wanted = requested.strip().upper()
    return next((s for s in symbols if s.upper() == wanted), None) if wanted else None


class SymbolLink(param.Parameterized):
    """Follows the link into ``state.symbol`` and keeps ``location``'s query in step with it.

    Panel's ``Location.sync`` applies a URL value only when it is one of the selector's objects as
    spelled; anything else reaches ``_on_url_error`` (at sync, and again when the browser reports
    its own URL once the page is up), which resolves it here.
    """

    unknown = param.String(default="", doc="The name an unknown link asked for ('' when none).")

    def __init__(self, state: param.Parameterized, symbols: Sequence[str], requested: str = "",
                 location=None) -> None:
        super().__init__()
        self.state, self.symbols, self.location = state, list(symbols), location
        styles = {"background": PANEL_BG, "color": TEXT, "border-left": f"3px solid {ACCENT}",
                  "padding": "2px 8px"}
        self.notice = pn.pane.HTML("", visible=False, css_classes=["symbol-notice"],
                                   sizing_mode="stretch_width", margin=(2, 12), styles=styles)
        self.follow(requested)
        if location is not None:
            location.sync(state, {"symbol": "symbol"}, on_error=self._on_url_error)
            self._correct_url()
        state.param.watch(self._on_pick, "symbol")

    def follow(self, requested: str) -> None:
        """Show the market ``requested`` names; an unknown name keeps the market and says so."""
        if not requested:
            return
        match = resolve_symbol(requested, self.symbols)
        if match is not None:
            self.state.symbol = match
        self.unknown = "" if match is not None else requested
        self._correct_url()

    def _on_url_error(self, values: dict) -> None:
        if "symbol" in values:
            self.follow(str(values["symbol"]))

    def _on_pick(self, event) -> None:
        self.unknown = ""  # a market was chosen: the note about the link has served

    def _correct_url(self) -> None:
        location = self.location
        if location is None:
            return
        shown = urllib.parse.parse_qs(location.search.lstrip("?")).get("symbol", [""])[0]
        if shown != self.state.symbol:
            location.update_query(symbol=self.state.symbol)

    @param.depends("unknown", watch=True)
    def _show_notice(self) -> None:
        name = self.unknown if len(self.unknown) <= MAX_ECHO else self.unknown[:MAX_ECHO] + "..."
        self.notice.object = "" if not self.unknown else (
            f"The link asks for <b>{html.escape(name)}</b>, which is not a market on this "
            f"dashboard; showing {html.escape(str(self.state.symbol))}. Markets here: "
            f"{html.escape(', '.join(self.symbols))}.")
        self.notice.visible = bool(self.unknown)
