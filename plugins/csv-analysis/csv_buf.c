/*
 * csv_buf.c: growable output buffer, UTF-8 sanitising, hashing, byte source.
 *
 * csv_hash: one multiply per 8 bytes (an odd multiplier, so each step is a
 * bijection of the state) and the murmur3 64-bit finalizer for avalanche,
 * which HyperLogLog needs in the top and bottom bits.
 */
#include "csv_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

long csv_src_read(const csv_src *s, uint64_t off, void *buf, size_t len) {
  if (off >= s->size) return 0;
  if (len > s->size - off) len = (size_t)(s->size - off);
  if (s->fd < 0) {
    memcpy(buf, s->mem + off, len);
    return (long)len;
  }
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(s->fd, (char *)buf + got, len - got, (off_t)(off + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  return (long)got;
}

static int buf_reserve(csv_buf *b, size_t extra) {
  if (b->oom) return -1;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void csv_buf_put(csv_buf *b, const void *p, size_t n) {
  if (buf_reserve(b, n)) return;
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

void csv_buf_puts(csv_buf *b, const char *s) {
  csv_buf_put(b, s, strlen(s));
}

void csv_buf_putc(csv_buf *b, char c) {
  csv_buf_put(b, &c, 1);
}

void csv_buf_printf(csv_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    csv_buf_put(b, tmp, (size_t)n);
    return;
  }
  if (buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void csv_buf_num(csv_buf *b, double v) {
  if (!isfinite(v)) {
    csv_buf_puts(b, "null");
    return;
  }
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  csv_buf_puts(b, tmp);
}

/* Length of a valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  unsigned cp = c & (0x3F >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

static void put_escaped(csv_buf *b, unsigned char c, int mode) {
  if (mode == 1) {
    switch (c) {
    case '"':
      csv_buf_puts(b, "\\\"");
      return;
    case '\\':
      csv_buf_puts(b, "\\\\");
      return;
    case '\n':
      csv_buf_puts(b, "\\n");
      return;
    case '\r':
      csv_buf_puts(b, "\\r");
      return;
    case '\t':
      csv_buf_puts(b, "\\t");
      return;
    default:
      if (c < 0x20) {
        csv_buf_printf(b, "\\u%04x", c);
        return;
      }
    }
  } else if (mode == 2) {
    switch (c) {
    case '<':
      csv_buf_puts(b, "&lt;");
      return;
    case '>':
      csv_buf_puts(b, "&gt;");
      return;
    case '&':
      csv_buf_puts(b, "&amp;");
      return;
    case '"':
      csv_buf_puts(b, "&quot;");
      return;
    case '\'':
      csv_buf_puts(b, "&#39;");
      return;
    default:
      if (c < 0x20 && c != '\n' && c != '\t') {
        csv_buf_puts(b, "\xEF\xBF\xBD");
        return;
      }
    }
  }
  csv_buf_putc(b, (char)c);
}

void csv_buf_text(csv_buf *b, const char *s, size_t n, int latin1, int mode) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      put_escaped(b, c, mode);
      i++;
    } else if (latin1) {
      char u[2] = {(char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F))};
      csv_buf_put(b, u, 2);
      i++;
    } else {
      size_t l = utf8_seq(p + i, n - i);
      if (l == 0) {
        csv_buf_puts(b, "\xEF\xBF\xBD");
        i++;
      } else {
        csv_buf_put(b, p + i, l);
        i += l;
      }
    }
  }
}

void csv_buf_free(csv_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

uint64_t csv_hash(const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0x87c37b91114253d5ULL);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w;
    if (n >= 4) { /* two overlapping loads cover all n <= 7 bytes */
      uint32_t a, b;
      memcpy(&a, p, 4);
      memcpy(&b, p + n - 4, 4);
      w = a | (uint64_t)b << 32;
    } else {
      w = p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
  }
  return fmix64(h);
}
