-- OAuth2 connections (core/oauth): one row per account a person linked at
-- a provider. Tokens are ciphertexts from secrets_encrypt, bound to the
-- column and row ("oauth_connections.access_token:<id>"); NULL once
-- revoked. Times are bigint milliseconds since the Unix epoch (UTC).
CREATE TABLE oauth_connections (
  id                bigserial PRIMARY KEY,
  user_id           bigint   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider          text     NOT NULL,
  subject           text     NOT NULL DEFAULT '',
  email             text     NOT NULL DEFAULT '',
  scopes            text     NOT NULL DEFAULT '',
  state             text     NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active','needs_reauth','revoked')),
  last_error        text,
  access_token      text,
  refresh_token     text,
  access_expires_at bigint,
  last_refresh_at   bigint,
  created_at        bigint   NOT NULL,
  updated_at        bigint   NOT NULL,
  UNIQUE (user_id, provider, subject)
);
CREATE INDEX oauth_connections_user ON oauth_connections (user_id);
