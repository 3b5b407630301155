/*
 * store_sqlite.c: the SQLite backend. One dedicated worker thread owns the
 * connection and takes requests from a queue; finished requests go back to
 * the loop through a uv_async_t. The loop never touches the database.
 *
 * Why a dedicated thread and not uv_queue_work: the libuv pool has four
 * threads shared with filesystem and getaddrinfo work, so a long
 * transaction would stall DNS for libpq and curl (ANCHORS.md 3.5). One
 * thread also serialises writers, which is what SQLite wants anyway.
 *
 * A second thread with a connection of its own (the reader) runs the
 * requests flagged STORE_READ and the checkpoints (copying the WAL into the
 * database file and syncing it), so that the worker does neither between
 * its writes. Read-only requests see the last commit, as WAL readers do,
 * and may pass writes queued before them (store.h). After each commit the
 * worker's WAL hook asks for one once the WAL holds CKPT_FRAMES frames. While
 * the worker keeps committing, a checkpoint from elsewhere cannot start the WAL
 * over (new frames follow the ones copied), so at CKPT_INLINE frames the worker
 * checkpoints itself, as SQLite's automatic checkpoint would, and the WAL stays
 * bounded. Planning a million events (tests/bench/planner.sh) spent about a
 * tenth of its time in inline checkpoints.
 */
#include "store_priv.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const store_stmt_t *key;
  sqlite3_stmt *st;
  int seq; /* its parameters are exactly $1..$seq in order, or -1 */
} sq_cache_t;

/* A connection and its prepared statements (one thread uses it). */
typedef struct {
  sqlite3 *db;
  sq_cache_t *cache;
  size_t ncache, capcache;
} sq_conn_t;

#define CKPT_FRAMES 1000
#define CKPT_INLINE 10000

typedef struct {
  store_t *s;
  uv_thread_t thread;
  int thread_started;
  /* The reader (started and joined by the worker). */
  uv_thread_t rd_thread;
  int rd_started; /* written by the worker before it reports the open */
  uv_cond_t rd_cv;
  /* Guarded by mu. */
  store_req_t *rd_head, *rd_tail;
  int ckpt_want, rd_stop;
  uv_mutex_t mu;
  uv_cond_t cv;
  uv_async_t async;
  /* Guarded by mu. */
  store_req_t *in_head, *in_tail;
  store_req_t *out_head, *out_tail;
  int stop;
  int open_done;
  int open_status;
  char open_msg[256];
  int exited;
  /* Loop side. */
  int open_reported;
  int ready;
  /* Worker side. */
  sq_conn_t w;
  char *path;
  int sync_full;
} sq_t;

static void push(store_req_t **head, store_req_t **tail, store_req_t *r) {
  r->next = NULL;
  if (*tail)
    (*tail)->next = r;
  else
    *head = r;
  *tail = r;
}

/* ---- worker thread ---- */

static int map_rc(int rc) {
  switch (rc & 0xff) {
  case SQLITE_CONSTRAINT:
    return -EEXIST;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return -EBUSY;
  case SQLITE_CANTOPEN:
  case SQLITE_NOTADB:
    return -ENOTCONN;
  default:
    return -EIO;
  }
}

/* Parameters named $1..$N in order of first use bind by position; the
 * lookup by name is linear per parameter, quadratic for a statement with
 * hundreds (multi-row inserts), so it is done once here. */
static int params_seq(sqlite3_stmt *st) {
  int n = sqlite3_bind_parameter_count(st);
  char name[32];
  for (int i = 1; i <= n; i++) {
    const char *pn = sqlite3_bind_parameter_name(st, i);
    snprintf(name, sizeof(name), "$%d", i);
    if (!pn || strcmp(pn, name) != 0) return -1;
  }
  return n;
}

