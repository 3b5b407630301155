-- Appointment reminders (core/assistant): normalized calendar events, the
-- plan of notifications per event (every decision with its reason), the
-- delivery outbox, provider webhook events and used RSVP tokens.
-- Preferences live in users.preferences (JSON, validated by the API).
-- Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE calendar_events (
  id          INTEGER PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  source      TEXT    NOT NULL,             -- "<instance>:<calendar key>"
  external_id TEXT    NOT NULL,
  etag        TEXT    NOT NULL DEFAULT '',
  ical_uid    TEXT    NOT NULL DEFAULT '',
  summary     TEXT    NOT NULL DEFAULT '',
  description TEXT    NOT NULL DEFAULT '',
  location    TEXT    NOT NULL DEFAULT '',
  start_at    INTEGER NOT NULL,
  end_at      INTEGER NOT NULL,
  tz          TEXT    NOT NULL DEFAULT 'UTC',
  all_day     INTEGER NOT NULL DEFAULT 0,
  start_date  TEXT,                         -- all-day: YYYY-MM-DD
  organizer   TEXT    NOT NULL DEFAULT '',
  attendees   TEXT    NOT NULL DEFAULT '[]', -- [{"email","name","status","self"}]
  status      TEXT    NOT NULL DEFAULT 'confirmed'
              CHECK (status IN ('confirmed','tentative','cancelled')),
  response    TEXT    NOT NULL DEFAULT 'needsAction'
              CHECK (response IN ('needsAction','accepted','declined','tentative')),
  sequence    INTEGER NOT NULL DEFAULT 0,
  sync_id     INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (user_id, source, external_id)
);
CREATE INDEX calendar_events_start ON calendar_events (start_at);
CREATE INDEX calendar_events_user_start ON calendar_events (user_id, start_at);

-- One row per decision: planned notifications and skipped offsets alike.
-- The event's key is checked at commit (DEFERRABLE INITIALLY DEFERRED):
-- an immediate check may abort a multi-row insert half-way, so SQLite
-- would keep a statement journal (a copy of every page each statement
-- touches) for the planner's bulk inserts (tests/bench/planner.sh).
CREATE TABLE notifications (
  id           INTEGER PRIMARY KEY,
  event_id     INTEGER NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE
               DEFERRABLE INITIALLY DEFERRED,
  user_id      INTEGER NOT NULL,
  offset_s     INTEGER NOT NULL,            -- nominal offset before the start
  channel      TEXT    NOT NULL CHECK (channel IN ('email','call','none')),
  scheduled_at INTEGER NOT NULL,            -- 0 for skipped decisions
  reason       TEXT    NOT NULL,
  state        TEXT    NOT NULL DEFAULT 'planned'
               CHECK (state IN ('planned','queued','done','skipped','cancelled')),
  job_id       INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  UNIQUE (event_id, offset_s, channel)
);
-- The outbox's due decisions (core/assistant/outbox.c): planned ones only
-- (skipped, done and cancelled rows are most of the table and never due),
-- keyed by the UTC day they are due, then by event. Planning inserts in
-- event order, so each batch appends at the end of a few dozen day ranges
-- instead of at random places of one index sorted by time: an index sorted
-- by scheduled_at made every batch's commit rewrite most of its pages (in
-- SQLite's WAL), which was most of the cost of planning a million events
-- (tests/bench/planner.sh). The dispatcher reads the ranges up to today's
-- (scheduled_at compared from the index) and sorts what is due.
-- Decisions of a person are found through calendar_events (user_id).
CREATE INDEX notifications_due
  ON notifications ((scheduled_at / 86400000), event_id, scheduled_at)
  WHERE state = 'planned';

-- The outbox: at most one delivery per notification, ever.
CREATE TABLE deliveries (
  id                  INTEGER PRIMARY KEY,
  notification_id     INTEGER NOT NULL UNIQUE
                      REFERENCES notifications (id) ON DELETE CASCADE,
  event_id            INTEGER NOT NULL,
  user_id             INTEGER NOT NULL,
  channel             TEXT    NOT NULL,
  notifier            TEXT    NOT NULL,      -- instance name or "dry-run"
  state               TEXT    NOT NULL DEFAULT 'planned'
                      CHECK (state IN ('planned','sending','sent','delivered',
                                       'opened','bounced','failed','cancelled')),
  attempts            INTEGER NOT NULL DEFAULT 0,
  provider_message_id TEXT,
  recipient           TEXT    NOT NULL DEFAULT '',
  subject             TEXT    NOT NULL DEFAULT '',
  body_text           TEXT    NOT NULL DEFAULT '',
  body_html           TEXT    NOT NULL DEFAULT '',
  ics                 TEXT    NOT NULL DEFAULT '',
  last_error          TEXT,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);
CREATE INDEX deliveries_user ON deliveries (user_id);
CREATE INDEX deliveries_provider_id ON deliveries (provider_message_id);

-- Webhook events already applied (dedupe on the provider's event id).
CREATE TABLE delivery_events (
  provider_event_id TEXT    PRIMARY KEY,
  delivery_id       INTEGER NOT NULL,
  state             TEXT    NOT NULL,
  detail            TEXT    NOT NULL DEFAULT '',
  at                INTEGER NOT NULL
);

-- RSVP tokens already used (replay protection), by token digest.
CREATE TABLE rsvp_used (
  token_hash TEXT    PRIMARY KEY,
  event_id   INTEGER NOT NULL,
  response   TEXT    NOT NULL,
  used_at    INTEGER NOT NULL
);
