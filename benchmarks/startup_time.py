"""Time from ``panel serve app.py`` to a painted, moving depth chart, in headless Chromium.

Each run starts a fresh ``panel serve app.py`` (a cold process: imports, simulator, feed and hub
all start inside it) and measures from the launch:

* **HTTP 200:** ``GET /app`` answers 200. That request also builds the first session, so it
  includes the runtime's start (the simulator starts with the first session).
* **painted:** a fresh Chromium page on ``/app`` (opened as soon as ``/`` answers, like a user who
  reloads while the server starts) has the depth chart's source with data:
  ``Bokeh.documents[0].get_model_by_name('depth-bids').data.price.length > 0``, and two animation
  frames have passed since (so it is on screen, not only in the model).
* **moving:** the ``depth-bids`` ``cum`` column changed once more after that.

Chromium is launched once, before the server, and is not part of the timing. The target (issue):
under 5 s from ``panel serve app.py`` to a painted, moving depth chart.

    .venv/bin/python benchmarks/startup_time.py              # 3 runs, about 40 s
    .venv/bin/python benchmarks/startup_time.py --runs 5 --rate 5000
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--no-first-run"]
TARGET_S = 5.0

PAINTED_JS = """() => {
  if (!window.Bokeh || !Bokeh.documents || Bokeh.documents.length === 0) return false;
  const m = Bokeh.documents[0].get_model_by_name('depth-bids');
  return !!(m && m.data.price && m.data.price.length > 0);
}"""
CUM_JS = "() => Array.from(Bokeh.documents[0].get_model_by_name('depth-bids').data.cum).join(',')"
RAF2_JS = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(port: int, path: str) -> int | None:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", path)
        status = c.getresponse().status
        c.close()
        return status
    except OSError:
        return None


def one_run(browser, tree: Path, rate: float | None, timeout_s: float) -> dict:
    port = _free_port()
    env = dict(os.environ)
    if rate is not None:
        env["KUCOIN_SIM_RATE"] = str(rate)
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "panel", "serve", str(tree / "app.py"), "--port", str(port),
           "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}",
           "--num-procs", "1"]
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            res: dict = {}
            while _status(port, "/") is None:  # the listening socket (Tornado's 302 to /app)
                if proc.poll() is not None or time.monotonic() - t0 > timeout_s:
                    log.seek(0)
                    raise RuntimeError(f"panel serve did not come up:\n{log.read()[-2000:]}")
                time.sleep(0.02)
            res["listening"] = time.monotonic() - t0
            # the browser's GET /app is the first session: its 200 is the "HTTP 200" time
            resp = page.goto(
                f"http://127.0.0.1:{port}/app", wait_until="commit", timeout=timeout_s * 1000
            )
            res["http200"] = time.monotonic() - t0
            res["status"] = resp.status if resp is not None else None
            page.wait_for_function(PAINTED_JS, timeout=timeout_s * 1000, polling="raf")
            page.evaluate(RAF2_JS)
            res["painted"] = time.monotonic() - t0
            first = page.evaluate(CUM_JS)
            page.wait_for_function(f"(first) => ({CUM_JS})() !== first", arg=first,
                                   timeout=timeout_s * 1000, polling="raf")
            res["moving"] = time.monotonic() - t0
            res["errors"] = errors
            return res
        finally:
            context.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", type=float, default=None,
                   help="KUCOIN_SIM_RATE (default: the app's default, 30)")
    p.add_argument("--tree", type=Path, default=ROOT,
                   help="serve TREE/app.py with TREE/dashboard (a patched copy)")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"startup time: {args.tree / 'app.py'}, KUCOIN_SIM_RATE={args.rate or 'default'}, "
          f"{args.runs} runs, Chromium {CHROMIUM}", flush=True)
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            for i in range(args.runs):
                r = one_run(browser, args.tree.resolve(), args.rate, args.timeout)
                rows.append(r)
                print(f"  run {i + 1}: listening {r['listening']:.2f} s, "
                      f"HTTP {r['status']} {r['http200']:.2f} s, "
                      f"painted {r['painted']:.2f} s, moving {r['moving']:.2f} s"
                      + (f", page errors: {r['errors']}" if r["errors"] else ""), flush=True)
        finally:
            browser.close()
    print(f"\n{'run':>6} {'listening s':>11} {'HTTP 200 s':>10} {'painted s':>9} {'moving s':>8}"
          "  verdict")
    for i, r in enumerate(rows, 1):
        print(f"{i:>6} {r['listening']:>11.2f} {r['http200']:>10.2f} {r['painted']:>9.2f} "
              f"{r['moving']:>8.2f}  {'< 5 s' if r['moving'] < TARGET_S else '>= 5 s'}")
    for label, fn in (("median", statistics.median), ("worst", max)):
        print(f"{label:>6} {fn(r['listening'] for r in rows):>11.2f} "
              f"{fn(r['http200'] for r in rows):>10.2f} "
              f"{fn(r['painted'] for r in rows):>9.2f} {fn(r['moving'] for r in rows):>8.2f}")
    worst = max(r["moving"] for r in rows)
    print(f"\ntarget: panel serve -> painted, moving depth chart under {TARGET_S:g} s -> "
          f"{'MET' if worst < TARGET_S else 'NOT MET'} (worst {worst:.2f} s)")


if __name__ == "__main__":
    main()
