/* render.c: subject, bodies and the iCalendar REQUEST of one reminder
 * (render.h). */
#include "assistant/render.h"

#include "common/tz.h"
#include "common/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- words per locale ---------------- */

typedef struct words {
  const char *code;
  const char *wday[7], *wday_short[7], *month[12], *month_short[12];
  const char *reminder, *when, *where, *organizer, *all_day, *until, *to,
      *attend, *yes, *no, *maybe, *no_title, *footer, *hello, *call_intro,
      *call_location, *call_end;
} words_t;

static const words_t words_en = {
    "en",
    {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
     "Saturday"},
    {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
    {"January", "February", "March", "April", "May", "June", "July", "August",
     "September", "October", "November", "December"},
    {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
     "Nov", "Dec"},
    "Reminder",
    "When",
    "Where",
    "Organizer",
    "all day",
    "until",
    "to",
    "Will you attend?",
    "Yes",
    "No",
    "Maybe",
    "(no title)",
    "Sent by assistd",
    "Hello",
    "This is a reminder of",
    "Location:",
    "Goodbye."};

static const words_t *words_for(const char *locale) {
  (void)locale; /* only English so far; every other locale falls back */
  return &words_en;
}

/* ---------------- small helpers ---------------- */

static const char *nz(const char *s) {
  return s ? s : "";
}

/* The date days after 1970-01-01, with an int year (tz.h). */
static void civil_from_days(int64_t days, int *y, int *m, int *d) {
  int64_t year;
  tz_civil_from_days(days, &year, m, d);
  *y = (int)year;
}

static int wday_of_days(int64_t days) {
  int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
  return (int)(w < 0 ? w + 7 : w);
}

/* UTC "YYYYMMDDTHHMMSSZ". */
static void fmt_utc(char out[17], int64_t ms) {
  int64_t secs = tz_floor_div(ms, 1000);
  int64_t days = tz_floor_div(secs, 86400);
  int64_t rem = secs - days * 86400;
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, 17, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)y % 10000u,
           (unsigned)m % 100u, (unsigned)d % 100u, (unsigned)(rem / 3600) % 24u,
           (unsigned)(rem / 60 % 60) % 60u, (unsigned)(rem % 60) % 60u);
}

/* "YYYY-MM-DD" -> days; -1 when malformed. */
static int parse_date(const char *s, int64_t *days) {
  int y, m, d;
  char tail;
  if (!s || strlen(s) != 10 ||
      sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
      d < 1 || d > 31)
    return -1;
  *days = tz_days_from_civil(y, m, d);
  return 0;
}

typedef struct local {
  int year, month, day, hour, minute, wday;
} local_t;

static void to_local(const tz_t *z, int64_t ms, local_t *out) {
  if (z) {
    tz_local_t l;
    tz_to_local(z, ms, &l);
    *out = (local_t){l.year, l.month, l.day, l.hour, l.minute, l.wday};
    return;
  }
  int64_t secs = tz_floor_div(ms, 1000), days = tz_floor_div(secs, 86400);
  int64_t rem = secs - days * 86400;
  civil_from_days(days, &out->year, &out->month, &out->day);
  out->hour = (int)(rem / 3600);
  out->minute = (int)(rem / 60 % 60);
  out->wday = wday_of_days(days);
}

/* Appends s with every control character (and DEL) replaced by a space. */
static void put_line(buf_t *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++) {
    char c = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
    buf_append(b, &c, 1);
  }
}

/* Appends multi-line text: CRLF and CR become LF, other controls but TAB
 * are dropped. */
static void put_text(buf_t *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++) {
    if (*p == '\r') {
      if (p[1] != '\n') buf_append(b, "\n", 1);
      continue;
    }
    if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) continue;
    buf_append(b, p, 1);
  }
}

/* Cuts b back to at most max bytes at a UTF-8 boundary. */
static void cut_utf8(buf_t *b, size_t max) {
  if (b->len <= max) return;
  size_t n = max;
  while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80) n--;
  b->len = n;
  b->data[n] = '\0';
}

