/* auth_api.c: POST /api/auth/login, POST /api/auth/logout,
 * GET /api/auth/me, POST /api/auth/register, and the registration of every
 * auth route. */
#include "auth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"
#include "../secrets/secrets.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_BODY_MAX 16384

static const store_stmt_t st_login_user = {
    "auth.login_user",
    "SELECT " AUTH_USER_COLS ", password_hash FROM users WHERE email = $1",
    NULL};
static const store_stmt_t st_lockouts = {
    "auth.lockouts",
    "SELECT locked_until FROM auth_lockouts"
    " WHERE (key = $1 OR key = $2) AND locked_until > $3"
    " ORDER BY locked_until DESC",
    NULL};
static const store_stmt_t st_lock = {
    "auth.lock",
    "INSERT INTO auth_lockouts (key, locked_until, updated_at)"
    " VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET"
    " locked_until = excluded.locked_until, updated_at = excluded.updated_at",
    NULL};
static const store_stmt_t st_lock_sweep = {
    "auth.lock_sweep", "DELETE FROM auth_lockouts WHERE locked_until <= $1",
    NULL};
static const store_stmt_t st_rehash = {
    "auth.rehash", "UPDATE users SET password_hash = $2 WHERE id = $1", NULL};
static const store_stmt_t st_me = {
    "auth.me",
    "SELECT u.id, u.email, u.name, u.role, u.preferences, u.disabled,"
    " u.created_at, u.updated_at, s.csrf_token FROM users u"
    " LEFT JOIN sessions s ON s.id_hash = $2 AND s.user_id = u.id"
    " WHERE u.id = $1",
    NULL};

/* ---- responses ---- */

void auth_respond_error(http_request_t *req, int status, const char *message,
                        const http_header_t *extra, size_t nextra) {
  http_header_t h[4] = {{"Content-Type", "application/json"},
                        {"Cache-Control", "no-store"}};
  size_t nh = 2;
  for (size_t i = 0; i < nextra && nh < 4; i++) h[nh++] = extra[i];
  const char *id = http_req_id(req);
  buf_t b = {0};
  buf_printf(&b, "{\"error\":{\"status\":%d,\"message\":", status);
  buf_json_str(&b, message, strlen(message));
  buf_puts(&b, ",\"request_id\":");
  buf_json_str(&b, id, strlen(id));
  buf_puts(&b, "}}");
  http_respond(req, status, h, nh, b.data, b.len);
  buf_free(&b);
}

void auth_respond_store_error(http_request_t *req, int status) {
  if (status == -ENOTCONN || status == -ECANCELED)
    auth_respond_error(req, 503, "the database is unavailable", NULL, 0);
  else
    auth_respond_error(req, 500, "internal error", NULL, 0);
}

int auth_req_fields(http_request_t *req, auth_fields_t *out) {
  size_t len;
  const char *body = http_req_body(req, &len);
  int rc = auth_body_parse(http_req_header(req, "Content-Type"),
                           body ? body : "", body ? len : 0, out);
  if (rc == -ENOTSUP)
    http_respond_error(req, 415,
                       "send application/json (or a urlencoded form)");
  else if (rc < 0)
    http_respond_error(req, 400, "malformed request body");
  return rc < 0 ? -1 : 0;
}

/* Login and registration from a browser: the Origin, when sent, must be
 * ours (a second line of defence against login CSRF). */
static int origin_ok(auth_t *a, http_request_t *req) {
  const char *o = http_req_header(req, "Origin");
  if (!o || !a->origin) return 1;
  return strcasecmp(o, a->origin) == 0;
}

static void count_login(auth_t *a, const char *outcome) {
  char l[48];
  snprintf(l, sizeof l, "outcome=\"%s\"", outcome);
  metric_add(a->m_logins, l, 1);
}

static void respond_locked(auth_t *a, http_request_t *req, int64_t until) {
  int64_t now = auth_now(a);
  int64_t secs = until > now ? (until - now + 999) / 1000 : 1;
  char ra[24];
  snprintf(ra, sizeof ra, "%" PRId64, secs);
  http_header_t h = {"Retry-After", ra};
  count_login(a, "locked");
  auth_respond_error(req, 429, "too many failed sign-ins; try again later", &h,
                     1);
}

/* ---- login ---- */

