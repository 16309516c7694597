"""Pre-trade checks, rounding and fill estimates for an OrderRequest (pure; venue-neutral).

Every refusal names the rule it broke (``priceIncrement``, ``baseMinSize``, ``minFunds``, ...) so
the UI can show it before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .errors import OrderRuleError
from .models import Instrument, OrderRequest, OrderType, Side, TimeInForce

ZERO = Decimal(0)


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and value % step == 0


def _round(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def round_request(req: OrderRequest, inst: Instrument) -> OrderRequest:
    """Round to the symbol's increments in the user's favour: buy prices down, sell prices up,
    sizes and funds down (never more than asked)."""
    price = req.price
    if price is not None and req.type is OrderType.LIMIT:
        price = _round(price, inst.price_increment, ROUND_FLOOR if req.side is Side.BUY else ROUND_CEILING)
    size = _round(req.size, inst.base_increment, ROUND_FLOOR) if req.size is not None else None
    funds = _round(req.funds, inst.quote_increment, ROUND_FLOOR) if req.funds is not None else None
    return replace(req, price=price, size=size, funds=funds)


def validate_request(req: OrderRequest, inst: Instrument, reference_price: Decimal | None = None) -> None:
    """Raise OrderRuleError naming the first broken rule; return None when the order is valid as is."""
    if req.symbol != inst.symbol:
        raise OrderRuleError("symbol", f"order is for {req.symbol}, rules are for {inst.symbol}")
    if not inst.enable_trading:
        raise OrderRuleError("enableTrading", f"{inst.symbol} is not open for trading")
    if req.post_only and req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise OrderRuleError("postOnly", "post-only cannot be combined with IOC or FOK")
    if req.cancel_after_s is not None and (req.time_in_force is not TimeInForce.GTT or req.cancel_after_s <= 0):
        raise OrderRuleError("cancelAfter", "cancel-after needs time in force GTT and a positive number of seconds")
    if req.type is OrderType.LIMIT:
        if req.price is None or req.price <= 0:
            raise OrderRuleError("price", "a limit order needs a price above zero")
        if not _multiple(req.price, inst.price_increment):
            tick = _plain(inst.price_increment)
            raise OrderRuleError("priceIncrement", f"price {_plain(req.price)} is not a multiple of the tick {tick}")
        if req.size is None:
            raise OrderRuleError("size", "a limit order needs a size")
        _check_size(req.size, inst)
        notional = req.price * req.size
        if notional < inst.min_funds:
            raise OrderRuleError("minFunds", f"order value {_plain(notional)} {inst.quote} is below the minimum "
                                 f"{_plain(inst.min_funds)} {inst.quote}")
        return
    if (req.size is None) == (req.funds is None):
        raise OrderRuleError("size/funds", "a market order takes exactly one of size or funds")
    if req.post_only:
        raise OrderRuleError("postOnly", "post-only applies to limit orders only")
    if req.size is not None:
        _check_size(req.size, inst)
        if reference_price is not None and req.size * reference_price < inst.min_funds:
            raise OrderRuleError("minFunds", f"order value about {_plain(req.size * reference_price)} {inst.quote} "
                                 f"is below the minimum {_plain(inst.min_funds)} {inst.quote}")
        return
    funds = req.funds
    assert funds is not None
    if funds <= 0:
        raise OrderRuleError("funds", "funds must be above zero")
    if not _multiple(funds, inst.quote_increment):
        raise OrderRuleError("quoteIncrement",
                             f"funds {_plain(funds)} is not a multiple of {_plain(inst.quote_increment)}")
    minimum = max(inst.min_funds, inst.quote_min_size)
    if funds < minimum:
        raise OrderRuleError("minFunds", f"funds {_plain(funds)} {inst.quote} are below the minimum "
                             f"{_plain(minimum)} {inst.quote}")
    if funds > inst.quote_max_size:
        raise OrderRuleError("quoteMaxSize", f"funds {_plain(funds)} exceed the maximum {_plain(inst.quote_max_size)}")


def _check_size(size: Decimal, inst: Instrument) -> None:
    if size <= 0:
        raise OrderRuleError("size", "size must be above zero")
    if not _multiple(size, inst.base_increment):
        raise OrderRuleError("baseIncrement",
                             f"size {_plain(size)} is not a multiple of the lot {_plain(inst.base_increment)}")
    if size < inst.base_min_size:
        raise OrderRuleError("baseMinSize", f"size {_plain(size)} {inst.base} is below the minimum "
                             f"{_plain(inst.base_min_size)} {inst.base}")
    if size > inst.base_max_size:
        raise OrderRuleError("baseMaxSize", f"size {_plain(size)} exceeds the maximum {_plain(inst.base_max_size)}")


@dataclass(frozen=True, slots=True)
class FillEstimate:
    """What walking the visible book says an order would do right now."""

    filled_size: Decimal
    filled_funds: Decimal
    avg_price: Decimal | None
    worst_price: Decimal | None
    complete: bool  # the visible book can fill the whole order


def estimate_fill(levels: Iterable[tuple[Decimal, Decimal]], *, size: Decimal | None = None,
                  funds: Decimal | None = None, limit_price: Decimal | None = None,
                  side: Side = Side.BUY) -> FillEstimate:
    """Walk the opposite side (asks low->high for a buy, bids high->low for a sell) up to the limit price."""
    want_size, want_funds = size, funds
    got_size = got_funds = ZERO
    worst = None
    for price, level in levels:
        if limit_price is not None and ((side is Side.BUY and price > limit_price)
                                        or (side is Side.SELL and price < limit_price)):
            break
        take = level
        if want_size is not None:
            take = min(take, want_size - got_size)
        if want_funds is not None:
            take = min(take, (want_funds - got_funds) / price)
        if take <= 0:
            break
        got_size += take
        got_funds += take * price
        worst = price
        if (want_size is not None and got_size >= want_size) or (want_funds is not None and got_funds >= want_funds):
            break
    complete = (want_size is not None and got_size >= want_size) or (want_funds is not None and got_funds >= want_funds)
    avg = (got_funds / got_size) if got_size else None
    return FillEstimate(got_size, got_funds, avg, worst, bool(complete))
