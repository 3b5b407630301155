/*
 * core/oauth end to end against real servers started by
 * tests/harness/oauth-run-tests.sh: @inbox-zero/emulate (google and
 * microsoft) and oauth2-mock-server with revocation. The REST API runs on
 * a real HTTP server on the same private loop; the provider's consent step
 * is driven the way the emulators expose it. Runs on SQLite and on
 * PostgreSQL (tests/unit/store/run-tests.sh).
 */
#include "../store/store_test_util.h"

#include "client.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "metrics/metrics.h"
#include "oauth/oauth.h"
#include "secrets/secrets.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdbool.h>

typedef struct fx {
  tu_env_t env;
  secrets_keyring_t *ring;
  httpc_t *httpc;
  oauth_t *o;
  router_t *router;
  http_server_t *srv;
  int port;
  int audit_connected, audit_reauth, audit_disconnected;
  char last_audit_detail[256];
} fx_t;

static fx_t F;
static int64_t g_skew_ms;

static const char *env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v)
    fail_msg("%s is not set: run through oauth-run-tests.sh", name);
  return v;
}

static int64_t test_clock(void *ud) {
  (void)ud;
  return store_now_ms() + g_skew_ms;
}

static void audit_hook(const char *action, int64_t user_id, int64_t conn_id,
                       const char *provider, const char *detail, void *ud) {
  (void)user_id;
  (void)conn_id;
  (void)provider;
  fx_t *f = ud;
  if (strcmp(action, "oauth.connected") == 0) f->audit_connected++;
  if (strcmp(action, "oauth.needs_reauth") == 0) f->audit_reauth++;
  if (strcmp(action, "oauth.disconnected") == 0) f->audit_disconnected++;
  snprintf(f->last_audit_detail, sizeof f->last_audit_detail, "%s", detail);
}

/* The daemon's seam: here "X-Test-User: <id>" is the principal. */
static void principal(http_request_t *req, int write, oauth_principal_cb cb,
                      void *ctx, void *ud) {
  (void)write;
  (void)ud;
  const char *u = http_req_header(req, "X-Test-User");
  if (!u) {
    http_respond_error(req, 401, "authentication required");
    cb(req, -1, ctx);
    return;
  }
  cb(req, strtoll(u, NULL, 10), ctx);
}

static const router_t *acq(void *ud, void **token) {
  *token = ud;
  return F.router;
}
static void rel(void *ud, void *token) {
  (void)ud;
  (void)token;
}

static const http_limits_t limits = {
    .max_connections = 100,
    .max_header_size = 16384,
    .max_headers = 64,
    .max_body_size = 1 << 20,
    .header_timeout_ms = 30000,
    .body_timeout_ms = 30000,
    .idle_timeout_ms = 30000,
};

static char g_google_auth[512], g_google_token[512], g_google_revoke[512];
static char g_ms_auth[512], g_ms_token[512];
static char g_mock_auth[512], g_mock_token[512], g_mock_revoke[512];