typedef struct login_op {
  auth_t *a;
  http_request_t *req;
  char email[AUTH_EMAIL_MAX];
  char acct_key[AUTH_EMAIL_MAX + 8];
  char addr_key[AUTH_ADDR_MAX + 8];
  char *password;
  char old_sid[AUTH_SECRET_MAX];
  int has_old;
  /* from the database */
  int found, disabled;
  int64_t user_id;
  auth_role_t role;
  char hash[SECRETS_PWHASH_STRBYTES];
  buf_t user_json;
  /* from the thread pool */
  int ok;
  char rehash[SECRETS_PWHASH_STRBYTES];
  /* on success */
  char *cookie;
  char csrf[64];
} login_op_t;

static void login_free(login_op_t *op) {
  if (op->password) {
    sodium_memzero(op->password, strlen(op->password));
    free(op->password);
  }
  sodium_memzero(op->old_sid, sizeof op->old_sid);
  buf_free(&op->user_json);
  free(op->cookie);
  free(op);
}

static void login_fail_written(store_t *s, int status, const char *errmsg,
                               store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  login_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    log_kv(LOG_ERROR, "auth", "lockout write failed", "error",
           errmsg ? errmsg : "", NULL);
  count_login(a, "invalid");
  auth_respond_error(op->req, 401, "invalid email or password", NULL, 0);
  login_free(op);
  auth_db_done(a);
}

static void login_failed(login_op_t *op) {
  auth_t *a = op->a;
  int64_t now = auth_now(a);
  int64_t until = now + a->lockout_ms;
  int acct = auth_limiter_fail(a->lim_account, op->acct_key, now, until);
  int addr = op->addr_key[0] &&
             auth_limiter_fail(a->lim_addr, op->addr_key, now, until);
  if (!acct && !addr) {
    count_login(a, "invalid");
    auth_respond_error(op->req, 401, "invalid email or password", NULL, 0);
    login_free(op);
    return;
  }
  log_kv(LOG_WARN, "auth", "sign-in lockout", "scope",
         acct && addr ? "account,address"
         : acct       ? "account"
                      : "address",
         NULL);
  store_req_t *r = store_req_new(a->store, STORE_TXN);
  store_req_stmt(r, &st_lock_sweep);
  store_req_bind_int(r, now);
  if (acct) {
    store_req_stmt(r, &st_lock);
    store_req_bind_text(r, op->acct_key);
    store_req_bind_int(r, until);
    store_req_bind_int(r, now);
  }
  if (addr) {
    store_req_stmt(r, &st_lock);
    store_req_bind_text(r, op->addr_key);
    store_req_bind_int(r, until);
    store_req_bind_int(r, now);
  }
  auth_db(a, r, login_fail_written, op);
}

static void login_rehashed(store_t *s, int status, const char *errmsg,
                           store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  auth_t *a = arg;
  if (status < 0)
    log_kv(LOG_WARN, "auth", "password rehash failed", "error",
           errmsg ? errmsg : "", NULL);
  auth_db_done(a);
}

static void login_session(auth_t *a, int status, const char *sid,
                          const char *csrf, void *arg) {
  login_op_t *op = arg;
  if (status < 0) {
    auth_respond_store_error(op->req, status);
    login_free(op);
    return;
  }
  char *cookie = auth_session_cookie(a, sid);
  http_header_t h[3] = {{"Content-Type", "application/json"},
                        {"Cache-Control", "no-store"},
                        {"Set-Cookie", cookie}};
  buf_t b = {0};
  buf_puts(&b, "{\"user\":");
  buf_append(&b, op->user_json.data, op->user_json.len);
  buf_puts(&b, ",\"csrf_token\":");
  buf_json_str(&b, csrf, strlen(csrf));
  buf_puts(&b, "}");
  count_login(a, "ok");
  char ids[24];
  snprintf(ids, sizeof ids, "%" PRId64, op->user_id);
  log_kv(LOG_INFO, "auth", "signed in", "#user_id", ids, NULL);
  http_respond(op->req, 200, h, 3, b.data, b.len);
  buf_free(&b);
  free(cookie);
  login_free(op);
}

static void login_work(void *arg) {
  login_op_t *op = arg;
  /* One Argon2id verification whatever the account: unknown emails,
   * accounts without a password and disabled accounts cost the same. */
  const char *h = op->found && op->hash[0] ? op->hash : auth_dummy_hash();
  int rc = secrets_pwhash_verify(h, op->password);
  op->ok = rc == 0 && op->found && op->hash[0] && !op->disabled;
  if (op->ok && secrets_pwhash_needs_rehash(op->hash) == 1 &&
      secrets_pwhash(op->password, op->rehash) < 0)
    op->rehash[0] = '\0';
}

