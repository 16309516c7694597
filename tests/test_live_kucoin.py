"""The real api.kucoin.com, public endpoints only. Skipped with a reason when the machine is offline
(CI and these machines have no internet); kept so the adapter is checked against KuCoin itself
wherever the network allows."""

from __future__ import annotations

import aiohttp
import pytest

from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.protocol.spot import SPOT_REST_URL
from dashboard.kucoin.verify import BookVerifier

from .conftest import kucoin_reachable

pytestmark = pytest.mark.skipif(
    not kucoin_reachable(), reason="offline: api.kucoin.com is not reachable from this machine"
)


async def test_public_rest_against_kucoin():
    """Server time, symbols and a 20-level book parse from the real API."""
    async with KucoinRestClient(SPOT_REST_URL) as rest:
        assert await rest.get_server_time() > 1_600_000_000_000
        symbols = {i.symbol for i in await rest.get_symbols()}
        assert "BTC-USDT" in symbols
        seq, bids, asks = await rest.get_level2_snapshot("BTC-USDT", 20)
        assert seq > 0 and float(bids[0][0]) < float(asks[0][0])


async def test_verify_book_against_kucoin():
    """A public live book agrees with KuCoin's level2_100 snapshots over 20 s."""
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient(SPOT_REST_URL, session=session)
        summary = await BookVerifier(rest, "BTC-USDT", session=session, check_every_s=2).run(20)
    assert summary.checks > 0 and summary.mismatches == 0, summary.as_dict()
