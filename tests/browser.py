"""Serving the app and driving Debian's Chromium with Playwright (no browser download)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def require_chromium() -> None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package "
                    "(./dev test does this as root, .ci/run always does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(env: dict[str, str] | None = None, timeout_s: float = 60.0):
    """``panel serve app.py`` on a free loopback port; yields (url, process, seconds to HTTP 200).

    The server's output goes to a temporary log whose tail is shown if it fails to start."""
    port = free_port()
    cmd = [sys.executable, "-m", "panel", "serve", str(ROOT / "app.py"), "--address", "127.0.0.1",
           "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}", "--num-procs", "1",
           "--log-level", "info"]
    url = f"http://127.0.0.1:{port}/app"
    with tempfile.TemporaryFile("w+") as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            _wait_http(url, proc, log, started, timeout_s)
            proc.log_tail = lambda n=4000: _tail(log, n)  # for failure messages
            yield url, proc, time.monotonic() - started
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _tail(log, n: int) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-n:]


def _wait_http(url: str, proc: subprocess.Popen, log, started: float, timeout_s: float) -> None:
    while True:
        if proc.poll() is not None or time.monotonic() - started > timeout_s:
            log.seek(0)
            tail = log.read()[-3000:]
            raise RuntimeError(f"panel serve did not come up (exit {proc.poll()}):\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
