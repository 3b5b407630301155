/*
 * The HTTP server on a private loop, with real TCP clients driven from the
 * same loop (client.c). Every test closes its handles and asserts
 * uv_loop_close() == 0 in the teardown, and that every generation token
 * acquired for a request was released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "common/alloc.h"
#include "common/log.h"
#include "http/http.h"
#include "http/internal.h"
#include "metrics/metrics.h"

typedef struct fx {
  uv_loop_t loop;
  http_server_t *srv;
  router_t *router;
  int port;
  int acquired, released;
  http_request_t *held[8];
  size_t nheld;
  int done;
  char root[300], outside[300], tmp[64];
} fx_t;

static fx_t F;

static const http_limits_t default_limits = {
    .max_connections = 100,
    .max_header_size = 8192,
    .max_headers = 64,
    .max_body_size = 1 << 20,
    .header_timeout_ms = 10000,
    .body_timeout_ms = 10000,
    .idle_timeout_ms = 10000,
};

/* ---------------- the app and handlers ---------------- */

static const router_t *acq(void *ud, void **token) {
  fx_t *f = ud;
  f->acquired++;
  *token = &f->acquired;
  return f->router;
}

static void rel(void *ud, void *token) {
  fx_t *f = ud;
  assert_ptr_equal(token, &f->acquired);
  f->released++;
}

static const http_header_t text = {"Content-Type", "text/plain"};

static void h_hello(http_request_t *req, void *ud) {
  (void)ud;
  assert_ptr_equal(http_req_token(req), &F.acquired);
  http_respond(req, 200, &text, 1, "hello", 5);
}

static void h_item(http_request_t *req, void *ud) {
  (void)ud;
  char body[256];
  int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"route\":\"%s\"}",
                   http_req_param(req, "id"), http_req_route(req));
  assert_null(http_req_param(req, "nope"));
  http_respond_json(req, 200, body, (size_t)n);
}

static void h_query(http_request_t *req, void *ud) {
  (void)ud;
  const char *b = http_req_query(req, "b");
  const char *a = http_req_query(req, "a");
  char body[256];
  int n = snprintf(body, sizeof body, "a=%s b=%s c=%s z=%s", a ? a : "-",
                   b ? b : "-", http_req_query(req, "c"),
                   http_req_query(req, "z") ? "set" : "unset");
  http_respond(req, 200, &text, 1, body, (size_t)n);
}

static void h_echo(http_request_t *req, void *ud) {
  (void)ud;
  size_t len;
  const char *body = http_req_body(req, &len);
  const char *x = http_req_header(req, "x-test");
  http_header_t h[2] = {{"Content-Type", "application/octet-stream"},
                        {"X-Echo", x ? x : "none"}};
  http_respond(req, 200, h, 2, body, len);
}

static void h_hold(http_request_t *req, void *ud) {
  (void)ud;
  assert_true(F.nheld < 8);
  F.held[F.nheld++] = req;
}

static void on_timer_close(uv_handle_t *h) {
  free(h);
}

static void on_async_timer(uv_timer_t *t) {
  http_request_t *req = t->data;
  assert_int_equal(http_respond(req, 200, &text, 1, "async", 5), 0);
  assert_int_equal(http_respond(req, 200, &text, 1, "again", 5), -1);
  uv_close((uv_handle_t *)t, on_timer_close);
}

static void h_timer(http_request_t *req, void *ud) {
  (void)ud;
  uv_timer_t *t = xmalloc(sizeof *t);
  uv_timer_init(&F.loop, t);
  t->data = req;
  uv_timer_start(t, on_async_timer, 1, 0);
}

static void h_reqid(http_request_t *req, void *ud) {
  (void)ud;
  const char *id = http_req_id(req);
  http_respond(req, 200, &text, 1, id, strlen(id));
}

static void h_static(http_request_t *req, void *ud) {
  (void)ud;
  http_serve_static(req, F.root, http_req_param(req, "path"));
}

static void h_big(http_request_t *req, void *ud) {
  (void)ud;
  size_t n = 4u << 20;
  char *b = xmalloc(n);
  for (size_t i = 0; i < n; i++) b[i] = (char)('a' + i % 26);
  http_respond(req, 200, &text, 1, b, n);
  free(b);
}

