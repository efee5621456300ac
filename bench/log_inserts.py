#!/usr/bin/env python3
"""SQLite engine cost of storing one log row, by request-id shape (docs/benchmarks.md,
"Observability"). Builds `application_logs` from the repository's SQLite migrations (0004 and
0007's index changes), then inserts 100,000 rows the way the log writer does (500-row
transactions of 100-row INSERTs, WAL, synchronous=NORMAL) and prints microseconds per row:

  random  request ids are random UUIDv4s (what the server generated before UUIDv7)
  ordered request ids grow with time, as UUIDv7 ids do (what the server generates now)
  noindex the table without any secondary index (the floor)

Usage:  python3 bench/log_inserts.py [--rows N]   (standard library only)
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "crates/storage/migrations/sqlite"
COLUMNS = ('("timestamp", level, service, category, severity, message, details, trace_id, '
           "request_id, user_id, endpoint, method, status_code, duration_ms, error_code, "
           "stack_trace, context, environment, version, host_name)")


def schema(conn: sqlite3.Connection, with_indexes: bool) -> None:
    conn.executescript((MIGRATIONS / "0004_observability.sql").read_text())
    # 0007, without the schema prefix (here the table is in the main database).
    conn.executescript((MIGRATIONS / "0007_log_indexes.sql").read_text()
                       .replace("observability.", ""))
    if not with_indexes:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                    "AND tbl_name = 'application_logs' AND sql IS NOT NULL"
                                    ).fetchall():
            conn.execute(f"DROP INDEX {name}")


def rows(n: int, ordered: bool) -> list[list]:
    out = []
    for i in range(n):
        rid = f"0190{i:012x}-0000-7000-8000-000000000000" if ordered else str(uuid.uuid4())
        out.append([f"2026-11-29T09:00:00.{i % 1_000_000:06d}Z", "INFO", "taylordash-backend",
                    "API", "INFO", "GET /api/v1/projects 200", None, None, rid, None,
                    "/api/v1/projects", "GET", 200, 3, None, None,
                    json.dumps({"target": "taylordash::http"}), "development", "0.1.0", "host"])
    return out


def measure(mode: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(Path(d) / "logs.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        schema(conn, with_indexes=mode != "noindex")
        data = rows(n, ordered=mode != "random")
        chunks = [[v for r in data[k:k + 100] for v in r] for k in range(0, n, 100)]
        sql = f"INSERT INTO application_logs {COLUMNS} VALUES " + ", ".join(
            ["(" + ", ".join(["?"] * 20) + ")"] * 100)
        start = time.perf_counter()
        for t in range(0, len(chunks), 5):
            conn.execute("BEGIN")
            for chunk in chunks[t:t + 5]:
                conn.execute(sql, chunk)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
    return elapsed / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    args = p.parse_args()
    for mode in ("random", "ordered", "noindex"):
        print(f"{mode:>8}: {measure(mode, args.rows):5.1f} µs a row")


if __name__ == "__main__":
    main()
