"""The feed's unvouched periods, one interface for every research core: the ``Period`` value, its
kinds, and the bounded log that opens and closes them (``BookHistory`` and ``SeriesBuilder`` both
keep one, so a driver feeds both the same way: ``on_period(Period(...))``, ``end_period(kind,
end_ns)``).

Imports the standard library only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["PERIOD_KINDS", "Period", "PeriodLog", "as_period"]

PERIOD_KINDS = ("gap", "resync", "reconnect", "stale")


@dataclass(frozen=True, slots=True)
class Period:
    """A span the feed could not vouch for: "gap", "resync", "reconnect" or "stale";
    ``end_ns`` is None while it is still open."""

    kind: str
    start_ns: int
    end_ns: int | None = None


def as_period(period: Period | str, start_ns: int | None = None,
              end_ns: int | None = None) -> Period:
    """``period`` itself, or ``Period(period, start_ns, end_ns)`` when given as a kind; checked:
    a known kind, a start, and no end before the start."""
    if not isinstance(period, Period):
        if start_ns is None:
            raise ValueError(f"period {period!r} needs a start_ns")
        period = Period(period, start_ns, end_ns)
    elif start_ns is not None or end_ns is not None:
        raise ValueError("give a Period or (kind, start_ns, end_ns), not both")
    if period.kind not in PERIOD_KINDS:
        raise ValueError(f"unknown period kind {period.kind!r}; one of {PERIOD_KINDS}")
    if period.end_ns is not None and period.end_ns < period.start_ns:
        raise ValueError(f"period ends before it starts: {period.start_ns} > {period.end_ns}")
    return period


class PeriodLog:
    """The newest ``max_periods`` periods, oldest first; open ones are closed by ``end``."""

    def __init__(self, max_periods: int = 1000) -> None:
        if max_periods <= 0:
            raise ValueError("max_periods must be > 0")
        self._periods: deque[Period] = deque(maxlen=max_periods)

    def add(self, period: Period) -> None:
        self._periods.append(period)

    def end(self, kind: str, end_ns: int) -> Period | None:
        """Close the latest open period of ``kind`` at ``end_ns``; returns it closed (None if
        none of that kind is open)."""
        for i in range(len(self._periods) - 1, -1, -1):
            period = self._periods[i]
            if period.kind == kind and period.end_ns is None:
                self._periods[i] = Period(kind, period.start_ns, end_ns)
                return self._periods[i]
        return None

    def overlapping(self, start_ns: int | None = None,
                    end_ns: int | None = None) -> tuple[Period, ...]:
        """The periods overlapping ``[start_ns, end_ns)`` (all by default), oldest first; an
        open period runs to now."""
        lo = -(2**63) if start_ns is None else start_ns
        hi = 2**63 if end_ns is None else end_ns
        return tuple(p for p in self._periods if p.start_ns < hi and _end(p, hi) > lo)


def _end(period: Period, now: int) -> int:
    return now if period.end_ns is None else period.end_ns
