/*
 * Tests for the planner and its policy chain (planner.c, policy.c): a
 * table of named cases, each with preferences (JSON), an event, "now" and
 * the exact expected plan (offset, channel, UTC time or skipped, and a
 * substring of the reason); then re-planning (event moved, preferences
 * changed), an advisor step undone by the guardrails, and the speed.
 *
 * Times in the table are UTC; the comments give the person's local time.
 * Europe/Berlin: CET (+1) until 2025-03-30 01:00Z, CEST (+2) until
 * 2025-10-26 01:00Z. America/New_York: EST (-5) until 2025-03-09 07:00Z,
 * EDT (-4) until 2025-11-02 06:00Z.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "assistant/planner.h"
#include "assistant/prefs.h"
#include "common/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct want {
  int64_t off;     /* offset_s */
  const char *ch;  /* "email", "call" or "none" (skipped) */
  const char *at;  /* UTC "YYYY-MM-DDTHH:MMZ", NULL when skipped */
  const char *why; /* substring of the reason */
} want_t;

typedef struct pcase {
  const char *name;
  const char *prefs;
  const char *start; /* UTC */
  int all_day;
  const char *start_date; /* all-day */
  const char *organizer;
  const char *att[4]; /* NULL-terminated */
  const char *location;
  const char *status, *response;
  const char *now; /* UTC */
  size_t n;
  want_t w[8];
} pcase_t;

#define H 3600
#define M 60
#define D 86400
#define BER "\"timezone\":\"Europe/Berlin\""
#define NYC "\"timezone\":\"America/New_York\""
#define PHONE "\"phone\":\"+4930123456\""
#define CALL "\"channel\":\"call\"," PHONE

