#!/usr/bin/env python3
"""Observability benchmarks (docs/benchmarks.md, "Observability"), each against a baseline
measured in the same run:

  * GET /api/v1/projects with log records stored in the database (the default) vs with
    TAYLORDASH_LOG_DB=false (stdout only): target >= 90 % of the rate without;
  * metric events per second written to VictoriaMetrics (and to the local table), vs plain
    events ingested by the same pipeline.

Usage:  python3 bench/observability.py [--binary PATH] [--json results.json]

Reuses bench/run.py (server control, wrk runner, PostgreSQL database). Needs `wrk`, and
/usr/bin/victoria-metrics (Debian package victoria-metrics) for the VictoriaMetrics half.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py)

VM_EXE = "/usr/bin/victoria-metrics"
TARGET_LOGGING_RATIO = 0.90


@dataclass
class ObsServer(run.Server):
    extra_env: dict = field(default_factory=dict)

    def env(self) -> dict:
        env = super().env()
        env.update(self.extra_env)
        return env


def get(url: str, key: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


def metric_value(server: ObsServer, name: str) -> float:
    """Sum of a metric's samples on /metrics (all label sets)."""
    text = get(f"http://{server.base}/metrics").decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_vm(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = run.free_port()
    proc = subprocess.Popen(
        [VM_EXE, f"-httpListenAddr=127.0.0.1:{port}",
         f"-storageDataPath={workdir / 'vm-data'}", "-search.latencyOffset=0s",
         "-retentionPeriod=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if get(url + "/health") is not None:
                return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise run.BenchError("victoria-metrics did not start")
        time.sleep(0.05)


def wrk(args, server: ObsServer, path: str, key: str, duration: int,
        body: str | None = None) -> run.WrkResult:
    """run.run_wrk, POSTing `body` when given (through bench/post.lua)."""
    saved = run.WRK_SCRIPT
    if body is not None:
        run.WRK_SCRIPT = run.BENCH_DIR / "post.lua"
        os.environ["TAYLORDASH_BENCH_BODY"] = body
        os.environ["TAYLORDASH_BENCH_DIR"] = str(run.BENCH_DIR)
    try:
        return run.run_wrk(args.wrk, server.base, path, key, duration=duration,
                           threads=args.threads, connections=args.connections, cpus=None,
                           server_pid=server.proc.pid)
    finally:
        run.WRK_SCRIPT = saved


def logging_on_off(args, binary: Path, workdir: Path, key: str, backend: str,
                   database_urls: dict[str, str | None], servers: list) -> dict:
    """Two servers, logs stored in the database or not; rounds alternate between them."""
    pair = {}
    for mode, extra in (("db_on", {}), ("db_off", {"TAYLORDASH_LOG_DB": "false"})):
        s = ObsServer(binary=binary, api_key=key, data_dir=workdir / f"{backend}-{mode}",
                      database_url=database_urls[mode], extra_env=extra)
        servers.append(s)
        s.start()
        run.seed_projects(s, args.projects)
        pair[mode] = s
    def drained() -> None:
        # The log writer keeps writing after a run; let it finish so its backlog does not land
        # in the next run (of either server: they share the CPUs and PostgreSQL).
        deadline = time.monotonic() + 60
        while metric_value(pair["db_on"], "taylordash_log_queue_records") > 0:
            if time.monotonic() > deadline:
                run.loud("log queue not drained after 60 s")
                return
            time.sleep(0.1)

    runs: dict[str, list[float]] = {"db_on": [], "db_off": []}
    # Server CPU time per request, including the log writer's work after the run (drained).
    cpu_us: dict[str, list[float]] = {"db_on": [], "db_off": []}
    # PostgreSQL's CPU time per request (its COPY of log rows runs there, not in the server).
    db_cpu_us: dict[str, list[float]] = {"db_on": [], "db_off": []}
    on_postgres = database_urls["db_on"] is not None
    for round_no in range(1, args.repeat + 1):
        order = ("db_on", "db_off") if round_no % 2 else ("db_off", "db_on")
        for mode in order:
            s = pair[mode]
            drained()
            if args.warmup:
                wrk(args, s, run.LIST_PATH, key, args.warmup)
            cpu_before = cpu_seconds(s)
            db_before = postgres_cpu_seconds() if on_postgres else 0.0
            r = wrk(args, s, run.LIST_PATH, key, args.duration)
            drained()
            per_request = (cpu_seconds(s) - cpu_before) / max(r.requests, 1) * 1e6
            if r.error_total:
                run.loud(f"{backend} {mode}: wrk errors {r.errors}")
            runs[mode].append(r.rps)
            cpu_us[mode].append(per_request)
            db_cpu = ""
            if on_postgres:
                db_per_request = (postgres_cpu_seconds() - db_before) / max(r.requests, 1) * 1e6
                db_cpu_us[mode].append(db_per_request)
                db_cpu = f" (+ {db_per_request:,.0f} µs in PostgreSQL)"
            run.log(f"{backend} round {round_no} logs {mode}: {r.rps:,.0f} req/s, "
                    f"p99 {r.p99_ms:.2f} ms, {per_request:,.0f} µs CPU a request{db_cpu}")
    written = metric_value(pair["db_on"], "taylordash_log_records_written_total")
    dropped = metric_value(pair["db_on"], "taylordash_log_records_dropped_total")
    for s in pair.values():
        s.stop()
        servers.remove(s)
    on, off = statistics.median(runs["db_on"]), statistics.median(runs["db_off"])
    # Each round's two runs are adjacent in time, so their ratio cancels the machine's drift;
    # the headline is the median of those.
    round_ratios = [a / b for a, b in zip(runs["db_on"], runs["db_off"])]
    ratio = statistics.median(round_ratios)
    cpu_on, cpu_off = statistics.median(cpu_us["db_on"]), statistics.median(cpu_us["db_off"])
    db_cpu = ({m: statistics.median(v) for m, v in db_cpu_us.items()} if on_postgres else None)
    run.log(f"{backend}: logging to the database {on:,.0f} req/s vs {off:,.0f} without "
            f"(medians); median of the rounds' ratios {ratio:.1%} "
            f"(rounds {', '.join(f'{x:.0%}' for x in round_ratios)}); CPU a request "
            f"{cpu_on:,.0f} vs {cpu_off:,.0f} µs"
            + (f" (+ {db_cpu['db_on']:,.0f} vs {db_cpu['db_off']:,.0f} µs in PostgreSQL)"
               if db_cpu else "")
            + f"; {written:,.0f} records written, "
            f"{dropped:,.0f} dropped")
    return {"backend": backend, "db_on_rps": on, "db_off_rps": off, "ratio": ratio,
            "ratio_of_medians": on / off, "round_ratios": round_ratios,
            "cpu_us_per_request": {"db_on": cpu_on, "db_off": cpu_off}, "cpu_us": cpu_us,
            "postgres_cpu_us_per_request": db_cpu,
            "postgres_cpu_us": db_cpu_us if on_postgres else None,
            "runs": runs, "log_records_written": written, "log_records_dropped": dropped}


def cpu_seconds(server) -> float:
    """User + system CPU time of the server process so far (Linux /proc)."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine, including exited ones (Linux
    /proc): a backend or autovacuum worker that exits moves its time into the postmaster's
    children's time, so the sum only grows and its difference over a run is the database's
    work."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue  # the process exited meanwhile
        if head.split("(", 1)[-1] == "postgres":
            fields = tail.split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


def ingest_rate(args, binary: Path, workdir: Path, key: str, label: str, body: dict,
                done_metric: str, extra_env: dict, servers: list) -> dict:
    """POSTs events for the run's duration, then waits for `done_metric` to stop growing;
    rate = its increase / (last increase - start of load)."""
    s = ObsServer(binary=binary, api_key=key, data_dir=workdir / f"ingest-{label}",
                  extra_env=extra_env)
    servers.append(s)
    s.start()
    before = metric_value(s, done_metric)
    start = time.monotonic()
    r = wrk(args, s, "/api/v1/events", key, args.duration, body=json.dumps(body))
    last_value, last_change = metric_value(s, done_metric), time.monotonic()
    while time.monotonic() - last_change < 2.0:
        time.sleep(0.1)
        v = metric_value(s, done_metric)
        if v != last_value:
            last_value, last_change = v, time.monotonic()
    done = last_value - before
    # The last increase happened within one poll of `last_change`.
    elapsed = last_change - start
    dropped = metric_value(s, "taylordash_timeseries_samples_dropped_total")
    s.stop()
    servers.remove(s)
    rate = done / elapsed
    refused = r.errors.get("status", 0)
    run.log(f"{label}: {r.requests:,} POSTs ({r.rps:,.0f}/s), {refused:,} refused as busy "
            f"(503 BUS_BUSY), "
            f"{done:,.0f} {done_metric} in {elapsed:.1f} s = {rate:,.0f}/s; dropped {dropped:,.0f}")
    return {"label": label, "posts": r.requests, "refused": refused, "http_rps": r.rps,
            "done": done,
            "elapsed_s": elapsed, "rate": rate, "samples_dropped": dropped,
            "errors": r.errors}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", type=Path)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--projects", type=int, default=100)
    p.add_argument("--skip-pg", action="store_true")
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    args.wrk = shutil.which("wrk")
    if not args.wrk:
        print("wrk is required: apt-get install -y wrk", file=sys.stderr)
        return 2
    binary = args.binary or run.build_binary()
    key = secrets.token_hex(24)
    report: dict = {"git": run.git_info(), "machine": run.machine_info(), "logging": [],
                    "ingest": []}
    servers: list = []
    vm_proc = None
    pg = None
    workdir = Path(tempfile.mkdtemp(prefix="td-obs-bench-"))
    try:
        if not args.skip_sqlite:
            report["logging"].append(logging_on_off(
                args, binary, workdir, key, "sqlite", {"db_on": None, "db_off": None},
                servers))
        if not args.skip_pg:
            base = os.environ.get("TAYLORDASH_BENCH_PG_URL", run.DEFAULT_PG_BASE)
            on, off = run.PgDatabase(base), run.PgDatabase(base)
            try:
                on.create()
                off.create()
                pg = (on, off)
                report["logging"].append(logging_on_off(
                    args, binary, workdir, key, "postgresql",
                    {"db_on": on.url, "db_off": off.url}, servers))
            except Exception as e:  # noqa: BLE001 - reported, the SQLite half stands
                run.loud(f"PostgreSQL half skipped: {e}")
        metric = {"topic": "tracker/metrics/bench", "kind": "metric.gauge",
                  "payload": {"metric_name": "bench_value", "value": 1.5,
                              "labels": {"source": "bench"}}}
        plain = {"topic": "tracker/events/bench/tick", "kind": "bench.tick",
                 "payload": {"n": 1}}
        report["ingest"].append(ingest_rate(
            args, binary, workdir, key, "plain events (baseline)", plain,
            "taylor_ingest_total", {}, servers))
        report["ingest"].append(ingest_rate(
            args, binary, workdir, key, "metric events to the local table", metric,
            "taylordash_timeseries_samples_written_total", {}, servers))
        if os.path.exists(VM_EXE):
            vm_proc, vm_url = start_vm(workdir)
            report["ingest"].append(ingest_rate(
                args, binary, workdir, key, "metric events to VictoriaMetrics", metric,
                "taylordash_timeseries_samples_written_total", {"VICTORIA_METRICS_URL": vm_url},
                servers))
            get(vm_url + "/internal/force_flush")
            stored = json.loads(get(
                vm_url + "/api/v1/query?query=sum(count_over_time(bench_value[1h]))"))
            report["vm_samples_stored"] = stored["data"]["result"]
            run.log(f"VictoriaMetrics holds {stored['data']['result']} bench_value samples")
        else:
            run.loud(f"{VM_EXE} not installed: VictoriaMetrics half skipped")
    finally:
        for s in list(servers):
            s.stop()
        if vm_proc:
            vm_proc.kill()
            vm_proc.wait()
        if pg:
            for db in pg:
                db.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    base = report["ingest"][0]["rate"]
    for i in report["ingest"]:
        i["ratio_to_baseline"] = i["rate"] / base if base else None
    print("\n== Observability benchmark ==")
    for l in report["logging"]:
        ok = l["ratio"] >= TARGET_LOGGING_RATIO
        cpu = l["cpu_us_per_request"]
        print(f"{l['backend']:>10}: list with DB logging {l['db_on_rps']:,.0f} req/s, without "
              f"{l['db_off_rps']:,.0f} req/s (medians); rounds' ratios: median "
              f"{l['ratio']:.1%}, from {min(l['round_ratios']):.0%} to "
              f"{max(l['round_ratios']):.0%} (target >= {TARGET_LOGGING_RATIO:.0%}: "
              f"{'HIT' if ok else 'MISS'}); server CPU a request {cpu['db_on']:,.0f} µs "
              f"on, {cpu['db_off']:,.0f} µs off"
              + (f"; PostgreSQL {l['postgres_cpu_us_per_request']['db_on']:,.0f} µs on, "
                 f"{l['postgres_cpu_us_per_request']['db_off']:,.0f} µs off"
                 if l.get("postgres_cpu_us_per_request") else ""))
    for i in report["ingest"]:
        print(f"{i['label']:>36}: {i['rate']:,.0f}/s ({i['ratio_to_baseline']:.0%} of baseline)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
