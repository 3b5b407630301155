-- OAuth2 connections (core/oauth): one row per account a person linked at
-- a provider. Tokens are ciphertexts from secrets_encrypt, bound to the
-- column and row ("oauth_connections.access_token:<id>"); NULL once
-- revoked. Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE oauth_connections (
  id                INTEGER PRIMARY KEY,
  user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider          TEXT    NOT NULL,
  subject           TEXT    NOT NULL DEFAULT '',
  email             TEXT    NOT NULL DEFAULT '',
  scopes            TEXT    NOT NULL DEFAULT '',
  state             TEXT    NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active','needs_reauth','revoked')),
  last_error        TEXT,
  access_token      TEXT,
  refresh_token     TEXT,
  access_expires_at INTEGER,
  last_refresh_at   INTEGER,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  UNIQUE (user_id, provider, subject)
);
CREATE INDEX oauth_connections_user ON oauth_connections (user_id);
