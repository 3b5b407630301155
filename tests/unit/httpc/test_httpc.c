/*
 * test_httpc.c: core/httpc against a local test server.
 *
 * Real providers cannot be made to delay, drop a connection mid-response,
 * close without answering or answer 429/503 storms on demand, so the group
 * setup starts httpc_server.py (Python standard library) on a free
 * loopback port, plain and TLS (with a self-signed certificate generated
 * here by the openssl CLI). The server counts requests per key, and the
 * most in progress at once, which is how the tests see how many attempts
 * reached it. Each test owns a uv_loop_t and ends with uv_loop_close()==0.
 * No test asserts a duration.
 */
#include "httpc/httpc.h"

#include "common/log.h"
#include "metrics/metrics.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

/* ---------------- the test server ---------------- */

typedef struct server {
  pid_t pid;
  int in_fd; /* its stdin: closing it stops the server */
  int port;
} server_t;

static server_t plain = {-1, -1, 0}, tls = {-1, -1, 0};
static char tmpdir[64];
static char ca_path[128];
static int refused_fd = -1, refused_port;
static const char *why_no_server;

static int server_start(server_t *s, const char *cert, const char *key) {
  const char *py = getenv("HTTPC_PYTHON");
  const char *script = getenv("HTTPC_TEST_SERVER");
  int in[2], out[2];
  if (!py || !script) return -1;
  if (pipe2(in, O_CLOEXEC) < 0) return -1;
  if (pipe2(out, O_CLOEXEC) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    if (cert)
      execl(py, py, script, "--cert", cert, "--key", key, (char *)NULL);
    else
      execl(py, py, script, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  char line[64] = {0};
  size_t n = 0;
  struct pollfd pfd = {.fd = out[0], .events = POLLIN};
  while (n < sizeof line - 1 && !strchr(line, '\n')) {
    if (poll(&pfd, 1, 15000) <= 0) break;
    ssize_t k = read(out[0], line + n, sizeof line - 1 - n);
    if (k <= 0) break;
    n += (size_t)k;
  }
  close(out[0]);
  if (sscanf(line, "PORT %d", &s->port) != 1) {
    close(in[1]);
    waitpid(pid, NULL, 0);
    return -1;
  }
  s->pid = pid;
  s->in_fd = in[1];
  return 0;
}

static void server_stop(server_t *s) {
  if (s->pid <= 0) return;
  close(s->in_fd);
  kill(s->pid, SIGTERM);
  waitpid(s->pid, NULL, 0);
  s->pid = -1;
}

static int make_cert(void) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
           "/CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
           "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
           tmpdir, tmpdir);
  if (system(cmd) != 0) return -1;
  snprintf(ca_path, sizeof ca_path, "%s/cert.pem", tmpdir);
  return 0;
}

static int group_setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN);
  /* The servers are on loopback; never go through a proxy. */
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  setenv("NO_PROXY", "127.0.0.1,localhost", 1);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);

  snprintf(tmpdir, sizeof tmpdir, "/tmp/httpc-test-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  if (server_start(&plain, NULL, NULL) < 0) {
    why_no_server = "python3 test server did not start";
  } else if (make_cert() < 0) {
    why_no_server = "openssl could not make a certificate";
  } else {
    char cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
    snprintf(key, sizeof key, "%s/key.pem", tmpdir);
    if (server_start(&tls, cert, key) < 0)
      why_no_server = "python3 TLS test server did not start";
  }
  /* A bound socket that never listens: connecting to it is refused. */
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t alen = sizeof a;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  refused_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bind(refused_fd, (struct sockaddr *)&a, sizeof a);
  getsockname(refused_fd, (struct sockaddr *)&a, &alen);
  refused_port = ntohs(a.sin_port);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  char cmd[256];
  server_stop(&plain);
  server_stop(&tls);
  close(refused_fd);
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return -1;
  metrics_reset();
  curl_global_cleanup();
  return 0;
}

#define NEED_SERVER()                                                          \
  do {                                                                         \
    if (why_no_server) {                                                       \
      print_message("SKIP: %s\n", why_no_server);                              \
      skip();                                                                  \
    }                                                                          \
  } while (0)

/* ---------------- per-test loop and helpers ---------------- */

