/*
 * jobs_cron.c: 5-field cron expressions evaluated in an IANA time zone.
 *
 * Calendar arithmetic is done on "wall seconds" (local wall-clock time
 * written as if it were UTC) with timegm/gmtime_r, which never look at
 * TZ, so nothing here touches process-global time zone state. The zone
 * only enters through off(t), the UTC offset at instant t, read from the
 * system's zone files by common/tz.h. A wall time W maps to instant
 * c = W - o for each offset o in force around W; c is valid when
 * off(c) == o. No valid instant: W was skipped by a DST change (no fire).
 * Two: W happened twice (fire at the first).
 */
#include "jobs.h"

#include "../common/tz.h"
#include "../common/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct jobs_cron {
  uint64_t min;  /* bits 0-59 */
  uint32_t hour; /* bits 0-23 */
  uint32_t dom;  /* bits 1-31 */
  uint16_t mon;  /* bits 1-12 */
  uint8_t dow;   /* bits 0-6 */
  int dom_star, dow_star;
};

static const char *const mon_names[] = {"JAN", "FEB", "MAR", "APR",
                                        "MAY", "JUN", "JUL", "AUG",
                                        "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED",
                                        "THU", "FRI", "SAT"};

static int parse_num(const char **p, int field, int *out) {
  const char *s = *p;
  if ((field == 3 || field == 4) &&
      ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) {
    const char *const *names = field == 3 ? mon_names : dow_names;
    int n = field == 3 ? 12 : 7;
    for (int i = 0; i < n; i++)
      if (strncasecmp(s, names[i], 3) == 0) {
        *out = field == 3 ? i + 1 : i;
        *p = s + 3;
        return 0;
      }
    return -1;
  }
  if (*s < '0' || *s > '9') return -1;
  long v = 0;
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s - '0');
    if (v > 1000) return -1;
    s++;
  }
  *out = (int)v;
  *p = s;
  return 0;
}

/* Parses one field into a 64-bit mask. */
static int parse_field(const char *s, int field, int lo, int hi, uint64_t *mask,
                       int *star) {
  *mask = 0;
  *star = 0;
  const char *p = s;
  for (;;) {
    int a, b, step = 1;
    if (*p == '*') {
      a = lo;
      b = hi;
      p++;
      if (*p != '/') *star = 1;
    } else {
      if (parse_num(&p, field, &a) < 0) return -1;
      b = a;
      if (*p == '-') {
        p++;
        if (parse_num(&p, field, &b) < 0) return -1;
      }
    }
    if (*p == '/') {
      p++;
      if (parse_num(&p, -1, &step) < 0 || step < 1) return -1;
      if (b == a && s[0] != '*') b = hi; /* "5/15" means 5-hi/15 */
    }
    if (field == 4 && b == 7 && a <= 7) {
      /* 7 is Sunday too. */
      if (a == 7)
        a = 0, b = 0;
      else
        b = 6, *mask |= 1;
    }
    if (a < lo || b > hi || a > b) return -1;
    for (int v = a; v <= b; v += step) *mask |= (uint64_t)1 << v;
    if (*p == ',') {
      p++;
      continue;
    }
    return *p == 0 ? 0 : -1;
  }
}