static void h_badhdr(http_request_t *req, void *ud) {
  (void)ud;
  http_header_t h[3] = {{"X-Bad", "a\r\nSet-Cookie: x=1"},
                        {"Content-Length", "999"},
                        {"X-Good", "yes"}};
  http_respond(req, 200, h, 3, "ok", 2);
}

/* ---------------- fixture ---------------- */

static void write_file(const char *dir, const char *name, const char *data) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(data, f);
  fclose(f);
}

static void make_tree(void) {
  char p[600];
  snprintf(F.tmp, sizeof F.tmp, "/tmp/assist-http-XXXXXX");
  assert_non_null(mkdtemp(F.tmp));
  snprintf(F.root, sizeof F.root, "%s/root", F.tmp);
  snprintf(F.outside, sizeof F.outside, "%s/outside", F.tmp);
  assert_int_equal(mkdir(F.root, 0755), 0);
  assert_int_equal(mkdir(F.outside, 0755), 0);
  write_file(F.outside, "secret.txt", "TOPSECRET");
  write_file(F.root, "index.html", "<h1>root</h1>");
  write_file(F.root, "style.css", "body{color:red}");
  write_file(F.root, "app.js", "console.log(1)");
  write_file(F.root, "data.json", "{\"a\":1}");
  write_file(F.root, "logo.svg", "<svg/>");
  write_file(F.root, "font.woff2", "wOF2");
  write_file(F.root, "a b.txt", "space");
  snprintf(p, sizeof p, "%s/sub", F.root);
  assert_int_equal(mkdir(p, 0755), 0);
  write_file(p, "index.html", "<h1>sub</h1>");
  snprintf(p, sizeof p, "%s/inner-link.css", F.root);
  assert_int_equal(symlink("style.css", p), 0);
  snprintf(p, sizeof p, "%s/escape.txt", F.root);
  assert_int_equal(symlink("../outside/secret.txt", p), 0);
  snprintf(p, sizeof p, "%s/escdir", F.root);
  assert_int_equal(symlink(F.outside, p), 0);
}

static void rm_tree(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.tmp);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
  (void)state;
  memset(&F, 0, sizeof F);
  log_setup(LOG_FORMAT_JSON, LOG_WARN, 2);
  assert_int_equal(uv_loop_init(&F.loop), 0);
  router_t *r = router_new();
  assert_int_equal(router_add(r, "GET", "/hello", 0, h_hello, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/items/{id}", 0, h_item, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/q", 0, h_query, NULL), 0);
  assert_int_equal(router_add(r, "POST", "/echo", 0, h_echo, NULL), 0);
  assert_int_equal(router_add(r, "POST", "/small", 10, h_echo, NULL), 0);
  assert_int_equal(router_add(r, "POST", "/p/{id}", 0, h_item, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/hold", 0, h_hold, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/timer", 0, h_timer, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/reqid", 0, h_reqid, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/big", 0, h_big, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/badhdr", 0, h_badhdr, NULL), 0);
  assert_int_equal(router_add(r, "GET", "/static/{path*}", 0, h_static, NULL),
                   0);
  F.router = r;
  http_app_t app = {acq, rel, &F};
  F.srv = http_server_new(&F.loop, &default_limits, &app);
  assert_int_equal(http_server_listen(F.srv, "127.0.0.1", 0), 0);
  F.port = http_server_port(F.srv, 0);
  assert_true(F.port > 0);
  assert_int_equal(http_server_port(F.srv, 1), -1);
  make_tree();
  return 0;
}

static void walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  fprintf(stderr, "open handle: %s active=%d closing=%d\n",
          uv_handle_type_name(h->type), uv_is_active(h), uv_is_closing(h));
}

static int teardown(void **state) {
  (void)state;
  if (F.srv) http_server_free(F.srv);
  F.srv = NULL;
  assert_int_equal(uv_run(&F.loop, UV_RUN_DEFAULT), 0);
  uv_walk(&F.loop, walk_cb, NULL);
  assert_int_equal(uv_loop_close(&F.loop), 0);
  assert_int_equal(F.acquired, F.released);
  router_free(F.router);
  metrics_reset();
  rm_tree();
  return 0;
}

static void set_limits(void (*edit)(http_limits_t *)) {
  http_limits_t l = default_limits;
  edit(&l);
  http_server_set_limits(F.srv, &l);
}

