/*
 * csv_report.c: report.json, every figure of the result with the error
 * bound of every approximate one. Schema: schemas/report.schema.json.
 */
#include "csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CSV_REPORT_SCHEMA "https://assistd.dev/schemas/report.schema.json"

static void jstr(csv_buf *b, const char *s) {
  csv_buf_putc(b, '"');
  csv_buf_text(b, s, strlen(s), 0, 1);
  csv_buf_putc(b, '"');
}

static void jkey(csv_buf *b, const char *k) {
  jstr(b, k);
  csv_buf_putc(b, ':');
}

static void jchar(csv_buf *b, char c) {
  char s[2] = {c, 0};
  jstr(b, s);
}

static void jdate(csv_buf *b, int64_t secs, int with_time) {
  int64_t day = secs / 86400 - (secs % 86400 < 0), y;
  unsigned m, d;
  csv_civil_from_days(day, &y, &m, &d);
  int64_t s = secs - day * 86400;
  if (with_time)
    csv_buf_printf(b, "\"%04lld-%02u-%02uT%02d:%02d:%02dZ\"", (long long)y, m,
                   d, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
  else
    csv_buf_printf(b, "\"%04lld-%02u-%02u\"", (long long)y, m, d);
}

static const char *eol_name(int e) {
  static const char *n[] = {"lf", "crlf", "cr", "mixed"};
  return e >= 0 && e < 4 ? n[e] : "lf";
}

static void column_json(csv_buf *b, const csv_colfig *f, size_t index) {
  csv_buf_printf(b, "{\"index\":%zu,", index);
  jkey(b, "name");
  jstr(b, f->name);
  csv_buf_puts(b, ",\"type\":");
  jstr(b, csv_type_names[f->type]);
  csv_buf_puts(b, ",\"type_share\":");
  csv_buf_num(b, f->type_share);
  csv_buf_puts(b, ",\"type_counts\":{");
  for (int t = 0; t < CSV_T_COUNT; t++) {
    csv_buf_printf(b, "%s\"%s\":%llu", t ? "," : "",
                   t == CSV_T_MISSING ? "missing" : csv_type_names[t],
                   (unsigned long long)f->type_counts[t]);
  }
  uint64_t nm = f->count - f->missing;
  csv_buf_printf(b, "},\"count\":%llu,\"missing\":%llu,\"missing_share\":",
                 (unsigned long long)f->count, (unsigned long long)f->missing);
  csv_buf_num(b, f->count ? (double)f->missing / (double)f->count : 0.0);
  csv_buf_puts(b, ",\"distinct\":{\"value\":");
  csv_buf_num(b, f->distinct_exact ? f->distinct : round(f->distinct));
  csv_buf_printf(b,
                 ",\"exact\":%s,\"method\":\"%s\",\"relative_standard_"
                 "error\":",
                 f->distinct_exact ? "true" : "false",
                 f->distinct_exact ? "exact" : "hyperloglog");
  csv_buf_num(b,
              f->distinct_exact ? 0.0 : 1.04 / sqrt((double)(1u << CSV_HLL_P)));
  csv_buf_puts(b, "}");

  if (f->nnum) {
    csv_buf_printf(b, ",\"numeric\":{\"count\":%llu,\"min\":",
                   (unsigned long long)f->nnum);
    csv_buf_num(b, f->min);
    csv_buf_puts(b, ",\"max\":");
    csv_buf_num(b, f->max);
    csv_buf_puts(b, ",\"mean\":");
    csv_buf_num(b, f->mean);
    csv_buf_puts(b, ",\"std\":");
    csv_buf_num(b, f->std);
    csv_buf_puts(b, ",\"quantiles\":{");
    for (int i = 0; i < CSV_NQ; i++) {
      csv_buf_printf(b, "%s\"%s\":", i ? "," : "", csv_qnames[i]);
      csv_buf_num(b, f->q[i]);
    }
    csv_buf_puts(b, "},\"quantile_error\":{\"sketch\":\"ddsketch\","
                    "\"relative_error\":");
    csv_buf_num(b, CSV_QUANTILE_ALPHA);
    csv_buf_printf(b, ",\"rank\":\"floor(q*(n-1))\",\"guaranteed\":%s},",
                   f->dd_collapsed ? "false" : "true");
    csv_buf_puts(b, "\"histogram\":{\"edges\":[");
    for (int i = 0; i <= CSV_HIST_BINS; i++) {
      if (i) csv_buf_putc(b, ',');
      csv_buf_num(b,
                  f->hist_lo + (f->hist_hi - f->hist_lo) * i / CSV_HIST_BINS);
    }
    csv_buf_puts(b, "],\"counts\":[");
    for (int i = 0; i < CSV_HIST_BINS; i++)
      csv_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)f->hist[i]);
    csv_buf_puts(b, "],\"approximate\":true,\"edge_relative_error\":");
    csv_buf_num(b, CSV_QUANTILE_ALPHA);
    csv_buf_printf(b, "},\"outliers\":{\"high\":%s,\"low\":%s}}",
                   f->outlier_hi ? "true" : "false",
                   f->outlier_lo ? "true" : "false");
  }

  csv_buf_printf(b,
                 ",\"top_values\":{\"exact\":%s,\"max_undercount\":%llu,"
                 "\"items\":[",
                 f->top_err ? "false" : "true", (unsigned long long)f->top_err);
  for (uint32_t i = 0; i < f->ntop; i++) {
    csv_buf_puts(b, i ? ",{" : "{");
    jkey(b, "value");
    jstr(b, f->top[i].value);
    csv_buf_printf(
        b, ",\"count\":%llu,\"share\":", (unsigned long long)f->top[i].count);
    csv_buf_num(b, nm ? (double)f->top[i].count / (double)nm : 0.0);
    csv_buf_printf(b, ",\"truncated\":%s}",
                   f->top[i].truncated ? "true" : "false");
  }
  csv_buf_puts(b, "]}");

  if (f->nlen) {
    csv_buf_printf(b, ",\"text_length\":{\"min\":%llu,\"max\":%llu,\"mean\":",
                   (unsigned long long)f->len_min,
                   (unsigned long long)f->len_max);
    csv_buf_num(b, f->len_mean);
    csv_buf_puts(b, ",\"std\":");
    csv_buf_num(b, f->len_std);
    csv_buf_puts(b, "}");
  }
  if (f->ndate) {
    csv_buf_printf(
        b, ",\"dates\":{\"count\":%llu,\"min\":", (unsigned long long)f->ndate);
    jdate(b, f->date_min, f->date_has_time);
    csv_buf_puts(b, ",\"max\":");
    jdate(b, f->date_max, f->date_has_time);
    csv_buf_puts(b, ",\"by_month\":[");
    for (uint32_t i = 0; i < f->nmonths; i++) {
      int32_t k = f->months[i].key;
      int32_t y = k >= 0 ? k / 12 : -((-k + 11) / 12);
      csv_buf_printf(b, "%s{\"month\":\"%04d-%02d\",\"count\":%llu}",
                     i ? "," : "", y, k - y * 12 + 1,
                     (unsigned long long)f->months[i].count);
    }
    csv_buf_printf(b, "],\"other_months\":%llu}",
                   (unsigned long long)f->months_other);
  }
  if (f->btrue || f->bfalse)
    csv_buf_printf(b, ",\"boolean\":{\"true\":%llu,\"false\":%llu}",
                   (unsigned long long)f->btrue, (unsigned long long)f->bfalse);
  csv_buf_printf(b, ",\"invalid_utf8\":%llu}",
                 (unsigned long long)f->invalid_utf8);
}

