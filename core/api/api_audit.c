/* api_audit.c: /api/audit: list, GDPR export and erasure. The audit log
 * is read and written on the audit thread (audit_svc); JSON is built
 * there too, and the loop only sends it. */
#include "api/api_int.h"

#include "common/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 500

typedef struct audit_req {
  http_request_t *req;
  char actor[API_ACTOR_MAX];    /* who acts ("user:<id>") */
  char *subject, *action, *who; /* filters (owned) */
  int64_t after;
  int limit;
  /* results, filled on the audit thread */
  buf_t out;
  int status; /* HTTP status to send */
  const char *err;
} audit_req_t;

static void audit_req_free(audit_req_t *a) {
  free(a->subject);
  free(a->action);
  free(a->who);
  buf_free(&a->out);
  free(a);
}

static int audit_http(int status) {
  switch (status) {
  case -ENOTCONN:
  case -ECANCELED:
    return 503;
  case -ENOENT:
    return 404;
  default:
    return 500;
  }
}

static const char *audit_msg(int status) {
  switch (status) {
  case -ENOTCONN:
    return "the audit database is unreachable";
  case -ECANCELED:
    return "the daemon is stopping";
  case AUDIT_EHEAD:
    return "the audit log does not verify (head record); run "
           "assistd audit verify";
  default:
    return "audit log error";
  }
}

static void finished(int status, void *arg) {
  audit_req_t *a = arg;
  if (status < 0)
    http_respond_error(a->req, a->status ? a->status : audit_http(status),
                       a->err ? a->err : audit_msg(status));
  else
    http_respond_json(a->req, a->status ? a->status : 200, a->out.data,
                      a->out.len);
  audit_req_free(a);
}

/* ---------------- GET /api/audit ---------------- */

typedef struct list_state {
  audit_req_t *a;
  int matched, rows;
  int64_t last_seq;
} list_state_t;

static void time_iso(int64_t ms, char out[40]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%03dZ", (int)(ms % 1000));
}

static void kstr(buf_t *b, const char *k, const char *v) {
  buf_printf(b, ",\"%s\":", k);
  buf_json_str(b, v, strlen(v));
}

static int list_cb(void *arg, const audit_row_t *row, const char *details,
                   int err) {
  list_state_t *ls = arg;
  audit_req_t *a = ls->a;
  ls->rows++;
  ls->last_seq = row->seq;
  if (a->action && strcmp(a->action, row->action) != 0) return 0;
  if (a->who && strcmp(a->who, row->actor) != 0) return 0;
  buf_t *b = &a->out;
  if (ls->matched++) buf_puts(b, ",");
  char when[40];
  time_iso(row->time_ms, when);
  buf_printf(b, "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"time_ms\":%" PRId64,
             row->seq, when, row->time_ms);
  kstr(b, "actor", row->actor);
  kstr(b, "action", row->action);
  kstr(b, "target", row->target);
  kstr(b, "outcome", row->outcome);
  kstr(b, "subject", row->subject);
  if (details) {
    kstr(b, "details", details);
  } else {
    buf_puts(b, ",\"details\":null");
    kstr(b, "details_error",
         err == AUDIT_EERASED ? "erased" : secrets_strerror(err));
  }
  buf_puts(b, "}");
  return ls->matched >= a->limit ? 1 : 0;
}

static int list_work(audit_log_t *log, void *arg) {
  audit_req_t *a = arg;
  list_state_t ls = {.a = a};
  buf_puts(&a->out, "{\"entries\":[");
  int64_t from = a->after + 1;
  for (;;) {
    ls.rows = 0;
    int rc = audit_list(log, from, a->subject, CHUNK, list_cb, &ls);
    if (rc < 0) return rc;
    if (ls.matched >= a->limit || ls.rows < CHUNK) break;
    from = ls.last_seq + 1;
  }
  buf_puts(&a->out, "],\"next_after\":");
  if (ls.matched >= a->limit)
    buf_printf(&a->out, "%" PRId64 "}", ls.last_seq);
  else
    buf_puts(&a->out, "null}");
  return 0;
}

static int filter_ok(const char *s) {
  return s && *s && strlen(s) <= 256;
}

