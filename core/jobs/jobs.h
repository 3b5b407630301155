/*
 * jobs.h: durable jobs and recurring schedules on top of core/store.
 *
 * A job has a kind, a JSON payload (text), run_at, priority, max_attempts
 * and an optional idempotency key (enqueueing the same key twice yields
 * one job; the second caller gets the existing id). States:
 *
 *   queued -> running -> succeeded
 *                     -> retrying (failed, will run again after a backoff)
 *                     -> dead     (failed max_attempts times; last_error)
 *   queued/retrying/running -> cancelled (jobs_cancel)
 *   dead/cancelled/retrying -> queued    (jobs_retry)
 *
 * Claiming: the engine claims due jobs in batches (one statement per kind;
 * PostgreSQL uses FOR UPDATE SKIP LOCKED so several processes share one
 * queue), stamping a lease (owner, lease_until) that heartbeats renew. A
 * process that dies stops renewing; its leases expire and any process
 * moves those jobs back to 'retrying' (the attempt already counted).
 *
 * Completion: handlers run on the loop thread and finish asynchronously
 * with jobs_complete(). Completions are group-committed: collected for up
 * to commit_delay_ms or commit_max entries and written in one transaction.
 * A job counts as done (metrics, the done hook) only once that transaction
 * has committed. The completion only applies while this process still
 * holds the lease (fencing), so a job taken over by another process is
 * never finished twice by the old owner.
 *
 * Delivery is at least once: a process killed after a handler's side
 * effect but before the completion commit runs the job again. Handlers
 * make side effects idempotent (e.g. keyed by the job id).
 *
 * Waking: one uv_timer_t sleeps until the next due job or schedule fire
 * (or poll_ms at most, a slow safety poll for lease expiry and work added
 * by other processes without NOTIFY). Enqueueing wakes the engine; with
 * PostgreSQL, other processes are woken by NOTIFY assist_jobs.
 *
 * Schedules: a fixed interval or a 5-field cron expression in an IANA time
 * zone. Each fire creates a job whose idempotency key is
 * "schedule:<name>:<fire time ms>", so a restart (or two processes) never
 * creates the same fire twice. Missed fires while the process was down are
 * coalesced into one job for the latest missed time.
 *
 * Threading: everything on the loop thread. Limits are per process:
 * concurrency counts the handlers running in this process.
 */
#ifndef ASSIST_JOBS_H
#define ASSIST_JOBS_H

#include "../store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct jobs jobs_t;
typedef struct jobs_job jobs_job_t;

typedef enum {
  JOBS_OK = 0,      /* succeeded */
  JOBS_FAIL,        /* failed: retry after backoff, or dead when exhausted */
  JOBS_RETRY_AFTER, /* not a failure: run again after `seconds`; never
                       goes dead (the attempt number still grows) */
} jobs_outcome_t;

typedef struct {
  const char *owner;   /* lease owner id; NULL: "host:pid:random" */
  int claim_batch;     /* jobs claimed per statement (256) */
  int lease_ms;        /* lease length; heartbeat every lease/3 (30000) */
  int poll_ms;         /* safety poll (5000) */
  int commit_max;      /* completions per transaction (1024) */
  int commit_delay_ms; /* completion collection window (2) */
  int enqueue_max;     /* enqueues per transaction (1024) */
} jobs_opts_t;

typedef struct {
  int concurrency;     /* handlers running at once in this process (16) */
  int timeout_s;       /* a handler running longer fails (300) */
  int backoff_base_ms; /* first retry delay (1000), doubled per attempt */
  int backoff_max_ms;  /* cap (3600000); jitter: uniform in [d/2, d] */
} jobs_kind_opts_t;

/** A handler. job is owned by the engine and stays valid until the
 * handler calls jobs_complete (exactly once, also after a timeout). */
typedef void (*jobs_handler_cb)(jobs_job_t *job, void *arg);

typedef void (*jobs_close_cb)(void *arg);

