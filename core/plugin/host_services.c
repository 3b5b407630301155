/*
 * host_services.c: the ABI 1.1 host functions for storage and jobs.
 *
 * Every asynchronous call counts against its instance (nio) until its
 * callback has run, so an instance is never destroyed while the store still
 * owes it a callback.
 */
#include "plugin/instance_priv.h"
#include "plugin/services.h"

#include "common/alloc.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static store_t *g_store;
static jobs_t *g_jobs;

/* Kind table: full kind name -> the instance serving it now. */
typedef struct kind_slot {
  struct kind_slot *next;
  char *full;
  instance_kind_t *kind; /* NULL while no instance serves it */
  instance_t *inst;
} kind_slot_t;

static kind_slot_t *g_kinds;

void services_set(store_t *store, jobs_t *jobs) {
  g_store = store;
  g_jobs = jobs;
}

/* ---------------- key-value ---------------- */

typedef struct kv_call {
  instance_t *inst;
  void *ud;
  union {
    void (*get)(void *, int, const void *, size_t);
    void (*done)(void *, int);
    void (*list)(void *, int, size_t, const char *const *, const void *const *,
                 const size_t *);
  } cb;
} kv_call_t;

static const char *scope_of(instance_t *inst, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", inst->desc->name, inst->name);
  return buf;
}

static int key_ok(const char *key) {
  return key && *key && strlen(key) <= 512;
}

static int status_of(int rc) {
  return rc == 0 ? ASSIST_OK : rc < -4095 ? ASSIST_EIO : rc;
}

static kv_call_t *call_new(instance_t *inst, void *ud) {
  kv_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->ud = ud;
  inst->nio++;
  return c;
}

static void call_end(kv_call_t *c) {
  instance_t *inst = c->inst;
  free(c);
  instance_io_finished(inst);
}

static void kv_get_done(store_t *s, int status, int found, const void *value,
                        size_t len, void *arg) {
  (void)s;
  kv_call_t *c = arg;
  if (c->cb.get) {
    if (status == 0 && !found)
      c->cb.get(c->ud, ASSIST_ENOENT, NULL, 0);
    else
      c->cb.get(c->ud, status_of(status), value, len);
  }
  call_end(c);
}

int host_kv_get(assist_instance_t *inst, const char *key,
                void (*cb)(void *, int, const void *, size_t), void *ud) {
  if (!g_store) return ASSIST_ENOTSUP;
  if (!key_ok(key) || !cb) return ASSIST_EINVAL;
  char scope[200];
  kv_call_t *c = call_new(inst, ud);
  c->cb.get = cb;
  store_kv_get(g_store, scope_of(inst, scope, sizeof scope), key, kv_get_done,
               c);
  return ASSIST_OK;
}

static void kv_done(store_t *s, int status, void *arg) {
  (void)s;
  kv_call_t *c = arg;
  if (c->cb.done) c->cb.done(c->ud, status_of(status));
  call_end(c);
}

int host_kv_put(assist_instance_t *inst, const char *key, const void *value,
                size_t len, void (*cb)(void *, int), void *ud) {
  if (!g_store) return ASSIST_ENOTSUP;
  if (!key_ok(key) || (len && !value)) return ASSIST_EINVAL;
  char scope[200];
  kv_call_t *c = call_new(inst, ud);
  c->cb.done = cb;
  store_kv_put(g_store, scope_of(inst, scope, sizeof scope), key, value, len,
               kv_done, c);
  return ASSIST_OK;
}

int host_kv_delete(assist_instance_t *inst, const char *key,
                   void (*cb)(void *, int), void *ud) {
  if (!g_store) return ASSIST_ENOTSUP;
  if (!key_ok(key)) return ASSIST_EINVAL;
  char scope[200];
  kv_call_t *c = call_new(inst, ud);
  c->cb.done = cb;
  store_kv_delete(g_store, scope_of(inst, scope, sizeof scope), key, kv_done,
                  c);
  return ASSIST_OK;
}

