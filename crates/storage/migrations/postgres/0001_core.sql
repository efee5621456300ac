-- Projects, their components, the dependencies between components, and tasks.
-- Column names follow TaylorDash v1 so v1 clients and queries keep working; status columns are
-- constrained to one vocabulary each, and every row carries a version for lost-update checks.

CREATE TABLE projects (
    id          UUID PRIMARY KEY,
    name        VARCHAR(255) NOT NULL,
    description TEXT,
    status      VARCHAR(50) NOT NULL DEFAULT 'planning'
                CHECK (status IN ('planning', 'active', 'on_hold', 'completed', 'archived')),
    owner_id    UUID,
    metadata    JSONB NOT NULL DEFAULT '{}',
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_projects_created ON projects (created_at DESC, id DESC);
CREATE INDEX idx_projects_status ON projects (status);

CREATE TABLE components (
    id          UUID PRIMARY KEY,
    project_id  UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        VARCHAR(255) NOT NULL,
    type        VARCHAR(100),
    status      VARCHAR(50) NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'in_progress', 'blocked', 'completed')),
    progress    INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    position    JSONB,
    metadata    JSONB NOT NULL DEFAULT '{}',
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_components_project ON components (project_id, created_at DESC, id DESC);

CREATE TABLE component_dependencies (
    component_id  UUID NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    depends_on_id UUID NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component_id, depends_on_id),
    CHECK (component_id <> depends_on_id)
);
CREATE INDEX idx_dependencies_depends_on ON component_dependencies (depends_on_id);

CREATE TABLE tasks (
    id           UUID PRIMARY KEY,
    component_id UUID NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    name         VARCHAR(255) NOT NULL,
    description  TEXT,
    status       VARCHAR(50) NOT NULL DEFAULT 'todo'
                 CHECK (status IN ('todo', 'in_progress', 'review', 'done')),
    assignee_id  UUID,
    due_date     TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_tasks_component ON tasks (component_id, created_at DESC, id DESC);
