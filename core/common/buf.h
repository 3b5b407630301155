/* buf.h: a growable byte buffer; always NUL-terminated for convenience. */
#ifndef ASSIST_BUF_H
#define ASSIST_BUF_H

#include <stddef.h>

typedef struct buf {
  char *data; /* owned; NULL until the first append */
  size_t len;
  size_t cap;
} buf_t;

void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Appends s as a JSON string literal, quotes included. */
void buf_json_str(buf_t *b, const char *s, size_t n);
/** Hands the bytes to the caller (free()) and empties the buffer. */
char *buf_take(buf_t *b);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);

#endif
