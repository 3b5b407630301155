/*
 * store.c: the backend-independent half of the store: opening (backend
 * selection, migrations), requests, results.
 */
#include "store_priv.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t store_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store__set_error(store_t *s, const char *msg) {
  snprintf(s->last_error, sizeof(s->last_error), "%s", msg ? msg : "");
}

static void fail_open(store_t *s, int status, const char *msg) {
  char *m = xstrdup(msg ? msg : "cannot open the database");
  store_open_cb cb = s->open_cb;
  void *arg = s->open_arg;
  log_kv(LOG_ERROR, "store", "open failed", "error", m, NULL);
  store_close(s, NULL, NULL);
  cb(NULL, status, m, arg);
  free(m);
}

static void migrated(store_t *s, int status, const char *msg) {
  if (status < 0) {
    fail_open(s, status, msg);
    return;
  }
  s->ops->start(s);
  log_kv(LOG_INFO, "store", "opened", "backend",
         s->kind == STORE_SQLITE ? "sqlite" : "postgresql", NULL);
  s->open_cb(s, 0, NULL, s->open_arg);
}

void store__opened(store_t *s, int status, const char *msg) {
  if (status == 0)
    store__migrate(s, migrated);
  else
    fail_open(s, status, msg);
}
int store_open(uv_loop_t *loop, const char *uri, const char *migrations_dir,
               store_open_cb cb, void *arg) {
  if (!loop || !uri || !cb) return -EINVAL;
  const store_backend_ops_t *ops;
  store_backend_t kind;
  if (strncmp(uri, "sqlite:", 7) == 0) {
    ops = &store_sqlite_ops;
    kind = STORE_SQLITE;
  } else if (strncmp(uri, "postgresql://", 13) == 0 ||
             strncmp(uri, "postgres://", 11) == 0) {
    ops = &store_pg_ops;
    kind = STORE_PG;
  } else {
    return -EINVAL;
  }
  store_t *s = xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->kind = kind;
  s->ops = ops;
  s->uri = xstrdup(uri);
  s->migrations_dir = migrations_dir ? xstrdup(migrations_dir) : NULL;
  s->open_cb = cb;
  s->open_arg = arg;
  int rc = ops->open(s, uri);
  if (rc < 0) {
    free(s->uri);
    free(s->migrations_dir);
    free(s);
  }
  return rc;
}

void store_close(store_t *s, store_close_cb cb, void *arg) {
  if (s->closing) return;
  s->closing = 1;
  s->close_cb = cb;
  s->close_arg = arg;
  s->ops->close(s);
}

void store__closed(store_t *s) {
  store_close_cb cb = s->close_cb;
  void *arg = s->close_arg;
  free(s->uri);
  free(s->migrations_dir);
  free(s->listen_channel);
  free(s);
  if (cb) cb(arg);
}

store_backend_t store_backend(const store_t *s) {
  return s->kind;
}

uv_loop_t *store_loop(const store_t *s) {
  return s->loop;
}

int store_ready(const store_t *s) {
  return !s->closing && s->ops->ready(s);
}

const char *store_last_error(const store_t *s) {
  return s->last_error;
}

int store_listen(store_t *s, const char *channel, store_notify_cb cb,
                 void *arg) {
  if (!s->ops->listen) return -ENOTSUP;
  for (const char *p = channel; *p; p++)
    if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
      return -EINVAL;
  if (s->listen_channel) return -EALREADY;
  s->listen_channel = xstrdup(channel);
  s->notify_cb = cb;
  s->notify_arg = arg;
  return s->ops->listen(s, channel);
}

void store_unlisten(store_t *s) {
  s->notify_cb = NULL;
  s->notify_arg = NULL;
}

/* ---- requests ---- */

store_req_t *store_req_new(store_t *s, int flags) {
  store_req_t *r = xcalloc(1, sizeof(*r));
  r->s = s;
  r->flags = flags;
  return r;
}

