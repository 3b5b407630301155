-- Core tables: durable jobs, recurring schedules, plugin-scoped key-value.
-- Times are bigint milliseconds since the Unix epoch (UTC).
CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  kind         text    NOT NULL,
  payload      text    NOT NULL DEFAULT '{}',
  state        text    NOT NULL DEFAULT 'queued'
               CHECK (state IN ('queued','running','succeeded','retrying',
                                'dead','cancelled')),
  priority     integer NOT NULL DEFAULT 0,
  run_at       bigint  NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  idem_key     text UNIQUE,
  schedule     text,
  lease_owner  text,
  lease_until  bigint,
  last_error   text,
  created_at   bigint  NOT NULL,
  updated_at   bigint  NOT NULL,
  started_at   bigint,
  finished_at  bigint
);
CREATE INDEX jobs_due ON jobs (kind, priority DESC, run_at, id)
  WHERE state IN ('queued','retrying');
CREATE INDEX jobs_next ON jobs (kind, run_at) WHERE state IN ('queued','retrying');
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_state_kind ON jobs (state, kind);

CREATE TABLE job_schedules (
  name         text    PRIMARY KEY,
  kind         text    NOT NULL,
  payload      text    NOT NULL DEFAULT '{}',
  interval_s   bigint,
  cron         text,
  tz           text    NOT NULL DEFAULT 'UTC',
  priority     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  enabled      integer NOT NULL DEFAULT 1,
  next_fire_at bigint  NOT NULL,
  last_fire_at bigint,
  created_at   bigint  NOT NULL,
  updated_at   bigint  NOT NULL,
  CHECK ((interval_s IS NULL) <> (cron IS NULL))
);
CREATE INDEX job_schedules_next ON job_schedules (next_fire_at) WHERE enabled = 1;

CREATE TABLE kv (
  plugin     text   NOT NULL,
  key        text   NOT NULL,
  value      bytea  NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (plugin, key)
);
