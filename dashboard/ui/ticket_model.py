"""The order ticket's state and flow, without Panel: inputs, preview, estimate, review -> confirm.

``TicketModel`` is a plain ``param.Parameterized``: a notebook or a test drives it by setting its
inputs and calling ``review()``/``confirm()``; ``ui/ticket.py`` is its view. Where the ticket
validates a price: ``recompute`` parses and rounds the inputs here, checks the symbol rules
(``domain.rules.validate_request``) to know whether a fill estimate makes sense, then asks the
account's own checks through ``OrderGatewayPort.preview`` (kill switch, cap, balance, rate), so
Review lets through exactly what Confirm's ``submit`` accepts.
Imports ``domain`` and ``hub`` only: never panel, never ``kucoin``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from decimal import Decimal, InvalidOperation

import param

from dashboard.domain.errors import (
    CredentialsRefused,
    ExchangeUnavailable,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderRuleError,
)
from dashboard.domain.models import Instrument, OrderRequest, OrderType, Side, TimeInForce
from dashboard.domain.numbers import plain_or_dash as fmt
from dashboard.domain.rules import FillEstimate, estimate_fill, round_request, validate_request
from dashboard.hub import MarketHub, MarketView

KILL_REASON = "kill switch engaged: open orders cancelled and order entry blocked"
INPUTS = ("side", "order_type", "price", "size", "funds", "size_mode", "time_in_force",
          "cancel_after_s", "post_only")


# ---------------------------------------------------------------- pure helpers
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
    """An order port error in words: the rule for local refusals, the code for the venue's."""
    if isinstance(exc, OrderRuleError):
        return f"refused before sending — {exc.rule}: {exc.message}"
    if isinstance(exc, OrderRejected):
        return f"rejected by the exchange — code {exc.rule_or_code}: {exc.message}"
    if isinstance(exc, OrderOutcomeUnknown):
        return f"outcome unknown; it will be reconciled by clientOid (do not resend): {exc}"
    if isinstance(exc, CredentialsRefused):
        return f"the exchange refused the API key: {exc.explanation}"
    if isinstance(exc, ExchangeUnavailable):
        return f"the exchange is unavailable: {exc.message}"
    return f"failed unexpectedly: {exc!r}"  # a bug, not a venue answer: show it as it is


def mid_price(view: MarketView | None) -> Decimal | None:
    if view is None or view.best_bid is None or view.best_ask is None:
        return None
    return (view.best_bid + view.best_ask) / 2


def _q(value: Decimal | None, step: Decimal) -> str:
    """A derived value (average, notional) shown to a hundredth of the step."""
    return "-" if value is None else fmt(value.quantize(step / 100))


def estimate_lines(req: OrderRequest, inst: Instrument, view: MarketView | None) -> list[str]:
    """What walking the visible book says the order would do now, in words."""
    book = view.book if view is not None else None
    if view is None or book is None:
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
                 f"avg {_q(est.avg_price, inst.price_increment)}, worst {fmt(est.worst_price)}"
                 f"{_slippage(est, view)}")
    if not est.complete:
        lines.append("⚠ book cannot fill it all: the visible depth runs out at "
                     + fmt(est.worst_price))
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
                      TimeInForce.FOK: "⚠ FOK: the book cannot fill it all at this price, so "
                                       "nothing fills"}.get(
            req.time_in_force, f"the remaining {rest} rests at {fmt(req.price)}"))
    return lines


def _slippage(est: FillEstimate, view: MarketView) -> str:
    mid = mid_price(view)
    if mid is None or est.avg_price is None:
        return ""
    return f", {abs(est.avg_price - mid) / mid * 10_000:.1f} bps from mid"


def _rounding_notes(raw: OrderRequest, req: OrderRequest, inst: Instrument) -> list[str]:
    notes = []
    if raw.price is not None and req.price != raw.price:
        direction = "down" if raw.side is Side.BUY else "up"
        notes.append(f"price {fmt(raw.price)} rounded {direction} to {fmt(req.price)} "
                     f"(tick {fmt(inst.price_increment)})")
    if raw.size is not None and req.size != raw.size:
        notes.append(f"size {fmt(raw.size)} rounded down to {fmt(req.size)} "
                     f"(lot {fmt(inst.base_increment)})")
    if raw.funds is not None and req.funds != raw.funds:
        notes.append(f"funds {fmt(raw.funds)} rounded down to {fmt(req.funds)} "
                     f"(step {fmt(inst.quote_increment)})")
    return notes


