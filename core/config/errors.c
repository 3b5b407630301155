/* errors.c: positioned error messages and the helpers that build them. */
#include "internal.h"

#include "../common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfg_error(cfg_errors_t *e, cfg_mark_t m, const char *fmt, ...) {
  if (e->n > CFG_MAX_ERRORS) return;
  char msg[1024];
  if (e->n == CFG_MAX_ERRORS) {
    snprintf(msg, sizeof msg, "too many errors (%d), stopping", CFG_MAX_ERRORS);
  } else {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  }
  const char *file = m.file ? m.file : "<config>";
  char *s = m.line ? xasprintf("%s:%u:%u: %s", file, m.line, m.col, msg)
                   : xasprintf("%s: %s", file, msg);
  e->items = xrealloc(e->items, (e->n + 1) * sizeof *e->items);
  e->items[e->n++] = s;
}

void cfg_errors_free(cfg_errors_t *e) {
  if (!e) return;
  for (size_t i = 0; i < e->n; i++) free(e->items[i]);
  free(e->items);
  e->items = NULL;
  e->n = 0;
}

const char *cfg_show_str(const char *s, size_t len, char *buf, size_t size) {
  /* 'value', control characters escaped, at most ~48 characters shown. */
  size_t o = 0, limit = size > 8 ? size - 8 : 0;
  if (size < 3) {
    if (size) buf[0] = '\0';
    return buf;
  }
  buf[o++] = '\'';
  for (size_t i = 0; i < len && o < limit && i < 48; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      if (o + 4 >= limit) break;
      o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  if (len > 48 || o >= limit) {
    buf[o++] = '.';
    buf[o++] = '.';
    buf[o++] = '.';
  }
  buf[o++] = '\'';
  buf[o] = '\0';
  return buf;
}

const char *cfg_show(const cfg_node_t *n, char *buf, size_t size) {
  if (n && n->kind == CFG_SCALAR && n->substituted) {
    snprintf(buf, size, "a substituted value");
    return buf;
  }
  if (!n || n->kind != CFG_SCALAR) {
    snprintf(buf, size, "%s", cfg_kind_name(n));
    return buf;
  }
  return cfg_show_str(n->str, n->len, buf, size);
}

const char *cfg_kind_name(const cfg_node_t *n) {
  if (!n) return "nothing";
  switch (n->kind) {
  case CFG_NULL:
    return "null";
  case CFG_SCALAR:
    return n->quoted ? "a quoted string" : "a scalar";
  case CFG_MAP:
    return "a map";
  case CFG_SEQ:
    return "a list";
  }
  return "?";
}

size_t cfg_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return (size_t)-1;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = diag + cost;
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *cfg_nearest(const char *word, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t bestd = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    size_t d = cfg_edit_distance(word, cands[i]);
    if (d < bestd) {
      bestd = d;
      best = cands[i];
    }
  }
  if (!best) return NULL;
  size_t len = strlen(word), limit = len / 3 > 2 ? len / 3 : 2;
  return bestd <= limit ? best : NULL;
}

char *cfg_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return xstrdup(".");
  if (slash == path) return xstrdup("/");
  return xstrndup(path, (size_t)(slash - path));
}

char *cfg_path_join(const char *dir, const char *rel) {
  if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
    return xstrdup(rel);
  size_t dl = strlen(dir);
  if (dir[dl - 1] == '/') return xasprintf("%s%s", dir, rel);
  return xasprintf("%s/%s", dir, rel);
}

char *cfg_node_dir(const cfg_node_t *n) {
  return cfg_dirname(n && n->mark.file ? n->mark.file : ".");
}
