/* api_jobs.c: /api/jobs and /api/schedules. */
#include "api/api_int.h"

#include "common/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"queued",   "running", "succeeded",
                                     "retrying", "dead",    "cancelled"};

static int state_ok(const char *s) {
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
    if (strcmp(states[i], s) == 0) return 1;
  return 0;
}

static void json_kstr(buf_t *b, const char *key, const char *v) {
  buf_printf(b, "\"%s\":", key);
  if (v)
    buf_json_str(b, v, strlen(v));
  else
    buf_puts(b, "null");
}

static void json_kms(buf_t *b, const char *key, int64_t v) {
  if (v)
    buf_printf(b, ",\"%s\":%" PRId64, key, v);
  else
    buf_printf(b, ",\"%s\":null", key);
}

/* The payload is JSON text: embed it as a value when it parses. */
static void json_payload(buf_t *b, const char *payload) {
  json_tokener *tok = json_tokener_new();
  json_object *v = json_tokener_parse_ex(tok, payload, (int)strlen(payload));
  int whole = v && json_tokener_get_error(tok) == json_tokener_success &&
              json_tokener_get_parse_end(tok) == strlen(payload);
  json_tokener_free(tok);
  json_object_put(v);
  if (whole)
    buf_puts(b, payload);
  else
    buf_json_str(b, payload, strlen(payload));
}

static void job_json(buf_t *b, const jobs_info_t *j) {
  buf_printf(b, "{\"id\":%" PRId64 ",", j->id);
  json_kstr(b, "kind", j->kind);
  buf_puts(b, ",");
  json_kstr(b, "state", j->state);
  buf_puts(b, ",\"payload\":");
  json_payload(b, j->payload ? j->payload : "{}");
  buf_printf(b, ",\"priority\":%d,\"attempts\":%d,\"max_attempts\":%d,",
             j->priority, j->attempts, j->max_attempts);
  json_kstr(b, "idempotency_key", j->idem_key);
  buf_puts(b, ",");
  json_kstr(b, "last_error", j->last_error);
  buf_puts(b, ",");
  json_kstr(b, "lease_owner", j->lease_owner);
  json_kms(b, "run_at", j->run_at);
  json_kms(b, "created_at", j->created_at);
  json_kms(b, "updated_at", j->updated_at);
  json_kms(b, "finished_at", j->finished_at);
  buf_puts(b, "}");
}

static int status_http(int status) {
  switch (status) {
  case -ENOENT:
    return 404;
  case -EINVAL:
    return 400;
  case -ENOTCONN:
  case -ECANCELED:
    return 503;
  default:
    return 500;
  }
}

static const char *status_msg(int status) {
  switch (status) {
  case -ENOTCONN:
    return "the database is unreachable";
  case -ECANCELED:
    return "the daemon is stopping";
  default:
    return "database error";
  }
}

/* ---------------- GET /api/jobs ---------------- */

typedef struct list_req {
  http_request_t *req;
  int limit;
} list_req_t;

static void listed(jobs_t *j, int status, const jobs_info_t *items, size_t n,
                   void *arg) {
  (void)j;
  list_req_t *lr = arg;
  if (status < 0) {
    http_respond_error(lr->req, status_http(status), status_msg(status));
    free(lr);
    return;
  }
  buf_t b = {0};
  buf_puts(&b, "{\"jobs\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) buf_puts(&b, ",");
    job_json(&b, &items[i]);
  }
  buf_puts(&b, "],\"next_after_id\":");
  if (n == (size_t)lr->limit && n > 0)
    buf_printf(&b, "%" PRId64 "}", items[n - 1].id);
  else
    buf_puts(&b, "null}");
  api_respond_buf(lr->req, 200, &b);
  free(lr);
}

static void jobs_list_h(api_call_t *c) {
  if (!c->ctx->jobs) {
    http_respond_error(c->req, 503, "the job engine is not running");
    return;
  }
  const char *state = http_req_query(c->req, "state");
  const char *kind = http_req_query(c->req, "kind");
  int64_t after = api_int(http_req_query(c->req, "after_id"));
  int64_t limit = api_int(http_req_query(c->req, "limit"));
  if (state && !state_ok(state)) {
    http_respond_error(c->req, 400,
                       "state: expected queued, running, succeeded, "
                       "retrying, dead or cancelled");
    return;
  }
  if (kind && (!*kind || strlen(kind) > 64)) {
    http_respond_error(c->req, 400, "kind: expected 1 to 64 characters");
    return;
  }
  if (after == -2) {
    http_respond_error(c->req, 400, "after_id: expected a job id");
    return;
  }
  if (limit == -2 || limit == 0 || limit > 1000) {
    http_respond_error(c->req, 400, "limit: expected 1 to 1000");
    return;
  }
  list_req_t *lr = xcalloc(1, sizeof *lr);
  lr->req = c->req;
  lr->limit = limit < 0 ? 100 : (int)limit;
  jobs_list(c->ctx->jobs, state, kind, after < 0 ? 0 : after, lr->limit, listed,
            lr);
}

