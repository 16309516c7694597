"""KuCoin protocol literals in one place (shared/kucoin/protocol.md).

Paths are full per endpoint: KuCoin versions each endpoint on its own (§1.1).
"""

from __future__ import annotations

from typing import Final

SPOT_REST_URL: Final = "https://api.kucoin.com"
FUTURES_REST_URL: Final = "https://api-futures.kucoin.com"

SUCCESS_CODE: Final = "200000"

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
PATH_FUTURES_CONTRACTS_ACTIVE: Final = "/api/v1/contracts/active"  # on the futures host
PATH_UA_ACCOUNT_MODE: Final = "/api/ua/v1/account/mode"  # unified-account probe; ccxt calls it first

# ---- auth headers (§2.1)
HDR_KEY: Final = "KC-API-KEY"
HDR_SIGN: Final = "KC-API-SIGN"
HDR_TIMESTAMP: Final = "KC-API-TIMESTAMP"
HDR_PASSPHRASE: Final = "KC-API-PASSPHRASE"
HDR_KEY_VERSION: Final = "KC-API-KEY-VERSION"
SUPPORTED_KEY_VERSIONS: Final = frozenset({"2", "3"})
TIMESTAMP_WINDOW_MS: Final = 5_000

# ---- rate limit headers (§3.2)
HDR_RL_LIMIT: Final = "gw-ratelimit-limit"
HDR_RL_REMAINING: Final = "gw-ratelimit-remaining"
HDR_RL_RESET: Final = "gw-ratelimit-reset"
RATE_WINDOW_MS: Final = 30_000

# ---- error codes (§1.5)
ERR_AUTH_HEADER_MISSING: Final = "400001"
ERR_TIMESTAMP: Final = "400002"
ERR_KEY_NOT_EXISTS: Final = "400003"
ERR_PASSPHRASE: Final = "400004"
ERR_SIGNATURE: Final = "400005"
ERR_IP_NOT_WHITELISTED: Final = "400006"
ERR_ACCESS_DENIED: Final = "400007"
ERR_KEY_VERSION: Final = "400009"
ERR_PARAMETER: Final = "400100"
ERR_SYMBOL_NOT_AVAILABLE: Final = "400600"
ERR_NOT_FOUND: Final = "404000"
ERR_UNSUPPORTED_MEDIA: Final = "415000"
ERR_TOO_MANY_REQUESTS: Final = "429000"
ERR_INTERNAL: Final = "500000"
ERR_BUSY: Final = "503000"
ERR_BALANCE_INSUFFICIENT: Final = "200004"
ERR_TOO_MANY_ORDERS: Final = "200003"
ERR_FUNDS_BELOW_MIN: Final = "600100"
ERR_SYMBOL_NOT_EXISTS: Final = "900001"

AUTH_ERROR_CODES: Final = frozenset(
    {ERR_AUTH_HEADER_MISSING, ERR_TIMESTAMP, ERR_KEY_NOT_EXISTS, ERR_PASSPHRASE, ERR_SIGNATURE,
     ERR_IP_NOT_WHITELISTED, ERR_ACCESS_DENIED, "400008", ERR_KEY_VERSION}
)
RATE_LIMIT_CODES: Final = frozenset({ERR_TOO_MANY_REQUESTS, "429001", "429002"})

MSG_CANCEL_NOT_EXIST: Final = "order_not_exist_or_not_allow_to_cancel"
MSG_ORDER_NOT_EXIST: Final = "order not exist."

# ---- WebSocket (§6, §7)
WS_TYPE_WELCOME: Final = "welcome"
WS_TYPE_PING: Final = "ping"
WS_TYPE_PONG: Final = "pong"
WS_TYPE_SUBSCRIBE: Final = "subscribe"
WS_TYPE_UNSUBSCRIBE: Final = "unsubscribe"
WS_TYPE_ACK: Final = "ack"
WS_TYPE_ERROR: Final = "error"
WS_TYPE_MESSAGE: Final = "message"

PING_INTERVAL_MS: Final = 18_000
PING_TIMEOUT_MS: Final = 10_000
TOKEN_TTL_S: Final = 24 * 3600
MAX_TOPICS_PER_SUBSCRIBE: Final = 100
MAX_TOPICS_PER_CONNECTION: Final = 300
MAX_CLIENT_MESSAGES_PER_10S: Final = 100

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
    {TOPIC_LEVEL2, TOPIC_DEPTH5, TOPIC_DEPTH50, TOPIC_LEVEL1, TOPIC_MATCH, TOPIC_TICKER, TOPIC_CANDLES}
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
