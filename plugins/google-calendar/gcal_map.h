/*
 * gcal_map.h: Google Calendar API v3 JSON -> assist_cal_event_t, without
 * the host (pure functions: unit-tested on their own, and run on the
 * thread pool by the plugin).
 *
 * An events.list page ({"items":[...],"nextPageToken","nextSyncToken",
 * "timeZone"}) becomes an array of normalized events:
 *   - timed events: start/end dateTime (RFC 3339 with offset) -> UTC ms,
 *     tz = start.timeZone, else the calendar's zone;
 *   - all-day events: start/end date -> all_day 1, start_date
 *     "YYYY-MM-DD", start/end = local midnight in the calendar's zone
 *     (the page's timeZone, else the event's start.timeZone, else the
 *     caller's default) via libical's zone data;
 *   - status confirmed/tentative/cancelled (cancelled items of an
 *     incremental sync carry only id and status: times stay 0);
 *   - attendees[] email/displayName/responseStatus/self, organizer.email,
 *     iCalUID, etag, sequence, summary/description/location.
 * Items that are neither cancelled nor carry a usable start and end are
 * skipped and counted (a malformed item never fails the page).
 */
#ifndef GCAL_MAP_H
#define GCAL_MAP_H

#include <assist/plugin.h>

#include <stddef.h>
#include <stdint.h>

typedef struct gcal_page {
  void *root;             /* json_object *: owns every string below */
  assist_cal_event_t *ev; /* n events (user_id, user_email, source 0) */
  size_t n;
  assist_cal_attendee_t *att;  /* storage for every event's attendees */
  const char *next_page_token; /* NULL on the last page */
  const char *next_sync_token; /* only on the last page; NULL if none */
  const char *time_zone;       /* the calendar's zone (page), or NULL */
  size_t skipped;              /* items without usable times */
  char **dates;                /* owned start_date strings */
  size_t ndates;
} gcal_page_t;

/**
 * Parses one events.list page (body: borrowed, len bytes). default_tz
 * (borrowed; NULL: "UTC") is used when neither the page nor the event
 * names a zone. Returns ASSIST_OK with *out filled (release it with
 * gcal_page_free), ASSIST_EINVAL (not JSON, no items array; err says
 * what) or ASSIST_ENOMEM.
 */
int gcal_page_parse(const char *body, size_t len, const char *default_tz,
                    gcal_page_t *out, char *err, size_t errlen);
void gcal_page_free(gcal_page_t *p);

/** RFC 3339 date-time ("2025-01-10T09:00:00.000Z", "...+02:00") -> UTC
 * ms. Returns 0 and *ms, or -1 when malformed (an offset is required). */
int gcal_rfc3339_ms(const char *s, int64_t *ms);

/** "YYYY-MM-DD" at 00:00 local time in IANA zone tz -> UTC ms. Returns 0,
 * or -1 for a malformed date or an unknown zone. Thread-safe. */
int gcal_local_midnight_ms(const char *date, const char *tz, int64_t *ms);

/** RFC 3339 UTC text ("2025-01-10T09:00:00Z") for ms; buf >= 32 bytes. */
void gcal_format_utc(int64_t ms, char *buf, size_t len);

/**
 * The RSVP edit: from an events.get body (borrowed), the PATCH body
 * {"attendees":[...]} with every attendee kept as it was and the one for
 * this person (self:true, else email equal, case-insensitively, to one of
 * emails[0..nemails-1]) answering response. *patch: malloc'ed JSON text,
 * *etag (may be NULL): malloc'ed copy of the event's etag or NULL.
 * Returns ASSIST_OK, ASSIST_ENOENT (the person is not an attendee),
 * ASSIST_EINVAL (not an event) or ASSIST_ENOMEM.
 */
int gcal_rsvp_patch(const char *event_json, const char *const *emails,
                    size_t nemails, const char *response, char **patch,
                    char **etag);

#endif
