-- Plan reasons are stored once each and decisions refer to them by id.
-- A million planned events make about three million decisions whose
-- reasons are a few hundred distinct texts of about sixty bytes: stored in
-- every row they were half of what planning wrote (tests/bench/planner.sh).
-- A reason's id never changes and its row is never deleted, so the planner
-- may keep texts and ids in memory (core/assistant/reasons.c).
CREATE TABLE plan_reasons (
  id   INTEGER PRIMARY KEY,
  text TEXT    NOT NULL UNIQUE
);

INSERT INTO plan_reasons (text) SELECT DISTINCT reason FROM notifications;
ALTER TABLE notifications ADD COLUMN reason_id INTEGER NOT NULL DEFAULT 0;
UPDATE notifications
   SET reason_id = (SELECT id FROM plan_reasons WHERE text = notifications.reason);
ALTER TABLE notifications DROP COLUMN reason;
