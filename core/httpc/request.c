/*
 * request.c: one outbound request from httpc_request() to its completion.
 *
 * States: QUEUED (in the FIFO, waiting for a host and a total slot),
 * ACTIVE (an easy handle in the multi handle), WAITING (backoff timer
 * before the next attempt), FINISHING (completion scheduled on a later
 * iteration: cancellation, or a transfer that could not start), DONE.
 * Every attempt gets a fresh easy handle; connections are shared through
 * the multi handle's cache. The request's own uv_timer_t serves both the
 * backoff and the deferred completion; the request is freed in its close
 * callback.
 */
#include "httpc_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOGC "httpc"
#define MAX_HEADERS 256
#define MAX_REDIRS 5L

typedef enum {
  RQ_QUEUED = 1,
  RQ_ACTIVE,
  RQ_WAITING,
  RQ_FINISHING,
  RQ_DONE,
} rq_state_t;

struct httpc_req {
  httpc_t *ctx;
  httpc_req_t *prev, *next; /* ctx->live */
  httpc_req_t *qnext;       /* ctx->q_head */
  uint64_t id;
  rq_state_t state;

  /* what to send (owned copies) */
  char *method;
  char *url;
  struct curl_slist *headers;
  char *body;
  size_t body_len;
  bool has_body;
  uint32_t timeout_ms;
  uint64_t max_bytes;
  uint32_t flags;
  bool idempotent;
  httpc_retry_t retry;
  const void *owner;
  httpc_done_cb done;
  void *arg;

  /* derived from the URL, for limits, metrics and logs */
  char *host_key; /* "host:port" lowercase */
  char *hostname; /* lowercase */
  char *label;    /* metrics labels prefix: host="..." */
  char *target;   /* scheme://host:port/path: no userinfo, no query */

  CURL *easy;
  bool holds_slot;
  uv_timer_t timer;
  httpc_result_t final; /* for FINISHING */

  /* the current (or last) attempt */
  unsigned attempts;
  uint64_t total_delay_ms;
  httpc_sent_t sent;
  uint64_t t_start, t_attempt;
  buf_t rbody;
  bool too_large;
  httpc_header_t *hdrs;
  size_t nhdrs, caphdrs;
  long status;
  int code;
  char errbuf[CURL_ERROR_SIZE];
  char *error; /* owned; NULL = none */
};

/* ---------------- small helpers ---------------- */

static void set_error(httpc_req_t *r, const char *msg) {
  free(r->error);
  r->error = xstrdup(msg ? msg : "");
  /* Error texts name hosts and sometimes URLs; drop any query string. */
  for (char *p = strstr(r->error, "://"); p; p = strstr(p + 3, "://")) {
    char *q = p + 3;
    while (*q && *q != '?' && *q != ' ' && *q != '\'' && *q != '"') q++;
    if (*q == '?') {
      char *e = q;
      while (*e && *e != ' ' && *e != '\'' && *e != '"') e++;
      memmove(q, e, strlen(e) + 1);
    }
  }
}

static void clear_headers(httpc_req_t *r) {
  for (size_t i = 0; i < r->nhdrs; i++) {
    free((char *)r->hdrs[i].name);
    free((char *)r->hdrs[i].value);
  }
  r->nhdrs = 0;
}

static void attempt_reset(httpc_req_t *r) {
  clear_headers(r);
  buf_reset(&r->rbody);
  r->too_large = false;
  r->status = 0;
  r->code = 0;
  r->errbuf[0] = '\0';
  free(r->error);
  r->error = NULL;
}

static const char *status_label(httpc_req_t *r, httpc_result_t res, char *tmp,
                                size_t n) {
  if (res == HTTPC_CANCELLED) return "cancelled";
  if (res == HTTPC_TOO_LARGE) return "too_large";
  if (r->code == CURLE_OK && r->status > 0) {
    snprintf(tmp, n, "%ld", r->status);
    return tmp;
  }
  if (r->code == CURLE_OPERATION_TIMEDOUT) return "timeout";
  return "network";
}

static void attempt_metrics(httpc_req_t *r, httpc_result_t res) {
  httpc_t *ctx = r->ctx;
  char code[24], labels[512];
  const char *st = status_label(r, res, code, sizeof code);
  snprintf(labels, sizeof labels, "%s,status=\"%s\"", r->label, st);
  metric_add(ctx->m_requests, labels, 1);
  metric_observe(ctx->m_duration, r->label,
                 (double)(uv_hrtime() - r->t_attempt) / 1e9);
}

