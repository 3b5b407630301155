/*
 * gcal_plugin.c: the google-calendar plugin. For every linked account
 * (OAuth connection) at the configured provider it keeps the account's
 * calendar in the assistant's events table:
 *
 *   full sync      events.list singleEvents=true, timeMin = now - past,
 *                  timeMax = now + horizon, every page (nextPageToken);
 *                  each page goes to calendar_put stamped with the sync's
 *                  id, then calendar_prune removes what the sync did not
 *                  see; the last page's nextSyncToken is kept in kv.
 *   incremental    the same list with syncToken (changes only; deleted
 *                  events come back as status "cancelled").
 *   410 Gone       the sync token expired: forget it, full sync again.
 *   401            ask oauth_token once more, then back off.
 *   403/429/5xx    exponential backoff (2^n s + jitter, capped at 64 s,
 *                  or the server's Retry-After).
 *
 * Syncs run on a timer (sync_interval) and whenever Google pushes a
 * change (events.watch with push_address; channels renewed before they
 * expire, stopped when the instance stops). State per connection (the
 * sync token, the full sync's id and the push channel) lives in kv under
 * "conn/<id>", so a restart continues incrementally.
 *
 * Events are stored under the plugin's calendar key "<connection id>:
 * <calendar>" (the host prefixes the instance name), so one person may
 * link several accounts. The key also tells rsvp() which connection and
 * calendar an event belongs to.
 *
 * Push notifications arrive at POST /api/webhooks/<instance>/push (a
 * public route: the channel token is the check). push_address is the
 * public HTTPS URL of that route as Google reaches it.
 */
#include "gcal_map.h"

#include <assist/plugin.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define KV_PREFIX "conn/"
#define PUSH_PURPOSE "gcal-push"

typedef struct gcal gcal_t;

typedef struct conn {
  struct conn *next;
  gcal_t *g;
  int64_t id, user_id;
  char *email;
  char key[96]; /* "<id>:<calendar>" */
  int active;   /* listed as active by the last oauth_connections */
  char *access; /* the current access token (zeroed on free) */
  /* durable state (kv) */
  int loaded;
  char *sync_token;
  int64_t sync_id; /* the id of the last full sync */
  char *ch_id, *ch_res, *ch_token;
  int64_t ch_exp;
  int64_t ch_life; /* the lifetime granted to ch_id (ms); 0: not known */
  /* the sync in progress */
  int running, again, auth_retry, full, resynced;
  int64_t cur_sync_id;
  char *page_token;
  uint64_t http_id;
  int http_busy;
  int fails;
  assist_timer_t *retry;
  int64_t watch_after; /* no watch attempt before this (ms) */
  int watching;        /* a watch request is in flight */
} conn_t;

struct gcal {
  const assist_host_api_t *host;
  assist_instance_t *inst;
  conn_t *conns;
  assist_timer_t *tick;
  int listing, stopping;
  size_t pending; /* host calls whose callbacks are still due */
  assist_done_cb stop_done;
  void *stop_arg;
  char route[200];
};

