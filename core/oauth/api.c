/*
 * api.c: the connections REST API. Who is calling comes from the
 * daemon's principal function; the callback route is public and trusts
 * only the signed state.
 */
#include "oauth_int.h"

#include "../common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct api {
  oauth_t *o;
  oauth_principal_fn principal;
  void *ud;
} api_t;

/* One registration per router; freed never (lives as long as the router,
 * which the daemon keeps per configuration generation): keep it small. */

static void json_conn(buf_t *b, const oauth_conn_info_t *c) {
  buf_printf(b, "{\"id\":%lld,\"provider\":", (long long)c->id);
  buf_json_str(b, c->provider, strlen(c->provider));
  buf_puts(b, ",\"subject\":");
  buf_json_str(b, c->subject, strlen(c->subject));
  buf_puts(b, ",\"email\":");
  buf_json_str(b, c->email, strlen(c->email));
  buf_puts(b, ",\"scopes\":");
  buf_json_str(b, c->scopes, strlen(c->scopes));
  buf_puts(b, ",\"state\":");
  buf_json_str(b, c->state, strlen(c->state));
  buf_puts(b, ",\"last_error\":");
  if (*c->last_error)
    buf_json_str(b, c->last_error, strlen(c->last_error));
  else
    buf_puts(b, "null");
  buf_printf(b,
             ",\"access_expires_at\":%lld,\"created_at\":%lld,"
             "\"updated_at\":%lld}",
             (long long)c->access_expires_at, (long long)c->created_at,
             (long long)c->updated_at);
}

static void respond_buf(http_request_t *req, int status, buf_t *b) {
  http_respond_json(req, status, b->data ? b->data : "", b->len);
  buf_free(b);
}

/* ---- GET /api/connections ---- */

static void list_done(int status, const oauth_conn_info_t *v, size_t n,
                      void *arg) {
  http_request_t *req = arg;
  if (status < 0) {
    http_respond_error(req, status == -ECANCELED ? 503 : 500,
                       "cannot list connections");
    return;
  }
  buf_t b = {0};
  buf_puts(&b, "{\"connections\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) buf_puts(&b, ",");
    json_conn(&b, &v[i]);
  }
  buf_puts(&b, "]}");
  respond_buf(req, 200, &b);
}

static void list_as(http_request_t *req, int64_t uid, void *ctx) {
  api_t *a = ctx;
  if (uid < 0) return;
  if (oauth_list(a->o, uid, list_done, req) < 0)
    http_respond_error(req, 503, "shutting down");
}

static void h_list(http_request_t *req, void *ud) {
  api_t *a = ud;
  a->principal(req, 0, list_as, a, a->ud);
}

/* ---- POST /api/connections/{provider}/authorize ---- */

static void authorize_as(http_request_t *req, int64_t uid, void *ctx) {
  api_t *a = ctx;
  if (uid < 0) return;
  const char *prov = http_req_param(req, "provider");
  char *url = NULL;
  int rc = oauth_authorize(a->o, uid, prov, &url);
  if (rc == -ENOENT) {
    http_respond_error(req, 404, "unknown provider");
    return;
  }
  if (rc < 0) {
    http_respond_error(req, rc == -ECANCELED ? 503 : 500,
                       "cannot start authorization");
    return;
  }
  buf_t b = {0};
  buf_puts(&b, "{\"url\":");
  buf_json_str(&b, url, strlen(url));
  buf_puts(&b, "}");
  free(url);
  respond_buf(req, 200, &b);
}

static void h_authorize(http_request_t *req, void *ud) {
  api_t *a = ud;
  a->principal(req, 1, authorize_as, a, a->ud);
}

/* ---- GET /api/connections/{provider}/callback (public) ---- */

typedef struct cbreq {
  http_request_t *req;
  oauth_t *o;
} cbreq_t;

static void redirect_done(http_request_t *req, const char *done_url,
                          const char *key, const char *value) {
  buf_t loc = {0};
  buf_puts(&loc, done_url);
  buf_puts(&loc, strchr(done_url, '?') ? "&" : "?");
  oauth_form_add(&loc, key, value);
  /* oauth_form_add put a '&' first when loc was not empty: undo it */
  char *l = loc.data;
  size_t k = strlen(done_url) + 1;
  if (l[k] == '&') memmove(l + k, l + k + 1, strlen(l + k));
  http_header_t h[] = {{"Location", l}, {"Cache-Control", "no-store"}};
  http_respond(req, 302, h, 2, NULL, 0);
  buf_free(&loc);
}

