"""Verifies private REST requests exactly as KuCoin does (shared/kucoin/protocol.md §2.7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import signing

from .errors import SimError


@dataclass(frozen=True, slots=True)
class ApiKey:
    credentials: signing.Credentials
    user_id: str
    can_trade: bool = True


class KeyStore:
    """API keys known to the simulator; `verify` returns the key or raises SimError with KuCoin's
    code."""

    def __init__(self, window_ms: int = kc.TIMESTAMP_WINDOW_MS) -> None:
        self._keys: dict[str, ApiKey] = {}
        self.window_ms = window_ms

    def add(self, credentials: signing.Credentials, user_id: str, can_trade: bool = True) -> ApiKey:
        key = ApiKey(credentials, user_id, can_trade)
        self._keys[credentials.key] = key
        return key

    def verify(self, method: str, path_with_query: str, headers: Mapping[str, str], body: str,
               now_ms: int) -> ApiKey:
        api_key = headers.get(kc.HDR_KEY)
        sig = headers.get(kc.HDR_SIGN)
        ts = headers.get(kc.HDR_TIMESTAMP)
        passphrase = headers.get(kc.HDR_PASSPHRASE)
        if not (api_key and sig and ts and passphrase):
            raise SimError(kc.ERR_AUTH_HEADER_MISSING,
                           "Please check the header of your request for KC-API-KEY, KC-API-SIGN, "
                           "KC-API-TIMESTAMP, KC-API-PASSPHRASE", 401)
        key = self._keys.get(api_key)
        if key is None:
            raise SimError(kc.ERR_KEY_NOT_EXISTS, "KC-API-KEY not exists", 401)
        try:
            ts_ms = int(ts)
        except ValueError:
            raise SimError(kc.ERR_TIMESTAMP, "Invalid KC-API-TIMESTAMP", 401) from None
        if abs(now_ms - ts_ms) > self.window_ms:
            raise SimError(kc.ERR_TIMESTAMP, "Invalid KC-API-TIMESTAMP: request expired "
                           "(more than 5 s from server time)", 401)
        version = headers.get(kc.HDR_KEY_VERSION, "1")
        if version not in kc.SUPPORTED_KEY_VERSIONS:
            raise SimError(kc.ERR_KEY_VERSION, "Invalid KC-API-KEY-VERSION", 401)
        creds = key.credentials
        if not signing.verify_passphrase(passphrase, creds.secret, creds.passphrase, version):
            raise SimError(kc.ERR_PASSPHRASE, "Invalid KC-API-PASSPHRASE", 401)
        if not signing.verify(sig, creds.secret, ts, method, path_with_query, body):
            raise SimError(kc.ERR_SIGNATURE, "Invalid KC-API-SIGN", 401)
        return key