/* One request on a fresh connection; waits for one response. */
static void roundtrip(const char *req, resp_t *r, int head) {
  client_t c;
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, req);
  RUN_UNTIL(&F.loop, client_count(&c, head) >= 1 || c.eof);
  assert_int_equal(client_responses(&c, r, 1, head), 1);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void get(const char *path, resp_t *r) {
  char req[2048];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
  roundtrip(req, r, 0);
}

static void assert_error_body(const resp_t *r, int status) {
  char id[128], want[512];
  assert_int_equal(r->status, status);
  assert_non_null(resp_header(r, "X-Request-Id", id, sizeof id));
  assert_non_null(resp_header(r, "Content-Type", want, sizeof want));
  assert_string_equal(want, "application/json");
  snprintf(want, sizeof want, "\"status\":%d", status);
  assert_non_null(strstr(r->body, want));
  snprintf(want, sizeof want, "\"request_id\":\"%s\"}}", id);
  assert_non_null(strstr(r->body, want));
  assert_true(strncmp(r->body, "{\"error\":{\"status\":", 19) == 0);
}

/* ---------------- tests ---------------- */

static void test_request_response(void **state) {
  (void)state;
  resp_t r;
  char v[128];
  get("/hello", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  assert_string_equal(resp_header(&r, "Content-Length", v, sizeof v), "5");
  assert_string_equal(resp_header(&r, "Content-Type", v, sizeof v),
                      "text/plain");
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "keep-alive");
  assert_non_null(resp_header(&r, "Date", v, sizeof v));
  assert_non_null(strstr(v, " GMT"));
  assert_non_null(resp_header(&r, "X-Request-Id", v, sizeof v));
  assert_int_equal(strlen(v), 16);
  assert_int_equal(strspn(v, "0123456789abcdef"), 16);
  resp_free(&r);

  get("/items/abc%20d", &r);
  assert_string_equal(r.body, "{\"id\":\"abc%20d\",\"route\":\"/items/{id}\"}");
  resp_free(&r);

  get("/q?a=1&b=hello+world%21&c=%zz&&=x", &r);
  assert_string_equal(r.body, "a=1 b=hello world! c=%zz z=unset");
  resp_free(&r);

  /* Absolute-form target. */
  get("http://example.com/hello?x=1", &r);
  assert_string_equal(r.body, "hello");
  resp_free(&r);

  /* Handler headers with CR/LF and server-owned ones are dropped. */
  get("/badhdr", &r);
  assert_int_equal(r.status, 200);
  assert_null(strstr(r.head, "Set-Cookie"));
  assert_null(strstr(r.head, "999"));
  assert_string_equal(resp_header(&r, "X-Good", v, sizeof v), "yes");
  assert_string_equal(r.body, "ok");
  resp_free(&r);
}

static void test_keep_alive(void **state) {
  (void)state;
  client_t c;
  resp_t r[2];
  client_connect(&F.loop, &c, F.port);
  for (int i = 0; i < 3; i++) {
    client_sends(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
    assert_int_equal(client_responses(&c, r, 2, 0), 1);
    assert_string_equal(r[0].body, "hello");
    resp_free(&r[0]);
    assert_int_equal(http_server_connections(F.srv), 1);
  }
  /* HTTP/1.0 without keep-alive and an explicit close both end it. */
  client_sends(&c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  char v[64];
  assert_string_equal(resp_header(&r[0], "Connection", v, sizeof v), "close");
  resp_free(&r[0]);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);

  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "GET /hello HTTP/1.0\r\n\r\n");
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  assert_string_equal(resp_header(&r[0], "Connection", v, sizeof v), "close");
  resp_free(&r[0]);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  RUN_UNTIL(&F.loop, http_server_connections(F.srv) == 0);
}

