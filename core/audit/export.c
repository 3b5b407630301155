/* export.c: everything about one person, as JSON (GDPR access). */
#include "audit_int.h"

#include "common/alloc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct export_state {
  json_object *entries;
  int64_t n, unreadable;
};

static json_object *details_value(const char *text) {
  const char *p = text;
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  if (*p == '{' || *p == '[') {
    json_tokener *tok = json_tokener_new();
    json_object *v = json_tokener_parse_ex(tok, text, (int)strlen(text));
    bool whole = v && json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == strlen(text);
    json_tokener_free(tok);
    if (whole) return v;
    json_object_put(v);
  }
  return json_object_new_string(text);
}

static int export_cb(void *arg, const audit_row_t *row, const char *details,
                     int err) {
  struct export_state *es = arg;
  json_object *e = json_object_new_object();
  char when[40];
  time_t secs = (time_t)(row->time_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)(row->time_ms % 1000));
  json_object_object_add(e, "seq", json_object_new_int64(row->seq));
  json_object_object_add(e, "time", json_object_new_string(when));
  json_object_object_add(e, "time_ms", json_object_new_int64(row->time_ms));
  json_object_object_add(e, "actor", json_object_new_string(row->actor));
  json_object_object_add(e, "action", json_object_new_string(row->action));
  json_object_object_add(e, "target", json_object_new_string(row->target));
  json_object_object_add(e, "outcome", json_object_new_string(row->outcome));
  if (details) {
    json_object_object_add(e, "details", details_value(details));
  } else {
    json_object_object_add(e, "details", NULL);
    json_object_object_add(e, "details_error",
                           json_object_new_string(err == AUDIT_EERASED
                                                      ? "erased"
                                                      : secrets_strerror(err)));
    es->unreadable++;
  }
  json_object_array_add(es->entries, e);
  es->n++;
  return 0;
}

int audit_export_subject(audit_log_t *log, const char *subject, char **json) {
  if (!subject || !*subject) return -EINVAL;
  struct export_state es = {.entries = json_object_new_array()};
  int rc = audit_list(log, 1, subject, 0, export_cb, &es);
  if (rc < 0) {
    json_object_put(es.entries);
    return rc;
  }
  char *wrapped = NULL;
  int krc = log->sink.ops->key_get(log->sink.ctx, subject, &wrapped);
  free(wrapped);
  if (krc < 0 && krc != -ENOENT) {
    json_object_put(es.entries);
    return krc;
  }
  json_object *root = json_object_new_object();
  json_object_object_add(root, "subject", json_object_new_string(subject));
  /* Erased: no key record while encrypted entries exist. */
  json_object_object_add(
      root, "erased",
      json_object_new_boolean(krc == -ENOENT && es.unreadable > 0));
  json_object_object_add(root, "entries", es.entries);
  *json = xstrdup(json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(root);
  return 0;
}
