/*
 * csv_profile.c: opening a dataset, planning chunks, profiling one chunk into
 * a mergeable partial, merging partials and proving the chunk boundaries.
 *
 * Chunking is speculative: boundaries are placed right after a newline near
 * i/n of the data. A chunk's reader starts at its begin and reads every
 * record that starts before its end, finishing a record that runs past the
 * end. If chunk i began on a true record boundary, its records are the true
 * records, so its stop offset equals its end exactly when that end is a true
 * boundary too (by induction from the first chunk, which starts at the data
 * start). csv_plan_verify() checks this; when a newline inside a quoted
 * field fooled the planner, the chunks after the first bad one are thrown
 * away and re-planned from where the last good one stopped.
 *
 * Correlation co-moments: within a chunk, pairwise sums of values shifted by
 * the column's first value in the chunk (the shifted-data algorithm, no
 * division per row); at the chunk's end they become central co-moments,
 * which merge by Chan's formula.
 */
#include "csv_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAMPLE_BYTES (64u << 10)
#define CHECK_ROWS 4096

void csv_options_init(csv_options *o) {
  memset(o, 0, sizeof *o);
  o->has_header = -1;
  o->encoding = -1;
}

static char *name_of(const char *p, size_t n, int latin1) {
  csv_buf b = {0};
  csv_buf_text(&b, p, n, latin1, 0);
  if (b.oom) {
    csv_buf_free(&b);
    return NULL;
  }
  if (!b.p) return strdup("");
  return b.p;
}

static int doc_init(csv_doc *doc, const csv_options *opt) {
  size_t n =
      doc->src.size < SAMPLE_BYTES ? (size_t)doc->src.size : SAMPLE_BYTES;
  unsigned char *sample = malloc(n ? n : 1);
  if (!sample) return -ENOMEM;
  long got = csv_src_read(&doc->src, 0, sample, n);
  if (got < 0) {
    free(sample);
    return (int)got;
  }
  uint8_t numeric[CSV_MAX_COLUMNS];
  size_t ncols = 0;
  int rc = csv_sniff(sample, (size_t)got, (uint64_t)got >= doc->src.size, opt,
                     &doc->d, &ncols, numeric);
  free(sample);
  if (rc) return rc;
  if (doc->d.looks_binary && !(opt && opt->allow_binary)) return -EILSEQ;
  uint64_t start = doc->d.bom ? 3 : 0;
  doc->data_start = start;
  int latin1 = doc->d.encoding == CSV_ENC_LATIN1;
  if (doc->d.has_header) {
    csv_reader r;
    rc = csv_reader_init(&r, &doc->src, &doc->d, start, doc->src.size,
                         CSV_MAX_COLUMNS);
    if (rc) return rc;
    rc = csv_reader_next(&r);
    if (rc < 0) {
      csv_reader_free(&r);
      return rc;
    }
    if (rc == 0) {
      doc->d.has_header = 0;
      ncols = 0;
    } else {
      ncols = r.nf;
      doc->extra_cols = r.nf_total - r.nf;
      doc->names = calloc(ncols ? ncols : 1, sizeof *doc->names);
      if (!doc->names) {
        csv_reader_free(&r);
        return -ENOMEM;
      }
      for (size_t i = 0; i < ncols; i++) {
        doc->names[i] = name_of(r.f[i].p, r.f[i].len, latin1);
        if (!doc->names[i]) {
          csv_reader_free(&r);
          return -ENOMEM;
        }
      }
      doc->data_start = csv_reader_offset(&r);
      doc->data_start_line = r.lines;
    }
    csv_reader_free(&r);
  }
  if (ncols > CSV_MAX_COLUMNS) {
    doc->extra_cols += ncols - CSV_MAX_COLUMNS;
    ncols = CSV_MAX_COLUMNS;
  }
  doc->ncols = ncols;
  if (!doc->names) {
    doc->names = calloc(ncols ? ncols : 1, sizeof *doc->names);
    if (!doc->names) return -ENOMEM;
  }
  for (size_t i = 0; i < ncols; i++) {
    int dup = 0;
    if (doc->names[i] && doc->names[i][0]) {
      for (size_t j = 0; j < i && !dup; j++)
        dup = !strcmp(doc->names[i], doc->names[j]);
      if (!dup) continue;
    }
    char tmp[64];
    if (dup)
      snprintf(tmp, sizeof tmp, "_%zu", i + 1);
    else
      snprintf(tmp, sizeof tmp, "column_%zu", i + 1);
    size_t l = doc->names[i] && dup ? strlen(doc->names[i]) : 0;
    char *nn = malloc(l + strlen(tmp) + 1);
    if (!nn) return -ENOMEM;
    if (l) memcpy(nn, doc->names[i], l);
    strcpy(nn + l, tmp);
    free(doc->names[i]);
    doc->names[i] = nn;
  }
  for (size_t i = 0; i < ncols && doc->ncorr < CSV_MAX_CORR; i++)
    if (numeric[i]) doc->corr[doc->ncorr++] = i;
  return 0;
}

