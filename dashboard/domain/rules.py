"""Pre-trade symbol rules, rounding and fill estimates for an OrderRequest (pure; venue-neutral).

Every refusal names the rule it broke (``priceIncrement``, ``baseMinSize``, ``minFunds``, ...) so
the UI can show it before anything is sent. The account-side checks (kill switch, caps, balance,
order rate) are in ``risk.py``, which calls ``validate_request`` first. Imports only ``domain``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .errors import OrderRuleError
from .models import Instrument, OrderRequest, OrderType, Side, TimeInForce
from .numbers import is_multiple, plain, round_to_step

ZERO = Decimal(0)



def round_request(req: OrderRequest, inst: Instrument) -> OrderRequest:
    """Round to the symbol's increments in the user's favour: buy prices down, sell prices up,
    sizes and funds down (never more than asked)."""
    price = req.price
    if price is not None and req.type is OrderType.LIMIT:
        up_or_down = ROUND_FLOOR if req.side is Side.BUY else ROUND_CEILING
        price = round_to_step(price, inst.price_increment, up_or_down)
    size = funds = None
    if req.size is not None:
        size = round_to_step(req.size, inst.base_increment, ROUND_FLOOR)
    if req.funds is not None:
        funds = round_to_step(req.funds, inst.quote_increment, ROUND_FLOOR)
    return replace(req, price=price, size=size, funds=funds)


def validate_request(req: OrderRequest, inst: Instrument,
                     reference_price: Decimal | None = None) -> None:
    """Raise OrderRuleError naming the first broken rule; None when the order is valid as is."""
    if req.symbol != inst.symbol:
        raise OrderRuleError("symbol", f"order is for {req.symbol}, rules are for {inst.symbol}")
    if not inst.enable_trading:
        raise OrderRuleError("enableTrading", f"{inst.symbol} is not open for trading")
    if req.post_only and req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise OrderRuleError("postOnly", "post-only cannot be combined with IOC or FOK")
    if req.cancel_after_s is not None and (req.time_in_force is not TimeInForce.GTT
                                           or req.cancel_after_s <= 0):
        raise OrderRuleError("cancelAfter", "cancel-after needs time in force GTT and a "
                             "positive number of seconds")
    if req.type is OrderType.LIMIT:
        _check_limit(req, inst)
    elif (req.size is None) == (req.funds is None):
        raise OrderRuleError("size/funds", "a market order takes exactly one of size or funds")
    elif req.post_only:
        raise OrderRuleError("postOnly", "post-only applies to limit orders only")
    elif req.size is not None:
        _check_size(req.size, inst)
        value = req.size * reference_price if reference_price is not None else None
        if value is not None and value < inst.min_funds:
            raise OrderRuleError("minFunds", f"order value about {plain(value)} {inst.quote} is "
                                 f"below the minimum {plain(inst.min_funds)} {inst.quote}")
    else:
        _check_funds(req.funds or ZERO, inst)


def _check_limit(req: OrderRequest, inst: Instrument) -> None:
    if req.price is None or req.price <= 0:
        raise OrderRuleError("price", "a limit order needs a price above zero")
    if not is_multiple(req.price, inst.price_increment):
        raise OrderRuleError("priceIncrement", f"price {plain(req.price)} is not a multiple of "
                             f"the tick {plain(inst.price_increment)}")
    if req.size is None:
        raise OrderRuleError("size", "a limit order needs a size")
    _check_size(req.size, inst)
    notional = req.price * req.size
    if notional < inst.min_funds:
        raise OrderRuleError("minFunds", f"order value {plain(notional)} {inst.quote} is below "
                             f"the minimum {plain(inst.min_funds)} {inst.quote}")


def _check_funds(funds: Decimal, inst: Instrument) -> None:
    if funds <= 0:
        raise OrderRuleError("funds", "funds must be above zero")
    if not is_multiple(funds, inst.quote_increment):
        raise OrderRuleError("quoteIncrement", f"funds {plain(funds)} is not a multiple of "
                             f"{plain(inst.quote_increment)}")
    minimum = max(inst.min_funds, inst.quote_min_size)
    if funds < minimum:
        raise OrderRuleError("minFunds", f"funds {plain(funds)} {inst.quote} are below the minimum "
                             f"{plain(minimum)} {inst.quote}")
    if funds > inst.quote_max_size:
        raise OrderRuleError("quoteMaxSize", f"funds {plain(funds)} exceed the maximum "
                             f"{plain(inst.quote_max_size)}")


def _check_size(size: Decimal, inst: Instrument) -> None:
    if size <= 0:
        raise OrderRuleError("size", "size must be above zero")
    if not is_multiple(size, inst.base_increment):
        raise OrderRuleError("baseIncrement", f"size {plain(size)} is not a multiple of the lot "
                             f"{plain(inst.base_increment)}")
    if size < inst.base_min_size:
        raise OrderRuleError("baseMinSize", f"size {plain(size)} {inst.base} is below the minimum "
                             f"{plain(inst.base_min_size)} {inst.base}")
    if size > inst.base_max_size:
        raise OrderRuleError("baseMaxSize", f"size {plain(size)} exceeds the maximum "
                             f"{plain(inst.base_max_size)}")


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
    """Walk the opposite side (asks low->high for a buy, bids high->low for a sell) up to the limit
    price."""
    got_size = got_funds = ZERO
    worst = None
    for price, level in levels:
        if limit_price is not None and ((side is Side.BUY and price > limit_price)
                                        or (side is Side.SELL and price < limit_price)):
            break
        take = level
        if size is not None:
            take = min(take, size - got_size)
        if funds is not None:
            take = min(take, (funds - got_funds) / price)
        if take <= 0:
            break
        got_size += take
        got_funds += take * price
        worst = price
        if _done(size, funds, got_size, got_funds):
            break
    avg = (got_funds / got_size) if got_size else None
    return FillEstimate(got_size, got_funds, avg, worst, _done(size, funds, got_size, got_funds))


def _done(size: Decimal | None, funds: Decimal | None, got_size: Decimal,
          got_funds: Decimal) -> bool:
    return (size is not None and got_size >= size) or (funds is not None and got_funds >= funds)
