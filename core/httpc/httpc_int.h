/*
 * httpc_int.h: what the files of core/httpc share; not for other services.
 *
 *   httpc.c     the context: CURLM, its uv_timer_t, the per-socket
 *               uv_poll_t contexts, open/close socket callbacks, close.
 *   request.c   requests: validation, the host-limited FIFO queue, one easy
 *               handle per attempt, completion, retries, cancellation.
 *   retry.c     pure policy: classifying an attempt, backoff, Retry-After.
 *   response.c  the response object handed to the caller.
 */
#ifndef ASSIST_HTTPC_INT_H
#define ASSIST_HTTPC_INT_H

#include "httpc.h"

#include "../common/buf.h"
#include "../metrics/metrics.h"

#include "curl_lazy.h"

typedef struct httpc_req httpc_req_t;

/* One socket libcurl asked us to watch. Indexed by descriptor in
 * httpc_t.socks; freed in the poll handle's close callback. */
typedef struct httpc_sock {
  uv_poll_t poll;
  httpc_t *ctx;
  curl_socket_t fd;
} httpc_sock_t;

/* Transfers running for one host:port; freed when none run. */
typedef struct httpc_host {
  struct httpc_host *next;
  char *key; /* "host:port", lowercase */
  unsigned active;
} httpc_host_t;

/* An operator's override of max_per_host. */
typedef struct httpc_limit {
  struct httpc_limit *next;
  char *host; /* lowercase "host" or "host:port" */
  unsigned limit;
} httpc_limit_t;

struct httpc {
  uv_loop_t *loop;
  CURLM *multi; /* NULL once httpc_close has cleaned it up */
  uv_timer_t timer;
  httpc_opts_t opts; /* ca_file and user_agent owned */

  httpc_sock_t **socks; /* by descriptor */
  size_t nsocks;

  httpc_req_t *live; /* every request not yet completed, doubly linked */
  httpc_req_t *q_head, *q_tail; /* waiting for a slot */
  httpc_host_t *hosts;
  httpc_limit_t *limits;
  unsigned active_total;
  unsigned curl_host_cap; /* CURLMOPT_MAX_HOST_CONNECTIONS as set */

  uint64_t next_id;
  uint64_t rng;

  unsigned handles_open; /* timer + polls + request timers not yet closed */
  bool closing;
  httpc_close_cb close_cb;
  void *close_arg;

  metric_t *m_requests, *m_retries, *m_duration;
};

/* httpc.c */
curl_socket_t httpc__open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *addr);
int httpc__close_socket(void *clientp, curl_socket_t fd);
void httpc__handle_closed(httpc_t *ctx);
uint64_t httpc__random(httpc_t *ctx);

/* request.c */
/** Reads every finished transfer from the multi handle and completes or
 * retries it. Call only after curl_multi_socket_action has returned. */
void httpc__process_done(httpc_t *ctx);
/** Cancels every live request for httpc_close (no new transfer starts). */
void httpc__cancel_all(httpc_t *ctx);

/* retry.c */
typedef struct httpc_verdict {
  httpc_result_t result;
  httpc_sent_t sent; /* for this attempt */
  bool retryable;    /* the policy allows another attempt */
} httpc_verdict_t;

/**
 * Classifies one attempt. code: the CURLcode; status: HTTP status (0 if
 * none); too_large: our write-callback cap hit; wrote_request: some bytes
 * of the request were written to the connection (CURLINFO_REQUEST_SIZE).
 */
httpc_verdict_t httpc__classify(const httpc_retry_t *pol, bool idempotent,
                                int code, long status, bool too_large,
                                bool wrote_request);
/** Fills the defaults into a policy. */
void httpc__retry_defaults(httpc_retry_t *p, const httpc_retry_t *base);
/** Full-jitter backoff before retry number n (1 = first retry). */
uint64_t httpc__backoff_ms(const httpc_retry_t *p, unsigned n, uint64_t rnd);
/** See httpc_retry_after_ms; the raw header values (either may be NULL). */
int64_t httpc__parse_retry_after(const char *retry_after,
                                 const char *retry_after_ms, int64_t now);

/* response.c */
typedef struct httpc_resp_impl {
  httpc_response_t pub; /* first: the caller's pointer */
  httpc_header_t *hdrs; /* owned, each name and value owned */
  char *body;
  char *error;
} httpc_resp_impl_t;

#endif
