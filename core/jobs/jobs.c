/*
 * jobs.c: the job engine: claiming, dispatch to handlers, group-committed
 * completions, timeouts, heartbeats, lease expiry, schedules, wake-ups.
 * See jobs.h for the model.
 */
#include "jobs.h"
#include "jobs_sql.h"

#include "../common/alloc.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../metrics/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct kind {
  char *name;
  char *labels; /* kind="name" */
  jobs_kind_opts_t o;
  jobs_handler_cb cb;
  void *arg;
  int running;
  struct kind *next;
} kind_t;

struct jobs_job {
  jobs_t *j;
  kind_t *k;
  int64_t id;
  char *payload;
  int attempt, max_attempts;
  uint64_t started; /* uv_now */
  uint64_t deadline;
  int timed_out, cancelled;
  struct jobs_job *prev, *next;
};

/* A completion waiting to be committed. */
typedef struct comp {
  int64_t id;
  kind_t *k;
  jobs_outcome_t outcome;
  int seconds;
  int attempt;
  double run_s;
  int64_t next_run; /* for failures: when it runs again */
  char *error;
  struct comp *next;
} comp_t;

/* An enqueue waiting to be committed. */
typedef struct enq {
  char *kind, *payload, *key, *schedule;
  int64_t run_at;
  int priority, max_attempts;
  jobs_enqueue_cb cb;
  void *arg;
  struct enq *leader; /* same key earlier in the batch */
  int bad;            /* invalid spec: reported as -EINVAL */
  int64_t id;
  int existed;
  struct enq *next;
} enq_t;

struct jobs {
  store_t *s;
  uv_loop_t *loop;
  jobs_opts_t o;
  char *owner;
  kind_t *kinds;
  int started, closing;
  jobs_close_cb close_cb;
  void *close_arg;
  int handles, handles_closing;
  int listening; /* this engine owns the store's LISTEN callback */

  uv_timer_t sleep;  /* next due job / schedule / safety poll */
  uv_timer_t tick;   /* timeouts, heartbeats, lease expiry, depth */
  uv_timer_t commit; /* completion collection window */
  uv_timer_t enq_t;  /* enqueue collection (next iteration) */

  int claim_inflight, pump_again;
  int sched_inflight;
  int64_t next_fire; /* next schedule fire, ms; INT64_MAX: none */
  jobs_job_t *running;
  size_t nrunning;

  comp_t *chead, *ctail;
  size_t ncomp;
  comp_t *cflight; /* the batch being committed, NULL when none */
  uint64_t commit_retry_at;

  enq_t *ehead, *etail;
  size_t nenq;
  int enq_inflight;

  int hk_inflight;
  uint64_t last_hb, last_expire, last_depth;

  int requests; /* store requests in flight */
  jobs_stats_t st;
  jobs_done_hook hook;
  void *hook_arg;
  uint64_t rng;

  metric_t *m_total, *m_run, *m_depth, *m_fail;
};

static void pump(jobs_t *j);
static void flush_completions(jobs_t *j);
static void flush_enqueues(jobs_t *j);
static void maybe_closed(jobs_t *j);
static void fire_schedules(jobs_t *j);

static uint64_t rnd(jobs_t *j) {
  uint64_t x = j->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return j->rng = x;
}

static int valid_kind(const char *k) {
  size_t n = k ? strlen(k) : 0;
  if (n == 0 || n > 64) return 0;
  for (const char *p = k; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == ':' ||
          *p == '-'))
      return 0;
  return 1;
}

static kind_t *find_kind(jobs_t *j, const char *name) {
  for (kind_t *k = j->kinds; k; k = k->next)
    if (strcmp(k->name, name) == 0) return k;
  return NULL;
}

static void count(jobs_t *j, const char *kind, const char *state) {
  char lab[160];
  snprintf(lab, sizeof(lab), "kind=\"%s\",state=\"%s\"", kind, state);
  metric_add(j->m_total, lab, 1);
}

/* ---- lifecycle ---- */

static void notified(store_t *s, const char *channel, const char *payload,
                     void *arg) {
  (void)s;
  (void)channel;
  (void)payload;
  jobs_wake(arg);
}

jobs_t *jobs_new(store_t *s, const jobs_opts_t *opts) {
  jobs_t *j = xcalloc(1, sizeof(*j));
  j->s = s;
  j->loop = store_loop(s);
  if (opts) j->o = *opts;
  if (j->o.claim_batch <= 0) j->o.claim_batch = 256;
  if (j->o.lease_ms <= 0) j->o.lease_ms = 30000;
  if (j->o.poll_ms <= 0) j->o.poll_ms = 5000;
  if (j->o.commit_max <= 0) j->o.commit_max = 1024;
  if (j->o.commit_delay_ms < 0) j->o.commit_delay_ms = 0;
  if (!opts) j->o.commit_delay_ms = 2;
  if (j->o.enqueue_max <= 0) j->o.enqueue_max = 1024;
  char host[64] = "host";
  gethostname(host, sizeof(host) - 1);
  host[sizeof(host) - 1] = 0;
  j->rng = (uint64_t)store_now_ms() ^ ((uint64_t)getpid() << 32) ^
           (uint64_t)(uintptr_t)j;
  if (!j->rng) j->rng = 88172645463325252ull;
  j->owner = (opts && opts->owner)
                 ? xstrdup(opts->owner)
                 : xasprintf("%s:%d:%08llx", host, (int)getpid(),
                             (unsigned long long)(rnd(j) & 0xffffffffu));
  j->next_fire = INT64_MAX;
  uv_timer_init(j->loop, &j->sleep);
  uv_timer_init(j->loop, &j->tick);
  uv_timer_init(j->loop, &j->commit);
  uv_timer_init(j->loop, &j->enq_t);
  j->sleep.data = j->tick.data = j->commit.data = j->enq_t.data = j;
  j->handles = 4;
  j->m_total = metrics_family(METRIC_COUNTER, "assist_jobs_total",
                              "Jobs by kind and state reached.", NULL, 0);
  j->m_run = metrics_family(METRIC_HISTOGRAM, "assist_job_run_seconds",
                            "Handler run time by kind.",
                            metrics_latency_buckets, metrics_latency_nbuckets);
  j->m_depth =
      metrics_family(METRIC_GAUGE, "assist_jobs_queue_depth",
                     "Jobs queued or waiting to retry, by kind.", NULL, 0);
  j->m_fail =
      metrics_family(METRIC_COUNTER, "assist_job_failures_total",
                     "Failed job runs (including timeouts) by kind.", NULL, 0);
  if (store_backend(s) == STORE_PG)
    j->listening = store_listen(s, "assist_jobs", notified, j) == 0;
  return j;
}

