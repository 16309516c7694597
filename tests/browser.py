"""Serving the app and driving Debian's Chromium with Playwright (no browser download)."""

from __future__ import annotations

import contextlib
import json
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


@contextlib.contextmanager
def launched_chromium():
    """Debian's Chromium under Playwright with the project's flags (skips without either)."""
    require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


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


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux /proc: its socket inodes, then the kernel's
    socket tables), so a test can reach a server the process started on a port of its own."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def simulator_url(proc: subprocess.Popen, app_url: str) -> str:
    """The base URL of the simulator embedded in a served app (sim mode): the one port of the
    server process, other than the app's, that answers the simulator's ``/sim/v1/faults``."""
    app_port = int(app_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    for port in sorted(listening_ports(proc.pid) - {app_port}):
        url = f"http://127.0.0.1:{port}"
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/sim/v1/faults",
                                                                  timeout=2) as r:
            if r.status == 200:
                return url
    raise RuntimeError(f"no simulator among the ports of process {proc.pid}")


def set_sim_faults(sim_url: str, **faults: float) -> dict:
    """POST /sim/v1/faults (the simulator's control endpoint); returns its answer."""
    body = json.dumps(faults).encode()
    request = urllib.request.Request(sim_url + "/sim/v1/faults", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())
