/*
 * test_jobs.c: the job engine against the backend named by
 * ASSIST_TEST_STORE_URI (run-tests.sh runs it for SQLite and PostgreSQL).
 */
#include "../store/store_test_util.h"

#include "jobs/jobs.h"
#include "metrics/metrics.h"

#include <errno.h>

/* Runs the loop until cond holds; the guard only catches hangs. */
#define WAIT_UNTIL(loop, cond)                                                 \
  do {                                                                         \
    uint64_t t0_ = uv_now(loop);                                               \
    while (!(cond)) {                                                          \
      uv_run(loop, UV_RUN_ONCE);                                               \
      if (uv_now(loop) - t0_ > TU_GUARD_MS) fail_msg("timed out: %s", #cond);  \
    }                                                                          \
  } while (0)

typedef struct {
  tu_env_t env;
  jobs_t *j;
  /* handler behaviour */
  int mode;
  int calls;
  int running, max_running;
  int64_t last_id;
  char last_payload[128];
  jobs_job_t *held[64];
  int nheld;
  /* done hook */
  int done_ok, done_retry, done_dead, done_lost;
  int64_t done_ids[256];
  int ndone;
} fx_t;

enum { M_OK, M_FAIL, M_HOLD, M_TIMEOUT_ONCE, M_RETRY_AFTER_ONCE };

static void hook(jobs_t *j, int64_t id, const char *kind, const char *state,
                 void *arg) {
  (void)j;
  (void)kind;
  fx_t *f = arg;
  if (!strcmp(state, "succeeded")) {
    f->done_ok++;
    if (f->ndone < 256) f->done_ids[f->ndone++] = id;
  } else if (!strcmp(state, "retrying"))
    f->done_retry++;
  else if (!strcmp(state, "dead"))
    f->done_dead++;
  else
    f->done_lost++;
}

static void handler(jobs_job_t *job, void *arg) {
  fx_t *f = arg;
  f->calls++;
  f->last_id = jobs_job_id(job);
  snprintf(f->last_payload, sizeof(f->last_payload), "%s",
           jobs_job_payload(job));
  switch (f->mode) {
  case M_OK:
    jobs_complete(job, JOBS_OK, 0, NULL);
    break;
  case M_FAIL: {
    char err[64];
    snprintf(err, sizeof(err), "boom %d", jobs_job_attempt(job));
    jobs_complete(job, JOBS_FAIL, 0, err);
    break;
  }
  case M_TIMEOUT_ONCE:
  case M_RETRY_AFTER_ONCE:
    if (jobs_job_attempt(job) == 1 && f->mode == M_RETRY_AFTER_ONCE) {
      jobs_complete(job, JOBS_RETRY_AFTER, 0, "later");
      break;
    }
    if (jobs_job_attempt(job) > 1) {
      jobs_complete(job, JOBS_OK, 0, NULL);
      break;
    }
    __attribute__((fallthrough)); /* hold it past the timeout */
  case M_HOLD:
    assert_true(f->nheld < 64);
    f->held[f->nheld++] = job;
    f->running++;
    if (f->running > f->max_running) f->max_running = f->running;
    break;
  }
}

static void release_all(fx_t *f) {
  for (int i = 0; i < f->nheld; i++) {
    jobs_complete(f->held[i], JOBS_OK, 0, NULL);
    f->running--;
  }
  f->nheld = 0;
}

static void fx_engine_nostart(fx_t *f, const jobs_opts_t *o,
                              const jobs_kind_opts_t *ko) {
  f->j = jobs_new(f->env.s, o);
  jobs_set_done_hook(f->j, hook, f);
  assert_int_equal(jobs_register(f->j, "t", ko, handler, f), 0);
}

static void fx_engine(fx_t *f, const jobs_opts_t *o,
                      const jobs_kind_opts_t *ko) {
  f->j = jobs_new(f->env.s, o);
  jobs_set_done_hook(f->j, hook, f);
  assert_int_equal(jobs_register(f->j, "t", ko, handler, f), 0);
  assert_int_equal(jobs_register(f->j, "t", ko, handler, f), -EEXIST);
  assert_int_equal(jobs_register(f->j, "bad kind!", ko, handler, f), -EINVAL);
  assert_int_equal(jobs_start(f->j), 0);
}

static fx_t *fx_new(void) {
  fx_t *f = calloc(1, sizeof(*f));
  tu_env_open(&f->env);
  return f;
}

static void engine_close(fx_t *f) {
  int done = 0;
  jobs_close(f->j, tu_closed, &done);
  tu_run_until(&f->env.loop, &done);
  f->j = NULL;
}

static void fx_free(fx_t *f) {
  if (f->j) engine_close(f);
  tu_env_close(&f->env);
  free(f);
  metrics_reset();
}

typedef struct {
  int done, status, existed;
  int64_t id;
} enq_r_t;

static void enq_cb(jobs_t *j, int status, int64_t id, int existed, void *arg) {
  (void)j;
  enq_r_t *r = arg;
  r->status = status;
  r->id = id;
  r->existed = existed;
  r->done = 1;
}

static enq_r_t enqueue(fx_t *f, const char *payload, const char *key,
                       int64_t run_at, int max_attempts) {
  enq_r_t r = {0};
  jobs_spec_t s = {.kind = "t",
                   .payload = payload,
                   .idem_key = key,
                   .run_at_ms = run_at,
                   .max_attempts = max_attempts};
  jobs_enqueue(f->j, &s, enq_cb, &r);
  tu_run_until(&f->env.loop, &r.done);
  return r;
}

typedef struct {
  int done, status;
  jobs_info_t info;
  char state[32], err[128], payload[128];
} get_r_t;

static void get_cb(jobs_t *j, int status, const jobs_info_t *info, void *arg) {
  (void)j;
  get_r_t *r = arg;
  r->status = status;
  if (info) {
    r->info = *info;
    snprintf(r->state, sizeof(r->state), "%s", info->state);
    snprintf(r->payload, sizeof(r->payload), "%s", info->payload);
    snprintf(r->err, sizeof(r->err), "%s",
             info->last_error ? info->last_error : "");
  }
  r->done = 1;
}

static get_r_t get(fx_t *f, int64_t id) {
  get_r_t r = {0};
  jobs_get(f->j, id, get_cb, &r);
  tu_run_until(&f->env.loop, &r.done);
  return r;
}

static int64_t count_state(fx_t *f, const char *state) {
  return tu_int(&f->env.loop, f->env.s,
                "SELECT count(*) FROM jobs WHERE state = '%s'", state);
}

/* ---- tests ---- */

static void test_enqueue_run_complete(void **state) {
  (void)state;
  fx_t *f = fx_new();
  fx_engine(f, NULL, NULL);
  enum { N = 300 };
  static enq_r_t rs[N];
  memset(rs, 0, sizeof(rs));
  for (int i = 0; i < N; i++) {
    char p[64];
    snprintf(p, sizeof(p), "{\"n\":%d}", i);
    jobs_spec_t s = {.kind = "t", .payload = p};
    jobs_enqueue(f->j, &s, enq_cb, &rs[i]);
  }
  WAIT_UNTIL(&f->env.loop, f->done_ok >= N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(rs[i].status, 0);
    assert_true(rs[i].id > 0);
    assert_false(rs[i].existed);
  }
  assert_int_equal(f->calls, N);
  assert_int_equal(count_state(f, "succeeded"), N);
  get_r_t g = get(f, rs[7].id);
  assert_int_equal(g.status, 0);
  assert_string_equal(g.state, "succeeded");
  assert_string_equal(g.payload, "{\"n\":7}");
  assert_int_equal(g.info.attempts, 1);
  assert_true(g.info.finished_at > 0);
  assert_int_equal(get(f, 999999).status, -ENOENT);
  /* Metrics. */
  metric_t *m =
      metrics_family(METRIC_COUNTER, "assist_jobs_total", "", NULL, 0);
  assert_true(metric_value(m, "kind=\"t\",state=\"succeeded\"") >= N);
  fx_free(f);
}

static void test_idempotency(void **state) {
  (void)state;
  fx_t *f = fx_new();
  fx_engine(f, NULL, NULL);
  int64_t later = store_now_ms() + 3600 * 1000;
  enq_r_t a = enqueue(f, "{}", "order-42", later, 0);
  assert_int_equal(a.status, 0);
  assert_false(a.existed);
  enq_r_t b = enqueue(f, "{\"other\":1}", "order-42", later, 0);
  assert_int_equal(b.status, 0);
  assert_true(b.existed);
  assert_int_equal(b.id, a.id);
  /* Twice in the same batch. */
  enq_r_t c = {0}, d = {0};
  jobs_spec_t s = {.kind = "t", .idem_key = "same-batch", .run_at_ms = later};
  jobs_enqueue(f->j, &s, enq_cb, &c);
  jobs_enqueue(f->j, &s, enq_cb, &d);
  tu_run_until(&f->env.loop, &d.done);
  tu_run_until(&f->env.loop, &c.done);
  assert_int_equal(c.status, 0);
  assert_int_equal(d.status, 0);
  assert_int_equal(c.id, d.id);
  assert_true(d.existed);
  assert_int_equal(tu_int(&f->env.loop, f->env.s, "SELECT count(*) FROM jobs"),
                   2);
  fx_free(f);
}

typedef struct {
  int done, status;
} st_r_t;

static void st_cb(jobs_t *j, int status, void *arg) {
  (void)j;
  st_r_t *r = arg;
  r->status = status;
  r->done = 1;
}

typedef struct {
  int done, status;
  size_t n;
  int64_t ids[8];
  char states[8][16];
} list_r_t;

static void list_cb(jobs_t *j, int status, const jobs_info_t *items, size_t n,
                    void *arg) {
  (void)j;
  list_r_t *r = arg;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n && i < 8; i++) {
    r->ids[i] = items[i].id;
    snprintf(r->states[i], sizeof(r->states[i]), "%s", items[i].state);
  }
  r->done = 1;
}

