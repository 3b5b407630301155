-- Plan reasons are stored once each and decisions refer to them by id
-- (the SQLite migration of the same number says why).
CREATE TABLE plan_reasons (
  id   bigserial PRIMARY KEY,
  text text      NOT NULL UNIQUE
);

INSERT INTO plan_reasons (text) SELECT DISTINCT reason FROM notifications;
ALTER TABLE notifications ADD COLUMN reason_id bigint NOT NULL DEFAULT 0;
UPDATE notifications n SET reason_id = r.id FROM plan_reasons r
 WHERE r.text = n.reason;
ALTER TABLE notifications DROP COLUMN reason;
