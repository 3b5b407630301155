/*
 * csv_finish.c: from the merged partial to the figures of the report.
 *
 * Inferred type: the most specific of integer, float, boolean, date,
 * datetime whose values are at least 95 % of the non-missing values (an
 * integer also fits float, a date also fits datetime), else text; the share
 * that fits is reported. Quantiles are clamped to [min, max], which never
 * moves them away from the truth. The histogram has CSV_HIST_BINS equal bins
 * over [min, max], filled from the quantile sketch's bins: a value may be
 * counted in a neighbouring bin when it lies within alpha*|x| of an edge.
 */
#include "csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TYPE_SHARE 0.95
#define TOP_SHOWN 10

const double csv_qs[CSV_NQ] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
const char *const csv_qnames[CSV_NQ] = {"p1",  "p5",  "p25", "p50",
                                        "p75", "p95", "p99"};

static void infer_type(csv_colfig *f) {
  uint64_t nm = f->count - f->missing;
  const uint64_t *t = f->type_counts;
  if (!nm) {
    f->type = CSV_T_MISSING;
    f->type_share = 0.0;
    return;
  }
  struct {
    int type;
    uint64_t fit;
  } order[] = {
      {CSV_T_INT, t[CSV_T_INT]},
      {CSV_T_FLOAT, t[CSV_T_INT] + t[CSV_T_FLOAT]},
      {CSV_T_BOOL, t[CSV_T_BOOL]},
      {CSV_T_DATE, t[CSV_T_DATE]},
      {CSV_T_DATETIME, t[CSV_T_DATE] + t[CSV_T_DATETIME]},
  };
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    double share = (double)order[i].fit / (double)nm;
    if (share >= TYPE_SHARE) {
      f->type = order[i].type;
      f->type_share = share;
      return;
    }
  }
  f->type = CSV_T_TEXT;
  f->type_share = 1.0;
}

struct histfill {
  csv_colfig *f;
};

static void hist_cb(double v, uint64_t c, void *ud) {
  csv_colfig *f = ((struct histfill *)ud)->f;
  double lo = f->hist_lo, hi = f->hist_hi;
  int b = 0;
  if (hi > lo) {
    double x = v < lo ? lo : v > hi ? hi : v;
    b = (int)((x - lo) / (hi - lo) * CSV_HIST_BINS);
    if (b >= CSV_HIST_BINS) b = CSV_HIST_BINS - 1;
    if (b < 0) b = 0;
  }
  f->hist[b] += c;
}

static int month_cmp(const void *a, const void *b) {
  const csv_month *x = a, *y = b;
  return x->key < y->key ? -1 : x->key > y->key;
}

static int fill_col(csv_colfig *f, const csv_colstats *c, int latin1) {
  memcpy(f->type_counts, c->types, sizeof f->type_counts);
  f->count = c->count;
  f->missing = c->missing;
  infer_type(f);
  f->distinct = csv_distinct_estimate(&c->dist, &f->distinct_exact);
  f->nnum = c->nnum;
  f->min = c->nnum ? c->min : NAN;
  f->max = c->nnum ? c->max : NAN;
  f->mean = c->nnum ? c->mean : NAN;
  f->std = c->nnum > 1 ? sqrt(c->m2 / (double)(c->nnum - 1)) : NAN;
  for (int i = 0; i < CSV_NQ; i++) {
    double q = c->types[CSV_T_FLOAT] ? csv_dd_quantile(&c->dd, csv_qs[i])
                                     : csv_dd_quantile_int(&c->dd, csv_qs[i]);
    if (c->nnum) q = q < f->min ? f->min : q > f->max ? f->max : q;
    f->q[i] = q;
  }
  f->dd_collapsed = c->dd.collapsed;
  if (c->nnum) {
    f->hist_lo = f->min;
    f->hist_hi = f->max;
    struct histfill hf = {f};
    csv_dd_foreach(&c->dd, hist_cb, &hf);
  }
  if (c->top && c->top->n) {
    csv_topk t = *c->top;
    csv_topk_sort(&t);
    uint32_t n = t.n < TOP_SHOWN ? t.n : TOP_SHOWN;
    f->top = calloc(n, sizeof *f->top);
    if (!f->top) return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
      csv_buf b = {0};
      size_t l = t.e[i].len < CSV_TOPK_KEY ? t.e[i].len : CSV_TOPK_KEY;
      csv_buf_text(&b, t.e[i].key, l, latin1, 0);
      if (b.oom) return -ENOMEM;
      f->top[i].value = b.p ? b.p : strdup("");
      if (!f->top[i].value) return -ENOMEM;
      f->top[i].truncated = t.e[i].len > CSV_TOPK_KEY;
      f->top[i].count = t.e[i].count;
      f->ntop = i + 1;
    }
    f->top_err = t.err;
  }
  f->nlen = c->nlen;
  if (c->nlen) {
    double n = (double)c->nlen, s = (double)c->len_sum;
    f->len_min = c->len_min;
    f->len_max = c->len_max;
    f->len_mean = s / n;
    f->len_std = c->nlen > 1
                     ? sqrt(fmax(0.0, (c->len_sumsq - s * s / n) / (n - 1.0)))
                     : 0.0;
  }
  f->ndate = c->ndate;
  f->date_min = c->date_min;
  f->date_max = c->date_max;
  f->date_has_time = c->date_has_time;
  if (c->months && c->nmonths) {
    f->months = malloc(c->nmonths * sizeof *f->months);
    if (!f->months) return -ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < CSV_MONTHS_CAP; i++)
      if (c->months[i].key != INT32_MIN) f->months[k++] = c->months[i];
    qsort(f->months, k, sizeof *f->months, month_cmp);
    f->nmonths = k;
  }
  f->months_other = c->months_other;
  f->btrue = c->btrue;
  f->bfalse = c->bfalse;
  f->invalid_utf8 = c->invalid_utf8;
  f->with_nul = c->with_nul;
  if (c->nnum >= 10) {
    double iqr = f->q[4] - f->q[2];
    if (iqr > 0) {
      f->outlier_hi = f->max > f->q[4] + 3 * iqr;
      f->outlier_lo = f->min < f->q[2] - 3 * iqr;
    }
  }
  return 0;
}

