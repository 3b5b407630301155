/* api.c: the REST API's single entry point (the auth gate) and shared
 * helpers. */
#include "api/api_int.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct api_route {
  api_ctx_t *ctx;
  const char *perm; /* static */
  unsigned scopes;  /* AUTH_SCOPE_* the gate requires */
  api_handler_fn fn;
} api_route_t;

/* Routes live as long as the router they were added to; the router owns
 * no user data, so they are kept here, one list per context. */
typedef struct route_node {
  struct route_node *next;
  api_route_t rt;
} route_node_t;

static route_node_t *g_routes;

/* The gate admitted the caller (or answered already: req NULL). */
static void granted(http_request_t *req, const auth_principal_t *p, void *arg) {
  api_route_t *rt = arg;
  if (!req) return;
  api_call_t call = {.req = req, .ctx = rt->ctx, .principal = *p};
  snprintf(call.actor, sizeof call.actor, "user:%lld", (long long)p->user_id);
  rt->fn(&call);
}

/* Every /api handler of core/api runs only after the auth gate admitted
 * the caller with the route's scopes. */
static void dispatch(http_request_t *req, void *ud) {
  api_route_t *rt = ud;
  if (!rt->ctx->auth) {
    http_respond_error(req, 503, "authentication is not available");
    return;
  }
  auth_gate(rt->ctx->auth, req, rt->scopes, granted, rt);
}

int api_route(router_t *r, api_ctx_t *ctx, const char *method,
              const char *pattern, uint64_t max_body, const char *perm,
              api_handler_fn fn) {
  unsigned scopes = AUTH_SCOPE_ADMIN | auth_default_scopes(method);
  /* One node per (ctx, fn, perm, scopes) is enough: reuse it across
   * routers (each reload builds a new router with the same routes). */
  route_node_t *n = g_routes;
  while (n && !(n->rt.ctx == ctx && n->rt.fn == fn && n->rt.perm == perm &&
                n->rt.scopes == scopes))
    n = n->next;
  if (!n) {
    n = xcalloc(1, sizeof *n);
    n->rt = (api_route_t){ctx, perm, scopes, fn};
    n->next = g_routes;
    g_routes = n;
  }
  return router_add(r, method, pattern, max_body, dispatch, &n->rt);
}

int api_add_routes(router_t *r, api_ctx_t *ctx) {
  if (api_jobs_routes(r, ctx) != 0) return -1;
  if (api_audit_routes(r, ctx) != 0) return -1;
  return 0;
}

void api_reset(void) {
  while (g_routes) {
    route_node_t *n = g_routes;
    g_routes = n->next;
    free(n);
  }
}

char *api_param(http_request_t *req, const char *name) {
  const char *raw = http_req_param(req, name);
  if (!raw) return NULL;
  size_t len = strlen(raw);
  char *out = xmalloc(len + 1);
  long n = http_pct_decode(out, raw, len, 0);
  if (n < 0 || memchr(out, '\0', (size_t)n)) {
    free(out);
    return NULL;
  }
  out[n] = '\0';
  return out;
}

int64_t api_int(const char *s) {
  if (!s) return -1;
  if (!*s || strlen(s) > 18) return -2;
  int64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -2;
    v = v * 10 + (*s - '0');
  }
  return v;
}

void api_audit(api_call_t *c, const char *action, const char *target,
               const char *outcome, const char *details) {
  if (!c->ctx->audit) return;
  audit_record_t rec = {.actor = c->actor,
                        .action = action,
                        .target = target,
                        .outcome = outcome,
                        .details = details};
  audit_svc_append(c->ctx->audit, &rec, NULL, NULL);
}

void api_respond_buf(http_request_t *req, int status, buf_t *b) {
  http_respond_json(req, status, b->data ? b->data : "{}",
                    b->data ? b->len : 2);
  buf_free(b);
}
