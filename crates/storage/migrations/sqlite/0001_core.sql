-- Projects, their components, the dependencies between components, and tasks.
-- Same shape as the PostgreSQL schema: UUIDs are 16-byte BLOBs, timestamps RFC 3339 TEXT
-- (which sorts chronologically), JSON objects TEXT checked with json_valid().

CREATE TABLE projects (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    status      TEXT NOT NULL DEFAULT 'planning'
                CHECK (status IN ('planning', 'active', 'on_hold', 'completed', 'archived')),
    owner_id    BLOB,
    metadata    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX idx_projects_created ON projects (created_at DESC, id DESC);
CREATE INDEX idx_projects_status ON projects (status);

CREATE TABLE components (
    id          BLOB PRIMARY KEY NOT NULL,
    project_id  BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'in_progress', 'blocked', 'completed')),
    progress    INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    position    TEXT CHECK (position IS NULL OR json_valid(position)),
    metadata    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX idx_components_project ON components (project_id, created_at DESC, id DESC);

CREATE TABLE component_dependencies (
    component_id  BLOB NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    depends_on_id BLOB NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (component_id, depends_on_id),
    CHECK (component_id <> depends_on_id)
);
CREATE INDEX idx_dependencies_depends_on ON component_dependencies (depends_on_id);

CREATE TABLE tasks (
    id           BLOB PRIMARY KEY NOT NULL,
    component_id BLOB NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT,
    status       TEXT NOT NULL DEFAULT 'todo'
                 CHECK (status IN ('todo', 'in_progress', 'review', 'done')),
    assignee_id  BLOB,
    due_date     TEXT,
    completed_at TEXT,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX idx_tasks_component ON tasks (component_id, created_at DESC, id DESC);