static void test_list_counts_metrics_invalid(void **state) {
  (void)state;
  fx_t *f = fx_new();
  jobs_opts_t o = {.poll_ms = 100};
  fx_engine(f, &o, NULL);
  int64_t later = store_now_ms() + 3600 * 1000;
  int64_t ids[5];
  for (int i = 0; i < 5; i++) ids[i] = enqueue(f, "{}", NULL, later, 0).id;
  enq_r_t bad = {0};
  jobs_spec_t bs = {.kind = "no spaces allowed"};
  jobs_enqueue(f->j, &bs, enq_cb, &bad);
  tu_run_until(&f->env.loop, &bad.done);
  assert_int_equal(bad.status, -EINVAL);
  st_r_t c = {0};
  jobs_cancel(f->j, ids[1], st_cb, &c);
  tu_run_until(&f->env.loop, &c.done);
  /* Pages by id, filtered by state and kind. */
  list_r_t l = {0};
  jobs_list(f->j, "queued", "t", 0, 2, list_cb, &l);
  tu_run_until(&f->env.loop, &l.done);
  assert_int_equal(l.status, 0);
  assert_int_equal(l.n, 2);
  assert_int_equal(l.ids[0], ids[0]);
  assert_int_equal(l.ids[1], ids[2]);
  list_r_t l2 = {0};
  jobs_list(f->j, "queued", NULL, l.ids[1], 10, list_cb, &l2);
  tu_run_until(&f->env.loop, &l2.done);
  assert_int_equal(l2.n, 2);
  assert_int_equal(l2.ids[0], ids[3]);
  list_r_t l3 = {0};
  jobs_list(f->j, NULL, "other", 0, 10, list_cb, &l3);
  tu_run_until(&f->env.loop, &l3.done);
  assert_int_equal(l3.n, 0);
  list_r_t l4 = {0};
  jobs_list(f->j, "cancelled", NULL, 0, 10, list_cb, &l4);
  tu_run_until(&f->env.loop, &l4.done);
  assert_int_equal(l4.n, 1);
  assert_string_equal(l4.states[0], "cancelled");
  /* The queue depth gauge follows (refreshed every poll_ms). */
  metric_t *d =
      metrics_family(METRIC_GAUGE, "assist_jobs_queue_depth", "", NULL, 0);
  WAIT_UNTIL(&f->env.loop, metric_value(d, "kind=\"t\"") == 4);
  buf_t out = {0};
  metrics_render(&out);
  assert_non_null(strstr(out.data, "assist_jobs_queue_depth{kind=\"t\"} 4"));
  assert_non_null(
      strstr(out.data, "assist_jobs_total{kind=\"t\",state=\"cancelled\"} 1"));
  buf_free(&out);
  fx_free(f);
}

