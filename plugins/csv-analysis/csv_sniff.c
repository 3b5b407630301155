/*
 * csv_sniff.c: dialect detection from the first bytes of a file.
 *
 * Encoding: a UTF-8 BOM is skipped; a sample that is not valid UTF-8 is read
 * as Latin-1 (transcoded to UTF-8 on output). Line ends: LF (a CR before it
 * is stripped), or CR alone when the sample has no LF. Quote: '"' unless the
 * sample has none and single quotes enclose fields. Delimiter: each of
 * , ; TAB | tokenizes the sample with the real reader; the one whose records
 * most often share one field count (> 1) wins, ties to the larger count,
 * then to the order above. Decimal comma: with a non-comma delimiter, when
 * the sample has digit,digit and never digit.digit. Header: each column
 * votes; a first-row cell that is text above numbers/dates/booleans votes
 * yes, one of the column's own type votes no, a text cell repeated below
 * votes no; with no votes, a first row of distinct non-empty text cells is
 * a header.
 */
#include "csv_internal.h"

#include <errno.h>
#include <stdlib.h>

#define SNIFF_RECORDS 200

static int valid_utf8(const unsigned char *p, size_t n, int at_eof) {
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    size_t len = b >= 0xC2 && b <= 0xDF   ? 2
                 : b >= 0xE0 && b <= 0xEF ? 3
                 : b >= 0xF0 && b <= 0xF4 ? 4
                                          : 0;
    if (!len) return 0;
    if (i + len > n) return !at_eof; /* cut by the sample's end */
    for (size_t j = 1; j < len; j++)
      if ((p[i + j] & 0xC0) != 0x80) return 0;
    i += len;
  }
  return 1;
}

/* Field counts of the sample's records under a dialect; returns records. */
static size_t count_fields(const unsigned char *p, size_t n, int at_eof,
                           const csv_dialect *d, size_t *counts, size_t max) {
  csv_src src = {-1, p, n};
  csv_reader r;
  if (csv_reader_init(&r, &src, d, 0, n, 1)) return 0;
  size_t k = 0;
  while (k < max && csv_reader_next(&r) > 0) {
    if (!at_eof && r.eof && r.pos >= r.len) break; /* maybe cut */
    counts[k++] = r.nf_total;
  }
  csv_reader_free(&r);
  return k;
}

static void mode_of(const size_t *c, size_t k, size_t *mode, size_t *freq) {
  *mode = 0;
  *freq = 0;
  for (size_t i = 0; i < k; i++) {
    size_t f = 0;
    for (size_t j = 0; j < k; j++) f += c[j] == c[i];
    if (f > *freq || (f == *freq && c[i] > *mode)) {
      *freq = f;
      *mode = c[i];
    }
  }
}

static char sniff_quote(const unsigned char *p, size_t n) {
  if (memchr(p, '"', n)) return '"';
  size_t opens = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (p[i] != '\'') continue;
    if (i == 0 || (p[i - 1] && strchr(",;\t|\n", p[i - 1]))) opens++;
  }
  return opens >= 2 ? '\'' : '"';
}

static char sniff_decimal(const unsigned char *p, size_t n, char delim) {
  if (delim == ',') return '.';
  size_t comma = 0, dot = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    if ((unsigned)(p[i - 1] - '0') < 10 && (unsigned)(p[i + 1] - '0') < 10) {
      comma += p[i] == ',';
      dot += p[i] == '.';
    }
  }
  return comma && !dot ? ',' : '.';
}

static int same_kind(int a, int b) {
  if (a == CSV_T_FLOAT) a = CSV_T_INT;
  if (b == CSV_T_FLOAT) b = CSV_T_INT;
  if (a == CSV_T_DATETIME) a = CSV_T_DATE;
  if (b == CSV_T_DATETIME) b = CSV_T_DATE;
  return a == b;
}

