"""The shallow book source: /spotMarket/level2Depth50 and level2Depth5 instead of level2 +
snapshots."""

from __future__ import annotations

import aiohttp
import pytest

from dashboard.domain.models import FeedState
from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually


@pytest.mark.parametrize(("source", "levels"), [("depth50", 50), ("depth5", 5)],
                         ids=["depth50", "depth5"])
async def test_depth_source_matches_simulator_top_levels(source, levels):
    """Without a key, the depth topic gives a live top-N book equal to the exchange's, and says
    so."""
    async with Simulator(SimConfig(port=0, rate_per_s=300, history=False)) as sim, \
            aiohttp.ClientSession() as s:
        rest = KucoinRestClient(sim.base_url, None, session=s)
        feed = KucoinMarketFeed(rest, ["BTC-USDT", "ETH-USDT"], session=s, book_source=source)
        await feed.start()
        try:
            await eventually(lambda: feed.status().state is FeedState.LIVE, timeout_s=10)
            assert f"top {levels} levels" in feed.status().detail
            sim.flow.rate_per_s = 0
            _, bids, asks = sim.exchange.snapshot("BTC-USDT", levels)
            # the next periodic push (<= 100 ms) carries the frozen book
            await eventually(lambda: feed.book("BTC-USDT") is not None and
                             (list(feed.book("BTC-USDT").bids),
                              list(feed.book("BTC-USDT").asks)) == (bids, asks),
                             timeout_s=5)
            _, all_bids, _ = sim.exchange.snapshot("BTC-USDT")
            assert len(feed.book("BTC-USDT").bids) == min(levels, len(all_bids))
        finally:
            await feed.close()


def test_unknown_book_source_is_refused():
    """A misspelt book source fails at construction, naming the choices."""
    with pytest.raises(ValueError, match="depth50"):
        KucoinMarketFeed(KucoinRestClient("http://127.0.0.1:1"), ["BTC-USDT"],
                         book_source="depth20")
