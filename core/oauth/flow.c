/*
 * flow.c: the authorization-code flow with PKCE: the signed state, the
 * authorization URL, and the callback (code exchange, storing the
 * connection with its tokens encrypted).
 */
#include "oauth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_PURPOSE "oauth-state"

static char *verifier_aad(int64_t user_id, const char *provider) {
  return xasprintf("oauth-state.verifier:%lld:%s", (long long)user_id,
                   provider);
}

int oauth_state_issue(oauth_t *o, int64_t user_id, const char *provider,
                      const char *verifier, char **state) {
  *state = NULL;
  char *aad = verifier_aad(user_id, provider);
  char *ct = NULL;
  int rc = secrets_encrypt_str(o->ring, verifier, aad, &ct);
  free(aad);
  if (rc < 0) return rc;
  char *payload = xasprintf("%lld\n%s\n%s", (long long)user_id, provider, ct);
  free(ct);
  rc = secrets_token_sign_at(o->ring, STATE_PURPOSE, payload,
                             oauth_now(o) / 1000, o->state_ttl_s, state);
  free(payload);
  return rc;
}

int oauth_state_check(oauth_t *o, const char *state, const char *provider,
                      int64_t *user_id, char **verifier) {
  if (verifier) *verifier = NULL;
  if (!state || !provider) return -EINVAL;
  char *payload = NULL;
  int rc = secrets_token_verify(o->ring, STATE_PURPOSE, state,
                                oauth_now(o) / 1000, &payload);
  if (rc < 0) return rc;
  char *nl1 = strchr(payload, '\n');
  char *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
  if (!nl2) goto bad;
  *nl1 = *nl2 = 0;
  char *end = NULL;
  long long uid = strtoll(payload, &end, 10);
  if (*end || end == payload || uid < 0) goto bad;
  if (strcmp(nl1 + 1, provider) != 0) goto bad;
  if (verifier) {
    char *aad = verifier_aad(uid, provider);
    char *plain = NULL;
    size_t pl = 0;
    rc = secrets_decrypt(o->ring, nl2 + 1, aad, &plain, &pl);
    free(aad);
    if (rc < 0) {
      free(payload);
      return rc;
    }
    *verifier = xstrndup(plain, pl);
    secrets_plain_free(plain);
  }
  *user_id = uid;
  free(payload);
  return 0;
bad:
  free(payload);
  return -EINVAL;
}

int oauth_authorize(oauth_t *o, int64_t user_id, const char *provider,
                    char **url) {
  *url = NULL;
  if (o->closing) return -ECANCELED;
  const oauth_provider_t *p = oauth_provider(o, provider);
  if (!p) return -ENOENT;
  if (user_id < 0) return -EINVAL;
  char verifier[SECRETS_PKCE_VERIFIER_SIZE];
  char challenge[SECRETS_PKCE_CHALLENGE_SIZE];
  secrets_pkce_verifier(verifier);
  int rc = secrets_pkce_challenge_s256(verifier, challenge);
  char *state = NULL;
  if (rc == 0) rc = oauth_state_issue(o, user_id, provider, verifier, &state);
  oauth_wipe(verifier);
  if (rc < 0) return rc;
  buf_t q = {0};
  oauth_form_add(&q, "client_id", p->client_id);
  oauth_form_add(&q, "redirect_uri", p->redirect_uri);
  oauth_form_add(&q, "response_type", "code");
  oauth_form_add(&q, "scope", p->scopes);
  oauth_form_add(&q, "state", state);
  oauth_form_add(&q, "code_challenge", challenge);
  oauth_form_add(&q, "code_challenge_method", "S256");
  if (*p->extra_params) {
    buf_puts(&q, "&");
    buf_puts(&q, p->extra_params);
  }
  free(state);
  *url = xasprintf("%s%c%s", p->authorize_url,
                   strchr(p->authorize_url, '?') ? '&' : '?', q.data);
  buf_free(&q);
  return 0;
}

/* ---- the callback ---- */

typedef struct cb_op {
  oauth_t *o;
  const oauth_provider_t *p;
  int64_t user_id, conn_id;
  oauth_callback_cb cb;
  void *arg;
  oauth_tokresp_t t;
  char *scopes;
  int64_t expires_at;
} cb_op_t;

static void cb_finish(cb_op_t *op, int status, const char *err) {
  oauth_t *o = op->o;
  if (status == 0)
    oauth_audit(o, "oauth.connected", op->user_id, op->conn_id, op->p->name,
                op->t.email ? op->t.email : "");
  else
    log_kv(LOG_WARN, "oauth", "callback failed", "provider", op->p->name,
           "error", err, NULL);
  op->cb(status, status == 0 ? op->conn_id : 0, op->user_id, err, op->arg);
  oauth_tokresp_free(&op->t);
  free(op->scopes);
  free(op);
  oauth_op_end(o);
}

static void tokens_saved(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  cb_op_t *op = arg;
  op->o->pending--; /* the store op; cb_finish ends the flow's own op */
  cb_finish(op, status, status ? errmsg : "");
}

