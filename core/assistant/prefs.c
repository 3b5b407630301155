/*
 * prefs.c: reminder preferences (prefs.h). Parsing collects every problem
 * as "field: message"; unknown keys are errors too, so a typo such as
 * "quiet_hour" is reported instead of silently ignored. prefs_to_json()
 * writes the canonical form (every key, durations as "2h"/"30m"/"90s"),
 * which parses back to the same preferences.
 */
#include "assistant/prefs.h"

#include "common/tz.h"
#include "common/alloc.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_S 60
#define DAY_S 86400

void prefs_defaults(prefs_t *p) {
  memset(p, 0, sizeof *p);
  strcpy(p->timezone, "UTC");
  p->channel = PREFS_CH_EMAIL;
  static const int64_t offs[] = {24 * 3600, 2 * 3600, 30 * 60, 5 * 60};
  memcpy(p->offsets_s, offs, sizeof offs);
  p->noffsets = 4;
  p->quiet_enabled = 1;
  p->quiet_start_min = 22 * 60;
  p->quiet_end_min = 7 * 60;
  p->weekend = PREFS_WEEKEND_NORMAL;
  p->escalation_threshold_s = 30 * 60;
  p->max_call_attempts = 2;
  p->travel_buffer_s = 0;
  p->all_day_min = 18 * 60;
  strcpy(p->locale, "en");
}

void prefs_free(prefs_t *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nvip; i++) free(p->vip_organizers[i]);
  for (size_t i = 0; i < p->ninternal; i++) free(p->internal_domains[i]);
  p->nvip = p->ninternal = 0;
}

void prefs_errors_free(prefs_errors_t *e) {
  if (!e) return;
  for (size_t i = 0; i < e->n; i++) free(e->msgs[i]);
  free(e->msgs);
  e->msgs = NULL;
  e->n = 0;
}

__attribute__((format(printf, 3, 4))) static void
err_add(prefs_errors_t *e, const char *field, const char *fmt, ...) {
  if (!e) return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  e->msgs = xrealloc(e->msgs, (e->n + 1) * sizeof *e->msgs);
  e->msgs[e->n++] = xasprintf("%s: %s", field, msg);
}

/* ---- value checks (return 0 or -1) ---- */

/* "24h", "30m", "1d", "90s", "1h30m"; or an integer number of seconds. */
static int parse_duration(json_object *v, int64_t *out) {
  if (json_object_is_type(v, json_type_int)) {
    int64_t n = json_object_get_int64(v);
    if (n < 0 || n > 366LL * DAY_S) return -1;
    *out = n;
    return 0;
  }
  if (!json_object_is_type(v, json_type_string)) return -1;
  const char *s = json_object_get_string(v);
  int64_t total = 0;
  int parts = 0;
  while (*s) {
    if (!isdigit((unsigned char)*s)) return -1;
    int64_t n = 0;
    while (isdigit((unsigned char)*s)) {
      n = n * 10 + (*s++ - '0');
      if (n > 1000000) return -1;
    }
    int64_t unit;
    switch (*s++) {
    case 'd':
      unit = DAY_S;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    case 's':
      unit = 1;
      break;
    default:
      return -1;
    }
    total += n * unit;
    if (total > 366LL * DAY_S) return -1;
    parts++;
  }
  if (parts == 0) return -1;
  *out = total;
  return 0;
}

/* "HH:MM" -> minutes of the day. */
static int parse_hhmm(json_object *v, int *out) {
  if (!json_object_is_type(v, json_type_string)) return -1;
  const char *s = json_object_get_string(v);
  if (strlen(s) != 5 || s[2] != ':') return -1;
  for (int i = 0; i < 5; i++)
    if (i != 2 && !isdigit((unsigned char)s[i])) return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return -1;
  *out = h * 60 + m;
  return 0;
}

/* E.164: "+", a non-zero digit, 7..15 digits in all. */
static int phone_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 8 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return 0;
  for (size_t i = 1; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return 0;
  return 1;
}