static int setup(void **state) {
  (void)state;
  memset(&F, 0, sizeof F);
  g_skew_ms = 0;
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);
  assert_int_equal(secrets_global_init(), 0);
  tu_env_open(&F.env);
  if (F.env.pg)
    assert_int_equal(tu_sql(&F.env.loop, F.env.s, NULL,
                            "TRUNCATE users, oauth_connections RESTART "
                            "IDENTITY CASCADE"),
                     0);
  assert_int_equal(
      tu_sql(&F.env.loop, F.env.s, NULL,
             "INSERT INTO users (email, created_at, updated_at) VALUES "
             "('one@assist.test', 0, 0), ('two@assist.test', 0, 0)"),
      0);
  F.ring = secrets_keyring_new();
  assert_int_equal(secrets_keyring_generate(F.ring, true, NULL), 0);
  assert_int_equal(httpc_new(&F.env.loop, NULL, &F.httpc), 0);

  const char *g = env("OAUTH_TEST_GOOGLE_URL");
  const char *m = env("OAUTH_TEST_MS_URL");
  const char *i = env("OAUTH_TEST_ISSUER");
  snprintf(g_google_auth, sizeof g_google_auth, "%s/o/oauth2/v2/auth", g);
  snprintf(g_google_token, sizeof g_google_token, "%s/oauth2/token", g);
  snprintf(g_google_revoke, sizeof g_google_revoke, "%s/oauth2/revoke", g);
  snprintf(g_ms_auth, sizeof g_ms_auth, "%s/oauth2/v2.0/authorize", m);
  snprintf(g_ms_token, sizeof g_ms_token, "%s/oauth2/v2.0/token", m);
  snprintf(g_mock_auth, sizeof g_mock_auth, "%s/authorize", i);
  snprintf(g_mock_token, sizeof g_mock_token, "%s/token", i);
  snprintf(g_mock_revoke, sizeof g_mock_revoke, "%s/revoke", i);
  oauth_provider_cfg_t provs[] = {
      {.name = "google",
       .kind = OAUTH_GOOGLE,
       .client_id = env("OAUTH_TEST_GOOGLE_CLIENT"),
       .client_secret = env("OAUTH_TEST_GOOGLE_SECRET"),
       .authorize_url = g_google_auth,
       .token_url = g_google_token,
       .revoke_url = g_google_revoke,
       .scopes = "openid email https://www.googleapis.com/auth/gmail.modify"},
      {.name = "microsoft",
       .kind = OAUTH_MICROSOFT,
       .client_id = env("OAUTH_TEST_MS_CLIENT"),
       .client_secret = env("OAUTH_TEST_MS_SECRET"),
       .authorize_url = g_ms_auth,
       .token_url = g_ms_token,
       .scopes = "openid profile email User.Read Mail.ReadWrite"},
      {.name = "corp",
       .kind = OAUTH_GENERIC,
       .client_id = "assist-corp",
       .client_secret = "corp-secret",
       .authorize_url = g_mock_auth,
       .token_url = g_mock_token,
       .revoke_url = g_mock_revoke,
       .scopes = "openid email"},
  };
  oauth_config_t cfg = {.redirect_base = env("OAUTH_TEST_REDIRECT_BASE"),
                        .providers = provs,
                        .nproviders = 3,
                        .audit = audit_hook,
                        .audit_ud = &F,
                        .now_ms = test_clock};
  char err[256];
  F.o = oauth_new(&F.env.loop, F.env.s, F.httpc, F.ring, &cfg, err, sizeof err);
  if (!F.o) fail_msg("oauth_new: %s", err);
  F.router = router_new();
  assert_int_equal(oauth_api_register(F.o, F.router, principal, NULL), 0);
  http_app_t app = {acq, rel, &F};
  F.srv = http_server_new(&F.env.loop, &limits, &app);
  assert_int_equal(http_server_listen(F.srv, "127.0.0.1", 0), 0);
  F.port = http_server_port(F.srv, 0);
  return 0;
}

static void flag_cb(void *arg) {
  *(int *)arg = 1;
}

static int teardown(void **state) {
  (void)state;
  int done = 0;
  oauth_close(F.o, flag_cb, &done);
  tu_run_until(&F.env.loop, &done);
  done = 0;
  http_server_shutdown(F.srv, 1000, flag_cb, &done);
  tu_run_until(&F.env.loop, &done);
  http_server_free(F.srv);
  router_free(F.router);
  done = 0;
  httpc_close(F.httpc, flag_cb, &done);
  tu_run_until(&F.env.loop, &done);
  secrets_keyring_free(F.ring);
  tu_env_close(&F.env);
  metrics_reset();
  return 0;
}

/* ---------------- outbound HTTP (httpc, synchronously) ---------------- */

typedef struct hres {
  int done;
  httpc_response_t *r;
} hres_t;

