/*
 * jobs_crash_driver.c: a small real program on core/store + core/jobs for
 * the crash tests (crash.sh), which SIGKILL it mid-run. All the logic is
 * in core/jobs; this only wires a handler whose side effect is an
 * idempotent row keyed by the job id (crash_effects), written before the
 * job completes, and counts how often the handler ran for each job.
 *
 *   jobs_crash_driver URI MIGRATIONS enqueue N
 *   jobs_crash_driver URI MIGRATIONS run        (until no work is left)
 *   jobs_crash_driver URI MIGRATIONS progress   (prints succeeded jobs)
 *   jobs_crash_driver URI MIGRATIONS check N    (exit 0 when all is well)
 *
 * Environment: CRASH_DELAY_MS (handler pause, default 2),
 * CRASH_CONCURRENCY (default 16), CRASH_LEASE_MS (default 2000).
 */
#include "common/log.h"
#include "jobs/jobs.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static store_t *st;
static jobs_t *jb;
static int rc_exit = 1;
static int left;
static int delay_ms;
static uv_timer_t check_timer;

static const store_stmt_t effect = {
    "crash_effect",
    "INSERT INTO crash_effects (job_id, runs) VALUES ($1, 1)"
    " ON CONFLICT (job_id) DO UPDATE SET runs = crash_effects.runs + 1",
    NULL};

static void fail(const char *what, const char *msg) {
  fprintf(stderr, "crash_driver: %s: %s\n", what, msg ? msg : "");
  exit(1);
}

/* ---- run ---- */

typedef struct {
  uv_timer_t t;
  jobs_job_t *job;
} pending_t;

static void effect_done(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  jobs_job_t *job = arg;
  if (status < 0)
    jobs_complete(job, JOBS_FAIL, 0, errmsg);
  else
    jobs_complete(job, JOBS_OK, 0, NULL);
}

static void write_effect(jobs_job_t *job) {
  store_req_t *r = store_req_new(st, 0);
  store_req_stmt(r, &effect);
  store_req_bind_int(r, jobs_job_id(job));
  store_req_submit(r, effect_done, job);
}

static void pending_closed(uv_handle_t *h) {
  free(h->data);
}

static void after_delay(uv_timer_t *t) {
  pending_t *p = t->data;
  write_effect(p->job);
  t->data = p;
  uv_close((uv_handle_t *)t, pending_closed);
}

static void handler(jobs_job_t *job, void *arg) {
  (void)arg;
  if (delay_ms <= 0) {
    write_effect(job);
    return;
  }
  pending_t *p = calloc(1, sizeof(*p));
  p->job = job;
  uv_timer_init(&loop, &p->t);
  p->t.data = p;
  uv_timer_start(&p->t, after_delay, (uint64_t)delay_ms, 0);
}

static void engine_closed(void *arg) {
  (void)arg;
  uv_close((uv_handle_t *)&check_timer, NULL);
  store_close(st, NULL, NULL);
}

static void counted(jobs_t *j, int status, const jobs_counts_t *c, void *arg) {
  (void)j;
  (void)arg;
  if (status < 0) return;
  if (c->queued + c->running + c->retrying == 0) {
    rc_exit = 0;
    uv_timer_stop(&check_timer);
    jobs_close(jb, engine_closed, NULL);
  }
}

static void on_check(uv_timer_t *t) {
  (void)t;
  jobs_counts(jb, "crash", counted, NULL);
}

static void start_run(void) {
  const char *e = getenv("CRASH_DELAY_MS");
  delay_ms = e ? atoi(e) : 2;
  e = getenv("CRASH_CONCURRENCY");
  jobs_kind_opts_t ko = {.concurrency = e ? atoi(e) : 16};
  e = getenv("CRASH_LEASE_MS");
  jobs_opts_t o = {
      .lease_ms = e ? atoi(e) : 2000, .poll_ms = 500, .commit_delay_ms = 2};
  jb = jobs_new(st, &o);
  if (jobs_register(jb, "crash", &ko, handler, NULL) < 0)
    fail("register", NULL);
  jobs_start(jb);
  uv_timer_init(&loop, &check_timer);
  uv_timer_start(&check_timer, on_check, 500, 500);
}

/* ---- enqueue ---- */

static void enq_engine_closed(void *arg) {
  (void)arg;
  store_close(st, NULL, NULL);
}

