/*
 * plans.h: planning stored events and persisting their plans (plans.c),
 * shared by events.c, prefs_api.c, rsvp.c, assistant.c and the planner
 * bench. A "run" walks a selection of calendar_events in batches (one
 * read request per batch: the events and their stored decisions; the
 * people of a batch not seen yet in the run, with their preferences, in
 * one more request), plans each event with planner_plan on the loop
 * thread (a batch is at most PLANS_BATCH events: about two milliseconds
 * of CPU), and writes the difference to the stored decisions, one
 * transaction per PLANS_WRITE_EVENTS events (or fewer at the end):
 *   - a decision (key: offset_s, channel) the plan has and the store has
 *     not is inserted ("planned", or "skipped" with channel "none");
 *   - a stored decision that is still "planned" (or "cancelled"/"skipped")
 *     and whose time or reason changed is updated (revived when planned
 *     again);
 *   - a stored "planned"/"queued" decision the plan no longer has is
 *     "cancelled"; a stored skipped one is deleted (the plan shows the
 *     current decisions, every one with its reason);
 *   - "done" decisions are history and never touched.
 * The next batches are read while the previous write runs. After each
 * write the outbox is woken with the earliest planned time.
 *
 * Threading: loop thread. Every run holds the assistant (assistant_hold)
 * until its callback has run.
 */
#ifndef ASSIST_PLANS_H
#define ASSIST_PLANS_H

#include "assistant/assistant_int.h"

#include <stddef.h>
#include <stdint.h>

#define PLANS_BATCH 1000
/* A write gathers the decisions of read batches until it holds this many
 * events (or the run has read everything): a commit costs SQLite about
 * as much as planning a few hundred events (tests/bench/planner.sh: 1,000
 * events per transaction take a third more of its time than 5,000). */
#define PLANS_WRITE_EVENTS 5000

typedef struct plans_stats {
  int64_t events;    /* events planned */
  int64_t planned;   /* planned decisions in those plans */
  int64_t skipped;   /* skipped decisions */
  int64_t inserted;  /* rows inserted */
  int64_t updated;   /* rows updated (moved, revived, re-explained) */
  int64_t cancelled; /* rows cancelled */
  int64_t batches;
} plans_stats_t;

/** status: 0 or a store error; st borrowed for the call. */
typedef void (*plans_done_cb)(void *ud, int status, const plans_stats_t *st);

/** Re-plans the given events (ids copied), whatever their dates. */
void plans_replan_ids(assistant_t *a, const int64_t *ids, size_t n,
                      plans_done_cb cb, void *ud);
/** Re-plans a person's events that have not ended and start within the
 * horizon. */
void plans_replan_user(assistant_t *a, int64_t user_id, plans_done_cb cb,
                       void *ud);
/** Plans every event that has no stored decision yet, has not ended and
 * starts within the horizon (start-up and the periodic sweep; the bench).
 * batch: events per store request (0: PLANS_BATCH). */
void plans_plan_unplanned(assistant_t *a, size_t batch, plans_done_cb cb,
                          void *ud);

/* ---- routes (assistant_add_routes) ---- */
int prefs_api_routes(assistant_t *a, router_t *r,
                     auth_t *auth); /* prefs_api.c */
int events_api_routes(assistant_t *a, router_t *r,
                      auth_t *auth);          /* events_api.c */
int rsvp_routes(assistant_t *a, router_t *r); /* rsvp.c */

/* ---- shared helpers (plans.c) ---- */
/** A duration in seconds in the largest unit that divides it: "3d" (3
 * whole days or more), else "48h", "90m", "90s" (out: 32 bytes). */
void plans_fmt_duration(int64_t s, char out[32]);
/** ISO 8601 UTC "2025-03-01T14:00:00Z" (out: 32 bytes). */
void plans_fmt_utc(int64_t ms, char out[32]);
/** ISO 8601 local time with offset in zone tz ("UTC" when unknown):
 * "2025-03-01T15:00:00+01:00" (out: 40 bytes). */
void plans_fmt_local(int64_t ms, const char *tz, char out[40]);
/** Maps a store status to an HTTP status and a message. */
int plans_http_status(int status, const char **msg);

#endif
