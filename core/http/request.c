/*
 * request.c: the request a handler sees (accessors, query decoding, the
 * request id) and the response writer (http_respond and friends).
 */
#include "internal.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------- lifecycle ---------------- */

void http_req_init(http_request_t *req, http_conn_t *c) {
  memset(req, 0, sizeof *req);
  req->conn = c;
  req->id_hdr = -1;
}

/* Buffers that grew past this are freed between requests, so one large
 * request does not pin memory on a keep-alive connection. */
#define KEEP_CAP 16384

static void shrink(buf_t *b) {
  if (b->cap > KEEP_CAP)
    buf_free(b);
  else
    buf_reset(b);
}

void http_req_reset(http_request_t *req) {
  http_spool_release(req->spool); /* closes and unlinks, asynchronously */
  req->spool = NULL;
  shrink(&req->hbuf);
  shrink(&req->body);
  shrink(&req->qbuf);
  req->state = REQ_IDLE;
  req->method = NULL;
  req->is_head = 0;
  req->keep_alive = 0;
  req->url_off = req->url_len = req->path_off = req->path_len = 0;
  req->nhdrs = 0;
  req->hdr_state = 0;
  req->hdr_bytes = 0;
  req->id_hdr = -1;
  req->expect_continue = 0;
  req->max_body = 0;
  req->url = req->path = NULL;
  req->nq = 0;
  req->q_parsed = 0;
  req->route_status = 0;
  memset(&req->match, 0, sizeof req->match);
  req->acquired = 0;
  req->token = NULL;
  req->release = NULL;
  req->app_ud = NULL;
  req->id[0] = '\0';
  req->responded = 0;
  req->status = 0;
  req->bytes = 0;
}

void http_req_free(http_request_t *req) {
  http_spool_release(req->spool);
  req->spool = NULL;
  buf_free(&req->hbuf);
  buf_free(&req->body);
  buf_free(&req->qbuf);
  free(req->hdrs);
  free(req->hdr_names);
  free(req->hdr_values);
  free(req->q_names);
  free(req->q_values);
}

void http_req_finalize(http_request_t *req) {
  size_t i, offs[ROUTER_MAX_PARAMS];
  /* NUL-terminated parameter copies first: the last appends to hbuf.
   * Copy through offsets: hbuf may have moved since routing (trailers). */
  for (i = 0; i < req->match.nparams; i++) {
    size_t vl = req->match.params[i].len;
    size_t voff = req->param_off[i];
    offs[i] = req->hbuf.len;
    buf_reserve(&req->hbuf, vl + 1);
    memcpy(req->hbuf.data + offs[i], req->hbuf.data + voff, vl);
    req->hbuf.len += vl;
    buf_append(&req->hbuf, "", 1);
  }
  const char *base = req->hbuf.data;
  for (i = 0; i < req->match.nparams; i++) {
    req->param_values[i] = base + offs[i];
    req->match.params[i].value = base + offs[i];
  }
  req->url = base + req->url_off;
  req->path = base + req->path_off;
  if (req->hdr_ptr_cap < req->nhdrs) {
    req->hdr_ptr_cap = req->nhdrs + 8;
    req->hdr_names =
        xrealloc(req->hdr_names, req->hdr_ptr_cap * sizeof *req->hdr_names);
    req->hdr_values =
        xrealloc(req->hdr_values, req->hdr_ptr_cap * sizeof *req->hdr_values);
  }
  for (i = 0; i < req->nhdrs; i++) {
    req->hdr_names[i] = base + req->hdrs[i].name;
    req->hdr_values[i] = base + req->hdrs[i].value;
  }
  if (req->body.len == 0) buf_append(&req->body, "", 0);
}

/* ---------------- request ids ---------------- */

static uint64_t mix64(uint64_t z) {
  /* splitmix64's finaliser: a bijection, so distinct inputs never
   * collide. */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void http_req_gen_id(char out[17]) {
  static uint64_t base, counter;
  static int seeded;
  static const char hex[] = "0123456789abcdef";
  if (!seeded) {
    if (uv_random(NULL, NULL, &base, sizeof base, 0, NULL) != 0)
      base = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32);
    seeded = 1;
  }
  uint64_t v = mix64(base + counter++);
  for (int i = 15; i >= 0; i--, v >>= 4) out[i] = hex[v & 15];
  out[16] = '\0';
}

/* ---------------- accessors ---------------- */

const char *http_req_method(const http_request_t *req) {
  return req->method ? req->method : "";
}

