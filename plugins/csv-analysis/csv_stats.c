/*
 * csv_stats.c: one column's statistics in one pass, bounded memory, and
 * their merge.
 *
 * Mean and variance: Welford's update, merged with Chan et al.'s formula
 * (delta = mean_b - mean_a; M2 = M2a + M2b + delta^2 na nb / n). Quantiles:
 * csv_quantile.c. Distinct: csv_distinct.c. Top values: csv_topk.c. Text
 * lengths are counted in characters (code points for UTF-8) with exact
 * integer sums. Dates keep min/max and a count per calendar month (at most
 * CSV_MONTHS_CAP months; later months land in months_other).
 */
#include "csv_internal.h"

#include <math.h>
#include <stdlib.h>

int csv_colstats_init(csv_colstats *c) {
  memset(c, 0, sizeof *c);
  c->min = INFINITY;
  c->max = -INFINITY;
  c->len_min = UINT64_MAX;
  c->date_min = INT64_MAX;
  c->date_max = INT64_MIN;
  return 0;
}

/* Characters in a UTF-8 (or Latin-1) value; flags invalid UTF-8 and NULs. */
static uint64_t text_chars(const char *s, size_t n, int latin1, int *badp,
                           int *nulp) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  uint64_t chars = 0;
  int bad = 0, nul = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (!(w & 0x8080808080808080ULL) &&
          !((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)) {
        i += 8;
        chars += 8;
        continue;
      }
    }
    unsigned char b = p[i];
    if (b == 0) nul = 1;
    if (b < 0x80 || latin1) {
      i++;
      chars++;
      continue;
    }
    size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    size_t j = 1;
    if (len && i + len <= n)
      for (; j < len; j++)
        if ((p[i + j] & 0xC0) != 0x80) break;
    if (!len || b > 0xF4 || i + len > n || j < len) {
      bad = 1;
      i++;
    } else {
      i += len;
    }
    chars++;
  }
  *badp = bad;
  *nulp = nul;
  return chars;
}

static void month_add(csv_colstats *c, int32_t key, uint64_t cnt) {
  if (!c->months) {
    c->months = malloc(CSV_MONTHS_CAP * sizeof *c->months);
    if (!c->months) {
      c->months_other += cnt;
      return;
    }
    for (uint32_t i = 0; i < CSV_MONTHS_CAP; i++) {
      c->months[i].key = INT32_MIN;
      c->months[i].count = 0;
    }
  }
  uint32_t i = ((uint32_t)key * 2654435761u) & (CSV_MONTHS_CAP - 1);
  while (c->months[i].key != INT32_MIN) {
    if (c->months[i].key == key) {
      c->months[i].count += cnt;
      return;
    }
    i = (i + 1) & (CSV_MONTHS_CAP - 1);
  }
  if (c->nmonths >= CSV_MONTHS_CAP * 3 / 4) {
    c->months_other += cnt;
    return;
  }
  c->months[i].key = key;
  c->months[i].count = cnt;
  c->nmonths++;
}

void csv_colstats_add_missing(csv_colstats *c) {
  c->count++;
  c->missing++;
  c->types[CSV_T_MISSING]++;
}

/* Everything a value adds once it is classified (s) and trimmed (p). The
 * distinct counter is skipped when the value was seen before (adding a
 * hash twice changes neither the exact set nor HyperLogLog). */
static inline int apply_value(csv_colstats *c, const csv_seen *s, const char *p,
                              int seen) {
  int t = s->type;
  c->count++;
  c->types[t]++;
  if (t == CSV_T_MISSING) {
    c->missing++;
    return 0;
  }
  if (!seen) csv_distinct_add(&c->dist, s->hash);
  if (!c->top) c->top = calloc(1, sizeof *c->top);
  if (c->top) csv_topk_add(c->top, s->hash, p, s->tlen);
  uint64_t chars = s->chars;
  c->invalid_utf8 += s->bad;
  c->with_nul += s->nul;
  c->nlen++;
  c->len_sum += chars;
  c->len_sumsq += (double)chars * (double)chars;
  if (chars < c->len_min) c->len_min = chars;
  if (chars > c->len_max) c->len_max = chars;
  switch (t) {
  case CSV_T_INT:
  case CSV_T_FLOAT:
    if (!isfinite(s->num)) break;
    csv_dd_add(&c->dd, s->num);
    return 1;
  case CSV_T_BOOL:
    if (s->bval)
      c->btrue++;
    else
      c->bfalse++;
    break;
  case CSV_T_DATETIME:
    c->date_has_time = 1;
    /* fallthrough */
  case CSV_T_DATE: {
    c->ndate++;
    if (s->secs < c->date_min) c->date_min = s->secs;
    if (s->secs > c->date_max) c->date_max = s->secs;
    month_add(c, s->month, 1);
    break;
  }
  default:
    break;
  }
  return 0;
}

