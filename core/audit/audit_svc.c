/* audit_svc.c: the audit log on its own thread, results on the loop. */
#include "audit_svc.h"

#include "audit_pg.h"
#include "audit_sqlite.h"

#include "common/alloc.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- connections by URI ---------------- */

struct audit_conn {
  audit_sink_t sink;
  sqlite3 *db; /* SQLite: the connection the sink borrows; NULL for PG */
};

int audit_conn_open(const char *uri, audit_conn_t **out, char *err,
                    size_t errlen) {
  audit_conn_t *c = xcalloc(1, sizeof *c);
  int rc;
  if (strncmp(uri, "sqlite:", 7) != 0) {
    rc = audit_pg_sink_new(uri, &c->sink, err, errlen);
    if (rc < 0) goto fail;
    *out = c;
    return 0;
  }
  char *path = xstrdup(uri + 7);
  char *q = strchr(path, '?');
  if (q) *q = '\0';
  rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path,
             c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    free(path);
    rc = -EIO;
    goto fail;
  }
  free(path);
  sqlite3_busy_timeout(c->db, 5000);
  sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
  if (audit_sqlite_sink_new(c->db, &c->sink) != 0) {
    snprintf(err, errlen, "no audit tables in the database (migration 0002)");
    rc = -EIO;
    goto fail;
  }
  *out = c;
  return 0;
fail:
  if (c->db) sqlite3_close(c->db);
  free(c);
  return rc;
}

audit_sink_t audit_conn_sink(const audit_conn_t *c) {
  return c->sink;
}

void audit_conn_close(audit_conn_t *c) {
  if (!c) return;
  if (c->db) {
    audit_sqlite_sink_free(&c->sink);
    sqlite3_close(c->db);
  } else {
    audit_pg_sink_free(&c->sink);
  }
  free(c);
}

/* ---------------- the service ---------------- */

typedef struct item {
  struct item *next;
  audit_svc_work_fn work;
  audit_svc_done_fn done;
  void *arg;
  int status;
} item_t;

struct audit_svc {
  uv_loop_t *loop;
  char *uri;
  secrets_keyring_t *ring;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  item_t *todo, **todo_tail; /* loop -> thread */
  item_t *done, **done_tail; /* thread -> loop */
  int stopping, exited;
  uv_async_t async;
  void (*close_cb)(void *);
  void *close_arg;
  metric_t *m_ops;
  /* thread-only */
  audit_conn_t *conn;
  audit_log_t *log;
};

static int is_conn_error(int rc) {
  return rc == -ENOTCONN || rc == -EIO || rc == -ECONNRESET;
}

static int ensure_open(audit_svc_t *s) {
  if (s->log) return 0;
  char err[512] = "";
  int rc = audit_conn_open(s->uri, &s->conn, err, sizeof err);
  if (rc < 0) {
    log_kv(LOG_WARN, "audit", "cannot open the audit database", "error", err,
           NULL);
    return -ENOTCONN;
  }
  rc = audit_log_new(s->ring, audit_conn_sink(s->conn), &s->log);
  if (rc < 0) {
    audit_conn_close(s->conn);
    s->conn = NULL;
  }
  return rc;
}

static void drop_conn(audit_svc_t *s) {
  audit_log_free(s->log);
  s->log = NULL;
  audit_conn_close(s->conn);
  s->conn = NULL;
}

static void *thread_main(void *arg) {
  audit_svc_t *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->todo && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
    item_t *it = s->todo;
    if (!it) break; /* stopping and drained */
    s->todo = it->next;
    if (!s->todo) s->todo_tail = &s->todo;
    pthread_mutex_unlock(&s->mu);

    int rc = ensure_open(s);
    if (rc == 0) {
      rc = it->work(s->log, it->arg);
      /* A broken PostgreSQL connection: reconnect on the next item. */
      if (is_conn_error(rc) && strncmp(s->uri, "sqlite:", 7) != 0) {
        drop_conn(s);
        rc = -ENOTCONN;
      }
    }
    it->status = rc;
    it->next = NULL;

    pthread_mutex_lock(&s->mu);
    *s->done_tail = it;
    s->done_tail = &it->next;
    uv_async_send(&s->async);
  }
  pthread_mutex_unlock(&s->mu);
  drop_conn(s);
  pthread_mutex_lock(&s->mu);
  s->exited = 1;
  pthread_mutex_unlock(&s->mu);
  uv_async_send(&s->async);
  return NULL;
}