static void hdone(httpc_response_t *r, void *arg) {
  hres_t *h = arg;
  h->r = r;
  h->done = 1;
}

/* A request through httpc; the caller frees the response. */
static httpc_response_t *hreq(const char *method, const char *url,
                              const char *bearer, const char *form) {
  char auth[2048];
  const char *hdrs[3] = {NULL, NULL, NULL};
  size_t n = 0;
  if (bearer) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
    hdrs[n++] = auth;
  }
  if (form) hdrs[n++] = "Content-Type: application/x-www-form-urlencoded";
  httpc_request_t rq = {.method = method,
                        .url = url,
                        .headers = hdrs,
                        .body = form,
                        .body_len = form ? strlen(form) : 0,
                        .flags = HTTPC_F_NO_RETRY};
  hres_t h = {0};
  assert_int_equal(httpc_request(F.httpc, &rq, hdone, &h, NULL), 0);
  tu_run_until(&F.env.loop, &h.done);
  return h.r;
}

/* ---------------- the REST API over TCP ---------------- */

typedef struct res {
  int status;
  char location[4096];
  json_object *json;
} res_t;

static res_t api(const char *method, const char *target, int user) {
  client_t c;
  client_connect(&F.env.loop, &c, F.port);
  char rq[8192];
  char uh[64] = "";
  if (user > 0) snprintf(uh, sizeof uh, "X-Test-User: %d\r\n", user);
  snprintf(rq, sizeof rq,
           "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: 0\r\n"
           "Connection: close\r\n\r\n",
           method, target, uh);
  client_sends(&c, rq);
  RUN_UNTIL(&F.env.loop, client_count(&c, 0) >= 1);
  resp_t r;
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  res_t out = {.status = r.status};
  resp_header(&r, "Location", out.location, sizeof out.location);
  if (r.body_len) out.json = json_tokener_parse(r.body);
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.env.loop, c.closed);
  client_free(&c);
  return out;
}

static const char *jget(json_object *j, const char *key) {
  json_object *v;
  if (!j || !json_object_object_get_ex(j, key, &v)) return NULL;
  return json_object_get_string(v);
}

/* ---------------- consent at the providers ---------------- */

/* The path + query of a redirect to redirect_base (the browser's next
 * request to assistd). */
static char *callback_target(const char *location) {
  const char *base = env("OAUTH_TEST_REDIRECT_BASE");
  size_t bl = strlen(base);
  if (strncmp(location, base, bl) != 0)
    fail_msg("redirect to %s, not to %s", location, base);
  return xstrdup(location + bl);
}

/* Emulators: the consent form posts the authorization request's
 * parameters plus the chosen account to <consent_url>; the answer is the
 * redirect back to us. */
static char *emulator_consent(const char *auth_url, const char *consent_url,
                              const char *email) {
  const char *q = strchr(auth_url, '?');
  assert_non_null(q);
  buf_t form = {0};
  buf_puts(&form, q + 1);
  buf_puts(&form, "&email=");
  char *e = curl_easy_escape(NULL, email, 0);
  buf_puts(&form, e);
  curl_free(e);
  httpc_response_t *r = hreq("POST", consent_url, NULL, form.data);
  buf_free(&form);
  if (r->status != 302)
    fail_msg("consent answered %ld: %.300s", r->status, r->body);
  char *t = callback_target(httpc_response_header(r, "Location"));
  httpc_response_free(r);
  return t;
}

/* oauth2-mock-server approves every authorization request at once. */
static char *mock_consent(const char *auth_url) {
  httpc_response_t *r = hreq("GET", auth_url, NULL, NULL);
  if (r->status != 302) fail_msg("authorize answered %ld", r->status);
  char *t = callback_target(httpc_response_header(r, "Location"));
  httpc_response_free(r);
  return t;
}

