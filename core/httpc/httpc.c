/*
 * httpc.c: the context. libcurl's multi interface on the libuv loop,
 * hardened from curl's docs/examples/multi-uv.c as ANCHORS.md 3.5 asks:
 *
 * - Sockets are found by descriptor in ctx->socks rather than through
 *   curl_multi_assign, so that the close-socket callback (which only gets
 *   the descriptor) can stop and close the uv_poll_t *before* close(2):
 *   libuv must never poll a closed or reused descriptor.
 * - On CURL_POLL_REMOVE the poll handle is stopped and closed at once (the
 *   context is freed in the close callback); a later IN/OUT for the same
 *   descriptor creates a fresh one.
 * - Poll and timer callbacks call curl_multi_socket_action and only after
 *   it returns read the finished transfers. Curl callbacks never call back
 *   into libcurl or into the caller.
 */
#include "httpc_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOGC "httpc"

/* ---------------- sockets ---------------- */

static void sock_closed_cb(uv_handle_t *h) {
  httpc_sock_t *sk = h->data;
  httpc_t *ctx = sk->ctx;
  free(sk);
  httpc__handle_closed(ctx);
}

/* Stops and closes the poll handle watching fd, if any. */
static void sock_forget(httpc_t *ctx, curl_socket_t fd) {
  if (fd < 0 || (size_t)fd >= ctx->nsocks || !ctx->socks[fd]) return;
  httpc_sock_t *sk = ctx->socks[fd];
  ctx->socks[fd] = NULL;
  uv_poll_stop(&sk->poll);
  uv_close((uv_handle_t *)&sk->poll, sock_closed_cb);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  httpc_sock_t *sk = h->data;
  httpc_t *ctx = sk->ctx;
  int flags = 0;
  int running = 0;

  if (!ctx->multi) return;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  /* sk may be closed during the call; its memory lives until the close
   * callback, which cannot run before we return. */
  curl_multi_socket_action(ctx->multi, sk->fd, flags, &running);
  httpc__process_done(ctx);
}

static int socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  httpc_t *ctx = userp;
  (void)easy;
  (void)socketp;

  if (fd < 0) return 0;
  if (what == CURL_POLL_REMOVE) {
    sock_forget(ctx, fd);
    return 0;
  }
  if ((size_t)fd >= ctx->nsocks) {
    size_t n = ctx->nsocks ? ctx->nsocks : 64;
    while (n <= (size_t)fd) n *= 2;
    ctx->socks = xrealloc(ctx->socks, n * sizeof *ctx->socks);
    memset(ctx->socks + ctx->nsocks, 0, (n - ctx->nsocks) * sizeof *ctx->socks);
    ctx->nsocks = n;
  }
  httpc_sock_t *sk = ctx->socks[fd];
  if (!sk) {
    sk = xcalloc(1, sizeof *sk);
    sk->ctx = ctx;
    sk->fd = fd;
    int rc = uv_poll_init_socket(ctx->loop, &sk->poll, fd);
    if (rc < 0) {
      /* Returning -1 would fail every transfer; the one using this socket
       * ends by its own timeout instead. */
      log_kv(LOG_ERROR, LOGC, "uv_poll_init_socket failed", "error",
             uv_strerror(rc), NULL);
      free(sk);
      return 0;
    }
    sk->poll.data = sk;
    ctx->handles_open++;
    ctx->socks[fd] = sk;
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  int rc = uv_poll_start(&sk->poll, events, poll_cb);
  if (rc < 0)
    log_kv(LOG_ERROR, LOGC, "uv_poll_start failed", "error", uv_strerror(rc),
           NULL);
  return 0;
}