const char *jobs_owner(const jobs_t *j) {
  return j->owner;
}

store_t *jobs_store(const jobs_t *j) {
  return j->s;
}

void jobs_get_stats(const jobs_t *j, jobs_stats_t *out) {
  *out = j->st;
}

void jobs_set_done_hook(jobs_t *j, jobs_done_hook cb, void *arg) {
  j->hook = cb;
  j->hook_arg = arg;
}

int jobs_register(jobs_t *j, const char *kind, const jobs_kind_opts_t *opts,
                  jobs_handler_cb cb, void *arg) {
  if (!valid_kind(kind) || !cb) return -EINVAL;
  if (find_kind(j, kind)) return -EEXIST;
  kind_t *k = xcalloc(1, sizeof(*k));
  k->name = xstrdup(kind);
  k->labels = xasprintf("kind=\"%s\"", kind);
  if (opts) k->o = *opts;
  if (k->o.concurrency <= 0) k->o.concurrency = 16;
  if (k->o.timeout_s <= 0) k->o.timeout_s = 300;
  if (k->o.backoff_base_ms <= 0) k->o.backoff_base_ms = 1000;
  if (k->o.backoff_max_ms <= 0) k->o.backoff_max_ms = 3600000;
  k->cb = cb;
  k->arg = arg;
  k->next = j->kinds;
  j->kinds = k;
  if (j->started) jobs_wake(j);
  return 0;
}

static void on_tick(uv_timer_t *t);

int jobs_start(jobs_t *j) {
  if (j->started || j->closing) return -EALREADY;
  j->started = 1;
  j->next_fire = INT64_MIN; /* unknown: look at schedules now */
  uv_timer_start(&j->tick, on_tick, 250, 250);
  jobs_wake(j);
  return 0;
}

static void handle_closed(uv_handle_t *h) {
  jobs_t *j = h->data;
  if (--j->handles > 0) return;
  jobs_close_cb cb = j->close_cb;
  void *arg = j->close_arg;
  while (j->kinds) {
    kind_t *k = j->kinds;
    j->kinds = k->next;
    free(k->name);
    free(k->labels);
    free(k);
  }
  free(j->owner);
  free(j);
  if (cb) cb(arg);
}

static void maybe_closed(jobs_t *j) {
  if (!j->closing || j->handles_closing) return;
  if (j->requests > 0 || j->nrunning > 0) return;
  if (j->ehead) {
    flush_enqueues(j);
    return;
  }
  if (j->chead) {
    flush_completions(j);
    return;
  }
  j->handles_closing = 1;
  uv_close((uv_handle_t *)&j->sleep, handle_closed);
  uv_close((uv_handle_t *)&j->tick, handle_closed);
  uv_close((uv_handle_t *)&j->commit, handle_closed);
  uv_close((uv_handle_t *)&j->enq_t, handle_closed);
}

void jobs_close(jobs_t *j, jobs_close_cb cb, void *arg) {
  if (j->closing) return;
  j->closing = 1;
  if (j->listening) store_unlisten(j->s);
  j->close_cb = cb;
  j->close_arg = arg;
  uv_timer_stop(&j->sleep);
  uv_timer_stop(&j->tick);
  maybe_closed(j);
}

/* ---- requests bookkeeping ---- */

static void req_submit(jobs_t *j, store_req_t *r, store_done_cb cb, void *arg) {
  j->requests++;
  store_req_submit(r, cb, arg);
}

static void req_done(jobs_t *j) {
  j->requests--;
  maybe_closed(j);
}

/* ---- waking and sleeping ---- */

static void on_sleep(uv_timer_t *t) {
  pump(t->data);
}

void jobs_wake(jobs_t *j) {
  if (!j->started || j->closing) return;
  if (j->claim_inflight) {
    j->pump_again = 1;
    return;
  }
  uv_timer_start(&j->sleep, on_sleep, 0, 0);
}

/* Makes sure the engine is awake by due_ms (ms since the epoch). */
static void wake_at(jobs_t *j, int64_t due_ms) {
  if (!j->started || j->closing) return;
  if (j->claim_inflight) {
    /* The claim's answer predates this; look again right after it. */
    j->pump_again = 1;
    return;
  }
  int64_t now = store_now_ms();
  if (due_ms <= now) {
    jobs_wake(j);
    return;
  }
  if (!uv_is_active((uv_handle_t *)&j->sleep) ||
      (int64_t)uv_timer_get_due_in(&j->sleep) > due_ms - now)
    uv_timer_start(&j->sleep, on_sleep, (uint64_t)(due_ms - now), 0);
}

static void sleep_until(jobs_t *j, int64_t due_ms) {
  int64_t now = store_now_ms();
  int64_t delay = j->o.poll_ms;
  if (due_ms != INT64_MAX && due_ms - now < delay)
    delay = due_ms - now < 0 ? 0 : due_ms - now;
  uv_timer_start(&j->sleep, on_sleep, (uint64_t)delay, 0);
}

/* ---- dispatch ---- */

static void run_job(jobs_t *j, kind_t *k, int64_t id, const char *payload,
                    int attempt, int max_attempts) {
  jobs_job_t *job = xcalloc(1, sizeof(*job));
  job->j = j;
  job->k = k;
  job->id = id;
  job->payload = xstrdup(payload);
  job->attempt = attempt;
  job->max_attempts = max_attempts;
  job->started = uv_now(j->loop);
  job->deadline = job->started + (uint64_t)k->o.timeout_s * 1000;
  job->next = j->running;
  if (j->running) j->running->prev = job;
  j->running = job;
  j->nrunning++;
  k->running++;
  j->st.claimed++;
  k->cb(job, k->arg);
}

typedef struct {
  jobs_t *j;
  size_t nkinds;
  kind_t **kinds;
  int *asked;
} claim_ctx_t;

