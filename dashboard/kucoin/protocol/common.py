"""KuCoin protocol literals shared by spot and futures (shared/kucoin/protocol.md): the envelope's
success code, auth headers (§2.1), rate-limit headers (§3.2), error codes (§1.5) and the WebSocket
message types and limits (§6, §7). Product literals live in ``spot.py`` and ``futures.py``.
"""

from __future__ import annotations

from typing import Final

SUCCESS_CODE: Final = "200000"

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
