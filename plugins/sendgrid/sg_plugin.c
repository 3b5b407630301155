/*
 * sendgrid: an e-mail notifier over SendGrid's v3 API and the receiver of
 * its signed Event Webhook.
 *
 * - NOTIFIER "email": send() POSTs {api_base}/v3/mail/send through the
 *   host's HTTP client (never retried blindly: a mail send is not
 *   idempotent) and reports 202 + X-Message-Id as ASSIST_OK, 429 as
 *   ASSIST_EBUSY with the wait from X-RateLimit-Reset, 5xx / timeouts as
 *   ASSIST_EAMBIGUOUS, 400/401/403/413 as permanent failures.
 * - POST /api/webhooks/sendgrid/<instance> (public: SendGrid signs it; the
 *   route exists only when webhook_public_key is set): verifies the ECDSA
 *   signature over timestamp || raw body before looking at the body,
 *   refuses (401 missing, 403 invalid or stale) without storing anything,
 *   then hands each event to the assistant with delivery_event() and
 *   answers 200 once they are recorded (503 if the database failed, so
 *   SendGrid retries; duplicates are ignored by sg_event_id).
 *
 * The API key is never logged, never put in an error text.
 * Threading: the loop thread, except signature checks and batch parsing,
 * which run on the host's thread pool (queue_work).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assist/plugin.h"
#ifdef ASSIST_MAIL_TEST_ROUTE
#include "mail_test_route.h"
#endif
#include "sg_mail.h"
#include "sg_verify.h"

#define WEBHOOK_MAX_BODY (8u << 20)

typedef struct sg {
  const assist_host_api_t *host; /* host */
  assist_instance_t *inst;       /* host */
  char *send_url;                /* owned: {api_base}/v3/mail/send */
  char *auth;                    /* owned: "Bearer <key>"; never logged */
  char *from;                    /* owned; NULL: msg->from */
  char *route;                   /* owned: the webhook path, or NULL */
  sg_key_t *key;                 /* owned; NULL: no webhook */
  int64_t max_age_s;             /* 0: timestamps not checked */
  uint32_t timeout_ms;
  int inflight; /* sends waiting for their response */
  int stopping;
  assist_done_cb stop_done;
  void *stop_arg;
  assist_metric_t *m_sends, *m_events, *m_refused;
} sg_t;

static void sg_free(sg_t *s) {
  if (!s) return;
  if (s->auth) {
    /* the key was in here */
    volatile char *p = s->auth;
    while (*p) *p++ = 0;
    free(s->auth);
  }
  free(s->send_url);
  free(s->from);
  free(s->route);
  sg_key_free(s->key);
  free(s);
}

static void count(sg_t *s, assist_metric_t *m, const char *key,
                  const char *val) {
  if (!m) return;
  char labels[96];
  snprintf(labels, sizeof labels, "%s=\"%s\"", key, val);
  s->host->metric_add(m, labels, 1);
}

/* ------------------------------------------------------------------ */
/* send()                                                               */

typedef struct send_op {
  sg_t *s;
  assist_send_done_cb done;
  void *arg;
  int64_t delivery_id;
  const char *error; /* static text for a message refused before sending */
} send_op_t;

static void maybe_stopped(sg_t *s) {
  if (s->stopping && s->inflight == 0 && s->stop_done) {
    assist_done_cb d = s->stop_done;
    s->stop_done = NULL;
    d(s->stop_arg);
  }
}

