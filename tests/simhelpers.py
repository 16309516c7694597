"""Test-side helpers for talking to the simulator over real HTTP/WebSocket.

Signing uses ``dashboard.kucoin.protocol.signing``, which is itself pinned by the known-answer
vectors in test_signing.py; the KuCoin client of issue 3 is deliberately not used here.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from dashboard.kucoin.protocol.signing import Credentials


class Rest:
    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, creds: Credentials | None = None
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.creds = creds

    async def call(
        self, method: str, path: str, body: dict | str | None = None, *,
        signed: bool | None = None, headers: dict[str, str] | None = None,
        ts_ms: int | None = None,
    ) -> tuple[int, dict, Any]:
        """Send one request; returns (HTTP status, response headers, decoded JSON body)."""
        text = "" if body is None else (
            body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        )
        hdrs = {"Content-Type": "application/json"}
        if signed if signed is not None else self.creds is not None:
            hdrs.update(
                self.creds.headers(ts_ms or time.time_ns() // 1_000_000, method, path, text)
            )
        hdrs.update(headers or {})
        from yarl import URL

        url = URL(self.base_url + path, encoded=True)
        async with self.session.request(
            method, url, data=text.encode() if text else None, headers=hdrs
        ) as r:
            raw = await r.text()
            return r.status, dict(r.headers), json.loads(raw)

    async def ok(self, method: str, path: str, body: dict | None = None, **kw) -> Any:
        status, _, payload = await self.call(method, path, body, **kw)
        assert payload.get("code") == "200000", (status, payload)
        return payload["data"]


class Ws:
    """A raw KuCoin WebSocket session: bullet, connect, welcome, then frames as dicts."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, connect_id: str) -> None:
        self.ws = ws
        self.connect_id = connect_id

    @classmethod
    async def connect(cls, rest: Rest, private: bool = False, connect_id: str = "test-conn") -> Ws:
        path = "/api/v1/bullet-private" if private else "/api/v1/bullet-public"
        data = await rest.ok("POST", path, signed=private)
        server = data["instanceServers"][0]
        ws = await rest.session.ws_connect(
            f"{server['endpoint']}?token={data['token']}&connectId={connect_id}"
        )
        self = cls(ws, connect_id)
        welcome = await self.recv()
        assert welcome == {"id": connect_id, "type": "welcome"}, welcome
        return self

    async def send(self, payload: dict | str) -> None:
        await self.ws.send_str(payload if isinstance(payload, str) else json.dumps(payload))

    async def recv(self, timeout_s: float = 5.0) -> dict:
        msg = await asyncio.wait_for(self.ws.receive(), timeout_s)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        return json.loads(msg.data)

    async def recv_until(self, predicate, timeout_s: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(frame):
                return frame

    async def subscribe(self, topic: str, req_id: str = "1", private: bool = False) -> dict:
        await self.send({"id": req_id, "type": "subscribe", "topic": topic,
                         "privateChannel": private, "response": True})
        return await self.recv_until(
            lambda f: f.get("id") == req_id and f["type"] in ("ack", "error")
        )

    async def close(self) -> None:
        await self.ws.close()