/* Header vote and numeric columns from the sample's records. */
static int sniff_columns(const unsigned char *p, size_t n, int at_eof,
                         const csv_dialect *d, int want_header, size_t *ncols,
                         uint8_t *numeric) {
  csv_src src = {-1, p, n};
  csv_reader r;
  if (csv_reader_init(&r, &src, d, 0, n, CSV_MAX_COLUMNS)) return -ENOMEM;
  size_t nc = 0;
  char **first = NULL;
  int *first_t = NULL;
  uint32_t(*tc)[CSV_T_COUNT] = NULL;
  uint8_t *repeated = NULL;
  size_t rows = 0;
  int rc = 0;
  while (rows < SNIFF_RECORDS && csv_reader_next(&r) > 0) {
    if (!at_eof && r.eof && r.pos >= r.len && rows > 0) break;
    if (rows == 0) {
      nc = r.nf;
      first = calloc(nc, sizeof *first);
      first_t = calloc(nc, sizeof *first_t);
      tc = calloc(nc, sizeof *tc);
      repeated = calloc(nc, 1);
      if (!first || !first_t || !tc || !repeated) {
        rc = -ENOMEM;
        goto done;
      }
      for (size_t i = 0; i < nc; i++) {
        first[i] = strndup(r.f[i].p, r.f[i].len);
        if (!first[i]) {
          rc = -ENOMEM;
          goto done;
        }
        csv_value v;
        first_t[i] = csv_classify(r.f[i].p, r.f[i].len, d->decimal, &v);
      }
    } else {
      for (size_t i = 0; i < nc && i < r.nf; i++) {
        csv_value v;
        tc[i][csv_classify(r.f[i].p, r.f[i].len, d->decimal, &v)]++;
        if (r.f[i].len == strlen(first[i]) &&
            memcmp(r.f[i].p, first[i], r.f[i].len) == 0)
          repeated[i] = 1;
      }
    }
    rows++;
  }
  int header = 0;
  if (rows == 1) {
    header = nc > 0;
    for (size_t i = 0; i < nc; i++)
      if (first_t[i] != CSV_T_TEXT) header = 0;
  } else if (rows > 1) {
    int score = 0;
    for (size_t i = 0; i < nc; i++) {
      uint32_t best = 0, total = 0;
      int kind = CSV_T_TEXT;
      uint32_t num = tc[i][CSV_T_INT] + tc[i][CSV_T_FLOAT];
      uint32_t dat = tc[i][CSV_T_DATE] + tc[i][CSV_T_DATETIME];
      total = num + dat + tc[i][CSV_T_BOOL] + tc[i][CSV_T_TEXT];
      if (num > best) best = num, kind = CSV_T_INT;
      if (dat > best) best = dat, kind = CSV_T_DATE;
      if (tc[i][CSV_T_BOOL] > best) best = tc[i][CSV_T_BOOL], kind = CSV_T_BOOL;
      if (tc[i][CSV_T_TEXT] >= best) kind = CSV_T_TEXT;
      if (!total || first_t[i] == CSV_T_MISSING) continue;
      if (kind != CSV_T_TEXT) {
        score += first_t[i] == CSV_T_TEXT      ? 1
                 : same_kind(first_t[i], kind) ? -1
                                               : 0;
      } else if (repeated[i]) {
        score--;
      }
    }
    if (score > 0) {
      header = 1;
    } else if (score == 0) {
      header = nc > 0;
      for (size_t i = 0; i < nc && header; i++) {
        if (first_t[i] != CSV_T_TEXT) header = 0;
        for (size_t j = 0; j < i && header; j++)
          if (!strcmp(first[i], first[j])) header = 0;
      }
    }
  }
  if (want_header >= 0) header = want_header;
  for (size_t i = 0; i < nc; i++) {
    uint32_t num = tc[i][CSV_T_INT] + tc[i][CSV_T_FLOAT];
    uint32_t other = tc[i][CSV_T_BOOL] + tc[i][CSV_T_DATE] +
                     tc[i][CSV_T_DATETIME] + tc[i][CSV_T_TEXT];
    if (!header && (first_t[i] == CSV_T_INT || first_t[i] == CSV_T_FLOAT))
      num++;
    numeric[i] = num > 0 && num >= other;
  }
  *ncols = nc;
  rc = header;
done:
  if (first)
    for (size_t i = 0; i < nc; i++) free(first[i]);
  free(first);
  free(first_t);
  free(tc);
  free(repeated);
  csv_reader_free(&r);
  return rc;
}

int csv_sniff(const unsigned char *p, size_t n, int at_eof,
              const csv_options *opt, csv_dialect *d, size_t *ncols,
              uint8_t numeric[CSV_MAX_COLUMNS]) {
  memset(d, 0, sizeof *d);
  memset(numeric, 0, CSV_MAX_COLUMNS);
  *ncols = 0;
  if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
    d->bom = 1;
    p += 3;
    n -= 3;
  }
  size_t ctl = 0, nul = 0;
  for (size_t i = 0; i < n; i++) {
    nul += p[i] == 0;
    ctl += p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t';
  }
  d->looks_binary = (nul >= 4 && nul * 100 > n) || (ctl >= 4 && ctl * 20 > n);
  if (opt && opt->encoding >= 0)
    d->encoding = opt->encoding;
  else
    d->encoding = valid_utf8(p, n, at_eof) ? CSV_ENC_UTF8 : CSV_ENC_LATIN1;

  size_t lf = 0, crlf = 0, cr = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n') {
      if (i && p[i - 1] == '\r')
        crlf++;
      else
        lf++;
    } else if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n')) {
      cr += i + 1 < n;
    }
  }
  d->eol = (lf || crlf) ? (lf && crlf ? CSV_EOL_MIXED
                           : crlf     ? CSV_EOL_CRLF
                                      : CSV_EOL_LF)
           : cr         ? CSV_EOL_CR
                        : CSV_EOL_LF;

  d->quote = opt && opt->quote ? opt->quote : sniff_quote(p, n);
  static const char cands[] = ",;\t|";
  size_t *counts = malloc(SNIFF_RECORDS * sizeof *counts);
  if (!counts) return -ENOMEM;
  if (opt && opt->delimiter) {
    d->delimiter = opt->delimiter;
  } else {
    double best = -1.0;
    size_t best_mode = 0;
    int win = 0;
    for (int c = 0; c < 4; c++) {
      d->delimiter = cands[c];
      size_t k = count_fields(p, n, at_eof, d, counts, SNIFF_RECORDS);
      size_t mode, freq;
      mode_of(counts, k, &mode, &freq);
      double score = k && mode > 1 ? (double)freq / (double)k : 0.0;
      if (score > best || (score == best && mode > best_mode)) {
        best = score;
        best_mode = mode;
        win = c;
      }
    }
    d->delimiter = cands[win];
  }
  free(counts);
  d->decimal = sniff_decimal(p, n, d->delimiter);
  int want = opt ? opt->has_header : -1;
  int h = sniff_columns(p, n, at_eof, d, want, ncols, numeric);
  if (h < 0) return h;
  d->has_header = h;
  return 0;
}
