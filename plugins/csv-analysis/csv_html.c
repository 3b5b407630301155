/*
 * csv_html.c: report.html, one self-contained page (inline CSS and SVG, no
 * scripts, no external assets): summary, warnings, a table per column,
 * histograms, top-value bars and a correlation heat map. Printable.
 */
#include "csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void h(csv_buf *b, const char *s) {
  csv_buf_text(b, s, strlen(s), 0, 2);
}

static void hnum(csv_buf *b, double v) {
  if (!isfinite(v))
    csv_buf_puts(b, "&ndash;");
  else if (v == floor(v) && fabs(v) < 1e15)
    csv_buf_printf(b, "%.0f", v);
  else
    csv_buf_printf(b, "%.6g", v);
}

static void hdate(csv_buf *b, int64_t secs, int with_time) {
  int64_t day = secs / 86400 - (secs % 86400 < 0), y;
  unsigned m, d;
  csv_civil_from_days(day, &y, &m, &d);
  csv_buf_printf(b, "%04lld-%02u-%02u", (long long)y, m, d);
  if (with_time) {
    int64_t s = secs - day * 86400;
    csv_buf_printf(b, " %02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60),
                   (int)(s % 60));
  }
}

static void row(csv_buf *b, const char *k) {
  csv_buf_puts(b, "<tr><th>");
  h(b, k);
  csv_buf_puts(b, "</th><td>");
}

static void histogram_svg(csv_buf *b, const csv_colfig *f) {
  uint64_t mx = 0;
  for (int i = 0; i < CSV_HIST_BINS; i++)
    if (f->hist[i] > mx) mx = f->hist[i];
  if (!mx) return;
  const int W = 420, H = 140, pad = 20;
  double bw = (double)(W - 2 * pad) / CSV_HIST_BINS;
  csv_buf_printf(b,
                 "<figure><svg class=\"chart\" viewBox=\"0 0 %d %d\" "
                 "role=\"img\" aria-label=\"histogram\">",
                 W, H + 30);
  for (int i = 0; i < CSV_HIST_BINS; i++) {
    double hh = (double)f->hist[i] / (double)mx * H;
    csv_buf_printf(b,
                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                   "height=\"%.1f\" class=\"bar\"><title>",
                   pad + i * bw, 5 + H - hh, bw - 1, hh);
    hnum(b, f->hist_lo + (f->hist_hi - f->hist_lo) * i / CSV_HIST_BINS);
    csv_buf_puts(b, " &ndash; ");
    hnum(b, f->hist_lo + (f->hist_hi - f->hist_lo) * (i + 1) / CSV_HIST_BINS);
    csv_buf_printf(b, ": %llu</title></rect>", (unsigned long long)f->hist[i]);
  }
  csv_buf_printf(b,
                 "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                 "class=\"axis\"/>",
                 pad, H + 5, W - pad, H + 5);
  csv_buf_printf(b, "<text x=\"%d\" y=\"%d\">", pad, H + 22);
  hnum(b, f->hist_lo);
  csv_buf_printf(b, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                 W - pad, H + 22);
  hnum(b, f->hist_hi);
  csv_buf_puts(b, "</text></svg><figcaption>Histogram (approximate, from the "
                  "quantile sketch)</figcaption></figure>");
}

static void top_svg(csv_buf *b, const csv_colfig *f) {
  if (!f->ntop) return;
  const int W = 420, rowh = 18, lab = 150;
  uint64_t mx = f->top[0].count ? f->top[0].count : 1;
  csv_buf_printf(b,
                 "<figure><svg class=\"chart\" viewBox=\"0 0 %d %u\" "
                 "role=\"img\" aria-label=\"top values\">",
                 W, f->ntop * rowh + 4);
  for (uint32_t i = 0; i < f->ntop; i++) {
    double w = (double)f->top[i].count / (double)mx * (W - lab - 60);
    csv_buf_printf(b, "<text x=\"%d\" y=\"%u\" text-anchor=\"end\">", lab - 6,
                   i * rowh + 14);
    const char *v = f->top[i].value;
    size_t l = strlen(v);
    if (l > 36) {
      l = 36;
      while (l && ((unsigned char)v[l] & 0xC0) == 0x80) l--;
    }
    if (!l)
      csv_buf_puts(b, "(empty)");
    else
      csv_buf_text(b, v, l, 0, 2);
    if (l < strlen(v)) csv_buf_puts(b, "&hellip;");
    csv_buf_printf(b,
                   "</text><rect x=\"%d\" y=\"%u\" width=\"%.1f\" "
                   "height=\"%d\" class=\"bar2\"/><text x=\"%.1f\" "
                   "y=\"%u\">%llu</text>",
                   lab, i * rowh + 3, w, rowh - 4, lab + w + 4, i * rowh + 14,
                   (unsigned long long)f->top[i].count);
  }
  csv_buf_puts(b, "</svg><figcaption>Top values</figcaption></figure>");
}

