/*
 * jobs_bench.c: end-to-end throughput of no-op jobs through core/store +
 * core/jobs: enqueue N jobs, run them all, and stop when the last
 * completion is durable (committed). Prints one line:
 *   jobs=N seconds=S jobs_per_s=R enqueue_seconds=E
 *   jobs_bench URI MIGRATIONS N
 */
#include "common/log.h"
#include "jobs/jobs.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uv_loop_t loop;
static store_t *st;
static jobs_t *jb;
static long n_jobs, enqueued_n, done_n;
static double t0, t_enq, t_end;
static int rc_exit = 1;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void noop(jobs_job_t *job, void *arg) {
  (void)arg;
  jobs_complete(job, JOBS_OK, 0, NULL);
}

static void closed(void *arg) {
  (void)arg;
  store_close(st, NULL, NULL);
}

static void done_hook(jobs_t *j, int64_t id, const char *kind,
                      const char *state, void *arg) {
  (void)j;
  (void)id;
  (void)kind;
  (void)arg;
  if (strcmp(state, "succeeded") != 0) return;
  if (++done_n == n_jobs) {
    t_end = now_s();
    rc_exit = 0;
    jobs_close(jb, closed, NULL);
  }
}

static void enq_cb(jobs_t *j, int status, int64_t id, int existed, void *arg) {
  (void)j;
  (void)id;
  (void)existed;
  (void)arg;
  if (status < 0) {
    fprintf(stderr, "enqueue failed\n");
    exit(1);
  }
  if (++enqueued_n == n_jobs) t_enq = now_s();
}

static void opened(store_t *s, int status, const char *errmsg, void *arg) {
  (void)arg;
  if (status < 0) {
    fprintf(stderr, "open: %s\n", errmsg);
    exit(1);
  }
  st = s;
  jobs_opts_t o = {.claim_batch = 1024,
                   .commit_max = 2048,
                   .commit_delay_ms = 1,
                   .enqueue_max = 2048};
  jb = jobs_new(s, &o);
  jobs_kind_opts_t ko = {.concurrency = 2048};
  jobs_register(jb, "noop", &ko, noop, NULL);
  jobs_set_done_hook(jb, done_hook, NULL);
  t0 = now_s();
  for (long i = 0; i < n_jobs; i++) {
    jobs_spec_t sp = {.kind = "noop", .payload = "{}"};
    jobs_enqueue(jb, &sp, enq_cb, NULL);
  }
  jobs_start(jb);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s URI MIGRATIONS N\n", argv[0]);
    return 2;
  }
  log_setup(LOG_FORMAT_JSON, LOG_WARN, 2);
  n_jobs = atol(argv[3]);
  uv_loop_init(&loop);
  if (store_open(&loop, argv[1], argv[2], opened, NULL) < 0) return 1;
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (rc_exit == 0)
    printf("jobs=%ld seconds=%.3f jobs_per_s=%.0f enqueue_seconds=%.3f\n",
           n_jobs, t_end - t0, (double)n_jobs / (t_end - t0), t_enq - t0);
  return rc_exit;
}