static const pcase_t cases[] = {
    {"defaults in UTC", "{}", "2025-03-12T15:00Z", .now = "2025-03-01T00:00Z",
     .n = 4,
     .w = {{24 * H, "email", "2025-03-11T15:00Z",
            "24h before; email (channel preference)"},
           {2 * H, "email", "2025-03-12T13:00Z", "2h before"},
           {30 * M, "email", "2025-03-12T14:30Z", "30m before"},
           {5 * M, "email", "2025-03-12T14:55Z", "5m before"}}},
    {"defaults in Berlin (Wed 10:00 local)", "{" BER "}", "2025-03-12T09:00Z",
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-11T09:00Z", "email"},
           {2 * H, "email", "2025-03-12T07:00Z", "email"},
           {30 * M, "email", "2025-03-12T08:30Z", "email"},
           {5 * M, "email", "2025-03-12T08:55Z", "email"}}},
    {"channel call (Wed 14:00)", "{" BER "," CALL "}", "2025-03-12T13:00Z",
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "call", "2025-03-11T13:00Z", "call (channel preference)"},
           {2 * H, "call", "2025-03-12T11:00Z", "call"},
           {30 * M, "call", "2025-03-12T12:30Z", "call"},
           {5 * M, "call", "2025-03-12T12:55Z", "call"}}},
    {"call without a phone number is email", "{" BER ",\"channel\":\"call\"}",
     "2025-03-12T13:00Z", .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-11T13:00Z",
            "email (no phone number for a call)"},
           {2 * H, "email", "2025-03-12T11:00Z", "no phone number"},
           {30 * M, "email", "2025-03-12T12:30Z", "no phone number"},
           {5 * M, "email", "2025-03-12T12:55Z", "no phone number"}}},
    {"both: calls within the 30m threshold",
     "{" BER ",\"channel\":\"both\"," PHONE "}", "2025-03-12T13:00Z",
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-11T13:00Z",
            "email (before escalation threshold 30m)"},
           {2 * H, "email", "2025-03-12T11:00Z", "before escalation"},
           {30 * M, "call", "2025-03-12T12:30Z",
            "call (within escalation threshold 30m)"},
           {5 * M, "call", "2025-03-12T12:55Z", "within escalation"}}},
    {"both: threshold 2h",
     "{" BER ",\"channel\":\"both\",\"escalation_threshold\":\"2h\"," PHONE "}",
     "2025-03-12T13:00Z", .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-11T13:00Z", "threshold 2h"},
           {2 * H, "call", "2025-03-12T11:00Z", "threshold 2h"},
           {30 * M, "call", "2025-03-12T12:30Z", "call"},
           {5 * M, "call", "2025-03-12T12:55Z", "call"}}},
    {"custom offsets, sorted; 3d keeps the wall time",
     "{" BER ",\"offsets\":[\"1h\",600,\"3d\",\"1h30m\"]}", "2025-03-12T13:00Z",
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{3 * D, "email", "2025-03-09T13:00Z", "72h before"},
           {90 * M, "email", "2025-03-12T11:30Z", "1h30m before"},
           {1 * H, "email", "2025-03-12T12:00Z", "1h before"},
           {10 * M, "email", "2025-03-12T12:50Z", "10m before"}}},
    {"quiet hours: a 05:30 call moves to 21:59 the evening before",
     "{" BER "," CALL "}", "2025-03-13T06:30Z" /* Thu 07:30 */,
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "call", "2025-03-12T06:30Z", "call"}, /* 07:30 */
           {2 * H, "call", "2025-03-12T20:59Z",           /* Wed 21:59 */
            "moved earlier to 21:59 (quiet hours 22:00-07:00)"},
           {30 * M, "call", "2025-03-13T06:00Z", "call"}, /* 07:00 ok */
           {5 * M, "call", "2025-03-13T06:25Z", "call"}}},
    {"quiet hours: moving earlier would be past, so email",
     "{" BER "," CALL "}", "2025-03-13T06:30Z",
     .now = "2025-03-12T21:30Z" /* Wed 22:30 */, .n = 4,
     .w = {{24 * H, "none", NULL, "past"},
           {2 * H, "email", "2025-03-13T04:30Z", /* Thu 05:30 */
            "email (a call would fall in quiet hours 22:00-07:00)"},
           {30 * M, "call", "2025-03-13T06:00Z", "call"},
           {5 * M, "call", "2025-03-13T06:25Z", "call"}}},
    {"quiet hours: a 23:30 call (same evening) moves to 21:59",
     "{" BER "," CALL ",\"offsets\":[\"15m\"]}", "2025-03-12T22:45Z",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{15 * M, "call", "2025-03-12T20:59Z", "moved earlier to 21:59"}}},
    {"quiet hours: e-mails stay in quiet hours", "{" BER "}",
     "2025-03-13T05:00Z" /* Thu 06:00 */, .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-12T05:00Z", "email"},
           {2 * H, "email", "2025-03-13T03:00Z", "email (channel"},
           {30 * M, "email", "2025-03-13T04:30Z", "email"},
           {5 * M, "email", "2025-03-13T04:55Z", "email"}}},
    {"quiet hours within a day (12:00-14:00)",
     "{" BER "," CALL ",\"offsets\":[\"30m\",\"3h\"],"
     "\"quiet_hours\":{\"start\":\"12:00\",\"end\":\"14:00\"}}",
     "2025-03-12T12:30Z" /* 13:30 */, .now = "2025-03-01T00:00Z", .n = 2,
     .w = {{3 * H, "call", "2025-03-12T09:30Z", "3h before; call"},
           {30 * M, "call", "2025-03-12T10:59Z",
            "moved earlier to 11:59 (quiet hours 12:00-14:00)"}}},
    {"quiet hours off: a 03:00 call stays",
     "{" BER "," CALL ",\"quiet_hours\":null,\"offsets\":[\"2h\"]}",
     "2025-03-13T04:00Z" /* 05:00 */, .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "call", "2025-03-13T02:00Z", "call (channel preference)"}}},
    {"weekend normal: calls on Saturday and Sunday", "{" BER "," CALL "}",
     "2025-03-16T09:00Z" /* Sun 10:00 */, .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "call", "2025-03-15T09:00Z", "call"},
           {2 * H, "call", "2025-03-16T07:00Z", "call"},
           {30 * M, "call", "2025-03-16T08:30Z", "call"},
           {5 * M, "call", "2025-03-16T08:55Z", "call"}}},
    {"weekend email_only: Sunday calls become e-mails, Monday calls stay",
     "{" BER "," CALL ",\"weekend\":\"email_only\"}",
     "2025-03-17T09:00Z" /* Mon 10:00 */, .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-16T09:00Z",
            "email (no calls on weekends)"},
           {2 * H, "call", "2025-03-17T07:00Z", "call"},
           {30 * M, "call", "2025-03-17T08:30Z", "call"},
           {5 * M, "call", "2025-03-17T08:55Z", "call"}}},
    {"weekend none: the Sunday reminder is skipped",
     "{" BER ",\"weekend\":\"none\"}", "2025-03-17T09:00Z",
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "none", NULL, "weekend (no reminders on Saturday"},
           {2 * H, "email", "2025-03-17T07:00Z", "email"},
           {30 * M, "email", "2025-03-17T08:30Z", "email"},
           {5 * M, "email", "2025-03-17T08:55Z", "email"}}},
    {"weekend email_only: quiet move onto Sunday night is refused",
     "{" BER "," CALL ",\"weekend\":\"email_only\",\"offsets\":[\"2h\"]}",
     "2025-03-17T07:00Z" /* Mon 08:00 */, .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "email", "2025-03-17T05:00Z", /* Mon 06:00 */
            "email (a call would fall in quiet hours"}}},
    {"VIP organizer: calls for every reminder",
     "{" BER "," PHONE ",\"vip_organizers\":[\"boss@example.com\"]}",
     "2025-03-12T13:00Z", .organizer = "Boss@Example.COM",
     .att = {"me@other.example"}, .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "call", "2025-03-11T13:00Z",
            "email (channel preference); call (VIP organizer)"},
           {2 * H, "call", "2025-03-12T11:00Z", "VIP"},
           {30 * M, "call", "2025-03-12T12:30Z", "VIP"},
           {5 * M, "call", "2025-03-12T12:55Z", "VIP"}}},
    {"VIP organizer without a phone number",
     "{" BER ",\"vip_organizers\":[\"boss@example.com\"],\"offsets\":[\"2h\"]}",
     "2025-03-12T13:00Z", .organizer = "boss@example.com",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "email", "2025-03-12T11:00Z",
            "VIP organizer, but no phone number: email"}}},
    {"internal meeting: e-mail only",
     "{" BER "," CALL ",\"internal_domains\":[\"example.com\"]}",
     "2025-03-12T13:00Z", .organizer = "ann@example.com",
     .att = {"ann@example.com", "Bob@EXAMPLE.com"}, .now = "2025-03-01T00:00Z",
     .n = 4,
     .w = {{24 * H, "email", "2025-03-11T13:00Z",
            "call (channel preference); email only (internal meeting)"},
           {2 * H, "email", "2025-03-12T11:00Z", "internal"},
           {30 * M, "email", "2025-03-12T12:30Z", "internal"},
           {5 * M, "email", "2025-03-12T12:55Z", "internal"}}},
    {"an external attendee: not internal",
     "{" BER "," CALL ",\"internal_domains\":[\"example.com\"],"
     "\"offsets\":[\"2h\"]}",
     "2025-03-12T13:00Z", .organizer = "ann@example.com",
     .att = {"ann@example.com", "guest@other.example"},
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "call", "2025-03-12T11:00Z",
            "2h before; call (channel preference)"}}},
    {"VIP wins over internal",
     "{" BER "," PHONE ",\"internal_domains\":[\"example.com\"],"
     "\"vip_organizers\":[\"boss@example.com\"],\"offsets\":[\"2h\"]}",
     "2025-03-12T13:00Z", .organizer = "boss@example.com",
     .att = {"me@example.com"}, .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "call", "2025-03-12T11:00Z",
            "internal meeting, but the VIP organizer wins; call (VIP "
            "organizer)"}}},
    {"travel buffer: a physical location",
     "{" BER ",\"travel_buffer\":\"15m\"}", "2025-03-12T13:00Z",
     .location = "Alexanderplatz 1, Berlin", .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-11T12:45Z",
            "24h before; email (channel preference); moved 15m earlier for "
            "travel"},
           {2 * H, "email", "2025-03-12T10:45Z", "moved 15m earlier"},
           {30 * M, "email", "2025-03-12T12:15Z", "moved 15m earlier"},
           {5 * M, "email", "2025-03-12T12:40Z", "moved 15m earlier"}}},
    {"travel buffer: a Zoom link is no location",
     "{" BER ",\"travel_buffer\":\"15m\",\"offsets\":[\"2h\"]}",
     "2025-03-12T13:00Z", .location = "https://us02web.zoom.us/j/123",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "email", "2025-03-12T11:00Z",
            "2h before; email (channel preference)"}}},
    {"travel buffer: Microsoft Teams is no location",
     "{" BER ",\"travel_buffer\":\"1h\",\"offsets\":[\"2h\"]}",
     "2025-03-12T13:00Z", .location = "Microsoft Teams Meeting",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "email", "2025-03-12T11:00Z", "email"}}},
    {"travel buffer pushes a call into quiet hours: moved earlier",
     "{" BER "," CALL ",\"travel_buffer\":\"1h\",\"offsets\":[\"30m\"]}",
     "2025-03-13T06:30Z" /* Thu 07:30 */, .location = "Office, Room 4",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{30 * M, "call", "2025-03-12T20:59Z",
            "moved 1h earlier for travel; moved earlier to 21:59"}}},
    {"all-day event: one reminder the evening before (Berlin)", "{" BER "}",
     "2025-03-13T00:00Z", .all_day = 1, .start_date = "2025-03-13",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{6 * H, "email", "2025-03-12T17:00Z", /* Wed 18:00 */
            "all-day event: the evening before at 18:00; email"}}},
    {"all-day event in the person's zone (New York, custom time)",
     "{" NYC ",\"all_day_time\":\"20:30\",\"channel\":\"both\"," PHONE "}",
     "2025-03-13T00:00Z", .all_day = 1, .start_date = "2025-03-13",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{3 * H + 30 * M, "email", "2025-03-13T00:30Z", /* Wed 20:30 EDT */
            "the evening before at 20:30; email (before escalation"}}},
    {"all-day event, weekend none: the Sunday evening is skipped",
     "{" BER ",\"weekend\":\"none\"}", "2025-03-17T00:00Z", .all_day = 1,
     .start_date = "2025-03-17", .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{6 * H, "none", NULL, "weekend"}}},
    {"all-day event, VIP: a call at 18:00",
     "{" BER "," PHONE ",\"vip_organizers\":[\"boss@example.com\"]}",
     "2025-03-13T00:00Z", .all_day = 1, .start_date = "2025-03-13",
     .organizer = "boss@example.com", .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{6 * H, "call", "2025-03-12T17:00Z", "call (VIP organizer)"}}},
    {"Berlin spring forward: T-24h keeps 09:00 (23h), T-2h absolute",
     "{" BER "}", "2025-03-30T07:00Z" /* Sun 09:00 CEST */,
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "email", "2025-03-29T08:00Z", /* Sat 09:00 CET */
            "same local time across a DST change (23h)"},
           {2 * H, "email", "2025-03-30T05:00Z", "2h before; email"},
           {30 * M, "email", "2025-03-30T06:30Z", "email"},
           {5 * M, "email", "2025-03-30T06:55Z", "email"}}},
    {"Berlin fall back: T-24h keeps 09:00 (25h), T-2h absolute", "{" BER "}",
     "2025-10-26T08:00Z" /* Sun 09:00 CET */, .now = "2025-10-01T00:00Z",
     .n = 4,
     .w = {{24 * H, "email", "2025-10-25T07:00Z", /* Sat 09:00 CEST */
            "same local time across a DST change (25h)"},
           {2 * H, "email", "2025-10-26T06:00Z", "2h before; email"},
           {30 * M, "email", "2025-10-26T07:30Z", "email"},
           {5 * M, "email", "2025-10-26T07:55Z", "email"}}},
    {"New York spring forward: T-24h keeps 09:00 (23h)", "{" NYC "}",
     "2025-03-09T13:00Z" /* Sun 09:00 EDT */, .now = "2025-03-01T00:00Z",
     .n = 4,
     .w = {{24 * H, "email", "2025-03-08T14:00Z", /* Sat 09:00 EST */
            "(23h)"},
           {2 * H, "email", "2025-03-09T11:00Z", "2h before"},
           {30 * M, "email", "2025-03-09T12:30Z", "email"},
           {5 * M, "email", "2025-03-09T12:55Z", "email"}}},
    {"New York fall back: T-24h and T-48h keep 09:00",
     "{" NYC ",\"offsets\":[\"48h\",\"24h\",\"2h\"]}",
     "2025-11-02T14:00Z" /* Sun 09:00 EST */, .now = "2025-10-01T00:00Z",
     .n = 3,
     .w = {{48 * H, "email", "2025-10-31T13:00Z", "(49h)"}, /* Fri 09:00 */
           {24 * H, "email", "2025-11-01T13:00Z", "(25h)"}, /* Sat 09:00 */
           {2 * H, "email", "2025-11-02T12:00Z", "2h before; email"}}},
    {"Berlin: T-24h lands in the spring-forward gap, moves forward",
     "{" BER ",\"offsets\":[\"24h\"]}", "2025-03-31T00:30Z" /* Mon 02:30 */,
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{24 * H, "email", "2025-03-30T01:30Z", /* Sun 03:30 CEST */
            "local 02:30 does not exist (DST), moved forward"}}},
    {"New York: T-24h in the gap, T-48h before it",
     "{" NYC ",\"offsets\":[\"24h\",\"48h\"]}",
     "2025-03-10T06:15Z" /* Mon 02:15 EDT */, .now = "2025-03-01T00:00Z",
     .n = 2,
     .w = {{48 * H, "email", "2025-03-08T07:15Z",
            "48h before; same local time across a DST change (47h); email"},
           {24 * H, "email", "2025-03-09T07:15Z", /* Sun 03:15 EDT */
            "local 02:15 does not exist"}}},
    {"Berlin spring-forward night: a 05:30 CEST call moves to 21:59 CET",
     "{" BER "," CALL ",\"offsets\":[\"2h\"]}",
     "2025-03-30T05:30Z" /* Sun 07:30 CEST */, .now = "2025-03-01T00:00Z",
     .n = 1,
     .w = {{2 * H, "call", "2025-03-29T20:59Z", "moved earlier to 21:59"}}},
    {"New York fall-back night: the second 01:30 is quiet too",
     "{" NYC "," CALL ",\"offsets\":[\"30m\",\"5h30m\"]}",
     "2025-11-02T07:00Z" /* Sun 02:00 EST */, .now = "2025-10-01T00:00Z",
     .n = 2,
     .w = {{5 * H + 30 * M, "call", "2025-11-02T01:30Z", /* Sat 21:30 EDT */
            "5h30m before; call (channel preference)"},
           {30 * M, "call", "2025-11-02T01:59Z", /* Sat 21:59 EDT */
            "moved earlier to 21:59"}}},
    {"New York fall-back night: quiet ends at 07:00 EST",
     "{" NYC "," CALL ",\"offsets\":[\"2h\",\"30m\"]}",
     "2025-11-02T12:30Z" /* Sun 07:30 EST */, .now = "2025-10-01T00:00Z",
     .n = 2,
     .w = {{2 * H, "call", "2025-11-02T01:59Z", "moved earlier to 21:59"},
           {30 * M, "call", "2025-11-02T12:00Z", "30m before; call"}}},
    {"past offsets are skipped", "{" BER "}", "2025-03-12T13:00Z",
     .now = "2025-03-12T12:00Z", .n = 4,
     .w = {{24 * H, "none", NULL,
            "24h before; email (channel preference); "
            "past"},
           {2 * H, "none", NULL, "past"},
           {30 * M, "email", "2025-03-12T12:30Z", "email"},
           {5 * M, "email", "2025-03-12T12:55Z", "email"}}},
    {"exactly now is past", "{" BER ",\"offsets\":[\"30m\"]}",
     "2025-03-12T13:00Z", .now = "2025-03-12T12:30Z", .n = 1,
     .w = {{30 * M, "none", NULL, "past"}}},
    {"cancelled event: everything skipped", "{" BER "," CALL "}",
     "2025-03-12T13:00Z", .status = "cancelled", .now = "2025-03-01T00:00Z",
     .n = 4,
     .w = {{24 * H, "none", NULL, "event cancelled"},
           {2 * H, "none", NULL, "event cancelled"},
           {30 * M, "none", NULL, "event cancelled"},
           {5 * M, "none", NULL, "event cancelled"}}},
    {"declined invitation: everything skipped", "{" BER "}",
     "2025-03-12T13:00Z", .status = "confirmed", .response = "declined",
     .now = "2025-03-01T00:00Z", .n = 4,
     .w = {{24 * H, "none", NULL, "invitation declined"},
           {2 * H, "none", NULL, "invitation declined"},
           {30 * M, "none", NULL, "invitation declined"},
           {5 * M, "none", NULL, "invitation declined"}}},
    {"tentative answer: reminded as usual", "{" BER ",\"offsets\":[\"2h\"]}",
     "2025-03-12T13:00Z", .status = "tentative", .response = "tentative",
     .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{2 * H, "email", "2025-03-12T11:00Z", "2h before; email"}}},
    {"Kolkata (+05:30): a 05:00 IST call moves to 21:59",
     "{\"timezone\":\"Asia/Kolkata\"," CALL ",\"offsets\":[\"1h\"]}",
     "2025-03-12T00:30Z" /* 06:00 IST */, .now = "2025-03-01T00:00Z", .n = 1,
     .w = {{1 * H, "call", "2025-03-11T16:29Z", "moved earlier to 21:59"}}},
    {"Lord Howe (30-min DST): T-24h keeps the wall time (23h30m)",
     "{\"timezone\":\"Australia/Lord_Howe\",\"offsets\":[\"24h\"]}",
     "2025-10-04T23:00Z" /* Sun 10:00 +11 */, .now = "2025-10-01T00:00Z",
     .n = 1,
     .w = {{24 * H, "email", "2025-10-03T23:30Z", /* Sat 10:00 +10:30 */
            "24h before; same local time across a DST change (23h30m)"}}},
};