static void heat_svg(csv_buf *b, const csv_result *r) {
  size_t k = r->ncorr;
  if (k < 2) return;
  const int cell = 36;
  /* Label room from the longest name (about 6 units per character at the
   * 10-unit font), so short names do not leave a blank band. */
  size_t longest = 1;
  for (size_t a = 0; a < k; a++) {
    size_t n = strlen(r->cols[r->corr_cols[a]].name);
    if (n > longest) longest = n;
  }
  int lab = (int)(longest > 22 ? 22 : longest) * 6 + 10; /* left */
  int top = lab * 87 / 100 + 6;                          /* sin 60 */
  int w = lab + (int)k * cell + 4, hgt = top + (int)k * cell + 4;
  int maxw = w * 3 / 2 < 640 ? w * 3 / 2 : 640;
  csv_buf_puts(b, "<section><h2>Correlations</h2>");
  csv_buf_printf(b,
                 "<svg class=\"heat\" viewBox=\"0 0 %d %d\" "
                 "style=\"max-width:%dpx\" role=\"img\" "
                 "aria-label=\"correlation heat map\">",
                 w, hgt, maxw);
  for (size_t a = 0; a < k; a++) {
    const char *name = r->cols[r->corr_cols[a]].name;
    csv_buf_printf(b, "<text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", lab - 4,
                   top + a * cell + cell / 2 + 4);
    h(b, name);
    csv_buf_printf(b,
                   "</text><text transform=\"translate(%zu,%d) "
                   "rotate(-60)\">",
                   lab + a * cell + cell / 2, top - 4);
    h(b, name);
    csv_buf_puts(b, "</text>");
    for (size_t c = 0; c < k; c++) {
      double v = r->corr[a * k + c];
      int red = 255, green = 255, blue = 255;
      if (isfinite(v)) {
        int t = (int)(fabs(v) * 200);
        if (v > 0)
          green = blue = 255 - t;
        else
          red = green = 255 - t;
      }
      csv_buf_printf(b,
                     "<rect x=\"%zu\" y=\"%zu\" width=\"%d\" height=\"%d\" "
                     "fill=\"rgb(%d,%d,%d)\" class=\"cell\"/>"
                     "<text x=\"%zu\" y=\"%zu\" text-anchor=\"middle\" "
                     "class=\"small\">",
                     lab + c * cell, top + a * cell, cell, cell, red, green,
                     blue, lab + c * cell + cell / 2,
                     top + a * cell + cell / 2 + 4);
      if (isfinite(v))
        csv_buf_printf(b, "%.2f", v);
      else
        csv_buf_puts(b, "&ndash;");
      csv_buf_puts(b, "</text>");
    }
  }
  csv_buf_puts(b, "</svg><p class=\"note\">Pearson r over rows where both "
                  "values are numbers; red is positive, blue negative.</p>"
                  "</section>");
}

