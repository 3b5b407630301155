/* tokens.c: API tokens. The secret ("asd_" + 43 base64url characters) is
 * shown once; the database keeps SHA-256 of it, a display prefix, the
 * scopes, an optional expiry, the revocation time and last_used_at
 * (written at most once a minute per token). */
#include "auth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"
#include "../secrets/secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_NAME_MAX 100
#define TOKEN_PREFIX_LEN 12 /* "asd_" + 8 characters */
#define TOKEN_MAX_DAYS 3650

static const store_stmt_t st_lookup = {
    "auth.token_lookup",
    "SELECT t.id, t.user_id, u.role, t.scopes, t.expires_at, t.revoked_at,"
    " t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.secret_hash = $1 AND u.disabled = 0",
    NULL};
static const store_stmt_t st_touch = {
    "auth.token_touch", "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
    NULL};
static const store_stmt_t st_insert = {
    "auth.token_insert",
    "INSERT INTO api_tokens (user_id, name, prefix, secret_hash, scopes,"
    " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " RETURNING id",
    NULL};
static const store_stmt_t st_list = {
    "auth.token_list",
    "SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at,"
    " revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
    NULL};
static const store_stmt_t st_revoke_own = {
    "auth.token_revoke_own",
    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3)"
    " WHERE id = $1 AND user_id = $2",
    NULL};
static const store_stmt_t st_revoke_any = {
    "auth.token_revoke_any",
    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2)"
    " WHERE id = $1",
    NULL};

static unsigned role_scopes(auth_role_t role) {
  return role == AUTH_ROLE_ADMIN ? AUTH_SCOPE_ALL
                                 : (AUTH_SCOPE_READ | AUTH_SCOPE_WRITE);
}

/* ---- lookup (the gate) ---- */

typedef struct lookup_op {
  auth_t *a;
  auth_token_cb cb;
  void *arg;
  auth_token_info_t info;
} lookup_op_t;

static void touched(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  lookup_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    log_kv(LOG_WARN, "auth", "token touch failed", "error",
           errmsg ? errmsg : "", NULL);
  op->cb(a, 0, &op->info, op->arg);
  free(op);
  auth_db_done(a);
}

static void looked_up(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  lookup_op_t *op = arg;
  auth_t *a = op->a;
  int64_t now = auth_now(a);
  if (status < 0) {
    log_kv(LOG_ERROR, "auth", "token lookup failed", "error",
           errmsg ? errmsg : "", NULL);
    op->cb(a, status, NULL, op->arg);
    goto done;
  }
  if (store_res_rows(res, 0) < 1 || !store_res_isnull(res, 0, 0, 5) ||
      (!store_res_isnull(res, 0, 0, 4) && now >= store_res_int(res, 0, 0, 4))) {
    op->cb(a, -ENOENT, NULL, op->arg);
    goto done;
  }
  op->info.id = store_res_int(res, 0, 0, 0);
  op->info.user_id = store_res_int(res, 0, 0, 1);
  op->info.role = auth_role_parse(store_res_text(res, 0, 0, 2));
  op->info.scopes =
      (unsigned)store_res_int(res, 0, 0, 3) & role_scopes(op->info.role);
  int64_t used =
      store_res_isnull(res, 0, 0, 6) ? INT64_MIN : store_res_int(res, 0, 0, 6);
  if ((used == INT64_MIN || now - used >= AUTH_TOUCH_MS) &&
      !auth_touch_recent(a, (uint64_t)op->info.id * 2 + 1, now)) {
    store_req_t *r = store_req_new(a->store, 0);
    store_req_stmt(r, &st_touch);
    store_req_bind_int(r, op->info.id);
    store_req_bind_int(r, now);
    auth_db(a, r, touched, op);
    op = NULL;
    goto done;
  }
  op->cb(a, 0, &op->info, op->arg);
done:
  free(op);
  auth_db_done(a);
}

void auth_token_lookup(auth_t *a, const char *token, auth_token_cb cb,
                       void *arg) {
  lookup_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->cb = cb;
  op->arg = arg;
  char hash[AUTH_HASH_HEX];
  auth_sha256_hex(token, strlen(token), hash);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_lookup);
  store_req_bind_text(r, hash);
  auth_db(a, r, looked_up, op);
}

/* ---- REST handlers ---- */

typedef struct req_op {
  auth_t *a;
  http_request_t *req;
  char *secret;
  char *name;
  unsigned scopes;
  int64_t created_at, expires_at;
} req_op_t;

