/* instance_priv.h: the instance's insides, shared by instance.c and
 * host_api.c only. */
#ifndef ASSIST_PLUGIN_INSTANCE_PRIV_H
#define ASSIST_PLUGIN_INSTANCE_PRIV_H

#include "jobs/jobs.h"
#include "metrics/metrics.h"
#include "plugin/instance.h"

#include <pthread.h>

struct assist_timer {
  uv_timer_t handle;
  struct assist_timer *prev, *next; /* in the instance while active */
  instance_t *inst;
  assist_timer_cb cb;
  void *ud;
  int repeat;
  int stopped;
};

struct assist_work {
  uv_work_t req;
  struct assist_work *prev, *next;
  instance_t *inst;
  assist_work_cb work;
  assist_work_done_cb done;
  void *ud;
};

struct assist_metric {
  struct assist_metric *next;
  metric_t *family;
  instance_t *inst;
};

/* A job kind an instance registered during init. */
typedef struct instance_kind {
  struct instance_kind *next;
  char *full; /* "<instance>.<kind>" */
  jobs_kind_opts_t opts;
  void (*handler)(assist_job_t *job, void *ud);
  void *ud;
} instance_kind_t;

/* A job an instance's handler is running. */
struct assist_job {
  struct assist_job *prev, *next;
  jobs_job_t *job;
  instance_t *inst;
};

typedef struct posted {
  struct posted *next;
  assist_done_cb cb;
  void *ud;
} posted_t;

struct assist_instance {
  char *name;
  uv_loop_t *loop;
  plugin_lib_t *lib;
  const assist_plugin_t *desc;
  opt_set_t opts;
  void *state;
  instance_state_t st;
  unsigned gen_refs;

  instance_route_t *routes;
  struct assist_timer *timers;
  struct assist_work *works;
  size_t nworks;
  struct assist_metric *metrics;
  size_t npending; /* requests dispatched and not yet answered */
  size_t nio;      /* kv and job calls whose callbacks are still due */
  instance_kind_t *kinds;
  struct assist_job *jobs; /* running */
  char label[160];         /* instance="name" */

  /* post_to_loop: any thread pushes, the loop drains. */
  uv_async_t async;
  pthread_mutex_t post_lock;
  posted_t *posted, **posted_tail;

  /* closing */
  uv_timer_t deadline;
  int stop_called, stop_done, destroyed, finished;
  void (*close_done)(void *);
  void *close_arg;
  int handles_open;
};

/* Called when an I/O callback owed to inst has run (host_services.c). */
void instance_io_finished(instance_t *inst);

/* ABI 1.1 storage and job entries of the host table (host_services.c). */
int host_kv_get(assist_instance_t *inst, const char *key,
                void (*cb)(void *, int, const void *, size_t), void *ud);
int host_kv_put(assist_instance_t *inst, const char *key, const void *value,
                size_t len, void (*cb)(void *, int), void *ud);
int host_kv_delete(assist_instance_t *inst, const char *key,
                   void (*cb)(void *, int), void *ud);
int host_kv_list(assist_instance_t *inst, const char *prefix, size_t limit,
                 void (*cb)(void *, int, size_t, const char *const *,
                            const void *const *, const size_t *),
                 void *ud);
int host_job_kind_register(assist_instance_t *inst,
                           const struct assist_job_kind *k);
int host_job_enqueue(assist_instance_t *inst,
                     const struct assist_job_spec *spec,
                     void (*cb)(void *, int, int64_t, int), void *ud);
int host_job_cancel(assist_instance_t *inst, int64_t id,
                    void (*cb)(void *, int), void *ud);
int64_t host_job_id(assist_job_t *job);
const char *host_job_payload(assist_job_t *job);
int host_job_attempt(assist_job_t *job);
int host_job_cancelled(assist_job_t *job);
int host_job_complete(assist_job_t *job, int outcome, int retry_after_s,
                      const char *error);

/* Pending-request registry (host_api.c): which instance owes a response. */
void pending_add(http_request_t *req, instance_t *inst);
/** pending_add, remembering the authenticated user (user_id > 0) that
 * req_user reports until the response. */
void pending_add_user(http_request_t *req, instance_t *inst, int64_t user_id);
instance_t *pending_take(http_request_t *req);
/** Answers every request still owed by inst with 503. */
void pending_fail_all(instance_t *inst);

#endif