/* ---------------- hosts and the queue ---------------- */

static unsigned host_limit(httpc_t *ctx, httpc_req_t *r) {
  unsigned by_name = 0;
  for (httpc_limit_t *l = ctx->limits; l; l = l->next) {
    if (strcmp(l->host, r->host_key) == 0) return l->limit;
    if (strcmp(l->host, r->hostname) == 0) by_name = l->limit;
  }
  return by_name ? by_name : ctx->opts.max_per_host;
}

static httpc_host_t *host_find(httpc_t *ctx, const char *key) {
  for (httpc_host_t *h = ctx->hosts; h; h = h->next)
    if (strcmp(h->key, key) == 0) return h;
  return NULL;
}

static void slot_take(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  httpc_host_t *h = host_find(ctx, r->host_key);
  if (!h) {
    h = xcalloc(1, sizeof *h);
    h->key = xstrdup(r->host_key);
    h->next = ctx->hosts;
    ctx->hosts = h;
  }
  h->active++;
  ctx->active_total++;
  r->holds_slot = true;
}

static void slot_release(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  if (!r->holds_slot) return;
  r->holds_slot = false;
  ctx->active_total--;
  for (httpc_host_t **pp = &ctx->hosts; *pp; pp = &(*pp)->next) {
    httpc_host_t *h = *pp;
    if (strcmp(h->key, r->host_key) != 0) continue;
    if (--h->active == 0) {
      *pp = h->next;
      free(h->key);
      free(h);
    }
    return;
  }
}

static void queue_push(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  r->qnext = NULL;
  if (ctx->q_tail)
    ctx->q_tail->qnext = r;
  else
    ctx->q_head = r;
  ctx->q_tail = r;
  r->state = RQ_QUEUED;
}

static void queue_remove(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  httpc_req_t *prev = NULL;
  for (httpc_req_t *q = ctx->q_head; q; prev = q, q = q->qnext) {
    if (q != r) continue;
    if (prev)
      prev->qnext = q->qnext;
    else
      ctx->q_head = q->qnext;
    if (ctx->q_tail == q) ctx->q_tail = prev;
    r->qnext = NULL;
    return;
  }
}

static void attempt_start(httpc_req_t *r);

/* Starts queued requests, in order, while their host and the total have
 * room. Never from inside a libcurl callback. */
static void dispatch(httpc_t *ctx) {
  httpc_req_t *prev = NULL, *r = ctx->q_head;
  while (r && !ctx->closing && ctx->active_total < ctx->opts.max_total) {
    httpc_req_t *next = r->qnext;
    httpc_host_t *h = host_find(ctx, r->host_key);
    if (!h || h->active < host_limit(ctx, r)) {
      if (prev)
        prev->qnext = next;
      else
        ctx->q_head = next;
      if (ctx->q_tail == r) ctx->q_tail = prev;
      r->qnext = NULL;
      attempt_start(r);
    } else {
      prev = r;
    }
    r = next;
  }
}

/* ---------------- completion ---------------- */

static void req_free(httpc_req_t *r) {
  clear_headers(r);
  free(r->hdrs);
  buf_free(&r->rbody);
  free(r->error);
  free(r->method);
  free(r->url);
  curl_slist_free_all(r->headers);
  free(r->body);
  free(r->host_key);
  free(r->hostname);
  free(r->label);
  free(r->target);
  free(r);
}

static void req_closed_cb(uv_handle_t *h) {
  httpc_req_t *r = h->data;
  httpc_t *ctx = r->ctx;
  req_free(r);
  httpc__handle_closed(ctx);
}

