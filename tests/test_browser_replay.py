"""Replay mode in a real Chromium: a recording made against the simulator, served with
``KUCOIN_MODE=replay``, shows its books with the REPLAY banner and no order entry."""

from __future__ import annotations

import asyncio

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, served_app
from .test_recording import _record

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")


def _text(page, selector: str) -> str:
    return page.locator(selector).first.evaluate(
        "e => (function walk(n) { let t = ''; "
        "for (const c of (n.shadowRoot ? n.shadowRoot.childNodes : n.childNodes)) "
        "{ t += c.nodeType === 3 ? c.textContent : (c.nodeName === 'STYLE' ? '' : walk(c)); } "
        "return t; })(e)")


def test_replay_mode_serves_the_recording(tmp_path):
    require_chromium()
    path = tmp_path / "session.rec.gz"
    asyncio.run(_record(path, seconds=4.0))
    env = {"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": str(path), "KUCOIN_REPLAY_SPEED": "1"}
    with served_app(env) as (url, proc, _), sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "?symbol=ETH-USDT")
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                                   timeout=30_000)
            page.wait_for_function(
                "() => { const m = Bokeh.documents[0].get_model_by_name('depth-bids'); "
                "return m && m.data.price && m.data.price.length > 0; }", timeout=30_000)
            banner = _text(page, ".mode-banner")
            assert "REPLAY" in banner and "session.rec.gz" in banner and str(tmp_path) not in banner
            assert "replay mode: order entry is off" in _text(page, ".order-ticket")
            assert "replay of session.rec.gz" in _text(page, ".feed-health")
            assert errors == [], errors
        except Exception:
            print(proc.log_tail())
            raise
        finally:
            browser.close()