static void closed_cb(uv_handle_t *h) {
  audit_svc_t *s = h->data;
  pthread_join(s->thread, NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  void (*cb)(void *) = s->close_cb;
  void *arg = s->close_arg;
  free(s->uri);
  free(s);
  if (cb) cb(arg);
}

static void closed_nothread_cb(uv_handle_t *h) {
  audit_svc_t *s = h->data;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->uri);
  free(s);
}

static void async_cb(uv_async_t *a) {
  audit_svc_t *s = a->data;
  pthread_mutex_lock(&s->mu);
  item_t *list = s->done;
  s->done = NULL;
  s->done_tail = &s->done;
  int exited = s->exited;
  pthread_mutex_unlock(&s->mu);
  while (list) {
    item_t *it = list;
    list = it->next;
    metric_add(s->m_ops,
               it->status == 0 ? "outcome=\"ok\"" : "outcome=\"error\"", 1);
    it->done(it->status, it->arg);
    free(it);
  }
  if (exited && !uv_is_closing((uv_handle_t *)&s->async))
    uv_close((uv_handle_t *)&s->async, closed_cb);
}

int audit_svc_start(uv_loop_t *loop, const char *uri, secrets_keyring_t *ring,
                    audit_svc_t **out) {
  audit_svc_t *s = xcalloc(1, sizeof *s);
  s->loop = loop;
  s->uri = xstrdup(uri);
  s->ring = ring;
  s->todo_tail = &s->todo;
  s->done_tail = &s->done;
  s->m_ops = metrics_family(METRIC_COUNTER, "assist_audit_operations_total",
                            "Audit log operations by outcome", NULL, 0);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  int rc = uv_async_init(loop, &s->async, async_cb);
  if (rc < 0) goto fail;
  s->async.data = s;
  rc = -pthread_create(&s->thread, NULL, thread_main, s);
  if (rc < 0) {
    /* No thread: close the handle; its callback frees the service. */
    uv_close((uv_handle_t *)&s->async, closed_nothread_cb);
    return rc;
  }
  *out = s;
  return 0;
fail:
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->uri);
  free(s);
  return rc;
}

void audit_svc_submit(audit_svc_t *s, audit_svc_work_fn work,
                      audit_svc_done_fn done, void *arg) {
  item_t *it = xcalloc(1, sizeof *it);
  it->work = work;
  it->done = done;
  it->arg = arg;
  pthread_mutex_lock(&s->mu);
  *s->todo_tail = it;
  s->todo_tail = &it->next;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

void audit_svc_close(audit_svc_t *s, void (*cb)(void *arg), void *arg) {
  s->close_cb = cb;
  s->close_arg = arg;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* ---------------- append ---------------- */

typedef struct append_req {
  char *f[6]; /* actor, action, target, outcome, subject, details */
  int64_t time_ms, seq;
  audit_svc_append_cb cb;
  void *arg;
} append_req_t;

static int append_work(audit_log_t *log, void *arg) {
  append_req_t *r = arg;
  audit_record_t rec = {.time_ms = r->time_ms,
                        .actor = r->f[0],
                        .action = r->f[1],
                        .target = r->f[2],
                        .outcome = r->f[3],
                        .subject = r->f[4],
                        .details = r->f[5]};
  return audit_append(log, &rec, &r->seq);
}

static void append_done(int status, void *arg) {
  append_req_t *r = arg;
  if (status < 0)
    log_kv(LOG_ERROR, "audit", "cannot write an audit entry", "action",
           r->f[1] ? r->f[1] : "", "actor", r->f[0] ? r->f[0] : "", "error",
           secrets_strerror(status), NULL);
  if (r->cb) r->cb(status, status == 0 ? r->seq : 0, r->arg);
  for (int i = 0; i < 6; i++) free(r->f[i]);
  free(r);
}

void audit_svc_append(audit_svc_t *s, const audit_record_t *rec,
                      audit_svc_append_cb cb, void *arg) {
  append_req_t *r = xcalloc(1, sizeof *r);
  const char *src[6] = {rec->actor,   rec->action,  rec->target,
                        rec->outcome, rec->subject, rec->details};
  for (int i = 0; i < 6; i++) r->f[i] = src[i] ? xstrdup(src[i]) : NULL;
  r->time_ms = rec->time_ms;
  r->cb = cb;
  r->arg = arg;
  audit_svc_submit(s, append_work, append_done, r);
}
