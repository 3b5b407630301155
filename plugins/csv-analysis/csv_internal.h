/*
 * csv_internal.h: types shared by the engine's files (not for plugins).
 */
#ifndef CSV_INTERNAL_H
#define CSV_INTERNAL_H

#include "csv_engine.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- byte source: a file (pread) or a borrowed buffer ---- */
typedef struct csv_src {
  int fd;                   /* -1 for memory */
  const unsigned char *mem; /* borrowed */
  uint64_t size;
} csv_src;

/** Reads up to len bytes at off; returns bytes read (0 at EOF) or -errno. */
long csv_src_read(const csv_src *s, uint64_t off, void *buf, size_t len);

/* ---- growable string buffer (csv_buf.c) ---- */
typedef struct csv_buf {
  char *p;
  size_t len, cap;
  int oom; /* sticky: an allocation failed */
} csv_buf;

void csv_buf_put(csv_buf *b, const void *p, size_t n);
void csv_buf_puts(csv_buf *b, const char *s);
void csv_buf_putc(csv_buf *b, char c);
void csv_buf_printf(csv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** A double as JSON (null when not finite), shortest round-trip form. */
void csv_buf_num(csv_buf *b, double v);
/** Bytes as valid UTF-8: Latin-1 is transcoded, invalid UTF-8 becomes
 * U+FFFD; mode 0 raw, 1 JSON string body, 2 HTML text. */
void csv_buf_text(csv_buf *b, const char *p, size_t n, int latin1, int mode);
void csv_buf_free(csv_buf *b);

/** 64-bit hash of bytes (multiply-xorshift, murmur3 finalizer). */
uint64_t csv_hash(const void *p, size_t n);

/* ---- reader (csv_reader.c) ---- */
typedef struct csv_field {
  const char *p;
  uint32_t len;
} csv_field;

/** Bytes readable past the end of any field the reader returns from its
 * buffer (not scratch): 16-byte loads at a field's start stay in bounds. */
#define CSV_READ_PAD 16

typedef struct csv_reader {
  const csv_src *src;
  char delim, quote, eol;
  int strip_cr;
  uint64_t base; /* file offset of buf[0] */
  uint64_t end;  /* records starting at or after end are not read */
  char *buf;
  size_t cap, len, pos;
  int eof;       /* buf holds the source up to its end */
  char *scratch; /* unescaped quoted records */
  size_t scap;
  csv_field *f;    /* fields of the current record */
  size_t nf;       /* stored fields (<= maxf) */
  size_t nf_total; /* fields in the record */
  size_t maxf, fcap;
  uint64_t lines;    /* physical lines consumed */
  uint64_t rec_line; /* 0-based line where the current record started */
  uint64_t blank_lines, unterminated, stray_quotes;
  int quoted; /* the current record's fields are in scratch (the next
                 quoted record overwrites them) */
  /* Optional: called before the buffer moves or grows, i.e. before fields
   * of earlier records stop being valid. */
  void (*before_fill)(void *ud);
  void *before_fill_ud;
} csv_reader;

int csv_reader_init(csv_reader *r, const csv_src *src, const csv_dialect *d,
                    uint64_t begin, uint64_t end, size_t maxf);
/** 1: a record in r->f[0..nf); 0: no more records; <0 error. */
int csv_reader_next(csv_reader *r);
static inline uint64_t csv_reader_offset(const csv_reader *r) {
  return r->base + r->pos;
}
void csv_reader_free(csv_reader *r);

/* ---- value classification (csv_types.c) ---- */
enum csv_type {
  CSV_T_INT,
  CSV_T_FLOAT,
  CSV_T_BOOL,
  CSV_T_DATE,
  CSV_T_DATETIME,
  CSV_T_TEXT,
  CSV_T_MISSING,
  CSV_T_COUNT
};
extern const char *const csv_type_names[CSV_T_COUNT];

typedef struct csv_value {
  int type;
  int bval;      /* boolean */
  double num;    /* int/float */
  int64_t secs;  /* date/datetime: seconds since 1970-01-01 UTC */
  int32_t month; /* date/datetime: year*12 + month-1 (UTC) */
} csv_value;

/** Classifies one field (trimmed of blanks). */
int csv_classify(const char *p, size_t n, char decimal, csv_value *v);
/** csv_classify() of a field already trimmed of blanks when CSV_READ_PAD
 * bytes past p + n are readable (a field from the reader's buffer or the
 * profiler's arena), faster. */
int csv_classify_padded(const char *p, size_t n, char decimal, csv_value *v);
/** Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t csv_days_from_civil(int64_t y, unsigned m, unsigned d);
void csv_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* ---- quantile sketch (csv_quantile.c): DDSketch, linear mapping ---- */
typedef struct csv_ddstore {
  uint64_t *bins;
  int32_t lo;   /* index of bins[0] */
  uint32_t n;   /* bins in use */
  uint32_t cap; /* allocated */
} csv_ddstore;

typedef struct csv_dd {
  csv_ddstore pos, neg;
  uint64_t zero, count;
  int collapsed; /* lowest bins were merged to respect the bin cap */
  int oom;
} csv_dd;

void csv_dd_add(csv_dd *s, double x);
int csv_dd_merge(csv_dd *a, const csv_dd *b);
/** Value at 0-based rank floor(q*(count-1)); NaN when empty. */
double csv_dd_quantile(const csv_dd *s, double q);
/** Same for integer-only data: when the answering bin holds exactly one
 * integer, that integer (then the answer is exact). */
double csv_dd_quantile_int(const csv_dd *s, double q);
/** Calls fn(value, count) for every non-empty bin in ascending order. */
void csv_dd_foreach(const csv_dd *s, void (*fn)(double, uint64_t, void *),
                    void *ud);
void csv_dd_free(csv_dd *s);

/* ---- distinct counter (csv_distinct.c): exact hash set, then HLL ---- */
typedef struct csv_distinct {
  uint64_t *set; /* open addressing, 0 = empty; NULL once in HLL mode */
  uint32_t used, cap;
  uint8_t *hll; /* 2^CSV_HLL_P registers once exact mode overflowed */
  int oom;
} csv_distinct;

void csv_distinct_add(csv_distinct *d, uint64_t h);
int csv_distinct_merge(csv_distinct *a, const csv_distinct *b);
double csv_distinct_estimate(const csv_distinct *d, int *exact);
void csv_distinct_free(csv_distinct *d);

/* ---- top values (csv_topk.c): Misra-Gries ---- */
#define CSV_TOPK_KEY 48
typedef struct csv_topent {
  uint64_t hash, count;
  uint32_t len; /* full length of the value */
  char key[CSV_TOPK_KEY];
} csv_topent;

typedef struct csv_topk {
  csv_topent e[CSV_TOPK];
  uint32_t n;
  uint8_t idx[4 * CSV_TOPK]; /* hash index: entry+1, 0 = empty */
  uint64_t err;              /* any count may be short by at most err */
} csv_topk;

void csv_topk_add(csv_topk *t, uint64_t h, const char *p, size_t n);
void csv_topk_merge(csv_topk *a, const csv_topk *b);
/** Sorts entries by count (desc), then key; invalidates the index. */
void csv_topk_sort(csv_topk *t);

/* ---- per-column statistics (csv_stats.c) ---- */
#define CSV_MONTHS_CAP 1024
typedef struct csv_month {
  int32_t key; /* year*12 + month-1; INT32_MIN = empty */
  uint64_t count;
} csv_month;

typedef struct csv_colstats {
  uint64_t count, missing;
  uint64_t types[CSV_T_COUNT];
  uint64_t nnum;
  double mean, m2, min, max;
  csv_dd dd;
  csv_distinct dist;
  csv_topk *top;
  uint64_t nlen, len_sum, len_min, len_max;
  double len_sumsq;
  uint64_t ndate;
  int64_t date_min, date_max;
  int date_has_time;
  csv_month *months; /* CSV_MONTHS_CAP slots */
  uint32_t nmonths;
  uint64_t months_other;
  uint64_t btrue, bfalse;
  uint64_t invalid_utf8, with_nul;
} csv_colstats;

typedef struct csv_pair {
  uint64_t n;
  double mx, my, cxx, cyy, cxy; /* central co-moments */
} csv_pair;

int csv_colstats_init(csv_colstats *c);
/* The csv_colstats_add* functions read up to CSV_READ_PAD bytes past p + n
 * (values from the reader's buffer or the profiler's arena). */
/** Adds one value (trimmed of blanks here) to c, all but the moments:
 * returns 1 when v->num is a finite number that the caller must pass to
 * csv_colstats_moments() (in the order of the values, but possibly later,
 * interleaved with other columns). */
int csv_colstats_add_value(csv_colstats *c, const char *p, size_t n,
                           const csv_dialect *d, csv_value *v);
/** What adding one value learned about it, so that the same raw bytes can
 * be added again without classifying and hashing them again. w and len
 * are the caller's key (raw bytes, zero padded); the rest is filled by
 * csv_colstats_add_seen(). */
typedef struct csv_seen {
  uint64_t w[2];
  uint32_t len;       /* raw length; UINT32_MAX for an empty slot */
  uint32_t off, tlen; /* trimmed value: raw + off, tlen bytes */
  int8_t type, bval;
  uint8_t bad, nul; /* text: invalid UTF-8, NUL byte */
  int32_t month;
  uint32_t chars;
  uint64_t hash;
  double num;
  int64_t secs;
} csv_seen;

/** csv_colstats_add_value() that also records what it learned in *s. */
int csv_colstats_add_seen(csv_colstats *c, const char *p, size_t n,
                          const csv_dialect *d, csv_value *v, csv_seen *s);
/** Adds again a value recorded by csv_colstats_add_seen() into the same
 * column (p: its raw bytes, for top values); same return and v->num. */
int csv_colstats_add_again(csv_colstats *c, const char *p, const csv_seen *s,
                           csv_value *v);
/** Welford's update of mean and M2, and min/max, by one finite number. */
static inline void csv_colstats_moments(csv_colstats *c, double x) {
  c->nnum++;
  double delta = x - c->mean;
  c->mean += delta / (double)c->nnum;
  c->m2 += delta * (x - c->mean);
  if (x < c->min) c->min = x;
  if (x > c->max) c->max = x;
}
void csv_colstats_add_missing(csv_colstats *c);
int csv_colstats_merge(csv_colstats *a, const csv_colstats *b);
void csv_colstats_free(csv_colstats *c);
void csv_pair_merge(csv_pair *a, const csv_pair *b);

/* ---- document and partials (csv_profile.c) ---- */
struct csv_doc {
  csv_src src;
  char *name;
  csv_dialect d;
  uint64_t data_start;
  uint64_t data_start_line; /* physical lines before data_start */
  size_t ncols;
  size_t extra_cols; /* columns beyond CSV_MAX_COLUMNS */
  char **names;
  size_t corr[CSV_MAX_CORR];
  size_t ncorr;
};

struct csv_partial {
  size_t ncols, ncorr;
  uint64_t begin, stop;
  uint64_t rows, lines, bytes;
  uint64_t ragged;
  uint64_t ragged_lines[CSV_RAGGED_LINES]; /* absolute 1-based */
  uint32_t nragged_lines;
  uint64_t blank_lines, unterminated, stray_quotes;
  uint64_t unterminated_line;
  csv_colstats *cols;
  csv_pair *pairs; /* ncorr*(ncorr-1)/2, row-major upper triangle */
};

/* ---- sniffing (csv_sniff.c) ---- */
/** Sniffs the dialect of sample (the first bytes of the source, BOM
 * included); opt may override. *ncols: the column count the sample
 * suggests; numeric[i]: 1 if most sample values of column i are numbers. */
int csv_sniff(const unsigned char *sample, size_t n, int at_eof,
              const csv_options *opt, csv_dialect *d, size_t *ncols,
              uint8_t numeric[CSV_MAX_COLUMNS]);

/* ---- results (csv_finish.c) ---- */
#define CSV_NQ 7
extern const double csv_qs[CSV_NQ];
extern const char *const csv_qnames[CSV_NQ];

typedef struct csv_topitem {
  char *value; /* UTF-8 */
  int truncated;
  uint64_t count;
} csv_topitem;

typedef struct csv_colfig {
  char *name;
  int type; /* csv_type; CSV_T_MISSING = all empty */
  double type_share;
  uint64_t type_counts[CSV_T_COUNT];
  uint64_t count, missing;
  double distinct;
  int distinct_exact;
  uint64_t nnum;
  double min, max, mean, std;
  double q[CSV_NQ];
  int dd_collapsed;
  uint64_t hist[CSV_HIST_BINS];
  double hist_lo, hist_hi;
  csv_topitem *top;
  uint32_t ntop;
  uint64_t top_err;
  uint64_t nlen, len_min, len_max;
  double len_mean, len_std;
  uint64_t ndate;
  int64_t date_min, date_max;
  int date_has_time;
  csv_month *months; /* sorted by key */
  uint32_t nmonths;
  uint64_t months_other;
  uint64_t btrue, bfalse;
  uint64_t invalid_utf8, with_nul;
  int outlier_hi, outlier_lo; /* extremes beyond 3 IQR from the quartiles */
} csv_colfig;

typedef struct csv_warning {
  char code[32];
  char *message;
  uint64_t count;
} csv_warning;

struct csv_result {
  char *name;
  uint64_t bytes, rows, lines;
  csv_dialect d;
  size_t ncols;
  csv_colfig *cols;
  uint64_t ragged;
  uint64_t ragged_lines[CSV_RAGGED_LINES];
  uint32_t nragged_lines;
  csv_warning *warn;
  size_t nwarn;
  size_t ncorr;
  size_t *corr_cols; /* column indexes in the matrix */
  double *corr;      /* ncorr x ncorr, NaN when undefined */
  uint64_t *corr_n;  /* pairwise complete observations */
  char *summary;
};

/** Builds the plain-language summary (csv_summary.c); malloc'ed or NULL. */
char *csv_summarize(const csv_result *r);

#endif