static void test_retry_backoff_dead(void **state) {
  (void)state;
  fx_t *f = fx_new();
  f->mode = M_FAIL;
  jobs_kind_opts_t ko = {.backoff_base_ms = 40, .backoff_max_ms = 80};
  fx_engine(f, NULL, &ko);
  enq_r_t e = enqueue(f, "{}", NULL, 0, 3);
  WAIT_UNTIL(&f->env.loop, f->done_dead >= 1);
  assert_int_equal(f->calls, 3);
  assert_int_equal(f->done_retry, 2);
  get_r_t g = get(f, e.id);
  assert_string_equal(g.state, "dead");
  assert_int_equal(g.info.attempts, 3);
  assert_string_equal(g.err, "boom 3");
  /* Backoff: each retry was scheduled after the failure, at least d/2
   * later (d = 40 ms, then 80 ms); checked on the stored times, not on
   * how long the test took. */
  assert_true(g.info.run_at >= g.info.created_at + 20 + 40);
  metric_t *m =
      metrics_family(METRIC_COUNTER, "assist_job_failures_total", "", NULL, 0);
  assert_int_equal(metric_value(m, "kind=\"t\""), 3);
  fx_free(f);
}

static void test_cancel_retry(void **state) {
  (void)state;
  fx_t *f = fx_new();
  f->mode = M_FAIL;
  jobs_kind_opts_t ko = {.backoff_base_ms = 10, .backoff_max_ms = 10};
  fx_engine(f, NULL, &ko);
  int64_t later = store_now_ms() + 3600 * 1000;
  enq_r_t e = enqueue(f, "{}", NULL, later, 0);
  st_r_t c = {0};
  jobs_cancel(f->j, e.id, st_cb, &c);
  tu_run_until(&f->env.loop, &c.done);
  assert_int_equal(c.status, 0);
  assert_string_equal(get(f, e.id).state, "cancelled");
  st_r_t c2 = {0};
  jobs_cancel(f->j, e.id, st_cb, &c2);
  tu_run_until(&f->env.loop, &c2.done);
  assert_int_equal(c2.status, -ENOENT);
  /* Retry runs it now. */
  f->mode = M_OK;
  st_r_t r = {0};
  jobs_retry(f->j, e.id, st_cb, &r);
  tu_run_until(&f->env.loop, &r.done);
  assert_int_equal(r.status, 0);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  assert_string_equal(get(f, e.id).state, "succeeded");
  /* A succeeded job cannot be retried or cancelled. */
  st_r_t r2 = {0};
  jobs_retry(f->j, e.id, st_cb, &r2);
  tu_run_until(&f->env.loop, &r2.done);
  assert_int_equal(r2.status, -ENOENT);
  /* A dead job can be retried. */
  f->mode = M_FAIL;
  enq_r_t d = enqueue(f, "{}", NULL, 0, 1);
  WAIT_UNTIL(&f->env.loop, f->done_dead >= 1);
  assert_string_equal(get(f, d.id).state, "dead");
  f->mode = M_OK;
  st_r_t r3 = {0};
  jobs_retry(f->j, d.id, st_cb, &r3);
  tu_run_until(&f->env.loop, &r3.done);
  assert_int_equal(r3.status, 0);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 2);
  get_r_t g = get(f, d.id);
  assert_string_equal(g.state, "succeeded");
  assert_int_equal(g.info.attempts, 1);
  fx_free(f);
}

