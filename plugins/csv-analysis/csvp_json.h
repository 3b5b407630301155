/*
 * csvp_json.h: the little JSON the csv-analysis plugin needs, without a
 * JSON library (the module links only the engine and libc): a growable
 * output buffer with string escaping, and lookups of top-level members of
 * an object (request bodies, job payloads, the plugin's own kv records).
 */
#ifndef CSVP_JSON_H
#define CSVP_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct csvp_buf {
  char *p; /* NUL-terminated when not NULL */
  size_t len, cap;
  int oom; /* sticky: an allocation failed */
} csvp_buf;

void csvp_buf_put(csvp_buf *b, const void *p, size_t n);
void csvp_buf_puts(csvp_buf *b, const char *s);
void csvp_buf_printf(csvp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** A JSON string literal (quotes included). Invalid UTF-8 bytes become
 * U+FFFD, control characters are escaped; NULL writes null. */
void csvp_buf_str(csvp_buf *b, const char *s);
void csvp_buf_free(csvp_buf *b);

/**
 * Finds member `key` of the top-level object in json[0..len). String
 * values are unescaped into *out (malloc'ed, owned by the caller).
 * Returns 0, -ENOENT when the key is absent or null, -EINVAL when the
 * text is not one JSON object or the member has another type, -ENOMEM.
 */
int csvp_json_string(const char *json, size_t len, const char *key, char **out);
/** As csvp_json_string for a number member. */
int csvp_json_number(const char *json, size_t len, const char *key,
                     double *out);

#endif
