"""The order ticket's view: widgets and HTML around a ``TicketModel`` (``ui/ticket_model.py``).

Everything the ticket decides (parsing, rounding, checks, the review/confirm flow) is the model's;
this module only turns it into Panel widgets and back. Imports ``domain``, ``hub`` and ``ui`` only.
"""

from __future__ import annotations

import html
import json
from decimal import Decimal

import panel as pn
import param

from dashboard.domain.models import Side
from dashboard.domain.numbers import plain_or_dash as fmt
from dashboard.hub import MarketHub, MarketView
from dashboard.ui.base import ACCENT, ASK, BID, MUTED, PANEL_BG, TEXT, LiveComponent

from .ticket_model import INPUTS, KILL_REASON, TicketModel

_SHOWN = ("stage", "error", "error_rule", "preview_text", "estimate_text", "outcome", "outcome_ok",
          "disabled_reason", "can_review", "pending", "symbol")


def panel_html(body: str, colour: str = TEXT) -> str:
    return f'<div style="color:{colour};font-size:13px;line-height:1.45">{body}</div>'


class OrderTicket(LiveComponent):
    """Order entry with a live preview, a review step, and the outcome in words.

    The app calls ``tick(now)`` (SessionClock) and ``set_price(text)`` when a ladder price is
    clicked; ``model`` holds the state.
    """

    rate_hz = param.Number(default=2.0, bounds=(0.2, 10.0), doc="Preview refresh rate.")

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self.model = TicketModel(hub, symbol=self.symbol)
        self._build_widgets()
        self.model.param.watch(lambda *_events: self._sync_inputs(), list(INPUTS))
        self.model.param.watch(lambda *_events: self._sync_view(), list(_SHOWN))
        self._sync_inputs()
        self._sync_view()
        self.tick()

    # ---- widgets (built once per ticket, i.e. per session)
    def _build_widgets(self) -> None:
        p = self.model.param
        self._side = pn.widgets.RadioButtonGroup.from_param(p.side, label="")
        self._type = pn.widgets.RadioButtonGroup.from_param(p.order_type, label="")
        self._mode = pn.widgets.RadioButtonGroup.from_param(p.size_mode, label="")
        self._tif = pn.widgets.Select.from_param(p.time_in_force, label="Time in force", width=110)
        self._cancel_after = pn.widgets.IntInput.from_param(p.cancel_after_s,
                                                            label="Cancel after (s)", width=130)
        self._post_only = pn.widgets.Checkbox.from_param(p.post_only, label="Post only")
        self._texts = {name: self._text_input(name, label) for name, label in
                       (("price", "Price"), ("size", "Size"), ("funds", "Funds"))}
        self.review_button = pn.widgets.Button(label="Review order", color="primary",
                                               disabled=True, css_classes=["ticket-review-button"])
        self.confirm_button = pn.widgets.Button(label="Confirm", color="danger",
                                                css_classes=["ticket-confirm"])
        self.back_button = pn.widgets.Button(label="Back", css_classes=["ticket-back"])
        self.review_button.on_click(self._on_review)
        self.confirm_button.on_click(self._on_confirm)
        self.back_button.on_click(lambda _event: self.model.back())
        self._title = pn.pane.HTML("", margin=(0, 5))
        self._notice = pn.pane.HTML("", css_classes=["ticket-disabled"], visible=False)
        wide = {"sizing_mode": "stretch_width"}
        self._preview = pn.pane.HTML("", css_classes=["ticket-preview"], **wide)
        self._error = pn.pane.HTML("", css_classes=["ticket-error"], visible=False, **wide)
        self._summary = pn.pane.HTML("", css_classes=["ticket-summary"], **wide)
        self._outcome = pn.pane.HTML("", css_classes=["ticket-outcome"], visible=False, **wide)
        self._review_box = pn.Column(self._summary, pn.Row(self.confirm_button, self.back_button),
                                     visible=False, **wide)
        self._layout = pn.Column(
            self._title, self._notice, pn.Row(self._side, self._type), self._mode,
            self._texts["price"], self._texts["size"], self._texts["funds"],
            pn.Row(self._tif, self._cancel_after, self._post_only), self._preview, self._error,
            self.review_button, self._review_box, self._outcome,
            css_classes=["order-ticket"], styles={"background": PANEL_BG}, **wide)

    def _text_input(self, name: str, label: str) -> pn.widgets.TextInput:
        # Not ``from_param``: that links ``value`` (sent on Enter/blur), and echoing ``value`` back
        # while the user types can overwrite newer keystrokes on a slow link. ``value_input`` flows
        # in on every keystroke; the model flows out only when it differs from what is typed
        # (``set_price`` from the ladder).
        widget = pn.widgets.TextInput(label=label, value=getattr(self.model, name),
                                      placeholder=f"{name}", sizing_mode="stretch_width",
                                      css_classes=[f"ticket-{name}"])
        widget.param.watch(lambda event: setattr(self.model, name, event.new or ""), "value_input")
        self.model.param.watch(lambda event: self._push_text(widget, event.new), name)
        return widget

    @staticmethod
    def _push_text(widget: pn.widgets.TextInput, value: str) -> None:
        if widget.value_input != value:
            widget.param.update(value=value, value_input=value)

    def __panel__(self):
        return self._layout

    # ---- driving: the SessionClock calls tick(); the book arrives in update(view)
    def tick(self, now: float | None = None) -> bool:
        self.model.refresh_disabled()  # the kill switch may have fired in another session
        return super().tick(now)

    def update(self, view: MarketView) -> None:
        self.model.update(view)

    def reset(self) -> None:
        self.model.symbol = self.symbol
        self.model.reset()

    def set_price(self, price: str | Decimal) -> None:
        """A ladder price was clicked: a limit order at that price."""
        self.model.set_price(price)

    def block(self, reason: str = KILL_REASON) -> None:
        self.model.block(reason)

    def unblock(self) -> None:
        self.model.unblock()

    def _on_review(self, _event) -> None:
        self.model.review()

    async def _on_confirm(self, _event) -> None:
        await self.model.confirm()

    # ---- view sync (cheap: a pane's object is only sent when it changed)
    def _sync_inputs(self) -> None:
        m = self.model
        limit = m.order_type == "limit"
        self._mode.visible = not limit
        self._texts["price"].visible = limit
        self._texts["size"].visible = limit or m.size_mode == "size"
        self._texts["funds"].visible = not limit and m.size_mode == "funds"
        self._tif.visible = self._post_only.visible = limit
        self._cancel_after.visible = limit and m.time_in_force == "GTT"
        self.review_button.color = "success" if m.side == "buy" else "danger"

    def _sync_view(self) -> None:
        m = self.model
        self._title.object = panel_html(f"<b>Order ticket</b> · {html.escape(m.symbol)}")
        self._notice.object = panel_html(f"Order entry off: {html.escape(m.disabled_reason)}",
                                         ACCENT)
        self._notice.visible = bool(m.disabled_reason)
        self._preview.object = self._preview_html()
        self._error.object = panel_html(f"Cannot send — <b>{html.escape(m.error_rule)}</b>: "
                                        f"{html.escape(m.error.partition(': ')[2])}", ASK)
        self._error.visible = bool(m.error)
        self.review_button.disabled = not m.can_review or m.stage != "edit"
        self._review_box.visible = m.stage in ("review", "sending")
        self.confirm_button.disabled = m.stage != "review" or bool(m.disabled_reason)
        self.back_button.disabled = m.stage != "review"
        self._summary.object = self._summary_html()
        colour = {True: BID, False: ASK}.get(m.outcome_ok, MUTED)
        self._outcome.object = panel_html(html.escape(m.outcome), colour)
        self._outcome.visible = bool(m.outcome)

    def _preview_html(self) -> str:
        m = self.model
        lines = "".join(f"<div>{html.escape(line)}</div>" for line in m.estimate_text.splitlines())
        if not m.preview_text and not lines:
            return panel_html("preview: complete the order to see the request", MUTED)
        body = (f'<pre style="margin:2px 0;color:{TEXT}">{html.escape(m.preview_text)}</pre>'
                if m.preview_text else "")
        return panel_html(f'{body}<div style="color:{MUTED}">{lines}</div>')

    def _summary_html(self) -> str:
        req = self.model.pending
        if req is None:
            return ""
        amount = fmt(req.size) if req.size is not None else fmt(req.funds) + " funds"
        what = f"{req.side.value.upper()} {amount}"
        at = f" at {fmt(req.price)}" if req.price is not None else " at market"
        wire = html.escape(json.dumps(self.model.body(req), indent=2))
        colour = BID if req.side is Side.BUY else ASK
        return panel_html(f'<b style="color:{colour}">Confirm: {html.escape(what)} '
                          f'{html.escape(req.symbol)}{html.escape(at)}</b> on '
                          f'{html.escape(self.hub.mode)}<pre>{wire}</pre>')
