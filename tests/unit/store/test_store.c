/*
 * test_store.c: the store against the backend named by
 * ASSIST_TEST_STORE_URI (run-tests.sh runs it for SQLite and PostgreSQL).
 */
#include "store_test_util.h"

#include <errno.h>
#include <sys/stat.h>

static void unused_helpers(void) {
  (void)tu_flag_set;
  (void)tu_closed_flag;
  (void)tu_run_for;
}

/* ---- migrations ---- */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  assert_non_null(a);
  assert_non_null(b);
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof(tmp), a)) > 0) fwrite(tmp, 1, n, b);
  fclose(a);
  fclose(b);
}

/* Opens env for a test of the SQLite backend only (skipped on
 * PostgreSQL). */
static void open_sqlite_env(tu_env_t *env) {
  tu_env_open(env);
  if (env->pg) {
    tu_env_close(env);
    skip();
  }
}

static void test_migrations_idempotent(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  int64_t n1 = tu_int(&env.loop, env.s,
                      "SELECT count(*) FROM "
                      "schema_migrations");
  assert_true(n1 >= 1);
  tu_close_store(&env.loop, env.s);
  /* Reopening applies nothing again (0001 would fail on CREATE TABLE). */
  tu_env_reopen(&env);
  assert_int_equal(
      tu_int(&env.loop, env.s, "SELECT count(*) FROM schema_migrations"), n1);
  assert_true(store_ready(env.s));
  tu_env_close(&env);
}

static void test_migrations_added_and_failed(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  const char *be = env.pg ? "postgres" : "sqlite";
  char dir[256], sub[300], p[400], src[400];
  snprintf(dir, sizeof(dir), "/tmp/assist-mig-%d", (int)getpid());
  snprintf(sub, sizeof(sub), "%s/%s", dir, be);
  mkdir(dir, 0700);
  mkdir(sub, 0700);
  snprintf(src, sizeof(src), "%s/%s/0001_core.sql", tu_migrations(), be);
  snprintf(p, sizeof(p), "%s/0001_core.sql", sub);
  copy_file(src, p);
  int64_t before =
      tu_int(&env.loop, env.s, "SELECT count(*) FROM schema_migrations");
  tu_close_store(&env.loop, env.s);

  /* A later migration is applied once (numbered after every real one,
   * which the database already has). */
  snprintf(p, sizeof(p), "%s/9000_extra.sql", sub);
  write_file(p, "DROP TABLE IF EXISTS t_extra;\n"
                "CREATE TABLE t_extra (a integer PRIMARY KEY);\n"
                "INSERT INTO t_extra VALUES (1);\n");
  char msg[512];
  assert_int_equal(tu_open(&env.loop, env.uri, dir, &env.s, msg, sizeof(msg)),
                   0);
  assert_int_equal(
      tu_int(&env.loop, env.s, "SELECT count(*) FROM schema_migrations"),
      before + 1);
  tu_close_store(&env.loop, env.s);
  assert_int_equal(tu_open(&env.loop, env.uri, dir, &env.s, msg, sizeof(msg)),
                   0);
  assert_int_equal(tu_int(&env.loop, env.s, "SELECT count(*) FROM t_extra"), 1);
  tu_close_store(&env.loop, env.s);

  /* A broken migration fails the open and leaves nothing behind. */
  snprintf(p, sizeof(p), "%s/9001_broken.sql", sub);
  write_file(p, "CREATE TABLE t_half (a integer);\nTHIS IS NOT SQL;\n");
  env.s = NULL;
  int rc = tu_open(&env.loop, env.uri, dir, &env.s, msg, sizeof(msg));
  assert_true(rc < 0);
  assert_null(env.s);
  assert_true(strlen(msg) > 0);
  unlink(p);
  /* t_half must not exist: the transaction rolled back. */
  tu_env_reopen(&env);
  assert_int_equal(
      tu_int(&env.loop, env.s, "SELECT count(*) FROM schema_migrations"),
      before + 1);
  int64_t v;
  assert_true(tu_sql(&env.loop, env.s, &v, "SELECT count(*) FROM t_half") < 0);
  assert_int_equal(tu_sql(&env.loop, env.s, NULL, "DROP TABLE t_extra"), 0);
  assert_int_equal(tu_sql(&env.loop, env.s, NULL,
                          "DELETE FROM schema_migrations WHERE version = "
                          "'9000'"),
                   0);
  snprintf(p, sizeof(p), "%s/9000_extra.sql", sub);
  unlink(p);
  snprintf(p, sizeof(p), "%s/0001_core.sql", sub);
  unlink(p);
  rmdir(sub);
  rmdir(dir);
  tu_env_close(&env);
}

