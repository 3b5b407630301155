/*
 * Spooled request bodies (ROUTER_SPOOL_BODY): the server on a private loop
 * with real TCP clients (client.c), uploads streamed with flow control so
 * neither side holds a whole body. Every test checks that the spool
 * directory ends up empty, and the teardown asserts uv_loop_close() == 0
 * and that every generation token was released.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "common/alloc.h"
#include "common/log.h"
#include "http/http.h"
#include "http/internal.h"
#include "metrics/metrics.h"

#define MB (1024u * 1024u)

typedef struct fx {
  uv_loop_t loop;
  http_server_t *srv;
  router_t *router;
  int port;
  int acquired, released;
  int handled; /* spool handler runs */
  http_request_t *held;
  int done, done_files;
  char tmp[64], spool[128], env[128], kept[128];
  char last_path[512];
  uint64_t last_len;
  char *old_tmpdir;
  uv_sem_t *go; /* threadpool blockers still waiting on it */
  int nblocked;
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

static const http_header_t text = {"Content-Type", "text/plain"};

/* The uploaded bytes: not periodic in any small power of two. */
static unsigned char pat(uint64_t i) {
  return (unsigned char)((i * 2654435761u) >> 11 ^ (i >> 17) ^ i);
}

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

/* Checks the file against the pattern; answers "ok <size>" or what is
 * wrong (the test compares the body). Blocking reads are fine here: this
 * is the test's handler, not the server. */
static void h_check(http_request_t *req, void *ud) {
  (void)ud;
  char msg[256];
  size_t blen = 99;
  uint64_t len = 0;
  F.handled++;
  const char *path = http_req_body_path(req, &len);
  if (!path) {
    http_respond(req, 200, &text, 1, "no path", 7);
    return;
  }
  snprintf(F.last_path, sizeof F.last_path, "%s", path);
  F.last_len = len;
  if (http_req_body(req, &blen) != NULL || blen != 0) {
    http_respond(req, 200, &text, 1, "body not NULL", 13);
    return;
  }
  struct stat st;
  if (stat(path, &st) != 0 || (st.st_mode & 0777) != 0600 ||
      (uint64_t)st.st_size != len) {
    http_respond(req, 200, &text, 1, "bad stat", 8);
    return;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    http_respond(req, 200, &text, 1, "cannot open", 11);
    return;
  }
  unsigned char *b = xmalloc(MB);
  uint64_t off = 0;
  size_t n;
  int bad = 0;
  while (!bad && (n = fread(b, 1, MB, f)) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (b[i] != pat(off + i)) {
        snprintf(msg, sizeof msg, "mismatch at %llu",
                 (unsigned long long)(off + i));
        bad = 1;
        break;
      }
    }
    off += n;
  }
  fclose(f);
  free(b);
  if (!bad) snprintf(msg, sizeof msg, "ok %llu", (unsigned long long)off);
  http_respond(req, 200, &text, 1, msg, strlen(msg));
}

static void h_keep(http_request_t *req, void *ud) {
  (void)ud;
  uint64_t len;
  const char *path = http_req_body_path(req, &len);
  int rc = path ? rename(path, F.kept) : -1;
  http_respond(req, rc == 0 ? 201 : 500, &text, 1, "kept", 4);
}

static void h_hold(http_request_t *req, void *ud) {
  (void)ud;
  uint64_t len;
  assert_non_null(http_req_body_path(req, &len));
  assert_null(F.held);
  F.held = req;
}

static void h_hello(http_request_t *req, void *ud) {
  (void)ud;
  size_t len;
  uint64_t plen = 7;
  /* Not a spool route: no path, the body as before. */
  assert_null(http_req_body_path(req, &plen));
  assert_int_equal(plen, 0);
  const char *b = http_req_body(req, &len);
  assert_non_null(b);
  http_respond(req, 200, &text, 1, "hello", 5);
}