/* "YYYY-MM-DDTHH:MMZ" -> ms */
static int64_t utc(const char *s) {
  struct tm tm = {0};
  assert_non_null(strptime(s, "%Y-%m-%dT%H:%MZ", &tm));
  return (int64_t)timegm(&tm) * 1000;
}

static void fmt_utc(int64_t ms, char *b, size_t n) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(b, n, "%Y-%m-%dT%H:%MZ", &tm);
}

static void dump_plan(const plan_t *p) {
  for (size_t i = 0; i < p->n; i++) {
    char b[32];
    fmt_utc(p->items[i].scheduled_ms, b, sizeof b);
    print_message("    %6lld %-5s %s %s | %s\n",
                  (long long)p->items[i].offset_s,
                  channel_name(p->items[i].channel),
                  p->items[i].skipped ? "(skipped)        " : b,
                  p->items[i].skipped ? "" : "", p->items[i].reason);
  }
}

static void parse_prefs(const char *json, prefs_t *p) {
  prefs_errors_t e = {0};
  if (prefs_parse(json, "pat@example.com", p, &e) != 0) {
    for (size_t i = 0; i < e.n; i++) print_message("%s\n", e.msgs[i]);
    fail_msg("bad preferences in the table: %s", json);
  }
}

static void make_event(const pcase_t *c, plan_event_t *ev) {
  memset(ev, 0, sizeof *ev);
  ev->id = 1;
  ev->start_ms = utc(c->start);
  ev->end_ms = ev->start_ms + (c->all_day ? D * 1000LL : 3600000);
  ev->all_day = c->all_day;
  ev->start_date = c->start_date;
  ev->tz = "UTC";
  ev->organizer = c->organizer ? c->organizer : "";
  size_t n = 0;
  while (n < 4 && c->att[n]) n++;
  ev->attendee_emails = n ? c->att : NULL;
  ev->nattendees = n;
  ev->location = c->location ? c->location : "";
  ev->status = c->status ? c->status : "confirmed";
  ev->response = c->response ? c->response : "accepted";
}

