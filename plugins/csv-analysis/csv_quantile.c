/*
 * csv_quantile.c: DDSketch (Masson, Rim, Lee, VLDB 2019) with the linearly
 * interpolated logarithmic mapping.
 *
 * A positive x = m * 2^e (1 <= m < 2) is mapped to f(x) = e + (m - 1), a
 * monotone, piecewise-linear approximation of log2(x) read straight from the
 * IEEE-754 bits (no log() call). Bin i holds the values with
 * f(x) in ((i-1)s, i*s]. Its bounds lo, hi satisfy hi/lo <= 1 + s, and the
 * bin answers with the harmonic mean 2*lo*hi/(lo+hi), which is within
 * (hi-lo)/(hi+lo) <= s/(2+s) of every value in the bin. With
 * s = 2a/(1-a) that is exactly a = CSV_QUANTILE_ALPHA: the value returned
 * for a rank is within a*|x| of the true value x at that rank.
 *
 * Negative values use a mirror store; |x| < CSV_DD_MIN counts as zero
 * (absolute error < 1e-9 there). Each store keeps at most CSV_DD_MAXBINS
 * bins (a range of about 41 octaves); beyond, the bins nearest zero are
 * collapsed and the sketch says so (the bound then no longer holds for the
 * lowest-magnitude ranks). Merging adds bin counts: it is exact, so merged
 * sketches keep the same bound.
 */
#include "csv_internal.h"

#include <math.h>
#include <stdlib.h>

#define CSV_DD_MAXBINS 4096
#define CSV_DD_MIN 1e-9

static double dd_s(void) {
  return 2.0 * CSV_QUANTILE_ALPHA / (1.0 - CSV_QUANTILE_ALPHA);
}

static inline int32_t dd_index(double x) {
  const double inv_s = (1.0 - CSV_QUANTILE_ALPHA) / (2.0 * CSV_QUANTILE_ALPHA);
  uint64_t bits;
  memcpy(&bits, &x, 8);
  int e = (int)((bits >> 52) & 0x7ff) - 1023;
  double frac = (double)(bits & ((1ULL << 52) - 1)) * 0x1p-52;
  double t = ((double)e + frac) * inv_s;
  int32_t k = (int32_t)t; /* truncation: ceil for t <= 0 */
  return k + (t > (double)k);
}

static double finv(double y) {
  double fl = floor(y);
  return ldexp(1.0 + (y - fl), (int)fl);
}

static double dd_value(int32_t i) {
  double s = dd_s();
  double lo = finv((double)(i - 1) * s), hi = finv((double)i * s);
  return 2.0 * lo * hi / (lo + hi);
}

static void store_add(csv_ddstore *st, int64_t k, uint64_t c, csv_dd *dd) {
  if (!st->bins) {
    st->bins = calloc(128, sizeof *st->bins);
    if (!st->bins) {
      dd->oom = 1;
      return;
    }
    st->cap = 128;
    st->n = 128;
    st->lo = (int32_t)(k - 64);
  }
  int64_t lo = st->lo, hi = lo + st->n;
  if (k >= lo && k < hi) {
    st->bins[k - lo] += c;
    return;
  }
  /* grow around the occupied bins only, so slack never forces a collapse */
  int64_t olo = hi, ohi = lo - 1;
  for (int64_t j = lo; j < hi; j++)
    if (st->bins[j - lo]) {
      if (j < olo) olo = j;
      ohi = j;
    }
  int64_t nlo = olo <= ohi && olo < k ? olo : k;
  int64_t nhi = olo <= ohi && ohi > k ? ohi + 1 : k + 1;
  if (nhi - nlo > CSV_DD_MAXBINS) {
    nlo = nhi - CSV_DD_MAXBINS; /* collapse the bins nearest zero */
  } else {
    int64_t slack = (nhi - nlo) / 2 + 16;
    if (nhi - nlo + slack > CSV_DD_MAXBINS)
      slack = CSV_DD_MAXBINS - (nhi - nlo);
    if (k < lo)
      nlo -= slack;
    else
      nhi += slack;
  }
  uint32_t n = (uint32_t)(nhi - nlo);
  uint64_t *nb = calloc(n, sizeof *nb);
  if (!nb) {
    dd->oom = 1;
    return;
  }
  for (int64_t j = lo; j < hi; j++) {
    uint64_t v = st->bins[j - lo];
    if (!v) continue;
    int64_t t = j;
    if (t < nlo) {
      t = nlo;
      dd->collapsed = 1;
    }
    nb[t - nlo] += v;
  }
  if (k < nlo) {
    k = nlo;
    dd->collapsed = 1;
  }
  nb[k - nlo] += c;
  free(st->bins);
  st->bins = nb;
  st->lo = (int32_t)nlo;
  st->n = st->cap = n;
}

