/* audit_sqlite.c: the audit sink on SQLite. Blocking: not for the loop. */
#include "audit_sqlite.h"

#include "common/alloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS audit_log(\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  actor TEXT NOT NULL,\n"
    "  action TEXT NOT NULL,\n"
    "  target TEXT NOT NULL,\n"
    "  outcome TEXT NOT NULL,\n"
    "  subject TEXT NOT NULL,\n"
    "  details TEXT NOT NULL,\n"
    "  prev_hash BLOB NOT NULL,\n"
    "  hash BLOB NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log(subject, seq)\n"
    "  WHERE subject <> '';\n"
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON "
    "audit_log\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;\n"
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON "
    "audit_log\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;\n"
    "CREATE TABLE IF NOT EXISTS audit_head(\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  seq INTEGER NOT NULL,\n"
    "  hash BLOB NOT NULL,\n"
    "  mac TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS audit_subject_keys(\n"
    "  subject TEXT PRIMARY KEY,\n"
    "  wrapped_key TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL);\n";

enum {
  ST_INSERT,
  ST_HEAD_GET,
  ST_HEAD_PUT,
  ST_SCAN,
  ST_SCAN_SUBJECT,
  ST_KEY_GET,
  ST_KEY_INSERT,
  ST_KEY_UPDATE,
  ST_KEY_DELETE,
  ST_KEY_SCAN,
  ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO audit_log(seq, ts_ms, actor, action, target, "
                  "outcome, subject, details, prev_hash, hash) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_HEAD_GET] = "SELECT seq, hash, mac FROM audit_head WHERE id = 1",
    [ST_HEAD_PUT] = "INSERT INTO audit_head(id, seq, hash, mac) "
                    "VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "seq = excluded.seq, hash = excluded.hash, "
                    "mac = excluded.mac",
    [ST_SCAN] = "SELECT seq, ts_ms, actor, action, target, outcome, subject, "
                "details, prev_hash, hash FROM audit_log WHERE seq >= ? "
                "ORDER BY seq",
    [ST_SCAN_SUBJECT] = "SELECT seq, ts_ms, actor, action, target, outcome, "
                        "subject, details, prev_hash, hash FROM audit_log "
                        "WHERE seq >= ? AND subject = ? AND subject <> '' "
                        "ORDER BY seq",
    [ST_KEY_GET] = "SELECT wrapped_key FROM audit_subject_keys "
                   "WHERE subject = ?",
    [ST_KEY_INSERT] = "INSERT INTO audit_subject_keys(subject, wrapped_key, "
                      "created_ms) VALUES (?, ?, "
                      "CAST((julianday('now') - 2440587.5) * 86400000 AS "
                      "INTEGER))",
    [ST_KEY_UPDATE] = "UPDATE audit_subject_keys SET wrapped_key = ? "
                      "WHERE subject = ?",
    [ST_KEY_DELETE] = "DELETE FROM audit_subject_keys WHERE subject = ?",
    [ST_KEY_SCAN] = "SELECT subject, wrapped_key FROM audit_subject_keys",
};

struct sqlite_sink {
  sqlite3 *db;
  sqlite3_stmt *st[ST_COUNT];
};

static int map_err(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return 0;
  case SQLITE_CONSTRAINT:
    return -EEXIST;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return -EBUSY;
  case SQLITE_NOMEM:
    return -ENOMEM;
  default:
    return -EIO;
  }
}

static sqlite3_stmt *stmt(struct sqlite_sink *s, int which) {
  sqlite3_stmt *st = s->st[which];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

/* Runs a statement that returns no rows. */
static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  int out = rc == SQLITE_DONE ? 0 : map_err(rc);
  sqlite3_reset(st);
  return out;
}

