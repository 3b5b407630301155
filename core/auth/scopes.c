/* scopes.c: API token scopes as names and bits. Pure functions (fuzzed). */
#include "auth.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

static const struct {
  const char *name;
  unsigned bit;
} scope_names[] = {
    {"read", AUTH_SCOPE_READ},
    {"write", AUTH_SCOPE_WRITE},
    {"admin", AUTH_SCOPE_ADMIN},
};

static int scope_bit(const char *s, size_t n) {
  for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
    if (strlen(scope_names[i].name) == n &&
        memcmp(scope_names[i].name, s, n) == 0)
      return (int)scope_names[i].bit;
  return -EINVAL;
}

static int parse_list(const char *text) {
  int bits = 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    const char *w = p;
    while (*p && *p != ' ' && *p != ',') p++;
    int b = scope_bit(w, (size_t)(p - w));
    if (b < 0) return b;
    bits |= b;
  }
  return bits ? bits : -EINVAL;
}

static int parse_array(const char *text) {
  json_object *root = json_tokener_parse(text);
  int bits = -EINVAL;
  if (!root || !json_object_is_type(root, json_type_array)) goto done;
  size_t n = json_object_array_length(root);
  bits = 0;
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(root, i);
    if (!json_object_is_type(e, json_type_string)) {
      bits = -EINVAL;
      goto done;
    }
    int b = scope_bit(json_object_get_string(e),
                      (size_t)json_object_get_string_len(e));
    if (b < 0) {
      bits = b;
      goto done;
    }
    bits |= b;
  }
  if (!bits) bits = -EINVAL;
done:
  if (root) json_object_put(root);
  return bits;
}

int auth_scopes_parse(const char *text, auth_ftype_t type) {
  if (!text) return -EINVAL;
  return type == AUTH_F_JSON ? parse_array(text) : parse_list(text);
}

void auth_scopes_json(unsigned scopes, buf_t *out) {
  int first = 1;
  buf_puts(out, "[");
  for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
    if (!(scopes & scope_names[i].bit)) continue;
    buf_printf(out, "%s\"%s\"", first ? "" : ",", scope_names[i].name);
    first = 0;
  }
  buf_puts(out, "]");
}
