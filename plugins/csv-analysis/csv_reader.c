/*
 * csv_reader.c: streaming RFC 4180 tokenizer over a byte range of a source.
 *
 * The buffer holds whole records. Lines without a quote character take the
 * fast path (memchr for the line end, then a scan for delimiters; fields
 * point into the buffer). Lines with a quote are parsed by a state machine
 * that unescapes into a scratch buffer and may span lines; when it runs out
 * of data it refills and restarts the record, so the raw bytes are never
 * modified. Lenient where RFC 4180 is silent: a quote inside an unquoted
 * field is literal; text after a closing quote is kept (counted as a stray
 * quote); an unterminated quote runs to the end of the source (counted).
 */
#include "csv_internal.h"

#include <errno.h>
#include <stdlib.h>
#if defined(__SSE2__) && !defined(CSV_NO_SIMD)
#include <emmintrin.h>
#endif

#define CSV_BLOCK (1u << 20)
#define CSV_TAIL_READ (64u << 10)

int csv_reader_init(csv_reader *r, const csv_src *src, const csv_dialect *d,
                    uint64_t begin, uint64_t end, size_t maxf) {
  memset(r, 0, sizeof *r);
  r->src = src;
  r->delim = d->delimiter;
  r->quote = d->quote;
  r->eol = d->eol == CSV_EOL_CR ? '\r' : '\n';
  r->strip_cr = r->eol == '\n';
  r->base = begin;
  r->end = end;
  r->eof = begin >= src->size;
  r->maxf = maxf ? maxf : 1;
  r->cap = CSV_BLOCK;
  r->buf = malloc(r->cap + CSV_READ_PAD);
  r->f = malloc(r->maxf * sizeof *r->f);
  if (!r->buf || !r->f) {
    csv_reader_free(r);
    return -ENOMEM;
  }
  return 0;
}

void csv_reader_free(csv_reader *r) {
  free(r->buf);
  free(r->f);
  free(r->scratch);
  r->buf = NULL;
  r->f = NULL;
  r->scratch = NULL;
}

/* Keeps [pos, len), then reads more; grows when a record fills the buffer. */
static int fill(csv_reader *r) {
  if (r->before_fill) r->before_fill(r->before_fill_ud);
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->base += r->pos;
    r->len -= r->pos;
    r->pos = 0;
  }
  if (r->len == r->cap) {
    if (r->cap >= (size_t)CSV_MAX_RECORD) return -EFBIG;
    char *nb = realloc(r->buf, r->cap * 2 + CSV_READ_PAD);
    if (!nb) return -ENOMEM;
    r->buf = nb;
    r->cap *= 2;
  }
  uint64_t at = r->base + r->len;
  size_t want = r->cap - r->len;
  if (at >= r->end) {
    if (want > CSV_TAIL_READ) want = CSV_TAIL_READ;
  } else if (want > r->end - at) {
    want = (size_t)(r->end - at);
  }
  long n = csv_src_read(r->src, at, r->buf + r->len, want);
  if (n < 0) return (int)n;
  r->len += (size_t)n;
  if (n == 0 || at + (uint64_t)n >= r->src->size) r->eof = 1;
  return 0;
}

static inline void put_field(csv_reader *r, const char *p, size_t n) {
  if (r->nf < r->maxf) {
    r->f[r->nf].p = p;
    r->f[r->nf].len = (uint32_t)n;
    r->nf++;
  }
  r->nf_total++;
}

/* Delimiter, end-of-line and quote masks of 16 bytes at p, one bit per
 * byte (bit i = p[i]). */
#if defined(__SSE2__) && !defined(CSV_NO_SIMD)
static inline void scan16(const char *p, char d, char e, char q, unsigned *md,
                          unsigned *me, unsigned *mq) {
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  *md = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(d)));
  *me = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(e)));
  *mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(q)));
}
#else
/* Bitmask of the bytes of w equal to c's byte, one bit per byte at that
 * byte's top bit (SWAR; exact: no false positives from borrows). */
static inline uint64_t swar_eq(uint64_t w, uint64_t c) {
  const uint64_t lo7 = 0x7F7F7F7F7F7F7F7FULL;
  uint64_t x = w ^ c;
  return ~(((x & lo7) + lo7) | x | lo7);
}

/* Gathers the top bit of each byte of a SWAR mask into 8 low bits. */
static inline unsigned swar_bits(uint64_t m) {
  return (unsigned)(((m >> 7) * 0x0102040810204080ULL) >> 56);
}
static inline void scan16(const char *p, char d, char e, char q, unsigned *md,
                          unsigned *me, unsigned *mq) {
  const uint64_t ones = 0x0101010101010101ULL;
  uint64_t cd = ones * (unsigned char)d, ce = ones * (unsigned char)e,
           cq = ones * (unsigned char)q;
  unsigned rd = 0, re = 0, rq = 0;
  for (int h = 0; h < 2; h++) {
    uint64_t w = 0;
    for (int k = 0; k < 8; k++) /* little-endian order on any host */
      w |= (uint64_t)(unsigned char)p[8 * h + k] << (8 * k);
    rd |= swar_bits(swar_eq(w, cd)) << (8 * h);
    re |= swar_bits(swar_eq(w, ce)) << (8 * h);
    rq |= swar_bits(swar_eq(w, cq)) << (8 * h);
  }
  *md = rd;
  *me = re;
  *mq = rq;
}
#endif

/* Fast path: the record at s (avail bytes) when its line has no quote
 * character. Returns 1 with the fields in r->f, *linelen (without the end
 * of line) and *nl (1 if an end of line ended it); 0 if the line holds a
 * quote character (slow path); -1 if no end of line is in the buffer and
 * more data may come. The fields are the same as splitting the line with
 * a trailing CR (when strip_cr) removed; a blank line yields nf_total 0. */