curl_socket_t httpc__open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *addr) {
  (void)clientp;
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

int httpc__close_socket(void *clientp, curl_socket_t fd) {
  /* The descriptor may still be polled if libcurl did not send REMOVE
   * first: stop that before the number can be reused. */
  sock_forget(clientp, fd);
  return close(fd);
}

/* ---------------- timer ---------------- */

static void timer_cb(uv_timer_t *t) {
  httpc_t *ctx = t->data;
  int running = 0;
  if (!ctx->multi) return;
  curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  httpc__process_done(ctx);
}

static int timer_fn(CURLM *multi, long timeout_ms, void *userp) {
  httpc_t *ctx = userp;
  (void)multi;
  if (timeout_ms < 0) {
    uv_timer_stop(&ctx->timer);
  } else {
    /* 0 becomes a timer that fires on a later loop iteration: libcurl is
     * never re-entered from inside this callback. */
    uv_timer_start(&ctx->timer, timer_cb, (uint64_t)timeout_ms, 0);
  }
  return 0;
}

/* ---------------- context ---------------- */

uint64_t httpc__random(httpc_t *ctx) {
  /* xorshift64*: jitter needs spread, not secrecy. */
  uint64_t x = ctx->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  ctx->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void ctx_free(httpc_t *ctx) {
  while (ctx->hosts) {
    httpc_host_t *h = ctx->hosts;
    ctx->hosts = h->next;
    free(h->key);
    free(h);
  }
  while (ctx->limits) {
    httpc_limit_t *l = ctx->limits;
    ctx->limits = l->next;
    free(l->host);
    free(l);
  }
  free(ctx->socks);
  free((char *)ctx->opts.ca_file);
  free((char *)ctx->opts.user_agent);
  free(ctx);
}

void httpc__handle_closed(httpc_t *ctx) {
  ctx->handles_open--;
  if (ctx->closing && !ctx->multi && ctx->handles_open == 0) {
    httpc_close_cb cb = ctx->close_cb;
    void *arg = ctx->close_arg;
    ctx_free(ctx);
    if (cb) cb(arg);
  }
}

static void timer_closed_cb(uv_handle_t *h) {
  httpc__handle_closed(h->data);
}

#define SETM(opt, val)                                                         \
  do {                                                                         \
    if (curl_multi_setopt(ctx->multi, opt, val) != CURLM_OK) goto fail;        \
  } while (0)

int httpc_new(uv_loop_t *loop, const httpc_opts_t *opts, httpc_t **out) {
  static const httpc_opts_t none;
  if (!loop || !out) return -EINVAL;
  if (!opts) opts = &none;
  if (opts->ca_file && !*opts->ca_file) return -EINVAL;
  const char *why;
  if (curl_lazy_load(&why) < 0) { /* libcurl is opened on first use */
    log_kv(LOG_ERROR, LOGC, "cannot load libcurl", "error", why, NULL);
    return -ELIBACC;
  }

  httpc_t *ctx = xcalloc(1, sizeof *ctx);
  ctx->loop = loop;
  ctx->opts = *opts;
  ctx->opts.ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
  ctx->opts.user_agent =
      xstrdup(opts->user_agent ? opts->user_agent : "assistd/0.1");
  if (!ctx->opts.max_per_host) ctx->opts.max_per_host = 6;
  if (!ctx->opts.max_total) ctx->opts.max_total = 64;
  if (!ctx->opts.timeout_ms) ctx->opts.timeout_ms = 30000;
  if (!ctx->opts.connect_timeout_ms) ctx->opts.connect_timeout_ms = 10000;
  if (!ctx->opts.max_response_bytes) ctx->opts.max_response_bytes = 16u << 20;
  httpc__retry_defaults(&ctx->opts.retry, NULL);
  ctx->next_id = 1;
  if (getrandom(&ctx->rng, sizeof ctx->rng, GRND_NONBLOCK) !=
      (ssize_t)sizeof ctx->rng)
    ctx->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)ctx;
  if (!ctx->rng) ctx->rng = 0x9E3779B97F4A7C15ULL;

  ctx->multi = curl_multi_init();
  if (!ctx->multi) {
    ctx_free(ctx);
    return -ENOMEM;
  }
  SETM(CURLMOPT_SOCKETFUNCTION, socket_fn);
  SETM(CURLMOPT_SOCKETDATA, ctx);
  SETM(CURLMOPT_TIMERFUNCTION, timer_fn);
  SETM(CURLMOPT_TIMERDATA, ctx);
  SETM(CURLMOPT_MAX_HOST_CONNECTIONS, (long)ctx->opts.max_per_host);
  ctx->curl_host_cap = ctx->opts.max_per_host;
  SETM(CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)ctx->opts.max_total);

  const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  if (!(vi->features & CURL_VERSION_ASYNCHDNS))
    log_kv(LOG_WARN, LOGC,
           "libcurl resolves names synchronously; DNS will block the loop",
           NULL);

  ctx->m_requests =
      metrics_family(METRIC_COUNTER, "assist_httpc_requests_total",
                     "Outbound HTTP attempts by host and status "
                     "(HTTP code or error class).",
                     NULL, 0);
  ctx->m_retries = metrics_family(METRIC_COUNTER, "assist_httpc_retries_total",
                                  "Outbound HTTP retries by host.", NULL, 0);
  ctx->m_duration =
      metrics_family(METRIC_HISTOGRAM, "assist_httpc_request_duration_seconds",
                     "Outbound HTTP attempt duration by host.",
                     metrics_latency_buckets, metrics_latency_nbuckets);

  uv_timer_init(loop, &ctx->timer);
  ctx->timer.data = ctx;
  ctx->handles_open = 1;
  *out = ctx;
  return 0;

fail:
  curl_multi_cleanup(ctx->multi);
  ctx_free(ctx);
  return -EIO;
}

