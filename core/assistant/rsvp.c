/*
 * rsvp.c: signed RSVP links and their pages (rsvp.h). Public routes: the
 * signed token is the only credential. GET shows a confirmation form and
 * changes nothing; POST needs the form's csrf field (a MAC of the token
 * under the keyring, compared in constant time) and records the answer
 * once (rsvp_used holds the token's SHA-256), re-plans the event (a
 * decline cancels its remaining reminders), writes it back through the
 * calendar provider of the event's source where there is one, and is
 * audited. Every failure is a small HTML page with a clear sentence.
 */
#include "assistant/rsvp.h"

#include "assistant/plans.h"
#include "assistant/prefs.h"
#include "assistant/render.h"
#include "common/tz.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "plugin/providers.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PURPOSE "rsvp"
#define CSRF_PURPOSE "rsvp-csrf"
#define TOKEN_MAX 1024

static const store_stmt_t q_event = {
    "rsvp.event",
    "SELECT e.summary, e.start_at, e.all_day, COALESCE(e.start_date, ''), "
    "e.source, e.external_id, e.attendees, e.response, u.email, "
    "u.preferences FROM calendar_events e JOIN users u ON u.id = e.user_id "
    "WHERE e.id = $1 AND e.user_id = $2",
    NULL};
static const store_stmt_t q_used = {
    "rsvp.used", "SELECT used_at FROM rsvp_used WHERE token_hash = $1", NULL};
static const store_stmt_t q_use = {
    "rsvp.use",
    "INSERT INTO rsvp_used (token_hash, event_id, response, used_at) "
    "VALUES ($1, $2, $3, $4)",
    NULL};
static const store_stmt_t q_respond = {
    "rsvp.respond",
    "UPDATE calendar_events SET response = $2, attendees = $3, "
    "updated_at = $4 WHERE id = $1",
    NULL};

enum {
  R_SUMMARY,
  R_START,
  R_ALLDAY,
  R_DATE,
  R_SOURCE,
  R_EXT,
  R_ATT,
  R_RESP,
  R_EMAIL,
  R_PREFS
};

static int response_ok(const char *r) {
  return strcmp(r, "accepted") == 0 || strcmp(r, "declined") == 0 ||
         strcmp(r, "tentative") == 0;
}

char *rsvp_link(struct assistant *a, int64_t event_id, int64_t user_id,
                const char *response) {
  if (!a || !a->ring || !response || !response_ok(response)) return NULL;
  char payload[96];
  snprintf(payload, sizeof payload, "%" PRId64 ":%" PRId64 ":%s", event_id,
           user_id, response);
  char *tok = NULL;
  if (secrets_token_sign(a->ring, PURPOSE, payload, a->rsvp_ttl_s, &tok) != 0)
    return NULL;
  char *url = xasprintf("%s/rsvp/%s", a->public_url, tok);
  free(tok);
  return url;
}

/* ---------------- pages ---------------- */

static void page_open(buf_t *b, const char *title) {
  buf_puts(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width\">"
              "<meta name=\"robots\" content=\"noindex\"><title>");
  render_html(b, title);
  buf_puts(b, "</title><style>body{font-family:sans-serif;max-width:32em;"
              "margin:3em auto;padding:0 1em;line-height:1.5}button{font-size:"
              "1em;padding:.5em 1.5em}</style></head><body><h1>");
  render_html(b, title);
  buf_puts(b, "</h1>\n");
}

