/* ics_expand tests over the calendars in data/ (argv[1]). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ics_expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *g_dir;

static char *slurp(const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  char *b = malloc(1 << 20);
  *len = fread(b, 1, (1 << 20) - 1, f);
  b[*len] = '\0';
  fclose(f);
  return b;
}

/* UTC ms of a civil UTC time. */
static int64_t utc(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi};
  return (int64_t)timegm(&tm) * 1000;
}

static ics_opts_t window_2026(void) {
  return (ics_opts_t){.from_ms = utc(2026, 1, 1, 0, 0),
                      .to_ms = utc(2027, 1, 1, 0, 0),
                      .default_tz = "UTC",
                      .self_email = "alice@example.org"};
}

static void expand_file(const char *name, const ics_opts_t *o,
                        ics_result_t *r) {
  size_t len;
  char *text = slurp(name, &len);
  char err[256] = "";
  int rc = ics_expand(text, len, o, r, err, sizeof err);
  free(text);
  if (rc != 0) fail_msg("%s: %s", name, err);
}

static const ics_event_t *find(const ics_result_t *r, const char *id) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->events[i].external_id, id) == 0) return &r->events[i];
  fail_msg("no event %s (of %zu)", id, r->n);
  return NULL;
}

static int has(const ics_result_t *r, const char *id) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->events[i].external_id, id) == 0) return 1;
  return 0;
}

/* Weekly 09:00 Europe/Berlin across the March change (VTIMEZONE in the
 * file): stays 09:00 local, EXDATE drops one, an override moves one, an
 * override cancels one. */
static void test_weekly_berlin_dst(void **st) {
  (void)st;
  ics_opts_t o = window_2026();
  ics_result_t r;
  expand_file("berlin_weekly.ics", &o, &r);
  assert_int_equal(r.n, 5);
  const ics_event_t *e = find(&r, "weekly-1@example.org/20260310T080000Z");
  assert_int_equal(e->start_ms, utc(2026, 3, 10, 8, 0)); /* CET */
  assert_int_equal(e->end_ms, utc(2026, 3, 10, 8, 30));
  assert_string_equal(e->tz, "Europe/Berlin");
  assert_string_equal(e->summary, "Weekly sync");
  assert_string_equal(e->location, "Room 4");
  assert_string_equal(e->uid, "weekly-1@example.org");
  assert_string_equal(e->status, "confirmed");
  assert_int_equal(e->sequence, 2);
  assert_false(e->all_day);
  assert_string_equal(e->organizer, "boss@example.org");
  assert_int_equal(e->nattendees, 3);
  assert_string_equal(e->attendees[0].email, "alice@example.org");
  assert_string_equal(e->attendees[0].name, "Alice");
  assert_string_equal(e->attendees[0].status, "accepted");
  assert_true(e->attendees[0].self);
  assert_string_equal(e->attendees[1].email, "bob@example.org");
  assert_string_equal(e->attendees[1].status, "tentative");
  assert_false(e->attendees[1].self);
  assert_string_equal(e->attendees[2].status, "needsAction");
  assert_null(e->attendees[2].name);

  find(&r, "weekly-1@example.org/20260317T080000Z");
  assert_false(has(&r, "weekly-1@example.org/20260324T080000Z")); /* EXDATE */
  e = find(&r, "weekly-1@example.org/20260331T070000Z");          /* CEST now */
  assert_int_equal(e->start_ms, utc(2026, 3, 31, 7, 0));

  e = find(&r, "weekly-1@example.org/20260407T070000Z"); /* the override */
  assert_string_equal(e->summary, "Weekly sync (moved)");
  assert_int_equal(e->start_ms, utc(2026, 4, 7, 8, 30));
  assert_int_equal(e->end_ms, utc(2026, 4, 7, 9, 0));
  assert_int_equal(e->sequence, 3);
  assert_string_equal(e->status, "confirmed");

  e = find(&r, "weekly-1@example.org/20260414T070000Z");
  assert_string_equal(e->status, "cancelled");

  /* etags: stable per content, different between instances */
  ics_result_t r2;
  expand_file("berlin_weekly.ics", &o, &r2);
  for (size_t i = 0; i < r.n; i++) {
    assert_string_equal(r.events[i].etag, r2.events[i].etag);
    if (i) assert_string_not_equal(r.events[i].etag, r.events[i - 1].etag);
  }
  ics_result_free(&r2);
  ics_result_free(&r);
}

/* IANA TZID without a VTIMEZONE; the October change; EXDATE as a list. */
static void test_daily_iana_exdates(void **st) {
  (void)st;
  ics_opts_t o = window_2026();
  ics_result_t r;
  expand_file("iana_daily.ics", &o, &r);
  assert_int_equal(r.n, 10);
  const ics_event_t *e = find(&r, "iana-1@example.org/20261020T071500Z");
  assert_int_equal(e->end_ms - e->start_ms, 15 * 60 * 1000);
  assert_string_equal(e->tz, "Europe/Berlin");
  find(&r, "iana-1@example.org/20261021T071500Z");
  assert_false(has(&r, "iana-1@example.org/20261022T071500Z"));
  assert_false(has(&r, "iana-1@example.org/20261023T071500Z"));
  e = find(&r, "iana-1@example.org/20261026T081500Z"); /* CET: 09:15 local */
  assert_int_equal(e->start_ms, utc(2026, 10, 26, 8, 15));
  find(&r, "iana-1@example.org/20261104T081500Z");
  ics_result_free(&r);
}

/* The window: only instances overlapping it. */
static void test_window(void **st) {
  (void)st;
  ics_opts_t o = window_2026();
  o.from_ms = utc(2026, 10, 26, 0, 0);
  o.to_ms = utc(2026, 10, 28, 0, 0);
  ics_result_t r;
  expand_file("iana_daily.ics", &o, &r);
  assert_int_equal(r.n, 2);
  find(&r, "iana-1@example.org/20261026T081500Z");
  find(&r, "iana-1@example.org/20261027T081500Z");
  ics_result_free(&r);
}

