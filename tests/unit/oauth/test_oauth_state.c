/*
 * core/oauth without servers: PKCE (RFC 7636 Appendix B vector), the
 * authorization URL, and the signed state (tampered, expired, another
 * provider, another purpose).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "http/http.h"
#include "oauth/oauth.h"
#include "secrets/secrets.h"

static int64_t g_now;
static int64_t clock_cb(void *ud) {
  (void)ud;
  return g_now;
}

typedef struct fx {
  uv_loop_t loop;
  secrets_keyring_t *ring;
  oauth_t *o;
} fx_t;

static const oauth_provider_cfg_t provs[] = {
    {.name = "google",
     .kind = OAUTH_GOOGLE,
     .client_id = "gid",
     .client_secret = "gsecret"},
    {.name = "microsoft",
     .kind = OAUTH_MICROSOFT,
     .client_id = "mid",
     .tenant = "organizations",
     .scopes = "openid Mail.Read"},
    {.name = "corp",
     .kind = OAUTH_GENERIC,
     .client_id = "cid",
     .authorize_url = "https://idp.example/authorize?x=1",
     .token_url = "https://idp.example/token"},
};

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);
  assert_int_equal(secrets_global_init(), 0);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->ring = secrets_keyring_new();
  assert_int_equal(secrets_keyring_generate(f->ring, true, NULL), 0);
  g_now = 1700000000000;
  oauth_config_t cfg = {.redirect_base = "https://assist.example.org/",
                        .providers = provs,
                        .nproviders = 3,
                        .state_ttl_s = 600,
                        .now_ms = clock_cb};
  char err[256];
  f->o = oauth_new(&f->loop, NULL, NULL, f->ring, &cfg, err, sizeof err);
  if (!f->o) fail_msg("oauth_new: %s", err);
  *state = f;
  return 0;
}

static void closed(void *arg) {
  *(int *)arg = 1;
}

static int teardown(void **state) {
  fx_t *f = *state;
  int done = 0;
  oauth_close(f->o, closed, &done);
  while (!done) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  secrets_keyring_free(f->ring);
  free(f);
  return 0;
}

static void test_pkce_rfc7636_vector(void **state) {
  (void)state;
  char ch[SECRETS_PKCE_CHALLENGE_SIZE];
  assert_int_equal(secrets_pkce_challenge_s256(
                       "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch),
                   0);
  assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

/* The value of query parameter name in url, decoded (static buffer). */
static const char *qparam(const char *url, const char *name) {
  static char out[4096];
  size_t nl = strlen(name);
  const char *q = strchr(url, '?');
  while (q) {
    q++;
    if (strncmp(q, name, nl) == 0 && q[nl] == '=') {
      const char *v = q + nl + 1;
      size_t len = strcspn(v, "&");
      long n = http_pct_decode(out, v, len, 1);
      assert_true(n >= 0);
      out[n] = 0;
      return out;
    }
    q = strchr(q, '&');
  }
  return NULL;
}

static void test_authorize_url(void **state) {
  fx_t *f = *state;
  char *url = NULL;
  assert_int_equal(oauth_authorize(f->o, 7, "google", &url), 0);
  assert_true(
      strncmp(url, "https://accounts.google.com/o/oauth2/v2/auth?", 45) == 0);
  assert_string_equal(qparam(url, "client_id"), "gid");
  assert_string_equal(qparam(url, "redirect_uri"),
                      "https://assist.example.org/api/connections/google/"
                      "callback");
  assert_string_equal(qparam(url, "response_type"), "code");
  assert_string_equal(qparam(url, "code_challenge_method"), "S256");
  assert_string_equal(qparam(url, "access_type"), "offline");
  assert_string_equal(qparam(url, "prompt"), "consent");
  assert_non_null(strstr(qparam(url, "scope"), "gmail.modify"));
  /* the challenge is S256 of the verifier carried (encrypted) in state */
  char challenge[64];
  snprintf(challenge, sizeof challenge, "%s", qparam(url, "code_challenge"));
  char state_s[2048];
  snprintf(state_s, sizeof state_s, "%s", qparam(url, "state"));
  int64_t uid = 0;
  char *verifier = NULL;
  assert_int_equal(oauth_state_check(f->o, state_s, "google", &uid, &verifier),
                   0);
  assert_int_equal(uid, 7);
  assert_true(strlen(verifier) >= 43);
  /* the verifier is not readable in the state (it is encrypted) */
  assert_null(strstr(state_s, verifier));
  char ch[SECRETS_PKCE_CHALLENGE_SIZE];
  assert_int_equal(secrets_pkce_challenge_s256(verifier, ch), 0);
  assert_string_equal(ch, challenge);
  free(verifier);
  free(url);

  /* Microsoft: tenant in the URLs, offline_access added, response_mode */
  assert_int_equal(oauth_authorize(f->o, 7, "microsoft", &url), 0);
  assert_true(strncmp(url,
                      "https://login.microsoftonline.com/organizations/"
                      "oauth2/v2.0/authorize?",
                      70) == 0);
  assert_string_equal(qparam(url, "scope"), "openid Mail.Read offline_access");
  assert_string_equal(qparam(url, "response_mode"), "query");
  free(url);
  /* generic: an authorize URL with a query keeps it */
  assert_int_equal(oauth_authorize(f->o, 7, "corp", &url), 0);
  assert_true(
      strncmp(url, "https://idp.example/authorize?x=1&client_id=", 44) == 0);
  free(url);
  assert_int_equal(oauth_authorize(f->o, 7, "nope", &url), -ENOENT);
  assert_null(url);
}

