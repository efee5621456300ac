#!/usr/bin/env python3
"""TaylorDash files and backups benchmark: one command, one run, baselines measured alongside.

Measures, against the release binary on 127.0.0.1:

  * artifact upload and download throughput (MiB/s) to the local directory store, next to a
    plain file copy (+ fsync) of the same bytes made in the same run (the baseline);
  * the same to an S3 server on loopback (s3s-fs, which checks every request's signature),
    next to that server's own rate for one plain signed PUT of the same bytes from this script;
  * the server's peak RSS (VmHWM) before and after a 1 GiB streamed upload;
  * `taylordash backup create` and `backup restore` times for 100,000 events (SQLite, and the
    restore into PostgreSQL when a server is reachable), next to a copy of the SQLite file.

Usage:  python3 bench/files.py [--size-mib 256] [--events 100000] [--json out.json] [--binary PATH]
                                [--skip-rss] [--skip-backup]

Python 3.11 standard library only. Needs `s3s-fs` (`cargo install s3s-fs --features binary`; on
PATH or at $TAYLORDASH_S3S_FS, as for the tests) for the S3 half and `psql` with a PostgreSQL
server at TAYLORDASH_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432) for the
PostgreSQL restore. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-" + secrets.token_hex(16)
CHUNK = 1 << 20
CLEARED = ("TAYLORDASH_", "DATABASE_URL", "API_KEY", "ENVIRONMENT", "MQTT_", "OTEL_", "S3_",
           "MINIO_")


def log(msg: str) -> None:
    print(f"[files-bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build() -> Path:
    log("building: cargo build --release -p taylordash")
    subprocess.run(["cargo", "build", "--release", "-p", "taylordash"], cwd=REPO_ROOT, check=True)
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                     cwd=REPO_ROOT, check=True, capture_output=True).stdout)
    return Path(meta["target_directory"]) / "release" / "taylordash"


def server_env(data: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env.update({"TAYLORDASH_DATA_DIR": str(data), "API_KEY": KEY, "TAYLORDASH_LOG": "warn",
                "TAYLORDASH_ARTIFACT_MAX_BYTES": str(4 << 30)})
    env.update(extra)
    return env


class Server:
    def __init__(self, binary: Path, data: Path, extra: dict[str, str]):
        self.port = free_port()
        env = server_env(data, extra)
        env["TAYLORDASH_BIND"] = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                status, _ = self.request("GET", "/health/ready")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=300) as s:
            head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    f"X-API-Key: {KEY}\r\n")
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            s.sendall((head + "\r\n").encode() + (body or b""))
            raw = b""
            while chunk := s.recv(1 << 16):
                raw += chunk
        status = int(raw.split(b" ", 2)[1])
        return status, raw.split(b"\r\n\r\n", 1)[1]

    def upload(self, project: str, source: Path) -> tuple[float, str]:
        """Streams `source` as an artifact; returns (seconds, artifact id)."""
        size = source.stat().st_size
        with socket.create_connection(("127.0.0.1", self.port), timeout=600) as s, \
                open(source, "rb") as f:
            start = time.perf_counter()
            s.sendall((f"POST /api/v1/projects/{project}/artifacts?name={source.name} HTTP/1.1\r\n"
                       f"Host: x\r\nConnection: close\r\nX-API-Key: {KEY}\r\n"
                       f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
                       ).encode())
            while block := f.read(CHUNK):
                s.sendall(block)
            raw = b""
            while chunk := s.recv(1 << 16):
                raw += chunk
            elapsed = time.perf_counter() - start
        body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
        if "id" not in body:
            raise RuntimeError(f"upload failed: {body}")
        return elapsed, body["id"]

    def download(self, artifact: str) -> tuple[float, int]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=600) as s:
            start = time.perf_counter()
            s.sendall((f"GET /api/v1/artifacts/{artifact} HTTP/1.1\r\nHost: x\r\n"
                       f"Connection: close\r\nX-API-Key: {KEY}\r\n\r\n").encode())
            total = 0
            while chunk := s.recv(1 << 20):
                total += len(chunk)
            return time.perf_counter() - start, total

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_file(path: Path, mib: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def copy_rate(source: Path, mib: int) -> float:
    target = source.with_suffix(".copy")
    start = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return mib / elapsed


class S3:
    """s3s-fs on a loopback port, with one account whose signatures it checks."""

    def __init__(self, work: Path):
        exe = os.environ.get("TAYLORDASH_S3S_FS") or shutil.which("s3s-fs")
        if not exe or not Path(exe).exists():
            raise FileNotFoundError("s3s-fs")
        self.port = free_port()
        self.access_key = "bench-" + secrets.token_hex(8)
        self.secret_key = "secret-" + secrets.token_hex(16)
        self.root = work / "s3-root"
        self.root.mkdir()
        self.proc = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(self.port), "--access-key",
             self.access_key, "--secret-key", self.secret_key, str(self.root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("s3s-fs did not start")

    def env(self, bucket: str) -> dict[str, str]:
        return {"S3_ENDPOINT": f"http://127.0.0.1:{self.port}", "S3_BUCKET": bucket,
                "S3_ACCESS_KEY_ID": self.access_key, "S3_SECRET_ACCESS_KEY": self.secret_key,
                "S3_REGION": "us-east-1", "S3_PATH_STYLE": "true"}

    def signed_head(self, method: str, path: str, payload_sha256: str, length: int) -> bytes:
        """A request head signed with AWS Signature Version 4 (no query string)."""
        now = dt.datetime.now(dt.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        host = f"127.0.0.1:{self.port}"
        signed = "host;x-amz-content-sha256;x-amz-date"
        canonical = (f"{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload_sha256}\n"
                     f"x-amz-date:{amz_date}\n\n{signed}\n{payload_sha256}")
        scope = f"{day}/us-east-1/s3/aws4_request"
        to_sign = (f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
                   + hashlib.sha256(canonical.encode()).hexdigest())
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, "us-east-1", "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                f"x-amz-date: {amz_date}\r\nx-amz-content-sha256: {payload_sha256}\r\n"
                f"Authorization: AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}\r\n"
                f"Content-Length: {length}\r\n\r\n").encode()

    def send(self, head: bytes, source: Path | None) -> tuple[float, int, bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=600) as s:
            start = time.perf_counter()
            s.sendall(head)
            if source is not None:
                with open(source, "rb") as f:
                    while block := f.read(CHUNK):
                        s.sendall(block)
            raw = b""
            while chunk := s.recv(1 << 16):
                raw += chunk
            elapsed = time.perf_counter() - start
        return elapsed, int(raw.split(b" ", 2)[1]), raw

    def plain_put_rate(self, bucket: str, source: Path, mib: int) -> float:
        """The server's own rate: one signed PUT of `source`, sent the way the bench's upload
        is sent (raw socket, 1 MiB writes). The payload's SHA-256 (part of the signature) is
        computed before the clock starts."""
        empty = hashlib.sha256(b"").hexdigest()
        _, status, raw = self.send(self.signed_head("PUT", f"/{bucket}", empty, 0), None)
        if status != 200 and b"BucketAlready" not in raw:
            raise RuntimeError(f"create bucket: {raw[:300]!r}")
        digest = hashlib.sha256()
        with open(source, "rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
        size = source.stat().st_size
        elapsed, status, raw = self.send(
            self.signed_head("PUT", f"/{bucket}/plain-put.bin", digest.hexdigest(), size), source)
        if status != 200:
            raise RuntimeError(f"plain PUT refused: {raw[:300]!r}")
        return mib / elapsed

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def throughput(binary: Path, work: Path, source: Path, mib: int, extra: dict[str, str],
               label: str, s3: S3 | None = None) -> dict:
    data = work / f"data-{label}"
    server = Server(binary, data, extra)
    try:
        _, body = server.request("POST", "/api/v1/projects", b'{"name":"bench"}')
        project = json.loads(body)["id"]
        load_before = os.getloadavg()[0]
        baseline = copy_rate(source, mib)
        plain_put = s3.plain_put_rate(extra["S3_BUCKET"], source, mib) if s3 else None
        cpu = [cpu_seconds(server.proc.pid), cpu_seconds(s3.proc.pid) if s3 else 0.0]
        up_s, artifact = server.upload(project, source)
        cpu = [cpu_seconds(server.proc.pid) - cpu[0],
               (cpu_seconds(s3.proc.pid) - cpu[1]) if s3 else 0.0]
        down_s, got = server.download(artifact)
        if got < mib * CHUNK:
            raise RuntimeError(f"short download: {got}")
        result = {"store": label, "size_mib": mib, "file_copy_mib_s": round(baseline, 1),
                  "upload_mib_s": round(mib / up_s, 1), "download_mib_s": round(mib / down_s, 1)}
        result["upload_vs_copy"] = round(result["upload_mib_s"] / baseline, 3)
        result["download_vs_copy"] = round(result["download_mib_s"] / baseline, 3)
        if plain_put is not None:
            result["s3_plain_put_mib_s"] = round(plain_put, 1)
            result["upload_vs_plain_put"] = round(result["upload_mib_s"] / plain_put, 3)
        # Where an upload's time goes: CPU seconds of the server (and of the S3 server).
        result["upload_cpu_s"] = {"taylordash": round(cpu[0], 2), "s3_server": round(cpu[1], 2),
                                  "wall": round(up_s, 2)}
        result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        log(f"{label}: {result}")
        return result
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def rss_during_upload(binary: Path, work: Path) -> dict:
    data = work / "data-rss"
    source = work / "one-gib.bin"
    make_file(source, 1024)
    server = Server(binary, data, {})
    try:
        _, body = server.request("POST", "/api/v1/projects", b'{"name":"rss"}')
        project = json.loads(body)["id"]
        small = work / "warm.bin"
        make_file(small, 16)
        server.upload(project, small)
        before = server.peak_rss_mib()
        seconds, _ = server.upload(project, source)
        after = server.peak_rss_mib()
        result = {"upload_gib_seconds": round(seconds, 2), "peak_rss_before_mib": round(before, 1),
                  "peak_rss_after_mib": round(after, 1), "growth_mib": round(after - before, 1)}
        log(f"1 GiB upload: {result}")
        return result
    finally:
        server.stop()
        source.unlink()
        shutil.rmtree(data, ignore_errors=True)


def seed_events(db: Path, count: int) -> None:
    conn = sqlite3.connect(db)
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for i in range(count):
        ts = (now - dt.timedelta(seconds=count - i)).isoformat(timespec="microseconds")
        rows.append((f"tracker/events/bench/e{i % 10}", "bench.event", uuid.uuid4().bytes,
                     f"bench-{i}", "mqtt", json.dumps({"n": i, "note": "x" * 64}), ts, ts))
    conn.executemany("INSERT INTO events_mirror (topic, kind, trace_id, idempotency_key, source, "
                     "payload, ts, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def run_cli(binary: Path, data: Path, args: list[str], extra: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(binary), *args], env=server_env(data, extra), check=True,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def backup_times(binary: Path, work: Path, events: int, pg_base: str | None) -> dict:
    data = work / "data-backup"
    run_cli(binary, data, ["migrate"], {})
    db = data / "taylordash.db"
    seed_events(db, events)
    copy_start = time.perf_counter()
    shutil.copyfile(db, work / "db-copy")
    copy_s = time.perf_counter() - copy_start
    backups = work / "backups"
    create_s = run_cli(binary, data, ["backup", "create", "--to", str(backups), "--name", "b"], {})
    verify_s = run_cli(binary, data, ["backup", "verify", "b", "--from", str(backups)], {})
    fresh = work / "data-restore"
    restore_s = run_cli(binary, fresh, ["backup", "restore", "b", "--from", str(backups)], {})
    result = {"events": events, "sqlite_file_copy_s": round(copy_s, 3),
              "backup_create_s": round(create_s, 2), "backup_verify_s": round(verify_s, 2),
              "restore_sqlite_s": round(restore_s, 2)}
    if pg_base and shutil.which("psql"):
        name = f"td_bench_{secrets.token_hex(4)}"
        subprocess.run(["psql", f"{pg_base}/postgres", "-qc", f"CREATE DATABASE {name}"],
                       check=True)
        try:
            pg = work / "data-pg"
            result["restore_postgres_s"] = round(run_cli(
                binary, pg, ["backup", "restore", "b", "--from", str(backups)],
                {"DATABASE_URL": f"{pg_base}/{name}"}), 2)
        finally:
            subprocess.run(["psql", f"{pg_base}/postgres", "-qc", f"DROP DATABASE {name}"],
                           check=False)
    log(f"backup: {result}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--json")
    parser.add_argument("--binary")
    parser.add_argument("--skip-rss", action="store_true", help="leave out the 1 GiB upload")
    parser.add_argument("--skip-backup", action="store_true", help="leave out backup/restore")
    parser.add_argument("--only-backup", action="store_true",
                        help="backup/restore only (no uploads)")
    parser.add_argument("--baseline-binary",
                        help="also time backup/restore with this binary, alternating with --binary")
    parser.add_argument("--rounds", type=int, default=1, help="backup/restore rounds per binary")
    args = parser.parse_args()
    binary = Path(args.binary) if args.binary else build()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                            capture_output=True, text=True).stdout.strip()
    results: dict = {"commit": commit, "date": dt.datetime.now(dt.timezone.utc).isoformat(),
                     "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="td-files-bench-") as tmp:
        work = Path(tmp)
        if args.only_backup:
            backup_rounds(args, binary, work, results)
            return report(results, args.json)
        source = work / "payload.bin"
        make_file(source, args.size_mib)
        results["throughput"] = [throughput(binary, work, source, args.size_mib, {}, "local")]
        try:
            s3 = S3(work)
        except FileNotFoundError:
            s3 = None
            log("s3s-fs not found (PATH or TAYLORDASH_S3S_FS): skipping the S3 throughput")
        if s3:
            try:
                results["throughput"].append(throughput(
                    binary, work, source, args.size_mib, s3.env("bench"), "s3", s3))
            finally:
                s3.stop()
        source.unlink()
        if not args.skip_rss:
            results["rss_1gib_upload"] = rss_during_upload(binary, work)
        if not args.skip_backup:
            backup_rounds(args, binary, work, results)
    return report(results, args.json)


def backup_rounds(args, binary: Path, work: Path, results: dict) -> None:
    """Backup/restore figures of `binary` (and of the baseline binary, alternating, when given:
    the same machine state for both), each round in its own directory."""
    pg = os.environ.get("TAYLORDASH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
    runs: dict[str, list] = {"binary": [], "baseline": []}
    for i in range(args.rounds):
        for label, path in (("baseline", args.baseline_binary), ("binary", str(binary))):
            if path:
                round_dir = work / f"backup-{label}-{i}"
                round_dir.mkdir()
                runs[label].append(backup_times(Path(path), round_dir, args.events, pg))
    results["backup_100k_events"] = runs["binary"][0] if args.rounds == 1 else runs["binary"]
    if args.baseline_binary:
        results["backup_baseline"] = runs["baseline"]
        for key in ("restore_sqlite_s", "restore_postgres_s"):
            ours = [r[key] for r in runs["binary"] if key in r]
            base = [r[key] for r in runs["baseline"] if key in r]
            if ours and base:
                results[f"{key}_speedup"] = round(min(base) / min(ours), 2)


def report(results: dict, path: str | None) -> int:
    text = json.dumps(results, indent=2)
    print(text)
    if path:
        Path(path).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
