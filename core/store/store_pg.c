/*
 * store_pg.c: the PostgreSQL backend. libpq in non-blocking mode, every
 * socket watched by a uv_poll_t (ANCHORS.md 3.5):
 *
 *  - connect: PQconnectStartParams + PQconnectPoll, re-reading PQsocket()
 *    after every poll (a poll handle cannot switch descriptors, so a new
 *    one is made when it changes), and our own deadline timer;
 *  - query: PQsendQuery / PQsendPrepare / PQsendQueryPrepared, PQflush
 *    until done (reading while writing), then PQconsumeInput and
 *    PQgetResult until NULL; PQnotifies drained on every read;
 *  - pool: POOL_SIZE connections, one request in flight per connection,
 *    a FIFO queue; statements prepared once per connection;
 *  - reconnect: a lost connection fails its request with -ENOTCONN and
 *    reconnects with exponential backoff; while no connection is up,
 *    store_ready() is false and requests fail fast;
 *  - LISTEN on a dedicated connection, re-issued after reconnecting;
 *  - teardown: uv_poll_stop, PQfinish, then uv_close.
 *
 * DNS: PQconnectStart resolves host names with a blocking getaddrinfo, so
 * a single host name in the URI is resolved first with uv_getaddrinfo (on
 * the thread pool) and handed to libpq as hostaddr, keeping host for TLS
 * and passwords. Socket directories, numeric addresses, an explicit
 * hostaddr and multi-host lists go to libpq unchanged.
 */
#include "store_priv.h"

#include "pq_lazy.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SIZE 4
#define CONNECT_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define BYTEAOID 17

typedef enum { C_DOWN = 0, C_CONNECTING, C_IDLE, C_BUSY } cstate_t;
typedef enum {
  P_NONE = 0,
  P_BEGIN,
  P_PREPARE,
  P_EXEC,
  P_COMMIT,
  P_ROLLBACK,
  P_LISTEN,
} phase_t;

typedef struct pgpool pgpool_t;

typedef struct {
  pgpool_t *p;
  int is_listen;
  int ever_connected;
  PGconn *pg;
  uv_poll_t *poll; /* heap: replaced when the socket changes */
  int fd;
  uv_timer_t timer; /* connect deadline, then reconnect backoff */
  cstate_t state;
  int backoff_ms;
  int flushing;
  const store_stmt_t **prepared;
  size_t nprep, capprep;
  store_req_t *req;
  size_t step;
  phase_t phase;
  int err_status;
  char *err_msg;
} pgconn_t;

struct pgpool {
  store_t *s;
  pgconn_t conns[POOL_SIZE];
  int nactive; /* 1 until migrations are done */
  pgconn_t listen;
  int listen_wanted;
  store_req_t *qhead, *qtail;
  store_req_t *fhead, *ftail; /* failed fast, completed from defer */
  uv_timer_t defer;
  int opened;
  int closing;
  int handles;
  char hostaddr[64]; /* resolved once at open; "" when not needed */
  uv_getaddrinfo_t gai;
  int resolving;
};

static void on_poll(uv_poll_t *h, int status, int events);
static void conn_start(pgconn_t *c);
static void dispatch(pgpool_t *p);
static void send_next(pgconn_t *c);

static void push(store_req_t **head, store_req_t **tail, store_req_t *r) {
  r->next = NULL;
  if (*tail)
    (*tail)->next = r;
  else
    *head = r;
  *tail = r;
}

static store_req_t *pop(store_req_t **head, store_req_t **tail) {
  store_req_t *r = *head;
  if (r) {
    *head = r->next;
    if (!*head) *tail = NULL;
    r->next = NULL;
  }
  return r;
}

/* ---- handles ---- */

static void handle_closed(uv_handle_t *h);

static void maybe_finish_close(pgpool_t *p) {
  if (!p->closing || p->handles > 0) return;
  store_t *s = p->s;
  for (int i = 0; i < POOL_SIZE; i++) free(p->conns[i].prepared);
  free(p->listen.prepared);
  free(p);
  store__closed(s);
}

