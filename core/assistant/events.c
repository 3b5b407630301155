/*
 * events.c: calendar_put and calendar_prune (assistant.h). Events are
 * upserted in one transaction keyed by (user_id, "<instance>:<source>",
 * external_id); the statement itself says whether anything changed (etag
 * or content: updated_at moves only then), and the changed events are
 * re-planned (plans.c) before the callback runs. A response the person
 * gave through an RSVP link is kept while the source still reports
 * "needsAction" (an ICS feed cannot learn it).
 */
#include "assistant/plans.h"

#include "auth/auth.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_CHANGED(NE)                                                         \
  "calendar_events.etag <> excluded.etag OR "                                  \
  "calendar_events.ical_uid <> excluded.ical_uid OR "                          \
  "calendar_events.summary <> excluded.summary OR "                            \
  "calendar_events.description <> excluded.description OR "                    \
  "calendar_events.location <> excluded.location OR "                          \
  "calendar_events.start_at <> excluded.start_at OR "                          \
  "calendar_events.end_at <> excluded.end_at OR "                              \
  "calendar_events.tz <> excluded.tz OR "                                      \
  "calendar_events.all_day <> excluded.all_day OR "                            \
  "calendar_events.start_date " NE " excluded.start_date OR "                  \
  "calendar_events.organizer <> excluded.organizer OR "                        \
  "calendar_events.attendees <> excluded.attendees OR "                        \
  "calendar_events.status <> excluded.status OR "                              \
  "calendar_events.sequence <> excluded.sequence OR "                          \
  "(excluded.response <> 'needsAction' AND "                                   \
  "calendar_events.response <> excluded.response)"

#define EV_UPSERT(NE)                                                          \
  "INSERT INTO calendar_events (user_id, source, external_id, etag, "          \
  "ical_uid, summary, description, location, start_at, end_at, tz, all_day, "  \
  "start_date, organizer, attendees, status, response, sequence, sync_id, "    \
  "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "  \
  "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) "                    \
  "ON CONFLICT (user_id, source, external_id) DO UPDATE SET "                  \
  "etag = excluded.etag, ical_uid = excluded.ical_uid, "                       \
  "summary = excluded.summary, description = excluded.description, "           \
  "location = excluded.location, start_at = excluded.start_at, "               \
  "end_at = excluded.end_at, tz = excluded.tz, all_day = excluded.all_day, "   \
  "start_date = excluded.start_date, organizer = excluded.organizer, "         \
  "attendees = excluded.attendees, status = excluded.status, "                 \
  "response = CASE WHEN excluded.response = 'needsAction' THEN "               \
  "calendar_events.response ELSE excluded.response END, "                      \
  "sequence = excluded.sequence, sync_id = excluded.sync_id, "                 \
  "updated_at = CASE WHEN " EV_CHANGED(                                        \
      NE) " THEN excluded.updated_at "                                         \
          "ELSE calendar_events.updated_at END "                               \
          "RETURNING id, updated_at"

static const store_stmt_t q_upsert = {"events.upsert", EV_UPSERT("IS NOT"),
                                      EV_UPSERT("IS DISTINCT FROM")};
static const store_stmt_t q_user = {
    "events.user",
    "SELECT id FROM users WHERE ($1 > 0 AND id = $1) OR ($1 = 0 AND email = "
    "$2)",
    NULL};
static const store_stmt_t q_prune = {
    "events.prune",
    "UPDATE calendar_events SET status = 'cancelled', updated_at = $4 "
    "WHERE user_id = (SELECT id FROM users WHERE ($1 > 0 AND id = $1) OR "
    "($1 = 0 AND email = $5)) AND source = $2 AND sync_id <> $3 "
    "AND status <> 'cancelled' RETURNING id",
    NULL};
static const store_stmt_t q_noop = {"events.noop", "SELECT 1", NULL};

#define MAX_TEXT 1000
#define MAX_DESCRIPTION 8000
#define MAX_BATCH 10000

static int to_assist(int status) {
  if (status == 0 || status == -ECANCELED || status == -ENOENT ||
      status == -EINVAL)
    return status;
  return ASSIST_EIO;
}

/* ---------------- calendar_put ---------------- */

/* One event, normalized and copied. */
typedef struct nev {
  int64_t user_id; /* resolved */
  char email[256]; /* lower-case, when user_id was 0 */
  size_t key;      /* its person in put_t.keys_* */
  char *source, *external_id, *etag, *ical_uid, *summary, *description,
      *location, *tz, *start_date, *organizer, *attendees, *status, *response;
  int64_t start_ms, end_ms, all_day, sequence;
} nev_t;

