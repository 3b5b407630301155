/*
 * deliveries_api.c: the delivery outbox over REST, behind the auth gate.
 *
 *   GET /api/deliveries ?state=&event_id=&user_id=&after_id=&limit=
 *       a page of deliveries by id (without bodies): a person sees their
 *       own, an admin everyone's (user_id filters, admins only);
 *       next_after_id continues the listing.
 *   GET /api/deliveries/{id}
 *       one delivery with the rendered content (subject, body_text,
 *       body_html, ics) and its webhook events; another person's is 404.
 */
#include "assistant/assistant_int.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_COLS                                                              \
  "id, notification_id, event_id, user_id, channel, notifier, state,"          \
  " attempts, provider_message_id, recipient, subject, last_error,"            \
  " created_at, updated_at"

/* $1 after id, $2 state or '', $3 event id or 0, $4 user id or 0,
 * $5 limit */
static const store_stmt_t q_list = {
    "deliveries_list",
    "SELECT " LIST_COLS " FROM deliveries WHERE id > $1"
    " AND ($2 = '' OR state = $2) AND ($3 = 0 OR event_id = $3)"
    " AND ($4 = 0 OR user_id = $4) ORDER BY id LIMIT $5",
    "SELECT " LIST_COLS " FROM deliveries WHERE id > $1"
    " AND ($2::text = '' OR state = $2::text)"
    " AND ($3::bigint = 0 OR event_id = $3::bigint)"
    " AND ($4::bigint = 0 OR user_id = $4::bigint) ORDER BY id LIMIT $5"};

/* $1 id */
static const store_stmt_t q_get = {"deliveries_get",
                                   "SELECT " LIST_COLS
                                   ", body_text, body_html, ics FROM deliveries"
                                   " WHERE id = $1",
                                   NULL};

/* $1 id */
static const store_stmt_t q_get_events = {
    "deliveries_get_events",
    "SELECT provider_event_id, state, detail, at FROM delivery_events"
    " WHERE delivery_id = $1 ORDER BY at, provider_event_id LIMIT 200",
    NULL};

static const char *const states[] = {"planned",   "sending",  "sent",
                                     "delivered", "opened",   "bounced",
                                     "failed",    "cancelled"};

static void kstr(buf_t *b, const char *key, const char *v, int null) {
  buf_printf(b, ",\"%s\":", key);
  if (null)
    buf_puts(b, "null");
  else
    buf_json_str(b, v, strlen(v));
}

/* One row of q_list's columns (and the content when full). */
static void row_json(buf_t *b, store_res_t *res, int row, int full) {
  buf_printf(b,
             "{\"id\":%" PRId64 ",\"notification_id\":%" PRId64
             ",\"event_id\":%" PRId64 ",\"user_id\":%" PRId64,
             store_res_int(res, 0, row, 0), store_res_int(res, 0, row, 1),
             store_res_int(res, 0, row, 2), store_res_int(res, 0, row, 3));
  kstr(b, "channel", store_res_text(res, 0, row, 4), 0);
  kstr(b, "notifier", store_res_text(res, 0, row, 5), 0);
  kstr(b, "state", store_res_text(res, 0, row, 6), 0);
  buf_printf(b, ",\"attempts\":%" PRId64, store_res_int(res, 0, row, 7));
  kstr(b, "provider_message_id", store_res_text(res, 0, row, 8),
       store_res_isnull(res, 0, row, 8));
  kstr(b, "recipient", store_res_text(res, 0, row, 9), 0);
  kstr(b, "subject", store_res_text(res, 0, row, 10), 0);
  kstr(b, "last_error", store_res_text(res, 0, row, 11),
       store_res_isnull(res, 0, row, 11));
  buf_printf(b, ",\"created_at\":%" PRId64 ",\"updated_at\":%" PRId64,
             store_res_int(res, 0, row, 12), store_res_int(res, 0, row, 13));
  if (full) {
    kstr(b, "body_text", store_res_text(res, 0, row, 14), 0);
    kstr(b, "body_html", store_res_text(res, 0, row, 15), 0);
    kstr(b, "ics", store_res_text(res, 0, row, 16), 0);
  }
}

static void respond_buf(http_request_t *req, int status, buf_t *b) {
  http_respond_json(req, status, b->data ? b->data : "{}", b->len);
  buf_free(b);
}

static void store_error(http_request_t *req, int status) {
  if (status == -ENOTCONN || status == -ECANCELED)
    http_respond_error(req, 503, "the database is unreachable");
  else
    http_respond_error(req, 500, "database error");
}

/* ---------------- GET /api/deliveries ---------------- */

typedef struct list_req {
  assistant_t *a;
  http_request_t *req;
  int limit;
} list_req_t;

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s, (void)errmsg;
  list_req_t *lr = arg;
  assistant_t *a = lr->a;
  if (status < 0) {
    store_error(lr->req, status);
  } else {
    int rows = store_res_rows(res, 0);
    buf_t b = {0};
    buf_puts(&b, "{\"deliveries\":[");
    for (int i = 0; i < rows; i++) {
      if (i) buf_puts(&b, ",");
      row_json(&b, res, i, 0);
      buf_puts(&b, "}");
    }
    buf_puts(&b, "],\"next_after_id\":");
    if (rows > 0 && rows == lr->limit)
      buf_printf(&b, "%" PRId64 "}", store_res_int(res, 0, rows - 1, 0));
    else
      buf_puts(&b, "null}");
    respond_buf(lr->req, 200, &b);
  }
  free(lr);
  assistant_release(a);
}

