"""Accounts of the embedded exchange: users, balances, holds, fees, settlement and the books that
prove value is conserved.

Accounting choices (KuCoin leaves them open, protocol.md §5.3, §7.9, §11):
- fees are charged in the quote currency on every fill (maker rate / taker rate);
- a limit buy holds ``price * size * (1 + max(maker_fee, taker_fee))`` of quote;
  a sell (limit or market by size) holds ``size`` of base;
- a market buy by ``funds`` holds ``funds`` and the fee comes OUT of it
  (trade funds + fee <= funds);
- a market buy by ``size`` holds the exact cost of walking the book (matching is immediate, so the
  estimate is the cost); a market sell by ``funds`` holds the exact base it will sell;
- releasing a hold (cancel, order finished with hold left) is pushed with relationEvent
  ``trade.other``; placing pushes ``trade.hold`` and fills push ``trade.setted``;
- unlimited users (market-making agents) have no balances, history or private events; their net
  flows go to ``agent_flows`` so that ``sum(balances) + fees_collected + agent_flows`` is constant;
- ``place`` for a user never added creates a limited user with no balances (so it fails 200004).

Synchronous and pure. Imports the simulator's orders and events only; never the book.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal

from dashboard.kucoin.protocol.common import ERR_BALANCE_INSUFFICIENT, ERR_PARAMETER
from dashboard.kucoin.protocol.spot import MSG_ORDER_NOT_EXIST
from dashboard.simulator.catalog import SymbolRules

from .events import Outbox
from .orders import ONE, ZERO, EngineError, Fill, Order

DONE_KEPT = 2000
FILLS_KEPT = 5000
Plan = Sequence[tuple[Order, Decimal]]  # (resting maker, quantity) the taker would trade


class User:
    """One account holder: balances ``currency -> [available, hold]``, live orders and history."""

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


class Accounts:
    """All users, and every move of money: holds, fills, fees and releases."""

    def __init__(self, rules: Mapping[str, SymbolRules], outbox: Outbox, *, maker_fee: Decimal,
                 taker_fee: Decimal) -> None:
        self.rules = rules
        self.outbox = outbox
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.hold_rate = ONE + max(maker_fee, taker_fee)
        self.users: dict[str, User] = {}
        self._fill_ids = itertools.count(19_814_995_255_305)
        # Conservation bookkeeping: fees charged to anyone, and the net flows of unlimited agents.
        self.fees_collected: dict[str, Decimal] = {}
        self.agent_flows: dict[str, Decimal] = {}

    # ------------------------------------------------------------------ users and queries
    def add_user(self, user_id: str, balances: Mapping[str, Decimal] | None = None, *,
                 unlimited: bool = False) -> None:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(user_id, unlimited)
        user.unlimited = unlimited
        for currency, amount in (balances or {}).items():
            user.bal(currency)[0] = Decimal(amount)

    def user(self, user_id: str) -> User:
        """The user, created limited and empty if never added (module docstring)."""
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(user_id, False)
        return user

    def balances(self, user_id: str) -> dict[str, tuple[Decimal, Decimal]]:
        user = self.users.get(user_id)
        if user is None:
            return {}
        return {c: (b[0], b[1]) for c, b in user.balances.items()}

    def active_orders(self, user_id: str, symbol: str | None = None) -> list[Order]:
        user = self.users.get(user_id)
        if user is None:
            return []
        orders = [o for o in user.active.values() if symbol is None or o.symbol == symbol]
        orders.sort(key=lambda o: o.touch, reverse=True)
        return orders

    def done_orders(self, user_id: str, symbol: str | None = None) -> list[Order]:
        user = self.users.get(user_id)
        if user is None:
            return []
        return [o for o in reversed(user.done) if symbol is None or o.symbol == symbol]

    def fills(self, user_id: str, symbol: str | None = None,
              order_id: str | None = None) -> list[Fill]:
        user = self.users.get(user_id)
        if user is None:
            return []
        return [f for f in reversed(user.fills) if (symbol is None or f.symbol == symbol)
                and (order_id is None or f.order_id == order_id)]

    def get_order(self, user_id: str, symbol: str | None, order_id: str | None,
                  client_oid: str | None) -> Order:
        order = self.find(user_id, symbol, order_id, client_oid, include_done=True)
        if order is None:
            raise EngineError(ERR_PARAMETER, MSG_ORDER_NOT_EXIST, 404)
        return order

    def find(self, user_id: str, symbol: str | None, order_id: str | None,
             client_oid: str | None, *, include_done: bool) -> Order | None:
        user = self.users.get(user_id)
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

    # ------------------------------------------------------------------ holds
    def requirement(self, order: Order, plan: Plan) -> tuple[str, Decimal]:
        """The currency and amount this order puts on hold (module docstring)."""
        rules = self.rules[order.symbol]
        if order.side == "buy":
            if order.type == "limit":
                return rules.quote, order.price * order.size * self.hold_rate
            if order.funds is not None:
                return rules.quote, order.funds
            return rules.quote, sum((m.price * q for m, q in plan), ZERO) * (ONE + self.taker_fee)
        if order.type == "market" and order.funds is not None:
            return rules.base, sum((q for _, q in plan), ZERO)
        return rules.base, order.size

    @staticmethod
    def check_funds(user: User, currency: str, need: Decimal) -> None:
        if not user.unlimited and user.bal(currency)[0] < need:
            raise EngineError(ERR_BALANCE_INSUFFICIENT, "Balance insufficient!")

    @staticmethod
    def accept(user: User, order: Order) -> None:
        """The order is live: index it by id and client id."""
        order.active = True
        user.active[order.id] = order
        if order.client_oid:
            user.by_client[order.client_oid] = order

    def hold(self, user: User, order: Order, currency: str, need: Decimal, now: int) -> None:
        if user.unlimited or not need:
            return
        b = user.bal(currency)
        b[0] -= need
        b[1] += need
        order.hold_left = need
        self.outbox.balance(user.id, order, currency, b, (-need, need), "trade.hold", now)

    def finish(self, user: User, order: Order, now: int) -> None:
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
            self.outbox.balance(user.id, order, currency, b, (left, -left), "trade.other", now)

    # ------------------------------------------------------------------ fills
    def fees(self, funds: Decimal) -> tuple[Decimal, Decimal]:
        """(maker fee, taker fee) of one fill worth ``funds`` of quote."""
        return funds * self.maker_fee, funds * self.taker_fee

    def settle(self, order: Order, counter: Order, p: Decimal, q: Decimal, fee: Decimal,
               liquidity: str, trade_id: int, now: int) -> None:
        """Move one fill's base, quote and fee for one side; record its fill and order event."""
        user = self.users[order.user_id]
        funds = p * q
        rules = self.rules[order.symbol]
        base, quote = rules.base, rules.quote
        self.fees_collected[quote] = self.fees_collected.get(quote, ZERO) + fee
        if user.unlimited:
            self._agent_flow(order.side == "buy", base, quote, q, funds, fee)
            return
        if order.side == "buy":
            cost = funds + fee
            part = order.price * q * self.hold_rate if order.type == "limit" else cost
            self._move(user, order, quote, part - cost, -part, now)
            self._move(user, order, base, q, ZERO, now)
        else:
            self._move(user, order, base, ZERO, -q, now)
            self._move(user, order, quote, funds - fee, ZERO, now)
        rate = self.maker_fee if liquidity == "maker" else self.taker_fee
        user.fills.append(Fill(
            next(self._fill_ids), order.id, counter.id, trade_id, order.symbol, order.side,
            liquidity, order.type, p, q, funds, fee, rate, quote, now))
        self.outbox.order_match(user, order, p, q, trade_id, liquidity, now)

    def _move(self, user: User, order: Order, currency: str, avail_change: Decimal,
              hold_change: Decimal, now: int) -> None:
        """One settlement leg; a hold spent here no longer counts as held for the order."""
        b = user.bal(currency)
        b[0] += avail_change
        b[1] += hold_change
        order.hold_left += hold_change
        self.outbox.balance(user.id, order, currency, b, (avail_change, hold_change),
                            "trade.setted", now)

    def _agent_flow(self, buy: bool, base: str, quote: str, q: Decimal, funds: Decimal,
                    fee: Decimal) -> None:
        flows = self.agent_flows
        signed_q, signed_f = (q, -funds - fee) if buy else (-q, funds - fee)
        flows[base] = flows.get(base, ZERO) + signed_q
        flows[quote] = flows.get(quote, ZERO) + signed_f
