"""Matching of the embedded exchange: price-time books, crossing, fills, resting, cancels, GTT
expiry, and the level-2 sequence numbering.

Sequence numbering lives here and only here: every visible level change takes the next sequence
of its symbol (``Book.mark``, protocol.md §8.7), and the end of each action reports the changes as
one ``on_book_changes(symbol, start, end, changes, time_ms)`` (``Matcher.flush``); a price changed
twice in one action appears once, with its last size and sequence. Synchronous and pure: imports
the simulator's orders, accounts and events only.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterable, Mapping
from decimal import Decimal

from dashboard.simulator.catalog import SymbolRules

from .accounts import Accounts, User
from .events import BookChange, Outbox
from .orders import ONE, ZERO, Order, Trade, param_error

BIDS = "bids"
ASKS = "asks"
Plan = list[tuple[Order, Decimal]]  # (resting maker, quantity) the taker would trade


class Level:
    """One price: FIFO of resting orders (an insertion-ordered dict) and the visible total."""

    __slots__ = ("orders", "visible")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.visible = ZERO


class Book:
    """Both sides of one symbol, its sequence, and the level changes of the action in progress."""

    __slots__ = ("ask_prices", "asks", "bid_prices", "bids", "pending", "pending_start", "rules",
                 "seq")

    def __init__(self, rules: SymbolRules, seq: int) -> None:
        self.rules = rules
        self.bids: dict[Decimal, Level] = {}
        self.asks: dict[Decimal, Level] = {}
        self.bid_prices: list[Decimal] = []  # ascending; best bid is the last
        self.ask_prices: list[Decimal] = []  # ascending; best ask is the first
        self.seq = seq
        self.pending: dict[tuple[str, Decimal], tuple[Decimal, int]] = {}
        self.pending_start = 0

    def side(self, side_key: str) -> tuple[dict[Decimal, Level], list[Decimal]]:
        return (self.bids, self.bid_prices) if side_key == BIDS else (self.asks, self.ask_prices)

    def mark(self, side_key: str, price: Decimal, size: Decimal) -> None:
        """One visible level changed: it consumes the next sequence number (protocol.md §8.7)."""
        self.seq += 1
        if not self.pending:
            self.pending_start = self.seq
        self.pending[(side_key, price)] = (size, self.seq)

    def take_changes(self) -> tuple[int, list[BookChange]] | None:
        """The action's (first sequence, changes), or None when no visible level changed."""
        if not self.pending:
            return None
        changes = [(s, p, size, seq) for (s, p), (size, seq) in self.pending.items()]
        self.pending = {}
        return self.pending_start, changes

    def drop_level(self, side_key: str, price: Decimal) -> None:
        levels, prices = self.side(side_key)
        del levels[price]
        del prices[bisect.bisect_left(prices, price)]

    def levels(self, depth: int | None) -> tuple[list[tuple[Decimal, Decimal]],
                                                 list[tuple[Decimal, Decimal]]]:
        """(bids high->low, asks low->high) of visible size aggregated by price."""
        return (_visible(self.bids, reversed(self.bid_prices), depth),
                _visible(self.asks, self.ask_prices, depth))

    def crosses(self, order: Order) -> bool:
        if order.side == "buy":
            if not self.ask_prices:
                return False
            return order.type == "market" or self.ask_prices[0] <= order.price
        if not self.bid_prices:
            return False
        return order.type == "market" or self.bid_prices[-1] >= order.price


def _visible(levels: dict[Decimal, Level], prices: Iterable[Decimal], depth: int | None
             ) -> list[tuple[Decimal, Decimal]]:
    out: list[tuple[Decimal, Decimal]] = []
    for p in prices:
        visible = levels[p].visible
        if visible:
            out.append((p, visible))
            if depth is not None and len(out) >= depth:
                break
    return out