static void finish(send_op_t *op, int status, const char *msgid, int retry,
                   const char *error) {
  sg_t *s = op->s;
  static const char *names[] = {"ok", "ambiguous", "rate_limited", "transient",
                                "rejected"};
  const char *what = status == ASSIST_OK           ? names[0]
                     : status == ASSIST_EAMBIGUOUS ? names[1]
                     : status == ASSIST_EBUSY      ? names[2]
                     : status == ASSIST_EIO        ? names[3]
                                                   : names[4];
  count(s, s->m_sends, "result", what);
  s->host->log(s->inst, status == ASSIST_OK ? ASSIST_LOG_INFO : ASSIST_LOG_WARN,
               "delivery %lld: %s%s%s", (long long)op->delivery_id, what,
               error && *error ? ": " : "", error ? error : "");
  assist_send_result_t res = {
      .struct_size = sizeof res,
      .status = status,
      .provider_message_id = msgid,
      .retry_after_s = retry,
      .error = error,
  };
  op->done(op->arg, &res);
  free(op);
  s->inflight--;
  maybe_stopped(s);
}

static void on_sent(void *ud, const assist_http_response_t *r) {
  send_op_t *op = ud;
  sg_t *s = op->s;
  char err[256];
  if (r->result != ASSIST_OK) {
    /* No HTTP status. A connection that never carried the request is a
     * plain transient error; anything else may have reached SendGrid. */
    int st = r->result == ASSIST_EIO ? ASSIST_EIO : ASSIST_EAMBIGUOUS;
    snprintf(err, sizeof err, "%s%s%s", s->host->strerror(r->result),
             r->error && *r->error ? ": " : "", r->error ? r->error : "");
    finish(op, st, NULL, 0, err);
    return;
  }
  if (r->status >= 200 && r->status < 300) {
    const char *id = s->host->http_header(r, "X-Message-Id");
    finish(op, ASSIST_OK, id && *id ? id : NULL, 0, NULL);
    return;
  }
  char *why = sg_error_message(r->body, r->body_len);
  if (r->status == 429) {
    int jitter = (int)(((uint64_t)op->delivery_id * 2654435761u) % 5);
    int wait = sg_retry_wait(s->host->http_header(r, "X-RateLimit-Reset"),
                             r->retry_after_s, (int64_t)time(NULL), jitter);
    snprintf(err, sizeof err, "SendGrid rate limit (429), retry in %d s", wait);
    finish(op, ASSIST_EBUSY, NULL, wait, err);
  } else if (r->status >= 500 || r->status == 408) {
    snprintf(err, sizeof err,
             "SendGrid answered %d: the message may have been accepted%s%s",
             r->status, why ? ": " : "", why ? why : "");
    finish(op, ASSIST_EAMBIGUOUS, NULL, 0, err);
  } else {
    snprintf(err, sizeof err, "SendGrid refused the message (%d)%s%s",
             r->status, why ? ": " : "", why ? why : "");
    finish(op,
           (r->status == 401 || r->status == 403) ? ASSIST_EACCES
                                                  : ASSIST_EINVAL,
           NULL, 0, err);
  }
  free(why);
}

static void refused_later(void *ud) {
  send_op_t *op = ud;
  finish(op, ASSIST_EINVAL, NULL, 0, op->error);
}

static int sg_send(void *ud, const assist_message_t *msg,
                   assist_send_done_cb done, void *arg) {
  sg_t *s = ud;
  if (!msg || !done) return ASSIST_EINVAL;
  if (s->stopping) return ASSIST_ECANCELED;
  const char *err = NULL;
  char *body = sg_mail_body(msg, s->from, &err);
  if (!body) {
    /* A message that can never be sent: a permanent failure reported
     * through done() (from the loop, after send() returned) so that the
     * delivery records why. */
    send_op_t *op = calloc(1, sizeof *op);
    if (!op) return ASSIST_ENOMEM;
    op->s = s;
    op->done = done;
    op->arg = arg;
    op->delivery_id = msg->delivery_id;
    op->error = err;
    s->inflight++;
    int rc = s->host->post_to_loop(s->inst, refused_later, op);
    if (rc != ASSIST_OK) {
      s->inflight--;
      free(op);
    }
    return rc;
  }
  send_op_t *op = calloc(1, sizeof *op);
  if (!op) {
    free(body);
    return ASSIST_ENOMEM;
  }
  op->s = s;
  op->done = done;
  op->arg = arg;
  op->delivery_id = msg->delivery_id;
  assist_header_t hdrs[] = {
      {"Authorization", s->auth},
      {"Content-Type", "application/json"},
      {"Accept", "application/json"},
  };
  assist_http_request_t req = {
      .struct_size = sizeof req,
      .method = "POST",
      .url = s->send_url,
      .headers = hdrs,
      .nheaders = sizeof hdrs / sizeof hdrs[0],
      .body = body,
      .body_len = strlen(body),
      .timeout_ms = s->timeout_ms,
      .max_response_bytes = 1u << 20,
      .flags = 0, /* a POST: the host never retries it blindly */
  };
  s->inflight++;
  int rc = s->host->http_request(s->inst, &req, on_sent, op, NULL);
  free(body);
  if (rc != ASSIST_OK) {
    s->inflight--;
    free(op);
    s->host->log(s->inst, ASSIST_LOG_WARN, "delivery %lld: cannot send: %s",
                 (long long)msg->delivery_id, s->host->strerror(rc));
    return rc;
  }
  return ASSIST_OK;
}

