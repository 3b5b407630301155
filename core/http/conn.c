/*
 * conn.c: one HTTP/1.1 connection: llhttp parsing, limits, dispatch,
 * pipelining, response writes, timeouts and closing.
 *
 * Parsing pauses (HPE_PAUSED) at the end of every request; the request is
 * then dispatched and parsing resumes from llhttp_get_error_pos() once its
 * response is queued. Input the parser has not consumed yet is kept in
 * conn->in, because llhttp does not buffer it. Responses produced while
 * processing one read are batched and written together; each response is
 * built into one buffer, so it goes out in one write.
 *
 * One uv_timer_t per connection enforces the deadline of the current phase
 * (idle, headers, body, closing, linger). It is armed lazily: moving to a
 * later deadline only records it, and the timer re-arms itself when it
 * fires early.
 */
#include "internal.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINGER_MS 2000
#define STASH_MAX (256 * 1024)   /* stop reading beyond this much input */
#define BACKLOG_MAX (256 * 1024) /* stop dispatching beyond this output */
#define KEEP_CAP 16384

static void conn_timer_arm(http_conn_t *c);
static void conn_after_input(http_conn_t *c);
static void conn_finish_close(http_conn_t *c);
static void conn_update_read(http_conn_t *c);

static void shrink(buf_t *b) {
  if (b->cap > KEEP_CAP)
    buf_free(b);
  else
    buf_reset(b);
}

static uint64_t conn_now(http_conn_t *c) {
  return uv_now(c->timer.loop);
}

static void conn_phase(http_conn_t *c, conn_phase_t ph) {
  c->phase = ph;
  c->phase_at = conn_now(c);
  conn_timer_arm(c);
}

/* ---------------- llhttp callbacks ---------------- */

static int fail(http_conn_t *c, int status) {
  c->fail_status = status;
  return -1;
}

static int count_hdr_bytes(http_conn_t *c, size_t n) {
  c->req.hdr_bytes += n;
  return c->req.hdr_bytes > c->srv->limits.max_header_size;
}

static int on_message_begin(llhttp_t *p) {
  http_conn_t *c = p->data;
  c->req.state = REQ_HEADERS;
  c->req.start_ns = uv_hrtime();
  c->req.hdr_bytes = 16; /* method, version, line ends */
  conn_phase(c, PH_HEADERS);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  if (count_hdr_bytes(c, len)) return fail(c, 431);
  buf_append(&c->req.hbuf, at, len);
  return 0;
}

static int on_url_complete(llhttp_t *p) {
  http_conn_t *c = p->data;
  c->req.url_len = (uint32_t)(c->req.hbuf.len - c->req.url_off);
  buf_append(&c->req.hbuf, "", 1);
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  http_request_t *r = &c->req;
  if (count_hdr_bytes(c, len)) return fail(c, 431);
  if (r->hdr_state != 1) {
    if (r->nhdrs >= c->srv->limits.max_headers) return fail(c, 431);
    if (r->nhdrs == r->hdrs_cap) {
      r->hdrs_cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
      r->hdrs = xrealloc(r->hdrs, r->hdrs_cap * sizeof *r->hdrs);
    }
    r->hdrs[r->nhdrs].name = (uint32_t)r->hbuf.len;
    r->hdr_state = 1;
  }
  buf_append(&r->hbuf, at, len);
  return 0;
}

static int on_header_field_complete(llhttp_t *p) {
  http_conn_t *c = p->data;
  http_request_t *r = &c->req;
  http_hdr_off_t *h = &r->hdrs[r->nhdrs];
  if (r->hdr_state != 1) return fail(c, 400);
  h->name_len = (uint32_t)(r->hbuf.len - h->name);
  buf_append(&r->hbuf, "", 1);
  h->value = (uint32_t)r->hbuf.len;
  r->nhdrs++;
  r->hdr_state = 2;
  if (count_hdr_bytes(c, 4)) return fail(c, 431);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  if (c->req.hdr_state != 2) return fail(c, 400);
  if (count_hdr_bytes(c, len)) return fail(c, 431);
  buf_append(&c->req.hbuf, at, len);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  http_conn_t *c = p->data;
  http_request_t *r = &c->req;
  if (r->hdr_state != 2 || r->nhdrs == 0) return fail(c, 400);
  http_hdr_off_t *h = &r->hdrs[r->nhdrs - 1];
  size_t len = r->hbuf.len - h->value;
  const char *v = r->hbuf.data ? r->hbuf.data + h->value : "";
  while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
  r->hbuf.len = h->value + len;
  h->value_len = (uint32_t)len;
  buf_append(&r->hbuf, "", 1);
  r->hdr_state = 0;
  const char *name = r->hbuf.data + h->name;
  v = r->hbuf.data + h->value;
  if (h->name_len == 12 && strcasecmp(name, "x-request-id") == 0) {
    if (r->id_hdr < 0) r->id_hdr = (int)(r->nhdrs - 1);
  } else if (h->name_len == 6 && strcasecmp(name, "expect") == 0) {
    if (strcasecmp(v, "100-continue") == 0) r->expect_continue = 1;
  }
  return 0;
}