static void page_send(http_request_t *req, int status, buf_t *b) {
  buf_puts(b, "</body></html>\n");
  http_header_t h[] = {
      {"Content-Type", "text/html; charset=utf-8"},
      {"Cache-Control", "no-store"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Robots-Tag", "noindex"},
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
  };
  http_respond(req, status, h, sizeof h / sizeof h[0], b->data, b->len);
  buf_free(b);
}

static void page_msg(http_request_t *req, int status, const char *title,
                     const char *text) {
  buf_t b = {0};
  page_open(&b, title);
  buf_puts(&b, "<p>");
  render_html(&b, text);
  buf_puts(&b, "</p>\n");
  page_send(req, status, &b);
}

static const char *verb(const char *response) {
  if (strcmp(response, "accepted") == 0) return "Accept";
  if (strcmp(response, "declined") == 0) return "Decline";
  return "Tentatively accept";
}

static const char *past(const char *response) {
  if (strcmp(response, "accepted") == 0) return "accepted";
  if (strcmp(response, "declined") == 0) return "declined";
  return "tentatively accepted";
}

/* "Tuesday 3 March 2025, 15:00 (Europe/Berlin)" */
static void when_text(buf_t *b, store_res_t *res) {
  static const char *const days[] = {"Sunday",    "Monday",   "Tuesday",
                                     "Wednesday", "Thursday", "Friday",
                                     "Saturday"};
  static const char *const months[] = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  prefs_t p;
  prefs_load(store_res_text(res, 0, 0, R_PREFS),
             store_res_text(res, 0, 0, R_EMAIL), &p);
  const tz_t *z = tz_get(p.timezone);
  if (!z) z = tz_get("UTC");
  int all_day = store_res_int(res, 0, 0, R_ALLDAY) != 0;
  if (all_day) {
    buf_printf(b, "%s (all day)", store_res_text(res, 0, 0, R_DATE));
  } else if (z) {
    tz_local_t l;
    tz_to_local(z, store_res_int(res, 0, 0, R_START), &l);
    buf_printf(b, "%s %d %s %d, %02d:%02d (", days[l.wday % 7], l.day,
               months[(l.month + 11) % 12], l.year, l.hour, l.minute);
    render_html(b, p.timezone);
    buf_puts(b, ")");
  }
  prefs_free(&p);
}

/* ---------------- shared request state ---------------- */

typedef struct rreq rreq_t;

/* What GET or POST does once the event is loaded and the link unused. */
typedef void (*loaded_fn)(rreq_t *r, store_res_t *res);

struct rreq {
  assistant_t *a;
  http_request_t *req;
  char *token;
  char hash[65];
  int64_t event_id, user_id;
  char response[16];
  int post;
  loaded_fn then;
  char *source, *external_id, *summary, *email;
  int write_back; /* 1: a provider call is running */
};

static void rreq_free(rreq_t *r) {
  assistant_t *a = r->a;
  free(r->token);
  free(r->source);
  free(r->external_id);
  free(r->summary);
  free(r->email);
  free(r);
  assistant_release(a);
}

/* Verifies the token in the path. On failure answers and returns NULL. */
static rreq_t *open_token(assistant_t *a, http_request_t *req, int post) {
  const char *raw = http_req_param(req, "token");
  if (a->closing) {
    page_msg(req, 503, "Try again later",
             "The service is restarting. Please open the link again in a "
             "minute.");
    return NULL;
  }
  if (!raw || strlen(raw) > TOKEN_MAX || strchr(raw, '%')) {
    page_msg(req, 400, "This link is not valid",
             "The link is damaged or incomplete. Open it again from the "
             "reminder e-mail.");
    return NULL;
  }
  char *payload = NULL;
  int rc = secrets_token_verify(a->ring, PURPOSE, raw, store_now_ms() / 1000,
                                &payload);
  if (rc == SECRETS_EEXPIRED) {
    page_msg(req, 410, "This link has expired",
             "RSVP links are valid for a limited time. Answer in your "
             "calendar instead.");
    return NULL;
  }
  long long eid = 0, uid = 0;
  char resp[16] = "";
  int n = 0;
  if (rc != 0 || !payload ||
      sscanf(payload, "%lld:%lld:%15[a-zA-Z]%n", &eid, &uid, resp, &n) != 3 ||
      payload[n] != '\0' || eid <= 0 || uid <= 0 || !response_ok(resp)) {
    free(payload);
    page_msg(req, 400, "This link is not valid",
             "The link is damaged or was not issued by this service. Open it "
             "again from the reminder e-mail.");
    return NULL;
  }
  free(payload);
  assistant_hold(a);
  rreq_t *r = xcalloc(1, sizeof *r);
  r->a = a;
  r->req = req;
  r->post = post;
  r->token = xstrdup(raw);
  r->event_id = eid;
  r->user_id = uid;
  snprintf(r->response, sizeof r->response, "%s", resp);
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, (const unsigned char *)raw, strlen(raw));
  sodium_bin2hex(r->hash, sizeof r->hash, d, sizeof d);
  return r;
}

static void audit(rreq_t *r, const char *action, const char *outcome,
                  const char *details) {
  if (!r->a->audit) return;
  char actor[32], target[32], subject[24];
  snprintf(actor, sizeof actor, "user:%" PRId64, r->user_id);
  snprintf(target, sizeof target, "event:%" PRId64, r->event_id);
  snprintf(subject, sizeof subject, "%" PRId64, r->user_id);
  audit_record_t rec = {.actor = actor,
                        .action = action,
                        .target = target,
                        .outcome = outcome,
                        .subject = subject,
                        .details = details};
  audit_svc_append(r->a->audit, &rec, NULL, NULL);
}

