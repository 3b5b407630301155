/* auth_gate.c: who is calling? Bearer API token or session cookie (with
 * CSRF on state changes), scope checks, and gated routes. */
#include "auth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int auth_principal_is_admin(const auth_principal_t *p) {
  return p && p->role == AUTH_ROLE_ADMIN && (p->scopes & AUTH_SCOPE_ADMIN);
}

int auth_principal_owns(const auth_principal_t *p, int64_t user_id) {
  return p && (p->user_id == user_id || auth_principal_is_admin(p));
}

unsigned auth_default_scopes(const char *method) {
  return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0
             ? AUTH_SCOPE_READ
             : AUTH_SCOPE_WRITE;
}

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int auth_route_is_public(const char *pattern) {
  if (!starts(pattern, "/api/") && strcmp(pattern, "/api") != 0) return 1;
  if (strcmp(pattern, "/api/auth/login") == 0 ||
      strcmp(pattern, "/api/auth/register") == 0)
    return 1;
  if (starts(pattern, "/api/public/") || starts(pattern, "/api/webhooks/") ||
      starts(pattern, "/api/rsvp/") ||
      strcmp(pattern, "/api/oauth/callback") == 0 ||
      starts(pattern, "/api/oauth/callback/"))
    return 1;
  /* /api/connections/{provider}/callback */
  if (starts(pattern, "/api/connections/")) {
    const char *seg = pattern + strlen("/api/connections/");
    const char *slash = strchr(seg, '/');
    if (slash && slash > seg && strcmp(slash, "/callback") == 0) return 1;
  }
  return 0;
}

/* ---- the gate ---- */

typedef struct gate_op {
  auth_t *a;
  http_request_t *req;
  unsigned scopes;
  auth_gate_cb cb;
  void *arg;
} gate_op_t;

static void count(auth_t *a, const char *outcome) {
  char l[48];
  snprintf(l, sizeof l, "outcome=\"%s\"", outcome);
  metric_add(a->m_gate, l, 1);
}

static void deny(gate_op_t *op, int status, const char *msg, int bearer) {
  static const http_header_t www = {"WWW-Authenticate",
                                    "Bearer realm=\"assistd\""};
  static const http_header_t www_scope = {
      "WWW-Authenticate",
      "Bearer realm=\"assistd\", error=\"insufficient_scope\""};
  const http_header_t *h = NULL;
  if (status == 401) h = &www;
  if (status == 403 && bearer) h = &www_scope;
  count(op->a, status == 401   ? "unauthenticated"
               : status == 403 ? "forbidden"
                               : "error");
  if (status >= 500)
    auth_respond_store_error(op->req, status == 503 ? -ENOTCONN : -EIO);
  else
    auth_respond_error(op->req, status, msg, h, h ? 1 : 0);
  op->cb(NULL, NULL, op->arg);
  free(op);
}

static void scope_name(unsigned missing, char *out, size_t cap) {
  snprintf(out, cap, "%s",
           missing & AUTH_SCOPE_ADMIN   ? "admin"
           : missing & AUTH_SCOPE_WRITE ? "write"
                                        : "read");
}

static void grant(gate_op_t *op, const auth_principal_t *p) {
  unsigned missing = op->scopes & ~p->scopes;
  if (missing) {
    char name[8], msg[96];
    scope_name(missing, name, sizeof name);
    snprintf(msg, sizeof msg,
             p->via == AUTH_VIA_TOKEN ? "this token lacks the %s scope"
                                      : "this needs the %s role",
             name);
    deny(op, 403, msg, p->via == AUTH_VIA_TOKEN);
    return;
  }
  count(op->a, "ok");
  op->cb(op->req, p, op->arg);
  free(op);
}

