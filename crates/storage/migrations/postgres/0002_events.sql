-- The event bus: every accepted event (v1's events_mirror, now with typed columns and a unique
-- idempotency key), dead letters (v1's dlq_events, with a fixed reason category), and the
-- transactional outbox of domain events written in the same transaction as the change.

CREATE TABLE events_mirror (
    id              BIGSERIAL PRIMARY KEY,
    topic           VARCHAR(255) NOT NULL,
    kind            VARCHAR(128) NOT NULL,
    trace_id        UUID NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL UNIQUE,
    source          VARCHAR(32) NOT NULL,
    payload         JSONB NOT NULL,
    ts              TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_events_mirror_topic ON events_mirror (topic);
CREATE INDEX idx_events_mirror_kind ON events_mirror (kind);
CREATE INDEX idx_events_mirror_trace_id ON events_mirror (trace_id);
CREATE INDEX idx_events_mirror_received_at ON events_mirror (received_at);

CREATE TABLE dlq_events (
    id             BIGSERIAL PRIMARY KEY,
    original_topic VARCHAR(255) NOT NULL,
    reason         VARCHAR(32) NOT NULL,
    failure_reason TEXT NOT NULL,
    payload        JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at    TIMESTAMPTZ,
    replayed_event_id BIGINT
);
CREATE INDEX idx_dlq_events_created_at ON dlq_events (created_at);
CREATE INDEX idx_dlq_events_original_topic ON dlq_events (original_topic);

CREATE TABLE event_outbox (
    id              BIGSERIAL PRIMARY KEY,
    topic           VARCHAR(255) NOT NULL,
    kind            VARCHAR(128) NOT NULL,
    trace_id        UUID NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL UNIQUE,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempted_at    TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX idx_event_outbox_unsent ON event_outbox (id) WHERE sent_at IS NULL;
