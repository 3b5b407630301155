/*
 * events_api.c: the calendar events and their plans, behind the auth gate.
 *
 *   GET /api/events?from=&to=&limit=&after_id=&user_id=
 *       the caller's events starting in [from, to) (ISO 8601 UTC such as
 *       2025-03-01T00:00:00Z, a date, or Unix milliseconds), by id;
 *       admins may pass user_id to see another person's.
 *   GET /api/events/{id}            one event (its owner or an admin;
 *                                   anyone else: 404)
 *   GET /api/events/{id}/plan       every decision with its reason, times
 *                                   in UTC and in the person's zone
 *   GET /api/events/{id}/rsvp       the owner's signed RSVP links
 */
#include "assistant/plans.h"

#include "assistant/prefs.h"
#include "assistant/reasons.h"
#include "assistant/rsvp.h"
#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_COLS                                                             \
  "SELECT e.id, e.user_id, e.source, e.external_id, e.summary, e.location, "   \
  "e.start_at, e.end_at, e.tz, e.all_day, COALESCE(e.start_date, ''), "        \
  "e.organizer, e.status, e.response, e.sequence, e.updated_at, "              \
  "e.description, e.attendees, e.etag, e.ical_uid "

static const store_stmt_t q_list = {
    "events.list",
    EVENT_COLS "FROM calendar_events e WHERE e.user_id = $1 AND "
               "e.start_at >= $2 AND e.start_at < $3 AND e.id > $4 "
               "ORDER BY e.id LIMIT $5",
    NULL};
static const store_stmt_t q_one = {
    "events.get", EVENT_COLS "FROM calendar_events e WHERE e.id = $1", NULL};
static const store_stmt_t q_person = {
    "events.person",
    "SELECT u.email, u.preferences FROM calendar_events e JOIN users u ON "
    "u.id = e.user_id WHERE e.id = $1",
    NULL};
static const store_stmt_t q_decisions = {
    "events.decisions",
    "SELECT id, offset_s, channel, scheduled_at, state, "
    "COALESCE(" REASON_TEXT_OF("n") ", ''), job_id, updated_at "
                                    "FROM notifications n WHERE event_id = $1 "
                                    "ORDER BY offset_s DESC, channel",
    NULL};

enum {
  C_ID,
  C_USER,
  C_SOURCE,
  C_EXT,
  C_SUMMARY,
  C_LOCATION,
  C_START,
  C_END,
  C_TZ,
  C_ALLDAY,
  C_DATE,
  C_ORG,
  C_STATUS,
  C_RESP,
  C_SEQ,
  C_UPDATED,
  C_DESC,
  C_ATT,
  C_ETAG,
  C_UID
};

typedef struct ereq ereq_t;

/* What a GET /api/events/{id}... route answers once its event is found. */
typedef void (*event_show_fn)(ereq_t *q, store_res_t *res);

struct ereq {
  assistant_t *a;
  http_request_t *req;
  auth_principal_t p;
  int64_t limit;
  event_show_fn show;
};

static ereq_t *ereq_new(assistant_t *a, http_request_t *req,
                        const auth_principal_t *p) {
  if (a->closing) {
    http_respond_error(req, 503, "the daemon is stopping");
    return NULL;
  }
  assistant_hold(a);
  ereq_t *q = xcalloc(1, sizeof *q);
  q->a = a;
  q->req = req;
  q->p = *p;
  return q;
}

static void ereq_free(ereq_t *q) {
  assistant_t *a = q->a;
  free(q);
  assistant_release(a);
}

/* The comma before a member, unless it is the first of its object. */
static void member_sep(buf_t *b) {
  if (b->len && b->data[b->len - 1] != '{') buf_puts(b, ",");
}

static void kstr(buf_t *b, const char *k, const char *v) {
  member_sep(b);
  buf_printf(b, "\"%s\":", k);
  buf_json_str(b, v, strlen(v));
}

static void ktime(buf_t *b, const char *k, int64_t ms) {
  char t[32];
  plans_fmt_utc(ms, t);
  member_sep(b);
  buf_printf(b, "\"%s\":\"%s\",\"%s_ms\":%" PRId64, k, t, k, ms);
}

