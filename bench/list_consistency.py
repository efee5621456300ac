#!/usr/bin/env python3
"""Lists under concurrent writes, against a release binary:
    python3 bench/list_consistency.py BINARY sqlite|pg SECONDS

Starts BINARY on a fresh SQLite data directory (or a fresh PostgreSQL database on
127.0.0.1:5432, trust auth), then for SECONDS one client creates projects w000000, w000001, ...
one after another and deletes the oldest once more than 12 exist, while three clients list
them (`GET /api/v1/projects`). Prints one JSON line: how many lists had a `total` that
disagrees with the page, a gap in the names (not one snapshot), or a stale answer (missing a
create or still showing a delete acknowledged before the list was sent). Python standard
library only. The test `crates/api/tests/api/consistency.rs` checks the same in process.
"""
import http.client, json, os, random, subprocess, sys, tempfile, threading, time

BIN, BACKEND, SECS = sys.argv[1], sys.argv[2], float(sys.argv[3])
port = 19600 + random.randint(0, 300)
data = tempfile.mkdtemp()
key = os.urandom(24).hex()
env = {"PATH": os.environ["PATH"], "TAYLORDASH_BIND": f"127.0.0.1:{port}",
       "TAYLORDASH_DATA_DIR": data, "API_KEY": key, "TAYLORDASH_LOG": "warn"}
db = None
if BACKEND == "pg":
    db = f"td_cons_{random.randint(0, 99999)}"
    subprocess.run(["psql", "postgres://postgres@127.0.0.1:5432/postgres", "-qAtc", f"CREATE DATABASE {db}"], check=True)
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
H = {"X-API-Key": key, "Content-Type": "application/json"}


def req(conn, method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=H)
    r = conn.getresponse()
    raw = r.read()
    return r.status, (json.loads(raw) if raw else None)


for _ in range(200):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        if req(c, "GET", "/health/ready")[0] == 200:
            break
    except OSError:
        time.sleep(0.05)
W = 12
state = {"created": 0, "deleted": 0, "done": False}
bad = {"total_mismatch": 0, "gap": 0, "stale": 0, "lists": 0}


def writer():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ids = []
    i = 0
    end = time.time() + SECS
    while time.time() < end:
        s, b = req(c, "POST", "/api/v1/projects", {"name": f"w{i:06d}"})
        assert s == 201, (s, b)
        ids.append(b["id"])
        state["created"] = i + 1
        if i - W >= 0:
            s, _ = req(c, "DELETE", f"/api/v1/projects/{ids[i - W]}")
            assert s == 204, s
            state["deleted"] = i - W + 1
        i += 1
    state["done"] = True


def reader():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not state["done"]:
        cr, de = state["created"], state["deleted"]
        s, b = req(c, "GET", "/api/v1/projects")
        assert s == 200
        found = [int(p["name"][1:]) for p in b["projects"]]
        bad["lists"] += 1
        if b["total"] != len(found):
            bad["total_mismatch"] += 1
        if any(found[k] != found[k + 1] + 1 for k in range(len(found) - 1)):
            bad["gap"] += 1
        if found and (found[0] + 1 < cr or found[-1] < de):
            bad["stale"] += 1
        if not found and cr > de:
            bad["stale"] += 1


ts = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
proc.terminate()
proc.wait()
if db:
    subprocess.run(["psql", "postgres://postgres@127.0.0.1:5432/postgres", "-qAtc", f"DROP DATABASE {db} WITH (FORCE)"])
subprocess.run(["rm", "-rf", data])
print(json.dumps({"binary": os.path.basename(BIN), "backend": BACKEND, "writes": state["created"], **bad}))