static void claimed(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  claim_ctx_t *c = arg;
  jobs_t *j = c->j;
  j->claim_inflight = 0;
  int full = 0;
  int64_t due = INT64_MAX;
  if (status < 0) {
    if (!j->closing)
      log_kv(LOG_WARN, "jobs", "claim failed", "error", errmsg, NULL);
  } else if (!j->closing) {
    j->st.claims++;
    for (size_t i = 0; i < c->nkinds; i++) {
      int rows = store_res_rows(res, 2 * i);
      for (int r = 0; r < rows; r++)
        run_job(j, c->kinds[i], store_res_int(res, 2 * i, r, 0),
                store_res_text(res, 2 * i, r, 1),
                (int)store_res_int(res, 2 * i, r, 2),
                (int)store_res_int(res, 2 * i, r, 3));
      if (rows >= c->asked[i]) full = 1;
      if (!store_res_isnull(res, 2 * i + 1, 0, 0)) {
        int64_t d = store_res_int(res, 2 * i + 1, 0, 0);
        if (d < due) due = d;
      }
    }
    size_t last = store_res_count(res) - 1;
    j->next_fire = store_res_isnull(res, last, 0, 0)
                       ? INT64_MAX
                       : store_res_int(res, last, 0, 0);
  }
  free(c->kinds);
  free(c->asked);
  free(c);
  if (!j->closing) {
    /* While schedules are being fired their old next time is stale; the
     * firing wakes the engine when done. */
    if (!j->sched_inflight && j->next_fire < due) due = j->next_fire;
    if (full || j->pump_again) {
      j->pump_again = 0;
      uv_timer_start(&j->sleep, on_sleep, 0, 0);
    } else if (status < 0) {
      uv_timer_start(&j->sleep, on_sleep, 1000, 0);
    } else {
      sleep_until(j, due);
    }
  }
  req_done(j);
}

static void pump(jobs_t *j) {
  if (!j->started || j->closing) return;
  if (j->claim_inflight) {
    j->pump_again = 1;
    return;
  }
  int64_t now = store_now_ms();
  if (j->next_fire <= now && !j->sched_inflight) fire_schedules(j);
  claim_ctx_t *c = xcalloc(1, sizeof(*c));
  c->j = j;
  size_t nk = 0;
  for (kind_t *k = j->kinds; k; k = k->next) nk++;
  c->kinds = xcalloc(nk + 1, sizeof(*c->kinds));
  c->asked = xcalloc(nk + 1, sizeof(*c->asked));
  store_req_t *r = store_req_new(j->s, 0);
  int64_t lease_until = now + j->o.lease_ms;
  for (kind_t *k = j->kinds; k; k = k->next) {
    int free_slots = k->o.concurrency - k->running;
    if (free_slots <= 0) continue;
    int n = free_slots < j->o.claim_batch ? free_slots : j->o.claim_batch;
    store_req_stmt(r, &sql_claim);
    store_req_bind_text(r, k->name);
    store_req_bind_int(r, now);
    store_req_bind_text(r, j->owner);
    store_req_bind_int(r, lease_until);
    store_req_bind_int(r, n);
    store_req_stmt(r, &sql_next_due);
    store_req_bind_text(r, k->name);
    c->kinds[c->nkinds] = k;
    c->asked[c->nkinds++] = n;
  }
  store_req_stmt(r, &sql_next_fire);
  if (c->nkinds == 0 && !(j->next_fire <= now)) {
    /* Every kind is busy: completions will wake us. Keep an eye on
     * schedules. */
    store_req_free(r);
    free(c->kinds);
    free(c->asked);
    free(c);
    sleep_until(j, j->next_fire);
    return;
  }
  j->claim_inflight = 1;
  j->pump_again = 0;
  req_submit(j, r, claimed, c);
}

/* ---- completions ---- */

int64_t jobs_job_id(const jobs_job_t *job) {
  return job->id;
}
const char *jobs_job_kind(const jobs_job_t *job) {
  return job->k->name;
}
const char *jobs_job_payload(const jobs_job_t *job) {
  return job->payload;
}
int jobs_job_attempt(const jobs_job_t *job) {
  return job->attempt;
}
int jobs_job_cancelled(const jobs_job_t *job) {
  return job->cancelled || job->timed_out;
}

static void unlink_job(jobs_t *j, jobs_job_t *job) {
  if (job->prev)
    job->prev->next = job->next;
  else
    j->running = job->next;
  if (job->next) job->next->prev = job->prev;
  job->prev = job->next = NULL;
  j->nrunning--;
}

static void on_commit_timer(uv_timer_t *t) {
  flush_completions(t->data);
}

static void queue_comp(jobs_t *j, jobs_job_t *job, jobs_outcome_t o,
                       int seconds, const char *error) {
  comp_t *c = xcalloc(1, sizeof(*c));
  c->id = job->id;
  c->k = job->k;
  c->outcome = o;
  c->seconds = seconds;
  c->attempt = job->attempt;
  c->run_s = (double)(uv_now(j->loop) - job->started) / 1000.0;
  c->error = error ? xstrdup(error) : NULL;
  if (j->ctail)
    j->ctail->next = c;
  else
    j->chead = c;
  j->ctail = c;
  j->ncomp++;
  if (j->cflight) return;
  if (j->ncomp >= (size_t)j->o.commit_max || j->o.commit_delay_ms == 0)
    flush_completions(j);
  else if (!uv_is_active((uv_handle_t *)&j->commit))
    uv_timer_start(&j->commit, on_commit_timer, (uint64_t)j->o.commit_delay_ms,
                   0);
}

void jobs_complete(jobs_job_t *job, jobs_outcome_t outcome, int seconds,
                   const char *error) {
  jobs_t *j = job->j;
  if (!job->timed_out) {
    unlink_job(j, job);
    job->k->running--;
    queue_comp(j, job, outcome, seconds, error);
  } else
    j->nrunning--; /* kept counted until the handler let go */
  free(job->payload);
  free(job);
  jobs_wake(j);
  maybe_closed(j);
}

static int64_t backoff_ms(jobs_t *j, const kind_t *k, int attempt) {
  int64_t d = k->o.backoff_base_ms;
  for (int i = 1; i < attempt && d < k->o.backoff_max_ms; i++) d *= 2;
  if (d > k->o.backoff_max_ms) d = k->o.backoff_max_ms;
  return d / 2 + (int64_t)(rnd(j) % (uint64_t)(d / 2 + 1));
}

typedef struct {
  jobs_t *j;
  comp_t *list;
  int has_ok;
} commit_ctx_t;

static void free_comps(comp_t *c) {
  while (c) {
    comp_t *n = c->next;
    free(c->error);
    free(c);
    c = n;
  }
}

