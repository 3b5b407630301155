/* test_render.c: reminder rendering (core/assistant/render.c). The ICS is
 * parsed back with libical, including its iTIP restriction check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "assistant/render.h"

#include <libical/ical.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-03-03T14:00:00Z .. 14:30Z: 15:00 in Europe/Berlin (CET). */
#define START_MS 1772546400000LL
#define END_MS (START_MS + 30 * 60 * 1000)
#define NOW_MS 1772400000000LL

static render_event_t base_event(void) {
  return (render_event_t){
      .id = 42,
      .external_id = "abc123",
      .ical_uid = "7f3c2a9e@clinic.example",
      .summary = "Dental check-up",
      .description = "Bring your card.\nCall us to reschedule.",
      .location = "Clinic, Room 4",
      .organizer = "scheduler@clinic.example",
      .status = "confirmed",
      .start_ms = START_MS,
      .end_ms = END_MS,
      .sequence = 3,
  };
}

static render_input_t base_input(const render_event_t *ev) {
  return (render_input_t){
      .ev = ev,
      .delivery_id = 7,
      .channel = "email",
      .to = "pat@example.com",
      .to_name = "Pat Doe",
      .zone = "Europe/Berlin",
      .locale = "en",
      .public_url = "https://assist.example.org:8443/base",
      .from_email = "reminders@assist.example.org",
      .from_name = "Reminders",
      .rsvp_accept = "https://assist.example.org/rsvp/A",
      .rsvp_decline = "https://assist.example.org/rsvp/D",
      .rsvp_tentative = "https://assist.example.org/rsvp/T",
      .now_ms = NOW_MS,
  };
}

/* Every line ends with CRLF, no bare CR or LF, at most 75 octets, and a
 * continuation never starts inside a UTF-8 sequence. */
static void assert_lines_ok(const char *ics) {
  const char *p = ics;
  assert_true(strlen(ics) > 2);
  while (*p) {
    const char *crlf = strstr(p, "\r\n");
    assert_non_null(crlf);
    size_t n = (size_t)(crlf - p);
    assert_true(n <= 75);
    assert_null(memchr(p, '\n', n));
    assert_null(memchr(p, '\r', n));
    if (*p == ' ') {
      assert_true(n >= 2);
      assert_true(((unsigned char)p[1] & 0xC0) != 0x80);
    }
    p = crlf + 2;
  }
}

/* Unfolds (RFC 5545 §3.1) into a malloc'd string. */
static char *unfold(const char *ics) {
  size_t n = strlen(ics);
  char *out = malloc(n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    if (ics[i] == '\r' && ics[i + 1] == '\n' && ics[i + 2] == ' ') {
      i += 2;
      continue;
    }
    *o++ = ics[i];
  }
  *o = '\0';
  return out;
}

static icalcomponent *parse(const char *ics, icalcomponent **vevent) {
  icalcomponent *c = icalparser_parse_string(ics);
  assert_non_null(c);
  assert_int_equal(icalcomponent_isa(c), ICAL_VCALENDAR_COMPONENT);
  assert_int_equal(icalcomponent_count_errors(c), 0);
  *vevent = icalcomponent_get_first_component(c, ICAL_VEVENT_COMPONENT);
  assert_non_null(*vevent);
  return c;
}