/* Domain sanity: labels of [a-z0-9-], not starting/ending with '-',
 * at least two labels. */
static int domain_ok(const char *d) {
  size_t n = strlen(d);
  if (n < 3 || n > 253) return 0;
  int labels = 0;
  const char *p = d;
  while (*p) {
    const char *b = p;
    while (*p && *p != '.') {
      unsigned char c = (unsigned char)*p;
      if (!isalnum(c) && c != '-') return 0;
      p++;
    }
    size_t len = (size_t)(p - b);
    if (len == 0 || len > 63 || b[0] == '-' || p[-1] == '-') return 0;
    labels++;
    if (*p == '.') {
      p++;
      if (!*p) return 0;
    }
  }
  return labels >= 2;
}

static int email_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > PREFS_EMAIL_MAX) return 0;
  const char *at = strchr(s, '@');
  if (!at || at == s || strchr(at + 1, '@') || at - s > 64) return 0;
  for (const char *p = s; p < at; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= ' ' || c >= 0x7f || strchr("\"(),:;<>[\\]", c)) return 0;
  }
  if (s[0] == '.' || at[-1] == '.' || strstr(s, "..")) return 0;
  return domain_ok(at + 1);
}

static void lower(char *s) {
  for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static const char *type_name(json_object *v) {
  switch (json_object_get_type(v)) {
  case json_type_null:
    return "null";
  case json_type_boolean:
    return "a boolean";
  case json_type_double:
  case json_type_int:
    return "a number";
  case json_type_object:
    return "an object";
  case json_type_array:
    return "an array";
  case json_type_string:
    return "a string";
  }
  return "?";
}

/* ---- fields ---- */

static void f_string_list(json_object *v, const char *field, int is_domain,
                          char **dst, size_t *ndst, prefs_errors_t *e) {
  if (!json_object_is_type(v, json_type_array)) {
    err_add(e, field, "must be an array of strings, not %s", type_name(v));
    return;
  }
  size_t n = json_object_array_length(v);
  if (n > PREFS_MAX_LIST) {
    err_add(e, field, "at most %d entries", PREFS_MAX_LIST);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    json_object *it = json_object_array_get_idx(v, i);
    char f[64];
    snprintf(f, sizeof f, "%s[%zu]", field, i);
    if (!json_object_is_type(it, json_type_string)) {
      err_add(e, f, "must be a string");
      continue;
    }
    const char *s = json_object_get_string(it);
    if (is_domain && s[0] == '@') s++;
    char *c = xstrdup(s);
    lower(c);
    if (is_domain ? !domain_ok(c) : !email_ok(c)) {
      err_add(e, f,
              is_domain ? "must be a domain name like example.com"
                        : "must be an e-mail address");
      free(c);
      continue;
    }
    int dup = 0;
    for (size_t k = 0; k < *ndst; k++) dup |= strcmp(dst[k], c) == 0;
    if (dup) {
      free(c);
      continue;
    }
    dst[(*ndst)++] = c;
  }
}

static void f_offsets(json_object *v, prefs_t *p, prefs_errors_t *e) {
  if (!json_object_is_type(v, json_type_array)) {
    err_add(e, "offsets", "must be an array of durations, not %s",
            type_name(v));
    return;
  }
  size_t n = json_object_array_length(v);
  if (n < 1 || n > PREFS_MAX_OFFSETS) {
    err_add(e, "offsets", "must list 1 to %d durations", PREFS_MAX_OFFSETS);
    return;
  }
  int64_t tmp[PREFS_MAX_OFFSETS];
  size_t nt = 0;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    char f[32];
    snprintf(f, sizeof f, "offsets[%zu]", i);
    int64_t d;
    if (parse_duration(json_object_array_get_idx(v, i), &d) != 0) {
      err_add(e, f, "must be a duration like \"24h\", \"30m\" or seconds");
      bad = 1;
      continue;
    }
    if (d < MIN_S || d > 14 * DAY_S) {
      err_add(e, f, "must be between 1m and 14d");
      bad = 1;
      continue;
    }
    int dup = 0;
    for (size_t k = 0; k < nt; k++) dup |= tmp[k] == d;
    if (dup) {
      err_add(e, f, "duplicate offset");
      bad = 1;
      continue;
    }
    tmp[nt++] = d;
  }
  if (bad) return;
  qsort(tmp, nt, sizeof tmp[0], cmp_desc);
  memcpy(p->offsets_s, tmp, nt * sizeof tmp[0]);
  p->noffsets = nt;
}