/* ---------------- small helpers ---------------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void zfree(char *s) {
  if (!s) return;
  volatile char *p = s;
  while (*p) *p++ = 0;
  free(s);
}

static char *sdup(const char *s) {
  return s ? strdup(s) : NULL;
}

static const char *opt(gcal_t *g, const char *name) {
  return g->host->opt_string(g->inst, name);
}

static void op_begin(gcal_t *g) {
  g->pending++;
}

static void op_end(gcal_t *g) {
  g->pending--;
  if (g->stopping && g->pending == 0 && g->stop_done) {
    assist_done_cb done = g->stop_done;
    g->stop_done = NULL;
    done(g->stop_arg);
  }
}

/* Appends s percent-encoded (RFC 3986 unreserved kept). */
static void pct(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(out);
  for (; *s && n + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = '\0';
}

static int ct_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char d = la != lb;
  for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

static conn_t *conn_find(gcal_t *g, int64_t id) {
  for (conn_t *c = g->conns; c; c = c->next)
    if (c->id == id) return c;
  return NULL;
}

/* The base URL without a trailing slash, plus "/calendars/<cal>/events". */
static void events_url(gcal_t *g, char *url, size_t cap) {
  const char *base = opt(g, "api_base");
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  snprintf(url, cap, "%.*s/calendars/", (int)bl, base);
  pct(url, cap, opt(g, "calendar"));
  strncat(url, "/events", cap - strlen(url) - 1);
}

static int http(gcal_t *g, conn_t *c, const char *method, const char *url,
                const char *body, uint32_t flags,
                void (*cb)(void *ud, const assist_http_response_t *resp),
                void *ud, uint64_t *id) {
  char auth[4200];
  if (!c->access || strlen(c->access) > 4000) return ASSIST_EINVAL;
  snprintf(auth, sizeof auth, "Bearer %s", c->access);
  assist_header_t hdr[3] = {{"Authorization", auth},
                            {"Accept", "application/json"},
                            {"Content-Type", "application/json"}};
  assist_http_request_t req = {
      .struct_size = sizeof req,
      .method = method,
      .url = url,
      .headers = hdr,
      .nheaders = body ? 3 : 2,
      .body = body,
      .body_len = body ? strlen(body) : 0,
      .flags = flags,
  };
  op_begin(g);
  int rc = g->host->http_request(g->inst, &req, cb, ud, id);
  volatile char *p = auth;
  for (size_t i = 0; i < sizeof auth; i++) p[i] = 0;
  if (rc != ASSIST_OK) op_end(g);
  return rc;
}

/* ---------------- durable state per connection (kv) ---------------- */

static void state_saved(void *ud, int status) {
  conn_t *c = ud;
  if (status != ASSIST_OK)
    c->g->host->log(c->g->inst, ASSIST_LOG_WARN,
                    "connection %lld: saving the sync state failed: %s",
                    (long long)c->id, c->g->host->strerror(status));
  op_end(c->g);
}

static void state_save(conn_t *c) {
  gcal_t *g = c->g;
  json_object *o = json_object_new_object();
  if (!o) return;
  if (c->sync_token)
    json_object_object_add(o, "sync_token",
                           json_object_new_string(c->sync_token));
  json_object_object_add(o, "sync_id", json_object_new_int64(c->sync_id));
  if (c->ch_id) {
    json_object_object_add(o, "channel_id", json_object_new_string(c->ch_id));
    json_object_object_add(o, "resource_id",
                           json_object_new_string(c->ch_res ? c->ch_res : ""));
    json_object_object_add(
        o, "channel_token",
        json_object_new_string(c->ch_token ? c->ch_token : ""));
    json_object_object_add(o, "expiration", json_object_new_int64(c->ch_exp));
  }
  const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
  char key[64];
  snprintf(key, sizeof key, KV_PREFIX "%lld", (long long)c->id);
  op_begin(g);
  if (g->host->kv_put(g->inst, key, text, strlen(text), state_saved, c) !=
      ASSIST_OK)
    op_end(g);
  json_object_put(o);
}

static void state_parse(conn_t *c, const char *text, size_t len) {
  json_object *o = json_tokener_parse(text);
  (void)len;
  if (!o || !json_object_is_type(o, json_type_object)) {
    if (o) json_object_put(o);
    return;
  }
  json_object *v;
  if (json_object_object_get_ex(o, "sync_token", &v))
    c->sync_token = sdup(json_object_get_string(v));
  if (json_object_object_get_ex(o, "sync_id", &v))
    c->sync_id = json_object_get_int64(v);
  if (json_object_object_get_ex(o, "channel_id", &v)) {
    c->ch_id = sdup(json_object_get_string(v));
    if (json_object_object_get_ex(o, "resource_id", &v))
      c->ch_res = sdup(json_object_get_string(v));
    if (json_object_object_get_ex(o, "channel_token", &v))
      c->ch_token = sdup(json_object_get_string(v));
    if (json_object_object_get_ex(o, "expiration", &v))
      c->ch_exp = json_object_get_int64(v);
  }
  json_object_put(o);
}

/* ---------------- the sync ---------------- */

static void sync_begin(conn_t *c);
static void fetch_token(conn_t *c, void (*next)(conn_t *c));
static void list_page(conn_t *c);
static void watch_ensure(conn_t *c);

static void retry_fire(void *ud) {
  conn_t *c = ud;
  c->retry = NULL;
  sync_begin(c);
}

static void sync_end(conn_t *c) {
  c->running = 0;
  free(c->page_token);
  c->page_token = NULL;
  if (c->again && !c->g->stopping) {
    c->again = 0;
    sync_begin(c);
  }
}

/* Transient failure: try again after retry_after_s, else 2^n s + jitter
 * (at most 64 s). */
static void backoff(conn_t *c, int retry_after_s, const char *why) {
  gcal_t *g = c->g;
  c->fails++;
  uint64_t ms;
  if (retry_after_s > 0) {
    ms = (uint64_t)retry_after_s * 1000;
  } else {
    int n = c->fails > 6 ? 6 : c->fails;
    unsigned int r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r) r = 0;
    ms = (1000ull << n) + r % 1000;
  }
  g->host->log(g->inst, ASSIST_LOG_WARN,
               "connection %lld: sync failed (%s); retrying in %llu ms",
               (long long)c->id, why, (unsigned long long)ms);
  c->running = 0;
  c->again = 0;
  free(c->page_token);
  c->page_token = NULL;
  if (!g->stopping && !c->retry)
    c->retry = g->host->timer_start(g->inst, ms, 0, retry_fire, c);
}

typedef struct tok_op {
  conn_t *c;
  void (*next)(conn_t *c);
} tok_op_t;

static void token_got(void *ud, int status, const char *token,
                      int64_t expires_at_ms) {
  tok_op_t *op = ud;
  conn_t *c = op->c;
  gcal_t *g = c->g;
  void (*next)(conn_t * c) = op->next;
  free(op);
  (void)expires_at_ms;
  if (status == ASSIST_OK) {
    zfree(c->access);
    c->access = sdup(token);
  }
  if (g->stopping) {
    c->running = 0;
  } else if (status == ASSIST_OK && c->access) {
    watch_ensure(c); /* opens or renews the push channel when due */
    next(c);
  } else if (status == ASSIST_EREAUTH || status == ASSIST_ENOENT) {
    g->host->log(g->inst, ASSIST_LOG_WARN,
                 "connection %lld: %s; not syncing until it is connected "
                 "again",
                 (long long)c->id,
                 status == ASSIST_EREAUTH ? "needs the person to reconnect"
                                          : "is gone");
    c->active = 0;
    c->running = 0;
  } else {
    backoff(c, 0, g->host->strerror(status));
  }
  op_end(g);
}

static void fetch_token(conn_t *c, void (*next)(conn_t *c)) {
  gcal_t *g = c->g;
  tok_op_t *op = calloc(1, sizeof *op);
  if (!op) {
    backoff(c, 0, "out of memory");
    return;
  }
  op->c = c;
  op->next = next;
  op_begin(g);
  int rc = g->host->oauth_token(g->inst, c->id, token_got, op);
  if (rc != ASSIST_OK) {
    free(op);
    op_end(g);
    backoff(c, 0, g->host->strerror(rc));
  }
}

