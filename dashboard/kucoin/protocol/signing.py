"""KC-API-SIGN and KC-API-PASSPHRASE (shared/kucoin/protocol.md §2).

prehash = timestamp + METHOD + path-with-query (un-URL-encoded) + body, HMAC-SHA256 with the
API secret, base64. Held honest by the known-answer vectors of §2.5, never by recomputation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from .common import (
    HDR_KEY,
    HDR_KEY_VERSION,
    HDR_PASSPHRASE,
    HDR_SIGN,
    HDR_TIMESTAMP,
    SUPPORTED_KEY_VERSIONS,
)


def _b64_hmac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def prehash(timestamp_ms: int | str, method: str, path_with_query: str, body: str = "") -> str:
    """The exact text KuCoin signs: timestamp + upper-case method + endpoint + body."""
    return f"{timestamp_ms}{method.upper()}{path_with_query}{body}"


def sign(secret: str, timestamp_ms: int | str, method: str, path_with_query: str,
         body: str = "") -> str:
    """KC-API-SIGN for one request."""
    return _b64_hmac(secret, prehash(timestamp_ms, method, path_with_query, body))


def sign_passphrase(secret: str, passphrase: str, key_version: str = "2") -> str:
    """KC-API-PASSPHRASE: HMAC'd for key versions 2 and 3, plain for the retired version 1."""
    if key_version == "1":
        return passphrase
    return _b64_hmac(secret, passphrase)


def verify(expected_b64: str, secret: str, timestamp_ms: str, method: str, path_with_query: str,
           body: str = "") -> bool:
    """Constant-time check of a received KC-API-SIGN."""
    computed = sign(secret, timestamp_ms, method, path_with_query, body)
    return hmac.compare_digest(expected_b64.encode(), computed.encode())


def verify_passphrase(received: str, secret: str, passphrase: str, key_version: str) -> bool:
    computed = sign_passphrase(secret, passphrase, key_version)
    return hmac.compare_digest(received.encode(), computed.encode())


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key. The secret and passphrase never appear in repr, str or logs."""

    key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    key_version: str = "2"

    def __post_init__(self) -> None:
        if self.key_version not in SUPPORTED_KEY_VERSIONS:
            raise ValueError(f"KC-API-KEY-VERSION must be one of {sorted(SUPPORTED_KEY_VERSIONS)}")

    def __repr__(self) -> str:
        return f"Credentials(key={mask(self.key)!r}, key_version={self.key_version!r})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """The one reader of ``KUCOIN_API_KEY``/``_SECRET``/``_PASSPHRASE`` (and ``_KEY_VERSION``).

        None when none of the three is set; ``ValueError`` naming the variables when only some are.
        """
        names = ("KEY", "SECRET", "PASSPHRASE")
        key, secret, passphrase = (env.get(f"KUCOIN_API_{n}") for n in names)
        if not any((key, secret, passphrase)):
            return None
        if not (key and secret and passphrase):
            raise ValueError("set all three of KUCOIN_API_KEY, KUCOIN_API_SECRET and "
                             "KUCOIN_API_PASSPHRASE, or none")
        return cls(key, secret, passphrase, env.get("KUCOIN_API_KEY_VERSION", "2"))

    def headers(self, timestamp_ms: int, method: str, path_with_query: str,
                body: str = "") -> dict[str, str]:
        """All private-request headers for one call."""
        return {
            HDR_KEY: self.key,
            HDR_SIGN: sign(self.secret, timestamp_ms, method, path_with_query, body),
            HDR_TIMESTAMP: str(timestamp_ms),
            HDR_PASSPHRASE: sign_passphrase(self.secret, self.passphrase, self.key_version),
            HDR_KEY_VERSION: self.key_version,
        }


def mask(value: str) -> str:
    """Show only the last four characters of an identifier."""
    return "****" + value[-4:] if len(value) > 4 else "****"
