-- See the PostgreSQL migration of the same number: a project's public status page, its link's
-- token as SHA-256 only.
CREATE TABLE status_pages (
    project_id BLOB PRIMARY KEY NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    enabled_at TEXT NOT NULL
);