static void state_loaded(void *ud, int status, const void *value, size_t len) {
  conn_t *c = ud;
  gcal_t *g = c->g;
  if (status == ASSIST_OK) {
    char *text = malloc(len + 1);
    if (text) {
      memcpy(text, value, len);
      text[len] = '\0';
      state_parse(c, text, len);
      free(text);
    }
  }
  if (status == ASSIST_OK || status == ASSIST_ENOENT) {
    c->loaded = 1;
    if (!g->stopping) {
      fetch_token(c, list_page);
    } else {
      c->running = 0;
    }
  } else {
    backoff(c, 0, "reading the sync state failed");
  }
  op_end(g);
}

static void sync_begin(conn_t *c) {
  gcal_t *g = c->g;
  if (g->stopping || !c->active) return;
  if (c->running) {
    c->again = 1;
    return;
  }
  if (c->retry) return; /* backing off: the timer starts it */
  c->running = 1;
  c->auth_retry = 0;
  c->resynced = 0;
  if (!c->loaded) {
    char key[64];
    snprintf(key, sizeof key, KV_PREFIX "%lld", (long long)c->id);
    op_begin(g);
    int rc = g->host->kv_get(g->inst, key, state_loaded, c);
    if (rc != ASSIST_OK) {
      op_end(g);
      backoff(c, 0, g->host->strerror(rc));
    }
    return;
  }
  fetch_token(c, list_page);
}

/* A parsed page on its way to calendar_put. */
typedef struct page_op {
  conn_t *c;
  char *body;
  size_t len;
  int status;
  gcal_page_t page;
  char err[160];
} page_op_t;

static void page_free(page_op_t *op) {
  gcal_page_free(&op->page);
  free(op->body);
  free(op);
}

static void finish_full(conn_t *c, const char *sync_token);

static void pruned(void *ud, int status, int64_t removed) {
  page_op_t *op = ud;
  conn_t *c = op->c;
  gcal_t *g = c->g;
  if (status != ASSIST_OK) {
    backoff(c, 0, "calendar_prune failed");
  } else {
    g->host->log(g->inst, ASSIST_LOG_INFO,
                 "connection %lld: full sync done, %lld removed",
                 (long long)c->id, (long long)removed);
    finish_full(c, op->page.next_sync_token);
  }
  page_free(op);
  op_end(g);
}

static void finish_full(conn_t *c, const char *sync_token) {
  if (sync_token) {
    free(c->sync_token);
    c->sync_token = sdup(sync_token);
  }
  c->sync_id = c->cur_sync_id;
  c->fails = 0;
  state_save(c);
  sync_end(c);
}

static void put_done(void *ud, int status) {
  page_op_t *op = ud;
  conn_t *c = op->c;
  gcal_t *g = c->g;
  if (status != ASSIST_OK) {
    backoff(c, 0, "calendar_put failed");
  } else if (g->stopping) {
    sync_end(c);
  } else if (op->page.next_page_token) {
    free(c->page_token);
    c->page_token = sdup(op->page.next_page_token);
    list_page(c);
  } else if (c->full) {
    op_begin(g);
    int rc = g->host->calendar_prune(g->inst, c->user_id, NULL, c->key,
                                     c->cur_sync_id, pruned, op);
    if (rc == ASSIST_OK) {
      op_end(g); /* put_done's own op; pruned ends the new one */
      return;
    }
    op_end(g);
    backoff(c, 0, g->host->strerror(rc));
  } else {
    if (op->page.next_sync_token) {
      free(c->sync_token);
      c->sync_token = sdup(op->page.next_sync_token);
      state_save(c);
    }
    c->fails = 0;
    sync_end(c);
  }
  page_free(op);
  op_end(g);
}

static void parse_work(void *ud) {
  page_op_t *op = ud;
  op->status = gcal_page_parse(op->body, op->len, "UTC", &op->page, op->err,
                               sizeof op->err);
}

static void parse_done(void *ud, int status) {
  page_op_t *op = ud;
  conn_t *c = op->c;
  gcal_t *g = c->g;
  if (status != ASSIST_OK || g->stopping) {
    c->running = 0;
  } else if (op->status != ASSIST_OK) {
    g->host->log(g->inst, ASSIST_LOG_ERROR,
                 "connection %lld: unusable events page: %s", (long long)c->id,
                 op->err);
    backoff(c, 0, "unusable events page");
  } else {
    free(op->body);
    op->body = NULL;
    for (size_t i = 0; i < op->page.n; i++) {
      op->page.ev[i].user_id = c->user_id;
      op->page.ev[i].source = c->key;
    }
    if (op->page.skipped)
      g->host->log(g->inst, ASSIST_LOG_WARN,
                   "connection %lld: %zu events without usable times skipped",
                   (long long)c->id, op->page.skipped);
    if (op->page.n == 0) {
      op_begin(g);
      put_done(op, ASSIST_OK);
      op_end(g);
      return;
    }
    op_begin(g);
    int rc = g->host->calendar_put(g->inst, op->page.ev, op->page.n,
                                   c->cur_sync_id, put_done, op);
    if (rc == ASSIST_OK) {
      op_end(g);
      return;
    }
    op_end(g);
    backoff(c, 0, g->host->strerror(rc));
  }
  page_free(op);
  op_end(g);
}