static void handle_closed(uv_handle_t *h) {
  pgpool_t *p = h->data;
  if (h->type == UV_POLL) free(h);
  p->handles--;
  maybe_finish_close(p);
}

static void poll_drop(pgconn_t *c) {
  if (!c->poll) return;
  uv_poll_stop(c->poll);
  c->poll->data = c->p;
  uv_close((uv_handle_t *)c->poll, handle_closed);
  c->poll = NULL;
  c->fd = -1;
}

/* Watch the connection's current socket; re-reads PQsocket every time. */
static int watch(pgconn_t *c, int events) {
  int fd = PQsocket(c->pg);
  if (fd < 0) return -EBADF;
  if (c->poll && c->fd != fd) poll_drop(c);
  if (!c->poll) {
    c->poll = xmalloc(sizeof(*c->poll));
    int rc = uv_poll_init(c->p->s->loop, c->poll, fd);
    if (rc < 0) {
      free(c->poll);
      c->poll = NULL;
      return rc;
    }
    c->p->handles++;
    c->fd = fd;
  }
  c->poll->data = c;
  return uv_poll_start(c->poll, events, on_poll);
}

/* Teardown order: stop polling, PQfinish (closes the descriptor), close the
 * poll handle. */
static void conn_drop(pgconn_t *c) {
  if (c->poll) uv_poll_stop(c->poll);
  if (c->pg) PQfinish(c->pg);
  c->pg = NULL;
  poll_drop(c);
  c->nprep = 0;
  c->flushing = 0;
  c->state = C_DOWN;
}

static int conns_up(const pgpool_t *p, int *connecting) {
  int up = 0, cn = 0;
  for (int i = 0; i < p->nactive; i++) {
    if (p->conns[i].state == C_IDLE || p->conns[i].state == C_BUSY) up++;
    if (p->conns[i].state == C_CONNECTING) cn++;
  }
  if (connecting) *connecting = cn;
  return up;
}

/* ---- failing requests from the loop, never inside submit ---- */

static void on_defer(uv_timer_t *t) {
  pgpool_t *p = t->data;
  store_req_t *r;
  while ((r = pop(&p->fhead, &p->ftail))) store__complete(r);
}

static void fail_later(pgpool_t *p, store_req_t *r, int status,
                       const char *msg) {
  store__req_fail(r, status, msg);
  push(&p->fhead, &p->ftail, r);
  if (!uv_is_closing((uv_handle_t *)&p->defer))
    uv_timer_start(&p->defer, on_defer, 0, 0);
}

static void fail_queue(pgpool_t *p, int status, const char *msg) {
  store_req_t *r;
  while ((r = pop(&p->qhead, &p->qtail))) fail_later(p, r, status, msg);
}

/* ---- connecting ---- */

static void on_backoff(uv_timer_t *t) {
  pgconn_t *c = t->data;
  if (!c->p->closing) conn_start(c);
}

static void conn_failed(pgconn_t *c, const char *why) {
  pgpool_t *p = c->p;
  char msg[512];
  snprintf(msg, sizeof(msg), "%s", why ? why : "connection failed");
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
  int was_up = c->state == C_IDLE || c->state == C_BUSY;
  store_req_t *r = c->req;
  c->req = NULL;
  c->phase = P_NONE;
  uv_timer_stop(&c->timer);
  conn_drop(c);
  store__set_error(p->s, msg);
  if (was_up || c->ever_connected || !c->is_listen)
    log_kv(LOG_WARN, "store", "postgresql connection lost", "error", msg, NULL);
  if (r) fail_later(p, r, -ENOTCONN, msg);
  if (!p->opened && !c->is_listen) {
    /* The first connection failed: store_open fails. */
    p->opened = 1;
    store__opened(p->s, -ENOTCONN, msg);
    return;
  }
  if (p->closing) return;
  int connecting;
  if (!c->is_listen && conns_up(p, &connecting) == 0)
    fail_queue(p, -ENOTCONN, msg);
  c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
  if (c->backoff_ms > BACKOFF_MAX_MS) c->backoff_ms = BACKOFF_MAX_MS;
  uint64_t delay = (uint64_t)c->backoff_ms / 2 +
                   (uint64_t)(rand() % (c->backoff_ms / 2 + 1));
  uv_timer_start(&c->timer, on_backoff, delay, 0);
}