static void event_json(buf_t *b, store_res_t *res, int row, int full) {
  buf_printf(b, "{\"id\":%" PRId64 ",\"user_id\":%" PRId64,
             store_res_int(res, 0, row, C_ID),
             store_res_int(res, 0, row, C_USER));
  kstr(b, "source", store_res_text(res, 0, row, C_SOURCE));
  kstr(b, "external_id", store_res_text(res, 0, row, C_EXT));
  kstr(b, "summary", store_res_text(res, 0, row, C_SUMMARY));
  kstr(b, "location", store_res_text(res, 0, row, C_LOCATION));
  ktime(b, "start_at", store_res_int(res, 0, row, C_START));
  ktime(b, "end_at", store_res_int(res, 0, row, C_END));
  kstr(b, "tz", store_res_text(res, 0, row, C_TZ));
  int all_day = store_res_int(res, 0, row, C_ALLDAY) != 0;
  buf_printf(b, ",\"all_day\":%s,\"start_date\":", all_day ? "true" : "false");
  if (all_day) {
    const char *d = store_res_text(res, 0, row, C_DATE);
    buf_json_str(b, d, strlen(d));
  } else {
    buf_puts(b, "null");
  }
  kstr(b, "organizer", store_res_text(res, 0, row, C_ORG));
  kstr(b, "status", store_res_text(res, 0, row, C_STATUS));
  kstr(b, "response", store_res_text(res, 0, row, C_RESP));
  buf_printf(b, ",\"sequence\":%" PRId64, store_res_int(res, 0, row, C_SEQ));
  ktime(b, "updated_at", store_res_int(res, 0, row, C_UPDATED));
  if (full) {
    kstr(b, "description", store_res_text(res, 0, row, C_DESC));
    kstr(b, "etag", store_res_text(res, 0, row, C_ETAG));
    kstr(b, "ical_uid", store_res_text(res, 0, row, C_UID));
    /* attendees: JSON we wrote ourselves (events.c) */
    const char *att = store_res_text(res, 0, row, C_ATT);
    buf_puts(b, ",\"attendees\":");
    buf_puts(b, *att == '[' ? att : "[]");
  }
  buf_puts(b, "}");
}

static void respond_store_error(http_request_t *req, int status) {
  const char *msg;
  int code = plans_http_status(status, &msg);
  http_respond_error(req, code, msg);
}

/* "2025-03-01T14:00:00Z", "2025-03-01T14:00:00+01:00", "2025-03-01" or
 * Unix milliseconds. -1 when absent, -2 when malformed. */
static int64_t parse_time(const char *s) {
  if (!s) return -1;
  if (!*s) return -2;
  int digits = 1;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9') digits = 0;
  if (digits) return strlen(s) <= 15 ? strtoll(s, NULL, 10) : -2;
  int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return -2;
  const char *rest = s + 10;
  int off = 0;
  if (*rest == 'T' || *rest == ' ') {
    int m = 0;
    if (sscanf(rest + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &m) != 3 || m != 8)
      return -2;
    rest += 1 + m;
    if (*rest == '.') /* fractions are ignored */
      while (*++rest >= '0' && *rest <= '9') {
      }
    if (*rest == 'Z') {
      rest++;
    } else if (*rest == '+' || *rest == '-') {
      int oh, om, k = 0;
      if (sscanf(rest + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5) return -2;
      off = (oh * 3600 + om * 60) * (*rest == '-' ? -1 : 1);
      rest += 1 + k;
    } else {
      return -2;
    }
  }
  if (*rest || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      se > 60 || y < 1970)
    return -2;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = se};
  return ((int64_t)timegm(&tm) - off) * 1000;
}

/* ---------------- GET /api/events ---------------- */

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  ereq_t *q = arg;
  if (status != 0) {
    respond_store_error(q->req, status);
    ereq_free(q);
    return;
  }
  int n = store_res_rows(res, 0);
  buf_t b = {0};
  buf_puts(&b, "{\"events\":[");
  for (int i = 0; i < n; i++) {
    if (i) buf_puts(&b, ",");
    event_json(&b, res, i, 0);
  }
  buf_puts(&b, "],\"next_after_id\":");
  if (n > 0 && n == q->limit)
    buf_printf(&b, "%" PRId64 "}", store_res_int(res, 0, n - 1, C_ID));
  else
    buf_puts(&b, "null}");
  http_respond_json(q->req, 200, b.data, b.len);
  buf_free(&b);
  ereq_free(q);
}