static void enqueued(jobs_t *j, int status, int64_t id, int existed,
                     void *arg) {
  (void)j;
  (void)id;
  (void)existed;
  (void)arg;
  if (status < 0) fail("enqueue", "failed");
  if (--left == 0) {
    rc_exit = 0;
    jobs_close(jb, enq_engine_closed, NULL);
  }
}

static void start_enqueue(int n) {
  jb = jobs_new(st, NULL);
  left = n;
  for (int i = 0; i < n; i++) {
    char key[64], payload[64];
    snprintf(key, sizeof(key), "crash-%d", i);
    snprintf(payload, sizeof(payload), "{\"i\":%d}", i);
    jobs_spec_t s = {.kind = "crash", .payload = payload, .idem_key = key};
    jobs_enqueue(jb, &s, enqueued, NULL);
  }
}

/* ---- progress and check ---- */

static int want;

static void checked(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)arg;
  if (status < 0) fail("check", errmsg);
  int64_t jobs = store_res_int(res, 0, 0, 0);
  int64_t ok = store_res_int(res, 1, 0, 0);
  int64_t effects = store_res_int(res, 2, 0, 0);
  int64_t missing = store_res_int(res, 3, 0, 0);
  int64_t runs = store_res_int(res, 4, 0, 0);
  int64_t retried = store_res_int(res, 5, 0, 0);
  printf("CHECK jobs=%lld succeeded=%lld effects=%lld missing_effects=%lld "
         "handler_runs=%lld reruns=%lld jobs_with_attempts_gt_1=%lld\n",
         (long long)jobs, (long long)ok, (long long)effects, (long long)missing,
         (long long)runs, (long long)(runs - effects), (long long)retried);
  rc_exit =
      (jobs == want && ok == want && effects == want && missing == 0) ? 0 : 1;
  store_close(s, NULL, NULL);
}

static void progressed(store_t *s, int status, const char *errmsg,
                       store_res_t *res, void *arg) {
  (void)arg;
  if (status < 0) fail("progress", errmsg);
  printf("%lld\n", (long long)store_res_int(res, 0, 0, 0));
  rc_exit = 0;
  store_close(s, NULL, NULL);
}

static const char *mode;
static int n_arg;

static void table_ready(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  (void)arg;
  if (status < 0) fail("create table", errmsg);
  if (!strcmp(mode, "enqueue")) {
    start_enqueue(n_arg);
  } else if (!strcmp(mode, "run")) {
    start_run();
  } else if (!strcmp(mode, "progress")) {
    store_req_t *r = store_req_new(st, 0);
    store_req_sql(r, "SELECT count(*) FROM jobs WHERE kind = 'crash'"
                     " AND state = 'succeeded'");
    store_req_submit(r, progressed, NULL);
  } else {
    want = n_arg;
    store_req_t *r = store_req_new(st, 0);
    store_req_sql(r, "SELECT count(*) FROM jobs WHERE kind = 'crash'");
    store_req_sql(r, "SELECT count(*) FROM jobs WHERE kind = 'crash'"
                     " AND state = 'succeeded'");
    store_req_sql(r, "SELECT count(*) FROM crash_effects");
    store_req_sql(r, "SELECT count(*) FROM jobs j LEFT JOIN crash_effects e"
                     " ON e.job_id = j.id WHERE j.kind = 'crash'"
                     " AND e.job_id IS NULL");
    store_req_sql(r, "SELECT coalesce(sum(runs), 0) FROM crash_effects");
    store_req_sql(r, "SELECT count(*) FROM jobs WHERE kind = 'crash'"
                     " AND attempts > 1");
    store_req_submit(r, checked, NULL);
  }
}

static void opened(store_t *s, int status, const char *errmsg, void *arg) {
  (void)arg;
  if (status < 0) fail("open", errmsg);
  st = s;
  store_req_t *r = store_req_new(s, 0);
  store_req_sql(r, "CREATE TABLE IF NOT EXISTS crash_effects ("
                   " job_id bigint PRIMARY KEY, runs integer NOT NULL)");
  store_req_submit(r, table_ready, NULL);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s URI MIGRATIONS enqueue N|run|progress|check N\n",
            argv[0]);
    return 2;
  }
  log_setup(LOG_FORMAT_JSON, LOG_WARN, 2);
  mode = argv[3];
  n_arg = argc > 4 ? atoi(argv[4]) : 0;
  uv_loop_init(&loop);
  if (store_open(&loop, argv[1], argv[2], opened, NULL) < 0)
    fail("open", argv[1]);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return rc_exit;
}
