#!/usr/bin/env python3
"""Memory soak: 10 minutes of mixed load against the release binary; RSS must settle.

The load, all at once for --minutes (default 10):

  * reads: wrk GET /api/v1/projects (100 projects) on 8 connections;
  * writes: a client creating, updating and deleting projects, components and tasks;
  * ingest: events POSTed to /api/v1/events at --events-per-s (default 200);
  * streams: --streams SSE clients on /api/v1/events/stream (default 50), each reconnecting
    every 30-90 s, so stream setup and teardown are exercised too;
  * bad input: malformed JSON, unknown ids, unparseable requests, oversized queries;
  * admin work: a backup every 60 s (kept to the configured number) and log/audit queries.

RSS (VmRSS) is sampled every 5 s. The figure is RSS at the end over RSS after the first minute
(the baseline, measured in the same run): target <= 1.20.

Usage:  python3 bench/soak.py [--binary PATH] [--minutes 10] [--json out.json]

Python 3.11 standard library, `wrk`. See docs/benchmarks.md, "Memory soak".
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py)

TARGET_GROWTH = 1.20


class Client:
    """One keep-alive connection with the API key; reconnects when the server closes it."""

    def __init__(self, base: str, key: str):
        self.host, port = base.split(":")
        self.port = int(port)
        self.key = key
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: object | None = None,
             raw: bytes | None = None) -> tuple[int, bytes]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"X-API-Key": self.key}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class Load:
    def __init__(self, base: str, key: str, stop: threading.Event):
        self.base, self.key, self.stop = base, key, stop
        self.counts: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, name: str, status: int | None = None) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            if status is not None and status >= 500:
                self.errors[f"{name} {status}"] = self.errors.get(f"{name} {status}", 0) + 1

    def guarded(self, work, *args) -> None:
        """Runs one load thread; a failure while the run is on counts as an error."""
        try:
            work(*args)
        except (OSError, http.client.HTTPException, ValueError) as e:
            if not self.stop.is_set():
                with self.lock:
                    key = f"{work.__name__} failed: {type(e).__name__}"
                    self.errors[key] = self.errors.get(key, 0) + 1

    def writes(self) -> None:
        c = Client(self.base, self.key)
        while not self.stop.is_set():
            s, b = c.call("POST", "/api/v1/projects",
                          {"name": f"soak {secrets.token_hex(4)}", "description": "x" * 200})
            self.count("project create", s)
            if s != 201:
                continue
            pid = json.loads(b)["id"]
            s, b = c.call("POST", f"/api/v1/projects/{pid}/components",
                          {"name": "db", "type": "service", "metadata": {"k": "v" * 100}})
            self.count("component create", s)
            if s == 201:
                cid = json.loads(b)["id"]
                for i in range(3):
                    s, _ = c.call("POST", f"/api/v1/components/{cid}/tasks", {"name": f"t{i}"})
                    self.count("task create", s)
            s, _ = c.call("PUT", f"/api/v1/projects/{pid}", {"description": "updated"})
            self.count("project update", s)
            s, _ = c.call("DELETE", f"/api/v1/projects/{pid}")
            self.count("project delete", s)

    def ingest(self, per_s: int) -> None:
        c = Client(self.base, self.key)
        interval = 1.0 / per_s
        next_at = time.monotonic()
        n = 0
        while not self.stop.is_set():
            n += 1
            s, _ = c.call("POST", "/api/v1/events", {
                "topic": f"tracker/events/soak/{n % 20}",
                "kind": "soak.tick",
                "payload": {"n": n, "text": "y" * random.randint(10, 2000)},
            })
            self.count("event publish", s)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def stream(self) -> None:
        host, port = self.base.split(":")
        while not self.stop.is_set():
            lifetime = random.uniform(30, 90)
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
                conn.request("GET", "/api/v1/events/stream?topic=tracker/events/%23",
                             headers={"X-API-Key": self.key, "Accept": "text/event-stream"})
                resp = conn.getresponse()
                self.count("stream open", resp.status)
                end = time.monotonic() + lifetime
                while time.monotonic() < end and not self.stop.is_set():
                    try:
                        if not resp.read1(65536):
                            break
                    except socket.timeout:
                        continue
                conn.close()
            except (OSError, http.client.HTTPException):
                self.count("stream error")
                time.sleep(1)

    def bad_input(self) -> None:
        c = Client(self.base, self.key)
        host, port = self.base.split(":")
        while not self.stop.is_set():
            s, _ = c.call("POST", "/api/v1/projects", raw=b'{"name": ')
            self.count("bad json", s)
            s, _ = c.call("GET", f"/api/v1/projects/{'0' * 8}-0000-0000-0000-{'0' * 12}")
            self.count("unknown id", s)
            s, _ = c.call("GET", "/api/v1/projects?search=" + "z" * 4000)
            self.count("long search", s)
            s, _ = c.call("POST", "/api/v1/projects", {"name": "a\u202eb"})
            self.count("bad name", s)
            try:
                with socket.create_connection((host, int(port)), timeout=5) as raw:
                    raw.sendall(b"GARBAGE\r\n\r\n")
                    raw.recv(4096)
                self.count("unparseable")
            except OSError:
                self.count("unparseable error")
            time.sleep(0.02)

    def admin(self) -> None:
        c = Client(self.base, self.key)
        last_backup = 0.0
        while not self.stop.is_set():
            if time.monotonic() - last_backup >= 60:
                s, body = c.call("POST", "/api/v1/admin/backups")
                self.count(f"backup {s}", s)
                if s not in (201, 409):  # 409: the previous one is still being taken
                    with self.lock:
                        key = f"backup {s}: {body[:160]!r}"
                        self.errors[key] = self.errors.get(key, 0) + 1
                last_backup = time.monotonic()
            for path in ("/api/v1/logs?limit=200", "/api/v1/logs/stats?hours=1",
                         "/api/v1/audit?limit=100", "/api/v1/events?limit=200",
                         "/api/v1/dlq?limit=50", "/metrics"):
                s, _ = c.call("GET", path)
                self.count("admin read", s)
            self.stop.wait(1)


def rss_mb(pid: int) -> float:
    return (run.read_status_kb(pid, "VmRSS") or 0) / 1024


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", type=Path, help="server binary; default: build the release one")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--streams", type=int, default=50)
    p.add_argument("--events-per-s", type=int, default=200)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    wrk = run.shutil.which("wrk")
    if not wrk:
        print("wrk is required (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    binary = args.binary or run.build_binary()
    key = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="td-soak-") as tmp:
        server = run.Server(binary=binary, api_key=key, data_dir=Path(tmp) / "data")
        server.start()
        try:
            run.seed_projects(server, 100)
            pid = server.proc.pid
            stop = threading.Event()
            load = Load(server.base, key, stop)
            work = [(load.writes,), (load.ingest, args.events_per_s), (load.bad_input,),
                    (load.admin,)] + [(load.stream,)] * args.streams
            threads = [threading.Thread(target=load.guarded, args=w, daemon=True) for w in work]
            total_s = args.minutes * 60
            reads = run.subprocess.Popen(
                [wrk, "-t1", "-c8", f"-d{int(total_s)}s", "-s", str(run.WRK_SCRIPT),
                 f"http://{server.base}{run.LIST_PATH}"],
                env={**run.os.environ, "TAYLORDASH_BENCH_API_KEY": key},
                stdout=run.subprocess.PIPE, stderr=run.subprocess.STDOUT, text=True)
            for t in threads:
                t.start()
            start = time.monotonic()
            samples: list[tuple[float, float]] = []
            while (elapsed := time.monotonic() - start) < total_s:
                samples.append((round(elapsed, 1), round(rss_mb(pid), 1)))
                if len(samples) % 12 == 0:
                    run.log(f"{elapsed / 60:4.1f} min: RSS {samples[-1][1]:.1f} MB")
                if server.proc.poll() is not None:
                    raise run.BenchError(f"server exited:\n{server.tail_log()}")
                time.sleep(5)
            stop.set()
            reads_out, _ = reads.communicate(timeout=60)
            for t in threads:
                t.join(timeout=10)
            samples.append((round(time.monotonic() - start, 1), round(rss_mb(pid), 1)))
            peak = (run.read_status_kb(pid, "VmHWM") or 0) / 1024
        finally:
            rc = server.stop()
    baseline = next(rss for t, rss in samples if t >= 60)
    end = samples[-1][1]
    growth = end / baseline
    bench = next((json.loads(line[len("BENCH_JSON "):]) for line in reads_out.splitlines()
                  if line.startswith("BENCH_JSON ")), {})
    report = {
        "binary": str(binary), "git": run.git_info(), "machine": run.machine_info(),
        "minutes": args.minutes, "streams": args.streams, "events_per_s": args.events_per_s,
        "rss_after_1_min_mb": baseline, "rss_end_mb": end, "peak_rss_mb": round(peak, 1),
        "end_over_1_min": round(growth, 3), "target": TARGET_GROWTH,
        "hit": growth <= TARGET_GROWTH, "requests": load.counts, "server_errors": load.errors,
        "list_reads": bench.get("requests"), "exit_code": rc, "rss_samples": samples,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(f"\nRSS after 1 min {baseline:.1f} MB, at the end {end:.1f} MB "
          f"(x{growth:.2f}; target <= x{TARGET_GROWTH:.2f}: {'HIT' if report['hit'] else 'MISS'}), "
          f"peak {peak:.1f} MB")
    print("requests:", ", ".join(f"{k} {v}" for k, v in sorted(load.counts.items())),
          f"list reads {bench.get('requests')}")
    if load.errors:
        print("5xx answers:", load.errors)
    return 0 if report["hit"] and not load.errors and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