typedef struct fixture {
  uv_loop_t loop;
  httpc_t *ctx;
  bool closed;
} fixture_t;

#define MAXGOT 32
typedef struct got {
  int n;
  httpc_response_t *r[MAXGOT];
} got_t;

static void got_cb(httpc_response_t *resp, void *arg) {
  got_t *g = arg;
  assert_true(g->n < MAXGOT);
  g->r[g->n++] = resp;
}

static void got_free(got_t *g) {
  for (int i = 0; i < g->n; i++) httpc_response_free(g->r[i]);
  g->n = 0;
}

static void closed_cb(void *arg) {
  *(bool *)arg = true;
}

static void fx_open(fixture_t *fx, const httpc_opts_t *opts) {
  memset(fx, 0, sizeof *fx);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(httpc_new(&fx->loop, opts, &fx->ctx), 0);
}

static void fx_close(fixture_t *fx) {
  httpc_close(fx->ctx, closed_cb, &fx->closed);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_true(fx->closed);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void run_until(fixture_t *fx, got_t *g, int n) {
  while (g->n < n) uv_run(&fx->loop, UV_RUN_ONCE);
}

static char *url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *url(const char *fmt, ...) {
  static char bufs[8][512];
  static int i;
  char *b = bufs[i++ % 8];
  char path[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  snprintf(b, 512, "http://127.0.0.1:%d%s", plain.port, path);
  return b;
}

/* One request, run to completion. */
static httpc_response_t *fetch(fixture_t *fx, httpc_request_t *rq) {
  got_t g = {0};
  assert_int_equal(httpc_request(fx->ctx, rq, got_cb, &g, NULL), 0);
  run_until(fx, &g, 1);
  return g.r[0];
}

static httpc_response_t *get(fixture_t *fx, const char *u) {
  httpc_request_t rq = {.url = u};
  return fetch(fx, &rq);
}

/* The server's view of a key: requests seen and most at once. */
static void stats(fixture_t *fx, const char *key, int *count, int *max) {
  httpc_response_t *r = get(fx, url("/stats?key=%s", key));
  assert_int_equal(r->status, 200);
  assert_int_equal(sscanf(r->body, "count=%d max=%d", count, max), 2);
  httpc_response_free(r);
}

static int count_of(fixture_t *fx, const char *key) {
  int c, m;
  stats(fx, key, &c, &m);
  return c;
}

/* A quick retry policy for tests that do not care about real delays. */
static const httpc_retry_t fast = {.max_attempts = 4,
                                   .base_delay_ms = 5,
                                   .max_delay_ms = 20,
                                   .max_total_delay_ms = 5000};

/* ---------------- tests ---------------- */

static void test_get_ok(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  double before = 0;
  httpc_response_t *r = get(&fx, url("/ok?token=SECRET"));
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->status, 200);
  assert_string_equal(r->body, "hello");
  assert_int_equal(r->body_len, 5);
  assert_string_equal(r->error, "");
  assert_int_equal(r->attempts, 1);
  assert_int_equal(r->sent, HTTPC_SENT_YES);
  assert_string_equal(httpc_response_header(r, "x-test"), "yes");
  assert_string_equal(httpc_response_header(r, "Content-Length"), "5");
  assert_true(r->id > 0);
  httpc_response_free(r);

  metric_t *m = metrics_family(METRIC_COUNTER, "assist_httpc_requests_total",
                               "", NULL, 0);
  assert_true(metric_value(m, "host=\"127.0.0.1\",status=\"200\"") >=
              1 + before);
  buf_t out = {0};
  metrics_render(&out);
  assert_non_null(strstr(out.data, "assist_httpc_request_duration_seconds"));
  buf_free(&out);

  /* HEAD, PUT, DELETE, and a POST with a body. */
  const char *methods[] = {"HEAD", "PUT", "DELETE", "OPTIONS"};
  for (size_t i = 0; i < 4; i++) {
    httpc_request_t rq = {.method = methods[i], .url = url("/echo")};
    r = fetch(&fx, &rq);
    assert_int_equal(r->result, HTTPC_OK);
    if (i > 0) assert_true(strncmp(r->body, methods[i], 3) == 0);
    httpc_response_free(r);
  }
  /* The body is copied: the caller's buffer may change at once. */
  char body[] = "abc\0ef";
  got_t g = {0};
  httpc_request_t rq = {.url = url("/echo"), .body = body, .body_len = 6};
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), 0);
  memset(body, 'z', sizeof body);
  run_until(&fx, &g, 1);
  assert_int_equal(g.r[0]->body_len, strlen("POST len=6 idem=- ") + 6);
  assert_memory_equal(g.r[0]->body, "POST len=6 idem=- abc\0ef",
                      g.r[0]->body_len);
  got_free(&g);

  /* Redirects: not followed unless asked; followed for http(s) only, and
   * the headers are the final response's. */
  rq = (httpc_request_t){.url = url("/redir?to=/ok")};
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->status, 302);
  assert_non_null(httpc_response_header(r, "Location"));
  httpc_response_free(r);
  rq.flags = HTTPC_F_FOLLOW_REDIRECTS;
  r = fetch(&fx, &rq);
  assert_int_equal(r->status, 200);
  assert_string_equal(r->body, "hello");
  assert_null(httpc_response_header(r, "Location"));
  assert_string_equal(httpc_response_header(r, "X-Test"), "yes");
  httpc_response_free(r);
  rq.url = url("/redir?to=ftp://127.0.0.1/x");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_NETWORK);
  assert_int_equal(r->curl_code, CURLE_UNSUPPORTED_PROTOCOL);
  assert_int_equal(r->attempts, 1);
  httpc_response_free(r);
  fx_close(&fx);
}

