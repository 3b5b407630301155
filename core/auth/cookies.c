/* cookies.c: Cookie header parsing, Set-Cookie building, and the
 * Authorization: Bearer header. Pure functions (fuzzed). */
#include "auth.h"

#include "../common/alloc.h"
#include "../common/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

/* RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and
 * backslash. */
static int cookie_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
         (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* RFC 7230 token characters (cookie names). */
static int tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int auth_cookie_get(const char *header, const char *name, char *out,
                    size_t cap) {
  if (!header || !name || !*name || cap == 0) return -ENOENT;
  size_t nl = strlen(name);
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ';') p++;
    if (!*p) break;
    const char *k = p;
    while (*p && *p != '=' && *p != ';') p++;
    size_t kl = (size_t)(p - k);
    while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t')) kl--;
    if (*p != '=') continue; /* a pair without '=': skip it */
    p++;
    while (*p == ' ' || *p == '\t') p++;
    const char *v = p;
    while (*p && *p != ';') p++;
    size_t vl = (size_t)(p - v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
    if (kl != nl || memcmp(k, name, nl) != 0) continue;
    if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v++, vl -= 2;
    for (size_t i = 0; i < vl; i++)
      if (!cookie_octet((unsigned char)v[i])) return -EINVAL;
    if (vl >= cap) return -ENOSPC;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return (int)vl;
  }
  return -ENOENT;
}

char *auth_cookie_build(const char *name, const char *value, int64_t max_age_s,
                        int secure) {
  if (!name || !*name || !value) return NULL;
  for (const char *c = name; *c; c++)
    if (!tchar((unsigned char)*c)) return NULL;
  for (const char *c = value; *c; c++)
    if (!cookie_octet((unsigned char)*c)) return NULL;
  if (max_age_s < 0) max_age_s = 0;
  return xasprintf("%s=%s; Path=/; Max-Age=%" PRId64
                   "; HttpOnly; SameSite=Lax%s",
                   name, value, max_age_s, secure ? "; Secure" : "");
}

static int token68(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '+' || c == '/';
}

int auth_bearer_parse(const char *header, char *out, size_t cap) {
  if (!header || cap == 0) return -ENOENT;
  const char *p = header;
  while (*p == ' ' || *p == '\t') p++;
  if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
    return strncasecmp(p, "Bearer", 6) == 0 && p[6] == '\0' ? -EINVAL : -ENOENT;
  p += 6;
  while (*p == ' ' || *p == '\t') p++;
  const char *t = p;
  while (token68((unsigned char)*p)) p++;
  size_t n = (size_t)(p - t);
  while (*p == '=') p++; /* token68 padding */
  size_t padded = (size_t)(p - t);
  while (*p == ' ' || *p == '\t') p++;
  if (*p || n == 0) return -EINVAL;
  if (padded >= cap) return -ENOSPC;
  memcpy(out, t, padded);
  out[padded] = '\0';
  return (int)padded;
}
