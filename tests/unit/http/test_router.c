/* Router matching, pattern validation and the static path check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/internal.h"

static int tag_a, tag_b, tag_c, tag_d, tag_e;

static void h(http_request_t *req, void *ud) {
  (void)req;
  (void)ud;
}

static router_t *make(void) {
  router_t *r = router_new();
  assert_int_equal(router_add(r, "GET", "/health", 0, h, &tag_a), 0);
  assert_int_equal(router_add(r, "GET", "/items/{id}", 0, h, &tag_b), 0);
  assert_int_equal(router_add(r, "GET", "/items/new", 0, h, &tag_c), 0);
  assert_int_equal(router_add(r, "POST", "/items", 123, h, &tag_d), 0);
  assert_int_equal(router_add(r, "GET", "/static/{path*}", 0, h, &tag_e), 0);
  return r;
}

static int match(router_t *r, const char *m, const char *path,
                 router_match_t *out) {
  return router_match(r, m, path, strlen(path), out);
}

static void test_literals_beat_params(void **state) {
  (void)state;
  router_t *r = make();
  router_match_t m;
  assert_int_equal(match(r, "GET", "/items/new", &m), 200);
  assert_ptr_equal(m.ud, &tag_c);
  assert_int_equal(m.nparams, 0);
  assert_int_equal(match(r, "GET", "/items/42", &m), 200);
  assert_ptr_equal(m.ud, &tag_b);
  assert_string_equal(m.pattern, "/items/{id}");
  assert_int_equal(m.nparams, 1);
  assert_string_equal(m.params[0].name, "id");
  assert_int_equal(m.params[0].len, 2);
  assert_memory_equal(m.params[0].value, "42", 2);
  /* Order of registration does not matter. */
  router_t *r2 = router_new();
  assert_int_equal(router_add(r2, "GET", "/a/b", 0, h, &tag_a), 0);
  assert_int_equal(router_add(r2, "GET", "/{x}/b", 0, h, &tag_b), 0);
  assert_int_equal(router_add(r2, "GET", "/{rest*}", 0, h, &tag_c), 0);
  assert_int_equal(router_add(r2, "GET", "/a/{y}", 0, h, &tag_d), 0);
  assert_int_equal(match(r2, "GET", "/a/b", &m), 200);
  assert_ptr_equal(m.ud, &tag_a);
  assert_int_equal(match(r2, "GET", "/z/b", &m), 200);
  assert_ptr_equal(m.ud, &tag_b);
  assert_int_equal(match(r2, "GET", "/a/zz", &m), 200);
  assert_ptr_equal(m.ud, &tag_d);
  assert_int_equal(match(r2, "GET", "/q/r/s", &m), 200);
  assert_ptr_equal(m.ud, &tag_c);
  router_free(r2);
  router_free(r);
}

static void test_rest(void **state) {
  (void)state;
  router_t *r = make();
  router_match_t m;
  assert_int_equal(match(r, "GET", "/static/css/site.css", &m), 200);
  assert_ptr_equal(m.ud, &tag_e);
  assert_int_equal(m.nparams, 1);
  assert_string_equal(m.params[0].name, "path");
  assert_int_equal(m.params[0].len, strlen("css/site.css"));
  assert_memory_equal(m.params[0].value, "css/site.css", m.params[0].len);
  assert_int_equal(match(r, "GET", "/static/", &m), 200);
  assert_int_equal(m.params[0].len, 0);
  assert_int_equal(match(r, "GET", "/static", &m), 404);
  assert_int_equal(match(r, "HEAD", "/static/x", &m), 200); /* GET -> HEAD */
  router_free(r);
}

static void test_404_405(void **state) {
  (void)state;
  router_t *r = make();
  router_match_t m;
  assert_int_equal(match(r, "GET", "/nope", &m), 404);
  assert_int_equal(match(r, "GET", "/health/", &m), 404);
  assert_int_equal(match(r, "GET", "/items/", &m), 404); /* empty param */
  assert_int_equal(match(r, "GET", "/items/1/2", &m), 404);
  assert_int_equal(match(r, "GET", "*", &m), 404);
  assert_int_equal(match(r, "GET", "", &m), 404);
  assert_int_equal(match(r, "DELETE", "/health", &m), 405);
  assert_string_equal(m.allow, "GET, HEAD");
  assert_int_equal(match(r, "GET", "/items", &m), 405);
  assert_string_equal(m.allow, "POST");
  assert_int_equal(match(r, "POST", "/items", &m), 200);
  assert_int_equal(m.max_body, 123);
  /* Several methods on one path, each listed once. */
  assert_int_equal(router_add(r, "PUT", "/items/{id}", 0, h, NULL), 0);
  assert_int_equal(router_add(r, "DELETE", "/items/{id}", 0, h, NULL), 0);
  assert_int_equal(match(r, "PATCH", "/items/7", &m), 405);
  assert_string_equal(m.allow, "GET, HEAD, PUT, DELETE");
  router_free(r);
}