static void f_quiet(json_object *v, prefs_t *p, prefs_errors_t *e) {
  if (json_object_is_type(v, json_type_null)) {
    p->quiet_enabled = 0;
    return;
  }
  if (!json_object_is_type(v, json_type_object)) {
    err_add(e, "quiet_hours",
            "must be {\"start\": \"HH:MM\", \"end\": "
            "\"HH:MM\"} or null");
    return;
  }
  int start = -1, end = -1, ok = 1;
  json_object_object_foreach(v, key, val) {
    char f[80];
    snprintf(f, sizeof f, "quiet_hours.%.60s", key);
    int *dst = strcmp(key, "start") == 0 ? &start
               : strcmp(key, "end") == 0 ? &end
                                         : NULL;
    if (!dst) {
      err_add(e, f, "unknown field");
      ok = 0;
    } else if (parse_hhmm(val, dst) != 0) {
      err_add(e, f, "must be a time \"HH:MM\"");
      ok = 0;
    }
  }
  if (!ok) return;
  if (start < 0 || end < 0) {
    err_add(e, "quiet_hours", "needs both start and end");
  } else if (start == end) {
    err_add(e, "quiet_hours", "start and end must differ");
  } else {
    p->quiet_enabled = 1;
    p->quiet_start_min = start;
    p->quiet_end_min = end;
  }
}

static void f_duration(json_object *v, const char *field, int64_t lo,
                       int64_t hi, const char *range, int64_t *dst,
                       prefs_errors_t *e) {
  int64_t d;
  if (parse_duration(v, &d) != 0)
    err_add(e, field, "must be a duration like \"30m\" or seconds");
  else if (d < lo || d > hi)
    err_add(e, field, "must be between %s", range);
  else
    *dst = d;
}

static int locale_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 2 || n >= 16) return 0;
  size_t i = 0;
  while (i < n && islower((unsigned char)s[i])) i++;
  if (i < 2 || i > 3) return 0;
  while (i < n) {
    if (s[i] != '-' && s[i] != '_') return 0;
    size_t b = ++i;
    while (i < n && isalnum((unsigned char)s[i])) i++;
    if (i - b < 2 || i - b > 8) return 0;
  }
  return 1;
}

