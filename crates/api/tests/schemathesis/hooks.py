"""Hooks of the bounded schemathesis run (run.sh).

The document describes the shape of every input: types, lengths, patterns, ranges and
vocabularies. A few rules are about other things than a value's shape, which no schema can
say: that a referenced user exists, that a checksum is the body's, that a check's target fits
its kind, that a time range is not longer than a month. A request the fuzzer generates as
valid gets these few facts filled in here, and stays valid by the schema (schemathesis checks
the case again after these changes). Invalid requests are left as generated.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import time
import uuid
import zlib
from datetime import datetime, timedelta, timezone

import schemathesis

import seed

ADMIN_ID = os.environ.get("TD_ADMIN_ID")
# The run's own API key: revoking it would end the run's access (every later answer a 401).
ADMIN_KEY_ID = os.environ.get("TD_ADMIN_KEY_ID")
# One of each thing a path can name, made by run.sh before the run (seed.py).
SEED = json.loads(os.environ.get("TD_SEED", "{}"))
SEEDED_VALUES = {str(v) for v in SEED.values()}
API = seed.Api(os.environ.get("TD_BASE", ""), os.environ.get("TD_API_KEY", ""))
# Requests that remove or replace the thing they name get a new one, so the seeded ones stay
# for the requests after them: (method, path) -> the parameter to make afresh.
FRESH = {
    ("DELETE", "/api/v1/projects/{project_id}"): "project_id",
    ("DELETE", "/api/v1/projects/{project_id}/status-page"): "project_id",
    ("POST", "/api/v1/projects/{project_id}/status-page"): "project_id",
    ("DELETE", "/api/v1/components/{component_id}"): "component_id",
    ("DELETE", "/api/v1/tasks/{task_id}"): "task_id",
    ("DELETE", "/api/v1/checks/{check_id}"): "check_id",
    ("POST", "/api/v1/checks/{check_id}/push-token"): "check_id",
    ("DELETE", "/api/v1/artifacts/{artifact_id}"): "artifact_id",
    ("DELETE", "/api/v1/auth/users/{user_id}"): "user_id",
    ("DELETE", "/api/v1/auth/api-keys/{key_id}"): "key_id",
    ("DELETE", "/api/v1/alert-channels/{channel_id}"): "channel_id",
    ("DELETE", "/api/v1/alert-rules/{rule_id}"): "rule_id",
}
# The admin's password changes when the fuzzer changes it (`PUT /auth/me/password`).
state = {"password": os.environ.get("TD_ADMIN_PASSWORD", "")}

# The passwords the policy refuses however long they are (`domain::identity::COMMON_PASSWORDS`),
# read from the source so the list is the server's.
_IDENTITY = os.path.join(os.path.dirname(__file__), "../../../domain/src/identity.rs")
with open(_IDENTITY, encoding="utf-8") as f:
    _list = re.search(r"const COMMON_PASSWORDS: &\[&str\] = &\[(.*?)\];", f.read(), re.S).group(1)
COMMON_PASSWORDS = set(re.findall(r'"([^"]*)"', _list))
# ... and the breached-password list (`domain::common_passwords`), from its data files.
_DATA = os.path.join(os.path.dirname(__file__), "../../../domain/data/common_passwords")
with open(_DATA + ".index", encoding="utf-8") as f:
    _offsets = [int(line.split("\t", 1)[0]) for line in f.read().splitlines()]
with open(_DATA + ".blocks", "rb") as f:
    _blocks = f.read()
for _start, _end in zip(_offsets, _offsets[1:] + [len(_blocks)]):
    COMMON_PASSWORDS.update(zlib.decompress(_blocks[_start:_end], -15).decode().split("\n"))


def _good_password(password, username=""):
    """The password policy's rules beyond the length the schema states."""
    lowered = password.lower()
    return lowered not in COMMON_PASSWORDS and lowered.strip() != username.strip().lower()