static void test_ics_request(void **state) {
  (void)state;
  render_event_t ev = base_event();
  render_input_t in = base_input(&ev);
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_string_equal(out.ics_method, "REQUEST");
  assert_lines_ok(out.ics);
  icalcomponent *ve, *c = parse(out.ics, &ve);
  assert_int_equal(icalcomponent_get_method(c), ICAL_METHOD_REQUEST);
  icalproperty *v = icalcomponent_get_first_property(c, ICAL_VERSION_PROPERTY);
  assert_non_null(v);
  assert_string_equal(icalproperty_get_version(v), "2.0");
  assert_non_null(icalcomponent_get_first_property(c, ICAL_PRODID_PROPERTY));
  assert_string_equal(icalcomponent_get_uid(ve), "7f3c2a9e@clinic.example");
  assert_int_equal(icalcomponent_get_sequence(ve), 3);
  struct icaltimetype s = icalcomponent_get_dtstart(ve);
  assert_true(icaltime_is_utc(s));
  assert_int_equal((int64_t)icaltime_as_timet(s) * 1000, START_MS);
  struct icaltimetype e = icalcomponent_get_dtend(ve);
  assert_int_equal((int64_t)icaltime_as_timet(e) * 1000, END_MS);
  struct icaltimetype st = icalcomponent_get_dtstamp(ve);
  assert_true(icaltime_is_utc(st));
  assert_int_equal((int64_t)icaltime_as_timet(st) * 1000, NOW_MS);
  assert_string_equal(icalcomponent_get_summary(ve), "Dental check-up");
  assert_string_equal(icalcomponent_get_location(ve), "Clinic, Room 4");
  assert_string_equal(icalcomponent_get_description(ve),
                      "Bring your card.\nCall us to reschedule.");
  icalproperty *org =
      icalcomponent_get_first_property(ve, ICAL_ORGANIZER_PROPERTY);
  assert_non_null(org);
  assert_string_equal(icalproperty_get_organizer(org),
                      "mailto:scheduler@clinic.example");
  assert_int_equal(icalcomponent_count_properties(ve, ICAL_ATTENDEE_PROPERTY),
                   1);
  icalproperty *att =
      icalcomponent_get_first_property(ve, ICAL_ATTENDEE_PROPERTY);
  assert_string_equal(icalproperty_get_attendee(att), "mailto:pat@example.com");
  icalparameter *ps =
      icalproperty_get_first_parameter(att, ICAL_PARTSTAT_PARAMETER);
  assert_non_null(ps);
  assert_int_equal(icalparameter_get_partstat(ps), ICAL_PARTSTAT_NEEDSACTION);
  icalparameter *rs =
      icalproperty_get_first_parameter(att, ICAL_RSVP_PARAMETER);
  assert_non_null(rs);
  assert_int_equal(icalparameter_get_rsvp(rs), ICAL_RSVP_TRUE);
  icalparameter *cn = icalproperty_get_first_parameter(att, ICAL_CN_PARAMETER);
  assert_non_null(cn);
  assert_string_equal(icalparameter_get_cn(cn), "Pat Doe");
  assert_null(icalcomponent_get_first_property(ve, ICAL_RECURRENCEID_PROPERTY));
  /* RFC 5546 REQUEST restrictions (ORGANIZER, ATTENDEE, DTSTAMP...). */
  assert_int_equal(icalrestriction_check(c), 1);
  icalcomponent_free(c);
  render_out_free(&out);
}

static void test_uid_fallback_and_organizer(void **state) {
  (void)state;
  render_event_t ev = base_event();
  ev.ical_uid = "";
  ev.organizer = "PAT@example.com"; /* the person organizes it */
  render_input_t in = base_input(&ev);
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  icalcomponent *ve, *c = parse(out.ics, &ve);
  assert_string_equal(icalcomponent_get_uid(ve), "42@assist.example.org");
  icalproperty *org =
      icalcomponent_get_first_property(ve, ICAL_ORGANIZER_PROPERTY);
  assert_string_equal(icalproperty_get_organizer(org),
                      "mailto:reminders@assist.example.org");
  icalparameter *cn = icalproperty_get_first_parameter(org, ICAL_CN_PARAMETER);
  assert_non_null(cn);
  assert_string_equal(icalparameter_get_cn(cn), "Reminders");
  icalcomponent_free(c);
  render_out_free(&out);

  /* No organizer and no sender: a noreply address, never the recipient. */
  ev.organizer = "";
  in.from_email = "";
  in.from_name = "";
  assert_int_equal(render_message(&in, &out), 0);
  c = parse(out.ics, &ve);
  org = icalcomponent_get_first_property(ve, ICAL_ORGANIZER_PROPERTY);
  assert_string_equal(icalproperty_get_organizer(org),
                      "mailto:noreply@assist.example.org");
  assert_int_equal(icalrestriction_check(c), 1);
  icalcomponent_free(c);
  render_out_free(&out);
}