static int id_sane(const char *s, size_t len) {
  if (len == 0 || len > 64) return 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

static void set_request_id(http_request_t *r) {
  if (r->id[0]) return;
  if (r->id_hdr >= 0) {
    const http_hdr_off_t *h = &r->hdrs[r->id_hdr];
    if (id_sane(r->hbuf.data + h->value, h->value_len)) {
      memcpy(r->id, r->hbuf.data + h->value, h->value_len);
      r->id[h->value_len] = '\0';
      return;
    }
  }
  http_req_gen_id(r->id);
}

/* Extracts the path (no query or fragment) from the URL into hbuf.
 * Returns -1 for a target that is neither origin-form nor absolute-form
 * ("*" is kept as the path; it matches no route). */
static int extract_path(http_request_t *r) {
  const char *u = r->hbuf.data + r->url_off;
  size_t len = r->url_len, start = 0, end;
  if (len == 0) return -1;
  if (u[0] != '/') {
    if (len == 1 && u[0] == '*') {
      start = 0;
    } else if ((len > 7 && strncasecmp(u, "http://", 7) == 0) ||
               (len > 8 && strncasecmp(u, "https://", 8) == 0)) {
      const char *a = strstr(u, "://") + 3;
      const char *slash = memchr(a, '/', len - (size_t)(a - u));
      if (!slash) {
        /* "http://host" means "/" */
        r->path_off = (uint32_t)r->hbuf.len;
        r->path_len = 1;
        buf_append(&r->hbuf, "/", 2);
        return 0;
      }
      start = (size_t)(slash - u);
    } else {
      return -1;
    }
  }
  for (end = start; end < len && u[end] != '?' && u[end] != '#'; end++) {
  }
  size_t off = r->url_off + start, plen = end - start;
  r->path_off = (uint32_t)r->hbuf.len;
  r->path_len = (uint32_t)plen;
  buf_reserve(&r->hbuf, plen + 1);
  memcpy(r->hbuf.data + r->hbuf.len, r->hbuf.data + off, plen);
  r->hbuf.len += plen;
  buf_append(&r->hbuf, "", 1);
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  http_conn_t *c = p->data;
  http_request_t *r = &c->req;
  http_server_t *s = c->srv;
  r->method = llhttp_method_name((llhttp_method_t)p->method);
  r->is_head = p->method == HTTP_HEAD;
  r->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
  if (!r->hbuf.data) buf_reserve(&r->hbuf, 1);
  if (extract_path(r) != 0) return fail(c, 400);
  set_request_id(r);
  const router_t *router = s->app.acquire(s->app.ud, &r->token);
  r->acquired = 1;
  r->release = s->app.release;
  r->app_ud = s->app.ud;
  if (!router) {
    r->route_status = 503;
  } else {
    r->route_status = router_match(
        router, r->method, r->hbuf.data + r->path_off, r->path_len, &r->match);
    for (size_t i = 0; i < r->match.nparams; i++)
      r->param_off[i] = (uint32_t)(r->match.params[i].value - r->hbuf.data);
  }
  r->max_body = r->route_status == 200 && r->match.max_body
                    ? r->match.max_body
                    : s->limits.max_body_size;
  int has_body = (p->flags & F_CHUNKED) ||
                 ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->max_body)
    return fail(c, 413);
  if (r->route_status == 200 && (r->match.flags & ROUTER_SPOOL_BODY)) {
    r->spool = http_spool_new(c, s->spool_dir);
    if (http_spool_error(r->spool)) {
      log_kv(LOG_ERROR, "http", "cannot create body spool file", "id", r->id,
             "error", uv_err_name(http_spool_error(r->spool)), NULL);
      return fail(c, 500);
    }
  }
  r->state = REQ_BODY;
  if (has_body) {
    if (r->expect_continue)
      buf_append(&c->obuf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    conn_phase(c, PH_BODY);
    /* From here conn_parse feeds the body in slices that fit the spool's
     * buffer, so it never holds more than that. */
    if (r->spool) return HPE_PAUSED;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  http_request_t *r = &c->req;
  uint64_t have = r->spool ? http_spool_size(r->spool) : r->body.len;
  if (len > r->max_body || have > r->max_body - len) return fail(c, 413);
  if (r->spool)
    http_spool_append(r->spool, at, len); /* len <= room: see conn_parse */
  else
    buf_append(&r->body, at, len);
  c->phase_at = conn_now(c); /* progress */
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  http_conn_t *c = p->data;
  c->req.state = REQ_HANDLING;
  conn_phase(c, PH_HANDLING);
  return HPE_PAUSED;
}

static const llhttp_settings_t g_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_url_complete = on_url_complete,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
};

/* ---------------- dispatch ---------------- */

static void dispatch(http_conn_t *c) {
  http_request_t *r = &c->req;
  if (r->spool && !http_spool_ready(r->spool)) {
    /* Flush and close first; http_conn_spool_event comes back here. */
    http_spool_finish(r->spool);
    return;
  }
  if (r->spool && c->closing) {
    /* The client went away while the body was being stored: nobody
     * will read an answer, so the handler does not run. 499 (nginx's
     * "client closed request") goes to the access log and metrics. */
    http_req_send(r, 499, NULL, 0, NULL, 0);
    return;
  }
  http_req_finalize(r);
  switch (r->route_status) {
  case 200:
    r->match.fn(r, r->match.ud);
    break;
  case 404:
    http_respond_error(r, 404, "not found");
    break;
  case 405:
    http_respond_error(r, 405, "method not allowed");
    break;
  default:
    http_respond_error(r, 503, "no configuration loaded");
    break;
  }
}

/* Feeds data to the parser; returns how many bytes were consumed. Stops
 * at a request still being handled, at a connection that will close, and
 * while too much output is waiting for the socket. */
static size_t conn_parse(http_conn_t *c, const char *data, size_t len) {
  const char *pos = data, *end = data + len;
  while (pos < end) {
    if (c->req.state == REQ_HANDLING || c->close_after_write || c->closing)
      break;
    if (c->writing && c->obuf.len > BACKLOG_MAX) break;
    size_t n = (size_t)(end - pos);
    if (c->req.spool && c->req.state == REQ_BODY) {
      /* A slice can carry at most room body bytes (framing aside). */
      size_t room = http_spool_room(c->req.spool);
      if (room == 0) break; /* resumed by http_conn_spool_event */
      if (n > room) n = room;
    }
    llhttp_errno_t err = llhttp_execute(&c->parser, pos, n);
    if (err == HPE_OK) {
      pos += n;
      continue;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      const char *ep = llhttp_get_error_pos(&c->parser);
      pos = ep ? ep : end;
      if (err == HPE_PAUSED_UPGRADE) {
        c->req.keep_alive = 0; /* no upgrades: answer, then close */
        pos = end;
      }
      llhttp_resume(&c->parser);
      c->more_input = pos < end;
      if (c->req.state == REQ_HANDLING) dispatch(c);
      continue;
    }
    /* A protocol error, or a limit a callback enforced. */
    int status = c->fail_status ? c->fail_status : 400;
    const char *msg = status == 413   ? "request body too large"
                      : status == 431 ? "request header fields too large"
                      : status == 500 ? "cannot store request body"
                                      : "malformed request";
    http_conn_reject(c, status, msg);
    pos = end;
    break;
  }
  return (size_t)(pos - data);
}

/* Parses what is stashed in c->in. */
static void conn_drain(http_conn_t *c) {
  if (!c->in.len) return;
  size_t n = conn_parse(c, c->in.data, c->in.len);
  if (c->close_after_write || c->closing) n = c->in.len;
  if (n == c->in.len) {
    shrink(&c->in);
  } else if (n) {
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
    c->in.data[c->in.len] = '\0';
  }
}

void http_conn_feed(http_conn_t *c, const char *data, size_t len) {
  if (c->closing || c->close_after_write || c->phase == PH_LINGER) return;
  c->in_process++;
  if (c->in.len == 0) {
    size_t n = conn_parse(c, data, len);
    if (n < len && !c->close_after_write && !c->closing)
      buf_append(&c->in, data + n, len - n);
  } else {
    buf_append(&c->in, data, len);
    conn_drain(c);
  }
  c->in_process--;
  conn_after_input(c);
}

/* Continues after an asynchronous response or a completed write. */
static void conn_resume(http_conn_t *c) {
  if (c->closing) return;
  c->in_process++;
  conn_drain(c);
  c->in_process--;
  conn_after_input(c);
}

static void conn_after_input(http_conn_t *c) {
  if (c->closing || c->in_process) return;
  if (c->eof && c->req.state != REQ_HANDLING && c->in.len == 0 &&
      !c->close_after_write) {
    /* The peer is done sending; a partial request can never complete. */
    if (c->req.state != REQ_IDLE) {
      http_conn_close(c);
      return;
    }
    c->close_after_write = 1;
  }
  http_conn_flush(c);
  if (!c->closing) conn_update_read(c);
}

static int spool_status(int err) {
#ifdef EDQUOT
  if (err == -EDQUOT) return 507;
#endif
  return err == UV_ENOSPC || err == UV_EFBIG ? 507 : 500;
}

void http_conn_spool_event(http_conn_t *c) {
  http_request_t *r = &c->req;
  http_spool_t *sp = r->spool;
  if (!sp) return;
  int err = http_spool_error(sp);
  if (err) {
    int status = spool_status(err);
    log_kv(LOG_ERROR, "http", "cannot store request body", "id", r->id, "error",
           uv_err_name(err), NULL);
    if (r->state == REQ_BODY) {
      /* The rest of the body is not read: answer and close. */
      http_conn_reject(c, status, "cannot store request body");
    } else if (r->state == REQ_HANDLING && !r->responded) {
      /* The body was read completely: the connection can go on. */
      http_respond_error(r, status, "cannot store request body");
    }
    return;
  }
  if (r->state == REQ_HANDLING) {
    if (http_spool_ready(sp)) dispatch(c);
    return;
  }
  if (r->state == REQ_BODY && c->disk_wait) {
    /* Room again: parse what is stashed and read on, with a fresh body
     * clock (the wait was ours). */
    c->phase_at = conn_now(c);
    conn_resume(c);
  }
}

void http_conn_eof(http_conn_t *c) {
  if (c->closing) return;
  c->eof = 1;
  if (c->phase == PH_LINGER) {
    http_conn_close(c);
    return;
  }
  conn_after_input(c);
}

/* ---------------- requests finishing ---------------- */

static void access_log(http_conn_t *c, http_request_t *r, double secs) {
  char st[16], by[24], ms[32];
  if (log_min_level() > LOG_INFO) return;
  snprintf(st, sizeof st, "%d", r->status);
  snprintf(by, sizeof by, "%llu", (unsigned long long)r->bytes);
  snprintf(ms, sizeof ms, "%.3f", secs * 1000.0);
  const char *path = r->path_len ? r->hbuf.data + r->path_off : "";
  /* A path segment that is a credential (a route's {token}, e.g. signed
   * RSVP links) is never logged: the route pattern stands in for it. */
  if (r->route_status == 200 && r->match.pattern &&
      strstr(r->match.pattern, "{token}"))
    path = r->match.pattern;
  (void)c;
  log_kv(LOG_INFO, "http", "request", "id", r->id, "method",
         r->method ? r->method : "-", "path", path, "route",
         r->route_status == 200 && r->match.pattern ? r->match.pattern : "none",
         "#status", st, "#bytes", by, "#duration_ms", ms, NULL);
}

static void conn_maybe_free(http_conn_t *c) {
  if (c->handles_open || c->req.state == REQ_HANDLING) return;
  if (c->srv && c->orphan) http_server_orphan_gone(c->srv, c);
  http_req_free(&c->req);
  buf_free(&c->in);
  buf_free(&c->obuf);
  buf_free(&c->wbuf);
  free(c);
}

void http_conn_request_done(http_conn_t *c) {
  http_request_t *r = &c->req;
  double secs = r->start_ns ? (double)(uv_hrtime() - r->start_ns) / 1e9 : 0;
  access_log(c, r, secs);
  if (c->srv) http_server_count(c->srv, r, secs);
  if (r->acquired && r->release) r->release(r->app_ud, r->token);
  r->acquired = 0;
  http_req_reset(r);
  if (c->closing) {
    conn_maybe_free(c);
    return;
  }
  conn_phase(c, c->close_after_write ? PH_CLOSING : PH_IDLE);
  if (!c->in_process) conn_resume(c);
}

void http_conn_reject(http_conn_t *c, int status, const char *message) {
  http_request_t *r = &c->req;
  if (c->closing || r->state == REQ_HANDLING) return;
  if (!r->start_ns) r->start_ns = uv_hrtime();
  if (!r->id[0]) {
    if (r->id_hdr >= 0 && r->hbuf.data && r->hdr_state == 0)
      set_request_id(r);
    else
      http_req_gen_id(r->id);
  }
  r->state = REQ_HANDLING;
  r->keep_alive = 0;
  if (r->route_status != 405) r->match.allow[0] = '\0';
  r->route_status = r->route_status == 200 ? 200 : 0;
  c->close_after_write = 1;
  c->in_process++; /* no resume from inside http_req_send */
  http_respond_error(r, status, message);
  c->in_process--;
  conn_after_input(c); /* flushes unless called while parsing */
}

/* ---------------- writing ---------------- */

static void on_write(uv_write_t *wr, int status) {
  http_conn_t *c = wr->data;
  c->writing = 0;
  shrink(&c->wbuf);
  if (c->closing) return;
  if (status < 0) {
    http_conn_close(c);
    return;
  }
  conn_resume(c);
}

void http_conn_flush(http_conn_t *c) {
  if (c->closing || c->writing) return;
  if (c->obuf.len) {
    if (c->sink) {
      c->sink(c->sink_ud, c->obuf.data, c->obuf.len);
      shrink(&c->obuf);
    } else {
      uv_buf_t b = uv_buf_init(c->obuf.data, (unsigned)c->obuf.len);
      int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
      if (n == UV_EAGAIN || n == UV_ENOSYS) n = 0;
      if (n < 0) {
        http_conn_close(c);
        return;
      }
      if ((size_t)n < c->obuf.len) {
        buf_t t = c->wbuf;
        c->wbuf = c->obuf;
        c->obuf = t;
        buf_reset(&c->obuf);
        b = uv_buf_init(c->wbuf.data + n, (unsigned)(c->wbuf.len - (size_t)n));
        c->wreq.data = c;
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
          http_conn_close(c);
          return;
        }
        c->writing = 1;
        return;
      }
      shrink(&c->obuf);
    }
  }
  if (c->close_after_write && c->req.state != REQ_HANDLING &&
      c->phase != PH_LINGER)
    conn_finish_close(c);
}

