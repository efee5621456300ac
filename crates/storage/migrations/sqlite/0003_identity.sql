-- Identity and access: users, login sessions, personal API keys, the login throttle and the
-- audit trail. Same shape as the PostgreSQL schema: UUIDs are 16-byte BLOBs, timestamps RFC 3339
-- TEXT, booleans INTEGER 0/1, JSON TEXT checked with json_valid(). Tokens and keys are stored only
-- as SHA-256 hashes (hex). The audit trail has no foreign keys, so it outlives deleted users.

CREATE TABLE users (
    id               BLOB PRIMARY KEY NOT NULL,
    username         TEXT NOT NULL,
    -- lower-cased username (computed by the application: SQLite's lower() is ASCII-only)
    username_key     TEXT NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    role             TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'editor', 'admin')),
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    default_view     TEXT,
    single_view_mode INTEGER NOT NULL DEFAULT 0 CHECK (single_view_mode IN (0, 1)),
    created_by       BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    last_login       TEXT
);
CREATE INDEX idx_users_role ON users (role) WHERE is_active;

CREATE TABLE user_sessions (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_activity TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ttl_seconds   INTEGER NOT NULL CHECK (ttl_seconds > 0),
    revoked_at    TEXT,
    ip_address    TEXT,
    user_agent    TEXT
);
CREATE INDEX idx_user_sessions_user ON user_sessions (user_id);
CREATE INDEX idx_user_sessions_expires ON user_sessions (expires_at);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX idx_api_keys_user ON api_keys (user_id);

-- Failed logins per client address (`ip:...`) and per username (`user:...`).
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL,
    last_failure TEXT NOT NULL,
    locked_until TEXT
);

CREATE TABLE auth_audit_log (
    id          BLOB PRIMARY KEY NOT NULL,
    created_at  TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    BLOB,
    actor_name  TEXT,
    target_id   BLOB,
    target_name TEXT,
    ip_address  TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX idx_audit_created ON auth_audit_log (created_at DESC, id DESC);
CREATE INDEX idx_audit_action ON auth_audit_log (action, created_at DESC);
CREATE INDEX idx_audit_actor ON auth_audit_log (actor_id, created_at DESC);
CREATE INDEX idx_audit_target ON auth_audit_log (target_id, created_at DESC);
