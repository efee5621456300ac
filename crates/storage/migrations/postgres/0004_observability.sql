-- Observability: persisted structured logs (v1's logging.application_logs, which v1 never
-- created) and local metric samples (the time series kept when no VictoriaMetrics is configured).
-- Identifiers are TEXT: request ids are UUIDs, trace ids 32 hex digits, user ids UUIDs, and a
-- log row must never be refused because one of them has another shape.

CREATE TABLE application_logs (
    id          BIGSERIAL PRIMARY KEY,
    "timestamp" TIMESTAMPTZ NOT NULL,
    level       VARCHAR(10) NOT NULL CHECK (level IN ('ERROR', 'WARN', 'INFO', 'DEBUG')),
    service     VARCHAR(64) NOT NULL,
    category    VARCHAR(32) NOT NULL,
    severity    VARCHAR(10) NOT NULL
                CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO')),
    message     TEXT NOT NULL,
    details     TEXT,
    trace_id    VARCHAR(64),
    request_id  VARCHAR(64),
    user_id     VARCHAR(64),
    endpoint    VARCHAR(255),
    method      VARCHAR(10),
    status_code INTEGER,
    duration_ms BIGINT,
    error_code  VARCHAR(64),
    stack_trace TEXT,
    context     JSONB NOT NULL DEFAULT '{}',
    environment VARCHAR(32) NOT NULL,
    version     VARCHAR(32) NOT NULL,
    host_name   VARCHAR(128) NOT NULL
);
CREATE INDEX idx_application_logs_timestamp ON application_logs ("timestamp" DESC);
CREATE INDEX idx_application_logs_level_timestamp ON application_logs (level, "timestamp");
CREATE INDEX idx_application_logs_service ON application_logs (service, "timestamp" DESC);
CREATE INDEX idx_application_logs_trace_id ON application_logs (trace_id);
CREATE INDEX idx_application_logs_request_id ON application_logs (request_id);

CREATE TABLE metric_samples (
    id     BIGSERIAL PRIMARY KEY,
    name   VARCHAR(200) NOT NULL,
    -- Labels as a JSON object of strings; `series` is its canonical text (sorted keys), so
    -- samples of one series group by equality.
    labels JSONB NOT NULL,
    series TEXT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    ts     TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_metric_samples_name_ts ON metric_samples (name, ts);
CREATE INDEX idx_metric_samples_ts ON metric_samples (ts);
