-- Accounts (issue 5, docs/API.md): roles and passwords of users, API keys, sessions and login
-- throttling. PostgreSQL twin of the SQLite file: same tables, columns and constraints.
--
-- Instants that SQL compares (expiry, lockout) are integer epoch milliseconds, as in the
-- outbox: one unit on both backends, and SQLite's text timestamps do not compare reliably.

-- merchant: sees and acts on the stores they own; operator: sees and acts on every store.
-- Users created before this migration (by `cenports connect`) are merchants without a
-- password: they can use API keys, and sign in once `cenports user add` sets a password.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'merchant'
    CHECK (role IN ('merchant', 'operator'));
-- An argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash); NULL: cannot sign in.
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- API keys are shown once and stored as the SHA-256 of the whole key (hex): a key is 256
-- random bits, so a fast hash is enough (nothing to brute-force), and lookups are one index
-- probe. `prefix` is the first characters of the key, to recognise it in a list.
CREATE TABLE api_keys (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL,
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Sessions: a random token in an HTTP-only cookie, stored here as its SHA-256 (hex). The
-- CSRF token is the synchronizer token for forms and cookie-authenticated writes.
CREATE TABLE sessions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    csrf_token      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at_ms   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
-- Expired sessions are deleted whenever a session is opened.
CREATE INDEX sessions_expiry ON sessions (expires_at_ms);

-- Failed sign-ins per (lower-cased email, client IP) in the current window; `locked_until_ms`
-- set once too many failed. Kept in the database so every hub process shares the count.
CREATE TABLE login_attempts (
    email_key           TEXT NOT NULL,
    ip                  TEXT NOT NULL,
    failures            INTEGER NOT NULL CHECK (failures >= 0),
    window_started_ms   BIGINT NOT NULL,
    locked_until_ms     BIGINT,
    PRIMARY KEY (email_key, ip)
);
-- Stale counts are deleted whenever a failure is recorded, so guesses at many emails do not
-- grow the table without bound.
CREATE INDEX login_attempts_window ON login_attempts (window_started_ms);