/* ---------------- fixture ---------------- */

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int setup(void **state) {
  (void)state;
  memset(&F, 0, sizeof F);
  log_setup(LOG_FORMAT_JSON, LOG_WARN, 2);
  snprintf(F.tmp, sizeof F.tmp, "/tmp/assist-spool-XXXXXX");
  assert_non_null(mkdtemp(F.tmp));
  snprintf(F.spool, sizeof F.spool, "%s/spool", F.tmp);
  snprintf(F.env, sizeof F.env, "%s/env", F.tmp);
  snprintf(F.kept, sizeof F.kept, "%s/kept", F.tmp);
  assert_int_equal(mkdir(F.spool, 0700), 0);
  assert_int_equal(mkdir(F.env, 0700), 0);
  const char *old = getenv("TMPDIR");
  F.old_tmpdir = old ? xstrdup(old) : NULL;
  setenv("TMPDIR", F.env, 1);
  assert_int_equal(uv_loop_init(&F.loop), 0);
  router_t *r = router_new();
  assert_int_equal(router_add_ex(r, "POST", "/up", 100 * MB, ROUTER_SPOOL_BODY,
                                 h_check, NULL),
                   0);
  assert_int_equal(router_add_ex(r, "POST", "/small", 4096, ROUTER_SPOOL_BODY,
                                 h_check, NULL),
                   0);
  assert_int_equal(
      router_add_ex(r, "POST", "/keep", 0, ROUTER_SPOOL_BODY, h_keep, NULL), 0);
  assert_int_equal(
      router_add_ex(r, "POST", "/hold", 0, ROUTER_SPOOL_BODY, h_hold, NULL), 0);
  assert_int_equal(router_add_ex(r, "GET", "/hello", 0, 0, h_hello, NULL), 0);
  assert_int_equal(router_add(r, "POST", "/hello", 0, h_hello, NULL), 0);
  /* Unknown flags and duplicates are refused. */
  assert_int_equal(router_add_ex(r, "PUT", "/x", 0, 1u << 7, h_hello, NULL),
                   -1);
  assert_int_equal(router_add_ex(r, "POST", "/up", 0, 0, h_hello, NULL), -1);
  F.router = r;
  http_app_t app = {acq, rel, &F};
  F.srv = http_server_new(&F.loop, &default_limits, &app);
  http_server_set_spool_dir(F.srv, F.spool);
  assert_int_equal(http_server_listen(F.srv, "127.0.0.1", 0), 0);
  F.port = http_server_port(F.srv, 0);
  assert_true(F.port > 0);
  return 0;
}

static void walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  fprintf(stderr, "open handle: %s active=%d closing=%d\n",
          uv_handle_type_name(h->type), uv_is_active(h), uv_is_closing(h));
}

static int teardown(void **state) {
  (void)state;
  /* A failed test may leave the threadpool blocked: free it. */
  for (; F.nblocked > 0; F.nblocked--) uv_sem_post(F.go);
  if (F.srv) http_server_free(F.srv);
  F.srv = NULL;
  assert_int_equal(uv_run(&F.loop, UV_RUN_DEFAULT), 0);
  uv_walk(&F.loop, walk_cb, NULL);
  assert_int_equal(uv_loop_close(&F.loop), 0);
  assert_int_equal(F.acquired, F.released);
  assert_int_equal(count_files(F.spool), 0);
  assert_int_equal(count_files(F.env), 0);
  router_free(F.router);
  metrics_reset();
  if (F.old_tmpdir)
    setenv("TMPDIR", F.old_tmpdir, 1);
  else
    unsetenv("TMPDIR");
  free(F.old_tmpdir);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.tmp);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static void set_limits(void (*edit)(http_limits_t *)) {
  http_limits_t l = default_limits;
  edit(&l);
  http_server_set_limits(F.srv, &l);
}

/* Waits for the spools' pending fs requests (a finished or abandoned
 * request starts closing and unlinking its file before its response, if
 * any, is written): then every spool file must be gone. */
static void wait_spools_gone(void) {
  RUN_UNTIL(&F.loop, F.srv->spool_ops == 0);
  assert_int_equal(F.srv->spool_open, 0);
  assert_int_equal(count_files(F.spool), 0);
}