/* POST /api/connections/{provider}/authorize as user -> the provider URL */
static char *authorize(const char *provider, int user) {
  char path[128];
  snprintf(path, sizeof path, "/api/connections/%s/authorize", provider);
  res_t r = api("POST", path, user);
  assert_int_equal(r.status, 200);
  char *url = xstrdup(jget(r.json, "url"));
  json_object_put(r.json);
  return url;
}

/* The whole flow through the REST API; returns the connection id. */
static int64_t connect_via_api(const char *provider, int user) {
  char *url = authorize(provider, user);
  char *target;
  if (strcmp(provider, "google") == 0) {
    char consent[600];
    snprintf(consent, sizeof consent, "%s/callback", g_google_auth);
    target = emulator_consent(url, consent, env("OAUTH_TEST_GOOGLE_USER"));
  } else if (strcmp(provider, "microsoft") == 0) {
    char consent[600];
    snprintf(consent, sizeof consent, "%s/callback", g_ms_auth);
    target = emulator_consent(url, consent, env("OAUTH_TEST_MS_USER"));
  } else {
    target = mock_consent(url);
  }
  free(url);
  char prefix[96];
  snprintf(prefix, sizeof prefix, "/api/connections/%s/callback?", provider);
  assert_true(strncmp(target, prefix, strlen(prefix)) == 0);
  res_t r = api("GET", target, 0); /* public: no principal */
  free(target);
  if (r.status != 200)
    fail_msg("callback answered %d: %s", r.status,
             r.json ? json_object_to_json_string(r.json) : "");
  int64_t id = json_object_get_int64(json_object_object_get(r.json, "id"));
  assert_string_equal(jget(r.json, "state"), "active");
  json_object_put(r.json);
  assert_true(id > 0);
  return id;
}

/* ---------------- tokens ---------------- */

typedef struct tok {
  int done, status;
  char token[4096];
  int64_t exp;
} tok_t;

static void tok_cb(int status, const char *token, int64_t exp, void *arg) {
  tok_t *t = arg;
  t->status = status;
  if (token) snprintf(t->token, sizeof t->token, "%s", token);
  t->exp = exp;
  t->done = 1;
}

static tok_t access_token(int64_t id) {
  tok_t t = {0};
  assert_int_equal(oauth_access_token(F.o, id, tok_cb, &t), 0);
  assert_int_equal(t.done, 0); /* never synchronous */
  tu_run_until(&F.env.loop, &t.done);
  return t;
}

static void force_expiry(int64_t id) {
  assert_int_equal(tu_sql(&F.env.loop, F.env.s, NULL,
                          "UPDATE oauth_connections SET access_expires_at = "
                          "1000 WHERE id = %lld",
                          (long long)id),
                   0);
}

/* A column of connection id as text (static buffer; "" for NULL). */
static const char *column(int64_t id, const char *col) {
  static char out[4096];
  tu_exec_t e = {0};
  store_req_t *r = store_req_new(F.env.s, 0);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT COALESCE(%s, '') FROM oauth_connections WHERE id = %lld",
           col, (long long)id);
  store_req_sql(r, sql);
  store_req_submit(r, tu_exec_cb, &e);
  tu_run_until(&F.env.loop, &e.done);
  assert_int_equal(e.status, 0);
  assert_int_equal(e.rows, 1);
  snprintf(out, sizeof out, "%s", e.text);
  return out;
}

/* The stored refresh token, decrypted (what a provider would revoke). */
static char *stored_refresh_token(int64_t id) {
  char aad[64];
  snprintf(aad, sizeof aad, "oauth_connections.refresh_token:%lld",
           (long long)id);
  char *plain = NULL;
  assert_int_equal(
      secrets_decrypt(F.ring, column(id, "refresh_token"), aad, &plain, NULL),
      0);
  char *out = xstrdup(plain);
  secrets_plain_free(plain);
  return out;
}

