/*
 * test_gcal_map.c: the google-calendar plugin's Calendar API v3 JSON ->
 * assist_cal_event_t mapping and its RSVP PATCH body (no host, no
 * network): timed and all-day events (local midnight in the calendar's
 * zone, across DST), cancelled items of an incremental sync, attendees
 * with self, page tokens, malformed pages and items.
 */
#include "gcal_map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static void test_rfc3339(void **st) {
  (void)st;
  int64_t ms;
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T09:00:00.000Z", &ms), 0);
  assert_true(ms == 1736499600000ll);
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T10:00:00+01:00", &ms), 0);
  assert_true(ms == 1736499600000ll);
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T04:30:00-04:30", &ms), 0);
  assert_true(ms == 1736499600000ll);
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T09:00:00.5Z", &ms), 0);
  assert_true(ms == 1736499600500ll);
  assert_int_equal(gcal_rfc3339_ms("1969-12-31T23:59:59Z", &ms), 0);
  assert_true(ms == -1000);
  /* an offset is required; garbage is refused */
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T09:00:00", &ms), -1);
  assert_int_equal(gcal_rfc3339_ms("2025-01-10", &ms), -1);
  assert_int_equal(gcal_rfc3339_ms("2025-13-10T09:00:00Z", &ms), -1);
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T09:00:00Zjunk", &ms), -1);
  assert_int_equal(gcal_rfc3339_ms("2025-01-10T09:00:00.Z", &ms), -1);
  assert_int_equal(gcal_rfc3339_ms("", &ms), -1);
  char buf[32];
  gcal_format_utc(1736499600000ll, buf, sizeof buf);
  assert_string_equal(buf, "2025-01-10T09:00:00Z");
  gcal_format_utc(951782400000ll, buf, sizeof buf); /* leap day 2000 */
  assert_string_equal(buf, "2000-02-29T00:00:00Z");
}

static void test_local_midnight(void **st) {
  (void)st;
  int64_t ms;
  assert_int_equal(gcal_local_midnight_ms("2025-01-10", "UTC", &ms), 0);
  assert_true(ms == 1736467200000ll);
  /* Berlin in winter: UTC+1 -> 23:00Z the day before */
  assert_int_equal(gcal_local_midnight_ms("2025-01-10", "Europe/Berlin", &ms),
                   0);
  assert_true(ms == 1736463600000ll);
  /* and in summer: UTC+2 */
  assert_int_equal(gcal_local_midnight_ms("2025-07-10", "Europe/Berlin", &ms),
                   0);
  assert_true(ms == 1752098400000ll);
  /* New York on the spring-forward day: midnight is still EST (-5) */
  assert_int_equal(
      gcal_local_midnight_ms("2025-03-09", "America/New_York", &ms), 0);
  assert_true(ms == 1741496400000ll);
  assert_int_equal(gcal_local_midnight_ms("2025-01-10", "Nowhere/City", &ms),
                   -1);
  assert_int_equal(gcal_local_midnight_ms("2025-1-10", "UTC", &ms), -1);
  assert_int_equal(gcal_local_midnight_ms("2025-01-10T00", "UTC", &ms), -1);
}

static const char PAGE[] =
    "{\"kind\":\"calendar#events\",\"timeZone\":\"Europe/Berlin\","
    "\"nextPageToken\":\"p2\",\"items\":["
    /* a timed event with attendees */
    "{\"id\":\"evt1\",\"etag\":\"\\\"3\\\"\",\"status\":\"confirmed\","
    "\"iCalUID\":\"evt1@google.com\",\"summary\":\"Dentist\","
    "\"location\":\"Main St 1\",\"sequence\":2,"
    "\"organizer\":{\"email\":\"boss@example.com\"},"
    "\"start\":{\"dateTime\":\"2025-01-10T10:00:00+01:00\","
    "\"timeZone\":\"Europe/Berlin\"},"
    "\"end\":{\"dateTime\":\"2025-01-10T10:30:00+01:00\"},"
    "\"attendees\":[{\"email\":\"boss@example.com\","
    "\"responseStatus\":\"accepted\",\"organizer\":true},"
    "{\"email\":\"alice@example.com\",\"displayName\":\"Alice\","
    "\"responseStatus\":\"tentative\",\"self\":true},"
    "{\"email\":\"bob@example.com\",\"responseStatus\":\"weird\"},"
    "{\"displayName\":\"no email\"}]},"
    /* an all-day event: local midnight in the calendar's zone */
    "{\"id\":\"evt2\",\"status\":\"tentative\",\"summary\":\"Holiday\","
    "\"start\":{\"date\":\"2025-07-10\"},\"end\":{\"date\":\"2025-07-11\"}},"
    /* an instance of a recurring series */
    "{\"id\":\"ser_20250111T090000Z\",\"recurringEventId\":\"ser\","
    "\"status\":\"confirmed\",\"iCalUID\":\"ser@google.com\","
    "\"start\":{\"dateTime\":\"2025-01-11T09:00:00Z\"},"
    "\"end\":{\"dateTime\":\"2025-01-11T10:00:00Z\"}},"
    /* cancelled in an incremental sync: only id and status */
    "{\"id\":\"gone\",\"status\":\"cancelled\"},"
    /* unusable: no times, no id, not an object */
    "{\"id\":\"bad\",\"status\":\"confirmed\"},"
    "{\"summary\":\"no id\",\"start\":{\"date\":\"2025-01-01\"},"
    "\"end\":{\"date\":\"2025-01-02\"}},"
    "42,"
    "{\"id\":\"badtime\",\"start\":{\"dateTime\":\"tomorrow\"},"
    "\"end\":{\"dateTime\":\"later\"}}"
    "]}";