# Second-factor changes that check the caller's password first.
PASSWORD_CHECKED = (
    "POST /api/v1/auth/me/totp",
    "POST /api/v1/auth/me/totp/recovery-codes",
    "POST /api/v1/auth/me/totp/disable",
)


# The alert channel kinds (`domain::ChannelKind`).
_CHANNEL_KINDS = ("webhook", "email", "ntfy", "gotify", "discord", "slack")

# Event kinds whose payload has a schema of its own (`bus::check_schema`).
SCHEMA_FAMILIES = ("project.", "component.", "task.", "metric.")

# Targets that make each kind of check valid, on loopback (the checks are created paused, so
# nothing is probed anyway).
TARGETS = {
    "http": {"url": "http://127.0.0.1:9/"},
    "tcp": {"host": "127.0.0.1", "port": 9},
    "ping": {"host": "127.0.0.1"},
    "dns": {"name": "localhost", "record_type": "A", "server": "127.0.0.1:9"},
    "mqtt": {"topic_filter": "tracker/events/fuzz/#"},
    "push": {},
}


def _ends_in_a_number(url):
    """Whether the URL's host ends in a number (WHATWG: then it must parse as IPv4) without
    being a dotted-quad address."""
    m = re.match(r"[a-zA-Z]+://([^/?#:]*)", url.strip())
    if not m:
        return False
    labels = m.group(1).rstrip(".").split(".")
    last = labels[-1]
    numeric = last.isdigit() or bool(re.fullmatch(r"0[xX][0-9a-fA-F]*", last))
    quad = len(labels) == 4 and all(p.isdigit() and int(p) < 256 for p in labels)
    return numeric and not quad


PASSKEY_CEREMONIES = {
    "POST /api/v1/auth/me/passkeys": "webauthn.create",
    "POST /api/v1/auth/login/passkey": "webauthn.get",
    "POST /api/v1/auth/login/second-factor/passkey": "webauthn.get",
}


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _op(case):
    return f"{case.operation.method.upper()} {case.operation.path}"


def _body(case):
    return case.body if isinstance(case.body, dict) else None


