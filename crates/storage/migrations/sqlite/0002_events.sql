-- The event bus: accepted events, dead letters and the transactional outbox (see the
-- PostgreSQL migration of the same number for the meaning of each column).

CREATE TABLE events_mirror (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    topic           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    trace_id        BLOB NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    source          TEXT NOT NULL,
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    ts              TEXT NOT NULL,
    received_at     TEXT NOT NULL
);
CREATE INDEX idx_events_mirror_topic ON events_mirror (topic);
CREATE INDEX idx_events_mirror_kind ON events_mirror (kind);
CREATE INDEX idx_events_mirror_trace_id ON events_mirror (trace_id);
CREATE INDEX idx_events_mirror_received_at ON events_mirror (received_at);

CREATE TABLE dlq_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    original_topic TEXT NOT NULL,
    reason         TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    payload        TEXT NOT NULL CHECK (json_valid(payload)),
    created_at     TEXT NOT NULL,
    replayed_at    TEXT,
    replayed_event_id INTEGER
);
CREATE INDEX idx_dlq_events_created_at ON dlq_events (created_at);
CREATE INDEX idx_dlq_events_original_topic ON dlq_events (original_topic);

CREATE TABLE event_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    topic           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    trace_id        BLOB NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    created_at      TEXT NOT NULL,
    attempted_at    TEXT,
    sent_at         TEXT
);
CREATE INDEX idx_event_outbox_unsent ON event_outbox (id) WHERE sent_at IS NULL;
