/*
 * assistant.h: the appointment-reminder service (DESIGN.md "assistant"):
 * normalized calendar events in, a plan of notifications per event under
 * each person's preferences (planner.h), a delivery outbox drained by
 * durable jobs through notifier providers, RSVP pages.
 *
 * Files (one concept each):
 *   assistant.c   the service object, options, start/close
 *   events.c      calendar_put/prune: upsert normalized events, re-plan
 *   plans.c       persisting plans: diff against the stored decisions
 *                 (key: event, offset, channel), cancel what disappeared
 *   prefs.c       preferences JSON (prefs.h); prefs_api.c the routes
 *   planner.c, policy*.c, tz.c   pure planning (planner.h, tz.h)
 *   outbox.c      due notifications -> jobs -> deliveries -> notifiers
 *   render.c      subject, text, HTML and the ICS REQUEST (render.h)
 *   dryrun.c      the built-in "dry-run" email/call notifier
 *   rsvp.c        signed RSVP links, confirmation pages, POST + CSRF
 *   events_api.c  /api/events, /api/events/{id}, /api/events/{id}/plan,
 *                 /api/events/{id}/rsvp
 *   deliveries_api.c  /api/deliveries, /api/deliveries/{id}
 *
 * Tables: schemas/sql/<backend>/0005_reminders.sql.
 *
 * Flow. calendar_put() upserts events in one transaction and re-plans the
 * changed ones (planner_plan + plans.c) in the same request chain; a
 * cancelled event, a declined RSVP or a removed event cancels its
 * remaining decisions. Preferences changes re-plan the person's upcoming
 * events. The dispatcher (a timer, every dispatch_interval, and woken when
 * a plan gains a decision due sooner) moves planned decisions due within
 * the next interval into durable jobs ("assistant.deliver", idempotency
 * key "notification:<id>"). The job creates the delivery row (UNIQUE per
 * notification: never sent twice), renders the message, marks it
 * "sending", calls the channel's notifier, and records sent/failed with
 * the provider message id; an ambiguous result is recorded as "sent"
 * with the error noted, never resent. Webhooks move deliveries on
 * (delivery_event).
 *
 * Threading: loop thread; storage through core/store (asynchronous).
 */
#ifndef ASSIST_ASSISTANT_H
#define ASSIST_ASSISTANT_H

#include "assist/plugin.h"
#include "audit/audit_svc.h"
#include "auth/auth.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "secrets/secrets.h"
#include "store/store.h"

#include <stdint.h>
#include <uv.h>

typedef struct assistant assistant_t;

/** Options (config section "reminders"); strings copied. */
typedef struct assistant_opts {
  /** Base URL people reach the daemon at, for RSVP links
   * ("http://127.0.0.1:8080"). */
  const char *public_url;
  /** Notifier instance per channel; "dry-run" (the default) records the
   * rendered message without sending. */
  const char *email_notifier;
  const char *call_notifier;
  const char *from_email; /* sender of reminder e-mails */
  const char *from_name;
  int64_t horizon_days;         /* plan events starting within [60] */
  int64_t dispatch_interval_ms; /* [30000] */
  int64_t rsvp_ttl_s;           /* RSVP link lifetime [14 days] */
} assistant_opts_t;

/** Every pointer borrowed; they must outlive the service. */
assistant_t *assistant_new(uv_loop_t *loop, store_t *store, jobs_t *jobs,
                           audit_svc_t *audit, secrets_keyring_t *ring,
                           const assistant_opts_t *opts);
/** Applies new options (a reload). */
void assistant_reconfigure(assistant_t *a, const assistant_opts_t *opts);
/** Registers its job kinds and starts the dispatcher (after jobs_new,
 * before jobs_start). */
int assistant_start(assistant_t *a);
/** Stops the dispatcher, waits for pending storage requests, frees; then
 * cb (may be NULL). */
void assistant_close(assistant_t *a, void (*cb)(void *arg), void *arg);

/** Adds the REST API (behind auth) and the public RSVP pages to r. */
int assistant_add_routes(assistant_t *a, router_t *r, auth_t *auth);

/* ---- what the plugin host API forwards (core/plugin/host_assistant.c).
 * instance: the calling instance's name (the source prefix). Callbacks
 * run on the loop thread, exactly once. ---- */

void assistant_calendar_put(assistant_t *a, const char *instance,
                            const assist_cal_event_t *events, size_t n,
                            int64_t sync_id, void (*cb)(void *ud, int status),
                            void *ud);
void assistant_calendar_prune(assistant_t *a, const char *instance,
                              int64_t user_id, const char *user_email,
                              const char *source, int64_t sync_id,
                              void (*cb)(void *ud, int status, int64_t removed),
                              void *ud);
void assistant_delivery_event(assistant_t *a, const char *instance,
                              const assist_delivery_event_t *ev,
                              void (*cb)(void *ud, int status), void *ud);

/** Re-plans the upcoming events of one person (preferences changed). */
void assistant_replan_user(assistant_t *a, int64_t user_id,
                           void (*cb)(void *ud, int status), void *ud);

#endif
