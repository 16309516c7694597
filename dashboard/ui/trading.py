"""Order entry and the account views: ticket (preview -> review -> confirm), open orders, balances,
fills and the kill switch.

Every refusal is explained before anything is sent (the symbol rules from ``domain.rules``), and
every refusal after sending reaches the user in words naming the rule or the exchange's code.
Imports ``domain`` and ``hub`` (through ``ui.base``) only -- never ``kucoin``: exchange errors are
read duck-typed (``.code``, ``.msg``) at this boundary.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import pandas as pd
import panel as pn
import param

from dashboard.domain.errors import OrderRuleError
from dashboard.domain.models import Instrument, OrderRequest, OrderType, Side, TimeInForce
from dashboard.domain.rules import FillEstimate, estimate_fill, round_request, validate_request
from dashboard.hub import MarketHub, MarketView
from dashboard.ui.base import ACCENT, ASK, BID, MUTED, PANEL_BG, TEXT, LiveComponent

KILL_REASON = "kill switch engaged: open orders cancelled and order entry blocked"
_INPUTS = ("side", "order_type", "price", "size", "funds", "size_mode", "time_in_force", "cancel_after_s", "post_only")
# Exchange errors by class name: the UI may not import ``dashboard.kucoin``, so it reads the MRO's names.
_ERROR_WORDS = {
    "KucoinOrderRejected": "rejected by the exchange",
    "KucoinAuthError": "the exchange refused the API key",
    "KucoinRateLimitError": "rate limited by the exchange; try again in a moment",
    "OrderOutcomeUnknown": "outcome unknown; it will be reconciled by clientOid (do not resend)",
    "KucoinTimeoutError": "timed out",
    "KucoinTransportError": "network error",
}


# ---------------------------------------------------------------- pure helpers (no Panel)
def fmt(value: Decimal | None) -> str:
    """KuCoin's plain decimal text: no exponent, no trailing zeros."""
    if value is None:
        return "-"
    return format(value.normalize(), "f") if value else "0"


