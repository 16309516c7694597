"""KuCoin spot protocol literals (shared/kucoin/protocol.md): host, REST paths, WebSocket topics and
subjects, candle intervals. Paths are full per endpoint: KuCoin versions each endpoint on its own
(§1.1). What spot and futures share is in ``common.py``.
"""

from __future__ import annotations

from typing import Final

SPOT_REST_URL: Final = "https://api.kucoin.com"

# ---- REST paths: public market data (§4)
PATH_TIMESTAMP: Final = "/api/v1/timestamp"
PATH_STATUS: Final = "/api/v1/status"
PATH_SYMBOLS_V2: Final = "/api/v2/symbols"
PATH_SYMBOLS_V1: Final = "/api/v1/symbols"
PATH_CURRENCIES_V3: Final = "/api/v3/currencies"
PATH_CURRENCIES_V1: Final = "/api/v1/currencies"
PATH_MARKETS: Final = "/api/v1/markets"
PATH_ALL_TICKERS: Final = "/api/v1/market/allTickers"
PATH_STATS: Final = "/api/v1/market/stats"
PATH_LEVEL1: Final = "/api/v1/market/orderbook/level1"
PATH_LEVEL2_20: Final = "/api/v1/market/orderbook/level2_20"
PATH_LEVEL2_100: Final = "/api/v1/market/orderbook/level2_100"
PATH_LEVEL2_FULL_V3: Final = "/api/v3/market/orderbook/level2"
PATH_HISTORIES: Final = "/api/v1/market/histories"
PATH_CANDLES: Final = "/api/v1/market/candles"
PATH_BULLET_PUBLIC: Final = "/api/v1/bullet-public"
PATH_BULLET_PRIVATE: Final = "/api/v1/bullet-private"

# ---- REST paths: private (§5)
PATH_ACCOUNTS: Final = "/api/v1/accounts"
PATH_HF_ACCOUNTS_OPENED: Final = "/api/v1/hf/accounts/opened"
PATH_BASE_FEE: Final = "/api/v1/base-fee"
PATH_TRADE_FEES: Final = "/api/v1/trade-fees"
PATH_HF_ORDERS: Final = "/api/v1/hf/orders"
PATH_HF_ORDERS_SYNC: Final = "/api/v1/hf/orders/sync"
PATH_HF_ORDERS_TEST: Final = "/api/v1/hf/orders/test"
PATH_HF_ORDERS_ACTIVE: Final = "/api/v1/hf/orders/active"
PATH_HF_ORDERS_ACTIVE_PAGE: Final = "/api/v1/hf/orders/active/page"
PATH_HF_ORDERS_ACTIVE_SYMBOLS: Final = "/api/v1/hf/orders/active/symbols"
PATH_HF_ORDERS_DONE: Final = "/api/v1/hf/orders/done"
PATH_HF_ORDERS_CANCEL_ALL: Final = "/api/v1/hf/orders/cancelAll"
PATH_HF_FILLS: Final = "/api/v1/hf/fills"
PATH_ORDERS: Final = "/api/v1/orders"
PATH_ORDERS_TEST: Final = "/api/v1/orders/test"
PATH_ORDER_CLIENT: Final = "/api/v1/order/client-order"
PATH_FILLS: Final = "/api/v1/fills"
PATH_MARGIN_SYMBOLS_V3: Final = "/api/v3/margin/symbols"
PATH_ISOLATED_SYMBOLS: Final = "/api/v1/isolated/symbols"
# the unified-account probe; ccxt calls it first
PATH_UA_ACCOUNT_MODE: Final = "/api/ua/v1/account/mode"

# ---- error codes (§1.5)
MSG_CANCEL_NOT_EXIST: Final = "order_not_exist_or_not_allow_to_cancel"
MSG_ORDER_NOT_EXIST: Final = "order not exist."

# ---- WebSocket (§6, §7)
TOPIC_LEVEL2: Final = "/market/level2"
TOPIC_DEPTH5: Final = "/spotMarket/level2Depth5"
TOPIC_DEPTH50: Final = "/spotMarket/level2Depth50"
TOPIC_LEVEL1: Final = "/spotMarket/level1"
TOPIC_MATCH: Final = "/market/match"
TOPIC_TICKER: Final = "/market/ticker"
TOPIC_CANDLES: Final = "/market/candles"
TOPIC_SNAPSHOT: Final = "/market/snapshot"
TOPIC_ORDERS_V2: Final = "/spotMarket/tradeOrdersV2"
TOPIC_ORDERS_V1: Final = "/spotMarket/tradeOrders"
TOPIC_BALANCE: Final = "/account/balance"
PUBLIC_TOPICS: Final = frozenset(
    {TOPIC_LEVEL2, TOPIC_DEPTH5, TOPIC_DEPTH50, TOPIC_LEVEL1, TOPIC_MATCH, TOPIC_TICKER,
     TOPIC_CANDLES}
)
PRIVATE_TOPICS: Final = frozenset({TOPIC_ORDERS_V2, TOPIC_ORDERS_V1, TOPIC_BALANCE})
SUBJECT_L2UPDATE: Final = "trade.l2update"
SUBJECT_DEPTH: Final = "level2"
SUBJECT_LEVEL1: Final = "level1"
SUBJECT_MATCH: Final = "trade.l3match"
SUBJECT_TICKER: Final = "trade.ticker"
SUBJECT_CANDLES: Final = "trade.candles.update"
SUBJECT_ORDER_CHANGE: Final = "orderChange"
SUBJECT_BALANCE: Final = "account.balance"

# Candle intervals (§4.10) -> seconds
CANDLE_TYPES: Final = {
    "1min": 60, "3min": 180, "5min": 300, "15min": 900, "30min": 1800,
    "1hour": 3600, "2hour": 7200, "4hour": 14400, "6hour": 21600, "8hour": 28800,
    "12hour": 43200, "1day": 86400, "1week": 604800, "1month": 2592000,
}
MAX_CANDLES_PER_REQUEST: Final = 1500