static void parse_obj(json_object *o, const char *account_email, prefs_t *p,
                      int *email_set, prefs_errors_t *e) {
  json_object_object_foreach(o, key, v) {
    int is_str = json_object_is_type(v, json_type_string);
    const char *s = is_str ? json_object_get_string(v) : "";
    if (strcmp(key, "timezone") == 0) {
      if (!is_str || strlen(s) >= PREFS_TZ_MAX || !tz_get(s))
        err_add(e, key,
                "unknown time zone (use an IANA name like "
                "\"Europe/Berlin\")");
      else
        strcpy(p->timezone, s);
    } else if (strcmp(key, "email") == 0) {
      if (json_object_is_type(v, json_type_null)) continue;
      char tmp[PREFS_EMAIL_MAX + 1];
      /* The account's own address is the default prefs_to_json() writes
       * back, so it is accepted even where email_ok() is stricter than
       * the account rule (a single-label domain such as admin@test). */
      int own = is_str && account_email && strchr(s, '@') &&
                strcmp(s, account_email) == 0;
      if (!is_str || strlen(s) > PREFS_EMAIL_MAX || (!own && !email_ok(s))) {
        err_add(e, key, "must be an e-mail address");
        continue;
      }
      strcpy(tmp, s);
      /* the domain is case-insensitive; the local part is kept */
      lower(strchr(tmp, '@'));
      strcpy(p->email, tmp);
      *email_set = 1;
    } else if (strcmp(key, "phone") == 0) {
      if (json_object_is_type(v, json_type_null)) {
        p->phone[0] = '\0';
      } else if (!is_str || !phone_ok(s)) {
        err_add(e, key, "must be an E.164 number like \"+4930123456\"");
      } else {
        strcpy(p->phone, s);
      }
    } else if (strcmp(key, "channel") == 0) {
      if (is_str && strcmp(s, "email") == 0)
        p->channel = PREFS_CH_EMAIL;
      else if (is_str && strcmp(s, "call") == 0)
        p->channel = PREFS_CH_CALL;
      else if (is_str && strcmp(s, "both") == 0)
        p->channel = PREFS_CH_BOTH;
      else
        err_add(e, key, "must be \"email\", \"call\" or \"both\"");
    } else if (strcmp(key, "offsets") == 0) {
      f_offsets(v, p, e);
    } else if (strcmp(key, "quiet_hours") == 0) {
      f_quiet(v, p, e);
    } else if (strcmp(key, "weekend") == 0) {
      if (is_str && strcmp(s, "normal") == 0)
        p->weekend = PREFS_WEEKEND_NORMAL;
      else if (is_str && strcmp(s, "email_only") == 0)
        p->weekend = PREFS_WEEKEND_EMAIL_ONLY;
      else if (is_str && strcmp(s, "none") == 0)
        p->weekend = PREFS_WEEKEND_NONE;
      else
        err_add(e, key, "must be \"normal\", \"email_only\" or \"none\"");
    } else if (strcmp(key, "escalation_threshold") == 0) {
      f_duration(v, key, 0, 14 * DAY_S, "0 and 14d", &p->escalation_threshold_s,
                 e);
    } else if (strcmp(key, "max_call_attempts") == 0) {
      int64_t n = json_object_get_int64(v);
      if (!json_object_is_type(v, json_type_int) || n < 1 || n > 5)
        err_add(e, key, "must be an integer from 1 to 5");
      else
        p->max_call_attempts = (int)n;
    } else if (strcmp(key, "vip_organizers") == 0) {
      f_string_list(v, key, 0, p->vip_organizers, &p->nvip, e);
    } else if (strcmp(key, "internal_domains") == 0) {
      f_string_list(v, key, 1, p->internal_domains, &p->ninternal, e);
    } else if (strcmp(key, "travel_buffer") == 0) {
      f_duration(v, key, 0, 4 * 3600, "0 and 4h", &p->travel_buffer_s, e);
    } else if (strcmp(key, "all_day_time") == 0) {
      if (parse_hhmm(v, &p->all_day_min) != 0)
        err_add(e, key, "must be a time \"HH:MM\"");
    } else if (strcmp(key, "locale") == 0) {
      if (!is_str || !locale_ok(s))
        err_add(e, key, "must be a language tag like \"en\" or \"de-CH\"");
      else
        strcpy(p->locale, s);
    } else {
      char f[80];
      snprintf(f, sizeof f, "%.60s", key);
      err_add(e, f, "unknown field");
    }
  }
}

int prefs_parse(const char *json, const char *account_email, prefs_t *out,
                prefs_errors_t *errs) {
  prefs_errors_t local = {0};
  prefs_errors_t *e = errs ? errs : &local;
  size_t before = e->n;
  prefs_defaults(out);
  int email_set = 0;
  if (json && *json) {
    enum json_tokener_error jerr;
    json_object *o = json_tokener_parse_verbose(json, &jerr);
    if (!o && jerr != json_tokener_success) {
      err_add(e, "preferences", "invalid JSON (%s)",
              json_tokener_error_desc(jerr));
    } else if (o && !json_object_is_type(o, json_type_object)) {
      err_add(e, "preferences", "must be a JSON object");
    } else if (o) {
      parse_obj(o, account_email, out, &email_set, e);
    }
    json_object_put(o);
  }
  if (e->n > before) {
    prefs_free(out);
    prefs_defaults(out);
    email_set = 0;
  }
  if (!email_set && account_email && strlen(account_email) <= PREFS_EMAIL_MAX)
    strcpy(out->email, account_email);
  int rc = e->n > before ? -1 : 0;
  prefs_errors_free(&local);
  return rc;
}

