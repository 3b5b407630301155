/*
 * planner.c: runs a policy chain (policy.c) over one event. No I/O and no
 * allocation: the plan is written into the caller's plan_t.
 */
#include "assistant/planner.h"

#include <string.h>

const char *channel_name(channel_t c) {
  switch (c) {
  case CHANNEL_EMAIL:
    return "email";
  case CHANNEL_CALL:
    return "call";
  case CHANNEL_NONE:
    break;
  }
  return "none";
}

int planner_plan(const policy_chain_t *chain, const plan_input_t *in,
                 plan_t *out) {
  /* Every field written, without clearing 5 KB of reason text. */
  out->n = 0;
  out->internal = out->vip = out->has_location = out->weekend_event = 0;
  for (size_t i = 0; i < PLAN_MAX_ITEMS; i++) {
    plan_item_t *it = &out->items[i];
    it->offset_s = 0;
    it->channel = CHANNEL_NONE;
    it->scheduled_ms = 0;
    it->skipped = 0;
    it->reason[0] = '\0';
  }
  if (!in || !in->prefs || !in->ev) return 0;
  if (!chain) chain = policy_default_chain();
  /* Every configured offset yields an item; the steps decide the rest. */
  size_t n = in->prefs->noffsets;
  if (n > PREFS_MAX_OFFSETS) n = PREFS_MAX_OFFSETS;
  for (size_t i = 0; i < n; i++)
    out->items[i].offset_s = in->prefs->offsets_s[i];
  out->n = n;
  for (size_t s = 0; s < chain->nsteps; s++) {
    const policy_step_t *st = &chain->steps[s];
    if (st->apply(in, out, st->ud) == 0) continue;
    /* Rejected (cancelled, declined): nothing is sent. */
    if (out->n > PLAN_MAX_ITEMS) out->n = PLAN_MAX_ITEMS;
    for (size_t i = 0; i < out->n; i++) {
      out->items[i].skipped = 1;
      out->items[i].channel = CHANNEL_NONE;
      out->items[i].scheduled_ms = 0;
    }
    break;
  }
  return 0;
}