static void row_ready(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  cb_op_t *op = arg;
  oauth_t *o = op->o;
  o->pending--;
  if (status < 0 || store_res_rows(res, 0) < 1) {
    cb_finish(op, status < 0 ? status : -EIO, status < 0 ? errmsg : "no id");
    return;
  }
  op->conn_id = store_res_int(res, 0, 0, 0);
  char *aad_a = oauth_aad("access_token", op->conn_id);
  char *aad_r = oauth_aad("refresh_token", op->conn_id);
  char *ct_a = NULL, *ct_r = NULL;
  int rc = secrets_encrypt_str(o->ring, op->t.access_token, aad_a, &ct_a);
  if (rc == 0 && op->t.refresh_token)
    rc = secrets_encrypt_str(o->ring, op->t.refresh_token, aad_r, &ct_r);
  free(aad_a);
  free(aad_r);
  if (rc < 0) {
    free(ct_a);
    cb_finish(op, rc, secrets_strerror(rc));
    return;
  }
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, &oauth_st_set_tokens);
  store_req_bind_int(r, op->conn_id);
  store_req_bind_text(r, ct_a);
  store_req_bind_text(r, ct_r); /* NULL: no refresh token */
  store_req_bind_int(r, op->expires_at);
  store_req_bind_text(r, op->scopes);
  store_req_bind_int(r, oauth_now(o));
  free(ct_a);
  free(ct_r);
  o->pending++;
  store_req_submit(r, tokens_saved, op);
}

static void exchanged(httpc_response_t *resp, void *arg) {
  cb_op_t *op = arg;
  oauth_t *o = op->o;
  o->pending--;
  char err[256];
  if (resp->result != HTTPC_OK && resp->result != HTTPC_HTTP_ERROR) {
    snprintf(err, sizeof err, "token endpoint: %s: %s",
             httpc_result_str(resp->result), resp->error);
    httpc_response_free(resp);
    cb_finish(op, -EIO, err);
    return;
  }
  int rc = oauth_tokresp_parse(resp->body, resp->body_len, &op->t);
  long status = resp->status;
  httpc_response_free(resp);
  if (rc < 0 || status != 200 || !op->t.access_token) {
    snprintf(err, sizeof err, "token endpoint answered %ld%s%s%s%s", status,
             op->t.error ? ": " : "", op->t.error ? op->t.error : "",
             op->t.error_description ? ": " : "",
             op->t.error_description ? op->t.error_description : "");
    cb_finish(op, -EBADMSG, err);
    return;
  }
  int64_t now = oauth_now(o);
  op->expires_at =
      now + (op->t.expires_in > 0 ? op->t.expires_in : 3600) * 1000;
  op->scopes = xstrdup(op->t.scope ? op->t.scope : op->p->scopes);
  store_req_t *r = store_req_new(o->store, 0);
  store_req_stmt(r, &oauth_st_upsert);
  store_req_bind_int(r, op->user_id);
  store_req_bind_text(r, op->p->name);
  store_req_bind_text(r, op->t.subject ? op->t.subject : "");
  store_req_bind_text(r, op->t.email ? op->t.email : "");
  store_req_bind_text(r, op->scopes);
  store_req_bind_int(r, now);
  o->pending++;
  store_req_submit(r, row_ready, op);
}

typedef struct later {
  uv_idle_t idle;
  oauth_callback_cb cb;
  void *arg;
  int status;
  oauth_t *o;
  char err[128];
} later_t;

static void later_closed(uv_handle_t *h) {
  later_t *l = h->data;
  oauth_t *o = l->o;
  l->cb(l->status, 0, -1, l->err, l->arg);
  free(l);
  oauth_op_end(o);
}

static void later_run(uv_idle_t *h) {
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, later_closed);
}

/* Fails a callback on a later loop iteration. */
static void fail_later(oauth_t *o, int status, const char *err,
                       oauth_callback_cb cb, void *arg) {
  later_t *l = xcalloc(1, sizeof *l);
  l->cb = cb;
  l->arg = arg;
  l->status = status;
  l->o = o;
  snprintf(l->err, sizeof l->err, "%s", err);
  oauth_op_begin(o);
  uv_idle_init(o->loop, &l->idle);
  l->idle.data = l;
  uv_idle_start(&l->idle, later_run);
}

int oauth_callback(oauth_t *o, const char *provider, const char *code,
                   const char *state, oauth_callback_cb cb, void *arg) {
  if (o->closing) return -ECANCELED;
  const oauth_provider_t *p = oauth_provider(o, provider);
  if (!p) {
    fail_later(o, -ENOENT, "unknown provider", cb, arg);
    return 0;
  }
  int64_t uid = -1;
  char *verifier = NULL;
  int rc = oauth_state_check(o, state, provider, &uid, &verifier);
  if (rc < 0) {
    fail_later(o, rc == SECRETS_EEXPIRED ? rc : -EINVAL,
               rc == SECRETS_EEXPIRED ? "state expired" : "invalid state", cb,
               arg);
    return 0;
  }
  if (!code || !*code) {
    oauth_zfree(verifier);
    fail_later(o, -EINVAL, "missing code", cb, arg);
    return 0;
  }
  buf_t f = {0};
  oauth_form_add(&f, "grant_type", "authorization_code");
  oauth_form_add(&f, "code", code);
  oauth_form_add(&f, "redirect_uri", p->redirect_uri);
  oauth_form_add(&f, "client_id", p->client_id);
  if (p->client_secret) oauth_form_add(&f, "client_secret", p->client_secret);
  oauth_form_add(&f, "code_verifier", verifier);
  if (p->kind == OAUTH_MICROSOFT) oauth_form_add(&f, "scope", p->scopes);
  oauth_zfree(verifier);
  cb_op_t *op = xcalloc(1, sizeof *op);
  op->o = o;
  op->p = p;
  op->user_id = uid;
  op->cb = cb;
  op->arg = arg;
  oauth_op_begin(o); /* the flow itself, ended by cb_finish */
  rc = oauth_post_form(o, p->token_url, f.data, exchanged, op);
  oauth_wipe(f.data);
  buf_free(&f);
  if (rc < 0) {
    free(op);
    oauth_op_end(o);
    fail_later(o, rc, "token request refused", cb, arg);
  }
  return 0;
}
