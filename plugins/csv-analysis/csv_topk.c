/*
 * csv_topk.c: top values by Misra-Gries (1982) with CSV_TOPK counters.
 *
 * Counts are exact while at most CSV_TOPK distinct values were seen (err 0).
 * After that, every counter is a lower bound and the true count of any
 * value is at most its counter + err, where err counts the decrement steps
 * (err <= n/(k+1)); a value without a counter occurred at most err times.
 * Merging follows Agarwal et al. (2012, "Mergeable summaries"): add the
 * counters, subtract the (k+1)-th largest count c from all, keep the
 * positive ones, err = err_a + err_b + c. Values are identified by their
 * 64-bit hash; the first CSV_TOPK_KEY bytes are kept for display.
 */
#include "csv_internal.h"

#include <stdlib.h>

#define IDX_N (4 * CSV_TOPK)

static void reindex(csv_topk *t) {
  memset(t->idx, 0, sizeof t->idx);
  for (uint32_t j = 0; j < t->n; j++) {
    uint32_t i = (uint32_t)t->e[j].hash & (IDX_N - 1);
    while (t->idx[i]) i = (i + 1) & (IDX_N - 1);
    t->idx[i] = (uint8_t)(j + 1);
  }
}

/* memcpy for short keys without a call: overlapping loads never read
 * outside [p, p + n). */
static inline void copy_key(char *dst, const char *p, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + n - 8, 8);
    memcpy(dst, &a, 8);
    memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    memcpy(dst, &a, 4);
    memcpy(dst + n - 4, &b, 4);
  } else if (n > 0 && n < 4) {
    dst[0] = p[0];
    dst[n / 2] = p[n / 2];
    dst[n - 1] = p[n - 1];
  } else if (n) {
    memcpy(dst, p, n);
  }
}

void csv_topk_add(csv_topk *t, uint64_t h, const char *p, size_t n) {
  uint32_t i = (uint32_t)h & (IDX_N - 1);
  while (t->idx[i]) {
    csv_topent *e = &t->e[t->idx[i] - 1];
    if (e->hash == h) {
      e->count++;
      return;
    }
    i = (i + 1) & (IDX_N - 1);
  }
  if (t->n < CSV_TOPK) {
    csv_topent *e = &t->e[t->n];
    e->hash = h;
    e->count = 1;
    e->len = (uint32_t)n;
    copy_key(e->key, p, n < CSV_TOPK_KEY ? n : CSV_TOPK_KEY);
    t->idx[i] = (uint8_t)(++t->n);
    return;
  }
  uint32_t k = 0;
  for (uint32_t j = 0; j < t->n; j++)
    if (--t->e[j].count) t->e[k++] = t->e[j];
  t->n = k;
  t->err++;
  reindex(t);
}

static int by_count(const void *pa, const void *pb) {
  const csv_topent *a = pa, *b = pb;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  size_t la = a->len < CSV_TOPK_KEY ? a->len : CSV_TOPK_KEY;
  size_t lb = b->len < CSV_TOPK_KEY ? b->len : CSV_TOPK_KEY;
  int c = memcmp(a->key, b->key, la < lb ? la : lb);
  if (c) return c;
  if (la != lb) return la < lb ? -1 : 1;
  return a->hash < b->hash ? -1 : a->hash > b->hash;
}

void csv_topk_sort(csv_topk *t) {
  qsort(t->e, t->n, sizeof t->e[0], by_count);
  reindex(t);
}

void csv_topk_merge(csv_topk *a, const csv_topk *b) {
  csv_topent all[2 * CSV_TOPK];
  uint32_t n = a->n;
  memcpy(all, a->e, n * sizeof all[0]);
  for (uint32_t j = 0; j < b->n; j++) {
    uint32_t i = (uint32_t)b->e[j].hash & (IDX_N - 1), found = 0;
    while (a->idx[i]) {
      uint32_t x = a->idx[i] - 1u;
      if (a->e[x].hash == b->e[j].hash) {
        all[x].count += b->e[j].count;
        found = 1;
        break;
      }
      i = (i + 1) & (IDX_N - 1);
    }
    if (!found) all[n++] = b->e[j];
  }
  qsort(all, n, sizeof all[0], by_count);
  uint64_t c = 0;
  if (n > CSV_TOPK) {
    c = all[CSV_TOPK].count;
    uint32_t k = 0;
    for (uint32_t j = 0; j < n; j++)
      if (all[j].count > c) {
        all[k] = all[j];
        all[k++].count -= c;
      }
    n = k;
  }
  memcpy(a->e, all, n * sizeof all[0]);
  a->n = n;
  a->err += b->err + c;
  reindex(a);
}