static void finished(jobs_t *j, comp_t *c, const char *state) {
  if (strcmp(state, "lost") != 0) count(j, c->k->name, state);
  if (strcmp(state, "succeeded") == 0)
    j->st.succeeded++;
  else if (strcmp(state, "retrying") == 0)
    j->st.retried++;
  else if (strcmp(state, "dead") == 0)
    j->st.dead++;
  else
    j->st.lost++;
  if (c->outcome == JOBS_FAIL) metric_add(j->m_fail, c->k->labels, 1);
  metric_observe(j->m_run, c->k->labels, c->run_s);
  if (j->hook) j->hook(j, c->id, c->k->name, state, j->hook_arg);
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void committed(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  commit_ctx_t *cc = arg;
  jobs_t *j = cc->j;
  j->cflight = NULL;
  if (status < 0) {
    j->st.commit_errors++;
    if (j->closing) {
      log_kv(LOG_WARN, "jobs",
             "dropping completions at close; leases will "
             "expire",
             "error", errmsg, NULL);
      free_comps(cc->list);
    } else {
      /* Put them back in front and try again shortly. */
      log_kv(LOG_WARN, "jobs", "completion commit failed", "error", errmsg,
             NULL);
      comp_t *tail = cc->list;
      size_t n = 1;
      while (tail->next) tail = tail->next, n++;
      tail->next = j->chead;
      if (!j->chead) j->ctail = tail;
      j->chead = cc->list;
      j->ncomp += n;
      uv_timer_start(&j->commit, on_commit_timer, 500, 0);
    }
    free(cc);
    req_done(j);
    return;
  }
  j->st.commits++;
  size_t stmt = 0;
  if (cc->has_ok) {
    /* Which successes applied (we still held the lease)? */
    int rows = store_res_rows(res, 0);
    int64_t *ids = xcalloc((size_t)rows + 1, sizeof(*ids));
    for (int r = 0; r < rows; r++) ids[r] = store_res_int(res, 0, r, 0);
    qsort(ids, (size_t)rows, sizeof(*ids), cmp_id);
    for (comp_t *c = cc->list; c; c = c->next) {
      if (c->outcome != JOBS_OK) continue;
      int hit =
          bsearch(&c->id, ids, (size_t)rows, sizeof(*ids), cmp_id) != NULL;
      finished(j, c, hit ? "succeeded" : "lost");
    }
    free(ids);
    stmt = 1;
  }
  for (comp_t *c = cc->list; c; c = c->next) {
    if (c->outcome == JOBS_OK) continue;
    const char *state = store_res_rows(res, stmt) > 0
                            ? store_res_text(res, stmt, 0, 0)
                            : "lost";
    finished(j, c, state);
    if (!strcmp(state, "retrying")) wake_at(j, c->next_run);
    stmt++;
  }
  free_comps(cc->list);
  free(cc);
  if (j->chead) flush_completions(j);
  req_done(j);
}

static void flush_completions(jobs_t *j) {
  uv_timer_stop(&j->commit);
  if (j->cflight || !j->chead) return;
  commit_ctx_t *cc = xcalloc(1, sizeof(*cc));
  cc->j = j;
  /* Take up to commit_max. */
  comp_t *list = j->chead, *last = j->chead;
  size_t n = 1;
  while (last->next && n < (size_t)j->o.commit_max) last = last->next, n++;
  j->chead = last->next;
  if (!j->chead) j->ctail = NULL;
  last->next = NULL;
  j->ncomp -= n;
  cc->list = list;
  int64_t now = store_now_ms();
  buf_t ids = {0};
  buf_puts(&ids, "[");
  for (comp_t *c = list; c; c = c->next) {
    if (c->outcome != JOBS_OK) continue;
    buf_printf(&ids, "%s[%lld,%d]", cc->has_ok ? "," : "", (long long)c->id,
               c->attempt);
    cc->has_ok = 1;
  }
  buf_puts(&ids, "]");
  int nfail = 0;
  for (comp_t *c = list; c; c = c->next) nfail += c->outcome != JOBS_OK;
  store_req_t *r = store_req_new(j->s, cc->has_ok + nfail > 1 ? STORE_TXN : 0);
  if (cc->has_ok) {
    store_req_stmt(r, &sql_done_ok);
    store_req_bind_int(r, now);
    store_req_bind_text(r, ids.data);
    store_req_bind_text(r, j->owner);
  }
  buf_free(&ids);
  for (comp_t *c = list; c; c = c->next) {
    if (c->outcome == JOBS_OK) continue;
    int64_t delay = c->outcome == JOBS_RETRY_AFTER
                        ? (int64_t)(c->seconds > 0 ? c->seconds : 0) * 1000
                        : backoff_ms(j, c->k, c->attempt);
    c->next_run = now + delay;
    store_req_stmt(r, &sql_done_fail);
    store_req_bind_int(r, now);
    store_req_bind_int(r, now + delay);
    store_req_bind_text(r, c->error ? c->error : "failed");
    store_req_bind_int(r, c->id);
    store_req_bind_int(r, c->outcome == JOBS_RETRY_AFTER ? 1 : 0);
    store_req_bind_text(r, j->owner);
    store_req_bind_int(r, c->attempt);
  }
  j->cflight = list;
  req_submit(j, r, committed, cc);
}

/* ---- enqueue ---- */

static void on_enq_timer(uv_timer_t *t) {
  flush_enqueues(t->data);
}

void jobs_enqueue(jobs_t *j, const jobs_spec_t *spec, jobs_enqueue_cb cb,
                  void *arg) {
  enq_t *e = xcalloc(1, sizeof(*e));
  e->kind = xstrdup(spec->kind ? spec->kind : "");
  e->payload = xstrdup(spec->payload ? spec->payload : "{}");
  e->key = spec->idem_key ? xstrdup(spec->idem_key) : NULL;
  e->run_at = spec->run_at_ms ? spec->run_at_ms : store_now_ms();
  e->priority = spec->priority;
  e->max_attempts = spec->max_attempts > 0 ? spec->max_attempts : 5;
  e->cb = cb;
  e->arg = arg;
  e->bad = !valid_kind(e->kind) || (e->key && !*e->key);
  if (e->key && !e->bad)
    for (enq_t *o = j->ehead; o; o = o->next)
      if (o->key && !o->leader && !o->bad && strcmp(o->key, e->key) == 0) {
        e->leader = o;
        break;
      }
  if (j->etail)
    j->etail->next = e;
  else
    j->ehead = e;
  j->etail = e;
  j->nenq++;
  if (j->enq_inflight) return;
  if (j->nenq >= (size_t)j->o.enqueue_max)
    flush_enqueues(j);
  else if (!uv_is_active((uv_handle_t *)&j->enq_t))
    uv_timer_start(&j->enq_t, on_enq_timer, 0, 0);
}

typedef struct {
  jobs_t *j;
  enq_t *list;
} enq_ctx_t;

static void free_enqs(enq_t *e) {
  while (e) {
    enq_t *n = e->next;
    free(e->kind);
    free(e->payload);
    free(e->key);
    free(e->schedule);
    free(e);
    e = n;
  }
}

/* PostgreSQL: a key inserted by a concurrent transaction is invisible to
 * the batch statement's snapshot; look those up once it has finished. */
static void resolved_keys(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  enq_ctx_t *ec = arg;
  jobs_t *j = ec->j;
  size_t i = 0;
  for (enq_t *e = ec->list; e; e = e->next, i++) {
    int64_t id = status == 0 ? store_res_int(res, i, 0, 0) : 0;
    if (e->cb) e->cb(j, status == 0 && id == 0 ? -EIO : status, id, 1, e->arg);
  }
  free_enqs(ec->list);
  free(ec);
  req_done(j);
}

static void enqueued(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  enq_ctx_t *ec = arg;
  jobs_t *j = ec->j;
  j->enq_inflight = 0;
  if (status < 0 && !j->closing)
    log_kv(LOG_WARN, "jobs", "enqueue failed", "error", errmsg, NULL);
  int pg = store_backend(j->s) == STORE_PG;
  int64_t now = store_now_ms(), earliest = INT64_MAX;
  size_t stmt = 0;
  int row = 0;
  for (enq_t *e = ec->list; e; e = e->next) {
    if (e->leader || e->bad) continue;
    if (status == 0) {
      if (pg) {
        e->id = store_res_int(res, 0, row, 1);
        e->existed = (int)store_res_int(res, 0, row, 2);
        row++;
      } else {
        e->existed = store_res_rows(res, stmt) == 0;
        e->id = e->existed ? store_res_int(res, stmt + 1, 0, 0)
                           : store_res_int(res, stmt, 0, 0);
        stmt += e->key ? 2 : 1;
      }
      if (!e->existed) {
        j->st.enqueued++;
        count(j, e->kind, "queued");
        if (e->run_at < earliest) earliest = e->run_at;
      }
    }
  }
  enq_t *unresolved = NULL, **utail = &unresolved;
  for (enq_t **pp = &ec->list; *pp;) {
    enq_t *e = *pp;
    int lost = status == 0 && pg && !e->bad &&
               (e->leader ? e->leader->existed && e->leader->id == 0
                          : e->existed && e->id == 0);
    if (lost) {
      *pp = e->next; /* moved to the follow-up lookup */
      e->next = NULL;
      *utail = e;
      utail = &e->next;
      continue;
    }
    pp = &e->next;
  }
  for (enq_t *e = ec->list; e; e = e->next) {
    if (e->leader) {
      e->id = e->leader->id;
      e->existed = 1;
    }
    if (e->bad) {
      if (e->cb) e->cb(j, -EINVAL, 0, 0, e->arg);
      continue;
    }
    if (e->cb) e->cb(j, status, status ? 0 : e->id, e->existed, e->arg);
  }
  free_enqs(ec->list);
  if (unresolved) {
    store_req_t *r = store_req_new(j->s, 0);
    for (enq_t *e = unresolved; e; e = e->next) {
      store_req_stmt(r, &sql_by_key);
      store_req_bind_text(r, e->key);
    }
    ec->list = unresolved;
    req_submit(j, r, resolved_keys, ec);
  } else {
    free(ec);
  }
  (void)now;
  if (earliest != INT64_MAX) wake_at(j, earliest);
  if (j->ehead) flush_enqueues(j);
  req_done(j);
}

static void flush_enqueues(jobs_t *j) {
  uv_timer_stop(&j->enq_t);
  if (j->enq_inflight || !j->ehead) return;
  enq_t *list = j->ehead, *last = j->ehead;
  size_t n = 1;
  while (last->next && n < (size_t)j->o.enqueue_max) last = last->next, n++;
  /* Keep followers with their leader in one batch. */
  j->ehead = last->next;
  if (!j->ehead) j->etail = NULL;
  last->next = NULL;
  j->nenq -= n;
  /* A follower left for the next batch resolves its leader's key through
   * the database instead (the leader commits first). */
  for (enq_t *e = j->ehead; e; e = e->next)
    for (enq_t *b = list; e->leader && b; b = b->next)
      if (b == e->leader) e->leader = NULL;
  int64_t now = store_now_ms();
  store_req_t *r;
  if (store_backend(j->s) == STORE_PG) {
    buf_t js = {0};
    buf_puts(&js, "[");
    int first = 1;
    for (enq_t *e = list; e; e = e->next) {
      if (e->leader || e->bad) continue;
      buf_puts(&js, first ? "{\"k\":" : ",{\"k\":");
      first = 0;
      buf_json_str(&js, e->kind, strlen(e->kind));
      buf_puts(&js, ",\"p\":");
      buf_json_str(&js, e->payload, strlen(e->payload));
      buf_printf(&js, ",\"pr\":%d,\"r\":%lld,\"m\":%d", e->priority,
                 (long long)e->run_at, e->max_attempts);
      if (e->key) {
        buf_puts(&js, ",\"i\":");
        buf_json_str(&js, e->key, strlen(e->key));
      }
      if (e->schedule) {
        buf_puts(&js, ",\"s\":");
        buf_json_str(&js, e->schedule, strlen(e->schedule));
      }
      buf_puts(&js, "}");
    }
    buf_puts(&js, "]");
    r = store_req_new(j->s, 0);
    store_req_stmt(r, &sql_insert_batch);
    store_req_bind_text(r, js.data);
    store_req_bind_int(r, now);
    buf_free(&js);
  } else {
    r = store_req_new(j->s, STORE_TXN);
    for (enq_t *e = list; e; e = e->next) {
      if (e->leader || e->bad) continue;
      store_req_stmt(r, &sql_insert);
      store_req_bind_text(r, e->kind);
      store_req_bind_text(r, e->payload);
      store_req_bind_int(r, e->priority);
      store_req_bind_int(r, e->run_at);
      store_req_bind_int(r, e->max_attempts);
      store_req_bind_text(r, e->key);
      store_req_bind_text(r, e->schedule);
      store_req_bind_int(r, now);
      if (e->key) {
        store_req_stmt(r, &sql_by_key);
        store_req_bind_text(r, e->key);
      }
    }
  }
  enq_ctx_t *ec = xmalloc(sizeof(*ec));
  ec->j = j;
  ec->list = list;
  j->enq_inflight = 1;
  req_submit(j, r, enqueued, ec);
}

/* ---- housekeeping: timeouts, heartbeats, lease expiry, depth ---- */

static void hk_done(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  jobs_t *j = arg;
  j->hk_inflight = 0;
  if (status < 0) {
    if (!j->closing)
      log_kv(LOG_WARN, "jobs", "housekeeping failed", "error", errmsg, NULL);
    req_done(j);
    return;
  }
  for (size_t i = 0; i < store_res_count(res); i++) {
    int cols = store_res_cols(res, i);
    if (cols == 3) { /* expired leases */
      int n = store_res_rows(res, i);
      for (int r = 0; r < n; r++)
        count(j, store_res_text(res, i, r, 1), store_res_text(res, i, r, 2));
      if (n > 0) {
        char nb[16];
        snprintf(nb, sizeof(nb), "%d", n);
        log_kv(LOG_WARN, "jobs", "took over expired leases", "#jobs", nb,
               "#first_id", store_res_text(res, i, 0, 0), NULL);
      }
      if (store_res_rows(res, i) > 0) jobs_wake(j);
    } else if (cols == 2) { /* depth */
      for (kind_t *k = j->kinds; k; k = k->next)
        metric_set(j->m_depth, k->labels, 0);
      for (int r = 0; r < store_res_rows(res, i); r++) {
        char lab[128];
        snprintf(lab, sizeof(lab), "kind=\"%s\"", store_res_text(res, i, r, 0));
        metric_set(j->m_depth, lab, (double)store_res_int(res, i, r, 1));
      }
    }
  }
  req_done(j);
}

static void on_tick(uv_timer_t *t) {
  jobs_t *j = t->data;
  if (j->closing) return;
  uint64_t now = uv_now(j->loop);
  /* Timeouts: the slot is freed and the run recorded as a failure; the
   * handler still owns the job until it calls jobs_complete. */
  for (jobs_job_t *job = j->running; job;) {
    jobs_job_t *next = job->next;
    if (now >= job->deadline) {
      log_kv(LOG_WARN, "jobs", "job timed out", "kind", job->k->name, NULL);
      unlink_job(j, job);
      job->k->running--;
      job->timed_out = 1;
      queue_comp(j, job, JOBS_FAIL, 0, "timeout");
      j->nrunning++; /* still owned by the handler */
      jobs_wake(j);
    }
    job = next;
  }
  if (j->hk_inflight) return;
  int64_t wall = store_now_ms();
  store_req_t *r = store_req_new(j->s, 0);
  /* Only the jobs this engine holds (running, or completed and not yet
   * committed, queued or in flight), and nothing when it holds none: a claim
   * that committed while its answer was lost (the database went away) leaves a
   * row owned by us that nothing runs; its lease must run out so the expiry
   * sweep hands it on. */
  if (now - j->last_hb >= (uint64_t)j->o.lease_ms / 3 &&
      (j->running || j->chead || j->cflight)) {
    j->last_hb = now;
    buf_t ids = {0};
    buf_puts(&ids, "[");
    const char *sep = "";
    for (jobs_job_t *job = j->running; job; job = job->next, sep = ",")
      buf_printf(&ids, "%s%lld", sep, (long long)job->id);
    for (comp_t *c = j->chead; c; c = c->next, sep = ",")
      buf_printf(&ids, "%s%lld", sep, (long long)c->id);
    for (comp_t *c = j->cflight; c; c = c->next, sep = ",")
      buf_printf(&ids, "%s%lld", sep, (long long)c->id);
    buf_puts(&ids, "]");
    store_req_stmt(r, &sql_heartbeat);
    store_req_bind_int(r, wall + j->o.lease_ms);
    store_req_bind_text(r, j->owner);
    store_req_bind_text(r, ids.data);
    buf_free(&ids);
  }
  if (now - j->last_expire >= (uint64_t)j->o.poll_ms || j->last_expire == 0) {
    j->last_expire = now;
    store_req_stmt(r, &sql_expire);
    store_req_bind_int(r, wall);
  }
  if (now - j->last_depth >= (uint64_t)j->o.poll_ms || j->last_depth == 0) {
    j->last_depth = now;
    store_req_stmt(r, &sql_depth);
  }
  if (store_req_nstmts(r) == 0) {
    store_req_free(r);
    return;
  }
  j->hk_inflight = 1;
  req_submit(j, r, hk_done, j);
}

/* ---- schedules ---- */

static int64_t sched_next(int64_t interval_s, const char *cron, const char *tz,
                          int64_t after) {
  if (interval_s > 0) return after + interval_s * 1000;
  jobs_cron_t *c = NULL;
  char err[128];
  if (jobs_cron_parse(cron, &c, err, sizeof(err)) < 0) return -1;
  int64_t n = jobs_cron_next(c, tz, after);
  jobs_cron_free(c);
  return n;
}

static void sched_advanced(store_t *s, int status, const char *errmsg,
                           store_res_t *res, void *arg) {
  (void)s;
  jobs_t *j = arg;
  j->sched_inflight = 0;
  if (status < 0) {
    if (!j->closing)
      log_kv(LOG_WARN, "jobs", "schedule firing failed", "error", errmsg, NULL);
    j->next_fire = store_now_ms() + 1000;
  } else {
    /* Statements come in pairs (insert, advance), then NOTIFY on
     * PostgreSQL; an insert returns a row unless the fire existed. */
    for (size_t i = 0; i + 1 < store_res_count(res); i += 2)
      if (store_res_rows(res, i) == 1) j->st.enqueued++;
  }
  jobs_wake(j);
  req_done(j);
}

static void sched_loaded(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  jobs_t *j = arg;
  int rows = status < 0 ? 0 : store_res_rows(res, 0);
  if (status < 0 || j->closing || rows == 0) {
    j->sched_inflight = 0;
    if (status < 0 && !j->closing) {
      log_kv(LOG_WARN, "jobs", "schedules failed", "error", errmsg, NULL);
      j->next_fire = store_now_ms() + 1000;
    }
    req_done(j);
    return;
  }
  int64_t now = store_now_ms();
  /* One transaction: each fire's job (its idempotency key makes a repeat
   * harmless) and the schedule's advance (compare-and-set on the old next
   * fire time, so two processes advance it once). */
  store_req_t *r = store_req_new(j->s, STORE_TXN);
  for (int i = 0; i < rows; i++) {
    const char *name = store_res_text(res, 0, i, 0);
    const char *kind = store_res_text(res, 0, i, 1);
    int64_t interval =
        store_res_isnull(res, 0, i, 3) ? 0 : store_res_int(res, 0, i, 3);
    const char *cron = store_res_text(res, 0, i, 4);
    const char *tz = store_res_text(res, 0, i, 5);
    int64_t old = store_res_int(res, 0, i, 8);
    /* Coalesce missed fires into the latest one that is due. */
    int64_t fire = old, next;
    if (interval > 0) {
      fire = old + (now - old) / (interval * 1000) * interval * 1000;
      next = fire + interval * 1000;
    } else {
      int guard = 0;
      next = sched_next(0, cron, tz, fire);
      while (next >= 0 && next <= now && guard++ < 100000) {
        fire = next;
        next = sched_next(0, cron, tz, fire);
      }
    }
    if (next < 0) next = INT64_MAX / 2; /* never again */
    char *key = xasprintf("schedule:%s:%lld", name, (long long)fire);
    store_req_stmt(r, &sql_insert);
    store_req_bind_text(r, kind);
    store_req_bind_text(r, store_res_text(res, 0, i, 2));
    store_req_bind_int(r, store_res_int(res, 0, i, 6));
    store_req_bind_int(r, fire);
    store_req_bind_int(r, store_res_int(res, 0, i, 7));
    store_req_bind_text(r, key);
    store_req_bind_text(r, name);
    store_req_bind_int(r, now);
    free(key);
    store_req_stmt(r, &sql_sched_advance);
    store_req_bind_int(r, next);
    store_req_bind_int(r, fire);
    store_req_bind_int(r, now);
    store_req_bind_text(r, name);
    store_req_bind_int(r, old);
    count(j, kind, "queued");
  }
  if (store_backend(j->s) == STORE_PG) store_req_stmt(r, &sql_notify);
  req_submit(j, r, sched_advanced, j);
  req_done(j);
}

static void fire_schedules(jobs_t *j) {
  j->sched_inflight = 1;
  j->next_fire = INT64_MAX;
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_sched_due);
  store_req_bind_int(r, store_now_ms());
  req_submit(j, r, sched_loaded, j);
}