static void test_all_day(void **state) {
  (void)state;
  render_event_t ev = base_event();
  ev.all_day = 1;
  ev.start_date = "2026-03-03";
  ev.start_ms = 1772492400000LL; /* local midnight in Berlin */
  ev.end_ms = ev.start_ms + 2 * 86400000LL;
  render_input_t in = base_input(&ev);
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_non_null(strstr(out.ics, "DTSTART;VALUE=DATE:20260303\r\n"));
  assert_non_null(strstr(out.ics, "DTEND;VALUE=DATE:20260305\r\n"));
  icalcomponent *ve, *c = parse(out.ics, &ve);
  struct icaltimetype s = icalcomponent_get_dtstart(ve);
  assert_true(s.is_date);
  assert_int_equal(s.year, 2026);
  assert_int_equal(s.month, 3);
  assert_int_equal(s.day, 3);
  icalcomponent_free(c);
  assert_non_null(strstr(out.text, "Tuesday, 3 March 2026"));
  assert_non_null(strstr(out.text, "all day"));
  assert_non_null(strstr(out.subject, "Tue 3 Mar"));
  render_out_free(&out);
}

static void test_recurrence_id(void **state) {
  (void)state;
  render_event_t ev = base_event();
  ev.external_id = "7f3c2a9e@clinic.example/20260303T140000Z";
  render_input_t in = base_input(&ev);
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  icalcomponent *ve, *c = parse(out.ics, &ve);
  struct icaltimetype r = icalcomponent_get_recurrenceid(ve);
  assert_false(icaltime_is_null_time(r));
  assert_int_equal((int64_t)icaltime_as_timet(r) * 1000, START_MS);
  assert_string_equal(icalcomponent_get_uid(ve), "7f3c2a9e@clinic.example");
  icalcomponent_free(c);
  render_out_free(&out);
  /* Google's instance ids: "<id>_<YYYYMMDD>" for all-day instances. */
  ev.external_id = "k3j4h5_20260303";
  assert_int_equal(render_message(&in, &out), 0);
  assert_non_null(strstr(out.ics, "RECURRENCE-ID;VALUE=DATE:20260303\r\n"));
  render_out_free(&out);
  /* Not a recurrence suffix. */
  ev.external_id = "plain_id_x";
  assert_int_equal(render_message(&in, &out), 0);
  assert_null(strstr(out.ics, "RECURRENCE-ID"));
  render_out_free(&out);
}

/* Folding: multi-byte characters at every position around the 75-octet
 * boundaries; unfolded, the text is exactly the original. */