int csv_colstats_add_seen(csv_colstats *c, const char *p, size_t n,
                          const csv_dialect *d, csv_value *v, csv_seen *s) {
  const char *raw = p;
  if (n && ((unsigned char)p[0] <= ' ' || (unsigned char)p[n - 1] <= ' ')) {
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  }
  int t = csv_classify_padded(p, n, d->decimal, v);
  s->type = (int8_t)t;
  s->off = (uint32_t)(p - raw);
  s->tlen = (uint32_t)n;
  s->bad = s->nul = 0;
  s->bval = (int8_t)(t == CSV_T_BOOL && v->bval);
  int num = t == CSV_T_INT || t == CSV_T_FLOAT;
  int date = t == CSV_T_DATE || t == CSV_T_DATETIME;
  s->num = num ? v->num : 0.0;
  s->secs = date ? v->secs : 0;
  s->month = date ? v->month : 0;
  if (t != CSV_T_MISSING) {
    s->hash = csv_hash(p, n);
    if (t == CSV_T_TEXT) {
      int bad, nul;
      s->chars = text_chars(p, n, d->encoding == CSV_ENC_LATIN1, &bad, &nul);
      s->bad = (uint8_t)bad;
      s->nul = (uint8_t)nul;
    } else {
      s->chars = (uint32_t)n;
    }
  }
  return apply_value(c, s, p, 0);
}

int csv_colstats_add_again(csv_colstats *c, const char *p, const csv_seen *s,
                           csv_value *v) {
  v->type = s->type;
  v->num = s->num;
  return apply_value(c, s, p + s->off, 1);
}

int csv_colstats_add_value(csv_colstats *c, const char *p, size_t n,
                           const csv_dialect *d, csv_value *v) {
  csv_seen s;
  return csv_colstats_add_seen(c, p, n, d, v, &s);
}

int csv_colstats_merge(csv_colstats *a, const csv_colstats *b) {
  a->count += b->count;
  a->missing += b->missing;
  for (int i = 0; i < CSV_T_COUNT; i++) a->types[i] += b->types[i];
  if (b->nnum) {
    uint64_t n = a->nnum + b->nnum;
    double delta = b->mean - a->mean;
    a->mean += delta * ((double)b->nnum / (double)n);
    a->m2 +=
        b->m2 + delta * delta * ((double)a->nnum * (double)b->nnum / (double)n);
    a->nnum = n;
    if (b->min < a->min) a->min = b->min;
    if (b->max > a->max) a->max = b->max;
  }
  int rc = csv_dd_merge(&a->dd, &b->dd);
  rc |= csv_distinct_merge(&a->dist, &b->dist);
  if (b->top) {
    if (!a->top) a->top = calloc(1, sizeof *a->top);
    if (a->top)
      csv_topk_merge(a->top, b->top);
    else
      rc = -1;
  }
  a->nlen += b->nlen;
  a->len_sum += b->len_sum;
  a->len_sumsq += b->len_sumsq;
  if (b->len_min < a->len_min) a->len_min = b->len_min;
  if (b->len_max > a->len_max) a->len_max = b->len_max;
  a->ndate += b->ndate;
  if (b->date_min < a->date_min) a->date_min = b->date_min;
  if (b->date_max > a->date_max) a->date_max = b->date_max;
  a->date_has_time |= b->date_has_time;
  if (b->months)
    for (uint32_t i = 0; i < CSV_MONTHS_CAP; i++)
      if (b->months[i].key != INT32_MIN)
        month_add(a, b->months[i].key, b->months[i].count);
  a->months_other += b->months_other;
  a->btrue += b->btrue;
  a->bfalse += b->bfalse;
  a->invalid_utf8 += b->invalid_utf8;
  a->with_nul += b->with_nul;
  return rc ? -1 : 0;
}

void csv_colstats_free(csv_colstats *c) {
  csv_dd_free(&c->dd);
  csv_distinct_free(&c->dist);
  free(c->top);
  free(c->months);
  c->top = NULL;
  c->months = NULL;
}

void csv_pair_merge(csv_pair *a, const csv_pair *b) {
  if (!b->n) return;
  if (!a->n) {
    *a = *b;
    return;
  }
  double n = (double)(a->n + b->n);
  double f = (double)a->n * (double)b->n / n;
  double dx = b->mx - a->mx, dy = b->my - a->my;
  a->cxx += b->cxx + dx * dx * f;
  a->cyy += b->cyy + dy * dy * f;
  a->cxy += b->cxy + dx * dy * f;
  a->mx += dx * ((double)b->n / n);
  a->my += dy * ((double)b->n / n);
  a->n += b->n;
}