static void test_invalid_requests(void **state) {
  (void)state;
  fixture_t fx;
  fx_open(&fx, NULL);
  got_t g = {0};
  httpc_request_t rq = {.url = "ftp://127.0.0.1/x"};
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), -EINVAL);
  rq.url = "file:///etc/passwd";
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), -EINVAL);
  rq.url = "not a url";
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), -EINVAL);
  rq.url = "http://127.0.0.1/";
  rq.method = "GE T";
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), -EINVAL);
  rq.method = NULL;
  const char *bad[] = {"X-A: 1\r\nX-B: 2", NULL};
  rq.headers = bad;
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), -EINVAL);
  const char *bad2[] = {"no colon", NULL};
  rq.headers = bad2;
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), -EINVAL);
  assert_int_equal(httpc_pending(fx.ctx, NULL), 0);
  assert_int_equal(httpc_set_host_limit(fx.ctx, "x", 0), -EINVAL);
  fx_close(&fx);
  assert_int_equal(g.n, 0);
}

static void test_retry_429_retry_after(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  metric_t *retries =
      metrics_family(METRIC_COUNTER, "assist_httpc_retries_total", "", NULL, 0);
  double before = metric_value(retries, "host=\"127.0.0.1\"");
  httpc_response_t *r = get(&fx, url("/seq?key=r429&codes=429,200&ra=1"));
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->attempts, 2);
  assert_string_equal(r->body, "attempt 2");
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "r429"), 2);
  assert_true(metric_value(retries, "host=\"127.0.0.1\"") == before + 1);
  fx_close(&fx);
}

static void test_retry_503_three_times(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  httpc_request_t rq = {.url = url("/seq?key=r503&codes=503,503,503,200"),
                        .retry = &fast};
  httpc_response_t *r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->status, 200);
  assert_int_equal(r->attempts, 4);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "r503"), 4);
  fx_close(&fx);
}

static void test_retry_after_date_and_ms(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  httpc_response_t *r = get(&fx, url("/seq?key=rdate&codes=503,200&date=1"));
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->attempts, 2);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "rdate"), 2);

  r = get(&fx, url("/seq?key=rms&codes=429,429,200&ram=50"));
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->attempts, 3);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "rms"), 3);
  fx_close(&fx);
}

