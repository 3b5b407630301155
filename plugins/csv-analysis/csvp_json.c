/*
 * csvp_json.c: JSON output helpers and a strict parser that walks one
 * object and returns a top-level member (nested values are validated and
 * skipped). Depth is bounded so hostile input cannot exhaust the stack.
 */
#include "csvp_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  size_t l;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    l = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    l = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    l = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < l) return 0;
  unsigned cp = c & (0xFFu >> (l + 1));
  for (size_t i = 1; i < l; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return l;
}

void csvp_buf_str(csv_buf *b, const char *s) {
  if (!s) {
    csv_buf_puts(b, "null");
    return;
  }
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  csv_buf_put(b, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      csv_buf_put(b, e, 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      const char *esc = c == '\n'   ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
      if (esc)
        csv_buf_puts(b, esc);
      else
        csv_buf_printf(b, "\\u%04x", c);
      i++;
    } else {
      size_t l = utf8_len(p + i, n - i);
      if (l == 0) {
        csv_buf_puts(b, "\xEF\xBF\xBD");
        i++;
      } else {
        csv_buf_put(b, p + i, l);
        i += l;
      }
    }
  }
  csv_buf_put(b, "\"", 1);
}

/* ---------------- parser ---------------- */

typedef struct cur {
  const char *p, *end;
} cur;

static void ws(cur *c) {
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char h = p[i];
    v <<= 4;
    if (h >= '0' && h <= '9')
      v |= (unsigned)(h - '0');
    else if (h >= 'a' && h <= 'f')
      v |= (unsigned)(h - 'a' + 10);
    else if (h >= 'A' && h <= 'F')
      v |= (unsigned)(h - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static void put_cp(csv_buf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | cp >> 12);
    u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  csv_buf_put(b, u, n);
}

/* A string at c->p (on '"'); unescaped into out when out is not NULL. */
static int string(cur *c, csv_buf *out) {
  if (c->p >= c->end || *c->p != '"') return -EINVAL;
  c->p++;
  while (c->p < c->end) {
    unsigned char ch = (unsigned char)*c->p;
    if (ch == '"') {
      c->p++;
      if (out) csv_buf_put(out, "", 0); /* NUL-terminate even if empty */
      return out && out->oom ? -ENOMEM : 0;
    }
    if (ch < 0x20) return -EINVAL;
    if (ch != '\\') {
      const char *s = c->p;
      while (c->p < c->end && *c->p != '"' && *c->p != '\\' &&
             (unsigned char)*c->p >= 0x20)
        c->p++;
      if (out) csv_buf_put(out, s, (size_t)(c->p - s));
      continue;
    }
    if (c->end - c->p < 2) return -EINVAL;
    char e = c->p[1];
    c->p += 2;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e && simple) {
      static const char map[] = "\"\\/\b\f\n\r\t";
      if (out) csv_buf_put(out, &map[simple - "\"\\/bfnrt"], 1);
      continue;
    }
    if (e != 'u' || c->end - c->p < 4) return -EINVAL;
    unsigned cp;
    if (hex4(c->p, &cp)) return -EINVAL;
    c->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      unsigned lo;
      if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
          hex4(c->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
        return -EINVAL;
      c->p += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return -EINVAL;
    }
    if (cp == 0) return -EINVAL; /* no NUL inside C strings */
    if (out) put_cp(out, cp);
  }
  return -EINVAL;
}

static int number(cur *c, double *out) {
  const char *s = c->p;
  if (c->p < c->end && *c->p == '-') c->p++;
  if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -EINVAL;
  if (*c->p == '0')
    c->p++;
  else
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -EINVAL;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -EINVAL;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  }
  if (out) {
    char tmp[64];
    size_t n = (size_t)(c->p - s);
    if (n >= sizeof tmp) return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
  }
  return 0;
}

static int literal(cur *c, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return -EINVAL;
  c->p += n;
  return 0;
}

static int value(cur *c, int depth);

static int container(cur *c, int depth, char close) {
  if (depth > MAX_DEPTH) return -EINVAL;
  c->p++;
  ws(c);
  if (c->p < c->end && *c->p == close) {
    c->p++;
    return 0;
  }
  for (;;) {
    ws(c);
    if (close == '}') {
      if (string(c, NULL)) return -EINVAL;
      ws(c);
      if (c->p >= c->end || *c->p != ':') return -EINVAL;
      c->p++;
      ws(c);
    }
    int rc = value(c, depth + 1);
    if (rc) return rc;
    ws(c);
    if (c->p >= c->end) return -EINVAL;
    if (*c->p == ',') {
      c->p++;
      continue;
    }
    if (*c->p != close) return -EINVAL;
    c->p++;
    return 0;
  }
}

static int value(cur *c, int depth) {
  if (c->p >= c->end) return -EINVAL;
  switch (*c->p) {
  case '"':
    return string(c, NULL);
  case '{':
    return container(c, depth, '}');
  case '[':
    return container(c, depth, ']');
  case 't':
    return literal(c, "true");
  case 'f':
    return literal(c, "false");
  case 'n':
    return literal(c, "null");
  default:
    return number(c, NULL);
  }
}

enum { WANT_STRING, WANT_NUMBER };

static int member(const char *json, size_t len, const char *key, int want,
                  char **sout, double *dout) {
  cur c = {json, json + len};
  ws(&c);
  if (c.p >= c.end || *c.p != '{') return -EINVAL;
  c.p++;
  int found = -ENOENT;
  ws(&c);
  if (c.p < c.end && *c.p == '}') {
    c.p++;
    goto tail;
  }
  for (;;) {
    ws(&c);
    csv_buf k = {0};
    int rc = string(&c, &k);
    if (rc) {
      csv_buf_free(&k);
      return rc;
    }
    int match = found == -ENOENT && strcmp(k.p ? k.p : "", key) == 0;
    csv_buf_free(&k);
    ws(&c);
    if (c.p >= c.end || *c.p != ':') return -EINVAL;
    c.p++;
    ws(&c);
    if (match && c.p < c.end && *c.p == 'n') {
      if (literal(&c, "null")) return -EINVAL;
    } else if (match && want == WANT_STRING) {
      csv_buf v = {0};
      rc = string(&c, &v);
      if (rc) {
        csv_buf_free(&v);
        return rc;
      }
      if (*sout) free(*sout);
      *sout = v.p;
      found = 0;
    } else if (match) {
      if (number(&c, dout)) return -EINVAL;
      found = 0;
    } else {
      rc = value(&c, 1);
      if (rc) return rc;
    }
    ws(&c);
    if (c.p >= c.end) return -EINVAL;
    if (*c.p == ',') {
      c.p++;
      continue;
    }
    if (*c.p != '}') return -EINVAL;
    c.p++;
    break;
  }
tail:
  ws(&c);
  if (c.p != c.end) return -EINVAL;
  return found;
}

int csvp_json_string(const char *json, size_t len, const char *key,
                     char **out) {
  *out = NULL;
  int rc = member(json, len, key, WANT_STRING, out, NULL);
  if (rc) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

int csvp_json_number(const char *json, size_t len, const char *key,
                     double *out) {
  double d = 0;
  int rc = member(json, len, key, WANT_NUMBER, NULL, &d);
  if (!rc) *out = d;
  return rc;
}