static int doc_finish_open(csv_doc *doc, const csv_options *opt,
                           csv_doc **out) {
  int rc = doc_init(doc, opt);
  if (rc) {
    csv_doc_free(doc);
    return rc;
  }
  *out = doc;
  return 0;
}

int csv_doc_open_file(const char *path, const csv_options *opt, csv_doc **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return -EINVAL;
  }
  csv_doc *doc = calloc(1, sizeof *doc);
  if (!doc) {
    close(fd);
    return -ENOMEM;
  }
  doc->src.fd = fd;
  doc->src.size = (uint64_t)st.st_size;
  const char *base = strrchr(path, '/');
  doc->name = strdup(base ? base + 1 : path);
  if (!doc->name) {
    csv_doc_free(doc);
    return -ENOMEM;
  }
  return doc_finish_open(doc, opt, out);
}

int csv_doc_open_mem(const void *data, size_t len, const csv_options *opt,
                     csv_doc **out) {
  *out = NULL;
  csv_doc *doc = calloc(1, sizeof *doc);
  if (!doc) return -ENOMEM;
  doc->src.fd = -1;
  doc->src.mem = data;
  doc->src.size = len;
  doc->name = strdup("data.csv");
  if (!doc->name) {
    csv_doc_free(doc);
    return -ENOMEM;
  }
  return doc_finish_open(doc, opt, out);
}

void csv_doc_free(csv_doc *doc) {
  if (!doc) return;
  if (doc->src.fd >= 0) close(doc->src.fd);
  if (doc->names)
    for (size_t i = 0; i < doc->ncols; i++) free(doc->names[i]);
  free(doc->names);
  free(doc->name);
  free(doc);
}

const csv_dialect *csv_doc_dialect(const csv_doc *doc) {
  return &doc->d;
}
size_t csv_doc_ncols(const csv_doc *doc) {
  return doc->ncols;
}
const char *csv_doc_colname(const csv_doc *doc, size_t i) {
  return i < doc->ncols ? doc->names[i] : NULL;
}
uint64_t csv_doc_size(const csv_doc *doc) {
  return doc->src.size;
}
uint64_t csv_doc_data_start(const csv_doc *doc) {
  return doc->data_start;
}

int csv_doc_set_name(csv_doc *doc, const char *name) {
  char *n = strdup(name);
  if (!n) return -ENOMEM;
  free(doc->name);
  doc->name = n;
  return 0;
}

/* Offset right after the first newline at or after off (or the size). */
static int next_boundary(const csv_doc *doc, uint64_t off, uint64_t *out) {
  char eol = doc->d.eol == CSV_EOL_CR ? '\r' : '\n';
  char buf[16384];
  while (off < doc->src.size) {
    long n = csv_src_read(&doc->src, off, buf, sizeof buf);
    if (n < 0) return (int)n;
    if (n == 0) break;
    char *nl = memchr(buf, eol, (size_t)n);
    if (nl) {
      *out = off + (uint64_t)(nl - buf) + 1;
      return 0;
    }
    off += (uint64_t)n;
  }
  *out = doc->src.size;
  return 0;
}

