/* mail_common.c: see mail_common.h. */
#include "mail_common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *mail_b64_encode(const void *data, size_t len, size_t line) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *p = data;
  size_t chars = (len + 2) / 3 * 4;
  size_t breaks = line && chars ? (chars + line - 1) / line : 0;
  char *out = malloc(chars + 2 * breaks + 1);
  if (!out) return NULL;
  size_t o = 0, col = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < len) v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < len) v |= p[i + 2];
    out[o++] = t[v >> 18];
    out[o++] = t[(v >> 12) & 63];
    out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? t[v & 63] : '=';
    col += 4;
    if (line && (col >= line || i + 3 >= len)) {
      out[o++] = '\r';
      out[o++] = '\n';
      col = 0;
    }
  }
  out[o] = '\0';
  return out;
}

int mail_ics_method_ok(const char *ics, const char *method) {
  if (!ics || !method || !*method || strlen(method) > 32) return 0;
  for (const char *p = method; *p; p++)
    if (!(isupper((unsigned char)*p) || *p == '-')) return 0;
  size_t ml = strlen(method);
  const char *line = ics;
  while (*line) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    if (len && line[len - 1] == '\r') len--;
    if (len > 7 && strncasecmp(line, "METHOD:", 7) == 0)
      return len - 7 == ml && strncasecmp(line + 7, method, ml) == 0;
    if (!eol) break;
    line = eol + 1;
  }
  return 0;
}