static void live_unlink(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  if (r->prev)
    r->prev->next = r->next;
  else
    ctx->live = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

/* Hands the response to the caller and closes the request. r is gone
 * afterwards. */
static void finish(httpc_req_t *r, httpc_result_t result) {
  httpc_resp_impl_t *ri = xcalloc(1, sizeof *ri);
  httpc_response_t *p = &ri->pub;

  p->id = r->id;
  p->result = result;
  p->status = r->status;
  p->body_len = r->rbody.len;
  ri->body = r->rbody.data ? buf_take(&r->rbody) : xstrdup("");
  p->body = ri->body;
  if (result == HTTPC_OK)
    ri->error = xstrdup("");
  else if (r->error)
    ri->error = xstrdup(r->error);
  else if (result == HTTPC_HTTP_ERROR || result == HTTPC_AMBIGUOUS)
    ri->error = xasprintf("HTTP status %ld", r->status);
  else
    ri->error = xstrdup(httpc_result_str(result));
  p->error = ri->error;
  p->curl_code = r->code;
  p->attempts = r->attempts;
  p->sent = r->sent;
  p->elapsed_s = (double)(uv_hrtime() - r->t_start) / 1e9;
  ri->hdrs = r->hdrs;
  p->headers = r->hdrs;
  p->nheaders = r->nhdrs;
  r->hdrs = NULL;
  r->nhdrs = r->caphdrs = 0;

  char sbuf[24], abuf[16], ibuf[24];
  snprintf(ibuf, sizeof ibuf, "%llu", (unsigned long long)r->id);
  snprintf(sbuf, sizeof sbuf, "%ld", r->status);
  snprintf(abuf, sizeof abuf, "%u", r->attempts);
  log_level_t lvl = result == HTTPC_OK          ? LOG_DEBUG
                    : result == HTTPC_AMBIGUOUS ? LOG_WARN
                                                : LOG_INFO;
  log_kv(lvl, LOGC,
         result == HTTPC_AMBIGUOUS
             ? "request may have been processed; not retried"
             : "request done",
         "#id", ibuf, "method", r->method, "target", r->target, "result",
         httpc_result_str(result), "#status", sbuf, "#attempts", abuf, "error",
         p->error, NULL);

  live_unlink(r);
  r->state = RQ_DONE;
  if (r->done)
    r->done(p, r->arg);
  else
    httpc_response_free(p);
  uv_close((uv_handle_t *)&r->timer, req_closed_cb);
}

static void finish_timer_cb(uv_timer_t *t) {
  httpc_req_t *r = t->data;
  httpc_t *ctx = r->ctx;
  finish(r, r->final);
  dispatch(ctx);
}

/* Completes r on a later loop iteration (never inside the caller's call). */
static void finish_later(httpc_req_t *r, httpc_result_t result) {
  r->final = result;
  r->state = RQ_FINISHING;
  uv_timer_stop(&r->timer);
  uv_timer_start(&r->timer, finish_timer_cb, 0, 0);
}

static void retry_timer_cb(uv_timer_t *t) {
  httpc_req_t *r = t->data;
  queue_push(r);
  dispatch(r->ctx);
}

/* Ends the running attempt (removing its easy handle) and returns whether
 * some byte of the request was written. */
static bool attempt_end(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  long status = 0, reqsize = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &reqsize);
  r->status = status;
  if (ctx->multi) curl_multi_remove_handle(ctx->multi, r->easy);
  curl_easy_cleanup(r->easy);
  r->easy = NULL;
  slot_release(r);
  return reqsize > 0 || status > 0;
}