static void h_list(http_request_t *req, const auth_principal_t *p, void *ud) {
  assistant_t *a = ud;
  int64_t from = parse_time(http_req_query(req, "from"));
  int64_t to = parse_time(http_req_query(req, "to"));
  int64_t limit = assistant_parse_id(http_req_query(req, "limit"));
  int64_t after = assistant_parse_id(http_req_query(req, "after_id"));
  int64_t uid = assistant_parse_id(http_req_query(req, "user_id"));
  if (limit == -1) limit = 100;
  if (after == -1) after = 0;
  if (uid == -1) uid = p->user_id;
  if (from == -2) {
    http_respond_error(req, 400, "from: expected ISO 8601 UTC or ms");
    return;
  }
  if (to == -2) {
    http_respond_error(req, 400, "to: expected ISO 8601 UTC or ms");
    return;
  }
  if (limit < 1 || limit > 1000) {
    http_respond_error(req, 400, "limit: expected 1 to 1000");
    return;
  }
  if (after < 0) {
    http_respond_error(req, 400, "after_id: expected an event id");
    return;
  }
  if (uid <= 0) {
    http_respond_error(req, 400, "user_id: expected a user id");
    return;
  }
  if (uid != p->user_id && !auth_principal_is_admin(p)) {
    http_respond_error(req, 403, "you may list only your own events");
    return;
  }
  ereq_t *q = ereq_new(a, req, p);
  if (!q) return;
  q->limit = limit;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_list);
  store_req_bind_int(r, uid);
  store_req_bind_int(r, from < 0 ? INT64_MIN / 2 : from);
  store_req_bind_int(r, to < 0 ? INT64_MAX / 2 : to);
  store_req_bind_int(r, after);
  store_req_bind_int(r, limit);
  store_req_submit(r, listed, q);
}

/* ---------------- GET /api/events/{id}... ---------------- */

static void event_loaded(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  ereq_t *q = arg;
  if (status != 0)
    respond_store_error(q->req, status);
  else if (store_res_rows(res, 0) < 1 ||
           !auth_principal_owns(&q->p, store_res_int(res, 0, 0, C_USER)))
    http_respond_error(q->req, 404, "no such event"); /* not theirs: 404 */
  else
    q->show(q, res);
  ereq_free(q);
}

/* Loads event {id} (result 0), with its person (1) and decisions (2) for
 * the plan, and hands it to show when the caller may see it. */
static void event_load(http_request_t *req, const auth_principal_t *p,
                       assistant_t *a, int with_plan, event_show_fn show) {
  int64_t id = assistant_parse_id(http_req_param(req, "id"));
  if (id <= 0) {
    http_respond_error(req, 404, "no such event");
    return;
  }
  ereq_t *q = ereq_new(a, req, p);
  if (!q) return;
  q->show = show;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_one);
  store_req_bind_int(r, id);
  if (with_plan) {
    store_req_stmt(r, &q_person);
    store_req_bind_int(r, id);
    store_req_stmt(r, &q_decisions);
    store_req_bind_int(r, id);
  }
  store_req_submit(r, event_loaded, q);
}

static void show_event(ereq_t *q, store_res_t *res) {
  buf_t b = {0};
  event_json(&b, res, 0, 1);
  http_respond_json(q->req, 200, b.data, b.len);
  buf_free(&b);
}

static void h_get(http_request_t *req, const auth_principal_t *p, void *ud) {
  event_load(req, p, ud, 0, show_event);
}

/* ---------------- GET /api/events/{id}/plan ---------------- */

