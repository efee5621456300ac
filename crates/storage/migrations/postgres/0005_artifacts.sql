-- Artifacts: files attached to a project (optionally to one of its components). The bytes are
-- in the object store under object_key; this is what describes them.
CREATE TABLE artifacts (
    id           UUID PRIMARY KEY,
    project_id   UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    component_id UUID REFERENCES components (id) ON DELETE SET NULL,
    name         VARCHAR(255) NOT NULL,
    content_type VARCHAR(127) NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    sha256       CHAR(64) NOT NULL,
    object_key   VARCHAR(512) NOT NULL UNIQUE,
    uploaded_by  UUID,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_artifacts_project ON artifacts (project_id, created_at DESC, id DESC);
CREATE INDEX idx_artifacts_component ON artifacts (component_id, created_at DESC, id DESC);

-- Objects to remove from the store. Every deleted artifact row (directly, or by its project's
-- deletion cascading) queues its object in the same transaction, so no object is forgotten;
-- a background worker deletes them, retrying with backoff.
CREATE TABLE object_deletions (
    id              BIGSERIAL PRIMARY KEY,
    object_key      VARCHAR(512) NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_object_deletions_due ON object_deletions (next_attempt_at);

CREATE FUNCTION artifacts_queue_object_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO object_deletions (object_key, next_attempt_at, created_at)
    VALUES (OLD.object_key, now(), now());
    RETURN OLD;
END
$$;

CREATE TRIGGER artifacts_deleted AFTER DELETE ON artifacts
FOR EACH ROW EXECUTE FUNCTION artifacts_queue_object_deletion();
