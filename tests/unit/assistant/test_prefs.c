/*
 * Tests for core/assistant/prefs.c: defaults, a full document, every
 * validation error collected as "field: message", unknown keys, duration
 * and time forms, and the canonical JSON round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "assistant/prefs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_err(const prefs_errors_t *e, const char *msg) {
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(e->msgs[i], msg) == 0) return 1;
  return 0;
}

static void dump(const prefs_errors_t *e) {
  for (size_t i = 0; i < e->n; i++) print_message("  %s\n", e->msgs[i]);
}

static void test_defaults(void **s) {
  (void)s;
  prefs_t p;
  prefs_errors_t e = {0};
  assert_int_equal(prefs_parse(NULL, "pat@example.com", &p, &e), 0);
  assert_int_equal(e.n, 0);
  assert_string_equal(p.timezone, "UTC");
  assert_string_equal(p.email, "pat@example.com");
  assert_string_equal(p.phone, "");
  assert_int_equal(p.channel, PREFS_CH_EMAIL);
  assert_int_equal(p.noffsets, 4);
  assert_int_equal(p.offsets_s[0], 86400);
  assert_int_equal(p.offsets_s[1], 7200);
  assert_int_equal(p.offsets_s[2], 1800);
  assert_int_equal(p.offsets_s[3], 300);
  assert_true(p.quiet_enabled);
  assert_int_equal(p.quiet_start_min, 22 * 60);
  assert_int_equal(p.quiet_end_min, 7 * 60);
  assert_int_equal(p.weekend, PREFS_WEEKEND_NORMAL);
  assert_int_equal(p.escalation_threshold_s, 1800);
  assert_int_equal(p.max_call_attempts, 2);
  assert_int_equal(p.nvip, 0);
  assert_int_equal(p.ninternal, 0);
  assert_int_equal(p.travel_buffer_s, 0);
  assert_int_equal(p.all_day_min, 18 * 60);
  assert_string_equal(p.locale, "en");
  prefs_free(&p);
  assert_int_equal(prefs_parse("{}", NULL, &p, &e), 0);
  assert_string_equal(p.email, "");
  prefs_free(&p);
}

static const char full[] =
    "{\"timezone\":\"Europe/Berlin\",\"email\":\"Pat.Doe@Example.COM\","
    "\"phone\":\"+4930123456\",\"channel\":\"both\","
    "\"offsets\":[\"30m\",\"1d\",7200,\"90s\",\"1h30m\"],"
    "\"quiet_hours\":{\"start\":\"23:30\",\"end\":\"06:15\"},"
    "\"weekend\":\"email_only\",\"escalation_threshold\":\"2h\","
    "\"max_call_attempts\":3,"
    "\"vip_organizers\":[\"Boss@Example.com\",\"ceo@corp.example\"],"
    "\"internal_domains\":[\"@Example.com\",\"corp.example\"],"
    "\"travel_buffer\":\"15m\",\"all_day_time\":\"19:45\","
    "\"locale\":\"de-CH\"}";

static void test_full(void **s) {
  (void)s;
  prefs_t p;
  prefs_errors_t e = {0};
  int rc = prefs_parse(full, "acct@example.com", &p, &e);
  dump(&e);
  assert_int_equal(rc, 0);
  assert_string_equal(p.timezone, "Europe/Berlin");
  assert_string_equal(p.email, "Pat.Doe@example.com");
  assert_string_equal(p.phone, "+4930123456");
  assert_int_equal(p.channel, PREFS_CH_BOTH);
  assert_int_equal(p.noffsets, 5);
  const int64_t want[] = {86400, 7200, 5400, 1800, 90};
  for (int i = 0; i < 5; i++) assert_int_equal(p.offsets_s[i], want[i]);
  assert_int_equal(p.quiet_start_min, 23 * 60 + 30);
  assert_int_equal(p.quiet_end_min, 6 * 60 + 15);
  assert_int_equal(p.weekend, PREFS_WEEKEND_EMAIL_ONLY);
  assert_int_equal(p.escalation_threshold_s, 7200);
  assert_int_equal(p.max_call_attempts, 3);
  assert_int_equal(p.nvip, 2);
  assert_string_equal(p.vip_organizers[0], "boss@example.com");
  assert_int_equal(p.ninternal, 2);
  assert_string_equal(p.internal_domains[0], "example.com");
  assert_int_equal(p.travel_buffer_s, 900);
  assert_int_equal(p.all_day_min, 19 * 60 + 45);
  assert_string_equal(p.locale, "de-CH");

  /* canonical JSON, and it parses back to the same thing */
  char *j = prefs_to_json(&p);
  assert_string_equal(
      j, "{\"timezone\":\"Europe/Berlin\",\"email\":\"Pat.Doe@example.com\","
         "\"phone\":\"+4930123456\",\"channel\":\"both\","
         "\"offsets\":[\"24h\",\"2h\",\"90m\",\"30m\",\"90s\"],"
         "\"quiet_hours\":{\"start\":\"23:30\",\"end\":\"06:15\"},"
         "\"weekend\":\"email_only\",\"escalation_threshold\":\"2h\","
         "\"max_call_attempts\":3,"
         "\"vip_organizers\":[\"boss@example.com\",\"ceo@corp.example\"],"
         "\"internal_domains\":[\"example.com\",\"corp.example\"],"
         "\"travel_buffer\":\"15m\",\"all_day_time\":\"19:45\","
         "\"locale\":\"de-CH\"}");
  prefs_t q;
  assert_int_equal(prefs_parse(j, "other@example.com", &q, &e), 0);
  char *j2 = prefs_to_json(&q);
  assert_string_equal(j, j2);
  free(j2);
  free(j);
  prefs_free(&q);
  prefs_free(&p);

  /* defaults round trip; quiet hours off is null */
  prefs_parse("{\"quiet_hours\":null,\"phone\":null}", "a@b.example", &p, &e);
  assert_int_equal(p.quiet_enabled, 0);
  j = prefs_to_json(&p);
  assert_non_null(strstr(j, "\"quiet_hours\":null"));
  assert_non_null(strstr(j, "\"phone\":null"));
  assert_int_equal(prefs_parse(j, NULL, &q, &e), 0);
  assert_int_equal(q.quiet_enabled, 0);
  assert_string_equal(q.email, "a@b.example");
  j2 = prefs_to_json(&q);
  assert_string_equal(j, j2);
  free(j);
  free(j2);
  prefs_free(&p);
  prefs_free(&q);
}