/* ---------------- GET /api/jobs/{id} ---------------- */

static void got(jobs_t *j, int status, const jobs_info_t *info, void *arg) {
  (void)j;
  http_request_t *req = arg;
  if (status == -ENOENT) {
    http_respond_error(req, 404, "no such job");
    return;
  }
  if (status < 0) {
    http_respond_error(req, status_http(status), status_msg(status));
    return;
  }
  buf_t b = {0};
  job_json(&b, info);
  api_respond_buf(req, 200, &b);
}

static int64_t job_id(api_call_t *c) {
  int64_t id = api_int(http_req_param(c->req, "id"));
  if (id <= 0) http_respond_error(c->req, 400, "expected a job id");
  return id;
}

static void jobs_get_h(api_call_t *c) {
  if (!c->ctx->jobs) {
    http_respond_error(c->req, 503, "the job engine is not running");
    return;
  }
  int64_t id = job_id(c);
  if (id > 0) jobs_get(c->ctx->jobs, id, got, c->req);
}

/* ---------------- cancel and retry ---------------- */

typedef struct act_req {
  api_call_t call;
  int64_t id;
  int retry;
  char target[32];
} act_req_t;

static void act_got(jobs_t *j, int status, const jobs_info_t *info, void *arg) {
  (void)j;
  act_req_t *a = arg;
  const char *action = a->retry ? "job.retry" : "job.cancel";
  if (status == 0 && info) {
    /* Done: answer with the job as it is now. */
    buf_t b = {0};
    job_json(&b, info);
    api_respond_buf(a->call.req, 200, &b);
  } else {
    http_respond_error(a->call.req, status_http(status), status_msg(status));
  }
  (void)action;
  free(a);
}

/* After -ENOENT from the engine: the job is absent (404) or in a state
 * that does not allow the action (409). */
static void act_explain(jobs_t *j, int status, const jobs_info_t *info,
                        void *arg) {
  (void)j;
  act_req_t *a = arg;
  const char *action = a->retry ? "job.retry" : "job.cancel";
  if (status == -ENOENT) {
    api_audit(&a->call, action, a->target, "not_found", NULL);
    http_respond_error(a->call.req, 404, "no such job");
  } else if (status == 0) {
    char msg[160], details[96];
    snprintf(msg, sizeof msg, "job %" PRId64 " is %s: it cannot be %s", a->id,
             info->state, a->retry ? "retried" : "cancelled");
    snprintf(details, sizeof details, "{\"state\":\"%s\"}", info->state);
    api_audit(&a->call, action, a->target, "conflict", details);
    http_respond_error(a->call.req, 409, msg);
  } else {
    http_respond_error(a->call.req, status_http(status), status_msg(status));
  }
  free(a);
}

static void acted(jobs_t *j, int status, void *arg) {
  act_req_t *a = arg;
  const char *action = a->retry ? "job.retry" : "job.cancel";
  if (status == 0) {
    api_audit(&a->call, action, a->target, "ok", NULL);
    jobs_get(j, a->id, act_got, a);
  } else if (status == -ENOENT) {
    jobs_get(j, a->id, act_explain, a);
  } else {
    api_audit(&a->call, action, a->target, "error", NULL);
    http_respond_error(a->call.req, status_http(status), status_msg(status));
    free(a);
  }
}

static void job_act(api_call_t *c, int retry) {
  if (!c->ctx->jobs) {
    http_respond_error(c->req, 503, "the job engine is not running");
    return;
  }
  int64_t id = job_id(c);
  if (id <= 0) return;
  act_req_t *a = xcalloc(1, sizeof *a);
  a->call = *c;
  a->id = id;
  a->retry = retry;
  snprintf(a->target, sizeof a->target, "job:%" PRId64, id);
  if (retry)
    jobs_retry(c->ctx->jobs, id, acted, a);
  else
    jobs_cancel(c->ctx->jobs, id, acted, a);
}

