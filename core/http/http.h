/*
 * http.h: the inbound HTTP/1.1 server (llhttp on libuv), its router, and
 * the request/response API that the SDK's assist_request_t exposes.
 *
 * Ownership. The server owns connections and requests. A request handed to
 * a handler stays valid until http_respond() has been called for it, even
 * if the client disconnected (the response is then discarded). The router
 * is immutable once built and owned by whoever built it (a configuration
 * generation); the server reaches it only through http_app_t, holding the
 * token acquire() returned until the request is finished. That is how a
 * request started on an old generation finishes on it during a reload.
 *
 * Threading: everything runs on the loop thread passed to http_server_new.
 */
#ifndef ASSIST_HTTP_H
#define ASSIST_HTTP_H

#include "../common/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct assist_request http_request_t; /* the SDK's opaque type */
typedef struct http_server http_server_t;
typedef struct router router_t;

/* ---------------- router ---------------- */

/** A handler runs on the loop thread and must call http_respond eventually. */
typedef void (*http_handler_fn)(http_request_t *req, void *ud);

router_t *router_new(void);
/**
 * Adds a route. method: "GET", "POST"... ("GET" also answers HEAD).
 * pattern: "/a/{id}/b" ({name} matches one non-empty segment) or a final
 * "{name*}" matching the rest (possibly empty). max_body: 0 = server
 * default. Strings are copied. Returns 0, or -1 if the same method and
 * pattern exist or the pattern is malformed.
 */
int router_add(router_t *r, const char *method, const char *pattern,
               uint64_t max_body, http_handler_fn fn, void *ud);

/** Route flags for router_add_ex. */
enum {
  /** Stream the request body into a temporary file instead of memory: the
   * handler reads it through http_req_body_path. */
  ROUTER_SPOOL_BODY = 1u << 0
};
/** As router_add, with flags (ROUTER_*); unknown flags are refused (-1).
 * router_add(...) == router_add_ex(..., 0, ...). */
int router_add_ex(router_t *r, const char *method, const char *pattern,
                  uint64_t max_body, uint32_t flags, http_handler_fn fn,
                  void *ud);
void router_free(router_t *r);

#define ROUTER_MAX_PARAMS 8

typedef struct router_match {
  http_handler_fn fn;
  void *ud;
  uint64_t max_body;
  uint32_t flags;      /* the matched route's flags (ROUTER_*) */
  const char *pattern; /* the matched route's pattern: the metrics label */
  size_t nparams;
  struct {
    const char *name;  /* borrowed from the router */
    const char *value; /* borrowed from path (not NUL-terminated) */
    size_t len;
  } params[ROUTER_MAX_PARAMS];
  char allow[64]; /* on 405: "GET, POST" */
} router_match_t;

/**
 * Matches path (raw, no query string) against the routes. Among the routes
 * for this method whose pattern matches, the most specific wins: segment
 * by segment from the left, a literal beats {param}, which beats {rest*}
 * (a GET route also answers HEAD unless a HEAD route is as specific).
 * Returns 200 with *m filled (parameter values point into path), 404 if no
 * pattern matches, 405 if patterns match but none for this method
 * (m->allow lists their methods, "GET, HEAD, POST").
 */
int router_match(const router_t *r, const char *method, const char *path,
                 size_t path_len, router_match_t *m);

/* ---------------- server ---------------- */

typedef struct http_limits {
  uint32_t max_connections;
  uint64_t max_header_size; /* request line + headers, bytes */
  uint32_t max_headers;
  uint64_t max_body_size; /* default per-route cap */
  uint64_t header_timeout_ms;
  uint64_t body_timeout_ms;
  uint64_t idle_timeout_ms;
} http_limits_t;

typedef struct http_app {
  /** Current router; *token is passed to release() when the request ends. */
  const router_t *(*acquire)(void *ud, void **token);
  void (*release)(void *ud, void *token);
  void *ud;
} http_app_t;

http_server_t *http_server_new(uv_loop_t *loop, const http_limits_t *limits,
                               const http_app_t *app);
/** Applies to new connections and requests from now on. */
void http_server_set_limits(http_server_t *s, const http_limits_t *limits);
/**
 * Directory for the temporary files of ROUTER_SPOOL_BODY routes (copied;
 * NULL or "" restores the default: $TMPDIR, or /tmp). Applies to bodies
 * started from now on. Files are created there with a unique name, mode
 * 0600, and removed by the server once their request is finished.
 */
void http_server_set_spool_dir(http_server_t *s, const char *dir);
/** Binds and listens (IPv4 or IPv6 literal, or "localhost"). Returns 0 or a
 * negative uv error. Port 0 picks a free port: see http_server_port. */
