/*
 * tokens.c: valid access tokens on demand. One refresh in flight per
 * connection; callers arriving meanwhile queue on it. Rotated refresh
 * tokens are saved; invalid_grant marks the connection needs_reauth.
 */
#include "oauth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct at_op {
  oauth_t *o;
  int64_t conn_id, user_id;
  oauth_token_cb cb;
  void *arg;
} at_op_t;

static oauth_inflight_t *inflight_find(oauth_t *o, int64_t id) {
  for (oauth_inflight_t *f = o->inflight; f; f = f->next)
    if (f->conn_id == id) return f;
  return NULL;
}

static void inflight_wait(oauth_inflight_t *f, int64_t user_id,
                          oauth_token_cb cb, void *arg) {
  oauth_waiter_t *w = xcalloc(1, sizeof *w);
  w->user_id = user_id;
  w->cb = cb;
  w->arg = arg;
  *f->tail = w;
  f->tail = &w->next;
  oauth_op_begin(f->o);
}

/* Answers every waiter and frees the refresh. */
static void inflight_done(oauth_inflight_t *f, int status) {
  oauth_t *o = f->o;
  for (oauth_inflight_t **pp = &o->inflight; *pp; pp = &(*pp)->next)
    if (*pp == f) {
      *pp = f->next;
      break;
    }
  oauth_waiter_t *w = f->waiters;
  while (w) {
    oauth_waiter_t *next = w->next;
    if (w->user_id >= 0 && w->user_id != f->user_id)
      w->cb(-ENOENT, NULL, 0, w->arg);
    else if (status == 0)
      w->cb(0, f->access, f->expires_at, w->arg);
    else
      w->cb(status, NULL, 0, w->arg);
    free(w);
    w = next;
    oauth_op_end(o);
  }
  oauth_zfree(f->access);
  free(f->error);
  free(f);
}

static void reauth_saved(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  oauth_inflight_t *f = arg;
  oauth_t *o = f->o;
  /* Only the request that moved it from active audits it: once. */
  if (status == 0 && store_res_changes(res, 0) == 1)
    oauth_audit(o, "oauth.needs_reauth", f->user_id, f->conn_id, f->prov->name,
                f->error);
  inflight_done(f, OAUTH_EREAUTH);
  oauth_op_end(o);
}

static void error_saved(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  (void)status;
  (void)errmsg;
  (void)res;
  oauth_inflight_t *f = arg;
  oauth_t *o = f->o;
  inflight_done(f, -EAGAIN);
  oauth_op_end(o);
}

static void refreshed_saved(store_t *s, int status, const char *errmsg,
                            store_res_t *res, void *arg) {
  (void)s;
  oauth_inflight_t *f = arg;
  oauth_t *o = f->o;
  if (status < 0) {
    log_kv(LOG_ERROR, "oauth", "saving refreshed token failed", "error", errmsg,
           NULL);
    inflight_done(f, status);
  } else if (store_res_changes(res, 0) != 1) {
    /* disconnected or marked needs_reauth meanwhile */
    inflight_done(f, -ENOENT);
  } else {
    inflight_done(f, 0);
  }
  oauth_op_end(o);
}

static void record(oauth_inflight_t *f, const store_stmt_t *st,
                   store_done_cb done) {
  oauth_t *o = f->o;
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, st);
  store_req_bind_int(r, f->conn_id);
  store_req_bind_text(r, f->error);
  store_req_bind_int(r, oauth_now(o));
  oauth_op_begin(o);
  store_req_submit(r, done, f);
}

