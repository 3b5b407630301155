/* ical_lazy.c: the libical table of ical_lazy.h. */
#include "ical_lazy.h"

LAZYLIB_DEFINE(ical_lazy, "libical.so.3", "a cron time zone", ICAL_LAZY_FUNCS)
