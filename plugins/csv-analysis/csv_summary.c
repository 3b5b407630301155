/*
 * csv_summary.c: a plain-language summary written from the statistics only
 * (never from raw rows): what the data is, notable columns, missing data,
 * outliers, strong correlations and parsing problems. A later LLM provider
 * may replace it (csv_result_set_summary).
 */
#include "csv_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_LISTED 6

static void put_count(csv_buf *b, uint64_t n) {
  char tmp[32], out[48];
  int l = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n);
  int o = 0;
  for (int i = 0; i < l; i++) {
    if (i && (l - i) % 3 == 0) out[o++] = ',';
    out[o++] = tmp[i];
  }
  out[o] = 0;
  csv_buf_puts(b, out);
}

static void put_num(csv_buf *b, double v) {
  if (!isfinite(v)) {
    csv_buf_puts(b, "n/a");
    return;
  }
  if (v == floor(v) && fabs(v) < 1e15)
    csv_buf_printf(b, "%.0f", v);
  else
    csv_buf_printf(b, "%.4g", v);
}

static void put_name(csv_buf *b, const char *name) {
  csv_buf_printf(b, "\xE2\x80\x9C%s\xE2\x80\x9D", name);
}

static void put_date(csv_buf *b, int64_t secs, int with_time) {
  int64_t day = secs / 86400 - (secs % 86400 < 0), y;
  unsigned m, d;
  csv_civil_from_days(day, &y, &m, &d);
  csv_buf_printf(b, "%04lld-%02u-%02u", (long long)y, m, d);
  if (with_time) {
    int64_t s = secs - day * 86400;
    csv_buf_printf(b, " %02d:%02d", (int)(s / 3600), (int)(s / 60 % 60));
  }
}

