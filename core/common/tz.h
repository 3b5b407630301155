/*
 * tz.h: IANA time-zone conversions (the planner, cron schedules), read from the
 * system's compiled zone files (TZif, /usr/share/zoneinfo or $TZDIR):
 * transitions plus the POSIX TZ footer rule for times past the last one.
 * Loaded zones are cached for the process (a mutex guards the cache; a
 * loaded zone is immutable), so planning a million events converts in
 * nanoseconds. No libical, no setenv("TZ")/localtime games.
 *
 * Loading a zone reads a small file: the first use of a zone on the loop
 * thread costs one read (microseconds, page cache); callers that care can
 * warm the cache off the loop with tz_get().
 */
#ifndef ASSIST_TZ_H
#define ASSIST_TZ_H

#include <stdint.h>

typedef struct tz tz_t;

/** The zone named name ("UTC", "Europe/Berlin"...), or NULL when unknown
 * or invalid (names with "..", absolute paths and the like are refused).
 * The result is cached and lives until the process exits. */
const tz_t *tz_get(const char *name);

/** Local broken-down time. */
typedef struct tz_local {
  int year, month, day; /* month 1..12 */
  int hour, minute, second;
  int wday;         /* 0 = Sunday */
  int utc_offset_s; /* local = UTC + offset */
} tz_local_t;

/** UTC ms -> local time in zone z. */
void tz_to_local(const tz_t *z, int64_t utc_ms, tz_local_t *out);

/**
 * Local wall-clock time -> UTC ms. A time inside a spring-forward gap is
 * moved forward by the gap (02:30 -> 03:30 in Europe/Berlin); an
 * ambiguous fall-back time takes the first (earlier) occurrence.
 * *adjusted (may be NULL) is set to 1 when the time was in a gap.
 */
int64_t tz_from_local(const tz_t *z, int year, int month, int day, int hour,
                      int minute, int second, int *adjusted);

/* Proleptic Gregorian calendar arithmetic (H. Hinnant), shared by the core's
 * date code; days count from 1970-01-01. */

/** Days since 1970-01-01 of year-month-day (month 1..12). */
int64_t tz_days_from_civil(int64_t year, int month, int day);

/** The date days after 1970-01-01 (month 1..12). */
void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/** a / b rounded toward minus infinity (b != 0). */
int64_t tz_floor_div(int64_t a, int64_t b);

#endif
