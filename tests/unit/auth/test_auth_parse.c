/*
 * The pure parts of core/auth: Cookie and Authorization headers,
 * Set-Cookie, bodies (JSON and forms), emails, scopes, and the in-memory
 * sign-in limiter (with explicit times, no clock).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/auth_int.h"

static void test_cookie_get(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(auth_cookie_get("a=1; sid=abc_DEF-1; b=2", "sid", v, 64), 9);
  assert_string_equal(v, "abc_DEF-1");
  assert_int_equal(auth_cookie_get("sid=\"quoted\"", "sid", v, 64), 6);
  assert_string_equal(v, "quoted");
  assert_int_equal(auth_cookie_get("xsid=1; sidx=2", "sid", v, 64), -ENOENT);
  assert_int_equal(auth_cookie_get("junk; sid=ok", "sid", v, 64), 2);
  assert_int_equal(auth_cookie_get("  sid = spaced ;", "sid", v, 64), 6);
  assert_string_equal(v, "spaced");
  assert_int_equal(auth_cookie_get("sid=a b", "sid", v, 64), -EINVAL);
  assert_int_equal(auth_cookie_get("sid=a\\b", "sid", v, 64), -EINVAL);
  assert_int_equal(auth_cookie_get("sid=0123456789", "sid", v, 5), -ENOSPC);
  assert_int_equal(auth_cookie_get("", "sid", v, 64), -ENOENT);
  assert_int_equal(auth_cookie_get(NULL, "sid", v, 64), -ENOENT);
  /* The first of two cookies with the same name. */
  assert_int_equal(auth_cookie_get("sid=one; sid=two", "sid", v, 64), 3);
  assert_string_equal(v, "one");
}

static void test_cookie_build(void **state) {
  (void)state;
  char *c = auth_cookie_build("sid", "abc", 3600, 0);
  assert_string_equal(c, "sid=abc; Path=/; Max-Age=3600; HttpOnly; "
                         "SameSite=Lax");
  free(c);
  c = auth_cookie_build("__Host-sid", "", 0, 1);
  assert_string_equal(c, "__Host-sid=; Path=/; Max-Age=0; HttpOnly; "
                         "SameSite=Lax; Secure");
  free(c);
  assert_null(auth_cookie_build("sid", "a;b", 1, 0));
  assert_null(auth_cookie_build("s d", "a", 1, 0));
  assert_null(auth_cookie_build("sid", "a\r\nX: y", 1, 0));
}

static void test_bearer(void **state) {
  (void)state;
  char t[64];
  assert_int_equal(auth_bearer_parse("Bearer asd_abc-DEF_1", t, 64), 13);
  assert_string_equal(t, "asd_abc-DEF_1");
  assert_int_equal(auth_bearer_parse("bearer   tok== ", t, 64), 5);
  assert_string_equal(t, "tok==");
  assert_int_equal(auth_bearer_parse("Basic dXNlcjpwYXNz", t, 64), -ENOENT);
  assert_int_equal(auth_bearer_parse("Bearer", t, 64), -EINVAL);
  assert_int_equal(auth_bearer_parse("Bearer ", t, 64), -EINVAL);
  assert_int_equal(auth_bearer_parse("Bearer a b", t, 64), -EINVAL);
  assert_int_equal(auth_bearer_parse("Bearer a\"b", t, 64), -EINVAL);
  assert_int_equal(auth_bearer_parse("Bearerx tok", t, 64), -ENOENT);
  assert_int_equal(auth_bearer_parse("Bearer 0123456789", t, 4), -ENOSPC);
}