static void test_concurrency_limit(void **state) {
  (void)state;
  fx_t *f = fx_new();
  f->mode = M_HOLD;
  jobs_kind_opts_t ko = {.concurrency = 3};
  fx_engine(f, NULL, &ko);
  for (int i = 0; i < 10; i++) {
    jobs_spec_t s = {.kind = "t"};
    jobs_enqueue(f->j, &s, NULL, NULL);
  }
  int total = 0;
  while (total < 10) {
    /* Let the engine fill every slot it may, then release the batch. */
    WAIT_UNTIL(&f->env.loop, f->nheld >= 3 || total + f->nheld >= 10);
    tu_run_for(&f->env.loop, 50);
    assert_true(f->nheld <= 3);
    /* A slot frees when its handler finishes, its row when the batched
     * completion commits: the rows catch up with the handlers held. */
    WAIT_UNTIL(&f->env.loop, count_state(f, "running") == f->nheld);
    total += f->nheld;
    release_all(f);
  }
  assert_int_equal(f->max_running, 3);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 10);
  assert_int_equal(count_state(f, "succeeded"), 10);
  fx_free(f);
}

static void test_timeout_retries(void **state) {
  (void)state;
  fx_t *f = fx_new();
  f->mode = M_TIMEOUT_ONCE;
  jobs_kind_opts_t ko = {
      .timeout_s = 1, .backoff_base_ms = 10, .backoff_max_ms = 10};
  fx_engine(f, NULL, &ko);
  enq_r_t e = enqueue(f, "{}", NULL, 0, 3);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  assert_int_equal(f->done_retry, 1);
  assert_int_equal(f->nheld, 1);
  assert_true(jobs_job_cancelled(f->held[0]));
  get_r_t g = get(f, e.id);
  assert_string_equal(g.state, "succeeded");
  assert_int_equal(g.info.attempts, 2);
  /* The late completion of the timed-out run changes nothing. */
  release_all(f);
  tu_run_for(&f->env.loop, 20);
  assert_string_equal(get(f, e.id).state, "succeeded");
  assert_int_equal(f->done_ok, 1);
  fx_free(f);
}

