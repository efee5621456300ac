-- Alerts: channels that reach a person (visible settings in `config`, secret values in
-- `secrets`, never logged), rules, the alerts they raise (at most one unresolved alert per
-- fingerprint: deduplication), and the durable notification queue. A notification is queued
-- in the same transaction as the alert change that owes it; the sender leases rows
-- (`lease_until`) and marks them sent only after the receiver's 2xx.
CREATE TABLE alert_channels (
    id         UUID PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    kind       VARCHAR(16) NOT NULL
               CHECK (kind IN ('webhook', 'email', 'ntfy', 'gotify', 'discord', 'slack')),
    config     JSONB NOT NULL,
    secrets    JSONB NOT NULL DEFAULT '{}',
    enabled    BOOLEAN NOT NULL,
    version    BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE alert_rules (
    id                UUID PRIMARY KEY,
    name              VARCHAR(255) NOT NULL,
    kind              VARCHAR(32) NOT NULL,
    params            JSONB NOT NULL,
    for_secs          BIGINT NOT NULL CHECK (for_secs >= 0),
    severity          VARCHAR(16) NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    channels          JSONB NOT NULL,
    repeat_secs       BIGINT,
    notify_on_resolve BOOLEAN NOT NULL,
    group_wait_secs   BIGINT NOT NULL CHECK (group_wait_secs >= 0),
    enabled           BOOLEAN NOT NULL,
    version           BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE alerts (
    id               UUID PRIMARY KEY,
    rule_id          UUID REFERENCES alert_rules (id) ON DELETE SET NULL,
    source           VARCHAR(16) NOT NULL CHECK (source IN ('rule', 'alertmanager')),
    fingerprint      VARCHAR(512) NOT NULL,
    group_key        VARCHAR(512) NOT NULL,
    name             VARCHAR(255) NOT NULL,
    severity         VARCHAR(16) NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    summary          TEXT NOT NULL,
    labels           JSONB NOT NULL,
    state            VARCHAR(16) NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    active_since     TIMESTAMPTZ NOT NULL,
    firing_since     TIMESTAMPTZ,
    resolved_at      TIMESTAMPTZ,
    last_notified_at TIMESTAMPTZ,
    notify_reason    VARCHAR(16),
    notify_due_at    TIMESTAMPTZ,
    acked_by         VARCHAR(255),
    acked_at         TIMESTAMPTZ,
    ack_note         TEXT,
    silenced_by      VARCHAR(255),
    silenced_at      TIMESTAMPTZ,
    silenced_until   TIMESTAMPTZ,
    silence_reason   TEXT,
    version          BIGINT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX idx_alerts_open_fingerprint ON alerts (fingerprint) WHERE state <> 'resolved';
CREATE INDEX idx_alerts_state ON alerts (state, updated_at DESC);
CREATE INDEX idx_alerts_notice ON alerts (notify_due_at) WHERE notify_due_at IS NOT NULL;

CREATE TABLE alert_notifications (
    id              UUID PRIMARY KEY,
    channel_id      UUID NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    channel_kind    VARCHAR(16) NOT NULL,
    group_key       VARCHAR(512) NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL UNIQUE,
    payload         JSONB NOT NULL,
    status          VARCHAR(16) NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX idx_alert_notifications_due ON alert_notifications (next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX idx_alert_notifications_created ON alert_notifications (created_at);

-- Which alerts a notification was about (a group's notification names several).
CREATE TABLE alert_notification_alerts (
    notification_id UUID NOT NULL REFERENCES alert_notifications (id) ON DELETE CASCADE,
    alert_id        UUID NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    PRIMARY KEY (notification_id, alert_id)
);
CREATE INDEX idx_alert_notification_alerts_alert ON alert_notification_alerts (alert_id);
