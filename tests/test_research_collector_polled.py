"""The collector on a feed that is not an ObservedFeed (the fake): sampled on its timer, with a
fake clock; periods named by the feed's state; the heatmap bucket rule's known answers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from dashboard.domain.buckets import choose_bucket
from dashboard.domain.fakes import FakeMarketFeed
from dashboard.domain.models import FeedState
from dashboard.research.collector import ResearchCollector

COLUMN_NS = 250_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * 10**9

    def __call__(self) -> int:
        return self.now


def run(collector: ResearchCollector, clock: Clock, feed: FakeMarketFeed, columns: int) -> None:
    for _ in range(columns):
        feed.step()
        clock.now += COLUMN_NS
        collector.tick()


@pytest.mark.parametrize(("mid", "tick", "levels", "bucket"), [
    (D("50000"), D("0.1"), 100, D("5")),      # 1 % of 50,000 over 100 buckets: 5 = 50 ticks
    (D("3000"), D("0.01"), 100, D("0.5")),    # 0.3 wanted -> 0.5 (1, 2, 5 steps)
    (D("0.5"), D("0.0001"), 100, D("0.0001")),  # below one tick: one tick
    (D("64000"), D("0.1"), 200, D("5")),      # 3.2 wanted -> 5
])
def test_bucket_is_the_smallest_nice_multiple_of_the_tick(mid, tick, levels, bucket):
    assert choose_bucket(mid, tick, levels) == bucket
    assert choose_bucket(mid, tick, levels) % tick == 0


def test_a_polled_feed_gives_one_column_per_period_and_names_its_periods():
    feed, clock = FakeMarketFeed(), Clock()
    collector = ResearchCollector(feed, clock_ns=clock, levels=50)
    assert not collector.observed
    collector.tick()
    run(collector, clock, feed, 20)
    history = collector.history("BTC-USDT")
    assert history is not None and len(history.columns(0)) == 20
    feed.state = FeedState.STALE
    run(collector, clock, feed, 4)
    feed.state = FeedState.LIVE
    run(collector, clock, feed, 4)
    feed.state = FeedState.DISCONNECTED
    run(collector, clock, feed, 3)
    feed.state = FeedState.LIVE
    run(collector, clock, feed, 2)
    kinds = [(p.kind, (p.end_ns - p.start_ns) // COLUMN_NS) for p in history.periods()]
    assert kinds == [("stale", 4), ("reconnect", 3)]
    series_periods = collector.track("BTC-USDT").series.periods()
    assert [(p.kind, p.start_ns, p.end_ns) for p in series_periods] == [
        (p.kind, p.start_ns, p.end_ns) for p in history.periods()]
    rows = collector.series_rows("BTC-USDT")
    assert any(r.gap for r in rows) and not rows[0].gap
    # every trade the fake made after the first look was kept once
    trades = collector.track("BTC-USDT").trades
    ids = [int(t.trade_id) for t in trades]
    assert ids == sorted(set(ids)) and len(ids) >= 25
