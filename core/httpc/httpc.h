/*
 * httpc.h: the outbound HTTP client. libcurl's multi interface driven by
 * the daemon's libuv loop (ANCHORS.md 3.5): one CURLM and one uv_timer_t
 * per context, one uv_poll_t per socket, nothing ever blocks the loop.
 *
 * A request is asynchronous: httpc_request() copies everything it is given
 * and returns an id; later, on the loop thread, the completion callback
 * receives a response object it owns (free it with httpc_response_free).
 * The callback runs exactly once per accepted request: with the final
 * answer, after retries, or with HTTPC_CANCELLED (httpc_cancel,
 * httpc_cancel_owner, httpc_close). It never runs inside httpc_request()
 * or inside a cancel call: cancellation completes on a later iteration.
 *
 * Retries (CONNECTORS.md section 0). An attempt is retried when:
 *   - the request is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, or the
 *     HTTPC_F_IDEMPOTENT flag, or an "Idempotency-Key" header) and it got a
 *     status from the policy's set (408, 429, 500, 502, 503, 504 by
 *     default), timed out, or failed at the network level; or
 *   - whatever the method, the failure certainly happened before the
 *     request was sent (DNS failure, connection refused, TLS handshake
 *     failure, a timeout before the connection was established).
 * The delay honours `retry-after-ms` and `Retry-After` (delta seconds or
 * HTTP-date) when the response has them; otherwise it is exponential
 * backoff with full jitter: uniform(0, min(max_delay, base * 2^(n-1))).
 * Retrying stops at max_attempts, or when the next delay would push the sum
 * of delays past max_total_delay (the response then carries the header so
 * the caller can reschedule a durable job).
 * A non-idempotent request that failed after it may have been sent (the
 * connection dropped mid-response, a timeout after sending, a 5xx) is
 * never retried: it completes with HTTPC_AMBIGUOUS ("the request may have
 * been processed") so the caller can reconcile, e.g. by listing what the
 * provider has. Non-idempotent requests always use a fresh connection, so
 * libcurl itself never re-sends them on a stale keep-alive connection (it
 * may do so, once within an attempt, for an idempotent request whose
 * reused connection died before any byte of answer).
 *
 * Limits. Per attempt: a timeout (CURLOPT_TIMEOUT_MS), a response body cap
 * (CURLOPT_MAXFILESIZE_LARGE plus a check in the write callback), protocols
 * http and https only (redirects too). Per context: at most max_per_host
 * transfers per host:port (also CURLMOPT_MAX_HOST_CONNECTIONS) and
 * max_total in all; the others wait in a FIFO queue and their timeouts do
 * not start while they wait. TLS peer and host verification are always on;
 * ca_file replaces the system CA bundle. Proxies come from the environment
 * (http_proxy, https_proxy, no_proxy), as libcurl does by default.
 *
 * Metrics (core/metrics): assist_httpc_requests_total{host,status}, one per
 * attempt, status being the HTTP code or an error class ("timeout",
 * "network", "too_large", "cancelled"); assist_httpc_retries_total{host};
 * assist_httpc_request_duration_seconds{host} per attempt. Logs name the
 * method, scheme, host and path, never the query string, headers or
 * bodies (they may carry tokens).
 *
 * Threading: everything runs on the loop thread. curl_global_init() must
 * have been called once (in main) before httpc_new().
 */
#ifndef ASSIST_HTTPC_H
#define ASSIST_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct httpc httpc_t;

/** How a request ended. */
typedef enum {
  HTTPC_OK = 0,     /**< a response with status < 400 */
  HTTPC_HTTP_ERROR, /**< a response with status >= 400 (after retries) */
  HTTPC_TIMEOUT,    /**< the last attempt timed out (see `sent`) */
  HTTPC_AMBIGUOUS,  /**< non-idempotent: may have been processed */
  HTTPC_CANCELLED,  /**< httpc_cancel, httpc_cancel_owner, httpc_close */
  HTTPC_TOO_LARGE,  /**< the body exceeded max_response_bytes */
  HTTPC_NETWORK,    /**< DNS, connect, TLS or transfer failure */
} httpc_result_t;

/** Whether the server may have seen the request (over all attempts). */
typedef enum {
  HTTPC_SENT_NO = 0, /**< certainly not: nothing reached the server */
  HTTPC_SENT_MAYBE,  /**< some attempt failed after it may have been sent */
  HTTPC_SENT_YES,    /**< the server answered */
} httpc_sent_t;

#define HTTPC_RETRY_MAX_STATUSES 16

/** A retry policy. Zero fields take the defaults in brackets. */
typedef struct httpc_retry {
  unsigned max_attempts;  /**< all attempts incl. the first [4]; 1 = none */
  uint32_t base_delay_ms; /**< first backoff ceiling [500] */
  uint32_t max_delay_ms;  /**< ceiling of one backoff delay [8000] */
  uint32_t max_total_delay_ms; /**< sum of all delays [60000] */
  /** Statuses retried for idempotent requests; nstatuses == 0 means the
   * default set 408, 429, 500, 502, 503, 504. */
  uint16_t statuses[HTTPC_RETRY_MAX_STATUSES];
  size_t nstatuses;
} httpc_retry_t;

/** Context options. Zero fields take the defaults in brackets. */
typedef struct httpc_opts {
  const char *ca_file;         /**< copied; PEM CA bundle, NULL = system */
  unsigned max_per_host;       /**< concurrent transfers per host:port [6] */
  unsigned max_total;          /**< concurrent transfers in all [64] */
  uint32_t timeout_ms;         /**< default per-attempt timeout [30000] */
  uint32_t connect_timeout_ms; /**< per-attempt connect timeout [10000] */
  uint64_t max_response_bytes; /**< default body cap [16 MiB] */
  const char *user_agent;      /**< copied; NULL = "assistd/<version>" */
  httpc_retry_t retry;         /**< default policy */
} httpc_opts_t;

