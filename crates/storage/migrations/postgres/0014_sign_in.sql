-- Sign-in beyond a local password: accounts linked to an identity at a provider (a forward-auth
-- proxy, an OpenID provider), TOTP second factors with their recovery codes, sign-ins waiting
-- for a second step, and the sign-in settings an admin changes at run time.

-- An account's identity at a provider, by the provider's stable name for the person (its
-- user header, the OpenID `sub`), never by e-mail alone. Deleting the account drops its links.
CREATE TABLE external_identities (
    provider     VARCHAR(64) NOT NULL,
    subject      VARCHAR(255) NOT NULL,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        VARCHAR(320),
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX idx_external_identities_user ON external_identities (user_id);

-- A TOTP (RFC 6238) second factor. The secret is needed in clear to compute codes; it is never
-- sent again after enrolment. `confirmed_at` is NULL until the user has proved a first code;
-- `last_step` is the time step of the last accepted code, so no code works twice.
CREATE TABLE user_totp (
    user_id      UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       VARCHAR(64) NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT,
    created_at   TIMESTAMPTZ NOT NULL
);

-- One-time recovery codes, as SHA-256 only (each carries 80 random bits).
CREATE TABLE recovery_codes (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  CHAR(64) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in half done: a password accepted and a second factor awaited, or an OpenID
-- authorization request awaiting the provider's answer. Known to the client by a token kept
-- here as SHA-256 only; used once, short-lived.
CREATE TABLE login_challenges (
    token_hash CHAR(64) PRIMARY KEY,
    kind       VARCHAR(20) NOT NULL CHECK (kind IN ('second_factor', 'oidc')),
    user_id    UUID REFERENCES users (id) ON DELETE CASCADE,
    details    JSONB NOT NULL DEFAULT '{}',
    failures   BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_login_challenges_expires ON login_challenges (expires_at);

-- Sign-in settings an admin changes at run time (password sign-in on or off, a second factor
-- required of admins): one JSON object per group of settings (key `sign_in`).
CREATE TABLE auth_settings (
    key        VARCHAR(64) PRIMARY KEY,
    value      JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
