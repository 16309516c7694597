"""Settings from the environment: modes, keys, safety defaults, clear errors, no secrets in repr."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard.config import SettingsError, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
REPLAY = {"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": "x.rec"}
KEYS = {"KUCOIN_API_KEY": "k-123456789", "KUCOIN_API_SECRET": "s3cr3t-value",
        "KUCOIN_API_PASSPHRASE": "pass-word"}


def test_defaults_are_sim_with_trading():
    """No environment: the embedded simulator, paper trading on, a notional cap set."""
    s = settings_from_env({})
    assert (s.mode, s.trading_enabled, s.credentials, s.book_source) == ("sim", True, None,
                                                                         "level2")
    assert s.max_notional == Decimal("50000") and "BTC-USDT" in s.symbols


def test_live_trading_needs_explicit_enable():
    """Live mode keeps order entry off unless KUCOIN_ENABLE_TRADING=1."""
    assert settings_from_env({"KUCOIN_MODE": "live", **KEYS}).trading_enabled is False
    enabled = settings_from_env({"KUCOIN_MODE": "live", "KUCOIN_ENABLE_TRADING": "1", **KEYS})
    assert enabled.trading_enabled is True


def test_mode_from_args():
    """``panel serve app.py --args live`` selects live mode."""
    assert settings_from_env({}, args=["live"]).mode == "live"


@pytest.mark.parametrize(("env", "match"), [
    ({"KUCOIN_MODE": "paper"}, "KUCOIN_MODE"),
    ({"KUCOIN_API_KEY": "only-the-key"}, "all three"),
    ({"KUCOIN_BOOK_SOURCE": "depth20"}, "KUCOIN_BOOK_SOURCE"),
    ({"KUCOIN_MODE": "replay"}, "KUCOIN_REPLAY=path"),
    ({**REPLAY, "KUCOIN_REPLAY_SPEED": "fast"}, "KUCOIN_REPLAY_SPEED"),
    ({**REPLAY, "KUCOIN_REPLAY_SPEED": "-2"}, "KUCOIN_REPLAY_SPEED"),
    ({**REPLAY, "KUCOIN_RECORD": "y.rec"}, "KUCOIN_RECORD"),
], ids=["bad-mode", "partial-keys", "bad-book-source", "replay-without-file", "bad-speed",
        "negative-speed", "record-in-replay"])
def test_bad_settings_say_what_to_fix(env, match):
    """Each unusable setting raises SettingsError naming the variable."""
    with pytest.raises(SettingsError, match=match):
        settings_from_env(env)


@pytest.mark.parametrize(("env", "name", "accepts"), [
    ({"KUCOIN_MAX_NOTIONAL": "abc"}, "KUCOIN_MAX_NOTIONAL", "a positive amount"),
    ({"KUCOIN_MAX_NOTIONAL": "-1"}, "KUCOIN_MAX_NOTIONAL", "a positive amount"),
    ({"KUCOIN_MAX_NOTIONAL": "NaN"}, "KUCOIN_MAX_NOTIONAL", "a positive amount"),
    ({"KUCOIN_SYMBOLS": ","}, "KUCOIN_SYMBOLS", "BASE-QUOTE"),
    ({"KUCOIN_SYMBOLS": "BTC-USDT,btc usdt"}, "KUCOIN_SYMBOLS", "BASE-QUOTE"),
    ({"KUCOIN_SIM_RATE": "-5"}, "KUCOIN_SIM_RATE", "per second >= 0"),
    ({"KUCOIN_SIM_RATE": "inf"}, "KUCOIN_SIM_RATE", "per second >= 0"),
    ({"KUCOIN_MAX_ORDERS_PER_MINUTE": "abc"}, "KUCOIN_MAX_ORDERS_PER_MINUTE", "a whole number"),
    ({"KUCOIN_MAX_ORDERS_PER_MINUTE": "0"}, "KUCOIN_MAX_ORDERS_PER_MINUTE", "a whole number"),
    ({"KUCOIN_CAP_CURRENCY": "us dollars"}, "KUCOIN_CAP_CURRENCY", "a currency code"),
    ({"KUCOIN_REST_URL": "api.kucoin.com"}, "KUCOIN_REST_URL", "an http:// or https:// URL"),
    ({"KUCOIN_ENABLE_TRADING": "yes"}, "KUCOIN_ENABLE_TRADING", "1 (on) or 0 (off)"),
], ids=["cap-not-a-number", "cap-negative", "cap-nan", "symbols-empty", "symbol-malformed",
        "sim-rate-negative", "sim-rate-infinite", "rate-not-a-number", "rate-zero",
        "cap-currency", "rest-url", "enable-trading"])
def test_each_bad_value_is_named_with_what_it_accepts(env, name, accepts):
    """A bad value names its variable, what it accepts and what it got (no 'invalid literal')."""
    with pytest.raises(SettingsError) as info:
        settings_from_env(env)
    (problem,) = info.value.problems
    assert problem.startswith(f"{name} must be ") and accepts in problem
    assert repr(next(iter(env.values())).strip()) in problem


def test_every_problem_is_reported_at_once():
    """Three bad settings give three problems in one error, not one per restart."""
    env = {"KUCOIN_MAX_NOTIONAL": "abc", "KUCOIN_SYMBOLS": ",", "KUCOIN_SIM_RATE": "-5"}
    with pytest.raises(SettingsError) as info:
        settings_from_env(env)
    assert [p.split()[0] for p in info.value.problems] == [
        "KUCOIN_SYMBOLS", "KUCOIN_MAX_NOTIONAL", "KUCOIN_SIM_RATE"]


def test_caps_and_symbols_as_given():
    """A cap in another currency, no cap at all, and symbols upper-cased once each."""
    s = settings_from_env({"KUCOIN_MAX_NOTIONAL": "2.5", "KUCOIN_CAP_CURRENCY": "btc",
                           "KUCOIN_SYMBOLS": "eth-btc, BTC-USDT,ETH-BTC"})
    assert (s.max_notional, s.cap_currency, s.symbols) == (Decimal("2.5"), "BTC",
                                                            ("ETH-BTC", "BTC-USDT"))
    assert settings_from_env({"KUCOIN_MAX_NOTIONAL": "none"}).max_notional is None
    assert settings_from_env({}).cap_currency == "USDT"


def test_repr_hides_secrets():
    """Neither the key, the secret nor the passphrase appears in the settings' repr."""
    text = repr(settings_from_env({"KUCOIN_MODE": "live", **KEYS}))
    assert all(v not in text for v in KEYS.values()) and "api_key=set" in text