static void test_page(void **st) {
  (void)st;
  gcal_page_t p;
  char err[128];
  assert_int_equal(
      gcal_page_parse(PAGE, sizeof PAGE - 1, "UTC", &p, err, sizeof err),
      ASSIST_OK);
  assert_int_equal(p.n, 4);
  assert_int_equal(p.skipped, 4);
  assert_string_equal(p.next_page_token, "p2");
  assert_null(p.next_sync_token);
  assert_string_equal(p.time_zone, "Europe/Berlin");

  const assist_cal_event_t *e = &p.ev[0];
  assert_int_equal(e->struct_size, sizeof *e);
  assert_string_equal(e->external_id, "evt1");
  assert_string_equal(e->etag, "\"3\"");
  assert_string_equal(e->ical_uid, "evt1@google.com");
  assert_string_equal(e->summary, "Dentist");
  assert_string_equal(e->location, "Main St 1");
  assert_null(e->description);
  assert_string_equal(e->status, "confirmed");
  assert_string_equal(e->organizer, "boss@example.com");
  assert_string_equal(e->tz, "Europe/Berlin");
  assert_int_equal(e->sequence, 2);
  assert_int_equal(e->all_day, 0);
  assert_null(e->start_date);
  assert_true(e->start_ms == 1736499600000ll);
  assert_true(e->end_ms == 1736501400000ll);
  assert_int_equal(e->nattendees, 3);
  assert_string_equal(e->attendees[0].email, "boss@example.com");
  assert_string_equal(e->attendees[0].status, "accepted");
  assert_int_equal(e->attendees[0].self, 0);
  assert_string_equal(e->attendees[1].email, "alice@example.com");
  assert_string_equal(e->attendees[1].name, "Alice");
  assert_string_equal(e->attendees[1].status, "tentative");
  assert_int_equal(e->attendees[1].self, 1);
  assert_string_equal(e->attendees[2].status, "needsAction");

  e = &p.ev[1];
  assert_string_equal(e->external_id, "evt2");
  assert_string_equal(e->status, "tentative");
  assert_int_equal(e->all_day, 1);
  assert_string_equal(e->start_date, "2025-07-10");
  assert_string_equal(e->tz, "Europe/Berlin");
  assert_true(e->start_ms == 1752098400000ll); /* 2025-07-09T22:00Z */
  assert_true(e->end_ms == 1752098400000ll + 86400000ll);
  assert_int_equal(e->nattendees, 0);
  assert_null(e->attendees);

  e = &p.ev[2];
  assert_string_equal(e->external_id, "ser_20250111T090000Z");
  assert_string_equal(e->ical_uid, "ser@google.com");
  assert_string_equal(e->tz, "Europe/Berlin"); /* the calendar's zone */
  assert_true(e->start_ms == 1736586000000ll);

  e = &p.ev[3];
  assert_string_equal(e->external_id, "gone");
  assert_string_equal(e->status, "cancelled");
  assert_true(e->start_ms == 0 && e->end_ms == 0);
  gcal_page_free(&p);
}

