/*
 * server.c: listeners, accepting, the connection limit, graceful shutdown,
 * the cached Date header and the per-request metrics.
 */
#include "internal.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKLOG 511
#define LABEL_BUCKETS 256
#define LABEL_MAX 4096

struct http_listener {
  uv_tcp_t tcp;
  http_server_t *srv;
  http_listener_t *next;
  char host[64];
  int port;
  int closing;
};

struct label_entry {
  label_entry_t *next;
  uint64_t hash;
  char *pattern;
  const char *method; /* static strings (llhttp's names) compared by value */
  int status;
  char *counter; /* route="...",method="...",status="..." */
  char *route;   /* route="..." */
};

static void check_done(http_server_t *s);

/* ---------------- metrics labels ---------------- */

static uint64_t fnv(const char *s, uint64_t h) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static void label_escape(buf_t *b, const char *v) {
  for (; *v; v++) {
    if (*v == '\\' || *v == '"')
      buf_append(b, "\\", 1), buf_append(b, v, 1);
    else if (*v == '\n')
      buf_append(b, "\\n", 2);
    else
      buf_append(b, v, 1);
  }
}

static void labels_format(label_entry_t *e) {
  buf_t b = {0};
  buf_puts(&b, "route=\"");
  label_escape(&b, e->pattern);
  buf_puts(&b, "\"");
  e->route = xstrdup(b.data);
  buf_puts(&b, ",method=\"");
  label_escape(&b, e->method);
  buf_printf(&b, "\",status=\"%d\"", e->status);
  e->counter = buf_take(&b);
}

static label_entry_t *labels_get(http_server_t *s, const char *pattern,
                                 const char *method, int status,
                                 label_entry_t *tmp) {
  uint64_t h = fnv(method, fnv(pattern, 0xcbf29ce484222325ULL)) ^
               (uint64_t)status * 0x9e3779b97f4a7c15ULL;
  label_entry_t **slot = &s->labels[h % LABEL_BUCKETS];
  for (label_entry_t *e = *slot; e; e = e->next)
    if (e->hash == h && e->status == status &&
        strcmp(e->pattern, pattern) == 0 && strcmp(e->method, method) == 0)
      return e;
  label_entry_t *e = tmp;
  if (s->nlabels < LABEL_MAX) e = xcalloc(1, sizeof *e);
  e->hash = h;
  e->pattern = xstrdup(pattern);
  e->method = method;
  e->status = status;
  labels_format(e);
  if (e != tmp) {
    e->next = *slot;
    *slot = e;
    s->nlabels++;
  }
  return e;
}

static void label_free(label_entry_t *e) {
  free(e->pattern);
  free(e->counter);
  free(e->route);
}

void http_server_count(http_server_t *s, const http_request_t *req,
                       double seconds) {
  label_entry_t tmp = {0};
  const char *pattern = req->route_status == 200 && req->match.pattern
                            ? req->match.pattern
                            : "none";
  /* Common methods by name, the rest (llhttp knows ~45) as "other", so a
   * client cannot inflate the number of series. */
  static const char *const known[] = {"GET",    "HEAD",    "POST", "PUT",
                                      "DELETE", "OPTIONS", "PATCH"};
  const char *method = "other";
  for (size_t i = 0; req->method && i < sizeof known / sizeof known[0]; i++)
    if (strcmp(req->method, known[i]) == 0) method = known[i];
  label_entry_t *e = labels_get(s, pattern, method, req->status, &tmp);
  metric_add(s->m_requests, e->counter, 1);
  metric_observe(s->m_duration, e->route, seconds);
  if (e == &tmp) label_free(&tmp);
}

/* ---------------- Date ---------------- */

const char *http_server_date(http_server_t *s, size_t *len) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                  "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  uint64_t sec = uv_now(s->loop) / 1000;
  if (!s->date_len || sec != s->date_sec) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(s->date, sizeof s->date,
                     "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    s->date_len = n > 0 && (size_t)n < sizeof s->date ? (size_t)n : 0;
    s->date_sec = sec;
  }
  *len = s->date_len;
  return s->date;
}

/* ---------------- server ---------------- */