static void test_errors_collected(void **s) {
  (void)s;
  prefs_t p;
  prefs_errors_t e = {0};
  const char *bad =
      "{\"timezone\":\"Mars/Olympus\",\"email\":\"not-an-email\","
      "\"phone\":\"030 123456\",\"channel\":\"sms\","
      "\"offsets\":[\"24h\",\"10s\",\"15d\",\"24h\",\"soon\"],"
      "\"quiet_hours\":{\"start\":\"25:00\",\"stop\":\"07:00\"},"
      "\"weekend\":\"sometimes\",\"escalation_threshold\":\"-5m\","
      "\"max_call_attempts\":9,\"vip_organizers\":[\"boss\",7],"
      "\"internal_domains\":[\"bad_domain\"],\"travel_buffer\":\"5h\","
      "\"all_day_time\":\"6pm\",\"locale\":\"English\","
      "\"quiet_hour\":true}";
  assert_int_equal(prefs_parse(bad, "acct@example.com", &p, &e), -1);
  const char *want[] = {
      ("timezone: unknown time zone (use an IANA name like "
       "\"Europe/Berlin\")"),
      "email: must be an e-mail address",
      "phone: must be an E.164 number like \"+4930123456\"",
      "channel: must be \"email\", \"call\" or \"both\"",
      "offsets[1]: must be between 1m and 14d",
      "offsets[2]: must be between 1m and 14d",
      "offsets[3]: duplicate offset",
      "offsets[4]: must be a duration like \"24h\", \"30m\" or seconds",
      "quiet_hours.start: must be a time \"HH:MM\"",
      "quiet_hours.stop: unknown field",
      "weekend: must be \"normal\", \"email_only\" or \"none\"",
      "escalation_threshold: must be a duration like \"30m\" or seconds",
      "max_call_attempts: must be an integer from 1 to 5",
      "vip_organizers[0]: must be an e-mail address",
      "vip_organizers[1]: must be a string",
      "internal_domains[0]: must be a domain name like example.com",
      "travel_buffer: must be between 0 and 4h",
      "all_day_time: must be a time \"HH:MM\"",
      "locale: must be a language tag like \"en\" or \"de-CH\"",
      "quiet_hour: unknown field",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (!has_err(&e, want[i])) {
      dump(&e);
      fail_msg("missing error: %s", want[i]);
    }
  }
  assert_int_equal(e.n, sizeof want / sizeof want[0]);
  /* out holds the defaults (with the account e-mail) */
  assert_string_equal(p.timezone, "UTC");
  assert_string_equal(p.email, "acct@example.com");
  assert_int_equal(p.noffsets, 4);
  assert_int_equal(p.nvip, 0);
  prefs_free(&p);
  prefs_errors_free(&e);
  assert_int_equal(e.n, 0);
}