static int warn(csv_result *r, const char *code, uint64_t count,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int warn(csv_result *r, const char *code, uint64_t count,
                const char *fmt, ...) {
  csv_warning *w = realloc(r->warn, (r->nwarn + 1) * sizeof *w);
  if (!w) return -ENOMEM;
  r->warn = w;
  w = &r->warn[r->nwarn];
  memset(w, 0, sizeof *w);
  snprintf(w->code, sizeof w->code, "%s", code);
  w->count = count;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&w->message, fmt, ap);
  va_end(ap);
  if (n < 0) return -ENOMEM;
  r->nwarn++;
  return 0;
}

static int add_warnings(csv_result *r, const csv_doc *doc,
                        const csv_partial *all) {
  int rc = 0;
  if (doc->d.looks_binary)
    rc |= warn(r, "binary", 0,
               "the start of the file contains NUL or control bytes");
  if (doc->d.encoding == CSV_ENC_LATIN1)
    rc |= warn(r, "latin1", 0,
               "the file is not valid UTF-8; it was read as Latin-1");
  if (all->ragged) {
    char lines[256] = "";
    size_t o = 0;
    for (uint32_t i = 0; i < r->nragged_lines && o < sizeof lines - 24; i++)
      o +=
          (size_t)snprintf(lines + o, sizeof lines - o, "%s%llu", i ? ", " : "",
                           (unsigned long long)r->ragged_lines[i]);
    rc |= warn(r, "ragged_rows", all->ragged,
               "%llu row(s) do not have %zu field(s); first at line(s) %s",
               (unsigned long long)all->ragged, doc->ncols + doc->extra_cols,
               lines);
  }
  if (all->unterminated)
    rc |= warn(r, "unterminated_quote", all->unterminated,
               "a quoted field starting on line %llu is not closed before "
               "the end of the file",
               (unsigned long long)(doc->data_start_line +
                                    all->unterminated_line + 1));
  if (all->stray_quotes)
    rc |= warn(r, "stray_quote", all->stray_quotes,
               "%llu character(s) follow a closing quote inside a field",
               (unsigned long long)all->stray_quotes);
  if (all->blank_lines)
    rc |= warn(r, "blank_lines", all->blank_lines,
               "%llu blank line(s) were skipped",
               (unsigned long long)all->blank_lines);
  uint64_t bad = 0, nul = 0, coll = 0;
  for (size_t i = 0; i < r->ncols; i++) {
    bad += r->cols[i].invalid_utf8;
    nul += r->cols[i].with_nul;
    coll += (uint64_t)r->cols[i].dd_collapsed;
  }
  if (bad)
    rc |= warn(r, "invalid_utf8", bad,
               "%llu value(s) are not valid UTF-8 (shown with U+FFFD)",
               (unsigned long long)bad);
  if (nul)
    rc |= warn(r, "nul_bytes", nul, "%llu value(s) contain NUL bytes",
               (unsigned long long)nul);
  if (doc->extra_cols)
    rc |= warn(r, "too_many_columns", doc->extra_cols,
               "only the first %d columns are profiled", CSV_MAX_COLUMNS);
  if (coll)
    rc |= warn(r, "sketch_collapsed", coll,
               "%llu column(s) span more than 41 octaves: their lowest-"
               "magnitude quantiles may exceed the stated error",
               (unsigned long long)coll);
  if (r->rows == 0)
    rc |= warn(r, "no_rows", 0,
               doc->ncols ? "the file has a header but no data rows"
                          : "the file is empty");
  return rc ? -ENOMEM : 0;
}