static void refresh_answered(httpc_response_t *resp, void *arg) {
  oauth_inflight_t *f = arg;
  oauth_t *o = f->o;
  oauth_tokresp_t t;
  int parsed = -1;
  long status = resp->status;
  if (resp->result == HTTPC_OK || resp->result == HTTPC_HTTP_ERROR)
    parsed = oauth_tokresp_parse(resp->body, resp->body_len, &t);
  else
    memset(&t, 0, sizeof t);
  if (parsed < 0 &&
      (resp->result == HTTPC_OK || resp->result == HTTPC_HTTP_ERROR))
    memset(&t, 0, sizeof t);
  if (resp->result == HTTPC_CANCELLED) {
    httpc_response_free(resp);
    oauth_tokresp_free(&t);
    inflight_done(f, -ECANCELED);
    oauth_op_end(o);
    return;
  }
  if (parsed == 0 && status == 200 && t.access_token) {
    httpc_response_free(resp);
    int64_t now = oauth_now(o);
    f->expires_at = now + (t.expires_in > 0 ? t.expires_in : 3600) * 1000;
    char *aad_a = oauth_aad("access_token", f->conn_id);
    char *aad_r = oauth_aad("refresh_token", f->conn_id);
    char *ct_a = NULL, *ct_r = NULL;
    int rc = secrets_encrypt_str(o->ring, t.access_token, aad_a, &ct_a);
    if (rc == 0 && t.refresh_token)
      rc = secrets_encrypt_str(o->ring, t.refresh_token, aad_r, &ct_r);
    free(aad_a);
    free(aad_r);
    if (rc < 0) {
      free(ct_a);
      oauth_tokresp_free(&t);
      inflight_done(f, rc);
      oauth_op_end(o);
      return;
    }
    f->access = xstrdup(t.access_token);
    store_req_t *r = store_req_new(o->store, 0);
    store_req_stmt(r, &oauth_st_refreshed);
    store_req_bind_int(r, f->conn_id);
    store_req_bind_text(r, ct_a);
    store_req_bind_text(r, ct_r); /* NULL keeps the stored one */
    store_req_bind_int(r, f->expires_at);
    store_req_bind_text(r, t.scope);
    store_req_bind_int(r, now);
    free(ct_a);
    free(ct_r);
    oauth_tokresp_free(&t);
    store_req_submit(r, refreshed_saved, f); /* keeps the http op count */
    return;
  }
  if (parsed == 0 && oauth_reauth_error(t.error)) {
    f->error = xasprintf("%s%s%s", t.error, t.error_description ? ": " : "",
                         t.error_description ? t.error_description : "");
    log_kv(LOG_WARN, "oauth", "refresh refused: needs re-authorization",
           "provider", f->prov->name, "error", t.error, NULL);
    httpc_response_free(resp);
    oauth_tokresp_free(&t);
    record(f, &oauth_st_reauth, reauth_saved);
    oauth_op_end(o);
    return;
  }
  if (resp->result == HTTPC_OK || resp->result == HTTPC_HTTP_ERROR)
    f->error = xasprintf("refresh failed: HTTP %ld%s%s", status,
                         t.error ? ": " : "", t.error ? t.error : "");
  else
    f->error = xasprintf("refresh failed: %s: %s",
                         httpc_result_str(resp->result), resp->error);
  log_kv(LOG_WARN, "oauth", "refresh failed", "provider", f->prov->name,
         "error", f->error, NULL);
  httpc_response_free(resp);
  oauth_tokresp_free(&t);
  record(f, &oauth_st_error, error_saved);
  oauth_op_end(o);
}

