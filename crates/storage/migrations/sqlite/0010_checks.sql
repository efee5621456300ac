-- See the PostgreSQL migration of the same number: checks, their state, raw results and
-- hourly/daily uptime counts.
CREATE TABLE checks (
    id                  BLOB PRIMARY KEY NOT NULL,
    component_id        BLOB NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL
                        CHECK (kind IN ('http', 'tcp', 'ping', 'dns', 'mqtt', 'push')),
    target              TEXT NOT NULL CHECK (json_valid(target)),
    secrets             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(secrets)),
    push_token_hash     TEXT UNIQUE,
    interval_secs       INTEGER NOT NULL CHECK (interval_secs > 0),
    timeout_secs        INTEGER NOT NULL CHECK (timeout_secs > 0),
    retries             INTEGER NOT NULL CHECK (retries >= 0),
    retry_interval_secs INTEGER NOT NULL CHECK (retry_interval_secs > 0),
    drives_status       INTEGER NOT NULL,
    paused              INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX idx_checks_component ON checks (component_id, created_at, id);

CREATE TABLE check_status (
    check_id        BLOB PRIMARY KEY NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'unknown'
                    CHECK (status IN ('unknown', 'up', 'degraded', 'down')),
    status_since    TEXT,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_checked_at TEXT,
    last_latency_ms REAL,
    last_error      TEXT,
    cert_expires_at TEXT,
    next_due_at     TEXT,
    lease_until     TEXT
);
CREATE INDEX idx_check_status_due ON check_status (next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE check_results (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id   BLOB NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('up', 'degraded', 'down')),
    latency_ms REAL,
    error      TEXT
);
CREATE INDEX idx_check_results_check ON check_results (check_id, at DESC);
CREATE INDEX idx_check_results_at ON check_results (at);

CREATE TABLE check_uptime (
    check_id      BLOB NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    resolution    TEXT NOT NULL CHECK (resolution IN ('h', 'd')),
    bucket        TEXT NOT NULL,
    up            INTEGER NOT NULL,
    degraded      INTEGER NOT NULL,
    down          INTEGER NOT NULL,
    latency_sum   REAL NOT NULL,
    latency_count INTEGER NOT NULL,
    latency_max   REAL,
    PRIMARY KEY (check_id, resolution, bucket)
);
CREATE INDEX idx_check_uptime_bucket ON check_uptime (resolution, bucket);
