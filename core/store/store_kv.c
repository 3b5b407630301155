/*
 * store_kv.c: the plugin-scoped key-value area (table kv). The scope is
 * the plugin instance name; the host fills it in, so a plugin only ever
 * sees its own keys.
 */
#include "store_priv.h"

#include "../common/alloc.h"

#include <stdlib.h>
#include <string.h>

static const store_stmt_t kv_get_stmt = {
    "kv_get", "SELECT value FROM kv WHERE plugin = $1 AND key = $2", NULL};
static const store_stmt_t kv_put_stmt = {
    "kv_put",
    "INSERT INTO kv (plugin, key, value, updated_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value,"
    " updated_at = excluded.updated_at",
    NULL};
static const store_stmt_t kv_del_stmt = {
    "kv_delete", "DELETE FROM kv WHERE plugin = $1 AND key = $2", NULL};
static const store_stmt_t kv_list_stmt = {
    "kv_list",
    "SELECT key, value FROM kv WHERE plugin = $1"
    " AND substr(key, 1, length($2)) = $2 ORDER BY key LIMIT $3",
    "SELECT key, value FROM kv WHERE plugin = $1"
    " AND left(key, length($2::text)) = $2::text ORDER BY key LIMIT $3"};

typedef struct {
  void *cb;
  void *arg;
} kv_ctx_t;

static kv_ctx_t *ctx_new(void *cb, void *arg) {
  kv_ctx_t *c = xmalloc(sizeof(*c));
  c->cb = cb;
  c->arg = arg;
  return c;
}

static void got(store_t *s, int status, const char *errmsg, store_res_t *res,
                void *arg) {
  (void)errmsg;
  kv_ctx_t c = *(kv_ctx_t *)arg;
  free(arg);
  store_kv_get_cb cb = (store_kv_get_cb)c.cb;
  if (status < 0) {
    cb(s, status, 0, NULL, 0, c.arg);
    return;
  }
  if (store_res_rows(res, 0) == 0) {
    cb(s, 0, 0, NULL, 0, c.arg);
    return;
  }
  size_t len;
  const void *v = store_res_blob(res, 0, 0, 0, &len);
  cb(s, 0, 1, v, len, c.arg);
}

void store_kv_get(store_t *s, const char *scope, const char *key,
                  store_kv_get_cb cb, void *arg) {
  store_req_t *r = store_req_new(s, 0);
  store_req_stmt(r, &kv_get_stmt);
  store_req_bind_text(r, scope);
  store_req_bind_text(r, key);
  store_req_submit(r, got, ctx_new((void *)cb, arg));
}

static void done(store_t *s, int status, const char *errmsg, store_res_t *res,
                 void *arg) {
  (void)errmsg;
  (void)res;
  kv_ctx_t c = *(kv_ctx_t *)arg;
  free(arg);
  ((store_kv_done_cb)c.cb)(s, status, c.arg);
}

void store_kv_put(store_t *s, const char *scope, const char *key,
                  const void *value, size_t len, store_kv_done_cb cb,
                  void *arg) {
  store_req_t *r = store_req_new(s, 0);
  store_req_stmt(r, &kv_put_stmt);
  store_req_bind_text(r, scope);
  store_req_bind_text(r, key);
  store_req_bind_blob(r, value, len);
  store_req_bind_int(r, store_now_ms());
  store_req_submit(r, done, ctx_new((void *)cb, arg));
}

void store_kv_delete(store_t *s, const char *scope, const char *key,
                     store_kv_done_cb cb, void *arg) {
  store_req_t *r = store_req_new(s, 0);
  store_req_stmt(r, &kv_del_stmt);
  store_req_bind_text(r, scope);
  store_req_bind_text(r, key);
  store_req_submit(r, done, ctx_new((void *)cb, arg));
}

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)errmsg;
  kv_ctx_t c = *(kv_ctx_t *)arg;
  free(arg);
  store_kv_list_cb cb = (store_kv_list_cb)c.cb;
  if (status < 0) {
    cb(s, status, 0, NULL, NULL, NULL, c.arg);
    return;
  }
  size_t n = (size_t)store_res_rows(res, 0);
  const char **keys = xcalloc(n + 1, sizeof(*keys));
  const void **vals = xcalloc(n + 1, sizeof(*vals));
  size_t *lens = xcalloc(n + 1, sizeof(*lens));
  for (size_t i = 0; i < n; i++) {
    keys[i] = store_res_text(res, 0, (int)i, 0);
    vals[i] = store_res_blob(res, 0, (int)i, 1, &lens[i]);
  }
  cb(s, 0, n, keys, vals, lens, c.arg);
  free(keys);
  free(vals);
  free(lens);
}

void store_kv_list(store_t *s, const char *scope, const char *prefix,
                   size_t limit, store_kv_list_cb cb, void *arg) {
  store_req_t *r = store_req_new(s, 0);
  store_req_stmt(r, &kv_list_stmt);
  store_req_bind_text(r, scope);
  store_req_bind_text(r, prefix ? prefix : "");
  store_req_bind_int(r, limit ? (int64_t)limit : 1000);
  store_req_submit(r, listed, ctx_new((void *)cb, arg));
}