static void test_retry_after(void **state) {
  (void)state;
  fx_t *f = fx_new();
  f->mode = M_RETRY_AFTER_ONCE;
  fx_engine(f, NULL, NULL);
  enq_r_t e = enqueue(f, "{}", NULL, 0, 1);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  /* max_attempts 1, yet it ran twice: retry-after is not a failure. */
  assert_int_equal(f->calls, 2);
  assert_int_equal(f->done_dead, 0);
  get_r_t g = get(f, e.id);
  assert_string_equal(g.state, "succeeded");
  fx_free(f);
}

static void test_lease_takeover(void **state) {
  (void)state;
  fx_t *f = fx_new();
  int64_t now = store_now_ms();
  /* A job a dead process claimed: its lease ran out a second ago. */
  assert_int_equal(
      tu_sql(
          &f->env.loop, f->env.s, NULL,
          "INSERT INTO jobs (kind, payload, state, run_at, attempts,"
          " max_attempts, lease_owner, lease_until, created_at, updated_at)"
          " VALUES ('t', '{\"x\":1}', 'running', %lld, 1, 5, 'dead-host:1:1',"
          " %lld, %lld, %lld)",
          (long long)now - 5000, (long long)now - 1000, (long long)now - 5000,
          (long long)now - 5000),
      0);
  /* And one whose lease is still valid: it must not be touched. */
  assert_int_equal(
      tu_sql(&f->env.loop, f->env.s, NULL,
             "INSERT INTO jobs (kind, payload, state, run_at, attempts,"
             " max_attempts, lease_owner, lease_until, created_at, updated_at)"
             " VALUES ('t', '{}', 'running', %lld, 1, 5, 'alive:1:1', %lld,"
             " %lld, %lld)",
             (long long)now, (long long)now + 3600000, (long long)now,
             (long long)now),
      0);
  jobs_opts_t o = {.poll_ms = 200};
  fx_engine(f, &o, NULL);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  assert_string_equal(f->last_payload, "{\"x\":1}");
  int64_t id = f->done_ids[0];
  get_r_t g = get(f, id);
  assert_string_equal(g.state, "succeeded");
  assert_int_equal(g.info.attempts, 2);
  assert_int_equal(count_state(f, "running"), 1);
  assert_int_equal(
      tu_int(&f->env.loop, f->env.s,
             "SELECT count(*) FROM jobs WHERE lease_owner = 'alive:1:1'"),
      1);
  fx_free(f);
}

typedef struct {
  int done, status;
  size_t n;
  char names[4][16], cron[4][32], tz[4][32];
  int64_t interval[4], last[4];
} sl_r_t;

static void sl_cb(jobs_t *j, int status, const jobs_schedule_info_t *items,
                  size_t n, void *arg) {
  (void)j;
  sl_r_t *r = arg;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n && i < 4; i++) {
    snprintf(r->names[i], 16, "%s", items[i].name);
    snprintf(r->cron[i], 32, "%s", items[i].cron ? items[i].cron : "-");
    snprintf(r->tz[i], 32, "%s", items[i].tz);
    r->interval[i] = items[i].interval_s;
    r->last[i] = items[i].last_fire_at;
  }
  r->done = 1;
}