static void page_got(void *ud, const assist_http_response_t *resp) {
  conn_t *c = ud;
  gcal_t *g = c->g;
  c->http_busy = 0;
  if (resp->result == ASSIST_ECANCELED || g->stopping) {
    c->running = 0;
  } else if (resp->result != ASSIST_OK) {
    backoff(c, 0, resp->error && *resp->error ? resp->error : "no answer");
  } else if (resp->status == 200) {
    page_op_t *op = calloc(1, sizeof *op);
    if (op) op->body = malloc(resp->body_len + 1);
    if (!op || !op->body) {
      free(op);
      backoff(c, 0, "out of memory");
    } else {
      memcpy(op->body, resp->body, resp->body_len);
      op->body[resp->body_len] = '\0';
      op->len = resp->body_len;
      op->c = c;
      op_begin(g);
      if (!g->host->queue_work(g->inst, parse_work, parse_done, op)) {
        op_end(g);
        page_free(op);
        backoff(c, 0, "queue_work failed");
      }
    }
  } else if (resp->status == 410 && !c->resynced) {
    /* The sync token is no longer valid: full sync (which prunes). */
    g->host->log(g->inst, ASSIST_LOG_INFO,
                 "connection %lld: sync token expired (410); full resync",
                 (long long)c->id);
    c->resynced = 1;
    free(c->sync_token);
    c->sync_token = NULL;
    free(c->page_token);
    c->page_token = NULL;
    state_save(c);
    list_page(c);
  } else if (resp->status == 401 && !c->auth_retry) {
    c->auth_retry = 1;
    zfree(c->access);
    c->access = NULL;
    fetch_token(c, list_page);
  } else if (resp->status == 401 || resp->status == 403 ||
             resp->status == 429 || resp->status >= 500 ||
             resp->status == 410) {
    char why[32];
    snprintf(why, sizeof why, "HTTP %d", resp->status);
    backoff(c, resp->retry_after_s, why);
  } else {
    g->host->log(g->inst, ASSIST_LOG_ERROR,
                 "connection %lld: events.list answered HTTP %d; next try "
                 "at the next interval",
                 (long long)c->id, resp->status);
    sync_end(c);
  }
  op_end(g);
}

static void list_page(conn_t *c) {
  gcal_t *g = c->g;
  char url[4096];
  events_url(g, url, sizeof url);
  snprintf(url + strlen(url), sizeof url - strlen(url),
           "?singleEvents=true&maxResults=%lld",
           (long long)g->host->opt_int(g->inst, "page_size"));
  if (!c->page_token) { /* the first page of a sync */
    c->full = c->sync_token == NULL;
    int64_t now = now_ms();
    if (c->full) {
      c->cur_sync_id = now > c->sync_id ? now : c->sync_id + 1;
    } else {
      c->cur_sync_id = c->sync_id ? c->sync_id : now;
    }
  }
  if (c->full) {
    char t[40];
    int64_t now = now_ms();
    gcal_format_utc(now - g->host->opt_int(g->inst, "past"), t, sizeof t);
    strncat(url, "&timeMin=", sizeof url - strlen(url) - 1);
    pct(url, sizeof url, t);
    gcal_format_utc(now + g->host->opt_int(g->inst, "horizon"), t, sizeof t);
    strncat(url, "&timeMax=", sizeof url - strlen(url) - 1);
    pct(url, sizeof url, t);
  } else {
    strncat(url, "&syncToken=", sizeof url - strlen(url) - 1);
    pct(url, sizeof url, c->sync_token);
  }
  if (c->page_token) {
    strncat(url, "&pageToken=", sizeof url - strlen(url) - 1);
    pct(url, sizeof url, c->page_token);
  }
  if (strlen(url) + 8 >= sizeof url) {
    backoff(c, 0, "request URL too long");
    return;
  }
  c->http_busy = 1;
  int rc = http(g, c, "GET", url, NULL, ASSIST_HTTP_IDEMPOTENT, page_got, c,
                &c->http_id);
  if (rc != ASSIST_OK) {
    c->http_busy = 0;
    backoff(c, 0, g->host->strerror(rc));
  }
}

/* ---------------- push: events.watch / channels.stop ---------------- */

typedef struct ch_op {
  conn_t *c;
  char *id, *token;       /* the channel being created */
  char *old_id, *old_res; /* replaced on success */
} ch_op_t;

static void ch_op_free(ch_op_t *op) {
  free(op->id);
  if (op->token) op->c->g->host->secret_free(op->token);
  free(op->old_id);
  free(op->old_res);
  free(op);
}

static void stopped_channel(void *ud, const assist_http_response_t *resp) {
  conn_t *c = ud;
  if (resp->result != ASSIST_OK || resp->status / 100 != 2)
    c->g->host->log(c->g->inst, ASSIST_LOG_WARN,
                    "connection %lld: channels.stop answered %d (%s)",
                    (long long)c->id, resp->status,
                    resp->result == ASSIST_OK ? "HTTP" : resp->error);
  op_end(c->g);
}

static void channel_stop(conn_t *c, const char *id, const char *res) {
  gcal_t *g = c->g;
  if (!id || !c->access) return;
  const char *base = opt(g, "api_base");
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  char url[2048];
  snprintf(url, sizeof url, "%.*s/channels/stop", (int)bl, base);
  json_object *o = json_object_new_object();
  if (!o) return;
  json_object_object_add(o, "id", json_object_new_string(id));
  json_object_object_add(o, "resourceId",
                         json_object_new_string(res ? res : ""));
  http(g, c, "POST", url,
       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
       ASSIST_HTTP_IDEMPOTENT, stopped_channel, c, NULL);
  json_object_put(o);
}

