-- Artifacts: files attached to a project (optionally to one of its components). The bytes are
-- in the object store under object_key; this is what describes them. Same shape as the
-- PostgreSQL schema (UUIDs 16-byte BLOBs, timestamps RFC 3339 TEXT).
CREATE TABLE artifacts (
    id           BLOB PRIMARY KEY NOT NULL,
    project_id   BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    component_id BLOB REFERENCES components (id) ON DELETE SET NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    sha256       TEXT NOT NULL,
    object_key   TEXT NOT NULL UNIQUE,
    uploaded_by  BLOB,
    created_at   TEXT NOT NULL
);
CREATE INDEX idx_artifacts_project ON artifacts (project_id, created_at DESC, id DESC);
CREATE INDEX idx_artifacts_component ON artifacts (component_id, created_at DESC, id DESC);

-- Objects to remove from the store; see the PostgreSQL migration. The trigger writes "now" in
-- the format sqlx writes timestamps (RFC 3339 with +00:00), so comparisons stay chronological.
CREATE TABLE object_deletions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX idx_object_deletions_due ON object_deletions (next_attempt_at);

CREATE TRIGGER artifacts_deleted AFTER DELETE ON artifacts
BEGIN
    INSERT INTO object_deletions (object_key, next_attempt_at, created_at)
    VALUES (OLD.object_key,
            strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'),
            strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END;
