/*
 * core/auth end to end: the REST handlers behind a real HTTP server on a
 * private loop, driven by TCP clients on the same loop, over SQLite and
 * PostgreSQL (run-tests.sh runs this binary once per backend). Time is a
 * clock hook (g_now), never sleeps. Argon2id runs at libsodium's minimum
 * cost so the suite is quick; the hashes are still $argon2id$.
 */
#include "../store/store_test_util.h"

#include "client.h"

#include "auth/auth.h"
#include "common/log.h"
#include "metrics/metrics.h"
#include "secrets/secrets.h"

#include <json-c/json.h>
#include <sodium.h>
#include <strings.h>

typedef struct fx {
  tu_env_t env;
  auth_t *auth;
  auth_config_t cfg;
  router_t *router;
  http_server_t *srv;
  int port;
  int acquired, released;
} fx_t;

static fx_t F;
static int64_t g_now;

static int64_t test_clock(void *ud) {
  (void)ud;
  return g_now;
}

static const router_t *acq(void *ud, void **token) {
  fx_t *f = ud;
  f->acquired++;
  *token = f;
  return f->router;
}

static void rel(void *ud, void *token) {
  fx_t *f = ud;
  assert_ptr_equal(token, f);
  f->released++;
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

/* A route behind the gate that needs the admin scope (for scope tests). */
static void h_admin_only(http_request_t *req, const auth_principal_t *p,
                         void *ud) {
  (void)ud;
  char body[64];
  int n =
      snprintf(body, sizeof body, "{\"user_id\":%lld}", (long long)p->user_id);
  http_respond_json(req, 200, body, (size_t)n);
}

static void start_auth(void) {
  F.auth = auth_new(&F.env.loop, F.env.s, &F.cfg);
  F.router = router_new();
  assert_int_equal(auth_api_register(F.auth, F.router), 0);
  assert_int_equal(auth_route_add(F.auth, F.router, "GET", "/api/admin-only", 0,
                                  AUTH_SCOPE_ADMIN, h_admin_only, NULL),
                   0);
  http_app_t app = {acq, rel, &F};
  F.srv = http_server_new(&F.env.loop, &limits, &app);
  assert_int_equal(http_server_listen(F.srv, "127.0.0.1", 0), 0);
  F.port = http_server_port(F.srv, 0);
}

static void closed_cb(void *arg) {
  *(int *)arg = 1;
}

static void stop_auth(void) {
  http_server_free(F.srv);
  F.srv = NULL;
  uv_run(&F.env.loop, UV_RUN_NOWAIT);
  int done = 0;
  auth_close(F.auth, closed_cb, &done);
  tu_run_until(&F.env.loop, &done);
  F.auth = NULL;
  router_free(F.router);
  F.router = NULL;
}

static int setup_with(const char *public_url, int registration) {
  memset(&F, 0, sizeof F);
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);
  assert_int_equal(secrets_global_init(), 0);
  assert_int_equal(secrets_pwhash_set_limits(crypto_pwhash_OPSLIMIT_MIN,
                                             crypto_pwhash_MEMLIMIT_MIN),
                   0);
  tu_env_open(&F.env);
  if (F.env.pg)
    assert_int_equal(tu_sql(&F.env.loop, F.env.s, NULL,
                            "TRUNCATE users, sessions, api_tokens,"
                            " auth_lockouts RESTART IDENTITY CASCADE"),
                     0);
  g_now = store_now_ms();
  F.cfg = (auth_config_t){.public_url = public_url,
                          .allow_registration = registration,
                          .max_failures_account = 3,
                          .max_failures_addr = 5,
                          .client_addr_header = "X-Forwarded-For",
                          .now_ms = test_clock};
  start_auth();
  return 0;
}

static int setup(void **state) {
  (void)state;
  return setup_with("http://assist.test", 0);
}

static int setup_https(void **state) {
  (void)state;
  return setup_with("https://assist.example.org", 1);
}

static int teardown(void **state) {
  (void)state;
  stop_auth();
  assert_int_equal(F.acquired, F.released);
  tu_env_close(&F.env);
  metrics_reset();
  return 0;
}

/* ---------------- HTTP helpers ---------------- */

typedef struct res {
  int status;
  char head[8192];
  char *body;
  json_object *json;
} res_t;

static void res_free(res_t *r) {
  free(r->body);
  if (r->json) json_object_put(r->json);
  memset(r, 0, sizeof *r);
}

/* One request on a fresh connection. extra: more header lines, each ending
 * in \r\n (may be NULL). body: JSON text or NULL. */
