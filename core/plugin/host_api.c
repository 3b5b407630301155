/*
 * host_api.c: the function table every plugin receives. Each entry checks
 * its arguments, records what it creates against the calling instance, and
 * returns an ASSIST_E* code instead of aborting.
 */
#include "plugin/instance_priv.h"
#include "plugin/host_assistant.h"
#include "plugin/host_http.h"
#include "plugin/host_oauth.h"
#include "plugin/host_secrets.h"
#include "plugin/providers.h"

#include "common/alloc.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void instance_work_finished(instance_t *inst);

/* ---------------- pending requests: req -> instance ---------------- */

/* Open addressing keyed by pointer; small, because a request only stays
 * here while a plugin owes its response. */
static struct {
  http_request_t **keys;
  instance_t **vals;
  char **users; /* the authenticated user's id (owned), or NULL */
  size_t cap, n;
} g_pending;

static size_t slot_of(const void *p, size_t cap) {
  uintptr_t x = (uintptr_t)p;
  x ^= x >> 17;
  x *= 0x9E3779B97F4A7C15ull;
  return (size_t)(x >> 7) & (cap - 1);
}

static void pending_grow(void) {
  size_t cap = g_pending.cap ? g_pending.cap * 2 : 64;
  http_request_t **keys = xcalloc(cap, sizeof *keys);
  instance_t **vals = xcalloc(cap, sizeof *vals);
  char **users = xcalloc(cap, sizeof *users);
  for (size_t i = 0; i < g_pending.cap; i++) {
    if (!g_pending.keys[i]) continue;
    size_t j = slot_of(g_pending.keys[i], cap);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = g_pending.keys[i];
    vals[j] = g_pending.vals[i];
    users[j] = g_pending.users[i];
  }
  free(g_pending.keys);
  free(g_pending.vals);
  free(g_pending.users);
  g_pending.keys = keys;
  g_pending.vals = vals;
  g_pending.users = users;
  g_pending.cap = cap;
}

void pending_add_user(http_request_t *req, instance_t *inst, int64_t user_id) {
  if ((g_pending.n + 1) * 2 > g_pending.cap) pending_grow();
  size_t j = slot_of(req, g_pending.cap);
  while (g_pending.keys[j]) j = (j + 1) & (g_pending.cap - 1);
  g_pending.keys[j] = req;
  g_pending.vals[j] = inst;
  g_pending.users[j] =
      user_id > 0 ? xasprintf("%lld", (long long)user_id) : NULL;
  g_pending.n++;
  inst->npending++;
}

void pending_add(http_request_t *req, instance_t *inst) {
  pending_add_user(req, inst, 0);
}

static const char *pending_user(http_request_t *req) {
  if (!g_pending.cap) return NULL;
  size_t mask = g_pending.cap - 1, j = slot_of(req, g_pending.cap);
  while (g_pending.keys[j] && g_pending.keys[j] != req) j = (j + 1) & mask;
  return g_pending.keys[j] ? g_pending.users[j] : NULL;
}

instance_t *pending_take(http_request_t *req) {
  if (!g_pending.cap) return NULL;
  size_t mask = g_pending.cap - 1, j = slot_of(req, g_pending.cap);
  while (g_pending.keys[j] && g_pending.keys[j] != req) j = (j + 1) & mask;
  if (!g_pending.keys[j]) return NULL;
  instance_t *inst = g_pending.vals[j];
  free(g_pending.users[j]);
  g_pending.users[j] = NULL;
  g_pending.keys[j] = NULL;
  g_pending.n--;
  inst->npending--;
  /* Re-insert the rest of the cluster so lookups stay correct. */
  for (size_t k = (j + 1) & mask; g_pending.keys[k]; k = (k + 1) & mask) {
    http_request_t *key = g_pending.keys[k];
    instance_t *val = g_pending.vals[k];
    char *user = g_pending.users[k];
    g_pending.keys[k] = NULL;
    g_pending.users[k] = NULL;
    size_t t = slot_of(key, g_pending.cap);
    while (g_pending.keys[t]) t = (t + 1) & mask;
    g_pending.keys[t] = key;
    g_pending.vals[t] = val;
    g_pending.users[t] = user;
  }
  return inst;
}

