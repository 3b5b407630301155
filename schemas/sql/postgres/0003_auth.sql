-- Accounts and sign-in (core/auth): people, sessions, API tokens and
-- persisted sign-in lockouts. Times are bigint milliseconds since the
-- Unix epoch (UTC). Secrets (session ids, API tokens) are stored only as
-- SHA-256 hex digests.
CREATE TABLE users (
  id            bigserial PRIMARY KEY,
  email         text     NOT NULL UNIQUE,
  name          text     NOT NULL DEFAULT '',
  role          text     NOT NULL DEFAULT 'user' CHECK (role IN ('admin','user')),
  password_hash text,
  preferences   text     NOT NULL DEFAULT '{}',
  disabled      integer  NOT NULL DEFAULT 0,
  created_at    bigint   NOT NULL,
  updated_at    bigint   NOT NULL
);
CREATE INDEX users_role ON users (role);

CREATE TABLE sessions (
  id_hash      text    PRIMARY KEY,
  user_id      bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  csrf_token   text    NOT NULL,
  created_at   bigint  NOT NULL,
  last_seen_at bigint  NOT NULL,
  expires_at   bigint  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
  id           bigserial PRIMARY KEY,
  user_id      bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text    NOT NULL DEFAULT '',
  prefix       text    NOT NULL,
  secret_hash  text    NOT NULL UNIQUE,
  scopes       integer NOT NULL,
  created_at   bigint  NOT NULL,
  last_used_at bigint,
  expires_at   bigint,
  revoked_at   bigint
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE auth_lockouts (
  key          text    PRIMARY KEY,
  locked_until bigint  NOT NULL,
  updated_at   bigint  NOT NULL
);