typedef struct {
  jobs_t *j;
  jobs_status_cb cb;
  void *arg;
  int force;         /* reported instead of the store's status */
  const char *state; /* counted in assist_jobs_total on success */
} st_ctx_t;

static st_ctx_t *st_ctx(jobs_t *j, jobs_status_cb cb, void *arg) {
  st_ctx_t *c = xcalloc(1, sizeof(*c));
  c->j = j;
  c->cb = cb;
  c->arg = arg;
  return c;
}

static void sched_put_done(store_t *s, int status, const char *errmsg,
                           store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  (void)res;
  st_ctx_t c = *(st_ctx_t *)arg;
  free(arg);
  if (c.force) status = c.force;
  c.j->next_fire = INT64_MIN;
  jobs_wake(c.j);
  if (c.cb) c.cb(c.j, status, c.arg);
  req_done(c.j);
}

void jobs_schedule_put(jobs_t *j, const jobs_schedule_t *spec,
                       jobs_status_cb cb, void *arg) {
  int bad = !spec->name || !*spec->name || !valid_kind(spec->kind) ||
            (spec->interval_s > 0) == (spec->cron != NULL);
  const char *tz = spec->tz ? spec->tz : "UTC";
  int64_t now = store_now_ms(), next = -1;
  if (!bad && spec->cron) {
    jobs_cron_t *c = NULL;
    char err[128];
    if (jobs_cron_parse(spec->cron, &c, err, sizeof(err)) < 0 ||
        jobs_tz_valid(tz) < 0) {
      bad = 1;
    } else {
      next = jobs_cron_next(c, tz, now);
    }
    jobs_cron_free(c);
    if (next < 0) bad = 1;
  } else if (!bad) {
    next = now + spec->interval_s * 1000;
  }
  store_req_t *r = store_req_new(j->s, 0);
  if (bad) {
    /* Report through the same asynchronous path. */
    store_req_sql(r, "SELECT 1");
    st_ctx_t *c = st_ctx(j, cb, arg);
    c->force = -EINVAL;
    req_submit(j, r, sched_put_done, c);
    return;
  }
  store_req_stmt(r, &sql_sched_put);
  store_req_bind_text(r, spec->name);
  store_req_bind_text(r, spec->kind);
  store_req_bind_text(r, spec->payload ? spec->payload : "{}");
  if (spec->interval_s > 0)
    store_req_bind_int(r, spec->interval_s);
  else
    store_req_bind_null(r);
  store_req_bind_text(r, spec->cron);
  store_req_bind_text(r, spec->cron ? tz : "UTC");
  store_req_bind_int(r, spec->priority);
  store_req_bind_int(r, spec->max_attempts > 0 ? spec->max_attempts : 5);
  store_req_bind_int(r, next);
  store_req_bind_int(r, now);
  req_submit(j, r, sched_put_done, st_ctx(j, cb, arg));
}