/* A transfer finished: retry it or complete it. */
static void attempt_done(httpc_req_t *r, CURLcode code) {
  httpc_t *ctx = r->ctx;
  bool wrote = attempt_end(r);
  r->code = code;
  if (code != CURLE_OK)
    set_error(r, r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
  if (r->too_large) set_error(r, "response body exceeds the size limit");

  httpc_verdict_t v = httpc__classify(&r->retry, r->idempotent, code, r->status,
                                      r->too_large, wrote);
  if (v.sent > r->sent) r->sent = v.sent;
  attempt_metrics(r, v.result);

  if (v.retryable && !(r->flags & HTTPC_F_NO_RETRY) &&
      r->attempts < r->retry.max_attempts && !ctx->closing) {
    int64_t delay = -1;
    if (code == CURLE_OK) {
      httpc_response_t view = {.headers = r->hdrs, .nheaders = r->nhdrs};
      delay = httpc_retry_after_ms(&view, (int64_t)time(NULL));
    }
    if (delay < 0)
      delay = (int64_t)httpc__backoff_ms(&r->retry, r->attempts,
                                         httpc__random(ctx));
    if (r->total_delay_ms + (uint64_t)delay <= r->retry.max_total_delay_ms) {
      char dbuf[24], abuf[16], ibuf[24];
      snprintf(ibuf, sizeof ibuf, "%llu", (unsigned long long)r->id);
      snprintf(dbuf, sizeof dbuf, "%lld", (long long)delay);
      snprintf(abuf, sizeof abuf, "%u", r->attempts);
      log_kv(LOG_INFO, LOGC, "retrying", "#id", ibuf, "method", r->method,
             "target", r->target, "result", httpc_result_str(v.result),
             "#attempt", abuf, "#delay_ms", dbuf, NULL);
      metric_add(ctx->m_retries, r->label, 1);
      r->total_delay_ms += (uint64_t)delay;
      r->state = RQ_WAITING;
      uv_timer_start(&r->timer, retry_timer_cb, (uint64_t)delay, 0);
      dispatch(ctx);
      return;
    }
  }
  finish(r, v.result);
  dispatch(ctx);
}

void httpc__process_done(httpc_t *ctx) {
  CURLMsg *msg;
  int left;
  /* One message at a time: a completion callback may add, cancel or close,
   * and curl_multi_remove_handle drops a cancelled handle's message. */
  while (ctx->multi && (msg = curl_multi_info_read(ctx->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    char *priv = NULL;
    CURLcode code = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    if (priv) attempt_done((httpc_req_t *)priv, code);
  }
}

/* ---------------- curl data callbacks (no curl calls inside) ----------- */

static size_t write_cb(char *p, size_t size, size_t n, void *ud) {
  httpc_req_t *r = ud;
  size_t len = size * n;
  if (r->rbody.len + len > r->max_bytes) {
    size_t room = (size_t)(r->max_bytes - r->rbody.len);
    buf_append(&r->rbody, p, room);
    r->too_large = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  buf_append(&r->rbody, p, len);
  return len;
}

static char *trim_dup(const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  return xstrndup(s, n);
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud) {
  httpc_req_t *r = ud;
  size_t len = size * n, l = len;

  if (l >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    clear_headers(r); /* a new response (redirect, 1xx): keep the last */
    return len;
  }
  while (l && (p[l - 1] == '\r' || p[l - 1] == '\n')) l--;
  if (!l) return len;
  if ((p[0] == ' ' || p[0] == '\t') && r->nhdrs) {
    httpc_header_t *h = &r->hdrs[r->nhdrs - 1];
    char *cont = trim_dup(p, l);
    char *v = xasprintf("%s %s", h->value, cont);
    free(cont);
    free((char *)h->value);
    h->value = v;
    return len;
  }
  const char *colon = memchr(p, ':', l);
  if (!colon || colon == p || r->nhdrs >= MAX_HEADERS) return len;
  if (r->nhdrs == r->caphdrs) {
    r->caphdrs = r->caphdrs ? r->caphdrs * 2 : 16;
    r->hdrs = xrealloc(r->hdrs, r->caphdrs * sizeof *r->hdrs);
  }
  r->hdrs[r->nhdrs].name = trim_dup(p, (size_t)(colon - p));
  r->hdrs[r->nhdrs].value = trim_dup(colon + 1, l - (size_t)(colon - p) - 1);
  r->nhdrs++;
  return len;
}

/* ---------------- starting an attempt ---------------- */

#define SETE(opt, val)                                                         \
  do {                                                                         \
    if (curl_easy_setopt(e, opt, val) != CURLE_OK) goto fail;                  \
  } while (0)

static void attempt_start(httpc_req_t *r) {
  httpc_t *ctx = r->ctx;
  const httpc_opts_t *o = &ctx->opts;
  CURL *e = curl_easy_init();

  attempt_reset(r);
  r->attempts++;
  r->t_attempt = uv_hrtime();
  if (!e) {
    set_error(r, "curl_easy_init failed");
    finish_later(r, HTTPC_NETWORK);
    return;
  }
  uint32_t connect_ms = o->connect_timeout_ms < r->timeout_ms
                            ? o->connect_timeout_ms
                            : r->timeout_ms;
  SETE(CURLOPT_URL, r->url);
  SETE(CURLOPT_PRIVATE, (char *)r);
  SETE(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  SETE(CURLOPT_PROTOCOLS_STR, "http,https");
  SETE(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  SETE(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SETE(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  if (r->flags & HTTPC_F_FOLLOW_REDIRECTS) {
    SETE(CURLOPT_FOLLOWLOCATION, 1L);
    SETE(CURLOPT_MAXREDIRS, MAX_REDIRS);
  }
  SETE(CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
  SETE(CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
  SETE(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_bytes);
  SETE(CURLOPT_WRITEFUNCTION, write_cb);
  SETE(CURLOPT_WRITEDATA, r);
  SETE(CURLOPT_HEADERFUNCTION, header_cb);
  SETE(CURLOPT_HEADERDATA, r);
  SETE(CURLOPT_ERRORBUFFER, r->errbuf);
  SETE(CURLOPT_SSL_VERIFYPEER, 1L);
  SETE(CURLOPT_SSL_VERIFYHOST, 2L);
  if (o->ca_file) SETE(CURLOPT_CAINFO, o->ca_file);
  SETE(CURLOPT_USERAGENT, o->user_agent);
  SETE(CURLOPT_ACCEPT_ENCODING, "");
  SETE(CURLOPT_HTTPHEADER, r->headers);
  SETE(CURLOPT_OPENSOCKETFUNCTION, httpc__open_socket);
  SETE(CURLOPT_OPENSOCKETDATA, ctx);
  SETE(CURLOPT_CLOSESOCKETFUNCTION, httpc__close_socket);
  SETE(CURLOPT_CLOSESOCKETDATA, ctx);
  /* A non-idempotent request never goes out on a reused connection:
   * libcurl silently re-sends a request whose reused connection died
   * before any answer, which must not happen to a create. */
  if (!r->idempotent) SETE(CURLOPT_FRESH_CONNECT, 1L);

  if (strcmp(r->method, "HEAD") == 0) {
    SETE(CURLOPT_NOBODY, 1L);
  } else if (r->has_body || strcmp(r->method, "POST") == 0 ||
             strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0) {
    SETE(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    SETE(CURLOPT_POSTFIELDS, r->body ? r->body : "");
    if (strcmp(r->method, "POST") != 0) SETE(CURLOPT_CUSTOMREQUEST, r->method);
  } else if (strcmp(r->method, "GET") == 0) {
    SETE(CURLOPT_HTTPGET, 1L);
  } else {
    SETE(CURLOPT_CUSTOMREQUEST, r->method);
  }

  r->easy = e;
  r->state = RQ_ACTIVE;
  slot_take(r);
  if (curl_multi_add_handle(ctx->multi, e) != CURLM_OK) {
    r->easy = NULL;
    slot_release(r);
    curl_easy_cleanup(e);
    set_error(r, "curl_multi_add_handle failed");
    finish_later(r, HTTPC_NETWORK);
    return;
  }
  char abuf[16], ibuf[24];
  snprintf(ibuf, sizeof ibuf, "%llu", (unsigned long long)r->id);
  snprintf(abuf, sizeof abuf, "%u", r->attempts);
  log_kv(LOG_DEBUG, LOGC, "attempt", "#id", ibuf, "method", r->method, "target",
         r->target, "#attempt", abuf, NULL);
  return;

fail:
  curl_easy_cleanup(e);
  set_error(r, "curl_easy_setopt failed");
  finish_later(r, HTTPC_NETWORK);
}

/* ---------------- creating a request ---------------- */

static bool valid_method(const char *m) {
  size_t n = strlen(m);
  if (n == 0 || n > 32) return false;
  for (const char *p = m; *p; p++)
    if (!isupper((unsigned char)*p) && *p != '-' && *p != '_') return false;
  return true;
}

static bool idempotent_method(const char *m) {
  static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(m, ok[i]) == 0) return true;
  return false;
}

/* "Name: value" with a token name and no CR/LF anywhere. */
static bool valid_header(const char *h) {
  const char *colon = strchr(h, ':');
  if (!colon || colon == h) return false;
  for (const char *p = h; p < colon; p++)
    if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
      return false;
  return strpbrk(h, "\r\n") == NULL;
}

static bool header_named(const char *h, const char *name) {
  size_t n = strlen(name);
  return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

static char *lower_dup(const char *s) {
  char *d = xstrdup(s);
  for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
  return d;
}

/* Parses the URL: http(s) only; fills host_key, hostname, label, target. */
static int parse_url(httpc_req_t *r) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
  int rc = -EINVAL;

  if (!u) return -ENOMEM;
  if (curl_url_set(u, CURLUPART_URL, r->url, 0) != CURLUE_OK) goto done;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
    goto done;
  if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
    goto done;
  if (!*host) goto done;

  r->hostname = lower_dup(host);
  char *key = xasprintf("%s:%s", r->hostname, port);
  r->host_key = key;
  /* Metric label: the host name with only safe characters. */
  char *safe = xstrdup(r->hostname);
  for (char *p = safe; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) *p = '_';
  r->label = xasprintf("host=\"%s\"", safe);
  free(safe);
  r->target = xasprintf("%s://%s:%s%s", scheme, r->hostname, port, path);
  rc = 0;

done:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_url_cleanup(u);
  return rc;
}

int httpc_request(httpc_t *ctx, const httpc_request_t *rq, httpc_done_cb done,
                  void *arg, uint64_t *id) {
  if (!ctx || !rq || !rq->url) return -EINVAL;
  if (ctx->closing) return -ECANCELED;

  const char *method = rq->method ? rq->method : rq->body ? "POST" : "GET";
  if (!valid_method(method)) return -EINVAL;

  httpc_req_t *r = xcalloc(1, sizeof *r);
  int rc = -EINVAL;
  r->ctx = ctx;
  r->method = xstrdup(method);
  r->url = xstrdup(rq->url);
  if (parse_url(r) < 0) goto fail;

  bool have_expect = false, have_key = false;
  for (const char *const *h = rq->headers; h && *h; h++) {
    if (!valid_header(*h)) goto fail;
    if (header_named(*h, "Expect")) have_expect = true;
    if (header_named(*h, "Idempotency-Key") && strchr(*h, ':')[1])
      have_key = true;
    r->headers = curl_slist_append(r->headers, *h);
    if (!r->headers) abort();
  }
  /* No "Expect: 100-continue" wait for bodies unless asked for. */
  if (!have_expect) {
    r->headers = curl_slist_append(r->headers, "Expect:");
    if (!r->headers) abort();
  }
  if (rq->body) {
    r->has_body = true;
    r->body = xmalloc(rq->body_len + 1);
    memcpy(r->body, rq->body, rq->body_len);
    r->body[rq->body_len] = '\0';
    r->body_len = rq->body_len;
  }
  r->timeout_ms = rq->timeout_ms ? rq->timeout_ms : ctx->opts.timeout_ms;
  r->max_bytes = rq->max_response_bytes ? rq->max_response_bytes
                                        : ctx->opts.max_response_bytes;
  r->flags = rq->flags;
  r->idempotent =
      idempotent_method(method) || (rq->flags & HTTPC_F_IDEMPOTENT) || have_key;
  if (rq->retry) {
    r->retry = *rq->retry;
    httpc__retry_defaults(&r->retry, &ctx->opts.retry);
  } else {
    r->retry = ctx->opts.retry;
  }
  r->owner = rq->owner;
  r->done = done;
  r->arg = arg;
  r->id = ctx->next_id++;
  r->t_start = uv_hrtime();

  uv_timer_init(ctx->loop, &r->timer);
  r->timer.data = r;
  ctx->handles_open++;
  r->next = ctx->live;
  if (ctx->live) ctx->live->prev = r;
  ctx->live = r;

  if (id) *id = r->id;
  queue_push(r);
  dispatch(ctx);
  return 0;

fail:
  req_free(r);
  return rc;
}

/* ---------------- cancellation ---------------- */

static int cancel_req(httpc_req_t *r) {
  switch (r->state) {
  case RQ_QUEUED:
    queue_remove(r);
    break;
  case RQ_ACTIVE: {
    bool wrote = attempt_end(r);
    if (wrote && r->sent < HTTPC_SENT_MAYBE) r->sent = HTTPC_SENT_MAYBE;
    attempt_metrics(r, HTTPC_CANCELLED);
    break;
  }
  case RQ_WAITING:
    uv_timer_stop(&r->timer);
    break;
  case RQ_FINISHING:
  case RQ_DONE:
    return -ENOENT;
  }
  set_error(r, "cancelled");
  finish_later(r, HTTPC_CANCELLED);
  return 0;
}

int httpc_cancel(httpc_t *ctx, uint64_t id) {
  for (httpc_req_t *r = ctx->live; r; r = r->next) {
    if (r->id != id) continue;
    int rc = cancel_req(r);
    dispatch(ctx);
    return rc;
  }
  return -ENOENT;
}

size_t httpc_cancel_owner(httpc_t *ctx, const void *owner) {
  size_t n = 0;
  for (httpc_req_t *r = ctx->live; r; r = r->next)
    if (r->owner == owner && cancel_req(r) == 0) n++;
  dispatch(ctx);
  return n;
}

void httpc__cancel_all(httpc_t *ctx) {
  for (httpc_req_t *r = ctx->live; r; r = r->next) cancel_req(r);
}

size_t httpc_pending(const httpc_t *ctx, const void *owner) {
  size_t n = 0;
  for (const httpc_req_t *r = ctx->live; r; r = r->next)
    if (!owner || r->owner == owner) n++;
  return n;
}
