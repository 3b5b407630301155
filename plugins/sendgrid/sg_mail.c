/* sg_mail.c: see sg_mail.h. */
#include "sg_mail.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_common.h"

static int has_crlf(const char *s) {
  return s && strpbrk(s, "\r\n") != NULL;
}

static int nonempty(const char *s) {
  return s && *s;
}

/* An address as SendGrid and mail headers want it: something@something,
 * no whitespace, control characters, angle brackets or commas. */
static int addr_ok(const char *a) {
  if (!nonempty(a) || strlen(a) > 320) return 0;
  const char *at = strrchr(a, '@');
  if (!at || at == a || !at[1]) return 0;
  for (const unsigned char *p = (const unsigned char *)a; *p; p++)
    if (*p <= 0x20 || *p == 0x7f || strchr("<>,;\"()[]\\", *p)) return 0;
  return 1;
}

static json_object *addr_obj(const char *email, const char *name) {
  json_object *o = json_object_new_object();
  if (!o) return NULL;
  json_object_object_add(o, "email", json_object_new_string(email));
  if (nonempty(name))
    json_object_object_add(o, "name", json_object_new_string(name));
  return o;
}

static void add_content(json_object *arr, const char *type, const char *value) {
  json_object *c = json_object_new_object();
  json_object_object_add(c, "type", json_object_new_string(type));
  json_object_object_add(c, "value", json_object_new_string(value));
  json_object_array_add(arr, c);
}

char *sg_mail_body(const assist_message_t *msg, const char *from_override,
                   const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!msg) {
    *err = "no message";
    return NULL;
  }
  const char *from = nonempty(from_override) ? from_override : msg->from;
  if (!addr_ok(msg->to)) {
    *err = "recipient address missing or malformed";
    return NULL;
  }
  if (!addr_ok(from)) {
    *err = "sender address missing or malformed";
    return NULL;
  }
  if (nonempty(msg->from) && !addr_ok(msg->from)) {
    *err = "reply-to address malformed";
    return NULL;
  }
  if (has_crlf(msg->to_name) || has_crlf(msg->from_name) ||
      has_crlf(msg->subject)) {
    *err = "line break in a name or the subject";
    return NULL;
  }
  if (!nonempty(msg->subject)) {
    *err = "empty subject";
    return NULL;
  }
  if (!nonempty(msg->text) && !nonempty(msg->html)) {
    *err = "neither a text nor an HTML body";
    return NULL;
  }
  int has_ics = nonempty(msg->ics);
  const char *method = nonempty(msg->ics_method) ? msg->ics_method : "REQUEST";
  if (has_ics && !mail_ics_method_ok(msg->ics, method)) {
    *err = "the ICS METHOD does not match ics_method";
    return NULL;
  }

  json_object *root = json_object_new_object();
  if (!root) goto nomem;
  json_object *pers = json_object_new_array();
  json_object *p0 = json_object_new_object();
  json_object *to = json_object_new_array();
  json_object_array_add(to, addr_obj(msg->to, msg->to_name));
  json_object_object_add(p0, "to", to);
  /* custom_args per personalization: the official description types the
   * message-level custom_args as a string, the personalization's as an
   * object; either way the values come back as top-level keys of every
   * webhook event. */
  json_object *args = json_object_new_object();
  char idbuf[32];
  snprintf(idbuf, sizeof idbuf, "%lld", (long long)msg->delivery_id);
  json_object_object_add(args, "delivery_id", json_object_new_string(idbuf));
  if (nonempty(msg->idempotency_key))
    json_object_object_add(args, "msg_key",
                           json_object_new_string(msg->idempotency_key));
  json_object_object_add(p0, "custom_args", args);
  json_object_array_add(pers, p0);
  json_object_object_add(root, "personalizations", pers);
  json_object_object_add(root, "from", addr_obj(from, msg->from_name));
  json_object_object_add(
      root, "reply_to",
      addr_obj(nonempty(msg->from) ? msg->from : from, msg->from_name));
  json_object_object_add(root, "subject", json_object_new_string(msg->subject));
  json_object *content = json_object_new_array();
  if (nonempty(msg->text)) add_content(content, "text/plain", msg->text);
  if (nonempty(msg->html)) add_content(content, "text/html", msg->html);
  char *ics_b64 = NULL;
  if (has_ics) {
    char ctype[64];
    snprintf(ctype, sizeof ctype, "text/calendar; method=%s", method);
    add_content(content, ctype, msg->ics);
    ics_b64 = mail_b64_encode(msg->ics, strlen(msg->ics), 0);
    if (!ics_b64) {
      json_object_put(content);
      json_object_put(root);
      goto nomem;
    }
  }
  json_object_object_add(root, "content", content);
  if (has_ics) {
    json_object *atts = json_object_new_array();
    json_object *a = json_object_new_object();
    json_object_object_add(a, "content", json_object_new_string(ics_b64));
    json_object_object_add(a, "type",
                           json_object_new_string("application/ics"));
    json_object_object_add(a, "filename", json_object_new_string("invite.ics"));
    json_object_object_add(a, "disposition",
                           json_object_new_string("attachment"));
    json_object_array_add(atts, a);
    json_object_object_add(root, "attachments", atts);
    free(ics_b64);
  }
  json_object *cats = json_object_new_array();
  json_object_array_add(cats, json_object_new_string("reminder"));
  json_object_object_add(root, "categories", cats);
  const char *txt = json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  char *out = txt ? strdup(txt) : NULL;
  json_object_put(root);
  if (!out) goto nomem;
  return out;
