/*
 * conns.c: listing a person's connections and disconnecting one
 * (revocation at the provider where it has an endpoint, then the tokens
 * are deleted and the row kept as revoked).
 */
#include "oauth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct list_op {
  oauth_t *o;
  oauth_list_cb cb;
  void *arg;
} list_op_t;

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  list_op_t *op = arg;
  oauth_t *o = op->o;
  if (status < 0) {
    op->cb(status, NULL, 0, op->arg);
  } else {
    int n = store_res_rows(res, 0);
    oauth_conn_info_t *v = xcalloc(n > 0 ? (size_t)n : 1, sizeof *v);
    for (int i = 0; i < n; i++) {
      oauth_conn_info_t *c = &v[i];
      c->id = store_res_int(res, 0, i, 0);
      c->user_id = store_res_int(res, 0, i, 1);
      c->provider = store_res_text(res, 0, i, 2);
      c->subject = store_res_text(res, 0, i, 3);
      c->email = store_res_text(res, 0, i, 4);
      c->scopes = store_res_text(res, 0, i, 5);
      c->state = store_res_text(res, 0, i, 6);
      c->last_error = store_res_text(res, 0, i, 7);
      c->access_expires_at =
          store_res_isnull(res, 0, i, 8) ? 0 : store_res_int(res, 0, i, 8);
      c->created_at = store_res_int(res, 0, i, 9);
      c->updated_at = store_res_int(res, 0, i, 10);
    }
    op->cb(0, v, (size_t)n, op->arg);
    free(v);
  }
  free(op);
  oauth_op_end(o);
}

int oauth_list(oauth_t *o, int64_t user_id, oauth_list_cb cb, void *arg) {
  if (o->closing) return -ECANCELED;
  list_op_t *op = xcalloc(1, sizeof *op);
  op->o = o;
  op->cb = cb;
  op->arg = arg;
  oauth_op_begin(o);
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, &oauth_st_list);
  store_req_bind_int(r, user_id);
  store_req_submit(r, listed, op);
  return 0;
}

int oauth_list_provider(oauth_t *o, const char *provider, oauth_list_cb cb,
                        void *arg) {
  if (o->closing) return -ECANCELED;
  if (!provider || !oauth_has_provider(o, provider)) return -ENOENT;
  list_op_t *op = xcalloc(1, sizeof *op);
  op->o = o;
  op->cb = cb;
  op->arg = arg;
  oauth_op_begin(o);
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, &oauth_st_list_provider);
  store_req_bind_text(r, provider);
  store_req_submit(r, listed, op);
  return 0;
}

/* ---- disconnect ---- */

typedef struct dc_op {
  oauth_t *o;
  int64_t user_id, conn_id;
  const oauth_provider_t *p;
  oauth_done_cb cb;
  void *arg;
  int confirmed;
  char *error;
} dc_op_t;

static void dc_finish(dc_op_t *op, int status) {
  oauth_t *o = op->o;
  op->cb(status, op->confirmed, op->arg);
  free(op->error);
  free(op);
  oauth_op_end(o);
}

static void dc_saved(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  (void)res;
  dc_op_t *op = arg;
  if (status == 0)
    oauth_audit(op->o, "oauth.disconnected", op->user_id, op->conn_id,
                op->p ? op->p->name : "",
                op->confirmed ? "revoked at provider"
                              : (op->error ? op->error : "not revocable"));
  dc_finish(op, status);
}

static void dc_save(dc_op_t *op) {
  store_req_t *r = store_req_new(op->o->store, 0);
  store_req_stmt(r, &oauth_st_revoked);
  store_req_bind_int(r, op->conn_id);
  store_req_bind_text(r, op->error);
  store_req_bind_int(r, oauth_now(op->o));
  store_req_submit(r, dc_saved, op);
}

static void dc_revoked(httpc_response_t *resp, void *arg) {
  dc_op_t *op = arg;
  op->o->pending--; /* the flow's own op is still held */
  if (resp->result == HTTPC_OK && resp->status == 200)
    op->confirmed = 1;
  else
    op->error = xasprintf("revocation at the provider failed: %s %ld",
                          httpc_result_str(resp->result), resp->status);
  httpc_response_free(resp);
  dc_save(op);
}

static void dc_loaded(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  dc_op_t *op = arg;
  oauth_t *o = op->o;
  if (status < 0) {
    dc_finish(op, status);
    return;
  }
  if (store_res_rows(res, 0) < 1 ||
      store_res_int(res, 0, 0, 1) != op->user_id) {
    dc_finish(op, -ENOENT);
    return;
  }
  op->p = oauth_provider(o, store_res_text(res, 0, 0, 2));
  /* Prefer the refresh token: revoking it ends the whole grant. */
  int col = !store_res_isnull(res, 0, 0, 5)   ? 5
            : !store_res_isnull(res, 0, 0, 4) ? 4
                                              : -1;
  if (!op->p || !op->p->revoke_url || col < 0) {
    dc_save(op);
    return;
  }
  char *aad =
      oauth_aad(col == 5 ? "refresh_token" : "access_token", op->conn_id);
  char *tok = NULL;
  int rc =
      secrets_decrypt(o->ring, store_res_text(res, 0, 0, col), aad, &tok, NULL);
  free(aad);
  if (rc < 0) {
    op->error = xasprintf("cannot decrypt token: %s", secrets_strerror(rc));
    dc_save(op);
    return;
  }
  buf_t b = {0};
  oauth_form_add(&b, "token", tok);
  secrets_plain_free(tok);
  oauth_form_add(&b, "token_type_hint",
                 col == 5 ? "refresh_token" : "access_token");
  if (op->p->kind == OAUTH_GENERIC) { /* RFC 7009 client authentication */
    oauth_form_add(&b, "client_id", op->p->client_id);
    if (op->p->client_secret)
      oauth_form_add(&b, "client_secret", op->p->client_secret);
  }
  rc = oauth_post_form(o, op->p->revoke_url, b.data, dc_revoked, op);
  oauth_wipe(b.data);
  buf_free(&b);
  if (rc < 0) {
    op->error = xasprintf("revocation request refused: %d", rc);
    dc_save(op);
  }
}

int oauth_disconnect(oauth_t *o, int64_t user_id, int64_t connection_id,
                     oauth_done_cb cb, void *arg) {
  if (o->closing) return -ECANCELED;
  dc_op_t *op = xcalloc(1, sizeof *op);
  op->o = o;
  op->user_id = user_id;
  op->conn_id = connection_id;
  op->cb = cb;
  op->arg = arg;
  oauth_op_begin(o);
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, &oauth_st_get);
  store_req_bind_int(r, connection_id);
  store_req_submit(r, dc_loaded, op);
  return 0;
}