static void test_503_storm(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  httpc_retry_t pol = fast;
  pol.max_attempts = 3;
  httpc_request_t rq = {.url = url("/seq?key=storm&codes=503"), .retry = &pol};
  httpc_response_t *r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_HTTP_ERROR);
  assert_int_equal(r->status, 503);
  assert_int_equal(r->attempts, 3);
  assert_string_equal(r->body, "attempt 3");
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "storm"), 3);

  /* A Retry-After beyond the total delay budget ends retrying at once and
   * is handed to the caller. */
  pol.max_total_delay_ms = 2000;
  rq.url = url("/seq?key=toolong&codes=429&ra=120");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_HTTP_ERROR);
  assert_int_equal(r->status, 429);
  assert_int_equal(r->attempts, 1);
  assert_int_equal(httpc_retry_after_ms(r, 0), 120000);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "toolong"), 1);

  /* HTTPC_F_NO_RETRY and a status outside the configured set. */
  rq.url = url("/seq?key=noretry&codes=503");
  rq.flags = HTTPC_F_NO_RETRY;
  r = fetch(&fx, &rq);
  assert_int_equal(r->attempts, 1);
  httpc_response_free(r);
  rq.flags = 0;
  pol.statuses[0] = 502;
  pol.nstatuses = 1;
  rq.url = url("/seq?key=notinset&codes=503");
  r = fetch(&fx, &rq);
  assert_int_equal(r->attempts, 1);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "noretry"), 1);
  assert_int_equal(count_of(&fx, "notinset"), 1);
  fx_close(&fx);
}

static void test_non_idempotent(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  httpc_request_t rq = {
      .method = "POST", .body = "{}", .body_len = 2, .retry = &fast};

  /* Dropped mid-response: exactly one attempt, ambiguous. */
  rq.url = url("/drop?key=pdrop");
  httpc_response_t *r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_AMBIGUOUS);
  assert_int_equal(r->attempts, 1);
  assert_int_equal(r->sent, HTTPC_SENT_MAYBE);
  assert_true(r->error[0] != '\0');
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "pdrop"), 1);

  /* Closed without an answer: the same. */
  rq.url = url("/close?key=pclose");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_AMBIGUOUS);
  assert_int_equal(r->attempts, 1);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "pclose"), 1);

  /* A 5xx on a create is ambiguous too; a 429 is a refusal. */
  rq.url = url("/seq?key=p503&codes=503,200");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_AMBIGUOUS);
  assert_int_equal(r->status, 503);
  httpc_response_free(r);
  rq.url = url("/seq?key=p429&codes=429,200&ra=0");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_HTTP_ERROR);
  assert_int_equal(r->status, 429);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "p503"), 1);
  assert_int_equal(count_of(&fx, "p429"), 1);

  /* Refused: certainly not sent, so retried, and reported as not sent. */
  char refused[64];
  snprintf(refused, sizeof refused, "http://127.0.0.1:%d/x", refused_port);
  rq.url = refused;
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_NETWORK);
  assert_int_equal(r->curl_code, CURLE_COULDNT_CONNECT);
  assert_int_equal(r->attempts, 4);
  assert_int_equal(r->sent, HTTPC_SENT_NO);
  httpc_response_free(r);

  /* A name that cannot resolve (RFC 6761 .invalid): not sent, retried. */
  httpc_retry_t two = fast;
  two.max_attempts = 2;
  httpc_request_t dns = {.method = "POST",
                         .url = "http://no-such-host.invalid/x",
                         .retry = &two,
                         .timeout_ms = 3000};
  r = fetch(&fx, &dns);
  assert_true(r->result == HTTPC_NETWORK || r->result == HTTPC_TIMEOUT);
  assert_int_equal(r->sent, HTTPC_SENT_NO);
  assert_int_equal(r->attempts, 2);
  httpc_response_free(r);

  fx_close(&fx);

  /* With an Idempotency-Key (or the flag) a POST is retried. A fresh
   * context: libcurl itself re-sends an idempotent request once when a
   * *reused* keep-alive connection dies before any answer, which would
   * make the server count more requests than attempts. */
  fx_open(&fx, NULL);
  const char *hdrs[] = {"Idempotency-Key: k-123", NULL};
  rq.headers = hdrs;
  rq.url = url("/close?key=pkey");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_NETWORK);
  assert_int_equal(r->attempts, 4);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "pkey"), 4);
  rq.headers = NULL;
  rq.flags = HTTPC_F_IDEMPOTENT;
  rq.url = url("/seq?key=pflag&codes=503,200");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->attempts, 2);
  httpc_response_free(r);

  /* An idempotent GET that drops is retried up to max_attempts. */
  httpc_request_t g = {.url = url("/drop?key=gdrop"), .retry = &fast};
  r = fetch(&fx, &g);
  assert_int_equal(r->result, HTTPC_NETWORK);
  assert_int_equal(r->attempts, 4);
  assert_int_equal(r->sent, HTTPC_SENT_MAYBE);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "gdrop"), 4);
  fx_close(&fx);
}