void pending_fail_all(instance_t *inst) {
  while (inst->npending > 0) {
    http_request_t *req = NULL;
    for (size_t i = 0; i < g_pending.cap && !req; i++)
      if (g_pending.keys[i] && g_pending.vals[i] == inst)
        req = g_pending.keys[i];
    if (!req) break;
    pending_take(req);
    http_respond_error(req, 503, "plugin instance stopped");
  }
}

/* ---------------- logging and errors ---------------- */

static void h_log(assist_instance_t *inst, assist_log_level_t level,
                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (level > ASSIST_LOG_ERROR) level = ASSIST_LOG_ERROR;
  log_vmsg((log_level_t)level, inst ? inst->name : "plugin", fmt, ap);
  va_end(ap);
}

static const char *h_strerror(int err) {
  switch (err) {
  case ASSIST_OK:
    return "success";
  case ASSIST_ENOMEM:
    return "out of memory";
  case ASSIST_EACCES:
    return "permission denied";
  case ASSIST_EBUSY:
    return "busy";
  case ASSIST_EEXIST:
    return "already exists";
  case ASSIST_EINVAL:
    return "invalid argument";
  case ASSIST_ENOSPC:
    return "no space left";
  case ASSIST_ERANGE:
    return "out of range";
  case ASSIST_ENOENT:
    return "not found";
  case ASSIST_EIO:
    return "input/output error";
  case ASSIST_ENOTSUP:
    return "not supported";
  case ASSIST_ETIMEDOUT:
    return "timed out";
  case ASSIST_ECANCELED:
    return "cancelled";
  case ASSIST_EBADMSG:
    return "bad message (does not authenticate)";
  case ASSIST_EEXPIRED:
    return "expired";
  case ASSIST_EREAUTH:
    return "needs re-authorization (connect the account again)";
  case ASSIST_EAMBIGUOUS:
    return "may or may not have been carried out (reconcile)";
  case ASSIST_ASYNC:
    return "will complete asynchronously";
  }
  return err < 0 ? "unknown error" : "not an error code";
}

/* ---------------- options ---------------- */

static const char *h_instance_name(assist_instance_t *inst) {
  return inst->name;
}

static const opt_value_t *opt_get(assist_instance_t *inst, const char *name,
                                  int want_type) {
  const opt_value_t *v = opts_find(&inst->opts, name);
  if (!v) {
    log_kv(LOG_ERROR, inst->name, "plugin asked for an undeclared option",
           "option", name, NULL);
    return NULL;
  }
  if (want_type && (int)v->type != want_type) {
    log_kv(LOG_ERROR, inst->name,
           "plugin asked for an option as the wrong type", "option", name,
           NULL);
    return NULL;
  }
  return v->has_value ? v : NULL;
}

static const char *h_opt_string(assist_instance_t *inst, const char *name) {
  const opt_value_t *v = opt_get(inst, name, 0);
  return v && v->type != ASSIST_OPT_STRING_LIST ? v->str : NULL;
}

static int64_t h_opt_int(assist_instance_t *inst, const char *name) {
  const opt_value_t *v = opt_get(inst, name, 0);
  if (!v) return 0;
  switch (v->type) {
  case ASSIST_OPT_INT:
  case ASSIST_OPT_SIZE:
  case ASSIST_OPT_DURATION:
  case ASSIST_OPT_BOOL:
    return v->i;
  default:
    log_kv(LOG_ERROR, inst->name, "option is not an integer", "option", name,
           NULL);
    return 0;
  }
}

static int h_opt_bool(assist_instance_t *inst, const char *name) {
  const opt_value_t *v = opt_get(inst, name, ASSIST_OPT_BOOL);
  return v ? (int)v->i : 0;
}

