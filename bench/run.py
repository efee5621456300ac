#!/usr/bin/env python3
"""TaylorDash loopback benchmark: one command, one run, every headline figure.

Measures, against the release binary on 127.0.0.1:

  * requests/s and p50/p99 latency at 32 connections (wrk) for
      - GET /health/live        (bare handler: the baseline)
      - GET /api/v1/projects?limit=10  (a 10-row page)
      - GET /api/v1/projects    (100 projects seeded through the API: the 100-row page)
    once on SQLite (fresh temporary data directory) and once on PostgreSQL (fresh temporary
    database, dropped at the end);
  * the ratios list rate / bare-handler rate per backend, for both pages (the headline
    figures);
  * durable creates: POST /api/v1/projects at 16 and 32 connections (every 201 a committed,
    synced transaction), as ratios to v1's 142 creates/s, to the bare handler, and to the
    disk's ceiling (connections / the latency of one 4 KiB write + fdatasync, measured in the
    same run), and a check that every acknowledged create is stored;
  * idle RSS of the server about a second after it is ready;
  * time from process start to ready with SQLite (median of several starts).

Usage:  python3 bench/run.py [--duration 10] [--json results.json] [--binary PATH]

Python 3.11 standard library only. Needs `wrk` on PATH (Debian: `apt-get install -y wrk`) and,
for the PostgreSQL half, `psql` plus a server reachable at TAYLORDASH_BENCH_PG_URL (default
postgres://postgres@127.0.0.1:5432, trust auth). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WRK_SCRIPT = BENCH_DIR / "report.lua"
POST_SCRIPT = BENCH_DIR / "post.lua"

LIST_PATH = "/api/v1/projects"
LIST10_PATH = LIST_PATH + "?limit=10"
BARE_PATH = "/health/live"
READY_PATH = "/health/ready"

DEFAULT_PG_BASE = "postgres://postgres@127.0.0.1:5432"

# Targets from the issue.
TARGET_LIST10_RATIO = 0.30  # the 10-row list >= 30 % of the bare-handler rate, both backends
TARGET_LIST_RATIO = 0.20  # the 100-row page >= 20 % of the bare-handler rate, both backends
TARGET_IDLE_RSS_MB = 17.0  # issue 19, target 5
TARGET_READY_MS = 300.0
V1_CREATES_PER_S = 142.0  # v1 (Python, PostgreSQL 15) POST /api/v1/projects at 16 connections
TARGET_CREATE_FACTOR = 50.0  # creates >= 50x v1 at 16 and 32 connections, both backends

# Configuration the server could pick up from the caller's environment; cleared so every run
# is configured only by this script.
SERVER_ENV_PREFIXES = ("TAYLORDASH_", "MQTT_", "OTEL_")
SERVER_ENV_NAMES = ("DATABASE_URL", "API_KEY", "ENVIRONMENT")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def loud(msg: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n!! {msg}\n{bar}\n", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- environment


def machine_info() -> dict:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = round(int(line.split()[1]) / 1024)
                break
    except OSError:
        pass
    return {
        "cpus_online": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "mem_total_mb": mem_total_mb,
        "kernel": platform.release(),
        "loadavg_at_start": list(os.getloadavg()),
    }


def git_info() -> dict:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", "crates", "Cargo.toml", "Cargo.lock")
    dirty = [line[3:] for line in status.splitlines() if line.strip()] if status else []
    return {
        "commit": commit.strip() if commit else None,
        # Uncommitted changes under crates/ end up in the measured binary (when it is built here).
        "source_dirty": bool(dirty) if status is not None else None,
        "dirty_files": dirty,
    }


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "unknown"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_status_kb(pid: int, field_name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of a running process, in seconds."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def system_busy_s() -> float:
    """CPU seconds spent not idle, summed over all CPUs, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def thread_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def sync_latency_ms(directory: Path, writes: int = 200) -> dict:
    """The disk's commit floor: 4 KiB written in place, then fdatasync, `writes` times.

    A durable commit needs at least one such sync, so `connections / latency` bounds the
    creates/s a closed loop of that many clients can get (all of them in every sync)."""
    path = directory / "sync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, b"\0" * 4096 * 16, 0)
        os.fsync(fd)
        times = []
        for i in range(writes):
            t0 = time.perf_counter()
            os.pwrite(fd, os.urandom(4096), (i % 16) * 4096)
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"writes": writes, "median_ms": statistics.median(times),
            "mean_ms": statistics.fmean(times)}


