/*
 * prefs_api.c: GET and PUT /api/users/{id}/preferences (behind the auth
 * gate). A person reads and writes their own; admins anyone's (another
 * person's: 403). PUT replaces the whole record: missing keys take the
 * defaults (prefs.h); every validation error comes back at once (422).
 * A successful PUT stores the canonical JSON, is audited, and re-plans the
 * person's upcoming events before it answers.
 */
#include "assistant/plans.h"

#include "assistant/prefs.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

#include <errno.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const store_stmt_t q_get = {
    "prefs.get", "SELECT email, preferences FROM users WHERE id = $1", NULL};
static const store_stmt_t q_put = {
    "prefs.put",
    "UPDATE users SET preferences = $2, updated_at = $3 WHERE id = $1", NULL};

#define PREFS_MAX_BODY (64 * 1024)

typedef struct preq {
  assistant_t *a;
  http_request_t *req;
  auth_principal_t p;
  int64_t uid;
  char *body;   /* PUT: the request body (copied) */
  char *canon;  /* PUT: canonical JSON (the answer) */
  char *stored; /* PUT: what is stored: canon without the account e-mail */
  char actor[32], target[32];
} preq_t;

static void preq_free(preq_t *q) {
  assistant_t *a = q->a;
  free(q->body);
  free(q->canon);
  free(q->stored);
  free(q);
  assistant_release(a);
}

static void audit(preq_t *q, const char *outcome, const char *details) {
  if (!q->a->audit) return;
  char subject[24];
  snprintf(subject, sizeof subject, "%" PRId64, q->uid);
  audit_record_t rec = {.actor = q->actor,
                        .action = "preferences.update",
                        .target = q->target,
                        .outcome = outcome,
                        .subject = subject,
                        .details = details};
  audit_svc_append(q->a->audit, &rec, NULL, NULL);
}

static void respond_store_error(http_request_t *req, int status) {
  const char *msg;
  int code = plans_http_status(status, &msg);
  http_respond_error(req, code, msg);
}

static void respond_422(http_request_t *req, const prefs_errors_t *e) {
  buf_t b = {0};
  const char *rid = http_req_id(req);
  buf_puts(&b, "{\"error\":{\"status\":422,\"message\":\"invalid "
               "preferences\",\"request_id\":");
  buf_json_str(&b, rid ? rid : "", rid ? strlen(rid) : 0);
  buf_puts(&b, "},\"errors\":[");
  for (size_t i = 0; i < e->n; i++) {
    if (i) buf_puts(&b, ",");
    buf_json_str(&b, e->msgs[i], strlen(e->msgs[i]));
  }
  buf_puts(&b, "]}");
  http_respond_json(req, 422, b.data, b.len);
  buf_free(&b);
}

/* ---- GET ---- */

static void got(store_t *s, int status, const char *errmsg, store_res_t *res,
                void *arg) {
  (void)s;
  (void)errmsg;
  preq_t *q = arg;
  if (status != 0) {
    respond_store_error(q->req, status);
  } else if (store_res_rows(res, 0) < 1) {
    http_respond_error(q->req, 404, "no such user");
  } else {
    prefs_t p;
    prefs_load(store_res_text(res, 0, 0, 1), store_res_text(res, 0, 0, 0), &p);
    char *json = prefs_to_json(&p);
    prefs_free(&p);
    http_respond_json(q->req, 200, json, strlen(json));
    free(json);
  }
  preq_free(q);
}

/* ---- PUT ---- */

/* The stored form: the canonical JSON without "email" when it is the
 * account's own address, so that the account's current address applies
 * (and a changed account e-mail is not shadowed by an old copy). */
static char *stored_json(const char *canon, const char *account_email) {
  json_object *o = json_tokener_parse(canon), *e;
  if (!o) return xstrdup(canon);
  if (json_object_object_get_ex(o, "email", &e) &&
      json_object_is_type(e, json_type_string) &&
      strcmp(json_object_get_string(e), account_email) == 0)
    json_object_object_del(o, "email");
  char *out =
      xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  json_object_put(o);
  return out;
}

static void replanned(void *ud, int status) {
  preq_t *q = ud;
  if (status != 0)
    log_kv(LOG_WARN, "assistant",
           "re-planning after a preferences change "
           "failed; the sweep retries",
           NULL);
  http_respond_json(q->req, 200, q->canon, strlen(q->canon));
  preq_free(q);
}

