#!/usr/bin/env python3
"""A TaylorDash webhook receiver for tests, as docs/operations.md tells a receiver to be.

Usage: webhook_receiver.py SIGNING_KEY PORT LOG_FILE

It verifies every POST: the X-TaylorDash-Signature header must be "sha256=" + the hex
HMAC-SHA256 of "<X-TaylorDash-Timestamp>.<body>" under the signing key (compared in constant
time), the timestamp within 5 minutes of this clock (replay window), and the body's
idempotency_key equal to the Idempotency-Key header. A verified delivery is appended to
LOG_FILE as one JSON line {"key", "duplicate", "body"} ("duplicate": this process saw the key
before) and answered 204; anything else 400/401 and not logged.
"""
import hashlib
import hmac
import http.server
import json
import sys
import threading
import time

KEY = sys.argv[1].encode()
PORT = int(sys.argv[2])
LOG = sys.argv[3]
WINDOW = 300
SEEN = set()
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, text=""):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-TaylorDash-Timestamp", "")
        sig = self.headers.get("X-TaylorDash-Signature", "")
        key = self.headers.get("Idempotency-Key", "")
        if not ts.isdigit() or not sig or not key:
            return self.answer(400, "missing signature headers")
        if abs(time.time() - int(ts)) > WINDOW:
            return self.answer(401, "timestamp outside the replay window")
        mac = hmac.new(KEY, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest("sha256=" + mac, sig):
            return self.answer(401, "bad signature")
        doc = json.loads(body)
        if doc.get("idempotency_key") != key:
            return self.answer(400, "idempotency key differs from the body's")
        with LOCK:
            duplicate = key in SEEN
            SEEN.add(key)
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "duplicate": duplicate, "body": doc}) + "\n")
        self.answer(204)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
