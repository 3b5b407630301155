-- The audit log (core/audit): append-only, hash-chained rows, the signed
-- head, and the wrapped per-person data keys (crypto-shredding).
-- Same definitions as audit_sqlite_schema() in core/audit/audit_sqlite.c.
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY,
  ts_ms     INTEGER NOT NULL,
  actor     TEXT    NOT NULL,
  action    TEXT    NOT NULL,
  target    TEXT    NOT NULL,
  outcome   TEXT    NOT NULL,
  subject   TEXT    NOT NULL,
  details   TEXT    NOT NULL,
  prev_hash BLOB    NOT NULL,
  hash      BLOB    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq) WHERE subject <> '';
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
-- Append-only: refuse UPDATE and DELETE (whoever can drop these triggers can
-- change rows; the hash chain is what detects that).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL,
  hash BLOB    NOT NULL,
  mac  TEXT    NOT NULL
);
CREATE TABLE audit_subject_keys (
  subject     TEXT    PRIMARY KEY,
  wrapped_key TEXT    NOT NULL,
  created_ms  INTEGER NOT NULL
);
