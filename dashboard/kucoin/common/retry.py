"""Retry policy as data plus pure functions: which failures may be retried, and how long to wait.

No I/O and no sleeping here; the REST client asks ``is_retryable`` and draws delays from
``backoff``. Imports only the client's error tree.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from .errors import (
    KucoinAuthError,
    KucoinHTTPError,
    KucoinOrderRejected,
    KucoinRateLimitError,
    KucoinServerError,
    KucoinTransportError,
)


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """True when sending the same request again is safe and may succeed.

    Transport failures, timeouts and 5xx may or may not have reached the matching engine, so
    only idempotent calls repeat them. A rate-limit answer (429000) means KuCoin refused the
    request before processing it (§3.1), so even an order may be resent after the wait. Auth
    errors and order rejections never get better by repeating.

    The REST client itself resends only idempotent calls; for an order it raises, and the order
    gateway uses this answer to decide whether resending with the same clientOid is safe.
    """
    if isinstance(exc, KucoinRateLimitError):
        return True
    if isinstance(exc, (KucoinAuthError, KucoinOrderRejected)):
        return False
    if isinstance(exc, (KucoinTransportError, KucoinServerError)):
        return idempotent
    if isinstance(exc, KucoinHTTPError):  # a proxy/CDN page: 5xx or 429 are transient, else not
        return idempotent and (exc.status >= 500 or exc.status == 429)
    return False


def backoff(base_s: float = 0.25, cap_s: float = 10.0, factor: float = 2.0,
            rng: random.Random | None = None) -> Iterator[float]:
    """Endless delays with full jitter: uniform(0, min(cap, base * factor**n)), n = 0, 1, 2, ..."""
    rng = rng or random.Random()
    ceiling = base_s
    while True:
        yield rng.uniform(0.0, min(cap_s, ceiling))
        ceiling = min(cap_s, ceiling * factor)
