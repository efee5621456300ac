#!/usr/bin/env bash
# A bounded schemathesis run: the release binary on a loopback port with a fresh data directory,
# a first admin made through the setup API and a personal API key, then every documented
# operation fuzzed with all checks (the document must describe what the server accepts and
# refuses, and every status it answers). Fails on any finding.
#
# TAYLORDASH_BIN       the binary; default $CARGO_TARGET_DIR/release/taylordash
# SCHEMATHESIS_TIME    the time budget in seconds; default 180
# SCHEMATHESIS_SEED    the seed; default 20261207 (a fixed seed: a finding reproduces)
# SCHEMATHESIS_VENV    where schemathesis is installed; default ~/.cache/taylordash-schemathesis
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
bin="${TAYLORDASH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/taylordash}"
budget="${SCHEMATHESIS_TIME:-180}"
seed="${SCHEMATHESIS_SEED:-20261207}"
venv="${SCHEMATHESIS_VENV:-$HOME/.cache/taylordash-schemathesis}"
version=4.32.5

[ -x "$bin" ] || { echo "no taylordash binary at $bin (cargo build --release -p taylordash)" >&2; exit 1; }
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
log="$data.log"
report="${SCHEMATHESIS_REPORT_DIR:-$data-report}"
TAYLORDASH_BIND="127.0.0.1:$port" TAYLORDASH_DATA_DIR="$data" TAYLORDASH_LOG=warn \
  "$bin" serve >"$log" 2>&1 &
server=$!
# Where the alert channels the run makes deliver (receivers.py): an HTTP and an SMTP server.
python3 "$here/receivers.py" >"$data.ports" &
receivers=$!
cleanup() {
  kill "$server" "$receivers" 2>/dev/null || true
  wait "$server" "$receivers" 2>/dev/null || true
  rm -rf "$data" "$log" "$data.ports"
}
trap cleanup EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do [ -s "$data.ports" ] && break; sleep 0.1; done
read -r TD_RECEIVER_HTTP TD_RECEIVER_SMTP <"$data.ports"
export TD_RECEIVER_HTTP TD_RECEIVER_SMTP

# The first admin (setup token from the server's output) and an admin API key for the run.
# Exports what the hooks need: the key, the admin's id and password.
eval "$(python3 - "$base" "$log" <<'PY'
import json, re, secrets, sys, time, urllib.request

base, log = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)

deadline = time.time() + 30
token = None
while time.time() < deadline:
    m = re.search(r"/setup\?token=([A-Za-z0-9_-]+)", open(log, errors="replace").read())
    if m:
        try:
            urllib.request.urlopen(base + "/health/ready", timeout=1)
            token = m.group(1)
            break
        except OSError:
            pass
    time.sleep(0.1)
if token is None:
    sys.exit("taylordash did not start:\n" + open(log, errors="replace").read())
password = "fuzz-" + secrets.token_urlsafe(18)
call("POST", "/api/v1/auth/setup", {"token": token, "username": "admin", "password": password})
session = call("POST", "/api/v1/auth/login", {"username": "admin", "password": password})
key = call("POST", "/api/v1/auth/api-keys", {"name": "schemathesis", "scope": "admin"},
           token=session["session_token"])
print(f"export TD_API_KEY={key['key']} TD_ADMIN_ID={session['user_id']} "
      f"TD_ADMIN_KEY_ID={key['id']} TD_ADMIN_PASSWORD={password}")
PY
)"

# One of each thing a path can name (seed.py), so valid requests reach the code behind the id.
export TD_BASE="$base"
TD_SEED=$(PYTHONPATH="$here" python3 -c 'import json, os, seed
api = seed.Api(os.environ["TD_BASE"], os.environ["TD_API_KEY"])
print(json.dumps(seed.seed(api, os.environ["TD_ADMIN_PASSWORD"])))')
export TD_SEED
echo "seeded: $TD_SEED"

start=$(date +%s)
work=$(mktemp -d)   # schemathesis keeps a cache in its working directory
set +e
(cd "$work" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1 "$venv/bin/st" --config-file "$here/schemathesis.toml" \
  run "$base/openapi.json" --url "$base" \
  --header "X-API-Key: $TD_API_KEY" \
  --checks all --workers 1 --seed "$seed" --max-time "$budget" \
  --report junit,ndjson --report-dir "$report")
status=$?
rm -rf "$work"
set -e
echo "schemathesis: $(( $(date +%s) - start )) s, exit $status (reports in $report)"
if [ "$status" != 0 ]; then
  echo "server log (last 20 lines):" >&2
  tail -20 "$log" >&2
fi
exit "$status"