/* Whether needle's bytes appear anywhere in the database file (+ WAL). */
static int in_db_file(const char *needle) {
  if (F.env.pg) return 0;
  int found = 0;
  const char *sfx[] = {"", "-wal"};
  for (size_t i = 0; i < 2 && !found; i++) {
    char p[320];
    snprintf(p, sizeof p, "%s%s", F.env.path, sfx[i]);
    FILE *fp = fopen(p, "rb");
    if (!fp) continue;
    buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
      buf_append(&b, chunk, n);
    fclose(fp);
    size_t nl = strlen(needle);
    for (size_t k = 0; b.len >= nl && k + nl <= b.len; k++)
      if (memcmp(b.data + k, needle, nl) == 0) {
        found = 1;
        break;
      }
    buf_free(&b);
  }
  return found;
}

static void assert_not_stored_in_clear(const char *secret) {
  assert_true(strlen(secret) > 8);
  assert_int_equal(tu_int(&F.env.loop, F.env.s,
                          "SELECT COUNT(*) FROM oauth_connections WHERE "
                          "access_token LIKE '%%%s%%' OR refresh_token LIKE "
                          "'%%%s%%'",
                          secret, secret),
                   0);
  /* the file itself (SQLite): written through, then checked byte-wise */
  assert_int_equal(in_db_file(secret), 0);
}

static int64_t mock_count(const char *what) {
  char url[8192];
  snprintf(url, sizeof url, "%s/_test/counts", env("OAUTH_TEST_ISSUER"));
  httpc_response_t *r = hreq("GET", url, NULL, NULL);
  assert_int_equal(r->status, 200);
  json_object *j = json_tokener_parse(r->body);
  int64_t v = json_object_get_int64(json_object_object_get(j, what));
  json_object_put(j);
  httpc_response_free(r);
  return v;
}

/* ---------------- tests ---------------- */