static void column_html(csv_buf *b, const csv_colfig *f) {
  uint64_t nm = f->count - f->missing;
  csv_buf_puts(b, "<section class=\"col\"><h3>");
  h(b, f->name);
  csv_buf_puts(b, " <span class=\"type\">");
  h(b, csv_type_names[f->type]);
  csv_buf_puts(b, "</span></h3><div class=\"grid\"><table>");
  row(b, "Type share");
  csv_buf_printf(b, "%.1f%%</td></tr>", 100 * f->type_share);
  row(b, "Values");
  csv_buf_printf(b, "%llu</td></tr>", (unsigned long long)f->count);
  row(b, "Missing");
  csv_buf_printf(b, "%llu (%.1f%%)</td></tr>", (unsigned long long)f->missing,
                 f->count ? 100.0 * (double)f->missing / (double)f->count : 0);
  row(b, "Distinct");
  if (f->distinct_exact)
    csv_buf_printf(b, "%.0f</td></tr>", f->distinct);
  else
    csv_buf_printf(b,
                   "&asymp; %.0f (HyperLogLog, &plusmn;%.2f%% std. "
                   "error)</td></tr>",
                   f->distinct, 104.0 / sqrt((double)(1u << CSV_HLL_P)));
  if (f->nnum) {
    row(b, "Min / max");
    hnum(b, f->min);
    csv_buf_puts(b, " / ");
    hnum(b, f->max);
    csv_buf_puts(b, "</td></tr>");
    row(b, "Mean \xC2\xB1 std");
    hnum(b, f->mean);
    csv_buf_puts(b, " &plusmn; ");
    hnum(b, f->std);
    csv_buf_puts(b, "</td></tr>");
    for (int i = 0; i < CSV_NQ; i++) {
      row(b, csv_qnames[i]);
      hnum(b, f->q[i]);
      csv_buf_puts(b, "</td></tr>");
    }
    row(b, "Quantile error");
    csv_buf_printf(b, "&le; %.1f%% of the value%s</td></tr>",
                   100 * CSV_QUANTILE_ALPHA,
                   f->dd_collapsed ? " (not guaranteed for the smallest "
                                     "magnitudes)"
                                   : "");
  }
  if (f->nlen && f->type == CSV_T_TEXT) {
    row(b, "Length min / mean / max");
    csv_buf_printf(b, "%llu / %.1f / %llu</td></tr>",
                   (unsigned long long)f->len_min, f->len_mean,
                   (unsigned long long)f->len_max);
  }
  if (f->ndate) {
    row(b, "Date range");
    hdate(b, f->date_min, f->date_has_time);
    csv_buf_puts(b, " &ndash; ");
    hdate(b, f->date_max, f->date_has_time);
    csv_buf_puts(b, "</td></tr>");
  }
  if (f->btrue || f->bfalse) {
    row(b, "True / false");
    csv_buf_printf(b, "%llu / %llu</td></tr>", (unsigned long long)f->btrue,
                   (unsigned long long)f->bfalse);
  }
  if (f->ntop) {
    row(b, "Top values");
    csv_buf_puts(b, f->top_err ? "approximate" : "exact");
    if (f->top_err)
      csv_buf_printf(b, " (counts may be short by up to %llu)",
                     (unsigned long long)f->top_err);
    csv_buf_printf(b, ", %.0f%% of values shown</td></tr>",
                   nm ? 100.0 * (double)f->top[0].count / (double)nm : 0.0);
  }
  csv_buf_puts(b, "</table><div>");
  if (f->nnum && (f->type == CSV_T_INT || f->type == CSV_T_FLOAT))
    histogram_svg(b, f);
  if (f->type != CSV_T_MISSING) top_svg(b, f);
  if (f->nmonths > 1) {
    uint64_t mx = 0;
    for (uint32_t i = 0; i < f->nmonths; i++)
      if (f->months[i].count > mx) mx = f->months[i].count;
    const int W = 420, H = 100;
    double bw = (double)(W - 20) / f->nmonths;
    csv_buf_printf(b,
                   "<figure><svg class=\"chart\" viewBox=\"0 0 %d %d\" "
                   "role=\"img\" aria-label=\"values by month\">",
                   W, H + 10);
    for (uint32_t i = 0; i < f->nmonths; i++) {
      double hh = (double)f->months[i].count / (double)mx * H;
      int32_t k = f->months[i].key;
      int32_t y = k >= 0 ? k / 12 : -((-k + 11) / 12);
      csv_buf_printf(b,
                     "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                     "height=\"%.1f\" class=\"bar\"><title>%04d-%02d: "
                     "%llu</title></rect>",
                     10 + i * bw, 5 + H - hh, bw > 1.5 ? bw - 0.5 : bw, hh, y,
                     k - y * 12 + 1, (unsigned long long)f->months[i].count);
    }
    csv_buf_puts(b, "</svg><figcaption>Values by month</figcaption></figure>");
  }
  csv_buf_puts(b, "</div></div></section>");
}