/* ---------------- loading ---------------- */

/* A token's second use: audited when it is an answer, 410 either way. */
static void already_used(rreq_t *r) {
  if (r->post) {
    char details[64];
    snprintf(details, sizeof details, "{\"response\":\"%s\"}", r->response);
    audit(r, "rsvp.respond", "replay", details);
  }
  page_msg(r->req, 410, "This link was already used",
           "Your answer was recorded when you used this link before. To "
           "change it, use your calendar.");
}

static void loaded(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  (void)errmsg;
  rreq_t *r = arg;
  if (status != 0) {
    page_msg(r->req, 503, "Try again later",
             "The answer could not be read or recorded right now. Please try "
             "again in a minute.");
  } else if (store_res_rows(res, 1) > 0) {
    already_used(r);
  } else if (store_res_rows(res, 0) < 1) {
    page_msg(r->req, 404, "Event not found",
             "This event no longer exists in your calendar.");
  } else {
    r->then(r, res); /* frees r */
    return;
  }
  rreq_free(r);
}

/* Loads the event and the token's earlier use; then runs when the page may
 * go on. */
static void load(rreq_t *r, loaded_fn then) {
  r->then = then;
  store_req_t *q = store_req_new(r->a->store, 0);
  store_req_stmt(q, &q_event);
  store_req_bind_int(q, r->event_id);
  store_req_bind_int(q, r->user_id);
  store_req_stmt(q, &q_used);
  store_req_bind_text(q, r->hash);
  store_req_submit(q, loaded, r);
}

/* ---------------- GET ---------------- */

static void show_form(rreq_t *r, store_res_t *res) {
  char *csrf = NULL;
  if (secrets_mac(r->a->ring, CSRF_PURPOSE, r->token, strlen(r->token),
                  &csrf) != 0) {
    page_msg(r->req, 500, "Something went wrong",
             "The confirmation form could not be prepared.");
    rreq_free(r);
    return;
  }
  const char *summary = store_res_text(res, 0, 0, R_SUMMARY);
  buf_t b = {0};
  char title[64];
  snprintf(title, sizeof title, "%s this event?", verb(r->response));
  page_open(&b, title);
  buf_puts(&b, "<p><strong>");
  render_html(&b, *summary ? summary : "(no title)");
  buf_puts(&b, "</strong><br>");
  when_text(&b, res);
  buf_puts(&b, "</p>\n<form method=\"post\" action=\"/rsvp/");
  render_html(&b, r->token);
  buf_puts(&b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
  render_html(&b, csrf);
  buf_printf(&b, "\"><button type=\"submit\">%s</button></form>\n",
             verb(r->response));
  buf_puts(&b, "<p><small>Nothing changes until you press the button."
               "</small></p>\n");
  free(csrf);
  page_send(r->req, 200, &b);
  rreq_free(r);
}

static void h_get(http_request_t *req, void *ud) {
  rreq_t *r = open_token(ud, req, 0);
  if (r) load(r, show_form);
}

/* ---------------- POST ---------------- */

static void written_back(void *arg, int status) {
  rreq_t *r = arg;
  char details[96];
  snprintf(details, sizeof details, "{\"response\":\"%s\",\"status\":%d}",
           r->response, status);
  audit(r, "rsvp.write_back", status == 0 ? "ok" : "error", details);
  if (status != 0) {
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    log_kv(LOG_WARN, "assistant", "RSVP write-back failed", "#status", st,
           NULL);
  }
  rreq_free(r);
}

/* After the plan: answer the page, then write back where possible. */
static void post_replanned(void *ud, int status, const plans_stats_t *st) {
  (void)st;
  rreq_t *r = ud;
  buf_t b = {0};
  page_open(&b, "Thank you");
  buf_printf(&b, "<p>You %s <strong>", past(r->response));
  render_html(&b, *r->summary ? r->summary : "(no title)");
  buf_puts(&b, "</strong>.</p>\n");
  if (strcmp(r->response, "declined") == 0)
    buf_puts(&b, status == 0
                     ? "<p>The remaining reminders for it are cancelled.</p>\n"
                     : "<p>The remaining reminders will be cancelled "
                       "shortly.</p>\n");
  page_send(r->req, 200, &b);
  r->req = NULL;
  /* source is "<instance>:<calendar key>" */
  char *colon = strchr(r->source, ':');
  if (colon && !r->a->closing) {
    *colon = '\0';
    assist_rsvp_t rv = {.struct_size = sizeof rv,
                        .user_id = r->user_id,
                        .source = colon + 1,
                        .external_id = r->external_id,
                        .attendee_email = r->email,
                        .response = r->response};
    int rc = providers_rsvp(r->source, &rv, written_back, r);
    if (rc == 0) return; /* written_back frees */
    if (rc != -ENOENT)
      written_back(r, rc);
    else
      rreq_free(r);
    return;
  }
  rreq_free(r);
}

static void post_recorded(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  rreq_t *r = arg;
  if (status == -EEXIST) { /* used meanwhile by a concurrent answer */
    already_used(r);
    rreq_free(r);
    return;
  }
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "cannot record an RSVP", "error",
           errmsg ? errmsg : "", NULL);
    page_msg(r->req, 503, "Try again later",
             "Your answer could not be recorded right now. Please try again "
             "in a minute.");
    rreq_free(r);
    return;
  }
  char details[64];
  snprintf(details, sizeof details, "{\"response\":\"%s\"}", r->response);
  audit(r, "rsvp.respond", "ok", details);
  plans_replan_ids(r->a, &r->event_id, 1, post_replanned, r);
}

