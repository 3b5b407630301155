#include "plugin/host_http.h"
#include "plugin/instance_priv.h"
#include "plugin/providers.h"
#include "plugin/services.h"

#include "common/alloc.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t g_live;

static void post_cb(uv_async_t *h);
static void drain_posted(instance_t *inst);

instance_t *instance_create(uv_loop_t *loop, const char *name,
                            plugin_lib_t *lib, opt_set_t *opts, char *err,
                            size_t errlen) {
  instance_t *inst = xcalloc(1, sizeof *inst);
  inst->name = xstrdup(name);
  inst->loop = loop;
  inst->lib = lib;
  inst->desc = lib->desc;
  inst->opts = *opts;
  memset(opts, 0, sizeof *opts);
  snprintf(inst->label, sizeof inst->label, "instance=\"%s\"", name);
  pthread_mutex_init(&inst->post_lock, NULL);
  inst->posted_tail = &inst->posted;
  uv_async_init(loop, &inst->async, post_cb);
  inst->async.data = inst;
  uv_timer_init(loop, &inst->deadline);
  inst->deadline.data = inst;
  inst->handles_open = 2;
  g_live++;

  int rc = inst->desc->init(&host_api, inst, &inst->state);
  if (rc != 0) {
    snprintf(err, errlen, "instance '%s' (plugin %s): init failed: %s", name,
             inst->desc->name, host_api.strerror(rc));
    /* No stop(): the plugin never initialised. Release what init left. */
    inst->stop_called = 1;
    inst->destroyed = 1; /* destroy() is only for a successful init */
    instance_close(inst, 0, NULL, NULL);
    return NULL;
  }
  return inst;
}

int instance_start(instance_t *inst) {
  int rc = inst->desc->start ? inst->desc->start(inst->state) : 0;
  if (rc == 0) {
    inst->st = INSTANCE_RUNNING;
    services_bind(inst);
  }
  return rc;
}

int instance_reconfigure(instance_t *inst, opt_set_t *opts) {
  if (!(inst->desc->flags & ASSIST_PLUGIN_RELOADABLE) ||
      !inst->desc->reconfigure)
    return ASSIST_ENOTSUP;
  opt_set_t old = inst->opts;
  inst->opts = *opts;
  int rc = inst->desc->reconfigure(inst->state);
  if (rc != 0) {
    inst->opts = old;
    return rc;
  }
  *opts = old;
  return 0;
}

/* ---------------- closing ---------------- */

static void handle_closed(uv_handle_t *h) {
  instance_t *inst = h->data;
  if (--inst->handles_open > 0) return;
  void (*done)(void *) = inst->close_done;
  void *arg = inst->close_arg;
  /* Unmap the image only here, from the loop: finish_close may run inside a
   * call into the plugin (its stop() calling done), which must be able to
   * return into its own code. */
  plugin_lib_put(inst->lib);
  pthread_mutex_destroy(&inst->post_lock);
  free(inst->name);
  free(inst);
  g_live--;
  if (done) done(arg);
}

static void finish_close(instance_t *inst) {
  pending_fail_all(inst);
  drain_posted(inst);
  services_unbind(inst);
  providers_forget(inst);
  if (!inst->destroyed && inst->desc->destroy) inst->desc->destroy(inst->state);
  inst->destroyed = 1;
  inst->st = INSTANCE_STOPPED;
  for (instance_route_t *r = inst->routes, *n; r; r = n) {
    n = r->next;
    free(r->method);
    free(r->pattern);
    free(r);
  }
  inst->routes = NULL;
  for (instance_kind_t *k = inst->kinds, *n; k; k = n) {
    n = k->next;
    free(k->full);
    free(k);
  }
  inst->kinds = NULL;
  for (struct assist_metric *m = inst->metrics, *n; m; m = n) {
    n = m->next;
    free(m);
  }
  inst->metrics = NULL;
  opts_free(&inst->opts);
  inst->finished = 1;
  uv_close((uv_handle_t *)&inst->async, handle_closed);
  uv_close((uv_handle_t *)&inst->deadline, handle_closed);
}

static void stop_timers_and_work(instance_t *inst) {
  while (inst->timers) host_api.timer_stop(inst->timers);
  host_http_cancel_instance(inst); /* callbacks (ECANCELED) come later */
  for (struct assist_work *w = inst->works; w; w = w->next)
    uv_cancel((uv_req_t *)&w->req); /* running ones finish normally */
}

/* Called whenever something the close waits for may have finished. */
static void maybe_finish(instance_t *inst) {
  if (inst->finished) return;
  if (!inst->stop_done || inst->nworks > 0 || inst->nio > 0) return;
  uv_timer_stop(&inst->deadline);
  finish_close(inst);
}

