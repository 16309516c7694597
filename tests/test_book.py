"""OrderBook: exact ticks, scale growth, zero-size deletes, O(1) best prices, depth order,
and agreement with a naive model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain.book import OrderBook, is_zero_size
from dashboard.domain.models import BookSnapshot

D = Decimal


def _book(bids=(), asks=(), scale=0) -> OrderBook:
    book = OrderBook("BTC-USDT", scale)
    book.load(bids, asks, 7)
    return book


@pytest.mark.parametrize(("scale", "price", "tick"), [
    (1, "91249.9", 912499),
    (0, "91249", 91249),
    (3, "1.5", 1500),
    (2, "1.50", 150),
    (0, "0.00028678", 28678),  # grows the scale to 8
    (2, "7.", 700),
    (1, "1E+2", 1000),  # rare exponent form goes through Decimal, exactly
], ids=["scale1", "integer", "pad-zeros", "trailing-zero", "grows", "trailing-dot", "exponent"])
def test_price_to_tick(scale, price, tick):
    """Prices become integer ticks at the book's decimal scale."""
    assert OrderBook("X", scale).to_tick(price) == tick


@pytest.mark.parametrize("price", ["abc", "", "-1", "1.2.3", "NaN", "Infinity", "١٢"], ids=[
    "letters", "empty", "negative", "two-dots", "nan", "inf", "non-ascii-digits"])
def test_bad_price_refused(price):
    """A price that is not a plain non-negative decimal raises ValueError; the book is untouched."""
    book = _book([["1", "1"]], [["2", "1"]])
    with pytest.raises(ValueError):
        book.set_bid(price, "1")
    assert book.levels() == ({D(1): D(1)}, {D(2): D(1)})


@pytest.mark.parametrize("size", ["abc", "", ".", "1.2.3", "-1", "1e5"], ids=[
    "letters", "empty", "dot", "two-dots", "negative", "exponent"])
def test_bad_size_refused(size):
    """A size that is not a plain decimal raises ValueError."""
    with pytest.raises(ValueError):
        _book().set_ask("1", size)


@pytest.mark.parametrize(
    "zero", ["0", "0.0", "0.00000000", "00", "0."], ids=["0", "0.0", "0.00000000", "00", "0."]
)
def test_zero_size_forms_delete(zero):
    """Every spelling of zero deletes the level."""
    book = _book([["10", "1"], ["9", "2"]], [["11", "3"]])
    book.set_bid("10", zero)
    book.set_ask("11", zero)
    assert is_zero_size(zero)
    assert book.levels() == ({D(9): D(2)}, {})


def test_delete_missing_level_is_noop():
    """Deleting a price that is not in the book changes nothing."""
    book = _book([["10", "1"]], [["11", "1"]])
    book.set_bid("5", "0")
    assert len(book) == 2


def test_scale_growth_rescales_existing_levels():
    """A price with more decimals grows the scale; existing levels keep their exact value."""
    book = _book([["100.5", "1"], ["100", "2"]], [["101", "3"]], scale=1)
    book.set_ask("100.75", "4")
    assert book.price_scale == 2
    assert book.levels() == ({D("100.5"): D(1), D(100): D(2)}, {D(101): D(3), D("100.75"): D(4)})
    assert book.best_ask() == (D("100.75"), D(4))
    assert book.best_bid() == (D("100.5"), D(1))


def test_trailing_zero_spellings_are_one_level():
    """"0.00006140" and "0.0000614" are the same price level."""
    book = _book([["0.00006140", "1"]])
    book.set_bid("0.0000614", "5")
    assert book.levels()[0] == {D("0.0000614"): D(5)}


@pytest.mark.parametrize(("deletes", "best_bid", "best_ask"), [
    ([], (D(10), D(1)), (D(11), D(1))),
    ([("bid", "10")], (D(9), D(2)), (D(11), D(1))),
    ([("bid", "10"), ("bid", "9")], (D(8), D(3)), (D(11), D(1))),
    ([("ask", "11"), ("ask", "12")], (D(10), D(1)), (D(13), D(3))),
    ([("bid", "10"), ("bid", "9"), ("bid", "8")], None, (D(11), D(1))),
], ids=["none", "top-bid", "two-bids", "two-asks", "all-bids"])
def test_best_after_deleting_tops(deletes, best_bid, best_ask):
    """Best bid/ask skip deleted levels (lazy heap deletion)."""
    book = _book([["10", "1"], ["9", "2"], ["8", "3"]], [["11", "1"], ["12", "2"], ["13", "3"]])
    for side, price in deletes:
        (book.set_bid if side == "bid" else book.set_ask)(price, "0")
    assert book.best_bid() == best_bid
    assert book.best_ask() == best_ask