static void kv_list_done(store_t *s, int status, size_t n,
                         const char *const *keys, const void *const *values,
                         const size_t *lens, void *arg) {
  (void)s;
  kv_call_t *c = arg;
  c->cb.list(c->ud, status_of(status), status ? 0 : n, keys, values, lens);
  call_end(c);
}

int host_kv_list(assist_instance_t *inst, const char *prefix, size_t limit,
                 void (*cb)(void *, int, size_t, const char *const *,
                            const void *const *, const size_t *),
                 void *ud) {
  if (!g_store) return ASSIST_ENOTSUP;
  if (!cb) return ASSIST_EINVAL;
  char scope[200];
  kv_call_t *c = call_new(inst, ud);
  c->cb.list = cb;
  store_kv_list(g_store, scope_of(inst, scope, sizeof scope),
                prefix ? prefix : "", limit, kv_list_done, c);
  return ASSIST_OK;
}

/* ---------------- jobs ---------------- */

static kind_slot_t *slot_find(const char *full) {
  for (kind_slot_t *s = g_kinds; s; s = s->next)
    if (strcmp(s->full, full) == 0) return s;
  return NULL;
}

/* The engine calls this for every claimed job of a kind any instance ever
 * registered; the table says who serves it now. */
static void job_trampoline(jobs_job_t *job, void *arg) {
  kind_slot_t *slot = arg;
  if (!slot->inst || slot->inst->st != INSTANCE_RUNNING) {
    /* Nobody serves this kind now (instance removed or restarting): keep
     * the job for later rather than failing it. */
    jobs_complete(job, JOBS_RETRY_AFTER, 30, "no instance serves this kind");
    return;
  }
  struct assist_job *j = xcalloc(1, sizeof *j);
  j->job = job;
  j->inst = slot->inst;
  j->next = slot->inst->jobs;
  if (j->next) j->next->prev = j;
  slot->inst->jobs = j;
  slot->kind->handler(j, slot->kind->ud);
}

static int kind_name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 40) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-' || *s == '.'))
      return 0;
  return 1;
}

int host_job_kind_register(assist_instance_t *inst,
                           const struct assist_job_kind *k) {
  if (!g_jobs) return ASSIST_ENOTSUP;
  if (!k || k->struct_size < offsetof(assist_job_kind_t, ud) + sizeof(void *) ||
      !kind_name_ok(k->kind) || !k->handler)
    return ASSIST_EINVAL;
  if (inst->st != INSTANCE_CREATED) return ASSIST_EBUSY;
  char *full = xasprintf("%s.%s", inst->name, k->kind);
  for (instance_kind_t *e = inst->kinds; e; e = e->next) {
    if (strcmp(e->full, full) == 0) {
      free(full);
      return ASSIST_EEXIST;
    }
  }
  instance_kind_t *e = xcalloc(1, sizeof *e);
  e->full = full;
  e->opts.concurrency = k->concurrency > 0 ? k->concurrency : 16;
  e->opts.timeout_s = k->timeout_s > 0 ? k->timeout_s : 300;
  e->opts.backoff_base_ms = 1000;
  e->opts.backoff_max_ms = 3600000;
  e->handler = k->handler;
  e->ud = k->ud;
  e->next = inst->kinds;
  inst->kinds = e;
  return ASSIST_OK;
}

void services_bind(instance_t *inst) {
  for (instance_kind_t *k = inst->kinds; k; k = k->next) {
    kind_slot_t *slot = slot_find(k->full);
    if (!slot) {
      slot = xcalloc(1, sizeof *slot);
      slot->full = xstrdup(k->full);
      slot->next = g_kinds;
      g_kinds = slot;
      /* Limits are fixed at the first registration: the engine has no
       * way to change them, so a changed limit applies after a restart. */
      int rc = jobs_register(g_jobs, k->full, &k->opts, job_trampoline, slot);
      if (rc != 0)
        log_kv(LOG_ERROR, "jobs", "cannot register job kind", "kind", k->full,
               "error", rc == -EINVAL ? "invalid name" : "exists", NULL);
    }
    slot->inst = inst;
    slot->kind = k;
  }
}