int csv_render_html(const csv_result *r, char **out, size_t *len) {
  csv_buf b = {0};
  csv_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                   "charset=\"utf-8\"><meta name=\"viewport\" "
                   "content=\"width=device-width, initial-scale=1\"><title>");
  h(&b, r->name);
  csv_buf_puts(
      &b,
      " &ndash; data profile</title><style>"
      "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;"
      "color:#1b1f24;max-width:1000px;margin:2em auto;padding:0 1em}"
      "h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-"
      "bottom:1px solid #ccd;padding-bottom:.2em}h3{margin:.2em 0}"
      ".meta{color:#555}.summary{background:#f4f6fa;border-left:4px solid "
      "#4a6fa5;padding:.8em 1em}.warn{background:#fff6e0;border-left:4px "
      "solid #d49a00;padding:.5em 1em}"
      ".col{border:1px solid #dde;border-radius:6px;padding:.8em;margin:1em 0;"
      "break-inside:avoid;page-break-inside:avoid}"
      ".type{font-size:.7em;background:#e6ecf5;border-radius:4px;padding:2px "
      "6px;color:#345;vertical-align:middle}"
      ".grid{display:grid;grid-template-columns:minmax(260px,1fr) 1.4fr;"
      "gap:1em}table{border-collapse:collapse;width:100%}th,td{text-align:"
      "left;padding:2px 6px;border-bottom:1px solid #eee;vertical-align:top}"
      "th{font-weight:500;color:#445;white-space:nowrap}"
      "figure{margin:0 0 .6em}figcaption{font-size:.8em;color:#666}"
      "svg{width:100%;height:auto}svg text{font-size:10px;fill:#333}"
      ".bar{fill:#4a6fa5}.bar2{fill:#6a9f58}.axis{stroke:#999}"
      ".cell{stroke:#fff}.small{font-size:9px}.heat{max-width:640px}"
      ".note{font-size:.85em;color:#555}"
      "@media print{body{margin:0;max-width:none;font-size:11px}"
      ".grid{grid-template-columns:1fr 1fr}h2{break-after:avoid}}"
      "@media (max-width:700px){.grid{grid-template-columns:1fr}}"
      "</style></head><body><h1>");
  h(&b, r->name);
  csv_buf_printf(&b,
                 "</h1><p class=\"meta\">%llu rows &middot; %zu columns "
                 "&middot; %llu bytes &middot; delimiter ",
                 (unsigned long long)r->rows, r->ncols,
                 (unsigned long long)r->bytes);
  csv_buf_puts(&b, r->d.delimiter == '\t'  ? "TAB"
                   : r->d.delimiter == ',' ? "comma"
                   : r->d.delimiter == ';' ? "semicolon"
                                           : "pipe");
  csv_buf_printf(&b, " &middot; %s%s &middot; %s</p>",
                 r->d.encoding == CSV_ENC_LATIN1 ? "Latin-1" : "UTF-8",
                 r->d.bom ? " (BOM)" : "",
                 r->d.has_header ? "header row" : "no header row");
  csv_buf_puts(&b, "<h2>Summary</h2><p class=\"summary\">");
  h(&b, r->summary ? r->summary : "");
  csv_buf_puts(&b, "</p>");
  if (r->nwarn) {
    csv_buf_puts(&b, "<div class=\"warn\"><strong>Warnings</strong><ul>");
    for (size_t i = 0; i < r->nwarn; i++) {
      csv_buf_puts(&b, "<li>");
      h(&b, r->warn[i].message);
      csv_buf_puts(&b, "</li>");
    }
    csv_buf_puts(&b, "</ul></div>");
  }
  heat_svg(&b, r);
  csv_buf_puts(&b, "<h2>Columns</h2>");
  for (size_t i = 0; i < r->ncols; i++) column_html(&b, &r->cols[i]);
  csv_buf_printf(&b,
                 "<p class=\"note\">Quantiles: DDSketch, each within "
                 "%.1f%% of the true value. Distinct counts: exact up to "
                 "%d values, then HyperLogLog (&plusmn;%.2f%% std. "
                 "error). Top values: Misra&ndash;Gries with %d counters. "
                 "Generated by assistd csv-analysis " CSV_ENGINE_VERSION
                 ".</p></body></html>\n",
                 100 * CSV_QUANTILE_ALPHA, CSV_DISTINCT_EXACT,
                 104.0 / sqrt((double)(1u << CSV_HLL_P)), CSV_TOPK);
  if (b.oom) {
    csv_buf_free(&b);
    return -ENOMEM;
  }
  *out = b.p;
  if (len) *len = b.len;
  return 0;
}
