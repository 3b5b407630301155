/*
 * ical_lazy.h: libical, opened on first use (see common/lazylib.h for why:
 * libical pulls in ICU and libstdc++, about 3 MB resident).
 *
 * Only jobs_cron.c includes it, for the UTC offset of a zone other than
 * UTC at an instant; it calls ical_lazy_load() before the first use. The
 * list and the redefinitions must agree.
 */
#ifndef ASSIST_ICAL_LAZY_H
#define ASSIST_ICAL_LAZY_H

#include "../common/lazylib.h"

#include <libical/ical.h>

#define ICAL_LAZY_FUNCS(X)                                                     \
  X(icaltime_from_timet_with_zone)                                             \
  X(icaltimezone_get_builtin_timezone)                                         \
  X(icaltimezone_get_utc_offset_of_utc_time)                                   \
  X(icaltimezone_get_utc_timezone)

/* ical_lazy_load(&err): 0, or -ELIBACC with err "a cron time zone needs
 * libical.so.3: ...". */
LAZYLIB_DECLARE(ical_lazy, ICAL_LAZY_FUNCS);
#define ICAL_LAZY(f) LAZYLIB_CALL(ical_lazy, f)

#define icaltime_from_timet_with_zone(...)                                     \
  ICAL_LAZY(icaltime_from_timet_with_zone)(__VA_ARGS__)
#define icaltimezone_get_builtin_timezone(...)                                 \
  ICAL_LAZY(icaltimezone_get_builtin_timezone)(__VA_ARGS__)
#define icaltimezone_get_utc_offset_of_utc_time(...)                           \
  ICAL_LAZY(icaltimezone_get_utc_offset_of_utc_time)(__VA_ARGS__)
#define icaltimezone_get_utc_timezone(...)                                     \
  ICAL_LAZY(icaltimezone_get_utc_timezone)(__VA_ARGS__)

#endif