static void list_h(http_request_t *req, const auth_principal_t *p, void *ud) {
  assistant_t *a = ud;
  if (a->closing) {
    http_respond_error(req, 503, "the daemon is stopping");
    return;
  }
  const char *state = http_req_query(req, "state");
  int64_t event_id = assistant_parse_id(http_req_query(req, "event_id"));
  int64_t user_id = assistant_parse_id(http_req_query(req, "user_id"));
  int64_t after = assistant_parse_id(http_req_query(req, "after_id"));
  int64_t limit = assistant_parse_id(http_req_query(req, "limit"));
  if (state && *state) {
    int ok = 0;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
      ok |= strcmp(states[i], state) == 0;
    if (!ok) {
      http_respond_error(req, 400,
                         "state: expected planned, sending, sent, delivered, "
                         "opened, bounced, failed or cancelled");
      return;
    }
  }
  if (event_id == -2) {
    http_respond_error(req, 400, "event_id: expected an event id");
    return;
  }
  if (user_id == -2) {
    http_respond_error(req, 400, "user_id: expected a user id");
    return;
  }
  if (after == -2) {
    http_respond_error(req, 400, "after_id: expected a delivery id");
    return;
  }
  if (limit == -2 || limit == 0 || limit > 1000) {
    http_respond_error(req, 400, "limit: expected 1 to 1000");
    return;
  }
  if (!auth_principal_is_admin(p)) {
    /* A person sees their own deliveries only. */
    if (user_id > 0 && user_id != p->user_id) {
      http_respond_error(req, 403, "user_id: only admins list others");
      return;
    }
    user_id = p->user_id;
  }
  list_req_t *lr = xcalloc(1, sizeof *lr);
  lr->a = a;
  lr->req = req;
  lr->limit = limit < 0 ? 100 : (int)limit;
  assistant_hold(a);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_list);
  store_req_bind_int(r, after < 0 ? 0 : after);
  store_req_bind_text(r, state ? state : "");
  store_req_bind_int(r, event_id < 0 ? 0 : event_id);
  store_req_bind_int(r, user_id < 0 ? 0 : user_id);
  store_req_bind_int(r, lr->limit);
  store_req_submit(r, listed, lr);
}

/* ---------------- GET /api/deliveries/{id} ---------------- */

typedef struct get_req {
  assistant_t *a;
  http_request_t *req;
  auth_principal_t p;
} get_req_t;

static void got(store_t *s, int status, const char *errmsg, store_res_t *res,
                void *arg) {
  (void)s, (void)errmsg;
  get_req_t *g = arg;
  assistant_t *a = g->a;
  if (status < 0) {
    store_error(g->req, status);
  } else if (store_res_rows(res, 0) == 0 ||
             !auth_principal_owns(&g->p, store_res_int(res, 0, 0, 3))) {
    http_respond_error(g->req, 404, "no such delivery");
  } else {
    buf_t b = {0};
    row_json(&b, res, 0, 1);
    buf_puts(&b, ",\"events\":[");
    int n = store_res_rows(res, 1);
    for (int i = 0; i < n; i++) {
      buf_puts(&b, i ? ",{" : "{");
      buf_puts(&b, "\"provider_event_id\":");
      const char *v = store_res_text(res, 1, i, 0);
      buf_json_str(&b, v, strlen(v));
      kstr(&b, "state", store_res_text(res, 1, i, 1), 0);
      kstr(&b, "detail", store_res_text(res, 1, i, 2), 0);
      buf_printf(&b, ",\"at\":%" PRId64 "}", store_res_int(res, 1, i, 3));
    }
    buf_puts(&b, "]}");
    respond_buf(g->req, 200, &b);
  }
  free(g);
  assistant_release(a);
}

static void get_h(http_request_t *req, const auth_principal_t *p, void *ud) {
  assistant_t *a = ud;
  if (a->closing) {
    http_respond_error(req, 503, "the daemon is stopping");
    return;
  }
  int64_t id = assistant_parse_id(http_req_param(req, "id"));
  if (id <= 0) {
    http_respond_error(req, 400, "expected a delivery id");
    return;
  }
  get_req_t *g = xcalloc(1, sizeof *g);
  g->a = a;
  g->req = req;
  g->p = *p;
  assistant_hold(a);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_get);
  store_req_bind_int(r, id);
  store_req_stmt(r, &q_get_events);
  store_req_bind_int(r, id);
  store_req_submit(r, got, g);
}

int deliveries_api_routes(assistant_t *a, router_t *r, auth_t *auth) {
  unsigned read = auth_default_scopes("GET");
  if (auth_route_add(auth, r, "GET", "/api/deliveries", 0, read, list_h, a) !=
          0 ||
      auth_route_add(auth, r, "GET", "/api/deliveries/{id}", 0, read, get_h,
                     a) != 0)
    return -1;
  return 0;
}
