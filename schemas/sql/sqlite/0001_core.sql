-- Core tables: durable jobs, recurring schedules, plugin-scoped key-value.
-- Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE jobs (
  id           INTEGER PRIMARY KEY,
  kind         TEXT    NOT NULL,
  payload      TEXT    NOT NULL DEFAULT '{}',
  state        TEXT    NOT NULL DEFAULT 'queued'
               CHECK (state IN ('queued','running','succeeded','retrying',
                                'dead','cancelled')),
  priority     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 5,
  idem_key     TEXT UNIQUE,
  schedule     TEXT,
  lease_owner  TEXT,
  lease_until  INTEGER,
  last_error   TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  started_at   INTEGER,
  finished_at  INTEGER
);
CREATE INDEX jobs_due ON jobs (kind, priority DESC, run_at, id)
  WHERE state IN ('queued','retrying');
CREATE INDEX jobs_next ON jobs (kind, run_at) WHERE state IN ('queued','retrying');
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_state_kind ON jobs (state, kind);

CREATE TABLE job_schedules (
  name         TEXT    PRIMARY KEY,
  kind         TEXT    NOT NULL,
  payload      TEXT    NOT NULL DEFAULT '{}',
  interval_s   INTEGER,
  cron         TEXT,
  tz           TEXT    NOT NULL DEFAULT 'UTC',
  priority     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 5,
  enabled      INTEGER NOT NULL DEFAULT 1,
  next_fire_at INTEGER NOT NULL,
  last_fire_at INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  CHECK ((interval_s IS NULL) <> (cron IS NULL))
);
CREATE INDEX job_schedules_next ON job_schedules (next_fire_at) WHERE enabled = 1;

CREATE TABLE kv (
  plugin     TEXT    NOT NULL,
  key        TEXT    NOT NULL,
  value      BLOB    NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
