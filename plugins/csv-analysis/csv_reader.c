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
  r->buf = malloc(r->cap);
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
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->base += r->pos;
    r->len -= r->pos;
    r->pos = 0;
  }
  if (r->len == r->cap) {
    if (r->cap >= (size_t)CSV_MAX_RECORD) return -EFBIG;
    char *nb = realloc(r->buf, r->cap * 2);
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

/* Fast path: a line without quote characters. */
static void split_line(csv_reader *r, const char *s, size_t l) {
  const char d = r->delim;
  const char *p = s, *e = s + l;
  r->nf = 0;
  r->nf_total = 0;
  for (;;) {
    const char *q = p;
    while (q < e && *q != d) q++;
    put_field(r, p, (size_t)(q - p));
    if (q >= e) break;
    p = q + 1;
  }
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
    size_t avail = r->len - r->pos;
    char *nl = memchr(s, r->eol, avail);
    if (!nl && !r->eof) {
      int rc = fill(r);
      if (rc) return rc;
      continue;
    }
    size_t linelen = nl ? (size_t)(nl - s) : avail;
    if (!memchr(s, r->quote, linelen)) {
      size_t l = linelen;
      if (r->strip_cr && l && s[l - 1] == '\r') l--;
      r->rec_line = r->lines;
      r->pos += linelen + (nl != NULL);
      r->lines += nl != NULL;
      if (l == 0) {
        r->blank_lines++;
        continue;
      }
      split_line(r, s, l);
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
    return 1;
  }
}