static double h_opt_double(assist_instance_t *inst, const char *name) {
  const opt_value_t *v = opt_get(inst, name, 0);
  if (!v) return 0;
  if (v->type == ASSIST_OPT_DOUBLE) return v->d;
  if (v->type == ASSIST_OPT_INT || v->type == ASSIST_OPT_SIZE ||
      v->type == ASSIST_OPT_DURATION)
    return (double)v->i;
  return 0;
}

static const char *h_opt_list(assist_instance_t *inst, const char *name,
                              size_t i) {
  const opt_value_t *v = opt_get(inst, name, ASSIST_OPT_STRING_LIST);
  return v && i < v->nlist ? v->list[i] : NULL;
}

static int h_opt_is_set(assist_instance_t *inst, const char *name) {
  const opt_value_t *v = opts_find(&inst->opts, name);
  return v ? v->is_set : 0;
}

/* ---------------- routes and requests ---------------- */

static int h_route_add(assist_instance_t *inst, const assist_route_t *route) {
  if (!route ||
      route->struct_size < offsetof(assist_route_t, ud) + sizeof(void *) ||
      !route->method || !route->pattern || !route->handler ||
      route->pattern[0] != '/')
    return ASSIST_EINVAL;
  if (inst->st != INSTANCE_CREATED || inst->desc == NULL) return ASSIST_EBUSY;
  for (instance_route_t *r = inst->routes; r; r = r->next)
    if (strcmp(r->method, route->method) == 0 &&
        strcmp(r->pattern, route->pattern) == 0)
      return ASSIST_EEXIST;
  /* Reject malformed patterns now, not at the next reload. */
  router_t *probe = router_new();
  int ok = router_add(probe, route->method, route->pattern, route->max_body,
                      instance_route_dispatch, NULL);
  router_free(probe);
  if (ok != 0) return ASSIST_EINVAL;
  instance_route_t *r = xcalloc(1, sizeof *r);
  r->inst = inst;
  r->method = xstrdup(route->method);
  r->pattern = xstrdup(route->pattern);
  r->max_body = route->max_body;
  if (route->struct_size >= offsetof(assist_route_t, flags) + sizeof(uint32_t))
    r->flags = route->flags;
  r->cb = route->handler;
  r->ud = route->ud;
  instance_route_t **tail = &inst->routes;
  while (*tail) tail = &(*tail)->next;
  *tail = r;
  return 0;
}

static const char *h_req_method(assist_request_t *req) {
  return http_req_method(req);
}
static const char *h_req_path(assist_request_t *req) {
  return http_req_path(req);
}
static const char *h_req_param(assist_request_t *req, const char *name) {
  return http_req_param(req, name);
}
static const char *h_req_query(assist_request_t *req, const char *name) {
  return http_req_query(req, name);
}
static const char *h_req_header(assist_request_t *req, const char *name) {
  return http_req_header(req, name);
}
static const char *h_req_body(assist_request_t *req, size_t *len) {
  return http_req_body(req, len);
}
static const char *h_req_id(assist_request_t *req) {
  return http_req_id(req);
}

static const char *h_req_body_path(assist_request_t *req, uint64_t *len) {
  return http_req_body_path(req, len);
}

/* The user id the auth gate admitted for this request (gated routes), as
 * decimal text; NULL on public routes. Valid until the response. */
static const char *h_req_user(assist_request_t *req) {
  return pending_user(req);
}

static int h_respond_ex(assist_request_t *req, int status,
                        const assist_header_t *headers, size_t n,
                        const void *body, size_t len) {
  if (status < 100 || status > 599 || (n && !headers)) return ASSIST_EINVAL;
  if (pending_take(req) == NULL) return ASSIST_EINVAL; /* twice, or unknown */
  http_respond(req, status, (const http_header_t *)headers, n, body, len);
  return 0;
}

static int h_respond(assist_request_t *req, int status,
                     const char *content_type, const void *body, size_t len) {
  assist_header_t h = {"Content-Type",
                       content_type ? content_type : "application/json"};
  return h_respond_ex(req, status, &h, 1, body, len);
}

/* ---------------- timers ---------------- */

static void timer_closed(uv_handle_t *h) {
  free(h->data);
}