void prefs_load(const char *json, const char *account_email, prefs_t *out) {
  if (prefs_parse(json, account_email, out, NULL) == 0) return;
  prefs_free(out);
  prefs_parse("{}", account_email, out, NULL);
}

static void dur_str(int64_t s, char *buf, size_t n) {
  if (s % 3600 == 0)
    snprintf(buf, n, "%lldh", (long long)(s / 3600));
  else if (s % 60 == 0)
    snprintf(buf, n, "%lldm", (long long)(s / 60));
  else
    snprintf(buf, n, "%llds", (long long)s);
}

static json_object *j_dur(int64_t s) {
  char b[32];
  dur_str(s, b, sizeof b);
  return json_object_new_string(b);
}

static json_object *j_hhmm(int min) {
  char b[8];
  snprintf(b, sizeof b, "%02d:%02d", min / 60 % 24, min % 60);
  return json_object_new_string(b);
}

char *prefs_to_json(const prefs_t *p) {
  static const char *const ch[] = {"", "email", "call", "both"};
  static const char *const we[] = {"normal", "email_only", "none"};
  json_object *o = json_object_new_object();
  json_object_object_add(o, "timezone", json_object_new_string(p->timezone));
  json_object_object_add(o, "email",
                         p->email[0] ? json_object_new_string(p->email) : NULL);
  json_object_object_add(o, "phone",
                         p->phone[0] ? json_object_new_string(p->phone) : NULL);
  json_object_object_add(
      o, "channel",
      json_object_new_string(p->channel >= PREFS_CH_EMAIL &&
                                     p->channel <= PREFS_CH_BOTH
                                 ? ch[p->channel]
                                 : "email"));
  json_object *offs = json_object_new_array();
  for (size_t i = 0; i < p->noffsets; i++)
    json_object_array_add(offs, j_dur(p->offsets_s[i]));
  json_object_object_add(o, "offsets", offs);
  if (p->quiet_enabled) {
    json_object *q = json_object_new_object();
    json_object_object_add(q, "start", j_hhmm(p->quiet_start_min));
    json_object_object_add(q, "end", j_hhmm(p->quiet_end_min));
    json_object_object_add(o, "quiet_hours", q);
  } else {
    json_object_object_add(o, "quiet_hours", NULL);
  }
  json_object_object_add(
      o, "weekend",
      json_object_new_string((unsigned)p->weekend <= PREFS_WEEKEND_NONE
                                 ? we[p->weekend]
                                 : "normal"));
  json_object_object_add(o, "escalation_threshold",
                         j_dur(p->escalation_threshold_s));
  json_object_object_add(o, "max_call_attempts",
                         json_object_new_int(p->max_call_attempts));
  json_object *vip = json_object_new_array();
  for (size_t i = 0; i < p->nvip; i++)
    json_object_array_add(vip, json_object_new_string(p->vip_organizers[i]));
  json_object_object_add(o, "vip_organizers", vip);
  json_object *dom = json_object_new_array();
  for (size_t i = 0; i < p->ninternal; i++)
    json_object_array_add(dom, json_object_new_string(p->internal_domains[i]));
  json_object_object_add(o, "internal_domains", dom);
  json_object_object_add(o, "travel_buffer", j_dur(p->travel_buffer_s));
  json_object_object_add(o, "all_day_time", j_hhmm(p->all_day_min));
  json_object_object_add(o, "locale", json_object_new_string(p->locale));
  char *s = xstrdup(json_object_to_json_string_ext(
      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(o);
  return s;
}
