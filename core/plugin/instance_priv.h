/* instance_priv.h: the instance's insides, shared by instance.c and
 * host_api.c only. */
#ifndef ASSIST_PLUGIN_INSTANCE_PRIV_H
#define ASSIST_PLUGIN_INSTANCE_PRIV_H

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
  char label[160]; /* instance="name" */

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

/* Pending-request registry (host_api.c): which instance owes a response. */
void pending_add(http_request_t *req, instance_t *inst);
instance_t *pending_take(http_request_t *req);
/** Answers every request still owed by inst with 503. */
void pending_fail_all(instance_t *inst);

#endif