static void login_verified(void *arg) {
  login_op_t *op = arg;
  auth_t *a = op->a;
  if (!op->ok) {
    login_failed(op);
    return;
  }
  auth_limiter_reset(a->lim_account, op->acct_key);
  if (op->rehash[0]) {
    store_req_t *r = store_req_new(a->store, 0);
    store_req_stmt(r, &st_rehash);
    store_req_bind_int(r, op->user_id);
    store_req_bind_text(r, op->rehash);
    auth_db(a, r, login_rehashed, a);
  }
  auth_session_create(a, op->user_id, op->has_old ? op->old_sid : NULL,
                      login_session, op);
}

static void login_looked_up(store_t *s, int status, const char *errmsg,
                            store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  login_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0) {
    auth_respond_store_error(op->req, status);
    login_free(op);
    goto done;
  }
  if (store_res_rows(res, 1) > 0) {
    respond_locked(a, op->req, store_res_int(res, 1, 0, 0));
    login_free(op);
    goto done;
  }
  if (store_res_rows(res, 0) > 0) {
    auth_user_row_t u;
    auth_user_read(res, 0, 0, &u);
    op->found = 1;
    op->user_id = u.id;
    op->role = auth_role_parse(u.role);
    op->disabled = u.disabled;
    snprintf(op->hash, sizeof op->hash, "%s", store_res_text(res, 0, 0, 8));
    auth_user_json(&u, &op->user_json);
  }
  auth_work(a, login_work, login_verified, op);
done:
  auth_db_done(a);
}

static void login(http_request_t *req, void *ud) {
  auth_t *a = ud;
  if (a->closing) {
    auth_respond_store_error(req, -ECANCELED);
    return;
  }
  if (!origin_ok(a, req)) {
    http_respond_error(req, 403, "cross-origin sign-in refused");
    return;
  }
  auth_fields_t f;
  if (auth_req_fields(req, &f) < 0) return;
  login_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  const char *email = auth_fields_get(&f, "email", NULL);
  const char *password = auth_fields_get(&f, "password", NULL);
  if (!email || !password || strlen(password) > AUTH_PASSWORD_MAX ||
      auth_email_normalize(email, op->email, sizeof op->email) < 0) {
    http_respond_error(req, 400, "send email and password");
    auth_fields_free(&f);
    login_free(op);
    return;
  }
  op->password = xstrdup(password);
  auth_fields_free(&f);
  snprintf(op->acct_key, sizeof op->acct_key, "acct:%s", op->email);
  char addr[AUTH_ADDR_MAX];
  auth_client_addr(a, req, addr, sizeof addr);
  if (addr[0]) snprintf(op->addr_key, sizeof op->addr_key, "addr:%s", addr);
  op->has_old =
      auth_session_from_req(a, req, op->old_sid, sizeof op->old_sid) == 0;

  int64_t now = auth_now(a);
  int64_t l1 = auth_limiter_locked(a->lim_account, op->acct_key, now);
  int64_t l2 =
      op->addr_key[0] ? auth_limiter_locked(a->lim_addr, op->addr_key, now) : 0;
  if (l1 || l2) {
    respond_locked(a, req, l1 > l2 ? l1 : l2);
    login_free(op);
    return;
  }
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_login_user);
  store_req_bind_text(r, op->email);
  store_req_stmt(r, &st_lockouts);
  store_req_bind_text(r, op->acct_key);
  store_req_bind_text(r, op->addr_key[0] ? op->addr_key : op->acct_key);
  store_req_bind_int(r, now);
  auth_db(a, r, login_looked_up, op);
}

/* ---- logout ---- */

typedef struct simple_op {
  auth_t *a;
  http_request_t *req;
  auth_principal_t p;
} simple_op_t;

static void respond_logged_out(auth_t *a, http_request_t *req) {
  char *cookie = auth_session_cookie_clear(a);
  http_header_t h[2] = {{"Set-Cookie", cookie}, {"Cache-Control", "no-store"}};
  http_respond(req, 204, h, 2, NULL, 0);
  free(cookie);
}

static void logout_done(auth_t *a, int status, void *arg) {
  simple_op_t *op = arg;
  if (status < 0)
    auth_respond_store_error(op->req, status);
  else
    respond_logged_out(a, op->req);
  free(op);
}

