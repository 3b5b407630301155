/*
 * router.c: method + path pattern routing.
 *
 * Patterns are split into segments once, at router_add. Matching walks the
 * raw request path segment by segment against each route; among the routes
 * that match, the most specific wins: comparing segment by segment from the
 * left, a literal beats a parameter, which beats a {rest*}. A path that
 * matches some pattern but no route for the method is a 405 with Allow.
 */
#include "http.h"

#include "../common/alloc.h"

#include <stdlib.h>
#include <string.h>

enum { SEG_LIT = 0, SEG_PARAM = 1, SEG_REST = 2 };

typedef struct seg {
  int kind;
  char *text; /* literal text or parameter name */
  size_t len;
} seg_t;

typedef struct route {
  char *method;
  char *pattern;
  seg_t *segs;
  size_t nsegs;
  uint64_t max_body;
  uint32_t flags;
  http_handler_fn fn;
  void *ud;
} route_t;

struct router {
  route_t *routes;
  size_t n, cap;
};

router_t *router_new(void) {
  return xcalloc(1, sizeof(router_t));
}

static void segs_free(seg_t *segs, size_t n) {
  for (size_t i = 0; i < n; i++) free(segs[i].text);
  free(segs);
}

void router_free(router_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    free(r->routes[i].method);
    free(r->routes[i].pattern);
    segs_free(r->routes[i].segs, r->routes[i].nsegs);
  }
  free(r->routes);
  free(r);
}

static int valid_method(const char *m) {
  if (!m || !*m) return 0;
  for (; *m; m++)
    if (*m < 'A' || *m > 'Z') return 0;
  return 1;
}

static int name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static int lit_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '{' && c != '}' && c != '?' && c != '#' &&
         c != '\\';
}

/* Splits pattern into segments; returns -1 if malformed. "/" has none. */
static int parse_pattern(const char *pattern, seg_t **out, size_t *nout) {
  seg_t *segs = NULL;
  size_t n = 0, nparams = 0;
  if (!pattern || pattern[0] != '/') return -1;
  const char *p = pattern + 1;
  if (*p == '\0') {
    *out = NULL;
    *nout = 0;
    return 0;
  }
  for (;;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    seg_t s = {0};
    if (len == 0) goto fail; /* empty segment, "//" or trailing "/" */
    if (n > 0 && segs[n - 1].kind == SEG_REST) goto fail;
    if (p[0] == '{') {
      if (p[len - 1] != '}' || len < 3) goto fail;
      size_t nl = len - 2;
      s.kind = SEG_PARAM;
      if (p[len - 2] == '*') {
        s.kind = SEG_REST;
        nl--;
        if (e) goto fail; /* {rest*} must be last */
      }
      if (nl == 0) goto fail;
      for (size_t i = 0; i < nl; i++)
        if (!name_char(p[1 + i])) goto fail;
      for (size_t i = 0; i < n; i++)
        if (segs[i].kind != SEG_LIT && segs[i].len == nl &&
            memcmp(segs[i].text, p + 1, nl) == 0)
          goto fail; /* duplicate parameter name */
      if (++nparams > ROUTER_MAX_PARAMS) goto fail;
      s.text = xstrndup(p + 1, nl);
      s.len = nl;
    } else {
      for (size_t i = 0; i < len; i++)
        if (!lit_char((unsigned char)p[i])) goto fail;
      s.kind = SEG_LIT;
      s.text = xstrndup(p, len);
      s.len = len;
    }
    segs = xrealloc(segs, (n + 1) * sizeof *segs);
    segs[n++] = s;
    if (!e) break;
    p = e + 1;
  }
  *out = segs;
  *nout = n;
  return 0;
fail:
  segs_free(segs, n);
  return -1;
}

/* Same method and same shape (parameter names do not matter). */
static int same_route(const route_t *a, const char *method, const seg_t *segs,
                      size_t n) {
  if (strcmp(a->method, method) != 0 || a->nsegs != n) return 0;
  for (size_t i = 0; i < n; i++) {
    if (a->segs[i].kind != segs[i].kind) return 0;
    if (segs[i].kind == SEG_LIT &&
        (a->segs[i].len != segs[i].len ||
         memcmp(a->segs[i].text, segs[i].text, segs[i].len) != 0))
      return 0;
  }
  return 1;
}

int router_add(router_t *r, const char *method, const char *pattern,
               uint64_t max_body, http_handler_fn fn, void *ud) {
  return router_add_ex(r, method, pattern, max_body, 0, fn, ud);
}