static void test_root_and_head(void **state) {
  (void)state;
  router_t *r = router_new();
  router_match_t m;
  assert_int_equal(router_add(r, "GET", "/", 0, h, &tag_a), 0);
  assert_int_equal(router_add(r, "HEAD", "/x", 0, h, &tag_b), 0);
  assert_int_equal(router_add(r, "GET", "/x", 0, h, &tag_c), 0);
  assert_int_equal(match(r, "GET", "/", &m), 200);
  assert_ptr_equal(m.ud, &tag_a);
  assert_int_equal(match(r, "GET", "/y", &m), 404);
  assert_int_equal(match(r, "HEAD", "/x", &m), 200);
  assert_ptr_equal(m.ud, &tag_b); /* explicit HEAD wins */
  assert_int_equal(match(r, "GET", "/x", &m), 200);
  assert_ptr_equal(m.ud, &tag_c);
  router_free(r);
}

static void test_duplicates_refused(void **state) {
  (void)state;
  router_t *r = make();
  assert_int_equal(router_add(r, "GET", "/health", 0, h, NULL), -1);
  assert_int_equal(router_add(r, "GET", "/items/{other}", 0, h, NULL), -1);
  assert_int_equal(router_add(r, "GET", "/static/{x*}", 0, h, NULL), -1);
  assert_int_equal(router_add(r, "POST", "/health", 0, h, NULL), 0);
  router_free(r);
}

static void test_malformed_refused(void **state) {
  (void)state;
  static const char *bad[] = {
      "",           "health",   "/a//b",
      "/a/",        "/{}",      "/{*}",
      "/a{id}",     "/{id}x",   "/{i-d}",
      "/{rest*}/x", "/{a}/{a}", "/a b",
      "/a?b",       "/a#b",     "/{a",
      "/a}",        "/a\\b",    "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
  };
  router_t *r = router_new();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (router_add(r, "GET", bad[i], 0, h, NULL) != -1)
      fail_msg("pattern accepted: '%s'", bad[i]);
  }
  assert_int_equal(router_add(r, NULL, "/a", 0, h, NULL), -1);
  assert_int_equal(router_add(r, "get", "/a", 0, h, NULL), -1);
  assert_int_equal(router_add(r, "", "/a", 0, h, NULL), -1);
  assert_int_equal(router_add(r, "GET", NULL, 0, h, NULL), -1);
  assert_int_equal(router_add(r, "GET", "/a", 0, NULL, NULL), -1);
  assert_int_equal(
      router_add(r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", 0, h, NULL), 0);
  router_free(r);
}

static void test_static_check(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int status;
    const char *out;
  } cases[] = {
      {"index.html", 0, "index.html"},
      {"", 0, ""},
      {"a/./b//c", 0, "a/b/c"},
      {"a%20b.txt", 0, "a b.txt"},
      {"%252e%252e/x", 0, "%2e%2e/x"}, /* decoded once only */
      {"../etc/passwd", 404, NULL},
      {"a/../../x", 404, NULL},
      {"a/..", 404, NULL},
      {"%2e%2e/secret", 404, NULL},
      {"%2E%2e%2fsecret", 404, NULL},
      {"..%2fsecret", 404, NULL},
      {"a%2Fb", 404, NULL},
      {"a%5cb", 404, NULL},
      {"..\\secret", 404, NULL},
      {"a\\b", 404, NULL},
      {"index.html%00.png", 404, NULL},
      {"/etc/passwd", 404, NULL},
      {"%2fetc/passwd", 404, NULL},
      {"bad%zzescape", 400, NULL},
      {"trailing%2", 400, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *out = NULL;
    int st = http_static_check(cases[i].in, &out);
    if (st != cases[i].status)
      fail_msg("'%s': status %d, want %d", cases[i].in, st, cases[i].status);
    if (cases[i].out) {
      assert_non_null(out);
      assert_string_equal(out, cases[i].out);
    } else {
      assert_null(out);
    }
    free(out);
  }
}

static void test_pct_decode_and_types(void **state) {
  (void)state;
  char out[64];
  long n = http_pct_decode(out, "a+b%41%7e", 9, 1);
  assert_int_equal(n, 5);
  assert_memory_equal(out, "a bA~", 5);
  n = http_pct_decode(out, "a+b", 3, 0);
  assert_int_equal(n, 3);
  assert_memory_equal(out, "a+b", 3);
  assert_int_equal(http_pct_decode(out, "%4", 2, 0), -1);
  assert_int_equal(http_pct_decode(out, "%g0", 3, 0), -1);
  assert_string_equal(http_content_type("x/index.html"),
                      "text/html; charset=utf-8");
  assert_string_equal(http_content_type("a.CSS"), "text/css; charset=utf-8");
  assert_string_equal(http_content_type("f.woff2"), "font/woff2");
  assert_string_equal(http_content_type("f.svg"), "image/svg+xml");
  assert_string_equal(http_content_type("dir.d/noext"),
                      "application/octet-stream");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literals_beat_params),
      cmocka_unit_test(test_rest),
      cmocka_unit_test(test_404_405),
      cmocka_unit_test(test_root_and_head),
      cmocka_unit_test(test_duplicates_refused),
      cmocka_unit_test(test_malformed_refused),
      cmocka_unit_test(test_static_check),
      cmocka_unit_test(test_pct_decode_and_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