void csv_result_free(csv_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->ncols; i++) {
    csv_colfig *f = &r->cols[i];
    free(f->name);
    for (uint32_t j = 0; j < f->ntop; j++) free(f->top[j].value);
    free(f->top);
    free(f->months);
  }
  free(r->cols);
  for (size_t i = 0; i < r->nwarn; i++) free(r->warn[i].message);
  free(r->warn);
  free(r->corr_cols);
  free(r->corr);
  free(r->corr_n);
  free(r->summary);
  free(r->name);
  free(r);
}

int csv_finish(const csv_doc *doc, const csv_partial *all, csv_result **out) {
  *out = NULL;
  if (all->ncols != doc->ncols) return -EINVAL;
  csv_result *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  int rc = -ENOMEM;
  r->name = strdup(doc->name);
  r->bytes = doc->src.size;
  r->rows = all->rows;
  r->lines = doc->data_start_line + all->lines;
  r->d = doc->d;
  r->ncols = doc->ncols;
  r->cols = calloc(doc->ncols ? doc->ncols : 1, sizeof *r->cols);
  if (!r->name || !r->cols) goto fail;
  int latin1 = doc->d.encoding == CSV_ENC_LATIN1;
  for (size_t i = 0; i < doc->ncols; i++) {
    r->cols[i].name = strdup(doc->names[i]);
    if (!r->cols[i].name) goto fail;
    if (fill_col(&r->cols[i], &all->cols[i], latin1)) goto fail;
  }
  r->ragged = all->ragged;
  r->nragged_lines = all->nragged_lines;
  for (uint32_t i = 0; i < all->nragged_lines; i++)
    r->ragged_lines[i] = doc->data_start_line + all->ragged_lines[i] + 1;
  if (add_warnings(r, doc, all)) goto fail;

  size_t idx[CSV_MAX_CORR], slots[CSV_MAX_CORR], k = 0;
  for (size_t s = 0; s < doc->ncorr; s++) {
    int t = r->cols[doc->corr[s]].type;
    if (t == CSV_T_INT || t == CSV_T_FLOAT) {
      idx[k] = doc->corr[s];
      slots[k++] = s;
    }
  }
  r->ncorr = k;
  if (k) {
    r->corr_cols = malloc(k * sizeof *r->corr_cols);
    r->corr = malloc(k * k * sizeof *r->corr);
    r->corr_n = malloc(k * k * sizeof *r->corr_n);
    if (!r->corr_cols || !r->corr || !r->corr_n) goto fail;
    size_t nc = doc->ncorr;
    for (size_t a = 0; a < k; a++) {
      r->corr_cols[a] = idx[a];
      for (size_t b = 0; b < k; b++) {
        double v = NAN;
        uint64_t n = 0;
        if (a == b) {
          n = r->cols[idx[a]].nnum;
          v = r->cols[idx[a]].std > 0 ? 1.0 : NAN;
        } else {
          size_t sa = slots[a < b ? a : b], sb = slots[a < b ? b : a];
          const csv_pair *p =
              &all->pairs[sa * (2 * nc - sa - 1) / 2 + (sb - sa - 1)];
          n = p->n;
          if (p->n > 1 && p->cxx > 0 && p->cyy > 0) {
            v = p->cxy / sqrt(p->cxx * p->cyy);
            if (v > 1) v = 1;
            if (v < -1) v = -1;
          }
        }
        r->corr[a * k + b] = v;
        r->corr_n[a * k + b] = n;
      }
    }
  }
  r->summary = csv_summarize(r);
  if (!r->summary) goto fail;
  *out = r;
  return 0;
fail:
  csv_result_free(r);
  return rc;
}

const char *csv_result_summary(const csv_result *r) {
  return r->summary;
}

int csv_result_set_summary(csv_result *r, const char *text) {
  char *s = strdup(text);
  if (!s) return -ENOMEM;
  free(r->summary);
  r->summary = s;
  return 0;
}

uint64_t csv_result_rows(const csv_result *r) {
  return r->rows;
}
