"""Orders of the embedded exchange: the order, fill and trade records, their wire forms, and the
parsing and rule checks of a POST /api/v1/hf/orders body with KuCoin's codes (protocol.md §5.3).

Pure and synchronous. Imports ``dashboard.kucoin.protocol`` and the simulator's catalog and errors
only; never the book, the accounts or any I/O.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dashboard.kucoin.protocol.common import (
    ERR_FUNDS_BELOW_MIN,
    ERR_PARAMETER,
    ERR_SYMBOL_NOT_AVAILABLE,
)
from dashboard.kucoin.protocol.numbers import fmt, is_multiple, parse_decimal
from dashboard.simulator.catalog import SymbolRules
from dashboard.simulator.errors import SimError

ZERO = Decimal(0)
ONE = Decimal(1)
TIME_IN_FORCE = frozenset({"GTC", "GTT", "IOC", "FOK"})
STP_VALUES = frozenset({"", "CN", "CO", "CB", "DC"})
_CLIENT_OID = re.compile(r"[A-Za-z0-9_-]{1,40}")


class EngineError(SimError):
    """A rejected engine request: KuCoin ``code``, ``msg`` and the HTTP status to answer with."""

    def __init__(self, code: str, msg: str, http_status: int = 400) -> None:
        super().__init__(code, msg, http_status)


def param_error(msg: str) -> EngineError:
    """KuCoin's catch-all 400100 ("parameter error") with a message naming the parameter."""
    return EngineError(ERR_PARAMETER, msg)