/* ------------------------------------------------------------------ */
/* The Event Webhook                                                    */

typedef struct hook_batch {
  sg_t *s;
  assist_request_t *req;
  int pending; /* delivery_event calls not answered yet, +1 while issuing */
  int failed;  /* a call failed other than ENOENT */
  int applied, unknown;
} hook_batch_t;

static void respond_json(sg_t *s, assist_request_t *req, int status,
                         const char *body) {
  s->host->respond(req, status, "application/json", body, strlen(body));
}

static void batch_settle(hook_batch_t *b) {
  if (--b->pending > 0) return;
  sg_t *s = b->s;
  if (b->failed) {
    respond_json(s, b->req, 503, "{\"error\":\"events not stored, retry\"}");
  } else {
    char out[96];
    snprintf(out, sizeof out, "{\"applied\":%d,\"unknown\":%d}", b->applied,
             b->unknown);
    respond_json(s, b->req, 200, out);
  }
  s->host->log(s->inst, b->failed ? ASSIST_LOG_WARN : ASSIST_LOG_INFO,
               "webhook: %d event(s) applied, %d for unknown deliveries%s",
               b->applied, b->unknown, b->failed ? ", storage failed" : "");
  free(b);
}

static void event_stored(void *ud, int status) {
  hook_batch_t *b = ud;
  if (status == ASSIST_OK)
    b->applied++;
  else if (status == ASSIST_ENOENT || status == ASSIST_EINVAL)
    b->unknown++; /* not ours, or not a change the assistant takes */
  else
    b->failed = 1; /* storage: answer 503 so that SendGrid retries */
  batch_settle(b);
}

static const char *event_label(const char *ev) {
  static const char *known[] = {"processed",
                                "dropped",
                                "delivered",
                                "deferred",
                                "bounce",
                                "open",
                                "click",
                                "spamreport",
                                "unsubscribe",
                                "group_unsubscribe",
                                "group_resubscribe",
                                NULL};
  for (int i = 0; ev && known[i]; i++)
    if (strcmp(ev, known[i]) == 0) return known[i];
  return "other";
}

static int refuse(sg_t *s, assist_request_t *req, int status,
                  const char *reason) {
  count(s, s->m_refused, "reason", reason);
  s->host->log(s->inst, ASSIST_LOG_WARN, "webhook refused (%d): %s", status,
               reason);
  char out[128];
  snprintf(out, sizeof out, "{\"error\":\"%s\"}", reason);
  respond_json(s, req, status, out);
  return ASSIST_OK;
}