/* libcurl's own per-host connection cap must not be below any host's
 * limit, or transfers would wait inside libcurl with their timeouts
 * running; our queue is what enforces the limits. */
static void raise_curl_host_cap(httpc_t *ctx, unsigned limit) {
  if (limit <= ctx->curl_host_cap || !ctx->multi) return;
  if (curl_multi_setopt(ctx->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                        (long)limit) == CURLM_OK)
    ctx->curl_host_cap = limit;
}

int httpc_set_host_limit(httpc_t *ctx, const char *host, unsigned limit) {
  if (!ctx || !host || !*host || limit == 0) return -EINVAL;
  char *key = xstrdup(host);
  for (char *p = key; *p; p++) *p = (char)tolower((unsigned char)*p);
  for (httpc_limit_t *l = ctx->limits; l; l = l->next) {
    if (strcmp(l->host, key) == 0) {
      l->limit = limit;
      free(key);
      raise_curl_host_cap(ctx, limit);
      return 0;
    }
  }
  httpc_limit_t *l = xcalloc(1, sizeof *l);
  l->host = key;
  l->limit = limit;
  l->next = ctx->limits;
  ctx->limits = l;
  raise_curl_host_cap(ctx, limit);
  return 0;
}

void httpc_close(httpc_t *ctx, httpc_close_cb done, void *arg) {
  ctx->closing = true;
  ctx->close_cb = done;
  ctx->close_arg = arg;

  /* 1. Every request completes as cancelled (on a later iteration); their
   * easy handles leave the multi handle now. */
  httpc__cancel_all(ctx);
  /* 2. The multi handle closes its cached connections, which may still
   * call the socket and close-socket callbacks. */
  curl_multi_cleanup(ctx->multi);
  ctx->multi = NULL;
  /* 3. Whatever is still polled (a descriptor libcurl never told us it
   * removed) is stopped; the descriptors are not ours to close. */
  for (size_t i = 0; i < ctx->nsocks; i++)
    if (ctx->socks[i]) sock_forget(ctx, (curl_socket_t)i);
  /* 4. The timer; the context is freed by the last close callback. */
  uv_timer_stop(&ctx->timer);
  uv_close((uv_handle_t *)&ctx->timer, timer_closed_cb);
}
