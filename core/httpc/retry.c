/*
 * retry.c: the retry policy as pure functions (CONNECTORS.md section 0).
 *
 * Which failures are "certainly before sending" is decided here. A request
 * counts as possibly sent as soon as libcurl has written any byte of it to
 * a connection (CURLINFO_REQUEST_SIZE > 0) or a response arrived; DNS,
 * connect and TLS handshake failures happen before that by construction.
 */
#include "httpc_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t default_statuses[] = {408, 429, 500, 502, 503, 504};

void httpc__retry_defaults(httpc_retry_t *p, const httpc_retry_t *base) {
  if (!p->max_attempts) p->max_attempts = base ? base->max_attempts : 4;
  if (!p->base_delay_ms) p->base_delay_ms = base ? base->base_delay_ms : 500;
  if (!p->max_delay_ms) p->max_delay_ms = base ? base->max_delay_ms : 8000;
  if (!p->max_total_delay_ms)
    p->max_total_delay_ms = base ? base->max_total_delay_ms : 60000;
  if (p->nstatuses > HTTPC_RETRY_MAX_STATUSES)
    p->nstatuses = HTTPC_RETRY_MAX_STATUSES;
  if (!p->nstatuses) {
    if (base && base->nstatuses) {
      memcpy(p->statuses, base->statuses, sizeof p->statuses);
      p->nstatuses = base->nstatuses;
    } else {
      size_t n = sizeof default_statuses / sizeof default_statuses[0];
      memcpy(p->statuses, default_statuses, sizeof default_statuses);
      p->nstatuses = n;
    }
  }
}

static bool status_in(const httpc_retry_t *p, long status) {
  for (size_t i = 0; i < p->nstatuses; i++)
    if (p->statuses[i] == status) return true;
  return false;
}

/* Failures that cannot be repaired by trying again. */
static bool permanent(int code) {
  switch (code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_NOT_BUILT_IN:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_OUT_OF_MEMORY:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_UNKNOWN_OPTION:
  case CURLE_LOGIN_DENIED:
    return true;
  default:
    return false;
  }
}

/* Failures that by their nature precede the first request byte. */
static bool before_sending(int code) {
  switch (code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
    return true;
  default:
    return false;
  }
}

httpc_verdict_t httpc__classify(const httpc_retry_t *pol, bool idempotent,
                                int code, long status, bool too_large,
                                bool wrote_request) {
  httpc_verdict_t v = {HTTPC_NETWORK, HTTPC_SENT_MAYBE, false};

  if (too_large || code == CURLE_FILESIZE_EXCEEDED) {
    v.result = HTTPC_TOO_LARGE;
    v.sent = HTTPC_SENT_YES;
    return v;
  }
  if (code == CURLE_OK) {
    v.sent = HTTPC_SENT_YES;
    if (status < 400) {
      v.result = HTTPC_OK;
    } else if (idempotent) {
      v.result = HTTPC_HTTP_ERROR;
      v.retryable = status_in(pol, status);
    } else {
      /* A server error after a create may hide a success: say so. A 4xx
       * (including 408 and 429) means the request was refused. */
      v.result = status >= 500 ? HTTPC_AMBIGUOUS : HTTPC_HTTP_ERROR;
    }
    return v;
  }

  bool not_sent = before_sending(code) || !wrote_request;
  if (code == CURLE_OPERATION_TIMEDOUT) {
    v.result = HTTPC_TIMEOUT;
  } else if (permanent(code)) {
    v.result = HTTPC_NETWORK;
    v.sent = not_sent ? HTTPC_SENT_NO : HTTPC_SENT_MAYBE;
    return v; /* retryable stays false */
  }
  if (not_sent) {
    v.sent = HTTPC_SENT_NO;
    v.retryable = true;
  } else if (idempotent) {
    v.retryable = true;
  } else {
    v.result = HTTPC_AMBIGUOUS;
  }
  return v;
}

uint64_t httpc__backoff_ms(const httpc_retry_t *p, unsigned n, uint64_t rnd) {
  uint64_t ceiling = p->base_delay_ms;
  for (unsigned i = 1; i < n && ceiling < p->max_delay_ms; i++) ceiling *= 2;
  if (ceiling > p->max_delay_ms) ceiling = p->max_delay_ms;
  return rnd % (ceiling + 1);
}

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

static bool blank(const char *s) {
  return *skip_ws(s) == '\0';
}

int64_t httpc__parse_retry_after(const char *retry_after,
                                 const char *retry_after_ms, int64_t now) {
  /* Cap at a day: anything longer is for the caller's scheduler. */
  const int64_t cap = 86400 * (int64_t)1000;

  if (retry_after_ms) {
    const char *s = skip_ws(retry_after_ms);
    char *end;
    double ms = strtod(s, &end);
    if (end != s && blank(end) && isfinite(ms) && ms >= 0)
      return ms >= (double)cap ? cap : (int64_t)ceil(ms);
  }
  if (!retry_after) return -1;

  const char *s = skip_ws(retry_after);
  if (*s >= '0' && *s <= '9') {
    int64_t secs = 0;
    for (; *s >= '0' && *s <= '9'; s++)
      if (secs < cap) secs = secs * 10 + (*s - '0');
    if (!blank(s)) return -1;
    return secs * 1000 >= cap ? cap : secs * 1000;
  }
  /* An HTTP-date (IMF-fixdate, RFC 850 or asctime); curl_getdate is a
   * pure parser. */
  time_t t = curl_getdate(s, NULL);
  if (t == (time_t)-1) return -1;
  int64_t delta = (int64_t)t - now;
  if (delta <= 0) return 0;
  return delta * 1000 >= cap ? cap : delta * 1000;
}
