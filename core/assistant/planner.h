/*
 * planner.h: the notification planner and its policy chain. Pure
 * functions: no I/O, no loop, no allocation beyond the plan itself, so the
 * same code plans one event after a webhook and a million in the bench,
 * and every rule is a table-driven unit test (tests/unit/assistant).
 *
 * Input: one person's preferences (prefs.h), one normalized event and
 * "now". Output: a plan, one item per decision: every configured offset
 * yields an item, either planned (a channel and a time) or skipped, each
 * with a human-readable reason naming the rules that shaped it.
 *
 * The policy is a chain of steps run in order over the plan. The built-in
 * deterministic steps come first; an advisor step (a later issue's LLM)
 * may then propose changes; the guardrail steps run last and undo any
 * proposal that breaks a hard rule (quiet hours for calls, past times,
 * after the event start, call attempts). Each step appends its part of
 * the reason.
 *
 * Times: UTC milliseconds. Local rules (quiet hours, weekends, the
 * all-day evening reminder, whole-day offsets) are evaluated in the
 * person's time zone through tz.h, so daylight-saving transitions are
 * handled there:
 *   - an offset that is a whole number of days (T-24h, T-48h) keeps the
 *     local wall-clock time: the day before at the same local time, even
 *     when a DST change makes that 23 or 25 hours; a wall time that does
 *     not exist (spring-forward gap) moves forward by the gap; an
 *     ambiguous one (fall-back) takes the first occurrence;
 *   - other offsets (T-2h, T-30m, T-5m) are absolute durations.
 *
 * Threading: any thread; the zone cache in tz.h is thread-safe.
 */
#ifndef ASSIST_PLANNER_H
#define ASSIST_PLANNER_H

#include "assistant/prefs.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
  CHANNEL_NONE = 0, /* skipped decisions */
  CHANNEL_EMAIL = 1,
  CHANNEL_CALL = 2,
} channel_t;

/** "email", "call" or "none". */
const char *channel_name(channel_t c);

/** The event as the planner sees it (strings borrowed). */
typedef struct plan_event {
  int64_t id;
  int64_t start_ms, end_ms;
  int all_day;
  const char *start_date; /* all-day: "YYYY-MM-DD" (local date), else NULL */
  const char *tz;         /* the event's zone (informative) */
  const char *organizer;  /* e-mail or "" */
  const char *const *attendee_emails; /* may be NULL */
  size_t nattendees;
  const char *location; /* "" when none */
  const char *status;   /* "confirmed", "tentative", "cancelled" */
  const char *response; /* the person's: "needsAction", "accepted",
                           "declined", "tentative" */
} plan_event_t;

#define PLAN_REASON_MAX 320
#define PLAN_MAX_ITEMS 16

typedef struct plan_item {
  int64_t offset_s;     /* the nominal offset (key with channel) */
  channel_t channel;    /* CHANNEL_NONE when skipped */
  int64_t scheduled_ms; /* 0 when skipped */
  int skipped;
  char reason[PLAN_REASON_MAX]; /* "; "-separated phrases, step by step */
} plan_item_t;

typedef struct plan {
  plan_item_t items[PLAN_MAX_ITEMS];
  size_t n;
  /* Facts the steps derived, for later steps and the API. */
  int internal, vip, has_location, weekend_event;
} plan_t;

/** What every step sees (borrowed). */
typedef struct plan_input {
  const prefs_t *prefs;
  const plan_event_t *ev;
  int64_t now_ms;
} plan_input_t;

/** One step of the policy chain. apply() edits the plan in place and
 * appends reasons; returns 0, or -1 to reject the event entirely (every
 * item skipped, e.g. cancelled or declined). */
typedef struct policy_step {
  const char *name; /* e.g. "quiet_hours", "advisor", "guardrails" */
  int (*apply)(const plan_input_t *in, plan_t *plan, void *ud);
  void *ud;
} policy_step_t;

typedef struct policy_chain {
  const policy_step_t *steps;
  size_t nsteps;
} policy_chain_t;

/** The built-in chain: base offsets and channel, internal, VIP, travel
 * buffer, all-day, weekend, quiet hours, past, guardrails. Static. */
const policy_chain_t *policy_default_chain(void);

/**
 * Builds a chain with extra steps (e.g. an advisor) inserted before the
 * guardrails: out->steps points into storage (caller-provided, at least
 * policy_default_chain()->nsteps + nextra entries). Returns 0 or -1.
 */
int policy_chain_with(const policy_step_t *extra, size_t nextra,
                      policy_step_t *storage, size_t cap, policy_chain_t *out);

/** Plans one event: runs chain (NULL: the default) over in. out is fully
 * written. Returns 0. */
int planner_plan(const policy_chain_t *chain, const plan_input_t *in,
                 plan_t *out);

#endif
