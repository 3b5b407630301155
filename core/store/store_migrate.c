/*
 * store_migrate.c: versioned migrations. The files DIR/<backend>/NNNN_*.sql
 * are read on the libuv thread pool (disk), then applied in order inside
 * one transaction that also records them in schema_migrations. On
 * PostgreSQL an advisory lock serialises daemons starting together; the
 * pool has a single connection until migrations are done, so the two
 * requests below run on the same session.
 */
#include "store_priv.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *version; /* "0001" */
  char *name;    /* file name */
  char *sql;
} mig_file_t;

typedef struct {
  uv_work_t work;
  store_t *s;
  void (*done)(store_t *, int, const char *);
  char *dir;
  mig_file_t *files;
  size_t n;
  int status;
  char msg[512];
} mig_t;

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const mig_file_t *)a)->name, ((const mig_file_t *)b)->name);
}

static int valid_name(const char *n) {
  size_t len = strlen(n);
  if (len < 10 || strcmp(n + len - 4, ".sql") != 0) return 0;
  for (int i = 0; i < 4; i++)
    if (n[i] < '0' || n[i] > '9') return 0;
  return n[4] == '_';
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  buf_t b = {0};
  char tmp[8192];
  size_t k;
  while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0) buf_append(&b, tmp, k);
  int err = ferror(f);
  fclose(f);
  if (err) {
    buf_free(&b);
    return NULL;
  }
  if (!b.data) buf_puts(&b, "");
  return buf_take(&b);
}

/* Thread pool: list and read the files. */
static void mig_read(uv_work_t *w) {
  mig_t *m = w->data;
  DIR *d = opendir(m->dir);
  if (!d) {
    m->status = -errno;
    snprintf(m->msg, sizeof(m->msg), "migrations directory %s: %s", m->dir,
             strerror(errno));
    return;
  }
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!valid_name(e->d_name)) continue;
    if (m->n == cap) {
      cap = cap ? cap * 2 : 16;
      m->files = xrealloc(m->files, cap * sizeof(*m->files));
    }
    mig_file_t *f = &m->files[m->n++];
    f->name = xstrdup(e->d_name);
    f->version = xstrndup(e->d_name, 4);
    f->sql = NULL;
  }
  closedir(d);
  qsort(m->files, m->n, sizeof(*m->files), cmp_name);
  for (size_t i = 0; i < m->n; i++) {
    if (i && strcmp(m->files[i].version, m->files[i - 1].version) == 0) {
      m->status = -EINVAL;
      snprintf(m->msg, sizeof(m->msg), "two migrations numbered %s",
               m->files[i].version);
      return;
    }
    char *path = xasprintf("%s/%s", m->dir, m->files[i].name);
    m->files[i].sql = read_file(path);
    free(path);
    if (!m->files[i].sql) {
      m->status = -EIO;
      snprintf(m->msg, sizeof(m->msg), "cannot read %s", m->files[i].name);
      return;
    }
  }
}

static void mig_free(mig_t *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->files[i].name);
    free(m->files[i].version);
    free(m->files[i].sql);
  }
  free(m->files);
  free(m->dir);
  free(m);
}

static void mig_finish(mig_t *m, int status, const char *msg) {
  store_t *s = m->s;
  void (*done)(store_t *, int, const char *) = m->done;
  char *copy = msg ? xstrdup(msg) : NULL;
  mig_free(m);
  done(s, status, copy);
  free(copy);
}

typedef struct {
  mig_t *m;
  int status;
  char *msg;
} rb_t;

static void rolled_back(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  (void)status;
  (void)errmsg;
  (void)res;
  rb_t *rb = arg;
  mig_finish(rb->m, rb->status, rb->msg);
  free(rb->msg);
  free(rb);
}

static void fail_rollback(mig_t *m, int status, const char *msg) {
  rb_t *rb = xmalloc(sizeof(*rb));
  rb->m = m;
  rb->status = status < 0 ? status : -EIO;
  rb->msg = xstrdup(msg ? msg : "migration failed");
  store_req_t *r = store_req_new(m->s, 0);
  store_req_sql(r, "ROLLBACK");
  store_req_submit(r, rolled_back, rb);
}

static void applied(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  mig_t *m = arg;
  if (status < 0) {
    fail_rollback(m, status, errmsg);
    return;
  }
  mig_finish(m, 0, NULL);
}

static void listed(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  mig_t *m = arg;
  if (status < 0) {
    fail_rollback(m, status, errmsg);
    return;
  }
  size_t last = store_res_count(res) - 1;
  int rows = store_res_rows(res, last);
  store_req_t *r = store_req_new(s, 0);
  for (size_t i = 0; i < m->n; i++) {
    int have = 0;
    for (int k = 0; k < rows && !have; k++)
      have = strcmp(store_res_text(res, last, k, 0), m->files[i].version) == 0;
    if (have) continue;
    store_req_sql(r, m->files[i].sql);
    store_req_sql(r, "INSERT INTO schema_migrations(version, name, applied_at)"
                     " VALUES ($1, $2, $3)");
    store_req_bind_text(r, m->files[i].version);
    store_req_bind_text(r, m->files[i].name);
    store_req_bind_int(r, store_now_ms());
    log_kv(LOG_INFO, "store", "applying migration", "file", m->files[i].name,
           NULL);
  }
  store_req_sql(r, "COMMIT");
  store_req_submit(r, applied, m);
}

static void mig_read_done(uv_work_t *w, int status) {
  mig_t *m = w->data;
  if (status < 0 || m->status < 0) {
    mig_finish(m, status < 0 ? status : m->status,
               status < 0 ? "cancelled" : m->msg);
    return;
  }
  store_req_t *r = store_req_new(m->s, 0);
  if (m->s->kind == STORE_PG)
    store_req_sql(r, "BEGIN; SELECT pg_advisory_xact_lock(7243130001);"
                     " CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version text PRIMARY KEY, name text NOT NULL,"
                     " applied_at bigint NOT NULL);"
                     " SELECT version FROM schema_migrations");
  else
    store_req_sql(r, "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS "
                     "schema_migrations (version TEXT PRIMARY KEY,"
                     " name TEXT NOT NULL, applied_at INTEGER NOT NULL);"
                     " SELECT version FROM schema_migrations");
  store_req_submit(r, listed, m);
}

void store__migrate(store_t *s,
                    void (*done)(store_t *s, int status, const char *msg)) {
  if (!s->migrations_dir) {
    done(s, 0, NULL);
    return;
  }
  mig_t *m = xcalloc(1, sizeof(*m));
  m->s = s;
  m->done = done;
  m->dir = xasprintf("%s/%s", s->migrations_dir,
                     s->kind == STORE_PG ? "postgres" : "sqlite");
  m->work.data = m;
  int rc = uv_queue_work(s->loop, &m->work, mig_read, mig_read_done);
  if (rc < 0) {
    mig_free(m);
    done(s, rc, "cannot queue migration reading");
  }
}