static void test_folding_utf8(void **state) {
  (void)state;
  const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  for (size_t k = 0; k < 3; k++) {
    for (size_t prefix = 0; prefix < 80; prefix++) {
      char line[1024];
      size_t n = 0;
      memcpy(line, "SUMMARY:", 8);
      n = 8;
      for (size_t i = 0; i < prefix; i++) line[n++] = 'x';
      for (int i = 0; i < 60; i++) {
        size_t cl = strlen(chars[k]);
        memcpy(line + n, chars[k], cl);
        n += cl;
      }
      line[n] = '\0';
      buf_t b = {0};
      render_ics_fold(&b, line, n);
      assert_lines_ok(b.data);
      char *u = unfold(b.data);
      size_t ul = strlen(u);
      assert_true(ul == n + 2);
      assert_memory_equal(u, line, n);
      assert_string_equal(u + n, "\r\n");
      free(u);
      buf_free(&b);
    }
  }
  /* Exactly 75 octets: no fold; 76: one fold. */
  char l75[76];
  memset(l75, 'a', 75);
  l75[75] = '\0';
  buf_t b = {0};
  render_ics_fold(&b, l75, 75);
  assert_int_equal(b.len, 77);
  buf_free(&b);
  char l76[77];
  memset(l76, 'a', 76);
  l76[76] = '\0';
  render_ics_fold(&b, l76, 76);
  assert_int_equal(b.len, 76 + 2 + 3);
  assert_memory_equal(b.data + 75, "\r\n a\r\n", 6);
  buf_free(&b);

  /* A whole message with long UTF-8 fields parses back intact. */
  render_event_t ev = base_event();
  char summary[600] = "", desc[900] = "";
  /* (libical trims trailing blanks: the values end in a letter) */
  for (int i = 0; i < 40; i++) strcat(summary, "Zahnarzt \xe2\x82\xac x");
  for (int i = 0; i < 50; i++) strcat(desc, "\xf0\x9f\x98\x80\xc3\xa4, ");
  strcat(desc, "end");
  ev.summary = summary;
  ev.description = desc;
  render_input_t in = base_input(&ev);
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_lines_ok(out.ics);
  icalcomponent *ve, *c = parse(out.ics, &ve);
  assert_string_equal(icalcomponent_get_summary(ve), summary);
  assert_string_equal(icalcomponent_get_description(ve), desc);
  icalcomponent_free(c);
  render_out_free(&out);
}

static void test_text_escaping(void **state) {
  (void)state;
  buf_t b = {0};
  render_ics_text(&b, "a,b;c\\d\ne\r\nf\rg\x01h\ti");
  assert_string_equal(b.data, "a\\,b\\;c\\\\d\\ne\\nf\\ng"
                              "h\ti");
  buf_free(&b);

  /* A hostile summary cannot add properties or components. */
  render_event_t ev = base_event();
  ev.summary = "x\r\nATTENDEE:mailto:evil@example.net\r\nEND:VEVENT";
  ev.location = "Room \"4\"; Floor, 2 \\ back";
  ev.organizer = "boss@example.com\r\nATTENDEE:mailto:evil2@example.net";
  render_input_t in = base_input(&ev);
  in.to_name = "Pat \"The\" Doe;X=1:\r\nY";
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_lines_ok(out.ics);
  icalcomponent *ve, *c = parse(out.ics, &ve);
  assert_int_equal(icalcomponent_count_properties(ve, ICAL_ATTENDEE_PROPERTY),
                   1);
  assert_int_equal(icalcomponent_count_components(c, ICAL_VEVENT_COMPONENT), 1);
  assert_string_equal(icalcomponent_get_summary(ve),
                      "x\nATTENDEE:mailto:evil@example.net\nEND:VEVENT");
  assert_string_equal(icalcomponent_get_location(ve),
                      "Room \"4\"; Floor, 2 \\ back");
  icalproperty *att =
      icalcomponent_get_first_property(ve, ICAL_ATTENDEE_PROPERTY);
  assert_string_equal(icalproperty_get_attendee(att), "mailto:pat@example.com");
  icalparameter *cn = icalproperty_get_first_parameter(att, ICAL_CN_PARAMETER);
  assert_string_equal(icalparameter_get_cn(cn), "Pat The Doe;X=1:Y");
  icalcomponent_free(c);
  /* The subject is one line. */
  assert_null(strchr(out.subject, '\r'));
  assert_null(strchr(out.subject, '\n'));
  render_out_free(&out);
}

