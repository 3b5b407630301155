-- Accounts and sign-in (core/auth): people, sessions, API tokens and
-- persisted sign-in lockouts. Times are integer milliseconds since the
-- Unix epoch (UTC). Secrets (session ids, API tokens) are stored only as
-- SHA-256 hex digests.
CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  email         TEXT    NOT NULL UNIQUE,
  name          TEXT    NOT NULL DEFAULT '',
  role          TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin','user')),
  password_hash TEXT,
  preferences   TEXT    NOT NULL DEFAULT '{}',
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX users_role ON users (role);

CREATE TABLE sessions (
  id_hash      TEXT    PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  csrf_token   TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT    NOT NULL DEFAULT '',
  prefix       TEXT    NOT NULL,
  secret_hash  TEXT    NOT NULL UNIQUE,
  scopes       INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  expires_at   INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE auth_lockouts (
  key          TEXT    PRIMARY KEY,
  locked_until INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
