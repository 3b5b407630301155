/*
 * spool.c: a request body streamed into a temporary file (the idea of
 * nginx's client_body_temp_path), for routes added with ROUTER_SPOOL_BODY.
 *
 * Body bytes are appended to a fixed buffer; when no write is in flight
 * the buffer is swapped with a second one and handed to uv_fs_write, so at
 * most two buffers (2 * HTTP_SPOOL_BUF) are held whatever the body size.
 * The connection stops reading while the filling buffer is full
 * (http_spool_room() == 0) and resumes on http_conn_spool_event.
 *
 * Every file operation is asynchronous (uv_fs_mkstemp, uv_fs_write,
 * uv_fs_close, uv_fs_unlink) and at most one is in flight per spool, on
 * one uv_fs_t. After each completes, spool_step starts the next one the
 * state calls for. A released spool (its request finished or abandoned)
 * drops unwritten bytes, then closes and unlinks the file and frees
 * itself. Each operation is counted in the server's spool_ops, taken from
 * the connection while attached and remembered at release (NULL once the
 * server is gone), so the server is not freed under a callback.
 */
#include "internal.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct http_spool {
  uv_loop_t *loop;
  http_conn_t *conn;     /* NULL once released */
  http_server_t *srv;    /* after release: the server to count on, or NULL */
  http_server_t *op_srv; /* the server counting the operation in flight */
  uv_fs_t req;
  int busy; /* req in flight */

  char *tpl;  /* "<dir>/assistd-body-XXXXXX" until created */
  char *path; /* the file, once created */
  uv_file fd; /* -1 when not open */

  char *fill; /* HTTP_SPOOL_BUF bytes: receives body bytes */
  size_t fill_len;
  char *wbuf; /* HTTP_SPOOL_BUF bytes: being written */
  size_t wlen, woff;

  uint64_t size;    /* body bytes received */
  uint64_t written; /* bytes written to the file */
  int err;          /* first error, or 0 */
  int complete;     /* the whole body was appended */
  int closed;       /* the file was closed (after complete) */
  int released;
};

static void spool_step(http_spool_t *sp);

static http_server_t *spool_srv(const http_spool_t *sp) {
  return sp->conn ? sp->conn->srv : sp->srv;
}

/* Bookkeeping common to starting every operation. */
static void op_begin(http_spool_t *sp) {
  sp->busy = 1;
  sp->req.data = sp;
  sp->op_srv = spool_srv(sp);
  if (sp->op_srv) sp->op_srv->spool_ops++;
}

/* A start that failed synchronously: no callback will come. */
static void op_abort(http_spool_t *sp, int rc) {
  sp->busy = 0;
  if (!sp->err) sp->err = rc;
  if (sp->op_srv) {
    sp->op_srv->spool_ops--; /* the caller's step continues; no check_done */
    sp->op_srv = NULL;
  }
}

static void spool_free(http_spool_t *sp) {
  free(sp->tpl);
  free(sp->path);
  free(sp->fill);
  free(sp->wbuf);
  free(sp);
}

static void on_fs(uv_fs_t *req) {
  http_spool_t *sp = req->data;
  http_server_t *s = sp->op_srv;
  ssize_t res = req->result;
  sp->op_srv = NULL;
  sp->busy = 0;
  switch (req->fs_type) {
  case UV_FS_MKSTEMP:
    if (res < 0) {
      if (!sp->err) sp->err = (int)res;
    } else {
      sp->fd = (uv_file)res;
      sp->path = xstrdup(req->path);
      if (s) s->spool_open++;
    }
    free(sp->tpl);
    sp->tpl = NULL;
    break;
  case UV_FS_WRITE:
    if (res <= 0) {
      if (!sp->err) sp->err = res < 0 ? (int)res : UV_EIO;
    } else {
      sp->woff += (size_t)res;
      sp->written += (uint64_t)res;
      if (sp->woff >= sp->wlen) sp->wlen = sp->woff = 0;
    }
    break;
  case UV_FS_CLOSE:
    sp->fd = -1;
    if (res < 0 && !sp->err) sp->err = (int)res;
    if (sp->complete && !sp->err) sp->closed = 1;
    break;
  case UV_FS_UNLINK:
    if (res < 0 && res != UV_ENOENT)
      log_kv(LOG_WARN, "http", "cannot remove spooled body", "path", sp->path,
             "error", uv_err_name((int)res), NULL);
    free(sp->path);
    sp->path = NULL;
    if (s && s->spool_open) s->spool_open--;
    break;
  default:
    break;
  }
  uv_fs_req_cleanup(req);
  http_conn_t *c = sp->conn; /* NULL once released: sp may be freed below */
  spool_step(sp);
  if (c) http_conn_spool_event(c);
  /* Last: the next operation (if any) is counted before this one is
   * uncounted, so the server cannot finish in between. */
  if (s) http_server_spool_op_done(s);
}