/* Sends total pattern bytes as a body (after the headers), keeping at
 * most ~1 MB queued in the client, so the server's flow control is what
 * paces the upload. Chunked bodies use irregular chunk sizes. Stops early
 * if the server closes the connection. */
static void send_body(client_t *c, uint64_t from, uint64_t total, int chunked,
                      uint32_t seed) {
  const size_t max = 256 * 1024;
  char *buf = xmalloc(max + 32);
  uint64_t sent = from;
  uint32_t rng = seed;
  while (sent < total && !c->eof) {
    while (sent < total && c->tcp.write_queue_size < MB) {
      size_t n = max, off = 0;
      if (chunked) {
        rng = rng * 1103515245u + 12345u;
        n = 1 + (rng >> 8) % 200000;
      }
      if (n > total - sent) n = (size_t)(total - sent);
      if (chunked) off = (size_t)sprintf(buf, "%zx\r\n", n);
      for (size_t i = 0; i < n; i++) buf[off + i] = (char)pat(sent + i);
      off += n;
      if (chunked) {
        memcpy(buf + off, "\r\n", 2);
        off += 2;
      }
      client_send(c, buf, off);
      sent += n;
    }
    if (sent < total) uv_run(&F.loop, UV_RUN_ONCE);
  }
  free(buf);
}

static void start_upload(client_t *c, const char *path, uint64_t total,
                         int chunked) {
  char head[256];
  if (chunked)
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: t\r\n"
             "Transfer-Encoding: chunked\r\n\r\n",
             path);
  else
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %llu\r\n\r\n",
             path, (unsigned long long)total);
  client_sends(c, head);
}

