/* sessions.c: cookie sessions. The cookie holds a random 256-bit id; the
 * database holds SHA-256 of it, the user, a CSRF token, the absolute
 * expiry and the last time it was seen (idle timeout). */
#include "auth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"
#include "../secrets/secrets.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const store_stmt_t st_insert = {
    "auth.session_insert",
    "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at,"
    " last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
    NULL};
static const store_stmt_t st_delete = {
    "auth.session_delete", "DELETE FROM sessions WHERE id_hash = $1", NULL};
static const store_stmt_t st_sweep = {
    "auth.session_sweep",
    "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2", NULL};
static const store_stmt_t st_lookup = {
    "auth.session_lookup",
    "SELECT s.user_id, u.role, s.csrf_token, s.last_seen_at, s.expires_at"
    " FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.id_hash = $1 AND u.disabled = 0",
    NULL};
static const store_stmt_t st_touch = {
    "auth.session_touch",
    "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1", NULL};

const char *auth_cookie_name(const auth_t *a) {
  return a->cookie_name;
}

char *auth_session_cookie(const auth_t *a, const char *sid) {
  return auth_cookie_build(a->cookie_name, sid, a->lifetime_ms / 1000,
                           a->secure);
}

char *auth_session_cookie_clear(const auth_t *a) {
  return auth_cookie_build(a->cookie_name, "", 0, a->secure);
}

int auth_session_from_req(const auth_t *a, http_request_t *req, char *out,
                          size_t cap) {
  const char *h = http_req_header(req, "Cookie");
  if (!h) return -ENOENT;
  int n = auth_cookie_get(h, a->cookie_name, out, cap);
  if (n == 0) return -ENOENT;
  return n < 0 ? n : 0;
}

/* ---- create ---- */

typedef struct create_op {
  auth_t *a;
  auth_session_created_cb cb;
  void *arg;
  char *sid;
  char csrf[64];
} create_op_t;

static void created(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  create_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    log_kv(LOG_ERROR, "auth", "session insert failed", "error",
           errmsg ? errmsg : "", NULL);
  op->cb(a, status, status < 0 ? NULL : op->sid, op->csrf, op->arg);
  free(op->sid);
  free(op);
  auth_db_done(a);
}

void auth_session_create(auth_t *a, int64_t user_id, const char *old_sid,
                         auth_session_created_cb cb, void *arg) {
  create_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->cb = cb;
  op->arg = arg;
  op->sid = secrets_random_token(32); /* 256 bits, 43 characters */
  auth_csrf_new(op->csrf);
  char hash[AUTH_HASH_HEX];
  int64_t now = auth_now(a);
  store_req_t *r = store_req_new(a->store, STORE_TXN);
  if (old_sid) {
    auth_sha256_hex(old_sid, strlen(old_sid), hash);
    store_req_stmt(r, &st_delete);
    store_req_bind_text(r, hash);
  }
  store_req_stmt(r, &st_sweep);
  store_req_bind_int(r, now);
  store_req_bind_int(r, now - a->idle_ms);
  auth_sha256_hex(op->sid, strlen(op->sid), hash);
  store_req_stmt(r, &st_insert);
  store_req_bind_text(r, hash);
  store_req_bind_int(r, user_id);
  store_req_bind_text(r, op->csrf);
  store_req_bind_int(r, now);
  store_req_bind_int(r, now + a->lifetime_ms);
  auth_db(a, r, created, op);
}

/* ---- lookup ---- */

typedef struct lookup_op {
  auth_t *a;
  auth_session_cb cb;
  void *arg;
  auth_session_info_t info;
} lookup_op_t;

static void ignore_done(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  auth_t *a = arg;
  if (status < 0)
    log_kv(LOG_WARN, "auth", "session update failed", "error",
           errmsg ? errmsg : "", NULL);
  auth_db_done(a);
}

static void touched(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  lookup_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    log_kv(LOG_WARN, "auth", "session touch failed", "error",
           errmsg ? errmsg : "", NULL);
  /* A failed touch does not fail the request: the session is valid. */
  op->cb(a, 0, &op->info, op->arg);
  free(op);
  auth_db_done(a);
}

typedef struct lookup_ctx {
  lookup_op_t *op;
  char hash[AUTH_HASH_HEX];
} lookup_ctx_t;

static void looked_up(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  lookup_ctx_t *ctx = arg;
  lookup_op_t *op = ctx->op;
  auth_t *a = op->a;
  int64_t now = auth_now(a);
  if (status < 0) {
    log_kv(LOG_ERROR, "auth", "session lookup failed", "error",
           errmsg ? errmsg : "", NULL);
    op->cb(a, status, NULL, op->arg);
    goto done;
  }
  if (store_res_rows(res, 0) < 1) {
    op->cb(a, -ENOENT, NULL, op->arg);
    goto done;
  }
  op->info.user_id = store_res_int(res, 0, 0, 0);
  op->info.role = auth_role_parse(store_res_text(res, 0, 0, 1));
  snprintf(op->info.csrf, sizeof op->info.csrf, "%s",
           store_res_text(res, 0, 0, 2));
  int64_t seen = store_res_int(res, 0, 0, 3);
  int64_t expires = store_res_int(res, 0, 0, 4);
  if (now >= expires || now - seen >= a->idle_ms) {
    store_req_t *r = store_req_new(a->store, 0);
    store_req_stmt(r, &st_delete);
    store_req_bind_text(r, ctx->hash);
    auth_db(a, r, ignore_done, a);
    op->cb(a, -ENOENT, NULL, op->arg);
    goto done;
  }
  if (now - seen >= AUTH_TOUCH_MS &&
      !auth_touch_recent(a, auth_hash64(ctx->hash), now)) {
    store_req_t *r = store_req_new(a->store, 0);
    store_req_stmt(r, &st_touch);
    store_req_bind_text(r, ctx->hash);
    store_req_bind_int(r, now);
    auth_db(a, r, touched, op);
    op = NULL; /* touched() answers */
    goto done;
  }
  op->cb(a, 0, &op->info, op->arg);
done:
  free(op);
  free(ctx);
  auth_db_done(a);
}

void auth_session_lookup(auth_t *a, const char *sid, auth_session_cb cb,
                         void *arg) {
  lookup_ctx_t *ctx = xcalloc(1, sizeof *ctx);
  ctx->op = xcalloc(1, sizeof *ctx->op);
  ctx->op->a = a;
  ctx->op->cb = cb;
  ctx->op->arg = arg;
  auth_sha256_hex(sid, strlen(sid), ctx->hash);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_lookup);
  store_req_bind_text(r, ctx->hash);
  auth_db(a, r, looked_up, ctx);
}

/* ---- delete ---- */

typedef struct delete_op {
  auth_t *a;
  void (*cb)(auth_t *a, int status, void *arg);
  void *arg;
} delete_op_t;

static void deleted(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  (void)errmsg;
  delete_op_t *op = arg;
  auth_t *a = op->a;
  op->cb(a, status, op->arg);
  free(op);
  auth_db_done(a);
}

void auth_session_delete(auth_t *a, const char *sid,
                         void (*cb)(auth_t *a, int status, void *arg),
                         void *arg) {
  delete_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->cb = cb;
  op->arg = arg;
  char hash[AUTH_HASH_HEX];
  auth_sha256_hex(sid, strlen(sid), hash);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_delete);
  store_req_bind_text(r, hash);
  auth_db(a, r, deleted, op);
}