int csv_render_json(const csv_result *r, char **out, size_t *len) {
  csv_buf b = {0};
  csv_buf_puts(&b, "{\"$schema\":\"" CSV_REPORT_SCHEMA "\","
                   "\"format\":\"assistd.csv-report/1\","
                   "\"generator\":\"assistd csv-analysis " CSV_ENGINE_VERSION
                   "\",\"source\":{");
  jkey(&b, "name");
  jstr(&b, r->name);
  csv_buf_printf(&b, ",\"bytes\":%llu,\"lines\":%llu},\"dialect\":{",
                 (unsigned long long)r->bytes, (unsigned long long)r->lines);
  jkey(&b, "delimiter");
  jchar(&b, r->d.delimiter);
  csv_buf_puts(&b, ",\"quote\":");
  jchar(&b, r->d.quote);
  csv_buf_puts(&b, ",\"decimal\":");
  jchar(&b, r->d.decimal);
  csv_buf_printf(&b,
                 ",\"header\":%s,\"encoding\":\"%s\",\"bom\":%s,"
                 "\"line_ending\":\"%s\"},",
                 r->d.has_header ? "true" : "false",
                 r->d.encoding == CSV_ENC_LATIN1 ? "latin-1" : "utf-8",
                 r->d.bom ? "true" : "false", eol_name(r->d.eol));
  csv_buf_printf(&b, "\"rows\":%llu,\"columns\":%zu,",
                 (unsigned long long)r->rows, r->ncols);
  csv_buf_printf(&b, "\"ragged_rows\":{\"count\":%llu,\"first_lines\":[",
                 (unsigned long long)r->ragged);
  for (uint32_t i = 0; i < r->nragged_lines; i++)
    csv_buf_printf(&b, "%s%llu", i ? "," : "",
                   (unsigned long long)r->ragged_lines[i]);
  csv_buf_puts(&b, "]},\"warnings\":[");
  for (size_t i = 0; i < r->nwarn; i++) {
    csv_buf_puts(&b, i ? ",{" : "{");
    jkey(&b, "code");
    jstr(&b, r->warn[i].code);
    csv_buf_puts(&b, ",\"message\":");
    jstr(&b, r->warn[i].message);
    csv_buf_printf(&b, ",\"count\":%llu}",
                   (unsigned long long)r->warn[i].count);
  }
  csv_buf_puts(&b, "],\"summary\":");
  jstr(&b, r->summary ? r->summary : "");
  csv_buf_puts(&b, ",\"methods\":{\"mean_std\":\"Welford, merged with Chan et "
                   "al.; sample standard deviation (n-1)\","
                   "\"quantiles\":{\"sketch\":\"DDSketch (linear mapping)\","
                   "\"relative_error\":");
  csv_buf_num(&b, CSV_QUANTILE_ALPHA);
  csv_buf_printf(&b,
                 ",\"rank\":\"floor(q*(n-1))\"},\"distinct\":{"
                 "\"exact_up_to\":%d,\"sketch\":\"HyperLogLog\","
                 "\"registers\":%u,\"relative_standard_error\":",
                 CSV_DISTINCT_EXACT, 1u << CSV_HLL_P);
  csv_buf_num(&b, 1.04 / sqrt((double)(1u << CSV_HLL_P)));
  csv_buf_printf(&b,
                 "},\"top_values\":{\"sketch\":\"Misra-Gries\","
                 "\"counters\":%d,\"bound\":\"true count <= count + "
                 "max_undercount\"},\"histogram\":{\"bins\":%d,"
                 "\"source\":\"quantile sketch bins\"},"
                 "\"correlation\":\"Pearson, pairwise complete "
                 "observations\",\"type_share_threshold\":0.95},",
                 CSV_TOPK, CSV_HIST_BINS);
  csv_buf_puts(&b, "\"column_profiles\":[");
  for (size_t i = 0; i < r->ncols; i++) {
    if (i) csv_buf_putc(&b, ',');
    column_json(&b, &r->cols[i], i);
  }
  csv_buf_puts(&b, "],\"correlation\":{\"method\":\"pearson\",\"columns\":[");
  for (size_t a = 0; a < r->ncorr; a++) {
    if (a) csv_buf_putc(&b, ',');
    jstr(&b, r->cols[r->corr_cols[a]].name);
  }
  csv_buf_puts(&b, "],\"matrix\":[");
  for (size_t a = 0; a < r->ncorr; a++) {
    csv_buf_puts(&b, a ? ",[" : "[");
    for (size_t c = 0; c < r->ncorr; c++) {
      if (c) csv_buf_putc(&b, ',');
      csv_buf_num(&b, r->corr[a * r->ncorr + c]);
    }
    csv_buf_putc(&b, ']');
  }
  csv_buf_puts(&b, "],\"n\":[");
  for (size_t a = 0; a < r->ncorr; a++) {
    csv_buf_puts(&b, a ? ",[" : "[");
    for (size_t c = 0; c < r->ncorr; c++)
      csv_buf_printf(&b, "%s%llu", c ? "," : "",
                     (unsigned long long)r->corr_n[a * r->ncorr + c]);
    csv_buf_putc(&b, ']');
  }
  csv_buf_puts(&b, "]}}\n");
  if (b.oom) {
    csv_buf_free(&b);
    return -ENOMEM;
  }
  *out = b.p;
  if (len) *len = b.len;
  return 0;
}