/* Host of an URL ("https://user@host:8080/x" -> "host"), or "localhost". */
static void url_host(const char *url, char *out, size_t cap) {
  const char *p = strstr(nz(url), "://");
  p = p ? p + 3 : nz(url);
  const char *end = p + strcspn(p, "/?#");
  const char *at = memchr(p, '@', (size_t)(end - p));
  if (at) p = at + 1;
  const char *colon = p;
  if (*p == '[') { /* IPv6 literal: keep the brackets' content */
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (rb) {
      p++;
      end = rb;
    }
  } else {
    colon = memchr(p, ':', (size_t)(end - p));
    if (colon) end = colon;
  }
  size_t n = (size_t)(end - p), o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c > 0x20 && c < 0x7f && c != ';' && c != ',' && c != '\\' && c != '"')
      out[o++] = (char)c;
  }
  out[o] = '\0';
  if (!o) snprintf(out, cap, "localhost");
}

/* ---------------- the event's time, in words ---------------- */

typedef struct when {
  char date[96];   /* "Tuesday, 3 March 2026" */
  char short_[48]; /* "Tue 3 Mar 15:00" or "Tue 3 Mar" */
  char full[256];  /* date, times, zone */
  char time[8];    /* "15:00" or "" */
} when_t;

static void describe_when(const render_input_t *in, const words_t *w,
                          when_t *out) {
  const render_event_t *ev = in->ev;
  memset(out, 0, sizeof *out);
  if (ev->all_day) {
    int64_t days;
    if (parse_date(ev->start_date, &days) < 0)
      days = tz_floor_div(ev->start_ms, 86400000);
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = wday_of_days(days);
    snprintf(out->date, sizeof out->date, "%s, %d %s %d", w->wday[wd], d,
             w->month[m - 1], y);
    snprintf(out->short_, sizeof out->short_, "%s %d %s (%s)",
             w->wday_short[wd], d, w->month_short[m - 1], w->all_day);
    int64_t ndays = (ev->end_ms - ev->start_ms + 43200000) / 86400000;
    if (ndays > 1) {
      int64_t last = days + ndays - 1;
      int y2, m2, d2;
      civil_from_days(last, &y2, &m2, &d2);
      snprintf(out->full, sizeof out->full, "%s %s %s, %d %s %d (%s)",
               out->date, w->until, w->wday[wday_of_days(last)], d2,
               w->month[m2 - 1], y2, w->all_day);
    } else {
      snprintf(out->full, sizeof out->full, "%s (%s)", out->date, w->all_day);
    }
    return;
  }
  const char *zone = nz(in->zone);
  const tz_t *z = *zone ? tz_get(zone) : NULL;
  if (!z) {
    zone = "UTC";
    z = tz_get("UTC");
  }
  local_t s, e;
  to_local(z, ev->start_ms, &s);
  to_local(z, ev->end_ms > ev->start_ms ? ev->end_ms : ev->start_ms, &e);
  snprintf(out->date, sizeof out->date, "%s, %d %s %d", w->wday[s.wday], s.day,
           w->month[s.month - 1], s.year);
  snprintf(out->time, sizeof out->time, "%02d:%02d", s.hour % 100,
           s.minute % 100);
  snprintf(out->short_, sizeof out->short_, "%s %d %s %s",
           w->wday_short[s.wday], s.day, w->month_short[s.month - 1],
           out->time);
  if (ev->end_ms <= ev->start_ms)
    snprintf(out->full, sizeof out->full, "%s, %s (%s)", out->date, out->time,
             zone);
  else if (s.year == e.year && s.month == e.month && s.day == e.day)
    snprintf(out->full, sizeof out->full, "%s, %s %s %02d:%02d (%s)", out->date,
             out->time, w->to, e.hour % 100, e.minute % 100, zone);
  else
    snprintf(out->full, sizeof out->full,
             "%s, %s %s %s, %d %s %d, %02d:%02d (%s)", out->date, out->time,
             w->to, w->wday[e.wday], e.day, w->month[e.month - 1], e.year,
             e.hour % 100, e.minute % 100, zone);
}

