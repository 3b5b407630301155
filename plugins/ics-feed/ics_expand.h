/*
 * ics_expand.h: an iCalendar text in, the normalized event instances that
 * fall in a time window out (libical; no host, no libuv: runs on a pool
 * thread, in unit tests and in the fuzzer).
 *
 * Recurring series (RRULE, RDATE, EXDATE) are expanded in the event's own
 * time zone (a VTIMEZONE of the file, or an IANA TZID), so a weekly 09:00
 * meeting stays at 09:00 local time across daylight-saving changes.
 * Instances overridden by a VEVENT with the same UID and a RECURRENCE-ID
 * take the override's content; instances get external_id
 * "<UID>/<instance start as UTC>" ("20261122T080000Z", or "20261122" for
 * all-day series); single events keep their UID. Floating times and
 * all-day dates are read in the default zone (the calendar's
 * X-WR-TIMEZONE when libical knows it, else opts.default_tz).
 *
 * Errors: a text that is not one complete VCALENDAR is refused as a whole
 * (nothing is returned); a VEVENT without UID or DTSTART, or with a time
 * libical cannot read, is skipped and counted in `skipped`.
 *
 * Threading: any thread; ics_expand_init() once first (from one thread).
 */
#ifndef ICS_EXPAND_H
#define ICS_EXPAND_H

#include <stddef.h>
#include <stdint.h>

typedef struct ics_attendee {
  char *email;        /* owned */
  char *name;         /* owned; may be NULL */
  const char *status; /* static: "needsAction", "accepted"... */
  int self;
} ics_attendee_t;

/** One event instance; every string owned by the result. */
typedef struct ics_event {
  char *external_id;
  char *etag; /* a hash of the normalized content (changes with it) */
  char *uid;
  char *summary, *description, *location; /* never NULL */
  int64_t start_ms, end_ms;               /* UTC */
  char *tz;                               /* IANA name, or "UTC" */
  int all_day;
  char start_date[11]; /* all-day: "YYYY-MM-DD"; else "" */
  char *organizer;     /* e-mail or NULL */
  ics_attendee_t *attendees;
  size_t nattendees;
  const char *status; /* static: "confirmed", "tentative", "cancelled" */
  int sequence;
} ics_event_t;

typedef struct ics_result {
  ics_event_t *events;
  size_t n, cap;
  size_t skipped;   /* malformed VEVENTs left out */
  size_t truncated; /* instances dropped by the limits below */
  char *calname;    /* X-WR-CALNAME or NULL */
} ics_result_t;

typedef struct ics_opts {
  int64_t from_ms, to_ms; /* window: instances ending after from and
                             starting before to */
  const char *default_tz; /* floating times; NULL: "UTC" */
  const char *self_email; /* marks the attendee that is the user; NULL */
  size_t max_per_series;  /* 0: 2000 */
  size_t max_events;      /* 0: 20000 */
} ics_opts_t;

/** Once per process, before the first ics_expand (not thread-safe). */
void ics_expand_init(void);

/** Parses text (len bytes, need not be NUL-terminated) into out (zeroed
 * first). Returns 0, or -1 with a message in err (nothing in out). */
int ics_expand(const char *text, size_t len, const ics_opts_t *opts,
               ics_result_t *out, char *err, size_t errlen);

void ics_result_free(ics_result_t *r);

#endif
