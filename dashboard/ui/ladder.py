"""The order book ladder: the hub's grouped rows on a fixed grid, patched cell by cell.

The rows themselves (grouping, own-order marks, bars, the spread row) are built once per view by
the hub (``MarketView.ladder_rows``); this view adds only its colours and sends the cells that
changed. Imports ``hub``, ``ui`` and Panel/Bokeh only (never ``kucoin`` or ``simulator``).
"""

from __future__ import annotations

import functools

import panel as pn
import param
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    HTMLTemplateFormatter,
    InlineStyleSheet,
    TableColumn,
)

from dashboard.hub import LadderRows, MarketView

from .base import ACCENT, ASK, BID, MUTED, STALE, LiveComponent
from .cards import TABLE_CSS, card, combined, quote_of, title_html

GROUPS = [1, 2, 5, 10, 25, 50, 100, 1000]
LADDER_COLUMNS = ("price", "size", "cum", "side", "own", "bar", "color", "shade")
ROW_PX = 22
SIDE_COLOURS = {"bid": BID, "ask": ASK}


class OrderBookLadder(LiveComponent):
    """The book grouped by ``group`` ticks: asks above (best ask next to the spread row), bids
    below."""

    rate_hz = param.Number(default=8.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    group = param.Selector(default=1, objects=GROUPS,
                           doc="Bucket size in multiples of the price tick.")
    rows = param.Integer(default=12, bounds=(3, 50), doc="Rows per side.")
    own_prices = param.ClassSelector(
        class_=(set, frozenset), default=frozenset(),
        doc="Prices of the user's open orders (raw, ungrouped); their buckets are marked.")
    selected_price = param.String(default="", doc="Price (exact, as text) of the last row clicked.")
    selected_side = param.Selector(default="", objects=["", "bid", "ask"],
                                   doc="Book side of the clicked row.")
    bucket_label = param.String(default="", constant=True,
                                doc="Output: the bucket size shown, e.g. 'bucket 1.0 USDT'.")

    def __init__(self, hub, **params) -> None:
        super().__init__(hub, **params)
        self.source = ColumnDataSource({k: [] for k in LADDER_COLUMNS}, name="ladder")
        self.source.selected.on_change("indices", self._on_select)
        self._decimals = 4
        self._size_fmt = HTMLTemplateFormatter(template=self._size_template())
        self._cum_fmt = HTMLTemplateFormatter(template=self._cum_template())
        own_fmt = HTMLTemplateFormatter(
            template=f"<span style='color:{ACCENT};font-weight:700'><%= value %></span>")
        price_fmt = HTMLTemplateFormatter(
            template="<span style='color:<%= color %>;font-weight:600'><%= value %></span>")
        self._columns = [
            TableColumn(field="own", title="", width=16, formatter=own_fmt, sortable=False),
            TableColumn(field="price", title="price", formatter=price_fmt, sortable=False),
            TableColumn(field="size", title="size", formatter=self._size_fmt, sortable=False),
            TableColumn(field="cum", title="cum", formatter=self._cum_fmt, sortable=False)]
        self.plot = DataTable(source=self.source, columns=self._columns, index_position=None,
                              sortable=False, reorderable=False, row_height=ROW_PX,
                              height=self._height(), sizing_mode="stretch_width",
                              stylesheets=[InlineStyleSheet(css=TABLE_CSS)])
        self.title = pn.pane.HTML("", margin=(4, 6))
        group = pn.widgets.Select.from_param(self.param.group, name="", width=70)
        body = pn.pane.Bokeh(self.plot, sizing_mode="stretch_width")
        self._layout = card(self.title, group, body=body)
        self._set_title(None)

    def __panel__(self):
        return self._layout

    def _height(self) -> int:
        return (2 * self.rows + 1) * ROW_PX + 30

    def _size_template(self) -> str:
        return ("<div style='text-align:right;background:linear-gradient(to left, <%= shade %> "
                "<%= bar %>%, transparent <%= bar %>%)'>"
                f"<%= value.toFixed({self._decimals}) %></div>")

    def _cum_template(self) -> str:
        return (f"<div style='text-align:right;color:{MUTED}'>"
                f"<%= value.toFixed({self._decimals}) %></div>")

    def update(self, view: MarketView) -> None:
        rows = view.ladder_rows(self.group, self.rows, self.own_prices)
        if rows is None:
            return
        self._set_title(view)
        self._set_decimals(view)
        with combined(self.plot):
            _patch_changes(self.source, {**rows, **_colours(rows["side"], self.stale)})

    def _set_title(self, view: MarketView | None) -> None:
        bucket = view.bucket(self.group) if view is not None else None
        instrument = view.instrument if view is not None else None
        _, quote = quote_of(instrument, self.symbol)
        label = f"bucket {bucket} {quote}" if bucket is not None else ""
        if label != self.bucket_label:
            with param.edit_constant(self):
                self.bucket_label = label
        html = title_html("Order book", self.symbol, self.stale, label)
        if html != self.title.object:
            self.title.object = html

    def _set_decimals(self, view: MarketView) -> None:
        inst = view.instrument
        decimals = 4 if inst is None else min(4, max(0, -inst.base_increment.as_tuple().exponent))
        if decimals != self._decimals:
            self._decimals = decimals
            self._size_fmt.template = self._size_template()
            self._cum_fmt.template = self._cum_template()

    def _on_select(self, attr, old, new) -> None:
        if not new:
            return
        i = new[0]
        price, side = self.source.data["price"][i], self.source.data["side"][i]
        self.source.selected.indices = []  # rows are positions, not prices: no moving highlight
        if side in ("bid", "ask") and price:
            self.selected_side = side
            self.selected_price = price

    @param.depends("group", "rows", "own_prices", "stale", watch=True)
    def _invalidate(self) -> None:
        self._shown_version = -1
        self._gate.reset()
        self.plot.height = self._height()
        self._set_title(self.hub.view(self.symbol))

    def reset(self) -> None:
        self.source.data = {k: [] for k in LADDER_COLUMNS}
        self._set_title(None)


@functools.lru_cache(maxsize=64)
def _colours(sides: tuple[str, ...], stale: bool) -> LadderRows:
    """The colour columns of a grid of ``sides`` (a pure function of them: cached, read-only)."""
    colours = tuple(STALE if stale else SIDE_COLOURS.get(side, MUTED) for side in sides)
    return {"color": colours, "shade": tuple(_rgba(c, 0.25) for c in colours)}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _patch_changes(source: ColumnDataSource, new: LadderRows) -> None:
    """Patch only the cells that changed; replace when the shape changed."""
    old = source.data
    if set(old) != set(new) or any(len(old[k]) != len(v) for k, v in new.items()):
        # own lists: a later patch edits them in place, the hub's rows stay as they are
        source.data = {k: list(v) for k, v in new.items()}
        return
    patches = {k: [(i, b) for i, (a, b) in enumerate(zip(old[k], v, strict=True)) if a != b]
               for k, v in new.items()}
    patches = {k: v for k, v in patches.items() if v}
    if patches:
        source.patch(patches)