static void sched_delete_done(store_t *s, int status, const char *errmsg,
                              store_res_t *res, void *arg) {
  if (status == 0 && store_res_changes(res, 0) == 0)
    ((st_ctx_t *)arg)->force = -ENOENT;
  sched_put_done(s, status, errmsg, res, arg);
}

void jobs_schedule_delete(jobs_t *j, const char *name, jobs_status_cb cb,
                          void *arg) {
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_sched_delete);
  store_req_bind_text(r, name);
  req_submit(j, r, sched_delete_done, st_ctx(j, cb, arg));
}

/* ---- administration ---- */

static void changed(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  st_ctx_t c = *(st_ctx_t *)arg;
  free(arg);
  if (status == 0 && store_res_rows(res, 0) == 0) status = -ENOENT;
  if (status == 0) {
    count(c.j, store_res_text(res, 0, 0, 0), c.state);
    jobs_wake(c.j);
  }
  if (c.cb) c.cb(c.j, status, c.arg);
  req_done(c.j);
}

void jobs_cancel(jobs_t *j, int64_t id, jobs_status_cb cb, void *arg) {
  for (jobs_job_t *job = j->running; job; job = job->next)
    if (job->id == id) job->cancelled = 1;
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_cancel);
  store_req_bind_int(r, id);
  store_req_bind_int(r, store_now_ms());
  st_ctx_t *c = st_ctx(j, cb, arg);
  c->state = "cancelled";
  req_submit(j, r, changed, c);
}

