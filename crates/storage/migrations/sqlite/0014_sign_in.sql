-- See the PostgreSQL migration of the same number: accounts linked to an identity at a
-- provider, TOTP second factors and recovery codes (SHA-256 only), sign-ins waiting for a
-- second step, and run-time sign-in settings.

CREATE TABLE external_identities (
    provider     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX idx_external_identities_user ON external_identities (user_id);

CREATE TABLE user_totp (
    user_id      BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    confirmed_at TEXT,
    last_step    INTEGER,
    created_at   TEXT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE login_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('second_factor', 'oidc')),
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    failures   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX idx_login_challenges_expires ON login_challenges (expires_at);

CREATE TABLE auth_settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL CHECK (json_valid(value)),
    updated_at TEXT NOT NULL
);