static void h_timer_stop(assist_timer_t *t) {
  if (!t || t->stopped) return;
  t->stopped = 1;
  instance_t *inst = t->inst;
  if (t->prev)
    t->prev->next = t->next;
  else
    inst->timers = t->next;
  if (t->next) t->next->prev = t->prev;
  uv_timer_stop(&t->handle);
  uv_close((uv_handle_t *)&t->handle, timer_closed);
}

static void timer_fired(uv_timer_t *h) {
  assist_timer_t *t = h->data;
  t->cb(t->ud);
  if (!t->repeat) h_timer_stop(t); /* no-op if the callback stopped it */
}

static assist_timer_t *h_timer_start(assist_instance_t *inst,
                                     uint64_t timeout_ms, uint64_t repeat_ms,
                                     assist_timer_cb cb, void *ud) {
  if (!cb || inst->st == INSTANCE_STOPPING || inst->st == INSTANCE_STOPPED)
    return NULL;
  assist_timer_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->inst = inst;
  t->cb = cb;
  t->ud = ud;
  t->repeat = repeat_ms > 0;
  uv_timer_init(inst->loop, &t->handle);
  t->handle.data = t;
  t->next = inst->timers;
  if (inst->timers) inst->timers->prev = t;
  inst->timers = t;
  uv_timer_start(&t->handle, timer_fired, timeout_ms, repeat_ms);
  return t;
}

/* ---------------- work ---------------- */

static void work_run(uv_work_t *req) {
  assist_work_t *w = req->data;
  w->work(w->ud);
}

static void work_after(uv_work_t *req, int status) {
  assist_work_t *w = req->data;
  instance_t *inst = w->inst;
  if (w->prev)
    w->prev->next = w->next;
  else
    inst->works = w->next;
  if (w->next) w->next->prev = w->prev;
  if (w->done) w->done(w->ud, status == UV_ECANCELED ? ASSIST_ECANCELED : 0);
  free(w);
  instance_work_finished(inst);
}

static assist_work_t *h_queue_work(assist_instance_t *inst, assist_work_cb work,
                                   assist_work_done_cb done, void *ud) {
  if (!work || inst->st == INSTANCE_STOPPING || inst->st == INSTANCE_STOPPED)
    return NULL;
  assist_work_t *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->inst = inst;
  w->work = work;
  w->done = done;
  w->ud = ud;
  w->req.data = w;
  if (uv_queue_work(inst->loop, &w->req, work_run, work_after) != 0) {
    free(w);
    return NULL;
  }
  w->next = inst->works;
  if (inst->works) inst->works->prev = w;
  inst->works = w;
  inst->nworks++;
  return w;
}

static int h_work_cancel(assist_work_t *w) {
  if (!w) return ASSIST_EINVAL;
  return uv_cancel((uv_req_t *)&w->req) == 0 ? 0 : ASSIST_EBUSY;
}

/* ---------------- metrics ---------------- */

static int metric_name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 100) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  return 1;
}

static assist_metric_t *h_metric_register(assist_instance_t *inst,
                                          assist_metric_type_t type,
                                          const char *name, const char *help,
                                          const double *buckets,
                                          size_t nbuckets) {
  if (!metric_name_ok(name) || type < ASSIST_METRIC_COUNTER ||
      type > ASSIST_METRIC_HISTOGRAM)
    return NULL;
  char full[128];
  snprintf(full, sizeof full, "assist_%s", name);
  metric_t *fam =
      metrics_family((metric_type_t)type, full, help, buckets, nbuckets);
  if (!fam) return NULL; /* exists with another type */
  for (assist_metric_t *m = inst->metrics; m; m = m->next)
    if (m->family == fam) return m;
  assist_metric_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->family = fam;
  m->inst = inst;
  m->next = inst->metrics;
  inst->metrics = m;
  return m;
}

static const char *labels_of(assist_metric_t *m, const char *labels, char *buf,
                             size_t len) {
  if (!labels || !*labels) return m->inst->label;
  snprintf(buf, len, "%s,%s", m->inst->label, labels);
  return buf;
}

