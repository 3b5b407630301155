/* pq_lazy.c: the libpq table of pq_lazy.h. */
#include "pq_lazy.h"

#define PQ_LAZY_NAME(f) #f,
static const char *const names[] = {PQ_LAZY_FUNCS(PQ_LAZY_NAME)};
static void *slots[PQ_LAZY_N];
_Static_assert(sizeof(names) / sizeof(names[0]) == PQ_LAZY_N,
               "one name per slot");

lazylib_t pq_lazy =
    LAZYLIB_INIT("libpq.so.5", "postgresql storage", names, slots);

int pq_lazy_load(const char **err) {
  return lazylib_load(&pq_lazy, err);
}