def _check_not_rounded_away(raw: OrderRequest, req: OrderRequest, inst: Instrument) -> None:
    """Rounding down can turn a tiny positive amount into zero: say why, not just 'must be above
    zero'."""
    if raw.size is not None and raw.size > 0 and req.size == 0:
        raise OrderRuleError("baseIncrement", f"size {fmt(raw.size)} is smaller than one lot "
                             f"{fmt(inst.base_increment)}")
    if raw.funds is not None and raw.funds > 0 and req.funds == 0:
        raise OrderRuleError("quoteIncrement", f"funds {fmt(raw.funds)} are smaller than one step "
                             f"{fmt(inst.quote_increment)}")
    if raw.price is not None and raw.price > 0 and req.price == 0:
        raise OrderRuleError("priceIncrement", f"price {fmt(raw.price)} is smaller than one tick "
                             f"{fmt(inst.price_increment)}")


# ---------------------------------------------------------------- the model
class TicketModel(param.Parameterized):
    """One ticket's inputs, what they mean now (preview, estimate, error), and the flow
    edit -> review -> sending -> edit. Feed it the newest ``MarketView`` with ``update``."""

    symbol = param.String(default="BTC-USDT", doc="The market the order is for.")
    side = param.Selector(default="buy", objects=["buy", "sell"], doc="Buy or sell.")
    order_type = param.Selector(default="limit", objects=["limit", "market"],
                                doc="Limit or market order.")
    price = param.String(default="", doc="Limit price as typed (text keeps exact decimals).")
    size = param.String(default="", doc="Amount in the base currency, as typed.")
    funds = param.String(default="", doc="Amount in the quote currency (market order by funds).")
    size_mode = param.Selector(default="size", objects=["size", "funds"],
                               doc="A market order gives either a size (base) or funds (quote).")
    time_in_force = param.Selector(default="GTC", objects=[t.value for t in TimeInForce],
                                   doc="Limit orders: GTC, GTT (with cancel-after), IOC or FOK.")
    cancel_after_s = param.Integer(default=60, bounds=(1, 30 * 24 * 3600),
                                   doc="GTT: cancel after this many seconds.")
    post_only = param.Boolean(default=False, doc="Limit orders: only add liquidity, never take.")

    stage = param.Selector(default="edit", objects=["edit", "review", "sending"],
                           doc="Where the ticket flow is.")
    error = param.String(default="", doc="Why the order cannot be sent, 'rule: message'.")
    error_rule = param.String(default="", doc="The rule named by ``error``.")
    preview_text = param.String(default="", doc="The rounded request as the account sends it.")
    estimate_text = param.String(default="", doc="Notional, estimated fill, rounding notes.")
    outcome = param.String(default="", doc="The last submission's outcome in words.")
    outcome_ok = param.Boolean(default=None, allow_None=True,
                               doc="True accepted, False refused, None nothing yet.")
    disabled_reason = param.String(default="", doc="Why order entry is off, in words.")
    blocked = param.String(default="", doc="Set by the kill switch: blocks entry here.")
    can_review = param.Boolean(default=False, doc="The inputs are valid and entry is allowed.")
    pending = param.ClassSelector(class_=OrderRequest, default=None, allow_None=True,
                                  doc="The exact request under review (rounded, with clientOid).")

    def __init__(self, hub: MarketHub, **params) -> None:
        self.hub = hub
        self._view: MarketView | None = None
        self._request: OrderRequest | None = None
        super().__init__(**params)
        self.refresh_disabled()
        self.recompute()

    # ---- what drives it
    def update(self, view: MarketView | None) -> None:
        """The newest view of ``symbol``: the estimate follows the book."""
        self._view = view
        self.recompute()

    def reset(self) -> None:
        """A new symbol: forget the old book, the review and the price."""
        self._view = None
        self.back()
        self.price = ""
        self.recompute()

    def set_price(self, price: str | Decimal) -> None:
        """A ladder price was clicked: a limit order at that price."""
        self.param.update(order_type="limit", price=str(price))

    def block(self, reason: str = KILL_REASON) -> None:
        """Block order entry in this ticket (the kill switch calls this)."""
        self.blocked = reason
        self.back()

    def unblock(self) -> None:
        """The kill switch was reset: entry follows the account again."""
        self.blocked = ""
        self.refresh_disabled()

    @param.depends("blocked", watch=True)
    def refresh_disabled(self) -> None:
        reason = self._disabled_reason()
        if reason != self.disabled_reason:
            self.disabled_reason = reason

    def _disabled_reason(self) -> str:
        hub, account = self.hub, self.hub.account
        if hub.mode == "replay":
            return "replay mode: order entry is off"
        if account is None:
            return "read-only: no API key"
        if self.blocked:
            return self.blocked
        if account.kill_switch_engaged():
            return KILL_REASON
        if not hub.trading_enabled:
            where = " in live mode" if hub.mode == "live" else ""
            return f"trading is off{where}; set KUCOIN_ENABLE_TRADING=1"
        return ""

    @param.depends(*INPUTS, watch=True)
    def _on_input(self) -> None:
        if self.stage == "review":
            self.back()  # what is confirmed must be what was reviewed
        self.recompute()

    @param.depends("disabled_reason", watch=True)
    def _on_disabled(self) -> None:
        if self.disabled_reason and self.stage == "review":
            self.back()
        self.recompute()

    # ---- the preview
    def instrument(self) -> Instrument | None:
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
        return OrderRequest(self.symbol, Side(self.side), OrderType(self.order_type), size=size,
                            price=price, funds=funds, time_in_force=tif,
                            post_only=limit and self.post_only, cancel_after_s=cancel_after)

    def _well_formed(self) -> tuple[Instrument, OrderRequest, list[str]]:
        """The symbol's rules, the rounded request and its rounding notes; OrderRuleError when it
        breaks a symbol rule (then no estimate means anything)."""
        inst = self.instrument()
        if inst is None:
            raise OrderRuleError("symbol", f"no trading rules for {self.symbol} yet")
        raw = self._raw_request()
        req = round_request(raw, inst)
        _check_not_rounded_away(raw, req, inst)
        validate_request(req, inst, mid_price(self._view))
        return inst, req, _rounding_notes(raw, req, inst)

    def recompute(self) -> None:
        """Rebuild preview, estimate and error from the inputs and the newest book."""
        req, body, lines, error, rule = None, None, [], "", ""
        try:
            inst, req, notes = self._well_formed()
            lines = [*self._notional_lines(req, inst), *estimate_lines(req, inst, self._view),
                     *notes]
            body = self._body(req)  # the account's own checks: what submit would refuse
        except OrderRuleError as exc:
            error, rule = f"{exc.rule}: {exc.message}", exc.rule
        self._request = req if body is not None else None
        preview = json.dumps(body, indent=2) if body is not None else ""
        self.param.update(preview_text=preview, estimate_text="\n".join(lines), error=error,
                          error_rule=rule, can_review=not error and not self.disabled_reason)

    def _body(self, req: OrderRequest) -> dict:
        account = self.hub.account
        if account is None:
            return {"note": "no account: order entry is off"}
        return dict(account.preview(req, mid_price(self._view)))

    def _notional_lines(self, req: OrderRequest, inst: Instrument) -> list[str]:
        mid = mid_price(self._view)
        if req.funds is not None:
            return [f"notional: {fmt(req.funds)} {inst.quote}"]
        if req.price is not None and req.size is not None:
            return [f"notional: {_q(req.price * req.size, inst.quote_increment)} {inst.quote}"]
        if req.size is not None and mid is not None:
            return [f"notional: about {_q(req.size * mid, inst.quote_increment)} {inst.quote} "
                    "at mid"]
        return []

    # ---- the flow: review -> confirm (or back)
    def review(self) -> bool:
        """Freeze the rounded request (with a fresh clientOid) for confirmation; False if it
        cannot be sent."""
        self.recompute()
        if self.stage != "edit" or not self.can_review or self._request is None:
            return False
        self.param.update(pending=replace(self._request, client_oid=uuid.uuid4().hex),
                          stage="review")
        return True

    def back(self) -> None:
        """Leave the review without sending."""
        if self.stage == "review":
            self.param.update(pending=None, stage="edit")

    def body(self, req: OrderRequest) -> dict:
        """The body the account would send for ``req`` (the review's summary shows it)."""
        try:
            return self._body(req)
        except OrderRuleError as exc:  # refused since the review: Confirm will say so
            return {"refused": f"{exc.rule}: {exc.message}"}

    async def confirm(self) -> bool:
        """Send the reviewed request; the outcome (order id or the refusal in words) lands in
        ``outcome``."""
        req, account = self.pending, self.hub.account
        if self.stage != "review" or req is None:
            return False
        if self.disabled_reason or account is None:
            self.back()
            self._set_outcome(False, f"not sent — {self.disabled_reason}")
            return False
        self.stage = "sending"
        self._set_outcome(None, f"sending {req.side.value} {req.symbol} (clientOid "
                                f"{req.client_oid})…")
        try:
            result = await self.hub.call(account.submit(req, reference_price=mid_price(self._view)))
        except Exception as exc:  # the UI boundary: every refusal is shown, none raised into Panel
            self._set_outcome(False, f"{req.side.value} {req.symbol}: {describe_error(exc)}")
            return False
        finally:
            self.param.update(pending=None, stage="edit")
        self._set_outcome(True, f"accepted: order id {result.order_id} "
                                f"(clientOid {req.client_oid})")
        return True

    def _set_outcome(self, ok: bool | None, text: str) -> None:
        self.param.update(outcome=text, outcome_ok=ok)
