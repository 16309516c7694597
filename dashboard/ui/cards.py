"""What the market views share: the card around each view, its title line with the STALE badge,
server-set ranges, and one message per render.

Imports ``ui.base``, ``domain`` and Panel/Bokeh only (never ``kucoin``, ``simulator``,
``config``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import panel as pn
from bokeh.models import Label, Range1d

from dashboard.domain.models import Instrument

from .base import GRID, MUTED, PANEL_BG, STALE, TEXT

CARD = {"background": PANEL_BG, "color": TEXT, "border-radius": "6px"}
# CSS text, not a model: a Bokeh model belongs to one document, so each table gets its own
# InlineStyleSheet.
TABLE_CSS = f"""
:host {{ background: {PANEL_BG}; }}
.slick-header-columns, .slick-header-column {{
  background: {PANEL_BG} !important; color: {MUTED}; border-color: {GRID}; }}
.slick-row, .slick-cell {{
  background: {PANEL_BG} !important; color: {TEXT}; border-color: {GRID} !important; }}
.slick-cell.selected {{ background: {GRID} !important; }}
"""


@contextlib.contextmanager
def combined(model) -> Iterator[None]:
    """Send all changes of one render as one message (unless someone up the stack already holds).

    Reads Bokeh's ``doc.callbacks.hold_value`` (README, "Internals the app relies on"): without it,
    a render inside somebody else's hold would end that hold early (more messages, same data)."""
    doc = model.document
    if doc is None or getattr(doc.callbacks, "hold_value", None) is not None:
        yield
        return
    doc.hold("combine")
    try:
        yield
    finally:
        doc.unhold()


def fit_range(rng: Range1d, lo: float, hi: float, pad: float = 0.06, zero: bool = False) -> None:
    """Move a server-set range only when the data leaves it or fills less than half of it."""
    if not hi > lo:
        hi = lo + max(abs(lo) * 1e-3, 1e-9)
    span = hi - lo
    want = (0.0 if zero else lo - pad * span, hi + pad * span)
    inside = rng.start <= lo and hi <= rng.end
    if inside and (rng.end - rng.start) <= 2 * (want[1] - want[0]):
        return
    rng.update(start=want[0], end=want[1])


def title_html(title: str, symbol: str, stale: bool, extra: str = "") -> str:
    badge = (f" <span style='background:{STALE};color:{PANEL_BG};padding:0 6px;border-radius:3px;"
             f"font-weight:700'>STALE</span>") if stale else ""
    more = f" <span style='color:{MUTED}'>{extra}</span>" if extra else ""
    return (f"<b style='color:{TEXT}'>{title}</b> <span style='color:{MUTED}'>{symbol}</span>"
            f"{more}{badge}")


def card(title: pn.pane.HTML, *widgets, body) -> pn.Column:
    head = pn.Row(title, pn.layout.HSpacer(), *widgets, sizing_mode="stretch_width", margin=(0, 4))
    return pn.Column(head, body, sizing_mode="stretch_width", styles=CARD)


def stale_label() -> Label:
    return Label(x=10, y=10, x_units="screen", y_units="screen", text="STALE", visible=False,
                 text_color=STALE, text_font_size="20px", text_font_style="bold")


def quote_of(instrument: Instrument | None, symbol: str) -> tuple[str, str]:
    """(base, quote) of the market, from its instrument once known, else from its name."""
    if instrument is not None:
        return instrument.base, instrument.quote
    base, _, quote = symbol.partition("-")
    return base, quote