static store_sreq_t *add_stmt(store_req_t *r) {
  if (r->nstmts == r->capstmts) {
    r->capstmts = r->capstmts ? r->capstmts * 2 : 4;
    r->stmts = xrealloc(r->stmts, r->capstmts * sizeof(*r->stmts));
  }
  store_sreq_t *st = &r->stmts[r->nstmts++];
  memset(st, 0, sizeof(*st));
  st->first = r->nparams;
  return st;
}

void store_req_stmt(store_req_t *r, const store_stmt_t *stmt) {
  add_stmt(r)->stmt = stmt;
}

void store_req_sql(store_req_t *r, const char *sql) {
  add_stmt(r)->sql = xstrdup(sql);
}

size_t store_req_nstmts(const store_req_t *r) {
  return r->nstmts;
}

static store_val_t *add_param(store_req_t *r) {
  if (r->nparams == r->capparams) {
    r->capparams = r->capparams ? r->capparams * 2 : 8;
    r->params = xrealloc(r->params, r->capparams * sizeof(*r->params));
  }
  store_val_t *v = &r->params[r->nparams++];
  memset(v, 0, sizeof(*v));
  if (r->nstmts) r->stmts[r->nstmts - 1].n++;
  return v;
}

void store_req_bind_int(store_req_t *r, int64_t v) {
  store_val_t *p = add_param(r);
  p->type = SV_INT;
  p->i = v;
}

void store_req_bind_textn(store_req_t *r, const char *s, size_t n) {
  store_val_t *p = add_param(r);
  if (!s) return;
  p->type = SV_TEXT;
  p->p = xstrndup(s, n);
  p->len = strlen(p->p);
}

void store_req_bind_text_ref(store_req_t *r, const char *s, size_t n) {
  store_val_t *p = add_param(r);
  if (!s) return;
  p->type = SV_TEXT;
  p->p = (char *)s;
  p->len = n;
  p->borrowed = 1;
}

void store_req_bind_text(store_req_t *r, const char *s) {
  store_req_bind_textn(r, s, s ? strlen(s) : 0);
}

void store_req_bind_blob(store_req_t *r, const void *b, size_t n) {
  store_val_t *p = add_param(r);
  p->type = SV_BLOB;
  p->p = xmalloc(n + 1);
  if (n) memcpy(p->p, b, n);
  p->p[n] = 0;
  p->len = n;
}

void store_req_bind_null(store_req_t *r) {
  add_param(r);
}

void store__res_clear(store_res_t *res) {
  for (size_t i = 0; i < res->n; i++) {
    free(res->rs[i].cells);
    buf_free(&res->rs[i].data);
  }
  free(res->rs);
  res->rs = NULL;
  res->n = 0;
}

void store_req_free(store_req_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nstmts; i++) free(r->stmts[i].sql);
  for (size_t i = 0; i < r->nparams; i++)
    if (!r->params[i].borrowed) free(r->params[i].p);
  free(r->stmts);
  free(r->params);
  free(r->errmsg);
  store__res_clear(&r->res);
  free(r);
}

int store_req_submit(store_req_t *r, store_done_cb cb, void *arg) {
  r->cb = cb;
  r->arg = arg;
  r->s->ops->submit(r->s, r);
  return 0;
}

void store__req_fail(store_req_t *r, int status, const char *msg) {
  r->status = status;
  free(r->errmsg);
  r->errmsg = xstrdup(msg ? msg : "");
  store__res_clear(&r->res);
}

void store__complete(store_req_t *r) {
  if (r->cb)
    r->cb(r->s, r->status, r->status ? r->errmsg : NULL,
          r->status ? NULL : &r->res, r->arg);
  store_req_free(r);
}

/* ---- results ---- */

store_rs_t *store__res_add(store_req_t *r) {
  r->res.rs = xrealloc(r->res.rs, (r->res.n + 1) * sizeof(*r->res.rs));
  store_rs_t *rs = &r->res.rs[r->res.n++];
  memset(rs, 0, sizeof(*rs));
  return rs;
}