def test_readd_after_delete_and_heap_rebuild():
    """Many delete/re-add cycles keep the heaps bounded and best prices right."""
    book = _book()
    for i in range(2000):
        book.set_bid(str(100 + i % 5), "1")
        book.set_bid(str(100 + i % 5), "0")
    book.set_bid("101", "2")
    assert book.best_bid() == (D(101), D(2))
    assert len(book._bid_heap) <= 2 * len(book._bids) + 64


def test_depth_ordering_and_limit():
    """depth(): bids high->low, asks low->high, n levels per side."""
    book = _book([["9", "1"], ["10", "2"], ["8", "3"]], [["13", "1"], ["11", "2"], ["12", "3"]])
    assert book.depth() == (
        [(D(10), D(2)), (D(9), D(1)), (D(8), D(3))],
        [(D(11), D(2)), (D(12), D(3)), (D(13), D(1))],
    )
    assert book.depth(2) == ([(D(10), D(2)), (D(9), D(1))], [(D(11), D(2)), (D(12), D(3))])


def test_snapshot_and_top_arrays():
    """snapshot() is an immutable BookSnapshot; top_arrays() gives floats for plotting."""
    book = _book([["9.5", "1"], ["10.5", "2"]], [["11.25", "0.5"]])
    snap = book.snapshot(1, ts_ms=5)
    assert snap == BookSnapshot("BTC-USDT", 7, ((D("10.5"), D(2)),), ((D("11.25"), D("0.5")),), 5)
    assert book.top_arrays(5) == ([10.5, 9.5], [2.0, 1.0], [11.25], [0.5])


@pytest.mark.parametrize(("bids", "asks", "crossed"), [
    ([["10", "1"]], [["11", "1"]], False),
    ([["11", "1"]], [["11", "1"]], True),
    ([["12", "1"]], [["11", "1"]], True),
    ([], [["11", "1"]], False),
    ([["10", "1"]], [], False),
], ids=["normal", "locked", "crossed", "no-bids", "no-asks"])
def test_crossed(bids, asks, crossed):
    """crossed() is best bid >= best ask."""
    assert _book(bids, asks).crossed() is crossed


def test_load_replaces_and_clear_empties():
    """load() replaces the whole book and sets the sequence; clear() empties it."""
    book = _book([["1", "1"]], [["2", "1"]])
    book.load([["3", "1"]], [], 99)
    assert book.levels() == ({D(3): D(1)}, {})
    assert book.sequence == 99
    book.clear()
    assert len(book) == 0 and book.best_bid() is None and book.best_ask() is None


_prices = st.builds(lambda i, f, n: f"{i}.{f:0{n}d}" if n else str(i),
                    st.integers(0, 50), st.integers(0, 999), st.sampled_from([0, 1, 2, 3]))
_sizes = st.sampled_from(["0", "0.0", "0.000", "1", "2.5", "0.001", "10", "3.14159"])
_ops = st.lists(st.tuples(st.booleans(), _prices, _sizes), max_size=200)


@settings(max_examples=300, deadline=None)
@given(_ops, st.integers(0, 3))
def test_matches_naive_model(ops, scale):
    """Random set/delete ops give the same levels and best prices as a dict-of-Decimal model."""
    book = OrderBook("X", scale)
    model: tuple[dict, dict] = ({}, {})
    for is_bid, price, size in ops:
        (book.set_bid if is_bid else book.set_ask)(price, size)
        side = model[0 if is_bid else 1]
        if D(size) == 0:
            side.pop(D(price), None)
        else:
            side[D(price)] = D(size)
        bb, ba = book.best_bid(), book.best_ask()
        assert (bb[0] if bb else None) == (max(model[0]) if model[0] else None)
        assert (ba[0] if ba else None) == (min(model[1]) if model[1] else None)
    assert book.levels() == model
    assert len(book) == len(model[0]) + len(model[1])
    bids, asks = book.depth()
    assert bids == sorted(model[0].items(), reverse=True)
    assert asks == sorted(model[1].items())