static void on_deadline(uv_timer_t *t) {
  pgconn_t *c = t->data;
  if (c->state == C_CONNECTING) conn_failed(c, "connect timeout");
}

/* Server notices (e.g. "already exists, skipping") are not errors. */
static void on_notice(void *arg, const char *msg) {
  (void)arg;
  log_msg(LOG_DEBUG, "store", "postgresql notice: %s", msg);
}

static void connected(pgconn_t *c) {
  pgpool_t *p = c->p;
  uv_timer_stop(&c->timer);
  PQsetnonblocking(c->pg, 1);
  PQsetNoticeProcessor(c->pg, on_notice, NULL);
  c->state = C_IDLE;
  c->backoff_ms = 0;
  c->nprep = 0;
  int again = c->ever_connected;
  c->ever_connected = 1;
  if (again) log_kv(LOG_INFO, "store", "postgresql reconnected", NULL);
  if (c->is_listen) {
    c->state = C_BUSY;
    c->phase = P_LISTEN;
    char *sql = xasprintf("LISTEN %s", p->s->listen_channel);
    int ok = PQsendQuery(c->pg, sql);
    free(sql);
    if (!ok) {
      conn_failed(c, PQerrorMessage(c->pg));
      return;
    }
    send_next(c); /* flushes */
    if (again && p->s->notify_cb)
      p->s->notify_cb(p->s, p->s->listen_channel, NULL, p->s->notify_arg);
    return;
  }
  watch(c, UV_READABLE);
  if (!p->opened) {
    p->opened = 1;
    store__opened(p->s, 0, NULL);
    return;
  }
  dispatch(p);
}

static void connect_step(pgconn_t *c) {
  switch (PQconnectPoll(c->pg)) {
  case PGRES_POLLING_READING:
    if (watch(c, UV_READABLE) < 0) conn_failed(c, "poll failed");
    break;
  case PGRES_POLLING_WRITING:
    if (watch(c, UV_WRITABLE) < 0) conn_failed(c, "poll failed");
    break;
  case PGRES_POLLING_OK:
    connected(c);
    break;
  default:
    conn_failed(c, PQerrorMessage(c->pg));
  }
}

static void conn_start(pgconn_t *c) {
  pgpool_t *p = c->p;
  const char *keys[] = {"dbname", "application_name",
                        p->hostaddr[0] ? "hostaddr" : NULL, NULL};
  const char *vals[] = {p->s->uri, "assistd", p->hostaddr, NULL};
  c->pg = PQconnectStartParams(keys, vals, 1);
  c->state = C_CONNECTING;
  if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
    conn_failed(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
    return;
  }
  uv_timer_start(&c->timer, on_deadline, CONNECT_TIMEOUT_MS, 0);
  /* The docs say to start as if the socket were writable. */
  if (watch(c, UV_WRITABLE) < 0) conn_failed(c, "poll failed");
}

/* ---- queries ---- */

static int map_error(const PGresult *res) {
  const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (!st) return -EIO;
  if (strncmp(st, "23", 2) == 0) return -EEXIST;
  if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0) return -ENOTCONN;
  return -EIO;
}

static void finish(pgconn_t *c) {
  store_req_t *r = c->req;
  c->req = NULL;
  c->phase = P_NONE;
  c->state = C_IDLE;
  if (r && c->err_status) {
    store__req_fail(r, c->err_status, c->err_msg);
  }
  c->err_status = 0;
  free(c->err_msg);
  c->err_msg = NULL;
  if (watch(c, UV_READABLE) < 0) {
    if (r) store__complete(r);
    conn_failed(c, "poll failed");
    return;
  }
  if (r) store__complete(r);
  dispatch(c->p);
}

