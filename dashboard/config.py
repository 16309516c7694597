"""Settings for the dashboard, read once from the environment (and ``panel serve --args``).

Every variable is validated here, at start-up: a bad value is never half-used later. All the
problems found are reported together in one ``SettingsError``, each naming the variable, what it
accepts and what it got; ``app.py`` shows them on the page and in the log. Secrets come only from
the environment and never appear in repr, logs or pages. Imports ``kucoin.protocol`` only (for the
credentials and the default URL); the UI and the hub never import this module.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from dashboard.kucoin.protocol.signing import Credentials
from dashboard.kucoin.protocol.spot import SPOT_REST_URL

MODES = ("sim", "live", "replay")
BOOK_SOURCES = ("level2", "depth50", "depth5")
DEFAULT_SYMBOLS = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT", "KCS-USDT",
                   "ETH-BTC")
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}")
_CURRENCY = re.compile(r"[A-Z0-9]{2,20}")


class SettingsError(ValueError):
    """Settings that cannot be used; ``problems`` says which and how to fix each, one per line."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class Settings:
    mode: str = "sim"
    rest_url: str = SPOT_REST_URL  # live mode; sim mode uses the embedded simulator's URL
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    credentials: Credentials | None = field(default=None, repr=False)
    trading_enabled: bool = True  # live trading additionally needs KUCOIN_ENABLE_TRADING=1
    max_orders_per_minute: int = 30
    max_notional: Decimal | None = Decimal("50000")  # per order, in cap_currency
    cap_currency: str = "USDT"  # KUCOIN_CAP_CURRENCY: the one currency every cap is valued in
    sim_rate_per_s: float = 30.0
    sim_seed: int = 1
    replay_path: str | None = None  # KUCOIN_REPLAY: the recording replay mode plays
    replay_speed: float = 1.0  # KUCOIN_REPLAY_SPEED: 1 = recorded pace, 10 = 10x, 0 = flat out
    record_path: str | None = None  # KUCOIN_RECORD: sim/live mode also record the feed here
    book_source: str = "level2"  # or "depth50"/"depth5": KuCoin's top-N topics

    def __repr__(self) -> str:
        key = "set" if self.credentials else "none"
        return (f"Settings(mode={self.mode!r}, rest_url={self.rest_url!r}, "
                f"symbols={self.symbols!r}, api_key={key}, trading_enabled={self.trading_enabled})")

    @property
    def live(self) -> bool:
        return self.mode == "live"


