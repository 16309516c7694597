"""The liquidity view in a real Chromium, served by the project's own ``app.py`` on the embedded
simulator: it paints on the default page, its live edge moves, an injected gap (the simulator's
``/sim/v1/faults``) shows as a shaded period, and at 1280x800 the heatmap and the trading controls
(ticket down to Confirm, kill switch, account tabs) are on screen without scrolling; in replay
mode it builds from the recording."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from .browser import (
    launched_chromium,
    require_chromium,
    served_app,
    set_sim_faults,
    simulator_url,
)
from .test_recording import _record

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
Image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshots")

ARTIFACTS = Path(__file__).resolve().parent.parent / ".pytest_cache"
WIDTH, HEIGHT = 1280, 800
MODEL = "Bokeh.documents[0].get_model_by_name"


@pytest.fixture(scope="module")
def served():
    require_chromium()
    with served_app() as (url, proc, _ready_s):
        yield url, proc


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as b:
        yield b


@pytest.fixture
def page(browser, served):
    """The default page (no ?symbol=) in a 1280x800 window, once the heatmap has a tile."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda msg: msg.type == "error" and pg.console_errors.append(msg.text))
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    pg.goto(served[0])
    pg.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=30_000)
    pg.wait_for_function(f"() => {{ const m = {MODEL}('liq-tiles'); "
                         "return m && m.data.image && m.data.image.length > 0; }", timeout=30_000)
    yield pg
    context.close()


def _newest_column_ms(page) -> float:
    return page.evaluate(f"() => {{ const x = {MODEL}('liq-top').data.x; "
                         "return x[x.length - 1]; }")


def test_heatmap_paints_on_the_default_page(page):
    """A canvas in the liquidity view, and coloured (heat, dots, lines) pixels in its area."""
    page.locator(".liquidity-view canvas").first.wait_for(timeout=10_000)
    page.wait_for_timeout(1500)  # a few columns and a colour scale
    shot = np.asarray(Image.open(io.BytesIO(page.locator(".liquidity-view").screenshot()))
                      .convert("RGB")).astype(int)
    saturated = (shot.max(axis=2) - shot.min(axis=2)) > 80  # the dark theme is all greys
    assert saturated.sum() > 500, saturated.sum()
    assert page.console_errors == []


def test_live_edge_moves(page):
    """The newest column's time grows between two looks, and the x range follows it."""
    first = _newest_column_ms(page)
    page.wait_for_function(f"(first) => {{ const x = {MODEL}('liq-top').data.x; "
                           "return x[x.length - 1] > first; }", arg=first, timeout=10_000)
    assert _newest_column_ms(page) > first
    # the x range follows: it ends past the column seen first
    page.wait_for_function(f"(first) => {MODEL}('liq-x').end > first", arg=first,
                           timeout=10_000)


def test_injected_gap_is_shaded(page, served):
    """Dropped level-2 frames make the feed resync: a shaded period appears, with its legend."""
    url, proc = served
    sim = simulator_url(proc, url)
    before = page.evaluate(f"() => {MODEL}('liq-periods').data.x0.length")
    set_sim_faults(sim, l2_drop=0.3)
    try:
        page.wait_for_function(f"(n) => {MODEL}('liq-periods').data.x0.length > n", arg=before,
                               timeout=30_000)
    finally:
        set_sim_faults(sim, l2_drop=0.0)
    periods = page.evaluate(f"() => {{ const d = {MODEL}('liq-periods').data; "
                            "return {x0: Array.from(d.x0), x1: Array.from(d.x1), "
                            "kind: Array.from(d.kind)}; }")
    assert all(x1 >= x0 for x0, x1 in zip(periods["x0"], periods["x1"], strict=True))
    assert any(k.startswith(("gap", "resync")) for k in periods["kind"]), periods
    page.wait_for_function(f"() => {MODEL}('liq-legend').visible", timeout=5_000)


def test_heatmap_and_trading_controls_fit_1280x800(page):
    """With an order under review, the Confirm button, the kill switch, the account tabs and the
    heatmap are all inside the 1280x800 window (no scrolling)."""
    page.get_by_placeholder("price").fill("1000")
    page.get_by_placeholder("size").fill("0.01")
    page.get_by_role("button", name="Review order").click()
    page.get_by_role("button", name="Confirm").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "liquidity_1280x800.png"))
    boxes = {
        "confirm": page.get_by_role("button", name="Confirm").bounding_box(),
        "kill switch": page.get_by_role("button", name="Kill switch: cancel all and block entry")
        .bounding_box(),
        "account tabs": page.get_by_text("Open orders", exact=True).first.bounding_box(),
        "orders table": page.locator(".open-orders").first.bounding_box(),
        "liquidity": page.locator(".liquidity-view").bounding_box(),
    }
    for name, box in boxes.items():
        assert box is not None, name
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (name, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, (name, box)
    page.get_by_role("button", name="Back").click()


def test_replay_mode_paints_the_recording(browser, tmp_path):
    """A recording served with KUCOIN_MODE=replay: the heatmap builds its columns on the
    recorded clock and the live edge moves as the replay plays."""
    path = tmp_path / "session.rec.gz"
    # in a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(_record(path, seconds=4.0))).result()
    env = {"KUCOIN_MODE": "replay", "KUCOIN_REPLAY": str(path), "KUCOIN_REPLAY_SPEED": "1"}
    with served_app(env) as (url, proc, _):
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        try:
            pg = context.new_page()
            pg.goto(url + "?symbol=ETH-USDT")
            pg.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                                 timeout=30_000)
            pg.wait_for_function(f"() => {{ const m = {MODEL}('liq-top'); "
                                 "return m && m.data.x && m.data.x.length > 2; }",
                                 timeout=30_000)
            first = _newest_column_ms(pg)
            pg.wait_for_function(f"(first) => {{ const x = {MODEL}('liq-top').data.x; "
                                 "return x[x.length - 1] > first; }", arg=first,
                                 timeout=15_000)
            assert pg.evaluate(f"() => {MODEL}('liq-tiles').data.image.length") >= 1
        except Exception:
            print(proc.log_tail())
            raise
        finally:
            context.close()
