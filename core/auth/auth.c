/* auth.c: the service's lifetime, configuration and shared helpers. */
#include "auth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"
#include "../secrets/secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIMITER_MAX_KEYS 100000

static char *origin_of(const char *url) {
  const char *p = strstr(url, "://");
  if (!p) return NULL;
  p += 3;
  size_t n = strcspn(p, "/?#");
  return xstrndup(url, (size_t)(p - url) + n);
}

auth_t *auth_new(uv_loop_t *loop, store_t *store, const auth_config_t *cfg) {
  static const auth_config_t none = {0};
  if (!cfg) cfg = &none;
  auth_t *a = xcalloc(1, sizeof *a);
  a->loop = loop;
  a->store = store;
  secrets_global_init();
  if (cfg->public_url && cfg->public_url[0]) {
    a->public_url = xstrdup(cfg->public_url);
    a->origin = origin_of(cfg->public_url);
    a->secure = strncasecmp(cfg->public_url, "https://", 8) == 0;
  }
  a->allow_registration = cfg->allow_registration != 0;
  a->idle_ms = (cfg->session_idle_s > 0 ? cfg->session_idle_s : 86400) * 1000;
  a->lifetime_ms =
      (cfg->session_lifetime_s > 0 ? cfg->session_lifetime_s : 604800) * 1000;
  a->window_ms =
      (cfg->failure_window_s > 0 ? cfg->failure_window_s : 900) * 1000;
  a->lockout_ms = (cfg->lockout_s > 0 ? cfg->lockout_s : 900) * 1000;
  a->max_fail_account =
      cfg->max_failures_account ? cfg->max_failures_account : 5;
  a->max_fail_addr = cfg->max_failures_addr ? cfg->max_failures_addr : 20;
  a->min_password_len = cfg->min_password_len ? cfg->min_password_len : 12;
  if (a->min_password_len > AUTH_PASSWORD_MAX)
    a->min_password_len = AUTH_PASSWORD_MAX;
  if (cfg->client_addr_header && cfg->client_addr_header[0])
    a->client_addr_header = xstrdup(cfg->client_addr_header);
  a->client_addr = cfg->client_addr;
  a->client_addr_ud = cfg->client_addr_ud;
  a->now_ms = cfg->now_ms;
  a->clock_ud = cfg->clock_ud;
  a->cookie_name = a->secure ? "__Host-assistd_session" : "assistd_session";
  a->lim_account =
      auth_limiter_new(a->max_fail_account, a->window_ms, LIMITER_MAX_KEYS);
  a->lim_addr =
      auth_limiter_new(a->max_fail_addr, a->window_ms, LIMITER_MAX_KEYS);
  a->m_logins = metrics_family(METRIC_COUNTER, "assist_auth_logins_total",
                               "Password sign-ins by outcome", NULL, 0);
  a->m_gate =
      metrics_family(METRIC_COUNTER, "assist_auth_gate_total",
                     "Authentication of /api requests by outcome", NULL, 0);
  return a;
}

static void auth_free(auth_t *a) {
  auth_routes_free(a);
  auth_limiter_free(a->lim_account);
  auth_limiter_free(a->lim_addr);
  free(a->public_url);
  free(a->origin);
  free(a->client_addr_header);
  void (*cb)(void *) = a->close_cb;
  void *arg = a->close_arg;
  free(a);
  if (cb) cb(arg);
}

static void close_idle_cb(uv_handle_t *h) {
  auth_t *a = h->data;
  free(h);
  auth_free(a);
}

static void close_now_cb(uv_idle_t *h) {
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, close_idle_cb);
}

static void maybe_finish(auth_t *a) {
  if (!a->closing || a->pending) return;
  /* Always finish from a loop callback, never inside auth_close. */
  uv_idle_t *h = xmalloc(sizeof *h);
  uv_idle_init(a->loop, h);
  h->data = a;
  uv_idle_start(h, close_now_cb);
}

void auth_close(auth_t *a, void (*cb)(void *arg), void *arg) {
  a->closing = 1;
  a->close_cb = cb;
  a->close_arg = arg;
  maybe_finish(a);
}

int64_t auth_now(const auth_t *a) {
  return a->now_ms ? a->now_ms(a->clock_ud) : store_now_ms();
}

void auth_db(auth_t *a, store_req_t *r, store_done_cb cb, void *arg) {
  a->pending++;
  store_req_submit(r, cb, arg);
}

void auth_db_done(auth_t *a) {
  a->pending--;
  maybe_finish(a);
}

typedef struct work {
  uv_work_t w;
  auth_t *a;
  void (*work)(void *);
  void (*after)(void *);
  void *arg;
} work_t;

static void work_run(uv_work_t *w) {
  work_t *k = w->data;
  k->work(k->arg);
}

static void work_after(uv_work_t *w, int status) {
  (void)status; /* never cancelled: auth does not call uv_cancel */
  work_t *k = w->data;
  auth_t *a = k->a;
  k->after(k->arg);
  free(k);
  a->pending--;
  maybe_finish(a);
}

void auth_work(auth_t *a, void (*work)(void *arg), void (*after)(void *arg),
               void *arg) {
  work_t *k = xcalloc(1, sizeof *k);
  k->a = a;
  k->work = work;
  k->after = after;
  k->arg = arg;
  k->w.data = k;
  a->pending++;
  int rc = uv_queue_work(a->loop, &k->w, work_run, work_after);
  if (rc != 0) {
    /* Cannot happen with valid arguments; run inline rather than lose it. */
    log_error("auth", "uv_queue_work: %s", uv_strerror(rc));
    work(arg);
    work_after(&k->w, 0);
  }
}

void auth_sha256_hex(const char *s, size_t len, char out[AUTH_HASH_HEX]) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, (const unsigned char *)s, len);
  sodium_bin2hex(out, AUTH_HASH_HEX, h, sizeof h);
}

uint64_t auth_hash64(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h ? h : 1;
}

int auth_touch_recent(auth_t *a, uint64_t key, int64_t now) {
  auth_touch_t *t = &a->touched[key % AUTH_TOUCH_SLOTS];
  if (t->key == key && now >= t->at && now - t->at < AUTH_TOUCH_MS) return 1;
  t->key = key;
  t->at = now;
  return 0;
}

static int addr_char_ok(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

/* Copies the address in [s, s+n) (blanks trimmed) if it looks like an IPv4
 * or IPv6 literal; else "". */
static void copy_addr(const char *s, size_t n, char *out, size_t cap) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  out[0] = '\0';
  if (n == 0 || n >= cap || n >= AUTH_ADDR_MAX) return;
  for (size_t i = 0; i < n; i++)
    if (!addr_char_ok(s[i])) return;
  memcpy(out, s, n);
  out[n] = '\0';
}

void auth_client_addr(auth_t *a, http_request_t *req, char *out, size_t cap) {
  out[0] = '\0';
  if (a->client_addr && a->client_addr(req, out, cap, a->client_addr_ud) == 0 &&
      out[0])
    return;
  out[0] = '\0';
  if (!a->client_addr_header) return;
  const char *v = http_req_header(req, a->client_addr_header);
  if (!v) return;
  if (strcasecmp(a->client_addr_header, "X-Forwarded-For") == 0) {
    /* The last entry was added by our proxy; earlier ones are the
     * client's word. */
    const char *c = strrchr(v, ',');
    if (c) v = c + 1;
  }
  copy_addr(v, strlen(v), out, cap);
}