static void h_metric_add(assist_metric_t *m, const char *labels, double v) {
  char buf[512];
  if (m) metric_add(m->family, labels_of(m, labels, buf, sizeof buf), v);
}
static void h_metric_set(assist_metric_t *m, const char *labels, double v) {
  char buf[512];
  if (m) metric_set(m->family, labels_of(m, labels, buf, sizeof buf), v);
}
static void h_metric_observe(assist_metric_t *m, const char *labels, double v) {
  char buf[512];
  if (m) metric_observe(m->family, labels_of(m, labels, buf, sizeof buf), v);
}

/* ---------------- post_to_loop ---------------- */

static int h_post_to_loop(assist_instance_t *inst, assist_done_cb cb,
                          void *ud) {
  if (!inst || !cb) return ASSIST_EINVAL;
  posted_t *p = malloc(sizeof *p);
  if (!p) return ASSIST_ENOMEM;
  p->next = NULL;
  p->cb = cb;
  p->ud = ud;
  pthread_mutex_lock(&inst->post_lock);
  *inst->posted_tail = p;
  inst->posted_tail = &p->next;
  pthread_mutex_unlock(&inst->post_lock);
  uv_async_send(&inst->async);
  return 0;
}

/* ---------------- providers (ABI 1.2) ---------------- */

static int h_provider_register(assist_instance_t *inst,
                               const struct assist_provider *p) {
  if (!inst || !p) return ASSIST_EINVAL;
  if (inst->st != INSTANCE_CREATED) return ASSIST_EBUSY; /* init() only */
  return providers_register(inst, p); /* -EEXIST, -EINVAL: same codes */
}

const assist_host_api_t host_api = {
    .struct_size = sizeof(assist_host_api_t),
    .abi_major = ASSIST_ABI_MAJOR,
    .abi_minor = ASSIST_ABI_MINOR,
    .host_version = ASSISTD_VERSION,
    .log = h_log,
    .strerror = h_strerror,
    .instance_name = h_instance_name,
    .opt_string = h_opt_string,
    .opt_int = h_opt_int,
    .opt_bool = h_opt_bool,
    .opt_double = h_opt_double,
    .opt_list = h_opt_list,
    .opt_is_set = h_opt_is_set,
    .route_add = h_route_add,
    .req_method = h_req_method,
    .req_path = h_req_path,
    .req_param = h_req_param,
    .req_query = h_req_query,
    .req_header = h_req_header,
    .req_body = h_req_body,
    .req_id = h_req_id,
    .respond = h_respond,
    .respond_ex = h_respond_ex,
    .timer_start = h_timer_start,
    .timer_stop = h_timer_stop,
    .queue_work = h_queue_work,
    .work_cancel = h_work_cancel,
    .metric_register = h_metric_register,
    .metric_add = h_metric_add,
    .metric_set = h_metric_set,
    .metric_observe = h_metric_observe,
    .post_to_loop = h_post_to_loop,
    .req_body_path = h_req_body_path,
    .req_user = h_req_user,
    .kv_get = host_kv_get,
    .kv_put = host_kv_put,
    .kv_delete = host_kv_delete,
    .kv_list = host_kv_list,
    .job_kind_register = host_job_kind_register,
    .job_enqueue = host_job_enqueue,
    .job_cancel = host_job_cancel,
    .job_id = host_job_id,
    .job_payload = host_job_payload,
    .job_attempt = host_job_attempt,
    .job_cancelled = host_job_cancelled,
    .job_complete = host_job_complete,
    .secret_encrypt = host_secret_encrypt,
    .secret_decrypt = host_secret_decrypt,
    .token_sign = host_token_sign,
    .token_verify = host_token_verify,
    .secret_free = host_secret_free,
    .audit_append = host_audit_append,
    .oauth_token = host_oauth_token,
    .oauth_connections = host_oauth_connections,
    .http_request = host_http_request,
    .http_cancel = host_http_cancel,
    .provider_register = h_provider_register,
    .calendar_put = host_calendar_put,
    .calendar_prune = host_calendar_prune,
    .delivery_event = host_delivery_event,
    .http_header = host_http_header,
};