static void test_schedule_interval(void **state) {
  (void)state;
  fx_t *f = fx_new();
  fx_engine(f, NULL, NULL);
  jobs_schedule_t sc = {
      .name = "tick", .kind = "t", .interval_s = 1, .payload = "{\"s\":1}"};
  st_r_t r = {0};
  jobs_schedule_put(f->j, &sc, st_cb, &r);
  tu_run_until(&f->env.loop, &r.done);
  assert_int_equal(r.status, 0);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 2);
  /* Fire times are whole intervals apart, each with its own key. */
  int64_t n = tu_int(&f->env.loop, f->env.s,
                     "SELECT count(*) FROM jobs WHERE schedule = 'tick'");
  assert_true(n >= 2);
  assert_int_equal(
      tu_int(&f->env.loop, f->env.s,
             "SELECT count(DISTINCT run_at) FROM jobs WHERE schedule='tick'"),
      n);
  assert_int_equal(
      tu_int(&f->env.loop, f->env.s,
             "SELECT count(*) FROM jobs WHERE schedule = 'tick' AND"
             " (run_at - (SELECT min(run_at) FROM jobs WHERE schedule ="
             " 'tick')) %% 1000 <> 0"),
      0);
  assert_string_equal(f->last_payload, "{\"s\":1}");
  /* Bad schedules are refused. */
  jobs_schedule_t bad = {.name = "b", .kind = "t", .cron = "61 * * * *"};
  st_r_t rb = {0};
  jobs_schedule_put(f->j, &bad, st_cb, &rb);
  tu_run_until(&f->env.loop, &rb.done);
  assert_int_equal(rb.status, -EINVAL);
  jobs_schedule_t badtz = {
      .name = "b", .kind = "t", .cron = "* * * * *", .tz = "Nowhere/None"};
  st_r_t rz = {0};
  jobs_schedule_put(f->j, &badtz, st_cb, &rz);
  tu_run_until(&f->env.loop, &rz.done);
  assert_int_equal(rz.status, -EINVAL);
  /* A cron schedule stores its next fire in the future. */
  jobs_schedule_t cr = {
      .name = "c", .kind = "t", .cron = "0 9 * * *", .tz = "Europe/Berlin"};
  st_r_t rc = {0};
  jobs_schedule_put(f->j, &cr, st_cb, &rc);
  tu_run_until(&f->env.loop, &rc.done);
  assert_int_equal(rc.status, 0);
  assert_true(tu_int(&f->env.loop, f->env.s,
                     "SELECT next_fire_at FROM job_schedules WHERE name='c'") >
              store_now_ms());
  sl_r_t l = {0};
  jobs_schedule_list(f->j, sl_cb, &l);
  tu_run_until(&f->env.loop, &l.done);
  assert_int_equal(l.status, 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.names[0], "c");
  assert_string_equal(l.cron[0], "0 9 * * *");
  assert_string_equal(l.tz[0], "Europe/Berlin");
  assert_string_equal(l.names[1], "tick");
  assert_string_equal(l.cron[1], "-");
  assert_int_equal(l.interval[1], 1);
  assert_true(l.last[1] > 0);
  st_r_t del = {0};
  jobs_schedule_delete(f->j, "c", st_cb, &del);
  tu_run_until(&f->env.loop, &del.done);
  assert_int_equal(del.status, 0);
  assert_int_equal(
      tu_int(&f->env.loop, f->env.s, "SELECT count(*) FROM job_schedules"), 1);
  st_r_t again = {0};
  jobs_schedule_delete(f->j, "c", st_cb, &again);
  tu_run_until(&f->env.loop, &again.done);
  assert_int_equal(again.status, -ENOENT);
  fx_free(f);
}