static void json_int_or_null(buf_t *b, const char *key, store_res_t *res,
                             int row, int col) {
  if (store_res_isnull(res, 0, row, col))
    buf_printf(b, ",\"%s\":null", key);
  else
    buf_printf(b, ",\"%s\":%" PRId64, key, store_res_int(res, 0, row, col));
}

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  req_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0) {
    auth_respond_store_error(op->req, status);
    goto done;
  }
  buf_t b = {0};
  buf_puts(&b, "{\"tokens\":[");
  int n = store_res_rows(res, 0);
  for (int i = 0; i < n; i++) {
    const char *name = store_res_text(res, 0, i, 1);
    const char *prefix = store_res_text(res, 0, i, 2);
    buf_printf(&b, "%s{\"id\":%" PRId64 ",\"name\":", i ? "," : "",
               store_res_int(res, 0, i, 0));
    buf_json_str(&b, name, strlen(name));
    buf_puts(&b, ",\"prefix\":");
    buf_json_str(&b, prefix, strlen(prefix));
    buf_puts(&b, ",\"scopes\":");
    auth_scopes_json((unsigned)store_res_int(res, 0, i, 3), &b);
    json_int_or_null(&b, "created_at", res, i, 4);
    json_int_or_null(&b, "last_used_at", res, i, 5);
    json_int_or_null(&b, "expires_at", res, i, 6);
    json_int_or_null(&b, "revoked_at", res, i, 7);
    buf_puts(&b, "}");
  }
  buf_puts(&b, "]}");
  http_respond_json(op->req, 200, b.data, b.len);
  buf_free(&b);
done:
  free(op);
  auth_db_done(a);
}

void auth_tokens_list(http_request_t *req, const auth_principal_t *p,
                      void *ud) {
  auth_t *a = ud;
  req_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_list);
  store_req_bind_int(r, p->user_id);
  auth_db(a, r, listed, op);
}

static void inserted(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  req_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0 || store_res_rows(res, 0) < 1) {
    auth_respond_store_error(op->req, status < 0 ? status : -EIO);
    goto done;
  }
  int64_t id = store_res_int(res, 0, 0, 0);
  buf_t b = {0};
  buf_printf(&b, "{\"token\":{\"id\":%" PRId64 ",\"name\":", id);
  buf_json_str(&b, op->name, strlen(op->name));
  buf_puts(&b, ",\"prefix\":");
  buf_json_str(&b, op->secret, TOKEN_PREFIX_LEN);
  buf_puts(&b, ",\"scopes\":");
  auth_scopes_json(op->scopes, &b);
  buf_printf(&b, ",\"created_at\":%" PRId64 ",\"last_used_at\":null",
             op->created_at);
  if (op->expires_at)
    buf_printf(&b, ",\"expires_at\":%" PRId64, op->expires_at);
  else
    buf_puts(&b, ",\"expires_at\":null");
  buf_puts(&b, ",\"revoked_at\":null},\"secret\":");
  buf_json_str(&b, op->secret, strlen(op->secret));
  buf_puts(&b, "}");
  http_header_t h[2] = {{"Content-Type", "application/json"},
                        {"Cache-Control", "no-store"}};
  http_respond(op->req, 201, h, 2, b.data, b.len);
  sodium_memzero(b.data, b.len); /* it held the secret */
  buf_free(&b);
  char ids[24];
  snprintf(ids, sizeof ids, "%" PRId64, id);
  log_kv(LOG_INFO, "auth", "api token created", "#token_id", ids, NULL);
done:
  sodium_memzero(op->secret, strlen(op->secret));
  free(op->secret);
  free(op->name);
  free(op);
  auth_db_done(a);
}