int csv_plan(const csv_doc *doc, uint64_t from, unsigned n, uint64_t min_bytes,
             csv_chunk *out, unsigned *nout) {
  uint64_t size = doc->src.size;
  if (from < doc->data_start) from = doc->data_start;
  if (from > size) from = size;
  if (!n) n = 1;
  if (!min_bytes) min_bytes = 4u << 20;
  uint64_t total = size - from;
  unsigned k = n;
  while (k > 1 && total / k < min_bytes) k--;
  unsigned m = 0;
  uint64_t begin = from;
  for (unsigned i = 1; i < k; i++) {
    uint64_t b;
    int rc = next_boundary(doc, from + total / k * i - 1, &b);
    if (rc) return rc;
    if (b <= begin || b >= size) continue;
    out[m].begin = begin;
    out[m].end = b;
    out[m].index = m;
    m++;
    begin = b;
  }
  out[m].begin = begin;
  out[m].end = size;
  out[m].index = m;
  *nout = m + 1;
  return 0;
}

static csv_partial *partial_new(const csv_doc *doc) {
  csv_partial *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->ncols = doc->ncols;
  p->ncorr = doc->ncorr;
  p->cols = calloc(doc->ncols ? doc->ncols : 1, sizeof *p->cols);
  size_t np = doc->ncorr * (doc->ncorr ? doc->ncorr - 1 : 0) / 2;
  p->pairs = calloc(np ? np : 1, sizeof *p->pairs);
  if (!p->cols || !p->pairs) {
    free(p->cols);
    free(p->pairs);
    free(p);
    return NULL;
  }
  for (size_t i = 0; i < doc->ncols; i++) csv_colstats_init(&p->cols[i]);
  return p;
}

void csv_partial_free(csv_partial *p) {
  if (!p) return;
  for (size_t i = 0; i < p->ncols; i++) csv_colstats_free(&p->cols[i]);
  free(p->cols);
  free(p->pairs);
  free(p);
}

uint64_t csv_partial_stop(const csv_partial *p) {
  return p->stop;
}

void csv_partial_counts(const csv_partial *p, uint64_t *bytes, uint64_t *rows) {
  if (bytes) *bytes = p ? p->bytes : 0;
  if (rows) *rows = p ? p->rows : 0;
}

/* Pairwise sums of one chunk, for pair (a, b) at [a * vs + b] of each
 * array (vs: the batch's row stride, b < vs; slots past the last column
 * collect zeros and are ignored). */
typedef struct shifted {
  int64_t *n;
  double *sx, *sy, *sxx, *syy, *sxy;
} shifted;