static void show_plan(ereq_t *q, store_res_t *res) {
  /* the person's zone */
  prefs_t pr;
  prefs_load(store_res_text(res, 1, 0, 1), store_res_text(res, 1, 0, 0), &pr);
  char zone[PREFS_TZ_MAX];
  snprintf(zone, sizeof zone, "%s", pr.timezone);
  prefs_free(&pr);
  buf_t b = {0};
  int64_t start = store_res_int(res, 0, 0, C_START);
  char local[40];
  buf_printf(&b, "{\"event_id\":%" PRId64, store_res_int(res, 0, 0, C_ID));
  kstr(&b, "summary", store_res_text(res, 0, 0, C_SUMMARY));
  kstr(&b, "status", store_res_text(res, 0, 0, C_STATUS));
  kstr(&b, "response", store_res_text(res, 0, 0, C_RESP));
  ktime(&b, "start_at", start);
  plans_fmt_local(start, zone, local);
  buf_printf(&b, ",\"start_local\":\"%s\"", local);
  kstr(&b, "timezone", zone);
  buf_puts(&b, ",\"decisions\":[");
  int n = store_res_rows(res, 2);
  for (int i = 0; i < n; i++) {
    int64_t off = store_res_int(res, 2, i, 1);
    int64_t sched = store_res_int(res, 2, i, 3);
    char dur[32];
    plans_fmt_duration(off, dur);
    if (i) buf_puts(&b, ",");
    buf_printf(&b,
               "{\"id\":%" PRId64 ",\"offset_s\":%" PRId64 ",\"offset\":\"%s\"",
               store_res_int(res, 2, i, 0), off, dur);
    kstr(&b, "channel", store_res_text(res, 2, i, 2));
    if (sched > 0) {
      ktime(&b, "scheduled_at", sched);
      plans_fmt_local(sched, zone, local);
      buf_printf(&b, ",\"scheduled_local\":\"%s\"", local);
    } else {
      buf_puts(&b, ",\"scheduled_at\":null,\"scheduled_at_ms\":null,"
                   "\"scheduled_local\":null");
    }
    kstr(&b, "state", store_res_text(res, 2, i, 4));
    kstr(&b, "reason", store_res_text(res, 2, i, 5));
    if (store_res_isnull(res, 2, i, 6))
      buf_puts(&b, ",\"job_id\":null}");
    else
      buf_printf(&b, ",\"job_id\":%" PRId64 "}", store_res_int(res, 2, i, 6));
  }
  buf_puts(&b, "]}");
  http_respond_json(q->req, 200, b.data, b.len);
  buf_free(&b);
}

static void h_plan(http_request_t *req, const auth_principal_t *p, void *ud) {
  event_load(req, p, ud, 1, show_plan);
}

/* ---------------- GET /api/events/{id}/rsvp ---------------- */

static void show_rsvp(ereq_t *q, store_res_t *res) {
  int64_t id = store_res_int(res, 0, 0, C_ID);
  int64_t owner = store_res_int(res, 0, 0, C_USER);
  static const char *const resp[] = {"accepted", "declined", "tentative"};
  buf_t b = {0};
  buf_printf(&b, "{\"event_id\":%" PRId64 ",\"links\":{", id);
  int ok = 1;
  for (int i = 0; i < 3 && ok; i++) {
    char *l = rsvp_link(q->a, id, owner, resp[i]);
    if (!l) {
      ok = 0;
      break;
    }
    kstr(&b, resp[i], l);
    free(l);
  }
  buf_puts(&b, "}}");
  if (ok)
    http_respond_json(q->req, 200, b.data, b.len);
  else
    http_respond_error(q->req, 500, "cannot sign RSVP links");
  buf_free(&b);
}

static void h_rsvp(http_request_t *req, const auth_principal_t *p, void *ud) {
  event_load(req, p, ud, 0, show_rsvp);
}

int events_api_routes(assistant_t *a, router_t *r, auth_t *auth) {
  int rc = 0;
  unsigned rd = auth_default_scopes("GET");
  rc |= auth_route_add(auth, r, "GET", "/api/events", 0, rd, h_list, a);
  rc |= auth_route_add(auth, r, "GET", "/api/events/{id}", 0, rd, h_get, a);
  rc |=
      auth_route_add(auth, r, "GET", "/api/events/{id}/plan", 0, rd, h_plan, a);
  rc |=
      auth_route_add(auth, r, "GET", "/api/events/{id}/rsvp", 0, rd, h_rsvp, a);
  return rc ? -1 : 0;
}