static void test_schedule_no_duplicates_across_restart(void **state) {
  (void)state;
  fx_t *f = fx_new();
  fx_engine(f, NULL, NULL);
  jobs_schedule_t sc = {.name = "r", .kind = "t", .interval_s = 1};
  st_r_t r = {0};
  jobs_schedule_put(f->j, &sc, st_cb, &r);
  tu_run_until(&f->env.loop, &r.done);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  engine_close(f);
  tu_close_store(&f->env.loop, f->env.s);
  tu_env_reopen(&f->env);
  /* Simulate a crash between the job insert and the schedule advance: the
   * schedule points back at a fire time that already has its job. */
  int64_t fired = tu_int(&f->env.loop, f->env.s,
                         "SELECT max(run_at) FROM jobs WHERE schedule = 'r'");
  assert_int_equal(tu_sql(&f->env.loop, f->env.s, NULL,
                          "UPDATE job_schedules SET next_fire_at = %lld",
                          (long long)fired),
                   0);
  int before_ok = f->done_ok;
  fx_engine_nostart(f, NULL, NULL);
  /* Declaring the same schedule again keeps its next fire time. */
  st_r_t r2 = {0};
  jobs_schedule_put(f->j, &sc, st_cb, &r2);
  tu_run_until(&f->env.loop, &r2.done);
  assert_int_equal(
      tu_int(&f->env.loop, f->env.s, "SELECT next_fire_at FROM job_schedules"),
      fired);
  assert_int_equal(jobs_start(f->j), 0);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= before_ok + 1);
  tu_run_for(&f->env.loop, 100);
  assert_int_equal(
      tu_int(&f->env.loop, f->env.s,
             "SELECT count(*) FROM jobs WHERE schedule = 'r' AND run_at = %lld",
             (long long)fired),
      1);
  assert_int_equal(tu_int(&f->env.loop, f->env.s,
                          "SELECT count(*) - count(DISTINCT run_at) FROM jobs"
                          " WHERE schedule = 'r'"),
                   0);
  fx_free(f);
}

static void test_heartbeat_keeps_lease(void **state) {
  (void)state;
  fx_t *f = fx_new();
  f->mode = M_HOLD;
  /* Leases of 600 ms, swept every 100 ms: without heartbeats the held job
   * would be taken over and handed to the handler a second time. */
  jobs_opts_t o = {.lease_ms = 600, .poll_ms = 100};
  fx_engine(f, &o, NULL);
  enqueue(f, "{}", NULL, 0, 0);
  WAIT_UNTIL(&f->env.loop, f->nheld >= 1);
  tu_run_for(&f->env.loop, 2000);
  assert_int_equal(f->calls, 1);
  assert_int_equal(count_state(f, "running"), 1);
  release_all(f);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  fx_free(f);
}

/* PostgreSQL only: a job enqueued by another process wakes this one
 * through LISTEN/NOTIFY (its safety poll is far longer than the guard). */
static void other_enq_cb(jobs_t *j, int status, int64_t id, int existed,
                         void *arg) {
  (void)j;
  (void)id;
  (void)existed;
  *(int *)arg = status == 0 ? 1 : -1;
}

static void test_notify_wakes_other_process(void **state) {
  (void)state;
  fx_t *f = fx_new();
  if (!f->env.pg) {
    fx_free(f);
    skip();
  }
  jobs_opts_t o = {.poll_ms = 10 * 60 * 1000};
  fx_engine(f, &o, NULL);
  tu_run_for(&f->env.loop, 300); /* settle: the engine is asleep */
  /* The other "process": its own store connections and engine, which
   * does not handle kind t. */
  store_t *s2 = NULL;
  char msg[256];
  assert_int_equal(
      tu_open(&f->env.loop, f->env.uri, tu_migrations(), &s2, msg, sizeof(msg)),
      0);
  jobs_t *other = jobs_new(s2, NULL);
  int enq = 0;
  jobs_spec_t sp = {.kind = "t", .payload = "{\"from\":\"other\"}"};
  jobs_enqueue(other, &sp, other_enq_cb, &enq);
  WAIT_UNTIL(&f->env.loop, enq != 0);
  assert_int_equal(enq, 1);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  assert_string_equal(f->last_payload, "{\"from\":\"other\"}");
  int done = 0;
  jobs_close(other, tu_closed, &done);
  tu_run_until(&f->env.loop, &done);
  tu_close_store(&f->env.loop, s2);
  fx_free(f);
}

/* PostgreSQL only: two processes enqueue the same keys at the same time;
 * both learn the one id of each key. */
typedef struct {
  int64_t id;
  int status;
  int *left;
} race_t;

static void race_cb(jobs_t *j, int status, int64_t id, int existed, void *arg) {
  (void)j;
  (void)existed;
  race_t *r = arg;
  r->id = id;
  r->status = status;
  (*r->left)--;
}