static void expect_one(const char *json, const char *msg) {
  prefs_t p;
  prefs_errors_t e = {0};
  int rc = prefs_parse(json, NULL, &p, &e);
  if (rc != -1 || e.n != 1 || strcmp(e.msgs[0], msg) != 0) {
    dump(&e);
    fail_msg("%s: wanted exactly \"%s\"", json, msg);
  }
  prefs_errors_free(&e);
  prefs_free(&p);
}

static void expect_ok(const char *json) {
  prefs_t p;
  prefs_errors_t e = {0};
  int rc = prefs_parse(json, NULL, &p, &e);
  if (rc != 0) {
    dump(&e);
    fail_msg("%s: wanted no error", json);
  }
  prefs_free(&p);
}

static void test_single_errors(void **s) {
  (void)s;
  expect_one("[1]", "preferences: must be a JSON object");
  expect_one("{\"channel\":", "preferences: invalid JSON (unexpected end of "
                              "data)");
  expect_one("{\"offsets\":[]}", "offsets: must list 1 to 8 durations");
  expect_one("{\"offsets\":[1,2,3,4,5,6,7,8,9]}",
             "offsets: must list 1 to 8 durations");
  expect_one("{\"offsets\":\"24h\"}",
             "offsets: must be an array of durations, not a string");
  expect_one("{\"offsets\":[\"1.5h\"]}",
             "offsets[0]: must be a duration like \"24h\", \"30m\" or "
             "seconds");
  expect_one("{\"offsets\":[\"h\"]}",
             "offsets[0]: must be a duration like \"24h\", \"30m\" or "
             "seconds");
  expect_one("{\"offsets\":[59]}", "offsets[0]: must be between 1m and 14d");
  expect_one("{\"quiet_hours\":{\"start\":\"22:00\",\"end\":\"22:00\"}}",
             "quiet_hours: start and end must differ");
  expect_one("{\"quiet_hours\":{\"start\":\"22:00\"}}",
             "quiet_hours: needs both start and end");
  expect_one("{\"quiet_hours\":\"22-7\"}",
             "quiet_hours: must be {\"start\": \"HH:MM\", \"end\": "
             "\"HH:MM\"} or null");
  expect_one("{\"phone\":\"+0301234567\"}",
             "phone: must be an E.164 number like \"+4930123456\"");
  expect_one("{\"phone\":\"+12345678901234567\"}",
             "phone: must be an E.164 number like \"+4930123456\"");
  expect_one("{\"email\":\"a@@b.example\"}",
             "email: must be an e-mail address");
  expect_one("{\"email\":\"a b@example.com\"}",
             "email: must be an e-mail address");
  expect_one("{\"email\":\"ab@localhost\"}",
             "email: must be an e-mail address");
  expect_one("{\"email\":\"a..b@example.com\"}",
             "email: must be an e-mail address");
  expect_one("{\"max_call_attempts\":\"2\"}",
             "max_call_attempts: must be an integer from 1 to 5");
  expect_one("{\"max_call_attempts\":0}",
             "max_call_attempts: must be an integer from 1 to 5");
  expect_one("{\"timezone\":\"../../etc/passwd\"}",
             "timezone: unknown time zone (use an IANA name like "
             "\"Europe/Berlin\")");
  expect_one("{\"timezone\":5}", "timezone: unknown time zone (use an IANA "
                                 "name like \"Europe/Berlin\")");
  expect_one("{\"all_day_time\":\"24:00\"}",
             "all_day_time: must be a time \"HH:MM\"");
  expect_one("{\"travel_buffer\":\"-1m\"}",
             "travel_buffer: must be a duration like \"30m\" or seconds");
  expect_one("{\"Timezone\":\"UTC\"}", "Timezone: unknown field");
  expect_ok("{\"offsets\":[60, \"14d\"], \"travel_buffer\":0, "
            "\"escalation_threshold\":\"0s\", \"phone\":\"+15551234567\", "
            "\"locale\":\"pt_BR\", \"email\":null}");
  expect_ok("{\"timezone\":\"America/Argentina/Buenos_Aires\"}");
  expect_ok("{\"travel_buffer\":\"4h\",\"max_call_attempts\":5}");
}

