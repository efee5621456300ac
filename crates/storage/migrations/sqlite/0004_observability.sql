-- Observability: persisted structured logs and local metric samples (see the PostgreSQL
-- migration of the same number for the meaning of each column).

CREATE TABLE application_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    "timestamp" TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('ERROR', 'WARN', 'INFO', 'DEBUG')),
    service     TEXT NOT NULL,
    category    TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO')),
    message     TEXT NOT NULL,
    details     TEXT,
    trace_id    TEXT,
    request_id  TEXT,
    user_id     TEXT,
    endpoint    TEXT,
    method      TEXT,
    status_code INTEGER,
    duration_ms INTEGER,
    error_code  TEXT,
    stack_trace TEXT,
    context     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
    environment TEXT NOT NULL,
    version     TEXT NOT NULL,
    host_name   TEXT NOT NULL
);
CREATE INDEX idx_application_logs_timestamp ON application_logs ("timestamp");
CREATE INDEX idx_application_logs_level_timestamp ON application_logs (level, "timestamp");
CREATE INDEX idx_application_logs_service ON application_logs (service, "timestamp");
CREATE INDEX idx_application_logs_trace_id ON application_logs (trace_id);
CREATE INDEX idx_application_logs_request_id ON application_logs (request_id);

CREATE TABLE metric_samples (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    name   TEXT NOT NULL,
    labels TEXT NOT NULL CHECK (json_valid(labels)),
    series TEXT NOT NULL,
    value  REAL NOT NULL,
    ts     TEXT NOT NULL
);
CREATE INDEX idx_metric_samples_name_ts ON metric_samples (name, ts);
CREATE INDEX idx_metric_samples_ts ON metric_samples (ts);