static void test_timeout(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  httpc_retry_t one = {.max_attempts = 1};
  httpc_request_t rq = {
      .url = url("/delay?key=tget&ms=3000"), .timeout_ms = 200, .retry = &one};
  httpc_response_t *r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_TIMEOUT);
  assert_int_equal(r->curl_code, CURLE_OPERATION_TIMEDOUT);
  httpc_response_free(r);

  rq.method = "POST";
  rq.retry = &fast;
  rq.url = url("/delay?key=tpost&ms=3000");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_AMBIGUOUS);
  assert_int_equal(r->attempts, 1);
  httpc_response_free(r);
  fx_close(&fx);
}

static void test_too_large(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  httpc_request_t rq = {.url = url("/big?key=bigcl&n=200000"),
                        .max_response_bytes = 1000};
  httpc_response_t *r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_TOO_LARGE);
  assert_int_equal(r->attempts, 1);
  assert_true(r->body_len <= 1000);
  httpc_response_free(r);
  /* Without a Content-Length only the write callback can stop it. */
  rq.url = url("/big?key=bigch&n=200000&chunked=1");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_TOO_LARGE);
  assert_int_equal(r->body_len, 1000);
  httpc_response_free(r);
  /* At the cap exactly is fine. */
  rq.url = url("/big?key=bigok&n=1000&chunked=1");
  r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_OK);
  assert_int_equal(r->body_len, 1000);
  httpc_response_free(r);
  assert_int_equal(count_of(&fx, "bigcl"), 1);
  fx_close(&fx);
}

static void test_tls_ca_file(void **state) {
  (void)state;
  NEED_SERVER();
  char u[128];
  snprintf(u, sizeof u, "https://127.0.0.1:%d/ok", tls.port);

  fixture_t fx;
  httpc_opts_t o = {.ca_file = ca_path};
  fx_open(&fx, &o);
  httpc_response_t *r = get(&fx, u);
  assert_int_equal(r->result, HTTPC_OK);
  assert_string_equal(r->body, "hello");
  httpc_response_free(r);
  snprintf(u, sizeof u, "https://localhost:%d/ok", tls.port);
  r = get(&fx, u);
  assert_int_equal(r->result, HTTPC_OK);
  httpc_response_free(r);
  fx_close(&fx);

  /* Without the CA the self-signed certificate is refused, not retried. */
  fx_open(&fx, NULL);
  snprintf(u, sizeof u, "https://127.0.0.1:%d/ok", tls.port);
  r = get(&fx, u);
  assert_int_equal(r->result, HTTPC_NETWORK);
  assert_int_equal(r->sent, HTTPC_SENT_NO);
  assert_int_equal(r->attempts, 1);
  assert_int_equal(r->curl_code, CURLE_PEER_FAILED_VERIFICATION);
  httpc_response_free(r);
  fx_close(&fx);
}

static void test_host_limit(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  httpc_opts_t o = {.max_per_host = 2};
  fx_open(&fx, &o);
  got_t g = {0};
  for (int i = 0; i < 8; i++) {
    httpc_request_t rq = {.url = url("/delay?key=conc&ms=150")};
    assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), 0);
  }
  run_until(&fx, &g, 8);
  for (int i = 0; i < 8; i++) assert_int_equal(g.r[i]->result, HTTPC_OK);
  got_free(&g);
  int count, max;
  stats(&fx, "conc", &count, &max);
  assert_int_equal(count, 8);
  assert_true(max >= 1 && max <= 2);

  /* An override for this host:port. */
  char hp[64];
  snprintf(hp, sizeof hp, "127.0.0.1:%d", plain.port);
  assert_int_equal(httpc_set_host_limit(fx.ctx, hp, 1), 0);
  for (int i = 0; i < 4; i++) {
    httpc_request_t rq = {.url = url("/delay?key=conc1&ms=100")};
    assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), 0);
  }
  run_until(&fx, &g, 4);
  got_free(&g);
  stats(&fx, "conc1", &count, &max);
  assert_int_equal(count, 4);
  assert_int_equal(max, 1);
  fx_close(&fx);

  /* The total limit. */
  httpc_opts_t t = {.max_per_host = 8, .max_total = 1};
  fx_open(&fx, &t);
  for (int i = 0; i < 4; i++) {
    httpc_request_t rq = {.url = url("/delay?key=conct&ms=100")};
    assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), 0);
  }
  run_until(&fx, &g, 4);
  got_free(&g);
  stats(&fx, "conct", &count, &max);
  assert_int_equal(max, 1);
  fx_close(&fx);
}

