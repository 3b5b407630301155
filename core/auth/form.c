/* form.c: request bodies (JSON objects and urlencoded forms) as flat
 * fields, and input checks (emails, ids). Pure functions (fuzzed). */
#include "auth_int.h"

#include "../common/alloc.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 64

static void add_field(auth_fields_t *out, char *name, char *value,
                      auth_ftype_t type) {
  out->f = xrealloc(out->f, (out->n + 1) * sizeof *out->f);
  out->f[out->n].name = name;
  out->f[out->n].value = value;
  out->f[out->n].type = type;
  out->n++;
}

void auth_fields_free(auth_fields_t *f) {
  for (size_t i = 0; i < f->n; i++) {
    free(f->f[i].name);
    free(f->f[i].value);
  }
  free(f->f);
  f->f = NULL;
  f->n = 0;
}

const char *auth_fields_get(const auth_fields_t *f, const char *name,
                            auth_ftype_t *type_out) {
  for (size_t i = 0; i < f->n; i++) {
    if (strcmp(f->f[i].name, name) == 0) {
      if (type_out) *type_out = f->f[i].type;
      return f->f[i].value;
    }
  }
  return NULL;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes [s, s+n) ('+' is a space); NULL on a bad escape or a NUL. */
static char *form_decode(const char *s, size_t n) {
  char *d = xmalloc(n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= n) goto bad;
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0) goto bad;
      c = (char)(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') goto bad;
    d[k++] = c;
  }
  d[k] = '\0';
  return d;
bad:
  free(d);
  return NULL;
}

int auth_form_parse(const char *body, size_t len, auth_fields_t *out) {
  memset(out, 0, sizeof *out);
  size_t i = 0;
  while (i < len) {
    size_t e = i;
    while (e < len && body[e] != '&') e++;
    if (e > i) {
      size_t eq = i;
      while (eq < e && body[eq] != '=') eq++;
      char *name = form_decode(body + i, eq - i);
      char *value =
          eq < e ? form_decode(body + eq + 1, e - eq - 1) : xstrdup("");
      if (!name || !value || out->n >= MAX_FIELDS) {
        free(name);
        free(value);
        auth_fields_free(out);
        return -EINVAL;
      }
      add_field(out, name, value, AUTH_F_STRING);
    }
    i = e + 1;
  }
  return 0;
}

int auth_json_parse(const char *body, size_t len, auth_fields_t *out) {
  memset(out, 0, sizeof *out);
  if (len > (size_t)INT32_MAX) return -EINVAL;
  json_tokener *tok = json_tokener_new_ex(32);
  if (!tok) return -ENOMEM;
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  json_object *root = json_tokener_parse_ex(tok, body, (int)len);
  enum json_tokener_error jerr = json_tokener_get_error(tok);
  size_t used = (size_t)json_tokener_get_parse_end(tok);
  json_tokener_free(tok);
  int rc = -EINVAL;
  if (!root || jerr != json_tokener_success) goto done;
  for (size_t i = used; i < len; i++) /* only blanks may follow */
    if (!strchr(" \t\r\n", body[i])) goto done;
  if (!json_object_is_type(root, json_type_object)) goto done;
  if (json_object_object_length(root) > MAX_FIELDS) goto done;
  json_object_object_foreach(root, key, val) {
    if (strlen(key) == 0) goto fail;
    if (json_object_is_type(val, json_type_string)) {
      const char *s = json_object_get_string(val);
      size_t sl = (size_t)json_object_get_string_len(val);
      if (strlen(s) != sl) goto fail; /* an embedded NUL */
      add_field(out, xstrdup(key), xstrndup(s, sl), AUTH_F_STRING);
    } else {
      const char *s =
          json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
      add_field(out, xstrdup(key), xstrdup(s ? s : "null"), AUTH_F_JSON);
    }
  }
  rc = 0;
  goto done;
fail:
  auth_fields_free(out);
done:
  if (root) json_object_put(root);
  return rc;
}

static int ctype_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  while (*ct == ' ') ct++;
  if (strncasecmp(ct, want, n) != 0) return 0;
  ct += n;
  while (*ct == ' ' || *ct == '\t') ct++;
  return *ct == '\0' || *ct == ';';
}

int auth_body_parse(const char *content_type, const char *body, size_t len,
                    auth_fields_t *out) {
  memset(out, 0, sizeof *out);
  if (len == 0) return 0;
  if (!content_type) return -ENOTSUP;
  if (ctype_is(content_type, "application/json"))
    return auth_json_parse(body, len, out);
  if (ctype_is(content_type, "application/x-www-form-urlencoded"))
    return auth_form_parse(body, len, out);
  return -ENOTSUP;
}

int auth_email_normalize(const char *in, char *out, size_t cap) {
  if (!in) return -EINVAL;
  while (*in == ' ' || *in == '\t') in++;
  size_t n = strlen(in);
  while (n && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
  if (n < 3 || n > 254 || n >= cap) return -EINVAL;
  size_t at = 0, nat = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '<' ||
        c == '>' || c == ',' || c == ';')
      return -EINVAL;
    if (c == '@') at = i, nat++;
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
  }
  out[n] = '\0';
  if (nat != 1 || at == 0 || at == n - 1) return -EINVAL;
  return 0;
}

int64_t auth_parse_id(const char *s) {
  if (!s || !*s || strlen(s) > 18) return 0;
  int64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    v = v * 10 + (*s - '0');
  }
  return v;
}