/* Migration 0006 (plan reasons by id) keeps every decision's reason and
 * the deliveries that point at the decisions (SQLite; the PostgreSQL
 * database of the tests is shared, past 0005 already). */
static void test_migration_plan_reasons(void **state) {
  (void)state;
  tu_env_t env;
  open_sqlite_env(&env);
  tu_close_store(&env.loop, env.s);
  env.s = NULL;
  const char *ext[] = {"", "-wal", "-shm"};
  char p[400], src[400], dir[256], sub[300], msg[512];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", env.path, ext[i]);
    unlink(p);
  }
  snprintf(dir, sizeof dir, "/tmp/assist-mig6-%d", (int)getpid());
  snprintf(sub, sizeof sub, "%s/sqlite", dir);
  mkdir(dir, 0700);
  mkdir(sub, 0700);
  static const char *files[] = {"0001_core.sql",      "0002_audit.sql",
                                "0003_auth.sql",      "0004_oauth.sql",
                                "0005_reminders.sql", "0006_plan_reasons.sql"};
  for (int i = 0; i < 5; i++) {
    snprintf(src, sizeof src, "%s/sqlite/%s", tu_migrations(), files[i]);
    snprintf(p, sizeof p, "%s/%s", sub, files[i]);
    copy_file(src, p);
  }
  assert_int_equal(tu_open(&env.loop, env.uri, dir, &env.s, msg, sizeof msg),
                   0);
  assert_int_equal(
      tu_sql(&env.loop, env.s, NULL,
             "INSERT INTO users (id, email, created_at, updated_at) "
             "VALUES (1, 'a@example.com', 0, 0); "
             "INSERT INTO calendar_events (id, user_id, source, external_id, "
             "start_at, end_at, created_at, updated_at) "
             "VALUES (1, 1, 's', 'e', 0, 1, 0, 0); "
             "INSERT INTO notifications (event_id, user_id, offset_s, channel, "
             "scheduled_at, reason, state, created_at, updated_at) VALUES "
             "(1, 1, 60, 'email', 5, 'one', 'planned', 0, 0), "
             "(1, 1, 120, 'email', 5, 'two', 'planned', 0, 0), "
             "(1, 1, 180, 'call', 5, 'one', 'planned', 0, 0); "
             "INSERT INTO deliveries (notification_id, event_id, user_id, "
             "channel, notifier, created_at, updated_at) "
             "VALUES (1, 1, 1, 'email', 'dry-run', 0, 0)"),
      0);
  tu_close_store(&env.loop, env.s);
  snprintf(src, sizeof src, "%s/sqlite/%s", tu_migrations(), files[5]);
  snprintf(p, sizeof p, "%s/%s", sub, files[5]);
  copy_file(src, p);
  assert_int_equal(tu_open(&env.loop, env.uri, dir, &env.s, msg, sizeof msg),
                   0);
  assert_int_equal(
      tu_int(&env.loop, env.s, "SELECT count(*) FROM plan_reasons"), 2);
  assert_int_equal(
      tu_int(&env.loop, env.s,
             "SELECT count(*) FROM notifications n JOIN plan_reasons r ON "
             "r.id = n.reason_id WHERE (n.offset_s IN (60, 180) AND r.text = "
             "'one') OR (n.offset_s = 120 AND r.text = 'two')"),
      3);
  assert_int_equal(tu_int(&env.loop, env.s, "SELECT count(*) FROM deliveries"),
                   1);
  for (int i = 0; i < 6; i++) {
    snprintf(p, sizeof p, "%s/%s", sub, files[i]);
    unlink(p);
  }
  rmdir(sub);
  rmdir(dir);
  tu_env_close(&env);
}

