/* pq_lazy.c: the libpq table of pq_lazy.h. */
#include "pq_lazy.h"

LAZYLIB_DEFINE(pq_lazy, "libpq.so.5", "postgresql storage", PQ_LAZY_FUNCS)