static int check_case(const pcase_t *c) {
  prefs_t p;
  parse_prefs(c->prefs, &p);
  plan_event_t ev;
  make_event(c, &ev);
  plan_input_t in = {&p, &ev, utc(c->now)};
  plan_t plan;
  assert_int_equal(planner_plan(NULL, &in, &plan), 0);
  int ok = plan.n == c->n;
  for (size_t i = 0; ok && i < c->n; i++) {
    const want_t *w = &c->w[i];
    const plan_item_t *it = &plan.items[i];
    ok = it->offset_s == w->off &&
         strcmp(channel_name(it->channel), w->ch) == 0 &&
         strstr(it->reason, w->why) != NULL;
    if (w->at)
      ok = ok && !it->skipped && it->scheduled_ms == utc(w->at);
    else
      ok = ok && it->skipped && it->scheduled_ms == 0 &&
           it->channel == CHANNEL_NONE;
  }
  if (!ok) {
    print_message("FAIL: %s\n  got:\n", c->name);
    dump_plan(&plan);
    print_message("  wanted:\n");
    for (size_t i = 0; i < c->n; i++)
      print_message("    %6lld %-5s %s | ...%s...\n", (long long)c->w[i].off,
                    c->w[i].ch, c->w[i].at ? c->w[i].at : "(skipped)",
                    c->w[i].why);
  }
  prefs_free(&p);
  return ok;
}