static void test_last_page_and_default_zone(void **st) {
  (void)st;
  static const char last[] =
      "{\"items\":[{\"id\":\"d\",\"start\":{\"date\":\"2025-03-09\"},"
      "\"end\":{\"date\":\"2025-03-10\"}}],\"nextSyncToken\":\"sync-1\"}";
  gcal_page_t p;
  char err[128];
  assert_int_equal(gcal_page_parse(last, sizeof last - 1, "America/New_York",
                                   &p, err, sizeof err),
                   ASSIST_OK);
  assert_null(p.next_page_token);
  assert_string_equal(p.next_sync_token, "sync-1");
  assert_int_equal(p.n, 1);
  assert_string_equal(p.ev[0].tz, "America/New_York");
  assert_true(p.ev[0].start_ms == 1741496400000ll);
  /* 23 hours long: the day of the spring-forward */
  assert_true(p.ev[0].end_ms - p.ev[0].start_ms == 23 * 3600000ll);
  gcal_page_free(&p);

  static const char empty[] = "{\"kind\":\"calendar#events\"}";
  assert_int_equal(
      gcal_page_parse(empty, sizeof empty - 1, NULL, &p, err, sizeof err),
      ASSIST_OK);
  assert_int_equal(p.n, 0);
  gcal_page_free(&p);
}

static void test_bad_pages(void **st) {
  (void)st;
  gcal_page_t p;
  char err[128];
  const char *bad[] = {
      "", "not json", "[1,2]", "{\"items\":{}}", "{\"items\":[", "\"str\""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = '\0';
    assert_int_equal(
        gcal_page_parse(bad[i], strlen(bad[i]), "UTC", &p, err, sizeof err),
        ASSIST_EINVAL);
    assert_true(err[0] != '\0');
    assert_null(p.root);
  }
}

static void test_rsvp_patch(void **st) {
  (void)st;
  static const char ev[] =
      "{\"id\":\"evt1\",\"etag\":\"\\\"7\\\"\",\"summary\":\"x\","
      "\"attendees\":[{\"email\":\"boss@example.com\","
      "\"responseStatus\":\"accepted\",\"organizer\":true},"
      "{\"email\":\"Alice@Example.com\",\"responseStatus\":\"needsAction\","
      "\"comment\":\"kept\"}]}";
  const char *emails[] = {"alice@example.com", NULL};
  char *patch, *etag;
  assert_int_equal(gcal_rsvp_patch(ev, emails, 2, "declined", &patch, &etag),
                   ASSIST_OK);
  assert_string_equal(etag, "\"7\"");
  json_object *o = json_tokener_parse(patch);
  assert_non_null(o);
  json_object *atts;
  assert_true(json_object_object_get_ex(o, "attendees", &atts));
  assert_int_equal(json_object_array_length(atts), 2);
  json_object *a0 = json_object_array_get_idx(atts, 0), *v;
  assert_true(json_object_object_get_ex(a0, "responseStatus", &v));
  assert_string_equal(json_object_get_string(v), "accepted"); /* untouched */
  json_object *a1 = json_object_array_get_idx(atts, 1);
  assert_true(json_object_object_get_ex(a1, "responseStatus", &v));
  assert_string_equal(json_object_get_string(v), "declined");
  assert_true(json_object_object_get_ex(a1, "comment", &v));
  assert_false(json_object_object_get_ex(o, "summary", &v)); /* a PATCH */
  json_object_put(o);
  free(patch);
  free(etag);

  /* self wins over the e-mail */
  static const char selfev[] =
      "{\"attendees\":[{\"email\":\"a@x\",\"self\":true},{\"email\":\"b@x\"}]}";
  const char *other[] = {"b@x"};
  assert_int_equal(gcal_rsvp_patch(selfev, other, 1, "tentative", &patch, NULL),
                   ASSIST_OK);
  assert_non_null(strstr(patch, "{\"email\":\"a@x\",\"self\":true,"
                                "\"responseStatus\":\"tentative\"}"));
  free(patch);

  /* not an attendee; no attendees; not an event */
  const char *nobody[] = {"zed@x"};
  assert_int_equal(
      gcal_rsvp_patch(selfev + 0, nobody, 0, "accepted", &patch, NULL),
      ASSIST_OK); /* self:true still matches */
  free(patch);
  static const char noself[] = "{\"attendees\":[{\"email\":\"b@x\"}]}";
  assert_int_equal(
      gcal_rsvp_patch(noself, nobody, 1, "accepted", &patch, &etag),
      ASSIST_ENOENT);
  assert_null(patch);
  assert_int_equal(
      gcal_rsvp_patch("{\"id\":\"x\"}", nobody, 1, "accepted", &patch, &etag),
      ASSIST_ENOENT);
  assert_int_equal(
      gcal_rsvp_patch("nonsense", nobody, 1, "accepted", &patch, &etag),
      ASSIST_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc3339),
      cmocka_unit_test(test_local_midnight),
      cmocka_unit_test(test_page),
      cmocka_unit_test(test_last_page_and_default_zone),
      cmocka_unit_test(test_bad_pages),
      cmocka_unit_test(test_rsvp_patch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