static void audit_list_h(api_call_t *c) {
  if (!c->ctx->audit) {
    http_respond_error(c->req, 503, "the audit log is not available");
    return;
  }
  const char *subject = http_req_query(c->req, "subject");
  const char *action = http_req_query(c->req, "action");
  const char *actor = http_req_query(c->req, "actor");
  int64_t after = api_int(http_req_query(c->req, "after"));
  int64_t limit = api_int(http_req_query(c->req, "limit"));
  if ((subject && !filter_ok(subject)) || (action && !filter_ok(action)) ||
      (actor && !filter_ok(actor))) {
    http_respond_error(c->req, 400,
                       "subject, action and actor: 1 to 256 characters");
    return;
  }
  if (after == -2) {
    http_respond_error(c->req, 400, "after: expected a sequence number");
    return;
  }
  if (limit == -2 || limit == 0 || limit > 1000) {
    http_respond_error(c->req, 400, "limit: expected 1 to 1000");
    return;
  }
  audit_req_t *a = xcalloc(1, sizeof *a);
  a->req = c->req;
  snprintf(a->actor, sizeof a->actor, "%s", c->actor);
  a->subject = subject ? xstrdup(subject) : NULL;
  a->action = action ? xstrdup(action) : NULL;
  a->who = actor ? xstrdup(actor) : NULL;
  a->after = after < 0 ? 0 : after;
  a->limit = limit < 0 ? 100 : (int)limit;
  audit_svc_submit(c->ctx->audit, list_work, finished, a);
}

/* ---------------- export ---------------- */

static int export_work(audit_log_t *log, void *arg) {
  audit_req_t *a = arg;
  char *json = NULL;
  int rc = audit_export_subject(log, a->subject, &json);
  audit_record_t rec = {.actor = a->actor,
                        .action = "audit.export_subject",
                        .target = a->subject,
                        .outcome = rc == 0 ? "ok" : "error"};
  /* The export is itself audited, in the same thread and order. */
  int arc = audit_append(log, &rec, NULL);
  if (rc < 0) return rc;
  if (arc < 0) {
    free(json);
    return arc; /* an unaudited export is not handed out */
  }
  buf_puts(&a->out, json);
  free(json);
  return 0;
}

static void subject_op(api_call_t *c, audit_svc_work_fn work) {
  if (!c->ctx->audit) {
    http_respond_error(c->req, 503, "the audit log is not available");
    return;
  }
  char *subject = api_param(c->req, "id");
  if (!filter_ok(subject)) {
    free(subject);
    http_respond_error(c->req, 400, "expected a subject id");
    return;
  }
  audit_req_t *a = xcalloc(1, sizeof *a);
  a->req = c->req;
  snprintf(a->actor, sizeof a->actor, "%s", c->actor);
  a->subject = subject;
  audit_svc_submit(c->ctx->audit, work, finished, a);
}

static void audit_export_h(api_call_t *c) {
  subject_op(c, export_work);
}

/* ---------------- erase ---------------- */

static int erase_work(audit_log_t *log, void *arg) {
  audit_req_t *a = arg;
  int rc = audit_erase_subject(log, a->subject, a->actor);
  if (rc == -ENOENT) {
    audit_record_t rec = {.actor = a->actor,
                          .action = "audit.erase_subject",
                          .target = a->subject,
                          .outcome = "not_found"};
    audit_append(log, &rec, NULL);
    a->err = "no key for this subject (never recorded, or already erased)";
    a->status = 404;
    return rc;
  }
  if (rc < 0) return rc;
  buf_puts(&a->out, "{\"subject\":");
  buf_json_str(&a->out, a->subject, strlen(a->subject));
  buf_puts(&a->out, ",\"erased\":true}");
  return 0;
}

static void audit_erase_h(api_call_t *c) {
  subject_op(c, erase_work);
}

int api_audit_routes(router_t *r, api_ctx_t *ctx) {
  int rc = 0;
  rc |= api_route(r, ctx, "GET", "/api/audit", 0, "audit.read", audit_list_h);
  rc |= api_route(r, ctx, "GET", "/api/audit/subjects/{id}/export", 0,
                  "audit.read", audit_export_h);
  rc |= api_route(r, ctx, "POST", "/api/audit/subjects/{id}/erase", 0,
                  "audit.erase", audit_erase_h);
  return rc ? -1 : 0;
}
