/*
 * fuzz_http: libFuzzer harness for the HTTP request path.
 *
 * The input's first byte seeds how the rest is cut into pieces; the pieces
 * are fed, one read at a time, into a socket-less connection
 * (http_conn_open_sink) of a real server with a small router, so parsing,
 * limits, pipelining with paused parsing, dispatch, asynchronous answers,
 * static files, spooled bodies (ROUTER_SPOOL_BODY, into a temporary
 * directory, with the loop run between pieces now and then so the file
 * writes interleave with parsing) and response writing all run as in the
 * daemon. After every input no spool file may be left.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "http/http.h"
#include "http/internal.h"

static uv_loop_t g_loop;
static http_server_t *g_srv;
static router_t *g_router;
static char g_root[64];
static char g_spool[96];
static http_request_t *g_held[4];
static size_t g_nheld;
static size_t g_out;

static const router_t *acq(void *ud, void **token) {
  (void)ud;
  *token = &g_router;
  return g_router;
}

static void rel(void *ud, void *token) {
  (void)ud;
  if (token != &g_router) abort();
}

static void h_echo(http_request_t *req, void *ud) {
  size_t len;
  const char *body = http_req_body(req, &len);
  const char *q = http_req_query(req, "q");
  const char *p = http_req_param(req, "id");
  const char *h = http_req_header(req, "x-test");
  /* Touch every accessor's bytes so ASan sees any overrun. */
  g_out += strlen(http_req_method(req)) + strlen(http_req_path(req)) +
           strlen(http_req_target(req)) + strlen(http_req_id(req)) +
           strlen(http_req_route(req)) + (q ? strlen(q) : 0) +
           (p ? strlen(p) : 0) + (h ? strlen(h) : 0);
  http_header_t hd = {"X-Test", h ? h : "none"};
  if (ud)
    http_respond_error(req, 500, "boom");
  else
    http_respond(req, 200, &hd, 1, body, len);
}

static void h_hold(http_request_t *req, void *ud) {
  (void)ud;
  if (g_nheld == sizeof g_held / sizeof g_held[0]) {
    http_respond_json(req, 200, "{}", 2);
    return;
  }
  g_held[g_nheld++] = req;
}

/* Spool routes: the file must hold exactly the body's bytes. */
static void h_spool(http_request_t *req, void *ud) {
  uint64_t len;
  size_t blen;
  const char *path = http_req_body_path(req, &len);
  if (!path || http_req_body(req, &blen) || blen) abort();
  struct stat st;
  if (stat(path, &st) != 0 || (uint64_t)st.st_size != len) abort();
  g_out += len;
  if (ud) {
    h_hold(req, NULL);
    return;
  }
  char n[32];
  int k = snprintf(n, sizeof n, "%llu", (unsigned long long)len);
  http_respond(req, 200, NULL, 0, n, (size_t)k);
}

static void h_static(http_request_t *req, void *ud) {
  (void)ud;
  http_serve_static(req, g_root, http_req_param(req, "path"));
}

static void sink(void *ud, const char *data, size_t len) {
  (void)ud;
  if (len && memcmp(data, "HTTP/1.1 ", len < 9 ? len : 9) != 0) abort();
  g_out += len;
}

static int spool_files(void) {
  DIR *d = opendir(g_spool);
  int n = 0;
  if (!d) abort();
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void answer_held(void) {
  while (g_nheld) {
    http_request_t *r = g_held[--g_nheld];
    http_respond(r, 202, NULL, 0, "held", 4);
  }
}

static void init(void) {
  static const http_limits_t lim = {
      .max_connections = 10,
      .max_header_size = 2048,
      .max_headers = 16,
      .max_body_size = 4096,
      .header_timeout_ms = 600000,
      .body_timeout_ms = 600000,
      .idle_timeout_ms = 600000,
  };
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);
  uv_loop_init(&g_loop);
  g_router = router_new();
  router_add(g_router, "GET", "/", 0, h_echo, NULL);
  router_add(g_router, "POST", "/echo/{id}", 0, h_echo, NULL);
  router_add(g_router, "PUT", "/small", 16, h_echo, NULL);
  router_add(g_router, "GET", "/fail", 0, h_echo, &g_out);
  router_add(g_router, "GET", "/hold/{rest*}", 0, h_hold, NULL);
  router_add(g_router, "GET", "/s/{path*}", 0, h_static, NULL);
  router_add_ex(g_router, "POST", "/up/{id}", 0, ROUTER_SPOOL_BODY, h_spool,
                NULL);
  router_add_ex(g_router, "PUT", "/up", 16, ROUTER_SPOOL_BODY, h_spool, NULL);
  router_add_ex(g_router, "POST", "/uphold", 0, ROUTER_SPOOL_BODY, h_spool,
                &g_out);
  snprintf(g_root, sizeof g_root, "/tmp/fuzz-http-XXXXXX");
  if (!mkdtemp(g_root)) abort();
  char p[128];
  snprintf(p, sizeof p, "%s/index.html", g_root);
  FILE *f = fopen(p, "w");
  if (!f) abort();
  fputs("<p>hi</p>", f);
  fclose(f);
  snprintf(g_spool, sizeof g_spool, "%s/spool", g_root);
  if (mkdir(g_spool, 0700) != 0) abort();
  http_app_t app = {acq, rel, NULL};
  g_srv = http_server_new(&g_loop, &lim, &app);
  http_server_set_spool_dir(g_srv, g_spool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    init();
    inited = 1;
  }
  if (size < 1) return 0;
  uint32_t rng = data[0] * 2654435761u + 1;
  data++;
  size--;
  http_conn_t *c = http_conn_open_sink(g_srv, sink, NULL);
  size_t pos = 0;
  while (pos < size && !c->closing) {
    rng = rng * 1103515245u + 12345u;
    size_t n = 1 + (rng >> 16) % 97;
    if (n > size - pos) n = size - pos;
    http_conn_feed(c, (const char *)data + pos, n);
    pos += n;
    if (rng & 0x100) answer_held();
    if (rng & 0x400) uv_run(&g_loop, UV_RUN_NOWAIT); /* spool writes */
  }
  if (rng & 0x200) http_conn_eof(c);
  /* Let every request finish: held ones are answered, static files read. */
  while (c->req.state == REQ_HANDLING) {
    if (g_nheld)
      answer_held();
    else
      uv_run(&g_loop, UV_RUN_ONCE);
  }
  http_conn_sink_done(c);
  answer_held();
  uv_run(&g_loop, UV_RUN_NOWAIT);
  if (g_srv->conns || g_srv->nconns) abort(); /* the connection is gone */
  /* Every spool file is closed and removed. */
  while (g_srv->spool_ops) uv_run(&g_loop, UV_RUN_ONCE);
  if (g_srv->spool_open || spool_files() != 0) abort();
  return 0;
}