void services_unbind(instance_t *inst) {
  for (kind_slot_t *s = g_kinds; s; s = s->next) {
    if (s->inst == inst) {
      s->inst = NULL;
      s->kind = NULL;
    }
  }
  while (inst->jobs) {
    struct assist_job *j = inst->jobs;
    inst->jobs = j->next;
    jobs_complete(j->job, JOBS_RETRY_AFTER, 1,
                  "instance stopped before finishing the job");
    free(j);
  }
}

void services_reset(void) {
  while (g_kinds) {
    kind_slot_t *s = g_kinds;
    g_kinds = s->next;
    free(s->full);
    free(s);
  }
  g_store = NULL;
  g_jobs = NULL;
}

typedef struct enq_call {
  instance_t *inst;
  void (*cb)(void *, int, int64_t, int);
  void *ud;
} enq_call_t;

static void enqueued(jobs_t *j, int status, int64_t id, int existed,
                     void *arg) {
  (void)j;
  enq_call_t *c = arg;
  instance_t *inst = c->inst;
  if (c->cb) c->cb(c->ud, status_of(status), id, existed);
  free(c);
  instance_io_finished(inst);
}

int host_job_enqueue(assist_instance_t *inst,
                     const struct assist_job_spec *spec,
                     void (*cb)(void *, int, int64_t, int), void *ud) {
  if (!g_jobs) return ASSIST_ENOTSUP;
  if (!spec ||
      spec->struct_size <
          offsetof(assist_job_spec_t, idempotency_key) + sizeof(const char *) ||
      !kind_name_ok(spec->kind))
    return ASSIST_EINVAL;
  char full[128];
  snprintf(full, sizeof full, "%s.%s", inst->name, spec->kind);
  jobs_spec_t js = {
      .kind = full,
      .payload = spec->payload,
      .run_at_ms = spec->run_at_ms,
      .priority = spec->priority,
      .max_attempts = spec->max_attempts,
      .idem_key = spec->idempotency_key,
  };
  enq_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->cb = cb;
  c->ud = ud;
  inst->nio++;
  jobs_enqueue(g_jobs, &js, enqueued, c);
  return ASSIST_OK;
}

typedef struct status_call {
  instance_t *inst;
  void (*cb)(void *, int);
  void *ud;
} status_call_t;

static void cancelled(jobs_t *j, int status, void *arg) {
  (void)j;
  status_call_t *c = arg;
  instance_t *inst = c->inst;
  if (c->cb) c->cb(c->ud, status_of(status));
  free(c);
  instance_io_finished(inst);
}

int host_job_cancel(assist_instance_t *inst, int64_t id,
                    void (*cb)(void *, int), void *ud) {
  if (!g_jobs) return ASSIST_ENOTSUP;
  status_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->cb = cb;
  c->ud = ud;
  inst->nio++;
  jobs_cancel(g_jobs, id, cancelled, c);
  return ASSIST_OK;
}

int64_t host_job_id(assist_job_t *job) {
  return job ? jobs_job_id(job->job) : -1;
}
const char *host_job_payload(assist_job_t *job) {
  return job ? jobs_job_payload(job->job) : NULL;
}
int host_job_attempt(assist_job_t *job) {
  return job ? jobs_job_attempt(job->job) : 0;
}
int host_job_cancelled(assist_job_t *job) {
  return job ? jobs_job_cancelled(job->job) : 1;
}

int host_job_complete(assist_job_t *job, int outcome, int retry_after_s,
                      const char *error) {
  if (!job || outcome < ASSIST_JOB_OK || outcome > ASSIST_JOB_RETRY_AFTER)
    return ASSIST_EINVAL;
  instance_t *inst = job->inst;
  if (job->prev)
    job->prev->next = job->next;
  else
    inst->jobs = job->next;
  if (job->next) job->next->prev = job->prev;
  jobs_outcome_t o = outcome == ASSIST_JOB_OK     ? JOBS_OK
                     : outcome == ASSIST_JOB_FAIL ? JOBS_FAIL
                                                  : JOBS_RETRY_AFTER;
  jobs_complete(job->job, o, retry_after_s, error);
  free(job);
  return ASSIST_OK;
}