static void callback_done(int status, int64_t conn_id, int64_t user_id,
                          const char *err, void *arg) {
  (void)user_id;
  cbreq_t *c = arg;
  http_request_t *req = c->req;
  const char *done = c->o->done_url;
  free(c);
  if (status < 0) {
    int code =
        status == -EINVAL || status == SECRETS_EEXPIRED || status == -ENOENT
            ? 400
        : status == -ECANCELED ? 503
                               : 502;
    if (done && code == 400) /* a 502 is the operator's problem: show it */
      redirect_done(req, done, "error", err);
    else
      http_respond_error(req, code, err);
    return;
  }
  if (done) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)conn_id);
    redirect_done(req, done, "connection", id);
    return;
  }
  char body[96];
  int n = snprintf(body, sizeof body, "{\"id\":%lld,\"state\":\"active\"}",
                   (long long)conn_id);
  http_respond_json(req, 200, body, (size_t)n);
}

static void h_callback(http_request_t *req, void *ud) {
  api_t *a = ud;
  const char *prov = http_req_param(req, "provider");
  const char *error = http_req_query(req, "error");
  if (!oauth_has_provider(a->o, prov)) {
    http_respond_error(req, 404, "unknown provider");
    return;
  }
  if (error) {
    /* the person declined, or the provider refused: say which, no more */
    char msg[160];
    snprintf(msg, sizeof msg, "authorization failed: %.100s", error);
    if (a->o->done_url)
      redirect_done(req, a->o->done_url, "error", msg);
    else
      http_respond_error(req, 400, msg);
    return;
  }
  cbreq_t *c = xcalloc(1, sizeof *c);
  c->req = req;
  c->o = a->o;
  if (oauth_callback(a->o, prov, http_req_query(req, "code"),
                     http_req_query(req, "state"), callback_done, c) < 0) {
    free(c);
    http_respond_error(req, 503, "shutting down");
  }
}

/* ---- DELETE /api/connections/{id} ---- */

static void disconnect_done(int status, int confirmed, void *arg) {
  http_request_t *req = arg;
  if (status == -ENOENT) {
    http_respond_error(req, 404, "no such connection");
    return;
  }
  if (status < 0) {
    http_respond_error(req, status == -ECANCELED ? 503 : 500,
                       "cannot disconnect");
    return;
  }
  char body[96];
  int n = snprintf(body, sizeof body,
                   "{\"state\":\"revoked\",\"revoked_at_provider\":%s}",
                   confirmed ? "true" : "false");
  http_respond_json(req, 200, body, (size_t)n);
}

static void delete_as(http_request_t *req, int64_t uid, void *ctx) {
  api_t *a = ctx;
  if (uid < 0) return;
  const char *idp = http_req_param(req, "id");
  char *end = NULL;
  long long id = idp ? strtoll(idp, &end, 10) : 0;
  if (!idp || *end || id <= 0) {
    http_respond_error(req, 404, "no such connection");
    return;
  }
  if (oauth_disconnect(a->o, uid, id, disconnect_done, req) < 0)
    http_respond_error(req, 503, "shutting down");
}

static void h_delete(http_request_t *req, void *ud) {
  api_t *a = ud;
  a->principal(req, 1, delete_as, a, a->ud);
}

/* The api_t blocks, freed at exit by whoever keeps routers: we keep a list
 * on the service so oauth_close frees them. */
typedef struct api_node {
  api_t a;
  struct api_node *next;
} api_node_t;

int oauth_api_register(oauth_t *o, router_t *r, oauth_principal_fn principal,
                       void *ud) {
  api_node_t *n = xcalloc(1, sizeof *n);
  n->a.o = o;
  n->a.principal = principal;
  n->a.ud = ud;
  n->next = (api_node_t *)o->apis;
  o->apis = n;
  api_t *a = &n->a;
  if (router_add(r, "GET", "/api/connections", 0, h_list, a) < 0 ||
      router_add(r, "POST", "/api/connections/{provider}/authorize", 4096,
                 h_authorize, a) < 0 ||
      router_add(r, "GET", "/api/connections/{provider}/callback", 0,
                 h_callback, a) < 0 ||
      router_add(r, "DELETE", "/api/connections/{id}", 0, h_delete, a) < 0)
    return -1;
  return 0;
}

void oauth_api_free_all(oauth_t *o) {
  api_node_t *n = (api_node_t *)o->apis;
  while (n) {
    api_node_t *next = n->next;
    free(n);
    n = next;
  }
  o->apis = NULL;
}