typedef struct put {
  assistant_t *a;
  nev_t *ev;
  size_t n;
  int64_t sync_id, now;
  int refused;       /* the status a refused call reports (deferred_fail) */
  int64_t *keys_uid; /* distinct persons to resolve */
  char **keys_email;
  size_t nkeys;
  int64_t *changed;
  size_t nchanged;
  void (*cb)(void *ud, int status);
  void *ud;
} put_t;

static void put_free(put_t *p) {
  for (size_t i = 0; i < p->n; i++) {
    nev_t *e = &p->ev[i];
    char **f[] = {&e->source,     &e->external_id, &e->etag,      &e->ical_uid,
                  &e->summary,    &e->description, &e->location,  &e->tz,
                  &e->start_date, &e->organizer,   &e->attendees, &e->status,
                  &e->response};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) free(*f[k]);
  }
  free(p->ev);
  free(p->keys_uid);
  for (size_t i = 0; i < p->nkeys; i++) free(p->keys_email[i]);
  free(p->keys_email);
  free(p->changed);
  free(p);
}

static void put_finish(put_t *p, int status) {
  assistant_t *a = p->a;
  if (p->cb) p->cb(p->ud, to_assist(status));
  put_free(p);
  assistant_release(a);
}

static char *cap_dup(const char *s, size_t max) {
  if (!s) return xstrdup("");
  size_t n = strnlen(s, max);
  /* do not cut a UTF-8 sequence in half */
  while (n > 0 && n == max && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return xstrndup(s, n);
}

static int one_of(const char *s, const char *const *set) {
  for (; *set; set++)
    if (strcmp(s, *set) == 0) return 1;
  return 0;
}

static const char *const ev_states[] = {"confirmed", "tentative", "cancelled",
                                        NULL};
static const char *const responses[] = {"needsAction", "accepted", "declined",
                                        "tentative", NULL};

static int date_ok(const char *d) {
  if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-') return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) return 0;
  return 1;
}

/* Copies and checks one event. Returns NULL or what is wrong. */
static const char *normalize(const char *instance, const assist_cal_event_t *in,
                             nev_t *e) {
  if (!in || in->struct_size < sizeof(assist_cal_event_t))
    return "struct_size too small";
  if (!in->external_id || !*in->external_id ||
      strlen(in->external_id) > MAX_TEXT)
    return "external_id: required, at most 1000 bytes";
  if (in->user_id < 0) return "user_id: negative";
  if (in->user_id == 0) {
    if (!in->user_email ||
        auth_email_normalize(in->user_email, e->email, sizeof e->email) != 0)
      return "user_email: needed (a valid address) when user_id is 0";
  }
  if (in->end_ms < in->start_ms) return "end before start";
  const char *status = in->status ? in->status : "confirmed";
  if (!one_of(status, ev_states))
    return "status: expected confirmed, tentative or cancelled";
  if (in->all_day && !date_ok(in->start_date))
    return "start_date: an all-day event needs YYYY-MM-DD";
  if (in->nattendees > 1000) return "too many attendees";
  const char *src = in->source && *in->source ? in->source : "default";
  if (strlen(src) > 200) return "source: at most 200 bytes";
  e->user_id = in->user_id;
  e->source = xasprintf("%s:%s", instance, src);
  e->external_id = xstrdup(in->external_id);
  e->etag = cap_dup(in->etag, MAX_TEXT);
  e->ical_uid = cap_dup(in->ical_uid, MAX_TEXT);
  e->summary = cap_dup(in->summary, MAX_TEXT);
  e->description = cap_dup(in->description, MAX_DESCRIPTION);
  e->location = cap_dup(in->location, MAX_TEXT);
  e->tz = cap_dup(in->tz && *in->tz ? in->tz : "UTC", 64);
  e->start_date = in->all_day ? xstrdup(in->start_date) : NULL;
  e->organizer = cap_dup(in->organizer, 320);
  e->status = xstrdup(status);
  e->start_ms = in->start_ms;
  e->end_ms = in->end_ms;
  e->all_day = in->all_day ? 1 : 0;
  e->sequence = in->sequence;
  const char *resp = "needsAction";
  buf_t b = {0};
  buf_puts(&b, "[");
  for (size_t i = 0; i < in->nattendees; i++) {
    const assist_cal_attendee_t *at = &in->attendees[i];
    const char *em = at->email ? at->email : "";
    const char *nm = at->name ? at->name : "";
    const char *st = at->status && one_of(at->status, responses)
                         ? at->status
                         : "needsAction";
    if (at->self) resp = st;
    if (i) buf_puts(&b, ",");
    buf_puts(&b, "{\"email\":");
    buf_json_str(&b, em, strnlen(em, 320));
    buf_puts(&b, ",\"name\":");
    buf_json_str(&b, nm, strnlen(nm, 200));
    buf_printf(&b, ",\"status\":\"%s\",\"self\":%s}", st,
               at->self ? "true" : "false");
  }
  buf_puts(&b, "]");
  e->attendees = buf_take(&b);
  e->response = xstrdup(resp);
  return NULL;
}

static void upserted(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg);

static void replanned(void *ud, int status, const plans_stats_t *st) {
  (void)st;
  put_t *p = ud;
  put_finish(p, status);
}

static void resolved(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  put_t *p = arg;
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "calendar_put: cannot resolve users",
           "error", errmsg ? errmsg : "", NULL);
    put_finish(p, status);
    return;
  }
  int64_t *ids = xcalloc(p->nkeys ? p->nkeys : 1, sizeof *ids);
  for (size_t k = 0; k < p->nkeys; k++) {
    if (store_res_rows(res, k) < 1) {
      log_kv(LOG_WARN, "assistant",
             "calendar_put: no account for an event's person; batch refused",
             NULL);
      free(ids);
      put_finish(p, -ENOENT);
      return;
    }
    ids[k] = store_res_int(res, k, 0, 0);
  }
  store_req_t *q = store_req_new(p->a->store, STORE_TXN);
  for (size_t i = 0; i < p->n; i++) {
    nev_t *e = &p->ev[i];
    e->user_id = ids[e->key];
    store_req_stmt(q, &q_upsert);
    store_req_bind_int(q, e->user_id);
    store_req_bind_text(q, e->source);
    store_req_bind_text(q, e->external_id);
    store_req_bind_text(q, e->etag);
    store_req_bind_text(q, e->ical_uid);
    store_req_bind_text(q, e->summary);
    store_req_bind_text(q, e->description);
    store_req_bind_text(q, e->location);
    store_req_bind_int(q, e->start_ms);
    store_req_bind_int(q, e->end_ms);
    store_req_bind_text(q, e->tz);
    store_req_bind_int(q, e->all_day);
    store_req_bind_text(q, e->start_date); /* NULL binds NULL */
    store_req_bind_text(q, e->organizer);
    store_req_bind_text(q, e->attendees);
    store_req_bind_text(q, e->status);
    store_req_bind_text(q, e->response);
    store_req_bind_int(q, e->sequence);
    store_req_bind_int(q, p->sync_id);
    store_req_bind_int(q, p->now);
  }
  free(ids);
  store_req_submit(q, upserted, p);
}

