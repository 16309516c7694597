"""Pure microstructure measures on exact prices: the top-of-book record, the Cont-Kukanov-Stoikov
OFI contribution between two records, and the one-instant measures of a row (mid, microprice,
spread, queue imbalance, depth within a distance of the mid, realised volatility).

Formulas follow ../shared/research-features-and-scale.md section A2; each function cites its
source. Everything here is a function of its arguments (no clock, no state), so each is checked
by a known answer. Imports ``dashboard.domain`` and the standard library only: never ``kucoin``,
``simulator``, ``recording``, ``config``, the hub or the UI.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dashboard.domain.models import BookSnapshot

_ZERO = Decimal(0)
_TWO = Decimal(2)
_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best bid and ask with their sizes at ``ts_ns``; a missing side is ``None`` with size 0."""

    ts_ns: int
    best_bid: Decimal | None
    bid_size: Decimal
    best_ask: Decimal | None
    ask_size: Decimal


def top_of_book(book: BookSnapshot, ts_ns: int) -> TopOfBook:
    """The top of a snapshot: what a driver feeds ``SeriesBuilder.on_top`` when it changed."""
    bid, bid_size = book.bids[0] if book.bids else (None, _ZERO)
    ask, ask_size = book.asks[0] if book.asks else (None, _ZERO)
    return TopOfBook(ts_ns, bid, bid_size, ask, ask_size)


def _bid_term(prev: TopOfBook, cur: TopOfBook) -> Decimal:
    """``1{b_n >= b_n-1} q_b,n - 1{b_n <= b_n-1} q_b,n-1``; an empty bid side counts as -inf."""
    if prev.best_bid is None and cur.best_bid is None:
        return _ZERO
    if prev.best_bid is None:  # a bid appeared: the price rose from -inf
        return cur.bid_size
    if cur.best_bid is None:  # the bid side emptied: the price fell to -inf
        return -prev.bid_size
    term = _ZERO
    if cur.best_bid >= prev.best_bid:
        term += cur.bid_size
    if cur.best_bid <= prev.best_bid:
        term -= prev.bid_size
    return term


def _ask_term(prev: TopOfBook, cur: TopOfBook) -> Decimal:
    """``-1{a_n <= a_n-1} q_a,n + 1{a_n >= a_n-1} q_a,n-1``; an empty ask side counts as +inf."""
    if prev.best_ask is None and cur.best_ask is None:
        return _ZERO
    if prev.best_ask is None:  # an ask appeared: the price fell from +inf
        return -cur.ask_size
    if cur.best_ask is None:  # the ask side emptied: the price rose to +inf
        return prev.ask_size
    term = _ZERO
    if cur.best_ask <= prev.best_ask:
        term -= cur.ask_size
    if cur.best_ask >= prev.best_ask:
        term += prev.ask_size
    return term


def ofi_contribution(prev: TopOfBook, cur: TopOfBook) -> Decimal:
    """Cont-Kukanov-Stoikov order-flow contribution e_n of the change ``prev`` -> ``cur``.

    ``e_n = 1{b_n >= b_n-1} Q_b,n - 1{b_n <= b_n-1} Q_b,n-1 - 1{a_n <= a_n-1} Q_a,n
    + 1{a_n >= a_n-1} Q_a,n-1`` (Cont, Kukanov, Stoikov 2014, J. Fin. Econometrics 12(1):47-88,
    arXiv:1011.6402). The inequalities are non-strict, so an unchanged price gives the size change
    (some public code uses strict ones and silently drops those changes). A side that is empty
    is treated as a price of -inf (bids) or +inf (asks): our extension, the paper assumes both.
    """
    return _bid_term(prev, cur) + _ask_term(prev, cur)


def mid(top: TopOfBook) -> Decimal | None:
    """``m = (a + b) / 2``; ``None`` when a side is empty."""
    if top.best_bid is None or top.best_ask is None:
        return None
    return (top.best_bid + top.best_ask) / _TWO


def microprice(top: TopOfBook) -> Decimal | None:
    """Size-weighted mid ``(b Q_a + a Q_b) / (Q_a + Q_b)`` (the "microprice" of wickra and the
    hummingbot community script; not Stoikov's 2018 micro-price, which needs a fitted chain)."""
    if top.best_bid is None or top.best_ask is None:
        return None
    total = top.bid_size + top.ask_size
    if total <= 0:
        return None
    return (top.best_bid * top.ask_size + top.best_ask * top.bid_size) / total


def spread_bps(top: TopOfBook) -> Decimal | None:
    """Relative spread ``10^4 (a - b) / m`` in basis points."""
    m = mid(top)
    if m is None or m <= 0 or top.best_ask is None or top.best_bid is None:
        return None
    return _BPS * (top.best_ask - top.best_bid) / m


def queue_imbalance(top: TopOfBook) -> Decimal | None:
    """``(Q_b - Q_a) / (Q_b + Q_a)`` in [-1, 1] at the top (Gould & Bonart 2015, arXiv:1512.03492);
    ``None`` when a side is empty."""
    if top.best_bid is None or top.best_ask is None:
        return None
    total = top.bid_size + top.ask_size
    if total <= 0:
        return None
    return (top.bid_size - top.ask_size) / total


def book_mid(book: BookSnapshot) -> Decimal | None:
    """The mid of a snapshot's own best levels; ``None`` when a side is empty."""
    if not book.bids or not book.asks:
        return None
    return (book.bids[0][0] + book.asks[0][0]) / _TWO


def depth_within(book: BookSnapshot, bps: Decimal) -> tuple[Decimal, Decimal] | None:
    """Resting size within ``bps`` of the snapshot's mid: ``D_b = sum q_i`` over bids with
    ``p_i >= m (1 - X/10^4)``, ``D_a`` over asks with ``p_i <= m (1 + X/10^4)`` (glassnode's
    depth definition, section A2). Returns ``(D_b, D_a)``, or ``None`` for a one-sided book.
    Each side is walked from the top and left at its first level past the bound (bids are high to
    low, asks low to high), so the cost is the levels inside the distance, not the book's depth."""
    m = book_mid(book)
    if m is None:
        return None
    floor, ceiling = m * (1 - bps / _BPS), m * (1 + bps / _BPS)
    bid_depth = ask_depth = _ZERO
    for price, size in book.bids:
        if price < floor:
            break
        bid_depth += size
    for price, size in book.asks:
        if price > ceiling:
            break
        ask_depth += size
    return bid_depth, ask_depth


def realized_vol(mids: Sequence[Decimal | None]) -> float | None:
    """Realised volatility ``sqrt(sum r_i^2)``, ``r_i = ln(m_i / m_i-1)``, of mids sampled on a
    fixed grid (section A2, "standard"): the square root of realised variance over the window, no
    mean removed, not annualised. ``None`` unless every mid is present and positive, because a
    window with holes would understate the variance."""
    if len(mids) < 2:
        return None
    logs: list[float] = []
    for m in mids:
        if m is None or m <= 0:
            return None
        logs.append(math.log(float(m)))
    return math.sqrt(math.fsum((b - a) ** 2 for a, b in itertools.pairwise(logs)))
