"""The embedded exchange as one object: a thin facade over orders, matching, accounts and events.

Sans-I/O and synchronous: the REST/WebSocket server calls it, and it reports what happened through
listener callbacks (``on_book_changes``, ``on_trade``, ``on_order_event``, ``on_balance``), each
called synchronously at the end of the action that caused it (``events.Outbox``). Where each rule
lives: order records and request checks in ``orders.py``; books, matching and the level-2
sequence numbering in ``matching.py``; balances, holds, fees and settlement in ``accounts.py``;
every pushed payload in ``events.py``. Imports ``dashboard.kucoin.protocol`` and the simulator's
own modules only; never ``dashboard.kucoin.client``.

``stp`` is stored and echoed but self-trade prevention is not enforced (self-matches are allowed).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from dashboard.kucoin.protocol.common import ERR_PARAMETER
from dashboard.kucoin.protocol.spot import MSG_CANCEL_NOT_EXIST
from dashboard.simulator.catalog import SymbolRules

from .accounts import Accounts
from .events import Outbox
from .matching import Matcher, Plan
from .orders import EngineError, Fill, Order, Trade, validate

__all__ = ["EngineError", "Exchange", "Fill", "Order", "Trade"]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Exchange:
    """All books, users and balances of the simulated exchange."""

    def __init__(self, symbols: Iterable[SymbolRules], *, clock_ms: Callable[[], int] = _wall_ms,
                 maker_fee: Decimal = Decimal("0.001"), taker_fee: Decimal = Decimal("0.001"),
                 seq_start: int = 1_000_000_000) -> None:
        self.rules: dict[str, SymbolRules] = {r.symbol: r for r in symbols}
        self._clock_ms = clock_ms
        self._outbox = Outbox()
        self.listeners = self._outbox.listeners
        self._accounts = Accounts(self.rules, self._outbox, maker_fee=maker_fee,
                                  taker_fee=taker_fee)
        self._matcher = Matcher(self.rules, self._accounts, self._outbox, seq_start)
        self._order_ids = itertools.count(1)
        # Conservation bookkeeping (accounts.py): fees charged, net flows of unlimited agents.
        self.fees_collected = self._accounts.fees_collected
        self.agent_flows = self._accounts.agent_flows

    # ------------------------------------------------------------------ users and queries
    def add_user(self, user_id: str, balances: Mapping[str, Decimal] | None = None, *,
                 unlimited: bool = False) -> None:
        """Create (or reset the balances of) a user; ``unlimited`` marks a market-making agent."""
        self._accounts.add_user(user_id, balances, unlimited=unlimited)

    def balances(self, user_id: str) -> dict[str, tuple[Decimal, Decimal]]:
        """currency -> (available, hold)."""
        return self._accounts.balances(user_id)

    def get_order(self, user_id: str, symbol: str | None, *, order_id: str | None = None,
                  client_oid: str | None = None) -> Order:
        """An active or recently done order; unknown -> 400100 with HTTP 404."""
        return self._accounts.get_order(user_id, symbol, order_id, client_oid)

    def active_orders(self, user_id: str, symbol: str | None = None) -> list[Order]:
        """Newest update first."""
        return self._accounts.active_orders(user_id, symbol)

    def done_orders(self, user_id: str, symbol: str | None = None) -> list[Order]:
        return self._accounts.done_orders(user_id, symbol)

    def fills(self, user_id: str, symbol: str | None = None,
              order_id: str | None = None) -> list[Fill]:
        return self._accounts.fills(user_id, symbol, order_id)

    def sequence(self, symbol: str) -> int:
        return self._matcher.book(symbol).seq

    def snapshot(self, symbol: str, depth: int | None = None
                 ) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(sequence, bids high->low, asks low->high) of visible size aggregated by price."""
        book = self._matcher.book(symbol)
        bids, asks = book.levels(depth)
        return book.seq, bids, asks

    def best_bid_ask(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """Best visible bid and ask."""
        _, bids, asks = self.snapshot(symbol, 1)
        return (bids[0][0] if bids else None), (asks[0][0] if asks else None)

    # ------------------------------------------------------------------ actions
    def place(self, user_id: str, req: Mapping[str, Any], *, test: bool = False) -> Order:
        """Validate and (unless ``test``) submit a POST /api/v1/hf/orders body; the order."""
        accounts, matcher = self._accounts, self._matcher
        user = accounts.user(user_id)
        order = validate(self.rules, user.id, user.by_client, req)
        book = matcher.books[order.symbol]
        crosses = book.crosses(order)
        plan: Plan = []
        complete = False
        if crosses and not order.post_only:
            plan, complete = matcher.plan(book, order)
        currency, need = accounts.requirement(order, plan)
        accounts.check_funds(user, currency, need)
        now = self._clock_ms()
        order.id = f"{now // 1000:08x}{next(self._order_ids):016x}"
        order.created_at = order.updated_at = now
        if test:
            return order
        matcher.execute(user, book, order, plan, complete, crosses, (currency, need), now)
        matcher.flush(book, now)
        return order

    def cancel(self, user_id: str, symbol: str, *, order_id: str | None = None,
               client_oid: str | None = None) -> Order:
        """Cancel one active order; unknown or finished -> 400100 with HTTP 200 (as KuCoin)."""
        order = self._accounts.find(user_id, symbol, order_id, client_oid, include_done=False)
        if order is None:
            raise EngineError(ERR_PARAMETER, MSG_CANCEL_NOT_EXIST, 200)
        now = self._clock_ms()
        book = self._matcher.books[order.symbol]
        self._matcher.cancel(book, order, now)
        self._matcher.flush(book, now)
        return order

    def cancel_all(self, user_id: str, symbol: str | None = None) -> list[Order]:
        """Cancel a user's active orders (of one symbol, or all); one book message per symbol."""
        user = self._accounts.users.get(user_id)
        if user is None:
            return []
        by_symbol: dict[str, list[Order]] = {}
        for o in list(user.active.values()):  # in order of acceptance, not of last update
            if symbol is None or o.symbol == symbol:
                by_symbol.setdefault(o.symbol, []).append(o)
        return self._matcher.cancel_groups(by_symbol, self._clock_ms())

    def expire(self) -> int:
        """Cancel GTT orders whose cancelAfter has passed; returns how many were cancelled."""
        now = self._clock_ms()
        return len(self._matcher.cancel_groups(self._matcher.due_gtt(now), now))
