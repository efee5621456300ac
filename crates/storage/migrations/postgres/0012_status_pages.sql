-- A project's public status page: on while its row exists. The link's token is kept only as
-- its SHA-256 (like push tokens), so a lost link is replaced, never shown again; deleting the
-- row (turning the page off) makes the link answer 404 at once.
CREATE TABLE status_pages (
    project_id UUID PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    token_hash CHAR(64) NOT NULL UNIQUE,
    enabled_at TIMESTAMPTZ NOT NULL
);