const char *http_req_path(const http_request_t *req) {
  return req->path ? req->path : "";
}

const char *http_req_target(const http_request_t *req) {
  return req->url ? req->url : "";
}

const char *http_req_param(const http_request_t *req, const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < req->match.nparams; i++)
    if (strcmp(req->match.params[i].name, name) == 0)
      return req->param_values[i];
  return NULL;
}

const char *http_req_header(const http_request_t *req, const char *name) {
  if (!name || !req->path) return NULL;
  for (size_t i = 0; i < req->nhdrs; i++)
    if (strcasecmp(req->hdr_names[i], name) == 0) return req->hdr_values[i];
  return NULL;
}

const char *http_req_body(const http_request_t *req, size_t *len) {
  if (req->spool) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = req->body.len;
  return req->body.data ? req->body.data : "";
}

const char *http_req_body_path(const http_request_t *req, uint64_t *len) {
  if (!req->spool || !http_spool_ready(req->spool)) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = http_spool_size(req->spool);
  return http_spool_path(req->spool);
}

const char *http_req_id(const http_request_t *req) {
  return req->id;
}

const char *http_req_peer(const http_request_t *req) {
  return req->conn ? req->conn->peer : "";
}

const char *http_req_route(const http_request_t *req) {
  return req->match.pattern ? req->match.pattern : "";
}

void *http_req_token(const http_request_t *req) {
  return req->token;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long http_pct_decode(char *dst, const char *src, size_t len, int plus) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = src[i];
    if (ch == '%') {
      int h, l;
      if (len - i < 3) return -1;
      h = hexval((unsigned char)src[i + 1]);
      l = hexval((unsigned char)src[i + 2]);
      if (h < 0 || l < 0) return -1;
      dst[o++] = (char)(h * 16 + l);
      i += 2;
    } else if (ch == '+' && plus) {
      dst[o++] = ' ';
    } else {
      dst[o++] = ch;
    }
  }
  return (long)o;
}

/* Decodes every query pair once, into a buffer sized up front so returned
 * pointers never move. A malformed escape keeps its raw text. */
static void query_parse(http_request_t *req) {
  const char *q = strchr(req->url, '?');
  req->q_parsed = 1;
  req->nq = 0;
  if (!q) return;
  q++;
  const char *hash = strchr(q, '#');
  size_t qlen = hash ? (size_t)(hash - q) : strlen(q);
  buf_reset(&req->qbuf);
  buf_reserve(&req->qbuf, 2 * qlen + 2);
  char *base = req->qbuf.data;
  size_t off = 0;
  const char *p = q, *end = q + qlen;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    if (pe > p) {
      const char *eq = memchr(p, '=', (size_t)(pe - p));
      const char *ne = eq ? eq : pe;
      const char *vs = eq ? eq + 1 : pe;
      if (req->nq == req->q_cap) {
        req->q_cap = req->q_cap ? req->q_cap * 2 : 8;
        req->q_names = xrealloc(req->q_names, req->q_cap * sizeof(char *));
        req->q_values = xrealloc(req->q_values, req->q_cap * sizeof(char *));
      }
      long n = http_pct_decode(base + off, p, (size_t)(ne - p), 1);
      if (n < 0) {
        memcpy(base + off, p, (size_t)(ne - p));
        n = (long)(ne - p);
      }
      req->q_names[req->nq] = base + off;
      off += (size_t)n;
      base[off++] = '\0';
      n = http_pct_decode(base + off, vs, (size_t)(pe - vs), 1);
      if (n < 0) {
        memcpy(base + off, vs, (size_t)(pe - vs));
        n = (long)(pe - vs);
      }
      req->q_values[req->nq] = base + off;
      off += (size_t)n;
      base[off++] = '\0';
      req->nq++;
    }
    p = amp ? amp + 1 : end;
  }
  req->qbuf.len = off;
}

const char *http_req_query(const http_request_t *req, const char *name) {
  http_request_t *r = (http_request_t *)req; /* lazily filled cache */
  if (!name || !req->url) return NULL;
  if (!r->q_parsed) query_parse(r);
  for (size_t i = 0; i < r->nq; i++)
    if (strcmp(r->q_names[i], name) == 0) return r->q_values[i];
  return NULL;
}

/* ---------------- responses ---------------- */

const char *http_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 410:
    return "Gone";
  case 412:
    return "Precondition Failed";
  case 413:
    return "Content Too Large";
  case 415:
    return "Unsupported Media Type";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 507:
    return "Insufficient Storage";
  default:
    return "Unknown";
  }
}

