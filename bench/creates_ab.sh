#!/bin/bash
# Durable creates, one binary at a time, for side-by-side (A/B) runs of two builds:
#   bench/creates_ab.sh BINARY sqlite|pg CONNECTIONS [SECONDS]
# Starts BINARY on a fresh SQLite data directory (or a fresh PostgreSQL database on
# TAYLORDASH_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432), warms up for 1 s, then
# POSTs /api/v1/projects with wrk at CONNECTIONS for SECONDS (default 5) and prints creates/s,
# p50/p99, the server's CPU time and thread switches per create (from /proc), and the outbox
# backlog (events not yet relayed) when the run ends. Alternate the binaries between
# runs, so slow drifts in background load hit both alike. bench/run.py is the full benchmark.
set -euo pipefail
BIN=$1; BACKEND=$2; C=$3; D=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
PG=${TAYLORDASH_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PORT=$((18000 + RANDOM % 1000))
DATA=$(mktemp -d)
KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
ENVS=(PATH="$PATH" TAYLORDASH_BIND="127.0.0.1:$PORT" TAYLORDASH_DATA_DIR="$DATA" API_KEY="$KEY")
# TAYLORDASH_LOG passes through (e.g. warn: no access log lines)
if [ -n "${TAYLORDASH_LOG:-}" ]; then ENVS+=(TAYLORDASH_LOG="$TAYLORDASH_LOG"); fi
DB=""
if [ "$BACKEND" = pg ]; then
  DB=td_ab_$RANDOM
  psql "$PG/postgres" -qAtc "CREATE DATABASE $DB"
  ENVS+=(DATABASE_URL="$PG/$DB")
fi
env -i "${ENVS[@]}" "$BIN" serve > "$DATA.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done
export TAYLORDASH_BENCH_API_KEY=$KEY TAYLORDASH_BENCH_BODY='{"name":"bench create"}' TAYLORDASH_BENCH_DIR=$HERE
URL="http://127.0.0.1:$PORT/api/v1/projects"
wrk -t2 -c"$C" -d1s -s "$HERE/post.lua" "$URL" >/dev/null
# Context switches of all the server's threads (a statement on SQLite is two: to the
# connection's thread and back).
switches() { cat /proc/"$SPID"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}'; }
T0=$(awk '{print $14+$15}' "/proc/$SPID/stat")
S0=$(switches)
OUT=$(wrk -t2 -c"$C" -d"${D}s" --latency -s "$HERE/post.lua" "$URL" | grep BENCH_JSON)
T1=$(awk '{print $14+$15}' "/proc/$SPID/stat")
S1=$(switches)
BACKLOG=$(curl -sf -H "X-API-Key: $KEY" "http://127.0.0.1:$PORT/metrics" | awk '/^taylordash_outbox_backlog / {print $2}')
field() { echo "$OUT" | sed "s/.*\"$1\":\([0-9]*\).*/\1/"; }
REQ=$(field requests)
ERR=$(echo "$OUT" | sed 's/.*"errors":\({[^}]*}\).*/\1/')
TICK=$(getconf CLK_TCK)
echo "$(basename "$BIN") $BACKEND c=$C creates/s=$((REQ / D)) p50=$(field p50)us p99=$(field p99)us" \
  "server_cpu_us_per_create=$(( (T1 - T0) * 1000000 / TICK / REQ ))" \
  "switches_per_create=$(echo "$S0 $S1 $REQ" | awk '{printf "%.2f", ($2 - $1) / $3}')" \
  "outbox_backlog_after=${BACKLOG:-?}" \
  "errors=$ERR load=$(cut -d' ' -f1 /proc/loadavg)"
kill "$SPID"; wait "$SPID" 2>/dev/null || true
if [ -n "$DB" ]; then psql "$PG/postgres" -qAtc "DROP DATABASE $DB WITH (FORCE)"; fi
rm -rf "$DATA" "$DATA.log"