enum {
  /** Retry like an idempotent request (the caller sends an idempotency
   * key or knows the operation is safe to repeat). */
  HTTPC_F_IDEMPOTENT = 1u << 0,
  /** Never retry, whatever happens. */
  HTTPC_F_NO_RETRY = 1u << 1,
  /** Follow up to 5 redirects (http/https only). Off by default. */
  HTTPC_F_FOLLOW_REDIRECTS = 1u << 2,
};

/** One request. Every pointer is copied by httpc_request(). */
typedef struct httpc_request {
  /** An upper-case token: "GET", "POST", "PATCH"...; NULL = GET, or POST
   * when there is a body. */
  const char *method;
  const char *url; /**< absolute http:// or https:// URL */
  /** "Name: value" lines; NULL-terminated array, or NULL. A line "Name:"
   * removes a header libcurl would add. */
  const char *const *headers;
  const void *body; /**< may be NULL; sent for any method when non-NULL */
  size_t body_len;
  uint32_t timeout_ms;         /**< per attempt; 0 = context default */
  uint64_t max_response_bytes; /**< 0 = context default */
  uint32_t flags;              /**< HTTPC_F_* */
  const httpc_retry_t *retry;  /**< NULL = context default */
  /** A tag, never dereferenced: httpc_cancel_owner(ctx, owner) cancels
   * every request carrying it (e.g. one plugin instance's). */
  const void *owner;
} httpc_request_t;

/** One response header; both strings owned by the response. */
typedef struct httpc_header {
  const char *name;
  const char *value;
} httpc_header_t;

/**
 * What the completion callback receives; owned by the callback, which
 * frees it with httpc_response_free. Every field is read-only.
 */
typedef struct httpc_response {
  uint64_t id; /**< the id httpc_request() returned */
  httpc_result_t result;
  long status; /**< HTTP status of the last attempt, 0 if none */
  /** Body of the last attempt; owned, NUL-terminated (not counted in
   * body_len), never NULL. Truncated at the cap when TOO_LARGE. */
  const char *body;
  size_t body_len;
  /** What went wrong, for logs and operators: libcurl's error text or
   * ours (never contains the URL's query). "" when result is OK. */
  const char *error;
  int curl_code;     /**< CURLcode of the last attempt (0 = none) */
  unsigned attempts; /**< attempts started (0 if cancelled while queued) */
  httpc_sent_t sent;
  double elapsed_s;              /**< from httpc_request() to completion */
  const httpc_header_t *headers; /**< last response's, in order */
  size_t nheaders;
} httpc_response_t;

/** Runs on the loop thread; takes ownership of resp. */
typedef void (*httpc_done_cb)(httpc_response_t *resp, void *arg);
typedef void (*httpc_close_cb)(void *arg);

/**
 * Creates a context on loop. opts: borrowed (NULL = defaults).
 * Returns 0, -EINVAL (bad option), or -ENOMEM/-EIO when libcurl fails.
 */
int httpc_new(uv_loop_t *loop, const httpc_opts_t *opts, httpc_t **out);

/**
 * Starts a request. rq: borrowed, everything in it copied. done(resp, arg)
 * runs exactly once on the loop thread, never before this returns.
 * id: out, may be NULL; ids are never reused within a context.
 * Returns 0; -EINVAL for a malformed request (URL not http/https, bad
 * method or header line); -ECANCELED after httpc_close. On error, done
 * never runs.
 */
int httpc_request(httpc_t *ctx, const httpc_request_t *rq, httpc_done_cb done,
                  void *arg, uint64_t *id);

/** Cancels one request; it completes with HTTPC_CANCELLED on a later loop
 * iteration. Returns 0, or -ENOENT if it already completed or is already
 * being cancelled. */
int httpc_cancel(httpc_t *ctx, uint64_t id);

/** Cancels every live request tagged with owner. Returns how many. */
size_t httpc_cancel_owner(httpc_t *ctx, const void *owner);

/** Requests not yet completed (owner NULL: all of them). */
size_t httpc_pending(const httpc_t *ctx, const void *owner);

/**
 * Overrides max_per_host for one host ("api.example.com" or, for one port,
 * "api.example.com:8443"; compared case-insensitively). Applies to
 * transfers started afterwards. Returns 0 or -EINVAL (limit 0).
 */
int httpc_set_host_limit(httpc_t *ctx, const char *host, unsigned limit);

/**
 * Cancels everything (each completes with HTTPC_CANCELLED), cleans up the
 * multi handle and closes every libuv handle; then done(arg) runs on the
 * loop and the context is freed. May be called from a completion callback.
 * Calling it twice is a bug.
 */
void httpc_close(httpc_t *ctx, httpc_close_cb done, void *arg);

/* ---------------- responses ---------------- */

/** First header named name (case-insensitive) of the last response, or
 * NULL. The string is owned by resp. */
const char *httpc_response_header(const httpc_response_t *resp,
                                  const char *name);
void httpc_response_free(httpc_response_t *resp);

/** "ok", "http_error", "timeout", "ambiguous", "cancelled", "too_large",
 * "network". */
const char *httpc_result_str(httpc_result_t r);

/**
 * The delay a response asks for before trying again, from `retry-after-ms`
 * (milliseconds, may be fractional) or else `Retry-After` (delta seconds or
 * an HTTP-date, compared to now, Unix seconds). Returns milliseconds (0 if
 * the date is past), or -1 when there is no usable header.
 */
int64_t httpc_retry_after_ms(const httpc_response_t *resp, int64_t now);

#endif
