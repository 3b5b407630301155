/*
 * store_test_util.h: helpers shared by the store and jobs tests. The
 * backend comes from ASSIST_TEST_STORE_URI ("sqlite" makes a fresh file
 * per test; a postgresql:// URI is shared and truncated per test). Set by
 * run-tests.sh, which runs each test binary once per backend.
 */
#ifndef ASSIST_STORE_TEST_UTIL_H
#define ASSIST_STORE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

/* A guard against hangs, not a timing assertion. */
#define TU_GUARD_MS 60000

typedef struct {
  uv_loop_t loop;
  store_t *s;
  char *uri;
  char path[256];
  int pg;
} tu_env_t;

static int tu_flag_set;
static void tu_guard_cb(uv_timer_t *t) {
  *(int *)t->data = 1;
}

/* Runs the loop until *flag becomes non-zero (or the guard fires). */
static inline void tu_run_until(uv_loop_t *loop, volatile int *flag) {
  uv_timer_t guard;
  int fired = 0;
  uv_timer_init(loop, &guard);
  guard.data = &fired;
  uv_timer_start(&guard, tu_guard_cb, TU_GUARD_MS, 0);
  while (!*flag && !fired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  if (fired) fail_msg("timed out waiting (guard %d ms)", TU_GUARD_MS);
}

/* Runs the loop for ms milliseconds (letting work happen). */
static inline void tu_run_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t t;
  int fired = 0;
  uv_timer_init(loop, &t);
  t.data = &fired;
  uv_timer_start(&t, tu_guard_cb, ms, 0);
  while (!fired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static inline const char *tu_migrations(void) {
  const char *m = getenv("ASSIST_TEST_MIGRATIONS");
  return m ? m : "schemas/sql";
}

typedef struct {
  int done, status;
  store_t *s;
  char msg[512];
} tu_open_t;

static void tu_opened(store_t *s, int status, const char *errmsg, void *arg) {
  tu_open_t *o = arg;
  o->s = s;
  o->status = status;
  snprintf(o->msg, sizeof(o->msg), "%s", errmsg ? errmsg : "");
  o->done = 1;
}

/* Opens uri with migrations dir; returns the status. */
static inline int tu_open(uv_loop_t *loop, const char *uri, const char *mig,
                          store_t **out, char *msg, size_t msglen) {
  tu_open_t o = {0};
  int rc = store_open(loop, uri, mig, tu_opened, &o);
  if (rc < 0) return rc;
  tu_run_until(loop, &o.done);
  *out = o.s;
  if (msg && msglen) {
    size_t k = strlen(o.msg);
    if (k >= msglen) k = msglen - 1;
    memcpy(msg, o.msg, k);
    msg[k] = 0;
  }
  return o.status;
}

static int tu_closed_flag;
static void tu_closed(void *arg) {
  *(int *)arg = 1;
}

static inline void tu_close_store(uv_loop_t *loop, store_t *s) {
  int done = 0;
  store_close(s, tu_closed, &done);
  tu_run_until(loop, &done);
}

typedef struct {
  int done, status;
  int64_t v;
  int rows;
  char text[256];
  char msg[512];
} tu_exec_t;

static void tu_exec_cb(store_t *s, int status, const char *errmsg,
                       store_res_t *res, void *arg) {
  (void)s;
  tu_exec_t *e = arg;
  e->status = status;
  if (status == 0 && store_res_count(res) > 0) {
    size_t last = store_res_count(res) - 1;
    e->rows = store_res_rows(res, last);
    if (e->rows > 0) {
      e->v = store_res_int(res, last, 0, 0);
      snprintf(e->text, sizeof(e->text), "%s", store_res_text(res, last, 0, 0));
    }
  }
  snprintf(e->msg, sizeof(e->msg), "%s", errmsg ? errmsg : "");
  e->done = 1;
}

/* Runs one-off SQL (printf-formatted) as one request with flags and
 * waits; returns its status and the first column of the first row of the
 * last statement as an integer via *v. */
static inline int tu_vsql(uv_loop_t *loop, store_t *s, int flags, int64_t *v,
                          const char *fmt, va_list ap) {
  char sql[2048];
  vsnprintf(sql, sizeof(sql), fmt, ap);
  tu_exec_t e = {0};
  store_req_t *r = store_req_new(s, flags);
  store_req_sql(r, sql);
  store_req_submit(r, tu_exec_cb, &e);
  tu_run_until(loop, &e.done);
  if (e.status < 0) print_message("sql failed: %s: %s\n", sql, e.msg);
  if (v) *v = e.v;
  return e.status;
}

static inline int tu_sql(uv_loop_t *loop, store_t *s, int64_t *v,
                         const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = tu_vsql(loop, s, 0, v, fmt, ap);
  va_end(ap);
  return rc;
}

/* tu_sql as a STORE_READ request. */
static inline int tu_read(uv_loop_t *loop, store_t *s, int64_t *v,
                          const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = tu_vsql(loop, s, STORE_READ, v, fmt, ap);
  va_end(ap);
  return rc;
}

static inline int64_t tu_int(uv_loop_t *loop, store_t *s, const char *fmt,
                             ...) {
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof(sql), fmt, ap);
  va_end(ap);
  int64_t v = -1;
  assert_int_equal(tu_sql(loop, s, &v, "%s", sql), 0);
  return v;
}

static int tu_counter;

/* Sets up env: a loop and an open store with clean tables. */
static inline void tu_env_open(tu_env_t *env) {
  memset(env, 0, sizeof(*env));
  assert_int_equal(uv_loop_init(&env->loop), 0);
  const char *u = getenv("ASSIST_TEST_STORE_URI");
  if (!u || strcmp(u, "sqlite") == 0) {
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(env->path, sizeof(env->path), "%s/assist-test-%d-%d.db", tmp,
             (int)getpid(), tu_counter++);
    unlink(env->path);
    char uri[300];
    snprintf(uri, sizeof(uri), "sqlite:%s", env->path);
    env->uri = strdup(uri);
  } else {
    env->uri = strdup(u);
    env->pg = 1;
  }
  char msg[512];
  int rc =
      tu_open(&env->loop, env->uri, tu_migrations(), &env->s, msg, sizeof(msg));
  if (rc < 0) fail_msg("store_open(%s): %d %s", env->uri, rc, msg);
  if (env->pg)
    assert_int_equal(
        tu_sql(&env->loop, env->s, NULL,
               "TRUNCATE jobs, job_schedules, kv RESTART IDENTITY"),
        0);
}

static inline void tu_env_reopen(tu_env_t *env) {
  char msg[512];
  int rc =
      tu_open(&env->loop, env->uri, tu_migrations(), &env->s, msg, sizeof(msg));
  if (rc < 0) fail_msg("store_open(%s): %d %s", env->uri, rc, msg);
}

static inline void tu_env_close(tu_env_t *env) {
  if (env->s) tu_close_store(&env->loop, env->s);
  env->s = NULL;
  uv_run(&env->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&env->loop), 0);
  if (env->path[0]) {
    char p[300];
    unlink(env->path);
    snprintf(p, sizeof(p), "%s-wal", env->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", env->path);
    unlink(p);
  }
  free(env->uri);
}

#endif