def parse_amount(rule: str, text: str) -> Decimal:
    """The exact Decimal typed for ``rule``; OrderRuleError in words when empty or not a number."""
    text = (text or "").strip()
    if not text:
        raise OrderRuleError(rule, f"enter a {rule}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise OrderRuleError(rule, f"{rule} is not a number: {text!r}") from None
    if not value.is_finite():
        raise OrderRuleError(rule, f"{rule} is not a number: {text!r}")
    return value


def describe_error(exc: BaseException) -> str:
    """An exception in words: the rule for local refusals, code and message for the exchange's."""
    if isinstance(exc, OrderRuleError):
        return f"refused before sending — {exc.rule}: {exc.message}"
    names = [cls.__name__ for cls in type(exc).__mro__]
    words = next((_ERROR_WORDS[n] for n in names if n in _ERROR_WORDS), f"failed ({type(exc).__name__})")
    code = getattr(exc, "code", "")
    msg = getattr(exc, "msg", None) or str(exc)
    return f"{words} — code {code}: {msg}" if code else f"{words}: {msg}"


def _mid(view: MarketView | None) -> Decimal | None:
    if view is None or view.best_bid is None or view.best_ask is None:
        return None
    return (view.best_bid + view.best_ask) / 2


def _q(value: Decimal | None, step: Decimal) -> str:
    """A derived value (average, notional) shown to a hundredth of the step."""
    return "-" if value is None else fmt(value.quantize(step / 100))


def estimate_lines(req: OrderRequest, inst: Instrument, view: MarketView | None) -> list[str]:
    """What walking the visible book says the order would do now, in words."""
    book = view.book if view is not None else None
    if book is None:
        return ["no book yet: fill estimate unavailable"]
    levels = book.asks if req.side is Side.BUY else book.bids
    lines = [] if view.live else ["⚠ book is not live: estimate from the last good book"]
    if req.type is OrderType.LIMIT:
        est = estimate_fill(levels, size=req.size, limit_price=req.price, side=req.side)
        return lines + _limit_lines(req, inst, est)
    est = estimate_fill(levels, size=req.size, funds=req.funds, side=req.side)
    if not est.filled_size:
        return [*lines, "⚠ book cannot fill it: the opposite side is empty"]
    lines.append(f"estimated fill: {_q(est.filled_size, inst.base_increment)} {inst.base} for "
                 f"{_q(est.filled_funds, inst.quote_increment)} {inst.quote}, "
                 f"avg {_q(est.avg_price, inst.price_increment)}, worst {fmt(est.worst_price)}{_slippage(est, view)}")
    if not est.complete:
        lines.append("⚠ book cannot fill it all: the visible depth runs out at " + fmt(est.worst_price))
    return lines


def _limit_lines(req: OrderRequest, inst: Instrument, est: FillEstimate) -> list[str]:
    if not est.filled_size:
        note = " (post-only: adds liquidity)" if req.post_only else ""
        return [f"not marketable now: rests on the book at {fmt(req.price)}{note}"]
    what = "marketable now: fills all" if est.complete else "marketable part:"
    lines = [f"{what} {_q(est.filled_size, inst.base_increment)} {inst.base} at avg "
             f"{_q(est.avg_price, inst.price_increment)}, worst {fmt(est.worst_price)}"]
    if req.post_only:
        lines.append("⚠ post-only would take liquidity: the exchange will refuse it")
    if not est.complete and req.size is not None:
        rest = f"{fmt(req.size - est.filled_size)} {inst.base}"
        lines.append({TimeInForce.IOC: f"the remaining {rest} is cancelled (IOC)",
                      TimeInForce.FOK: "⚠ FOK: the book cannot fill it all at this price, so nothing fills"}.get(
            req.time_in_force, f"the remaining {rest} rests at {fmt(req.price)}"))
    return lines


def _slippage(est: FillEstimate, view: MarketView) -> str:
    mid = _mid(view)
    if mid is None or est.avg_price is None:
        return ""
    return f", {abs(est.avg_price - mid) / mid * 10_000:.1f} bps from mid"


def _panel_html(body: str, colour: str = TEXT) -> str:
    return f'<div style="color:{colour};font-size:13px;line-height:1.45">{body}</div>'


# ---------------------------------------------------------------- order ticket
class OrderTicket(LiveComponent):
    """Order entry with a live preview, a review step, and the outcome in words.

    The app calls ``tick(now)`` (SessionClock) and ``set_price(text)`` when a ladder price is clicked.
    """

    rate_hz = param.Number(default=2.0, bounds=(0.2, 10.0), doc="Preview refresh rate (book-driven).")
    side = param.Selector(default="buy", objects=["buy", "sell"], doc="Buy or sell.")
    order_type = param.Selector(default="limit", objects=["limit", "market"], doc="Limit or market order.")
    price = param.String(default="", doc="Limit price as typed (text keeps exact decimals).")
    size = param.String(default="", doc="Amount in the base currency, as typed.")
    funds = param.String(default="", doc="Amount in the quote currency for a market order by funds.")
    size_mode = param.Selector(default="size", objects=["size", "funds"],
                               doc="A market order gives either a size (base) or funds (quote).")
    time_in_force = param.Selector(default="GTC", objects=[t.value for t in TimeInForce],
                                   doc="Limit orders: GTC, GTT (with cancel-after), IOC or FOK.")
    cancel_after_s = param.Integer(default=60, bounds=(1, 30 * 24 * 3600), doc="GTT: cancel after this many seconds.")
    post_only = param.Boolean(default=False, doc="Limit orders: only add liquidity, never take.")

    stage = param.Selector(default="edit", objects=["edit", "review", "sending"], doc="Where the ticket flow is.")
    error = param.String(default="", doc="Why the order cannot be sent, 'rule: message'; empty when valid.")
    error_rule = param.String(default="", doc="The rule named by ``error``.")
    preview_text = param.String(default="", doc="The rounded request in KuCoin's spelling (JSON).")
    estimate_text = param.String(default="", doc="Notional, estimated fill and rounding notes, one per line.")
    outcome = param.String(default="", doc="The last submission's outcome in words.")
    outcome_ok = param.Boolean(default=None, allow_None=True, doc="True accepted, False refused, None nothing yet.")
    disabled_reason = param.String(default="", doc="Why order entry is off (read-only, trading off, kill switch).")
    blocked = param.String(default="", doc="Set by the kill switch: a reason that blocks entry for this session.")
    can_review = param.Boolean(default=False, doc="True when the inputs are valid and entry is allowed.")
    pending = param.ClassSelector(class_=OrderRequest, default=None, allow_None=True,
                                  doc="The exact request under review (rounded, with its clientOid).")

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self._view: MarketView | None = None
        self._request: OrderRequest | None = None
        self._build_widgets()
        self.tick()
        self._recompute()

    # ---- widgets (built once per ticket, i.e. per session)
    def _build_widgets(self) -> None:
        self._side = pn.widgets.RadioButtonGroup.from_param(self.param.side, label="")
        self._type = pn.widgets.RadioButtonGroup.from_param(self.param.order_type, label="")
        self._mode = pn.widgets.RadioButtonGroup.from_param(self.param.size_mode, label="")
        self._tif = pn.widgets.Select.from_param(self.param.time_in_force, label="Time in force", width=110)
        self._cancel_after = pn.widgets.IntInput.from_param(self.param.cancel_after_s, label="Cancel after (s)",
                                                            width=130)
        self._post_only = pn.widgets.Checkbox.from_param(self.param.post_only, label="Post only")
        self._texts = {name: self._text_input(name, label) for name, label in
                       (("price", "Price"), ("size", "Size"), ("funds", "Funds"))}
        self.review_button = pn.widgets.Button(label="Review order", color="primary", disabled=True,
                                               css_classes=["ticket-review-button"])
        self.confirm_button = pn.widgets.Button(label="Confirm", color="danger", css_classes=["ticket-confirm"])
        self.back_button = pn.widgets.Button(label="Back", css_classes=["ticket-back"])
        self.review_button.on_click(lambda _event: self.review())
        self.confirm_button.on_click(self._on_confirm)
        self.back_button.on_click(lambda _event: self.back())
        self._title = pn.pane.HTML("", margin=(0, 5))
        self._notice = pn.pane.HTML("", css_classes=["ticket-disabled"], visible=False)
        self._preview = pn.pane.HTML("", css_classes=["ticket-preview"], sizing_mode="stretch_width")
        self._error = pn.pane.HTML("", css_classes=["ticket-error"], visible=False, sizing_mode="stretch_width")
        self._summary = pn.pane.HTML("", css_classes=["ticket-summary"], sizing_mode="stretch_width")
        self._outcome = pn.pane.HTML("", css_classes=["ticket-outcome"], visible=False, sizing_mode="stretch_width")
        self._review_box = pn.Column(self._summary, pn.Row(self.confirm_button, self.back_button), visible=False,
                                     sizing_mode="stretch_width")
        self._layout = pn.Column(
            self._title, self._notice, pn.Row(self._side, self._type), self._mode,
            self._texts["price"], self._texts["size"], self._texts["funds"],
            pn.Row(self._tif, self._cancel_after, self._post_only), self._preview, self._error,
            self.review_button, self._review_box, self._outcome,
            css_classes=["order-ticket"], styles={"background": PANEL_BG}, sizing_mode="stretch_width")
        self._sync_inputs()
        self._sync_view()

    def _text_input(self, name: str, label: str) -> pn.widgets.TextInput:
        # Not ``from_param``: that links ``value`` (sent on Enter/blur), and echoing ``value`` back while the
        # user types can overwrite newer keystrokes on a slow link. ``value_input`` flows in on every keystroke;
        # the model flows out only when it differs from what is typed (``set_price`` from the ladder).
        widget = pn.widgets.TextInput(label=label, value=getattr(self, name), placeholder=f"{name}",
                                      sizing_mode="stretch_width", css_classes=[f"ticket-{name}"])
        widget.param.watch(lambda event: setattr(self, name, event.new or ""), "value_input")
        self.param.watch(lambda event: self._push_text(widget, event.new), name)
        return widget

    @staticmethod
    def _push_text(widget: pn.widgets.TextInput, value: str) -> None:
        if widget.value_input != value:
            widget.param.update(value=value, value_input=value)

    def __panel__(self):
        return self._layout

    # ---- driving: the SessionClock calls tick(); the book arrives in update(view)
    def tick(self, now: float | None = None) -> bool:
        self._refresh_disabled()
        return super().tick(now)

    @param.depends("blocked", watch=True)
    def _refresh_disabled(self) -> None:
        reason = self._disabled_reason()
        if reason != self.disabled_reason:
            self.disabled_reason = reason

    def update(self, view: MarketView) -> None:
        self._view = view
        self._recompute()

    def reset(self) -> None:
        self._view = None
        self.back()
        self.price = ""

    def set_price(self, price: str | Decimal) -> None:
        """A ladder price was clicked: a limit order at that price."""
        self.param.update(order_type="limit", price=str(price))

    def block(self, reason: str = KILL_REASON) -> None:
        """Block order entry in this ticket (the kill switch calls this)."""
        self.blocked = reason
        self.back()

    def _disabled_reason(self) -> str:
        hub, account = self.hub, self.hub.account
        if hub.mode == "replay":
            return "replay mode: order entry is off"
        if account is None:
            return "read-only: no API key"
        if self.blocked:
            return self.blocked
        if getattr(account, "kill_switch", False):
            return KILL_REASON
        if not hub.trading_enabled:
            where = " in live mode" if hub.mode == "live" else ""
            return f"trading is off{where}; set KUCOIN_ENABLE_TRADING=1"
        return ""

    # ---- the preview
    @param.depends(*_INPUTS, watch=True)
    def _on_input(self) -> None:
        if self.stage == "review":
            self.back()  # what is confirmed must be what was reviewed
        self._sync_inputs()
        self._recompute()

    @param.depends("disabled_reason", watch=True)
    def _on_disabled(self) -> None:
        if self.disabled_reason and self.stage == "review":
            self.back()
        self._recompute()

    def _instrument(self) -> Instrument | None:
        if self._view is not None and self._view.instrument is not None:
            return self._view.instrument
        return self.hub.feed.instruments().get(self.symbol)

    def _raw_request(self) -> OrderRequest:
        """The request exactly as typed; OrderRuleError for what cannot even be parsed."""
        limit = self.order_type == "limit"
        price = size = funds = None
        if limit:
            price = parse_amount("price", self.price)
            size = parse_amount("size", self.size)
        elif self.size_mode == "size":
            size = parse_amount("size", self.size)
        else:
            funds = parse_amount("funds", self.funds)
        tif = TimeInForce(self.time_in_force) if limit else TimeInForce.GTC
        cancel_after = self.cancel_after_s if limit and tif is TimeInForce.GTT else None
        return OrderRequest(self.symbol, Side(self.side), OrderType(self.order_type), size=size, price=price,
                            funds=funds, time_in_force=tif, post_only=limit and self.post_only,
                            cancel_after_s=cancel_after)

    def _recompute(self) -> None:
        """Rebuild preview, estimate and error from the inputs and the newest book."""
        inst = self._instrument()
        req, error, rule, notes = None, "", "", []
        try:
            if inst is None:
                raise OrderRuleError("symbol", f"no trading rules for {self.symbol} yet")
            raw = self._raw_request()
            req = round_request(raw, inst)
            notes = _rounding_notes(raw, req, inst)
            _check_not_rounded_away(raw, req, inst)
            validate_request(req, inst, _mid(self._view))
        except OrderRuleError as exc:
            error, rule = f"{exc.rule}: {exc.message}", exc.rule
        self._request = req if not error else None
        preview = json.dumps(self._wire(req), indent=2) if req is not None else ""
        lines = []
        if req is not None and inst is not None:
            lines = [*self._notional_lines(req, inst), *estimate_lines(req, inst, self._view), *notes]
        self.param.update(preview_text=preview, estimate_text="\n".join(lines), error=error, error_rule=rule,
                          can_review=not error and not self.disabled_reason)
        self._sync_view()

    def _notional_lines(self, req: OrderRequest, inst: Instrument) -> list[str]:
        mid = _mid(self._view)
        if req.funds is not None:
            return [f"notional: {fmt(req.funds)} {inst.quote}"]
        if req.price is not None and req.size is not None:
            return [f"notional: {_q(req.price * req.size, inst.quote_increment)} {inst.quote}"]
        if req.size is not None and mid is not None:
            return [f"notional: about {_q(req.size * mid, inst.quote_increment)} {inst.quote} at mid"]
        return []

    # ---- the flow: review -> confirm (or back)
    def review(self) -> bool:
        """Freeze the rounded request (with a fresh clientOid) for confirmation; False if it cannot be sent."""
        self._recompute()
        if self.stage != "edit" or not self.can_review or self._request is None:
            return False
        self.pending = replace(self._request, client_oid=uuid.uuid4().hex)
        self.stage = "review"
        self._sync_view()
        return True

    def back(self) -> None:
        """Leave the review without sending."""
        if self.stage == "review":
            self.pending = None
            self.stage = "edit"
            self._sync_view()

    async def _on_confirm(self, _event) -> None:
        await self.confirm()

    async def confirm(self) -> bool:
        """Send the reviewed request; the outcome (order id or the refusal in words) lands in ``outcome``."""
        req, account = self.pending, self.hub.account
        if self.stage != "review" or req is None:
            return False
        if self.disabled_reason or account is None:
            self.back()
            self._set_outcome(False, f"not sent — {self.disabled_reason}")
            return False
        self.stage = "sending"
        self._set_outcome(None, f"sending {req.side.value} {req.symbol} (clientOid {req.client_oid})…")
        try:
            result = await self.hub.call(account.submit(req, reference_price=_mid(self._view)))
        except Exception as exc:  # the UI boundary: every refusal is shown, none is raised into Panel
            self._set_outcome(False, f"{req.side.value} {req.symbol}: {describe_error(exc)}")
            return False
        finally:
            self.pending = None
            self.stage = "edit"
            self._sync_view()
        order_id = getattr(result, "order_id", None) or str(result)
        self._set_outcome(True, f"accepted: order id {order_id} (clientOid {req.client_oid})")
        return True

    def _wire(self, req: OrderRequest) -> Mapping[str, object]:
        """The body the account's gateway will send, from the gateway itself (``OrderGatewayPort.preview``)."""
        account = self.hub.account
        return account.preview(req) if account is not None else {"note": "no account: order entry is off"}

    def _set_outcome(self, ok: bool | None, text: str) -> None:
        self.param.update(outcome=text, outcome_ok=ok)
        self._sync_view()

    # ---- view sync (cheap: a pane's object is only sent when it changed)
    def _sync_inputs(self) -> None:
        limit = self.order_type == "limit"
        self._mode.visible = not limit
        self._texts["price"].visible = limit
        self._texts["size"].visible = limit or self.size_mode == "size"
        self._texts["funds"].visible = not limit and self.size_mode == "funds"
        self._tif.visible = self._post_only.visible = limit
        self._cancel_after.visible = limit and self.time_in_force == "GTT"
        self.review_button.color = "success" if self.side == "buy" else "danger"

    def _sync_view(self) -> None:
        if not hasattr(self, "_layout"):
            return
        self._title.object = _panel_html(f"<b>Order ticket</b> · {html.escape(self.symbol)}")
        self._notice.object = _panel_html(f"Order entry off: {html.escape(self.disabled_reason)}", ACCENT)
        self._notice.visible = bool(self.disabled_reason)
        self._preview.object = self._preview_html()
        self._error.object = _panel_html(f"Cannot send — <b>{html.escape(self.error_rule)}</b>: "
                                         f"{html.escape(self.error.partition(': ')[2])}", ASK)
        self._error.visible = bool(self.error)
        self.review_button.disabled = not self.can_review or self.stage != "edit"
        self._review_box.visible = self.stage in ("review", "sending")
        self.confirm_button.disabled = self.stage != "review" or bool(self.disabled_reason)
        self.back_button.disabled = self.stage != "review"
        self._summary.object = self._summary_html()
        colour = {True: BID, False: ASK}.get(self.outcome_ok, MUTED)
        self._outcome.object = _panel_html(html.escape(self.outcome), colour)
        self._outcome.visible = bool(self.outcome)

    def _preview_html(self) -> str:
        if not self.preview_text:
            return _panel_html("preview: complete the order to see the request", MUTED)
        lines = "".join(f"<div>{html.escape(line)}</div>" for line in self.estimate_text.splitlines())
        return _panel_html(f'<pre style="margin:2px 0;color:{TEXT}">{html.escape(self.preview_text)}</pre>'
                           f'<div style="color:{MUTED}">{lines}</div>')

    def _summary_html(self) -> str:
        req = self.pending
        if req is None:
            return ""
        what = f"{req.side.value.upper()} {fmt(req.size) if req.size is not None else fmt(req.funds) + ' funds'}"
        at = f" at {fmt(req.price)}" if req.price is not None else " at market"
        wire = html.escape(json.dumps(self._wire(req), indent=2))
        colour = BID if req.side is Side.BUY else ASK
        return _panel_html(f'<b style="color:{colour}">Confirm: {html.escape(what)} {html.escape(req.symbol)}'
                           f'{html.escape(at)}</b> on {html.escape(self.hub.mode)}<pre>{wire}</pre>')


def _rounding_notes(raw: OrderRequest, req: OrderRequest, inst: Instrument) -> list[str]:
    notes = []
    if raw.price is not None and req.price != raw.price:
        direction = "down" if raw.side is Side.BUY else "up"
        notes.append(f"price {fmt(raw.price)} rounded {direction} to {fmt(req.price)} "
                     f"(tick {fmt(inst.price_increment)})")
    if raw.size is not None and req.size != raw.size:
        notes.append(f"size {fmt(raw.size)} rounded down to {fmt(req.size)} (lot {fmt(inst.base_increment)})")
    if raw.funds is not None and req.funds != raw.funds:
        notes.append(f"funds {fmt(raw.funds)} rounded down to {fmt(req.funds)} (step {fmt(inst.quote_increment)})")
    return notes


def _check_not_rounded_away(raw: OrderRequest, req: OrderRequest, inst: Instrument) -> None:
    """Rounding down can turn a tiny positive amount into zero: say why, not just 'must be above zero'."""
    if raw.size is not None and raw.size > 0 and req.size == 0:
        raise OrderRuleError("baseIncrement", f"size {fmt(raw.size)} is smaller than one lot "
                             f"{fmt(inst.base_increment)}")
    if raw.funds is not None and raw.funds > 0 and req.funds == 0:
        raise OrderRuleError("quoteIncrement", f"funds {fmt(raw.funds)} are smaller than one step "
                             f"{fmt(inst.quote_increment)}")
    if raw.price is not None and raw.price > 0 and req.price == 0:
        raise OrderRuleError("priceIncrement", f"price {fmt(raw.price)} is smaller than one tick "
                             f"{fmt(inst.price_increment)}")


# ---------------------------------------------------------------- account tables
def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


class AccountComponent(LiveComponent):
    """Base of the account views: ``tick`` reads the account (not a MarketView) and re-renders only on change."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 10.0), doc="Refresh rate of this account view.")
    message = param.String(default="", doc="The last action's result or the last error, in words.")

    columns: tuple[str, ...] = ()
    css_class = "account-table"

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self._table = pn.widgets.Tabulator(pd.DataFrame(columns=list(self.columns)), show_index=False,
                                           disabled=True, theme="midnight", height=220, sizing_mode="stretch_width",
                                           css_classes=[self.css_class], **self._table_options())
        self._message = pn.pane.HTML("", css_classes=[f"{self.css_class}-message"], visible=False)
        self.rows: tuple[tuple[str, ...], ...] = ()

    def _table_options(self) -> dict:
        return {}

    def tick(self, now: float | None = None) -> bool:
        """Read the account at ``rate_hz``; re-render only when the rows changed (version = hash of rows)."""
        if not self._due(now):
            return False
        account = self.hub.account
        try:
            rows = tuple(self._rows(account)) if account is not None else ()
        except Exception as exc:  # a session clock boundary: one failing read must not stop the others
            self.message = f"could not read the account: {describe_error(exc)}"
            return False
        version = hash(rows)
        if version == self._shown_version:
            return False
        self._shown_version = version
        self.rows = rows
        self._table.value = pd.DataFrame(list(rows), columns=list(self.columns))
        self.renders += 1
        return True

    def refresh(self) -> None:
        """Re-read now (after an action)."""
        self._gate.reset()
        self.tick()

    def _rows(self, account) -> Sequence[tuple[str, ...]]:  # pragma: no cover - abstract
        raise NotImplementedError

    @param.depends("message", watch=True)
    def _show_message(self) -> None:
        self._message.object = _panel_html(html.escape(self.message), MUTED)
        self._message.visible = bool(self.message)

    def _controls(self) -> list:
        return []

    def __panel__(self):
        why = "replay of recorded market data: no account" if self.hub.mode == "replay" else "read-only: no API key"
        read_only = pn.pane.HTML(_panel_html(why, MUTED), visible=self.hub.account is None)
        return pn.Column(read_only, self._table, *self._controls(), self._message, sizing_mode="stretch_width")


class OpenOrders(AccountComponent):
    """Open orders with a cancel button per row and Cancel all."""

    rate_hz = param.Number(default=2.0, bounds=(0.2, 10.0), doc="Refresh rate of the open orders.")
    all_symbols = param.Boolean(default=True, doc="Show (and cancel) every symbol's orders, not just ``symbol``.")

    columns = ("time", "symbol", "side", "type", "price", "size", "filled", "status", "order id")
    css_class = "open-orders"

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self._table.on_click(self._on_cell_click, column="cancel")
        self.cancel_all_button = pn.widgets.Button(label="Cancel all", color="warning",
                                                   css_classes=["cancel-all"], disabled=hub.account is None)
        self.cancel_all_button.on_click(self._on_cancel_all)

    def _table_options(self) -> dict:
        return {"buttons": {"cancel": '<span title="cancel this order">✕</span>'}}

    def _rows(self, account) -> Sequence[tuple[str, ...]]:
        # oldest first: new orders append at the bottom, so a row does not move under the user's cursor
        orders = sorted(account.open_orders(), key=lambda o: (o.created_ms, o.order_id))
        return [(_utc(o.created_ms), o.symbol, o.side.value, o.type.value, fmt(o.price), fmt(o.size),
                 fmt(o.filled_size), o.status.value, o.order_id)
                for o in orders if self.all_symbols or o.symbol == self.symbol]

    @param.depends("all_symbols", watch=True)
    def _on_scope(self) -> None:
        self.refresh()

    def _controls(self) -> list:
        return [pn.Row(self.cancel_all_button)]

    async def _on_cell_click(self, event) -> None:
        if 0 <= event.row < len(self.rows):
            await self.cancel(self.rows[event.row][-1])

    async def _on_cancel_all(self, _event) -> None:
        await self.cancel_all()

    async def cancel(self, order_id: str) -> bool:
        """Cancel one open order by id; the result lands in ``message``."""
        account = self.hub.account
        if account is None:
            self.message = "read-only: no API key"
            return False
        order = next((o for o in account.open_orders() if o.order_id == order_id), None)
        if order is None:
            self.message = f"order {order_id} is no longer open"
            return False
        label = f"{order.side.value} {fmt(order.size)} {order.symbol} @ {fmt(order.price)} ({order_id})"
        try:
            await self.hub.call(account.cancel(order.symbol, order_id))
        except Exception as exc:  # UI boundary: show it
            self.message = f"cancel {label} failed — {describe_error(exc)}"
            return False
        self.message = f"cancel sent: {label}"
        self.refresh()
        return True

    async def cancel_all(self) -> bool:
        """Cancel every open order (of ``symbol`` only when ``all_symbols`` is off)."""
        account = self.hub.account
        if account is None:
            self.message = "read-only: no API key"
            return False
        scope = None if self.all_symbols else self.symbol
        try:
            await self.hub.call(account.cancel_all(scope))
        except Exception as exc:
            self.message = f"cancel all failed — {describe_error(exc)}"
            return False
        self.message = f"cancel all sent ({scope or 'every symbol'})"
        self.refresh()
        return True


class Balances(AccountComponent):
    """Balances per currency: available, on hold, total."""

    hide_zero = param.Boolean(default=True, doc="Leave out currencies with a zero total.")

    columns = ("currency", "available", "hold", "total")
    css_class = "balances"

    def _rows(self, account) -> Sequence[tuple[str, ...]]:
        rows = sorted(account.balances(), key=lambda b: b.currency)
        return [(b.currency, fmt(b.available), fmt(b.hold), fmt(b.total)) for b in rows
                if b.total or not self.hide_zero]


class Fills(AccountComponent):
    """Recent fills, newest first."""

    max_rows = param.Integer(default=200, bounds=(10, 5000), doc="How many fills to show.")

    columns = ("time", "symbol", "side", "price", "size", "fee", "liquidity")
    css_class = "fills"

    def _rows(self, account) -> Sequence[tuple[str, ...]]:
        fills = sorted(account.fills(), key=lambda f: (f.ts_ms, f.fill_id), reverse=True)[: self.max_rows]
        return [(_utc(f.ts_ms), f.symbol, f.side.value, fmt(f.price), fmt(f.size), f"{fmt(f.fee)} {f.fee_currency}",
                 f.liquidity) for f in fills]


# ---------------------------------------------------------------- kill switch
class KillSwitch(LiveComponent):
    """One red button (with a confirmation): cancel everything and block order entry."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 10.0), doc="How often the account's kill state is read.")
    engaged = param.Boolean(default=False, doc="True once the kill switch has fired (here or in another session).")
    confirming = param.Boolean(default=False, doc="True while the confirmation is shown.")
    message = param.String(default="", doc="What the kill switch did, in words.")

    def __init__(self, hub: MarketHub, tickets: Sequence[OrderTicket] = (), **params) -> None:
        super().__init__(hub, **params)
        self.tickets = list(tickets)
        self.button = pn.widgets.Button(label="Kill switch: cancel all and block entry", color="danger",
                                        css_classes=["kill-switch"], disabled=hub.account is None)
        self.confirm_button = pn.widgets.Button(label="Yes: cancel all and block", color="danger",
                                                css_classes=["kill-confirm"])
        self.keep_button = pn.widgets.Button(label="Keep trading", css_classes=["kill-keep"])
        self.button.on_click(lambda _event: self.arm())
        self.keep_button.on_click(lambda _event: self.disarm())
        self.confirm_button.on_click(self._on_confirm)
        self._confirm_row = pn.Row(self.confirm_button, self.keep_button, visible=False)
        self._message = pn.pane.HTML("", css_classes=["kill-message"], visible=False)

    def __panel__(self):
        return pn.Column(self.button, self._confirm_row, self._message)

    def tick(self, now: float | None = None) -> bool:
        """Pick up a kill fired in another session (the account is shared by the process)."""
        if not self._due(now):
            return False
        if not self.engaged and getattr(self.hub.account, "kill_switch", False):
            self._engage("kill switch engaged (by another session)")
            return True
        return False

    def arm(self) -> None:
        self.confirming = True

    def disarm(self) -> None:
        self.confirming = False

    async def _on_confirm(self, _event) -> None:
        await self.kill()

    async def kill(self) -> bool:
        """Fire: the account blocks new orders and cancels everything; this session's tickets block too."""
        self.confirming = False
        account = self.hub.account
        if account is None:
            self.message = "read-only: no API key, nothing to cancel"
            return False
        try:
            await self.hub.call(account.kill())
        except Exception as exc:  # block locally anyway: stopping is always the safe side
            self._engage(f"kill switch: cancelling failed — {describe_error(exc)}; entry is blocked here, retry")
            return False
        self._engage("kill switch engaged: all open orders cancelled, order entry blocked")
        return True

    def _engage(self, text: str) -> None:
        self.engaged = True
        self.message = text
        for ticket in self.tickets:
            ticket.block(KILL_REASON)

    @param.depends("confirming", "message", watch=True)
    def _sync(self) -> None:
        self._confirm_row.visible = self.confirming
        self._message.object = _panel_html(html.escape(self.message), ASK)
        self._message.visible = bool(self.message)