typedef struct canceller {
  uv_timer_t t;
  httpc_t *ctx;
  uint64_t id;
  int rc;
} canceller_t;

static void cancel_timer_cb(uv_timer_t *t) {
  canceller_t *c = t->data;
  c->rc = httpc_cancel(c->ctx, c->id);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  httpc_opts_t o = {.max_per_host = 1};
  fx_open(&fx, &o);
  got_t g = {0};
  uint64_t id1, id2;
  httpc_request_t rq = {.url = url("/delay?key=canc&ms=3000")};
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, &id1), 0);
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, &id2), 0);
  assert_true(id2 != id1);
  assert_int_equal(httpc_pending(fx.ctx, NULL), 2);

  /* The second waits in the queue: cancelling it completes it later, not
   * inside the call. */
  assert_int_equal(httpc_cancel(fx.ctx, id2), 0);
  assert_int_equal(httpc_cancel(fx.ctx, id2), -ENOENT);
  assert_int_equal(g.n, 0);
  run_until(&fx, &g, 1);
  assert_int_equal(g.r[0]->id, id2);
  assert_int_equal(g.r[0]->result, HTTPC_CANCELLED);
  assert_int_equal(g.r[0]->attempts, 0);
  assert_int_equal(g.r[0]->sent, HTTPC_SENT_NO);

  /* The first is in flight: cancel it from a timer. */
  canceller_t c = {.ctx = fx.ctx, .id = id1, .rc = 1};
  uv_timer_init(&fx.loop, &c.t);
  c.t.data = &c;
  uv_timer_start(&c.t, cancel_timer_cb, 100, 0);
  run_until(&fx, &g, 2);
  assert_int_equal(c.rc, 0);
  assert_int_equal(g.r[1]->id, id1);
  assert_int_equal(g.r[1]->result, HTTPC_CANCELLED);
  assert_int_equal(g.r[1]->attempts, 1);
  assert_int_equal(httpc_cancel(fx.ctx, id1), -ENOENT);
  got_free(&g);

  /* By owner. */
  int a, b;
  httpc_request_t ra = {.url = url("/delay?key=own&ms=3000"), .owner = &a};
  httpc_request_t rb = {.url = url("/ok"), .owner = &b};
  for (int i = 0; i < 3; i++)
    assert_int_equal(httpc_request(fx.ctx, &ra, got_cb, &g, NULL), 0);
  assert_int_equal(httpc_request(fx.ctx, &rb, got_cb, &g, NULL), 0);
  assert_int_equal(httpc_pending(fx.ctx, &a), 3);
  assert_int_equal(httpc_pending(fx.ctx, &b), 1);
  assert_int_equal(httpc_cancel_owner(fx.ctx, &a), 3);
  assert_int_equal(httpc_cancel_owner(fx.ctx, &a), 0);
  run_until(&fx, &g, 4);
  int cancelled = 0, ok = 0;
  for (int i = 0; i < 4; i++) {
    if (g.r[i]->result == HTTPC_CANCELLED) cancelled++;
    if (g.r[i]->result == HTTPC_OK) ok++;
  }
  assert_int_equal(cancelled, 3);
  assert_int_equal(ok, 1);
  got_free(&g);
  assert_int_equal(httpc_pending(fx.ctx, NULL), 0);
  fx_close(&fx);
}

typedef struct closer {
  uv_timer_t t;
  httpc_t *ctx;
  bool *closed;
} closer_t;