static void jobs_cancel_h(api_call_t *c) {
  job_act(c, 0);
}
static void jobs_retry_h(api_call_t *c) {
  job_act(c, 1);
}

/* ---------------- schedules ---------------- */

static void sched_json(buf_t *b, const jobs_schedule_info_t *s) {
  buf_puts(b, "{");
  json_kstr(b, "name", s->name);
  buf_puts(b, ",");
  json_kstr(b, "kind", s->kind);
  buf_puts(b, ",\"payload\":");
  json_payload(b, s->payload ? s->payload : "{}");
  if (s->cron) {
    buf_puts(b, ",");
    json_kstr(b, "cron", s->cron);
    buf_puts(b, ",");
    json_kstr(b, "tz", s->tz);
  } else {
    buf_printf(b, ",\"interval_s\":%" PRId64, s->interval_s);
  }
  buf_printf(b, ",\"priority\":%d,\"max_attempts\":%d,\"enabled\":%s",
             s->priority, s->max_attempts, s->enabled ? "true" : "false");
  json_kms(b, "next_fire_at", s->next_fire_at);
  json_kms(b, "last_fire_at", s->last_fire_at);
  buf_puts(b, "}");
}

static void sched_listed(jobs_t *j, int status,
                         const jobs_schedule_info_t *items, size_t n,
                         void *arg) {
  (void)j;
  http_request_t *req = arg;
  if (status < 0) {
    http_respond_error(req, status_http(status), status_msg(status));
    return;
  }
  buf_t b = {0};
  buf_puts(&b, "{\"schedules\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) buf_puts(&b, ",");
    sched_json(&b, &items[i]);
  }
  buf_puts(&b, "]}");
  api_respond_buf(req, 200, &b);
}

static void sched_list_h(api_call_t *c) {
  if (!c->ctx->jobs) {
    http_respond_error(c->req, 503, "the job engine is not running");
    return;
  }
  jobs_schedule_list(c->ctx->jobs, sched_listed, c->req);
}

typedef struct sched_req {
  api_call_t call;
  char *name, *target, *details;
} sched_req_t;

static void sched_req_free(sched_req_t *s) {
  free(s->name);
  free(s->target);
  free(s->details);
  free(s);
}

static int name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 128) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.' ||
          *s == ':'))
      return 0;
  return 1;
}

static void sched_put_done(jobs_t *j, int status, void *arg) {
  (void)j;
  sched_req_t *s = arg;
  if (status == 0) {
    api_audit(&s->call, "schedule.put", s->target, "ok", s->details);
    buf_t b = {0};
    buf_puts(&b, "{\"name\":");
    buf_json_str(&b, s->name, strlen(s->name));
    buf_puts(&b, ",\"saved\":true}");
    api_respond_buf(s->call.req, 200, &b);
  } else if (status == -EINVAL) {
    api_audit(&s->call, "schedule.put", s->target, "invalid", s->details);
    http_respond_error(s->call.req, 400,
                       "invalid schedule: check kind, the cron expression "
                       "and the time zone");
  } else {
    api_audit(&s->call, "schedule.put", s->target, "error", s->details);
    http_respond_error(s->call.req, status_http(status), status_msg(status));
  }
  sched_req_free(s);
}

/* Reads an optional member of a given type; 0 ok, -1 wrong type. */
static int member(json_object *o, const char *key, json_type t,
                  json_object **out) {
  *out = NULL;
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v) || !v) return 0;
  if (!json_object_is_type(v, t)) return -1;
  *out = v;
  return 0;
}