static int prepared_index(pgconn_t *c, const store_stmt_t *st) {
  for (size_t i = 0; i < c->nprep; i++)
    if (c->prepared[i] == st) return (int)i;
  return -1;
}

/* Sends the command for the current phase/step; returns 0 or fails c. */
static int send_cmd(pgconn_t *c) {
  store_req_t *r = c->req;
  int ok = 1;
  switch (c->phase) {
  case P_BEGIN:
    ok = PQsendQuery(c->pg, "BEGIN");
    break;
  case P_COMMIT:
    ok = PQsendQuery(c->pg, "COMMIT");
    break;
  case P_ROLLBACK:
    ok = PQsendQuery(c->pg, "ROLLBACK");
    break;
  case P_PREPARE: {
    const store_stmt_t *st = r->stmts[c->step].stmt;
    char name[24];
    snprintf(name, sizeof(name), "a%zu", c->nprep);
    ok = PQsendPrepare(c->pg, name, st->pg ? st->pg : st->sqlite, 0, NULL);
    break;
  }
  case P_EXEC: {
    store_sreq_t *sr = &r->stmts[c->step];
    int n = (int)sr->n;
    const char **vals = xcalloc((size_t)n + 1, sizeof(*vals));
    int *lens = xcalloc((size_t)n + 1, sizeof(*lens));
    int *fmts = xcalloc((size_t)n + 1, sizeof(*fmts));
    char(*ints)[24] = xcalloc((size_t)n + 1, sizeof(*ints));
    for (int k = 0; k < n; k++) {
      store_val_t *v = &r->params[sr->first + (size_t)k];
      switch (v->type) {
      case SV_INT:
        snprintf(ints[k], sizeof(ints[k]), "%lld", (long long)v->i);
        vals[k] = ints[k];
        break;
      case SV_TEXT:
        vals[k] = v->p;
        break;
      case SV_BLOB:
        vals[k] = v->p;
        lens[k] = (int)v->len;
        fmts[k] = 1;
        break;
      default:
        vals[k] = NULL;
      }
    }
    if (sr->sql && n == 0) {
      ok = PQsendQuery(c->pg, sr->sql);
    } else if (sr->sql) {
      ok = PQsendQueryParams(c->pg, sr->sql, n, NULL, vals, lens, fmts, 0);
    } else {
      char name[24];
      snprintf(name, sizeof(name), "a%d", prepared_index(c, sr->stmt));
      ok = PQsendQueryPrepared(c->pg, name, n, vals, lens, fmts, 0);
    }
    free(vals);
    free(lens);
    free(fmts);
    free(ints);
    break;
  }
  default:
    break;
  }
  if (!ok) {
    conn_failed(c, PQerrorMessage(c->pg));
    return -1;
  }
  return 0;
}

/* Flushes and arms the poll handle accordingly. */
static void send_next(pgconn_t *c) {
  int rc = PQflush(c->pg);
  if (rc < 0) {
    conn_failed(c, PQerrorMessage(c->pg));
    return;
  }
  c->flushing = rc == 1;
  if (watch(c, c->flushing ? UV_READABLE | UV_WRITABLE : UV_READABLE) < 0)
    conn_failed(c, "poll failed");
}

static void set_phase_for_step(pgconn_t *c) {
  store_req_t *r = c->req;
  store_sreq_t *sr = &r->stmts[c->step];
  if (sr->stmt && prepared_index(c, sr->stmt) < 0)
    c->phase = P_PREPARE;
  else
    c->phase = P_EXEC;
}

static void start_req(pgconn_t *c, store_req_t *r) {
  c->req = r;
  c->state = C_BUSY;
  c->step = 0;
  c->err_status = 0;
  if (r->nstmts == 0) {
    c->req = NULL;
    c->state = C_IDLE;
    store__res_clear(&r->res);
    push(&c->p->fhead, &c->p->ftail, r);
    uv_timer_start(&c->p->defer, on_defer, 0, 0);
    return;
  }
  if (r->flags & STORE_TXN)
    c->phase = P_BEGIN;
  else
    set_phase_for_step(c);
  if (r->flags & STORE_TXN || c->phase == P_PREPARE || c->phase == P_EXEC)
    if (send_cmd(c) == 0) send_next(c);
}