static int head_read(struct sqlite_sink *s, int64_t *seq,
                     uint8_t hash[AUDIT_HASH_BYTES], char **mac) {
  sqlite3_stmt *st = stmt(s, ST_HEAD_GET);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    sqlite3_reset(st);
    return -ENOENT;
  }
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return map_err(rc);
  }
  *seq = sqlite3_column_int64(st, 0);
  memset(hash, 0, AUDIT_HASH_BYTES);
  int n = sqlite3_column_bytes(st, 1);
  const void *h = sqlite3_column_blob(st, 1);
  if (h && n == AUDIT_HASH_BYTES) memcpy(hash, h, AUDIT_HASH_BYTES);
  const char *m = (const char *)sqlite3_column_text(st, 2);
  *mac = xstrdup(m ? m : "");
  sqlite3_reset(st);
  return 0;
}

static int sq_head_get(void *ctx, int64_t *seq, uint8_t hash[AUDIT_HASH_BYTES],
                       char **mac) {
  return head_read(ctx, seq, hash, mac);
}

static int sq_append(void *ctx, audit_seal_fn seal, void *seal_arg) {
  struct sqlite_sink *s = ctx;
  bool outer = sqlite3_get_autocommit(s->db) != 0;
  int rc = map_err(
      sqlite3_exec(s->db, outer ? "BEGIN IMMEDIATE" : "SAVEPOINT audit_append",
                   NULL, NULL, NULL));
  if (rc < 0) return rc;

  audit_head_t cur = {0};
  char *mac = NULL;
  rc = head_read(s, &cur.seq, cur.hash, &mac);
  if (rc == -ENOENT) {
    cur.seq = 0;
    memset(cur.hash, 0, sizeof(cur.hash));
    rc = 0;
  }
  cur.mac = mac;
  audit_row_t row;
  audit_head_t next = {0};
  if (rc == 0) rc = seal(seal_arg, &cur, &row, &next);
  if (rc == 0) {
    sqlite3_stmt *st = stmt(s, ST_INSERT);
    sqlite3_bind_int64(st, 1, row.seq);
    sqlite3_bind_int64(st, 2, row.time_ms);
    sqlite3_bind_text(st, 3, row.actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row.action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, row.target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row.outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row.subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row.details, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, row.prev_hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, row.hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
    rc = step_done(st);
    sqlite3_clear_bindings(st);
  }
  if (rc == 0) {
    sqlite3_stmt *st = stmt(s, ST_HEAD_PUT);
    sqlite3_bind_int64(st, 1, next.seq);
    sqlite3_bind_blob(st, 2, next.hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, next.mac, -1, SQLITE_STATIC);
    rc = step_done(st);
    sqlite3_clear_bindings(st);
  }
  free(mac);
  if (rc == 0) {
    rc = map_err(sqlite3_exec(s->db, outer ? "COMMIT" : "RELEASE audit_append",
                              NULL, NULL, NULL));
    if (rc == 0) return 0;
  }
  if (outer)
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  else
    sqlite3_exec(s->db, "ROLLBACK TO audit_append; RELEASE audit_append", NULL,
                 NULL, NULL);
  return rc;
}

static int sq_scan(void *ctx, int64_t from_seq, const char *subject,
                   audit_row_cb cb, void *arg) {
  struct sqlite_sink *s = ctx;
  sqlite3_stmt *st = stmt(s, subject ? ST_SCAN_SUBJECT : ST_SCAN);
  sqlite3_bind_int64(st, 1, from_seq);
  if (subject) sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
  int rc, out = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    audit_row_t row;
    memset(&row, 0, sizeof(row));
    row.seq = sqlite3_column_int64(st, 0);
    row.time_ms = sqlite3_column_int64(st, 1);
    const char **f[6] = {&row.actor,   &row.action,  &row.target,
                         &row.outcome, &row.subject, &row.details};
    for (int i = 0; i < 6; i++) {
      const char *t = (const char *)sqlite3_column_text(st, 2 + i);
      *f[i] = t ? t : "";
    }
    /* A hash of the wrong size is kept as zeros: it will not verify. */
    if (sqlite3_column_bytes(st, 8) == AUDIT_HASH_BYTES)
      memcpy(row.prev_hash, sqlite3_column_blob(st, 8), AUDIT_HASH_BYTES);
    if (sqlite3_column_bytes(st, 9) == AUDIT_HASH_BYTES)
      memcpy(row.hash, sqlite3_column_blob(st, 9), AUDIT_HASH_BYTES);
    if ((out = cb(arg, &row)) != 0) break;
  }
  if (out == 0 && rc != SQLITE_DONE) out = map_err(rc);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

static int sq_key_get(void *ctx, const char *subject, char **wrapped) {
  struct sqlite_sink *s = ctx;
  sqlite3_stmt *st = stmt(s, ST_KEY_GET);
  sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st), out = 0;
  if (rc == SQLITE_ROW) {
    const char *w = (const char *)sqlite3_column_text(st, 0);
    *wrapped = xstrdup(w ? w : "");
  } else {
    out = rc == SQLITE_DONE ? -ENOENT : map_err(rc);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

static int sq_key_insert(void *ctx, const char *subject, const char *wrapped) {
  struct sqlite_sink *s = ctx;
  sqlite3_stmt *st = stmt(s, ST_KEY_INSERT);
  sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, wrapped, -1, SQLITE_STATIC);
  int rc = step_done(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int sq_key_update(void *ctx, const char *subject, const char *wrapped) {
  struct sqlite_sink *s = ctx;
  sqlite3_stmt *st = stmt(s, ST_KEY_UPDATE);
  sqlite3_bind_text(st, 1, wrapped, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
  int rc = step_done(st);
  sqlite3_clear_bindings(st);
  if (rc == 0 && sqlite3_changes(s->db) == 0) rc = -ENOENT;
  return rc;
}

static int sq_key_delete(void *ctx, const char *subject) {
  struct sqlite_sink *s = ctx;
  sqlite3_stmt *st = stmt(s, ST_KEY_DELETE);
  sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
  int rc = step_done(st);
  sqlite3_clear_bindings(st);
  if (rc == 0 && sqlite3_changes(s->db) == 0) rc = -ENOENT;
  /* secure_delete zeroed the row in the page; a WAL still holds the old
   * page until a checkpoint copies the new one over and truncates it. */
  if (rc == 0 && sqlite3_get_autocommit(s->db))
    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                              NULL);
  return rc;
}

static int sq_key_scan(void *ctx, audit_key_cb cb, void *arg) {
  struct sqlite_sink *s = ctx;
  sqlite3_stmt *st = stmt(s, ST_KEY_SCAN);
  int rc, out = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *subj = (const char *)sqlite3_column_text(st, 0);
    const char *w = (const char *)sqlite3_column_text(st, 1);
    if ((out = cb(arg, subj ? subj : "", w ? w : "")) != 0) break;
  }
  if (out == 0 && rc != SQLITE_DONE) out = map_err(rc);
  sqlite3_reset(st);
  return out;
}

static const audit_sink_ops_t sqlite_ops = {
    .append = sq_append,
    .scan = sq_scan,
    .head_get = sq_head_get,
    .key_get = sq_key_get,
    .key_insert = sq_key_insert,
    .key_update = sq_key_update,
    .key_delete = sq_key_delete,
    .key_scan = sq_key_scan,
};

const char *audit_sqlite_schema(void) {
  return schema;
}

int audit_sqlite_create_schema(struct sqlite3 *db) {
  return sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int audit_sqlite_sink_new(struct sqlite3 *db, audit_sink_t *out) {
  struct sqlite_sink *s = xcalloc(1, sizeof(*s));
  s->db = db;
  if (sqlite3_exec(db, "PRAGMA secure_delete = ON", NULL, NULL, NULL) !=
      SQLITE_OK)
    goto fail;
  for (int i = 0; i < ST_COUNT; i++)
    if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                           NULL) != SQLITE_OK)
      goto fail;
  out->ops = &sqlite_ops;
  out->ctx = s;
  return 0;
fail:
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
  free(s);
  return -EIO;
}

void audit_sqlite_sink_free(audit_sink_t *sink) {
  struct sqlite_sink *s = sink->ctx;
  if (!s) return;
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
  free(s);
  sink->ctx = NULL;
  sink->ops = NULL;
}
