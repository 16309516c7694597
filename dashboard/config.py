"""Settings for the dashboard, read once from the environment (and ``panel serve --args``).

Secrets come only from the environment and never appear in repr, logs or pages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from dashboard.kucoin.protocol.signing import Credentials
from dashboard.kucoin.protocol.spot import SPOT_REST_URL

MODES = ("sim", "live", "replay")
DEFAULT_SYMBOLS = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT", "KCS-USDT", "ETH-BTC")


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Settings:
    mode: str = "sim"
    rest_url: str = SPOT_REST_URL  # live mode; sim mode uses the embedded simulator's URL
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    credentials: Credentials | None = field(default=None, repr=False)
    trading_enabled: bool = True  # live trading additionally needs KUCOIN_ENABLE_TRADING=1
    max_orders_per_minute: int = 30
    max_notional: Decimal | None = Decimal("50000")
    sim_rate_per_s: float = 30.0
    sim_seed: int = 1
    replay_path: str | None = None  # KUCOIN_REPLAY: the recording replay mode plays
    replay_speed: float = 1.0  # KUCOIN_REPLAY_SPEED: 1 = recorded pace, 10 = ten times faster, 0 = flat out
    record_path: str | None = None  # KUCOIN_RECORD: sim/live mode also write what the feed receives here
    book_source: str = "level2"  # or "depth50"/"depth5": KuCoin's top-N topics, no full book needed

    def __repr__(self) -> str:
        key = "set" if self.credentials else "none"
        return (f"Settings(mode={self.mode!r}, rest_url={self.rest_url!r}, symbols={self.symbols!r}, "
                f"api_key={key}, trading_enabled={self.trading_enabled})")

    @property
    def live(self) -> bool:
        return self.mode == "live"


def settings_from_env(env: Mapping[str, str] | None = None, args: Sequence[str] = ()) -> Settings:
    """KUCOIN_MODE=sim|live|replay, KUCOIN_SYMBOLS=BTC-USDT,ETH-USDT, KUCOIN_API_KEY/SECRET/PASSPHRASE,
    KUCOIN_ENABLE_TRADING=1 (live only), KUCOIN_MAX_NOTIONAL, KUCOIN_MAX_ORDERS_PER_MINUTE, KUCOIN_SIM_RATE,
    KUCOIN_BOOK_SOURCE=level2|depth50|depth5, KUCOIN_RECORD=file (sim/live: record the feed),
    KUCOIN_REPLAY=file and KUCOIN_REPLAY_SPEED (replay mode).
    ``args`` (from ``panel serve app.py --args live``) may name the mode too."""
    env = os.environ if env is None else env
    mode = env.get("KUCOIN_MODE", "sim").strip().lower()
    for arg in args:
        if arg.lstrip("-") in MODES:
            mode = arg.lstrip("-")
    if mode not in MODES:
        raise SettingsError(f"KUCOIN_MODE must be one of {', '.join(MODES)}, not {mode!r}")
    symbols = tuple(s.strip().upper() for s in env.get("KUCOIN_SYMBOLS", ",".join(DEFAULT_SYMBOLS)).split(",")
                    if s.strip())
    try:
        creds = Credentials.from_env(env)
    except ValueError as exc:  # partial keys, or an unsupported key version: say which
        raise SettingsError(str(exc)) from None
    trading = True if mode != "live" else env.get("KUCOIN_ENABLE_TRADING", "") == "1"
    cap = env.get("KUCOIN_MAX_NOTIONAL", "50000")
    replay_path = env.get("KUCOIN_REPLAY") or None
    if mode == "replay" and not replay_path:
        raise SettingsError("replay mode needs a recording: set KUCOIN_REPLAY=path (record one with "
                            "KUCOIN_RECORD=path, or python -m dashboard.recording record ...)")
    record_path = env.get("KUCOIN_RECORD") or None
    if record_path and mode == "replay":
        raise SettingsError("KUCOIN_RECORD records a sim or live feed; it cannot be used in replay mode")
    try:
        replay_speed = float(env.get("KUCOIN_REPLAY_SPEED", "1"))
    except ValueError:
        replay_speed = -1.0
    if not replay_speed >= 0:
        raise SettingsError("KUCOIN_REPLAY_SPEED must be a number >= 0 (1: recorded pace, 0: as fast as possible)")
    return Settings(
        mode=mode, rest_url=env.get("KUCOIN_REST_URL", SPOT_REST_URL), symbols=symbols, credentials=creds,
        trading_enabled=trading, max_orders_per_minute=int(env.get("KUCOIN_MAX_ORDERS_PER_MINUTE", "30")),
        max_notional=Decimal(cap) if cap else None, sim_rate_per_s=float(env.get("KUCOIN_SIM_RATE", "30")),
        replay_path=replay_path, replay_speed=replay_speed, record_path=record_path, book_source=_book_source(env))


def _book_source(env: Mapping[str, str]) -> str:
    source = env.get("KUCOIN_BOOK_SOURCE", "level2").strip().lower()
    if source not in ("level2", "depth50", "depth5"):
        raise SettingsError(f"KUCOIN_BOOK_SOURCE must be level2, depth50 or depth5, not {source!r}")
    return source