static void put_u64(buf_t *b, uint64_t v) {
  char tmp[24];
  int i = (int)sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

/* Headers the server sets itself; a handler's copies are dropped. */
static int reserved_header(const char *name) {
  return strcasecmp(name, "Content-Length") == 0 ||
         strcasecmp(name, "Connection") == 0 || strcasecmp(name, "Date") == 0 ||
         strcasecmp(name, "Transfer-Encoding") == 0 ||
         strcasecmp(name, "X-Request-Id") == 0;
}

static int header_ok(const char *name, const char *value) {
  if (!name || !value || !*name) return 0;
  for (const char *p = name; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == ':' || *p == 0x7f) return 0;
  for (const char *p = value; *p; p++)
    if (*p == '\r' || *p == '\n') return 0;
  return 1;
}

int http_req_send(http_request_t *req, int status, const http_header_t *h,
                  size_t nh, const void *body, size_t len) {
  http_conn_t *c = req->conn;
  if (req->responded || req->state != REQ_HANDLING) return -1;
  if (status < 100 || status > 999) status = 500;
  req->responded = 1;
  req->status = status;
  int no_body =
      status == 204 || status == 304 || (status >= 100 && status < 200);
  if (c->srv && !c->closing) {
    buf_t *o = &c->obuf;
    size_t dlen;
    const char *date = http_server_date(c->srv, &dlen);
    int ka = req->keep_alive && !(c->eof && !c->more_input) &&
             !c->srv->shutting_down;
    buf_reserve(o, 192 + (no_body || req->is_head ? 0 : len));
    buf_append(o, "HTTP/1.1 ", 9);
    put_u64(o, (uint64_t)status);
    buf_append(o, " ", 1);
    buf_puts(o, http_reason(status));
    buf_append(o, "\r\n", 2);
    buf_append(o, date, dlen);
    for (size_t i = 0; i < nh; i++) {
      if (!header_ok(h[i].name, h[i].value)) {
        log_kv(LOG_WARN, "http", "invalid response header dropped", "id",
               req->id, NULL);
        continue;
      }
      if (reserved_header(h[i].name)) continue;
      buf_puts(o, h[i].name);
      buf_append(o, ": ", 2);
      buf_puts(o, h[i].value);
      buf_append(o, "\r\n", 2);
    }
    if (!no_body) {
      buf_append(o, "Content-Length: ", 16);
      put_u64(o, len);
      buf_append(o, "\r\n", 2);
    }
    if (ka)
      buf_append(o, "Connection: keep-alive\r\n", 24);
    else
      buf_append(o, "Connection: close\r\n", 19);
    buf_append(o, "X-Request-Id: ", 14);
    buf_puts(o, req->id);
    buf_append(o, "\r\n\r\n", 4);
    if (!no_body && !req->is_head && len) {
      buf_append(o, body, len);
      req->bytes = len;
    }
    if (!ka) c->close_after_write = 1;
  }
  http_conn_request_done(c);
  return 0;
}

int http_respond(http_request_t *req, int status, const http_header_t *headers,
                 size_t nheaders, const void *body, size_t len) {
  if (!req) return -1;
  return http_req_send(req, status, headers, nheaders, body, len);
}

void http_error_body(buf_t *out, int status, const char *message,
                     const char *id) {
  buf_append(out, "{\"error\":{\"status\":", 19);
  put_u64(out, (uint64_t)status);
  buf_append(out, ",\"message\":", 11);
  buf_json_str(out, message, strlen(message));
  buf_append(out, ",\"request_id\":", 14);
  buf_json_str(out, id, strlen(id));
  buf_append(out, "}}", 2);
}

int http_respond_error(http_request_t *req, int status, const char *message) {
  buf_t b = {0};
  if (!req || req->responded) return -1;
  http_header_t h[2] = {{"Content-Type", "application/json"},
                        {"Allow", req->match.allow}};
  size_t nh = status == 405 && req->match.allow[0] ? 2 : 1;
  if (!message) message = http_reason(status);
  http_error_body(&b, status, message, req->id);
  /* The send may free req (an orphaned request); b is ours. */
  int rc = http_req_send(req, status, h, nh, b.data, b.len);
  buf_free(&b);
  return rc;
}

int http_respond_json(http_request_t *req, int status, const char *json,
                      size_t len) {
  static const http_header_t h = {"Content-Type", "application/json"};
  return http_respond(req, status, &h, 1, json, len);
}