static void logout(http_request_t *req, const auth_principal_t *p, void *ud) {
  auth_t *a = ud;
  char sid[AUTH_SECRET_MAX];
  if (p->via != AUTH_VIA_SESSION ||
      auth_session_from_req(a, req, sid, sizeof sid) < 0) {
    respond_logged_out(a, req); /* an API token has nothing to end */
    return;
  }
  simple_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  auth_session_delete(a, sid, logout_done, op);
}

/* ---- me ---- */

static void me_done(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  simple_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0) {
    auth_respond_store_error(op->req, status);
  } else if (store_res_rows(res, 0) < 1) {
    auth_respond_error(op->req, 401, "not signed in", NULL, 0);
  } else {
    auth_user_row_t u;
    auth_user_read(res, 0, 0, &u);
    buf_t b = {0};
    buf_puts(&b, "{\"user\":");
    auth_user_json(&u, &b);
    buf_puts(&b, ",\"csrf_token\":");
    if (op->p.via == AUTH_VIA_SESSION && !store_res_isnull(res, 0, 0, 8)) {
      const char *c = store_res_text(res, 0, 0, 8);
      buf_json_str(&b, c, strlen(c));
    } else {
      buf_puts(&b, "null");
    }
    buf_printf(&b, ",\"via\":\"%s\",\"scopes\":",
               op->p.via == AUTH_VIA_SESSION ? "session" : "token");
    auth_scopes_json(op->p.scopes, &b);
    buf_puts(&b, "}");
    http_header_t h[2] = {{"Content-Type", "application/json"},
                          {"Cache-Control", "no-store"}};
    http_respond(op->req, 200, h, 2, b.data, b.len);
    buf_free(&b);
  }
  free(op);
  auth_db_done(a);
}

static void me(http_request_t *req, const auth_principal_t *p, void *ud) {
  auth_t *a = ud;
  char sid[AUTH_SECRET_MAX], hash[AUTH_HASH_HEX] = "";
  if (p->via == AUTH_VIA_SESSION &&
      auth_session_from_req(a, req, sid, sizeof sid) == 0)
    auth_sha256_hex(sid, strlen(sid), hash);
  simple_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  op->p = *p;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_me);
  store_req_bind_int(r, p->user_id);
  store_req_bind_text(r, hash);
  auth_db(a, r, me_done, op);
}

/* ---- registration ---- */

static void do_register(http_request_t *req, void *ud) {
  auth_t *a = ud;
  if (a->closing) {
    auth_respond_store_error(req, -ECANCELED);
    return;
  }
  if (!origin_ok(a, req)) {
    http_respond_error(req, 403, "cross-origin registration refused");
    return;
  }
  char addr[AUTH_ADDR_MAX], key[AUTH_ADDR_MAX + 8];
  auth_client_addr(a, req, addr, sizeof addr);
  if (addr[0]) {
    snprintf(key, sizeof key, "addr:%s", addr);
    int64_t until = auth_limiter_locked(a->lim_addr, key, auth_now(a));
    if (until) {
      respond_locked(a, req, until);
      return;
    }
  }
  auth_fields_t f;
  if (auth_req_fields(req, &f) < 0) return;
  auth_users_create_from(a, req, NULL, &f, AUTH_ROLE_USER, 1);
  auth_fields_free(&f);
}

int auth_api_register(auth_t *a, router_t *r) {
  int rc = 0;
  rc |= router_add(r, "POST", "/api/auth/login", AUTH_BODY_MAX, login, a);
  if (a->allow_registration)
    rc |= router_add(r, "POST", "/api/auth/register", AUTH_BODY_MAX,
                     do_register, a);
  rc |= auth_route_add(a, r, "POST", "/api/auth/logout", AUTH_BODY_MAX,
                       AUTH_SCOPE_NONE, logout, a);
  rc |= auth_route_add(a, r, "GET", "/api/auth/me", 0, AUTH_SCOPE_NONE, me, a);
  rc |= auth_users_register_routes(a, r);
  rc |= auth_route_add(a, r, "GET", "/api/tokens", 0, AUTH_SCOPE_READ,
                       auth_tokens_list, a);
  rc |= auth_route_add(a, r, "POST", "/api/tokens", AUTH_BODY_MAX,
                       AUTH_SCOPE_WRITE, auth_tokens_create, a);
  rc |= auth_route_add(a, r, "DELETE", "/api/tokens/{id}", 0, AUTH_SCOPE_WRITE,
                       auth_tokens_revoke, a);
  return rc ? -1 : 0;
}