static void watched(void *ud, const assist_http_response_t *resp) {
  ch_op_t *op = ud;
  conn_t *c = op->c;
  gcal_t *g = c->g;
  c->watching = 0;
  json_object *o = NULL;
  if (resp->result == ASSIST_OK && resp->status == 200)
    o = json_tokener_parse(resp->body);
  json_object *res = NULL, *exp = NULL;
  if (o && json_object_is_type(o, json_type_object) &&
      json_object_object_get_ex(o, "resourceId", &res)) {
    json_object_object_get_ex(o, "expiration", &exp);
    free(c->ch_id);
    free(c->ch_res);
    free(c->ch_token);
    c->ch_id = op->id;
    op->id = NULL;
    c->ch_res = sdup(json_object_get_string(res));
    c->ch_token = sdup(op->token);
    /* expiration: ms since the epoch, as a string or a number */
    int64_t e = exp ? json_object_get_int64(exp) : 0;
    if (exp && json_object_is_type(exp, json_type_string))
      e = strtoll(json_object_get_string(exp), NULL, 10);
    int64_t now = now_ms();
    c->ch_exp = e > 0 ? e : now + 7 * 86400000ll;
    c->ch_life = c->ch_exp - now;
    g->host->log(g->inst, ASSIST_LOG_INFO,
                 "connection %lld: push channel %s open until %lld",
                 (long long)c->id, c->ch_id, (long long)c->ch_exp);
    state_save(c);
    if (op->old_id) channel_stop(c, op->old_id, op->old_res);
  } else {
    g->host->log(g->inst, ASSIST_LOG_WARN,
                 "connection %lld: events.watch failed (%s %d); periodic "
                 "sync only, next try in an hour",
                 (long long)c->id,
                 resp->result == ASSIST_OK ? "HTTP" : resp->error,
                 resp->status);
    c->watch_after = now_ms() + 3600 * 1000;
  }
  if (o) json_object_put(o);
  ch_op_free(op);
  op_end(g);
}

/* A channel is replaced when it has less than this left: two sync
 * intervals, at least ten minutes, but at most half the lifetime it was
 * granted (channel_ttl when not known, after a restart), else a short
 * lifetime would have every sync replace the channel. */
static int64_t renew_margin_ms(gcal_t *g, const conn_t *c) {
  int64_t m = 2 * g->host->opt_int(g->inst, "sync_interval");
  if (m < 600 * 1000) m = 600 * 1000;
  int64_t life =
      c->ch_life > 0 ? c->ch_life : g->host->opt_int(g->inst, "channel_ttl");
  return m < life / 2 ? m : life / 2;
}

/* Opens a channel when push is configured and there is none, or the one
 * there is expires within the renewal margin (the old one is stopped once
 * the new one exists). Needs c->access. */
static void watch_ensure(conn_t *c) {
  gcal_t *g = c->g;
  const char *addr = opt(g, "push_address");
  if (!addr || !*addr || g->stopping || c->watching || !c->access) return;
  int64_t now = now_ms();
  if (c->ch_id && c->ch_exp - now > renew_margin_ms(g, c)) return;
  if (now < c->watch_after) return;
  ch_op_t *op = calloc(1, sizeof *op);
  if (!op) return;
  op->c = c;
  unsigned char rnd[12];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    free(op);
    return;
  }
  char id[64];
  int n = snprintf(id, sizeof id, "assistd-%lld-", (long long)c->id);
  for (size_t i = 0; i < sizeof rnd && n + 3 < (int)sizeof id; i++)
    n += snprintf(id + n, sizeof id - (size_t)n, "%02x", rnd[i]);
  op->id = sdup(id);
  /* The channel token: signed by the host for this instance (payload: the
   * connection and channel), checked in constant time on every push. */
  char payload[128];
  snprintf(payload, sizeof payload, "%lld:%s", (long long)c->id, id);
  int64_t ttl_s = g->host->opt_int(g->inst, "channel_ttl") / 1000;
  if (g->host->token_sign(g->inst, PUSH_PURPOSE, payload, ttl_s + 86400,
                          &op->token) != ASSIST_OK ||
      strlen(op->token) > 256) {
    g->host->log(g->inst, ASSIST_LOG_ERROR, "cannot make a channel token");
    ch_op_free(op);
    return;
  }
  if (c->ch_id) {
    op->old_id = sdup(c->ch_id);
    op->old_res = sdup(c->ch_res);
  }
  json_object *o = json_object_new_object(), *params = json_object_new_object();
  char ttl[32];
  snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_s);
  json_object_object_add(o, "id", json_object_new_string(id));
  json_object_object_add(o, "type", json_object_new_string("web_hook"));
  json_object_object_add(o, "address", json_object_new_string(addr));
  json_object_object_add(o, "token", json_object_new_string(op->token));
  json_object_object_add(params, "ttl", json_object_new_string(ttl));
  json_object_object_add(o, "params", params);
  char url[2048];
  events_url(g, url, sizeof url);
  strncat(url, "/watch", sizeof url - strlen(url) - 1);
  c->watching = 1;
  int rc = http(g, c, "POST", url,
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                ASSIST_HTTP_IDEMPOTENT, watched, op, NULL);
  json_object_put(o);
  if (rc != ASSIST_OK) {
    c->watching = 0;
    ch_op_free(op);
  }
}

static int reply(gcal_t *g, assist_request_t *req, int status,
                 const char *json) {
  return g->host->respond(req, status, "application/json", json, strlen(json));
}