static void test_table(void **s) {
  (void)s;
  size_t n = sizeof cases / sizeof cases[0];
  assert_true(n >= 30);
  int failed = 0;
  for (size_t i = 0; i < n; i++) failed += !check_case(&cases[i]);
  if (failed) fail_msg("%d of %zu policy cases failed", failed, n);
}

/* The same person, the event moved by a day and two hours: every time
 * follows; the item keys (offset, channel) stay. */
static void test_event_moved(void **s) {
  (void)s;
  prefs_t p;
  parse_prefs("{" BER "," CALL "}", &p);
  pcase_t c = {.start = "2025-03-12T13:00Z"};
  plan_event_t ev;
  make_event(&c, &ev);
  plan_input_t in = {&p, &ev, utc("2025-03-01T00:00Z")};
  plan_t a, b;
  planner_plan(NULL, &in, &a);
  ev.start_ms = utc("2025-03-13T15:00Z");
  planner_plan(NULL, &in, &b);
  assert_int_equal(a.n, 4);
  assert_int_equal(b.n, 4);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(a.items[i].offset_s, b.items[i].offset_s);
    assert_int_equal(a.items[i].channel, b.items[i].channel);
    assert_int_equal(b.items[i].scheduled_ms - a.items[i].scheduled_ms,
                     26 * 3600000LL);
  }
  assert_int_equal(b.items[1].scheduled_ms, utc("2025-03-13T13:00Z"));
  /* moved into the past: all skipped */
  in.now_ms = utc("2025-03-14T00:00Z");
  planner_plan(NULL, &in, &b);
  for (size_t i = 0; i < b.n; i++) assert_true(b.items[i].skipped);
  /* then cancelled */
  in.now_ms = utc("2025-03-01T00:00Z");
  ev.status = "cancelled";
  planner_plan(NULL, &in, &b);
  assert_int_equal(b.n, 4);
  for (size_t i = 0; i < b.n; i++) {
    assert_true(b.items[i].skipped);
    assert_string_equal(b.items[i].reason, "event cancelled");
  }
  prefs_free(&p);
}