char *csv_summarize(const csv_result *r) {
  csv_buf b = {0};
  size_t nt[CSV_T_COUNT] = {0};
  for (size_t i = 0; i < r->ncols; i++) nt[r->cols[i].type]++;
  csv_buf_printf(&b, "%s has ", r->name);
  put_count(&b, r->rows);
  csv_buf_printf(&b, " row%s and %zu column%s", r->rows == 1 ? "" : "s",
                 r->ncols, r->ncols == 1 ? "" : "s");
  if (r->ncols) {
    csv_buf_puts(&b, " (");
    int first = 1;
    static const int order[] = {CSV_T_INT,    CSV_T_FLOAT,    CSV_T_BOOL,
                                CSV_T_DATE,   CSV_T_DATETIME, CSV_T_TEXT,
                                CSV_T_MISSING};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
      int t = order[k];
      if (!nt[t]) continue;
      csv_buf_printf(&b, "%s%zu %s", first ? "" : ", ", nt[t],
                     csv_type_names[t]);
      first = 0;
    }
    csv_buf_puts(&b, ")");
  }
  csv_buf_puts(&b, ".");
  if (!r->rows) {
    csv_buf_puts(&b, r->ncols ? " It has a header but no data rows."
                              : " It is empty.");
    goto warnings;
  }

  size_t listed = 0;
  for (size_t i = 0; i < r->ncols && listed < MAX_LISTED; i++) {
    const csv_colfig *f = &r->cols[i];
    if (f->type == CSV_T_INT || f->type == CSV_T_FLOAT) {
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_puts(&b, " ranges from ");
      put_num(&b, f->min);
      csv_buf_puts(&b, " to ");
      put_num(&b, f->max);
      csv_buf_puts(&b, " (median about ");
      put_num(&b, f->q[3]);
      csv_buf_puts(&b, ", mean ");
      put_num(&b, f->mean);
      csv_buf_puts(&b, ").");
      listed++;
    } else if (f->type == CSV_T_DATE || f->type == CSV_T_DATETIME) {
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_puts(&b, " covers ");
      put_date(&b, f->date_min, f->type == CSV_T_DATETIME);
      csv_buf_puts(&b, " to ");
      put_date(&b, f->date_max, f->type == CSV_T_DATETIME);
      csv_buf_printf(&b, " over %u month%s.", f->nmonths,
                     f->nmonths == 1 ? "" : "s");
      listed++;
    } else if (f->type == CSV_T_TEXT || f->type == CSV_T_BOOL) {
      uint64_t nm = f->count - f->missing;
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_printf(&b, " has %s", f->distinct_exact ? "" : "about ");
      put_count(&b, (uint64_t)llround(f->distinct));
      csv_buf_printf(&b, " distinct value%s", f->distinct == 1 ? "" : "s");
      if (f->ntop && nm && f->distinct > 1 && f->distinct < 0.5 * (double)nm) {
        csv_buf_puts(&b, "; the most common is ");
        put_name(&b, f->top[0].value);
        csv_buf_printf(&b, " (%.0f%%)",
                       100.0 * (double)f->top[0].count / (double)nm);
      }
      csv_buf_puts(&b, ".");
      listed++;
    }
  }

  int any_missing = 0, many = 0;
  for (size_t i = 0; i < r->ncols; i++) {
    const csv_colfig *f = &r->cols[i];
    if (!f->missing) continue;
    any_missing = 1;
    double share = (double)f->missing / (double)f->count;
    if (share >= 0.05) {
      if (!many) csv_buf_puts(&b, " Missing data:");
      csv_buf_printf(&b, "%s ", many ? "," : "");
      put_name(&b, f->name);
      csv_buf_printf(&b, " is empty in %.0f%% of rows", 100.0 * share);
      many++;
    }
  }
  if (many)
    csv_buf_puts(&b, ".");
  else
    csv_buf_puts(&b, any_missing ? " Every column is at least 95% complete."
                                 : " No values are missing.");

  for (size_t i = 0; i < r->ncols; i++) {
    const csv_colfig *f = &r->cols[i];
    uint64_t nm = f->count - f->missing;
    if (f->type == CSV_T_MISSING) {
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_puts(&b, " is always empty.");
    } else if (f->distinct_exact && f->distinct == 1 && nm > 1) {
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_puts(&b, " has a single value.");
    } else if (nm >= 100 && f->distinct >= 0.98 * (double)nm &&
               (f->type == CSV_T_INT || f->type == CSV_T_TEXT)) {
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_puts(&b, " looks like an identifier (almost every value is "
                       "unique).");
    }
    if (f->outlier_hi || f->outlier_lo) {
      csv_buf_puts(&b, " ");
      put_name(&b, f->name);
      csv_buf_puts(&b, " has outliers: ");
      if (f->outlier_hi) {
        csv_buf_puts(&b, "a maximum of ");
        put_num(&b, f->max);
        csv_buf_puts(&b, " against a 99th percentile of ");
        put_num(&b, f->q[6]);
      }
      if (f->outlier_lo) {
        csv_buf_puts(&b, f->outlier_hi ? "; a minimum of " : "a minimum of ");
        put_num(&b, f->min);
        csv_buf_puts(&b, " against a 1st percentile of ");
        put_num(&b, f->q[0]);
      }
      csv_buf_puts(&b, ".");
    }
  }

  int strong = 0;
  for (size_t a = 0; a < r->ncorr; a++)
    for (size_t c = a + 1; c < r->ncorr; c++) {
      double v = r->corr[a * r->ncorr + c];
      if (!isfinite(v) || fabs(v) < 0.7 || strong >= MAX_LISTED) continue;
      csv_buf_puts(&b, " ");
      put_name(&b, r->cols[r->corr_cols[a]].name);
      csv_buf_puts(&b, " and ");
      put_name(&b, r->cols[r->corr_cols[c]].name);
      csv_buf_printf(&b, " are strongly %s correlated (r = %.2f).",
                     v > 0 ? "positively" : "negatively", v);
      strong++;
    }
  if (!strong && r->ncorr > 1)
    csv_buf_puts(&b, " No two numeric columns are strongly correlated "
                     "(|r| < 0.7).");

warnings:
  for (size_t i = 0; i < r->nwarn; i++) {
    const csv_warning *w = &r->warn[i];
    if (!strcmp(w->code, "no_rows")) continue;
    csv_buf_printf(&b, " Note: %s.", w->message);
  }
  if (b.oom) {
    csv_buf_free(&b);
    return NULL;
  }
  return b.p;
}