/* POST /api/webhooks/<instance>/push: Google's notification. */
static int on_push(assist_request_t *req, void *ud) {
  gcal_t *g = ud;
  const char *id = g->host->req_header(req, "X-Goog-Channel-ID");
  const char *token = g->host->req_header(req, "X-Goog-Channel-Token");
  const char *state = g->host->req_header(req, "X-Goog-Resource-State");
  const char *res = g->host->req_header(req, "X-Goog-Resource-ID");
  if (!id || !state) return reply(g, req, 400, "{\"error\":\"not a push\"}");
  conn_t *c = NULL;
  for (conn_t *k = g->conns; k; k = k->next)
    if (k->ch_id && !strcmp(k->ch_id, id)) c = k;
  if (!c) return reply(g, req, 404, "{\"error\":\"unknown channel\"}");
  if (!token || !c->ch_token || !ct_equal(token, c->ch_token) ||
      (res && c->ch_res && *c->ch_res && strcmp(res, c->ch_res))) {
    g->host->log(g->inst, ASSIST_LOG_WARN,
                 "push for channel of connection %lld refused: bad token",
                 (long long)c->id);
    return reply(g, req, 403, "{\"error\":\"bad channel token\"}");
  }
  if (!strcmp(state, "exists")) {
    sync_begin(c);
    return reply(g, req, 200, "{\"sync\":\"started\"}");
  }
  if (!strcmp(state, "not_exists"))
    g->host->log(g->inst, ASSIST_LOG_WARN,
                 "connection %lld: the watched calendar is gone",
                 (long long)c->id);
  return reply(g, req, 200, "{\"ok\":true}");
}

/* ---------------- connections (periodic) ---------------- */

static void listed(void *ud, int status, size_t n,
                   const struct assist_oauth_conn *conns) {
  gcal_t *g = ud;
  g->listing = 0;
  if (status != ASSIST_OK) {
    g->host->log(g->inst, ASSIST_LOG_WARN,
                 "listing the %s connections failed: %s", opt(g, "provider"),
                 g->host->strerror(status));
    op_end(g);
    return;
  }
  for (conn_t *c = g->conns; c; c = c->next) c->active = 0;
  for (size_t i = 0; i < n && !g->stopping; i++) {
    conn_t *c = conn_find(g, conns[i].connection_id);
    if (!c) {
      c = calloc(1, sizeof *c);
      if (!c) break;
      c->g = g;
      c->id = conns[i].connection_id;
      snprintf(c->key, sizeof c->key, "%lld:%s", (long long)c->id,
               opt(g, "calendar"));
      c->next = g->conns;
      g->conns = c;
    }
    c->user_id = conns[i].user_id;
    free(c->email);
    c->email = sdup(conns[i].email);
    c->active = conns[i].state && !strcmp(conns[i].state, "active");
    if (c->active) sync_begin(c);
  }
  op_end(g);
}

static void refresh(gcal_t *g) {
  if (g->listing || g->stopping) return;
  g->listing = 1;
  op_begin(g);
  int rc = g->host->oauth_connections(g->inst, opt(g, "provider"), listed, g);
  if (rc != ASSIST_OK) {
    g->listing = 0;
    op_end(g);
    g->host->log(g->inst, ASSIST_LOG_WARN, "oauth_connections(%s): %s",
                 opt(g, "provider"), g->host->strerror(rc));
  }
}

static void on_tick(void *ud) {
  refresh(ud);
}

/* ---------------- RSVP ---------------- */

typedef struct rsvp_op {
  gcal_t *g;
  conn_t *c;
  char *event_id, *email, *response;
  char *etag;
  int auth_retry, conflict_retry;
  void (*done)(void *arg, int status);
  void *arg;
} rsvp_op_t;

static void rsvp_get(conn_t *c, rsvp_op_t *op);

static void rsvp_finish(rsvp_op_t *op, int status) {
  gcal_t *g = op->g;
  g->host->log(g->inst, status == ASSIST_OK ? ASSIST_LOG_INFO : ASSIST_LOG_WARN,
               "connection %lld: RSVP %s: %s", (long long)op->c->id,
               op->response,
               status == ASSIST_OK ? "written" : g->host->strerror(status));
  op->done(op->arg, status);
  free(op->event_id);
  free(op->email);
  free(op->response);
  free(op->etag);
  free(op);
  op_end(g);
}

/* Google's answer to an ASSIST_* code. */
static int rsvp_status(const assist_http_response_t *resp) {
  if (resp->result != ASSIST_OK)
    return resp->result == ASSIST_ETIMEDOUT   ? ASSIST_ETIMEDOUT
           : resp->result == ASSIST_ECANCELED ? ASSIST_ECANCELED
                                              : ASSIST_EIO;
  int s = resp->status;
  if (s / 100 == 2) return ASSIST_OK;
  if (s == 404 || s == 410) return ASSIST_ENOENT;
  if (s == 429) return ASSIST_EBUSY;
  if (s == 403)
    return strstr(resp->body, "ateLimitExceeded") ? ASSIST_EBUSY
                                                  : ASSIST_EACCES;
  if (s == 401) return ASSIST_EACCES;
  if (s == 412) return ASSIST_EBUSY;
  if (s >= 500) return ASSIST_EIO;
  return ASSIST_EINVAL;
}

static void rsvp_token(conn_t *c, rsvp_op_t *op);

static void rsvp_patched(void *ud, const assist_http_response_t *resp) {
  rsvp_op_t *op = ud;
  gcal_t *g = op->g;
  op_end(g); /* the http call */
  if (resp->result == ASSIST_OK && resp->status == 401 && !op->auth_retry) {
    op->auth_retry = 1;
    rsvp_token(op->c, op);
  } else if (resp->result == ASSIST_OK && resp->status == 412 &&
             !op->conflict_retry) {
    op->conflict_retry = 1; /* changed meanwhile: read it again */
    rsvp_get(op->c, op);
  } else {
    rsvp_finish(op, rsvp_status(resp));
  }
}