/* Starts a refresh for the row in res and queues op's caller on it. */
static void refresh_start(at_op_t *op, store_res_t *res,
                          const oauth_provider_t *p) {
  oauth_t *o = op->o;
  oauth_inflight_t *f = xcalloc(1, sizeof *f);
  f->o = o;
  f->conn_id = op->conn_id;
  f->user_id = store_res_int(res, 0, 0, 1);
  f->prov = p;
  f->tail = &f->waiters;
  f->next = o->inflight;
  o->inflight = f;
  inflight_wait(f, op->user_id, op->cb, op->arg);
  if (store_res_isnull(res, 0, 0, 5)) {
    f->error = xstrdup("access token expired and there is no refresh token");
    record(f, &oauth_st_reauth, reauth_saved);
    return;
  }
  char *aad = oauth_aad("refresh_token", f->conn_id);
  char *rt = NULL;
  int rc =
      secrets_decrypt(o->ring, store_res_text(res, 0, 0, 5), aad, &rt, NULL);
  free(aad);
  if (rc < 0) {
    f->error =
        xasprintf("cannot decrypt refresh token: %s", secrets_strerror(rc));
    record(f, &oauth_st_error, error_saved);
    return;
  }
  buf_t b = {0};
  oauth_form_add(&b, "grant_type", "refresh_token");
  oauth_form_add(&b, "refresh_token", rt);
  oauth_form_add(&b, "client_id", p->client_id);
  if (p->client_secret) oauth_form_add(&b, "client_secret", p->client_secret);
  if (p->kind == OAUTH_MICROSOFT) oauth_form_add(&b, "scope", p->scopes);
  secrets_plain_free(rt);
  o->refreshes++;
  rc = oauth_post_form(o, p->token_url, b.data, refresh_answered, f);
  oauth_wipe(b.data);
  buf_free(&b);
  if (rc < 0) {
    f->error = xasprintf("refresh request refused: %d", rc);
    record(f, &oauth_st_error, error_saved);
  }
}

static void at_finish(at_op_t *op, int status, const char *tok, int64_t exp) {
  oauth_t *o = op->o;
  op->cb(status, tok, exp, op->arg);
  free(op);
  oauth_op_end(o);
}

static void row_loaded(store_t *s, int status, const char *errmsg,
                       store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  at_op_t *op = arg;
  oauth_t *o = op->o;
  if (status < 0) {
    at_finish(op, status, NULL, 0);
    return;
  }
  if (store_res_rows(res, 0) < 1 ||
      (op->user_id >= 0 && store_res_int(res, 0, 0, 1) != op->user_id)) {
    at_finish(op, -ENOENT, NULL, 0);
    return;
  }
  const char *state = store_res_text(res, 0, 0, 3);
  const oauth_provider_t *p = oauth_provider(o, store_res_text(res, 0, 0, 2));
  if (strcmp(state, "needs_reauth") == 0) {
    at_finish(op, OAUTH_EREAUTH, NULL, 0);
    return;
  }
  if (strcmp(state, "active") != 0 || !p) {
    at_finish(op, -ENOENT, NULL, 0);
    return;
  }
  oauth_inflight_t *f = inflight_find(o, op->conn_id);
  if (f) { /* someone is refreshing it: wait for that */
    inflight_wait(f, op->user_id, op->cb, op->arg);
    free(op);
    oauth_op_end(o);
    return;
  }
  int64_t exp =
      store_res_isnull(res, 0, 0, 6) ? 0 : store_res_int(res, 0, 0, 6);
  if (!store_res_isnull(res, 0, 0, 4) && exp - o->margin_ms > oauth_now(o)) {
    char *aad = oauth_aad("access_token", op->conn_id);
    char *tok = NULL;
    int rc =
        secrets_decrypt(o->ring, store_res_text(res, 0, 0, 4), aad, &tok, NULL);
    free(aad);
    if (rc == 0) {
      at_finish(op, 0, tok, exp);
      secrets_plain_free(tok);
      return;
    }
    /* an undecryptable access token: get a new one */
  }
  refresh_start(op, res, p);
  free(op);
  oauth_op_end(o);
}

int oauth_access_token_user(oauth_t *o, int64_t user_id, int64_t connection_id,
                            oauth_token_cb cb, void *arg) {
  if (o->closing) return -ECANCELED;
  oauth_inflight_t *f = inflight_find(o, connection_id);
  if (f) {
    inflight_wait(f, user_id, cb, arg);
    return 0;
  }
  at_op_t *op = xcalloc(1, sizeof *op);
  op->o = o;
  op->conn_id = connection_id;
  op->user_id = user_id;
  op->cb = cb;
  op->arg = arg;
  oauth_op_begin(o);
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, &oauth_st_get);
  store_req_bind_int(r, connection_id);
  store_req_submit(r, row_loaded, op);
  return 0;
}

int oauth_access_token(oauth_t *o, int64_t connection_id, oauth_token_cb cb,
                       void *arg) {
  return oauth_access_token_user(o, -1, connection_id, cb, arg);
}