http_server_t *http_server_new(uv_loop_t *loop, const http_limits_t *limits,
                               const http_app_t *app) {
  http_server_t *s = xcalloc(1, sizeof *s);
  s->loop = loop;
  s->limits = *limits;
  s->app = *app;
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  s->labels = xcalloc(LABEL_BUCKETS, sizeof *s->labels);
  s->m_requests =
      metrics_family(METRIC_COUNTER, "assist_http_requests_total",
                     "HTTP requests by route, method and status", NULL, 0);
  s->m_duration =
      metrics_family(METRIC_HISTOGRAM, "assist_http_request_duration_seconds",
                     "HTTP request latency by route", NULL, 0);
  s->m_conns = metrics_family(METRIC_GAUGE, "assist_http_connections",
                              "Open HTTP connections", NULL, 0);
  metric_set(s->m_conns, NULL, 0);
  http_server_set_spool_dir(s, NULL);
  return s;
}

void http_server_set_limits(http_server_t *s, const http_limits_t *limits) {
  s->limits = *limits;
}

void http_server_set_spool_dir(http_server_t *s, const char *dir) {
  if (!dir || !*dir) {
    dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
  }
  free(s->spool_dir);
  s->spool_dir = xstrdup(dir);
}

size_t http_server_connections(const http_server_t *s) {
  return s->nconns;
}

static void on_connection(uv_stream_t *ls, int status) {
  http_listener_t *l = ls->data;
  http_server_t *s = l->srv;
  if (status < 0) {
    log_kv(LOG_WARN, "http", "accept failed", "error", uv_strerror(status),
           NULL);
    return;
  }
  http_conn_t *c = http_conn_new(s);
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  c->has_tcp = 1;
  c->handles_open++;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0 || s->shutting_down) {
    http_conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  /* Once per connection: sign-in rate limits key on the client address. */
  struct sockaddr_storage peer;
  int plen = sizeof peer;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
    if (peer.ss_family == AF_INET6)
      uv_ip6_name((const struct sockaddr_in6 *)&peer, c->peer, sizeof c->peer);
    else
      uv_ip4_name((const struct sockaddr_in *)&peer, c->peer, sizeof c->peer);
  }
  if (s->limits.max_connections && s->nconns >= s->limits.max_connections) {
    http_conn_reject(c, 503, "too many connections");
    return;
  }
  c->counted = 1;
  s->nconns++;
  metric_set(s->m_conns, NULL, (double)s->nconns);
  http_conn_start(c);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss) {
  if (!host || !*host || strcmp(host, "localhost") == 0) host = "127.0.0.1";
  if (port < 0 || port > 65535) return UV_EINVAL;
  if (strchr(host, ':'))
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
  return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static void on_listener_close(uv_handle_t *h) {
  http_listener_t *l = h->data;
  http_server_t *s = l->srv;
  free(l);
  s->nhandles--;
  check_done(s);
}

static void listener_close(http_listener_t *l) {
  http_server_t *s = l->srv;
  if (l->closing) return;
  l->closing = 1;
  for (http_listener_t **p = &s->listeners; *p; p = &(*p)->next) {
    if (*p == l) {
      *p = l->next;
      break;
    }
  }
  uv_close((uv_handle_t *)&l->tcp, on_listener_close);
}

int http_server_listen(http_server_t *s, const char *host, int port) {
  struct sockaddr_storage ss;
  int rc = resolve(host, port, &ss);
  if (rc != 0) return rc;
  if (s->shutting_down) return UV_ECANCELED;
  http_listener_t *l = xcalloc(1, sizeof *l);
  l->srv = s;
  snprintf(l->host, sizeof l->host, "%s", host ? host : "");
  l->port = port;
  uv_tcp_init(s->loop, &l->tcp);
  l->tcp.data = l;
  s->nhandles++;
  l->next = s->listeners;
  s->listeners = l;
  rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, BACKLOG, on_connection);
  if (rc != 0) {
    listener_close(l);
    return rc;
  }
  return 0;
}

static int listener_port(const http_listener_t *l) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) != 0) return -1;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return -1;
}