int http_server_listen(http_server_t *s, const char *host, int port);
/** Port of the i-th listener (for port 0), or -1. */
int http_server_port(const http_server_t *s, size_t i);
/** Closes the listener bound to host:port. Returns 0 or -1 if none. */
int http_server_unlisten(http_server_t *s, const char *host, int port);
size_t http_server_connections(const http_server_t *s);
/**
 * Stops accepting, closes idle keep-alive connections at once and each busy
 * one after its in-flight response (sent with "Connection: close"); after
 * deadline_ms force-closes the rest. Then, once the temporary files of
 * abandoned spooled bodies are removed, calls done(arg), always from a
 * loop callback. The server can then be freed. A request still held by a
 * handler after a forced close stays valid; answering it later just
 * releases it.
 */
void http_server_shutdown(http_server_t *s, uint64_t deadline_ms,
                          void (*done)(void *arg), void *arg);
/** Closes everything (forcibly, if still open) and frees the server once
 * its handles are closed: run the loop afterwards. */
void http_server_free(http_server_t *s);

/* ---------------- request accessors (valid until responded) ---------- */

const char *http_req_method(const http_request_t *req);
/** The path as sent (still percent-encoded), without query or fragment. */
const char *http_req_path(const http_request_t *req);
/** The request target as sent: path + query. */
const char *http_req_target(const http_request_t *req);
/** A path parameter as it appears in the path (still percent-encoded: a
 * {rest*} value must stay raw for http_serve_static), or NULL. */
const char *http_req_param(const http_request_t *req, const char *name);
/** First value of a query parameter, with %XX and '+' decoded, or NULL. */
const char *http_req_query(const http_request_t *req, const char *name);
/** First header of that name (case-insensitive), trailing blanks removed. */
const char *http_req_header(const http_request_t *req, const char *name);
/** The body (chunked bodies arrive decoded), NUL-terminated; "" if none.
 * NULL (and *len 0) for a ROUTER_SPOOL_BODY route: see below. */
const char *http_req_body(const http_request_t *req, size_t *len);
/**
 * For a ROUTER_SPOOL_BODY route: the path of the closed temporary file
 * holding the complete (decoded) body, *len its size. The path is the
 * server's, valid until the response; the server unlinks it after the
 * request is finished, so a handler that wants to keep the file renames it
 * (within the spool directory's file system) before responding. NULL (and
 * *len 0) for other routes; http_req_body applies to those.
 */
const char *http_req_body_path(const http_request_t *req, uint64_t *len);
const char *http_req_id(const http_request_t *req);
/** The client's IP address as text ("" when unknown). Behind a proxy this
 * is the proxy: callers that trust one read its header instead. */
const char *http_req_peer(const http_request_t *req);
/** The route pattern matched ("" for 404s). */
const char *http_req_route(const http_request_t *req);
/** The generation token acquire() gave for this request. */
void *http_req_token(const http_request_t *req);

typedef struct http_header {
  const char *name;
  const char *value;
} http_header_t;

/**
 * Sends the response: status line, Date, the given headers (copied; set
 * Content-Type here; Content-Length, Connection, Date, Transfer-Encoding
 * and X-Request-Id are the server's and are dropped, as are headers with
 * CR/LF), Content-Length, Connection, X-Request-Id, then body (copied), in
 * one write. HEAD gets no body (body is not read then, only len), 204/304
 * neither body nor Content-Length. Finishes the request: req is invalid
 * afterwards. Returns 0, or -1 if already responded.
 */
int http_respond(http_request_t *req, int status, const http_header_t *headers,
                 size_t nheaders, const void *body, size_t len);
/** JSON body {"error":{"status":N,"message":"...","request_id":"..."}}. */
int http_respond_error(http_request_t *req, int status, const char *message);
/** Convenience: 200-style JSON body (already serialised). */
int http_respond_json(http_request_t *req, int status, const char *json,
                      size_t len);

/**
 * Serves a file under root for GET/HEAD (other methods: 405). rel is the
 * raw path remainder as in the URL (e.g. a {rest*} parameter); it is
 * percent-decoded once here. Encoded slashes or backslashes (%2f, %5c),
 * backslashes, NUL, absolute paths and ".." segments are refused with 404,
 * a malformed escape with 400; a target that resolves (symlinks followed)
 * outside realpath(root) is a 404. Content-Type by extension, ETag from
 * size+mtime with If-None-Match -> 304, index.html for directories,
 * Cache-Control: no-cache for HTML. The file is read off the loop (uv_fs).
 * Returns after scheduling; responds in every case. root and rel are
 * borrowed for the call only.
 */
void http_serve_static(http_request_t *req, const char *root, const char *rel);

/* ---------------- helpers ---------------- */

/** Percent-decodes len bytes of src into dst (room for len bytes; no NUL
 * added); plus: '+' becomes ' '. Returns the decoded length, or -1 on a
 * malformed escape. */
long http_pct_decode(char *dst, const char *src, size_t len, int plus);
/** Content-Type for a file name by extension (static string). */
const char *http_content_type(const char *path);

#endif
