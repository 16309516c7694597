"""One Period interface for the research cores: BookHistory and SeriesBuilder are fed the same
way (``on_period(Period)``, ``end_period(kind, end_ns)``), keep the kinds, and SeriesBuilder's
old ``on_gap``/``begin_gap``/``end_gap`` are the same thing under another name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.research import history, history_frames, periods
from dashboard.research.history import BookHistory
from dashboard.research.measures import TopOfBook
from dashboard.research.periods import PERIOD_KINDS, Period, as_period
from dashboard.research.series import SeriesBuilder

D = Decimal
S = 1_000_000_000

# What a feed driver sees: (period opened or closed) or ("end", kind, end_ns).
EVENTS = [
    Period("gap", 2 * S + 10, 2 * S + 20),
    Period("stale", 4 * S + 1),
    Period("reconnect", 5 * S + 500),
    ("end", "stale", 6 * S),
    Period("resync", 7 * S, 7 * S),
    ("end", "reconnect", 8 * S + 1),
    ("end", "gap", 9 * S),  # none open: nothing happens
]


def _drive(core: BookHistory | SeriesBuilder) -> None:
    """The one driver both cores take: the same calls in the same order."""
    for event in EVENTS:
        if isinstance(event, Period):
            core.on_period(event)
        else:
            core.end_period(event[1], event[2])


def _quiet_builder() -> SeriesBuilder:
    b = SeriesBuilder()
    b.on_top(TopOfBook(0, D(100), D(1), D(101), D(1)))
    return b


def test_one_driver_feeds_both_cores_and_both_keep_the_same_periods() -> None:
    """Fed the same events, BookHistory and SeriesBuilder report the same Period objects."""
    hist, builder = BookHistory("X", D("1")), _quiet_builder()
    _drive(hist)
    _drive(builder)
    expected = (
        Period("gap", 2 * S + 10, 2 * S + 20), Period("stale", 4 * S + 1, 6 * S),
        Period("reconnect", 5 * S + 500, 8 * S + 1), Period("resync", 7 * S, 7 * S),
    )
    assert hist.periods() == builder.periods() == expected
    assert hist.periods(6 * S, 7 * S) == builder.periods(6 * S, 7 * S) == expected[2:3]


def test_series_rows_are_flagged_by_the_periods_of_every_kind() -> None:
    """Rows meeting any period are gap rows; an open period flags rows until it is ended, and two
    open kinds overlap (ending one leaves the other flagging)."""
    b = _quiet_builder()
    b.advance(3 * S)  # rows 0, 1, 2 emitted before the events
    _drive(b)
    b.advance(10 * S)
    # gap meets row 2; stale 4..6 s; reconnect 5.5..8 s; resync a point at 7 s
    assert [r.gap for r in b.rows] == [False, False, True, False, True, True, True, True, True,
                                       False]


def test_on_period_equals_on_gap_and_begin_end_gap() -> None:
    """A closed Period is on_gap, an open one begin_gap, end_period end_gap: the same rows and
    the same returned changes."""
    old, new = _quiet_builder(), _quiet_builder()
    old.advance(3 * S)
    new.advance(3 * S)
    assert old.on_gap(S + 1, 2 * S) == new.on_period(Period("gap", S + 1, 2 * S))
    old.begin_gap(3 * S + 5)
    assert new.on_period(Period("gap", 3 * S + 5)) == []
    old.advance(5 * S)
    new.advance(5 * S)
    assert old.end_gap(5 * S + 1) == new.end_period("gap", 5 * S + 1)
    old.advance(7 * S)
    new.advance(7 * S)
    assert list(old.rows) == list(new.rows)
    assert [r.gap for r in new.rows] == [False, True, False, True, True, True, False]
    assert old.periods() == new.periods() == (Period("gap", S + 1, 2 * S),
                                              Period("gap", 3 * S + 5, 5 * S + 1))


def test_an_open_period_breaks_the_ofi_chain() -> None:
    """A top after an opened period is not diffed against the one before it."""
    b = _quiet_builder()
    b.on_period(Period("stale", S // 2))
    b.on_top(TopOfBook(S // 2 + 1, D(100), D(9), D(101), D(1)))  # would be e = 9 - 1
    (row,) = b.advance(S)
    assert (row.ofi, row.gap) == (0, True)


def test_end_period_before_the_start_closes_at_the_start() -> None:
    """SeriesBuilder clamps an end before the start to a point period (as end_gap did)."""
    b = _quiet_builder()
    b.on_period("stale", 5 * S)
    b.end_period("stale", S)
    assert b.periods() == (Period("stale", 5 * S, 5 * S),)


def test_period_values_are_checked_and_both_forms_are_the_same() -> None:
    """A known kind and no end before the start; (kind, start, end) equals the Period."""
    assert as_period("gap", 1, 2) == as_period(Period("gap", 1, 2)) == Period("gap", 1, 2)
    for bad in [Period("nap", 1, 2), Period("gap", 5, 4)]:
        with pytest.raises(ValueError):
            as_period(bad)
    with pytest.raises(ValueError):
        as_period("gap")  # no start
    with pytest.raises(ValueError):
        as_period(Period("gap", 1), 2)  # both forms at once
    with pytest.raises(ValueError):
        SeriesBuilder().on_gap(5, 4)
    hist = BookHistory("X", D("1"))
    hist.on_period("stale", 3)
    hist.on_period(Period("stale", 7))
    hist.end_period("stale", 9)  # the latest open one of the kind
    assert hist.periods() == (Period("stale", 3), Period("stale", 7, 9))


def test_a_period_ending_at_zero_is_not_open() -> None:
    """A period closed at ts 0 does not run to now in the overlap filter."""
    hist = BookHistory("X", D("1"))
    hist.on_period(Period("gap", 0, 0))
    assert hist.periods(1) == ()


def test_period_and_its_kinds_are_importable_from_their_old_homes() -> None:
    """history and history_frames re-export the one Period and PERIOD_KINDS."""
    assert history.Period is history_frames.Period is periods.Period is Period
    assert history.PERIOD_KINDS is history_frames.PERIOD_KINDS is PERIOD_KINDS
    assert PERIOD_KINDS == ("gap", "resync", "reconnect", "stale")