/* The account's own address is the default the canonical JSON shows; it
 * parses back even where the stricter e-mail check would refuse it (a
 * single-label domain), and only as the account's own. */
static void test_account_email_round_trip(void **s) {
  (void)s;
  prefs_t p, q;
  prefs_errors_t e = {0};
  assert_int_equal(prefs_parse("{}", "admin@test", &p, &e), 0);
  assert_string_equal(p.email, "admin@test");
  char *j = prefs_to_json(&p);
  assert_non_null(strstr(j, "\"email\":\"admin@test\""));
  assert_int_equal(prefs_parse(j, "admin@test", &q, &e), 0);
  assert_int_equal(e.n, 0);
  assert_string_equal(q.email, "admin@test");
  prefs_free(&q);
  /* another account: still not an e-mail address */
  assert_int_equal(prefs_parse(j, "pat@example.com", &q, &e), -1);
  assert_true(has_err(&e, "email: must be an e-mail address"));
  prefs_errors_free(&e);
  prefs_free(&q);
  free(j);
  prefs_free(&p);
}

static void test_lists(void **s) {
  (void)s;
  prefs_t p;
  prefs_errors_t e = {0};
  /* lower-cased, "@" stripped from domains, duplicates folded */
  assert_int_equal(
      prefs_parse("{\"vip_organizers\":[\"A@X.example\",\"a@x.example\"],"
                  "\"internal_domains\":[\"@X.Example\",\"x.example\"]}",
                  NULL, &p, &e),
      0);
  assert_int_equal(p.nvip, 1);
  assert_string_equal(p.vip_organizers[0], "a@x.example");
  assert_int_equal(p.ninternal, 1);
  assert_string_equal(p.internal_domains[0], "x.example");
  prefs_free(&p);
  /* 65 entries */
  char big[65 * 20 + 64] = "{\"internal_domains\":[";
  for (int i = 0; i < 65; i++)
    sprintf(big + strlen(big), "%s\"d%d.example\"", i ? "," : "", i);
  strcat(big, "]}");
  assert_int_equal(prefs_parse(big, NULL, &p, &e), -1);
  assert_true(has_err(&e, "internal_domains: at most 64 entries"));
  prefs_errors_free(&e);
  prefs_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_errors_collected),
      cmocka_unit_test(test_single_errors),
      cmocka_unit_test(test_account_email_round_trip),
      cmocka_unit_test(test_lists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