def _parse_time(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00")).timestamp()


@schemathesis.hook
def before_call(context, case, kwargs):
    op = _op(case)
    if _positive(case):
        _use_seeded_ids(case)
    # An admin cannot delete their own account (400, as in v1), and the run keeps its key.
    params = case.path_parameters or {}
    if op == "DELETE /api/v1/auth/users/{user_id}" and params.get("user_id") == ADMIN_ID:
        case.path_parameters = {**params, "user_id": str(uuid.uuid4())}
    if op == "DELETE /api/v1/auth/api-keys/{key_id}" and params.get("key_id") == ADMIN_KEY_ID:
        case.path_parameters = {**params, "key_id": str(uuid.uuid4())}

    if not _positive(case):
        return
    body = _body(case)

    # A link's host that ends in a number is an IPv4 address to a URL parser (WHATWG), and
    # `R.V.name.9` is then no address at all: a rule the schema's pattern cannot state.
    if body and isinstance(body.get("url"), str) and _ends_in_a_number(body["url"]):
        body["url"] = "http://nas.lan:5000/"
        case.body = body

    # A project's owner must be a user that exists.
    if op in ("POST /api/v1/projects", "PUT /api/v1/projects/{project_id}") and body:
        if body.get("owner_id") is not None and ADMIN_ID:
            body["owner_id"] = ADMIN_ID
            case.body = body

    # An icon given by id must be an image artifact of the project: use a built-in one.
    if op in (
        "POST /api/v1/projects/{project_id}/components",
        "PUT /api/v1/components/{component_id}",
    ) and body:
        icon = body.get("icon")
        if isinstance(icon, str) and "-" in icon.strip() and len(icon.strip()) == 36:
            body["icon"] = "server"
            case.body = body

    # An API key expires in the future, and by one of the two fields.
    if op == "POST /api/v1/auth/api-keys" and body:
        at = body.get("expires_at")
        if at is not None and (body.get("expires_in_days") is not None or _parse_time(at) <= time.time() + 60):
            body.pop("expires_at")
            case.body = body

    # A check's target fits its kind; the fuzzer's checks are paused and their timeout within
    # their interval.
    if op == "POST /api/v1/components/{component_id}/checks" and body:
        body["target"] = dict(TARGETS.get(body.get("kind"), {}))
        body["paused"] = True
        _timeout_within_interval(body, 60)
        case.body = body
    if op == "PUT /api/v1/checks/{check_id}" and body:
        body.pop("target", None)
        body["paused"] = True
        _timeout_within_interval(body, 10)
        case.body = body

    # An alert channel's settings and secrets fit its kind (a kind cannot change on update)
    # and deliver to the run's loopback receivers.
    if op in ("POST /api/v1/alert-channels", "PUT /api/v1/alert-channels/{channel_id}") and body:
        if op.startswith("PUT"):
            try:
                body["kind"] = API.call("GET", f"/api/v1/alert-channels/{params['channel_id']}")["kind"]
            except OSError:
                pass
        if body.get("kind") in _CHANNEL_KINDS:
            body["config"], body["secrets"] = seed.channel_settings(body["kind"])
            case.body = body

    # A rule's parameters fit its kind, and the channels it names exist.
    if op in ("POST /api/v1/alert-rules", "PUT /api/v1/alert-rules/{rule_id}") and body:
        body["params"] = dict(seed.RULE_PARAMS.get(body.get("kind"), {}))
        if body.get("channels"):
            body["channels"] = [SEED["channel_id"]] if "channel_id" in SEED else []
        case.body = body

    # Event kinds with a payload schema need their payload's fields: publish other kinds.
    if op == "POST /api/v1/events" and body:
        kind = body.get("kind", "")
        if isinstance(kind, str) and kind.startswith(SCHEMA_FAMILIES):
            body["kind"] = "fuzz-" + kind
            case.body = body

    # A time window starts before it ends (`since` after `until` is a 422 the schema cannot state).
    query = case.query or {}
    if query.get("since") is not None and query.get("until") is not None:
        try:
            if _parse_time(query["since"]) > _parse_time(query["until"]):
                case.query = {**query, "since": query["until"], "until": query["since"]}
        except (ValueError, OverflowError, OSError):
            pass

    # A passkey answer carries base64url JSON of its ceremony's type. The challenge in it is one
    # the server never issued, so the answer is refused as stale (401 SIGN_IN_EXPIRED) or from
    # another site (401): an accepted answer needs a real authenticator, which
    # crates/api/tests/api/passkeys.rs and web/e2e/passkeys.test.mjs use.
    ceremony = PASSKEY_CEREMONIES.get(op)
    if ceremony and body and isinstance(body.get("credential"), dict) \
            and isinstance(body["credential"].get("response"), dict):
        client = {"type": ceremony, "challenge": secrets.token_urlsafe(32),
                  "origin": "http://127.0.0.1"}
        body["credential"]["response"]["clientDataJSON"] = (
            base64.urlsafe_b64encode(json.dumps(client).encode()).rstrip(b"=").decode())
        case.body = body

    # A range query of the local PromQL subset, over at most a month.
    if op == "GET /api/v1/metrics/query_range":
        now = int(time.time())
        case.query = {
            **case.query,
            "query": "taylordash_http_requests_total",
            "start": str(now - 3600),
            "end": str(now),
            "step": "60",
        }

    # The checksum of an upload is the body's.
    if op == "POST /api/v1/projects/{project_id}/artifacts":
        if case.headers and "X-Checksum-Sha256" in case.headers:
            data = case.body if isinstance(case.body, (bytes, bytearray)) else str(case.body or "").encode()
            case.headers["X-Checksum-Sha256"] = hashlib.sha256(data).hexdigest()
        if case.query and case.query.get("component_id") is not None:
            query = dict(case.query)
            query.pop("component_id")
            case.query = query

    # A version in the body and one in `If-Match` must agree (or the body's alone is sent).
    if case.operation.method.upper() == "PUT" and body and body.get("version") is not None:
        if case.headers and "If-Match" in case.headers and case.headers["If-Match"] != "*":
            case.headers["If-Match"] = f'"{body["version"]}"'

    # The run's admin stays an active admin (another admin made by the fuzzer could otherwise
    # demote or deactivate it, and every later request would be refused).
    if op == "PUT /api/v1/auth/users/{user_id}" and body and params.get("user_id") == ADMIN_ID:
        body.pop("role", None)
        body.pop("is_active", None)
        case.body = body

    # A user update changes something: a body of nulls only keeps everything (NO_UPDATES).
    if op == "PUT /api/v1/auth/users/{user_id}" and body is not None:
        fields = ("role", "default_view", "single_view_mode", "is_active", "password")
        if all(body.get(f) is None for f in fields):
            body["single_view_mode"] = False
            case.body = body

    # A new password is not a well-known one, nor the username.
    if body:
        for operation, field, username in (
            ("POST /api/v1/auth/users", "password", body.get("username") or ""),
            ("PUT /api/v1/auth/users/{user_id}", "password", ""),
            ("PUT /api/v1/auth/me/password", "new_password", "admin"),
        ):
            value = body.get(field)
            if op == operation and isinstance(value, str) and not _good_password(value, username):
                body[field] = "fuzz-" + secrets.token_urlsafe(12)
                case.body = body

    # The current password is the admin's.
    if op == "PUT /api/v1/auth/me/password" and body:
        body["current_password"] = state["password"]
        case.body = body
    if op in PASSWORD_CHECKED and body:
        body["password"] = state["password"]
        case.body = body

    # A sign-in settings change changes something (a body of nulls only is NO_UPDATES).
    if op == "PUT /api/v1/auth/settings" and body is not None:
        if all(body.get(f) is None for f in ("password_sign_in", "second_factor_for_admins")):
            body["second_factor_for_admins"] = False
        # Password sign-in stays on: the run has no single sign-on to replace it.
        if body.get("password_sign_in") is False:
            body["password_sign_in"] = True
        case.body = body


def _use_seeded_ids(case):
    """A valid request names a thing that exists: a seeded one, or a new one where the request
    removes or replaces it."""
    params = dict(case.path_parameters or {})
    if not params or not SEED:
        return
    path = case.operation.path
    meta = case.meta
    # Ids that came from the server's own answers (the stateful phase follows the document's
    # links; the other phases reuse ids captured from responses) are real already.
    if str(meta.phase.name) != "stateful" and not meta.pool_draws:
        for name in params:
            if name == "token":
                value = SEED.get("push_token" if path.startswith("/api/v1/checks/push/") else "status_token")
            else:
                value = SEED.get(name)
            if value is not None:
                params[name] = value
    # A request that would remove or replace a seeded thing (however its id was found) gets a
    # new one instead, so the seeded ones stay for the requests after it.
    renew = FRESH.get((case.operation.method.upper(), path))
    if renew and params.get(renew) in SEEDED_VALUES:
        try:
            made = seed.fresh_push_check(API, SEED) if renew == "check_id" else seed.fresh(API, renew, SEED)
        except OSError:
            made = None
        if made is not None:
            params[renew] = made
    case.path_parameters = params


def _timeout_within_interval(body, default_interval):
    interval = body.get("interval_secs") or default_interval
    timeout = body.get("timeout_secs")
    if timeout is not None and timeout > interval:
        body["timeout_secs"] = interval


@schemathesis.hook
def after_call(context, case, response):
    if response.status_code != 200:
        return
    op = _op(case)
    body = _body(case)
    if op == "PUT /api/v1/auth/me/password" and body:
        state["password"] = body["new_password"]
    if op == "PUT /api/v1/auth/users/{user_id}" and body and body.get("password") is not None:
        if case.path_parameters.get("user_id") == ADMIN_ID:
            state["password"] = body["password"]