void jobs_retry(jobs_t *j, int64_t id, jobs_status_cb cb, void *arg) {
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_retry);
  store_req_bind_int(r, id);
  store_req_bind_int(r, store_now_ms());
  st_ctx_t *c = st_ctx(j, cb, arg);
  c->state = "queued";
  req_submit(j, r, changed, c);
}

typedef struct {
  jobs_t *j;
  void *cb;
  void *arg;
} any_ctx_t;

static void fill_info(store_res_t *res, int row, jobs_info_t *in) {
  in->id = store_res_int(res, 0, row, 0);
  in->kind = store_res_text(res, 0, row, 1);
  in->payload = store_res_text(res, 0, row, 2);
  in->state = store_res_text(res, 0, row, 3);
  in->priority = (int)store_res_int(res, 0, row, 4);
  in->run_at = store_res_int(res, 0, row, 5);
  in->attempts = (int)store_res_int(res, 0, row, 6);
  in->max_attempts = (int)store_res_int(res, 0, row, 7);
  in->idem_key =
      store_res_isnull(res, 0, row, 8) ? NULL : store_res_text(res, 0, row, 8);
  in->last_error =
      store_res_isnull(res, 0, row, 9) ? NULL : store_res_text(res, 0, row, 9);
  in->lease_owner = store_res_isnull(res, 0, row, 10)
                        ? NULL
                        : store_res_text(res, 0, row, 10);
  in->created_at = store_res_int(res, 0, row, 11);
  in->updated_at = store_res_int(res, 0, row, 12);
  in->finished_at = store_res_int(res, 0, row, 13);
}