static sqlite3_stmt *cached(sq_conn_t *c, const store_stmt_t *key, int *rc,
                            int *seq) {
  for (size_t i = 0; i < c->ncache; i++)
    if (c->cache[i].key == key) {
      *seq = c->cache[i].seq;
      return c->cache[i].st;
    }
  sqlite3_stmt *st = NULL;
  *rc = sqlite3_prepare_v3(c->db, key->sqlite, -1, SQLITE_PREPARE_PERSISTENT,
                           &st, NULL);
  if (*rc != SQLITE_OK) return NULL;
  if (c->ncache == c->capcache) {
    c->capcache = c->capcache ? c->capcache * 2 : 32;
    c->cache = xrealloc(c->cache, c->capcache * sizeof(*c->cache));
  }
  c->cache[c->ncache].key = key;
  c->cache[c->ncache].st = st;
  c->cache[c->ncache].seq = *seq = params_seq(st);
  c->ncache++;
  return st;
}

static int bind_params(sqlite3_stmt *st, const store_req_t *r,
                       const store_sreq_t *sr, int seq) {
  char name[32];
  for (size_t k = 0; k < sr->n; k++) {
    const store_val_t *v = &r->params[sr->first + k];
    int idx;
    if (seq >= 0) {
      idx = k < (size_t)seq ? (int)k + 1 : 0;
    } else {
      snprintf(name, sizeof(name), "$%zu", k + 1);
      idx = sqlite3_bind_parameter_index(st, name);
    }
    if (idx == 0) continue; /* parameter unused by this dialect's text */
    int rc;
    switch (v->type) {
    case SV_INT:
      rc = sqlite3_bind_int64(st, idx, v->i);
      break;
    case SV_TEXT:
      rc = sqlite3_bind_text(st, idx, v->p, (int)v->len, SQLITE_STATIC);
      break;
    case SV_BLOB:
      rc = sqlite3_bind_blob(st, idx, v->p, (int)v->len, SQLITE_STATIC);
      break;
    default:
      rc = sqlite3_bind_null(st, idx);
    }
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

/* Steps st to the end, collecting rows into rs (when rs is not NULL). */
static int run_stmt(sq_conn_t *c, sqlite3_stmt *st, store_rs_t *rs) {
  int cols = sqlite3_column_count(st);
  if (rs) store__rs_begin(rs, cols);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (!rs) continue;
    for (int c = 0; c < cols; c++) {
      int t = sqlite3_column_type(st, c);
      if (t == SQLITE_NULL) {
        store__rs_cell(rs, NULL, 0, 1);
      } else if (t == SQLITE_INTEGER) {
        /* Read as an integer, not converted to text by SQLite (which
         * allocates per cell): store_res_int then needs no parsing. */
        store__rs_int(rs, sqlite3_column_int64(st, c));
      } else if (t == SQLITE_BLOB) {
        const void *p = sqlite3_column_blob(st, c);
        store__rs_cell(rs, p, (size_t)sqlite3_column_bytes(st, c), 0);
      } else {
        const unsigned char *p = sqlite3_column_text(st, c);
        store__rs_cell(rs, p, (size_t)sqlite3_column_bytes(st, c), 0);
      }
    }
  }
  if (rs) rs->changes = sqlite3_changes64(c->db);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int exec_simple(sq_conn_t *c, const char *sql) {
  return sqlite3_exec(c->db, sql, NULL, NULL, NULL);
}

static int exec_sql_text(sq_conn_t *c, store_req_t *r, const store_sreq_t *sr,
                         store_rs_t *rs) {
  const char *tail = sr->sql;
  int rc = SQLITE_OK;
  store__rs_begin(rs, 0);
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(c->db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) return rc;
    if (!st) break; /* whitespace or comment */
    rc = bind_params(st, r, sr, -1);
    if (rc == SQLITE_OK) {
      if (sqlite3_column_count(st) > 0) {
        rc = run_stmt(c, st, rs);
      } else {
        rc = run_stmt(c, st, NULL);
        rs->changes = sqlite3_changes64(c->db);
      }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;
  }
  return rc;
}

static void execute(sq_conn_t *c, store_req_t *r) {
  int rc = SQLITE_OK;
  const char *what = "";
  /* A read's statements see one snapshot (a deferred transaction). */
  int rd = (r->flags & STORE_READ) != 0;
  int txn = (r->flags & STORE_TXN) || (rd && r->nstmts > 1);
  if (txn &&
      (rc = exec_simple(c, rd ? "BEGIN" : "BEGIN IMMEDIATE")) != SQLITE_OK) {
    what = "BEGIN";
    goto fail;
  }
  for (size_t i = 0; i < r->nstmts; i++) {
    store_sreq_t *sr = &r->stmts[i];
    store_rs_t *rs = store__res_add(r);
    if (sr->sql) {
      what = "sql";
      rc = exec_sql_text(c, r, sr, rs);
    } else {
      what = sr->stmt->name;
      int seq;
      sqlite3_stmt *st = cached(c, sr->stmt, &rc, &seq);
      if (!st) goto fail;
      rc = bind_params(st, r, sr, seq);
      if (rc == SQLITE_OK) rc = run_stmt(c, st, rs);
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
    }
    if (rc != SQLITE_OK) goto fail;
  }
  if (txn && (rc = exec_simple(c, "COMMIT")) != SQLITE_OK) {
    what = "COMMIT";
    goto fail;
  }
  r->status = 0;
  return;
fail : {
  char msg[512];
  snprintf(msg, sizeof(msg), "%s: %s", what, sqlite3_errmsg(c->db));
  int st = map_rc(rc);
  if (txn && !sqlite3_get_autocommit(c->db)) exec_simple(c, "ROLLBACK");
  store__req_fail(r, st, msg);
}
}

/* Worker: after every commit (the worker's connection). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
  sq_t *q = arg;
  if (frames >= CKPT_INLINE) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  } else if (frames >= CKPT_FRAMES) {
    uv_mutex_lock(&q->mu);
    q->ckpt_want = 1;
    uv_cond_signal(&q->rd_cv);
    uv_mutex_unlock(&q->mu);
  }
  return SQLITE_OK;
}

static void close_conn(sq_conn_t *c) {
  for (size_t i = 0; i < c->ncache; i++) sqlite3_finalize(c->cache[i].st);
  free(c->cache);
  sqlite3_close(c->db);
  memset(c, 0, sizeof *c);
}

/* The reader's connection, opened when first needed; 0 or an SQLite
 * error (the connection is then closed, and tried again next time). */
static int reader_open(sq_t *q, sq_conn_t *c) {
  if (c->db) return SQLITE_OK;
  int rc = sqlite3_open_v2(q->path, &c->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  const char *pragmas[] = {
      q->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
      "PRAGMA temp_store=MEMORY",
      "PRAGMA query_only=1", /* STORE_READ requests cannot write */
  };
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(c->db, 5000);
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(pragmas) / sizeof(*pragmas);
       i++)
    rc = exec_simple(c, pragmas[i]);
  if (rc != SQLITE_OK) close_conn(c);
  return rc;
}

static void finished(sq_t *q, store_req_t *r) {
  uv_mutex_lock(&q->mu);
  push(&q->out_head, &q->out_tail, r);
  uv_mutex_unlock(&q->mu);
  uv_async_send(&q->async);
}

static void reader(void *arg) {
  sq_t *q = arg;
  sq_conn_t c = {0};
  for (;;) {
    uv_mutex_lock(&q->mu);
    while (!q->rd_head && !q->ckpt_want && !q->rd_stop)
      uv_cond_wait(&q->rd_cv, &q->mu);
    store_req_t *batch = q->rd_head;
    q->rd_head = q->rd_tail = NULL;
    int ckpt = q->ckpt_want, stop = q->rd_stop && !batch;
    q->ckpt_want = 0;
    uv_mutex_unlock(&q->mu);
    if (stop) break;
    int rc = reader_open(q, &c);
    while (batch) {
      store_req_t *r = batch;
      batch = r->next;
      if (rc == SQLITE_OK)
        execute(&c, r);
      else
        store__req_fail(r, -ENOTCONN, sqlite3_errstr(rc));
      finished(q, r);
    }
    /* Without a connection the checkpoints are left to the worker. */
    if (ckpt && rc == SQLITE_OK)
      sqlite3_wal_checkpoint_v2(c.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                NULL);
  }
  close_conn(&c);
}

static void start_reader(sq_t *q) {
  sqlite3_wal_hook(q->w.db, wal_hook, q); /* replaces the automatic one */
  if (uv_thread_create(&q->rd_thread, reader, q) != 0) {
    sqlite3_wal_autocheckpoint(q->w.db, CKPT_FRAMES);
    return;
  }
  uv_mutex_lock(&q->mu);
  q->rd_started = 1;
  uv_mutex_unlock(&q->mu);
}

/* Read-only requests still queued were cancelled by sq_close. */
static void stop_reader(sq_t *q) {
  uv_mutex_lock(&q->mu);
  int started = q->rd_started;
  q->rd_stop = 1;
  uv_cond_signal(&q->rd_cv);
  uv_mutex_unlock(&q->mu);
  if (started) uv_thread_join(&q->rd_thread);
}

static void worker(void *arg) {
  sq_t *q = arg;
  int rc = sqlite3_open_v2(
      q->path, &q->w.db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  /* page_size applies to a new database only, and only before WAL is on:
   * 8 KiB pages cut the B-tree work and WAL frames of bulk writes (planning
   * a million events: tests/bench/planner.sh) against 4 KiB. */
  const char *pragmas[] = {
      "PRAGMA page_size=8192",
      "PRAGMA journal_mode=WAL",
      q->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
      "PRAGMA foreign_keys=ON",
      "PRAGMA temp_store=MEMORY",
  };
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(q->w.db, 5000);
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(pragmas) / sizeof(*pragmas);
       i++)
    rc = exec_simple(&q->w, pragmas[i]);
  if (rc == SQLITE_OK) start_reader(q);
  uv_mutex_lock(&q->mu);
  q->open_done = 1;
  q->open_status = rc == SQLITE_OK ? 0 : -ENOTCONN;
  if (rc != SQLITE_OK)
    snprintf(q->open_msg, sizeof(q->open_msg), "%s: %s", q->path,
             q->w.db ? sqlite3_errmsg(q->w.db) : sqlite3_errstr(rc));
  uv_mutex_unlock(&q->mu);
  uv_async_send(&q->async);

  for (;;) {
    uv_mutex_lock(&q->mu);
    while (!q->in_head && !q->stop) uv_cond_wait(&q->cv, &q->mu);
    store_req_t *batch = q->in_head;
    q->in_head = q->in_tail = NULL;
    int stop = q->stop && !batch;
    uv_mutex_unlock(&q->mu);
    if (stop) break;
    while (batch) {
      store_req_t *r = batch;
      batch = r->next;
      if (rc == SQLITE_OK)
        execute(&q->w, r);
      else
        store__req_fail(r, -ENOTCONN, q->open_msg);
      finished(q, r);
    }
  }
  stop_reader(q);
  close_conn(&q->w);
  uv_mutex_lock(&q->mu);
  q->exited = 1;
  uv_mutex_unlock(&q->mu);
  uv_async_send(&q->async);
}

/* ---- loop side ---- */

static void async_closed(uv_handle_t *h) {
  sq_t *q = h->data;
  store_t *s = q->s;
  uv_mutex_destroy(&q->mu);
  uv_cond_destroy(&q->cv);
  uv_cond_destroy(&q->rd_cv);
  free(q->path);
  free(q);
  store__closed(s);
}

static void on_async(uv_async_t *a) {
  sq_t *q = a->data;
  uv_mutex_lock(&q->mu);
  store_req_t *done = q->out_head;
  q->out_head = q->out_tail = NULL;
  int open_done = q->open_done, exited = q->exited;
  uv_mutex_unlock(&q->mu);

  if (open_done && !q->open_reported) {
    q->open_reported = 1;
    q->ready = q->open_status == 0;
    if (!q->s->closing) {
      if (q->open_status < 0) store__set_error(q->s, q->open_msg);
      store__opened(q->s, q->open_status, q->open_msg);
    }
  }
  while (done) {
    store_req_t *r = done;
    done = r->next;
    store__complete(r);
  }
  if (exited && q->thread_started) {
    uv_thread_join(&q->thread);
    q->thread_started = 0;
    uv_close((uv_handle_t *)&q->async, async_closed);
  }
}

static void free_unstarted(uv_handle_t *h) {
  sq_t *q = h->data;
  free(q->path);
  free(q);
}

static int sq_open(store_t *s, const char *uri) {
  sq_t *q = xcalloc(1, sizeof(*q));
  q->s = s;
  const char *path = uri + 7;
  const char *qm = strchr(path, '?');
  q->path = qm ? xstrndup(path, (size_t)(qm - path)) : xstrdup(path);
  if (qm && strstr(qm, "sync=full")) q->sync_full = 1;
  if (!*q->path) {
    free(q->path);
    free(q);
    return -EINVAL;
  }
  uv_mutex_init(&q->mu);
  uv_cond_init(&q->cv);
  uv_cond_init(&q->rd_cv);
  uv_async_init(s->loop, &q->async, on_async);
  q->async.data = q;
  s->be = q;
  if (uv_thread_create(&q->thread, worker, q) != 0) {
    uv_mutex_destroy(&q->mu);
    uv_cond_destroy(&q->cv);
    uv_cond_destroy(&q->rd_cv);
    /* The async handle must be closed before q goes away. */
    s->be = NULL;
    uv_close((uv_handle_t *)&q->async, free_unstarted);
    return -EAGAIN;
  }
  q->thread_started = 1;
  return 0;
}

static void sq_start(store_t *s) {
  (void)s;
}

static void sq_submit(store_t *s, store_req_t *r) {
  sq_t *q = s->be;
  uv_mutex_lock(&q->mu);
  if (q->stop) {
    store__req_fail(r, -ECANCELED, "store is closing");
    push(&q->out_head, &q->out_tail, r);
    uv_mutex_unlock(&q->mu);
    uv_async_send(&q->async);
    return;
  }
  if ((r->flags & STORE_READ) && q->rd_started) {
    push(&q->rd_head, &q->rd_tail, r);
    uv_cond_signal(&q->rd_cv);
  } else {
    push(&q->in_head, &q->in_tail, r);
    uv_cond_signal(&q->cv);
  }
  uv_mutex_unlock(&q->mu);
}

/* Queued requests are cancelled; the ones running finish. */
static void cancel_queue(sq_t *q, store_req_t **head, store_req_t **tail) {
  store_req_t *r = *head;
  *head = *tail = NULL;
  while (r) {
    store_req_t *n = r->next;
    store__req_fail(r, -ECANCELED, "store is closing");
    push(&q->out_head, &q->out_tail, r);
    r = n;
  }
}

static void sq_close(store_t *s) {
  sq_t *q = s->be;
  uv_mutex_lock(&q->mu);
  cancel_queue(q, &q->in_head, &q->in_tail);
  cancel_queue(q, &q->rd_head, &q->rd_tail);
  q->stop = 1;
  uv_cond_signal(&q->cv);
  uv_mutex_unlock(&q->mu);
  uv_async_send(&q->async);
}

static int sq_ready(const store_t *s) {
  const sq_t *q = s->be;
  return q->ready;
}

const store_backend_ops_t store_sqlite_ops = {
    .open = sq_open,
    .start = sq_start,
    .submit = sq_submit,
    .listen = NULL,
    .close = sq_close,
    .ready = sq_ready,
};