@dataclass(slots=True, eq=False)
class Order:
    """One order's full state; the engine mutates it in place (identity, not value, equality)."""

    id: str
    client_oid: str
    user_id: str
    symbol: str
    side: str
    type: str
    price: Decimal
    size: Decimal
    funds: Decimal | None
    time_in_force: str = "GTC"
    cancel_after: int = -1
    post_only: bool = False
    hidden: bool = False
    remark: str = ""
    stp: str = ""
    fee_currency: str = ""
    deal_size: Decimal = ZERO
    deal_funds: Decimal = ZERO
    fee: Decimal = ZERO
    cancelled_size: Decimal = ZERO
    cancelled_funds: Decimal = ZERO
    remain_size: Decimal = ZERO
    active: bool = False
    in_book: bool = False
    created_at: int = 0
    updated_at: int = 0
    hold_left: Decimal = ZERO  # still held for this order: quote for buys, base for sells
    touch: int = 0  # engine-wide update counter, the "newest update first" sort key

    def to_wire(self) -> dict[str, Any]:
        """HF order object of protocol.md §5.5 (numbers as strings, times in ms)."""
        limit = self.type == "limit"
        funds = self.price * self.size if limit else (self.funds or ZERO)
        remain_funds = max(funds - self.deal_funds - self.cancelled_funds, ZERO) if limit else ZERO
        return {
            "id": self.id, "clientOid": self.client_oid, "symbol": self.symbol, "opType": "DEAL",
            "type": self.type, "side": self.side, "price": fmt(self.price), "size": fmt(self.size),
            "funds": fmt(funds), "dealSize": fmt(self.deal_size), "dealFunds": fmt(self.deal_funds),
            "remainSize": fmt(self.remain_size), "remainFunds": fmt(remain_funds),
            "cancelledSize": fmt(self.cancelled_size), "cancelledFunds": fmt(self.cancelled_funds),
            "fee": fmt(self.fee), "feeCurrency": self.fee_currency, "stp": self.stp or None,
            "timeInForce": self.time_in_force, "postOnly": self.post_only, "hidden": self.hidden,
            "iceberg": False, "visibleSize": "0", "cancelAfter": max(self.cancel_after, 0),
            "channel": "API", "remark": self.remark or None, "tags": None,
            "cancelExist": self.cancelled_size > 0 or self.cancelled_funds > 0,
            "tradeType": "TRADE", "inOrderBook": self.in_book, "active": self.active, "tax": "0",
            "createdAt": self.created_at, "lastUpdatedAt": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one trade, as seen by the order's owner."""

    id: int
    order_id: str
    counter_order_id: str
    trade_id: int
    symbol: str
    side: str
    liquidity: str
    type: str
    price: Decimal
    size: Decimal
    funds: Decimal
    fee: Decimal
    fee_rate: Decimal
    fee_currency: str
    created_at: int

    def to_wire(self) -> dict[str, Any]:
        """HF fill item of protocol.md §5.7 (``id`` and ``tradeId`` stay JSON integers)."""
        return {
            "id": self.id, "orderId": self.order_id, "counterOrderId": self.counter_order_id,
            "tradeId": self.trade_id, "symbol": self.symbol, "side": self.side,
            "liquidity": self.liquidity, "type": self.type, "forceTaker": False,
            "price": fmt(self.price), "size": fmt(self.size), "funds": fmt(self.funds),
            "fee": fmt(self.fee), "feeRate": fmt(self.fee_rate), "feeCurrency": self.fee_currency,
            "stop": "", "tradeType": "TRADE", "taxRate": "0", "tax": "0",
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade (the /market/match tape); ``side`` is the taker's side."""

    trade_id: int
    sequence: int
    symbol: str
    price: Decimal
    size: Decimal
    side: str
    maker_order_id: str
    taker_order_id: str
    time_ns: int


# ---------------------------------------------------------------- request fields


def _num(req: Mapping[str, Any], name: str) -> Decimal | None:
    value = req.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        if value.is_finite():
            return value
    elif isinstance(value, float):
        return Decimal(repr(value))
    else:
        try:
            return parse_decimal(value)
        except ValueError:
            pass
    raise param_error(f"{name} is invalid: {value!r}")


def _flag(req: Mapping[str, Any], name: str) -> bool:
    value = req.get(name, False)
    if value in (True, "true"):
        return True
    if value in (False, "false", None):
        return False
    raise param_error(f"{name} must be a boolean")


def _cancel_after(req: Mapping[str, Any], tif: str) -> int:
    raw = req.get("cancelAfter")
    if raw is None:
        value = -1
    else:
        try:
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise ValueError
            value = int(raw)
        except ValueError:
            raise param_error("cancelAfter is invalid") from None
    if tif == "GTT":
        if value <= 0:
            raise param_error("cancelAfter must be greater than 0 with timeInForce GTT")
    elif value not in (-1, 0):
        raise param_error("cancelAfter is only allowed with timeInForce GTT")
    else:
        value = -1
    return value


# ---------------------------------------------------------------- validation


def validate(rules_by_symbol: Mapping[str, SymbolRules], user_id: str, client_oids: Container[str],
             req: Mapping[str, Any]) -> Order:
    """Check an order body against the symbol's rules: the new, not yet placed order (or raise).

    ``client_oids`` are the user's active client order ids (a duplicate among them is refused).
    """
    rules = _symbol_rules(rules_by_symbol, req.get("symbol"))
    side, otype = req.get("side"), req.get("type")
    if side not in ("buy", "sell"):
        raise param_error("side must be buy or sell")
    if otype not in ("limit", "market"):
        raise param_error("type must be limit or market")
    client_oid = _client_oid(req, client_oids)
    price, size, funds = _num(req, "price"), _num(req, "size"), _num(req, "funds")
    if otype == "limit":
        price, funds = _check_limit(rules, price, size), None
    else:
        price = ZERO
        _check_market(rules, size, funds)
    tif = req.get("timeInForce") or "GTC"
    if tif not in TIME_IN_FORCE:
        raise param_error("timeInForce must be one of GTC, GTT, IOC, FOK")
    post_only = _flag(req, "postOnly")
    if post_only and tif in ("IOC", "FOK"):
        raise param_error("postOnly is not allowed with timeInForce IOC or FOK")
    cancel_after = _cancel_after(req, tif)
    stp = req.get("stp") or ""
    if stp not in STP_VALUES:
        raise param_error("stp must be one of CN, CO, CB, DC")
    remark = req.get("remark") or ""
    if not isinstance(remark, str) or len(remark) > 100:
        raise param_error("remark is invalid")
    return Order(
        id="", client_oid=client_oid, user_id=user_id, symbol=rules.symbol, side=side, type=otype,
        price=price, size=size or ZERO, funds=funds, time_in_force=tif, cancel_after=cancel_after,
        post_only=post_only and otype == "limit", hidden=_flag(req, "hidden"), remark=remark,
        stp=stp, fee_currency=rules.quote, remain_size=size or ZERO,
    )


def _symbol_rules(rules_by_symbol: Mapping[str, SymbolRules], sym: object) -> SymbolRules:
    rules = rules_by_symbol.get(sym) if isinstance(sym, str) else None
    if rules is None:
        raise param_error("Unsupported trading pair.")
    if not rules.enable_trading:
        raise EngineError(ERR_SYMBOL_NOT_AVAILABLE, "validation.createOrder.symbolNotAvailable")
    return rules


def _client_oid(req: Mapping[str, Any], active: Container[str]) -> str:
    client_oid = req.get("clientOid") or ""
    if client_oid:
        if not isinstance(client_oid, str) or not _CLIENT_OID.fullmatch(client_oid):
            raise param_error("clientOid is invalid: at most 40 characters of [A-Za-z0-9_-]")
        if client_oid in active:
            raise param_error("The clientOid already exists.")
    return client_oid


def _check_size(rules: SymbolRules, size: Decimal) -> None:
    if not is_multiple(size, rules.base_increment):
        raise param_error("Order size increment invalid.")
    if size < rules.base_min_size:
        raise param_error("Order size below the minimum requirement.")
    if size > rules.base_max_size:
        raise param_error("Order size above the maximum requirement.")


def _check_limit(rules: SymbolRules, price: Decimal | None, size: Decimal | None) -> Decimal:
    if price is None:
        raise param_error("price is required for a limit order")
    if price <= 0:
        raise param_error("price must be positive")
    if not is_multiple(price, rules.price_increment):
        raise param_error("Price increment invalid.")
    if size is None:
        raise param_error("size is required for a limit order")
    _check_size(rules, size)
    if price * size < rules.min_funds:
        raise EngineError(ERR_FUNDS_BELOW_MIN, "Funds below the minimum requirement.")
    return price


def _check_market(rules: SymbolRules, size: Decimal | None, funds: Decimal | None) -> None:
    if (size is None) == (funds is None):
        raise param_error("a market order takes exactly one of size or funds")
    if size is not None:
        _check_size(rules, size)
        return
    assert funds is not None
    if not is_multiple(funds, rules.quote_increment):
        raise param_error("Funds increment invalid.")
    if funds < rules.min_funds:
        raise EngineError(ERR_FUNDS_BELOW_MIN, "Funds below the minimum requirement.")
    if funds > rules.quote_max_size:
        raise param_error("Funds above the maximum requirement.")