/* ---------------- HTML ---------------- */

void render_html(buf_t *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++) {
    switch (*p) {
    case '&':
      buf_puts(b, "&amp;");
      break;
    case '<':
      buf_puts(b, "&lt;");
      break;
    case '>':
      buf_puts(b, "&gt;");
      break;
    case '"':
      buf_puts(b, "&quot;");
      break;
    case '\'':
      buf_puts(b, "&#39;");
      break;
    default:
      if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) break;
      buf_append(b, p, 1);
    }
  }
}

/* Escaped multi-line text with <br> for line breaks. */
static void html_lines(buf_t *b, const char *s) {
  buf_t t = {0};
  put_text(&t, s);
  const char *p = t.data ? t.data : "";
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char *line = xstrndup(p, n);
    render_html(b, line);
    free(line);
    if (!nl) break;
    buf_puts(b, "<br>\n");
    p = nl + 1;
  }
  buf_free(&t);
}

/* ---------------- iCalendar ---------------- */

void render_ics_text(buf_t *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++) {
    switch (*p) {
    case '\\':
      buf_puts(b, "\\\\");
      break;
    case ';':
      buf_puts(b, "\\;");
      break;
    case ',':
      buf_puts(b, "\\,");
      break;
    case '\n':
      buf_puts(b, "\\n");
      break;
    case '\r':
      if (p[1] != '\n') buf_puts(b, "\\n");
      break;
    default:
      if ((*p < 0x20 && *p != '\t') || *p == 0x7f) break;
      buf_append(b, p, 1);
    }
  }
}

void render_ics_fold(buf_t *b, const char *line, size_t n) {
  size_t pos = 0, limit = 75; /* octets, CRLF not counted */
  while (n - pos > limit) {
    size_t cut = pos + limit;
    /* Never start the next line inside a UTF-8 sequence. */
    while (cut > pos && ((unsigned char)line[cut] & 0xC0) == 0x80) cut--;
    if (cut == pos) cut = pos + limit; /* not UTF-8 at all: cut anyway */
    buf_append(b, line + pos, cut - pos);
    buf_puts(b, "\r\n ");
    pos = cut;
    limit = 74; /* the leading space counts */
  }
  buf_append(b, line + pos, n - pos);
  buf_puts(b, "\r\n");
}

/* A quoted parameter value: DQUOTE and control characters dropped. */
static void ics_param(buf_t *b, const char *s) {
  buf_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++)
    if (*p >= 0x20 && *p != 0x7f && *p != '"') buf_append(b, p, 1);
  buf_puts(b, "\"");
}

/* A mailto: URI: blanks, quotes and control characters dropped. */
static void ics_mailto(buf_t *b, const char *email) {
  buf_puts(b, "mailto:");
  for (const unsigned char *p = (const unsigned char *)nz(email); *p; p++)
    if (*p > 0x20 && *p != 0x7f && *p != '"' && *p != '<' && *p != '>')
      buf_append(b, p, 1);
}

static void ics_emit(buf_t *out, buf_t *line) {
  render_ics_fold(out, line->data ? line->data : "", line->len);
  buf_reset(line);
}

/* The RECURRENCE-ID of an instance of a recurring series, from an
 * external id "<series>/<YYYYMMDDTHHMMSSZ>" (ics-feed) or
 * "<series>_<YYYYMMDD[THHMMSSZ]>" (Google). 0: not an instance. */