int router_add_ex(router_t *r, const char *method, const char *pattern,
                  uint64_t max_body, uint32_t flags, http_handler_fn fn,
                  void *ud) {
  seg_t *segs;
  size_t n;
  if (!r || !fn || !valid_method(method)) return -1;
  if (flags & ~(uint32_t)ROUTER_SPOOL_BODY) return -1;
  if (parse_pattern(pattern, &segs, &n) != 0) return -1;
  for (size_t i = 0; i < r->n; i++) {
    if (same_route(&r->routes[i], method, segs, n)) {
      segs_free(segs, n);
      return -1;
    }
  }
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 8;
    r->routes = xrealloc(r->routes, r->cap * sizeof *r->routes);
  }
  route_t *rt = &r->routes[r->n++];
  rt->method = xstrdup(method);
  rt->pattern = xstrdup(pattern);
  rt->segs = segs;
  rt->nsegs = n;
  rt->max_body = max_body;
  rt->flags = flags;
  rt->fn = fn;
  rt->ud = ud;
  return 0;
}

/*
 * Matches one route against the path segments. On success fills kinds[]
 * (the specificity key) and the parameters of m.
 */
static int route_matches(const route_t *rt, const char *path, size_t len,
                         router_match_t *m) {
  size_t pos = 1; /* after the leading '/' */
  size_t np = 0;
  if (rt->nsegs == 0) return len == 1;
  for (size_t i = 0; i < rt->nsegs; i++) {
    const seg_t *s = &rt->segs[i];
    if (s->kind == SEG_REST) {
      if (pos > len) return 0;
      if (m) {
        m->params[np].name = s->text;
        m->params[np].value = path + pos;
        m->params[np].len = len - pos;
      }
      np++;
      if (m) m->nparams = np;
      return 1;
    }
    if (pos > len) return 0; /* the path has fewer segments */
    const char *e = memchr(path + pos, '/', len - pos);
    size_t sl = e ? (size_t)(e - (path + pos)) : len - pos;
    if (s->kind == SEG_LIT) {
      if (sl != s->len || memcmp(path + pos, s->text, sl) != 0) return 0;
    } else {
      if (sl == 0) return 0;
      if (m) {
        m->params[np].name = s->text;
        m->params[np].value = path + pos;
        m->params[np].len = sl;
      }
      np++;
    }
    pos += sl + 1; /* past the '/' (or one past the end) */
  }
  if (pos <= len) return 0; /* path has more segments */
  if (m) m->nparams = np;
  return 1;
}

/* <0 if a is less specific than b. */
static int specificity_cmp(const route_t *a, const route_t *b) {
  size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
  for (size_t i = 0; i < n; i++) {
    if (a->segs[i].kind != b->segs[i].kind)
      return b->segs[i].kind - a->segs[i].kind; /* lower kind wins */
  }
  /* Same prefix kinds: the longer (more segments) is more specific. */
  return (int)a->nsegs - (int)b->nsegs;
}

static void allow_add(char *allow, size_t cap, const char *method) {
  size_t len = strlen(allow);
  size_t ml = strlen(method);
  /* already listed? */
  const char *p = allow;
  while (*p) {
    const char *e = strstr(p, ", ");
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == ml && memcmp(p, method, ml) == 0) return;
    if (!e) break;
    p = e + 2;
  }
  size_t need = (len ? 2 : 0) + ml;
  if (len + need + 1 > cap) return; /* truncated: keep what fits */
  if (len) memcpy(allow + len, ", ", 2), len += 2;
  memcpy(allow + len, method, ml + 1);
}

int router_match(const router_t *r, const char *method, const char *path,
                 size_t path_len, router_match_t *m) {
  const route_t *best = NULL;
  int any = 0;
  int is_head = strcmp(method, "HEAD") == 0;
  memset(m, 0, sizeof *m);
  if (!r || path_len == 0 || path[0] != '/') return 404;
  for (size_t i = 0; i < r->n; i++) {
    const route_t *rt = &r->routes[i];
    if (!route_matches(rt, path, path_len, NULL)) continue;
    any = 1;
    int ok = strcmp(rt->method, method) == 0;
    int via_get = !ok && is_head && strcmp(rt->method, "GET") == 0;
    if (!ok && !via_get) continue;
    if (!best) {
      best = rt;
      continue;
    }
    int c = specificity_cmp(rt, best);
    /* An explicit HEAD route beats GET answering HEAD at equal shape. */
    if (c > 0 || (c == 0 && ok && strcmp(best->method, method) != 0)) best = rt;
  }
  if (best) {
    route_matches(best, path, path_len, m);
    m->fn = best->fn;
    m->ud = best->ud;
    m->max_body = best->max_body;
    m->flags = best->flags;
    m->pattern = best->pattern;
    return 200;
  }
  if (!any) return 404;
  for (size_t i = 0; i < r->n; i++) {
    const route_t *rt = &r->routes[i];
    if (!route_matches(rt, path, path_len, NULL)) continue;
    allow_add(m->allow, sizeof m->allow, rt->method);
    if (strcmp(rt->method, "GET") == 0)
      allow_add(m->allow, sizeof m->allow, "HEAD");
  }
  return 405;
}