/* One command's results have all arrived (PQgetResult returned NULL). */
static void command_done(pgconn_t *c) {
  store_req_t *r = c->req;
  if (c->phase == P_LISTEN) {
    c->phase = P_NONE;
    c->state = C_IDLE;
    if (c->err_status) {
      log_kv(LOG_ERROR, "store", "LISTEN failed", "error", c->err_msg, NULL);
      c->err_status = 0;
    }
    watch(c, UV_READABLE);
    return;
  }
  if (c->phase == P_ROLLBACK) {
    finish(c);
    return;
  }
  if (c->err_status) {
    if ((r->flags & STORE_TXN) && c->phase != P_BEGIN) {
      c->phase = P_ROLLBACK;
      if (send_cmd(c) == 0) send_next(c);
    } else {
      finish(c);
    }
    return;
  }
  switch (c->phase) {
  case P_BEGIN:
    set_phase_for_step(c);
    break;
  case P_PREPARE:
    if (c->nprep == c->capprep) {
      c->capprep = c->capprep ? c->capprep * 2 : 32;
      c->prepared = xrealloc(c->prepared, c->capprep * sizeof(*c->prepared));
    }
    c->prepared[c->nprep++] = r->stmts[c->step].stmt;
    c->phase = P_EXEC;
    break;
  case P_EXEC:
    c->step++;
    if (c->step < r->nstmts) {
      set_phase_for_step(c);
    } else if (r->flags & STORE_TXN) {
      c->phase = P_COMMIT;
    } else {
      finish(c);
      return;
    }
    break;
  case P_COMMIT:
  default:
    finish(c);
    return;
  }
  if (send_cmd(c) == 0) send_next(c);
}

static void copy_result(pgconn_t *c, PGresult *res) {
  store_req_t *r = c->req;
  while (r->res.n <= c->step) store__res_add(r);
  store_rs_t *rs = &r->res.rs[c->step];
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_TUPLES_OK) {
    int rows = PQntuples(res), cols = PQnfields(res);
    store__rs_begin(rs, cols);
    for (int i = 0; i < rows; i++)
      for (int k = 0; k < cols; k++) {
        if (PQgetisnull(res, i, k)) {
          store__rs_cell(rs, NULL, 0, 1);
        } else if (PQftype(res, k) == BYTEAOID) {
          size_t len = 0;
          unsigned char *b = PQunescapeBytea(
              (const unsigned char *)PQgetvalue(res, i, k), &len);
          store__rs_cell(rs, b, len, 0);
          PQfreemem(b);
        } else {
          store__rs_cell(rs, PQgetvalue(res, i, k),
                         (size_t)PQgetlength(res, i, k), 0);
        }
      }
    if (cols == 0) rs->rows = rows;
  }
  const char *ct = PQcmdTuples(res);
  if (ct && *ct) rs->changes = strtoll(ct, NULL, 10);
}

static void drain_notifies(pgconn_t *c) {
  PGnotify *n;
  store_t *s = c->p->s;
  while ((n = PQnotifies(c->pg))) {
    if (s->notify_cb && !c->p->closing)
      s->notify_cb(s, n->relname, n->extra ? n->extra : "", s->notify_arg);
    PQfreemem(n);
  }
}

