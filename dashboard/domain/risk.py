"""Every check an order passes before it is sent, in one place: ``OrderGuard``.

The gateway asks it before sending, the ticket's preview asks the same guard through the port
(``OrderGatewayPort.preview``), and the fake account asks it too, so what Review lets through is
what Confirm sends. Checks, in order: kill switch, symbol rules (``rules.validate_request``),
the per-order notional cap, the balance, the order rate. Pure domain code (clock injected).

The cap is one amount in one reference currency (``RiskLimits.cap_currency``, USDT by default), so
it means the same money on every symbol: an ETH-BTC order's value in BTC is converted with the
live BTC-USDT price. When no live price can value an order, the guard refuses it (fail closed).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from .errors import OrderRuleError
from .interfaces import MarketFeed
from .models import Balance, Instrument, OrderRequest, OrderType, Side
from .numbers import amount_text, plain
from .rules import validate_request

log = logging.getLogger(__name__)

PriceOf = Callable[[str], Decimal | None]  # a symbol's live mid price, None when there is none
BalancesOf = Callable[[], Mapping[str, Balance]]  # the account's balances by currency, now
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Per-gateway safety limits for a shared server (configuration; the kill switch is state, kept
    by the guard)."""

    max_orders_per_minute: int = 60
    max_notional: Decimal | None = None  # per order, in ``cap_currency``; None: no cap
    cap_currency: str = "USDT"


def mid_prices(feed: MarketFeed) -> PriceOf:
    """A feed's live mid prices as a ``PriceOf``: None for a symbol the feed does not carry or
    whose book is not live, so the cap then refuses rather than guesses."""
    def price_of(symbol: str) -> Decimal | None:
        if symbol not in feed.instruments():
            return None
        book = feed.book(symbol, 1)
        if book is None or not book.bids or not book.asks:
            return None
        return (book.bids[0][0] + book.asks[0][0]) / 2
    return price_of


def order_value(req: OrderRequest, reference_price: Decimal | None) -> Decimal | None:
    """The order's value in its quote currency (market by size: at the reference price)."""
    if req.funds is not None:
        return req.funds
    price = req.price if req.type is OrderType.LIMIT else reference_price
    return price * req.size if price is not None and req.size is not None else None


def value_in(amount: Decimal, currency: str, target: str, prices: PriceOf | None) -> Decimal | None:
    """``amount`` of ``currency`` in ``target`` at the live price of CUR-TARGET (or TARGET-CUR)."""
    if currency == target:
        return amount
    if prices is None:
        return None
    direct = prices(f"{currency}-{target}")
    if direct:
        return amount * direct
    inverse = prices(f"{target}-{currency}")
    return amount / inverse if inverse else None


def required_funds(req: OrderRequest, inst: Instrument,
                   reference_price: Decimal | None) -> tuple[str, Decimal, bool] | None:
    """(currency, amount, estimated) the order needs available; None when it cannot be told (a
    market order sized in the other currency, with no price). Fees are the venue's to add."""
    if req.side is Side.BUY:
        if req.type is OrderType.LIMIT and req.price is not None and req.size is not None:
            return inst.quote, req.price * req.size, False
        if req.funds is not None:
            return inst.quote, req.funds, False
        if req.size is not None and reference_price:
            return inst.quote, (req.size * reference_price).quantize(inst.quote_increment), True
        return None
    if req.size is not None:
        return inst.base, req.size, False
    if req.funds is not None and reference_price:
        return inst.base, (req.funds / reference_price).quantize(inst.base_increment), True
    return None


class OrderGuard:
    """Symbol rules, risk limits, balance and kill switch for one account's orders.

    ``prices`` values orders quoted in another currency than the cap's; ``balances`` enables the
    balance check (None: the venue alone decides). Shared by every session of the process.
    """

    def __init__(self, instruments: Mapping[str, Instrument], limits: RiskLimits | None = None, *,
                 prices: PriceOf | None = None, balances: BalancesOf | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.instruments = instruments
        self.limits = limits or RiskLimits()
        self.prices = prices
        self.balances = balances
        self._clock = clock
        self._sent_at: deque[float] = deque()
        self.kill_switch_engaged = False

    # ---- the kill switch (state, not configuration)
    def engage_kill_switch(self) -> None:
        """Block every new order until ``reset_kill_switch``."""
        if not self.kill_switch_engaged:
            log.warning("kill switch engaged: order entry blocked")
        self.kill_switch_engaged = True

    def reset_kill_switch(self) -> None:
        """Allow order entry again (a deliberate, confirmed act; logged)."""
        if self.kill_switch_engaged:
            log.warning("kill switch reset: order entry allowed again")
        self.kill_switch_engaged = False

    # ---- checks
    def check(self, req: OrderRequest, reference_price: Decimal | None = None) -> None:
        """Raise OrderRuleError naming the first rule the order breaks; None when it may be sent."""
        if self.kill_switch_engaged:
            raise OrderRuleError("killSwitch", "order entry is blocked by the kill switch")
        inst = self.instruments.get(req.symbol)
        if inst is None:
            raise OrderRuleError("symbol", f"unknown symbol {req.symbol}")
        validate_request(req, inst, reference_price)
        self._check_cap(req, inst, reference_price)
        self._check_balance(req, inst, reference_price)
        self._check_rate()

    def record_sent(self) -> None:
        """Count one order against the order rate."""
        self._sent_at.append(self._clock())

    def _check_cap(self, req: OrderRequest, inst: Instrument,
                   reference_price: Decimal | None) -> None:
        cap, cap_currency = self.limits.max_notional, self.limits.cap_currency
        notional = order_value(req, reference_price)
        if cap is None or notional is None:
            return
        value = value_in(notional, inst.quote, cap_currency, self.prices)
        what = f"order value {plain(notional)} {inst.quote}"
        if value is None:
            pair = f"{inst.quote}-{cap_currency}"
            raise OrderRuleError("notionalCap", f"cannot value the order in {cap_currency}, the "
                                 f"currency of the cap: no live {pair} price ({pair} must be "
                                 "among the symbols, with a live book)")
        if value > cap:
            if inst.quote != cap_currency:
                what += f" (about {plain(value.quantize(CENT))} {cap_currency})"
            raise OrderRuleError("notionalCap", f"{what} is above the per-order cap of "
                                 f"{plain(cap)} {cap_currency}")

    def _check_balance(self, req: OrderRequest, inst: Instrument,
                       reference_price: Decimal | None) -> None:
        need = required_funds(req, inst, reference_price) if self.balances is not None else None
        if need is None or self.balances is None:
            return
        currency, amount, estimated = need
        held = self.balances().get(currency)
        available = held.available if held is not None else Decimal(0)
        if amount > available:
            about = "about " if estimated else ""
            steps = {inst.base: inst.base_increment, inst.quote: inst.quote_increment}
            raise OrderRuleError("balance", f"the order needs {about}{plain(amount)} {currency}; "
                                 f"{amount_text(available, currency, steps)} {currency} available")

    def _check_rate(self) -> None:
        now, limit = self._clock(), self.limits.max_orders_per_minute
        while self._sent_at and now - self._sent_at[0] > 60:
            self._sent_at.popleft()
        if len(self._sent_at) >= limit:
            raise OrderRuleError("orderRate",
                                 f"more than {limit} orders in a minute; wait a moment")
