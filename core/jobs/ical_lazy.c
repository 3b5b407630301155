/* ical_lazy.c: the libical table of ical_lazy.h. */
#include "ical_lazy.h"

#define ICAL_LAZY_NAME(f) #f,
static const char *const names[] = {ICAL_LAZY_FUNCS(ICAL_LAZY_NAME)};
static void *slots[ICAL_LAZY_N];
_Static_assert(sizeof(names) / sizeof(names[0]) == ICAL_LAZY_N,
               "one name per slot");

lazylib_t ical_lazy =
    LAZYLIB_INIT("libical.so.3", "a cron time zone", names, slots);

int ical_lazy_load(const char **err) {
  return lazylib_load(&ical_lazy, err);
}