static int cancelled(const atomic_int *cancel) {
  return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

/* Records are gathered into a batch of up to cap rows and profiled a column
 * at a time, so one column's statistics (sketch bins, hash sets, counters)
 * stay in cache while its values of the whole batch go in. Every column
 * still sees its values in row order, and every correlation pair its rows
 * in order: the results are the same as row at a time. Fields point into
 * the reader's buffer (the batch is flushed before the reader moves it) or,
 * for quoted records, into the batch's arena. */
#define BATCH_CELLS 8192
#define BATCH_MAX_ROWS 1024
#define ARENA_MIN (64u << 10)

/* Per column, a direct-mapped memo of recent short values (raw bytes, up
 * to 16) and what adding them learned: a value seen again skips its
 * classification, hashing and distinct insert (csv_colstats_add_again).
 * Results do not depend on it. A column where the memo rarely hits (many
 * distinct values) stops using it for a while, then tries again. (A
 * second, 4096-slot memo for columns of a few thousand values, such as
 * dates, ran fewer instructions but took more CPU time on the file of
 * tests/bench/csv_gen.c; it won only where such columns dominate.) */
#define MEMO_BITS 8
#define MEMO_MAXLEN 16
#define MEMO_WINDOW 4096    /* lookups before judging the hit rate */
#define MEMO_BACKOFF 262144 /* values without the memo after a poor window */

typedef struct memo {
  csv_seen *e; /* 2^MEMO_BITS slots, allocated on first use */
  uint32_t tries, hits;
  uint64_t skip;
} memo;

static inline uint64_t low_bytes(uint64_t w, size_t n) {
  if (n >= 8) return w;
  if (n == 0) return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return w & (~0ULL << (64 - 8 * n));
#else
  return w & ((1ULL << (8 * n)) - 1);
#endif
}

/* Adds one field of column c through its memo; same result as
 * csv_colstats_add_value(). */
static inline int memo_add(memo *m, csv_colstats *cs, const char *p, size_t n,
                           const csv_dialect *d, csv_value *v) {
  uint64_t a, b;
  memcpy(&a, p, 8); /* in bounds: CSV_READ_PAD */
  memcpy(&b, p + 8, 8);
  a = low_bytes(a, n);
  b = n > 8 ? low_bytes(b, n - 8) : 0;
  uint64_t h = (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC2B2AE3D27D4EB4FULL) ^ n;
  h ^= h >> 29;
  csv_seen *e = &m->e[(h * 0xBF58476D1CE4E5B9ULL) >> (64 - MEMO_BITS)];
  m->tries++;
  if (e->len == n && e->w[0] == a && e->w[1] == b) {
    m->hits++;
    return csv_colstats_add_again(cs, p, e, v);
  }
  e->w[0] = a;
  e->w[1] = b;
  e->len = (uint32_t)n;
  return csv_colstats_add_seen(cs, p, n, d, v, e);
}

/* Whether column c uses its memo for the next n values. */
static int memo_use(memo *m, size_t n) {
  if (m->skip) {
    m->skip = m->skip > n ? m->skip - n : 0;
    return 0;
  }
  if (m->tries >= MEMO_WINDOW) {
    int poor = m->hits < m->tries / 4;
    m->tries = m->hits = 0;
    if (poor) {
      free(m->e);
      m->e = NULL;
      m->skip = MEMO_BACKOFF;
      return 0;
    }
  }
  if (!m->e) {
    size_t slots = (size_t)1 << MEMO_BITS;
    m->e = malloc(slots * sizeof *m->e);
    if (!m->e) return 0;
    for (size_t i = 0; i < slots; i++) m->e[i].len = UINT32_MAX;
  }
  return 1;
}

typedef struct batch {
  const csv_doc *doc;
  csv_partial *p;
  size_t nc, ncorr, cap, n;
  csv_field *f;          /* column-major: f[c * cap + row] */
  uint32_t *nf;          /* fields stored in each row */
  size_t vs;             /* row stride of val and ok: 4k, >= ncorr + 3 */
  int avx2;              /* pair sums four at a time */
  double *val;           /* cap x vs: value minus the column's shift, or 0 */
  uint64_t *ok;          /* cap x vs: all ones if val holds a number, or 0 */
  double *num;           /* nc x cap: finite numbers of each column, in order */
  csv_colstats **numcol; /* the columns whose numbers are in num */
  uint32_t *numn;        /* how many numbers each has */
  char *arena;           /* unescaped fields of quoted records */
  size_t alen, acap;
  const int *slot; /* correlation slot of each column, or -1 */
  memo *memo;      /* nc */
  shifted sh;
  double shift[CSV_MAX_CORR];
  int has_shift[CSV_MAX_CORR];
} batch;

/* Correlation sums of pairs over the batch's rows, several pairs (a, b)
 * with the same a per vector. A row where either value is missing adds
 * +0.0 to each sum (both values read as +0.0): that leaves a sum unchanged,
 * since a sum that starts at +0.0 is never -0.0. So every pair's sums see
 * exactly the additions of the scalar loop, in row order (slots past the
 * last column sum zeros). The pair counts are added by pair_counts().
 * PAIR_ROWS(name, W, attr): name(x, a, b, i0, i1) adds rows [i0, i1) to
 * pairs (a, b) .. (a, b + W - 1), a vector of W doubles (x - 0.0 is x, so
 * subtracting a zero vector broadcasts a value unchanged). The batch's
 * rows go PAIR_TILE at a time through all pairs, so that the rows being
 * read stay in the L1 cache. */
#define PAIR_TILE 128
#define PAIR_ROWS(name, W, attr)                                               \
  typedef double name##_vd __attribute__((vector_size(8 * W)));                \
  typedef long long name##_vi __attribute__((vector_size(8 * W)));             \
  static inline attr void name(const batch *x, size_t a, size_t b, size_t i0,  \
                               size_t i1) {                                    \
    const size_t vs = x->vs, o = a * vs + b;                                   \
    const shifted *q = &x->sh;                                                 \
    name##_vd sx, sy, sxx, syy, sxy;                                           \
    memcpy(&sx, q->sx + o, sizeof sx);                                         \
    memcpy(&sy, q->sy + o, sizeof sy);                                         \
    memcpy(&sxx, q->sxx + o, sizeof sxx);                                      \
    memcpy(&syy, q->syy + o, sizeof syy);                                      \
    memcpy(&sxy, q->sxy + o, sizeof sxy);                                      \
    for (size_t i = i0; i < i1; i++) {                                         \
      const double *row = x->val + i * vs;                                     \
      const uint64_t *okr = x->ok + i * vs;                                    \
      name##_vd xv = row[a] - (name##_vd){0};                                  \
      name##_vi ma = (long long)okr[a] - (name##_vi){0};                       \
      name##_vd y;                                                             \
      name##_vi mb;                                                            \
      memcpy(&y, row + b, sizeof y);                                           \
      memcpy(&mb, okr + b, sizeof mb);                                         \
      name##_vd xe = (name##_vd)((name##_vi)xv & mb);                          \
      name##_vd ye = (name##_vd)((name##_vi)y & ma);                           \
      sx += xe;                                                                \
      sy += ye;                                                                \
      sxx += xe * xe;                                                          \
      syy += ye * ye;                                                          \
      sxy += xe * ye;                                                          \
    }                                                                          \
    memcpy(q->sx + o, &sx, sizeof sx);                                         \
    memcpy(q->sy + o, &sy, sizeof sy);                                         \
    memcpy(q->sxx + o, &sxx, sizeof sxx);                                      \
    memcpy(q->syy + o, &syy, sizeof syy);                                      \
    memcpy(q->sxy + o, &sxy, sizeof sxy);                                      \
  }

PAIR_ROWS(pair_rows2, 2, __attribute__((always_inline)))

static void pair_sums2(const batch *x) {
  for (size_t i0 = 0; i0 < x->n; i0 += PAIR_TILE) {
    size_t i1 = x->n - i0 > PAIR_TILE ? i0 + PAIR_TILE : x->n;
    for (size_t a = 0; a + 1 < x->ncorr; a++)
      for (size_t b = a + 1; b < x->ncorr; b += 2) pair_rows2(x, a, b, i0, i1);
  }
}

/* The same four pairs per vector on x86-64 CPUs with AVX2 (the same IEEE
 * operations per pair: no fused multiply-add). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CSV_NO_SIMD)
#define CSV_PAIRS_AVX2 1
PAIR_ROWS(pair_rows4, 4, __attribute__((always_inline, target("avx2"))))

__attribute__((target("avx2"))) static void pair_sums4(const batch *x) {
  for (size_t i0 = 0; i0 < x->n; i0 += PAIR_TILE) {
    size_t i1 = x->n - i0 > PAIR_TILE ? i0 + PAIR_TILE : x->n;
    for (size_t a = 0; a + 1 < x->ncorr; a++)
      for (size_t b = a + 1; b < x->ncorr; b += 4) pair_rows4(x, a, b, i0, i1);
  }
}
#endif

/* Adds to each pair's count the batch's rows where both values are
 * numbers (pres[s]: such rows of column s). */
static void pair_counts(const batch *x, const uint32_t *pres) {
  const size_t vs = x->vs, n = x->n, ncorr = x->ncorr;
  for (size_t a = 0; a + 1 < ncorr; a++)
    for (size_t b = a + 1; b < ncorr; b++) {
      int64_t c;
      if (pres[a] == n)
        c = pres[b];
      else if (pres[b] == n)
        c = pres[a];
      else
        for (size_t i = c = 0; i < n; i++)
          c += (int64_t)(x->ok[i * vs + a] & x->ok[i * vs + b] & 1);
      x->sh.n[a * vs + b] += c;
    }
}

static void batch_flush(void *ud) {
  batch *x = ud;
  const size_t n = x->n, cap = x->cap, ncorr = x->ncorr;
  if (!n) return;
  const csv_dialect *d = &x->doc->d;
  csv_value v;
  size_t nnum = 0; /* columns with numbers in this batch */
  uint32_t pres[CSV_MAX_CORR];
  for (size_t c = 0; c < x->nc; c++) {
    csv_colstats *cs = &x->p->cols[c];
    const csv_field *fc = x->f + c * cap;
    double *num = x->num + nnum * cap;
    uint32_t k = 0;
    int s = x->slot[c];
    memo *m = &x->memo[c];
    int use = memo_use(m, n);
#define ADD(i)                                                                 \
  (use && fc[i].len <= MEMO_MAXLEN                                             \
       ? memo_add(m, cs, fc[i].p, fc[i].len, d, &v)                            \
       : csv_colstats_add_value(cs, fc[i].p, fc[i].len, d, &v))
    if (s < 0) {
      for (size_t i = 0; i < n; i++) {
        if (c >= x->nf[i])
          csv_colstats_add_missing(cs);
        else if (ADD(i))
          num[k++] = v.num;
      }
    } else {
      const size_t vs = x->vs;
      double *val = x->val + s;
      uint64_t *ok = x->ok + s;
      for (size_t i = 0; i < n; i++) {
        val[i * vs] = 0.0;
        ok[i * vs] = 0;
        if (c >= x->nf[i]) {
          csv_colstats_add_missing(cs);
          continue;
        }
        if (!ADD(i)) continue;
        num[k++] = v.num;
        if (!x->has_shift[s]) {
          x->has_shift[s] = 1;
          x->shift[s] = v.num;
        }
        val[i * vs] = v.num - x->shift[s];
        ok[i * vs] = ~0ULL;
      }
      pres[s] = (uint32_t)k;
    }
#undef ADD
    if (k) {
      x->numcol[nnum] = cs;
      x->numn[nnum++] = k;
    }
  }
  /* Welford's updates, interleaved across columns: each column's chain of
   * divisions is sequential, several columns' chains overlap. */
  for (size_t j = 0, more = nnum; more; j++) {
    more = 0;
    for (size_t c = 0; c < nnum; c++)
      if (j < x->numn[c]) {
        csv_colstats_moments(x->numcol[c], x->num[c * cap + j]);
        more = 1;
      }
  }
  if (ncorr > 1) {
    pair_counts(x, pres);
#ifdef CSV_PAIRS_AVX2
    if (x->avx2)
      pair_sums4(x);
    else
#endif
      pair_sums2(x);
  }
  x->n = 0;
  x->alen = 0;
}

/* Adds the reader's current record to the batch (flushing it when full). */
static int batch_add(batch *x, const csv_reader *r) {
  size_t row = x->n;
  x->nf[row] = (uint32_t)r->nf;
  if (!r->quoted) {
    for (size_t i = 0; i < r->nf; i++) x->f[i * x->cap + row] = r->f[i];
  } else {
    size_t total = 0;
    for (size_t i = 0; i < r->nf; i++) total += r->f[i].len;
    if (x->alen + total > x->acap) {
      batch_flush(x);
      row = 0;
      x->nf[0] = (uint32_t)r->nf;
      if (total > x->acap) {
        size_t ncap = x->acap;
        while (ncap < total) ncap *= 2;
        char *na = realloc(x->arena, ncap + CSV_READ_PAD);
        if (!na) return -ENOMEM;
        x->arena = na;
        x->acap = ncap;
      }
    }
    for (size_t i = 0; i < r->nf; i++) {
      char *dst = x->arena + x->alen;
      if (r->f[i].len) memcpy(dst, r->f[i].p, r->f[i].len);
      x->alen += r->f[i].len;
      x->f[i * x->cap + row] = (csv_field){dst, r->f[i].len};
    }
  }
  if (++x->n == x->cap) batch_flush(x);
  return 0;
}

static void batch_free(batch *x) {
  free(x->f);
  free(x->nf);
  free(x->val);
  free(x->ok);
  free(x->sh.n);
  free(x->num);
  free(x->numcol);
  free(x->numn);
  free(x->arena);
  if (x->memo)
    for (size_t c = 0; c < x->nc; c++) free(x->memo[c].e);
  free(x->memo);
}

int csv_profile_chunk(const csv_doc *doc, const csv_chunk *chunk,
                      csv_progress *progress, const atomic_int *cancel,
                      csv_partial **out) {
  *out = NULL;
  csv_partial *p = partial_new(doc);
  if (!p) return -ENOMEM;
  p->begin = p->stop = chunk->begin;
  const size_t nc = doc->ncols, ncorr = doc->ncorr;
  csv_reader r;
  int rc = csv_reader_init(&r, &doc->src, &doc->d, chunk->begin, chunk->end,
                           nc ? nc : 1);
  int *slot = malloc((nc ? nc : 1) * sizeof *slot);
  batch x = {.doc = doc, .p = p, .nc = nc, .ncorr = ncorr, .slot = slot};
  x.cap = BATCH_CELLS / (nc ? nc : 1);
  if (x.cap < 1) x.cap = 1;
  if (x.cap > BATCH_MAX_ROWS) x.cap = BATCH_MAX_ROWS;
  x.vs = (ncorr + 6) & ~(size_t)3;
#ifdef CSV_PAIRS_AVX2
  __builtin_cpu_init();
  x.avx2 = __builtin_cpu_supports("avx2");
#endif
  const size_t nsum = (ncorr ? ncorr : 1) * x.vs;
  x.sh.n = calloc(6 * nsum, sizeof(double));
  if (x.sh.n) {
    double *sums = (double *)(void *)x.sh.n + nsum;
    x.sh.sx = sums;
    x.sh.sy = sums + nsum;
    x.sh.sxx = sums + 2 * nsum;
    x.sh.syy = sums + 3 * nsum;
    x.sh.sxy = sums + 4 * nsum;
  }
  x.f = malloc((nc ? nc : 1) * x.cap * sizeof *x.f);
  x.nf = malloc(x.cap * sizeof *x.nf);
  /* zeroed: the slots past the last column stay +0.0 and "missing" */
  x.val = calloc(x.cap * x.vs, sizeof *x.val);
  x.ok = calloc(x.cap * x.vs, sizeof *x.ok);
  x.num = malloc((nc ? nc : 1) * x.cap * sizeof *x.num);
  x.numcol = malloc((nc ? nc : 1) * sizeof *x.numcol);
  x.numn = malloc((nc ? nc : 1) * sizeof *x.numn);
  x.memo = calloc(nc ? nc : 1, sizeof *x.memo);
  x.acap = ARENA_MIN; /* never NULL: empty quoted fields point into it */
  x.arena = malloc(x.acap + CSV_READ_PAD);
  if (rc || !slot || !x.sh.n || !x.f || !x.nf || !x.val || !x.ok || !x.num ||
      !x.numcol || !x.numn || !x.memo || !x.arena) {
    if (!rc) csv_reader_free(&r);
    free(slot);
    batch_free(&x);
    csv_partial_free(p);
    return rc ? rc : -ENOMEM;
  }
  for (size_t i = 0; i < nc; i++) slot[i] = -1;
  for (size_t s = 0; s < ncorr; s++) slot[doc->corr[s]] = (int)s;
  r.before_fill = batch_flush;
  r.before_fill_ud = &x;
  uint64_t reported = chunk->begin, rows_reported = 0;
  for (;;) {
    rc = csv_reader_next(&r);
    if (rc <= 0) break;
    p->rows++;
    if (r.nf_total != nc + doc->extra_cols) {
      if (p->nragged_lines < CSV_RAGGED_LINES)
        p->ragged_lines[p->nragged_lines++] = r.rec_line;
      p->ragged++;
    }
    rc = batch_add(&x, &r);
    if (rc) break;
    if ((p->rows & (CHECK_ROWS - 1)) == 0) {
      if (progress) {
        uint64_t off = csv_reader_offset(&r);
        atomic_fetch_add_explicit(&progress->bytes, off - reported,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&progress->rows, p->rows - rows_reported,
                                  memory_order_relaxed);
        reported = off;
        rows_reported = p->rows;
      }
      if (cancelled(cancel)) {
        rc = -ECANCELED;
        break;
      }
    }
  }
  if (rc == 0) batch_flush(&x);
  p->stop = csv_reader_offset(&r);
  if (p->stop < chunk->begin) p->stop = chunk->begin;
  p->bytes = p->stop - chunk->begin;
  p->lines = r.lines;
  p->blank_lines = r.blank_lines;
  p->unterminated = r.unterminated;
  if (r.unterminated) p->unterminated_line = r.rec_line;
  p->stray_quotes = r.stray_quotes;
  if (progress && rc == 0) {
    atomic_fetch_add_explicit(&progress->bytes, p->stop - reported,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&progress->rows, p->rows - rows_reported,
                              memory_order_relaxed);
  }
  for (size_t a = 0; a < ncorr; a++)
    for (size_t b = a + 1; b < ncorr; b++) {
      size_t k = a * (2 * ncorr - a - 1) / 2 + (b - a - 1);
      size_t j = a * x.vs + b;
      const shifted *q = &x.sh;
      csv_pair *o = &p->pairs[k];
      if (!q->n[j]) continue;
      double n = (double)q->n[j];
      double sx = q->sx[j], sy = q->sy[j];
      o->n = (uint64_t)q->n[j];
      o->mx = x.shift[a] + sx / n;
      o->my = x.shift[b] + sy / n;
      o->cxx = fmax(0.0, q->sxx[j] - sx * sx / n);
      o->cyy = fmax(0.0, q->syy[j] - sy * sy / n);
      o->cxy = q->sxy[j] - sx * sy / n;
    }
  csv_reader_free(&r);
  free(slot);
  batch_free(&x);
  for (size_t i = 0; i < nc && rc == 0; i++)
    if (p->cols[i].dd.oom || p->cols[i].dist.oom) rc = -ENOMEM;
  if (rc < 0) {
    csv_partial_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int csv_merge(csv_partial *a, const csv_partial *b) {
  if (a->ncols != b->ncols || a->ncorr != b->ncorr) return -EINVAL;
  for (uint32_t i = 0; i < b->nragged_lines; i++)
    if (a->nragged_lines < CSV_RAGGED_LINES)
      a->ragged_lines[a->nragged_lines++] = a->lines + b->ragged_lines[i];
  if (!a->unterminated && b->unterminated)
    a->unterminated_line = a->lines + b->unterminated_line;
  a->ragged += b->ragged;
  a->rows += b->rows;
  a->lines += b->lines;
  a->bytes += b->bytes;
  a->stop = b->stop;
  a->blank_lines += b->blank_lines;
  a->unterminated += b->unterminated;
  a->stray_quotes += b->stray_quotes;
  int rc = 0;
  for (size_t i = 0; i < a->ncols; i++)
    rc |= csv_colstats_merge(&a->cols[i], &b->cols[i]);
  size_t np = a->ncorr * (a->ncorr ? a->ncorr - 1 : 0) / 2;
  for (size_t k = 0; k < np; k++) csv_pair_merge(&a->pairs[k], &b->pairs[k]);
  return rc ? -ENOMEM : 0;
}

unsigned csv_plan_verify(const csv_chunk *chunks, csv_partial *const *partials,
                         unsigned n, uint64_t *resume) {
  for (unsigned i = 0; i + 1 < n; i++)
    if (partials[i]->stop != chunks[i].end) {
      *resume = partials[i]->stop;
      return i + 1;
    }
  return n;
}

const char *csv_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
  case -ENOMEM:
    return "out of memory";
  case -ECANCELED:
    return "analysis cancelled";
  case -EFBIG:
    return "a record is larger than 64 MiB";
  case -EILSEQ:
    return "the file does not look like text (binary data)";
  case -EINVAL:
    return "invalid argument";
  case -EIO:
    return "read error";
  default:
    return "error";
  }
}
