-- How each session began, and passkeys (WebAuthn credentials).

-- `password`, `oidc` or `passkey`; NULL for sessions started before this was recorded.
ALTER TABLE user_sessions ADD COLUMN sign_in_method VARCHAR(16);

-- A passkey: a WebAuthn public-key credential registered by its owner, used as a second factor
-- after a password or to sign in without one. Only the public key is here (the COSE key the
-- authenticator gave at registration, base64url), with its algorithm and the signature counter
-- last seen, which must grow with every use when the authenticator keeps one (a counter that
-- does not grow reveals a cloned authenticator).
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the credential id, base64url (WebAuthn allows up to 1023 bytes)
    credential_id VARCHAR(1400) NOT NULL UNIQUE,
    public_key    TEXT NOT NULL,
    -- COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256
    algorithm     BIGINT NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    name          VARCHAR(64) NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX idx_passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony in progress is a sign-in challenge of kind `passkey` (its random
-- challenge, stored as SHA-256, used once).
ALTER TABLE login_challenges DROP CONSTRAINT login_challenges_kind_check;
ALTER TABLE login_challenges ADD CONSTRAINT login_challenges_kind_check
    CHECK (kind IN ('second_factor', 'oidc', 'passkey'));