void auth_tokens_create(http_request_t *req, const auth_principal_t *p,
                        void *ud) {
  auth_t *a = ud;
  auth_fields_t f;
  if (auth_req_fields(req, &f) < 0) return;
  auth_ftype_t st = AUTH_F_STRING;
  const char *name = auth_fields_get(&f, "name", NULL);
  const char *scopes_txt = auth_fields_get(&f, "scopes", &st);
  auth_ftype_t dt = AUTH_F_STRING;
  const char *days_txt = auth_fields_get(&f, "expires_in_days", &dt);
  int scopes =
      scopes_txt ? auth_scopes_parse(scopes_txt, st) : (int)AUTH_SCOPE_READ;
  int64_t days = 0;
  if (!name) name = "";
  if (strlen(name) > TOKEN_NAME_MAX) {
    http_respond_error(req, 400, "name is longer than 100 characters");
    goto out;
  }
  if (scopes < 0) {
    http_respond_error(req, 400, "scopes must list read, write and/or admin");
    goto out;
  }
  if (days_txt && strcmp(days_txt, "null") != 0) {
    days = auth_parse_id(days_txt);
    if (days <= 0 || days > TOKEN_MAX_DAYS) {
      http_respond_error(req, 400,
                         "expires_in_days must be a whole number 1..3650");
      goto out;
    }
  }
  /* Nobody grants more than they hold: a token creating a token passes
   * on at most its own scopes; only admins hold the admin scope. */
  if ((unsigned)scopes & ~p->scopes) {
    http_respond_error(req, 403, "cannot grant scopes you do not hold");
    goto out;
  }
  req_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  op->name = xstrdup(name);
  op->scopes = (unsigned)scopes;
  char *rnd = secrets_random_token(32);
  op->secret = xasprintf("%s%s", AUTH_TOKEN_PREFIX, rnd);
  free(rnd);
  op->created_at = auth_now(a);
  op->expires_at = days ? op->created_at + days * 86400000 : 0;
  char hash[AUTH_HASH_HEX];
  auth_sha256_hex(op->secret, strlen(op->secret), hash);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_insert);
  store_req_bind_int(r, p->user_id);
  store_req_bind_text(r, op->name);
  store_req_bind_textn(r, op->secret, TOKEN_PREFIX_LEN);
  store_req_bind_text(r, hash);
  store_req_bind_int(r, scopes);
  store_req_bind_int(r, op->created_at);
  if (op->expires_at)
    store_req_bind_int(r, op->expires_at);
  else
    store_req_bind_null(r);
  auth_db(a, r, inserted, op);
out:
  auth_fields_free(&f);
}

static void revoked(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  req_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    auth_respond_store_error(op->req, status);
  else if (store_res_changes(res, 0) < 1)
    http_respond_error(op->req, 404, "no such token");
  else
    http_respond(op->req, 204, NULL, 0, NULL, 0);
  free(op);
  auth_db_done(a);
}

void auth_tokens_revoke(http_request_t *req, const auth_principal_t *p,
                        void *ud) {
  auth_t *a = ud;
  int64_t id = auth_parse_id(http_req_param(req, "id"));
  if (!id) {
    http_respond_error(req, 404, "no such token");
    return;
  }
  req_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  store_req_t *r = store_req_new(a->store, 0);
  if (auth_principal_is_admin(p)) {
    store_req_stmt(r, &st_revoke_any);
    store_req_bind_int(r, id);
  } else {
    store_req_stmt(r, &st_revoke_own);
    store_req_bind_int(r, id);
    store_req_bind_int(r, p->user_id);
  }
  store_req_bind_int(r, auth_now(a));
  auth_db(a, r, revoked, op);
}

/* ---- tokens for the command line (`assistd admin create --token`) ---- */

typedef struct mint_op {
  auth_t *a;
  char *secret;
  auth_token_created_cb cb;
  void *arg;
} mint_op_t;

static void minted(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  mint_op_t *op = arg;
  auth_t *a = op->a;
  if (status >= 0 && store_res_rows(res, 0) < 1) status = -EIO;
  int64_t id = status < 0 ? 0 : store_res_int(res, 0, 0, 0);
  op->cb(status < 0 ? status : 0, id, status < 0 ? NULL : op->secret, op->arg);
  if (status >= 0) {
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    log_kv(LOG_INFO, "auth", "api token created", "#token_id", ids, NULL);
  }
  sodium_memzero(op->secret, strlen(op->secret));
  free(op->secret);
  free(op);
  auth_db_done(a);
}

void auth_token_create(auth_t *a, int64_t user_id, const char *name,
                       unsigned scopes, auth_token_created_cb cb, void *arg) {
  mint_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->cb = cb;
  op->arg = arg;
  char *rnd = secrets_random_token(32);
  op->secret = xasprintf("%s%s", AUTH_TOKEN_PREFIX, rnd);
  free(rnd);
  char hash[AUTH_HASH_HEX];
  auth_sha256_hex(op->secret, strlen(op->secret), hash);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_insert);
  store_req_bind_int(r, user_id);
  store_req_bind_textn(r, name ? name : "", name ? strnlen(name, 100) : 0);
  store_req_bind_textn(r, op->secret, TOKEN_PREFIX_LEN);
  store_req_bind_text(r, hash);
  store_req_bind_int(r, (int64_t)(scopes & AUTH_SCOPE_ALL));
  store_req_bind_int(r, auth_now(a));
  store_req_bind_null(r);
  auth_db(a, r, minted, op);
}