# --------------------------------------------------------------------------- build


def build_binary() -> Path:
    """cargo build --release -p taylordash; returns the binary (honours CARGO_TARGET_DIR)."""
    cargo = shutil.which("cargo")
    if not cargo:
        raise BenchError("cargo not found on PATH; install Rust or pass --binary PATH")
    log("building: cargo build --release -p taylordash "
        f"(CARGO_TARGET_DIR={os.environ.get('CARGO_TARGET_DIR', '<default>')})")
    t0 = time.monotonic()
    rc = subprocess.run(
        [cargo, "build", "--release", "-p", "taylordash"], cwd=REPO_ROOT
    ).returncode
    if rc != 0:
        raise BenchError(f"cargo build failed with exit code {rc}")
    log(f"build finished in {time.monotonic() - t0:.0f} s")
    meta = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )
    target_dir = Path(json.loads(meta.stdout)["target_directory"])
    binary = target_dir / "release" / "taylordash"
    if not binary.is_file():
        raise BenchError(f"build succeeded but {binary} does not exist")
    return binary


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    binary: Path
    api_key: str
    data_dir: Path
    database_url: str | None = None
    log_level: str | None = None
    cpus: set[int] | None = None
    port: int = 0
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    ready_after_s: float | None = None
    log_path: Path | None = None
    _log_file: object = None

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(SERVER_ENV_PREFIXES) and k not in SERVER_ENV_NAMES
        }
        env["TAYLORDASH_BIND"] = self.base
        env["TAYLORDASH_DATA_DIR"] = str(self.data_dir)
        env["API_KEY"] = self.api_key
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.log_level:
            env["TAYLORDASH_LOG"] = self.log_level
        return env

    def start(self, timeout_s: float = 60.0, poll_interval_s: float = 0.001) -> float:
        """Spawns the server and polls /health/ready; returns seconds from spawn to ready."""
        self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.data_dir.name}.log"
        self._log_file = open(self.log_path, "ab")
        cpus = self.cpus
        preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        env = self.env()
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(self.binary), "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
        deadline = self.started_at + timeout_s
        while True:
            status = probe(self.base, READY_PATH)
            now = time.perf_counter()
            if status == 200:
                self.ready_after_s = now - self.started_at
                return self.ready_after_s
            if self.proc.poll() is not None:
                raise BenchError(
                    f"server exited with code {self.proc.returncode} before it was ready; "
                    f"log: {self.log_path}\n{self.tail_log()}"
                )
            if now > deadline:
                raise BenchError(f"server not ready after {timeout_s} s; log: {self.log_path}")
            if poll_interval_s:
                time.sleep(poll_interval_s)

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def stop(self, timeout_s: float = 35.0) -> int | None:
        """SIGTERM, wait for the graceful shutdown, SIGKILL only if it hangs."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log(f"server pid {self.proc.pid} ignored SIGTERM for {timeout_s} s; killing it")
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc is not None:
            rc = self.proc.returncode
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return rc


def probe(base: str, path: str) -> int | None:
    """One GET; returns the status code, or None when nothing answers yet."""
    host, port = base.rsplit(":", 1)
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None


def seed_projects(server: Server, count: int) -> None:
    host, port = server.base.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"X-API-Key": server.api_key, "Content-Type": "application/json"}
    try:
        for i in range(count):
            body = json.dumps({
                "name": f"bench project {i:03d}",
                "description": f"Seeded by bench/run.py ({i + 1} of {count})",
            })
            conn.request("POST", LIST_PATH, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            if resp.status != 201:
                raise BenchError(
                    f"seeding: POST {LIST_PATH} answered {resp.status}: {payload[:300]!r}"
                )
        conn.request("GET", LIST_PATH, headers={"X-API-Key": server.api_key})
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise BenchError(f"GET {LIST_PATH} answered {resp.status}: {payload[:300]!r}")
    listing = json.loads(payload)
    if listing.get("count") != count or listing.get("total") != count:
        raise BenchError(
            f"GET {LIST_PATH} returned count={listing.get('count')} "
            f"total={listing.get('total')}, expected {count}"
        )
    log(f"seeded {count} projects; one list response is {len(payload)} bytes of JSON")


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    endpoint: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: dict
    bytes_per_response: float
    latency_us: dict = field(default_factory=dict)
    cpu_share: dict = field(default_factory=dict)
    loadavg_after: float = 0.0
    server_cpu_us_per_request: float | None = None

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


def run_wrk(
    wrk: str, base: str, path: str, api_key: str, *, duration: int, threads: int,
    connections: int, cpus: set[int] | None, server_pid: int, body: str | None = None,
) -> WrkResult:
    env = dict(os.environ, TAYLORDASH_BENCH_API_KEY=api_key)
    script = WRK_SCRIPT
    if body is not None:  # POST this JSON body (post.lua, which adds report.lua)
        script = POST_SCRIPT
        env.update(TAYLORDASH_BENCH_BODY=body, TAYLORDASH_BENCH_DIR=str(BENCH_DIR))
    cmd = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
        "--timeout", "10s", "-s", str(script), f"http://{base}{path}",
    ]
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server0, busy0, wall0 = process_cpu_s(server_pid), system_busy_s(), time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=preexec)
    server1, busy1, wall1 = process_cpu_s(server_pid), system_busy_s(), time.monotonic()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    server_cpu = server1 - server0 if server0 is not None and server1 is not None else None
    busy = busy1 - busy0
    capacity = (wall1 - wall0) * len(os.sched_getaffinity(0))
    cpu = {
        # Shares of all CPUs over the run; "other" is PostgreSQL plus anything else running.
        "server": server_cpu / capacity if server_cpu is not None else None,
        "wrk": wrk_cpu / capacity,
        "other": (busy - wrk_cpu - (server_cpu or 0)) / capacity,
        "idle": 1 - busy / capacity,
    }
    if out.returncode != 0:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk printed no BENCH_JSON line:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("BENCH_JSON "):])
    dur_s = data["duration_us"] / 1e6
    lat = data["latency_us"]
    return WrkResult(
        endpoint=path,
        requests=data["requests"],
        duration_s=dur_s,
        rps=data["requests"] / dur_s if dur_s else 0.0,
        p50_ms=lat["p50"] / 1000,
        p99_ms=lat["p99"] / 1000,
        mean_ms=lat["mean"] / 1000,
        max_ms=lat["max"] / 1000,
        errors=data["errors"],
        bytes_per_response=data["bytes"] / data["requests"] if data["requests"] else 0.0,
        latency_us=lat,
        cpu_share=cpu,
        loadavg_after=os.getloadavg()[0],
        server_cpu_us_per_request=(server_cpu * 1e6 / data["requests"]
                                   if server_cpu is not None and data["requests"] else None),
    )


# --------------------------------------------------------------------------- PostgreSQL


class PgDatabase:
    """A throw-away database on the benchmark PostgreSQL server, created and dropped via psql."""

    def __init__(self, base_url: str):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise BenchError(f"TAYLORDASH_BENCH_PG_URL must be postgres://..., got {base_url!r}")
        self.parts = parts
        self.name = f"td_bench_{secrets.token_hex(4)}"
        self.created = False

    def _url(self, dbname: str) -> str:
        return urllib.parse.urlunsplit(self.parts._replace(path="/" + dbname))

    @property
    def maintenance_url(self) -> str:
        return self._url("postgres")

    @property
    def url(self) -> str:
        return self._url(self.name)

    @property
    def redacted_server(self) -> str:
        netloc = self.parts.netloc.rsplit("@", 1)[-1]
        return f"{self.parts.scheme}://{netloc}"

    def psql(self, sql: str, timeout: float = 30) -> subprocess.CompletedProcess:
        env = dict(os.environ, PGCONNECT_TIMEOUT="3")
        return subprocess.run(
            ["psql", self.maintenance_url, "-X", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            env=env, capture_output=True, text=True, timeout=timeout,
        )

    def server_version(self) -> str:
        if not shutil.which("psql"):
            raise BenchError("psql not found on PATH (Debian: apt-get install -y postgresql-client)")
        try:
            out = self.psql("SHOW server_version", timeout=10)
        except subprocess.TimeoutExpired:
            raise BenchError(f"PostgreSQL at {self.redacted_server} did not answer in 10 s")
        if out.returncode != 0:
            raise BenchError(f"PostgreSQL at {self.redacted_server}: {out.stderr.strip()}")
        return out.stdout.strip()

    def create(self) -> None:
        out = self.psql(f'CREATE DATABASE "{self.name}"')
        if out.returncode != 0:
            raise BenchError(f"CREATE DATABASE {self.name}: {out.stderr.strip()}")
        self.created = True
        log(f"created database {self.name} on {self.redacted_server}")

    def drop(self) -> None:
        if not self.created:
            return
        out = self.psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if out.returncode != 0:  # PostgreSQL < 13 has no WITH (FORCE)
            out = self.psql(f'DROP DATABASE IF EXISTS "{self.name}"')
        if out.returncode != 0:
            log(f"WARNING: could not drop database {self.name}: {out.stderr.strip()}")
        else:
            self.created = False
            log(f"dropped database {self.name}")


# --------------------------------------------------------------------------- scenarios


def bench_backend(
    name: str, args: argparse.Namespace, binary: Path, workdir: Path, api_key: str,
    database_url: str | None, servers: list[Server],
) -> dict:
    log(f"--- {name}: starting server")
    server = Server(
        binary=binary, api_key=api_key, data_dir=workdir / f"data-{name}",
        database_url=database_url, log_level=args.server_log_level, cpus=args._server_cpus,
    )
    servers.append(server)
    ready_s = server.start()
    pid = server.proc.pid
    time.sleep(args.idle_wait)
    idle_rss_kb = read_status_kb(pid, "VmRSS")
    idle_threads = thread_count(pid)
    log(f"{name}: ready after {ready_s * 1000:.0f} ms; idle VmRSS "
        f"{idle_rss_kb / 1024:.1f} MB after {args.idle_wait:g} s, {idle_threads} threads")

    seed_projects(server, args.projects)

    # Rounds alternate the two endpoints so slow drifts in background load hit both alike;
    # each endpoint is reported by its median-rate run.
    runs: dict[str, list[WrkResult]] = {"bare": [], "list10": [], "list": []}
    common = dict(threads=args.threads, connections=args.connections, cpus=args._wrk_cpus,
                  server_pid=pid)
    for round_no in range(1, args.repeat + 1):
        for label, path in (("bare", BARE_PATH), ("list10", LIST10_PATH), ("list", LIST_PATH)):
            if args.warmup > 0:
                run_wrk(args.wrk, server.base, path, api_key, duration=args.warmup, **common)
            r = run_wrk(args.wrk, server.base, path, api_key, duration=args.duration, **common)
            if r.error_total:
                loud(f"{name} GET {path}: wrk reported errors {r.errors} "
                     "(non-2xx answers count as 'status')")
            log(f"{name} round {round_no}/{args.repeat} GET {path}: {r.rps:,.0f} req/s, "
                f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, errors {r.error_total}, "
                f"server {r.server_cpu_us_per_request or 0:.0f} us CPU/request; CPU "
                + ", ".join(f"{k} {v:.0%}" for k, v in r.cpu_share.items() if v is not None))
            runs[label].append(r)
    results = {}
    for label, rs in runs.items():
        ordered = sorted(rs, key=lambda r: r.rps)
        results[label] = ordered[(len(ordered) - 1) // 2]

    creates = bench_creates(name, args, server, api_key, pid, common) if args.creates else None

    loaded_rss_kb = read_status_kb(pid, "VmRSS")
    peak_rss_kb = read_status_kb(pid, "VmHWM")
    loaded_threads = thread_count(pid)
    log_bytes = server.log_path.stat().st_size if server.log_path.exists() else None
    rc = server.stop()
    servers.remove(server)
    log(f"{name}: server stopped with SIGTERM, exit code {rc}")

    ratio = results["list"].rps / results["bare"].rps if results["bare"].rps else None
    ratio10 = results["list10"].rps / results["bare"].rps if results["bare"].rps else None
    return {
        "backend": name,
        "ready_ms": ready_s * 1000,
        "idle_rss_mb": idle_rss_kb / 1024 if idle_rss_kb is not None else None,
        "idle_threads": idle_threads,
        "rss_after_load_mb": loaded_rss_kb / 1024 if loaded_rss_kb is not None else None,
        "peak_rss_mb": peak_rss_kb / 1024 if peak_rss_kb is not None else None,
        "threads_after_load": loaded_threads,
        "server_log_bytes": log_bytes,
        "exit_code": rc,
        "bare": dict(results["bare"].__dict__, rps_all_runs=[r.rps for r in runs["bare"]]),
        "list": dict(results["list"].__dict__, rps_all_runs=[r.rps for r in runs["list"]]),
        "list10": dict(results["list10"].__dict__, rps_all_runs=[r.rps for r in runs["list10"]]),
        "runs": {label: [r.__dict__ for r in rs] for label, rs in runs.items()},
        "list_to_bare_ratio": ratio,
        "list10_to_bare_ratio": ratio10,
        "creates": creates,
    }


def bench_creates(name: str, args: argparse.Namespace, server: Server, api_key: str, pid: int,
                  common: dict) -> dict:
    """POST /api/v1/projects at each of --create-connections, then checks the stored total."""
    sync = sync_latency_ms(server.data_dir)
    log(f"{name}: disk sync (4 KiB + fdatasync) median {sync['median_ms']:.2f} ms, "
        f"mean {sync['mean_ms']:.2f} ms")
    body = json.dumps({"name": "bench create", "description": "POSTed by bench/run.py"})
    common = dict(common)
    sent = 0
    out = {"sync": sync, "by_connections": {}}
    for conns in args.create_connections:
        common["connections"] = conns
        rs = []
        for round_no in range(1, args.repeat + 1):
            if args.warmup > 0:
                w = run_wrk(args.wrk, server.base, LIST_PATH, api_key, duration=args.warmup,
                            body=body, **common)
                sent += w.requests
            r = run_wrk(args.wrk, server.base, LIST_PATH, api_key, duration=args.duration,
                        body=body, **common)
            sent += r.requests
            if r.error_total:
                loud(f"{name} POST {LIST_PATH} c={conns}: wrk reported errors {r.errors}")
            log(f"{name} round {round_no}/{args.repeat} POST {LIST_PATH} c={conns}: "
                f"{r.rps:,.0f} creates/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, errors "
                f"{r.error_total}, server {r.server_cpu_us_per_request or 0:.0f} us CPU/create; CPU "
                + ", ".join(f"{k} {v:.0%}" for k, v in r.cpu_share.items() if v is not None))
            rs.append(r)
        median = sorted(rs, key=lambda r: r.rps)[(len(rs) - 1) // 2]
        ceiling = conns / (sync["median_ms"] / 1000)
        out["by_connections"][str(conns)] = dict(
            median.__dict__,
            rps_all_runs=[r.rps for r in rs],
            runs=[r.__dict__ for r in rs],
            factor_v1=median.rps / V1_CREATES_PER_S,
            disk_ceiling_rps=ceiling,
            share_of_disk_ceiling=median.rps / ceiling,
        )
    # Every answered request was a 201 (wrk counts others as errors), so every one must be
    # stored; requests still in flight when wrk stopped may be stored too (at most one per
    # connection per run).
    host, port = server.base.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", LIST_PATH + "?limit=1", headers={"X-API-Key": api_key})
    resp = conn.getresponse()
    total = json.loads(resp.read())["total"]
    conn.close()
    runs = len(args.create_connections) * args.repeat * (2 if args.warmup > 0 else 1)
    expected = args.projects + sent
    slack = sum(args.create_connections) * args.repeat * (2 if args.warmup > 0 else 1)
    out["stored_check"] = {"answered": sent, "stored_total": total, "seeded": args.projects,
                           "wrk_runs": runs}
    if not expected <= total <= expected + slack:
        raise BenchError(f"{name}: {sent} creates answered and {args.projects} seeded, but "
                         f"{total} projects stored")
    log(f"{name}: {total - args.projects} projects stored for {sent} answered creates")
    return out


def measure_ready(args: argparse.Namespace, binary: Path, workdir: Path, api_key: str,
                  servers: list[Server]) -> dict:
    """Start-to-ready with SQLite: first start on an empty data dir, and restarts on it."""
    fresh, restart = [], []
    for i in range(args.ready_runs):
        data_dir = workdir / f"ready-{i}"
        for bucket in (fresh, restart):
            server = Server(binary=binary, api_key=api_key, data_dir=data_dir,
                            log_level=args.server_log_level, cpus=args._server_cpus)
            servers.append(server)
            bucket.append(server.start() * 1000)
            server.stop()
            servers.remove(server)
    log(f"ready (SQLite): empty data dir {['%.0f' % x for x in fresh]} ms; "
        f"existing database {['%.0f' % x for x in restart]} ms")
    return {
        "runs": args.ready_runs,
        "poll_interval_ms": 1,
        "fresh_ms": fresh,
        "fresh_median_ms": statistics.median(fresh),
        "restart_ms": restart,
        "restart_median_ms": statistics.median(restart),
    }


# --------------------------------------------------------------------------- report


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("HIT" if ok else "MISS")


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def pct(x: float | None) -> str:
    return "?" if x is None else f"{x:.0%}"


def print_report(report: dict) -> None:
    m, cfg = report["machine"], report["config"]
    print()
    print(f"TaylorDash loopback benchmark  {report['date']}")
    print(f"machine : {m['cpus_online']} CPUs ({m['cpu_model']}), {m['mem_total_mb']} MB RAM, "
          f"load at start {m['loadavg_at_start'][0]:.2f}")
    print(f"load    : {report['wrk_version']}, {cfg['connections']} connections, "
          f"{cfg['threads']} threads, median of {cfg['repeat']} runs of {cfg['duration_s']} s "
          f"(each after {cfg['warmup_s']} s warm-up), pinning: {cfg['pinning']}")
    g = report["git"]
    origin = "built from" if g["built_here"] else "--binary given; checkout is at"
    print(f"binary  : {report['binary']}  ({origin} commit {(g['commit'] or 'unknown')[:10]}"
          f"{', uncommitted changes in crates/' if g['source_dirty'] else ''})")
    if "postgres_version" in report:
        print(f"postgres: {report['postgres_version']} (loopback, not pinned)")
    print()
    header = (f"{'backend':<10} {'endpoint':<31} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>7} {'bytes/resp':>10}  {'req/s min-max':>15}  CPU: server   wrk other")
    print(header)
    print("-" * len(header))
    for b in report["backends"]:
        if b.get("skipped"):
            print(f"{b['backend']:<10} SKIPPED: {b['skipped']}")
            continue
        for label in ("bare", "list10", "list"):
            r = b[label]
            errors = sum(r["errors"].values())
            print(f"{b['backend']:<10} {'GET ' + r['endpoint']:<31} {r['rps']:>9,.0f} "
                  f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {errors:>7} "
                  f"{r['bytes_per_response']:>10,.0f}  {spread(r['rps_all_runs']):>15}"
                  f"        {pct(r['cpu_share']['server']):>4}  "
                  f"{pct(r['cpu_share']['wrk']):>4}  {pct(r['cpu_share']['other']):>4}")
    print("(figures from the median-rate run; CPU: share of all CPUs during that run, "
          "'other' = PostgreSQL and anything else on the machine)")
    if any(b.get("creates") for b in report["backends"]):
        print()
        print(f"durable creates (POST {LIST_PATH}; v1 = {V1_CREATES_PER_S:g}/s at 16 connections; "
              "disk ceiling = connections / sync latency):")
        for b in report["backends"]:
            if b.get("skipped") or not b.get("creates"):
                continue
            c = b["creates"]
            print(f"  {b['backend']:<10} sync {c['sync']['median_ms']:.2f} ms (median)")
            for conns, r in c["by_connections"].items():
                print(f"  {b['backend']:<10} c={conns:<3} {r['rps']:>8,.0f}/s  "
                      f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                      f"x{r['factor_v1']:.0f} v1  {r['rps'] / b['bare']['rps']:.0%} of bare  "
                      f"{r['share_of_disk_ceiling']:.0%} of disk ceiling "
                      f"({r['disk_ceiling_rps']:,.0f}/s)  [{spread(r['rps_all_runs'])}]")
    print()
    print("list / bare-handler rate (headline):")
    for b in report["backends"]:
        if b.get("skipped"):
            continue
        print(f"  {b['backend']:<10} 10 rows {b['list10_to_bare_ratio']:.1%} (target >= "
              f"{TARGET_LIST10_RATIO:.0%}: "
              f"{verdict(b['list10_to_bare_ratio'] >= TARGET_LIST10_RATIO)}), "
              f"100 rows {b['list_to_bare_ratio']:.1%} (target >= {TARGET_LIST_RATIO:.0%}: "
              f"{verdict(b['list_to_bare_ratio'] >= TARGET_LIST_RATIO)})")
    print()
    print("idle RSS (VmRSS ~1 s after ready):")
    for b in report["backends"]:
        if b.get("skipped"):
            continue
        print(f"  {b['backend']:<10} {b['idle_rss_mb']:.1f} MB  target <= "
              f"{TARGET_IDLE_RSS_MB:g} MB: {verdict(b['idle_rss_mb'] <= TARGET_IDLE_RSS_MB)}"
              f"   (after load {b['rss_after_load_mb']:.1f} MB, peak {b['peak_rss_mb']:.1f} MB)")
    rd = report["ready_sqlite"]
    print()
    print(f"start to ready, SQLite (median of {rd['runs']}):")
    print(f"  empty data dir    {rd['fresh_median_ms']:.0f} ms  target <= {TARGET_READY_MS:g} ms: "
          f"{verdict(rd['fresh_median_ms'] <= TARGET_READY_MS)}")
    print(f"  existing database {rd['restart_median_ms']:.0f} ms  target <= {TARGET_READY_MS:g} ms: "
          f"{verdict(rd['restart_median_ms'] <= TARGET_READY_MS)}")
    print()
    print("targets:")
    for t in report["targets"]:
        print(f"  {verdict(t['hit']):<5} {t['name']}: {t['measured']} (target {t['target']})")
    print()


def evaluate_targets(report: dict) -> list[dict]:
    by = {b["backend"]: b for b in report["backends"] if not b.get("skipped")}
    rd = report["ready_sqlite"]
    targets = []
    for b in by.values():
        for key, rows, target in (("list10_to_bare_ratio", 10, TARGET_LIST10_RATIO),
                                  ("list_to_bare_ratio", 100, TARGET_LIST_RATIO)):
            targets.append({
                "name": f"{rows}-row list on {b['backend']} / bare handler",
                "target": f">= {target:.0%}",
                "measured": f"{b[key]:.1%}",
                "hit": b[key] >= target,
            })
    targets += [
        {
            "name": "idle RSS (worst backend)",
            "target": f"<= {TARGET_IDLE_RSS_MB:g} MB",
            "measured": (f"{max(b['idle_rss_mb'] for b in by.values()):.1f} MB"
                         if by else "not measured"),
            "hit": max(b["idle_rss_mb"] for b in by.values()) <= TARGET_IDLE_RSS_MB if by else None,
        },
        {
            "name": "start to ready with SQLite (median, empty data dir)",
            "target": f"<= {TARGET_READY_MS:g} ms",
            "measured": f"{rd['fresh_median_ms']:.0f} ms",
            "hit": rd["fresh_median_ms"] <= TARGET_READY_MS,
        },
    ]
    for b in by.values():
        for conns, r in (b.get("creates") or {}).get("by_connections", {}).items():
            targets.append({
                "name": f"creates on {b['backend']} at {conns} connections / v1",
                "target": f">= {TARGET_CREATE_FACTOR:g}x ({TARGET_CREATE_FACTOR * V1_CREATES_PER_S:,.0f}/s)",
                "measured": f"x{r['factor_v1']:.1f} ({r['rps']:,.0f}/s)",
                "hit": r["factor_v1"] >= TARGET_CREATE_FACTOR,
            })
    return targets


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="TaylorDash loopback benchmark (see docs/benchmarks.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--binary", type=Path,
                   help="server binary to measure; default: build with "
                        "`cargo build --release -p taylordash`")
    # wrk takes whole seconds.
    p.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    p.add_argument("--warmup", type=int, default=2,
                   help="seconds of warm-up before each measured run (0: none)")
    p.add_argument("--repeat", type=int, default=3,
                   help="measured runs per endpoint and backend (alternating endpoints); "
                        "the median-rate run is reported")
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--projects", type=int, default=100, help="projects seeded before measuring")
    p.add_argument("--ready-runs", type=int, default=5, help="starts timed for start-to-ready")
    p.add_argument("--idle-wait", type=float, default=1.0,
                   help="seconds after ready before reading idle VmRSS")
    p.add_argument("--json", type=Path, help="also write machine-readable results here")
    p.add_argument("--no-creates", dest="creates", action="store_false",
                   help="skip the durable-create runs (POST /api/v1/projects)")
    p.add_argument("--create-connections", default="16,32",
                   type=lambda v: [int(x) for x in v.split(",") if x],
                   help="wrk connections for the create runs, comma-separated")
    p.add_argument("--skip-pg", action="store_true", help="measure SQLite only")
    p.add_argument("--require-pg", action="store_true",
                   help="exit non-zero when PostgreSQL is unreachable instead of skipping it")
    p.add_argument("--pin", action="store_true",
                   help="pin the server to CPU 0 and wrk to the other CPUs "
                        "(default: no pinning; PostgreSQL is never pinned)")
    p.add_argument("--server-log-level", default=None,
                   help="TAYLORDASH_LOG for the server (default: the server's default, info)")
    p.add_argument("--wrk", default="wrk", help="wrk executable")
    args = p.parse_args(argv)
    if args.warmup < 0:
        p.error("--warmup must not be negative")
    if min(args.duration, args.connections, args.threads, args.ready_runs, args.repeat) <= 0:
        p.error("--duration, --connections, --threads, --ready-runs and --repeat must be positive")
    if args.threads > args.connections:
        p.error("--threads must not exceed --connections")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    wrk = shutil.which(args.wrk)
    if not wrk:
        loud(f"'{args.wrk}' not found. Install it (Debian/Ubuntu: apt-get update && "
             "apt-get install -y wrk) or pass --wrk PATH. This script does not install it.")
        return 2
    args.wrk = wrk

    cpus = sorted(os.sched_getaffinity(0))
    if args.pin:
        if len(cpus) < 2:
            log("--pin needs at least 2 CPUs; running unpinned")
            args._server_cpus = args._wrk_cpus = None
        else:
            args._server_cpus, args._wrk_cpus = {cpus[0]}, set(cpus[1:])
    else:
        args._server_cpus = args._wrk_cpus = None
    pinning = (f"server on CPU {sorted(args._server_cpus)}, wrk on CPUs {sorted(args._wrk_cpus)}"
               if args._server_cpus else "none (server, wrk and PostgreSQL share all CPUs)")

    git = git_info()  # before building: the tree the binary is built from
    git["built_here"] = args.binary is None
    try:
        binary = args.binary.resolve() if args.binary else build_binary()
    except BenchError as e:
        loud(str(e))
        return 1
    if not os.access(binary, os.X_OK):
        loud(f"{binary} is not an executable file")
        return 1

    report: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git,
        "binary": str(binary),
        "wrk_version": wrk_version(wrk),
        "config": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "repeat": args.repeat,
            "projects": args.projects,
            "idle_wait_s": args.idle_wait,
            "pinning": pinning,
            "server_log_level": args.server_log_level or "server default (info)",
        },
        "backends": [],
    }

    api_key = secrets.token_hex(24)  # 48 chars: set explicitly so no key file is generated
    servers: list[Server] = []
    pg: PgDatabase | None = None
    workdir = Path(tempfile.mkdtemp(prefix="taylordash-bench-"))
    exit_code = 0
    try:
        report["ready_sqlite"] = measure_ready(args, binary, workdir, api_key, servers)

        report["backends"].append(
            bench_backend("sqlite", args, binary, workdir, api_key, None, servers))

        pg_base = os.environ.get("TAYLORDASH_BENCH_PG_URL", DEFAULT_PG_BASE)
        if args.skip_pg:
            report["backends"].append({"backend": "postgres", "skipped": "--skip-pg"})
        else:
            try:
                pg = PgDatabase(pg_base)
                version = pg.server_version()
                report["postgres_version"] = version
                pg.create()
            except (BenchError, subprocess.TimeoutExpired) as e:
                loud(f"PostgreSQL SKIPPED: {e}\n!! Set TAYLORDASH_BENCH_PG_URL "
                     f"(default {DEFAULT_PG_BASE}) to a reachable server.")
                report["backends"].append({"backend": "postgres", "skipped": str(e)})
                if args.require_pg:
                    exit_code = 1
            else:
                report["backends"].append(
                    bench_backend("postgres", args, binary, workdir, api_key, pg.url, servers))

        report["machine"]["loadavg_at_end"] = list(os.getloadavg())
        report["targets"] = evaluate_targets(report)
        print_report(report)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n")
            log(f"wrote {args.json}")
    except BenchError as e:
        loud(f"benchmark failed: {e}")
        exit_code = 1
    except KeyboardInterrupt:
        loud("interrupted")
        exit_code = 130
    finally:
        for server in list(servers):
            server.stop()
        if pg is not None:
            pg.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