static void test_state_tampered_expired(void **state) {
  fx_t *f = *state;
  char *st = NULL;
  int64_t uid = -1;
  assert_int_equal(
      oauth_state_issue(f->o, 42, "google",
                        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &st),
      0);
  char *v = NULL;
  assert_int_equal(oauth_state_check(f->o, st, "google", &uid, &v), 0);
  assert_int_equal(uid, 42);
  assert_string_equal(v, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  free(v);
  /* another provider */
  assert_int_equal(oauth_state_check(f->o, st, "microsoft", &uid, NULL),
                   -EINVAL);
  /* every single-character change is rejected */
  size_t n = strlen(st);
  for (size_t i = 0; i < n; i++) {
    char *t = strdup(st);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    int rc = oauth_state_check(f->o, t, "google", &uid, NULL);
    if (rc == 0) fail_msg("tampered state accepted (byte %zu)", i);
    free(t);
  }
  /* truncated */
  st[n - 3] = 0;
  assert_true(oauth_state_check(f->o, st, "google", &uid, NULL) < 0);
  free(st);
  /* expiry: valid until ttl, rejected from then on */
  assert_int_equal(
      oauth_state_issue(f->o, 42, "google",
                        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &st),
      0);
  g_now += 599 * 1000;
  assert_int_equal(oauth_state_check(f->o, st, "google", &uid, NULL), 0);
  g_now += 1000;
  assert_int_equal(oauth_state_check(f->o, st, "google", &uid, NULL),
                   SECRETS_EEXPIRED);
  free(st);
  /* a token of the same keyring made for another purpose */
  char *other = NULL;
  assert_int_equal(
      secrets_token_sign(f->ring, "rsvp", "42\ngoogle\nx", 600, &other), 0);
  assert_true(oauth_state_check(f->o, other, "google", &uid, NULL) < 0);
  free(other);
}

static void test_bad_config(void **state) {
  fx_t *f = *state;
  char err[256];
  oauth_provider_cfg_t bad[] = {
      {.name = "corp", .kind = OAUTH_GENERIC, .client_id = "x"}};
  oauth_config_t cfg = {
      .redirect_base = "https://a.example", .providers = bad, .nproviders = 1};
  assert_null(oauth_new(&f->loop, NULL, NULL, f->ring, &cfg, err, sizeof err));
  assert_non_null(strstr(err, "authorize_url"));
  oauth_provider_cfg_t dup[] = {
      {.name = "g", .kind = OAUTH_GOOGLE, .client_id = "x"},
      {.name = "g", .kind = OAUTH_GOOGLE, .client_id = "y"}};
  cfg.providers = dup;
  cfg.nproviders = 2;
  assert_null(oauth_new(&f->loop, NULL, NULL, f->ring, &cfg, err, sizeof err));
  oauth_provider_cfg_t upper[] = {
      {.name = "Google", .kind = OAUTH_GOOGLE, .client_id = "x"}};
  cfg.providers = upper;
  cfg.nproviders = 1;
  assert_null(oauth_new(&f->loop, NULL, NULL, f->ring, &cfg, err, sizeof err));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pkce_rfc7636_vector),
      cmocka_unit_test_setup_teardown(test_authorize_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_state_tampered_expired, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
  };
  return cmocka_run_group_tests_name("oauth_state", tests, NULL, NULL);
}
