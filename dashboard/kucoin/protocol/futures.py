"""KuCoin Futures protocol literals (shared/kucoin/protocol.md §9): its own host. The Futures client
(``kucoin/futures/``) adds its paths, topics and subjects here; what it shares with spot is in
``common.py``.
"""

from __future__ import annotations

from typing import Final

FUTURES_REST_URL: Final = "https://api-futures.kucoin.com"

# ---- REST paths: private (§5)
PATH_FUTURES_CONTRACTS_ACTIVE: Final = "/api/v1/contracts/active"  # on the futures host
