-- The observability tables move to a file of their own, attached to every connection as the
-- schema `observability` (see crates/storage/src/sqlite.rs): a steady stream of log rows then
-- grows that file's WAL, not the one every read of projects and events walks. Same columns
-- and indexes as migration 0004; rows are copied, ids kept. Tables left in the observability
-- file by an earlier database of the same name are orphans of it and are replaced.

DROP TABLE IF EXISTS observability.application_logs;
CREATE TABLE observability.application_logs (
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
INSERT INTO observability.application_logs SELECT * FROM main.application_logs;
DROP TABLE main.application_logs;
CREATE INDEX observability.idx_application_logs_timestamp ON application_logs ("timestamp");
CREATE INDEX observability.idx_application_logs_level_timestamp ON application_logs (level, "timestamp");
CREATE INDEX observability.idx_application_logs_service ON application_logs (service, "timestamp");
CREATE INDEX observability.idx_application_logs_trace_id ON application_logs (trace_id);
CREATE INDEX observability.idx_application_logs_request_id ON application_logs (request_id);

DROP TABLE IF EXISTS observability.metric_samples;
CREATE TABLE observability.metric_samples (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    name   TEXT NOT NULL,
    labels TEXT NOT NULL CHECK (json_valid(labels)),
    series TEXT NOT NULL,
    value  REAL NOT NULL,
    ts     TEXT NOT NULL
);
INSERT INTO observability.metric_samples SELECT * FROM main.metric_samples;
DROP TABLE main.metric_samples;
CREATE INDEX observability.idx_metric_samples_name_ts ON metric_samples (name, ts);
CREATE INDEX observability.idx_metric_samples_ts ON metric_samples (ts);