static void http(res_t *out, const char *method, const char *path,
                 const char *extra, const char *body) {
  client_t c;
  client_connect(&F.env.loop, &c, F.port);
  char req[16384];
  size_t bl = body ? strlen(body) : 0;
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: assist.test\r\n"
                   "Connection: close\r\n%s%sContent-Length: %zu\r\n\r\n%s",
                   method, path, extra ? extra : "",
                   body ? "Content-Type: application/json\r\n" : "", bl,
                   body ? body : "");
  assert_true(n > 0 && (size_t)n < sizeof req);
  client_send(&c, req, (size_t)n);
  RUN_UNTIL(&F.env.loop, client_count(&c, 0) >= 1 || c.eof);
  resp_t r;
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  client_close(&c);
  RUN_UNTIL(&F.env.loop, c.closed);
  client_free(&c);
  memset(out, 0, sizeof *out);
  out->status = r.status;
  memcpy(out->head, r.head, sizeof out->head);
  out->body = r.body;
  out->json = r.body_len ? json_tokener_parse(r.body) : NULL;
}

/* A dotted path into the response's JSON ("user.email"), as text. */
static const char *jget(const res_t *r, const char *path) {
  static char out[512];
  json_object *o = r->json;
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *save = NULL, *k = strtok_r(tmp, ".", &save); k && o;
       k = strtok_r(NULL, ".", &save)) {
    json_object *next = NULL;
    if (!json_object_object_get_ex(o, k, &next)) return NULL;
    o = next;
  }
  if (!o) return NULL;
  snprintf(out, sizeof out, "%s", json_object_get_string(o));
  return out;
}

static const char *header(const res_t *r, const char *name) {
  static char out[1024];
  resp_t tmp;
  memcpy(tmp.head, r->head, sizeof tmp.head);
  return resp_header(&tmp, name, out, sizeof out);
}

typedef struct sess {
  char cookie[160]; /* "name=value" */
  char csrf[64];
  int64_t user_id;
} sess_t;

static const char *cookie_name(void) {
  return F.cfg.public_url && !strncmp(F.cfg.public_url, "https", 5)
             ? "__Host-assistd_session"
             : "assistd_session";
}

static int login_as(const char *email, const char *password, const char *addr,
                    sess_t *s, res_t *keep) {
  char body[512], extra[256] = "";
  snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email,
           password);
  if (addr) snprintf(extra, sizeof extra, "X-Forwarded-For: %s\r\n", addr);
  res_t r;
  http(&r, "POST", "/api/auth/login", extra, body);
  int status = r.status;
  if (status == 200 && s) {
    const char *sc = header(&r, "Set-Cookie");
    assert_non_null(sc);
    size_t n = strcspn(sc, ";");
    assert_true(n < sizeof s->cookie);
    memcpy(s->cookie, sc, n);
    s->cookie[n] = '\0';
    snprintf(s->csrf, sizeof s->csrf, "%s", jget(&r, "csrf_token"));
    s->user_id = atoll(jget(&r, "user.id"));
  }
  if (keep)
    *keep = r;
  else
    res_free(&r);
  return status;
}

/* A request as a signed-in session: with its cookie, and with its CSRF
 * token when csrf is set. */
static void as(res_t *r, const sess_t *s, int csrf, const char *method,
               const char *path, const char *body) {
  char extra[512];
  snprintf(extra, sizeof extra, "Cookie: theme=dark; %s\r\n%s%s%s", s->cookie,
           csrf ? "X-CSRF-Token: " : "", csrf ? s->csrf : "",
           csrf ? "\r\n" : "");
  http(r, method, path, extra, body);
}

static void bearer(res_t *r, const char *token, const char *method,
                   const char *path, const char *body) {
  char extra[256];
  snprintf(extra, sizeof extra, "Authorization: Bearer %s\r\n", token);
  http(r, method, path, extra, body);
}

typedef struct created {
  int done, status;
  int64_t id;
  char password[64];
} created_t;

static void admin_cb(int status, int64_t id, const char *password, void *arg) {
  created_t *c = arg;
  c->status = status;
  c->id = id;
  snprintf(c->password, sizeof c->password, "%s", password ? password : "");
  c->done = 1;
}

static int64_t make_admin(const char *email, const char *password) {
  created_t c = {0};
  auth_admin_create(F.auth, email, password, admin_cb, &c);
  tu_run_until(&F.env.loop, &c.done);
  assert_int_equal(c.status, 0);
  return c.id;
}

/* An admin creates a user over the API; returns its id. */
static int64_t make_user(const sess_t *admin, const char *email,
                         const char *password) {
  char body[256];
  snprintf(body, sizeof body,
           "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"U\"}", email,
           password);
  res_t r;
  as(&r, admin, 1, "POST", "/api/users", body);
  assert_int_equal(r.status, 201);
  int64_t id = atoll(jget(&r, "user.id"));
  assert_null(jget(&r, "password")); /* given, so not echoed */
  res_free(&r);
  return id;
}

static int64_t db_int(const char *fmt, const char *arg) {
  char sql[512];
  snprintf(sql, sizeof sql, fmt, arg);
  return tu_int(&F.env.loop, F.env.s, "%s", sql);
}

static void sha256_hex(const char *s, char out[65]) {
  unsigned char h[32];
  crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
  sodium_bin2hex(out, 65, h, 32);
}

#define PW "correct horse battery"

/* ---------------- tests ---------------- */

