-- Identity and access: users, login sessions, personal API keys, the login throttle and the
-- audit trail. Tokens and keys are stored only as SHA-256 hashes (hex); passwords as argon2id
-- (or imported v1 bcrypt) hashes. The audit trail has no foreign keys, so deleting a user
-- keeps every entry that mentions them (v1 could not delete such users at all).

CREATE TABLE users (
    id               UUID PRIMARY KEY,
    username         VARCHAR(64) NOT NULL,
    -- lower-cased username: makes names unique without regard to case, on both databases
    username_key     VARCHAR(64) NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    role             VARCHAR(20) NOT NULL DEFAULT 'viewer'
                     CHECK (role IN ('viewer', 'editor', 'admin')),
    is_active        BOOLEAN NOT NULL DEFAULT true,
    default_view     VARCHAR(255),
    single_view_mode BOOLEAN NOT NULL DEFAULT false,
    created_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login       TIMESTAMPTZ
);
CREATE INDEX idx_users_role ON users (role) WHERE is_active;

CREATE TABLE user_sessions (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    CHAR(64) NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_activity TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    ttl_seconds   BIGINT NOT NULL CHECK (ttl_seconds > 0),
    revoked_at    TIMESTAMPTZ,
    ip_address    VARCHAR(64),
    user_agent    TEXT
);
CREATE INDEX idx_user_sessions_user ON user_sessions (user_id);
CREATE INDEX idx_user_sessions_expires ON user_sessions (expires_at);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL,
    key_hash     CHAR(64) NOT NULL UNIQUE,
    prefix       VARCHAR(16) NOT NULL,
    scope        VARCHAR(10) NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX idx_api_keys_user ON api_keys (user_id);

-- Failed logins per client address (`ip:...`) and per username (`user:...`), shared by replicas.
CREATE TABLE login_throttle (
    key          VARCHAR(300) PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);

CREATE TABLE auth_audit_log (
    id          UUID PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    action      VARCHAR(50) NOT NULL,
    actor_id    UUID,
    actor_name  VARCHAR(255),
    target_id   UUID,
    target_name VARCHAR(255),
    ip_address  VARCHAR(64),
    user_agent  TEXT,
    details     JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_audit_created ON auth_audit_log (created_at DESC, id DESC);
CREATE INDEX idx_audit_action ON auth_audit_log (action, created_at DESC);
CREATE INDEX idx_audit_actor ON auth_audit_log (actor_id, created_at DESC);
CREATE INDEX idx_audit_target ON auth_audit_log (target_id, created_at DESC);