static void test_google_end_to_end(void **state) {
  (void)state;
  int64_t id = connect_via_api("google", 1);
  assert_int_equal(F.audit_connected, 1);
  assert_string_equal(column(id, "state"), "active");
  assert_string_equal(column(id, "email"), env("OAUTH_TEST_GOOGLE_USER"));
  assert_true(strncmp(column(id, "access_token"), "v1:", 3) == 0);
  assert_true(strncmp(column(id, "refresh_token"), "v1:", 3) == 0);

  tok_t t1 = access_token(id);
  assert_int_equal(t1.status, 0);
  assert_true(strncmp(t1.token, "google_", 7) == 0);
  assert_int_equal(oauth_refresh_count(F.o), 0); /* still fresh */
  char *rt = stored_refresh_token(id);
  assert_not_stored_in_clear(t1.token);
  assert_not_stored_in_clear(rt);
  char rt_ct[4096];
  snprintf(rt_ct, sizeof rt_ct, "%s", column(id, "refresh_token"));

  /* expired: one refresh; Google keeps its refresh token */
  force_expiry(id);
  tok_t t2 = access_token(id);
  assert_int_equal(t2.status, 0);
  assert_string_not_equal(t2.token, t1.token);
  assert_int_equal(oauth_refresh_count(F.o), 1);
  assert_string_equal(column(id, "refresh_token"), rt_ct);
  assert_not_stored_in_clear(t2.token);

  /* the refreshed token works at the Gmail API */
  char url[8192];
  snprintf(url, sizeof url, "%s/gmail/v1/users/me/labels",
           env("OAUTH_TEST_GOOGLE_URL"));
  httpc_response_t *r = hreq("GET", url, t2.token, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->body, "INBOX"));
  httpc_response_free(r);
  /* the emulator's APIs accept any bearer token (only a missing one is
   * refused), so also ask its tokeninfo endpoint, which knows the tokens
   * it issued: the refreshed one is live, a made-up one is not */
  r = hreq("GET", url, NULL, NULL);
  assert_int_equal(r->status, 401);
  httpc_response_free(r);
  snprintf(url, sizeof url, "%s/oauth2/v1/tokeninfo?access_token=%s",
           env("OAUTH_TEST_GOOGLE_URL"), t2.token);
  r = hreq("GET", url, NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->body, env("OAUTH_TEST_GOOGLE_USER")));
  httpc_response_free(r);
  snprintf(url, sizeof url, "%s/oauth2/v1/tokeninfo?access_token=google_x",
           env("OAUTH_TEST_GOOGLE_URL"));
  r = hreq("GET", url, NULL, NULL);
  assert_int_equal(r->status, 400);
  httpc_response_free(r);

  /* a second refresh still works with the kept refresh token */
  force_expiry(id);
  tok_t t3 = access_token(id);
  assert_int_equal(t3.status, 0);
  assert_int_equal(oauth_refresh_count(F.o), 2);

  /* listed for its owner, invisible to another user */
  res_t l = api("GET", "/api/connections", 1);
  assert_int_equal(l.status, 200);
  json_object *arr = json_object_object_get(l.json, "connections");
  assert_int_equal(json_object_array_length(arr), 1);
  json_object *c0 = json_object_array_get_idx(arr, 0);
  assert_string_equal(jget(c0, "provider"), "google");
  assert_string_equal(jget(c0, "state"), "active");
  assert_string_equal(jget(c0, "email"), env("OAUTH_TEST_GOOGLE_USER"));
  assert_null(strstr(json_object_to_json_string(l.json), "google_"));
  json_object_put(l.json);
  l = api("GET", "/api/connections", 2);
  assert_int_equal(l.status, 200);
  assert_int_equal(
      json_object_array_length(json_object_object_get(l.json, "connections")),
      0);
  json_object_put(l.json);
  l = api("GET", "/api/connections", 0);
  assert_int_equal(l.status, 401);
  json_object_put(l.json);
  char path[64];
  snprintf(path, sizeof path, "/api/connections/%lld", (long long)id);
  l = api("DELETE", path, 2);
  assert_int_equal(l.status, 404);
  json_object_put(l.json);
  tok_t other = {0};
  assert_int_equal(oauth_access_token_user(F.o, 2, id, tok_cb, &other), 0);
  tu_run_until(&F.env.loop, &other.done);
  assert_int_equal(other.status, -ENOENT);

  /* disconnect: Google's revocation endpoint, then the tokens are gone */
  l = api("DELETE", path, 1);
  assert_int_equal(l.status, 200);
  assert_true(json_object_get_boolean(
      json_object_object_get(l.json, "revoked_at_provider")));
  json_object_put(l.json);
  assert_string_equal(column(id, "state"), "revoked");
  assert_string_equal(column(id, "refresh_token"), "");
  assert_string_equal(column(id, "access_token"), "");
  assert_int_equal(F.audit_disconnected, 1);
  free(rt);
}

static void test_microsoft_end_to_end_rotation(void **state) {
  (void)state;
  int64_t id = connect_via_api("microsoft", 1);
  assert_string_equal(column(id, "email"), env("OAUTH_TEST_MS_USER"));
  assert_non_null(strstr(column(id, "scopes"), "offline_access"));
  char *rt1 = stored_refresh_token(id);
  assert_not_stored_in_clear(rt1);
  tok_t t1 = access_token(id);
  assert_int_equal(t1.status, 0);
  assert_not_stored_in_clear(t1.token);

  force_expiry(id);
  tok_t t2 = access_token(id);
  assert_int_equal(t2.status, 0);
  assert_string_not_equal(t2.token, t1.token);
  char *rt2 = stored_refresh_token(id);
  assert_string_not_equal(rt1, rt2); /* rotated and saved */
  assert_not_stored_in_clear(rt2);

  /* the old refresh token is dead at the emulator: only the saved new one
   * makes the next refresh work */
  force_expiry(id);
  tok_t t3 = access_token(id);
  assert_int_equal(t3.status, 0);
  assert_int_equal(oauth_refresh_count(F.o), 2);
  char *rt3 = stored_refresh_token(id);
  assert_string_not_equal(rt2, rt3);

  char url[8192];
  snprintf(url, sizeof url, "%s/v1.0/me", env("OAUTH_TEST_MS_URL"));
  httpc_response_t *r = hreq("GET", url, t3.token, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->body, env("OAUTH_TEST_MS_USER")));
  httpc_response_free(r);
  r = hreq("GET", url, NULL, NULL); /* the emulator wants a bearer token */
  assert_int_equal(r->status, 401);
  httpc_response_free(r);
  free(rt1);
  free(rt2);
  free(rt3);
}