/* The same event, changed preferences: a different plan. */
static void test_prefs_changed(void **s) {
  (void)s;
  pcase_t c = {.start = "2025-03-12T13:00Z"};
  plan_event_t ev;
  make_event(&c, &ev);
  prefs_t p1, p2;
  parse_prefs("{" BER "}", &p1);
  parse_prefs("{" BER "," CALL ",\"offsets\":[\"1h\",\"10m\"],"
              "\"travel_buffer\":\"5m\"}",
              &p2);
  ev.location = "Main Street 5";
  plan_input_t in = {&p1, &ev, utc("2025-03-01T00:00Z")};
  plan_t a, b;
  planner_plan(NULL, &in, &a);
  in.prefs = &p2;
  planner_plan(NULL, &in, &b);
  assert_int_equal(a.n, 4);
  assert_int_equal(a.items[0].channel, CHANNEL_EMAIL);
  assert_int_equal(b.n, 2);
  assert_int_equal(b.items[0].offset_s, 3600);
  assert_int_equal(b.items[0].channel, CHANNEL_CALL);
  assert_int_equal(b.items[0].scheduled_ms, utc("2025-03-12T11:55Z"));
  assert_int_equal(b.items[1].scheduled_ms, utc("2025-03-12T12:45Z"));
  /* and the time zone: 24h before 13:00Z is the same instant, but the
   * all-day reminder follows the zone */
  prefs_free(&p2);
  parse_prefs("{" NYC "}", &p2);
  ev.all_day = 1;
  ev.start_date = "2025-03-13";
  in.prefs = &p1;
  planner_plan(NULL, &in, &a);
  in.prefs = &p2;
  planner_plan(NULL, &in, &b);
  assert_int_equal(a.items[0].scheduled_ms, utc("2025-03-12T17:00Z"));
  assert_int_equal(b.items[0].scheduled_ms, utc("2025-03-12T22:00Z"));
  prefs_free(&p1);
  prefs_free(&p2);
}