static void upserted(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  put_t *p = arg;
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "calendar_put: cannot store events", "error",
           errmsg ? errmsg : "", NULL);
    put_finish(p, status);
    return;
  }
  p->changed = xcalloc(p->n ? p->n : 1, sizeof *p->changed);
  for (size_t i = 0; i < p->n; i++) {
    if (store_res_rows(res, i) < 1) continue;
    if (store_res_int(res, i, 0, 1) == p->now)
      p->changed[p->nchanged++] = store_res_int(res, i, 0, 0);
  }
  if (p->nchanged == 0) {
    put_finish(p, 0);
    return;
  }
  plans_replan_ids(p->a, p->changed, p->nchanged, replanned, p);
}

static void deferred_fail(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  (void)res;
  put_t *p = arg;
  put_finish(p, status == 0 ? p->refused : status);
}

void assistant_calendar_put(assistant_t *a, const char *instance,
                            const assist_cal_event_t *events, size_t n,
                            int64_t sync_id, void (*cb)(void *ud, int status),
                            void *ud) {
  assistant_hold(a);
  put_t *p = xcalloc(1, sizeof *p);
  p->a = a;
  p->cb = cb;
  p->ud = ud;
  p->sync_id = sync_id;
  p->now = store_now_ms();
  p->ev = xcalloc(n ? n : 1, sizeof *p->ev);
  const char *bad = NULL;
  if (a->closing) {
    bad = "closing";
  } else if (n > MAX_BATCH || (n && !events)) {
    bad = "at most 10000 events per call";
  } else {
    for (size_t i = 0; i < n && !bad; i++) {
      bad = normalize(instance ? instance : "?", &events[i], &p->ev[i]);
      p->n = i + 1;
    }
  }
  if (bad || n == 0) {
    if (bad) {
      char idx[24];
      snprintf(idx, sizeof idx, "%zu", p->n ? p->n - 1 : 0);
      log_kv(LOG_WARN, "assistant", "calendar_put refused", "instance",
             instance ? instance : "", "#index", idx, "error", bad, NULL);
    }
    /* The callback never runs from within this call: go through the
     * store's queue once. */
    p->refused = a->closing ? -ECANCELED : bad ? -EINVAL : 0;
    store_req_t *q = store_req_new(a->store, 0);
    store_req_stmt(q, &q_noop);
    store_req_submit(q, deferred_fail, p);
    return;
  }
  /* distinct persons */
  p->keys_uid = xcalloc(n, sizeof *p->keys_uid);
  p->keys_email = xcalloc(n, sizeof *p->keys_email);
  store_req_t *q = store_req_new(a->store, 0);
  for (size_t i = 0; i < n; i++) {
    nev_t *e = &p->ev[i];
    const char *em = e->user_id ? "" : e->email;
    size_t k = 0;
    while (k < p->nkeys &&
           !(p->keys_uid[k] == e->user_id && strcmp(p->keys_email[k], em) == 0))
      k++;
    e->key = k;
    if (k < p->nkeys) continue;
    p->keys_uid[p->nkeys] = e->user_id;
    p->keys_email[p->nkeys++] = xstrdup(em);
    store_req_stmt(q, &q_user);
    store_req_bind_int(q, e->user_id);
    store_req_bind_text(q, em);
  }
  store_req_submit(q, resolved, p);
}