static void test_revoked_refresh_needs_reauth(void **state) {
  (void)state;
  int64_t id = connect_via_api("corp", 1);
  char *rt = stored_refresh_token(id);
  /* the person revokes the grant at the provider */
  char form[512];
  snprintf(form, sizeof form, "token=%s&token_type_hint=refresh_token", rt);
  httpc_response_t *r = hreq("POST", g_mock_revoke, NULL, form);
  assert_int_equal(r->status, 200);
  httpc_response_free(r);
  free(rt);

  force_expiry(id);
  int64_t before = mock_count("refresh_token");
  tok_t t = access_token(id);
  assert_int_equal(t.status, OAUTH_EREAUTH);
  assert_int_equal(mock_count("refresh_token"), before + 1);
  assert_int_equal(F.audit_reauth, 1);
  assert_non_null(strstr(F.last_audit_detail, "invalid_grant"));
  assert_string_equal(column(id, "state"), "needs_reauth");
  assert_non_null(strstr(column(id, "last_error"), "invalid_grant"));

  /* no retry loop: later calls fail at once, nothing reaches the server */
  for (int i = 0; i < 3; i++) {
    tok_t again = access_token(id);
    assert_int_equal(again.status, OAUTH_EREAUTH);
  }
  assert_int_equal(mock_count("refresh_token"), before + 1);
  assert_int_equal(F.audit_reauth, 1);
  assert_int_equal(oauth_refresh_count(F.o), 1);

  /* visible in the API */
  res_t l = api("GET", "/api/connections", 1);
  json_object *c0 = json_object_array_get_idx(
      json_object_object_get(l.json, "connections"), 0);
  assert_string_equal(jget(c0, "state"), "needs_reauth");
  assert_non_null(strstr(jget(c0, "last_error"), "invalid_grant"));
  json_object_put(l.json);

  /* connecting again makes the same connection active */
  int64_t id2 = connect_via_api("corp", 1);
  assert_int_equal(id2, id);
  assert_string_equal(column(id, "state"), "active");
  assert_string_equal(column(id, "last_error"), "");
  tok_t ok = access_token(id);
  assert_int_equal(ok.status, 0);
}

#define NCONC 8

static void test_single_refresh_in_flight(void **state) {
  (void)state;
  int64_t id = connect_via_api("corp", 1);
  force_expiry(id);
  int64_t before = mock_count("refresh_token");
  tok_t t[NCONC];
  memset(t, 0, sizeof t);
  for (int i = 0; i < NCONC; i++)
    assert_int_equal(oauth_access_token(F.o, id, tok_cb, &t[i]), 0);
  int all = 0;
  while (!all) {
    uv_run(&F.env.loop, UV_RUN_ONCE);
    all = 1;
    for (int i = 0; i < NCONC; i++) all &= t[i].done;
  }
  for (int i = 0; i < NCONC; i++) {
    assert_int_equal(t[i].status, 0);
    assert_string_equal(t[i].token, t[0].token);
  }
  assert_int_equal(mock_count("refresh_token"), before + 1);
  assert_int_equal(oauth_refresh_count(F.o), 1);
  /* and the new token is used afterwards without another refresh */
  tok_t after = access_token(id);
  assert_string_equal(after.token, t[0].token);
  assert_int_equal(mock_count("refresh_token"), before + 1);
}

