#!/usr/bin/env python3
"""Memory at idle and after load: does RSS come back once the load stops?

Per backend (SQLite by default; --pg for PostgreSQL on a throw-away database, --both for both),
against the release binary:

  1. start the server; idle RSS (VmRSS) --idle-wait seconds after it is ready (as bench/run.py
     reads it): target <= 17 MB;
  2. seed 100 projects, wait --settle seconds, read the pre-load RSS (median of three readings a
     second apart);
  3. the loads of issue 19, one after the other: wrk GET /api/v1/projects (100 rows) and
     ?limit=10 at 32 connections, wrk POST /api/v1/projects at 16 and 32 connections, wrk
     POST /api/v1/events at 32 connections, and two artifact uploads;
  4. stop, then sample VmRSS every second for --after seconds (60). The figure is RSS at the
     end over the pre-load RSS: target <= 1.10 (no growth that stays).

RSS is also sampled every second during the load (peak, curve). The raw samples, thread counts
and /proc/PID/smaps_rollup before and after go into the JSON report.

Usage:  python3 bench/memory.py --binary PATH [--pg | --both] [--label after] [--json out.json]

Python 3.11 standard library, `wrk`, `psql` for PostgreSQL. Helpers come from bench/run.py.
See docs/benchmarks.md, "Memory soak".
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py)

TARGET_IDLE_RSS_MB = run.TARGET_IDLE_RSS_MB
TARGET_AFTER_LOAD = 1.10
UPLOAD_BYTES = 16 << 20
UPLOADS = 2


def rss_mb(pid: int) -> float | None:
    kb = run.read_status_kb(pid, "VmRSS")
    return round(kb / 1024, 2) if kb is not None else None


def smaps_rollup(pid: int) -> dict:
    """The kB figures of /proc/PID/smaps_rollup (Rss, Pss_Anon, Pss_File, ...)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                out[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return out


class Sampler:
    """VmRSS every `interval` seconds on a thread, as (seconds since start, MB)."""

    def __init__(self, pid: int, interval: float = 1.0):
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _run(self) -> None:
        next_at = self._t0
        while not self._stop.is_set():
            self.samples.append((round(time.monotonic() - self._t0, 2), rss_mb(self.pid)))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def call(base: str, key: str, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
    host, port = base.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"X-API-Key": key}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def upload(base: str, key: str, project: str, size: int, name: str) -> float:
    """Streams `size` bytes as an artifact; returns seconds."""
    host, port = base.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    block = os.urandom(1 << 20)
    start = time.perf_counter()
    try:
        conn.putrequest("POST", f"/api/v1/projects/{project}/artifacts?name={name}")
        conn.putheader("X-API-Key", key)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        sent = 0
        while sent < size:
            chunk = block[: min(len(block), size - sent)]
            conn.send(chunk)
            sent += len(chunk)
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    if resp.status != 201:
        raise run.BenchError(f"artifact upload answered {resp.status}: {payload[:300]!r}")
    return time.perf_counter() - start


def run_loads(args: argparse.Namespace, server: run.Server, key: str, pid: int) -> list[dict]:
    common = dict(threads=2, cpus=None, server_pid=pid, duration=args.duration)
    event = {"topic": "tracker/events/bench/memory", "kind": "bench.tick",
             "payload": {"text": "y" * 500}}
    create = json.dumps({"name": "memory bench", "description": "POSTed by bench/memory.py"})
    plan = [
        ("reads", "GET list (100 rows), c=32", run.LIST_PATH, 32, None),
        ("reads", "GET list (10 rows), c=32", run.LIST10_PATH, 32, None),
        ("creates", "POST project, c=16", run.LIST_PATH, 16, create),
        ("creates", "POST project, c=32", run.LIST_PATH, 32, create),
        # Past the bus's queue some answers are 503 BUS_BUSY (backpressure), counted by wrk
        # as non-2xx.
        ("events", "POST event, c=32", "/api/v1/events", 32, json.dumps(event)),
    ]
    done = []
    for kind, label, path, conns, body in plan:
        if kind not in args.loads:
            continue
        r = run.run_wrk(args.wrk, server.base, path, key, connections=conns, body=body, **common)
        run.log(f"  {label}: {r.requests:,} requests, {r.rps:,.0f}/s, errors {r.error_total}, "
                f"RSS {rss_mb(pid)} MB")
        if r.error_total and kind != "events":
            run.loud(f"{label}: wrk reported errors {r.errors}")
        done.append({"load": label, "requests": r.requests, "rps": round(r.rps, 1),
                     "errors": r.errors, "rss_after_mb": rss_mb(pid)})
    if "uploads" not in args.loads:
        return done
    status, payload = call(server.base, key, "GET", run.LIST_PATH + "?limit=1")
    project = json.loads(payload)["projects"][0]["id"] if status == 200 else None
    if project is None:
        raise run.BenchError(f"no project to upload to ({status}: {payload[:200]!r})")
    for i in range(UPLOADS):
        seconds = upload(server.base, key, project, UPLOAD_BYTES, f"memory-{i}.bin")
        run.log(f"  artifact upload {i + 1}: {UPLOAD_BYTES >> 20} MiB in {seconds:.2f} s, "
                f"RSS {rss_mb(pid)} MB")
        done.append({"load": f"artifact upload {i + 1}", "bytes": UPLOAD_BYTES,
                     "seconds": round(seconds, 3), "rss_after_mb": rss_mb(pid)})
    return done


def measure(args: argparse.Namespace, name: str, workdir: Path, key: str,
            database_url: str | None, servers: list) -> dict:
    run.log(f"--- {name}: starting {args.binary}")
    server = run.Server(binary=args.binary, api_key=key, data_dir=workdir / f"data-{name}",
                        database_url=database_url)
    servers.append(server)
    ready_s = server.start()
    pid = server.proc.pid
    time.sleep(args.idle_wait)
    idle = rss_mb(pid)
    idle_threads = run.thread_count(pid)
    idle_smaps = smaps_rollup(pid)
    time.sleep(max(0.0, 5.0 - args.idle_wait))
    idle_5s = rss_mb(pid)
    run.log(f"{name}: ready after {ready_s * 1000:.0f} ms; idle RSS {idle} MB after "
            f"{args.idle_wait:g} s ({idle_threads} threads), {idle_5s} MB after 5 s")

    run.seed_projects(server, 100)
    time.sleep(args.settle)
    readings = []
    for _ in range(3):
        readings.append(rss_mb(pid))
        time.sleep(1)
    pre = statistics.median(readings)
    pre_threads = run.thread_count(pid)
    run.log(f"{name}: pre-load RSS {pre} MB ({readings}), {pre_threads} threads")

    with Sampler(pid) as during:
        loads = run_loads(args, server, key, pid)
    loaded = rss_mb(pid)
    peak = (run.read_status_kb(pid, "VmHWM") or 0) / 1024
    loaded_threads = run.thread_count(pid)
    run.log(f"{name}: load done, RSS {loaded} MB (peak {peak:.1f} MB), {loaded_threads} "
            f"threads; sampling for {args.after} s")
    with Sampler(pid) as after:
        time.sleep(args.after + 0.5)
    samples = [(t, mb) for t, mb in after.samples if t <= args.after + 0.25]
    end = samples[-1][1]
    after_smaps = smaps_rollup(pid)
    after_threads = run.thread_count(pid)
    rc = server.stop()
    servers.remove(server)
    ratio = end / pre if end and pre else None
    run.log(f"{name}: RSS {args.after} s after load {end} MB = x{ratio:.3f} of pre-load "
            f"({after_threads} threads); server exit code {rc}")
    return {
        "backend": name,
        "ready_ms": round(ready_s * 1000, 1),
        "idle_rss_mb": idle,
        "idle_rss_5s_mb": idle_5s,
        "idle_threads": idle_threads,
        "idle_smaps_rollup_kb": idle_smaps,
        "pre_load_rss_mb": pre,
        "pre_load_readings_mb": readings,
        "pre_load_threads": pre_threads,
        "loads": loads,
        "rss_at_load_end_mb": loaded,
        "peak_rss_mb": round(peak, 2),
        "threads_at_load_end": loaded_threads,
        "rss_after_load_mb": end,
        "after_over_pre_load": round(ratio, 4) if ratio else None,
        "after_over_idle": round(end / idle, 4) if end and idle else None,
        "threads_after": after_threads,
        "after_smaps_rollup_kb": after_smaps,
        "rss_during_load": during.samples,
        "rss_after_load": samples,
        "idle_hit": idle is not None and idle <= TARGET_IDLE_RSS_MB,
        "after_load_hit": ratio is not None and ratio <= TARGET_AFTER_LOAD,
        "exit_code": rc,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", type=Path, help="server binary; default: build the release one")
    p.add_argument("--label", default="", help="names the binary in the report (before, after)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pg", action="store_true", help="PostgreSQL only")
    g.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk load")
    p.add_argument("--idle-wait", type=float, default=1.0,
                   help="seconds after ready before reading idle RSS (as bench/run.py)")
    p.add_argument("--settle", type=float, default=5.0,
                   help="seconds after seeding before the pre-load readings")
    p.add_argument("--after", type=int, default=60, help="seconds sampled after the load")
    p.add_argument("--loads", default="reads,creates,events,uploads",
                   type=lambda v: [x for x in v.split(",") if x],
                   help="which loads to run, comma-separated (for attributing growth)")
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.wrk = shutil.which(args.wrk)
    if not args.wrk:
        print("wrk is required (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    args.binary = (args.binary or run.build_binary()).resolve()
    backends = ["postgres"] if args.pg else ["sqlite", "postgres"] if args.both else ["sqlite"]
    key = secrets.token_hex(24)
    report: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "label": args.label, "binary": str(args.binary), "git": run.git_info(),
        "machine": run.machine_info(),
        "config": {"duration_s": args.duration, "idle_wait_s": args.idle_wait,
                   "settle_s": args.settle, "after_s": args.after, "loads": args.loads,
                   "uploads": UPLOADS, "upload_bytes": UPLOAD_BYTES},
        "targets": {"idle_rss_mb": TARGET_IDLE_RSS_MB, "after_over_pre_load": TARGET_AFTER_LOAD},
        "backends": [],
    }
    servers: list[run.Server] = []
    pg: run.PgDatabase | None = None
    workdir = Path(tempfile.mkdtemp(prefix="taylordash-memory-"))
    rc = 0
    try:
        for name in backends:
            url = None
            if name == "postgres":
                pg = run.PgDatabase(os.environ.get("TAYLORDASH_BENCH_PG_URL", run.DEFAULT_PG_BASE))
                report["postgres_version"] = pg.server_version()
                pg.create()
                url = pg.url
            report["backends"].append(measure(args, name, workdir, key, url, servers))
            if pg is not None:
                pg.drop()
                pg = None
        report["machine"]["loadavg_at_end"] = list(os.getloadavg())
    except run.BenchError as e:
        run.loud(f"benchmark failed: {e}")
        rc = 1
    finally:
        for server in list(servers):
            server.stop()
        if pg is not None:
            pg.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    verdict = {True: "HIT", False: "MISS"}
    for b in report["backends"]:
        print(f"{args.label or args.binary} {b['backend']}: idle RSS {b['idle_rss_mb']} MB "
              f"(target <= {TARGET_IDLE_RSS_MB:g}: {verdict[b['idle_hit']]}); pre-load "
              f"{b['pre_load_rss_mb']} MB, peak {b['peak_rss_mb']} MB, {args.after} s after load "
              f"{b['rss_after_load_mb']} MB = x{b['after_over_pre_load']} (target <= "
              f"x{TARGET_AFTER_LOAD:.2f}: {verdict[b['after_load_hit']]}); load average "
              f"{report['machine'].get('loadavg_at_end')}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
