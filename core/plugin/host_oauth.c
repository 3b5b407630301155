/*
 * host_oauth.c: oauth_token, the SDK's "valid access token for connection
 * X", and oauth_connections (ABI 1.2), the linked accounts at a provider.
 * Each call counts against the instance's pending I/O (nio) until its
 * callback has run, like the kv calls in host_services.c.
 */
#include "plugin/host_oauth.h"
#include "plugin/instance_priv.h"

#include "common/alloc.h"

#include <errno.h>
#include <stdlib.h>

static oauth_t *g_oauth;

void host_oauth_set(oauth_t *o) {
  g_oauth = o;
}

typedef struct tok_call {
  instance_t *inst;
  void (*cb)(void *ud, int status, const char *token, int64_t expires_at_ms);
  void *ud;
} tok_call_t;

/* oauth's codes to the SDK's: transient failures (-EAGAIN, store or
 * secrets errors) are ASSIST_EIO. */
static int status_of(int rc) {
  switch (rc) {
  case 0:
    return ASSIST_OK;
  case OAUTH_EREAUTH:
    return ASSIST_EREAUTH;
  case -ENOENT:
    return ASSIST_ENOENT;
  case -ECANCELED:
    return ASSIST_ECANCELED;
  case -ENOMEM:
    return ASSIST_ENOMEM;
  default:
    return ASSIST_EIO;
  }
}

static void token_done(int status, const char *token, int64_t expires_at_ms,
                       void *arg) {
  tok_call_t *c = arg;
  instance_t *inst = c->inst;
  int st = status_of(status);
  c->cb(c->ud, st, st == ASSIST_OK ? token : NULL,
        st == ASSIST_OK ? expires_at_ms : 0);
  free(c);
  instance_io_finished(inst);
}

int host_oauth_token(assist_instance_t *inst, int64_t connection_id,
                     void (*cb)(void *ud, int status, const char *token,
                                int64_t expires_at_ms),
                     void *ud) {
  if (!inst || !cb || connection_id <= 0) return ASSIST_EINVAL;
  if (!g_oauth) return ASSIST_ENOTSUP;
  tok_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->cb = cb;
  c->ud = ud;
  inst->nio++;
  int rc = oauth_access_token(g_oauth, connection_id, token_done, c);
  if (rc < 0) { /* closing: the callback never runs */
    free(c);
    inst->nio--;
    return status_of(rc);
  }
  return ASSIST_OK;
}

/* ---------------- oauth_connections (ABI 1.2) ---------------- */

typedef struct list_call {
  instance_t *inst;
  void (*cb)(void *ud, int status, size_t n,
             const struct assist_oauth_conn *conns);
  void *ud;
} list_call_t;

static void conns_listed(int status, const oauth_conn_info_t *conns, size_t n,
                         void *arg) {
  list_call_t *c = arg;
  instance_t *inst = c->inst;
  if (status < 0) {
    c->cb(c->ud, status_of(status), 0, NULL);
  } else {
    assist_oauth_conn_t *v = xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
      v[i].connection_id = conns[i].id;
      v[i].user_id = conns[i].user_id;
      v[i].email = conns[i].email ? conns[i].email : "";
      v[i].state = conns[i].state ? conns[i].state : "";
    }
    c->cb(c->ud, ASSIST_OK, n, v);
    free(v);
  }
  free(c);
  instance_io_finished(inst);
}

int host_oauth_connections(assist_instance_t *inst, const char *provider,
                           void (*cb)(void *ud, int status, size_t n,
                                      const struct assist_oauth_conn *conns),
                           void *ud) {
  if (!inst || !cb || !provider || !*provider) return ASSIST_EINVAL;
  if (!g_oauth) return ASSIST_ENOTSUP;
  if (!oauth_has_provider(g_oauth, provider)) return ASSIST_ENOENT;
  list_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->cb = cb;
  c->ud = ud;
  inst->nio++;
  int rc = oauth_list_provider(g_oauth, provider, conns_listed, c);
  if (rc < 0) { /* closing: the callback never runs */
    free(c);
    inst->nio--;
    return status_of(rc);
  }
  return ASSIST_OK;
}