static void test_disconnect_revokes_and_deletes(void **state) {
  (void)state;
  int64_t id = connect_via_api("corp", 1);
  char *rt = stored_refresh_token(id);
  int64_t revokes = mock_count("revoke");
  char path[64];
  snprintf(path, sizeof path, "/api/connections/%lld", (long long)id);
  res_t l = api("DELETE", path, 1);
  assert_int_equal(l.status, 200);
  assert_true(json_object_get_boolean(
      json_object_object_get(l.json, "revoked_at_provider")));
  json_object_put(l.json);
  assert_int_equal(mock_count("revoke"), revokes + 1);
  assert_string_equal(column(id, "state"), "revoked");
  assert_string_equal(column(id, "access_token"), "");
  assert_string_equal(column(id, "refresh_token"), "");
  tok_t t = access_token(id);
  assert_int_equal(t.status, -ENOENT);
  /* the provider really revoked it */
  char form[512];
  snprintf(form, sizeof form,
           "grant_type=refresh_token&refresh_token=%s&client_id=assist-corp",
           rt);
  httpc_response_t *r = hreq("POST", g_mock_token, NULL, form);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(r->body, "invalid_grant"));
  httpc_response_free(r);
  free(rt);
  /* listed as revoked */
  l = api("GET", "/api/connections", 1);
  json_object *c0 = json_object_array_get_idx(
      json_object_object_get(l.json, "connections"), 0);
  assert_string_equal(jget(c0, "state"), "revoked");
  json_object_put(l.json);
}

static void test_callback_rejects_bad_state(void **state) {
  (void)state;
  char *url = authorize("corp", 1);
  char *target = mock_consent(url);
  free(url);
  /* tampered: flip one character of the state */
  char *tampered = xstrdup(target);
  char *s = strstr(tampered, "state=");
  assert_non_null(s);
  s += 6 + 20;
  *s = *s == 'A' ? 'B' : 'A';
  res_t r = api("GET", tampered, 0);
  assert_int_equal(r.status, 400);
  json_object_put(r.json);
  free(tampered);
  /* the state of one provider at another's callback */
  char *other =
      xasprintf("/api/connections/google/callback%s", strchr(target, '?'));
  r = api("GET", other, 0);
  assert_int_equal(r.status, 400);
  json_object_put(r.json);
  free(other);
  /* expired: the clock moves past the state's lifetime */
  g_skew_ms = 601 * 1000;
  r = api("GET", target, 0);
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(json_object_to_json_string(r.json), "expired"));
  json_object_put(r.json);
  g_skew_ms = 0;
  /* the person declined at the provider */
  r = api("GET", "/api/connections/corp/callback?error=access_denied", 0);
  assert_int_equal(r.status, 400);
  json_object_put(r.json);
  /* nothing was stored */
  assert_int_equal(
      tu_int(&F.env.loop, F.env.s, "SELECT COUNT(*) FROM oauth_connections"),
      0);
  assert_int_equal(F.audit_connected, 0);
  /* the untouched one still works */
  r = api("GET", target, 0);
  assert_int_equal(r.status, 200);
  json_object_put(r.json);
  free(target);
  r = api("POST", "/api/connections/nope/authorize", 1);
  assert_int_equal(r.status, 404);
  json_object_put(r.json);
}

int main(void) {
  (void)tu_flag_set; /* store_test_util.h statics this file does not use */
  (void)tu_closed_flag;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_google_end_to_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_microsoft_end_to_end_rotation, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_revoked_refresh_needs_reauth, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_single_refresh_in_flight, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_disconnect_revokes_and_deletes,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_callback_rejects_bad_state, setup,
                                      teardown),
  };
  int rc = cmocka_run_group_tests_name("oauth", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
