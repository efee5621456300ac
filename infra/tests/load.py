"""Sends requests through the proxy from a few threads for DURATION seconds (bounded), while
the caller stops a replica; reports the status codes. Exits 1 if any request failed.

usage: load.py URL API_KEY DURATION_SECONDS READY_FILE
"""
import collections
import json
import sys
import threading
import time
import urllib.error
import urllib.request

url, key, duration, ready_file = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
codes = collections.Counter()
errors = []
lock = threading.Lock()
stop = time.monotonic() + duration
MAX_REQUESTS = 20000


def worker(n):
    i = 0
    while time.monotonic() < stop and sum(codes.values()) < MAX_REQUESTS:
        i += 1
        if i % 5 == 0:
            body = json.dumps({"name": f"load {n}-{i}", "status": "active"}).encode()
            req = urllib.request.Request(f"{url}/api/v1/projects", data=body, method="POST",
                                         headers={"X-API-Key": key,
                                                  "Content-Type": "application/json"})
        else:
            req = urllib.request.Request(f"{url}/api/v1/projects?limit=5",
                                         headers={"X-API-Key": key})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception as e:  # connection refused, reset, timeout
            code = "error"
            with lock:
                errors.append(repr(e))
        with lock:
            codes[code] += 1


threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
open(ready_file, "w").close()
for t in threads:
    t.join()
bad = {k: v for k, v in codes.items() if k not in (200, 201)}
print(f"requests: {dict(codes)}")
for e in errors[:5]:
    print("error:", e)
sys.exit(1 if bad or sum(codes.values()) < 50 else 0)