static int recurrence_id(const render_event_t *ev, char out[17], int *is_date) {
  const char *ext = nz(ev->external_id), *uid = nz(ev->ical_uid);
  if (!*uid || !*ext || strcmp(ext, uid) == 0) return 0;
  const char *sep = strrchr(ext, '/');
  const char *us = strrchr(ext, '_');
  if (!sep || (us && us > sep)) sep = us;
  if (!sep || sep == ext) return 0;
  const char *v = sep + 1;
  size_t n = strlen(v);
  if (n != 8 && n != 16) return 0;
  for (size_t i = 0; i < n; i++) {
    char want = n == 16 && i == 8 ? 'T' : n == 16 && i == 15 ? 'Z' : 0;
    if (want ? v[i] != want : (v[i] < '0' || v[i] > '9')) return 0;
  }
  memcpy(out, v, n + 1);
  *is_date = n == 8;
  return 1;
}

static void date_value(char out[9], int64_t days) {
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, 9, "%04u%02u%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
           (unsigned)d % 100u);
}

static int same_address(const char *a, const char *b) {
  return *nz(a) && strcasecmp(nz(a), nz(b)) == 0;
}

static char *render_ics(const render_input_t *in) {
  const render_event_t *ev = in->ev;
  buf_t out = {0}, l = {0};
  char host[256], stamp[17];
  url_host(in->public_url, host, sizeof host);
  fmt_utc(stamp, in->now_ms);

  render_ics_fold(&out, "BEGIN:VCALENDAR", 15);
  buf_puts(&l, "VERSION:2.0");
  ics_emit(&out, &l);
  buf_puts(&l, "PRODID:-//assistd//Reminders 1.0//EN");
  ics_emit(&out, &l);
  buf_puts(&l, "METHOD:REQUEST");
  ics_emit(&out, &l);
  buf_puts(&l, "BEGIN:VEVENT");
  ics_emit(&out, &l);

  buf_puts(&l, "UID:");
  if (*nz(ev->ical_uid)) {
    render_ics_text(&l, ev->ical_uid);
  } else {
    buf_printf(&l, "%" PRId64 "@", ev->id);
    render_ics_text(&l, host);
  }
  ics_emit(&out, &l);
  char rid[17];
  int rid_date = 0;
  if (recurrence_id(ev, rid, &rid_date)) {
    buf_printf(&l, "RECURRENCE-ID%s:%s", rid_date ? ";VALUE=DATE" : "", rid);
    ics_emit(&out, &l);
  }
  buf_printf(&l, "SEQUENCE:%" PRId64, ev->sequence < 0 ? 0 : ev->sequence);
  ics_emit(&out, &l);
  buf_printf(&l, "DTSTAMP:%s", stamp);
  ics_emit(&out, &l);

  if (ev->all_day) {
    int64_t days;
    if (parse_date(ev->start_date, &days) < 0)
      days = tz_floor_div(ev->start_ms, 86400000);
    int64_t ndays = (ev->end_ms - ev->start_ms + 43200000) / 86400000;
    if (ndays < 1) ndays = 1;
    char d1[9], d2[9];
    date_value(d1, days);
    date_value(d2, days + ndays);
    buf_printf(&l, "DTSTART;VALUE=DATE:%s", d1);
    ics_emit(&out, &l);
    buf_printf(&l, "DTEND;VALUE=DATE:%s", d2);
    ics_emit(&out, &l);
  } else {
    char s[17], e[17];
    fmt_utc(s, ev->start_ms);
    fmt_utc(e, ev->end_ms > ev->start_ms ? ev->end_ms : ev->start_ms);
    buf_printf(&l, "DTSTART:%s", s);
    ics_emit(&out, &l);
    buf_printf(&l, "DTEND:%s", e);
    ics_emit(&out, &l);
  }

  buf_puts(&l, "SUMMARY:");
  render_ics_text(&l, ev->summary);
  ics_emit(&out, &l);
  if (*nz(ev->location)) {
    buf_puts(&l, "LOCATION:");
    render_ics_text(&l, ev->location);
    ics_emit(&out, &l);
  }
  if (*nz(ev->description)) {
    buf_puts(&l, "DESCRIPTION:");
    render_ics_text(&l, ev->description);
    ics_emit(&out, &l);
  }

  /* The recipient must be an attendee and not the organizer, or clients
   * show no RSVP buttons: the sender organizes when the person does. */
  const char *org = nz(ev->organizer);
  const char *org_name = "";
  if (!*org || same_address(org, in->to)) {
    org = nz(in->from_email);
    org_name = nz(in->from_name);
  }
  char fallback[300];
  if (!*org || same_address(org, in->to)) {
    snprintf(fallback, sizeof fallback, "noreply@%s", host);
    org = fallback;
  }
  buf_puts(&l, "ORGANIZER");
  if (*org_name) {
    buf_puts(&l, ";CN=");
    ics_param(&l, org_name);
  }
  buf_puts(&l, ":");
  ics_mailto(&l, org);
  ics_emit(&out, &l);

  buf_puts(&l, "ATTENDEE");
  if (*nz(in->to_name)) {
    buf_puts(&l, ";CN=");
    ics_param(&l, in->to_name);
  }
  buf_puts(&l, ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:");
  ics_mailto(&l, in->to);
  ics_emit(&out, &l);

  buf_printf(&l, "STATUS:%s",
             strcmp(nz(ev->status), "tentative") == 0 ? "TENTATIVE"
                                                      : "CONFIRMED");
  ics_emit(&out, &l);
  buf_puts(&l, "TRANSP:OPAQUE");
  ics_emit(&out, &l);
  buf_puts(&l, "END:VEVENT");
  ics_emit(&out, &l);
  buf_puts(&l, "END:VCALENDAR");
  ics_emit(&out, &l);
  buf_free(&l);
  return buf_take(&out);
}

/* ---------------- the message ---------------- */

static int has(const char *s) {
  return s && *s;
}

static char *render_subject(const render_input_t *in, const words_t *w,
                            const when_t *when) {
  buf_t b = {0};
  buf_printf(&b, "%s: ", w->reminder);
  put_line(&b, has(in->ev->summary) ? in->ev->summary : w->no_title);
  cut_utf8(&b, 160);
  buf_puts(&b, ", ");
  buf_puts(&b, when->short_);
  return buf_take(&b);
}

static char *render_text(const render_input_t *in, const words_t *w,
                         const when_t *when) {
  const render_event_t *ev = in->ev;
  buf_t b = {0};
  buf_printf(&b, "%s: ", w->reminder);
  put_line(&b, has(ev->summary) ? ev->summary : w->no_title);
  buf_printf(&b, "\n\n%s: %s\n", w->when, when->full);
  if (has(ev->location)) {
    buf_printf(&b, "%s: ", w->where);
    put_line(&b, ev->location);
    buf_puts(&b, "\n");
  }
  if (has(ev->organizer)) {
    buf_printf(&b, "%s: ", w->organizer);
    put_line(&b, ev->organizer);
    buf_puts(&b, "\n");
  }
  if (has(ev->description)) {
    buf_puts(&b, "\n");
    put_text(&b, ev->description);
    buf_puts(&b, "\n");
  }
  if (has(in->rsvp_accept) || has(in->rsvp_decline) ||
      has(in->rsvp_tentative)) {
    buf_printf(&b, "\n%s\n", w->attend);
    const char *label[3] = {w->yes, w->no, w->maybe};
    const char *link[3] = {in->rsvp_accept, in->rsvp_decline,
                           in->rsvp_tentative};
    for (int i = 0; i < 3; i++) {
      if (!has(link[i])) continue;
      buf_printf(&b, "  %s: ", label[i]);
      put_line(&b, link[i]);
      buf_puts(&b, "\n");
    }
  }
  buf_printf(&b, "\n-- \n%s\n", w->footer);
  return buf_take(&b);
}

static char *render_html_body(const render_input_t *in, const words_t *w,
                              const when_t *when) {
  const render_event_t *ev = in->ev;
  buf_t b = {0};
  buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
  render_html(&b, has(ev->summary) ? ev->summary : w->no_title);
  buf_puts(&b, "</title></head>\n<body>\n<p>");
  render_html(&b, w->reminder);
  buf_puts(&b, ": <strong>");
  render_html(&b, has(ev->summary) ? ev->summary : w->no_title);
  buf_puts(&b, "</strong></p>\n<table>\n<tr><td>");
  render_html(&b, w->when);
  buf_puts(&b, "</td><td>");
  render_html(&b, when->full);
  buf_puts(&b, "</td></tr>\n");
  if (has(ev->location)) {
    buf_puts(&b, "<tr><td>");
    render_html(&b, w->where);
    buf_puts(&b, "</td><td>");
    render_html(&b, ev->location);
    buf_puts(&b, "</td></tr>\n");
  }
  if (has(ev->organizer)) {
    buf_puts(&b, "<tr><td>");
    render_html(&b, w->organizer);
    buf_puts(&b, "</td><td>");
    render_html(&b, ev->organizer);
    buf_puts(&b, "</td></tr>\n");
  }
  buf_puts(&b, "</table>\n");
  if (has(ev->description)) {
    buf_puts(&b, "<p>");
    html_lines(&b, ev->description);
    buf_puts(&b, "</p>\n");
  }
  if (has(in->rsvp_accept) || has(in->rsvp_decline) ||
      has(in->rsvp_tentative)) {
    buf_puts(&b, "<p>");
    render_html(&b, w->attend);
    const char *label[3] = {w->yes, w->no, w->maybe};
    const char *link[3] = {in->rsvp_accept, in->rsvp_decline,
                           in->rsvp_tentative};
    for (int i = 0; i < 3; i++) {
      if (!has(link[i])) continue;
      buf_puts(&b, " <a href=\"");
      render_html(&b, link[i]);
      buf_puts(&b, "\">");
      render_html(&b, label[i]);
      buf_puts(&b, "</a>");
    }
    buf_puts(&b, "</p>\n");
  }
  buf_puts(&b, "<p><small>");
  render_html(&b, w->footer);
  buf_puts(&b, "</small></p>\n</body></html>\n");
  return buf_take(&b);
}

/* The script a voice notifier reads: one line of plain words. */
static char *render_call(const render_input_t *in, const words_t *w,
                         const when_t *when) {
  const render_event_t *ev = in->ev;
  buf_t b = {0};
  buf_puts(&b, w->hello);
  if (has(in->to_name)) {
    buf_puts(&b, " ");
    put_line(&b, in->to_name);
  }
  buf_printf(&b, ". %s ", w->call_intro);
  put_line(&b, has(ev->summary) ? ev->summary : w->no_title);
  buf_printf(&b, ", %s.", when->full);
  if (has(ev->location)) {
    buf_printf(&b, " %s ", w->call_location);
    put_line(&b, ev->location);
    buf_puts(&b, ".");
  }
  buf_printf(&b, " %s", w->call_end);
  return buf_take(&b);
}

int render_message(const render_input_t *in, render_out_t *out) {
  memset(out, 0, sizeof *out);
  if (!in || !in->ev || !has(in->channel)) {
    out->subject = xstrdup("");
    out->text = xstrdup("");
    out->html = xstrdup("");
    out->ics = xstrdup("");
    out->ics_method = xstrdup("");
    return -EINVAL;
  }
  const words_t *w = words_for(in->locale);
  when_t when;
  describe_when(in, w, &when);
  out->subject = render_subject(in, w, &when);
  if (strcmp(in->channel, "call") == 0) {
    out->text = render_call(in, w, &when);
    out->html = xstrdup("");
    out->ics = xstrdup("");
    out->ics_method = xstrdup("");
  } else {
    out->text = render_text(in, w, &when);
    out->html = render_html_body(in, w, &when);
    out->ics = render_ics(in);
    out->ics_method = xstrdup("REQUEST");
  }
  return 0;
}

void render_out_free(render_out_t *out) {
  if (!out) return;
  free(out->subject);
  free(out->text);
  free(out->html);
  free(out->ics);
  free(out->ics_method);
  memset(out, 0, sizeof *out);
}