static void sched_put_h(api_call_t *c) {
  if (!c->ctx->jobs) {
    http_respond_error(c->req, 503, "the job engine is not running");
    return;
  }
  char *name = api_param(c->req, "name");
  if (!name_ok(name)) {
    free(name);
    http_respond_error(c->req, 400,
                       "name: expected 1 to 128 characters of "
                       "[A-Za-z0-9_.:-]");
    return;
  }
  size_t len;
  const char *body = http_req_body(c->req, &len);
  json_tokener *tok = json_tokener_new();
  json_object *o = json_tokener_parse_ex(tok, body, (int)len);
  int whole = o && json_tokener_get_error(tok) == json_tokener_success &&
              json_tokener_get_parse_end(tok) == len;
  json_tokener_free(tok);
  json_object *kind, *payload, *interval, *cron, *tz, *prio, *maxa;
  const char *err = NULL;
  if (!whole || !json_object_is_type(o, json_type_object))
    err = "expected a JSON object";
  else if (member(o, "kind", json_type_string, &kind) || !kind)
    err = "kind: required string";
  else if (member(o, "interval_s", json_type_int, &interval))
    err = "interval_s: expected an integer";
  else if (member(o, "cron", json_type_string, &cron))
    err = "cron: expected a string";
  else if (member(o, "tz", json_type_string, &tz))
    err = "tz: expected a string";
  else if (member(o, "priority", json_type_int, &prio))
    err = "priority: expected an integer";
  else if (member(o, "max_attempts", json_type_int, &maxa))
    err = "max_attempts: expected an integer";
  else if (!interval == !cron)
    err = "set exactly one of interval_s and cron";
  else if (interval && json_object_get_int64(interval) <= 0)
    err = "interval_s: must be positive";
  else if (maxa && (json_object_get_int64(maxa) < 1 ||
                    json_object_get_int64(maxa) > 1000))
    err = "max_attempts: expected 1 to 1000";
  else if (tz && !cron)
    err = "tz: only with cron";
  if (err) {
    json_object_put(o);
    free(name);
    http_respond_error(c->req, 400, err);
    return;
  }
  json_object_object_get_ex(o, "payload", &payload);
  const char *ptext = NULL;
  if (payload && json_object_is_type(payload, json_type_string))
    ptext = json_object_get_string(payload);
  else if (payload)
    ptext = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
  jobs_schedule_t spec = {
      .name = name,
      .kind = json_object_get_string(kind),
      .payload = ptext,
      .interval_s = interval ? json_object_get_int64(interval) : 0,
      .cron = cron ? json_object_get_string(cron) : NULL,
      .tz = tz ? json_object_get_string(tz) : NULL,
      .priority = prio ? json_object_get_int(prio) : 0,
      .max_attempts = maxa ? json_object_get_int(maxa) : 0,
  };
  sched_req_t *s = xcalloc(1, sizeof *s);
  s->call = *c;
  s->name = name;
  s->target = xasprintf("schedule:%s", name);
  s->details =
      xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  jobs_schedule_put(c->ctx->jobs, &spec, sched_put_done, s);
  json_object_put(o);
}

static void sched_deleted(jobs_t *j, int status, void *arg) {
  (void)j;
  sched_req_t *s = arg;
  if (status == 0) {
    api_audit(&s->call, "schedule.delete", s->target, "ok", NULL);
    http_respond(s->call.req, 204, NULL, 0, NULL, 0);
  } else if (status == -ENOENT) {
    http_respond_error(s->call.req, 404, "no such schedule");
  } else {
    api_audit(&s->call, "schedule.delete", s->target, "error", NULL);
    http_respond_error(s->call.req, status_http(status), status_msg(status));
  }
  sched_req_free(s);
}

static void sched_delete_h(api_call_t *c) {
  if (!c->ctx->jobs) {
    http_respond_error(c->req, 503, "the job engine is not running");
    return;
  }
  char *name = api_param(c->req, "name");
  if (!name_ok(name)) {
    free(name);
    http_respond_error(c->req, 400, "name: invalid schedule name");
    return;
  }
  sched_req_t *s = xcalloc(1, sizeof *s);
  s->call = *c;
  s->name = name;
  s->target = xasprintf("schedule:%s", name);
  jobs_schedule_delete(c->ctx->jobs, name, sched_deleted, s);
}

int api_jobs_routes(router_t *r, api_ctx_t *ctx) {
  int rc = 0;
  rc |= api_route(r, ctx, "GET", "/api/jobs", 0, "jobs.read", jobs_list_h);
  rc |= api_route(r, ctx, "GET", "/api/jobs/{id}", 0, "jobs.read", jobs_get_h);
  rc |= api_route(r, ctx, "POST", "/api/jobs/{id}/cancel", 0, "jobs.write",
                  jobs_cancel_h);
  rc |= api_route(r, ctx, "POST", "/api/jobs/{id}/retry", 0, "jobs.write",
                  jobs_retry_h);
  rc |= api_route(r, ctx, "GET", "/api/schedules", 0, "schedules.read",
                  sched_list_h);
  rc |= api_route(r, ctx, "PUT", "/api/schedules/{name}", 64 * 1024,
                  "schedules.write", sched_put_h);
  rc |= api_route(r, ctx, "DELETE", "/api/schedules/{name}", 0,
                  "schedules.write", sched_delete_h);
  return rc ? -1 : 0;
}