static void stored(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  preq_t *q = arg;
  if (status != 0 || store_res_changes(res, 0) < 1) {
    audit(q, "error", NULL);
    if (status == 0)
      http_respond_error(q->req, 404, "no such user");
    else
      respond_store_error(q->req, status);
    preq_free(q);
    return;
  }
  audit(q, "ok", q->canon);
  assistant_replan_user(q->a, q->uid, replanned, q);
}

static void put_loaded(store_t *s, int status, const char *errmsg,
                       store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  preq_t *q = arg;
  if (status != 0) {
    respond_store_error(q->req, status);
    preq_free(q);
    return;
  }
  if (store_res_rows(res, 0) < 1) {
    http_respond_error(q->req, 404, "no such user");
    preq_free(q);
    return;
  }
  prefs_t p;
  prefs_errors_t e = {0};
  if (prefs_parse(q->body, store_res_text(res, 0, 0, 0), &p, &e) != 0) {
    char details[48];
    snprintf(details, sizeof details, "{\"errors\":%zu}", e.n);
    audit(q, "invalid", details);
    respond_422(q->req, &e);
    prefs_errors_free(&e);
    prefs_free(&p);
    preq_free(q);
    return;
  }
  q->canon = prefs_to_json(&p);
  q->stored = stored_json(q->canon, store_res_text(res, 0, 0, 0));
  prefs_free(&p);
  store_req_t *r = store_req_new(q->a->store, 0);
  store_req_stmt(r, &q_put);
  store_req_bind_int(r, q->uid);
  store_req_bind_text(r, q->stored);
  store_req_bind_int(r, store_now_ms());
  store_req_submit(r, stored, q);
}

static preq_t *begin(http_request_t *req, const auth_principal_t *p,
                     assistant_t *a, int write) {
  int64_t uid = assistant_parse_id(http_req_param(req, "id"));
  if (uid <= 0) {
    http_respond_error(req, 400, "expected a user id");
    return NULL;
  }
  if (uid != p->user_id && !auth_principal_is_admin(p)) {
    http_respond_error(req, 403,
                       write ? "you may change only your own preferences"
                             : "you may read only your own preferences");
    return NULL;
  }
  if (a->closing) {
    http_respond_error(req, 503, "the daemon is stopping");
    return NULL;
  }
  assistant_hold(a);
  preq_t *q = xcalloc(1, sizeof *q);
  q->a = a;
  q->req = req;
  q->p = *p;
  q->uid = uid;
  snprintf(q->actor, sizeof q->actor, "user:%" PRId64, p->user_id);
  snprintf(q->target, sizeof q->target, "user:%" PRId64, uid);
  return q;
}

static void h_get(http_request_t *req, const auth_principal_t *p, void *ud) {
  preq_t *q = begin(req, p, ud, 0);
  if (!q) return;
  store_req_t *r = store_req_new(q->a->store, 0);
  store_req_stmt(r, &q_get);
  store_req_bind_int(r, q->uid);
  store_req_submit(r, got, q);
}

static void h_put(http_request_t *req, const auth_principal_t *p, void *ud) {
  size_t len;
  const char *body = http_req_body(req, &len);
  if (!body || len == 0 || memchr(body, '\0', len)) {
    http_respond_error(req, 400, "expected a JSON object");
    return;
  }
  preq_t *q = begin(req, p, ud, 1);
  if (!q) return;
  q->body = xstrndup(body, len);
  store_req_t *r = store_req_new(q->a->store, 0);
  store_req_stmt(r, &q_get);
  store_req_bind_int(r, q->uid);
  store_req_submit(r, put_loaded, q);
}

int prefs_api_routes(assistant_t *a, router_t *r, auth_t *auth) {
  int rc = 0;
  rc |= auth_route_add(auth, r, "GET", "/api/users/{id}/preferences", 0,
                       auth_default_scopes("GET"), h_get, a);
  rc |= auth_route_add(auth, r, "PUT", "/api/users/{id}/preferences",
                       PREFS_MAX_BODY, auth_default_scopes("PUT"), h_put, a);
  return rc ? -1 : 0;
}