static void test_same_keys_two_processes(void **state) {
  (void)state;
  fx_t *f = fx_new();
  if (!f->env.pg) {
    fx_free(f);
    skip();
  }
  store_t *s2 = NULL;
  char msg[256];
  assert_int_equal(
      tu_open(&f->env.loop, f->env.uri, tu_migrations(), &s2, msg, sizeof(msg)),
      0);
  jobs_t *a = jobs_new(f->env.s, NULL), *b = jobs_new(s2, NULL);
  enum { K = 300 };
  static race_t ra[K], rb[K];
  int left = 2 * K;
  int64_t later = store_now_ms() + 3600 * 1000;
  for (int i = 0; i < K; i++) {
    char key[32];
    snprintf(key, sizeof(key), "race-%d", i);
    jobs_spec_t sp = {.kind = "t", .idem_key = key, .run_at_ms = later};
    ra[i] = (race_t){0, 1, &left};
    rb[i] = (race_t){0, 1, &left};
    jobs_enqueue(a, &sp, race_cb, &ra[i]);
    jobs_enqueue(b, &sp, race_cb, &rb[i]);
  }
  WAIT_UNTIL(&f->env.loop, left == 0);
  for (int i = 0; i < K; i++) {
    assert_int_equal(ra[i].status, 0);
    assert_int_equal(rb[i].status, 0);
    assert_true(ra[i].id > 0);
    assert_int_equal(ra[i].id, rb[i].id);
  }
  assert_int_equal(tu_int(&f->env.loop, f->env.s, "SELECT count(*) FROM jobs"),
                   K);
  int done = 0;
  jobs_close(a, tu_closed, &done);
  tu_run_until(&f->env.loop, &done);
  done = 0;
  jobs_close(b, tu_closed, &done);
  tu_run_until(&f->env.loop, &done);
  tu_close_store(&f->env.loop, s2);
  fx_free(f);
}

/* PostgreSQL only: the server goes away and comes back. */
static int harness(const char *what) {
  const char *dir = getenv("ASSIST_TEST_PG_DIR");
  const char *h = getenv("ASSIST_HARNESS");
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s/%s %s %s >/dev/null", h ? h : "tests/harness",
           what, dir, strcmp(what, "pg-stop.sh") == 0 ? "--keep" : "");
  return system(cmd);
}

static void test_db_away_and_back(void **state) {
  (void)state;
  fx_t *f = fx_new();
  if (!f->env.pg) {
    fx_free(f);
    skip();
  }
  assert_non_null(getenv("ASSIST_TEST_PG_DIR"));
  fx_engine(f, NULL, NULL);
  enq_r_t a = enqueue(f, "{}", NULL, 0, 0);
  assert_int_equal(a.status, 0);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 1);
  assert_true(store_ready(f->env.s));

  assert_int_equal(harness("pg-stop.sh"), 0);
  /* Not ready once the connections notice. */
  while (store_ready(f->env.s)) tu_run_for(&f->env.loop, 20);
  enq_r_t b = enqueue(f, "{}", NULL, 0, 0);
  assert_true(b.status < 0);
  assert_true(strlen(store_last_error(f->env.s)) > 0);
  tu_run_for(&f->env.loop, 300); /* reconnect attempts fail meanwhile */
  assert_false(store_ready(f->env.s));

  assert_int_equal(harness("pg-start.sh"), 0);
  while (!store_ready(f->env.s)) tu_run_for(&f->env.loop, 50);
  enq_r_t c = enqueue(f, "{}", NULL, 0, 0);
  assert_int_equal(c.status, 0);
  WAIT_UNTIL(&f->env.loop, f->done_ok >= 2);
  assert_string_equal(get(f, c.id).state, "succeeded");
  fx_free(f);
}

int main(void) {
  (void)tu_flag_set;
  (void)tu_closed_flag;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_enqueue_run_complete),
      cmocka_unit_test(test_idempotency),
      cmocka_unit_test(test_list_counts_metrics_invalid),
      cmocka_unit_test(test_retry_backoff_dead),
      cmocka_unit_test(test_cancel_retry),
      cmocka_unit_test(test_concurrency_limit),
      cmocka_unit_test(test_timeout_retries),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_lease_takeover),
      cmocka_unit_test(test_schedule_interval),
      cmocka_unit_test(test_schedule_no_duplicates_across_restart),
      cmocka_unit_test(test_heartbeat_keeps_lease),
      cmocka_unit_test(test_notify_wakes_other_process),
      cmocka_unit_test(test_same_keys_two_processes),
      cmocka_unit_test(test_db_away_and_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