static void test_pipelining(void **state) {
  (void)state;
  client_t c;
  resp_t r[3];
  client_connect(&F.loop, &c, F.port);
  /* The middle one answers asynchronously; order must hold. */
  client_sends(&c, "GET /items/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /timer HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /items/3 HTTP/1.1\r\nHost: t\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 3);
  assert_int_equal(client_responses(&c, r, 3, 0), 3);
  assert_non_null(strstr(r[0].body, "\"id\":\"1\""));
  assert_string_equal(r[1].body, "async");
  assert_non_null(strstr(r[2].body, "\"id\":\"3\""));
  for (int i = 0; i < 3; i++) resp_free(&r[i]);
  /* Pipelined behind a held request: nothing is answered before it. */
  client_sends(&c, "GET /hold HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, F.nheld == 1);
  for (int i = 0; i < 5; i++) uv_run(&F.loop, UV_RUN_NOWAIT);
  assert_int_equal(client_count(&c, 0), 0);
  assert_int_equal(http_respond(F.held[0], 200, &text, 1, "held", 4), 0);
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 2);
  assert_int_equal(client_responses(&c, r, 3, 0), 2);
  assert_string_equal(r[0].body, "held");
  assert_string_equal(r[1].body, "hello");
  resp_free(&r[0]);
  resp_free(&r[1]);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void test_async_timer(void **state) {
  (void)state;
  resp_t r;
  get("/timer", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "async");
  resp_free(&r);
}

static void test_client_gone_before_async(void **state) {
  (void)state;
  client_t c;
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  RUN_UNTIL(&F.loop, F.nheld == 1);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed && F.srv->conns && F.srv->conns->eof);
  /* The request stays valid: accessors work, the response is dropped. */
  assert_string_equal(http_req_path(F.held[0]), "/hold");
  assert_int_equal(http_respond(F.held[0], 200, &text, 1, "late", 4), 0);
  RUN_UNTIL(&F.loop, http_server_connections(F.srv) == 0 && !F.srv->conns);
  assert_int_equal(F.acquired, F.released);
  client_free(&c);
}

static void test_chunked_body(void **state) {
  (void)state;
  client_t c;
  resp_t r[2];
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nX-Test: yes  \r\n"
                   "Transfer-Encoding: chunked\r\n\r\n5\r\nhel");
  for (int i = 0; i < 3; i++) uv_run(&F.loop, UV_RUN_NOWAIT);
  client_sends(&c, "lo\r\n6\r\n world\r\n0\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  assert_int_equal(r[0].status, 200);
  assert_string_equal(r[0].body, "hello world");
  char v[64];
  assert_string_equal(resp_header(&r[0], "X-Echo", v, sizeof v), "yes");
  resp_free(&r[0]);
  /* Trailers after the parameters were matched (found by the fuzzer). */
  client_sends(&c,
               "POST /p/xyz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n0\r\nX-Trailer-1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "\r\nX-Trailer-2: b\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  assert_string_equal(r[0].body, "{\"id\":\"xyz\",\"route\":\"/p/{id}\"}");
  resp_free(&r[0]);
  /* Content-Length body, then Expect: 100-continue. */
  client_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  assert_string_equal(r[0].body, "abc");
  resp_free(&r[0]);
  client_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n"
                   "Expect: 100-continue\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  assert_int_equal(r[0].status, 100);
  resp_free(&r[0]);
  client_sends(&c, "wxyz");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, r, 2, 0), 1);
  assert_string_equal(r[0].body, "wxyz");
  resp_free(&r[0]);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void expect_close_with(const char *req, int status) {
  client_t c;
  resp_t r;
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, req);
  RUN_UNTIL(&F.loop, c.eof);
  if (client_responses(&c, &r, 1, 0) != 1)
    fail_msg("no response for %.40s", req);
  assert_error_body(&r, status);
  char v[64];
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "close");
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void test_malformed_400(void **state) {
  (void)state;
  expect_close_with("GET /hello HTTP/1.1\r\nHost t\r\n\r\n", 400);
  expect_close_with("BLAH /hello HTTP/1.1\r\n\r\n", 400);
  expect_close_with("GET /hello HTTP/9.9\r\n\r\n", 400);
  expect_close_with("GET nothing HTTP/1.1\r\n\r\n", 400);
  expect_close_with("POST /echo HTTP/1.1\r\nContent-Length: 1\r\n"
                    "Content-Length: 2\r\n\r\nab",
                    400);
  expect_close_with("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "zz\r\n",
                    400);
}

