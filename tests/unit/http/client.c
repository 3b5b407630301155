#include "client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "common/alloc.h"

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  static char buf[65536];
  (void)h;
  (void)sz;
  *b = uv_buf_init(buf, sizeof buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  client_t *c = s->data;
  if (n > 0) {
    buf_append(&c->in, b->base, (size_t)n);
  } else if (n < 0) {
    c->eof = 1;
    if (n != UV_EOF) c->err = (int)n;
    uv_read_stop(s);
  }
}

static void on_connect(uv_connect_t *r, int status) {
  client_t *c = r->data;
  c->connected = 1;
  c->conn_err = status;
  if (status == 0) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void client_connect_start(uv_loop_t *loop, client_t *c, int port) {
  struct sockaddr_in sa;
  memset(c, 0, sizeof *c);
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  uv_ip4_addr("127.0.0.1", port, &sa);
  assert_int_equal(
      uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sa, on_connect), 0);
}

void client_connect(uv_loop_t *loop, client_t *c, int port) {
  client_connect_start(loop, c, port);
  RUN_UNTIL(loop, c->connected);
  assert_int_equal(c->conn_err, 0);
}

typedef struct wreq {
  uv_write_t w;
  char data[];
} wreq_t;

static void on_write(uv_write_t *w, int status) {
  (void)status; /* the peer may have closed: tests look at responses */
  free(w);
}

void client_send(client_t *c, const char *data, size_t len) {
  wreq_t *w = xmalloc(sizeof *w + len);
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) free(w);
}

void client_sends(client_t *c, const char *s) {
  client_send(c, s, strlen(s));
}

static void on_close(uv_handle_t *h) {
  client_t *c = h->data;
  c->closed = 1;
}

void client_close(client_t *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void client_free(client_t *c) {
  buf_free(&c->in);
}

/* Length of one complete response at d, or 0. */
static size_t one(const char *d, size_t len, resp_t *r, int head) {
  const char *end = NULL;
  for (size_t i = 0; i + 3 < len; i++) {
    if (memcmp(d + i, "\r\n\r\n", 4) == 0) {
      end = d + i + 4;
      break;
    }
  }
  if (!end) return 0;
  size_t hl = (size_t)(end - d);
  int status = 0;
  if (sscanf(d, "HTTP/1.1 %d", &status) != 1) return 0;
  size_t cl = 0;
  char tmp[8192];
  size_t n = hl < sizeof tmp - 1 ? hl : sizeof tmp - 1;
  memcpy(tmp, d, n);
  tmp[n] = '\0';
  const char *p = strcasestr(tmp, "\r\nContent-Length:");
  if (p && !head && status != 304 && status != 204 && status >= 200)
    cl = strtoul(p + 17, NULL, 10);
  if (status == 100) cl = 0;
  if (len - hl < cl) return 0;
  if (r) {
    r->status = status;
    memcpy(r->head, tmp, n + 1);
    r->body = xmalloc(cl + 1);
    memcpy(r->body, end, cl);
    r->body[cl] = '\0';
    r->body_len = cl;
  }
  return hl + cl;
}

size_t client_count(client_t *c, int head) {
  size_t off = 0, k = 0, n;
  while ((n = one(c->in.data + off, c->in.len - off, NULL, head)) > 0) {
    off += n;
    k++;
  }
  return k;
}

size_t client_responses(client_t *c, resp_t *out, size_t max, int head) {
  size_t off = 0, k = 0, n;
  while (k < max &&
         (n = one(c->in.data + off, c->in.len - off, &out[k], head)) > 0) {
    off += n;
    k++;
  }
  memmove(c->in.data, c->in.data + off, c->in.len - off);
  c->in.len -= off;
  if (c->in.data) c->in.data[c->in.len] = '\0';
  return k;
}

const char *resp_header(const resp_t *r, const char *name, char *out,
                        size_t cap) {
  size_t nl = strlen(name);
  const char *p = strstr(r->head, "\r\n");
  while (p && p[2] != '\r') {
    p += 2;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ') v++;
      const char *e = strstr(v, "\r\n");
      size_t l = e ? (size_t)(e - v) : strlen(v);
      if (l >= cap) l = cap - 1;
      memcpy(out, v, l);
      out[l] = '\0';
      return out;
    }
    p = strstr(p, "\r\n");
  }
  return NULL;
}

void resp_free(resp_t *r) {
  free(r->body);
  r->body = NULL;
}