void csv_dd_add(csv_dd *s, double x) {
  s->count++;
  if (x > CSV_DD_MIN) {
    int32_t k = dd_index(x);
    csv_ddstore *st = &s->pos;
    if (st->bins && k >= st->lo && (uint32_t)(k - st->lo) < st->n)
      st->bins[k - st->lo]++;
    else
      store_add(st, k, 1, s);
  } else if (x < -CSV_DD_MIN) {
    store_add(&s->neg, dd_index(-x), 1, s);
  } else {
    s->zero++;
  }
}

static void store_merge(csv_ddstore *a, const csv_ddstore *b, csv_dd *dd) {
  int64_t first = -1, last = -1;
  for (uint32_t j = 0; j < b->n; j++)
    if (b->bins[j]) {
      if (first < 0) first = j;
      last = j;
    }
  if (first < 0) return;
  store_add(a, b->lo + first, 0, dd);
  store_add(a, b->lo + last, 0, dd);
  for (int64_t j = first; j <= last; j++)
    if (b->bins[j]) store_add(a, b->lo + j, b->bins[j], dd);
}

int csv_dd_merge(csv_dd *a, const csv_dd *b) {
  store_merge(&a->pos, &b->pos, a);
  store_merge(&a->neg, &b->neg, a);
  a->zero += b->zero;
  a->count += b->count;
  a->collapsed |= b->collapsed;
  a->oom |= b->oom;
  return a->oom ? -1 : 0;
}

void csv_dd_foreach(const csv_dd *s, void (*fn)(double, uint64_t, void *),
                    void *ud) {
  for (uint32_t j = s->neg.n; j-- > 0;)
    if (s->neg.bins[j])
      fn(-dd_value(s->neg.lo + (int32_t)j), s->neg.bins[j], ud);
  if (s->zero) fn(0.0, s->zero, ud);
  for (uint32_t j = 0; j < s->pos.n; j++)
    if (s->pos.bins[j])
      fn(dd_value(s->pos.lo + (int32_t)j), s->pos.bins[j], ud);
}

struct qwalk {
  uint64_t rank, cum;
  double v;
  int done;
};

/* Bounds of bin i (positive store): values in (lo, hi]. */
static void dd_bounds(int32_t i, double *lo, double *hi) {
  double s = dd_s();
  *lo = finv((double)(i - 1) * s);
  *hi = finv((double)i * s);
}

static void qwalk_cb(double v, uint64_t c, void *ud) {
  struct qwalk *w = ud;
  if (w->done) return;
  w->cum += c;
  if (w->cum > w->rank) {
    w->v = v;
    w->done = 1;
  }
}

double csv_dd_quantile(const csv_dd *s, double q) {
  if (s->count == 0) return NAN;
  struct qwalk w = {(uint64_t)floor(q * (double)(s->count - 1)), 0, NAN, 0};
  csv_dd_foreach(s, qwalk_cb, &w);
  return w.v;
}

double csv_dd_quantile_int(const csv_dd *s, double q) {
  double v = csv_dd_quantile(s, q);
  if (!isfinite(v) || v == 0.0) return v;
  double a = fabs(v), lo = 0, hi = 0;
  dd_bounds(dd_index(a), &lo, &hi);
  double c = floor(hi);
  if (c > lo && c - 1.0 <= lo) return v < 0 ? -c : c; /* one integer */
  return v;
}

void csv_dd_free(csv_dd *s) {
  free(s->pos.bins);
  free(s->neg.bins);
  memset(s, 0, sizeof *s);
}
