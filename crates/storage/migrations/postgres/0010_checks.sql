-- Service checks on components: what is checked (kind + target, without secret header values,
-- which are kept apart in `secrets`), how often, and a push check's token (SHA-256 only).
CREATE TABLE checks (
    id                  UUID PRIMARY KEY,
    component_id        UUID NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    name                VARCHAR(255) NOT NULL,
    kind                VARCHAR(16) NOT NULL
                        CHECK (kind IN ('http', 'tcp', 'ping', 'dns', 'mqtt', 'push')),
    target              JSONB NOT NULL,
    secrets             JSONB NOT NULL DEFAULT '{}',
    push_token_hash     CHAR(64) UNIQUE,
    interval_secs       INTEGER NOT NULL CHECK (interval_secs > 0),
    timeout_secs        INTEGER NOT NULL CHECK (timeout_secs > 0),
    retries             INTEGER NOT NULL CHECK (retries >= 0),
    retry_interval_secs INTEGER NOT NULL CHECK (retry_interval_secs > 0),
    drives_status       BOOLEAN NOT NULL,
    paused              BOOLEAN NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_checks_component ON checks (component_id, created_at, id);

-- A check's state between runs (one row per check). `next_due_at` is NULL while paused;
-- `lease_until` is set while a scheduler runs the check, so no other run starts meanwhile.
CREATE TABLE check_status (
    check_id        UUID PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    status          VARCHAR(16) NOT NULL DEFAULT 'unknown'
                    CHECK (status IN ('unknown', 'up', 'degraded', 'down')),
    status_since    TIMESTAMPTZ,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_checked_at TIMESTAMPTZ,
    last_latency_ms DOUBLE PRECISION,
    last_error      TEXT,
    cert_expires_at TIMESTAMPTZ,
    next_due_at     TIMESTAMPTZ,
    lease_until     TIMESTAMPTZ
);
CREATE INDEX idx_check_status_due ON check_status (next_due_at) WHERE next_due_at IS NOT NULL;

-- Raw results, kept for a short window.
CREATE TABLE check_results (
    id         BIGSERIAL PRIMARY KEY,
    check_id   UUID NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    at         TIMESTAMPTZ NOT NULL,
    status     VARCHAR(16) NOT NULL CHECK (status IN ('up', 'degraded', 'down')),
    latency_ms DOUBLE PRECISION,
    error      TEXT
);
CREATE INDEX idx_check_results_check ON check_results (check_id, at DESC);
CREATE INDEX idx_check_results_at ON check_results (at);

-- Counts per hour and per day (resolution 'h' or 'd'; bucket = its start, UTC): what uptime
-- over 24 hours to 365 days is computed from, kept much longer than the raw results.
CREATE TABLE check_uptime (
    check_id      UUID NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    resolution    CHAR(1) NOT NULL CHECK (resolution IN ('h', 'd')),
    bucket        TIMESTAMPTZ NOT NULL,
    up            INTEGER NOT NULL,
    degraded      INTEGER NOT NULL,
    down          INTEGER NOT NULL,
    latency_sum   DOUBLE PRECISION NOT NULL,
    latency_count INTEGER NOT NULL,
    latency_max   DOUBLE PRECISION,
    PRIMARY KEY (check_id, resolution, bucket)
);
CREATE INDEX idx_check_uptime_bucket ON check_uptime (resolution, bucket);
