/*
 * internal.h: private structures shared by the files of core/http. Nothing
 * outside core/http (except its unit tests and fuzz harness) includes this.
 *
 * Lifetimes. A connection (http_conn_t) owns its uv handles and exactly one
 * request (struct assist_request), embedded and reused for every request on
 * that connection: requests on one connection are handled one at a time, and
 * pipelined input is kept in conn->in until the current response is queued.
 * The connection is freed when its handles are closed AND no handler holds
 * its request; a request answered after its server went away is
 * "orphaned": it only releases its token and frees the connection.
 */
#ifndef ASSIST_HTTP_INTERNAL_H
#define ASSIST_HTTP_INTERNAL_H

#include "http.h"

#include "../common/buf.h"
#include "../metrics/metrics.h"

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_conn http_conn_t;
typedef struct http_spool http_spool_t;

/* Spooled bodies are staged in two buffers of this size (one filling, one
 * being written), so an upload never holds more than twice this in memory
 * (the connection's input stash aside). */
#define HTTP_SPOOL_BUF (128 * 1024)

/* A header as offsets into req->hbuf (the buffer grows while parsing). */
typedef struct http_hdr_off {
  uint32_t name, name_len, value, value_len;
} http_hdr_off_t;

typedef enum {
  REQ_IDLE = 0, /* no request started */
  REQ_HEADERS,  /* first byte seen, headers incomplete */
  REQ_BODY,     /* headers complete, body incomplete */
  REQ_HANDLING, /* dispatched: a handler owns it until http_respond */
} req_state_t;

struct assist_request {
  http_conn_t *conn;
  req_state_t state;
  const char *method; /* static string from llhttp */
  int is_head;
  int keep_alive; /* as the client asked */
  uint64_t start_ns;

  /* Request line and headers, NUL-separated; see the *_off fields. */
  buf_t hbuf;
  uint32_t url_off, url_len, path_off, path_len;
  http_hdr_off_t *hdrs;
  size_t nhdrs, hdrs_cap;
  int hdr_state;       /* 0 none, 1 in a field, 2 in a value */
  uint64_t hdr_bytes;  /* request line + headers so far */
  int id_hdr;          /* index of X-Request-Id, or -1 */
  int expect_continue; /* Expect: 100-continue */

  buf_t body;
  uint64_t max_body;
  /* ROUTER_SPOOL_BODY: the body's temporary file, from headers-complete
   * until the request is reset (which releases it: close and unlink). */
  http_spool_t *spool;

  /* Filled at dispatch; pointers into hbuf/qbuf stay valid until the
   * response, because nothing is appended to them after dispatch (the
   * query buffer is sized once on first use). */
  const char *url, *path;
  const char **hdr_names, **hdr_values;
  size_t hdr_ptr_cap;
  buf_t qbuf;
  const char **q_names, **q_values;
  size_t nq, q_cap;
  int q_parsed;

  /* Routing (from headers-complete on). */
  int route_status; /* 200, 404, 405, 503 */
  router_match_t match;
  const char *param_values[ROUTER_MAX_PARAMS]; /* NUL-terminated copies */
  /* Offsets of the matched values in hbuf: chunked trailers may still
   * grow (move) hbuf between routing and dispatch. */
  uint32_t param_off[ROUTER_MAX_PARAMS];
  int acquired;
  void *token;
  void (*release)(void *ud, void *token); /* copied from the app */
  void *app_ud;

  char id[72];
  int responded;
  int status;     /* sent status, for the access log */
  uint64_t bytes; /* body bytes sent */
};

typedef enum {
  PH_IDLE = 0, /* waiting for a request: idle timeout, silent close */
  PH_HEADERS,  /* header timeout -> 408 */
  PH_BODY,     /* body timeout (no progress) -> 408 */
  PH_HANDLING, /* no deadline */
  PH_CLOSING,  /* response queued, close after write: idle timeout */
  PH_LINGER,   /* written and half-closed, draining input: short deadline */
} conn_phase_t;

typedef void (*http_sink_fn)(void *ud, const char *data, size_t len);

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  http_server_t *srv; /* NULL once orphaned */
  http_conn_t *prev, *next;

  llhttp_t parser;
  struct assist_request req;

  buf_t in;          /* unconsumed input, kept while a request is in flight */
  buf_t obuf;        /* responses being assembled */
  buf_t wbuf;        /* bytes handed to uv_write */
  http_sink_fn sink; /* fuzz/test: writes go here instead of a socket */
  void *sink_ud;

  conn_phase_t phase;
  uint64_t phase_at;  /* uv_now() when the phase's clock started */
  uint64_t timer_due; /* uv_now() value the timer is armed for, 0 if not */
  int fail_status;    /* set by a parser callback before returning -1 */
  int handles_open;
  int has_tcp;
  int writing;
  int reading;
  int in_process; /* nesting depth of conn_process */
  int eof;
  int more_input; /* bytes followed the last complete request */
  int orphan;     /* on srv->orphans: handles closed, request held */
  char peer[64];  /* client address, "" when unknown (sinks) */
  int close_after_write;
  int closing;
  int counted;   /* counts towards srv->nconns */
  int disk_wait; /* not reading: the body spool's buffer is full */
};