static void start_write(http_spool_t *sp) {
  uv_buf_t b =
      uv_buf_init(sp->wbuf + sp->woff, (unsigned)(sp->wlen - sp->woff));
  op_begin(sp);
  int rc = uv_fs_write(sp->loop, &sp->req, sp->fd, &b, 1, (int64_t)sp->written,
                       on_fs);
  if (rc < 0) op_abort(sp, rc);
}

static void start_close(http_spool_t *sp) {
  op_begin(sp);
  int rc = uv_fs_close(sp->loop, &sp->req, sp->fd, on_fs);
  if (rc < 0) {
    op_abort(sp, rc);
    sp->fd = -1; /* cannot happen for a valid fd; do not retry forever */
  }
}

static void start_unlink(http_spool_t *sp) {
  op_begin(sp);
  int rc = uv_fs_unlink(sp->loop, &sp->req, sp->path, on_fs);
  if (rc < 0) {
    op_abort(sp, rc);
    free(sp->path);
    sp->path = NULL;
  }
}

/* Starts the next operation the state calls for, if none is in flight. */
static void spool_step(http_spool_t *sp) {
  if (sp->busy) return;
  if (sp->released) {
    if (sp->fd >= 0)
      start_close(sp);
    else if (sp->path)
      start_unlink(sp);
    else if (!sp->tpl)
      spool_free(sp);
    return;
  }
  if (sp->err || sp->fd < 0) return; /* failed, closed, or still creating */
  if (sp->wlen > sp->woff) {
    start_write(sp); /* the rest of a short write */
  } else if (sp->fill_len) {
    char *t = sp->wbuf;
    sp->wbuf = sp->fill;
    sp->wlen = sp->fill_len;
    sp->woff = 0;
    sp->fill = t;
    sp->fill_len = 0;
    start_write(sp);
  } else if (sp->complete) {
    start_close(sp);
  }
}

http_spool_t *http_spool_new(http_conn_t *c, const char *dir) {
  http_spool_t *sp = xcalloc(1, sizeof *sp);
  sp->loop = c->timer.loop;
  sp->conn = c;
  sp->fd = -1;
  sp->fill = xmalloc(HTTP_SPOOL_BUF);
  sp->wbuf = xmalloc(HTTP_SPOOL_BUF);
  sp->tpl = xasprintf("%s/assistd-body-XXXXXX", dir && *dir ? dir : "/tmp");
  op_begin(sp);
  /* mkstemp: a fresh name, O_EXCL, mode 0600; libuv adds O_CLOEXEC. */
  int rc = uv_fs_mkstemp(sp->loop, &sp->req, sp->tpl, on_fs);
  if (rc < 0) {
    op_abort(sp, rc); /* the caller checks http_spool_error */
    free(sp->tpl);
    sp->tpl = NULL;
  }
  return sp;
}

size_t http_spool_room(const http_spool_t *sp) {
  return HTTP_SPOOL_BUF - sp->fill_len;
}

void http_spool_append(http_spool_t *sp, const char *data, size_t len) {
  if (sp->err || sp->released || len == 0) return;
  if (len > HTTP_SPOOL_BUF - sp->fill_len) abort(); /* caller's contract */
  memcpy(sp->fill + sp->fill_len, data, len);
  sp->fill_len += len;
  sp->size += len;
  http_server_t *s = spool_srv(sp);
  size_t held = sp->fill_len + (sp->wlen - sp->woff);
  if (s && held > s->spool_peak) s->spool_peak = held;
  spool_step(sp);
}

uint64_t http_spool_size(const http_spool_t *sp) {
  return sp->size;
}

void http_spool_finish(http_spool_t *sp) {
  sp->complete = 1;
  spool_step(sp);
}

int http_spool_ready(const http_spool_t *sp) {
  return sp->closed && !sp->err && !sp->released;
}

int http_spool_error(const http_spool_t *sp) {
  return sp->err;
}

const char *http_spool_path(const http_spool_t *sp) {
  return sp->path;
}

void http_spool_release(http_spool_t *sp) {
  if (!sp || sp->released) return;
  sp->srv = sp->conn ? sp->conn->srv : NULL;
  sp->conn = NULL;
  sp->released = 1;
  sp->fill_len = 0;
  if (!sp->busy) sp->wlen = sp->woff = 0; /* else the write still uses it */
  spool_step(sp);
}