void store__rs_begin(store_rs_t *rs, int cols) {
  free(rs->cells);
  buf_reset(&rs->data);
  rs->cells = NULL;
  rs->ncells = rs->capcells = 0;
  rs->rows = 0;
  rs->cols = cols;
}

void store__rs_cell(store_rs_t *rs, const void *p, size_t len, int null) {
  static const char z = 0;
  if (rs->ncells == rs->capcells) {
    rs->capcells = rs->capcells ? rs->capcells * 2 : 16;
    rs->cells = xrealloc(rs->cells, rs->capcells * sizeof(*rs->cells));
  }
  store_cell_t *c = &rs->cells[rs->ncells++];
  c->off = rs->data.len;
  c->len = null ? 0 : len;
  c->null = null;
  c->isint = 0;
  c->i = 0;
  if (!null && len) buf_append(&rs->data, p, len);
  buf_append(&rs->data, &z, 1);
  if (rs->cols && rs->ncells % (size_t)rs->cols == 0) rs->rows++;
}

void store__rs_int(store_rs_t *rs, int64_t v) {
  /* The decimal, written backwards (INT64_MIN included). */
  char tmp[24], *e = tmp + sizeof tmp, *p = e;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  store__rs_cell(rs, p, (size_t)(e - p), 0);
  store_cell_t *c = &rs->cells[rs->ncells - 1];
  c->isint = 1;
  c->i = v;
}

size_t store_res_count(const store_res_t *res) {
  return res ? res->n : 0;
}

static const store_rs_t *rs_at(const store_res_t *res, size_t stmt) {
  return res && stmt < res->n ? &res->rs[stmt] : NULL;
}

int store_res_rows(const store_res_t *res, size_t stmt) {
  const store_rs_t *rs = rs_at(res, stmt);
  return rs ? rs->rows : 0;
}

int store_res_cols(const store_res_t *res, size_t stmt) {
  const store_rs_t *rs = rs_at(res, stmt);
  return rs ? rs->cols : 0;
}

int64_t store_res_changes(const store_res_t *res, size_t stmt) {
  const store_rs_t *rs = rs_at(res, stmt);
  return rs ? rs->changes : 0;
}

static const store_cell_t *cell(const store_res_t *res, size_t stmt, int row,
                                int col) {
  const store_rs_t *rs = rs_at(res, stmt);
  if (!rs || row < 0 || col < 0 || row >= rs->rows || col >= rs->cols)
    return NULL;
  return &rs->cells[(size_t)row * (size_t)rs->cols + (size_t)col];
}

int store_res_isnull(const store_res_t *res, size_t stmt, int row, int col) {
  const store_cell_t *c = cell(res, stmt, row, col);
  return !c || c->null;
}

const char *store_res_text(const store_res_t *res, size_t stmt, int row,
                           int col) {
  const store_cell_t *c = cell(res, stmt, row, col);
  if (!c || c->null) return "";
  return rs_at(res, stmt)->data.data + c->off;
}

const void *store_res_blob(const store_res_t *res, size_t stmt, int row,
                           int col, size_t *len) {
  const store_cell_t *c = cell(res, stmt, row, col);
  if (!c || c->null) {
    if (len) *len = 0;
    return "";
  }
  if (len) *len = c->len;
  return rs_at(res, stmt)->data.data + c->off;
}

int64_t store_res_int(const store_res_t *res, size_t stmt, int row, int col) {
  const store_cell_t *c = cell(res, stmt, row, col);
  if (c && c->isint) return c->i;
  return strtoll(store_res_text(res, stmt, row, col), NULL, 10);
}

store_res_t *store_res_take(store_res_t *res) {
  store_res_t *t = xcalloc(1, sizeof(*t));
  if (res) {
    *t = *res;
    res->rs = NULL;
    res->n = 0;
  }
  return t;
}

void store_res_free(store_res_t *res) {
  if (!res) return;
  store__res_clear(res);
  free(res);
}