/* An advisor (a later issue's LLM) proposes things; the guardrails undo
 * what breaks a hard rule. */
static int advisor_apply(const plan_input_t *in, plan_t *plan, void *ud) {
  (void)ud;
  const tz_t *z = tz_get(in->prefs->timezone);
  /* a call at 03:00 local the night before */
  plan->items[0].skipped = 0;
  plan->items[0].channel = CHANNEL_CALL;
  plan->items[0].scheduled_ms = tz_from_local(z, 2025, 3, 12, 3, 0, 0, NULL);
  strcat(plan->items[0].reason, "; advisor: call at 03:00");
  /* after the event start */
  plan->items[1].scheduled_ms = in->ev->start_ms + 60000;
  /* an invalid channel */
  plan->items[2].channel = (channel_t)7;
  /* a duplicate of item 3, and an extra item in the past */
  plan->items[4] = plan->items[3];
  plan->items[5] = plan->items[3];
  plan->items[5].offset_s = 7 * 86400;
  plan->items[5].scheduled_ms = in->now_ms - 1;
  plan->n = 6;
  return 0;
}

static void test_advisor_guardrails(void **s) {
  (void)s;
  prefs_t p;
  parse_prefs("{" BER "," PHONE "}", &p);
  pcase_t c = {.start = "2025-03-12T13:00Z"};
  plan_event_t ev;
  make_event(&c, &ev);
  policy_step_t adv = {"advisor", advisor_apply, NULL};
  const policy_chain_t *def = policy_default_chain();
  policy_step_t storage[16];
  policy_chain_t chain;
  assert_int_equal(policy_chain_with(&adv, 1, storage, def->nsteps, &chain),
                   -1); /* too small */
  assert_int_equal(policy_chain_with(&adv, 1, storage, 16, &chain), 0);
  assert_int_equal(chain.nsteps, def->nsteps + 1);
  assert_string_equal(chain.steps[chain.nsteps - 1].name, "guardrails");
  assert_string_equal(chain.steps[chain.nsteps - 2].name, "advisor");
  assert_string_equal(chain.steps[0].name, "status");

  plan_input_t in = {&p, &ev, utc("2025-03-01T00:00Z")};
  plan_t plan;
  planner_plan(&chain, &in, &plan);
  dump_plan(&plan);
  assert_int_equal(plan.n, 5); /* the duplicate is gone */
  /* 03:00 is quiet: moved to 21:59 the evening before */
  assert_int_equal(plan.items[0].channel, CHANNEL_CALL);
  assert_int_equal(plan.items[0].scheduled_ms, utc("2025-03-11T20:59Z"));
  assert_non_null(strstr(plan.items[0].reason,
                         "advisor: call at 03:00; guardrail: moved earlier "
                         "to 21:59 (quiet hours 22:00-07:00)"));
  assert_true(plan.items[1].skipped);
  assert_non_null(strstr(plan.items[1].reason,
                         "guardrail: not at or after the event start"));
  assert_int_equal(plan.items[2].channel, CHANNEL_EMAIL);
  assert_non_null(strstr(plan.items[2].reason, "guardrail: email (invalid"));
  assert_false(plan.items[3].skipped);
  assert_int_equal(plan.items[4].offset_s, 7 * 86400);
  assert_true(plan.items[4].skipped);
  assert_non_null(strstr(plan.items[4].reason, "guardrail: past"));

  /* the same advisor late in the evening: moving earlier would be past,
   * so the 03:00 call becomes an e-mail */
  in.now_ms = utc("2025-03-11T21:30Z");
  planner_plan(&chain, &in, &plan);
  assert_int_equal(plan.items[0].channel, CHANNEL_EMAIL);
  assert_int_equal(plan.items[0].scheduled_ms, utc("2025-03-12T02:00Z"));
  assert_non_null(strstr(plan.items[0].reason, "guardrail: email (a call "));

  /* without a phone the call is refused outright */
  p.phone[0] = '\0';
  in.now_ms = utc("2025-03-01T00:00Z");
  planner_plan(&chain, &in, &plan);
  assert_int_equal(plan.items[0].channel, CHANNEL_EMAIL);
  assert_non_null(strstr(plan.items[0].reason,
                         "guardrail: email (no phone number for a call)"));
  for (size_t i = 0; i < plan.n; i++)
    assert_int_not_equal(plan.items[i].channel, CHANNEL_CALL);
  /* no extra steps: the default chain */
  assert_int_equal(policy_chain_with(NULL, 0, storage, 16, &chain), 0);
  assert_int_equal(chain.nsteps, def->nsteps);
  prefs_free(&p);
}