static void rsvp_fetched(void *ud, const assist_http_response_t *resp) {
  rsvp_op_t *op = ud;
  gcal_t *g = op->g;
  conn_t *c = op->c;
  op_end(g); /* the http call */
  if (resp->result == ASSIST_OK && resp->status == 401 && !op->auth_retry) {
    op->auth_retry = 1;
    rsvp_token(c, op);
    return;
  }
  int st = rsvp_status(resp);
  if (st != ASSIST_OK) {
    rsvp_finish(op, st);
    return;
  }
  const char *emails[2] = {op->email, c->email};
  char *patch = NULL;
  free(op->etag);
  op->etag = NULL;
  st = gcal_rsvp_patch(resp->body, emails, 2, op->response, &patch, &op->etag);
  if (st != ASSIST_OK) {
    rsvp_finish(op, st);
    return;
  }
  char url[4096];
  events_url(g, url, sizeof url);
  strncat(url, "/", sizeof url - strlen(url) - 1);
  pct(url, sizeof url, op->event_id);
  strncat(url, "?sendUpdates=all", sizeof url - strlen(url) - 1);
  char auth[4200];
  snprintf(auth, sizeof auth, "Bearer %s", c->access ? c->access : "");
  assist_header_t hdr[4] = {{"Authorization", auth},
                            {"Accept", "application/json"},
                            {"Content-Type", "application/json"},
                            {"If-Match", op->etag ? op->etag : "*"}};
  assist_http_request_t req = {
      .struct_size = sizeof req,
      .method = "PATCH",
      .url = url,
      .headers = hdr,
      .nheaders = op->etag ? 4 : 3,
      .body = patch,
      .body_len = strlen(patch),
      .flags = ASSIST_HTTP_IDEMPOTENT, /* setting a status: safe to repeat */
  };
  op_begin(g);
  int rc = g->host->http_request(g->inst, &req, rsvp_patched, op, NULL);
  volatile char *p = auth;
  for (size_t i = 0; i < sizeof auth; i++) p[i] = 0;
  free(patch);
  if (rc != ASSIST_OK) {
    op_end(g);
    rsvp_finish(op, rc);
  }
}

static void rsvp_get(conn_t *c, rsvp_op_t *op) {
  gcal_t *g = op->g;
  char url[4096];
  events_url(g, url, sizeof url);
  strncat(url, "/", sizeof url - strlen(url) - 1);
  pct(url, sizeof url, op->event_id);
  int rc = http(g, c, "GET", url, NULL, ASSIST_HTTP_IDEMPOTENT, rsvp_fetched,
                op, NULL);
  if (rc != ASSIST_OK) rsvp_finish(op, rc);
}

static void rsvp_token_got(void *ud, int status, const char *token,
                           int64_t expires_at_ms) {
  rsvp_op_t *op = ud;
  gcal_t *g = op->g;
  conn_t *c = op->c;
  (void)expires_at_ms;
  op_end(g); /* the token call */
  if (status != ASSIST_OK) {
    rsvp_finish(op, status == ASSIST_ENOENT || status == ASSIST_EREAUTH ||
                            status == ASSIST_ECANCELED
                        ? status
                        : ASSIST_EIO);
    return;
  }
  zfree(c->access);
  c->access = sdup(token);
  rsvp_get(c, op);
}

static void rsvp_token(conn_t *c, rsvp_op_t *op) {
  gcal_t *g = op->g;
  op_begin(g);
  int rc = g->host->oauth_token(g->inst, c->id, rsvp_token_got, op);
  if (rc != ASSIST_OK) {
    op_end(g);
    rsvp_finish(op, rc);
  }
}

static int gcal_rsvp(void *ud, const assist_rsvp_t *r,
                     void (*done)(void *arg, int status), void *arg) {
  gcal_t *g = ud;
  if (!r || !done || !r->source || !r->external_id || !r->response ||
      (strcmp(r->response, "accepted") && strcmp(r->response, "declined") &&
       strcmp(r->response, "tentative")))
    return ASSIST_EINVAL;
  if (g->stopping) return ASSIST_ECANCELED;
  /* The key is "<connection id>:<calendar>"; a host-prefixed source
   * ("<instance>:<id>:<calendar>") is accepted too. */
  const char *key = r->source;
  const char *name = g->host->instance_name(g->inst);
  size_t nl = strlen(name);
  if (!strncmp(key, name, nl) && key[nl] == ':') key += nl + 1;
  char *end = NULL;
  long long id = strtoll(key, &end, 10);
  if (!end || *end != ':' || id <= 0 || strcmp(end + 1, opt(g, "calendar")))
    return ASSIST_ENOENT;
  conn_t *c = conn_find(g, id);
  if (!c || (r->user_id && c->user_id != r->user_id)) return ASSIST_ENOENT;
  rsvp_op_t *op = calloc(1, sizeof *op);
  if (!op) return ASSIST_ENOMEM;
  op->g = g;
  op->c = c;
  op->event_id = sdup(r->external_id);
  op->email = sdup(r->attendee_email ? r->attendee_email : "");
  op->response = sdup(r->response);
  op->done = done;
  op->arg = arg;
  if (!op->event_id || !op->email || !op->response) {
    free(op->event_id);
    free(op->email);
    free(op->response);
    free(op);
    return ASSIST_ENOMEM;
  }
  op_begin(g); /* the RSVP as a whole; rsvp_finish ends it */
  rsvp_token(c, op);
  return ASSIST_OK;
}

/* ---------------- lifecycle ---------------- */