/* The stored attendees with the person's own status replaced. */
static char *attendees_with(const char *att, const char *response) {
  json_object *a = json_tokener_parse(att);
  if (!a || !json_object_is_type(a, json_type_array)) {
    json_object_put(a);
    return xstrdup(att);
  }
  size_t n = json_object_array_length(a);
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(a, i), *self;
    if (json_object_object_get_ex(e, "self", &self) &&
        json_object_get_boolean(self))
      json_object_object_add(e, "status", json_object_new_string(response));
  }
  char *out =
      xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
  json_object_put(a);
  return out;
}

static void record(rreq_t *r, store_res_t *res) {
  r->summary = xstrdup(store_res_text(res, 0, 0, R_SUMMARY));
  r->source = xstrdup(store_res_text(res, 0, 0, R_SOURCE));
  r->external_id = xstrdup(store_res_text(res, 0, 0, R_EXT));
  r->email = xstrdup(store_res_text(res, 0, 0, R_EMAIL));
  char *att = attendees_with(store_res_text(res, 0, 0, R_ATT), r->response);
  int64_t now = store_now_ms();
  store_req_t *q = store_req_new(r->a->store, STORE_TXN);
  store_req_stmt(q, &q_use);
  store_req_bind_text(q, r->hash);
  store_req_bind_int(q, r->event_id);
  store_req_bind_text(q, r->response);
  store_req_bind_int(q, now);
  store_req_stmt(q, &q_respond);
  store_req_bind_int(q, r->event_id);
  store_req_bind_text(q, r->response);
  store_req_bind_text(q, att);
  store_req_bind_int(q, now);
  free(att);
  store_req_submit(q, post_recorded, r);
}

static void h_post(http_request_t *req, void *ud) {
  assistant_t *a = ud;
  size_t len;
  const char *body = http_req_body(req, &len);
  auth_fields_t f = {0};
  const char *ct = http_req_header(req, "Content-Type");
  if (auth_body_parse(ct ? ct : "application/x-www-form-urlencoded", body, len,
                      &f) != 0) {
    page_msg(req, 400, "This request is not valid",
             "Use the button on the confirmation page.");
    return;
  }
  const char *csrf = auth_fields_get(&f, "csrf", NULL);
  if (!csrf || !*csrf) {
    auth_fields_free(&f);
    page_msg(req, 403, "Please confirm on the page",
             "This answer did not come from the confirmation page. Open the "
             "link again and press the button.");
    return;
  }
  rreq_t *r = open_token(a, req, 1);
  if (!r) {
    auth_fields_free(&f);
    return;
  }
  /* secrets_mac_verify compares in constant time */
  int ok = secrets_mac_verify(a->ring, CSRF_PURPOSE, r->token, strlen(r->token),
                              csrf) == 0;
  auth_fields_free(&f);
  if (!ok) {
    audit(r, "rsvp.respond", "denied", "{\"reason\":\"csrf\"}");
    page_msg(req, 403, "Please confirm on the page",
             "This answer did not come from the confirmation page. Open the "
             "link again and press the button.");
    rreq_free(r);
    return;
  }
  load(r, record);
}

int rsvp_routes(assistant_t *a, router_t *r) {
  int rc = 0;
  rc |= router_add(r, "GET", "/rsvp/{token}", 0, h_get, a);
  rc |= router_add(r, "POST", "/rsvp/{token}", 8192, h_post, a);
  return rc ? -1 : 0;
}
