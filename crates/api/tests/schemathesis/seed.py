"""Test data for the bounded schemathesis run.

A run that starts from an empty database gets 404 for every made-up id, and never reaches the
code behind a path parameter. `seed` makes one of each thing a path can name (project, two
components with a dependency, task, checks, artifact, status page, user, API key, session,
event, log line, backup, alert channel, alert rule, alert) through the API; the hooks put these
ids into the requests the fuzzer generates as valid. `fresh` makes a new one for a DELETE, so
the seeded ones stay for the requests after it.
"""

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class Api:
    def __init__(self, base, key):
        self.base = base
        self.key = key

    def call(self, method, path, body=None, raw=None, headers=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, method=method, data=data)
        req.add_header("X-API-Key", self.key)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text else None


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fresh(api, kind, seed):
    """A new thing of `kind` (the path parameter's name), for a DELETE; its id or None."""
    if kind == "project_id":
        return api.call("POST", "/api/v1/projects", {"name": _name("fuzz-project")})["id"]
    if kind == "component_id":
        return api.call("POST", f"/api/v1/projects/{seed['project_id']}/components",
                        {"name": _name("fuzz-component")})["id"]
    if kind == "task_id":
        return api.call("POST", f"/api/v1/components/{seed['component_id']}/tasks",
                        {"name": _name("fuzz-task")})["id"]
    if kind == "check_id":
        return _check(api, seed["component_id"], "tcp", {"host": "127.0.0.1", "port": 9})["id"]
    if kind == "artifact_id":
        return _artifact(api, seed["project_id"])
    if kind == "user_id":
        return api.call("POST", "/api/v1/auth/users",
                        {"username": _name("fuzz-user"), "password": _name("fuzz-password-long")})["id"]
    if kind == "key_id":
        return api.call("POST", "/api/v1/auth/api-keys", {"name": _name("fuzz-key"), "scope": "read"})["id"]
    if kind == "channel_id":
        config, secrets = channel_settings("webhook")
        return api.call("POST", "/api/v1/alert-channels",
                        {"name": _name("fuzz-channel"), "kind": "webhook", "config": config,
                         "secrets": secrets})["id"]
    if kind == "rule_id":
        return api.call("POST", "/api/v1/alert-rules",
                        {"name": _name("fuzz-rule"), "kind": "backup_failed",
                         "channels": [seed["channel_id"]] if "channel_id" in seed else []})["id"]
    if kind == "alert_id":
        return _alert(api)
    return None


def channel_settings(kind):
    """A channel's `config` and `secrets` that fit its kind, delivering to the run's loopback
    receivers (receivers.py; their ports come from run.sh)."""
    url = f"http://127.0.0.1:{os.environ.get('TD_RECEIVER_HTTP', '9')}"
    smtp = int(os.environ.get("TD_RECEIVER_SMTP", "9"))
    return {
        "webhook": ({"url": f"{url}/webhook"}, {}),
        "email": ({"host": "127.0.0.1", "port": smtp, "security": "none",
                   "from": "taylordash@example.org", "to": ["ops@example.org"]}, {}),
        "ntfy": ({"server": url, "topic": "fuzz"}, {}),
        "gotify": ({"server": url}, {"token": "fuzz-app-token"}),
        "discord": ({}, {"url": f"{url}/discord"}),
        "slack": ({}, {"url": f"{url}/slack"}),
    }[kind]


# Parameters that fit each rule kind.
RULE_PARAMS = {
    "check_down": {},
    "cert_expiring": {"days": 14},
    "component_blocked": {},
    "dead_letters": {"threshold": 1, "window_secs": 300},
    "backup_failed": {},
    "backup_overdue": {"max_age_secs": 86400},
    "broker_lost": {},
    "metric_threshold": {"query": "taylordash_http_requests_total", "op": ">", "threshold": 1e12},
}


def _alert(api):
    """A firing alert, posted as Alertmanager would."""
    fingerprint = uuid.uuid4().hex[:16]
    api.call("POST", "/api/v1/alerts/alertmanager",
             {"groupKey": "fuzz", "alerts": [{"status": "firing", "fingerprint": fingerprint,
                                              "labels": {"alertname": "FuzzSeed"}}]})
    alerts = api.call("GET", "/api/v1/alerts?open=true&limit=1000")["alerts"]
    return next(a["id"] for a in alerts if a["name"] == "FuzzSeed")


def fresh_push_check(api, seed):
    """A new push check (deleting it, or replacing its push URL, leaves the seeded one)."""
    return _check(api, seed["component_id"], "push", {})["id"]


def _check(api, component_id, kind, target):
    return api.call("POST", f"/api/v1/components/{component_id}/checks",
                    {"kind": kind, "target": target, "paused": True, "name": _name("fuzz-check")})


def _artifact(api, project_id):
    query = urllib.parse.urlencode({"name": "notes.txt"})
    created = api.call("POST", f"/api/v1/projects/{project_id}/artifacts?{query}", raw=b"fuzz notes\n",
                       headers={"Content-Type": "application/octet-stream"})
    return created["id"]


def _first_id(api, path, field):
    items = api.call("GET", path)
    items = items.get(field, []) if isinstance(items, dict) else items
    return items[0]["id"] if items else None


def seed(api, admin_password=None):
    """One of each thing a path parameter can name; a dict from parameter name to value."""
    s = {}
    s["project_id"] = fresh(api, "project_id", s)
    s["component_id"] = fresh(api, "component_id", s)
    s["depends_on_id"] = fresh(api, "component_id", s)
    api.call("POST", f"/api/v1/components/{s['component_id']}/dependencies",
             {"depends_on_id": s["depends_on_id"]})
    s["task_id"] = fresh(api, "task_id", s)
    s["check_id"] = _check(api, s["component_id"], "http", {"url": "http://127.0.0.1:9/"})["id"]
    push = _check(api, s["component_id"], "push", {})
    s["push_token"] = push["push_path"].rsplit("/", 1)[-1]
    s["artifact_id"] = fresh(api, "artifact_id", s)
    page = api.call("POST", f"/api/v1/projects/{s['project_id']}/status-page")
    s["status_token"] = page["api_path"].rsplit("/", 1)[-1]
    s["user_id"] = fresh(api, "user_id", s)
    s["key_id"] = fresh(api, "key_id", s)
    s["channel_id"] = fresh(api, "channel_id", s)
    s["rule_id"] = fresh(api, "rule_id", s)
    s["alert_id"] = fresh(api, "alert_id", s)
    api.call("POST", "/api/v1/events", {"topic": "tracker/events/fuzz/seed", "kind": "fuzz.seed",
                                        "payload": {"n": 1}})
    deadline = time.time() + 10
    while time.time() < deadline and "event_id" not in s:
        event = _first_id(api, "/api/v1/events?limit=1", "events")
        if event is not None:
            s["event_id"] = event
        time.sleep(0.1)
    log = _first_id(api, "/api/v1/logs?limit=1", "logs")
    if log is not None:
        s["log_id"] = log
    sessions = api.call("GET", "/api/v1/auth/sessions")
    sessions = sessions.get("sessions", []) if isinstance(sessions, dict) else sessions
    if sessions:
        s["session_id"] = sessions[0]["id"]
    try:
        backup = api.call("POST", "/api/v1/admin/backups")
        s["name"] = backup.get("name") or backup.get("id")
    except urllib.error.HTTPError:
        pass
    return s