static void test_bad_input(void **s) {
  (void)s;
  plan_t plan;
  assert_int_equal(planner_plan(NULL, NULL, &plan), 0);
  assert_int_equal(plan.n, 0);
  prefs_t p;
  prefs_defaults(&p);
  plan_event_t ev = {0};
  ev.start_ms = utc("2025-03-12T13:00Z");
  ev.all_day = 1;
  ev.start_date = "not a date"; /* falls back to start_ms in UTC */
  plan_input_t in = {&p, &ev, 0};
  planner_plan(NULL, &in, &plan);
  assert_int_equal(plan.n, 1);
  assert_int_equal(plan.items[0].scheduled_ms, utc("2025-03-11T18:00Z"));
  assert_string_equal(channel_name(CHANNEL_NONE), "none");
  assert_string_equal(channel_name((channel_t)9), "none");
}

/* Speed: the bench plans a million events; this only reports (tests
 * never assert timings). */
static double ns_per_plan(const char *prefs_json, const char *location) {
  prefs_t p;
  parse_prefs(prefs_json, &p);
  pcase_t c = {.start = "2025-03-12T13:00Z"};
  plan_event_t ev;
  make_event(&c, &ev);
  ev.location = location;
  plan_input_t in = {&p, &ev, utc("2025-03-01T00:00Z")};
  plan_t plan;
  const int N = 200000;
  struct timespec t0, t1;
  int64_t sum = 0, base = utc("2025-03-12T13:00Z");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < N; i++) {
    ev.start_ms = base + (int64_t)(i % 5000) * 3600000;
    planner_plan(NULL, &in, &plan);
    sum += plan.items[0].scheduled_ms;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(sum != 0);
  prefs_free(&p);
  return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
          (double)(t1.tv_nsec - t0.tv_nsec)) /
         N;
}

static void test_speed(void **s) {
  (void)s;
  print_message("planner: %.0f ns per event (defaults, Berlin)\n",
                ns_per_plan("{" BER "}", ""));
  print_message("planner: %.0f ns per event (both, travel, weekend "
                "email_only, quiet moves)\n",
                ns_per_plan("{" BER ",\"channel\":\"both\"," PHONE
                            ",\"travel_buffer\":\"10m\",\"weekend\":"
                            "\"email_only\"}",
                            "Office"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_event_moved),
      cmocka_unit_test(test_prefs_changed),
      cmocka_unit_test(test_advisor_guardrails),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_speed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