static void token_done(auth_t *a, int status, const auth_token_info_t *t,
                       void *arg) {
  (void)a;
  gate_op_t *op = arg;
  if (status == -ENOENT) {
    deny(op, 401, "invalid, expired or revoked API token", 1);
    return;
  }
  if (status < 0) {
    deny(op, status == -ENOTCONN || status == -ECANCELED ? 503 : 500, NULL, 0);
    return;
  }
  auth_principal_t p = {.user_id = t->user_id,
                        .role = t->role,
                        .scopes = t->scopes,
                        .via = AUTH_VIA_TOKEN,
                        .token_id = t->id};
  grant(op, &p);
}

static void session_done(auth_t *a, int status, const auth_session_info_t *s,
                         void *arg) {
  (void)a;
  gate_op_t *op = arg;
  if (status == -ENOENT) {
    deny(op, 401, "not signed in or session expired", 0);
    return;
  }
  if (status < 0) {
    deny(op, status == -ENOTCONN || status == -ECANCELED ? 503 : 500, NULL, 0);
    return;
  }
  if (auth_csrf_needed(http_req_method(op->req)) &&
      !auth_csrf_check(op->req, s->csrf)) {
    deny(op, 403, "missing or invalid X-CSRF-Token", 0);
    return;
  }
  auth_principal_t p = {.user_id = s->user_id,
                        .role = s->role,
                        .scopes = s->role == AUTH_ROLE_ADMIN
                                      ? AUTH_SCOPE_ALL
                                      : (AUTH_SCOPE_READ | AUTH_SCOPE_WRITE),
                        .via = AUTH_VIA_SESSION};
  grant(op, &p);
}

void auth_gate(auth_t *a, http_request_t *req, unsigned scopes, auth_gate_cb cb,
               void *arg) {
  gate_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  op->scopes = scopes;
  op->cb = cb;
  op->arg = arg;
  if (a->closing) {
    deny(op, 503, NULL, 0);
    return;
  }
  char secret[AUTH_SECRET_MAX];
  const char *authz = http_req_header(req, "Authorization");
  if (authz) {
    int n = auth_bearer_parse(authz, secret, sizeof secret);
    if (n < 0) {
      deny(op, 401, "Authorization must be: Bearer <API token>", 1);
      return;
    }
    auth_token_lookup(a, secret, token_done, op);
    return;
  }
  int rc = auth_session_from_req(a, req, secret, sizeof secret);
  if (rc < 0) {
    deny(op, 401, "not signed in", 0);
    return;
  }
  auth_session_lookup(a, secret, session_done, op);
}

/* ---- gated routes ---- */

typedef struct auth_route {
  struct auth_route *next;
  auth_t *a;
  auth_handler_fn fn;
  void *ud;
  unsigned scopes;
} auth_route_t;

static void route_granted(http_request_t *req, const auth_principal_t *p,
                          void *arg) {
  auth_route_t *rt = arg;
  if (req) rt->fn(req, p, rt->ud);
}

static void route_entry(http_request_t *req, void *ud) {
  auth_route_t *rt = ud;
  auth_gate(rt->a, req, rt->scopes, route_granted, rt);
}

int auth_route_add(auth_t *a, router_t *r, const char *method,
                   const char *pattern, uint64_t max_body, unsigned scopes,
                   auth_handler_fn fn, void *ud) {
  auth_route_t *rt = a->routes;
  /* Rebuilt routers (reloads) reuse the same trampoline. */
  while (rt && !(rt->fn == fn && rt->ud == ud && rt->scopes == scopes))
    rt = rt->next;
  if (!rt) {
    rt = xcalloc(1, sizeof *rt);
    rt->a = a;
    rt->fn = fn;
    rt->ud = ud;
    rt->scopes = scopes;
    rt->next = a->routes;
    a->routes = rt;
  }
  return router_add(r, method, pattern, max_body, route_entry, rt);
}

void auth_routes_free(auth_t *a) {
  auth_route_t *rt = a->routes;
  while (rt) {
    auth_route_t *n = rt->next;
    free(rt);
    rt = n;
  }
  a->routes = NULL;
}