static void test_login_ok(void **state) {
  (void)state;
  int64_t id = make_admin("Root@Example.org", PW);
  sess_t s;
  res_t r;
  assert_int_equal(login_as("root@example.org", PW, NULL, &s, &r), 200);
  assert_string_equal(jget(&r, "user.email"), "root@example.org");
  assert_string_equal(jget(&r, "user.role"), "admin");
  assert_int_equal(atoll(jget(&r, "user.id")), id);
  assert_int_equal(strlen(s.csrf), 43);
  assert_null(strstr(r.body, "argon2")); /* no hash in the answer */
  /* Cookie attributes over plain http: no Secure. */
  const char *sc = header(&r, "Set-Cookie");
  assert_non_null(strstr(sc, "assistd_session="));
  assert_null(strstr(sc, "__Host-"));
  assert_non_null(strstr(sc, "; HttpOnly"));
  assert_non_null(strstr(sc, "; SameSite=Lax"));
  assert_non_null(strstr(sc, "; Path=/"));
  assert_non_null(strstr(sc, "; Max-Age=604800"));
  assert_null(strcasestr(sc, "secure"));
  res_free(&r);

  /* The session id: 256 bits, stored only as its SHA-256. */
  const char *sid = strchr(s.cookie, '=') + 1;
  assert_int_equal(strlen(sid), 43);
  char hash[65];
  sha256_hex(sid, hash);
  assert_int_equal(
      db_int("SELECT count(*) FROM sessions WHERE id_hash = '%s'", hash), 1);
  assert_int_equal(
      db_int("SELECT count(*) FROM sessions WHERE id_hash = '%s'", sid), 0);

  as(&r, &s, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(jget(&r, "user.email"), "root@example.org");
  assert_string_equal(jget(&r, "csrf_token"), s.csrf);
  assert_string_equal(jget(&r, "via"), "session");
  res_free(&r);

  /* Passwords are Argon2id hashes. */
  assert_int_equal(db_int("SELECT count(*) FROM users WHERE password_hash"
                          " LIKE '$argon2id$%s'",
                          "%"),
                   1);
  assert_int_equal(db_int("SELECT count(*) FROM users WHERE password_hash"
                          " LIKE '%s'",
                          "%" PW "%"),
                   0);
  /* Form-encoded sign-in works too. */
  client_t c;
  client_connect(&F.env.loop, &c, F.port);
  const char *form = "email=root%40example.org&password=correct+horse+battery";
  char req[512];
  snprintf(req, sizeof req,
           "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           strlen(form), form);
  client_sends(&c, req);
  RUN_UNTIL(&F.env.loop, client_count(&c, 0) >= 1);
  resp_t rr;
  client_responses(&c, &rr, 1, 0);
  assert_int_equal(rr.status, 200);
  resp_free(&rr);
  client_close(&c);
  RUN_UNTIL(&F.env.loop, c.closed);
  client_free(&c);
}

static void test_login_failures(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  res_t wrong, unknown;
  assert_int_equal(
      login_as("root@example.org", "wrong password!", NULL, NULL, &wrong), 401);
  assert_int_equal(
      login_as("nobody@example.org", "wrong password!", NULL, NULL, &unknown),
      401);
  /* Same answer whether the account exists or not. */
  assert_string_equal(jget(&wrong, "error.message"),
                      jget(&unknown, "error.message"));
  assert_null(header(&wrong, "Set-Cookie"));
  assert_null(header(&unknown, "Set-Cookie"));
  res_free(&wrong);
  res_free(&unknown);

  res_t r;
  http(&r, "POST", "/api/auth/login", NULL, "{\"email\":\"root@example.org\"}");
  assert_int_equal(r.status, 400);
  res_free(&r);
  http(&r, "POST", "/api/auth/login", NULL, "{not json");
  assert_int_equal(r.status, 400);
  res_free(&r);
  http(&r, "POST", "/api/auth/login", "Content-Type: text/plain\r\n", NULL);
  assert_int_equal(r.status, 400); /* empty body: no fields */
  res_free(&r);
  /* Protected routes without credentials. */
  http(&r, "GET", "/api/auth/me", NULL, NULL);
  assert_int_equal(r.status, 401);
  assert_non_null(header(&r, "WWW-Authenticate"));
  res_free(&r);
  http(&r, "GET", "/api/auth/me", "Cookie: assistd_session=forged\r\n", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
}

static void test_lockout_account(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  /* 3 failures (the configured limit) from different addresses. */
  assert_int_equal(
      login_as("root@example.org", "bad password 1", "10.0.0.1", NULL, NULL),
      401);
  assert_int_equal(
      login_as("ROOT@example.org", "bad password 2", "10.0.0.2", NULL, NULL),
      401);
  assert_int_equal(
      login_as("root@example.org", "bad password 3", "10.0.0.3", NULL, NULL),
      401);
  /* Now even the right password is refused, with Retry-After. */
  res_t r;
  assert_int_equal(login_as("root@example.org", PW, "10.0.0.4", NULL, &r), 429);
  assert_int_equal(atoi(header(&r, "Retry-After")), 900);
  res_free(&r);
  assert_int_equal(db_int("SELECT count(*) FROM auth_lockouts WHERE key = '%s'",
                          "acct:root@example.org"),
                   1);
  /* The lockout persists: a restarted service still refuses. */
  stop_auth();
  start_auth();
  assert_int_equal(login_as("root@example.org", PW, "10.0.0.4", NULL, NULL),
                   429);
  /* Unknown accounts lock out the same way (no enumeration). */
  for (int i = 0; i < 3; i++)
    assert_int_equal(
        login_as("ghost@example.org", "bad password", NULL, NULL, NULL), 401);
  assert_int_equal(login_as("ghost@example.org", PW, NULL, NULL, NULL), 429);
  /* After the lockout, the right password works again. */
  g_now += 901 * 1000;
  sess_t s;
  assert_int_equal(login_as("root@example.org", PW, "10.0.0.4", &s, NULL), 200);
}

static void test_lockout_address(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  /* 5 failures from one address, each for another account. */
  char email[64];
  for (int i = 0; i < 5; i++) {
    snprintf(email, sizeof email, "user%d@example.org", i);
    assert_int_equal(login_as(email, "bad password", "192.0.2.7", NULL, NULL),
                     401);
  }
  /* That address is locked out, even for a valid account... */
  assert_int_equal(login_as("root@example.org", PW, "192.0.2.7", NULL, NULL),
                   429);
  /* ...the proxy's last X-Forwarded-For entry is what counts... */
  assert_int_equal(
      login_as("root@example.org", PW, "192.0.2.7, 198.51.100.1", NULL, NULL),
      200);
  assert_int_equal(
      login_as("root@example.org", PW, "198.51.100.1, 192.0.2.7", NULL, NULL),
      429);
  assert_int_equal(db_int("SELECT count(*) FROM auth_lockouts WHERE key = '%s'",
                          "addr:192.0.2.7"),
                   1);
  /* ...and other addresses are not affected. */
  sess_t s;
  assert_int_equal(login_as("root@example.org", PW, "203.0.113.9", &s, NULL),
                   200);
}

static void test_csrf(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  sess_t s;
  assert_int_equal(login_as("root@example.org", PW, NULL, &s, NULL), 200);
  res_t r;
  const char *body = "{\"name\":\"ci\",\"scopes\":[\"read\"]}";
  as(&r, &s, 0, "POST", "/api/tokens", body); /* no token */
  assert_int_equal(r.status, 403);
  assert_non_null(strstr(jget(&r, "error.message"), "CSRF"));
  res_free(&r);
  sess_t wrong = s;
  snprintf(wrong.csrf, sizeof wrong.csrf, "%s", "A");
  as(&r, &wrong, 1, "POST", "/api/tokens", body);
  assert_int_equal(r.status, 403);
  res_free(&r);
  wrong.csrf[0] = s.csrf[0] == 'x' ? 'y' : 'x'; /* same length, differs */
  memcpy(wrong.csrf + 1, s.csrf + 1, strlen(s.csrf));
  as(&r, &wrong, 1, "POST", "/api/tokens", body);
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &s, 0, "DELETE", "/api/users/1", NULL);
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &s, 0, "POST", "/api/auth/logout", NULL);
  assert_int_equal(r.status, 403);
  res_free(&r);
  /* GET needs none; the right token passes. */
  as(&r, &s, 0, "GET", "/api/tokens", NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  as(&r, &s, 1, "POST", "/api/tokens", body);
  assert_int_equal(r.status, 201);
  res_free(&r);
  /* Another session's token does not work for this one. */
  sess_t s2;
  assert_int_equal(login_as("root@example.org", PW, NULL, &s2, NULL), 200);
  assert_string_not_equal(s.csrf, s2.csrf);
  sess_t mixed = s;
  memcpy(mixed.csrf, s2.csrf, sizeof mixed.csrf);
  as(&r, &mixed, 1, "POST", "/api/tokens", body);
  assert_int_equal(r.status, 403);
  res_free(&r);
}

static void create_token(const sess_t *s, const char *scopes, char *secret,
                         size_t cap, int64_t *id) {
  char body[256];
  snprintf(body, sizeof body, "{\"name\":\"t\",\"scopes\":%s}", scopes);
  res_t r;
  as(&r, s, 1, "POST", "/api/tokens", body);
  assert_int_equal(r.status, 201);
  assert_string_equal(header(&r, "Cache-Control"), "no-store");
  snprintf(secret, cap, "%s", jget(&r, "secret"));
  *id = atoll(jget(&r, "token.id"));
  assert_int_equal(strncmp(secret, "asd_", 4), 0);
  assert_int_equal(strlen(secret), 47);
  res_free(&r);
}

static void test_token_scopes(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  sess_t s;
  assert_int_equal(login_as("root@example.org", PW, NULL, &s, NULL), 200);
  char rd[64], wr[64], ad[64];
  int64_t rd_id, wr_id, ad_id;
  create_token(&s, "[\"read\"]", rd, sizeof rd, &rd_id);
  create_token(&s, "\"write\"", wr, sizeof wr, &wr_id);
  create_token(&s, "[\"read\",\"admin\"]", ad, sizeof ad, &ad_id);

  /* Stored hashed: the secret is nowhere in the table. */
  char hash[65];
  sha256_hex(rd, hash);
  assert_int_equal(
      db_int("SELECT count(*) FROM api_tokens WHERE secret_hash = '%s'", hash),
      1);
  assert_int_equal(
      db_int("SELECT count(*) FROM api_tokens WHERE secret_hash = '%s'", rd),
      0);

  res_t r;
  bearer(&r, rd, "GET", "/api/tokens", NULL);
  assert_int_equal(r.status, 200);
  assert_null(strstr(r.body, rd)); /* listed without secrets */
  assert_null(strstr(r.body, "\"secret\""));
  assert_int_equal(
      json_object_array_length(json_object_object_get(r.json, "tokens")), 3);
  res_free(&r);
  /* A read token cannot POST; a write token cannot GET; no CSRF needed. */
  bearer(&r, rd, "POST", "/api/tokens", "{\"scopes\":[\"read\"]}");
  assert_int_equal(r.status, 403);
  assert_non_null(strstr(header(&r, "WWW-Authenticate"), "insufficient_scope"));
  res_free(&r);
  bearer(&r, wr, "GET", "/api/tokens", NULL);
  assert_int_equal(r.status, 403);
  res_free(&r);
  bearer(&r, wr, "POST", "/api/tokens", "{\"scopes\":[\"write\"]}");
  assert_int_equal(r.status, 201);
  res_free(&r);
  /* A write token cannot mint a token with more scopes than it has. */
  bearer(&r, wr, "POST", "/api/tokens", "{\"scopes\":[\"read\"]}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  /* The admin scope. */
  bearer(&r, rd, "GET", "/api/admin-only", NULL);
  assert_int_equal(r.status, 403);
  res_free(&r);
  bearer(&r, ad, "GET", "/api/admin-only", NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  /* Unknown, malformed and other schemes. */
  bearer(&r, "asd_doesnotexistdoesnotexistdoesnotexist1234", "GET",
         "/api/tokens", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  http(&r, "GET", "/api/tokens", "Authorization: Basic cm9vdDpwdw==\r\n", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);

  /* last_used_at: written on first use, then at most once a minute. */
  char idtxt[24];
  snprintf(idtxt, sizeof idtxt, "%lld", (long long)rd_id);
  int64_t t0 =
      db_int("SELECT last_used_at FROM api_tokens WHERE id = %s", idtxt);
  assert_true(t0 == g_now);
  g_now += 30 * 1000;
  bearer(&r, rd, "GET", "/api/tokens", NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  assert_true(
      db_int("SELECT last_used_at FROM api_tokens WHERE id = %s", idtxt) == t0);
  g_now += 31 * 1000;
  bearer(&r, rd, "GET", "/api/tokens", NULL);
  res_free(&r);
  assert_true(db_int("SELECT last_used_at FROM api_tokens WHERE id = %s",
                     idtxt) == g_now);

  /* Revoked: 401 at once. */
  char path[64];
  snprintf(path, sizeof path, "/api/tokens/%lld", (long long)rd_id);
  as(&r, &s, 1, "DELETE", path, NULL);
  assert_int_equal(r.status, 204);
  res_free(&r);
  bearer(&r, rd, "GET", "/api/tokens", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  /* The others still work. */
  bearer(&r, ad, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(jget(&r, "via"), "token");
  assert_null(jget(&r, "csrf_token"));
  res_free(&r);
}

static void test_user_isolation(void **state) {
  (void)state;
  int64_t admin_id = make_admin("root@example.org", PW);
  sess_t admin, bob, carol;
  assert_int_equal(login_as("root@example.org", PW, NULL, &admin, NULL), 200);
  int64_t bob_id = make_user(&admin, "bob@example.org", "bobs password!");
  int64_t carol_id = make_user(&admin, "carol@example.org", "carols password");
  assert_int_equal(
      login_as("bob@example.org", "bobs password!", NULL, &bob, NULL), 200);
  assert_int_equal(
      login_as("carol@example.org", "carols password", NULL, &carol, NULL),
      200);
  char p_admin[64], p_bob[64], p_carol[64];
  snprintf(p_admin, sizeof p_admin, "/api/users/%lld", (long long)admin_id);
  snprintf(p_bob, sizeof p_bob, "/api/users/%lld", (long long)bob_id);
  snprintf(p_carol, sizeof p_carol, "/api/users/%lld", (long long)carol_id);

  res_t r;
  /* Bob sees himself... */
  as(&r, &bob, 0, "GET", p_bob, NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(jget(&r, "user.email"), "bob@example.org");
  res_free(&r);
  /* ...and nobody else: 404, as if they did not exist. */
  as(&r, &bob, 0, "GET", p_carol, NULL);
  assert_int_equal(r.status, 404);
  res_free(&r);
  as(&r, &bob, 0, "GET", p_admin, NULL);
  assert_int_equal(r.status, 404);
  res_free(&r);
  as(&r, &bob, 0, "GET", "/api/users/999999", NULL);
  assert_int_equal(r.status, 404);
  res_free(&r);
  as(&r, &bob, 1, "PATCH", p_carol, "{\"name\":\"pwned\"}");
  assert_int_equal(r.status, 404);
  res_free(&r);
  as(&r, &bob, 1, "DELETE", p_carol, NULL);
  assert_int_equal(r.status, 404);
  res_free(&r);
  /* Admin-only operations. */
  as(&r, &bob, 0, "GET", "/api/users", NULL);
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &bob, 1, "POST", "/api/users", "{\"email\":\"x@example.org\"}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  /* Bob cannot promote himself; he may edit his own record. */
  as(&r, &bob, 1, "PATCH", p_bob, "{\"role\":\"admin\"}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &bob, 1, "PATCH", p_bob, "{\"disabled\":true}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &bob, 1, "PATCH", p_bob,
     "{\"name\":\"Bob\",\"preferences\":{\"channel\":\"email\","
     "\"quiet_hours\":[22,7]}}");
  assert_int_equal(r.status, 200);
  assert_string_equal(jget(&r, "user.name"), "Bob");
  assert_string_equal(jget(&r, "user.preferences.channel"), "email");
  assert_string_equal(jget(&r, "user.role"), "user");
  res_free(&r);
  as(&r, &bob, 1, "PATCH", p_bob, "{\"preferences\":\"nope\"}");
  assert_int_equal(r.status, 400);
  res_free(&r);
  /* Bob's token sees only Bob too. */
  char tok[64];
  int64_t tok_id;
  create_token(&bob, "[\"read\"]", tok, sizeof tok, &tok_id);
  bearer(&r, tok, "GET", p_carol, NULL);
  assert_int_equal(r.status, 404);
  res_free(&r);
  /* Nor can a user grant the admin scope. */
  as(&r, &bob, 1, "POST", "/api/tokens", "{\"scopes\":[\"admin\"]}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  /* Tokens are private too: Carol cannot revoke Bob's. */
  char tpath[64];
  snprintf(tpath, sizeof tpath, "/api/tokens/%lld", (long long)tok_id);
  as(&r, &carol, 1, "DELETE", tpath, NULL);
  assert_int_equal(r.status, 404);
  res_free(&r);
  as(&r, &carol, 0, "GET", "/api/tokens", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(
      json_object_array_length(json_object_object_get(r.json, "tokens")), 0);
  res_free(&r);

  /* The admin sees and manages everyone, but not their own role. */
  as(&r, &admin, 0, "GET", "/api/users", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(
      json_object_array_length(json_object_object_get(r.json, "users")), 3);
  res_free(&r);
  as(&r, &admin, 0, "GET", p_carol, NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  as(&r, &admin, 1, "PATCH", p_admin, "{\"role\":\"user\"}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &admin, 1, "DELETE", p_admin, NULL);
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &admin, 1, "POST", "/api/users", "{\"email\":\"bob@example.org\"}");
  assert_int_equal(r.status, 409);
  res_free(&r);
  /* Disabling Carol ends her session. */
  as(&r, &admin, 1, "PATCH", p_carol, "{\"disabled\":true}");
  assert_int_equal(r.status, 200);
  assert_string_equal(jget(&r, "user.disabled"), "true");
  res_free(&r);
  as(&r, &carol, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  assert_int_equal(
      login_as("carol@example.org", "carols password", NULL, NULL, NULL), 401);
  /* Deleting Bob removes his sessions and tokens. */
  as(&r, &admin, 1, "DELETE", p_bob, NULL);
  assert_int_equal(r.status, 204);
  res_free(&r);
  bearer(&r, tok, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  as(&r, &bob, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  /* An admin-created user without a password gets a generated one. */
  as(&r, &admin, 1, "POST", "/api/users",
     "{\"email\":\"dave@example.org\",\"role\":\"user\"}");
  assert_int_equal(r.status, 201);
  char gen[64];
  snprintf(gen, sizeof gen, "%s", jget(&r, "password"));
  assert_int_equal(strlen(gen), 24);
  res_free(&r);
  assert_int_equal(login_as("dave@example.org", gen, NULL, NULL, NULL), 200);
}

static void test_session_expiry(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  sess_t s;
  res_t r;
  /* Idle timeout (1 day by default). */
  assert_int_equal(login_as("root@example.org", PW, NULL, &s, NULL), 200);
  g_now += 23 * 3600 * 1000LL;
  as(&r, &s, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 200); /* and refreshes last_seen_at */
  res_free(&r);
  g_now += 23 * 3600 * 1000LL;
  as(&r, &s, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  g_now += 24 * 3600 * 1000LL + 1;
  as(&r, &s, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  /* Absolute lifetime (7 days), even when used every day. */
  assert_int_equal(login_as("root@example.org", PW, NULL, &s, NULL), 200);
  for (int step = 1; step <= 8; step++) { /* 160 h, never idle 24 h */
    g_now += 20 * 3600 * 1000LL;
    as(&r, &s, 0, "GET", "/api/auth/me", NULL);
    assert_int_equal(r.status, 200);
    res_free(&r);
  }
  g_now += 20 * 3600 * 1000LL; /* 180 h > 168 h, idle only 20 h */
  as(&r, &s, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
}

static void test_logout_and_rotation(void **state) {
  (void)state;
  make_admin("root@example.org", PW);
  sess_t s1, s2;
  assert_int_equal(login_as("root@example.org", PW, NULL, &s1, NULL), 200);
  /* Signing in again with the old cookie rotates: new id, old one gone. */
  char body[128];
  snprintf(body, sizeof body,
           "{\"email\":\"root@example.org\",\"password\":"
           "\"" PW "\"}");
  char extra[256];
  snprintf(extra, sizeof extra, "Cookie: %s\r\n", s1.cookie);
  res_t r;
  http(&r, "POST", "/api/auth/login", extra, body);
  assert_int_equal(r.status, 200);
  const char *sc = header(&r, "Set-Cookie");
  size_t n = strcspn(sc, ";");
  memcpy(s2.cookie, sc, n);
  s2.cookie[n] = '\0';
  snprintf(s2.csrf, sizeof s2.csrf, "%s", jget(&r, "csrf_token"));
  res_free(&r);
  assert_string_not_equal(s1.cookie, s2.cookie);
  as(&r, &s1, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  /* Logout ends the session and clears the cookie. */
  as(&r, &s2, 1, "POST", "/api/auth/logout", NULL);
  assert_int_equal(r.status, 204);
  sc = header(&r, "Set-Cookie");
  assert_non_null(strstr(sc, "Max-Age=0"));
  assert_non_null(strstr(sc, "HttpOnly"));
  res_free(&r);
  as(&r, &s2, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  assert_int_equal(db_int("SELECT count(*) FROM sessions%s", ""), 0);
}

static void test_password_change(void **state) {
  (void)state;
  int64_t id = make_admin("root@example.org", PW);
  char path[64];
  snprintf(path, sizeof path, "/api/users/%lld", (long long)id);
  sess_t a, b;
  assert_int_equal(login_as("root@example.org", PW, NULL, &a, NULL), 200);
  assert_int_equal(login_as("root@example.org", PW, NULL, &b, NULL), 200);
  res_t r;
  as(&r, &a, 1, "PATCH", path, "{\"password\":\"a new long password\"}");
  assert_int_equal(r.status, 400); /* current_password missing */
  res_free(&r);
  as(&r, &a, 1, "PATCH", path,
     "{\"password\":\"a new long password\",\"current_password\":\"nope\"}");
  assert_int_equal(r.status, 403);
  res_free(&r);
  as(&r, &a, 1, "PATCH", path,
     "{\"password\":\"short\",\"current_password\":"
     "\"" PW "\"}");
  assert_int_equal(r.status, 400);
  res_free(&r);
  as(&r, &a, 1, "PATCH", path,
     "{\"password\":\"a new long password\",\"current_password\":\"" PW "\"}");
  assert_int_equal(r.status, 200);
  res_free(&r);
  /* This session stays; the other one is signed out. */
  as(&r, &a, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  as(&r, &b, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
  assert_int_equal(login_as("root@example.org", PW, NULL, NULL, NULL), 401);
  assert_int_equal(
      login_as("root@example.org", "a new long password", NULL, NULL, NULL),
      200);
}

static void test_bootstrap(void **state) {
  (void)state;
  created_t c = {0};
  auth_bootstrap(F.auth, "Owner@Example.org", admin_cb, &c);
  tu_run_until(&F.env.loop, &c.done);
  assert_int_equal(c.status, 0);
  assert_true(c.id > 0);
  assert_int_equal(strlen(c.password), 24);
  sess_t s;
  assert_int_equal(login_as("owner@example.org", c.password, NULL, &s, NULL),
                   200);
  /* Once an admin exists, bootstrap does nothing. */
  created_t c2 = {0};
  auth_bootstrap(F.auth, "other@example.org", admin_cb, &c2);
  tu_run_until(&F.env.loop, &c2.done);
  assert_int_equal(c2.status, 0);
  assert_int_equal(c2.id, 0);
  assert_string_equal(c2.password, "");
  /* admin_create refuses bad input and duplicates. */
  created_t c3 = {0};
  auth_admin_create(F.auth, "owner@example.org", "long enough password",
                    admin_cb, &c3);
  tu_run_until(&F.env.loop, &c3.done);
  assert_int_equal(c3.status, -EEXIST);
  created_t c4 = {0};
  auth_admin_create(F.auth, "x@example.org", "short", admin_cb, &c4);
  tu_run_until(&F.env.loop, &c4.done);
  assert_int_equal(c4.status, -EINVAL);
  created_t c5 = {0};
  auth_admin_create(F.auth, "x@example.org", NULL, admin_cb, &c5);
  tu_run_until(&F.env.loop, &c5.done);
  assert_int_equal(c5.status, 0);
  assert_int_equal(strlen(c5.password), 24);
  /* No registration route unless enabled. */
  res_t r;
  http(&r, "POST", "/api/auth/register", NULL,
       "{\"email\":\"eve@example.org\",\"password\":\"eves password!\"}");
  assert_int_equal(r.status, 404);
  res_free(&r);
}

static void test_https_cookie_and_registration(void **state) {
  (void)state;
  res_t r;
  /* Registration is on in this fixture; it creates plain users. */
  http(&r, "POST", "/api/auth/register", NULL,
       "{\"email\":\"eve@example.org\",\"password\":\"short\"}");
  assert_int_equal(r.status, 400);
  res_free(&r);
  http(&r, "POST", "/api/auth/register", NULL,
       "{\"email\":\"eve@example.org\",\"password\":\"eves password!\"}");
  assert_int_equal(r.status, 201);
  assert_string_equal(jget(&r, "user.role"), "user");
  assert_null(jget(&r, "password"));
  res_free(&r);
  http(&r, "POST", "/api/auth/register", NULL,
       "{\"email\":\"EVE@example.org\",\"password\":\"eves password!\"}");
  assert_int_equal(r.status, 409);
  res_free(&r);
  /* A cross-origin sign-in is refused; ours is fine. */
  const char *body =
      "{\"email\":\"eve@example.org\",\"password\":\"eves password!\"}";
  http(&r, "POST", "/api/auth/login", "Origin: https://evil.example\r\n", body);
  assert_int_equal(r.status, 403);
  res_free(&r);
  http(&r, "POST", "/api/auth/login", "Origin: https://assist.example.org\r\n",
       body);
  assert_int_equal(r.status, 200);
  /* https public URL: Secure, with the __Host- prefix. */
  const char *sc = header(&r, "Set-Cookie");
  assert_int_equal(strncmp(sc, "__Host-assistd_session=", 23), 0);
  assert_non_null(strstr(sc, "; Secure"));
  assert_non_null(strstr(sc, "; HttpOnly"));
  assert_non_null(strstr(sc, "; SameSite=Lax"));
  assert_non_null(strstr(sc, "; Path=/"));
  assert_null(strstr(sc, "Domain"));
  res_free(&r);
  /* The plain cookie name is not accepted here. */
  sess_t s;
  assert_int_equal(
      login_as("eve@example.org", "eves password!", NULL, &s, NULL), 200);
  assert_int_equal(strncmp(s.cookie, cookie_name(), strlen(cookie_name())), 0);
  as(&r, &s, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 200);
  res_free(&r);
  sess_t plain = s;
  snprintf(plain.cookie, sizeof plain.cookie, "assistd_session=%s",
           strchr(s.cookie, '=') + 1);
  as(&r, &plain, 0, "GET", "/api/auth/me", NULL);
  assert_int_equal(r.status, 401);
  res_free(&r);
}

static void test_public_routes(void **state) {
  (void)state;
  assert_true(auth_route_is_public("/health"));
  assert_true(auth_route_is_public("/metrics"));
  assert_true(auth_route_is_public("/ui/{path*}"));
  assert_true(auth_route_is_public("/api/auth/login"));
  assert_true(auth_route_is_public("/api/webhooks/twilio/{instance}"));
  assert_true(auth_route_is_public("/api/rsvp/{token}"));
  assert_true(auth_route_is_public("/api/connections/{provider}/callback"));
  assert_true(auth_route_is_public("/api/oauth/callback"));
  assert_false(auth_route_is_public("/api/auth/me"));
  assert_false(auth_route_is_public("/api/auth/logout"));
  assert_false(auth_route_is_public("/api/users"));
  assert_false(auth_route_is_public("/api/connections/{id}"));
  assert_false(auth_route_is_public("/api/connections/{provider}/authorize"));
  assert_false(auth_route_is_public("/api/webhooksx"));
  assert_false(auth_route_is_public("/api/jobs"));
  assert_int_equal(auth_default_scopes("GET"), AUTH_SCOPE_READ);
  assert_int_equal(auth_default_scopes("HEAD"), AUTH_SCOPE_READ);
  assert_int_equal(auth_default_scopes("POST"), AUTH_SCOPE_WRITE);
  assert_int_equal(auth_default_scopes("DELETE"), AUTH_SCOPE_WRITE);
}

int main(void) {
  (void)tu_flag_set; /* store_test_util.h statics this file does not use */
  (void)tu_closed_flag;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_login_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_login_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lockout_account, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lockout_address, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csrf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_scopes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_isolation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_logout_and_rotation, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_password_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_https_cookie_and_registration,
                                      setup_https, teardown),
      cmocka_unit_test(test_public_routes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
