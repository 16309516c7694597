"""What the page needs to know about the server's configuration: ``UiOptions``, built by the
composition root (``app.py``) from its settings.

The UI never reads ``dashboard.config`` (which imports the KuCoin protocol): this small value is all
it gets. Imports nothing from ``dashboard``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UiOptions:
    """The page's view of the configuration (no credentials, no URLs, no paths)."""

    symbols: tuple[str, ...]  # the markets offered, in the picker's order; the first is the default
    mode: str = "sim"  # "sim", "live" or "replay", as configured
    trading_enabled: bool = True  # as configured; order entry also needs an account on the hub
    replay_name: str = ""  # replay mode: the recording's file name for the banner (see file_name)

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("UiOptions needs at least one symbol")
        object.__setattr__(self, "replay_name", file_name(self.replay_name))


def file_name(path: str | None) -> str:
    """The last part of ``path``: a file name may reach the page, its directory never does."""
    return (path or "").replace("\\", "/").rsplit("/", 1)[-1]
