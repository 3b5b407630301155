/*
 * assistant.c: the service object (assistant.h): options, start, close,
 * the lifetime count every asynchronous operation holds, and the sweep
 * that plans events entering the horizon (at start and every hour).
 */
#include "assistant/plans.h"
#include "assistant/reasons.h"

#include "common/alloc.h"
#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_MS (3600 * 1000)

/* The service's private state follows the shared struct (the allocation
 * is ours; a points at its first member). */
typedef struct svc {
  struct assistant a;
  uv_timer_t sweep;
  int started, sweeping, sweep_on;
} svc_t;

static svc_t *svc_of(const assistant_t *a) {
  return (svc_t *)a;
}

static char *dup_or(const char *s, const char *def) {
  return xstrdup(s && *s ? s : def);
}

static void set_opts(assistant_t *a, const assistant_opts_t *o) {
  free(a->public_url);
  free(a->email_notifier);
  free(a->call_notifier);
  free(a->from_email);
  free(a->from_name);
  a->public_url = dup_or(o ? o->public_url : NULL, "http://127.0.0.1:8080");
  size_t n = strlen(a->public_url);
  while (n > 0 && a->public_url[n - 1] == '/') a->public_url[--n] = '\0';
  a->email_notifier = dup_or(o ? o->email_notifier : NULL, "dry-run");
  a->call_notifier = dup_or(o ? o->call_notifier : NULL, "dry-run");
  a->from_email = dup_or(o ? o->from_email : NULL, "reminders@localhost");
  a->from_name = dup_or(o ? o->from_name : NULL, "assistd");
  a->horizon_days = o && o->horizon_days > 0 ? o->horizon_days : 60;
  a->dispatch_interval_ms =
      o && o->dispatch_interval_ms > 0 ? o->dispatch_interval_ms : 30000;
  a->rsvp_ttl_s = o && o->rsvp_ttl_s > 0 ? o->rsvp_ttl_s : 14 * 86400;
}

assistant_t *assistant_new(uv_loop_t *loop, store_t *store, jobs_t *jobs,
                           audit_svc_t *audit, secrets_keyring_t *ring,
                           const assistant_opts_t *opts) {
  svc_t *s = xcalloc(1, sizeof *s);
  assistant_t *a = &s->a;
  a->loop = loop;
  a->store = store;
  a->jobs = jobs;
  a->audit = audit;
  a->ring = ring;
  a->chain = policy_default_chain();
  a->reasons = reasons_new();
  set_opts(a, opts);
  return a;
}

static void sweep_cb(uv_timer_t *t);

void assistant_reconfigure(assistant_t *a, const assistant_opts_t *opts) {
  int64_t old_horizon = a->horizon_days;
  set_opts(a, opts);
  log_kv(LOG_INFO, "assistant", "reminders reconfigured", "email_notifier",
         a->email_notifier, "call_notifier", a->call_notifier, NULL);
  /* A longer horizon brings events in: plan them now, not in an hour. */
  svc_t *s = svc_of(a);
  if (s->started && a->horizon_days > old_horizon && s->sweep_on)
    uv_timer_start(&s->sweep, sweep_cb, 0, SWEEP_MS);
}

/* ---------------- the sweep ---------------- */

static void swept(void *ud, int status, const plans_stats_t *st) {
  svc_t *s = ud;
  s->sweeping = 0;
  if (status == 0 && st->events > 0) {
    char n[24], p[24];
    snprintf(n, sizeof n, "%" PRId64, st->events);
    snprintf(p, sizeof p, "%" PRId64, st->planned);
    log_kv(LOG_INFO, "assistant", "planned events entering the horizon",
           "#events", n, "#planned", p, NULL);
  }
}

static void sweep_cb(uv_timer_t *t) {
  svc_t *s = t->data;
  if (s->sweeping || s->a.closing) return;
  s->sweeping = 1;
  plans_plan_unplanned(&s->a, 0, swept, s);
}

int assistant_start(assistant_t *a) {
  svc_t *s = svc_of(a);
  if (s->started) return 0;
  int rc = outbox_start(a);
  if (rc != 0) return rc;
  s->started = 1;
  uv_timer_init(a->loop, &s->sweep);
  s->sweep.data = s;
  s->sweep_on = 1;
  uv_timer_start(&s->sweep, sweep_cb, 0, SWEEP_MS);
  log_kv(LOG_INFO, "assistant", "reminders started", "email_notifier",
         a->email_notifier, "call_notifier", a->call_notifier, NULL);
  return 0;
}

/* ---------------- lifetime ---------------- */

static void finish_close(assistant_t *a) {
  void (*cb)(void *) = a->close_cb;
  void *arg = a->close_arg;
  free(a->public_url);
  free(a->email_notifier);
  free(a->call_notifier);
  free(a->from_email);
  free(a->from_name);
  reasons_free(a->reasons);
  free(svc_of(a));
  if (cb) cb(arg);
}

void assistant_hold(assistant_t *a) {
  a->pending++;
}

void assistant_release(assistant_t *a) {
  if (a->pending > 0) a->pending--;
  if (a->closing == 2 && a->pending == 0) finish_close(a);
}

static void sweep_closed(uv_handle_t *h) {
  svc_t *s = h->data;
  assistant_release(&s->a);
}

void assistant_close(assistant_t *a, void (*cb)(void *arg), void *arg) {
  svc_t *s = svc_of(a);
  a->closing = 1;
  a->close_cb = cb;
  a->close_arg = arg;
  assistant_hold(a); /* until the end of this function */
  if (s->sweep_on) {
    assistant_hold(a);
    uv_close((uv_handle_t *)&s->sweep, sweep_closed);
    s->sweep_on = 0;
  }
  if (s->started) outbox_stop(a);
  a->closing = 2; /* the last release frees */
  assistant_release(a);
}

/* ---------------- request helpers ---------------- */

int64_t assistant_parse_id(const char *s) {
  if (!s) return -1;
  if (!*s || strlen(s) > 18) return -2;
  int64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -2;
    v = v * 10 + (*p - '0');
  }
  return v;
}

/* ---------------- routes ---------------- */

int assistant_add_routes(assistant_t *a, router_t *r, auth_t *auth) {
  if (prefs_api_routes(a, r, auth) != 0) return -1;
  if (events_api_routes(a, r, auth) != 0) return -1;
  if (deliveries_api_routes(a, r, auth) != 0) return -1;
  return rsvp_routes(a, r);
}
