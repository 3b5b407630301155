/* assistant_int.h: what the files of core/assistant share. */
#ifndef ASSIST_ASSISTANT_INT_H
#define ASSIST_ASSISTANT_INT_H

#include "assistant/assistant.h"
#include "assistant/planner.h"

#include <stdint.h>
#include <uv.h>

struct assistant {
  uv_loop_t *loop;
  store_t *store;          /* borrowed */
  jobs_t *jobs;            /* borrowed */
  audit_svc_t *audit;      /* borrowed, may be NULL */
  secrets_keyring_t *ring; /* borrowed */
  /* options (owned copies; assistant_reconfigure replaces them) */
  char *public_url, *email_notifier, *call_notifier, *from_email, *from_name;
  int64_t horizon_days, dispatch_interval_ms, rsvp_ttl_s;
  const policy_chain_t *chain; /* the planner's policy (default chain) */
  /* plans.c: bumped when a person's preferences may have changed (runs
   * under way drop the preferences they cached) */
  uint64_t plans_gen;
  struct reasons *reasons; /* plan reason texts -> ids (reasons.h) */
  /* outbox.c */
  uv_timer_t dispatch_timer;
  int64_t next_dispatch_ms; /* when the timer fires next (0: idle) */
  int dispatching;          /* a dispatch pass is running */
  /* lifetime */
  int closing;
  unsigned pending; /* storage requests and sends in flight */
  void (*close_cb)(void *arg);
  void *close_arg;
};

/* ---- outbox.c ---- */
/** Registers "assistant.deliver" and starts the dispatcher timer. */
int outbox_start(assistant_t *a);
/** Stops the timer (close path; the timer handle is closed here). */
void outbox_stop(assistant_t *a);
/** A decision due at due_ms was planned: dispatch earlier if needed. */
void outbox_wake(assistant_t *a, int64_t due_ms);
/* assistant_delivery_event() (assistant.h) is defined in outbox.c. */

/* ---- dryrun.c ---- */
/** The built-in "dry-run" notifier: sends nothing, reports ASSIST_OK with
 * provider message id "dry-run-<delivery id>" (the outbox stores the
 * rendered message on every delivery). Calls done before returning 0. */
int dryrun_send(const assist_message_t *msg, assist_send_done_cb done,
                void *arg);

/* ---- deliveries_api.c ---- */
int deliveries_api_routes(assistant_t *a, router_t *r, auth_t *auth);

/* ---- lifetime helpers (assistant.c) ---- */
/** Counts an asynchronous operation in flight (close waits for it). */
void assistant_hold(assistant_t *a);
/** Ends one; finishes a pending close when it was the last. */
void assistant_release(assistant_t *a);

/* ---- request helpers (assistant.c) ---- */
/** A non-negative decimal id (path or query parameter, at most 18
 * digits): -1 when s is NULL, -2 when malformed. */
int64_t assistant_parse_id(const char *s);

#endif
