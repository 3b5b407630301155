/* test_audit.c: hash chain, tamper detection, crypto-shredding, export. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit.h"
#include "audit/audit_sqlite.h"
#include "../testutil.h"

#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sqlite3.h>

typedef struct fx {
  char *dir;
  char path[512];
  sqlite3 *db;
  secrets_keyring_t *ring;
  audit_sink_t sink;
  audit_log_t *log;
} fx_t;

static void exec_sql(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK) fail_msg("%s: %s", sql, err);
}

/* 1 if s is in the database file or its WAL, 0 if in neither. */
static int in_db_files(const char *path, const char *s) {
  char wal[600];
  snprintf(wal, sizeof(wal), "%s-wal", path);
  int a = file_contains(path, s), b = file_contains(wal, s);
  return a == 1 || b == 1;
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof(*f));
  f->dir = tmpdir_make();
  snprintf(f->path, sizeof(f->path), "%s/audit.db", f->dir);
  assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
  /* WAL, as the store runs it: erasure must reach the -wal file too. */
  exec_sql(f->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  assert_int_equal(audit_sqlite_create_schema(f->db), 0);
  assert_int_equal(audit_sqlite_sink_new(f->db, &f->sink), 0);
  f->ring = secrets_keyring_new();
  assert_int_equal(secrets_keyring_generate(f->ring, true, NULL), 0);
  assert_int_equal(audit_log_new(f->ring, f->sink, &f->log), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  audit_log_free(f->log);
  audit_sqlite_sink_free(&f->sink);
  assert_int_equal(sqlite3_close(f->db), SQLITE_OK);
  secrets_keyring_free(f->ring);
  tmpdir_remove(f->dir);
  free(f);
  return 0;
}

static const char *subject_of(int i) {
  static const char *s[] = {"", "person:1", "person:2"};
  return s[i % 3];
}

static void details_of(int i, char *buf, size_t n) {
  snprintf(buf, n, "{\"email\":\"user%d@example.org\",\"n\":%d}", i, i);
}

/* Appends entries 1..n: subjects cycle person:1, person:2, none. */
static void fill(fx_t *f, int n) {
  char details[128];
  for (int i = 1; i <= n; i++) {
    details_of(i, details, sizeof(details));
    audit_record_t rec = {.time_ms = 1700000000000LL + i,
                          .actor = "user:admin",
                          .action = "inbox.archive",
                          .target = "message:42",
                          .outcome = "ok",
                          .subject = subject_of(i),
                          .details = details};
    int64_t seq = 0;
    assert_int_equal(audit_append(f->log, &rec, &seq), 0);
    assert_int_equal(seq, i);
  }
}

/* What an attacker with write access does: drop the guards, then edit. */
static void tamper(fx_t *f, const char *sql) {
  exec_sql(f->db, "DROP TRIGGER IF EXISTS audit_log_no_update;"
                  "DROP TRIGGER IF EXISTS audit_log_no_delete;");
  exec_sql(f->db, sql);
}

static void expect(fx_t *f, const char *anchor, audit_problem_t p,
                   int64_t seq) {
  audit_verify_result_t res;
  assert_int_equal(audit_verify(f->log, anchor, &res), 0);
  if (res.problem != p || res.seq != seq)
    fail_msg("expected %s at %" PRId64 ", got %s at %" PRId64 ": %s",
             audit_problem_name(p), seq, audit_problem_name(res.problem),
             res.seq, res.message);
}

static void test_append_verify(void **state) {
  fx_t *f = *state;
  audit_verify_result_t res;
  assert_int_equal(audit_verify(f->log, NULL, &res), 0);
  assert_int_equal(res.problem, AUDIT_OK);
  assert_int_equal(res.rows, 0);
  fill(f, 100);
  assert_int_equal(audit_verify(f->log, NULL, &res), 0);
  assert_int_equal(res.problem, AUDIT_OK);
  assert_int_equal(res.rows, 100);
  assert_int_equal(res.last_seq, 100);
  char *anchor = NULL;
  assert_int_equal(audit_anchor(f->log, &anchor), 0);
  assert_memory_equal(anchor, "a1:100:", 7);
  expect(f, anchor, AUDIT_OK, 0);
  free(anchor);
  /* Bad arguments. */
  audit_record_t rec = {.actor = "x"};
  assert_int_equal(audit_append(f->log, &rec, NULL), -EINVAL);
  assert_int_equal(audit_verify(f->log, "a1:zz", &res), -EINVAL);
}

static void test_append_only_guard(void **state) {
  fx_t *f = *state;
  fill(f, 3);
  assert_int_not_equal(sqlite3_exec(f->db,
                                    "UPDATE audit_log SET outcome = 'x' "
                                    "WHERE seq = 2",
                                    NULL, NULL, NULL),
                       SQLITE_OK);
  assert_int_not_equal(sqlite3_exec(f->db,
                                    "DELETE FROM audit_log WHERE seq = 2", NULL,
                                    NULL, NULL),
                       SQLITE_OK);
  expect(f, NULL, AUDIT_OK, 0);
}

static void test_modified_fields(void **state) {
  fx_t *f = *state;
  const char *edits[] = {
      "UPDATE audit_log SET outcome = 'denied' WHERE seq = 37",
      "UPDATE audit_log SET actor = 'user:eve' WHERE seq = 37",
      "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = 37",
      "UPDATE audit_log SET action = 'x' WHERE seq = 37",
      "UPDATE audit_log SET target = 'x' WHERE seq = 37",
      "UPDATE audit_log SET subject = 'person:2' WHERE seq = 37",
      "UPDATE audit_log SET details = details || ' ' WHERE seq = 37",
      "UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 37",
      "UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 37",
  };
  fill(f, 100);
  expect(f, NULL, AUDIT_OK, 0);
  /* Each edit on the same row, undone by a savepoint in between. */
  for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
    exec_sql(f->db, "SAVEPOINT t");
    tamper(f, edits[i]);
    expect(f, NULL, AUDIT_BAD_MODIFIED, 37);
    exec_sql(f->db, "ROLLBACK TO t; RELEASE t");
    expect(f, NULL, AUDIT_OK, 0);
  }
  /* And for real, on disk. */
  tamper(f, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 37");
  expect(f, NULL, AUDIT_BAD_MODIFIED, 37);
}

static void test_deleted_row(void **state) {
  fx_t *f = *state;
  fill(f, 100);
  exec_sql(f->db, "SAVEPOINT t");
  tamper(f, "DELETE FROM audit_log WHERE seq = 1");
  expect(f, NULL, AUDIT_BAD_GAP, 1);
  exec_sql(f->db, "ROLLBACK TO t; RELEASE t");
  tamper(f, "DELETE FROM audit_log WHERE seq IN (42, 43)");
  expect(f, NULL, AUDIT_BAD_GAP, 42);
}

static void test_deleted_and_renumbered(void **state) {
  fx_t *f = *state;
  fill(f, 50);
  /* Row 20 removed and the following rows renumbered to hide the gap. */
  tamper(f, "DELETE FROM audit_log WHERE seq = 20;"
            "UPDATE audit_log SET seq = seq - 1 WHERE seq > 20");
  expect(f, NULL, AUDIT_BAD_MODIFIED, 20);
}

static void test_swapped_rows(void **state) {
  fx_t *f = *state;
  fill(f, 100);
  tamper(f, "UPDATE audit_log SET seq = -1 WHERE seq = 20;"
            "UPDATE audit_log SET seq = 20 WHERE seq = 21;"
            "UPDATE audit_log SET seq = 21 WHERE seq = -1");
  expect(f, NULL, AUDIT_BAD_REORDERED, 20);
}

static void test_swapped_far(void **state) {
  fx_t *f = *state;
  fill(f, 100);
  tamper(f, "UPDATE audit_log SET seq = -1 WHERE seq = 10;"
            "UPDATE audit_log SET seq = 10 WHERE seq = 70;"
            "UPDATE audit_log SET seq = 70 WHERE seq = -1");
  expect(f, NULL, AUDIT_BAD_REORDERED, 10);
}

static void test_truncated_tail(void **state) {
  fx_t *f = *state;
  fill(f, 100);
  tamper(f, "DELETE FROM audit_log WHERE seq > 90");
  expect(f, NULL, AUDIT_BAD_TRUNCATED, 91);
  /* Pointing the head at row 90 needs the master key. */
  tamper(f, "UPDATE audit_head SET seq = 90, "
            "hash = (SELECT hash FROM audit_log WHERE seq = 90)");
  expect(f, NULL, AUDIT_BAD_HEAD, 90);
  /* Deleting the head record altogether. */
  tamper(f, "DELETE FROM audit_head");
  expect(f, NULL, AUDIT_BAD_HEAD, 90);
  /* The log refuses to chain onto a missing head. */
  audit_record_t rec = {.actor = "a", .action = "b"};
  assert_int_equal(audit_append(f->log, &rec, NULL), AUDIT_EHEAD);
}

static void test_rollback_needs_anchor(void **state) {
  fx_t *f = *state;
  fill(f, 90);
  /* The attacker saves the signed head at 90... */
  exec_sql(f->db, "CREATE TABLE saved AS SELECT * FROM audit_head");
  char details[64];
  for (int i = 91; i <= 100; i++) {
    details_of(i, details, sizeof(details));
    audit_record_t rec = {.actor = "user:admin",
                          .action = "x",
                          .subject = subject_of(i),
                          .details = details};
    assert_int_equal(audit_append(f->log, &rec, NULL), 0);
  }
  char *anchor = NULL;
  assert_int_equal(audit_anchor(f->log, &anchor), 0);
  /* ...truncates and restores it: undetectable without an anchor, as
   * documented, and caught with the anchor exported at 100. */
  tamper(f,
         "DELETE FROM audit_log WHERE seq > 90;"
         "DELETE FROM audit_head; INSERT INTO audit_head SELECT * FROM saved");
  expect(f, NULL, AUDIT_OK, 0);
  expect(f, anchor, AUDIT_BAD_TRUNCATED, 91);
  free(anchor);
}

/* Rewrites row `seq` and recomputes every hash after it, as an attacker
 * without the master key could. */
struct rewrite {
  sqlite3 *db;
  int64_t from;
  uint8_t prev[32];
  sqlite3_stmt *upd;
};

static int rewrite_cb(void *arg, const audit_row_t *row) {
  struct rewrite *rw = arg;
  audit_row_t r = *row;
  if (r.seq < rw->from) {
    memcpy(rw->prev, r.hash, 32);
    return 0;
  }
  if (r.seq == rw->from) r.outcome = "denied";
  memcpy(r.prev_hash, rw->prev, 32);
  audit_row_hash(&r, r.hash);
  memcpy(rw->prev, r.hash, 32);
  sqlite3_reset(rw->upd);
  sqlite3_bind_text(rw->upd, 1, r.outcome, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(rw->upd, 2, r.prev_hash, 32, SQLITE_TRANSIENT);
  sqlite3_bind_blob(rw->upd, 3, r.hash, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(rw->upd, 4, r.seq);
  assert_int_equal(sqlite3_step(rw->upd), SQLITE_DONE);
  return 0;
}

static void rewrite_from(fx_t *f, int64_t from) {
  /* Compute the new hashes first (the scan must not see its own writes). */
  struct rewrite rw = {.db = f->db, .from = from};
  exec_sql(f->db, "CREATE TEMP TABLE nh(seq INTEGER PRIMARY KEY, outcome, "
                  "prev_hash, hash)");
  assert_int_equal(sqlite3_prepare_v2(f->db,
                                      "INSERT INTO nh(outcome, prev_hash, "
                                      "hash, seq) VALUES (?, ?, ?, ?)",
                                      -1, &rw.upd, NULL),
                   SQLITE_OK);
  audit_sink_t s = f->sink;
  assert_int_equal(s.ops->scan(s.ctx, 1, NULL, rewrite_cb, &rw), 0);
  sqlite3_finalize(rw.upd);
  tamper(f, "SELECT 1");
  exec_sql(f->db, "UPDATE audit_log SET outcome = nh.outcome, prev_hash = "
                  "nh.prev_hash, hash = nh.hash FROM nh WHERE nh.seq = "
                  "audit_log.seq");
  exec_sql(f->db, "DROP TABLE nh");
}

static void test_rewritten_chain(void **state) {
  fx_t *f = *state;
  fill(f, 100);
  char *anchor = NULL;
  assert_int_equal(audit_anchor(f->log, &anchor), 0);
  /* The anchor at 100 and an earlier one at 60 (taken from the rows). */
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(f->db,
                                      "SELECT hex(hash) FROM audit_log "
                                      "WHERE seq = 60",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  char a60[80];
  snprintf(a60, sizeof(a60), "a1:60:%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  for (char *c = a60; *c; c++) *c = (char)tolower((unsigned char)*c);
  expect(f, a60, AUDIT_OK, 0);

  rewrite_from(f, 50);
  /* Every row is self-consistent now; the signed head is not fooled. */
  expect(f, NULL, AUDIT_BAD_REWRITTEN, 100);
  expect(f, a60, AUDIT_BAD_ANCHOR, 60);
  free(anchor);
}

static void test_forged_append(void **state) {
  fx_t *f = *state;
  fill(f, 10);
  /* A row 11 with a correct hash, inserted behind the library's back. */
  tamper(f, "INSERT INTO audit_log SELECT 11, ts_ms, actor, action, target, "
            "outcome, '', 'forged', hash, zeroblob(32) FROM audit_log "
            "WHERE seq = 10");
  expect(f, NULL, AUDIT_BAD_MODIFIED, 11);
  /* Fix its hash as a careful forger would. */
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(f->db,
                                      "SELECT ts_ms, actor, action, target, "
                                      "outcome, prev_hash FROM audit_log "
                                      "WHERE seq = 11",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  audit_row_t row = {.seq = 11,
                     .time_ms = sqlite3_column_int64(st, 0),
                     .actor = (const char *)sqlite3_column_text(st, 1),
                     .action = (const char *)sqlite3_column_text(st, 2),
                     .target = (const char *)sqlite3_column_text(st, 3),
                     .outcome = (const char *)sqlite3_column_text(st, 4),
                     .subject = "",
                     .details = "forged"};
  memcpy(row.prev_hash, sqlite3_column_blob(st, 5), 32);
  audit_row_hash(&row, row.hash);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(f->db,
                                      "UPDATE audit_log SET hash = ? "
                                      "WHERE seq = 11",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(st, 1, row.hash, 32, SQLITE_TRANSIENT);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  expect(f, NULL, AUDIT_BAD_HEAD, 11);
  /* The next real append collides with it and refuses. */
  audit_record_t rec = {.actor = "a", .action = "b"};
  assert_int_equal(audit_append(f->log, &rec, NULL), AUDIT_EHEAD);
}

struct seen {
  int n, unreadable, readable;
  int64_t last_err;
};

static int count_cb(void *arg, const audit_row_t *row, const char *details,
                    int err) {
  struct seen *s = arg;
  (void)row;
  s->n++;
  if (details)
    s->readable++;
  else {
    s->unreadable++;
    s->last_err = err;
  }
  return 0;
}

static char *wrapped_key(fx_t *f, const char *subject) {
  char *w = NULL;
  int rc = f->sink.ops->key_get(f->sink.ctx, subject, &w);
  return rc == 0 ? w : NULL;
}

static void test_erase_subject(void **state) {
  fx_t *f = *state;
  fill(f, 30);
  char *w1 = wrapped_key(f, "person:1");
  assert_non_null(w1);
  assert_int_equal(in_db_files(f->path, w1), 1);

  assert_int_equal(audit_erase_subject(f->log, "person:1", "user:dpo"), 0);
  /* The chain still verifies, the erasure itself is recorded. */
  audit_verify_result_t res;
  assert_int_equal(audit_verify(f->log, NULL, &res), 0);
  assert_int_equal(res.problem, AUDIT_OK);
  assert_int_equal(res.rows, 31);
  /* The key record is gone, also from the file's bytes. */
  assert_null(wrapped_key(f, "person:1"));
  assert_int_equal(in_db_files(f->path, w1), 0);
  free(w1);

  struct seen s1 = {0}, s2 = {0}, all = {0};
  assert_int_equal(audit_list(f->log, 1, "person:1", 0, count_cb, &s1), 0);
  assert_int_equal(s1.n, 10);
  assert_int_equal(s1.unreadable, 10);
  assert_int_equal(s1.last_err, AUDIT_EERASED);
  assert_int_equal(audit_list(f->log, 1, "person:2", 0, count_cb, &s2), 0);
  assert_int_equal(s2.n, 10);
  assert_int_equal(s2.readable, 10);
  assert_int_equal(audit_list(f->log, 1, NULL, 0, count_cb, &all), 0);
  assert_int_equal(all.n, 31);
  assert_int_equal(all.unreadable, 10);

  /* Decrypting one row directly: erased. */
  struct one {
    int64_t seq;
    char subject[32], details[512];
  } one = {0};
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(f->db,
                                      "SELECT seq, details FROM audit_log "
                                      "WHERE subject = 'person:1' LIMIT 1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  one.seq = sqlite3_column_int64(st, 0);
  snprintf(one.details, sizeof(one.details), "%s", sqlite3_column_text(st, 1));
  sqlite3_finalize(st);
  audit_row_t row = {.seq = one.seq,
                     .subject = "person:1",
                     .details = one.details,
                     .actor = "",
                     .action = "",
                     .target = "",
                     .outcome = ""};
  char *out = NULL;
  assert_int_equal(audit_details_decrypt(f->log, &row, &out), AUDIT_EERASED);
  assert_null(out);

  /* Export after erasure: entries, no details. */
  char *json = NULL;
  assert_int_equal(audit_export_subject(f->log, "person:1", &json), 0);
  json_object *root = json_tokener_parse(json);
  assert_non_null(root);
  json_object *v;
  assert_true(json_object_object_get_ex(root, "erased", &v));
  assert_true(json_object_get_boolean(v));
  assert_true(json_object_object_get_ex(root, "entries", &v));
  assert_int_equal(json_object_array_length(v), 10);
  json_object *e0 = json_object_array_get_idx(v, 0), *d;
  assert_true(json_object_object_get_ex(e0, "details", &d));
  assert_null(d);
  assert_null(strstr(json, "user1@example.org"));
  json_object_put(root);
  free(json);

  /* Erasing twice: nothing to erase. */
  assert_int_equal(audit_erase_subject(f->log, "person:1", "user:dpo"),
                   -ENOENT);
}

static void test_export_subject(void **state) {
  fx_t *f = *state;
  fill(f, 30);
  audit_record_t rec = {.actor = "user:admin",
                        .action = "note",
                        .subject = "person:2",
                        .details = "plain words"};
  assert_int_equal(audit_append(f->log, &rec, NULL), 0);
  /* Details are not stored in clear. */
  assert_int_equal(in_db_files(f->path, "user2@example.org"), 0);
  assert_int_equal(in_db_files(f->path, "plain words"), 0);
  /* Control: the unencrypted entries' details are there. */
  assert_int_equal(in_db_files(f->path, "user3@example.org"), 1);

  char *json = NULL;
  assert_int_equal(audit_export_subject(f->log, "person:2", &json), 0);
  json_object *root = json_tokener_parse(json), *v, *entries;
  assert_non_null(root);
  assert_true(json_object_object_get_ex(root, "subject", &v));
  assert_string_equal(json_object_get_string(v), "person:2");
  assert_true(json_object_object_get_ex(root, "erased", &v));
  assert_false(json_object_get_boolean(v));
  assert_true(json_object_object_get_ex(root, "entries", &entries));
  assert_int_equal(json_object_array_length(entries), 11);
  for (size_t i = 0; i < 10; i++) {
    json_object *e = json_object_array_get_idx(entries, i), *d, *x;
    assert_true(json_object_object_get_ex(e, "seq", &x));
    int64_t seq = json_object_get_int64(x);
    assert_int_equal(seq % 3, 2); /* person:2's entries */
    assert_true(json_object_object_get_ex(e, "details", &d));
    assert_true(json_object_is_type(d, json_type_object));
    assert_true(json_object_object_get_ex(d, "email", &x));
    char want[64];
    snprintf(want, sizeof(want), "user%" PRId64 "@example.org", seq);
    assert_string_equal(json_object_get_string(x), want);
    assert_true(json_object_object_get_ex(e, "time", &x));
    assert_int_equal(strlen(json_object_get_string(x)), 24);
    assert_true(json_object_object_get_ex(e, "actor", &x));
    assert_string_equal(json_object_get_string(x), "user:admin");
  }
  json_object *last = json_object_array_get_idx(entries, 10), *d;
  assert_true(json_object_object_get_ex(last, "details", &d));
  assert_string_equal(json_object_get_string(d), "plain words");
  assert_null(strstr(json, "user1@example.org"));
  json_object_put(root);
  free(json);

  /* Nobody: an empty list. */
  assert_int_equal(audit_export_subject(f->log, "person:none", &json), 0);
  assert_non_null(strstr(json, "\"entries\":[]"));
  free(json);
}

static void test_details_bound_to_row(void **state) {
  fx_t *f = *state;
  fill(f, 6);
  /* person:1 has rows 1 and 4: row 1's ciphertext does not open as row 4. */
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(f->db,
                                      "SELECT details FROM audit_log "
                                      "WHERE seq = 1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  char *ct = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  assert_memory_equal(ct, "e1:", 3);
  audit_row_t row = {.seq = 1, .subject = "person:1", .details = ct};
  char *out = NULL;
  assert_int_equal(audit_details_decrypt(f->log, &row, &out), 0);
  assert_string_equal(out, "{\"email\":\"user1@example.org\",\"n\":1}");
  free(out);
  row.seq = 4;
  assert_int_equal(audit_details_decrypt(f->log, &row, &out), SECRETS_EBADSIG);
  row.seq = 1;
  ct[10] = ct[10] == 'A' ? 'B' : 'A';
  assert_true(audit_details_decrypt(f->log, &row, &out) < 0);
  free(ct);
}

static void test_rotation_rewrap(void **state) {
  fx_t *f = *state;
  char old_id[SECRETS_KEYID_MAX + 1], new_id[SECRETS_KEYID_MAX + 1];
  assert_int_equal(secrets_keyring_active_id(f->ring, old_id), 0);
  fill(f, 12);
  assert_int_equal(secrets_keyring_generate(f->ring, true, new_id), 0);
  size_t n = 0;
  assert_int_equal(audit_rewrap_keys(f->log, &n), 0);
  assert_int_equal(n, 2);
  char *w = wrapped_key(f, "person:1");
  char kid[SECRETS_KEYID_MAX + 1];
  assert_int_equal(secrets_ct_key_id(w, kid), 0);
  assert_string_equal(kid, new_id);
  free(w);
  assert_int_equal(audit_rewrap_keys(f->log, &n), 0);
  assert_int_equal(n, 0);
  /* Old master key gone: everything still reads and verifies. */
  assert_int_equal(secrets_keyring_remove(f->ring, old_id), 0);
  expect(f, NULL, AUDIT_OK, 0);
  struct seen s = {0};
  assert_int_equal(audit_list(f->log, 1, NULL, 0, count_cb, &s), 0);
  assert_int_equal(s.n, 14);
  assert_int_equal(s.unreadable, 0);
  audit_record_t rec = {.actor = "a",
                        .action = "b",
                        .subject = "person:1",
                        .details = "after rotation"};
  assert_int_equal(audit_append(f->log, &rec, NULL), 0);
  expect(f, NULL, AUDIT_OK, 0);
}

static void test_head_needs_old_key_until_rewrap(void **state) {
  fx_t *f = *state;
  char old_id[SECRETS_KEYID_MAX + 1];
  assert_int_equal(secrets_keyring_active_id(f->ring, old_id), 0);
  fill(f, 3);
  assert_int_equal(secrets_keyring_generate(f->ring, true, NULL), 0);
  assert_int_equal(secrets_keyring_remove(f->ring, old_id), 0);
  /* Removed too early: the head cannot be checked, appends refuse. */
  expect(f, NULL, AUDIT_BAD_HEAD, 3);
  audit_record_t rec = {.actor = "a", .action = "b"};
  assert_int_equal(audit_append(f->log, &rec, NULL), AUDIT_EHEAD);
}

static void test_transactions(void **state) {
  fx_t *f = *state;
  audit_record_t rec = {
      .actor = "a", .action = "b", .subject = "person:9", .details = "d"};
  /* Inside the caller's transaction: rolled back with it. */
  exec_sql(f->db, "BEGIN");
  assert_int_equal(audit_append(f->log, &rec, NULL), 0);
  exec_sql(f->db, "ROLLBACK");
  struct seen s = {0};
  assert_int_equal(audit_list(f->log, 1, NULL, 0, count_cb, &s), 0);
  assert_int_equal(s.n, 0);
  expect(f, NULL, AUDIT_OK, 0);
  exec_sql(f->db, "BEGIN");
  int64_t seq = 0;
  assert_int_equal(audit_append(f->log, &rec, &seq), 0);
  exec_sql(f->db, "COMMIT");
  assert_int_equal(seq, 1);
  memset(&s, 0, sizeof(s));
  assert_int_equal(audit_list(f->log, 1, NULL, 0, count_cb, &s), 0);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.readable, 1);
  expect(f, NULL, AUDIT_OK, 0);
}

static void test_list_limit(void **state) {
  fx_t *f = *state;
  fill(f, 20);
  struct seen s = {0};
  assert_int_equal(audit_list(f->log, 5, NULL, 7, count_cb, &s), 0);
  assert_int_equal(s.n, 7);
  assert_int_equal(s.readable, 7);
}

int main(void) {
  assert_int_equal(secrets_global_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_append_verify, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_only_guard, setup, teardown),
      cmocka_unit_test_setup_teardown(test_modified_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_row, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_and_renumbered, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_swapped_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_swapped_far, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollback_needs_anchor, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rewritten_chain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forged_append, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase_subject, setup, teardown),
      cmocka_unit_test_setup_teardown(test_export_subject, setup, teardown),
      cmocka_unit_test_setup_teardown(test_details_bound_to_row, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rotation_rewrap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_head_needs_old_key_until_rewrap,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_limit, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