/* PostgreSQL: a host name is resolved off the loop and used as hostaddr. */
static void test_pg_host_name(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  if (!env.pg) {
    tu_env_close(&env);
    skip();
  }
  char uri[512];
  const char *at = strstr(env.uri, "@127.0.0.1:");
  assert_non_null(at);
  snprintf(uri, sizeof(uri), "%.*s@localhost:%s", (int)(at - env.uri), env.uri,
           at + strlen("@127.0.0.1:"));
  store_t *s2 = NULL;
  char msg[256];
  assert_int_equal(tu_open(&env.loop, uri, NULL, &s2, msg, sizeof(msg)), 0);
  assert_int_equal(tu_int(&env.loop, s2, "SELECT 7"), 7);
  tu_close_store(&env.loop, s2);
  /* An unknown name fails the open cleanly. */
  snprintf(uri, sizeof(uri), "%.*s@no-such-host.invalid:%s",
           (int)(at - env.uri), env.uri, at + strlen("@127.0.0.1:"));
  s2 = NULL;
  assert_true(tu_open(&env.loop, uri, NULL, &s2, msg, sizeof(msg)) < 0);
  assert_null(s2);
  tu_env_close(&env);
}

static void test_bad_uri(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  store_t *s = NULL;
  assert_int_equal(tu_open(&loop, "mysql://x", NULL, &s, NULL, 0), -EINVAL);
  char msg[256];
  int rc = tu_open(&loop, "sqlite:/nonexistent-dir/x/y.db", NULL, &s, msg,
                   sizeof(msg));
  assert_true(rc < 0);
  assert_null(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- key-value ---- */

typedef struct {
  int done, status, found;
  char value[256];
  size_t len;
  size_t n;
  char keys[16][64];
} kvr_t;

static void kv_got(store_t *s, int status, int found, const void *value,
                   size_t len, void *arg) {
  (void)s;
  kvr_t *r = arg;
  r->status = status;
  r->found = found;
  r->len = len;
  if (found) memcpy(r->value, value, len < 256 ? len : 256);
  r->done = 1;
}

static void kv_done(store_t *s, int status, void *arg) {
  (void)s;
  kvr_t *r = arg;
  r->status = status;
  r->done = 1;
}

static void kv_listed(store_t *s, int status, size_t n, const char *const *keys,
                      const void *const *values, const size_t *lens,
                      void *arg) {
  (void)s;
  (void)values;
  (void)lens;
  kvr_t *r = arg;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n && i < 16; i++)
    snprintf(r->keys[i], sizeof(r->keys[i]), "%s", keys[i]);
  r->done = 1;
}

static void put(tu_env_t *env, const char *scope, const char *k, const void *v,
                size_t n) {
  kvr_t r = {0};
  store_kv_put(env->s, scope, k, v, n, kv_done, &r);
  tu_run_until(&env->loop, &r.done);
  assert_int_equal(r.status, 0);
}

static kvr_t get(tu_env_t *env, const char *scope, const char *k) {
  kvr_t r = {0};
  store_kv_get(env->s, scope, k, kv_got, &r);
  tu_run_until(&env->loop, &r.done);
  assert_int_equal(r.status, 0);
  return r;
}

static void test_kv_crud(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  static const char bin[] = {'a', 0, 'b', (char)0xff, 0};
  put(&env, "plugA", "user:1", bin, sizeof(bin));
  put(&env, "plugA", "user:2", "two", 3);
  put(&env, "plugA", "other", "o", 1);
  put(&env, "plugB", "user:1", "B", 1);

  kvr_t r = get(&env, "plugA", "user:1");
  assert_true(r.found);
  assert_int_equal(r.len, sizeof(bin));
  assert_memory_equal(r.value, bin, sizeof(bin));
  r = get(&env, "plugB", "user:1");
  assert_true(r.found);
  assert_int_equal(r.len, 1);
  assert_memory_equal(r.value, "B", 1);
  r = get(&env, "plugA", "nope");
  assert_false(r.found);

  /* Overwrite. */
  put(&env, "plugA", "user:2", "TWO!", 4);
  r = get(&env, "plugA", "user:2");
  assert_int_equal(r.len, 4);
  assert_memory_equal(r.value, "TWO!", 4);

  /* List by prefix: scoped and sorted. */
  kvr_t l = {0};
  store_kv_list(env.s, "plugA", "user:", 0, kv_listed, &l);
  tu_run_until(&env.loop, &l.done);
  assert_int_equal(l.status, 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.keys[0], "user:1");
  assert_string_equal(l.keys[1], "user:2");
  kvr_t all = {0};
  store_kv_list(env.s, "plugA", "", 0, kv_listed, &all);
  tu_run_until(&env.loop, &all.done);
  assert_int_equal(all.n, 3);

  /* Delete, and delete of a missing key. */
  kvr_t d = {0};
  store_kv_delete(env.s, "plugA", "user:1", kv_done, &d);
  tu_run_until(&env.loop, &d.done);
  assert_int_equal(d.status, 0);
  r = get(&env, "plugA", "user:1");
  assert_false(r.found);
  r = get(&env, "plugB", "user:1");
  assert_true(r.found);
  kvr_t d2 = {0};
  store_kv_delete(env.s, "plugA", "user:1", kv_done, &d2);
  tu_run_until(&env.loop, &d2.done);
  assert_int_equal(d2.status, 0);
  tu_env_close(&env);
}

/* ---- requests ---- */

static const store_stmt_t ins_kv = {
    "test_ins",
    "INSERT INTO kv (plugin, key, value, updated_at) VALUES ($1, $2, $3, $4)",
    NULL};

static void test_txn_rollback(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  tu_exec_t e = {0};
  store_req_t *r = store_req_new(env.s, STORE_TXN);
  for (int i = 0; i < 2; i++) {
    store_req_stmt(r, &ins_kv);
    store_req_bind_text(r, "p");
    store_req_bind_text(r, i == 0 ? "a" : "b");
    store_req_bind_blob(r, "x", 1);
    store_req_bind_int(r, 1);
  }
  store_req_stmt(r, &ins_kv); /* duplicate of "a": constraint */
  store_req_bind_text(r, "p");
  store_req_bind_text(r, "a");
  store_req_bind_blob(r, "x", 1);
  store_req_bind_int(r, 1);
  store_req_submit(r, tu_exec_cb, &e);
  tu_run_until(&env.loop, &e.done);
  assert_int_equal(e.status, -EEXIST);
  assert_true(strstr(e.msg, "test_ins") != NULL);
  assert_int_equal(tu_int(&env.loop, env.s, "SELECT count(*) FROM kv"), 0);

  /* Without STORE_TXN each statement stands alone. */
  tu_exec_t e2 = {0};
  r = store_req_new(env.s, 0);
  store_req_stmt(r, &ins_kv);
  store_req_bind_text(r, "p");
  store_req_bind_text(r, "a");
  store_req_bind_blob(r, "x", 1);
  store_req_bind_int(r, 1);
  store_req_submit(r, tu_exec_cb, &e2);
  tu_run_until(&env.loop, &e2.done);
  assert_int_equal(e2.status, 0);
  assert_int_equal(tu_int(&env.loop, env.s, "SELECT count(*) FROM kv"), 1);

  /* A syntax error is -EIO with a message, and the store stays usable. */
  int64_t v;
  assert_int_equal(tu_sql(&env.loop, env.s, &v, "SELEKT 1"), -EIO);
  assert_int_equal(tu_int(&env.loop, env.s, "SELECT 40 + 2"), 42);
  tu_env_close(&env);
}

/* Many requests at once: all complete, in any order, results intact. */
typedef struct {
  int *left;
  int64_t want;
  int bad;
} many_t;

static const store_stmt_t echo = {"test_echo", "SELECT $1 + 0",
                                  "SELECT $1::bigint"};

static void many_cb(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  many_t *m = arg;
  if (status != 0 || store_res_int(res, 0, 0, 0) != m->want) m->bad = 1;
  (*m->left)--;
}

static void test_many_requests(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  enum { N = 500 };
  static many_t m[N];
  int left = N;
  for (int i = 0; i < N; i++) {
    m[i].left = &left;
    m[i].want = i * 7;
    m[i].bad = 0;
    store_req_t *r = store_req_new(env.s, 0);
    store_req_stmt(r, &echo);
    store_req_bind_int(r, i * 7);
    store_req_submit(r, many_cb, &m[i]);
  }
  int zero = 0;
  while (left > 0) {
    uv_run(&env.loop, UV_RUN_ONCE);
    (void)zero;
  }
  for (int i = 0; i < N; i++) assert_int_equal(m[i].bad, 0);
  tu_env_close(&env);
}

/* Integer cells read as integers and as their decimal text, as before
 * (SQLite keeps them as integers, PostgreSQL sends text); NULL is "" and
 * 0; store_res_take keeps the results after the callback. */
static const store_stmt_t ints = {
    "test_ints",
    "SELECT $1 + 0, -7, 0, -9223372036854775807 - 1, 9223372036854775807, "
    "NULL, '12abc', 'x'",
    "SELECT $1::bigint, -7::bigint, 0::bigint, "
    "(-9223372036854775807 - 1)::bigint, 9223372036854775807::bigint, "
    "NULL::bigint, '12abc', 'x'"};

static store_res_t *kept;

static void ints_cb(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  *(int *)arg = status == 0 ? 1 : -1;
  if (status == 0) kept = store_res_take(res);
}

static void test_int_cells(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  int done = 0;
  store_req_t *r = store_req_new(env.s, 0);
  store_req_stmt(r, &ints);
  store_req_bind_int(r, 1234567890123);
  store_req_submit(r, ints_cb, &done);
  while (!done) uv_run(&env.loop, UV_RUN_ONCE);
  assert_int_equal(done, 1);
  assert_non_null(kept);
  assert_int_equal(store_res_count(kept), 1);
  assert_int_equal(store_res_rows(kept, 0), 1);
  static const char *texts[] = {
      "1234567890123",       "-7", "0",     "-9223372036854775808",
      "9223372036854775807", "",   "12abc", "x"};
  static const int64_t vals[] = {1234567890123, -7, 0,  INT64_MIN,
                                 INT64_MAX,     0,  12, 0};
  for (int c = 0; c < 8; c++) {
    assert_string_equal(store_res_text(kept, 0, 0, c), texts[c]);
    assert_true(store_res_int(kept, 0, 0, c) == vals[c]);
    size_t len;
    store_res_blob(kept, 0, 0, c, &len);
    assert_int_equal(len, strlen(texts[c]));
    assert_int_equal(store_res_isnull(kept, 0, 0, c), c == 5);
  }
  store_res_free(kept);
  kept = NULL;
  tu_env_close(&env);
}

/* A new SQLite database is made with 8 KiB pages (store_sqlite.c). */
static void test_sqlite_page_size(void **state) {
  (void)state;
  tu_env_t env;
  open_sqlite_env(&env);
  assert_int_equal(tu_int(&env.loop, env.s, "PRAGMA page_size"), 8192);
  tu_env_close(&env);
}

/* Checkpoints happen off the worker (store_sqlite.c): after commits that
 * leave some 12 MB in the WAL (more than CKPT_FRAMES pages, well under
 * CKPT_INLINE, where the worker would checkpoint itself) the database file
 * grows as the reader's connection copies the pages into it. */
static void test_sqlite_checkpointer(void **state) {
  (void)state;
  tu_env_t env;
  open_sqlite_env(&env);
  assert_int_equal(tu_sql(&env.loop, env.s, NULL, "CREATE TABLE big (b BLOB)"),
                   0);
  for (int i = 0; i < 12; i++)
    assert_int_equal(
        tu_sql(&env.loop, env.s, NULL,
               "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
               "FROM c WHERE x < 1024) INSERT INTO big "
               "SELECT randomblob(1024) FROM c"),
        0);
  struct stat st = {0};
  for (int waited = 0; waited < TU_GUARD_MS / 10; waited++) {
    if (stat(env.path, &st) == 0 && st.st_size > 8 << 20) break;
    tu_run_for(&env.loop, 10);
  }
  assert_true(st.st_size > 8 << 20);
  tu_env_close(&env);
}

/* STORE_READ requests see what was committed before them; on SQLite they
 * run on the reader's connection, where a write fails. */
static void test_read_requests(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  assert_int_equal(tu_sql(&env.loop, env.s, NULL,
                          "CREATE TABLE IF NOT EXISTS read_test (v TEXT); "
                          "DELETE FROM read_test; "
                          "INSERT INTO read_test (v) VALUES ('seen')"),
                   0);
  int64_t n = 0;
  assert_int_equal(tu_read(&env.loop, env.s, &n,
                           "SELECT count(*) FROM read_test WHERE v = 'seen'"),
                   0);
  assert_int_equal(n, 1);
  if (!env.pg)
    assert_true(tu_read(&env.loop, env.s, NULL, "DELETE FROM read_test") < 0);
  tu_env_close(&env);
}

/* Closing with requests queued: every callback runs (done or cancelled)
 * and every handle closes. */
typedef struct {
  int ok, cancelled, other;
} close_r_t;

static void close_cb(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  (void)res;
  close_r_t *r = arg;
  if (status == 0)
    r->ok++;
  else if (status == -ECANCELED)
    r->cancelled++;
  else
    r->other++;
}

static void test_close_with_pending(void **state) {
  (void)state;
  tu_env_t env;
  tu_env_open(&env);
  close_r_t r = {0};
  for (int i = 0; i < 200; i++) {
    store_req_t *q = store_req_new(env.s, 0);
    store_req_stmt(q, &echo);
    store_req_bind_int(q, i);
    store_req_submit(q, close_cb, &r);
  }
  tu_close_store(&env.loop, env.s);
  env.s = NULL;
  assert_int_equal(r.ok + r.cancelled, 200);
  assert_int_equal(r.other, 0);
  tu_env_close(&env);
}

int main(void) {
  unused_helpers();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migrations_idempotent),
      cmocka_unit_test(test_migrations_added_and_failed),
      cmocka_unit_test(test_migration_plan_reasons),
      cmocka_unit_test(test_bad_uri),
      cmocka_unit_test(test_pg_host_name),
      cmocka_unit_test(test_kv_crud),
      cmocka_unit_test(test_txn_rollback),
      cmocka_unit_test(test_many_requests),
      cmocka_unit_test(test_int_cells),
      cmocka_unit_test(test_sqlite_page_size),
      cmocka_unit_test(test_sqlite_checkpointer),
      cmocka_unit_test(test_read_requests),
      cmocka_unit_test(test_close_with_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
