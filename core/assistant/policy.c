/*
 * policy.c: the built-in policy chain (planner.h). Each step edits the
 * plan in place and appends a short phrase to the reason of every item it
 * shapes; the phrases are joined with "; ", e.g.
 *   "24h before; email (channel preference); moved 15m earlier for travel"
 *
 * Order and meaning (each step sees what the previous ones did):
 *   status       a cancelled event or a declined invitation: every item
 *                skipped, the chain stops (planner_plan).
 *   base         one item per offset. Whole-day offsets (24h, 48h...) keep
 *                the local wall-clock time of the start (DST-aware; a time
 *                in a spring-forward gap moves forward); other offsets are
 *                absolute. Channel: the preference; "both" calls when the
 *                offset is within the escalation threshold, e-mails before
 *                it. A call needs a phone number, else e-mail.
 *   internal     organizer and every attendee in internal_domains: e-mail
 *                only. When the organizer is also a VIP, the VIP rule wins
 *                (a VIP's meeting is important even when it is internal),
 *                so this step leaves the channel alone then.
 *   vip          organizer in vip_organizers: every item is a call (with a
 *                phone number).
 *   travel       an event with a physical location (not empty, not a URL,
 *                not an online meeting such as Zoom, Google Meet, Teams):
 *                every item moves earlier by travel_buffer.
 *   all_day      an all-day event: the items are replaced by ONE reminder
 *                at all_day_time local on the day before start_date; its
 *                offset is the time from then to the local midnight that
 *                starts the event. Its channel follows base, internal and
 *                VIP for that offset.
 *   weekend      per the preference, on the person's local Saturday and
 *                Sunday: normal; email_only (calls become e-mails); none
 *                (skipped).
 *   quiet_hours  a call inside quiet hours (local time, windows may cross
 *                midnight) moves to one minute before the quiet period
 *                began; when that is not after now (or is a weekend call
 *                the weekend rule forbids), it becomes an e-mail at its
 *                original time. E-mails may be sent in quiet hours.
 *   past         scheduled at or before now: skipped.
 *   guardrails   last, after any advisor step (policy_chain_with): no
 *                call in quiet hours, nothing at or after the start or in
 *                the past, a valid channel, calls only with a phone
 *                number, at most one item per (offset, channel).
 *
 * The steps allocate nothing and keep their zone through tz_get()'s
 * per-thread shortcut, so a plan costs about a microsecond.
 */
#include "assistant/planner.h"
#include "common/tz.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MS 1000LL
#define DAY_S 86400

/* ---- reasons ---- */

/* Appends s at reason + n (n: the current length); returns the new one. */
static size_t r_put(plan_item_t *it, size_t n, const char *s) {
  size_t k = strlen(s);
  if (n + k >= PLAN_REASON_MAX) k = PLAN_REASON_MAX - 1 - n;
  memcpy(it->reason + n, s, k);
  it->reason[n + k] = '\0';
  return n + k;
}

/* One phrase from up to four pieces (NULL: none), "; " before it unless
 * the reason is empty; no printf: the bench plans a million events. */
static void r_phrase(plan_item_t *it, const char *a, const char *b,
                     const char *c, const char *d) {
  size_t n = strnlen(it->reason, PLAN_REASON_MAX - 1);
  if (n) n = r_put(it, n, "; ");
  n = r_put(it, n, a);
  if (b) n = r_put(it, n, b);
  if (c) n = r_put(it, n, c);
  if (d) r_put(it, n, d);
}

static void r_add(plan_item_t *it, const char *s) {
  r_phrase(it, s, NULL, NULL, NULL);
}

static void r_cat(plan_item_t *it, const char *s) {
  r_put(it, strnlen(it->reason, PLAN_REASON_MAX - 1), s);
}

