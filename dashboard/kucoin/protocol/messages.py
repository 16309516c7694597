"""Builders for KuCoin REST envelopes and WebSocket frames (shared/kucoin/protocol.md §1.3, §6).

Every builder returns plain dicts in KuCoin's own spelling, ready for ``json.dumps``.
"""

from __future__ import annotations

from typing import Any

from .common import (
    SUCCESS_CODE,
    WS_TYPE_ACK,
    WS_TYPE_ERROR,
    WS_TYPE_MESSAGE,
    WS_TYPE_PING,
    WS_TYPE_PONG,
    WS_TYPE_SUBSCRIBE,
    WS_TYPE_UNSUBSCRIBE,
    WS_TYPE_WELCOME,
)


def ok(data: Any) -> dict[str, Any]:
    """Success envelope: ``{"code": "200000", "data": ...}``."""
    return {"code": SUCCESS_CODE, "data": data}


def error(code: str, msg: str) -> dict[str, Any]:
    """Error envelope: ``{"code": "400100", "msg": "..."}`` (code is a string)."""
    return {"code": code, "msg": msg}


def welcome(connect_id: str) -> dict[str, Any]:
    return {"id": connect_id, "type": WS_TYPE_WELCOME}


def ping(request_id: str) -> dict[str, Any]:
    return {"id": request_id, "type": WS_TYPE_PING}


def pong(request_id: str) -> dict[str, Any]:
    return {"id": request_id, "type": WS_TYPE_PONG}


def ack(request_id: str) -> dict[str, Any]:
    """Subscribe/unsubscribe ack; KuCoin echoes the id as a string."""
    return {"id": str(request_id), "type": WS_TYPE_ACK}


def ws_error(request_id: str, code: int, text: str) -> dict[str, Any]:
    """``{"id":"1","type":"error","code":404,"data":"topic does not exist"}`` (code is an int)."""
    return {"id": str(request_id), "type": WS_TYPE_ERROR, "code": code, "data": text}


def subscribe(request_id: str, topic: str, private: bool = False,
              response: bool = True) -> dict[str, Any]:
    return {"id": request_id, "type": WS_TYPE_SUBSCRIBE, "topic": topic, "privateChannel": private,
            "response": response}


def unsubscribe(request_id: str, topic: str, private: bool = False,
                response: bool = True) -> dict[str, Any]:
    return {"id": request_id, "type": WS_TYPE_UNSUBSCRIBE, "topic": topic,
            "privateChannel": private, "response": response}


def push(topic: str, subject: str, data: Any, user_id: str | None = None) -> dict[str, Any]:
    """A data message; private pushes carry ``userId`` and ``channelType: private``."""
    msg: dict[str, Any] = {"type": WS_TYPE_MESSAGE, "topic": topic, "subject": subject,
                           "data": data}
    if user_id is not None:
        msg["userId"] = user_id
        msg["channelType"] = "private"
    return msg


def topic(prefix: str, *args: str) -> str:
    """``/market/level2`` + ("BTC-USDT", "ETH-USDT") -> ``/market/level2:BTC-USDT,ETH-USDT``
    (no spaces)."""
    return f"{prefix}:{','.join(args)}" if args else prefix


def split_topic(full: str) -> tuple[str, list[str]]:
    """``/market/level2:A,B`` -> ("/market/level2", ["A", "B"]); a topic without ':' has no args."""
    prefix, sep, rest = full.partition(":")
    return prefix, (rest.split(",") if sep else [])