static int scan_line(csv_reader *r, const char *s, size_t avail,
                     size_t *linelen, int *nl) {
  const char D = r->delim, E = r->eol, Q = r->quote;
  const char *p = s, *fs = s, *end = s + avail;
  r->nf = 0;
  r->nf_total = 0;
  const char *eolp = NULL;
  while (end - p >= 16) {
    unsigned md, me, mq;
    scan16(p, D, E, Q, &md, &me, &mq);
    if (me) {
      unsigned below = (me & (0u - me)) - 1u;
      if (mq & below) return 0;
      md &= below;
      eolp = p + __builtin_ctz(me);
    } else if (mq) {
      return 0;
    }
    while (md) {
      const char *q = p + __builtin_ctz(md);
      put_field(r, fs, (size_t)(q - fs));
      fs = q + 1;
      md &= md - 1;
    }
    if (eolp) break;
    p += 16;
  }
  if (!eolp) {
    for (; p < end; p++) {
      char c = *p;
      if (c == E) {
        eolp = p;
        break;
      }
      if (c == Q) return 0;
      if (c == D) {
        put_field(r, fs, (size_t)(p - fs));
        fs = p + 1;
      }
    }
    if (!eolp && !r->eof) return -1;
  }
  size_t ll = (size_t)((eolp ? eolp : end) - s);
  *linelen = ll;
  *nl = eolp != NULL;
  const char *le = s + ll;
  if (r->strip_cr && ll && le[-1] == '\r') le--;
  if (le == s) { /* blank line (maybe a lone CR) */
    r->nf = 0;
    r->nf_total = 0;
    return 1;
  }
  /* a stripped CR right after the last delimiter: that field is empty */
  put_field(r, fs, le >= fs ? (size_t)(le - fs) : 0);
  return 1;
}

/* Slow path: returns 1 with a record, 0 when more data is needed. */
static int parse_quoted(csv_reader *r, size_t *end) {
  const char *b = r->buf;
  const char Q = r->quote, D = r->delim, E = r->eol;
  const int eof = r->eof, sc = r->strip_cr;
  size_t i = r->pos, n = r->len;
  if (r->scap < n - i + 1) {
    size_t cap = r->scap ? r->scap : 4096;
    while (cap < n - i + 1) cap *= 2;
    char *ns = realloc(r->scratch, cap);
    if (!ns) return -ENOMEM;
    r->scratch = ns;
    r->scap = cap;
  }
  char *w = r->scratch;
  int unterm = 0;
  uint64_t stray = 0;
  r->nf = 0;
  r->nf_total = 0;
  for (;;) {
    char *fs = w;
    if (i < n && b[i] == Q) {
      i++;
      for (;;) {
        const char *q = memchr(b + i, Q, n - i);
        if (!q) {
          if (!eof) return 0;
          memcpy(w, b + i, n - i);
          w += n - i;
          i = n;
          unterm = 1;
          break;
        }
        size_t qi = (size_t)(q - b);
        memcpy(w, b + i, qi - i);
        w += qi - i;
        i = qi + 1;
        if (i < n && b[i] == Q) {
          *w++ = Q;
          i++;
          continue;
        }
        if (i >= n && !eof) return 0;
        break;
      }
      while (i < n && b[i] != D && b[i] != E) {
        if (sc && b[i] == '\r') {
          if (i + 1 >= n) {
            if (!eof) return 0;
            i++;
            break;
          }
          if (b[i + 1] == E) {
            i++;
            break;
          }
        }
        stray++;
        *w++ = b[i++];
      }
    } else {
      while (i < n && b[i] != D && b[i] != E) *w++ = b[i++];
      if (sc && w > fs && w[-1] == '\r' && (i >= n || b[i] == E)) w--;
    }
    if (i >= n && !eof) return 0;
    put_field(r, fs, (size_t)(w - fs));
    if (i >= n) break;
    if (b[i] == E) {
      i++;
      break;
    }
    i++; /* delimiter */
  }
  r->unterminated += (uint64_t)unterm;
  r->stray_quotes += stray;
  *end = i;
  return 1;
}

int csv_reader_next(csv_reader *r) {
  for (;;) {
    if (r->base + r->pos >= r->end) return 0;
    if (r->pos >= r->len) {
      if (r->eof) return 0;
      int rc = fill(r);
      if (rc) return rc;
      continue;
    }
    char *s = r->buf + r->pos;
    size_t avail = r->len - r->pos, linelen = 0;
    int nl = 0;
    int got = scan_line(r, s, avail, &linelen, &nl);
    if (got < 0) {
      int rc = fill(r);
      if (rc) return rc;
      continue;
    }
    if (got > 0) {
      r->rec_line = r->lines;
      r->pos += linelen + (size_t)nl;
      r->lines += (uint64_t)nl;
      r->quoted = 0;
      if (r->nf_total == 0) {
        r->blank_lines++;
        continue;
      }
      return 1;
    }
    size_t end;
    int rc = parse_quoted(r, &end);
    if (rc < 0) return rc;
    if (rc == 0) {
      rc = fill(r);
      if (rc) return rc;
      continue;
    }
    r->rec_line = r->lines;
    const char *p = r->buf + r->pos, *e = r->buf + end;
    while ((p = memchr(p, r->eol, (size_t)(e - p))) != NULL) {
      r->lines++;
      p++;
    }
    r->pos = end;
    r->quoted = 1;
    return 1;
  }
}