static void read_results(pgconn_t *c) {
  for (;;) {
    if (PQisBusy(c->pg)) return;
    PGresult *res = PQgetResult(c->pg);
    if (!res) {
      if (c->phase == P_NONE) return;
      command_done(c);
      return;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
        st == PGRES_NONFATAL_ERROR) {
      if (!c->err_status && st != PGRES_NONFATAL_ERROR) {
        c->err_status = map_error(res);
        const char *name =
            c->req && c->phase == P_EXEC && c->req->stmts[c->step].stmt
                ? c->req->stmts[c->step].stmt->name
                : "sql";
        free(c->err_msg);
        c->err_msg = xasprintf("%s: %s", name, PQresultErrorMessage(res));
        size_t n = strlen(c->err_msg);
        while (n && c->err_msg[n - 1] == '\n') c->err_msg[--n] = 0;
      }
    } else if (c->phase == P_EXEC && c->req && !c->err_status) {
      copy_result(c, res);
    }
    PQclear(res);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  pgconn_t *c = h->data;
  if (c->state == C_CONNECTING) {
    connect_step(c);
    return;
  }
  if (!c->pg) return;
  if (status < 0) {
    conn_failed(c, uv_strerror(status));
    return;
  }
  if (events & UV_READABLE) {
    if (!PQconsumeInput(c->pg)) {
      conn_failed(c, PQerrorMessage(c->pg));
      return;
    }
    drain_notifies(c);
  }
  if (c->flushing) {
    send_next(c);
    if (!c->pg || c->flushing) return;
  }
  if (c->state == C_BUSY) {
    read_results(c);
  } else if (PQstatus(c->pg) == CONNECTION_BAD) {
    conn_failed(c, PQerrorMessage(c->pg));
  } else {
    /* Idle: discard anything unexpected (e.g. a shutdown notice). */
    PGresult *res;
    while (!PQisBusy(c->pg) && (res = PQgetResult(c->pg))) PQclear(res);
  }
}

static void dispatch(pgpool_t *p) {
  if (p->closing) return;
  while (p->qhead) {
    pgconn_t *idle = NULL;
    for (int i = 0; i < p->nactive && !idle; i++)
      if (p->conns[i].state == C_IDLE) idle = &p->conns[i];
    if (!idle) {
      int connecting;
      if (conns_up(p, &connecting) == 0 && connecting == 0)
        fail_queue(p, -ENOTCONN,
                   p->s->last_error[0] ? p->s->last_error
                                       : "database unreachable");
      return;
    }
    start_req(idle, pop(&p->qhead, &p->qtail));
  }
}

/* ---- backend ops ---- */

static void conn_init(pgpool_t *p, pgconn_t *c, int is_listen) {
  c->p = p;
  c->is_listen = is_listen;
  c->fd = -1;
  uv_timer_init(p->s->loop, &c->timer);
  c->timer.data = c;
  p->handles++;
}

/* The single host name libpq would resolve itself, or NULL. */
static char *host_to_resolve(const char *uri) {
  PQconninfoOption *opts = PQconninfoParse(uri, NULL);
  if (!opts) return NULL;
  const char *host = NULL, *hostaddr = NULL;
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!strcmp(o->keyword, "host") && o->val && *o->val) host = o->val;
    if (!strcmp(o->keyword, "hostaddr") && o->val && *o->val) hostaddr = o->val;
  }
  char *out = NULL;
  unsigned char tmp[16];
  if (host && !hostaddr && host[0] != '/' && host[0] != '@' &&
      !strchr(host, ',') && inet_pton(AF_INET, host, tmp) != 1 &&
      inet_pton(AF_INET6, host, tmp) != 1)
    out = xstrdup(host);
  PQconninfoFree(opts);
  return out;
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai) {
  pgpool_t *p = req->data;
  p->resolving = 0;
  p->handles--;
  /* Prefer IPv4 (servers often listen on 127.0.0.1 only), else IPv6. */
  const struct addrinfo *pick = NULL;
  for (const struct addrinfo *a = ai; status == 0 && a; a = a->ai_next)
    if (a->ai_family == AF_INET && !pick) pick = a;
  for (const struct addrinfo *a = ai; status == 0 && a && !pick; a = a->ai_next)
    if (a->ai_family == AF_INET6) pick = a;
  if (pick && pick->ai_family == AF_INET)
    uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, p->hostaddr,
                sizeof(p->hostaddr));
  else if (pick)
    uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, p->hostaddr,
                sizeof(p->hostaddr));
  else if (status == 0)
    status = UV_EAI_NONAME;
  if (ai) uv_freeaddrinfo(ai);
  if (p->closing) {
    maybe_finish_close(p);
    return;
  }
  if (status < 0) {
    char msg[256];
    snprintf(msg, sizeof(msg), "cannot resolve the database host: %s",
             uv_strerror(status));
    store__set_error(p->s, msg);
    p->opened = 1;
    store__opened(p->s, -ENOTCONN, msg);
    return;
  }
  conn_start(&p->conns[0]);
}

