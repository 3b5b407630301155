/*
 * csv_distinct.c: distinct values. Exact (a set of 64-bit hashes, so exact
 * up to hash collisions, p < 1e-12 at 4096 values) while at most
 * CSV_DISTINCT_EXACT values were seen; then HyperLogLog (Flajolet et al.
 * 2007) with m = 2^CSV_HLL_P registers: relative standard error
 * 1.04/sqrt(m) = 1.625 % for m = 4096, with linear counting for small
 * estimates. Both forms merge (set union, register maximum).
 */
#include "csv_internal.h"

#include <math.h>
#include <stdlib.h>

#define HLL_M (1u << CSV_HLL_P)

static inline void hll_add(uint8_t *reg, uint64_t h) {
  uint32_t idx = (uint32_t)(h >> (64 - CSV_HLL_P));
  uint64_t w = (h << CSV_HLL_P) | (1ULL << (CSV_HLL_P - 1));
  uint8_t rank = (uint8_t)(__builtin_clzll(w) + 1);
  if (rank > reg[idx]) reg[idx] = rank;
}

static int to_hll(csv_distinct *d) {
  d->hll = calloc(HLL_M, 1);
  if (!d->hll) {
    d->oom = 1;
    return -1;
  }
  for (uint32_t i = 0; i < d->cap; i++)
    if (d->set[i]) hll_add(d->hll, d->set[i]);
  free(d->set);
  d->set = NULL;
  d->cap = d->used = 0;
  return 0;
}

static int set_insert(uint64_t *set, uint32_t cap, uint64_t h) {
  uint32_t i = (uint32_t)h & (cap - 1);
  while (set[i]) {
    if (set[i] == h) return 0;
    i = (i + 1) & (cap - 1);
  }
  set[i] = h;
  return 1;
}

static int set_grow(csv_distinct *d) {
  uint32_t ncap = d->cap ? d->cap * 2 : 64;
  uint64_t *ns = calloc(ncap, sizeof *ns);
  if (!ns) {
    d->oom = 1;
    return -1;
  }
  for (uint32_t i = 0; i < d->cap; i++)
    if (d->set[i]) set_insert(ns, ncap, d->set[i]);
  free(d->set);
  d->set = ns;
  d->cap = ncap;
  return 0;
}

void csv_distinct_add(csv_distinct *d, uint64_t h) {
  if (d->hll) {
    hll_add(d->hll, h);
    return;
  }
  if (d->oom) return;
  if (!h) h = 1;
  if (!d->set && set_grow(d)) return;
  if (!set_insert(d->set, d->cap, h)) return;
  d->used++;
  if (d->used > CSV_DISTINCT_EXACT)
    to_hll(d);
  else if (d->used * 2 > d->cap)
    set_grow(d);
}

int csv_distinct_merge(csv_distinct *a, const csv_distinct *b) {
  if (b->hll) {
    if (!a->hll && to_hll(a)) return -1;
    for (uint32_t i = 0; i < HLL_M; i++)
      if (b->hll[i] > a->hll[i]) a->hll[i] = b->hll[i];
  } else if (b->set) {
    for (uint32_t i = 0; i < b->cap; i++)
      if (b->set[i]) csv_distinct_add(a, b->set[i]);
  }
  a->oom |= b->oom;
  return a->oom ? -1 : 0;
}

double csv_distinct_estimate(const csv_distinct *d, int *exact) {
  if (!d->hll) {
    *exact = !d->oom;
    return (double)d->used;
  }
  *exact = 0;
  double m = HLL_M, sum = 0.0;
  uint32_t zeros = 0;
  for (uint32_t i = 0; i < HLL_M; i++) {
    sum += ldexp(1.0, -(int)d->hll[i]);
    zeros += d->hll[i] == 0;
  }
  double alpha = 0.7213 / (1.0 + 1.079 / m);
  double e = alpha * m * m / sum;
  if (e <= 2.5 * m && zeros) e = m * log(m / zeros);
  return e;
}

void csv_distinct_free(csv_distinct *d) {
  free(d->set);
  free(d->hll);
  memset(d, 0, sizeof *d);
}