static void close_timer_cb(uv_timer_t *t) {
  closer_t *c = t->data;
  httpc_close(c->ctx, closed_cb, c->closed);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_close_in_flight(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  httpc_opts_t o = {.max_per_host = 2};
  fx_open(&fx, &o);
  got_t g = {0};
  const char *paths[] = {"/delay?key=cl&ms=3000", "/slow?key=cl&ms=3000",
                         "/delay?key=cl&ms=3000", "/seq?key=clseq&codes=503"};
  for (int i = 0; i < 4; i++) {
    httpc_request_t rq = {.url = url("%s", paths[i])};
    assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), 0);
  }
  closer_t c = {.ctx = fx.ctx, .closed = &fx.closed};
  uv_timer_init(&fx.loop, &c.t);
  c.t.data = &c;
  uv_timer_start(&c.t, close_timer_cb, 150, 0);
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  assert_true(fx.closed);
  assert_int_equal(g.n, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(g.r[i]->result, HTTPC_CANCELLED);
  got_free(&g);
  assert_int_equal(uv_loop_close(&fx.loop), 0);
}

/* httpc_close from a completion callback; a new request then fails. */
typedef struct self_close {
  httpc_t *ctx;
  bool closed;
  int n;
  int rc_after;
} self_close_t;

static void self_close_cb(httpc_response_t *resp, void *arg) {
  self_close_t *s = arg;
  s->n++;
  if (s->n == 1) {
    httpc_close(s->ctx, closed_cb, &s->closed);
    httpc_request_t rq = {.url = url("/ok")};
    s->rc_after = httpc_request(s->ctx, &rq, self_close_cb, s, NULL);
  } else {
    assert_int_equal(resp->result, HTTPC_CANCELLED);
  }
  httpc_response_free(resp);
}

static void test_close_from_callback(void **state) {
  (void)state;
  NEED_SERVER();
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  self_close_t s = {0};
  assert_int_equal(httpc_new(&loop, NULL, &s.ctx), 0);
  httpc_request_t fast_rq = {.url = url("/ok")};
  httpc_request_t slow_rq = {.url = url("/delay?ms=3000")};
  assert_int_equal(httpc_request(s.ctx, &fast_rq, self_close_cb, &s, NULL), 0);
  assert_int_equal(httpc_request(s.ctx, &slow_rq, self_close_cb, &s, NULL), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(s.closed);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.rc_after, -ECANCELED);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  assert_non_null(d);
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static void fd_batch(void) {
  fixture_t fx;
  httpc_opts_t o = {.ca_file = ca_path};
  fx_open(&fx, &o);
  got_t g = {0};
  char refused[64], tls_ok[64], tls_localhost[64];
  snprintf(refused, sizeof refused, "http://127.0.0.1:%d/x", refused_port);
  snprintf(tls_ok, sizeof tls_ok, "https://127.0.0.1:%d/ok", tls.port);
  snprintf(tls_localhost, sizeof tls_localhost, "https://localhost:%d/ok",
           tls.port);
  const char *urls[] = {url("/ok"),
                        url("/drop"),
                        url("/close"),
                        url("/seq?key=fd503&codes=503,200"),
                        url("/big?n=100000&chunked=1"),
                        url("/delay?ms=2000"),
                        refused,
                        tls_ok,
                        tls_localhost,
                        "http://localhost:1/x"};
  size_t n = sizeof urls / sizeof urls[0];
  uint64_t id, ok_id = 0;
  for (size_t i = 0; i < n; i++) {
    httpc_request_t rq = {.url = urls[i],
                          .retry = &fast,
                          .timeout_ms = 300,
                          .max_response_bytes = 1000};
    assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, &id), 0);
    if (i == 0) ok_id = id;
  }
  /* And one POST that is cancelled in flight. */
  httpc_request_t p = {
      .url = url("/delay?ms=3000"), .body = "x", .body_len = 1};
  assert_int_equal(httpc_request(fx.ctx, &p, got_cb, &g, &id), 0);
  canceller_t c = {.ctx = fx.ctx, .id = id};
  uv_timer_init(&fx.loop, &c.t);
  c.t.data = &c;
  uv_timer_start(&c.t, cancel_timer_cb, 50, 0);
  run_until(&fx, &g, (int)n + 1);
  /* Completion order is not request order: find /ok by its id. */
  int found = 0;
  for (int i = 0; i < g.n; i++) {
    if (g.r[i]->id != ok_id) continue;
    assert_int_equal(g.r[i]->result, HTTPC_OK);
    found++;
  }
  assert_int_equal(found, 1);
  got_free(&g);
  fx_close(&fx);
}