class Matcher:
    """All books: plans and executes takers, rests makers, cancels and expires orders."""

    def __init__(self, rules: Mapping[str, SymbolRules], accounts: Accounts, outbox: Outbox,
                 seq_start: int) -> None:
        self.books = {s: Book(r, seq_start) for s, r in rules.items()}
        self.accounts = accounts
        self.outbox = outbox
        self._trade_ids = itertools.count(11_029_373_945_659_392)  # KuCoin-like, beyond 2**53
        self._touch = itertools.count(1)
        self._gtt: list[tuple[int, int, Order]] = []

    def book(self, symbol: str) -> Book:
        book = self.books.get(symbol)
        if book is None:
            raise param_error("Unsupported trading pair.")
        return book

    def plan(self, book: Book, taker: Order) -> tuple[Plan, bool]:
        """Fills the taker would get, touching nothing; True when its size/funds are used up."""
        buy = taker.side == "buy"
        levels, prices = (book.asks, book.ask_prices) if buy else (book.bids,
                                                                   reversed(book.bid_prices))
        limit = taker.price if taker.type == "limit" else None
        size_left = taker.remain_size if taker.funds is None else None
        funds_left = taker.funds
        inc = book.rules.base_increment
        fee_k = ONE + self.accounts.taker_fee if buy else ONE  # a buy's funds pay the fee too
        plan: Plan = []
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

    def execute(self, user: User, book: Book, order: Order, plan: Plan, complete: bool,
                crosses: bool, hold: tuple[str, Decimal], now: int) -> None:
        """Run an accepted order: received, hold, fills, then rest, fill or cancel the rest."""
        order.touch = next(self._touch)
        self.accounts.accept(user, order)
        self.outbox.order(user, order, "received", "new", now)
        fok_short = order.time_in_force == "FOK" and order.type == "limit" and not complete
        if (order.post_only and crosses) or fok_short:
            self.cancel(book, order, now)  # accepted, then refused: no trade (protocol.md §5.3)
            return
        self.accounts.hold(user, order, *hold, now)
        for maker, q in plan:
            self._fill(book, order, maker, q, now)
        limit = order.type == "limit"
        if limit and order.remain_size and order.time_in_force in ("GTC", "GTT"):
            self._rest(book, order, now)
        elif (limit and not order.remain_size) or (order.type == "market" and complete):
            self.outbox.order(user, order, "filled", "done", now)
            self.accounts.finish(user, order, now)
        else:
            self.cancel(book, order, now)

    def _fill(self, book: Book, taker: Order, maker: Order, q: Decimal, now: int) -> None:
        p = maker.price
        maker_fee, taker_fee = self.accounts.fees(p * q)
        self._deal(taker, maker, p, q, maker_fee, taker_fee, now)
        side_key = BIDS if maker.side == "buy" else ASKS
        levels, _ = book.side(side_key)
        level = levels[p]
        if not maker.hidden:
            level.visible -= q
            book.mark(side_key, p, level.visible)
        if not maker.remain_size:
            del level.orders[maker.id]
            maker.in_book = False
            if not level.orders:
                book.drop_level(side_key, p)
        trade_id = next(self._trade_ids)
        self.outbox.trade(book.rules.symbol, Trade(
            trade_id, trade_id, book.rules.symbol, p, q, taker.side, maker.id, taker.id,
            now * 1_000_000))
        self.accounts.settle(taker, maker, p, q, taker_fee, "taker", trade_id, now)
        self.accounts.settle(maker, taker, p, q, maker_fee, "maker", trade_id, now)
        if not maker.remain_size:
            maker_user = self.accounts.users[maker.user_id]
            self.outbox.order(maker_user, maker, "filled", "done", now)
            self.accounts.finish(maker_user, maker, now)

    def _deal(self, taker: Order, maker: Order, p: Decimal, q: Decimal, maker_fee: Decimal,
              taker_fee: Decimal, now: int) -> None:
        """Both orders' deal size, funds and fee grow by one fill."""
        funds = p * q
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

    def _rest(self, book: Book, order: Order, now: int) -> None:
        side_key = BIDS if order.side == "buy" else ASKS
        levels, prices = book.side(side_key)
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = Level()
            bisect.insort(prices, order.price)
        level.orders[order.id] = order
        order.in_book = True
        if not order.hidden:
            level.visible += order.remain_size
            book.mark(side_key, order.price, level.visible)
        if order.time_in_force == "GTT":
            expiry = order.created_at + order.cancel_after * 1000
            heapq.heappush(self._gtt, (expiry, order.touch, order))
        self.outbox.order(self.accounts.users[order.user_id], order, "open", "open", now)

    def cancel(self, book: Book, order: Order, now: int) -> None:
        """Take the order off the book (if it rests) and finish it as cancelled."""
        if order.in_book:
            side_key = BIDS if order.side == "buy" else ASKS
            levels, _ = book.side(side_key)
            level = levels[order.price]
            del level.orders[order.id]
            if not order.hidden:
                level.visible -= order.remain_size
                book.mark(side_key, order.price, level.visible)
            if not level.orders:
                book.drop_level(side_key, order.price)
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
        user = self.accounts.users[order.user_id]
        self.outbox.order(user, order, "canceled", "done", now)
        self.accounts.finish(user, order, now)

    def cancel_groups(self, by_symbol: dict[str, list[Order]], now: int) -> list[Order]:
        """Cancel orders symbol by symbol: one book message per symbol."""
        done: list[Order] = []
        for sym, orders in by_symbol.items():
            book = self.books[sym]
            for o in orders:
                self.cancel(book, o, now)
            done.extend(orders)
            self.flush(book, now)
        return done

    def due_gtt(self, now: int) -> dict[str, list[Order]]:
        """Active GTT orders whose cancelAfter has passed, by symbol (taken off the expiry heap)."""
        by_symbol: dict[str, list[Order]] = {}
        while self._gtt and self._gtt[0][0] <= now:
            order = heapq.heappop(self._gtt)[2]
            if order.active:
                by_symbol.setdefault(order.symbol, []).append(order)
        return by_symbol

    def flush(self, book: Book, now: int) -> None:
        """End of an action: one book-change callback, then the queued trades, orders, balances."""
        taken = book.take_changes()
        changes = None if taken is None else (book.rules.symbol, taken[0], book.seq, taken[1], now)
        self.outbox.deliver(changes)
