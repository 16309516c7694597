"""Shared fixtures: paths to the shared KuCoin samples and captures, and an `eventually` helper."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def _find_shared() -> Path:
    for base in (ROOT.parent / "shared", ROOT / "shared", FIXTURES / "shared"):
        if (base / "kucoin" / "protocol.md").exists():
            return base
    return FIXTURES / "shared"


SHARED = _find_shared()
SAMPLES = SHARED / "kucoin" / "samples"


def load_sample(rel: str):
    return json.loads((SAMPLES / rel).read_text())


async def eventually(
    predicate: Callable[[], bool], timeout_s: float = 5.0, interval_s: float = 0.01
) -> None:
    """Wait until predicate() is true; fail with a clear message after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s: {predicate}")
        await asyncio.sleep(interval_s)


@pytest.fixture
def samples_dir() -> Path:
    return SAMPLES


def kucoin_reachable() -> bool:
    """Whether api.kucoin.com answers on 443 here (the live tests skip with a reason if not)."""
    try:
        socket.create_connection(("api.kucoin.com", 443), timeout=3).close()
    except OSError:
        return False
    return True