int jobs_cron_parse(const char *expr, jobs_cron_t **out, char *err,
                    size_t errlen) {
  static const struct {
    const char *name, *expr;
  } macros[] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                {"@annually", "0 0 1 1 *"}};
  *out = NULL;
  if (!expr) {
    snprintf(err, errlen, "empty cron expression");
    return -EINVAL;
  }
  while (*expr == ' ' || *expr == '\t') expr++;
  for (size_t i = 0; i < sizeof(macros) / sizeof(*macros); i++)
    if (strcmp(expr, macros[i].name) == 0) expr = macros[i].expr;
  char *copy = xstrdup(expr);
  char *fields[6];
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(copy, " \t", &save); t && n < 6;
       t = strtok_r(NULL, " \t", &save))
    fields[n++] = t;
  if (n != 5) {
    snprintf(err, errlen, "cron expression needs 5 fields, got %d", n);
    free(copy);
    return -EINVAL;
  }
  static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {59, 23, 31, 12, 7};
  static const char *const what[] = {"minute", "hour", "day of month", "month",
                                     "day of week"};
  uint64_t m[5];
  int star[5];
  for (int i = 0; i < 5; i++)
    if (parse_field(fields[i], i, lo[i], hi[i], &m[i], &star[i]) < 0) {
      snprintf(err, errlen, "bad %s field '%s'", what[i], fields[i]);
      free(copy);
      return -EINVAL;
    }
  free(copy);
  jobs_cron_t *c = xcalloc(1, sizeof(*c));
  c->min = m[0];
  c->hour = (uint32_t)m[1];
  c->dom = (uint32_t)m[2];
  c->mon = (uint16_t)m[3];
  c->dow = (uint8_t)(m[4] & 0x7f);
  c->dom_star = star[2];
  c->dow_star = star[4];
  *out = c;
  return 0;
}

void jobs_cron_free(jobs_cron_t *c) {
  free(c);
}

/* The zone named tz (UTC when empty), or NULL when unknown. */
static const tz_t *zone(const char *tz) {
  return tz_get(tz && *tz ? tz : "UTC");
}

int jobs_tz_valid(const char *tz) {
  return zone(tz) ? 0 : -EINVAL;
}

/* UTC offset in seconds at instant t. */
static int off(const tz_t *z, time_t t) {
  tz_local_t l;
  tz_to_local(z, (int64_t)t * 1000, &l);
  return l.utc_offset_s;
}

static int day_matches(const jobs_cron_t *c, const struct tm *d) {
  if (!(c->mon & (1u << (d->tm_mon + 1)))) return 0;
  int dom = (c->dom >> d->tm_mday) & 1, dow = (c->dow >> d->tm_wday) & 1;
  if (c->dom_star && c->dow_star) return 1;
  if (c->dom_star) return dow;
  if (c->dow_star) return dom;
  return dom || dow;
}

int64_t jobs_cron_next(const jobs_cron_t *c, const char *tz, int64_t after_ms) {
  const tz_t *z = zone(tz);
  if (!z) return -1;
  time_t after = (time_t)(after_ms / 1000);
  if (after_ms < 0 && after_ms % 1000) after--;
  /* Wall seconds of `after`, and the first day to look at. */
  time_t wall_after = after + off(z, after);
  time_t day0 = wall_after - ((wall_after % 86400) + 86400) % 86400 - 86400;
  for (int d = 0; d < 5 * 366 + 2; d++) {
    time_t day = day0 + (time_t)d * 86400;
    struct tm tm;
    gmtime_r(&day, &tm);
    if (!day_matches(c, &tm)) continue;
    for (int h = 0; h < 24; h++) {
      if (!(c->hour & (1u << h))) continue;
      for (int m = 0; m < 60; m++) {
        if (!(c->min & ((uint64_t)1 << m))) continue;
        time_t w = day + h * 3600 + m * 60;
        if (w < wall_after - 3 * 3600) continue;
        int oa = off(z, w - 86400), ob = off(z, w + 86400);
        time_t best = 0;
        int found = 0;
        int offs[2] = {oa, ob};
        for (int k = 0; k < 2; k++) {
          time_t cand = w - offs[k];
          if (off(z, cand) != offs[k] || cand <= after) continue;
          if (!found || cand < best) best = cand;
          found = 1;
        }
        /* A repeated wall time fires only at its first occurrence. */
        if (found && oa != ob) {
          time_t first = w - (oa > ob ? oa : ob);
          if (off(z, first) == (oa > ob ? oa : ob) && first <= after &&
              best != first)
            found = 0;
        }
        if (found) return (int64_t)best * 1000;
      }
    }
  }
  return -1;
}