static int pg_open(store_t *s, const char *uri) {
  const char *why;
  if (pq_lazy_load(&why) < 0) { /* libpq is opened on first use */
    log_kv(LOG_ERROR, "store", "open failed", "error", why, NULL);
    return -ELIBACC;
  }
  pgpool_t *p = xcalloc(1, sizeof(*p));
  p->s = s;
  s->be = p;
  for (int i = 0; i < POOL_SIZE; i++) conn_init(p, &p->conns[i], 0);
  conn_init(p, &p->listen, 1);
  uv_timer_init(s->loop, &p->defer);
  p->defer.data = p;
  p->handles++;
  p->nactive = 1; /* migrations run on one session */
  char *host = host_to_resolve(uri);
  if (host) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    p->gai.data = p;
    int rc = uv_getaddrinfo(s->loop, &p->gai, resolved, host, NULL, &hints);
    free(host);
    if (rc == 0) {
      p->resolving = 1;
      p->handles++; /* the request counts until its callback */
      return 0;
    }
  }
  conn_start(&p->conns[0]);
  return 0;
}

static void pg_start(store_t *s) {
  pgpool_t *p = s->be;
  p->nactive = POOL_SIZE;
  for (int i = 1; i < POOL_SIZE; i++) conn_start(&p->conns[i]);
}

static void pg_submit(store_t *s, store_req_t *r) {
  pgpool_t *p = s->be;
  if (p->closing) {
    fail_later(p, r, -ECANCELED, "store is closing");
    return;
  }
  int connecting;
  if (p->opened && conns_up(p, &connecting) == 0 && connecting == 0) {
    fail_later(p, r, -ENOTCONN,
               s->last_error[0] ? s->last_error : "database unreachable");
    return;
  }
  push(&p->qhead, &p->qtail, r);
  dispatch(p);
}

static int pg_listen(store_t *s, const char *channel) {
  (void)channel;
  pgpool_t *p = s->be;
  if (p->listen_wanted) return -EALREADY;
  p->listen_wanted = 1;
  conn_start(&p->listen);
  return 0;
}

static void close_conn(pgconn_t *c) {
  store_req_t *r = c->req;
  c->req = NULL;
  uv_timer_stop(&c->timer);
  conn_drop(c);
  free(c->err_msg);
  c->err_msg = NULL;
  if (r) fail_later(c->p, r, -ECANCELED, "store is closing");
}

static void pg_close(store_t *s) {
  pgpool_t *p = s->be;
  p->closing = 1;
  if (p->resolving) uv_cancel((uv_req_t *)&p->gai);
  fail_queue(p, -ECANCELED, "store is closing");
  for (int i = 0; i < POOL_SIZE; i++) close_conn(&p->conns[i]);
  close_conn(&p->listen);
  /* Complete the cancelled requests now, then close every handle. */
  on_defer(&p->defer);
  for (int i = 0; i < POOL_SIZE; i++) {
    p->conns[i].timer.data = p;
    uv_close((uv_handle_t *)&p->conns[i].timer, handle_closed);
  }
  p->listen.timer.data = p;
  uv_close((uv_handle_t *)&p->listen.timer, handle_closed);
  p->defer.data = p;
  uv_close((uv_handle_t *)&p->defer, handle_closed);
}

static int pg_ready(const store_t *s) {
  const pgpool_t *p = s->be;
  return conns_up(p, NULL) > 0;
}

const store_backend_ops_t store_pg_ops = {
    .open = pg_open,
    .start = pg_start,
    .submit = pg_submit,
    .listen = pg_listen,
    .close = pg_close,
    .ready = pg_ready,
};