/** Creates an engine on an open store (borrowed; must outlive the engine).
 * One engine per store (it owns the store's LISTEN). opts may be NULL.
 * Does not claim anything before jobs_start. */
jobs_t *jobs_new(store_t *s, const jobs_opts_t *opts);
/** Registers a handler for kind (copied). opts may be NULL. Returns 0,
 * -EEXIST, or -EINVAL for a kind not matching [A-Za-z0-9_.:-]{1,64}. */
int jobs_register(jobs_t *j, const char *kind, const jobs_kind_opts_t *opts,
                  jobs_handler_cb cb, void *arg);
/** Starts claiming, schedules and housekeeping. */
int jobs_start(jobs_t *j);
/** Stops claiming, waits for running handlers and pending writes, closes
 * the timers and frees the engine; then cb (may be NULL). */
void jobs_close(jobs_t *j, jobs_close_cb cb, void *arg);
/** Re-checks for due work now. */
void jobs_wake(jobs_t *j);
const char *jobs_owner(const jobs_t *j);
store_t *jobs_store(const jobs_t *j);

/* ---- the running job (all borrowed from the engine) ---- */

int64_t jobs_job_id(const jobs_job_t *job);
const char *jobs_job_kind(const jobs_job_t *job);
const char *jobs_job_payload(const jobs_job_t *job);
int jobs_job_attempt(const jobs_job_t *job); /* 1 for the first run */
/** True once the job was cancelled or timed out: stop early. */
int jobs_job_cancelled(const jobs_job_t *job);
/** Finishes job (invalid afterwards). seconds: for JOBS_RETRY_AFTER.
 * error: copied, may be NULL. */
void jobs_complete(jobs_job_t *job, jobs_outcome_t outcome, int seconds,
                   const char *error);

/* ---- enqueueing ---- */

typedef struct {
  const char *kind;     /* required */
  const char *payload;  /* JSON text; NULL: "{}" */
  int64_t run_at_ms;    /* 0: now */
  int priority;         /* higher runs first */
  int max_attempts;     /* 0: 5 */
  const char *idem_key; /* NULL: none */
} jobs_spec_t;

/** id: the new or (existed=1) existing job with the same key. */
typedef void (*jobs_enqueue_cb)(jobs_t *j, int status, int64_t id, int existed,
                                void *arg);
/** spec strings are copied. Enqueues are group-committed; cb (may be
 * NULL) runs once the job is durable, with -EINVAL for an invalid kind or
 * an empty idempotency key, -ENOTCONN when the database is unreachable. */
void jobs_enqueue(jobs_t *j, const jobs_spec_t *spec, jobs_enqueue_cb cb,
                  void *arg);

/* ---- administration (for the REST API) ---- */

typedef void (*jobs_status_cb)(jobs_t *j, int status, void *arg);
/** -ENOENT when no job id is in a state that allows it. */
void jobs_cancel(jobs_t *j, int64_t id, jobs_status_cb cb, void *arg);
void jobs_retry(jobs_t *j, int64_t id, jobs_status_cb cb, void *arg);

typedef struct {
  int64_t id;
  const char *kind, *payload, *state, *idem_key, *last_error, *lease_owner;
  int priority, attempts, max_attempts;
  int64_t run_at, created_at, updated_at, finished_at; /* 0 when NULL */
} jobs_info_t;

/** info borrowed during the call; -ENOENT when absent. */
typedef void (*jobs_get_cb)(jobs_t *j, int status, const jobs_info_t *info,
                            void *arg);
void jobs_get(jobs_t *j, int64_t id, jobs_get_cb cb, void *arg);
/** Up to limit (<= 1000) jobs with id > after_id, by id; state and kind
 * filter when not NULL. */
typedef void (*jobs_list_cb)(jobs_t *j, int status, const jobs_info_t *items,
                             size_t n, void *arg);
void jobs_list(jobs_t *j, const char *state, const char *kind, int64_t after_id,
               int limit, jobs_list_cb cb, void *arg);