/* A complete upload on c; waits for its response. */
static void upload(client_t *c, const char *path, uint64_t total, int chunked,
                   resp_t *r) {
  start_upload(c, path, total, chunked);
  send_body(c, 0, total, chunked, (uint32_t)total);
  if (chunked) client_sends(c, "0\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(c, 0) >= 1 || c->eof);
  assert_int_equal(client_responses(c, r, 1, 0), 1);
}

static void upload_once(const char *path, uint64_t total, int chunked,
                        resp_t *r) {
  client_t c;
  client_connect(&F.loop, &c, F.port);
  upload(&c, path, total, chunked, r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void assert_error_body(const resp_t *r, int status) {
  char id[128], want[512];
  assert_int_equal(r->status, status);
  assert_non_null(resp_header(r, "X-Request-Id", id, sizeof id));
  snprintf(want, sizeof want,
           "{\"error\":{\"status\":%d,\"message\":\"cannot store request "
           "body\",\"request_id\":\"%s\"}}",
           status, id);
  if (status == 413)
    snprintf(want, sizeof want,
             "{\"error\":{\"status\":413,\"message\":\"request body too "
             "large\",\"request_id\":\"%s\"}}",
             id);
  assert_string_equal(r->body, want);
}

static int under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && path[n] == '/' &&
         strchr(path + n + 1, '/') == NULL;
}

/* ---------------- tests ---------------- */

static void test_content_length_50mb(void **state) {
  (void)state;
  resp_t r;
  char want[64];
  uint64_t total = 50 * MB;
  upload_once("/up", total, 0, &r);
  assert_int_equal(r.status, 200);
  snprintf(want, sizeof want, "ok %llu", (unsigned long long)total);
  assert_string_equal(r.body, want);
  resp_free(&r);
  assert_int_equal(F.last_len, total);
  assert_true(under(F.last_path, F.spool));
  /* Bounded memory: never more than the two staging buffers. */
  assert_true(F.srv->spool_peak > 0);
  assert_true(F.srv->spool_peak <= 2 * HTTP_SPOOL_BUF);
  wait_spools_gone();
  assert_int_equal(access(F.last_path, F_OK), -1);
  /* Counted like any other request. */
  metric_t *m = metrics_family(METRIC_COUNTER, "assist_http_requests_total",
                               NULL, NULL, 0);
  assert_true(metric_value(m, "route=\"/up\",method=\"POST\",status=\"200\"") ==
              1);
}

static void test_chunked_50mb(void **state) {
  (void)state;
  resp_t r;
  char want[64];
  uint64_t total = 50 * MB + 12345;
  upload_once("/up", total, 1, &r);
  assert_int_equal(r.status, 200);
  snprintf(want, sizeof want, "ok %llu", (unsigned long long)total);
  assert_string_equal(r.body, want);
  resp_free(&r);
  assert_int_equal(F.last_len, total);
  assert_true(F.srv->spool_peak > 0);
  assert_true(F.srv->spool_peak <= 2 * HTTP_SPOOL_BUF);
  wait_spools_gone();
  assert_int_equal(access(F.last_path, F_OK), -1);
}

static void test_small_and_empty(void **state) {
  (void)state;
  resp_t r;
  client_t c;
  client_connect(&F.loop, &c, F.port);
  /* Empty bodies still get a (empty) file; keep-alive goes on. */
  client_sends(&c, "POST /up HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_string_equal(r.body, "ok 0");
  resp_free(&r);
  assert_true(under(F.last_path, F.spool));
  upload(&c, "/up", 0, 1, &r);
  assert_string_equal(r.body, "ok 0");
  resp_free(&r);
  /* Expect: 100-continue works for spooled bodies too. */
  client_sends(&c, "POST /up HTTP/1.1\r\nContent-Length: 3\r\n"
                   "Expect: 100-continue\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_int_equal(r.status, 100);
  resp_free(&r);
  char b[3] = {(char)pat(0), (char)pat(1), (char)pat(2)};
  client_send(&c, b, 3);
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_string_equal(r.body, "ok 3");
  resp_free(&r);
  assert_int_equal(F.handled, 3);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  wait_spools_gone();
}

static void test_pipelined(void **state) {
  (void)state;
  client_t c;
  resp_t r[4];
  char req[4096];
  size_t n = 0;
  client_connect(&F.loop, &c, F.port);
  /* A spooled POST, a GET, a chunked spooled POST and a plain POST, all
   * in one write: answered in order. */
  n += (size_t)snprintf(req + n, sizeof req - n,
                        "POST /up HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
  for (int i = 0; i < 5; i++) req[n++] = (char)pat((uint64_t)i);
  n += (size_t)snprintf(req + n, sizeof req - n,
                        "GET /hello HTTP/1.1\r\n\r\n"
                        "POST /up HTTP/1.1\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n2\r\n");
  req[n++] = (char)pat(0);
  req[n++] = (char)pat(1);
  n += (size_t)snprintf(req + n, sizeof req - n, "\r\n1\r\n");
  req[n++] = (char)pat(2);
  n += (size_t)snprintf(req + n, sizeof req - n,
                        "\r\n0\r\n\r\n"
                        "POST /hello HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
  client_send(&c, req, n);
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 4);
  assert_int_equal(client_responses(&c, r, 4, 0), 4);
  assert_string_equal(r[0].body, "ok 5");
  assert_string_equal(r[1].body, "hello");
  assert_string_equal(r[2].body, "ok 3");
  assert_string_equal(r[3].body, "hello");
  for (int i = 0; i < 4; i++) resp_free(&r[i]);
  /* And after a large one. */
  upload(&c, "/up", 3 * MB, 0, &r[0]);
  assert_int_equal(r[0].status, 200);
  resp_free(&r[0]);
  client_sends(&c, "GET /hello HTTP/1.1\r\n\r\n");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
  assert_int_equal(client_responses(&c, r, 1, 0), 1);
  assert_string_equal(r[0].body, "hello");
  resp_free(&r[0]);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  wait_spools_gone();
}

static void test_disconnect_mid_upload(void **state) {
  (void)state;
  client_t c;
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/up", 20 * MB, 0);
  send_body(&c, 0, 2 * MB, 0, 1);
  /* Streamed, not buffered: everything sent so far reaches the file
   * while the upload is still incomplete. */
  RUN_UNTIL(&F.loop, F.srv->spool_open == 1 && count_files(F.spool) == 1);
  assert_non_null(F.srv->conns);
  http_spool_t *sp = F.srv->conns->req.spool;
  assert_non_null(sp);
  char path[512];
  snprintf(path, sizeof path, "%s", http_spool_path(sp));
  assert_true(under(path, F.spool));
  RUN_UNTIL(&F.loop, file_size(path) == 2 * MB);
  assert_int_equal(F.srv->conns->req.state, REQ_BODY);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed && !F.srv->conns);
  wait_spools_gone();
  assert_int_equal(F.handled, 0);
  assert_int_equal(F.acquired, F.released);
  client_free(&c);
}

static void test_413(void **state) {
  (void)state;
  client_t c;
  resp_t r;
  /* Declared too large: refused from the headers, no file at all. */
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "POST /small HTTP/1.1\r\nContent-Length: 4097\r\n\r\n");
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_error_body(&r, 413);
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  assert_int_equal(F.srv->spool_open, 0);
  assert_int_equal(count_files(F.spool), 0);
  /* Chunked: refused once the total passes the cap; the partial file is
   * removed. */
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/small", 0, 1);
  client_sends(&c, "800\r\n");
  send_body(&c, 0, 2048, 0, 1);
  client_sends(&c, "\r\n");
  RUN_UNTIL(&F.loop, F.srv->spool_open == 1 && count_files(F.spool) == 1);
  client_sends(&c, "801\r\n");
  send_body(&c, 2048, 2048 + 2049, 0, 1);
  client_sends(&c, "\r\n");
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_error_body(&r, 413);
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  wait_spools_gone();
  /* Exactly at the cap is fine. */
  upload_once("/small", 4096, 1, &r);
  assert_string_equal(r.body, "ok 4096");
  resp_free(&r);
  assert_int_equal(F.handled, 1);
  wait_spools_gone();
}

static void lim_timeouts(http_limits_t *l) {
  l->body_timeout_ms = 30;
}

static void test_body_timeout(void **state) {
  (void)state;
  client_t c;
  resp_t r;
  set_limits(lim_timeouts);
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/up", 10 * MB, 0);
  send_body(&c, 0, 1000, 0, 1);
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_int_equal(r.status, 408);
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  wait_spools_gone();
  assert_int_equal(F.handled, 0);
}

static void test_rename_keeps_file(void **state) {
  (void)state;
  resp_t r;
  uint64_t total = MB - 7; /* the server default max_body is 1 MB */
  upload_once("/keep", total, 0, &r);
  assert_int_equal(r.status, 201);
  resp_free(&r);
  wait_spools_gone();
  struct stat st;
  assert_int_equal(stat(F.kept, &st), 0);
  assert_int_equal((uint64_t)st.st_size, total);
  FILE *f = fopen(F.kept, "rb");
  assert_non_null(f);
  for (uint64_t i = 0; i < total; i++) {
    int ch = fgetc(f);
    if (ch != pat(i))
      fail_msg("kept file differs at %llu", (unsigned long long)i);
  }
  fclose(f);
  assert_int_equal(unlink(F.kept), 0);
}

static void test_spool_dir(void **state) {
  (void)state;
  resp_t r;
  /* The default is $TMPDIR (as it was when the server was created or
   * the directory reset). */
  http_server_set_spool_dir(F.srv, NULL);
  upload_once("/up", 100, 0, &r);
  assert_string_equal(r.body, "ok 100");
  resp_free(&r);
  assert_true(under(F.last_path, F.env));
  assert_non_null(strstr(F.last_path, "/assistd-body-"));
  RUN_UNTIL(&F.loop, F.srv->spool_ops == 0);
  assert_int_equal(F.srv->spool_open, 0);
  assert_int_equal(count_files(F.env), 0);
  unsetenv("TMPDIR");
  http_server_set_spool_dir(F.srv, "");
  assert_string_equal(F.srv->spool_dir, "/tmp");
  http_server_set_spool_dir(F.srv, F.spool);
  upload_once("/up", 100, 1, &r);
  assert_string_equal(r.body, "ok 100");
  resp_free(&r);
  assert_true(under(F.last_path, F.spool));
  wait_spools_gone();
  /* A directory that does not exist: 500, and the connection goes on. */
  char missing[200];
  snprintf(missing, sizeof missing, "%s/missing", F.tmp);
  http_server_set_spool_dir(F.srv, missing);
  client_t c;
  client_connect(&F.loop, &c, F.port);
  client_sends(&c, "POST /up HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  RUN_UNTIL(&F.loop, client_count(&c, 0) == 1 || c.eof);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_error_body(&r, 500);
  /* Normally the body was complete before the file failed: keep-alive.
   * Had the failure come first, the rest of the body would be unread. */
  char v[64];
  int ka =
      strcmp(resp_header(&r, "Connection", v, sizeof v), "keep-alive") == 0;
  resp_free(&r);
  if (ka) {
    client_sends(&c, "GET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&F.loop, client_count(&c, 0) == 1);
    assert_int_equal(client_responses(&c, &r, 1, 0), 1);
    assert_string_equal(r.body, "hello");
    resp_free(&r);
  }
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  assert_int_equal(F.handled, 2);
  wait_spools_gone();
}

static void test_write_error_507(void **state) {
  (void)state;
  struct rlimit old, lim;
  resp_t r;
  client_t c;
  /* Writes past 1 MB fail with EFBIG: as good as a full disk. */
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = MB;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/up", 4 * MB, 0);
  send_body(&c, 0, 4 * MB, 0, 1);
  RUN_UNTIL(&F.loop, c.eof);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, prev);
  /* The body could not have been read completely: answer, then close. */
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_error_body(&r, 507);
  char v[64];
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "close");
  resp_free(&r);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  wait_spools_gone();
  assert_int_equal(F.handled, 0);
  /* After the limit is lifted, uploads work again. */
  upload_once("/up", 2 * MB, 0, &r);
  assert_string_equal(r.body, "ok 2097152");
  resp_free(&r);
  wait_spools_gone();
}

/* Occupying every libuv threadpool thread stalls the spool's fs requests:
 * a disk that does not keep up, deterministically. */
typedef struct blocker {
  uv_work_t w;
  uv_sem_t *go, *started;
} blocker_t;

static void block_work(uv_work_t *w) {
  blocker_t *b = w->data;
  uv_sem_post(b->started);
  uv_sem_wait(b->go);
}

static int g_unblocked;

static void block_after(uv_work_t *w, int status) {
  (void)status;
  free(w->data);
  g_unblocked++;
}

static void on_test_timer(uv_timer_t *t) {
  *(int *)t->data = 1;
}

static void on_test_timer_close(uv_handle_t *h) {
  *(int *)h->data = 2;
}

static void test_slow_disk_backpressure(void **state) {
  (void)state;
  static uv_sem_t go, started; /* outlive a failed test: see teardown */
  const char *env = getenv("UV_THREADPOOL_SIZE");
  int threads = env && atoi(env) > 0 ? atoi(env) : 4;
  if (threads > 1024) threads = 1024;
  g_unblocked = 0;
  assert_int_equal(uv_sem_init(&go, 0), 0);
  assert_int_equal(uv_sem_init(&started, 0), 0);
  for (int i = 0; i < threads; i++) {
    blocker_t *b = xcalloc(1, sizeof *b);
    b->go = &go;
    b->started = &started;
    b->w.data = b;
    assert_int_equal(uv_queue_work(&F.loop, &b->w, block_work, block_after), 0);
  }
  for (int i = 0; i < threads; i++) uv_sem_wait(&started);
  F.go = &go;
  F.nblocked = threads;
  set_limits(lim_timeouts); /* a 30 ms body timeout */

  client_t c;
  resp_t r;
  uint64_t total = 4 * MB;
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/up", total, 0);
  char *b = xmalloc(MB);
  for (size_t i = 0; i < MB; i++) b[i] = (char)pat(i);
  client_send(&c, b, MB);
  free(b);
  /* The file cannot even be created: one buffer fills, then the server
   * stops reading, and waits for the disk as long as it takes (here ten
   * body timeouts) without blaming the client. */
  RUN_UNTIL(&F.loop, F.srv->conns && F.srv->conns->disk_wait);
  uv_timer_t t;
  int fired = 0;
  uv_timer_init(&F.loop, &t);
  t.data = &fired;
  uv_timer_start(&t, on_test_timer, 300, 0);
  RUN_UNTIL(&F.loop, fired);
  uv_close((uv_handle_t *)&t, on_test_timer_close);
  RUN_UNTIL(&F.loop, fired == 2);
  assert_int_equal(c.in.len, 0);
  assert_false(c.eof);
  assert_true(F.srv->conns->disk_wait);
  assert_false(F.srv->conns->reading);
  assert_int_equal(F.srv->conns->req.state, REQ_BODY);
  assert_int_equal(F.srv->spool_peak, HTTP_SPOOL_BUF);
  /* The disk catches up: the upload completes. */
  for (; F.nblocked > 0; F.nblocked--) uv_sem_post(&go);
  send_body(&c, MB, total, 0, 1);
  RUN_UNTIL(&F.loop, client_count(&c, 0) >= 1 || c.eof);
  assert_int_equal(client_responses(&c, &r, 1, 0), 1);
  assert_string_equal(r.body, "ok 4194304");
  resp_free(&r);
  assert_true(F.srv->spool_peak <= 2 * HTTP_SPOOL_BUF);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
  wait_spools_gone();
  RUN_UNTIL(&F.loop, g_unblocked == threads);
}

static void on_done(void *arg) {
  fx_t *f = arg;
  f->done++;
  f->done_files = count_files(f->spool);
}

static void test_shutdown_removes_partial(void **state) {
  (void)state;
  client_t c;
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/up", 20 * MB, 1);
  send_body(&c, 0, 2 * MB, 1, 9);
  RUN_UNTIL(&F.loop, F.srv->spool_open == 1);
  http_server_shutdown(F.srv, 20, on_done, &F);
  RUN_UNTIL(&F.loop, F.done == 1 && c.eof);
  /* done() came only after the partial file was removed. */
  assert_int_equal(F.done_files, 0);
  assert_int_equal(F.srv->spool_ops, 0);
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  client_free(&c);
}

static void test_held_after_free(void **state) {
  (void)state;
  client_t c;
  client_connect(&F.loop, &c, F.port);
  start_upload(&c, "/hold", 1000, 0);
  send_body(&c, 0, 1000, 0, 3);
  RUN_UNTIL(&F.loop, F.held != NULL);
  uint64_t len;
  const char *path = http_req_body_path(F.held, &len);
  assert_int_equal(len, 1000);
  assert_int_equal(access(path, F_OK), 0);
  /* The server goes away while the handler holds the request. */
  http_server_free(F.srv);
  F.srv = NULL;
  client_close(&c);
  RUN_UNTIL(&F.loop, c.closed);
  assert_int_equal(uv_run(&F.loop, UV_RUN_DEFAULT), 0);
  /* Still valid, the file still there until the answer. */
  assert_int_equal(count_files(F.spool), 1);
  assert_ptr_equal(http_req_body_path(F.held, &len), path);
  assert_int_equal(http_respond(F.held, 200, &text, 1, "late", 4), 0);
  F.held = NULL;
  assert_int_equal(uv_run(&F.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(count_files(F.spool), 0);
  client_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_content_length_50mb, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_chunked_50mb, setup, teardown),
      cmocka_unit_test_setup_teardown(test_small_and_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disconnect_mid_upload, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_413, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_keeps_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spool_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_error_507, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shutdown_removes_partial, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_held_after_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_disk_backpressure, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