int http_server_port(const http_server_t *s, size_t i) {
  /* Listeners are kept newest first; index them in creation order. */
  size_t n = 0;
  for (const http_listener_t *l = s->listeners; l; l = l->next) n++;
  if (i >= n) return -1;
  const http_listener_t *l = s->listeners;
  for (size_t k = 0; k < n - 1 - i; k++) l = l->next;
  return listener_port(l);
}

int http_server_unlisten(http_server_t *s, const char *host, int port) {
  if (!host) host = "";
  for (http_listener_t *l = s->listeners; l; l = l->next) {
    if (strcmp(l->host, host) == 0 &&
        (l->port == port || listener_port(l) == port)) {
      listener_close(l);
      return 0;
    }
  }
  return -1;
}

/* ---------------- connections leaving ---------------- */

static void list_unlink(http_conn_t **head, http_conn_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (*head == c)
    *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

void http_server_conn_gone(http_server_t *s, http_conn_t *c) {
  list_unlink(&s->conns, c);
  s->nhandles--;
  if (c->req.state == REQ_HANDLING) {
    c->orphan = 1;
    c->next = s->orphans;
    if (s->orphans) s->orphans->prev = c;
    s->orphans = c;
  }
  check_done(s);
}

void http_server_orphan_gone(http_server_t *s, http_conn_t *c) {
  list_unlink(&s->orphans, c);
  c->orphan = 0;
}

/* ---------------- shutdown and free ---------------- */

static void on_server_timer_close(uv_handle_t *h) {
  http_server_t *s = h->data;
  for (size_t i = 0; i < LABEL_BUCKETS; i++) {
    for (label_entry_t *e = s->labels[i], *n; e; e = n) {
      n = e->next;
      label_free(e);
      free(e);
    }
  }
  free(s->labels);
  free(s->spool_dir);
  free(s);
}

static void check_done(http_server_t *s) {
  if (s->nhandles > 0 || s->spool_ops > 0) return;
  if (s->shutting_down && s->done) {
    void (*done)(void *) = s->done;
    s->done = NULL;
    uv_timer_stop(&s->timer);
    done(s->done_arg);
  }
  if (s->free_requested && !uv_is_closing((uv_handle_t *)&s->timer)) {
    /* From now on nothing may reach s: requests still held by handlers
     * are answered into the void, and their spools (if any) clean up
     * without counting on s. */
    for (http_conn_t *c = s->orphans; c; c = c->next) {
      c->srv = NULL;
      c->orphan = 0;
    }
    s->orphans = NULL;
    uv_close((uv_handle_t *)&s->timer, on_server_timer_close);
  }
}

void http_server_spool_op_done(http_server_t *s) {
  if (--s->spool_ops == 0) check_done(s);
}

static void force_close(http_server_t *s) {
  s->forced = 1;
  for (http_conn_t *c = s->conns; c; c = c->next) http_conn_close(c);
}

static void on_deadline(uv_timer_t *t) {
  http_server_t *s = t->data;
  force_close(s);
  check_done(s); /* when nothing was open */
}

static void start_shutdown(http_server_t *s) {
  s->shutting_down = 1;
  while (s->listeners) listener_close(s->listeners);
  for (http_conn_t *c = s->conns; c; c = c->next) {
    if (c->closing) continue;
    if (c->req.state == REQ_IDLE && c->in.len == 0) {
      if (c->writing)
        c->close_after_write = 1;
      else
        http_conn_close(c);
    }
    /* Busy ones answer with "Connection: close" and close after. */
  }
}

void http_server_shutdown(http_server_t *s, uint64_t deadline_ms,
                          void (*done)(void *arg), void *arg) {
  s->done = done;
  s->done_arg = arg;
  if (!s->shutting_down) start_shutdown(s);
  /* done always runs from the loop, never from inside this call. */
  uv_timer_start(&s->timer, on_deadline, s->nhandles ? deadline_ms : 0, 0);
}

void http_server_free(http_server_t *s) {
  if (!s || s->free_requested) return;
  s->free_requested = 1;
  if (!s->shutting_down) start_shutdown(s);
  force_close(s);
  check_done(s);
}