static void test_404_405(void **state) {
  (void)state;
  resp_t r;
  char v[128], want[256];
  get("/nope", &r);
  assert_error_body(&r, 404);
  resp_header(&r, "X-Request-Id", v, sizeof v);
  snprintf(want, sizeof want,
           "{\"error\":{\"status\":404,\"message\":\"not found\","
           "\"request_id\":\"%s\"}}",
           v);
  assert_string_equal(r.body, want);
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "keep-alive");
  resp_free(&r);
  roundtrip("DELETE /hello HTTP/1.1\r\n\r\n", &r, 0);
  assert_error_body(&r, 405);
  assert_string_equal(resp_header(&r, "Allow", v, sizeof v), "GET, HEAD");
  resp_free(&r);
}

static void lim_body100(http_limits_t *l) {
  l->max_body_size = 100;
}

static void test_413(void **state) {
  (void)state;
  /* Per route: answered from the headers alone, body never sent. */
  expect_close_with("POST /small HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413);
  resp_t r;
  roundtrip("POST /small HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", &r,
            0);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  /* Chunked: as soon as the accumulated size exceeds the cap. */
  expect_close_with("POST /small HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "8\r\n01234567\r\n8\r\n01234567\r\n",
                    413);
  /* Server default. */
  set_limits(lim_body100);
  expect_close_with("POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413);
  char req[512];
  snprintf(req, sizeof req,
           "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n%0100d", 7);
  roundtrip(req, &r, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 100);
  resp_free(&r);
}

static void lim_headers(http_limits_t *l) {
  l->max_header_size = 1024;
  l->max_headers = 10;
}

static void test_431(void **state) {
  (void)state;
  set_limits(lim_headers);
  char req[4096];
  int n = snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nX-Big: ");
  memset(req + n, 'a', 1500);
  snprintf(req + n + 1500, sizeof req - (size_t)n - 1500, "\r\n\r\n");
  expect_close_with(req, 431);
  /* A long URL counts too. */
  n = snprintf(req, sizeof req, "GET /hello?");
  memset(req + n, 'q', 1500);
  snprintf(req + n + 1500, sizeof req - (size_t)n - 1500, " HTTP/1.1\r\n\r\n");
  expect_close_with(req, 431);
  /* Ten headers pass, eleven do not. */
  n = snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\n");
  for (int i = 0; i < 10; i++)
    n += snprintf(req + n, sizeof req - (size_t)n, "X-H%d: v\r\n", i);
  snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  resp_t r;
  roundtrip(req, &r, 0);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  n = snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\n");
  for (int i = 0; i < 11; i++)
    n += snprintf(req + n, sizeof req - (size_t)n, "X-H%d: v\r\n", i);
  snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  expect_close_with(req, 431);
}

static void lim_timeouts(http_limits_t *l) {
  l->header_timeout_ms = 30;
  l->body_timeout_ms = 30;
  l->idle_timeout_ms = 30;
}

static void test_408_timeouts(void **state) {
  (void)state;
  set_limits(lim_timeouts);
  /* A slow client that never finishes its headers. */
  expect_close_with("GET /hello HTTP/1.1\r\nHost: t\r\n", 408);
  /* A body that stops arriving. */
  expect_close_with("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
                    408);
}

static void test_idle_close(void **state) {
  (void)state;
  set_limits(lim_timeouts);
  client_t c;
  resp_t r;
  /* Never sends anything: closed silently. */
  client_connect(&F.loop, &c, F.port);
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(c.in.len, 0);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  /* After a response, the keep-alive connection idles out silently. */
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_int_equal(r.status, 200);
  assert_int_equal(c.in.len, 0);
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  RUN_UNTIL(&F.loop, http_server_connections(F.srv) == 0);
}

static void lim_one_conn(http_limits_t *l) {
  l->max_connections = 1;
}

static void test_connection_limit(void **state) {
  (void)state;
  set_limits(lim_one_conn);
  client_t a, b;
  resp_t r;
  client_connect(&F.loop, &a, F.port);
  client_sends(&a, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&a, 0) == 1);
  assert_int_equal(client_responses(&a, &r, 1, 0), 1);
  resp_free(&r);
  assert_int_equal(http_server_connections(F.srv), 1);
  client_connect(&F.loop, &b, F.port);
  client_sends(&b, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, b.eof);
  assert_int_equal(client_responses(&b, &r, 1, 0), 1);
  assert_error_body(&r, 503);
  resp_free(&r);
  /* The first connection still works. */
  client_sends(&a, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&a, 0) == 1);
  assert_int_equal(client_responses(&a, &r, 1, 0), 1);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  client_close(&a);
  client_close(&b);
  RUN_UNTIL(&F.loop, a.closed && b.closed);
  client_free(&a);
  client_free(&b);
}

