/*
 * test_cron.c: cron parsing and next-fire computation in time zones,
 * including DST transitions. Expected instants are written as UTC wall
 * times derived by hand from the zones' known offsets (CET +1, CEST +2,
 * EST -5, EDT -4, IST +5:30) and converted with timegm, which ignores TZ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "jobs/jobs.h"

static int64_t utc(int y, int mo, int d, int h, int mi) {
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return (int64_t)timegm(&tm) * 1000;
}

static int64_t next(const char *expr, const char *tz, int64_t after) {
  jobs_cron_t *c = NULL;
  char err[128];
  assert_int_equal(jobs_cron_parse(expr, &c, err, sizeof(err)), 0);
  int64_t n = jobs_cron_next(c, tz, after);
  jobs_cron_free(c);
  return n;
}

static void test_cron_utc(void **state) {
  (void)state;
  assert_int_equal(next("*/15 * * * *", "UTC", utc(2024, 5, 1, 10, 7)),
                   utc(2024, 5, 1, 10, 15));
  /* Strictly after. */
  assert_int_equal(next("*/15 * * * *", "UTC", utc(2024, 5, 1, 10, 15)),
                   utc(2024, 5, 1, 10, 30));
  assert_int_equal(next("0 0 29 2 *", "UTC", utc(2024, 3, 1, 0, 0)),
                   utc(2028, 2, 29, 0, 0));
  /* Day of month OR day of week when both are restricted: the 13th or a
   * Friday; 2024-09-01 is a Sunday, the 6th a Friday. */
  assert_int_equal(next("0 0 13 * 5", "UTC", utc(2024, 9, 1, 0, 0)),
                   utc(2024, 9, 6, 0, 0));
  assert_int_equal(next("0 0 13 * 5", "UTC", utc(2024, 9, 6, 0, 0)),
                   utc(2024, 9, 13, 0, 0));
  /* Names, ranges, lists, 7 = Sunday, macros. */
  assert_int_equal(next("30 8 * JAN,jul SUN", "UTC", utc(2024, 1, 1, 0, 0)),
                   utc(2024, 1, 7, 8, 30));
  assert_int_equal(next("0 12 * * 7", "UTC", utc(2024, 1, 1, 0, 0)),
                   utc(2024, 1, 7, 12, 0));
  assert_int_equal(next("@daily", "UTC", utc(2024, 1, 1, 0, 0)),
                   utc(2024, 1, 2, 0, 0));
  assert_int_equal(next("0 9-17/4 * * *", "UTC", utc(2024, 1, 1, 10, 0)),
                   utc(2024, 1, 1, 13, 0));
}

static void test_cron_zones(void **state) {
  (void)state;
  /* Kolkata, +5:30, no DST. */
  assert_int_equal(next("0 12 * * *", "Asia/Kolkata", utc(2024, 1, 1, 0, 0)),
                   utc(2024, 1, 1, 6, 30));
  /* New York, DST starts Sunday 2024-03-10: weekdays 09:00 local go from
   * 14:00Z (EST) on Friday the 8th to 13:00Z (EDT) on Monday the 11th. */
  int64_t t = next("0 9 * * 1-5", "America/New_York", utc(2024, 3, 8, 0, 0));
  assert_int_equal(t, utc(2024, 3, 8, 14, 0));
  assert_int_equal(next("0 9 * * 1-5", "America/New_York", t),
                   utc(2024, 3, 11, 13, 0));
}

static void test_cron_dst_berlin(void **state) {
  (void)state;
  /* Spring forward 2024-03-31 at 01:00Z: local 02:00-03:00 does not
   * exist, so 02:30 is skipped that day. */
  int64_t t = next("30 2 * * *", "Europe/Berlin", utc(2024, 3, 30, 0, 0));
  assert_int_equal(t, utc(2024, 3, 30, 1, 30)); /* 02:30 CET */
  t = next("30 2 * * *", "Europe/Berlin", t);
  assert_int_equal(t, utc(2024, 4, 1, 0, 30)); /* 02:30 CEST, next day */
  /* 03:30 exists on the 31st (CEST). */
  assert_int_equal(next("30 3 * * *", "Europe/Berlin", utc(2024, 3, 30, 12, 0)),
                   utc(2024, 3, 31, 1, 30));
  /* Fall back 2024-10-27 at 01:00Z: local 02:00-03:00 happens twice and
   * fires once, at the first occurrence (00:00Z), then 03:00 CET. */
  t = next("0 * * * *", "Europe/Berlin", utc(2024, 10, 26, 23, 30));
  assert_int_equal(t, utc(2024, 10, 27, 0, 0)); /* 02:00 CEST */
  t = next("0 * * * *", "Europe/Berlin", t);
  assert_int_equal(t, utc(2024, 10, 27, 2, 0)); /* 03:00 CET */
  /* Daily 02:30 on the fall-back day fires once (00:30Z), then the next
   * day at 01:30Z (CET). */
  t = next("30 2 * * *", "Europe/Berlin", utc(2024, 10, 26, 12, 0));
  assert_int_equal(t, utc(2024, 10, 27, 0, 30));
  assert_int_equal(next("30 2 * * *", "Europe/Berlin", t),
                   utc(2024, 10, 28, 1, 30));
}

static void test_cron_invalid(void **state) {
  (void)state;
  const char *bad[] = {"61 * * * *",  "* * *",        "a b c d e",
                       "*/0 * * * *", "* 24 * * *",   "* * 0 * *",
                       "* * * 13 *",  "* * * * 8",    "5-1 * * * *",
                       "* * * * * *", "1,,2 * * * *", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    jobs_cron_t *c = (jobs_cron_t *)1;
    char err[128] = "";
    assert_int_equal(jobs_cron_parse(bad[i], &c, err, sizeof(err)), -22);
    assert_null(c);
    assert_true(err[0] != 0);
  }
  assert_int_equal(jobs_tz_valid("Europe/Berlin"), 0);
  assert_int_equal(jobs_tz_valid("UTC"), 0);
  assert_true(jobs_tz_valid("Mars/Olympus_Mons") < 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cron_utc),
      cmocka_unit_test(test_cron_zones),
      cmocka_unit_test(test_cron_dst_berlin),
      cmocka_unit_test(test_cron_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
