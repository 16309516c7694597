"""Matching engine of the embedded exchange: price-time books, orders, balances and level-2 sequences.

Sans-I/O and synchronous: the REST/WebSocket server calls it, and it reports what happened through
listener callbacks (``on_book_changes``, ``on_trade``, ``on_order_event``, ``on_balance``), each called
synchronously at the end of the action that caused it. Imports ``dashboard.kucoin.protocol`` and the
simulator's own modules only; never ``dashboard.kucoin.client``.

Accounting choices (KuCoin leaves them open, protocol.md §5.3, §7.9, §11):
- fees are charged in the quote currency on every fill (maker rate / taker rate);
- a limit buy holds ``price * size * (1 + max(maker_fee, taker_fee))`` of quote;
  a sell (limit or market by size) holds ``size`` of base;
- a market buy by ``funds`` holds ``funds`` and the fee comes OUT of it (trade funds + fee <= funds);
- a market buy by ``size`` holds the exact cost of walking the book (matching is immediate, so the
  estimate is the cost); a market sell by ``funds`` holds the exact base it will sell;
- releasing a hold (cancel, order finished with hold left) is pushed with relationEvent ``trade.other``;
  placing pushes ``trade.hold`` and fills push ``trade.setted``.
- ``stp`` is stored and echoed but self-trade prevention is not enforced (self-matches are allowed).
- ``place`` for a user never added creates a limited user with no balances (so it fails 200004).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dashboard.kucoin.protocol.common import (
    ERR_BALANCE_INSUFFICIENT,
    ERR_FUNDS_BELOW_MIN,
    ERR_PARAMETER,
    ERR_SYMBOL_NOT_AVAILABLE,
)
from dashboard.kucoin.protocol.numbers import fmt, is_multiple, parse_decimal
from dashboard.kucoin.protocol.spot import MSG_CANCEL_NOT_EXIST, MSG_ORDER_NOT_EXIST
from dashboard.simulator.catalog import SymbolRules
from dashboard.simulator.errors import SimError

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
ONE = Decimal(1)
BIDS = "bids"
ASKS = "asks"
TIME_IN_FORCE = frozenset({"GTC", "GTT", "IOC", "FOK"})
STP_VALUES = frozenset({"", "CN", "CO", "CB", "DC"})
DONE_KEPT = 2000
FILLS_KEPT = 5000
_CLIENT_OID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class EngineError(SimError):
    """A rejected engine request: KuCoin ``code``, ``msg`` and the HTTP status the server should send."""

    def __init__(self, code: str, msg: str, http_status: int = 400) -> None:
        super().__init__(code, msg, http_status)


def _param(msg: str) -> EngineError:
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
            "cancelExist": self.cancelled_size > 0 or self.cancelled_funds > 0, "tradeType": "TRADE",
            "inOrderBook": self.in_book, "active": self.active, "tax": "0",
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
            "liquidity": self.liquidity, "type": self.type, "forceTaker": False, "price": fmt(self.price),
            "size": fmt(self.size), "funds": fmt(self.funds), "fee": fmt(self.fee),
            "feeRate": fmt(self.fee_rate), "feeCurrency": self.fee_currency, "stop": "",
            "tradeType": "TRADE", "taxRate": "0", "tax": "0", "createdAt": self.created_at,
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


class _Level:
    """One price: FIFO of resting orders (an insertion-ordered dict) and the visible total."""

    __slots__ = ("orders", "visible")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.visible = ZERO


class _Book:
    """Both sides of one symbol plus its sequence and the level changes of the action in progress."""

    __slots__ = ("ask_prices", "asks", "bid_prices", "bids", "pending", "pending_start", "rules", "seq")

    def __init__(self, rules: SymbolRules, seq: int) -> None:
        self.rules = rules
        self.bids: dict[Decimal, _Level] = {}
        self.asks: dict[Decimal, _Level] = {}
        self.bid_prices: list[Decimal] = []  # ascending; best bid is the last
        self.ask_prices: list[Decimal] = []  # ascending; best ask is the first
        self.seq = seq
        self.pending: dict[tuple[str, Decimal], tuple[Decimal, int]] = {}
        self.pending_start = 0

    def side(self, side_key: str) -> tuple[dict[Decimal, _Level], list[Decimal]]:
        return (self.bids, self.bid_prices) if side_key == BIDS else (self.asks, self.ask_prices)


class _User:
    __slots__ = ("active", "balances", "by_client", "done", "fills", "id", "unlimited")

    def __init__(self, user_id: str, unlimited: bool) -> None:
        self.id = user_id
        self.unlimited = unlimited
        self.balances: dict[str, list[Decimal]] = {}  # currency -> [available, hold]
        self.active: dict[str, Order] = {}
        self.by_client: dict[str, Order] = {}
        self.done: deque[Order] = deque(maxlen=DONE_KEPT)
        self.fills: deque[Fill] = deque(maxlen=FILLS_KEPT)

    def bal(self, currency: str) -> list[Decimal]:
        b = self.balances.get(currency)
        if b is None:
            b = self.balances[currency] = [ZERO, ZERO]
        return b


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
    raise _param(f"{name} is invalid: {value!r}")


def _flag(req: Mapping[str, Any], name: str) -> bool:
    value = req.get(name, False)
    if value in (True, "true"):
        return True
    if value in (False, "false", None):
        return False
    raise _param(f"{name} must be a boolean")


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
            raise _param("cancelAfter is invalid") from None
    if tif == "GTT":
        if value <= 0:
            raise _param("cancelAfter must be greater than 0 with timeInForce GTT")
    elif value not in (-1, 0):
        raise _param("cancelAfter is only allowed with timeInForce GTT")
    else:
        value = -1
    return value


class Exchange:
    """All books, users and balances of the simulated exchange."""

    def __init__(self, symbols: Iterable[SymbolRules], *, clock_ms: Callable[[], int] = _wall_ms,
                 maker_fee: Decimal = Decimal("0.001"), taker_fee: Decimal = Decimal("0.001"),
                 seq_start: int = 1_000_000_000) -> None:
        self.rules: dict[str, SymbolRules] = {r.symbol: r for r in symbols}
        self.listeners: list[object] = []
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self._hold_rate = ONE + max(maker_fee, taker_fee)
        self._clock_ms = clock_ms
        self._books = {s: _Book(r, seq_start) for s, r in self.rules.items()}
        self._users: dict[str, _User] = {}
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(11_029_373_945_659_392)  # KuCoin-like, beyond 2**53
        self._fill_ids = itertools.count(19_814_995_255_305)
        self._balance_ids = itertools.count(354_689_988_084_000)
        self._touch = itertools.count(1)
        self._gtt: list[tuple[int, int, Order]] = []
        self._events: list[tuple[str, tuple[Any, ...]]] = []
        # Conservation bookkeeping: fees charged to anyone, and the net flows of unlimited agents.
        self.fees_collected: dict[str, Decimal] = {}
        self.agent_flows: dict[str, Decimal] = {}

    # ------------------------------------------------------------------ users and queries
    def add_user(self, user_id: str, balances: Mapping[str, Decimal] | None = None, *,
                 unlimited: bool = False) -> None:
        """Create (or reset the balances of) a user; ``unlimited`` marks a market-making agent."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(user_id, unlimited)
        user.unlimited = unlimited
        for currency, amount in (balances or {}).items():
            user.bal(currency)[0] = Decimal(amount)

    def balances(self, user_id: str) -> dict[str, tuple[Decimal, Decimal]]:
        user = self._users.get(user_id)
        if user is None:
            return {}
        return {c: (b[0], b[1]) for c, b in user.balances.items()}

    def get_order(self, user_id: str, symbol: str | None, *, order_id: str | None = None,
                  client_oid: str | None = None) -> Order:
        order = self._find(user_id, symbol, order_id, client_oid, include_done=True)
        if order is None:
            raise EngineError(ERR_PARAMETER, MSG_ORDER_NOT_EXIST, 404)
        return order

    def active_orders(self, user_id: str, symbol: str | None = None) -> list[Order]:
        user = self._users.get(user_id)
        if user is None:
            return []
        orders = [o for o in user.active.values() if symbol is None or o.symbol == symbol]
        orders.sort(key=lambda o: o.touch, reverse=True)
        return orders

    def done_orders(self, user_id: str, symbol: str | None = None) -> list[Order]:
        user = self._users.get(user_id)
        if user is None:
            return []
        return [o for o in reversed(user.done) if symbol is None or o.symbol == symbol]

    def fills(self, user_id: str, symbol: str | None = None, order_id: str | None = None) -> list[Fill]:
        user = self._users.get(user_id)
        if user is None:
            return []
        return [f for f in reversed(user.fills)
                if (symbol is None or f.symbol == symbol) and (order_id is None or f.order_id == order_id)]

    def sequence(self, symbol: str) -> int:
        return self._book(symbol).seq

    def snapshot(self, symbol: str, depth: int | None = None
                 ) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(sequence, bids high->low, asks low->high) of visible size aggregated by price."""
        book = self._book(symbol)
        return book.seq, self._levels(book.bids, reversed(book.bid_prices), depth), \
            self._levels(book.asks, book.ask_prices, depth)

    @staticmethod
    def _levels(levels: dict[Decimal, _Level], prices: Iterable[Decimal], depth: int | None
                ) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for p in prices:
            visible = levels[p].visible
            if visible:
                out.append((p, visible))
                if depth is not None and len(out) >= depth:
                    break
        return out

    def best_bid_ask(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """Best visible bid and ask."""
        _, bids, asks = self.snapshot(symbol, 1)
        return (bids[0][0] if bids else None), (asks[0][0] if asks else None)

    # ------------------------------------------------------------------ actions
    def place(self, user_id: str, req: Mapping[str, Any], *, test: bool = False) -> Order:
        """Validate and (unless ``test``) submit a POST /api/v1/hf/orders body; returns the order."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(user_id, False)
        order, rules = self._validate(user, req)
        book = self._books[order.symbol]
        crosses = self._crosses(book, order)
        plan: list[tuple[Order, Decimal]] = []
        complete = False
        if crosses and not order.post_only:
            plan, complete = self._plan(book, order)
        currency, need = self._requirement(order, rules, plan)
        if not user.unlimited and user.bal(currency)[0] < need:
            raise EngineError(ERR_BALANCE_INSUFFICIENT, "Balance insufficient!")
        now = self._clock_ms()
        order.id = f"{now // 1000:08x}{next(self._order_ids):016x}"
        order.created_at = order.updated_at = now
        if test:
            return order
        self._execute(user, book, order, plan, complete, crosses, currency, need, now)
        self._flush(book, now)
        return order

    def cancel(self, user_id: str, symbol: str, *, order_id: str | None = None,
               client_oid: str | None = None) -> Order:
        """Cancel one active order; unknown or finished -> 400100 with HTTP 200 (as KuCoin)."""
        order = self._find(user_id, symbol, order_id, client_oid, include_done=False)
        if order is None:
            raise EngineError(ERR_PARAMETER, MSG_CANCEL_NOT_EXIST, 200)
        now = self._clock_ms()
        book = self._books[order.symbol]
        self._cancel_order(book, order, now)
        self._flush(book, now)
        return order

    def cancel_all(self, user_id: str, symbol: str | None = None) -> list[Order]:
        """Cancel every active order of a user (of one symbol, or all); one book message per symbol."""
        user = self._users.get(user_id)
        if user is None:
            return []
        by_symbol: dict[str, list[Order]] = {}
        for o in list(user.active.values()):
            if symbol is None or o.symbol == symbol:
                by_symbol.setdefault(o.symbol, []).append(o)
        return self._cancel_groups(by_symbol)

    def expire(self) -> int:
        """Cancel GTT orders whose cancelAfter has passed; returns how many were cancelled."""
        now = self._clock_ms()
        by_symbol: dict[str, list[Order]] = {}
        while self._gtt and self._gtt[0][0] <= now:
            order = heapq.heappop(self._gtt)[2]
            if order.active:
                by_symbol.setdefault(order.symbol, []).append(order)
        return len(self._cancel_groups(by_symbol))

    def _cancel_groups(self, by_symbol: dict[str, list[Order]]) -> list[Order]:
        now = self._clock_ms()
        done: list[Order] = []
        for sym, orders in by_symbol.items():
            book = self._books[sym]
            for o in orders:
                self._cancel_order(book, o, now)
            done.extend(orders)
            self._flush(book, now)
        return done

    # ------------------------------------------------------------------ validation
    def _validate(self, user: _User, req: Mapping[str, Any]) -> tuple[Order, SymbolRules]:
        sym = req.get("symbol")
        rules = self.rules.get(sym) if isinstance(sym, str) else None
        if rules is None:
            raise _param("Unsupported trading pair.")
        if not rules.enable_trading:
            raise EngineError(ERR_SYMBOL_NOT_AVAILABLE, "validation.createOrder.symbolNotAvailable")
        side, otype = req.get("side"), req.get("type")
        if side not in ("buy", "sell"):
            raise _param("side must be buy or sell")
        if otype not in ("limit", "market"):
            raise _param("type must be limit or market")
        client_oid = req.get("clientOid") or ""
        if client_oid:
            if not isinstance(client_oid, str) or not _CLIENT_OID.fullmatch(client_oid):
                raise _param("clientOid is invalid: at most 40 characters of [A-Za-z0-9_-]")
            if client_oid in user.by_client:
                raise _param("The clientOid already exists.")
        price, size, funds = _num(req, "price"), _num(req, "size"), _num(req, "funds")
        if otype == "limit":
            price, funds = self._check_limit(rules, price, size), None
        else:
            price = ZERO
            self._check_market(rules, size, funds)
        tif = req.get("timeInForce") or "GTC"
        if tif not in TIME_IN_FORCE:
            raise _param("timeInForce must be one of GTC, GTT, IOC, FOK")
        post_only = _flag(req, "postOnly")
        if post_only and tif in ("IOC", "FOK"):
            raise _param("postOnly is not allowed with timeInForce IOC or FOK")
        cancel_after = _cancel_after(req, tif)
        stp = req.get("stp") or ""
        if stp not in STP_VALUES:
            raise _param("stp must be one of CN, CO, CB, DC")
        remark = req.get("remark") or ""
        if not isinstance(remark, str) or len(remark) > 100:
            raise _param("remark is invalid")
        order = Order(
            id="", client_oid=client_oid, user_id=user.id, symbol=rules.symbol, side=side, type=otype,
            price=price, size=size or ZERO, funds=funds, time_in_force=tif, cancel_after=cancel_after,
            post_only=post_only and otype == "limit", hidden=_flag(req, "hidden"), remark=remark,
            stp=stp, fee_currency=rules.quote, remain_size=size or ZERO,
        )
        return order, rules

    @staticmethod
    def _check_size(rules: SymbolRules, size: Decimal) -> None:
        if not is_multiple(size, rules.base_increment):
            raise _param("Order size increment invalid.")
        if size < rules.base_min_size:
            raise _param("Order size below the minimum requirement.")
        if size > rules.base_max_size:
            raise _param("Order size above the maximum requirement.")

    def _check_limit(self, rules: SymbolRules, price: Decimal | None, size: Decimal | None) -> Decimal:
        if price is None:
            raise _param("price is required for a limit order")
        if price <= 0:
            raise _param("price must be positive")
        if not is_multiple(price, rules.price_increment):
            raise _param("Price increment invalid.")
        if size is None:
            raise _param("size is required for a limit order")
        self._check_size(rules, size)
        if price * size < rules.min_funds:
            raise EngineError(ERR_FUNDS_BELOW_MIN, "Funds below the minimum requirement.")
        return price

    def _check_market(self, rules: SymbolRules, size: Decimal | None, funds: Decimal | None) -> None:
        if (size is None) == (funds is None):
            raise _param("a market order takes exactly one of size or funds")
        if size is not None:
            self._check_size(rules, size)
            return
        assert funds is not None
        if not is_multiple(funds, rules.quote_increment):
            raise _param("Funds increment invalid.")
        if funds < rules.min_funds:
            raise EngineError(ERR_FUNDS_BELOW_MIN, "Funds below the minimum requirement.")
        if funds > rules.quote_max_size:
            raise _param("Funds above the maximum requirement.")

    def _requirement(self, order: Order, rules: SymbolRules, plan: list[tuple[Order, Decimal]]
                     ) -> tuple[str, Decimal]:
        """The currency and amount this order puts on hold (module docstring)."""
        if order.side == "buy":
            if order.type == "limit":
                return rules.quote, order.price * order.size * self._hold_rate
            if order.funds is not None:
                return rules.quote, order.funds
            return rules.quote, sum((m.price * q for m, q in plan), ZERO) * (ONE + self.taker_fee)
        if order.type == "market" and order.funds is not None:
            return rules.base, sum((q for _, q in plan), ZERO)
        return rules.base, order.size

    # ------------------------------------------------------------------ matching
    @staticmethod
    def _crosses(book: _Book, order: Order) -> bool:
        if order.side == "buy":
            if not book.ask_prices:
                return False
            return order.type == "market" or book.ask_prices[0] <= order.price
        if not book.bid_prices:
            return False
        return order.type == "market" or book.bid_prices[-1] >= order.price

    def _plan(self, book: _Book, taker: Order) -> tuple[list[tuple[Order, Decimal]], bool]:
        """Fills the taker would get, without touching anything; True when its size/funds are used up."""
        buy = taker.side == "buy"
        levels, prices = (book.asks, book.ask_prices) if buy else (book.bids, reversed(book.bid_prices))
        limit = taker.price if taker.type == "limit" else None
        size_left = taker.remain_size if taker.funds is None else None
        funds_left = taker.funds
        inc = book.rules.base_increment
        fee_k = ONE + self.taker_fee if buy else ONE  # a buy's funds pay the fee too
        plan: list[tuple[Order, Decimal]] = []
        for p in prices:
            if limit is not None and (p > limit if buy else p < limit):
                return plan, False
            for maker in levels[p].orders.values():
                q = maker.remain_size
                if size_left is not None:
                    q = min(q, size_left)
                else:
                    assert funds_left is not None
                    q = min(q, (funds_left // (p * fee_k * inc)) * inc)
                    if q <= 0:
                        return plan, True
                    funds_left -= p * q * fee_k
                    if q < maker.remain_size:  # funds ran out inside this maker
                        plan.append((maker, q))
                        return plan, True
                plan.append((maker, q))
                if size_left is not None:
                    size_left -= q
                    if not size_left:
                        return plan, True
        return plan, False

    def _execute(self, user: _User, book: _Book, order: Order, plan: list[tuple[Order, Decimal]],
                 complete: bool, crosses: bool, currency: str, need: Decimal, now: int) -> None:
        order.active = True
        order.touch = next(self._touch)
        user.active[order.id] = order
        if order.client_oid:
            user.by_client[order.client_oid] = order
        self._order_event(user, order, "received", "new", now)
        fok_short = order.time_in_force == "FOK" and order.type == "limit" and not complete
        if (order.post_only and crosses) or fok_short:
            self._cancel_order(book, order, now)  # accepted, then refused: no trade (protocol.md §5.3)
            return
        if not user.unlimited and need:
            b = user.bal(currency)
            b[0] -= need
            b[1] += need
            order.hold_left = need
            self._balance_event(user, order, currency, -need, need, "trade.hold", now)
        for maker, q in plan:
            self._fill(book, order, maker, q, now)
        if order.type == "limit" and order.remain_size and order.time_in_force in ("GTC", "GTT"):
            self._rest(book, order, now)
        elif (order.type == "limit" and not order.remain_size) or (order.type == "market" and complete):
            self._order_event(user, order, "filled", "done", now)
            self._finish(user, order, now)
        else:
            self._cancel_order(book, order, now)

    def _fill(self, book: _Book, taker: Order, maker: Order, q: Decimal, now: int) -> None:
        p = maker.price
        funds = p * q
        maker_fee, taker_fee = funds * self.maker_fee, funds * self.taker_fee
        touch = next(self._touch)
        for o, fee in ((maker, maker_fee), (taker, taker_fee)):
            o.deal_size += q
            o.deal_funds += funds
            o.fee += fee
            o.updated_at = now
            o.touch = touch
        maker.remain_size -= q
        if taker.funds is None:
            taker.remain_size -= q
        side_key = BIDS if maker.side == "buy" else ASKS
        levels, _ = book.side(side_key)
        level = levels[p]
        if not maker.hidden:
            level.visible -= q
            self._mark(book, side_key, p, level.visible)
        if not maker.remain_size:
            del level.orders[maker.id]
            maker.in_book = False
            if not level.orders:
                self._drop_level(book, side_key, p)
        trade_id = next(self._trade_ids)
        if self.listeners:
            self._events.append(("on_trade", (book.rules.symbol, Trade(
                trade_id, trade_id, book.rules.symbol, p, q, taker.side, maker.id, taker.id,
                now * 1_000_000))))
        taker_user, maker_user = self._users[taker.user_id], self._users[maker.user_id]
        self._settle(taker_user, taker, maker, p, q, taker_fee, "taker", trade_id, now)
        self._settle(maker_user, maker, taker, p, q, maker_fee, "maker", trade_id, now)
        if not maker.remain_size:
            self._order_event(maker_user, maker, "filled", "done", now)
            self._finish(maker_user, maker, now)

    def _settle(self, user: _User, order: Order, counter: Order, p: Decimal, q: Decimal, fee: Decimal,
                liquidity: str, trade_id: int, now: int) -> None:
        """Move one fill's base, quote and fee for one side; record its fill and order event."""
        funds = p * q
        rules = self.rules[order.symbol]
        base, quote = rules.base, rules.quote
        self.fees_collected[quote] = self.fees_collected.get(quote, ZERO) + fee
        buy = order.side == "buy"
        if user.unlimited:
            flows = self.agent_flows
            signed_q, signed_f = (q, -funds - fee) if buy else (-q, funds - fee)
            flows[base] = flows.get(base, ZERO) + signed_q
            flows[quote] = flows.get(quote, ZERO) + signed_f
            return
        if buy:
            cost = funds + fee
            part = order.price * q * self._hold_rate if order.type == "limit" else cost
            b = user.bal(quote)
            b[0] += part - cost
            b[1] -= part
            order.hold_left -= part
            user.bal(base)[0] += q
            self._balance_event(user, order, quote, part - cost, -part, "trade.setted", now)
            self._balance_event(user, order, base, q, ZERO, "trade.setted", now)
        else:
            b = user.bal(base)
            b[1] -= q
            order.hold_left -= q
            user.bal(quote)[0] += funds - fee
            self._balance_event(user, order, base, ZERO, -q, "trade.setted", now)
            self._balance_event(user, order, quote, funds - fee, ZERO, "trade.setted", now)
        rate = self.maker_fee if liquidity == "maker" else self.taker_fee
        user.fills.append(Fill(
            next(self._fill_ids), order.id, counter.id, trade_id, order.symbol, order.side, liquidity,
            order.type, p, q, funds, fee, rate, quote, now))
        status = "match" if liquidity == "taker" else "open"
        self._order_event(user, order, "match", status, now, matchPrice=fmt(p), matchSize=fmt(q),
                          tradeId=str(trade_id), liquidity=liquidity,
                          feeType=f"{liquidity}Fee")

    def _rest(self, book: _Book, order: Order, now: int) -> None:
        side_key = BIDS if order.side == "buy" else ASKS
        levels, prices = book.side(side_key)
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = _Level()
            bisect.insort(prices, order.price)
        level.orders[order.id] = order
        order.in_book = True
        if not order.hidden:
            level.visible += order.remain_size
            self._mark(book, side_key, order.price, level.visible)
        if order.time_in_force == "GTT":
            expiry = order.created_at + order.cancel_after * 1000
            heapq.heappush(self._gtt, (expiry, order.touch, order))
        self._order_event(self._users[order.user_id], order, "open", "open", now)

    def _cancel_order(self, book: _Book, order: Order, now: int) -> None:
        if order.in_book:
            side_key = BIDS if order.side == "buy" else ASKS
            levels, _ = book.side(side_key)
            level = levels[order.price]
            del level.orders[order.id]
            if not order.hidden:
                level.visible -= order.remain_size
                self._mark(book, side_key, order.price, level.visible)
            if not level.orders:
                self._drop_level(book, side_key, order.price)
            order.in_book = False
        if order.funds is not None:
            order.cancelled_funds = order.funds - order.deal_funds - order.fee
        else:
            order.cancelled_size += order.remain_size
            if order.type == "limit":
                order.cancelled_funds += order.price * order.remain_size
        order.remain_size = ZERO
        order.updated_at = now
        order.touch = next(self._touch)
        user = self._users[order.user_id]
        self._order_event(user, order, "canceled", "done", now)
        self._finish(user, order, now)

    def _finish(self, user: _User, order: Order, now: int) -> None:
        """Order is done: leave the active indexes, release what is still held."""
        order.active = False
        user.active.pop(order.id, None)
        if order.client_oid and user.by_client.get(order.client_oid) is order:
            del user.by_client[order.client_oid]
        if user.unlimited:
            return
        user.done.append(order)
        if order.hold_left:
            rules = self.rules[order.symbol]
            currency = rules.quote if order.side == "buy" else rules.base
            left, order.hold_left = order.hold_left, ZERO
            b = user.bal(currency)
            b[0] += left
            b[1] -= left
            self._balance_event(user, order, currency, left, -left, "trade.other", now)

    # ------------------------------------------------------------------ sequences and events
    @staticmethod
    def _mark(book: _Book, side_key: str, price: Decimal, size: Decimal) -> None:
        """One visible level changed: it consumes the next sequence number (protocol.md §8.7)."""
        book.seq += 1
        if not book.pending:
            book.pending_start = book.seq
        book.pending[(side_key, price)] = (size, book.seq)

    @staticmethod
    def _drop_level(book: _Book, side_key: str, price: Decimal) -> None:
        levels, prices = book.side(side_key)
        del levels[price]
        del prices[bisect.bisect_left(prices, price)]

    def _flush(self, book: _Book, now: int) -> None:
        """End of an action: one book-change callback, then the queued trade/order/balance events."""
        if book.pending:
            changes = [(s, p, size, seq) for (s, p), (size, seq) in book.pending.items()]
            start = book.pending_start
            book.pending = {}
            self._call("on_book_changes", (book.rules.symbol, start, book.seq, changes, now))
        events, self._events = self._events, []
        for name, args in events:
            self._call(name, args)

    def _call(self, name: str, args: tuple[Any, ...]) -> None:
        for listener in self.listeners:
            fn = getattr(listener, name, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception:
                logger.exception("engine listener %r failed in %s", listener, name)

    def _order_event(self, user: _User, order: Order, type_: str, status: str, now: int,
                     **extra: str) -> None:
        """Queue a /spotMarket/tradeOrdersV2 data dict (protocol.md §7.8)."""
        if user.unlimited:
            return
        data: dict[str, Any] = {
            "symbol": order.symbol, "orderType": order.type, "side": order.side, "orderId": order.id,
            "clientOid": order.client_oid, "type": type_, "status": status, "orderTime": order.created_at,
            "originSize": fmt(order.size), "size": fmt(order.size), "filledSize": fmt(order.deal_size),
            "remainSize": fmt(order.remain_size), "canceledSize": fmt(order.cancelled_size),
            "price": fmt(order.price), "ts": now * 1_000_000,
        }
        if order.funds is not None:
            data["originFunds"] = fmt(order.funds)
            data["remainFunds"] = fmt(order.funds - order.deal_funds - order.fee) if order.active else "0"
        data.update(extra)
        self._events.append(("on_order_event", (user.id, data)))

    def _balance_event(self, user: _User, order: Order, currency: str, avail_change: Decimal,
                       hold_change: Decimal, event: str, now: int) -> None:
        """Queue an /account/balance data dict (protocol.md §7.9)."""
        available, hold = user.bal(currency)
        event_id = str(next(self._balance_ids))
        data = {
            "accountId": f"{user.id}-{currency}-trade", "currency": currency, "total": fmt(available + hold),
            "available": fmt(available), "hold": fmt(hold), "availableChange": fmt(avail_change),
            "holdChange": fmt(hold_change),
            "relationContext": {"symbol": order.symbol, "orderId": order.id},
            "relationEvent": event, "relationEventId": event_id, "time": str(now),
        }
        self._events.append(("on_balance", (user.id, data)))

    # ------------------------------------------------------------------ lookups
    def _book(self, symbol: str) -> _Book:
        book = self._books.get(symbol)
        if book is None:
            raise _param("Unsupported trading pair.")
        return book

    def _find(self, user_id: str, symbol: str | None, order_id: str | None, client_oid: str | None,
              *, include_done: bool) -> Order | None:
        user = self._users.get(user_id)
        if user is None or (order_id is None and client_oid is None):
            return None
        if order_id is not None:
            order = user.active.get(order_id)
        else:
            order = user.by_client.get(client_oid or "")
        if order is None and include_done:
            for o in reversed(user.done):
                if (o.id == order_id) if order_id is not None else (o.client_oid == client_oid):
                    order = o
                    break
        if order is not None and symbol is not None and order.symbol != symbol:
            return None
        return order