static void test_head(void **state) {
  (void)state;
  client_t c;
  resp_t r;
  char v[64];
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "HEAD /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 1) == 1);
  assert_int_equal(client_responses(&c, &r, 1, 1), 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Content-Length", v, sizeof v), "5");
  resp_free(&r);
  /* Framing intact: the next response parses cleanly. */
  client_sends(&c, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_string_equal(r.body, "hello");
  assert_int_equal(c.in.len, 0);
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void test_big_response(void **state) {
  (void)state;
  resp_t r;
  get("/big", &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 4u << 20);
  for (size_t i = 0; i < r.body_len; i += 4099)
    assert_int_equal(r.body[i], 'a' + (int)(i % 26));
  resp_free(&r);
}

static void static_get(const char *path, resp_t *r) {
  char full[1024];
  snprintf(full, sizeof full, "/static/%s", path);
  get(full, r);
  assert_null(strstr(r->body, "TOPSECRET"));
}

static void test_static_files(void **state) {
  (void)state;
  resp_t r;
  char v[128], etag[128];
  static const struct {
    const char *path, *type, *body;
  } ok[] = {
      {"", "text/html; charset=utf-8", "<h1>root</h1>"},
      {"index.html", "text/html; charset=utf-8", "<h1>root</h1>"},
      {"style.css", "text/css; charset=utf-8", "body{color:red}"},
      {"app.js", "text/javascript; charset=utf-8", "console.log(1)"},
      {"data.json", "application/json", "{\"a\":1}"},
      {"logo.svg", "image/svg+xml", "<svg/>"},
      {"font.woff2", "font/woff2", "wOF2"},
      {"sub/", "text/html; charset=utf-8", "<h1>sub</h1>"},
      {"sub", "text/html; charset=utf-8", "<h1>sub</h1>"},
      {"./sub//index.html", "text/html; charset=utf-8", "<h1>sub</h1>"},
      {"inner-link.css", "text/css; charset=utf-8", "body{color:red}"},
      {"a%20b.txt", "text/plain; charset=utf-8", "space"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    static_get(ok[i].path, &r);
    if (r.status != 200) fail_msg("%s: status %d", ok[i].path, r.status);
    assert_string_equal(resp_header(&r, "Content-Type", v, sizeof v),
                        ok[i].type);
    assert_string_equal(r.body, ok[i].body);
    assert_non_null(resp_header(&r, "ETag", v, sizeof v));
    resp_header(&r, "Cache-Control", v, sizeof v);
    if (strstr(ok[i].type, "text/html"))
      assert_string_equal(v, "no-cache");
    else
      assert_string_not_equal(v, "no-cache");
    resp_free(&r);
  }

  /* ETag and If-None-Match. */
  static_get("style.css", &r);
  assert_non_null(resp_header(&r, "ETag", etag, sizeof etag));
  assert_int_equal(etag[0], '"');
  resp_free(&r);
  char req[512];
  snprintf(req, sizeof req,
           "GET /static/style.css HTTP/1.1\r\nIf-None-Match: \"x\", %s\r\n\r\n",
           etag);
  roundtrip(req, &r, 0);
  assert_int_equal(r.status, 304);
  assert_int_equal(r.body_len, 0);
  assert_string_equal(resp_header(&r, "ETag", v, sizeof v), etag);
  resp_free(&r);
  roundtrip(
      "GET /static/style.css HTTP/1.1\r\nIf-None-Match: \"other\"\r\n\r\n", &r,
      0);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  /* HEAD: the length of the file, no body. */
  roundtrip("HEAD /static/style.css HTTP/1.1\r\n\r\n", &r, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Content-Length", v, sizeof v), "15");
  resp_free(&r);
  roundtrip("POST /static/style.css HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r,
            0);
  assert_error_body(&r, 405);
  resp_free(&r);

  /* Traversal and other refusals. */
  static const struct {
    const char *path;
    int status;
  } bad[] = {
      {"missing.txt", 404},
      {"../outside/secret.txt", 404},
      {"sub/../../outside/secret.txt", 404},
      {"%2e%2e/outside/secret.txt", 404},
      {"%2E%2E%2Foutside%2Fsecret.txt", 404},
      {"..%2foutside%2fsecret.txt", 404},
      {"sub%2f..%2f..%2foutside/secret.txt", 404},
      {"index.html%00.png", 404},
      {"%5c..%5coutside", 404},
      {"/etc/passwd", 404},
      {"%2fetc/passwd", 404},
      {"escape.txt", 404},
      {"escdir/secret.txt", 404},
      {"escdir/", 404},
      {"bad%zz", 400},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    static_get(bad[i].path, &r);
    if (r.status != bad[i].status)
      fail_msg("%s: status %d, want %d", bad[i].path, r.status, bad[i].status);
    assert_error_body(&r, bad[i].status);
    resp_free(&r);
  }
  /* A raw backslash: refused by the parser (400) or the check (404). */
  roundtrip("GET /static/..\\outside\\secret.txt HTTP/1.1\r\n\r\n", &r, 0);
  assert_true(r.status == 400 || r.status == 404);
  assert_null(strstr(r.body, "TOPSECRET"));
  resp_free(&r);
}

static void on_done(void *arg) {
  fx_t *f = arg;
  f->done++;
}

static void test_graceful_shutdown(void **state) {
  (void)state;
  client_t busy, idle, late;
  resp_t r;
  char v[64];
  client_connect(&F.loop, &busy, F.port);
  client_sends(&busy, "GET /hold HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, F.nheld == 1);
  client_connect(&F.loop, &idle, F.port);
  client_sends(&idle, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&idle, 0) == 1);
  http_server_shutdown(F.srv, 60000, on_done, &F);
  /* Idle connections go at once; nothing new is accepted. */
  RUN_UNTIL(&F.loop, idle.eof);
  client_connect_start(&F.loop, &late, F.port);
  RUN_UNTIL(&F.loop, late.connected);
  assert_int_not_equal(late.conn_err, 0);
  assert_int_equal(F.done, 0);
  /* The in-flight request finishes, with Connection: close. */
  assert_int_equal(http_respond(F.held[0], 200, &text, 1, "bye", 3), 0);
  RUN_UNTIL(&F.loop, busy.eof);
  assert_int_equal(client_responses(&busy, &r, 1, 0), 1);
  assert_string_equal(r.body, "bye");
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "close");
  resp_free(&r);
  client_close(&busy);
  client_close(&idle);
  client_close(&late);
  RUN_UNTIL(&F.loop, F.done == 1);
  RUN_UNTIL(&F.loop, busy.closed && idle.closed && late.closed);
  client_free(&busy);
  client_free(&idle);
  client_free(&late);
}

static void test_shutdown_deadline(void **state) {
  (void)state;
  client_t c;
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "GET /hold HTTP/1.1\r\n\r\n");
  client_sends(&c, "GET /hold HTTP/1.1\r\n\r\n"); /* pipelined, stashed */
  RUN_UNTIL(&F.loop, F.nheld == 1);
  http_server_shutdown(F.srv, 20, on_done, &F);
  RUN_UNTIL(&F.loop, F.done == 1 && c.eof);
  assert_int_equal(http_server_connections(F.srv), 0);
  /* Freed before the handler answers: the answer is only released. */
  http_server_free(F.srv);
  F.srv = NULL;
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  assert_int_equal(uv_run(&F.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(F.released, F.acquired - 1);
  assert_int_equal(http_respond(F.held[0], 200, &text, 1, "late", 4), 0);
  assert_int_equal(F.released, F.acquired);
  client_free(&c);
}

static void test_request_id(void **state) {
  (void)state;
  resp_t r;
  char v[128], first[32];
  roundtrip("GET /reqid HTTP/1.1\r\nX-Request-Id: abc-123.X_y\r\n\r\n", &r, 0);
  assert_string_equal(r.body, "abc-123.X_y");
  assert_string_equal(resp_header(&r, "X-Request-Id", v, sizeof v),
                      "abc-123.X_y");
  resp_free(&r);
  /* Errors carry the client's id too. */
  roundtrip("GET /nope HTTP/1.1\r\nx-request-id: trace-9\r\n\r\n", &r, 0);
  assert_non_null(strstr(r.body, "\"request_id\":\"trace-9\""));
  resp_free(&r);
  /* Not sane: replaced. */
  roundtrip("GET /reqid HTTP/1.1\r\nX-Request-Id: bad id!\r\n\r\n", &r, 0);
  assert_int_equal(strlen(r.body), 16);
  assert_int_equal(strspn(r.body, "0123456789abcdef"), 16);
  snprintf(first, sizeof first, "%s", r.body);
  resp_free(&r);
  char req[512];
  int n = snprintf(req, sizeof req, "GET /reqid HTTP/1.1\r\nX-Request-Id: ");
  memset(req + n, 'a', 65);
  snprintf(req + n + 65, sizeof req - (size_t)n - 65, "\r\n\r\n");
  roundtrip(req, &r, 0);
  assert_int_equal(strlen(r.body), 16);
  assert_string_not_equal(r.body, first);
  resp_free(&r);
  memset(req + n, 'a', 64);
  snprintf(req + n + 64, sizeof req - (size_t)n - 64, "\r\n\r\n");
  roundtrip(req, &r, 0);
  assert_int_equal(strlen(r.body), 64);
  resp_free(&r);
}

static void test_metrics(void **state) {
  (void)state;
  resp_t r;
  client_t c;
  get("/hello", &r);
  resp_free(&r);
  get("/hello", &r);
  resp_free(&r);
  get("/nope", &r);
  resp_free(&r);
  get("/items/7", &r);
  resp_free(&r);
  roundtrip("PROPFIND /hello HTTP/1.1\r\n\r\n", &r, 0);
  assert_int_equal(r.status, 405);
  resp_free(&r);
  metric_t *req = metrics_family(METRIC_COUNTER, "assist_http_requests_total",
                                 NULL, NULL, 0);
  assert_non_null(req);
  assert_true(metric_value(req, "route=\"/hello\",method=\"GET\","
                                "status=\"200\"") == 2);
  assert_true(metric_value(req, "route=\"none\",method=\"GET\","
                                "status=\"404\"") == 1);
  assert_true(metric_value(req, "route=\"/items/{id}\",method=\"GET\","
                                "status=\"200\"") == 1);
  assert_true(metric_value(req, "route=\"none\",method=\"other\","
                                "status=\"405\"") == 1);
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  buf_t out = {0};
  metrics_render(&out);
  assert_non_null(
      strstr(out.data,
             "assist_http_request_duration_seconds_count{route=\"/hello\"} 3"));
  assert_non_null(strstr(out.data, "# TYPE assist_http_connections gauge"));
  assert_non_null(strstr(out.data, "\nassist_http_connections 1\n"));
  buf_free(&out);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed && http_server_connections(F.srv) == 0);
  client_free(&c);
  metrics_render(&out);
  assert_non_null(strstr(out.data, "\nassist_http_connections 0\n"));
  buf_free(&out);
}

static void test_listen_unlisten(void **state) {
  (void)state;
  assert_int_equal(http_server_listen(F.srv, "not-an-ip", 0), UV_EINVAL);
  assert_int_equal(http_server_listen(F.srv, "localhost", 0), 0);
  int p2 = http_server_port(F.srv, 1);
  assert_true(p2 > 0 && p2 != F.port);
  /* The port in use cannot be bound twice. */
  assert_true(http_server_listen(F.srv, "127.0.0.1", F.port) < 0);
  assert_int_equal(http_server_port(F.srv, 2), -1);
  assert_int_equal(http_server_unlisten(F.srv, "localhost", p2), 0);
  assert_int_equal(http_server_unlisten(F.srv, "localhost", p2), -1);
  assert_int_equal(http_server_port(F.srv, 1), -1);
  resp_t r;
  get("/hello", &r);
  assert_int_equal(r.status, 200);
  resp_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_request_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_gone_before_async, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_chunked_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_400, setup, teardown),
      cmocka_unit_test_setup_teardown(test_404_405, setup, teardown),
      cmocka_unit_test_setup_teardown(test_413, setup, teardown),
      cmocka_unit_test_setup_teardown(test_431, setup, teardown),
      cmocka_unit_test_setup_teardown(test_408_timeouts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_head, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_graceful_shutdown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shutdown_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listen_unlisten, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
