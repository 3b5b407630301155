-- The audit log (core/audit): append-only, hash-chained rows, the signed
-- head, and the wrapped per-person data keys (crypto-shredding).
CREATE TABLE audit_log (
  seq       bigint  PRIMARY KEY,
  ts_ms     bigint  NOT NULL,
  actor     text    NOT NULL,
  action    text    NOT NULL,
  target    text    NOT NULL,
  outcome   text    NOT NULL,
  subject   text    NOT NULL,
  details   text    NOT NULL,
  prev_hash bytea   NOT NULL,
  hash      bytea   NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq) WHERE subject <> '';
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
-- Append-only: refuse UPDATE and DELETE (whoever can drop this trigger can
-- change rows; the hash chain is what detects that).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
-- The head row always exists, so writers serialise on
-- SELECT ... FOR UPDATE; seq 0 with an empty mac means "no entries yet".
CREATE TABLE audit_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint  NOT NULL,
  hash bytea   NOT NULL,
  mac  text    NOT NULL
);
INSERT INTO audit_head (id, seq, hash, mac)
  VALUES (1, 0, decode(repeat('00', 32), 'hex'), '');
CREATE TABLE audit_subject_keys (
  subject     text   PRIMARY KEY,
  wrapped_key text   NOT NULL,
  created_ms  bigint NOT NULL
);