class _Reader:
    """Reads variables, collecting every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def bad(self, name: str, accepts: str, raw: str) -> None:
        self.problems.append(f"{name} must be {accepts}, not {raw!r}")

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        raw = self.env.get(name, default).strip()
        if raw.lower() not in choices:
            self.bad(name, "one of " + ", ".join(choices), raw)
            return default
        return raw.lower()

    def number(self, name: str, default: str, accepts: str, *, minimum: float,
               integer: bool = False) -> float:
        raw = self.env.get(name, default).strip()
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= minimum):
            self.bad(name, accepts, raw)
            return float(default)
        return value

    def symbols(self) -> tuple[str, ...]:
        raw = self.env.get("KUCOIN_SYMBOLS", ",".join(DEFAULT_SYMBOLS))
        names = [s.strip().upper() for s in raw.split(",") if s.strip()]
        wrong = [s for s in names if not _SYMBOL.fullmatch(s)]
        if not names or wrong:
            self.bad("KUCOIN_SYMBOLS", "one or more KuCoin symbols, BASE-QUOTE, separated by "
                     "commas (e.g. BTC-USDT,ETH-USDT)", raw)
            return DEFAULT_SYMBOLS
        return tuple(dict.fromkeys(names))  # in the order given, each once

    def cap(self) -> Decimal | None:
        raw = self.env.get("KUCOIN_MAX_NOTIONAL", "50000").strip()
        if raw.lower() in ("", "none"):
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        if not (value.is_finite() and value > 0):
            self.bad("KUCOIN_MAX_NOTIONAL", "a positive amount in KUCOIN_CAP_CURRENCY per order "
                     "(e.g. 50000), or none for no cap", raw)
            return Decimal("50000")
        return value

    def currency(self) -> str:
        raw = self.env.get("KUCOIN_CAP_CURRENCY", "USDT").strip()
        if not _CURRENCY.fullmatch(raw.upper()):
            self.bad("KUCOIN_CAP_CURRENCY", "a currency code such as USDT", raw)
            return "USDT"
        return raw.upper()

    def url(self) -> str:
        raw = self.env.get("KUCOIN_REST_URL", SPOT_REST_URL).strip()
        if not re.fullmatch(r"https?://[^\s/]+.*", raw):
            self.bad("KUCOIN_REST_URL", "an http:// or https:// URL", raw)
            return SPOT_REST_URL
        return raw

    def flag(self, name: str) -> bool:
        raw = self.env.get(name, "").strip()
        if raw not in ("", "0", "1"):
            self.bad(name, "1 (on) or 0 (off)", raw)
        return raw == "1"


def settings_from_env(env: Mapping[str, str] | None = None, args: Sequence[str] = ()) -> Settings:
    """KUCOIN_MODE=sim|live|replay, KUCOIN_SYMBOLS=BTC-USDT,ETH-USDT, KUCOIN_REST_URL,
    KUCOIN_API_KEY/SECRET/PASSPHRASE, KUCOIN_ENABLE_TRADING=1 (live only), KUCOIN_MAX_NOTIONAL
    and KUCOIN_CAP_CURRENCY, KUCOIN_MAX_ORDERS_PER_MINUTE, KUCOIN_SIM_RATE,
    KUCOIN_BOOK_SOURCE=level2|depth50|depth5, KUCOIN_RECORD=file (sim/live: record the feed),
    KUCOIN_REPLAY=file and KUCOIN_REPLAY_SPEED (replay mode). ``args`` (from ``panel serve app.py
    --args live``) may name the mode too. Raises SettingsError listing every bad value."""
    read = _Reader(os.environ if env is None else env)
    mode = _mode(read, args)
    creds = _credentials(read)
    replay_path, record_path = _recording(read, mode)
    speed = read.number("KUCOIN_REPLAY_SPEED", "1", "a number >= 0 (1: recorded pace, 0: as fast "
                        "as possible)", minimum=0)
    settings = Settings(
        mode=mode, rest_url=read.url(), symbols=read.symbols(), credentials=creds,
        trading_enabled=read.flag("KUCOIN_ENABLE_TRADING") or mode != "live",
        max_orders_per_minute=int(read.number(
            "KUCOIN_MAX_ORDERS_PER_MINUTE", "30", "a whole number of orders >= 1", minimum=1,
            integer=True)),
        max_notional=read.cap(), cap_currency=read.currency(),
        sim_rate_per_s=read.number("KUCOIN_SIM_RATE", "30", "a number of simulated order-flow "
                                   "actions per second >= 0", minimum=0),
        replay_path=replay_path, replay_speed=speed, record_path=record_path,
        book_source=read.choice("KUCOIN_BOOK_SOURCE", "level2", BOOK_SOURCES))
    if read.problems:
        raise SettingsError(read.problems)
    return settings


def _mode(read: _Reader, args: Sequence[str]) -> str:
    named = [arg.lstrip("-") for arg in args if arg.lstrip("-") in MODES]
    return named[-1] if named else read.choice("KUCOIN_MODE", "sim", MODES)


def _credentials(read: _Reader) -> Credentials | None:
    try:
        return Credentials.from_env(read.env)
    except ValueError as exc:  # partial keys, or an unsupported key version: say which
        read.problems.append(str(exc))
        return None


def _recording(read: _Reader, mode: str) -> tuple[str | None, str | None]:
    replay_path = read.env.get("KUCOIN_REPLAY") or None
    record_path = read.env.get("KUCOIN_RECORD") or None
    if mode == "replay" and not replay_path:
        read.problems.append("replay mode needs a recording: set KUCOIN_REPLAY=path (record one "
                             "with KUCOIN_RECORD=path, or python -m dashboard.recording record)")
    if record_path and mode == "replay":
        read.problems.append("KUCOIN_RECORD records a sim or live feed; it cannot be used in "
                             "replay mode")
    return replay_path, record_path