/** Counts per state for one kind (NULL: all kinds). */
typedef struct {
  int64_t queued, running, succeeded, retrying, dead, cancelled;
} jobs_counts_t;
typedef void (*jobs_counts_cb)(jobs_t *j, int status, const jobs_counts_t *c,
                               void *arg);
void jobs_counts(jobs_t *j, const char *kind, jobs_counts_cb cb, void *arg);

/* ---- schedules ---- */

typedef struct {
  const char *name; /* unique */
  const char *kind;
  const char *payload; /* NULL: "{}" */
  int64_t interval_s;  /* > 0 for a fixed interval ... */
  const char *cron;    /* ... or a 5-field cron expression */
  const char *tz;      /* IANA zone for cron; NULL: "UTC" */
  int priority;
  int max_attempts;
} jobs_schedule_t;

/**
 * Creates or updates a schedule (strings copied). When the timing (interval,
 * cron, tz) is unchanged the stored next fire time is kept, so re-declaring
 * schedules at every start neither skips nor repeats a fire. -EINVAL for a
 * bad cron expression or unknown zone.
 */
void jobs_schedule_put(jobs_t *j, const jobs_schedule_t *spec,
                       jobs_status_cb cb, void *arg);
/** -ENOENT when there is no schedule of that name. */
void jobs_schedule_delete(jobs_t *j, const char *name, jobs_status_cb cb,
                          void *arg);

typedef struct {
  const char *name, *kind, *payload, *cron, *tz; /* cron NULL for intervals */
  int64_t interval_s;
  int priority, max_attempts, enabled;
  int64_t next_fire_at, last_fire_at; /* ms; last 0 when never fired */
} jobs_schedule_info_t;
/** Every schedule, by name; items borrowed during the call. */
typedef void (*jobs_schedule_list_cb)(jobs_t *j, int status,
                                      const jobs_schedule_info_t *items,
                                      size_t n, void *arg);
void jobs_schedule_list(jobs_t *j, jobs_schedule_list_cb cb, void *arg);

/* ---- cron expressions (jobs_cron.c) ---- */

typedef struct jobs_cron jobs_cron_t;

/**
 * Parses "MIN HOUR DOM MON DOW" (lists, ranges, steps, names JAN-DEC and
 * SUN-SAT, 7 = Sunday; when both DOM and DOW are restricted a day matching
 * either runs, as in Vixie cron) and @hourly @daily @weekly @monthly
 * @yearly. Returns 0 or -EINVAL with a message in err.
 */
int jobs_cron_parse(const char *expr, jobs_cron_t **out, char *err,
                    size_t errlen);
void jobs_cron_free(jobs_cron_t *c);
/** 0 when tz is a known IANA zone ("UTC" always works). */
int jobs_tz_valid(const char *tz);
/**
 * The first fire time strictly after after_ms, in ms since the epoch, for
 * wall-clock times in zone tz. A wall time that does not exist (skipped by
 * a DST change) does not fire; one that occurs twice fires once, at its
 * first occurrence. Returns -1 if none within five years.
 * Zones come from the system's zone files (common/tz.h), read once and
 * cached for the process.
 */
int64_t jobs_cron_next(const jobs_cron_t *c, const char *tz, int64_t after_ms);

/* ---- observation (tests, the daemon) ---- */

typedef struct {
  uint64_t enqueued, claimed, succeeded, retried, dead, lost, commits,
      commit_errors, claims;
} jobs_stats_t;
void jobs_get_stats(const jobs_t *j, jobs_stats_t *out);
/** Called after a completion is durable. state: "succeeded", "retrying",
 * "dead", or "lost" (the lease had been taken over or the job cancelled). */
typedef void (*jobs_done_hook)(jobs_t *j, int64_t id, const char *kind,
                               const char *state, void *arg);
void jobs_set_done_hook(jobs_t *j, jobs_done_hook cb, void *arg);

#endif
