"""Load benchmark of the served dashboard: N concurrent Bokeh sessions against one `panel serve`.

The server is the real app (``panel serve app.py --num-procs 1``) with its embedded simulator at a
firehose (``KUCOIN_SIM_RATE``). The sessions are real Bokeh server sessions opened the way a browser
opens them: ``GET /app`` (the server runs app.py and builds the session's document), then a
WebSocket to ``/app/ws`` with the ``bokeh`` subprotocol and the page's token, ``PULL-DOC-REQ``, and
the ``document_ready`` event that BokehJS sends once the page is up. After that each client receives
every ``PATCH-DOC`` the server pushes and counts messages, bytes and update bursts, but does not
decode or render them: on the server this costs exactly what a browser costs (minus the browser's
range traffic, which this app avoids with server-set ranges), and on the client it is cheap enough
that 50-100 sessions fit in one worker process.

Processes (2 cores): the server (one core by design), ``--workers`` client processes (asyncio +
uvloop), and this orchestrator, which samples the server's CPU (``/proc/PID/stat``) and RSS, and
probes the server's event loop lag with a tiny ``GET /`` (a 302 from Tornado) every 100 ms on a
keep-alive connection: its latency is the time the request waits for the loop, plus about a
millisecond of handling.

    .venv/bin/python benchmarks/dashboard_load.py                 # ramp 1,10,25,50,75, ~3 min
    .venv/bin/python benchmarks/dashboard_load.py --sessions 50,75,100 --seconds 20
    .venv/bin/python benchmarks/dashboard_load.py --minutes 10 --churn  # memory run
    .venv/bin/python benchmarks/dashboard_load.py --py-spy /tmp/x.txt   # profile the last step
    .venv/bin/python benchmarks/dashboard_load.py --tree /tmp/patched   # serve DIR/app.py

Side by side in one run (this machine is shared and noisy): each
``--config NAME[@TREE][:VAR=VAL,...]`` is a server started with those environment variables (and
that tree); the configurations are alternated, ``--repeat`` times each (a different one goes first
every round), and one table gives the median per configuration and step, and the change against
the first configuration:

    .venv/bin/python benchmarks/dashboard_load.py --sessions 50 --repeat 3 --config patched \
        --config no-bokeh-patch:DASHBOARD_BOKEH_PATCH=0 --config no-ws-batch:DASHBOARD_WS_BATCH=0 \
        --config stock:DASHBOARD_BOKEH_PATCH=0,DASHBOARD_WS_BATCH=0 --config before@/tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOMINAL_HZ = 10.0  # the issue's "frame": one 10 Hz render cycle of one session
TOKEN_RE = re.compile(r'"token"\s*:\s*"([^"]+)"')
HUB_LAG_RE = re.compile(rb"loop lag\D{0,60}?(\d+) ms")
BURST_GAP_S = 0.015  # messages closer than this belong to one render (session clock: 50 ms)


# ---------------------------------------------------------------- client worker (its own process)
def _bokeh_msg(msgtype: str, content: dict) -> list[str]:
    header = {"msgid": f"{random.getrandbits(48):x}", "msgtype": msgtype}
    return [json.dumps(header), "{}", json.dumps(content)]


DOCUMENT_READY = {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event",
                              "msg_data": {"type": "event", "name": "document_ready",
                                           "values": {"type": "map"}}}]}


class ClientSession:
    """One Bokeh session, opened like a browser opens it; counts what the server sends."""

    def __init__(self, sid: int, probe_hub_lag: bool) -> None:
        self.sid = sid
        self.probe_hub_lag = probe_hub_lag
        self.bytes = self.msgs = self.patches = self.bursts = 0
        self.last_t = 0.0
        self.opened_s: float | None = None  # GET /app -> PULL-DOC-REPLY received
        self.error = ""
        self.closed = False
        self.hub_lag: list[int] = []
        self.ws = None
        self.task: asyncio.Task | None = None

    async def run(self, http, base: str) -> None:
        import orjson
        t0 = time.monotonic()
        try:
            async with http.get(base + "/app") as r:
                page = await r.text()
            token = TOKEN_RE.search(page).group(1)
            ws_url = base.replace("http://", "ws://") + "/app/ws"
            self.ws = ws = await http.ws_connect(ws_url, protocols=("bokeh", token), max_msg_size=0,
                                                 autoping=True, compress=0, heartbeat=None)
            need, header = 0, None  # fragments still expected for the message being assembled
            async for msg in ws:
                data = msg.data
                if not isinstance(data, (str, bytes)):
                    continue
                now = time.monotonic()
                self.bytes += len(data)
                if need == 0:
                    header = orjson.loads(data)
                    need = 2 + 2 * header.get("num_buffers", 0)
                    continue
                if self.probe_hub_lag and isinstance(data, str) and "loop lag" in data:
                    m = HUB_LAG_RE.search(data.encode())
                    if m:
                        self.hub_lag.append(int(m.group(1)))
                need -= 1
                if need:
                    continue
                self.msgs += 1
                kind = header["msgtype"]
                if kind == "PATCH-DOC":
                    self.patches += 1
                    if now - self.last_t > BURST_GAP_S:
                        self.bursts += 1
                    self.last_t = now
                elif kind == "ACK":  # the server is ready for messages (like BokehJS, wait for it)
                    for part in _bokeh_msg("PULL-DOC-REQ", {}):
                        await ws.send_str(part)
                elif kind == "PULL-DOC-REPLY":
                    self.opened_s = now - t0
                    for part in _bokeh_msg("PATCH-DOC", DOCUMENT_READY):
                        await ws.send_str(part)
                elif kind == "ERROR":
                    self.error = "server ERROR message"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported in the stats, the run goes on
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.closed = True

    def snapshot(self) -> dict:
        lag, self.hub_lag = self.hub_lag, []
        return {"sid": self.sid, "bytes": self.bytes, "msgs": self.msgs, "patches": self.patches,
                "bursts": self.bursts, "opened_s": self.opened_s, "error": self.error,
                "closed": self.closed, "hub_lag": lag}


def worker_main(conn, base: str, worker_id: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop
        uvloop.install()
    asyncio.run(_worker(conn, base, worker_id))


async def _worker(conn, base: str, worker_id: int) -> None:
    import aiohttp
    loop = asyncio.get_running_loop()
    sessions: dict[int, ClientSession] = {}
    commands: asyncio.Queue = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        while True:
            cmd, arg = await commands.get()
            if cmd == "open":  # arg: list of session ids
                for sid in arg:
                    s = sessions[sid] = ClientSession(sid, probe_hub_lag=True)
                    s.task = asyncio.create_task(s.run(http, base))
                conn.send(("ok", None))
            elif cmd == "close":  # arg: list of session ids
                for sid in arg:
                    s = sessions.pop(sid, None)
                    if s is not None:
                        if s.ws is not None:
                            await s.ws.close()
                        s.task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await s.task
                conn.send(("ok", None))
            elif cmd == "stats":
                t = os.times()
                snaps = [s.snapshot() for s in sessions.values()]
                conn.send(("stats", {"cpu_s": t.user + t.system, "sessions": snaps}))
            elif cmd == "quit":
                for s in sessions.values():
                    if s.ws is not None:
                        await s.ws.close()
                    s.task.cancel()
                conn.send(("ok", None))
                return


class Workers:
    def __init__(self, n: int, base: str) -> None:
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for i in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(child, base, i), daemon=True)
            p.start()
            self.pipes.append(parent)
            self.procs.append(p)
        self.owner: dict[int, int] = {}  # session id -> worker
        self.next_sid = 0
        self.opened = self.closed = 0

    def _call(self, i: int, cmd: str, arg=None):
        self.pipes[i].send((cmd, arg))
        return self.pipes[i].recv()[1]

    @property
    def open_ids(self) -> list[int]:
        return sorted(self.owner)

    def open(self, n: int) -> None:
        per: dict[int, list[int]] = {}
        for _ in range(n):
            load = {i: 0 for i in range(len(self.pipes))}
            for w in self.owner.values():
                load[w] += 1
            w = min(load, key=load.get)
            self.owner[self.next_sid] = w
            per.setdefault(w, []).append(self.next_sid)
            self.next_sid += 1
        for w, ids in per.items():
            self._call(w, "open", ids)
        self.opened += n

    def close(self, ids: list[int]) -> None:
        per: dict[int, list[int]] = {}
        for sid in ids:
            per.setdefault(self.owner.pop(sid), []).append(sid)
        for w, sids in per.items():
            self._call(w, "close", sids)
        self.closed += len(ids)

    def stats(self) -> tuple[float, dict[int, dict]]:
        cpu, sessions = 0.0, {}
        for i in range(len(self.pipes)):
            st = self._call(i, "stats")
            cpu += st["cpu_s"]
            sessions.update({s["sid"]: s for s in st["sessions"]})
        return cpu, sessions

    def worker_cpu_s(self) -> float:
        return sum(_proc_cpu_s(p.pid) for p in self.procs)

    def quit(self) -> None:
        for i, p in enumerate(self.procs):
            with contextlib.suppress(Exception):
                self._call(i, "quit")
            p.join(5)
            if p.is_alive():
                p.terminate()


# ---------------------------------------------------------------- server, probes, sampling
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _machine_busy_s() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK  # all but idle and iowait


class LagProbe(threading.Thread):
    """``GET /`` (Tornado's 302 to /app) every ``period`` s on a keep-alive connection; latency
    in ms."""

    def __init__(self, port: int, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.port, self.period = port, period
        self.samples: list[tuple[float, float]] = []  # (monotonic, ms)
        self.errors = 0
        self._stop = threading.Event()

    def run(self) -> None:
        conn = None
        nxt = time.monotonic()
        while not self._stop.is_set():
            nxt += self.period
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    conn.connect()
                    t0 = time.monotonic()  # connect is not loop lag
                conn.request("GET", "/")
                conn.getresponse().read()
                self.samples.append((t0, (time.monotonic() - t0) * 1000))
            except Exception:
                self.errors += 1
                conn = None
            self._stop.wait(max(0.0, nxt - time.monotonic()))
            nxt = max(nxt, time.monotonic() - self.period)

    def window(self, t0: float, t1: float) -> list[float]:
        return [ms for t, ms in list(self.samples) if t0 <= t < t1]

    def stop(self) -> None:
        self._stop.set()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(q / 100 * len(v)) - 1))]


@contextlib.contextmanager
def serve(tree: Path, port: int, rate: float, log_path: Path, extra_env: dict | None = None):
    env = {**os.environ, "KUCOIN_SIM_RATE": str(rate), **(extra_env or {})}
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "panel", "serve", str(tree / "app.py"), "--port", str(port),
           "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}",
           "--num-procs", "1"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"panel serve did not come up:\n{log_path.read_text()[-3000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                break
            except OSError:
                time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Meter:
    """Deltas of server CPU, worker CPU, machine CPU and per-session counters between two marks."""

    def __init__(self, server_pid: int, workers: Workers) -> None:
        self.pid, self.workers = server_pid, workers

    def mark(self) -> dict:
        _, sessions = self.workers.stats()
        return {"t": time.monotonic(), "cpu": _proc_cpu_s(self.pid),
                "wcpu": self.workers.worker_cpu_s(), "busy": _machine_busy_s(),
                "rss": _rss_mb(self.pid), "sessions": sessions}


def window_stats(a: dict, b: dict, probe: LagProbe, base_cpu_rate: float) -> dict:
    dt = b["t"] - a["t"]
    ids = [sid for sid in b["sessions"] if sid in a["sessions"]]
    n = len(ids)
    d = {k: [b["sessions"][i][k] - a["sessions"][i][k] for i in ids]
         for k in ("bytes", "msgs", "patches", "bursts")}
    server_cpu = b["cpu"] - a["cpu"]
    worker_cpu = b["wcpu"] - a["wcpu"]
    other = max(0.0, (b["busy"] - a["busy"]) - server_cpu - worker_cpu)
    lag = probe.window(a["t"], b["t"])
    session_cpu_ms = max(0.0, server_cpu - base_cpu_rate * dt) * 1000
    bursts = sum(d["bursts"])
    hub_lag = [x for i in ids for x in b["sessions"][i]["hub_lag"]]
    errors = [s["error"] for s in b["sessions"].values() if s["error"]]
    dead = sum(1 for i in ids if b["sessions"][i]["closed"])
    return {
        "n": n, "dt": dt, "server_pct": 100 * server_cpu / dt, "worker_pct": 100 * worker_cpu / dt,
        "other_pct": 100 * other / dt,
        "ms_per_frame": session_cpu_ms / (n * dt * NOMINAL_HZ) if n else float("nan"),
        "ms_per_update": session_cpu_ms / bursts if bursts else float("nan"),
        "ms_per_msg": session_cpu_ms / sum(d["msgs"]) if n and sum(d["msgs"]) else float("nan"),
        "updates_s": bursts / n / dt if n else 0.0, "msgs_s": sum(d["msgs"]) / n / dt if n else 0.0,
        "kb_s": sum(d["bytes"]) / n / dt / 1024 if n else 0.0,
        "kb_s_min": min(d["bytes"]) / dt / 1024 if n else 0.0,
        "lag50": pct(lag, 50), "lag99": pct(lag, 99), "lagmax": max(lag) if lag else float("nan"),
        "hub_lag_max": max(hub_lag) if hub_lag else float("nan"),
        "rss": b["rss"], "errors": errors, "dead": dead,
    }


def wait_docs(workers: Workers, timeout: float) -> tuple[int, list[float]]:
    """Wait until every open session has its document; returns (sessions ready, open times)."""
    deadline = time.monotonic() + timeout
    while True:
        _, sessions = workers.stats()
        ready = [s["opened_s"] for s in sessions.values() if s["opened_s"] is not None]
        done = sum(1 for s in sessions.values() if s["opened_s"] is not None or s["closed"])
        if done == len(sessions) or time.monotonic() > deadline:
            return len(ready), ready
        time.sleep(0.25)


# ---------------------------------------------------------------- runs
def _fmt(v: float, spec: str) -> str:
    return "-" if v != v else format(v, spec)  # NaN -> '-'


HEAD = (f"{'sessions':>8} {'srv CPU%':>8} {'ms/sess/frame':>13} {'ms/update':>9} {'upd/s':>6} "
        f"{'msgs/s':>6} {'KB/s/sess':>9} {'lag p50':>7} {'lag p99':>7} {'lag max':>7} "
        f"{'hub lag':>7} {'RSS MB':>7} "
        f"{'clients%':>8} {'other%':>6}  verdict")


def row(w: dict) -> str:
    ok = w["lag99"] < 50 and w["server_pct"] < 95 and not w["dead"]
    saturated = w["server_pct"] >= 95 or w["lag99"] >= 200
    verdict = "holds" if ok else ("SATURATED" if saturated else "lag>50ms")
    if w["dead"]:
        verdict += f" ({w['dead']} sessions died)"
    return (f"{w['n']:>8} {w['server_pct']:>8.1f} {_fmt(w['ms_per_frame'], '.3f'):>13} "
            f"{_fmt(w['ms_per_update'], '.3f'):>9} {w['updates_s']:>6.1f} {w['msgs_s']:>6.1f} "
            f"{w['kb_s']:>9.1f} {_fmt(w['lag50'], '.1f'):>7} {_fmt(w['lag99'], '.1f'):>7} "
            f"{_fmt(w['lagmax'], '.0f'):>7} {_fmt(w['hub_lag_max'], '.0f'):>7} {w['rss']:>7.1f} "
            f"{w['worker_pct']:>8.1f} {w['other_pct']:>6.1f}  "
            f"{verdict}")


def baseline(meter: Meter, probe: LagProbe, workers: Workers, seconds: float) -> float:
    """Boot the runtime with one session (the simulator starts with the first session), close it,
    then measure the server with no session: the simulator at the firehose plus the feed. Returns
    CPU-s per s."""
    workers.open(1)
    _, opened = wait_docs(workers, 60)
    print(f"first session: document in {opened[0]:.2f} s (runtime boot + simulator start)" if opened
          else "first session: no document!", flush=True)
    time.sleep(3)
    workers.close(workers.open_ids)
    time.sleep(2)
    a = meter.mark()
    time.sleep(seconds)
    b = meter.mark()
    dt = b["t"] - a["t"]
    rate = (b["cpu"] - a["cpu"]) / dt
    lag = probe.window(a["t"], b["t"])
    print(f"baseline, 0 sessions (simulator + feed at the firehose): server CPU "
          f"{100 * rate:.1f}% of a core, lag p50 {pct(lag, 50):.1f} ms p99 {pct(lag, 99):.1f} ms, "
          f"RSS {b['rss']:.1f} MB", flush=True)
    return rate


def ramp(args, meter: Meter, probe: LagProbe, workers: Workers, base_rate: float,
         pid: int) -> list[dict]:
    results = []
    steps = [int(x) for x in args.sessions.split(",")]
    t_start = time.monotonic()
    print(f"\nramp: {steps} sessions, {args.warmup:.0f} s warm-up + {args.seconds:.0f} s window "
          f"each; RSS/CPU every ~10 s:", flush=True)
    for k, n in enumerate(steps):
        cur = len(workers.open_ids)
        if n > cur:
            workers.open(n - cur)
        elif n < cur:
            workers.close(workers.open_ids[: cur - n])
        t_open = time.monotonic()
        ready, _ = wait_docs(workers, 120)
        open_s = time.monotonic() - t_open
        time.sleep(args.warmup)
        spy = _py_spy(args, pid) if args.py_spy and k == len(steps) - 1 else None
        a = meter.mark()
        t_end = a["t"] + args.seconds
        while time.monotonic() < t_end:
            time.sleep(min(10.0, max(0.0, t_end - time.monotonic())))
            cpu = 100 * (_proc_cpu_s(pid) - a["cpu"]) / max(1e-9, time.monotonic() - a["t"])
            print(f"  t={time.monotonic() - t_start:6.1f}s sessions={n:>4} server CPU {cpu:5.1f}% "
                  f"RSS {_rss_mb(pid):7.1f} MB", flush=True)
        b = meter.mark()
        if spy is not None:
            spy.wait(30)
        w = window_stats(a, b, probe, base_rate)
        w["open_s"], w["ready"] = open_s, ready
        results.append(w)
        print(f"  -> {n} sessions: {ready}/{n} documents in {open_s:.1f} s; "
              + row(w).split(None, 1)[1], flush=True)
        if w["server_pct"] >= 98 and w["lag99"] > 1000:
            print("  server saturated: stopping the ramp", flush=True)
            break
    return results


def _py_spy(args, pid: int) -> subprocess.Popen:
    exe = str(ROOT / ".venv/bin/py-spy") if (ROOT / ".venv/bin/py-spy").exists() else "py-spy"
    fmt = "raw" if args.py_spy.endswith(".txt") else "flamegraph"
    return subprocess.Popen([exe, "record", "-p", str(pid), "-d", str(int(args.seconds)), "-r",
                             "200", "--nonblocking", "-f", fmt, "-o", args.py_spy],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def churn(args, meter: Meter, probe: LagProbe, workers: Workers, base_rate: float,
          pid: int) -> None:
    n, k, every = args.churn_sessions, args.churn_size, args.churn_every
    print(f"\nchurn: about {n} sessions for {args.minutes:g} min; every {every:g} s {k} close and "
          f"{k} open. A row every {args.report_every:g} s:", flush=True)
    print(f"{'t min':>6} {'open':>5} {'opened':>6} {'closed':>6} {'srv CPU%':>8} {'lag p50':>7} "
          f"{'lag p99':>7} {'KB/s/sess':>9} {'RSS MB':>7}", flush=True)
    workers.open(n)
    wait_docs(workers, 120)
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    rss: list[tuple[float, float]] = []
    a = meter.mark()
    next_churn, next_report = t0 + every, t0 + args.report_every
    rnd = random.Random(1)
    while time.monotonic() < end:
        time.sleep(max(0.0, min(next_churn, next_report, end) - time.monotonic()))
        now = time.monotonic()
        if now >= next_churn:
            ids = workers.open_ids
            workers.close(rnd.sample(ids, min(k, len(ids))))
            workers.open(max(0, n - len(workers.open_ids)))
            next_churn += every
        if now >= next_report or now >= end:
            b = meter.mark()
            w = window_stats(a, b, probe, base_rate)
            rss.append(((now - t0) / 60, b["rss"]))
            print(f"{(now - t0) / 60:>6.1f} {len(workers.open_ids):>5} {workers.opened:>6} "
                  f"{workers.closed:>6} {w['server_pct']:>8.1f} {_fmt(w['lag50'], '.1f'):>7} "
                  f"{_fmt(w['lag99'], '.1f'):>7} {w['kb_s']:>9.1f} {b['rss']:>7.1f}", flush=True)
            a = b
            next_report += args.report_every
    _print_rss_slope(args, workers, rss)


def _print_rss_slope(args, workers: Workers, rss: list[tuple[float, float]]) -> None:
    # slope over the second half (the first half includes warm-up: caches, first candles, arenas)
    tail = [p for p in rss if p[0] >= args.minutes / 2] or rss
    if len(tail) < 2:
        return
    slope = statistics.linear_regression([p[0] for p in tail], [p[1] for p in tail]).slope
    whole = statistics.linear_regression([p[0] for p in rss], [p[1] for p in rss]).slope
    print(f"\nRSS: first {rss[0][1]:.1f} MB, max {max(p[1] for p in rss):.1f} MB, last "
          f"{rss[-1][1]:.1f} MB; slope {whole:+.2f} MB/min over the whole run, {slope:+.2f} MB/min "
          f"over the second half ({'flat' if abs(slope) < 1.0 else 'NOT flat'}: target |slope| < 1 "
          f"MB/min); {workers.opened} sessions opened, {workers.closed} closed", flush=True)


def parse_config(text: str) -> tuple[str, Path, dict[str, str]]:
    """``NAME[@TREE][:VAR=VAL,VAR=VAL]`` -> (name, tree, environment)."""
    head, _, assignments = text.partition(":")
    name, _, tree = head.partition("@")
    env = dict(item.split("=", 1) for item in assignments.split(",") if item)
    return name, Path(tree).resolve() if tree else ROOT, env


def compare(args, workers: Workers, port: int, log_path: Path) -> None:
    """Every configuration in turn on the same port, ``--repeat`` rounds, then one table."""
    configs = [parse_config(c) for c in args.config]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
    for r in range(args.repeat):
        k = r % len(configs)
        for name, tree, env in configs[k:] + configs[:k]:  # a different one goes first each round
            print(f"\nround {r + 1}/{args.repeat}: {name} ({tree / 'app.py'}, {env or 'no env'})",
                  flush=True)
            with serve(tree, port, args.rate, log_path, env) as proc:
                probe = LagProbe(port)
                probe.start()
                try:
                    meter = Meter(proc.pid, workers)
                    base_rate = baseline(meter, probe, workers, args.baseline_seconds)
                    rows = ramp(args, meter, probe, workers, base_rate, proc.pid)
                finally:
                    workers.close(workers.open_ids)
                    probe.stop()
            results[name] += [{**w, "base": base_rate} for w in rows]
    print_compare([c[0] for c in configs], results)


def print_compare(names: list[str], results: dict[str, list[dict]]) -> None:
    print(f"\n{'config':<16} {'sessions':>8} {'ms/sess/frame':>13} {'vs first':>8} "
          f"{'ms/update':>9} {'vs first':>8} {'upd/s':>6} {'srv CPU%':>8} {'KB/s/sess':>9} "
          f"{'lag p99':>7} {'other%':>6}  runs (ms/update)")
    keys = ("ms_per_frame", "ms_per_update", "updates_s", "server_pct", "kb_s", "lag99",
            "other_pct")
    for n in sorted({w["n"] for rows in results.values() for w in rows}):
        ref: dict | None = None
        for name in names:
            rows = [w for w in results[name] if w["n"] == n]
            if not rows:
                continue
            med = {k: statistics.median(w[k] for w in rows) for k in keys}
            ref = ref or med
            vs = {k: 100 * (med[k] - ref[k]) / ref[k] for k in ("ms_per_frame", "ms_per_update")}
            runs = " ".join(f"{w['ms_per_update']:.3f}" for w in rows)
            print(f"{name:<16} {n:>8} {med['ms_per_frame']:>13.3f} {vs['ms_per_frame']:>+7.1f}% "
                  f"{med['ms_per_update']:>9.3f} {vs['ms_per_update']:>+7.1f}% "
                  f"{med['updates_s']:>6.1f} {med['server_pct']:>8.1f} {med['kb_s']:>9.1f} "
                  f"{_fmt(med['lag99'], '.1f'):>7} {med['other_pct']:>6.1f}  {runs}", flush=True)
    print("\nmedians over the rounds. ms/sess/frame = (server CPU - its own 0-session baseline) / "
          "(sessions x 10 Hz x s); ms/update = the same CPU per update actually sent (a starved "
          "server sends fewer, so this is the fairer unit when other% is high); 'vs first' "
          "compares with the first configuration", flush=True)


def patch_doc_micro(tree: Path, sessions: int, rounds: int) -> None:
    """In this process, no server: the CPU cost of building one PATCH-DOC message (a depth, ladder
    and tape render) for ``sessions`` real page documents, Bokeh's own ``patch_doc.create`` and the
    reference cache (ui/bokeh_patches.py) alternated ``rounds`` times (best round of each)."""
    sys.path.insert(0, str(tree.resolve()))  # TREE/dashboard, as the served app would import it
    from bokeh.document import Document
    from bokeh.protocol.messages.patch_doc import patch_doc
    from panel.io.state import set_curdoc

    from dashboard.domain.fakes import FakeMarketFeed
    from dashboard.hub import MarketHub
    from dashboard.ui import bokeh_patches
    from dashboard.ui.app import create_app
    from dashboard.ui.options import UiOptions

    assert bokeh_patches.install(), "the reference cache does not install here"
    feed = FakeMarketFeed(["BTC-USDT"], levels=400)
    hub = MarketHub(feed)
    docs = []
    for _ in range(sessions):
        doc = Document()
        with set_curdoc(doc):
            page = create_app(hub, UiOptions(("BTC-USDT",)))
            page.server_doc(doc)
        doc.models.flush_synced()  # as after PULL-DOC-REPLY: the browser has every model
        docs.append((doc, [page.components[k] for k in ("depth", "ladder", "tape")]))
    print(f"\nPATCH-DOC build cost, {sessions} page documents of {len(docs[0][0].models)} models:")
    best = {"stock": math.inf, "cached": math.inf}
    for r in range(2 * rounds):
        feed.step(1)
        hub._build("BTC-USDT")
        batches = []
        for doc, comps in docs:
            doc.hold("collect")
            for comp in comps:
                comp.tick(time.monotonic() + 1e6 + r)
            batches.append(list(doc.callbacks._held_events))
            doc.callbacks._held_events = []
            doc.unhold()
        mode = ("stock", "cached")[r % 2]
        if mode == "cached":  # steady state: the cache outlives a message (rebuilt after stock())
            for doc, _ in docs:
                bokeh_patches.synced_refs(doc.models)
        ctx = bokeh_patches.stock() if mode == "stock" else contextlib.nullcontext()
        with ctx:
            t0 = time.process_time()
            for events in batches:
                patch_doc.create(events)
            per_msg = (time.process_time() - t0) / len(batches) * 1e6
        best[mode] = min(best[mode], per_msg)
    saved = best["stock"] - best["cached"]
    print(f"  stock {best['stock']:.0f} us/message, cached {best['cached']:.0f} us/message: "
          f"{saved:.0f} us saved per message ({100 * saved / best['stock']:.0f}% of the build)")


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--sessions", default="1,10,25,50,75", help="ramp steps (default 1,10,25,50,75)")
    add("--seconds", type=float, default=20.0, help="measured window per step")
    add("--warmup", type=float, default=5.0, help="seconds after the step's documents are in")
    add("--baseline-seconds", type=float, default=8.0)
    add("--rate", type=float, default=5000.0, help="KUCOIN_SIM_RATE, simulator actions/s")
    add("--workers", type=int, default=1, help="client processes")
    add("--minutes", type=float, default=0.0, help="with --churn: length of the memory run")
    add("--churn", action="store_true", help="memory run: sessions come and go (not a ramp)")
    add("--churn-sessions", type=int, default=40, help="sessions kept open during the churn")
    add("--churn-size", type=int, default=3, help="sessions closed and opened at each step")
    add("--churn-every", type=float, default=5.0, help="seconds between churn steps")
    add("--report-every", type=float, default=30.0, help="churn: seconds between rows")
    add("--py-spy", metavar="OUT", help="py-spy record the server during the last ramp step "
        "(OUT.txt = collapsed stacks, else an SVG flame graph)")
    add("--tree", type=Path, default=ROOT, help="serve TREE/app.py with TREE/dashboard")
    add("--port", type=int, default=0)
    add("--keep-log", action="store_true", help="print the path of the server log and keep it")
    add("--config", action="append", metavar="NAME[@TREE][:VAR=VAL,...]",
        help="compare servers side by side (repeatable; see above)")
    add("--repeat", type=int, default=3, help="with --config: rounds over the configurations")
    add("--patch-doc-micro", type=int, metavar="SESSIONS",
        help="no server: PATCH-DOC build cost for SESSIONS page documents, stock vs cached")
    args = p.parse_args()
    if args.churn and not args.minutes:
        args.minutes = 10.0
    return args


def main() -> None:
    args = arguments()
    if args.patch_doc_micro:
        patch_doc_micro(args.tree, args.patch_doc_micro, args.repeat * 5)
        return
    port = args.port or _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkstemp(prefix="loadbench-server-", suffix=".log")[1])
    print(f"dashboard load benchmark: {args.tree / 'app.py'}, KUCOIN_SIM_RATE={args.rate:g}, "
          f"{args.workers} client process(es), {os.cpu_count()} CPUs", flush=True)
    workers = Workers(args.workers, base)  # before any thread exists in this process
    t_run = time.monotonic()
    try:
        if args.config:
            compare(args, workers, port, log_path)
        else:
            one_server(args, workers, port, log_path)
        print(f"wall time {time.monotonic() - t_run:.0f} s")
    finally:
        workers.quit()
        if args.keep_log:
            print(f"server log: {log_path}")
        else:
            log_path.unlink(missing_ok=True)


def one_server(args, workers: Workers, port: int, log_path: Path) -> None:
    t0 = time.monotonic()
    with serve(args.tree.resolve(), port, args.rate, log_path) as proc:
        print(f"server pid {proc.pid} at http://127.0.0.1:{port}/app (up in "
              f"{time.monotonic() - t0:.1f} s)", flush=True)
        probe = LagProbe(port)
        probe.start()
        try:
            meter = Meter(proc.pid, workers)
            base_rate = baseline(meter, probe, workers, args.baseline_seconds)
            if args.churn:
                churn(args, meter, probe, workers, base_rate, proc.pid)
            else:
                print_ramp(ramp(args, meter, probe, workers, base_rate, proc.pid), base_rate)
            if args.py_spy:
                print(f"py-spy profile of the last step: {args.py_spy}")
            print(f"lag probe errors: {probe.errors}")
        finally:
            probe.stop()


def print_ramp(results: list[dict], base_rate: float) -> None:
    print(f"\nserver CPU per session per frame = (server CPU - {100 * base_rate:.1f}% baseline) / "
          f"(sessions x {NOMINAL_HZ:g} Hz x s); ms/update = per burst of messages actually "
          f"received (one session-clock tick that sent something); lag = GET / latency every "
          f"100 ms; hub lag = the hub's own tick lag as shown on the page (max of 1 Hz samples)\n")
    print(HEAD)
    for w in results:
        print(row(w))
    held = [w["n"] for w in results
            if w["lag99"] < 50 and w["server_pct"] < 95 and not w["dead"]]
    best = max(held, default=0)
    print(f"\ntarget: >= 50 sessions on one core with loop lag p99 < 50 ms -> "
          f"{'MET' if best >= 50 else 'NOT MET'} (largest step that held: {best}); "
          f"Bokeh's floor on this machine is about 0.75 ms per session per frame", flush=True)
    errs = sorted({e for w in results for e in w["errors"]})
    if errs:
        print("client errors:", *errs[:5], sep="\n  ")


if __name__ == "__main__":
    main()
