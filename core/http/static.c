/*
 * static.c: files under a root directory, read off the loop with uv_fs.
 *
 * The relative path is checked twice. Lexically: decoded once; encoded
 * slashes and backslashes, NUL, absolute paths and ".." segments are
 * refused. Then physically: the root and the target are both resolved with
 * realpath and the target must lie inside the root (a symlink may point
 * elsewhere inside the root, never outside), and the resolved path is
 * opened with O_NOFOLLOW so a swap after the check fails instead.
 */
#include "internal.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define STATIC_MAX_SIZE (64u * 1024 * 1024)

enum { ST_ROOT, ST_REAL, ST_OPEN, ST_STAT, ST_DIRCLOSE, ST_READ, ST_CLOSE };

typedef struct static_ctx {
  uv_fs_t fs; /* first: on_fs recovers the context from it */
  http_request_t *req;
  char *rel;       /* normalised, decoded, no leading '/' */
  char *root_real; /* realpath(root) */
  char *real;      /* realpath(target) */
  int step;
  int index_tried;
  uv_file fd;
  uint64_t size;
  char *data;
  size_t off;
  char etag[64];
  int status; /* response to send after closing the file */
} static_ctx_t;

static const struct {
  const char *ext, *type;
} g_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"ttf", "font/ttf"},
};

const char *http_content_type(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash : path, '.');
  if (dot) {
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
      if (strcasecmp(dot + 1, g_types[i].ext) == 0) return g_types[i].type;
  }
  return "application/octet-stream";
}

/*
 * Lexical check. Returns 0 and a fresh normalised path in *out, or the HTTP
 * status to answer (400 for a malformed escape, 404 for anything refused).
 */
int http_static_check(const char *rel, char **out) {
  size_t len = strlen(rel);
  *out = NULL;
  for (size_t i = 0; i < len; i++) {
    if (rel[i] == '\\') return 404;
    if (rel[i] == '%' && i + 2 < len &&
        ((rel[i + 1] == '2' && (rel[i + 2] == 'f' || rel[i + 2] == 'F')) ||
         (rel[i + 1] == '5' && (rel[i + 2] == 'c' || rel[i + 2] == 'C'))))
      return 404;
  }
  char *dec = xmalloc(len + 1);
  long n = http_pct_decode(dec, rel, len, 0);
  if (n < 0) {
    free(dec);
    return 400;
  }
  if (memchr(dec, '\0', (size_t)n) || memchr(dec, '\\', (size_t)n) ||
      (n > 0 && dec[0] == '/')) {
    free(dec);
    return 404;
  }
  dec[n] = '\0';
  /* Segments: drop "" and ".", refuse "..". */
  char *norm = xmalloc((size_t)n + 1);
  size_t o = 0;
  for (char *p = dec; *p;) {
    char *e = strchr(p, '/');
    size_t sl = e ? (size_t)(e - p) : strlen(p);
    if (sl == 2 && p[0] == '.' && p[1] == '.') {
      free(dec);
      free(norm);
      return 404;
    }
    if (sl && !(sl == 1 && p[0] == '.')) {
      if (o) norm[o++] = '/';
      memcpy(norm + o, p, sl);
      o += sl;
    }
    if (!e) break;
    p = e + 1;
  }
  norm[o] = '\0';
  free(dec);
  *out = norm;
  return 0;
}

static void ctx_free(static_ctx_t *x) {
  free(x->rel);
  free(x->root_real);
  free(x->real);
  free(x->data);
  free(x);
}

static void on_fs(uv_fs_t *f);

/* Answers with an error, closing the file first if one is open. */
static void finish_error(static_ctx_t *x, int status) {
  http_request_t *req = x->req;
  if (x->fd >= 0) {
    x->status = status;
    x->step = ST_CLOSE;
    uv_file fd = x->fd;
    x->fd = -1;
    if (uv_fs_close(req->conn->timer.loop, &x->fs, fd, on_fs) == 0) return;
    uv_fs_req_cleanup(&x->fs);
  }
  ctx_free(x);
  http_respond_error(req, status,
                     status == 404   ? "not found"
                     : status == 400 ? "bad path"
                                     : "cannot read file");
}

