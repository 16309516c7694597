"""Settings from the environment: modes, keys, safety defaults, clear errors, no secrets in repr."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.config import SettingsError, settings_from_env

KEYS = {"KUCOIN_API_KEY": "k-123456789", "KUCOIN_API_SECRET": "s3cr3t-value", "KUCOIN_API_PASSPHRASE": "pass-word"}


def test_defaults_are_sim_with_trading():
    """No environment: the embedded simulator, paper trading on, a notional cap set."""
    s = settings_from_env({})
    assert (s.mode, s.trading_enabled, s.credentials, s.book_source) == ("sim", True, None, "level2")
    assert s.max_notional == Decimal("50000") and "BTC-USDT" in s.symbols


def test_live_trading_needs_explicit_enable():
    """Live mode keeps order entry off unless KUCOIN_ENABLE_TRADING=1."""
    assert settings_from_env({"KUCOIN_MODE": "live", **KEYS}).trading_enabled is False
    assert settings_from_env({"KUCOIN_MODE": "live", "KUCOIN_ENABLE_TRADING": "1", **KEYS}).trading_enabled is True


def test_mode_from_args():
    """``panel serve app.py --args live`` selects live mode."""
    assert settings_from_env({}, args=["live"]).mode == "live"


@pytest.mark.parametrize(("env", "match"), [
    ({"KUCOIN_MODE": "paper"}, "KUCOIN_MODE"),
    ({"KUCOIN_API_KEY": "only-the-key"}, "all three"),
    ({"KUCOIN_BOOK_SOURCE": "depth20"}, "KUCOIN_BOOK_SOURCE"),
    ({"KUCOIN_MODE": "replay"}, "KUCOIN_REPLAY=path"),
    ({"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": "x.rec", "KUCOIN_REPLAY_SPEED": "fast"}, "KUCOIN_REPLAY_SPEED"),
    ({"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": "x.rec", "KUCOIN_REPLAY_SPEED": "-2"}, "KUCOIN_REPLAY_SPEED"),
    ({"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": "x.rec", "KUCOIN_RECORD": "y.rec"}, "KUCOIN_RECORD"),
], ids=["bad-mode", "partial-keys", "bad-book-source", "replay-without-file", "bad-speed", "negative-speed",
        "record-in-replay"])
def test_bad_settings_say_what_to_fix(env, match):
    """Each unusable setting raises SettingsError naming the variable."""
    with pytest.raises(SettingsError, match=match):
        settings_from_env(env)


def test_repr_hides_secrets():
    """Neither the key, the secret nor the passphrase appears in the settings' repr."""
    text = repr(settings_from_env({"KUCOIN_MODE": "live", **KEYS}))
    assert all(v not in text for v in KEYS.values()) and "api_key=set" in text


def test_replay_and_record_settings():
    s = settings_from_env({"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": "/data/a.rec.gz", "KUCOIN_REPLAY_SPEED": "10"})
    assert (s.mode, s.replay_path, s.replay_speed, s.record_path) == ("replay", "/data/a.rec.gz", 10.0, None)
    s = settings_from_env({"KUCOIN_RECORD": "/tmp/b.rec"})
    assert (s.mode, s.record_path) == ("sim", "/tmp/b.rec")