static void plugin_stopped(void *arg) {
  instance_t *inst = arg;
  if (inst->stop_done) return; /* late call after the deadline */
  inst->stop_done = 1;
  stop_timers_and_work(inst);
  maybe_finish(inst);
}

static void deadline_cb(uv_timer_t *t) {
  instance_t *inst = t->data;
  if (!inst->stop_done) {
    log_kv(LOG_WARN, "plugin", "instance did not stop in time; forcing",
           "instance", inst->name, NULL);
    plugin_stopped(inst);
  } else if (inst->nworks > 0 || inst->nio > 0) {
    log_kv(LOG_WARN, "plugin",
           "waiting for running work and storage calls before destroy",
           "instance", inst->name, NULL);
  }
}

void instance_close(instance_t *inst, uint64_t deadline_ms,
                    void (*done)(void *arg), void *arg) {
  inst->close_done = done;
  inst->close_arg = arg;
  inst->st = INSTANCE_STOPPING;
  if (deadline_ms > 0)
    uv_timer_start(&inst->deadline, deadline_cb, deadline_ms, 0);
  if (!inst->stop_called) {
    inst->stop_called = 1;
    if (inst->desc->stop) {
      inst->desc->stop(inst->state, plugin_stopped, inst);
      return;
    }
  }
  plugin_stopped(inst);
}

/* ---------------- work completion hook (host_api.c) ---------------- */

void instance_work_finished(instance_t *inst);
void instance_work_finished(instance_t *inst) {
  inst->nworks--;
  if (inst->st == INSTANCE_STOPPING) maybe_finish(inst);
}

void instance_io_finished(instance_t *inst) {
  inst->nio--;
  if (inst->st == INSTANCE_STOPPING) maybe_finish(inst);
}

/* ---------------- post_to_loop ---------------- */

static void drain_posted(instance_t *inst) {
  for (;;) {
    pthread_mutex_lock(&inst->post_lock);
    posted_t *p = inst->posted;
    inst->posted = NULL;
    inst->posted_tail = &inst->posted;
    pthread_mutex_unlock(&inst->post_lock);
    if (!p) return;
    while (p) {
      posted_t *n = p->next;
      p->cb(p->ud);
      free(p);
      p = n;
    }
  }
}

static void post_cb(uv_async_t *h) {
  drain_posted(h->data);
}

/* ---------------- accessors ---------------- */

const char *instance_name(const instance_t *inst) {
  return inst->name;
}
const assist_plugin_t *instance_desc(const instance_t *inst) {
  return inst->desc;
}
const plugin_lib_t *instance_lib(const instance_t *inst) {
  return inst->lib;
}
const opt_set_t *instance_opts(const instance_t *inst) {
  return &inst->opts;
}
instance_state_t instance_state(const instance_t *inst) {
  return inst->st;
}
const instance_route_t *instance_routes(const instance_t *inst) {
  return inst->routes;
}
unsigned *instance_gen_refs(instance_t *inst) {
  return &inst->gen_refs;
}
size_t instance_count(void) {
  return g_live;
}

const char *instance_state_name(instance_state_t st) {
  switch (st) {
  case INSTANCE_CREATED:
    return "created";
  case INSTANCE_RUNNING:
    return "running";
  case INSTANCE_STOPPING:
    return "stopping";
  case INSTANCE_STOPPED:
    return "stopped";
  }
  return "unknown";
}

void instance_route_dispatch(http_request_t *req, void *ud) {
  instance_route_dispatch_as(req, ud, 0);
}

void instance_route_dispatch_as(http_request_t *req, const instance_route_t *r,
                                int64_t user_id) {
  instance_t *inst = r->inst;
  if (inst->st == INSTANCE_STOPPING || inst->st == INSTANCE_STOPPED) {
    http_respond_error(req, 503, "plugin instance is stopping");
    return;
  }
  pending_add_user(req, inst, user_id);
  int rc = r->cb(req, r->ud);
  if (rc == ASSIST_ASYNC) return;
  if (pending_take(req) == NULL) return; /* answered, as it should be */
  if (rc == 0) {
    log_kv(LOG_ERROR, "plugin", "route handler returned without responding",
           "instance", inst->name, "route", r->pattern, NULL);
    http_respond_error(req, 500, "handler did not respond");
  } else {
    log_kv(LOG_ERROR, "plugin", "route handler failed", "instance", inst->name,
           "route", r->pattern, "error", host_api.strerror(rc), NULL);
    http_respond_error(req, 500, "internal error");
  }
}