static int parse_ts(const char *t, int64_t *out) {
  if (!t || !*t || strlen(t) > 18) return -1;
  int64_t v = 0;
  for (const char *p = t; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 0;
}

/* One webhook post: verified and parsed on a pool thread (a batch may be
 * megabytes), its events handed to the assistant on the loop. */
typedef struct hook_job {
  sg_t *s;
  assist_request_t *req; /* host; valid until responded */
  const char *body;      /* host-owned, valid until responded */
  size_t len;
  char ts[24];
  char *sig; /* owned copy */
  int64_t now_s;
  enum { V_OK, V_BAD_SIG, V_STALE, V_BAD_JSON } verdict;
  sg_event_t *ev; /* owned */
  size_t n;
} hook_job_t;

/* Pool thread: touches only the job and the immutable key and settings. */
static void hook_work(void *ud) {
  hook_job_t *j = ud;
  sg_t *s = j->s;
  if (!sg_verify(s->key, j->ts, j->body, j->len, j->sig)) {
    j->verdict = V_BAD_SIG;
    return;
  }
  int64_t t = 0;
  if (s->max_age_s > 0 &&
      (parse_ts(j->ts, &t) != 0 || t < j->now_s - s->max_age_s ||
       t > j->now_s + s->max_age_s)) {
    j->verdict = V_STALE;
    return;
  }
  if (sg_events_parse(j->body, j->len, &j->ev, &j->n) != 0)
    j->verdict = V_BAD_JSON;
}

static void apply_events(hook_job_t *j) {
  sg_t *s = j->s;
  hook_batch_t *b = calloc(1, sizeof *b);
  if (!b) {
    respond_json(s, j->req, 503, "{\"error\":\"out of memory\"}");
    return;
  }
  b->s = s;
  b->req = j->req;
  b->pending = 1;
  for (size_t i = 0; i < j->n; i++) {
    sg_event_t *e = &j->ev[i];
    count(s, s->m_events, "event", event_label(e->event));
    if (!e->state) continue; /* not a delivery state (docs/mail.md) */
    if (e->delivery_id <= 0 && !e->message_id) {
      b->unknown++;
      continue;
    }
    assist_delivery_event_t de = {
        .struct_size = sizeof de,
        .delivery_id = e->delivery_id,
        .provider_message_id = e->message_id,
        .state = e->state,
        .provider_event_id = e->event_id,
        .at_ms = e->at_ms,
        .detail = e->detail,
    };
    b->pending++;
    int rc = s->host->delivery_event(s->inst, &de, event_stored, b);
    if (rc != ASSIST_OK) {
      b->pending--;
      if (rc == ASSIST_ENOENT || rc == ASSIST_EINVAL)
        b->unknown++;
      else
        b->failed = 1;
    }
  }
  batch_settle(b);
}

static void hook_done(void *ud, int status) {
  hook_job_t *j = ud;
  sg_t *s = j->s;
  if (status != ASSIST_OK)
    respond_json(s, j->req, 503, "{\"error\":\"shutting down\"}");
  else if (j->verdict == V_BAD_SIG)
    refuse(s, j->req, 403, "invalid signature");
  else if (j->verdict == V_STALE)
    refuse(s, j->req, 403, "stale timestamp");
  else if (j->verdict == V_BAD_JSON)
    refuse(s, j->req, 400, "body is not a JSON array of events");
  else
    apply_events(j);
  sg_events_free(j->ev, j->n);
  free(j->sig);
  free(j);
}

static int on_webhook(assist_request_t *req, void *ud) {
  sg_t *s = ud;
  const assist_host_api_t *h = s->host;
  const char *sig =
      h->req_header(req, "X-Twilio-Email-Event-Webhook-Signature");
  const char *ts = h->req_header(req, "X-Twilio-Email-Event-Webhook-Timestamp");
  if (!sig || !*sig || !ts || !*ts)
    return refuse(s, req, 401, "missing signature");
  hook_job_t *j = calloc(1, sizeof *j);
  if (!j) return ASSIST_ENOMEM;
  if (strlen(ts) >= sizeof j->ts || strlen(sig) > 512) {
    free(j);
    return refuse(s, req, 403, "invalid signature");
  }
  j->s = s;
  j->req = req;
  j->body = h->req_body(req, &j->len);
  if (!j->body) {
    j->body = "";
    j->len = 0;
  }
  memcpy(j->ts, ts, strlen(ts) + 1);
  j->now_s = (int64_t)time(NULL);
  if (!(j->sig = strdup(sig))) {
    free(j);
    return ASSIST_ENOMEM;
  }
  if (!h->queue_work(s->inst, hook_work, hook_done, j)) {
    free(j->sig);
    free(j);
    respond_json(s, req, 503, "{\"error\":\"busy\"}");
    return ASSIST_OK;
  }
  return ASSIST_ASYNC;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */

static char *join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *o = malloc(la + lb + 1);
  if (!o) return NULL;
  memcpy(o, a, la);
  memcpy(o + la, b, lb + 1);
  return o;
}

static int sg_init(const assist_host_api_t *host, assist_instance_t *inst,
                   void **state) {
  if (!ASSIST_HOST_HAS(host, http_request) ||
      !ASSIST_HOST_HAS(host, provider_register) ||
      !ASSIST_HOST_HAS(host, http_header)) {
    host->log(inst, ASSIST_LOG_ERROR,
              "sendgrid needs a host with ABI 1.2 (outbound HTTP, providers)");
    return ASSIST_ENOTSUP;
  }
  sg_t *s = calloc(1, sizeof *s);
  if (!s) return ASSIST_ENOMEM;
  s->host = host;
  s->inst = inst;
  int rc = ASSIST_EINVAL;
  const char *base = host->opt_string(inst, "api_base");
  if (!base ||
      (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)) {
    host->log(inst, ASSIST_LOG_ERROR, "api_base must be an http(s) URL");
    goto fail;
  }
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/') bl--;
  s->send_url = malloc(bl + sizeof "/v3/mail/send");
  if (!s->send_url) goto nomem;
  memcpy(s->send_url, base, bl);
  memcpy(s->send_url + bl, "/v3/mail/send", sizeof "/v3/mail/send");
  const char *key = host->opt_string(inst, "api_key");
  if (!key || !*key || strpbrk(key, "\r\n")) {
    host->log(inst, ASSIST_LOG_ERROR, "api_key is empty or malformed");
    goto fail;
  }
  if (!(s->auth = join("Bearer ", key))) goto nomem;
  const char *from = host->opt_string(inst, "from");
  if (from && *from) {
    if (strpbrk(from, "\r\n <>,") || !strchr(from, '@')) {
      host->log(inst, ASSIST_LOG_ERROR, "from is not an e-mail address");
      goto fail;
    }
    if (!(s->from = strdup(from))) goto nomem;
  }
  s->timeout_ms = (uint32_t)host->opt_int(inst, "timeout");
  s->max_age_s = host->opt_int(inst, "webhook_max_age") / 1000;
  const char *pk = host->opt_string(inst, "webhook_public_key");
  if (pk && *pk) {
    if (!ASSIST_HOST_HAS(host, delivery_event)) {
      host->log(inst, ASSIST_LOG_ERROR,
                "the webhook needs a host that takes delivery events");
      rc = ASSIST_ENOTSUP;
      goto fail;
    }
    s->key = sg_key_parse(pk);
    if (!s->key) {
      host->log(inst, ASSIST_LOG_ERROR,
                "webhook_public_key is not a base64 DER P-256 public key");
      goto fail;
    }
    if (!(s->route =
              join("/api/webhooks/sendgrid/", host->instance_name(inst))))
      goto nomem;
    assist_route_t r = {
        .struct_size = sizeof r,
        .method = "POST",
        .pattern = s->route,
        .max_body = WEBHOOK_MAX_BODY,
        .handler = on_webhook,
        .ud = s,
    };
    if ((rc = host->route_add(inst, &r)) != ASSIST_OK) {
      host->log(inst, ASSIST_LOG_ERROR, "cannot add route %s: %s", s->route,
                host->strerror(rc));
      goto fail;
    }
  }
  assist_provider_t p = {
      .struct_size = sizeof p,
      .kind = ASSIST_PROVIDER_NOTIFIER,
      .channel = "email",
      .send = sg_send,
      .ud = s,
  };
  if ((rc = host->provider_register(inst, &p)) != ASSIST_OK) {
    host->log(inst, ASSIST_LOG_ERROR, "cannot register the notifier: %s",
              host->strerror(rc));
    goto fail;
  }
#ifdef ASSIST_MAIL_TEST_ROUTE
  if ((rc = mail_test_route_add(host, inst, sg_send, s)) != ASSIST_OK)
    goto fail;
#endif
  s->m_sends =
      host->metric_register(inst, ASSIST_METRIC_COUNTER, "sendgrid_sends_total",
                            "Mail sends by result.", NULL, 0);
  s->m_events = host->metric_register(
      inst, ASSIST_METRIC_COUNTER, "sendgrid_webhook_events_total",
      "Verified Event Webhook events by type.", NULL, 0);
  s->m_refused = host->metric_register(
      inst, ASSIST_METRIC_COUNTER, "sendgrid_webhook_refused_total",
      "Event Webhook posts refused, by reason.", NULL, 0);
  host->log(inst, ASSIST_LOG_INFO, "sendgrid ready: %s; webhook %s",
            s->send_url, s->route ? s->route : "off (no webhook_public_key)");
  *state = s;
  return ASSIST_OK;
nomem:
  rc = ASSIST_ENOMEM;
fail:
  sg_free(s);
  return rc;
}

static void sg_stop(void *state, assist_done_cb done, void *arg) {
  sg_t *s = state;
  s->stopping = 1;
  s->stop_done = done;
  s->stop_arg = arg;
  maybe_stopped(s);
}

static void sg_destroy(void *state) {
  sg_free(state);
}

static const assist_option_t sg_options[] = {
    {.name = "api_key",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_REQUIRED | ASSIST_OPT_SECRET,
     .description = "SendGrid API key with the Mail Send permission "
                    "(\"SG....\"); write it as ${ENV_VAR} or ${file:PATH}."},
    {.name = "api_base",
     .type = ASSIST_OPT_STRING,
     .default_value = "https://api.sendgrid.com",
     .description = "API base URL (https://api.eu.sendgrid.com for EU "
                    "subusers; a mock server in tests)."},
    {.name = "from",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "Sender address (a verified sender) used instead of the "
                    "message's own; replies still go to the message's."},
    {.name = "timeout",
     .type = ASSIST_OPT_DURATION,
     .default_value = "30s",
     .min = 1000,
     .max = 300000,
     .description = "How long a send may take; past it the outcome is "
                    "ambiguous and the message is not sent again."},
    {.name = "webhook_public_key",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "The signed Event Webhook's verification key (base64 "
                    "DER, from SendGrid's Mail Settings). Set: POST "
                    "/api/webhooks/sendgrid/<instance> accepts signed "
                    "events; empty: no webhook route."},
    {.name = "webhook_max_age",
     .type = ASSIST_OPT_DURATION,
     .default_value = "0s",
     .min = 0,
     .max = 604800000,
     .description = "Refuse webhook posts whose signed timestamp is further "
                    "than this from now; 0s: no limit (replays are harmless: "
                    "events are deduplicated by sg_event_id)."},
    {.name = NULL},
};

ASSIST_PLUGIN_EXPORT const assist_plugin_t assist_plugin_v1 = {
    ASSIST_PLUGIN_HEADER,
    .name = "sendgrid",
    .version = "1.0.0",
    .description = "E-mail notifier over SendGrid's v3 Mail Send API with "
                   "an ICS invitation; signed Event Webhook for delivery "
                   "states.",
    .flags = ASSIST_PLUGIN_MULTI_INSTANCE,
    .options = sg_options,
    .init = sg_init,
    .stop = sg_stop,
    .destroy = sg_destroy,
};