static void test_json_body(void **state) {
  (void)state;
  auth_fields_t f;
  auth_ftype_t t;
  const char *body = "{\"email\":\"A@B.c\",\"n\":3,\"prefs\":{\"x\":[1,2]},"
                     "\"s\":[\"read\",\"write\"]}";
  assert_int_equal(auth_json_parse(body, strlen(body), &f), 0);
  assert_string_equal(auth_fields_get(&f, "email", &t), "A@B.c");
  assert_int_equal(t, AUTH_F_STRING);
  assert_string_equal(auth_fields_get(&f, "n", &t), "3");
  assert_int_equal(t, AUTH_F_JSON);
  assert_string_equal(auth_fields_get(&f, "prefs", &t), "{\"x\":[1,2]}");
  assert_int_equal(auth_scopes_parse(auth_fields_get(&f, "s", &t), t),
                   AUTH_SCOPE_READ | AUTH_SCOPE_WRITE);
  assert_null(auth_fields_get(&f, "missing", NULL));
  auth_fields_free(&f);

  const char *bad[] = {"[1,2]",
                       "{\"a\":1",
                       "{\"a\":1} x",
                       "\"str\"",
                       "{\"a\":\"x\\u0000y\"}",
                       "{\"\":1}",
                       "{\"a\":tru}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(auth_json_parse(bad[i], strlen(bad[i]), &f), -EINVAL);
  assert_int_equal(auth_json_parse("{} \n", 4, &f), 0);
  assert_int_equal(f.n, 0);
  auth_fields_free(&f);
}

static void test_form_body(void **state) {
  (void)state;
  auth_fields_t f;
  const char *body = "email=a%40b.c&password=p+w%21&empty=&flag&email=second";
  assert_int_equal(auth_form_parse(body, strlen(body), &f), 0);
  assert_string_equal(auth_fields_get(&f, "email", NULL), "a@b.c");
  assert_string_equal(auth_fields_get(&f, "password", NULL), "p w!");
  assert_string_equal(auth_fields_get(&f, "empty", NULL), "");
  assert_string_equal(auth_fields_get(&f, "flag", NULL), "");
  auth_fields_free(&f);
  assert_int_equal(auth_form_parse("a=%zz", 5, &f), -EINVAL);
  assert_int_equal(auth_form_parse("a=%4", 4, &f), -EINVAL);
  assert_int_equal(auth_form_parse("a=%00", 5, &f), -EINVAL);

  assert_int_equal(auth_body_parse("application/json; charset=utf-8",
                                   "{\"a\":\"b\"}", 9, &f),
                   0);
  assert_string_equal(auth_fields_get(&f, "a", NULL), "b");
  auth_fields_free(&f);
  assert_int_equal(
      auth_body_parse("Application/X-WWW-Form-Urlencoded", "a=b", 3, &f), 0);
  auth_fields_free(&f);
  assert_int_equal(auth_body_parse("text/plain", "a=b", 3, &f), -ENOTSUP);
  assert_int_equal(auth_body_parse(NULL, "a=b", 3, &f), -ENOTSUP);
  assert_int_equal(auth_body_parse("application/jsonx", "{}", 2, &f), -ENOTSUP);
  assert_int_equal(auth_body_parse(NULL, "", 0, &f), 0);
}

static void test_email(void **state) {
  (void)state;
  char e[AUTH_EMAIL_MAX];
  assert_int_equal(auth_email_normalize("  Alice@Example.ORG ", e, sizeof e),
                   0);
  assert_string_equal(e, "alice@example.org");
  const char *bad[] = {"",      "a",     "@b.c",       "a@",    "a@b@c",
                       "a b@c", "a\n@b", "no-at-sign", "a@b;c", NULL};
  for (size_t i = 0; bad[i]; i++)
    assert_int_equal(auth_email_normalize(bad[i], e, sizeof e), -EINVAL);
  assert_int_equal(auth_email_normalize(NULL, e, sizeof e), -EINVAL);
  char big[300];
  memset(big, 'a', sizeof big);
  big[100] = '@';
  big[299] = '\0';
  assert_int_equal(auth_email_normalize(big, e, sizeof e), -EINVAL);
}

static void test_scopes(void **state) {
  (void)state;
  assert_int_equal(auth_scopes_parse("read", AUTH_F_STRING), AUTH_SCOPE_READ);
  assert_int_equal(auth_scopes_parse("read, admin", AUTH_F_STRING),
                   AUTH_SCOPE_READ | AUTH_SCOPE_ADMIN);
  assert_int_equal(auth_scopes_parse("[\"write\"]", AUTH_F_JSON),
                   AUTH_SCOPE_WRITE);
  assert_int_equal(auth_scopes_parse("", AUTH_F_STRING), -EINVAL);
  assert_int_equal(auth_scopes_parse("[]", AUTH_F_JSON), -EINVAL);
  assert_int_equal(auth_scopes_parse("[1]", AUTH_F_JSON), -EINVAL);
  assert_int_equal(auth_scopes_parse("root", AUTH_F_STRING), -EINVAL);
  assert_int_equal(auth_scopes_parse("{}", AUTH_F_JSON), -EINVAL);
  buf_t b = {0};
  auth_scopes_json(AUTH_SCOPE_ALL, &b);
  assert_string_equal(b.data, "[\"read\",\"write\",\"admin\"]");
  buf_free(&b);
  assert_int_equal(auth_parse_id("42"), 42);
  assert_int_equal(auth_parse_id("0x1"), 0);
  assert_int_equal(auth_parse_id("-1"), 0);
  assert_int_equal(auth_parse_id("9999999999999999999"), 0);
  assert_int_equal(auth_parse_id(NULL), 0);
}

static void test_limiter(void **state) {
  (void)state;
  auth_limiter_t *l = auth_limiter_new(3, 1000, 4);
  /* Three failures inside the window trip; spread out, they do not. */
  assert_int_equal(auth_limiter_fail(l, "k", 0, 5000), 0);
  assert_int_equal(auth_limiter_fail(l, "k", 600, 5000), 0);
  assert_int_equal(auth_limiter_fail(l, "k", 1100, 5000), 0); /* 0 left */
  assert_int_equal(auth_limiter_locked(l, "k", 1100), 0);
  assert_int_equal(auth_limiter_fail(l, "k", 1200, 5000), 1);
  assert_int_equal(auth_limiter_locked(l, "k", 1200), 5000);
  assert_int_equal(auth_limiter_locked(l, "k", 5000), 0);
  /* Reset forgets a key. */
  assert_int_equal(auth_limiter_fail(l, "r", 0, 9), 0);
  auth_limiter_reset(l, "r");
  assert_int_equal(auth_limiter_fail(l, "r", 1, 9), 0);
  assert_int_equal(auth_limiter_fail(l, "r", 2, 9), 0);
  assert_int_equal(auth_limiter_fail(l, "r", 3, 9), 1);
  /* At most 4 keys: stale ones are swept first, then the oldest goes. */
  char key[16];
  for (int i = 0; i < 50; i++) {
    snprintf(key, sizeof key, "x%d", i);
    auth_limiter_fail(l, key, 100000 + i, 0);
    assert_true(auth_limiter_size(l) <= 4);
  }
  auth_limiter_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cookie_get), cmocka_unit_test(test_cookie_build),
      cmocka_unit_test(test_bearer),     cmocka_unit_test(test_json_body),
      cmocka_unit_test(test_form_body),  cmocka_unit_test(test_email),
      cmocka_unit_test(test_scopes),     cmocka_unit_test(test_limiter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
