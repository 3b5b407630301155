-- Appointment reminders (core/assistant): normalized calendar events, the
-- plan of notifications per event (every decision with its reason), the
-- delivery outbox, provider webhook events and used RSVP tokens.
-- Preferences live in users.preferences (JSON, validated by the API).
-- Times are bigint milliseconds since the Unix epoch (UTC).
CREATE TABLE calendar_events (
  id          bigserial PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  source      text    NOT NULL,             -- "<instance>:<calendar key>"
  external_id text    NOT NULL,
  etag        text    NOT NULL DEFAULT '',
  ical_uid    text    NOT NULL DEFAULT '',
  summary     text    NOT NULL DEFAULT '',
  description text    NOT NULL DEFAULT '',
  location    text    NOT NULL DEFAULT '',
  start_at    bigint NOT NULL,
  end_at      bigint NOT NULL,
  tz          text    NOT NULL DEFAULT 'UTC',
  all_day     bigint NOT NULL DEFAULT 0,
  start_date  text,                         -- all-day: YYYY-MM-DD
  organizer   text    NOT NULL DEFAULT '',
  attendees   text    NOT NULL DEFAULT '[]', -- [{"email","name","status","self"}]
  status      text    NOT NULL DEFAULT 'confirmed'
              CHECK (status IN ('confirmed','tentative','cancelled')),
  response    text    NOT NULL DEFAULT 'needsAction'
              CHECK (response IN ('needsAction','accepted','declined','tentative')),
  sequence    bigint NOT NULL DEFAULT 0,
  sync_id     bigint NOT NULL DEFAULT 0,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL,
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
  id           bigserial PRIMARY KEY,
  event_id     bigint NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE
               DEFERRABLE INITIALLY DEFERRED,
  user_id      bigint NOT NULL,
  offset_s     bigint NOT NULL,            -- nominal offset before the start
  channel      text    NOT NULL CHECK (channel IN ('email','call','none')),
  scheduled_at bigint NOT NULL,            -- 0 for skipped decisions
  reason       text    NOT NULL,
  state        text    NOT NULL DEFAULT 'planned'
               CHECK (state IN ('planned','queued','done','skipped','cancelled')),
  job_id       bigint,
  created_at   bigint NOT NULL,
  updated_at   bigint NOT NULL,
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
  id                  bigserial PRIMARY KEY,
  notification_id     bigint NOT NULL UNIQUE
                      REFERENCES notifications (id) ON DELETE CASCADE,
  event_id            bigint NOT NULL,
  user_id             bigint NOT NULL,
  channel             text    NOT NULL,
  notifier            text    NOT NULL,      -- instance name or "dry-run"
  state               text    NOT NULL DEFAULT 'planned'
                      CHECK (state IN ('planned','sending','sent','delivered',
                                       'opened','bounced','failed','cancelled')),
  attempts            bigint NOT NULL DEFAULT 0,
  provider_message_id text,
  recipient           text    NOT NULL DEFAULT '',
  subject             text    NOT NULL DEFAULT '',
  body_text           text    NOT NULL DEFAULT '',
  body_html           text    NOT NULL DEFAULT '',
  ics                 text    NOT NULL DEFAULT '',
  last_error          text,
  created_at          bigint NOT NULL,
  updated_at          bigint NOT NULL
);
CREATE INDEX deliveries_user ON deliveries (user_id);
CREATE INDEX deliveries_provider_id ON deliveries (provider_message_id);

-- Webhook events already applied (dedupe on the provider's event id).
CREATE TABLE delivery_events (
  provider_event_id text    PRIMARY KEY,
  delivery_id       bigint NOT NULL,
  state             text    NOT NULL,
  detail            text    NOT NULL DEFAULT '',
  at                bigint NOT NULL
);

-- RSVP tokens already used (replay protection), by token digest.
CREATE TABLE rsvp_used (
  token_hash text    PRIMARY KEY,
  event_id   bigint NOT NULL,
  response   text    NOT NULL,
  used_at    bigint NOT NULL
);