nomem:
  *err = "out of memory";
  return NULL;
}

static char *clean_copy(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max) n = max;
  /* never cut a UTF-8 sequence in two */
  while (n > 0 && n < strlen(s) && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  char *o = malloc(n + 1);
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++)
    o[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
  o[n] = '\0';
  return o;
}

char *sg_error_message(const char *body, size_t len) {
  if (!body || !len) return NULL;
  json_tokener *tok = json_tokener_new();
  if (!tok) return NULL;
  json_object *root = json_tokener_parse_ex(tok, body, (int)len);
  json_tokener_free(tok);
  char *out = NULL;
  json_object *errs, *e0, *m;
  if (root && json_object_object_get_ex(root, "errors", &errs) &&
      json_object_is_type(errs, json_type_array) &&
      json_object_array_length(errs) > 0 &&
      (e0 = json_object_array_get_idx(errs, 0)) &&
      json_object_object_get_ex(e0, "message", &m) &&
      json_object_is_type(m, json_type_string))
    out = clean_copy(json_object_get_string(m), 200);
  json_object_put(root);
  return out;
}

int sg_retry_wait(const char *reset_hdr, int retry_after_s, int64_t now_s,
                  int jitter_s) {
  int64_t w = -1;
  if (reset_hdr && *reset_hdr) {
    char *end = NULL;
    errno = 0;
    long long r = strtoll(reset_hdr, &end, 10);
    while (end && (*end == ' ' || *end == '\t')) end++;
    if (errno == 0 && end && *end == '\0' && end != reset_hdr && r > 0) {
      w = (int64_t)r - now_s + jitter_s;
      if (w < 1) w = 1; /* the window has already reset */
    }
  }
  if (w < 0 && retry_after_s > 0) w = (int64_t)retry_after_s + jitter_s;
  if (w < 0) w = 60 + jitter_s;
  if (w < 1) w = 1;
  if (w > 3600) w = 3600;
  return (int)w;
}

const char *sg_event_state(const char *event) {
  if (!event) return NULL;
  if (strcmp(event, "processed") == 0) return "sent";
  if (strcmp(event, "delivered") == 0) return "delivered";
  if (strcmp(event, "open") == 0) return "opened";
  if (strcmp(event, "bounce") == 0 || strcmp(event, "dropped") == 0)
    return "bounced";
  return NULL;
}

static char *str_field(json_object *o, const char *k) {
  json_object *v;
  if (!json_object_object_get_ex(o, k, &v)) return NULL;
  if (json_object_is_type(v, json_type_string))
    return strdup(json_object_get_string(v));
  return NULL;
}

void sg_events_free(sg_event_t *ev, size_t n) {
  if (!ev) return;
  for (size_t i = 0; i < n; i++) {
    free(ev[i].message_id);
    free(ev[i].event_id);
    free(ev[i].event);
    free(ev[i].detail);
  }
  free(ev);
}

int sg_events_parse(const char *body, size_t len, sg_event_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!body || len == 0 || len > INT32_MAX) return -1;
  json_tokener *tok = json_tokener_new();
  if (!tok) return -1;
  json_object *root = json_tokener_parse_ex(tok, body, (int)len);
  enum json_tokener_error jerr = json_tokener_get_error(tok);
  size_t used = json_tokener_get_parse_end(tok);
  json_tokener_free(tok);
  /* Only whitespace (the official vector ends in CRLF) may follow. */
  for (size_t i = used; root && jerr == json_tokener_success && i < len; i++)
    if (!strchr(" \t\r\n", body[i])) jerr = json_tokener_error_parse_unexpected;
  if (!root || jerr != json_tokener_success ||
      !json_object_is_type(root, json_type_array)) {
    json_object_put(root);
    return -1;
  }
  size_t cnt = json_object_array_length(root);
  sg_event_t *ev = calloc(cnt ? cnt : 1, sizeof *ev);
  if (!ev) {
    json_object_put(root);
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < cnt; i++) {
    json_object *o = json_object_array_get_idx(root, i);
    if (!json_object_is_type(o, json_type_object)) continue;
    sg_event_t *e = &ev[k++];
    e->event = str_field(o, "event");
    e->state = sg_event_state(e->event);
    e->event_id = str_field(o, "sg_event_id");
    char *mid = str_field(o, "sg_message_id");
    if (mid) {
      char *dot = strchr(mid, '.');
      if (dot) *dot = '\0';
      if (*mid) {
        e->message_id = mid;
      } else {
        free(mid);
      }
    }
    char *did = str_field(o, "delivery_id");
    if (did) {
      char *end = NULL;
      errno = 0;
      long long v = strtoll(did, &end, 10);
      if (errno == 0 && end != did && *end == '\0' && v > 0) e->delivery_id = v;
      free(did);
    }
    json_object *ts;
    if (json_object_object_get_ex(o, "timestamp", &ts) &&
        json_object_is_type(ts, json_type_int)) {
      int64_t t = json_object_get_int64(ts);
      if (t > 0 && t < INT64_MAX / 1000) e->at_ms = t * 1000;
    }
    char *why = str_field(o, "reason");
    if (!why) why = str_field(o, "type");
    if (why) {
      e->detail = clean_copy(why, 200);
      free(why);
    }
  }
  json_object_put(root);
  *out = ev;
  *n = k;
  return 0;
}