static void got(store_t *s, int status, const char *errmsg, store_res_t *res,
                void *arg) {
  (void)s;
  (void)errmsg;
  any_ctx_t c = *(any_ctx_t *)arg;
  free(arg);
  jobs_info_t info;
  memset(&info, 0, sizeof(info));
  if (status == 0 && store_res_rows(res, 0) == 0) status = -ENOENT;
  if (status == 0) fill_info(res, 0, &info);
  ((jobs_get_cb)c.cb)(c.j, status, status ? NULL : &info, c.arg);
  req_done(c.j);
}

static any_ctx_t *any_ctx(jobs_t *j, void *cb, void *arg) {
  any_ctx_t *c = xmalloc(sizeof(*c));
  c->j = j;
  c->cb = cb;
  c->arg = arg;
  return c;
}

void jobs_get(jobs_t *j, int64_t id, jobs_get_cb cb, void *arg) {
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_get);
  store_req_bind_int(r, id);
  req_submit(j, r, got, any_ctx(j, (void *)cb, arg));
}

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  any_ctx_t c = *(any_ctx_t *)arg;
  free(arg);
  size_t n = status ? 0 : (size_t)store_res_rows(res, 0);
  jobs_info_t *items = xcalloc(n + 1, sizeof(*items));
  for (size_t i = 0; i < n; i++) fill_info(res, (int)i, &items[i]);
  ((jobs_list_cb)c.cb)(c.j, status, items, n, c.arg);
  free(items);
  req_done(c.j);
}

void jobs_list(jobs_t *j, const char *state, const char *kind, int64_t after_id,
               int limit, jobs_list_cb cb, void *arg) {
  if (limit <= 0 || limit > 1000) limit = 1000;
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_list);
  store_req_bind_text(r, state ? state : "");
  store_req_bind_text(r, kind ? kind : "");
  store_req_bind_int(r, after_id);
  store_req_bind_int(r, limit);
  req_submit(j, r, listed, any_ctx(j, (void *)cb, arg));
}

static void counted(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  any_ctx_t c = *(any_ctx_t *)arg;
  free(arg);
  jobs_counts_t k;
  memset(&k, 0, sizeof(k));
  for (int i = 0; status == 0 && i < store_res_rows(res, 0); i++) {
    const char *st = store_res_text(res, 0, i, 0);
    int64_t v = store_res_int(res, 0, i, 1);
    if (!strcmp(st, "queued"))
      k.queued = v;
    else if (!strcmp(st, "running"))
      k.running = v;
    else if (!strcmp(st, "succeeded"))
      k.succeeded = v;
    else if (!strcmp(st, "retrying"))
      k.retrying = v;
    else if (!strcmp(st, "dead"))
      k.dead = v;
    else if (!strcmp(st, "cancelled"))
      k.cancelled = v;
  }
  ((jobs_counts_cb)c.cb)(c.j, status, &k, c.arg);
  req_done(c.j);
}

void jobs_counts(jobs_t *j, const char *kind, jobs_counts_cb cb, void *arg) {
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_counts);
  store_req_bind_text(r, kind ? kind : "");
  req_submit(j, r, counted, any_ctx(j, (void *)cb, arg));
}

static void sched_listed(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  any_ctx_t c = *(any_ctx_t *)arg;
  free(arg);
  size_t n = status ? 0 : (size_t)store_res_rows(res, 0);
  jobs_schedule_info_t *items = xcalloc(n + 1, sizeof(*items));
  for (size_t i = 0; i < n; i++) {
    int r = (int)i;
    jobs_schedule_info_t *it = &items[i];
    it->name = store_res_text(res, 0, r, 0);
    it->kind = store_res_text(res, 0, r, 1);
    it->payload = store_res_text(res, 0, r, 2);
    it->interval_s =
        store_res_isnull(res, 0, r, 3) ? 0 : store_res_int(res, 0, r, 3);
    it->cron =
        store_res_isnull(res, 0, r, 4) ? NULL : store_res_text(res, 0, r, 4);
    it->tz = store_res_text(res, 0, r, 5);
    it->priority = (int)store_res_int(res, 0, r, 6);
    it->max_attempts = (int)store_res_int(res, 0, r, 7);
    it->enabled = (int)store_res_int(res, 0, r, 8);
    it->next_fire_at = store_res_int(res, 0, r, 9);
    it->last_fire_at = store_res_int(res, 0, r, 10);
  }
  ((jobs_schedule_list_cb)c.cb)(c.j, status, items, n, c.arg);
  free(items);
  req_done(c.j);
}

void jobs_schedule_list(jobs_t *j, jobs_schedule_list_cb cb, void *arg) {
  store_req_t *r = store_req_new(j->s, 0);
  store_req_stmt(r, &sql_sched_list);
  req_submit(j, r, sched_listed, any_ctx(j, (void *)cb, arg));
}
