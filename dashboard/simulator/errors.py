"""The simulator's one error type: a KuCoin error code, its message and the HTTP status to send."""

from __future__ import annotations


class SimError(Exception):
    """A KuCoin-style failure: rendered as ``{"code": code, "msg": msg}`` with ``http_status``."""

    def __init__(self, code: str, msg: str, http_status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = headers or {}
