/*
 * gcal_map.c: events.list JSON -> normalized events; the RSVP PATCH body.
 */
#include "gcal_map.h"

#include <ctype.h>
#include <json-c/json.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *jstr(json_object *o, const char *key) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return json_object_get_string(v);
}

static json_object *jobj(json_object *o, const char *key) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_object))
    return NULL;
  return v;
}

static int jbool(json_object *o, const char *key) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v)) return 0;
  return json_object_is_type(v, json_type_boolean) &&
         json_object_get_boolean(v);
}

/* UTC seconds of a civil time (libc's timegm; _GNU_SOURCE). */
static int64_t utc_secs(int y, int mo, int d, int h, int mi, int se) {
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = se};
  return (int64_t)timegm(&tm);
}

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

static int parse_date(const char *s, int *y, int *m, int *d) {
  if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-') return -1;
  if (digits(s, 4, y) || digits(s + 5, 2, m) || digits(s + 8, 2, d)) return -1;
  if (*m < 1 || *m > 12 || *d < 1 || *d > 31) return -1;
  return 0;
}

int gcal_rfc3339_ms(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, se;
  if (!s || parse_date(s, &y, &mo, &d) || strlen(s) < 19 ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':')
    return -1;
  if (digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
    return -1;
  if (h > 23 || mi > 59 || se > 60) return -1;
  const char *p = s + 19;
  int frac_ms = 0;
  if (*p == '.') {
    p++;
    int scale = 100, nd = 0;
    while (isdigit((unsigned char)*p)) {
      if (nd < 3) frac_ms += (*p - '0') * scale;
      scale /= 10;
      nd++;
      p++;
    }
    if (nd == 0) return -1;
  }
  int off_s = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    if (strlen(p) < 6 || p[3] != ':' || digits(p + 1, 2, &oh) ||
        digits(p + 4, 2, &om) || oh > 23 || om > 59)
      return -1;
    off_s = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (*p) return -1;
  int64_t secs = utc_secs(y, mo, d, h, mi, se) - off_s;
  *ms = secs * 1000 + frac_ms;
  return 0;
}

int gcal_local_midnight_ms(const char *date, const char *tz, int64_t *ms) {
  int y, m, d;
  if (parse_date(date, &y, &m, &d) || date[10] != '\0') return -1;
  if (!tz || !*tz || !strcmp(tz, "UTC") || !strcmp(tz, "Etc/UTC")) {
    *ms = utc_secs(y, m, d, 0, 0, 0) * 1000;
    return 0;
  }
  icaltimezone *zone = icaltimezone_get_builtin_timezone(tz);
  if (!zone) return -1;
  struct icaltimetype t = icaltime_null_time();
  t.year = y;
  t.month = m;
  t.day = d;
  t.is_date = 0;
  time_t tt = icaltime_as_timet_with_zone(t, zone);
  *ms = (int64_t)tt * 1000;
  return 0;
}

void gcal_format_utc(int64_t ms, char *buf, size_t len) {
  time_t s = (time_t)(ms / 1000);
  if (ms < 0 && ms % 1000) s--;
  struct tm tm;
  if (!gmtime_r(&s, &tm)) memset(&tm, 0, sizeof tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *dup_date(const char *date) {
  char *s = malloc(11);
  if (s) {
    memcpy(s, date, 10);
    s[10] = '\0';
  }
  return s;
}

/* Fills one event from item; 1 mapped, 0 skipped, <0 error. */
static int map_item(gcal_page_t *p, json_object *item, const char *cal_tz,
                    const char *default_tz, assist_cal_event_t *ev,
                    assist_cal_attendee_t *att) {
  const char *id = jstr(item, "id");
  if (!id || !*id) return 0;
  memset(ev, 0, sizeof *ev);
  ev->struct_size = sizeof *ev;
  ev->external_id = id;
  ev->etag = jstr(item, "etag");
  ev->ical_uid = jstr(item, "iCalUID");
  ev->summary = jstr(item, "summary");
  ev->description = jstr(item, "description");
  ev->location = jstr(item, "location");
  const char *status = jstr(item, "status");
  if (status && strcmp(status, "confirmed") && strcmp(status, "tentative") &&
      strcmp(status, "cancelled"))
    status = "confirmed";
  ev->status = status ? status : "confirmed";
  json_object *seq;
  if (json_object_object_get_ex(item, "sequence", &seq) &&
      json_object_is_type(seq, json_type_int))
    ev->sequence = json_object_get_int(seq);
  json_object *org = jobj(item, "organizer");
  ev->organizer = jstr(org, "email");

  json_object *start = jobj(item, "start"), *end = jobj(item, "end");
  const char *ev_tz = jstr(start, "timeZone");
  ev->tz = ev_tz ? ev_tz : (cal_tz ? cal_tz : default_tz);
  const char *sdt = jstr(start, "dateTime"), *edt = jstr(end, "dateTime");
  const char *sd = jstr(start, "date"), *ed = jstr(end, "date");
  int cancelled = !strcmp(ev->status, "cancelled");
  if (sdt && edt) {
    if (gcal_rfc3339_ms(sdt, &ev->start_ms) ||
        gcal_rfc3339_ms(edt, &ev->end_ms))
      return cancelled ? 1 : 0;
  } else if (sd && ed) {
    /* The calendar's zone decides the local midnight. */
    const char *zone = cal_tz ? cal_tz : (ev_tz ? ev_tz : default_tz);
    if (gcal_local_midnight_ms(sd, zone, &ev->start_ms) ||
        gcal_local_midnight_ms(ed, zone, &ev->end_ms)) {
      /* an unknown zone name: fall back to the default zone */
      if (gcal_local_midnight_ms(sd, default_tz, &ev->start_ms) ||
          gcal_local_midnight_ms(ed, default_tz, &ev->end_ms))
        return cancelled ? 1 : 0;
      zone = default_tz;
    }
    char *date = dup_date(sd);
    if (!date) return ASSIST_ENOMEM;
    p->dates[p->ndates++] = date;
    ev->all_day = 1;
    ev->start_date = date;
    ev->tz = zone;
  } else if (!cancelled) {
    return 0;
  }
  if (ev->end_ms < ev->start_ms) ev->end_ms = ev->start_ms;

  json_object *atts;
  size_t na = 0;
  if (json_object_object_get_ex(item, "attendees", &atts) &&
      json_object_is_type(atts, json_type_array)) {
    size_t len = json_object_array_length(atts);
    for (size_t i = 0; i < len; i++) {
      json_object *a = json_object_array_get_idx(atts, i);
      const char *email = jstr(a, "email");
      if (!email || !*email) continue;
      const char *rs = jstr(a, "responseStatus");
      if (!rs || (strcmp(rs, "accepted") && strcmp(rs, "declined") &&
                  strcmp(rs, "tentative")))
        rs = "needsAction";
      att[na].email = email;
      att[na].name = jstr(a, "displayName");
      att[na].status = rs;
      att[na].self = jbool(a, "self");
      na++;
    }
  }
  ev->attendees = na ? att : NULL;
  ev->nattendees = na;
  return 1;
}

static size_t count_attendees(json_object *items) {
  size_t total = 0, n = json_object_array_length(items);
  for (size_t i = 0; i < n; i++) {
    json_object *a;
    if (json_object_object_get_ex(json_object_array_get_idx(items, i),
                                  "attendees", &a) &&
        json_object_is_type(a, json_type_array))
      total += json_object_array_length(a);
  }
  return total;
}

int gcal_page_parse(const char *body, size_t len, const char *default_tz,
                    gcal_page_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!default_tz || !*default_tz) default_tz = "UTC";
  json_tokener *tok = json_tokener_new();
  if (!tok) return ASSIST_ENOMEM;
  json_object *root = json_tokener_parse_ex(tok, body, (int)len);
  enum json_tokener_error je = json_tokener_get_error(tok);
  json_tokener_free(tok);
  if (!root || je != json_tokener_success) {
    if (root) json_object_put(root);
    snprintf(err, errlen, "not JSON: %s", json_tokener_error_desc(je));
    return ASSIST_EINVAL;
  }
  json_object *items = NULL;
  if (!json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    snprintf(err, errlen, "not a JSON object");
    return ASSIST_EINVAL;
  }
  out->root = root;
  out->next_page_token = jstr(root, "nextPageToken");
  out->next_sync_token = jstr(root, "nextSyncToken");
  out->time_zone = jstr(root, "timeZone");
  if (json_object_object_get_ex(root, "items", &items) &&
      !json_object_is_type(items, json_type_array)) {
    gcal_page_free(out);
    snprintf(err, errlen, "items is not an array");
    return ASSIST_EINVAL;
  }
  size_t n = items ? json_object_array_length(items) : 0;
  if (n == 0) return ASSIST_OK;
  out->ev = calloc(n, sizeof *out->ev);
  out->dates = calloc(n, sizeof *out->dates);
  size_t natt = count_attendees(items);
  out->att = calloc(natt ? natt : 1, sizeof *out->att);
  if (!out->ev || !out->dates || !out->att) {
    gcal_page_free(out);
    return ASSIST_ENOMEM;
  }
  size_t ai = 0;
  for (size_t i = 0; i < n; i++) {
    json_object *item = json_object_array_get_idx(items, i);
    if (!json_object_is_type(item, json_type_object)) {
      out->skipped++;
      continue;
    }
    int rc = map_item(out, item, out->time_zone, default_tz, &out->ev[out->n],
                      out->att + ai);
    if (rc < 0) {
      gcal_page_free(out);
      return rc;
    }
    if (rc == 0) {
      out->skipped++;
      continue;
    }
    ai += out->ev[out->n].nattendees;
    out->n++;
  }
  return ASSIST_OK;
}

void gcal_page_free(gcal_page_t *p) {
  if (!p) return;
  for (size_t i = 0; i < p->ndates; i++) free(p->dates[i]);
  free(p->dates);
  free(p->ev);
  free(p->att);
  if (p->root) json_object_put(p->root);
  memset(p, 0, sizeof *p);
}

int gcal_rsvp_patch(const char *event_json, const char *const *emails,
                    size_t nemails, const char *response, char **patch,
                    char **etag) {
  *patch = NULL;
  if (etag) *etag = NULL;
  json_object *root = json_tokener_parse(event_json);
  if (!root || !json_object_is_type(root, json_type_object)) {
    if (root) json_object_put(root);
    return ASSIST_EINVAL;
  }
  json_object *atts;
  int rc = ASSIST_ENOENT;
  if (!json_object_object_get_ex(root, "attendees", &atts) ||
      !json_object_is_type(atts, json_type_array))
    goto out;
  size_t n = json_object_array_length(atts);
  json_object *me = NULL;
  for (size_t i = 0; i < n && !me; i++) {
    json_object *a = json_object_array_get_idx(atts, i);
    if (json_object_is_type(a, json_type_object) && jbool(a, "self")) me = a;
  }
  for (size_t i = 0; i < n && !me; i++) {
    json_object *a = json_object_array_get_idx(atts, i);
    const char *email = jstr(a, "email");
    for (size_t k = 0; email && k < nemails && !me; k++)
      if (emails[k] && *emails[k] && !strcasecmp(email, emails[k])) me = a;
  }
  if (!me) goto out;
  rc = ASSIST_ENOMEM;
  json_object *rs = json_object_new_string(response);
  if (!rs) goto out;
  json_object_object_add(me, "responseStatus", rs);
  json_object *body = json_object_new_object();
  if (!body) goto out;
  json_object_object_add(body, "attendees", json_object_get(atts));
  const char *text =
      json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
  *patch = text ? strdup(text) : NULL;
  json_object_put(body);
  if (!*patch) goto out;
  const char *et = jstr(root, "etag");
  if (etag && et) {
    *etag = strdup(et);
    if (!*etag) {
      free(*patch);
      *patch = NULL;
      goto out;
    }
  }
  rc = ASSIST_OK;
out:
  json_object_put(root);
  return rc;
}