static int gcal_init(const assist_host_api_t *host, assist_instance_t *inst,
                     void **state) {
  if (!ASSIST_HOST_HAS(host, oauth_connections) ||
      !ASSIST_HOST_HAS(host, http_request) ||
      !ASSIST_HOST_HAS(host, calendar_put) ||
      !ASSIST_HOST_HAS(host, provider_register)) {
    host->log(inst, ASSIST_LOG_ERROR, "this host lacks SDK ABI 1.2");
    return ASSIST_ENOTSUP;
  }
  const char *base = host->opt_string(inst, "api_base");
  if (strncmp(base, "https://", 8) && strncmp(base, "http://", 7)) {
    host->log(inst, ASSIST_LOG_ERROR, "api_base must be an http(s) URL");
    return ASSIST_EINVAL;
  }
  const char *push = host->opt_string(inst, "push_address");
  if (push && *push && strncmp(push, "https://", 8) &&
      strncmp(push, "http://", 7)) {
    host->log(inst, ASSIST_LOG_ERROR,
              "push_address must be the public https URL of the push route");
    return ASSIST_EINVAL;
  }
  if (strlen(host->opt_string(inst, "calendar")) > 60) {
    host->log(inst, ASSIST_LOG_ERROR, "calendar id too long");
    return ASSIST_EINVAL;
  }
  gcal_t *g = calloc(1, sizeof *g);
  if (!g) return ASSIST_ENOMEM;
  g->host = host;
  g->inst = inst;
  snprintf(g->route, sizeof g->route, "/api/webhooks/%s/push",
           host->instance_name(inst));
  assist_route_t route = {.struct_size = sizeof route,
                          .method = "POST",
                          .pattern = g->route,
                          .max_body = 4096,
                          .handler = on_push,
                          .ud = g};
  int rc = host->route_add(inst, &route);
  if (rc == ASSIST_OK) {
    assist_provider_t p = {.struct_size = sizeof p,
                           .kind = ASSIST_PROVIDER_CALENDAR,
                           .rsvp = gcal_rsvp,
                           .ud = g};
    rc = host->provider_register(inst, &p);
  }
  if (rc != ASSIST_OK) {
    host->log(inst, ASSIST_LOG_ERROR, "init: %s", host->strerror(rc));
    free(g);
    return rc;
  }
  *state = g;
  return ASSIST_OK;
}

static int gcal_start(void *state) {
  gcal_t *g = state;
  int64_t every = g->host->opt_int(g->inst, "sync_interval");
  g->tick = g->host->timer_start(g->inst, 0, (uint64_t)every, on_tick, g);
  return g->tick ? ASSIST_OK : ASSIST_ENOMEM;
}

static void gcal_stop(void *state, assist_done_cb done, void *arg) {
  gcal_t *g = state;
  g->stopping = 1;
  if (g->tick) g->host->timer_stop(g->tick);
  g->tick = NULL;
  for (conn_t *c = g->conns; c; c = c->next) {
    if (c->retry) g->host->timer_stop(c->retry);
    c->retry = NULL;
    if (c->http_busy) g->host->http_cancel(g->inst, c->http_id);
    if (c->ch_id && c->access) {
      channel_stop(c, c->ch_id, c->ch_res);
      free(c->ch_id);
      free(c->ch_res);
      free(c->ch_token);
      c->ch_id = c->ch_res = c->ch_token = NULL;
      c->ch_exp = c->ch_life = 0;
      state_save(c);
    }
  }
  if (g->pending == 0) {
    done(arg);
    return;
  }
  g->stop_done = done;
  g->stop_arg = arg;
}

static void gcal_destroy(void *state) {
  gcal_t *g = state;
  while (g->conns) {
    conn_t *c = g->conns;
    g->conns = c->next;
    zfree(c->access);
    free(c->email);
    free(c->sync_token);
    free(c->page_token);
    free(c->ch_id);
    free(c->ch_res);
    zfree(c->ch_token);
    free(c);
  }
  free(g);
}

static const assist_option_t gcal_options[] = {
    {.name = "api_base",
     .type = ASSIST_OPT_STRING,
     .default_value = "https://www.googleapis.com/calendar/v3",
     .description = "Calendar API v3 base URL (tests point it at an "
                    "emulator)"},
    {.name = "provider",
     .type = ASSIST_OPT_STRING,
     .default_value = "google",
     .description = "the oauth: provider whose connections are synced"},
    {.name = "calendar",
     .type = ASSIST_OPT_STRING,
     .default_value = "primary",
     .description = "the calendar id synced for every connection"},
    {.name = "sync_interval",
     .type = ASSIST_OPT_DURATION,
     .default_value = "5m",
     .min = 1000,
     .max = 86400000,
     .description = "periodic sync (the fallback when push is off or "
                    "misses a change)"},
    {.name = "push_address",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "public HTTPS URL of POST /api/webhooks/<instance>/push "
                    "for events.watch; empty: periodic sync only"},
    {.name = "channel_ttl",
     .type = ASSIST_OPT_DURATION,
     .default_value = "7d",
     .min = 3600000,
     .max = 2592000000.0,
     .description = "lifetime asked for push channels (renewed before they "
                    "expire)"},
    {.name = "horizon",
     .type = ASSIST_OPT_DURATION,
     .default_value = "90d",
     .min = 3600000,
     .max = 31622400000.0,
     .description = "a full sync reads events starting up to this far ahead"},
    {.name = "past",
     .type = ASSIST_OPT_DURATION,
     .default_value = "1d",
     .min = 0,
     .max = 31622400000.0,
     .description = "a full sync reads events ending up to this long ago"},
    {.name = "page_size",
     .type = ASSIST_OPT_INT,
     .default_value = "250",
     .min = 1,
     .max = 2500,
     .description = "maxResults per events.list page"},
    {.name = NULL},
};

ASSIST_PLUGIN_EXPORT const assist_plugin_t assist_plugin_v1 = {
    ASSIST_PLUGIN_HEADER,
    .name = "google-calendar",
    .version = "0.1.0",
    .description = "Google Calendar: every linked Google account's calendar "
                   "synced (full, incremental, push) and RSVPs written back",
    .flags = ASSIST_PLUGIN_MULTI_INSTANCE,
    .options = gcal_options,
    .init = gcal_init,
    .start = gcal_start,
    .stop = gcal_stop,
    .destroy = gcal_destroy,
};