def test_replay_and_record_settings():
    s = settings_from_env({"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": "/data/a.rec.gz",
                           "KUCOIN_REPLAY_SPEED": "10"})
    assert (s.mode, s.replay_path, s.replay_speed, s.record_path) == ("replay", "/data/a.rec.gz",
                                                                      10.0, None)
    s = settings_from_env({"KUCOIN_RECORD": "/tmp/b.rec"})
    assert (s.mode, s.record_path) == ("sim", "/tmp/b.rec")


def test_bad_settings_reach_the_page_and_the_log(tmp_path):
    """app.py with KUCOIN_MAX_NOTIONAL=abc and KUCOIN_SYMBOLS=, serves an error page naming both
    (no spinner, no traceback) and logs them once."""
    code = ("import logging, runpy, sys\n"
            "logging.basicConfig(stream=sys.stderr, format='%(levelname)s %(message)s')\n"
            "ns = runpy.run_path('app.py', run_name='dashboard_app')\n"
            "page = ns['main']()\n"
            "print(page.objects[0].object)\n")
    env = {**os.environ, "KUCOIN_MAX_NOTIONAL": "abc", "KUCOIN_SYMBOLS": ",",
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cannot start" in out.stdout and "Traceback" not in out.stderr
    for name in ("KUCOIN_MAX_NOTIONAL must be", "KUCOIN_SYMBOLS must be"):
        assert name in out.stdout
        assert out.stderr.count(name) == 1  # logged once, though main() ran twice