static uv_loop_t *ctx_loop(static_ctx_t *x) {
  return x->req->conn->timer.loop;
}

static int etag_matches(const char *inm, const char *etag) {
  size_t el = strlen(etag);
  const char *p = inm;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    while (l && (p[l - 1] == ' ' || p[l - 1] == '\t')) l--;
    if (l == 1 && p[0] == '*') return 1;
    if (l > 2 && p[0] == 'W' && p[1] == '/') p += 2, l -= 2;
    if (l == el && memcmp(p, etag, el) == 0) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

static void send_file(static_ctx_t *x, int status) {
  http_request_t *req = x->req;
  const char *ctype = http_content_type(x->real);
  int html = strncmp(ctype, "text/html", 9) == 0;
  http_header_t h[4] = {
      {"ETag", x->etag},
      {"Cache-Control", html ? "no-cache" : "public, max-age=300"},
      {"X-Content-Type-Options", "nosniff"},
      {"Content-Type", ctype},
  };
  if (status == 304) {
    http_respond(req, 304, h, 3, NULL, 0);
  } else if (req->is_head) {
    /* Content-Length of the file; HEAD never reads the body pointer. */
    http_respond(req, 200, h, 4, NULL, (size_t)x->size);
  } else {
    http_respond(req, 200, h, 4, x->data, x->off);
  }
}

static void start_realpath(static_ctx_t *x, const char *path) {
  x->step = ST_REAL;
  if (uv_fs_realpath(ctx_loop(x), &x->fs, path, on_fs) != 0) {
    uv_fs_req_cleanup(&x->fs);
    finish_error(x, 404);
  }
}

static void start_read(static_ctx_t *x) {
  uv_buf_t b = uv_buf_init(x->data + x->off, (unsigned)(x->size - x->off));
  x->step = ST_READ;
  if (uv_fs_read(ctx_loop(x), &x->fs, x->fd, &b, 1, (int64_t)x->off, on_fs) !=
      0) {
    uv_fs_req_cleanup(&x->fs);
    finish_error(x, 500);
  }
}

static int inside_root(const char *root, const char *real) {
  size_t rl = strlen(root);
  if (rl == 1 && root[0] == '/') return 1;
  return strncmp(real, root, rl) == 0 && (real[rl] == '\0' || real[rl] == '/');
}

static void on_fs(uv_fs_t *f) {
  static_ctx_t *x = (static_ctx_t *)f;
  ssize_t res = f->result;
  switch (x->step) {
  case ST_ROOT: {
    if (res < 0) {
      uv_fs_req_cleanup(f);
      log_kv(LOG_WARN, "http", "static root unavailable", "error",
             uv_strerror((int)res), NULL);
      finish_error(x, 404);
      return;
    }
    x->root_real = xstrdup(f->ptr);
    uv_fs_req_cleanup(f);
    char *path = xasprintf("%s/%s", x->root_real, x->rel);
    start_realpath(x, path);
    free(path);
    return;
  }
  case ST_REAL:
    if (res < 0) {
      uv_fs_req_cleanup(f);
      finish_error(x, 404);
      return;
    }
    free(x->real);
    x->real = xstrdup(f->ptr);
    uv_fs_req_cleanup(f);
    if (!inside_root(x->root_real, x->real)) {
      finish_error(x, 404);
      return;
    }
    x->step = ST_OPEN;
    if (uv_fs_open(ctx_loop(x), f, x->real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
                   0, on_fs) != 0) {
      uv_fs_req_cleanup(f);
      finish_error(x, 404);
    }
    return;
  case ST_OPEN:
    uv_fs_req_cleanup(f);
    if (res < 0) {
      finish_error(x, 404);
      return;
    }
    x->fd = (uv_file)res;
    x->step = ST_STAT;
    if (uv_fs_fstat(ctx_loop(x), f, x->fd, on_fs) != 0) {
      uv_fs_req_cleanup(f);
      finish_error(x, 500);
    }
    return;
  case ST_STAT: {
    if (res < 0) {
      uv_fs_req_cleanup(f);
      finish_error(x, 500);
      return;
    }
    uv_stat_t st = f->statbuf;
    uv_fs_req_cleanup(f);
    if ((st.st_mode & S_IFMT) == S_IFDIR) {
      if (x->index_tried) {
        finish_error(x, 404);
        return;
      }
      x->index_tried = 1;
      uv_file fd = x->fd;
      x->fd = -1;
      x->step = ST_DIRCLOSE;
      if (uv_fs_close(ctx_loop(x), f, fd, on_fs) != 0) {
        uv_fs_req_cleanup(f);
        finish_error(x, 500);
      }
      return;
    }
    if ((st.st_mode & S_IFMT) != S_IFREG) {
      finish_error(x, 404);
      return;
    }
    if (st.st_size > STATIC_MAX_SIZE) {
      finish_error(x, 500);
      return;
    }
    x->size = st.st_size;
    snprintf(x->etag, sizeof x->etag, "\"%" PRIx64 "-%" PRIx64 "\"", x->size,
             (uint64_t)st.st_mtim.tv_sec * 1000000000u +
                 (uint64_t)st.st_mtim.tv_nsec);
    const char *inm = http_req_header(x->req, "If-None-Match");
    if (inm && etag_matches(inm, x->etag)) {
      x->status = 304;
    } else if (x->req->is_head || x->size == 0) {
      x->status = 200;
    } else {
      x->data = xmalloc((size_t)x->size);
      start_read(x);
      return;
    }
    break;
  }
  case ST_DIRCLOSE: {
    uv_fs_req_cleanup(f);
    char *path = xasprintf("%s/index.html", x->real);
    start_realpath(x, path);
    free(path);
    return;
  }
  case ST_READ:
    uv_fs_req_cleanup(f);
    if (res < 0) {
      finish_error(x, 500);
      return;
    }
    x->off += (size_t)res;
    if (res > 0 && x->off < x->size) {
      start_read(x);
      return;
    }
    x->status = 200; /* a file that shrank is sent as read */
    break;
  case ST_CLOSE: {
    http_request_t *req = x->req;
    int status = x->status;
    uv_fs_req_cleanup(f);
    if (status == 200 || status == 304) {
      send_file(x, status);
      ctx_free(x);
    } else {
      ctx_free(x);
      http_respond_error(req, status,
                         status == 404 ? "not found" : "cannot read file");
    }
    return;
  }
  }
  /* Success: close the file, then answer. */
  uv_file fd = x->fd;
  x->fd = -1;
  x->step = ST_CLOSE;
  if (uv_fs_close(ctx_loop(x), f, fd, on_fs) != 0) {
    uv_fs_req_cleanup(f);
    send_file(x, x->status);
    ctx_free(x);
  }
}

void http_serve_static(http_request_t *req, const char *root, const char *rel) {
  char *norm;
  const char *m = req->method ? req->method : "";
  if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
    snprintf(req->match.allow, sizeof req->match.allow, "GET, HEAD");
    http_respond_error(req, 405, "method not allowed");
    return;
  }
  int st = http_static_check(rel ? rel : "", &norm);
  if (st != 0) {
    http_respond_error(req, st, st == 400 ? "bad path" : "not found");
    return;
  }
  static_ctx_t *x = xcalloc(1, sizeof *x);
  x->req = req;
  x->rel = norm;
  x->fd = -1;
  x->step = ST_ROOT;
  if (uv_fs_realpath(ctx_loop(x), &x->fs, root, on_fs) != 0) {
    uv_fs_req_cleanup(&x->fs);
    finish_error(x, 404);
  }
}
