/*
 * host_http.c: http_request, http_cancel and http_header (SDK ABI 1.2)
 * over core/httpc. Requests are tagged with their instance as the httpc
 * owner; a list of calls in flight lets http_cancel check that an id
 * belongs to the caller. Responses are translated to the SDK's shape
 * (result codes, headers, Retry-After in seconds) and borrowed for the
 * callback only.
 */
#include "plugin/host_http.h"
#include "plugin/instance_priv.h"

#include "common/alloc.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static httpc_t *(*g_get)(void *ud, int create);
static void *g_get_ud;

typedef struct http_call {
  struct http_call *prev, *next;
  instance_t *inst;
  uint64_t id;
  void (*cb)(void *ud, const assist_http_response_t *resp);
  void *ud;
} http_call_t;

static http_call_t *g_calls;

void host_http_set_source(httpc_t *(*get)(void *ud, int create), void *ud) {
  g_get = get;
  g_get_ud = ud;
}

/* Asked each time (no cached pointer that could outlive the client). */
static httpc_t *client(int create) {
  return g_get ? g_get(g_get_ud, create) : NULL;
}

size_t host_http_pending(const instance_t *inst) {
  size_t n = 0;
  for (http_call_t *c = g_calls; c; c = c->next)
    if (!inst || c->inst == inst) n++;
  return n;
}

void host_http_cancel_instance(instance_t *inst) {
  httpc_t *ctx = client(0);
  if (ctx) httpc_cancel_owner(ctx, inst);
}

static int result_of(httpc_result_t r) {
  switch (r) {
  case HTTPC_OK:
  case HTTPC_HTTP_ERROR:
    return ASSIST_OK;
  case HTTPC_TIMEOUT:
    return ASSIST_ETIMEDOUT;
  case HTTPC_AMBIGUOUS:
    return ASSIST_EAMBIGUOUS;
  case HTTPC_CANCELLED:
    return ASSIST_ECANCELED;
  case HTTPC_TOO_LARGE:
    return ASSIST_ERANGE;
  case HTTPC_NETWORK:
    break;
  }
  return ASSIST_EIO;
}

static void call_done(httpc_response_t *r, void *arg) {
  http_call_t *c = arg;
  instance_t *inst = c->inst;
  if (c->prev)
    c->prev->next = c->next;
  else
    g_calls = c->next;
  if (c->next) c->next->prev = c->prev;

  assist_header_t *hs = NULL;
  if (r->nheaders) {
    hs = xcalloc(r->nheaders, sizeof *hs);
    for (size_t i = 0; i < r->nheaders; i++)
      hs[i] = (assist_header_t){r->headers[i].name, r->headers[i].value};
  }
  assist_http_response_t resp = {
      .struct_size = sizeof resp,
      .result = result_of(r->result),
      .status = (int)r->status,
      .body = r->body ? r->body : "",
      .body_len = r->body ? r->body_len : 0,
      .headers = hs,
      .nheaders = r->nheaders,
      .error = r->error ? r->error : "",
  };
  if (resp.result == ASSIST_OK && (r->status == 429 || r->status == 503)) {
    int64_t ms = httpc_retry_after_ms(r, (int64_t)time(NULL));
    if (ms > 0) {
      int64_t s = (ms + 999) / 1000;
      resp.retry_after_s = s > 86400 * 7 ? 86400 * 7 : (int)s;
    }
  }
  c->cb(c->ud, &resp);
  free(hs);
  httpc_response_free(r);
  free(c);
  instance_io_finished(inst);
}

/* A header name is an HTTP token; a value has no CR, LF or NUL. */
static int header_ok(const assist_header_t *h) {
  if (!h->name || !*h->name || !h->value) return 0;
  for (const char *p = h->name; *p; p++)
    if (*p <= ' ' || *p >= 127 || strchr("()<>@,;:\\\"/[]?={}", *p)) return 0;
  for (const char *p = h->value; *p; p++)
    if (*p == '\r' || *p == '\n') return 0;
  return 1;
}

#define REQ_MIN (offsetof(assist_http_request_t, flags) + sizeof(uint32_t))

int host_http_request(assist_instance_t *inst,
                      const struct assist_http_request *req,
                      void (*cb)(void *ud,
                                 const struct assist_http_response *resp),
                      void *ud, uint64_t *id) {
  if (id) *id = 0;
  if (!inst || !req || !cb || req->struct_size < REQ_MIN || !req->url ||
      (req->nheaders && !req->headers) || (req->body_len && !req->body) ||
      req->nheaders > 100)
    return ASSIST_EINVAL;
  if (strncasecmp(req->url, "http://", 7) != 0 &&
      strncasecmp(req->url, "https://", 8) != 0)
    return ASSIST_EINVAL;
  for (size_t i = 0; i < req->nheaders; i++)
    if (!header_ok(&req->headers[i])) return ASSIST_EINVAL;
  if (inst->stop_done || inst->st == INSTANCE_STOPPED) return ASSIST_ECANCELED;
  if (!g_get) return ASSIST_ENOTSUP;
  httpc_t *ctx = client(1);
  if (!ctx) return ASSIST_EIO;

  char **lines = xcalloc(req->nheaders + 1, sizeof *lines);
  for (size_t i = 0; i < req->nheaders; i++)
    lines[i] = xasprintf("%s: %s", req->headers[i].name, req->headers[i].value);
  uint32_t flags = 0;
  if (req->flags & ASSIST_HTTP_IDEMPOTENT) flags |= HTTPC_F_IDEMPOTENT;
  if (req->flags & ASSIST_HTTP_NO_RETRY) flags |= HTTPC_F_NO_RETRY;
  if (req->flags & ASSIST_HTTP_FOLLOW_REDIRECTS)
    flags |= HTTPC_F_FOLLOW_REDIRECTS;
  httpc_request_t rq = {
      .method = req->method,
      .url = req->url,
      .headers = (const char *const *)lines,
      .body = req->body,
      .body_len = req->body_len,
      .timeout_ms = req->timeout_ms,
      .max_response_bytes = req->max_response_bytes,
      .flags = flags,
      .owner = inst,
  };
  http_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->cb = cb;
  c->ud = ud;
  int rc = httpc_request(ctx, &rq, call_done, c, &c->id);
  for (size_t i = 0; i < req->nheaders; i++) free(lines[i]);
  free(lines);
  if (rc < 0) {
    free(c);
    return rc == -EINVAL ? ASSIST_EINVAL : ASSIST_ECANCELED;
  }
  c->next = g_calls;
  if (g_calls) g_calls->prev = c;
  g_calls = c;
  inst->nio++;
  if (id) *id = c->id;
  return ASSIST_OK;
}

int host_http_cancel(assist_instance_t *inst, uint64_t id) {
  if (!inst || id == 0) return ASSIST_EINVAL;
  for (http_call_t *c = g_calls; c; c = c->next)
    if (c->inst == inst && c->id == id) {
      httpc_t *ctx = client(0);
      return ctx && httpc_cancel(ctx, id) == 0 ? ASSIST_OK : ASSIST_ENOENT;
    }
  return ASSIST_ENOENT;
}

const char *host_http_header(const struct assist_http_response *resp,
                             const char *name) {
  if (!resp || !name || !resp->headers) return NULL;
  for (size_t i = 0; i < resp->nheaders; i++)
    if (resp->headers[i].name && strcasecmp(resp->headers[i].name, name) == 0)
      return resp->headers[i].value;
  return NULL;
}
