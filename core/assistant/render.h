/*
 * render.h: the content of one reminder: subject, text and HTML bodies,
 * and the iCalendar REQUEST (RFC 5545 / RFC 5546 iTIP, ../shared/
 * CONNECTORS.md §9) that lets mail clients show the event with RSVP
 * buttons. For calls the text is the script read to the person.
 *
 * Pure functions: no I/O, no loop; times are shown in the person's zone
 * through tz.h (unknown zones fall back to UTC) and in the person's locale
 * ("en"; other locales fall back to English). Everything coming from a
 * calendar is untrusted: HTML is escaped, iCalendar TEXT values are
 * escaped, control characters never reach a header, a property or a URI.
 *
 * Threading: any thread.
 */
#ifndef ASSIST_RENDER_H
#define ASSIST_RENDER_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/** The event as the renderer sees it (strings borrowed; NULL means ""). */
typedef struct render_event {
  int64_t id;
  const char *external_id; /* for RECURRENCE-ID of a recurring instance */
  const char *ical_uid;    /* "" : "<id>@<host of public_url>" */
  const char *summary, *description, *location;
  const char *organizer; /* e-mail or "" */
  const char *status;    /* "confirmed", "tentative" ("cancelled": none) */
  int64_t start_ms, end_ms;
  int all_day;
  const char *start_date; /* all-day: "YYYY-MM-DD" */
  int64_t sequence;
} render_event_t;

/** Everything one message needs (strings borrowed; NULL means ""). */
typedef struct render_input {
  const render_event_t *ev;
  int64_t delivery_id;
  const char *channel; /* "email" or "call" */
  const char *to;      /* recipient e-mail (or phone for calls) */
  const char *to_name;
  const char *zone;   /* the person's IANA zone; unknown: UTC */
  const char *locale; /* "en"; others fall back to "en" */
  const char *public_url;
  const char *from_email, *from_name;
  /* RSVP links (NULL or "": that answer is not offered). */
  const char *rsvp_accept, *rsvp_decline, *rsvp_tentative;
  int64_t now_ms; /* DTSTAMP */
} render_input_t;

/** The rendered message; every field malloc'd and owned (free with
 * render_out_free). For calls html and ics are "". */
typedef struct render_out {
  char *subject; /* one line, no control characters */
  char *text;
  char *html;
  char *ics;        /* CRLF lines folded at 75 octets, or "" */
  char *ics_method; /* "REQUEST" for e-mail, "" for calls */
} render_out_t;

/** Renders in into *out (fully written). Returns 0, or -EINVAL for a
 * missing event or channel (out then holds empty strings). */
int render_message(const render_input_t *in, render_out_t *out);
void render_out_free(render_out_t *out);

/* ---- building blocks (exported for the unit tests) ---- */

/** Appends s as an iCalendar TEXT value: \ ; , escaped, newlines as \n,
 * other control characters dropped. */
void render_ics_text(buf_t *b, const char *s);
/** Appends one content line (n bytes, no line break in it) folded at 75
 * octets (continuation lines start with a space; a UTF-8 sequence is never
 * split), then CRLF. */
void render_ics_fold(buf_t *b, const char *line, size_t n);
/** Appends s escaped for HTML text and attribute values (& < > " '),
 * control characters but newline and tab dropped. */
void render_html(buf_t *b, const char *s);

#endif