typedef struct label_entry label_entry_t;

typedef struct http_listener http_listener_t;

struct http_server {
  uv_loop_t *loop;
  http_limits_t limits;
  http_app_t app;

  http_listener_t *listeners;
  http_conn_t *conns;   /* every connection with open handles */
  http_conn_t *orphans; /* handles closed, request still with a handler */
  size_t nconns;        /* counted (accepted within the limit) */
  size_t nhandles;      /* listeners + connections + the timer, open */

  uv_timer_t timer; /* shutdown deadline */
  int shutting_down;
  int forced;
  int free_requested;
  void (*done)(void *arg);
  void *done_arg;

  char *spool_dir;     /* owned */
  size_t spool_ops;    /* spool fs requests in flight: free waits for 0 */
  size_t spool_peak;   /* most body bytes one spool buffered (for tests) */
  uint64_t spool_open; /* spool files created and not yet removed */

  char date[48]; /* "Date: ...\r\n" */
  size_t date_len;
  uint64_t date_sec;

  metric_t *m_requests, *m_duration, *m_conns;
  label_entry_t **labels;
  size_t nlabels;

  char rbuf[65536]; /* read buffer shared by all connections */
};

/* server.c */
/** c's handles are closed: unlinks it (onto the orphans list while a
 * handler still holds its request). */
void http_server_conn_gone(http_server_t *s, http_conn_t *c);
void http_server_orphan_gone(http_server_t *s, http_conn_t *c);
const char *http_server_date(http_server_t *s, size_t *len);
void http_server_count(http_server_t *s, const http_request_t *req,
                       double seconds);
/** A spool fs request counted in s->spool_ops finished. */
void http_server_spool_op_done(http_server_t *s);

/* conn.c */
http_conn_t *http_conn_new(http_server_t *s);
void http_conn_start(http_conn_t *c); /* after uv_accept on c->tcp */
void http_conn_reject(http_conn_t *c, int status, const char *message);
void http_conn_close(http_conn_t *c);
/** Called by http_respond after it queued (or dropped) a response. */
void http_conn_request_done(http_conn_t *c);
void http_conn_flush(http_conn_t *c);

/** A connection without a socket: responses go to sink. For the fuzz
 * harness and tests. The caller holds a reference, so the pointer stays
 * valid (even after the connection closes itself) until
 * http_conn_sink_done, which closes it; it is freed once its timer is
 * closed and its request (if any) is answered. */
http_conn_t *http_conn_open_sink(http_server_t *s, http_sink_fn sink, void *ud);
void http_conn_sink_done(http_conn_t *c);
void http_conn_feed(http_conn_t *c, const char *data, size_t len);
/** The peer finished sending (read EOF). */
void http_conn_eof(http_conn_t *c);
/** The spool of c's request finished an operation: room in its buffer,
 * the body stored (ready), or an error. */
void http_conn_spool_event(http_conn_t *c);

/* spool.c: one request body streamed to a temporary file with uv_fs_*.
 * The spool is owned by the request (req->spool) until released; then it
 * finishes on its own (close, unlink, free), counting its fs requests in
 * the server's spool_ops so the server outlives them. */
/** Starts creating the file in dir (copied). Later errors are reported
 * through http_conn_spool_event; check http_spool_error right after. */
http_spool_t *http_spool_new(http_conn_t *c, const char *dir);
/** Free room in the filling buffer; the caller never appends more. */
size_t http_spool_room(const http_spool_t *sp);
/** Queues body bytes (len <= http_spool_room). */
void http_spool_append(http_spool_t *sp, const char *data, size_t len);
/** Body bytes received so far. */
uint64_t http_spool_size(const http_spool_t *sp);
/** The body is complete: write what is left, close, then report ready. */
void http_spool_finish(http_spool_t *sp);
/** 1 once the complete body is written and the file closed. */
int http_spool_ready(const http_spool_t *sp);
/** The first error (a negative uv code), or 0. */
int http_spool_error(const http_spool_t *sp);
/** The file's path (NULL before it exists). */
const char *http_spool_path(const http_spool_t *sp);
/** Detaches from the request: stops writing, closes and unlinks the file
 * (ENOENT ignored: a handler may have renamed it), then frees itself. */
void http_spool_release(http_spool_t *sp);

/* request.c */
void http_req_init(http_request_t *req, http_conn_t *c);
void http_req_reset(http_request_t *req); /* between requests */
void http_req_free(http_request_t *req);
/** Makes the pointers handlers see (dispatch time). */
void http_req_finalize(http_request_t *req);
void http_req_gen_id(char out[17]);
/** Builds the response into c->obuf (if writable) and finishes the request.
 * Used by http_respond and by the server's own error responses. */
int http_req_send(http_request_t *req, int status, const http_header_t *h,
                  size_t nh, const void *body, size_t len);
/* static.c: the lexical path check (0 and *out, or 400/404). */
int http_static_check(const char *rel, char **out);

/** Appends the JSON error body for status/message/id to out. */
void http_error_body(buf_t *out, int status, const char *message,
                     const char *id);
const char *http_reason(int status);

#endif