/* All-day series and single days in X-WR-TIMEZONE; floating times there
 * too; a cancelled event; an event without UID is skipped. */
static void test_allday_floating_cancelled(void **st) {
  (void)st;
  ics_opts_t o = window_2026();
  ics_result_t r;
  expand_file("allday.ics", &o, &r);
  assert_int_equal(r.skipped, 1);
  assert_int_equal(r.n, 6);
  assert_string_equal(r.calname, "Holidays");
  const ics_event_t *e = find(&r, "offsite@example.org/20260504");
  assert_true(e->all_day);
  assert_string_equal(e->start_date, "2026-05-04");
  assert_int_equal(e->start_ms, utc(2026, 5, 3, 22, 0)); /* Berlin midnight */
  assert_int_equal(e->end_ms, utc(2026, 5, 5, 22, 0));   /* two days */
  assert_string_equal(e->tz, "Europe/Berlin");
  find(&r, "offsite@example.org/20260604");
  find(&r, "offsite@example.org/20260704");
  e = find(&r, "holiday@example.org");
  assert_true(e->all_day);
  assert_string_equal(e->start_date, "2026-12-25");
  assert_int_equal(e->start_ms, utc(2026, 12, 24, 23, 0)); /* CET */
  assert_int_equal(e->end_ms, utc(2026, 12, 25, 23, 0));
  e = find(&r, "floating@example.org");
  assert_false(e->all_day);
  assert_int_equal(e->start_ms, utc(2026, 6, 1, 10, 0));
  e = find(&r, "gone@example.org");
  assert_string_equal(e->status, "cancelled");
  ics_result_free(&r);
}

/* Floating times without X-WR-TIMEZONE follow the default zone option. */
static void test_floating_default_zone(void **st) {
  (void)st;
  const char *text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
                     "BEGIN:VEVENT\r\nUID:f1\r\nDTSTAMP:20260101T000000Z\r\n"
                     "DTSTART:20260115T090000\r\nEND:VEVENT\r\n"
                     "END:VCALENDAR\r\n";
  ics_opts_t o = window_2026();
  o.default_tz = "America/New_York";
  ics_result_t r;
  char err[256];
  assert_int_equal(ics_expand(text, strlen(text), &o, &r, err, sizeof err), 0);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.events[0].start_ms, utc(2026, 1, 15, 14, 0)); /* EST */
  assert_int_equal(r.events[0].end_ms, r.events[0].start_ms);
  assert_string_equal(r.events[0].tz, "America/New_York");
  ics_result_free(&r);
}

/* An Outlook VTIMEZONE with a Windows name: times right across the
 * change, tz falls back to the default zone's name. */
static void test_outlook_vtimezone(void **st) {
  (void)st;
  ics_opts_t o = window_2026();
  ics_result_t r;
  expand_file("outlook_tz.ics", &o, &r);
  assert_int_equal(r.n, 2);
  const ics_event_t *e = find(&r, "outlook-1/20261021T060000Z");
  assert_int_equal(e->end_ms - e->start_ms, 3600 * 1000);
  assert_string_equal(e->location, "Hauptstr. 1, Berlin");
  assert_string_equal(e->tz, "UTC");
  e = find(&r, "outlook-1/20261028T070000Z");
  ics_result_free(&r);
}

static void expect_refused(const char *text, size_t len, const char *needle) {
  ics_opts_t o = window_2026();
  ics_result_t r;
  char err[256] = "";
  assert_int_equal(ics_expand(text, len, &o, &r, err, sizeof err), -1);
  assert_int_equal(r.n, 0);
  assert_null(r.events);
  if (!strstr(err, needle)) fail_msg("'%s' lacks '%s'", err, needle);
}

static void test_bad_input_refused(void **st) {
  (void)st;
  size_t len;
  char *t = slurp("truncated.ics", &len);
  expect_refused(t, len, "not a complete iCalendar");
  free(t);
  expect_refused("", 0, "not a complete iCalendar");
  expect_refused("<html>Not found</html>", 22, "not a complete iCalendar");
  expect_refused("BEGIN:VCALENDAR\0END:VCALENDAR", 29, "NUL");
  const char *two = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\n"
                    "END:VCALENDAR\r\n";
  ics_opts_t o = window_2026();
  ics_result_t r;
  char err[256] = "";
  /* libical wraps two calendars; either refused or read as one, never a
   * crash or a half result */
  if (ics_expand(two, strlen(two), &o, &r, err, sizeof err) == 0)
    ics_result_free(&r);
  else
    assert_int_equal(r.n, 0);
}

/* Runaway rules are bounded. */
static void test_limits(void **st) {
  (void)st;
  const char *text =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
      "BEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20260101T000000Z\r\n"
      "DTSTART:20260101T000000Z\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  ics_opts_t o = window_2026();
  o.max_per_series = 100;
  ics_result_t r;
  char err[256];
  assert_int_equal(ics_expand(text, strlen(text), &o, &r, err, sizeof err), 0);
  assert_int_equal(r.n, 100);
  assert_true(r.truncated > 0);
  ics_result_free(&r);
}

int main(int argc, char **argv) {
  g_dir = argc > 1 ? argv[1] : "data";
  ics_expand_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_weekly_berlin_dst),
      cmocka_unit_test(test_daily_iana_exdates),
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_allday_floating_cancelled),
      cmocka_unit_test(test_floating_default_zone),
      cmocka_unit_test(test_outlook_vtimezone),
      cmocka_unit_test(test_bad_input_refused),
      cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
