/*
 * client.h: a tiny non-blocking HTTP client for the server tests, driven
 * from the same private loop as the server, and a response splitter.
 */
#ifndef TEST_HTTP_CLIENT_H
#define TEST_HTTP_CLIENT_H

#include "common/buf.h"

#include <stddef.h>
#include <uv.h>

typedef struct client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  int connected; /* connect callback ran */
  int conn_err;
  int eof; /* EOF or error read */
  int err; /* read error other than EOF */
  int closed;
  buf_t in;
} client_t;

typedef struct resp {
  int status;
  char head[8192]; /* status line + headers, NUL-terminated */
  char *body;      /* heap, NUL-terminated */
  size_t body_len;
} resp_t;

/** Runs the loop until cond is true; fails the test if the loop runs dry. */
#define RUN_UNTIL(loop, cond)                                                  \
  do {                                                                         \
    while (!(cond)) {                                                          \
      if (uv_run((loop), UV_RUN_ONCE) == 0 && !(cond))                         \
        fail_msg("loop ran dry waiting for: %s", #cond);                       \
    }                                                                          \
  } while (0)

void client_connect(uv_loop_t *loop, client_t *c, int port);
/** Starts connecting; completes in the loop (c->connected). */
void client_connect_start(uv_loop_t *loop, client_t *c, int port);
void client_send(client_t *c, const char *data, size_t len);
void client_sends(client_t *c, const char *s);
void client_close(client_t *c);
void client_free(client_t *c);

/**
 * Splits complete responses off the front of c->in (HEAD: no body).
 * Returns the number parsed into out[0..max).
 */
size_t client_responses(client_t *c, resp_t *out, size_t max, int head);
/** Number of complete responses buffered (non-destructive). */
size_t client_count(client_t *c, int head);
/** Header value (first match, case-insensitive) copied into out, or NULL. */
const char *resp_header(const resp_t *r, const char *name, char *out,
                        size_t cap);
void resp_free(resp_t *r);

#endif
