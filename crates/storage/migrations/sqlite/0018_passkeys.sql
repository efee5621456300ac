-- See the PostgreSQL migration of the same number: how each session began, and passkeys
-- (WebAuthn credentials); login challenges may be of kind `passkey`.

ALTER TABLE user_sessions ADD COLUMN sign_in_method TEXT;

CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    public_key    TEXT NOT NULL,
    algorithm     INTEGER NOT NULL,
    sign_count    INTEGER NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX idx_passkeys_user ON passkeys (user_id);

-- SQLite cannot change a CHECK constraint: the table is rebuilt (nothing refers to it).
CREATE TABLE login_challenges_new (
    token_hash TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('second_factor', 'oidc', 'passkey')),
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    failures   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
INSERT INTO login_challenges_new
    SELECT token_hash, kind, user_id, details, failures, created_at, expires_at
    FROM login_challenges;
DROP TABLE login_challenges;
ALTER TABLE login_challenges_new RENAME TO login_challenges;
CREATE INDEX idx_login_challenges_expires ON login_challenges (expires_at);