static char *put_uint(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

/* "24h", "30m", "1h30m", "90s" style durations into b (>= 24 bytes). */
static const char *dur_str(int64_t s, char *b) {
  char *p = b;
  if (s < 0) *p++ = '-', s = -s;
  if (s == 0) {
    strcpy(p, "0m");
    return b;
  }
  int64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
  if (h) p = put_uint(p, (uint64_t)h), *p++ = 'h';
  if (m) p = put_uint(p, (uint64_t)m), *p++ = 'm';
  if (sec) p = put_uint(p, (uint64_t)sec), *p++ = 's';
  *p = '\0';
  return b;
}

static const char *hhmm(int min, char *b) {
  b[0] = (char)('0' + min / 600 % 10);
  b[1] = (char)('0' + min / 60 % 10);
  b[2] = ':';
  b[3] = (char)('0' + min % 60 / 10);
  b[4] = (char)('0' + min % 10);
  b[5] = '\0';
  return b;
}

static void skip(plan_item_t *it, const char *why) {
  it->skipped = 1;
  it->channel = CHANNEL_NONE;
  it->scheduled_ms = 0;
  r_add(it, why);
}

/* ---- shared facts ---- */

static const tz_t *zone(const plan_input_t *in) {
  const tz_t *z = tz_get(in->prefs->timezone);
  return z ? z : tz_get("UTC");
}

static int ieq(const char *a, const char *b) {
  return a && b && strcasecmp(a, b) == 0;
}

static int is_vip(const plan_input_t *in) {
  const char *org = in->ev->organizer;
  if (!org || !*org) return 0;
  for (size_t i = 0; i < in->prefs->nvip; i++)
    if (ieq(org, in->prefs->vip_organizers[i])) return 1;
  return 0;
}

static int internal_addr(const prefs_t *p, const char *addr) {
  if (!addr) return 0;
  const char *at = strrchr(addr, '@');
  if (!at) return 0;
  for (size_t i = 0; i < p->ninternal; i++)
    if (ieq(at + 1, p->internal_domains[i])) return 1;
  return 0;
}

static int is_internal(const plan_input_t *in) {
  const plan_event_t *ev = in->ev;
  if (in->prefs->ninternal == 0 || !internal_addr(in->prefs, ev->organizer))
    return 0;
  for (size_t i = 0; i < ev->nattendees; i++)
    if (ev->attendee_emails &&
        !internal_addr(in->prefs, ev->attendee_emails[i]))
      return 0;
  return 1;
}

/* A physical location: not empty, not a URL, not an online meeting. */
static int physical_location(const char *loc) {
  if (!loc) return 0;
  while (isspace((unsigned char)*loc)) loc++;
  if (!*loc) return 0;
  char low[256]; /* the first 255 bytes decide */
  size_t n = 0;
  for (; loc[n] && n < sizeof low - 1; n++)
    low[n] = (char)tolower((unsigned char)loc[n]);
  low[n] = '\0';
  /* One pass: a keyword is only compared where its first letter is. */
  static const char *const online[] = {
      "://",         "www.",        "zoom",       "meet.google",
      "google meet", "hangout",     "teams",      "webex",
      "skype",       "online",      "virtual",    "jitsi",
      "whereby.com", "gotomeeting", "bluejeans",  "conference call",
      "phone call",  "dial-in",     "video call",
  };
  for (size_t p = 0; p < n; p++)
    for (size_t i = 0; i < sizeof online / sizeof online[0]; i++)
      if (online[i][0] == low[p] &&
          strncmp(low + p, online[i], strlen(online[i])) == 0)
        return 0;
  return 1;
}

static int num(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

/* Parses "YYYY-MM-DD". */
static int parse_date(const char *s, int *y, int *m, int *d) {
  if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-') return -1;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return -1;
  *y = num(s, 4), *m = num(s + 5, 2), *d = num(s + 8, 2);
  return *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31 ? 0 : -1;
}

/* The local date an all-day event starts on: start_date, else the date of
 * start_ms in the event's zone (or the person's). */
static void all_day_date(const plan_input_t *in, const tz_t *z, int *y, int *m,
                         int *d) {
  if (parse_date(in->ev->start_date, y, m, d) == 0) return;
  const tz_t *ez = in->ev->tz && *in->ev->tz ? tz_get(in->ev->tz) : NULL;
  tz_local_t l;
  tz_to_local(ez ? ez : z, in->ev->start_ms, &l);
  *y = l.year, *m = l.month, *d = l.day;
}

/* When the event starts for the person: start_ms, or for an all-day event
 * the local midnight (in the person's zone) that starts its date. */
static int64_t start_for_person(const plan_input_t *in, const tz_t *z) {
  if (!in->ev->all_day) return in->ev->start_ms;
  int y, m, d;
  all_day_date(in, z, &y, &m, &d);
  return tz_from_local(z, y, m, d, 0, 0, 0, NULL);
}

static int in_quiet(const prefs_t *p, const tz_local_t *l) {
  if (!p->quiet_enabled) return 0;
  int sod = l->hour * 3600 + l->minute * 60 + l->second;
  int qs = p->quiet_start_min * 60, qe = p->quiet_end_min * 60;
  if (qs < qe) return sod >= qs && sod < qe;
  return sod >= qs || sod < qe;
}

/* The instant the quiet period containing l began. */
static int64_t quiet_began(const prefs_t *p, const tz_t *z,
                           const tz_local_t *l) {
  int sod = l->hour * 3600 + l->minute * 60 + l->second;
  int qs = p->quiet_start_min * 60;
  int day = l->day;
  if (sod < qs) day--; /* crossed midnight: it began the evening before */
  return tz_from_local(z, l->year, l->month, day, p->quiet_start_min / 60,
                       p->quiet_start_min % 60, 0, NULL);
}

/* "quiet hours 22:00-07:00" into b (>= 24 bytes) */
static void quiet_phrase(const prefs_t *p, char *b) {
  char s[8], e[8];
  strcpy(b, "quiet hours ");
  strcat(b, hhmm(p->quiet_start_min, s));
  strcat(b, "-");
  strcat(b, hhmm(p->quiet_end_min, e));
}

static int weekend_day(int wday) {
  return wday == 0 || wday == 6;
}

/* The channel rule of base, internal and VIP for one offset. */
static void choose_channel(const plan_input_t *in, plan_item_t *it) {
  const prefs_t *p = in->prefs;
  const char *why, *thr = NULL;
  char d[24];
  switch (p->channel) {
  case PREFS_CH_CALL:
    it->channel = CHANNEL_CALL;
    why = "call (channel preference)";
    break;
  case PREFS_CH_BOTH:
    thr = dur_str(p->escalation_threshold_s, d);
    if (it->offset_s <= p->escalation_threshold_s) {
      it->channel = CHANNEL_CALL;
      why = "call (within escalation threshold ";
    } else {
      it->channel = CHANNEL_EMAIL;
      why = "email (before escalation threshold ";
    }
    break;
  default:
    it->channel = CHANNEL_EMAIL;
    why = "email (channel preference)";
  }
  if (it->channel == CHANNEL_CALL && !p->phone[0]) {
    it->channel = CHANNEL_EMAIL;
    why = "email (no phone number for a call)";
    thr = NULL;
  }
  r_phrase(it, why, thr, thr ? ")" : NULL, NULL);
}

static void apply_internal(const plan_t *plan, plan_item_t *it) {
  if (!plan->internal) return;
  if (plan->vip) {
    r_add(it, "internal meeting, but the VIP organizer wins");
    return;
  }
  it->channel = CHANNEL_EMAIL;
  r_add(it, "email only (internal meeting)");
}

static void apply_vip(const plan_input_t *in, plan_t *plan, plan_item_t *it) {
  if (!plan->vip) return;
  if (in->prefs->phone[0]) {
    it->channel = CHANNEL_CALL;
    r_add(it, "call (VIP organizer)");
  } else {
    r_add(it, "VIP organizer, but no phone number: email");
  }
}

/* ---- steps ---- */

static int step_status(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  const char *why = NULL;
  if (ieq(in->ev->status, "cancelled"))
    why = "event cancelled";
  else if (ieq(in->ev->response, "declined"))
    why = "invitation declined";
  if (!why) return 0;
  for (size_t i = 0; i < plan->n; i++) skip(&plan->items[i], why);
  return -1;
}

static int step_base(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  const tz_t *z = zone(in);
  int64_t start = in->ev->start_ms;
  tz_local_t sl;
  int have_local = 0;
  plan->internal = is_internal(in);
  plan->vip = is_vip(in);
  plan->has_location = physical_location(in->ev->location);
  for (size_t i = 0; i < plan->n; i++) {
    plan_item_t *it = &plan->items[i];
    if (it->skipped) continue;
    char d[24];
    int64_t off = it->offset_s;
    r_phrase(it, dur_str(off, d), " before", NULL, NULL);
    if (off % DAY_S == 0) {
      /* The same local wall time, off/86400 days earlier. */
      if (!have_local) tz_to_local(z, start, &sl), have_local = 1;
      int adj = 0;
      it->scheduled_ms =
          tz_from_local(z, sl.year, sl.month, sl.day - (int)(off / DAY_S),
                        sl.hour, sl.minute, sl.second, &adj);
      int64_t real = (start - it->scheduled_ms) / MS;
      if (adj) {
        char hm[8];
        r_phrase(it, "local ", hhmm(sl.hour * 60 + sl.minute, hm),
                 " does not exist (DST), moved forward", NULL);
      } else if (real != off) {
        r_phrase(it, "same local time across a DST change (", dur_str(real, d),
                 ")", NULL);
      }
    } else {
      it->scheduled_ms = start - off * MS;
    }
    choose_channel(in, it);
  }
  return 0;
}

static int step_internal(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)in;
  (void)ud;
  for (size_t i = 0; i < plan->n; i++)
    if (!plan->items[i].skipped) apply_internal(plan, &plan->items[i]);
  return 0;
}

static int step_vip(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  for (size_t i = 0; i < plan->n; i++)
    if (!plan->items[i].skipped) apply_vip(in, plan, &plan->items[i]);
  return 0;
}

static int step_travel(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  int64_t buf = in->prefs->travel_buffer_s;
  if (!plan->has_location || buf <= 0 || in->ev->all_day) return 0;
  char d[24];
  dur_str(buf, d);
  for (size_t i = 0; i < plan->n; i++) {
    plan_item_t *it = &plan->items[i];
    if (it->skipped) continue;
    it->scheduled_ms -= buf * MS;
    r_phrase(it, "moved ", d, " earlier for travel", NULL);
  }
  return 0;
}

static int step_all_day(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  if (!in->ev->all_day) return 0;
  const tz_t *z = zone(in);
  int y, m, d;
  all_day_date(in, z, &y, &m, &d);
  int64_t midnight = tz_from_local(z, y, m, d, 0, 0, 0, NULL);
  int am = in->prefs->all_day_min;
  int64_t at = tz_from_local(z, y, m, d - 1, am / 60, am % 60, 0, NULL);
  plan_item_t *it = &plan->items[0];
  memset(it, 0, sizeof *it);
  it->offset_s = (midnight - at) / MS;
  it->scheduled_ms = at;
  char hm[8];
  r_phrase(it, "all-day event: the evening before at ", hhmm(am, hm), NULL,
           NULL);
  choose_channel(in, it);
  apply_internal(plan, it);
  apply_vip(in, plan, it);
  plan->n = 1;
  return 0;
}

static int step_weekend(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  const tz_t *z = zone(in);
  tz_local_t l;
  tz_to_local(z, start_for_person(in, z), &l);
  plan->weekend_event = weekend_day(l.wday);
  prefs_weekend_t w = in->prefs->weekend;
  if (w == PREFS_WEEKEND_NORMAL) return 0;
  for (size_t i = 0; i < plan->n; i++) {
    plan_item_t *it = &plan->items[i];
    if (it->skipped) continue;
    if (w == PREFS_WEEKEND_EMAIL_ONLY && it->channel != CHANNEL_CALL) continue;
    tz_to_local(z, it->scheduled_ms, &l);
    if (!weekend_day(l.wday)) continue;
    if (w == PREFS_WEEKEND_NONE) {
      skip(it, "weekend (no reminders on Saturday and Sunday)");
    } else {
      it->channel = CHANNEL_EMAIL;
      r_add(it, "email (no calls on weekends)");
    }
  }
  return 0;
}

/* A call in quiet hours: one minute before the quiet period began, or an
 * e-mail at its time when that is too late (not after now, or a weekend
 * call the weekend preference forbids). prefix: "" or "guardrail: ". */
static void fix_quiet_call(const plan_input_t *in, const tz_t *z,
                           plan_item_t *it, const char *prefix) {
  tz_local_t l;
  tz_to_local(z, it->scheduled_ms, &l);
  if (!in_quiet(in->prefs, &l)) return;
  char q[40], hm[8];
  quiet_phrase(in->prefs, q);
  int64_t earlier = quiet_began(in->prefs, z, &l) - 60 * MS;
  int ok = earlier > in->now_ms;
  tz_local_t el;
  tz_to_local(z, earlier, &el);
  if (ok && in->prefs->weekend != PREFS_WEEKEND_NORMAL && weekend_day(el.wday))
    ok = 0;
  if (ok && in_quiet(in->prefs, &el)) ok = 0;
  if (ok) {
    it->scheduled_ms = earlier;
    r_phrase(it, prefix, "moved earlier to ",
             hhmm(el.hour * 60 + el.minute, hm), " (");
    r_cat(it, q);
    r_cat(it, ")");
  } else {
    it->channel = CHANNEL_EMAIL;
    r_phrase(it, prefix, "email (a call would fall in ", q, ")");
  }
}

static int step_quiet(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  if (!in->prefs->quiet_enabled) return 0;
  const tz_t *z = zone(in);
  for (size_t i = 0; i < plan->n; i++) {
    plan_item_t *it = &plan->items[i];
    if (!it->skipped && it->channel == CHANNEL_CALL)
      fix_quiet_call(in, z, it, "");
  }
  return 0;
}

static int step_past(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  for (size_t i = 0; i < plan->n; i++) {
    plan_item_t *it = &plan->items[i];
    if (!it->skipped && it->scheduled_ms <= in->now_ms) skip(it, "past");
  }
  return 0;
}

/* Re-checks the hard rules after any advisor step. */
static int step_guardrails(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  const tz_t *z = zone(in);
  if (plan->n > PLAN_MAX_ITEMS) plan->n = PLAN_MAX_ITEMS;
  int64_t start = start_for_person(in, z);
  for (size_t i = 0; i < plan->n; i++) {
    plan_item_t *it = &plan->items[i];
    it->reason[PLAN_REASON_MAX - 1] = '\0';
    if (it->skipped) {
      it->channel = CHANNEL_NONE;
      it->scheduled_ms = 0;
      continue;
    }
    if (it->channel != CHANNEL_EMAIL && it->channel != CHANNEL_CALL) {
      it->channel = CHANNEL_EMAIL;
      r_add(it, "guardrail: email (invalid channel)");
    }
    if (it->channel == CHANNEL_CALL && !in->prefs->phone[0]) {
      it->channel = CHANNEL_EMAIL;
      r_add(it, "guardrail: email (no phone number for a call)");
    }
    if (it->channel == CHANNEL_CALL) fix_quiet_call(in, z, it, "guardrail: ");
    if (it->scheduled_ms >= start)
      skip(it, "guardrail: not at or after the event start");
    else if (it->scheduled_ms <= in->now_ms)
      skip(it, "guardrail: past");
  }
  /* One item per (offset, channel): later duplicates are dropped. */
  size_t w = 0;
  for (size_t i = 0; i < plan->n; i++) {
    int dup = 0;
    for (size_t k = 0; k < w && !dup; k++)
      dup = plan->items[k].offset_s == plan->items[i].offset_s &&
            plan->items[k].channel == plan->items[i].channel;
    if (dup) continue;
    if (w != i) plan->items[w] = plan->items[i];
    w++;
  }
  plan->n = w;
  return 0;
}

static const policy_step_t default_steps[] = {
    {"status", step_status, NULL},     {"base", step_base, NULL},
    {"internal", step_internal, NULL}, {"vip", step_vip, NULL},
    {"travel", step_travel, NULL},     {"all_day", step_all_day, NULL},
    {"weekend", step_weekend, NULL},   {"quiet_hours", step_quiet, NULL},
    {"past", step_past, NULL},         {"guardrails", step_guardrails, NULL},
};

static const policy_chain_t default_chain = {
    default_steps, sizeof default_steps / sizeof default_steps[0]};

const policy_chain_t *policy_default_chain(void) {
  return &default_chain;
}

int policy_chain_with(const policy_step_t *extra, size_t nextra,
                      policy_step_t *storage, size_t cap, policy_chain_t *out) {
  size_t nd = default_chain.nsteps;
  if (!storage || !out || (nextra && !extra) || cap < nd + nextra) return -1;
  for (size_t i = 0; i < nextra; i++)
    if (!extra[i].apply) return -1;
  memcpy(storage, default_steps, (nd - 1) * sizeof *storage);
  if (nextra) memcpy(storage + nd - 1, extra, nextra * sizeof *storage);
  storage[nd - 1 + nextra] = default_steps[nd - 1]; /* guardrails last */
  out->steps = storage;
  out->nsteps = nd + nextra;
  return 0;
}