static void test_html_escaping(void **state) {
  (void)state;
  render_event_t ev = base_event();
  ev.summary = "<script>alert('x')</script>&amp;";
  ev.location = "<img src=x onerror=alert(1)>";
  ev.description = "line1\n<b>bold</b>\nline3";
  ev.organizer = "\"><svg onload=alert(1)>@example.com";
  render_input_t in = base_input(&ev);
  in.rsvp_decline = "https://x.example/rsvp/\"><script>";
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_null(strstr(out.html, "<script"));
  assert_null(strstr(out.html, "<img"));
  assert_null(strstr(out.html, "<svg"));
  assert_null(strstr(out.html, "<b>"));
  assert_non_null(strstr(out.html,
                         "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
                         "&amp;amp;"));
  assert_non_null(strstr(out.html, "line1<br>\n&lt;b&gt;bold&lt;/b&gt;<br>"));
  assert_non_null(strstr(out.html, "href=\"https://x.example/rsvp/&quot;&gt;"
                                   "&lt;script&gt;\""));
  /* The plain text keeps the words as they are. */
  assert_non_null(strstr(out.text, "<script>alert('x')</script>&amp;"));
  render_out_free(&out);

  buf_t b = {0};
  render_html(&b, "a&b<c>d\"e'f");
  assert_string_equal(b.data, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  buf_free(&b);
}

static void test_bodies_zone_locale(void **state) {
  (void)state;
  render_event_t ev = base_event();
  render_input_t in = base_input(&ev);
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_non_null(strstr(out.subject, "Dental check-up"));
  assert_non_null(strstr(out.subject, "Tue 3 Mar 15:00"));
  assert_non_null(strstr(out.text, "Tuesday, 3 March 2026, 15:00 to 15:30 "
                                   "(Europe/Berlin)"));
  assert_non_null(strstr(out.text, "https://assist.example.org/rsvp/A"));
  assert_non_null(strstr(out.text, "https://assist.example.org/rsvp/D"));
  assert_non_null(strstr(out.text, "https://assist.example.org/rsvp/T"));
  assert_non_null(
      strstr(out.html, "href=\"https://assist.example.org/rsvp/A\""));
  assert_non_null(
      strstr(out.html, "href=\"https://assist.example.org/rsvp/D\""));
  assert_non_null(
      strstr(out.html, "href=\"https://assist.example.org/rsvp/T\""));
  assert_non_null(strstr(out.text, "Clinic, Room 4"));
  render_out_free(&out);

  /* New York: 09:00; an unknown zone falls back to UTC; an unknown locale
   * to English. */
  in.zone = "America/New_York";
  in.locale = "xx";
  assert_int_equal(render_message(&in, &out), 0);
  assert_non_null(strstr(out.text, "09:00 to 09:30 (America/New_York)"));
  render_out_free(&out);
  in.zone = "Not/AZone";
  assert_int_equal(render_message(&in, &out), 0);
  assert_non_null(strstr(out.text, "14:00 to 14:30 (UTC)"));
  render_out_free(&out);

  /* Without links no RSVP paragraph. */
  in.rsvp_accept = in.rsvp_decline = in.rsvp_tentative = NULL;
  assert_int_equal(render_message(&in, &out), 0);
  assert_null(strstr(out.text, "Will you attend"));
  assert_null(strstr(out.html, "<a "));
  render_out_free(&out);
}

static void test_call_script(void **state) {
  (void)state;
  render_event_t ev = base_event();
  render_input_t in = base_input(&ev);
  in.channel = "call";
  in.to = "+4930123456";
  render_out_t out;
  assert_int_equal(render_message(&in, &out), 0);
  assert_string_equal(out.html, "");
  assert_string_equal(out.ics, "");
  assert_string_equal(out.ics_method, "");
  assert_non_null(strstr(out.text, "Hello Pat Doe."));
  assert_non_null(strstr(out.text, "Dental check-up"));
  assert_non_null(strstr(out.text, "15:00"));
  assert_null(strchr(out.text, '\n'));
  render_out_free(&out);

  render_input_t bad = {0};
  assert_int_equal(render_message(&bad, &out), -22);
  assert_string_equal(out.subject, "");
  render_out_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ics_request),
      cmocka_unit_test(test_uid_fallback_and_organizer),
      cmocka_unit_test(test_all_day),
      cmocka_unit_test(test_recurrence_id),
      cmocka_unit_test(test_folding_utf8),
      cmocka_unit_test(test_text_escaping),
      cmocka_unit_test(test_html_escaping),
      cmocka_unit_test(test_bodies_zone_locale),
      cmocka_unit_test(test_call_script),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
