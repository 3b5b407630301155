/* test_httpc_retry.c: the retry policy's pure parts (no loop, no network). */
#include "httpc/httpc_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void test_retry_after_seconds(void **state) {
  (void)state;
  assert_int_equal(httpc__parse_retry_after("120", NULL, 0), 120000);
  assert_int_equal(httpc__parse_retry_after(" 5 ", NULL, 0), 5000);
  assert_int_equal(httpc__parse_retry_after("0", NULL, 0), 0);
  assert_int_equal(httpc__parse_retry_after("abc", NULL, 0), -1);
  assert_int_equal(httpc__parse_retry_after("5s", NULL, 0), -1);
  assert_int_equal(httpc__parse_retry_after("", NULL, 0), -1);
  assert_int_equal(httpc__parse_retry_after(NULL, NULL, 0), -1);
  /* Absurd values are capped at a day. */
  assert_int_equal(httpc__parse_retry_after("99999999999999999999", NULL, 0),
                   86400 * (int64_t)1000);
}

static void test_retry_after_date(void **state) {
  (void)state;
  int64_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
  assert_int_equal(
      httpc__parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", NULL, now),
      30000);
  /* RFC 850 and asctime forms are also HTTP-dates. */
  assert_int_equal(
      httpc__parse_retry_after("Tuesday, 14-Nov-23 22:13:30 GMT", NULL, now),
      10000);
  assert_int_equal(
      httpc__parse_retry_after("Tue Nov 14 22:13:21 2023", NULL, now), 1000);
  /* In the past: retry now. */
  assert_int_equal(
      httpc__parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", NULL, now), 0);
  assert_int_equal(httpc__parse_retry_after("not a date", NULL, now), -1);
}

static void test_retry_after_ms(void **state) {
  (void)state;
  assert_int_equal(httpc__parse_retry_after(NULL, "150", 0), 150);
  assert_int_equal(httpc__parse_retry_after(NULL, "150.2", 0), 151);
  /* retry-after-ms wins over Retry-After. */
  assert_int_equal(httpc__parse_retry_after("10", "20", 0), 20);
  /* An unusable retry-after-ms falls back to Retry-After. */
  assert_int_equal(httpc__parse_retry_after("2", "-5", 0), 2000);
  assert_int_equal(httpc__parse_retry_after("2", "soon", 0), 2000);
  assert_int_equal(httpc__parse_retry_after(NULL, "nan", 0), -1);
}

static void test_backoff_full_jitter(void **state) {
  (void)state;
  httpc_retry_t p = {0};
  httpc__retry_defaults(&p, NULL);
  assert_int_equal(p.max_attempts, 4);
  assert_int_equal(p.base_delay_ms, 500);
  assert_int_equal(p.max_delay_ms, 8000);
  assert_int_equal(p.nstatuses, 6);

  uint64_t ceil_for[] = {0, 500, 1000, 2000, 4000, 8000, 8000, 8000};
  for (unsigned n = 1; n < 8; n++) {
    /* rnd % (ceiling + 1): the largest value reachable is the ceiling. */
    assert_int_equal(httpc__backoff_ms(&p, n, ceil_for[n]), ceil_for[n]);
    assert_int_equal(httpc__backoff_ms(&p, n, ceil_for[n] + 1), 0);
    for (uint64_t rnd = 1; rnd < 5000000; rnd = rnd * 3 + 7)
      assert_true(httpc__backoff_ms(&p, n, rnd) <= ceil_for[n]);
  }
  /* Large attempt numbers do not overflow. */
  assert_true(httpc__backoff_ms(&p, 1000, UINT64_MAX) <= 8000);
}

static void test_defaults_inherit(void **state) {
  (void)state;
  httpc_retry_t base = {.max_attempts = 7, .statuses = {503}, .nstatuses = 1};
  httpc__retry_defaults(&base, NULL);
  httpc_retry_t p = {.max_attempts = 2};
  httpc__retry_defaults(&p, &base);
  assert_int_equal(p.max_attempts, 2);
  assert_int_equal(p.nstatuses, 1);
  assert_int_equal(p.statuses[0], 503);
  assert_int_equal(p.base_delay_ms, 500);
}

static void test_classify(void **state) {
  (void)state;
  httpc_retry_t p = {0};
  httpc__retry_defaults(&p, NULL);
  httpc_verdict_t v;

  v = httpc__classify(&p, true, CURLE_OK, 200, false, true);
  assert_int_equal(v.result, HTTPC_OK);
  assert_int_equal(v.sent, HTTPC_SENT_YES);
  assert_false(v.retryable);

  v = httpc__classify(&p, true, CURLE_OK, 503, false, true);
  assert_int_equal(v.result, HTTPC_HTTP_ERROR);
  assert_true(v.retryable);
  v = httpc__classify(&p, true, CURLE_OK, 404, false, true);
  assert_int_equal(v.result, HTTPC_HTTP_ERROR);
  assert_false(v.retryable);
  v = httpc__classify(&p, true, CURLE_OK, 501, false, true);
  assert_false(v.retryable);

  /* Non-idempotent: a 5xx is ambiguous, a 4xx a refusal; neither retried. */
  v = httpc__classify(&p, false, CURLE_OK, 503, false, true);
  assert_int_equal(v.result, HTTPC_AMBIGUOUS);
  assert_false(v.retryable);
  v = httpc__classify(&p, false, CURLE_OK, 429, false, true);
  assert_int_equal(v.result, HTTPC_HTTP_ERROR);
  assert_false(v.retryable);

  /* Certainly before sending: retried whatever the method. */
  int before[] = {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST,
                  CURLE_SSL_CONNECT_ERROR};
  for (size_t i = 0; i < 3; i++) {
    v = httpc__classify(&p, false, before[i], 0, false, false);
    assert_int_equal(v.result, HTTPC_NETWORK);
    assert_int_equal(v.sent, HTTPC_SENT_NO);
    assert_true(v.retryable);
  }
  /* After sending: idempotent retried, the rest ambiguous. */
  v = httpc__classify(&p, true, CURLE_GOT_NOTHING, 0, false, true);
  assert_int_equal(v.result, HTTPC_NETWORK);
  assert_true(v.retryable);
  v = httpc__classify(&p, false, CURLE_GOT_NOTHING, 0, false, true);
  assert_int_equal(v.result, HTTPC_AMBIGUOUS);
  assert_int_equal(v.sent, HTTPC_SENT_MAYBE);
  assert_false(v.retryable);
  v = httpc__classify(&p, false, CURLE_PARTIAL_FILE, 200, false, true);
  assert_int_equal(v.result, HTTPC_AMBIGUOUS);

  /* Timeouts: before the request was written they are safe to retry. */
  v = httpc__classify(&p, false, CURLE_OPERATION_TIMEDOUT, 0, false, false);
  assert_int_equal(v.result, HTTPC_TIMEOUT);
  assert_int_equal(v.sent, HTTPC_SENT_NO);
  assert_true(v.retryable);
  v = httpc__classify(&p, false, CURLE_OPERATION_TIMEDOUT, 0, false, true);
  assert_int_equal(v.result, HTTPC_AMBIGUOUS);
  assert_false(v.retryable);
  v = httpc__classify(&p, true, CURLE_OPERATION_TIMEDOUT, 0, false, true);
  assert_int_equal(v.result, HTTPC_TIMEOUT);
  assert_true(v.retryable);

  /* Permanent failures are never retried. */
  v = httpc__classify(&p, true, CURLE_PEER_FAILED_VERIFICATION, 0, false,
                      false);
  assert_int_equal(v.result, HTTPC_NETWORK);
  assert_int_equal(v.sent, HTTPC_SENT_NO);
  assert_false(v.retryable);

  v = httpc__classify(&p, true, CURLE_WRITE_ERROR, 200, true, true);
  assert_int_equal(v.result, HTTPC_TOO_LARGE);
  assert_false(v.retryable);
  v = httpc__classify(&p, true, CURLE_FILESIZE_EXCEEDED, 200, false, true);
  assert_int_equal(v.result, HTTPC_TOO_LARGE);
}

static void test_response_accessors(void **state) {
  (void)state;
  httpc_header_t h[] = {{"Content-Type", "text/plain"},
                        {"Retry-After", "3"},
                        {"retry-after", "9"}};
  httpc_response_t r = {.headers = h, .nheaders = 3};
  assert_string_equal(httpc_response_header(&r, "content-type"), "text/plain");
  assert_string_equal(httpc_response_header(&r, "RETRY-AFTER"), "3");
  assert_null(httpc_response_header(&r, "X-Missing"));
  assert_int_equal(httpc_retry_after_ms(&r, 0), 3000);
  assert_string_equal(httpc_result_str(HTTPC_AMBIGUOUS), "ambiguous");
  assert_string_equal(httpc_result_str(HTTPC_TOO_LARGE), "too_large");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retry_after_seconds),
      cmocka_unit_test(test_retry_after_date),
      cmocka_unit_test(test_retry_after_ms),
      cmocka_unit_test(test_backoff_full_jitter),
      cmocka_unit_test(test_defaults_inherit),
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_response_accessors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