/* ---------------- calendar_prune ---------------- */

typedef struct prune {
  assistant_t *a;
  int64_t removed;
  void (*cb)(void *ud, int status, int64_t removed);
  void *ud;
} prune_t;

static void prune_finish(prune_t *p, int status) {
  assistant_t *a = p->a;
  if (p->cb) p->cb(p->ud, to_assist(status), status == 0 ? p->removed : 0);
  free(p);
  assistant_release(a);
}

static void prune_replanned(void *ud, int status, const plans_stats_t *st) {
  (void)st;
  prune_finish(ud, status);
}

static void pruned(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  prune_t *p = arg;
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "calendar_prune failed", "error",
           errmsg ? errmsg : "", NULL);
    prune_finish(p, status);
    return;
  }
  int n = store_res_count(res) ? store_res_rows(res, 0) : 0;
  p->removed = n;
  if (n <= 0) {
    prune_finish(p, 0);
    return;
  }
  int64_t *ids = xcalloc((size_t)n, sizeof *ids);
  for (int i = 0; i < n; i++) ids[i] = store_res_int(res, 0, i, 0);
  plans_replan_ids(p->a, ids, (size_t)n, prune_replanned, p);
  free(ids);
}

void assistant_calendar_prune(assistant_t *a, const char *instance,
                              int64_t user_id, const char *user_email,
                              const char *source, int64_t sync_id,
                              void (*cb)(void *ud, int status, int64_t removed),
                              void *ud) {
  assistant_hold(a);
  prune_t *p = xcalloc(1, sizeof *p);
  p->a = a;
  p->cb = cb;
  p->ud = ud;
  char email[256] = "";
  if (user_id == 0 && user_email)
    auth_email_normalize(user_email, email, sizeof email);
  char *src = xasprintf("%s:%s", instance ? instance : "?",
                        source && *source ? source : "default");
  store_req_t *q = store_req_new(a->store, 0);
  store_req_stmt(q, &q_prune);
  store_req_bind_int(q, user_id > 0 ? user_id : 0);
  store_req_bind_text(q, src);
  store_req_bind_int(q, sync_id);
  store_req_bind_int(q, store_now_ms());
  store_req_bind_text(q, email);
  free(src);
  store_req_submit(q, pruned, p);
}

/* ---------------- preferences changed ---------------- */

typedef struct replan_user {
  void (*cb)(void *ud, int status);
  void *ud;
} replan_user_t;

static void user_replanned(void *ud, int status, const plans_stats_t *st) {
  (void)st;
  replan_user_t *r = ud;
  if (r->cb) r->cb(r->ud, status);
  free(r);
}

void assistant_replan_user(assistant_t *a, int64_t user_id,
                           void (*cb)(void *ud, int status), void *ud) {
  replan_user_t *r = xcalloc(1, sizeof *r);
  r->cb = cb;
  r->ud = ud;
  plans_replan_user(a, user_id, user_replanned, r);
}
