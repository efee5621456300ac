-- See the PostgreSQL migration of the same number: alert channels, rules, alerts and the
-- notification queue.
CREATE TABLE alert_channels (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL
               CHECK (kind IN ('webhook', 'email', 'ntfy', 'gotify', 'discord', 'slack')),
    config     TEXT NOT NULL,
    secrets    TEXT NOT NULL DEFAULT '{}',
    enabled    INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE alert_rules (
    id                BLOB PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    params            TEXT NOT NULL,
    for_secs          INTEGER NOT NULL CHECK (for_secs >= 0),
    severity          TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    channels          TEXT NOT NULL,
    repeat_secs       INTEGER,
    notify_on_resolve INTEGER NOT NULL,
    group_wait_secs   INTEGER NOT NULL CHECK (group_wait_secs >= 0),
    enabled           INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE TABLE alerts (
    id               BLOB PRIMARY KEY NOT NULL,
    rule_id          BLOB REFERENCES alert_rules (id) ON DELETE SET NULL,
    source           TEXT NOT NULL CHECK (source IN ('rule', 'alertmanager')),
    fingerprint      TEXT NOT NULL,
    group_key        TEXT NOT NULL,
    name             TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    summary          TEXT NOT NULL,
    labels           TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    active_since     TEXT NOT NULL,
    firing_since     TEXT,
    resolved_at      TEXT,
    last_notified_at TEXT,
    notify_reason    TEXT,
    notify_due_at    TEXT,
    acked_by         TEXT,
    acked_at         TEXT,
    ack_note         TEXT,
    silenced_by      TEXT,
    silenced_at      TEXT,
    silenced_until   TEXT,
    silence_reason   TEXT,
    version          INTEGER NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_alerts_open_fingerprint ON alerts (fingerprint) WHERE state <> 'resolved';
CREATE INDEX idx_alerts_state ON alerts (state, updated_at DESC);
CREATE INDEX idx_alerts_notice ON alerts (notify_due_at) WHERE notify_due_at IS NOT NULL;

CREATE TABLE alert_notifications (
    id              BLOB PRIMARY KEY NOT NULL,
    channel_id      BLOB NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    channel_kind    TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX idx_alert_notifications_due ON alert_notifications (next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX idx_alert_notifications_created ON alert_notifications (created_at);

-- Which alerts a notification was about (a group's notification names several).
CREATE TABLE alert_notification_alerts (
    notification_id BLOB NOT NULL REFERENCES alert_notifications (id) ON DELETE CASCADE,
    alert_id        BLOB NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    PRIMARY KEY (notification_id, alert_id)
);
CREATE INDEX idx_alert_notification_alerts_alert ON alert_notification_alerts (alert_id);