static void test_no_descriptor_leak(void **state) {
  (void)state;
  NEED_SERVER();
  fd_batch(); /* warm up: OpenSSL and the resolver open what they keep */
  int before = count_fds();
  for (int i = 0; i < 3; i++) fd_batch();
  assert_int_equal(count_fds(), before);
}

typedef struct ticker {
  uv_timer_t t;
  int ticks;
  bool counting;
} ticker_t;

static void tick_cb(uv_timer_t *t) {
  ticker_t *k = t->data;
  if (k->counting) k->ticks++;
}

static void test_loop_never_blocks(void **state) {
  (void)state;
  NEED_SERVER();
  fixture_t fx;
  fx_open(&fx, NULL);
  ticker_t k = {.counting = true};
  uv_timer_init(&fx.loop, &k.t);
  k.t.data = &k;
  uv_timer_start(&k.t, tick_cb, 10, 10);
  got_t g = {0};
  /* The server spends at least a second trickling the body. */
  httpc_request_t rq = {.url = url("/slow?ms=1000")};
  assert_int_equal(httpc_request(fx.ctx, &rq, got_cb, &g, NULL), 0);
  run_until(&fx, &g, 1);
  k.counting = false;
  assert_int_equal(g.r[0]->result, HTTPC_OK);
  assert_string_equal(g.r[0]->body, "ssssssssss");
  got_free(&g);
  /* A second at 10 ms per tick is 100 ticks; a loop blocked by the
   * transfer would see one or two. */
  print_message("ticks during the slow transfer: %d\n", k.ticks);
  assert_true(k.ticks >= 30);
  uv_close((uv_handle_t *)&k.t, NULL);
  fx_close(&fx);
}

static void test_logs_hide_query_and_headers(void **state) {
  (void)state;
  NEED_SERVER();
  char path[128];
  snprintf(path, sizeof path, "%s/log.txt", tmpdir);
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  log_setup(LOG_FORMAT_JSON, LOG_DEBUG, fd);

  fixture_t fx;
  fx_open(&fx, NULL);
  const char *hdrs[] = {"Authorization: Bearer TOPSECRET", NULL};
  httpc_request_t rq = {.url = url("/seq?key=lg&codes=503,200&token=QSECRET"),
                        .headers = hdrs,
                        .retry = &fast,
                        .body = "BODYSECRET",
                        .body_len = 10,
                        .method = "PUT"};
  httpc_response_t *r = fetch(&fx, &rq);
  assert_int_equal(r->result, HTTPC_OK);
  httpc_response_free(r);
  char refused[96];
  snprintf(refused, sizeof refused, "http://127.0.0.1:%d/x?token=QSECRET",
           refused_port);
  rq.url = refused;
  r = fetch(&fx, &rq);
  assert_true(strstr(r->error, "QSECRET") == NULL);
  httpc_response_free(r);
  fx_close(&fx);
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);

  char text[65536];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  assert_true(n > 0);
  text[n] = '\0';
  assert_non_null(strstr(text, "/seq")); /* it did log the request */
  assert_non_null(strstr(text, "retrying"));
  assert_null(strstr(text, "QSECRET"));
  assert_null(strstr(text, "TOPSECRET"));
  assert_null(strstr(text, "BODYSECRET"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_ok),
      cmocka_unit_test(test_invalid_requests),
      cmocka_unit_test(test_retry_429_retry_after),
      cmocka_unit_test(test_retry_503_three_times),
      cmocka_unit_test(test_retry_after_date_and_ms),
      cmocka_unit_test(test_503_storm),
      cmocka_unit_test(test_non_idempotent),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_too_large),
      cmocka_unit_test(test_tls_ca_file),
      cmocka_unit_test(test_host_limit),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_close_in_flight),
      cmocka_unit_test(test_close_from_callback),
      cmocka_unit_test(test_no_descriptor_leak),
      cmocka_unit_test(test_loop_never_blocks),
      cmocka_unit_test(test_logs_hide_query_and_headers),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