/* ---------------- reading ---------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  http_conn_t *c = h->data;
  (void)suggested;
  /* One buffer for the whole server: a read is consumed (or stashed)
   * before the next alloc. */
  *b = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
  http_conn_t *c = st->data;
  if (nread > 0) {
    if (c->phase == PH_LINGER) return; /* discarded */
    http_conn_feed(c, b->base, (size_t)nread);
  } else if (nread == UV_EOF) {
    uv_read_stop(st);
    c->reading = 0;
    http_conn_eof(c);
  } else if (nread < 0) {
    http_conn_close(c);
  }
}

static void conn_update_read(http_conn_t *c) {
  if (c->closing) return;
  /* Waiting for the disk: reading stops, and the body timeout does not
   * blame the client for it. */
  c->disk_wait = c->req.spool && c->req.state == REQ_BODY &&
                 http_spool_room(c->req.spool) == 0;
  if (!c->has_tcp) return;
  int want;
  if (c->eof)
    want = 0;
  else if (c->phase == PH_LINGER)
    want = 1;
  else if (c->close_after_write)
    want = 0;
  else
    want = c->in.len < STASH_MAX && !c->disk_wait;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

/* ---------------- timers ---------------- */

static uint64_t phase_timeout(http_conn_t *c) {
  const http_limits_t *l = &c->srv->limits;
  switch (c->phase) {
  case PH_IDLE:
    return l->idle_timeout_ms;
  case PH_HEADERS:
    return l->header_timeout_ms;
  case PH_BODY:
    return l->body_timeout_ms;
  case PH_CLOSING:
    return l->idle_timeout_ms;
  case PH_LINGER:
    return LINGER_MS;
  default:
    return 0;
  }
}

static void on_timer(uv_timer_t *t);

static void conn_timer_arm(http_conn_t *c) {
  if (!c->srv || c->closing) return;
  uint64_t to = phase_timeout(c);
  if (!to) return;
  uint64_t due = c->phase_at + to, now = conn_now(c);
  if (c->timer_due && c->timer_due <= due) return; /* fires early, re-arms */
  uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
  c->timer_due = due;
}

static void on_timer(uv_timer_t *t) {
  http_conn_t *c = t->data;
  c->timer_due = 0;
  if (c->closing || !c->srv) return;
  uint64_t to = phase_timeout(c);
  if (!to) return;
  if (conn_now(c) < c->phase_at + to) {
    conn_timer_arm(c);
    return;
  }
  if (c->phase == PH_BODY && c->disk_wait) {
    c->phase_at = conn_now(c); /* the disk is behind, not the client */
    conn_timer_arm(c);
    return;
  }
  switch (c->phase) {
  case PH_HEADERS:
  case PH_BODY:
    http_conn_reject(c, 408,
                     c->phase == PH_HEADERS
                         ? "request headers not received in time"
                         : "request body not received in time");
    break;
  default:
    http_conn_close(c);
    break;
  }
}

/* ---------------- lifecycle ---------------- */

static void conn_unref(http_conn_t *c) {
  if (--c->handles_open > 0) return;
  if (c->srv) http_server_conn_gone(c->srv, c);
  conn_maybe_free(c);
}

static void on_handle_close(uv_handle_t *h) {
  conn_unref(h->data);
}

http_conn_t *http_conn_new(http_server_t *s) {
  http_conn_t *c = xcalloc(1, sizeof *c);
  c->srv = s;
  llhttp_init(&c->parser, HTTP_REQUEST, &g_settings);
  c->parser.data = c;
  http_req_init(&c->req, c);
  uv_timer_init(s->loop, &c->timer);
  c->timer.data = c;
  c->handles_open = 1;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nhandles++;
  return c;
}

void http_conn_start(http_conn_t *c) {
  conn_phase(c, PH_IDLE);
  conn_update_read(c);
}

http_conn_t *http_conn_open_sink(http_server_t *s, http_sink_fn sink,
                                 void *ud) {
  http_conn_t *c = http_conn_new(s);
  c->sink = sink;
  c->sink_ud = ud;
  c->handles_open++; /* the caller's reference, see http_conn_sink_done */
  conn_phase(c, PH_IDLE);
  return c;
}

void http_conn_sink_done(http_conn_t *c) {
  http_conn_close(c);
  conn_unref(c);
}

static void on_shutdown(uv_shutdown_t *sr, int status) {
  http_conn_t *c = sr->data;
  if (status < 0 && !c->closing) http_conn_close(c);
}

static void conn_finish_close(http_conn_t *c) {
  if (!c->has_tcp || c->eof) {
    http_conn_close(c);
    return;
  }
  /* Half-close, then drain what the peer still sends for a moment, so
   * unread input does not turn our FIN into a RST that eats the response. */
  conn_phase(c, PH_LINGER);
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    http_conn_close(c);
    return;
  }
  shrink(&c->in);
  conn_update_read(c);
}

void http_conn_close(http_conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->srv && c->counted) {
    c->counted = 0;
    c->srv->nconns--;
    metric_set(c->srv->m_conns, NULL, (double)c->srv->nconns);
  }
  http_request_t *r = &c->req;
  if (r->state != REQ_HANDLING) {
    if (r->acquired && r->release) r->release(r->app_ud, r->token);
    r->acquired = 0;
    http_req_reset(r);
  }
  if (c->has_tcp) uv_close((uv_handle_t *)&c->tcp, on_handle_close);
  uv_close((uv_handle_t *)&c->timer, on_handle_close);
}
