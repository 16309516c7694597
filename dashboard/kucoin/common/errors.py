"""The client's one error tree.

    KucoinError
    ├── KucoinTransportError            connection failed / reset (retryable for idempotent calls)
    │   └── KucoinTimeoutError          also a TimeoutError
    ├── KucoinHTTPError                 non-JSON answer (a proxy/CDN page); carries the HTTP status
    ├── KucoinAPIError(code, msg)       KuCoin answered with a code other than "200000"
    │   ├── KucoinAuthError             4000xx: key, signature, passphrase, timestamp, permission
    │   ├── KucoinRateLimitError        429000 & co; retry_after_s from the quota headers
    │   ├── KucoinOrderRejected         the order broke a rule (400100/600100/200004/...)
    │   └── KucoinServerError           500000/503000: the exchange failed
    ├── KucoinProtocolError             a frame or body that does not follow the protocol
    ├── SubscribeError(topic, code)     a WebSocket subscription refused or never acked
    └── BookSequenceGap(expected, received)

Orders refused locally before sending raise
``dashboard.domain.errors.OrderRuleError(rule, message)``.

Callers branch on type or ``code``, never on ``str(exc)``.
"""

from __future__ import annotations

from dashboard.kucoin.protocol import common as kc


class KucoinError(Exception):
    """Base of every error raised by the KuCoin client."""


class KucoinTransportError(KucoinError):
    """The request may or may not have reached KuCoin (connection reset, DNS, refused).

    ``host`` is the host asked and ``reason`` says in a few words what failed ("DNS lookup failed",
    "connection refused", ...), so a status line can explain it without reading ``str(exc)``.
    """

    def __init__(self, message: str = "", *, host: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.reason = reason


class KucoinTimeoutError(KucoinTransportError, TimeoutError):
    """No answer in time; for orders the outcome is unknown until asked for by clientOid."""


class KucoinHTTPError(KucoinError):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:200]}")
        self.status = status
        self.text = text


class KucoinAPIError(KucoinError):
    def __init__(self, code: str, msg: str, http_status: int = 200) -> None:
        super().__init__(f"KuCoin error {code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


AUTH_EXPLANATIONS = {
    kc.ERR_AUTH_HEADER_MISSING: "a required KC-API header is missing: this call needs an API key",
    kc.ERR_TIMESTAMP: "the request time differs from KuCoin's clock by more than 5 seconds; "
                     "check the machine's clock (the client re-syncs and retries once)",
    kc.ERR_KEY_NOT_EXISTS: "the API key does not exist "
                           "(check KUCOIN_API_KEY, and that it is a spot key)",
    kc.ERR_PASSPHRASE: "the API passphrase is wrong (check KUCOIN_API_PASSPHRASE)",
    kc.ERR_SIGNATURE: "the request signature is invalid (check KUCOIN_API_SECRET)",
    kc.ERR_IP_NOT_WHITELISTED: "this machine's IP address is not on the API key's whitelist",
    kc.ERR_ACCESS_DENIED: "the API key lacks the permission for this call "
                          "(e.g. no Spot trading permission); "
                         "enable it on KuCoin's API management page",
    "400008": "this endpoint needs a newer (V3) API key",
    kc.ERR_KEY_VERSION: "KC-API-KEY-VERSION is invalid (use 2 or 3)",
}


class KucoinAuthError(KucoinAPIError):
    """Authentication or permission failure; ``explanation`` says what to fix in plain words."""

    @property
    def explanation(self) -> str:
        return AUTH_EXPLANATIONS.get(self.code, self.msg)


class KucoinRateLimitError(KucoinAPIError):
    def __init__(self, code: str, msg: str, http_status: int = 429,
                 retry_after_s: float = 1.0) -> None:
        super().__init__(code, msg, http_status)
        self.retry_after_s = retry_after_s


class KucoinOrderRejected(KucoinAPIError):
    """KuCoin refused an order; the message names the rule."""


class KucoinServerError(KucoinAPIError):
    """KuCoin reported an internal failure (500000/503000)."""


class KucoinProtocolError(KucoinError):
    """A message that does not follow KuCoin's protocol."""


class BookSequenceGap(KucoinError):
    def __init__(self, symbol: str, expected: int, received: int) -> None:
        super().__init__(f"{symbol}: level-2 gap, expected sequence {expected}, got {received}")
        self.symbol = symbol
        self.expected = expected
        self.received = received


ORDER_REJECT_CODES = frozenset({kc.ERR_PARAMETER, kc.ERR_FUNDS_BELOW_MIN, "600101",
                                kc.ERR_BALANCE_INSUFFICIENT, kc.ERR_TOO_MANY_ORDERS, "200001",
                                kc.ERR_SYMBOL_NOT_AVAILABLE, "600203", kc.ERR_SYMBOL_NOT_EXISTS})


def api_error(code: str, msg: str, http_status: int, retry_after_s: float = 1.0) -> KucoinAPIError:
    """The right subclass for a KuCoin error code."""
    if code in kc.AUTH_ERROR_CODES:
        return KucoinAuthError(code, msg, http_status)
    if code in kc.RATE_LIMIT_CODES or (code == "200002" and "too many" in msg.lower()):
        return KucoinRateLimitError(code, msg, http_status, retry_after_s)
    if code in (kc.ERR_INTERNAL, kc.ERR_BUSY, "504000", "230005"):
        return KucoinServerError(code, msg, http_status)
    if code in ORDER_REJECT_CODES:
        return KucoinOrderRejected(code, msg, http_status)
    return KucoinAPIError(code, msg, http_status)


class SubscribeError(KucoinError):
    """KuCoin refused a subscription (error frame) or did not ack it in time."""

    def __init__(self, topic: str, code: int, text: str) -> None:
        super().__init__(f"subscribe {topic} refused: {code} {text}")
        self.topic = topic
        self.code = code
        self.text = text
