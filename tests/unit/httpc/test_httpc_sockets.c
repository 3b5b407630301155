/*
 * test_httpc_sockets.c: the socket bookkeeping of core/httpc/httpc.c, which
 * is included here so its static callbacks can be driven directly (the
 * libcurl in use always sends CURL_POLL_REMOVE before closing, so the
 * close-socket path cannot be forced through a real transfer).
 */
#include "../../../core/httpc/httpc.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

static void closed_cb(void *arg) {
  *(bool *)arg = true;
}

static bool fd_open(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

/* The close-socket callback stops and closes the poll handle before the
 * descriptor is closed; the same number reused gets a fresh handle. */
static void test_close_socket_stops_poll(void **state) {
  (void)state;
  uv_loop_t loop;
  httpc_t *ctx;
  bool closed = false;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(httpc_new(&loop, NULL, &ctx), 0);

  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(socket_fn(NULL, sv[0], CURL_POLL_IN, ctx, NULL), 0);
  httpc_sock_t *sk = ctx->socks[sv[0]];
  assert_non_null(sk);
  assert_true(uv_is_active((uv_handle_t *)&sk->poll));
  /* IN then INOUT reuses the context. */
  assert_int_equal(socket_fn(NULL, sv[0], CURL_POLL_INOUT, ctx, NULL), 0);
  assert_ptr_equal(ctx->socks[sv[0]], sk);

  int fd = sv[0];
  assert_int_equal(httpc__close_socket(ctx, fd), 0);
  assert_null(ctx->socks[fd]);
  assert_false(fd_open(fd));
  assert_false(uv_is_active((uv_handle_t *)&sk->poll));
  assert_true(uv_is_closing((uv_handle_t *)&sk->poll));

  /* A late REMOVE for the closed descriptor is harmless. */
  assert_int_equal(socket_fn(NULL, fd, CURL_POLL_REMOVE, ctx, NULL), 0);

  /* The number comes back for a new socket: a new poll handle. */
  struct curl_sockaddr a = {.family = AF_INET, .socktype = SOCK_STREAM};
  int fd2 = httpc__open_socket(ctx, CURLSOCKTYPE_IPCXN, &a);
  assert_int_equal(fd2, fd);
  assert_true(fcntl(fd2, F_GETFD) & FD_CLOEXEC);
  assert_int_equal(socket_fn(NULL, fd2, CURL_POLL_OUT, ctx, NULL), 0);
  assert_non_null(ctx->socks[fd2]);
  assert_ptr_not_equal(ctx->socks[fd2], sk);
  assert_int_equal(httpc__open_socket(ctx, CURLSOCKTYPE_ACCEPT, &a),
                   CURL_SOCKET_BAD);

  /* REMOVE closes the poll handle but not the descriptor. */
  assert_int_equal(socket_fn(NULL, fd2, CURL_POLL_REMOVE, ctx, NULL), 0);
  assert_null(ctx->socks[fd2]);
  assert_true(fd_open(fd2));
  assert_int_equal(socket_fn(NULL, fd2, CURL_POLL_IN, ctx, NULL), 0);
  assert_non_null(ctx->socks[fd2]);

  /* httpc_close stops what libcurl never removed, without closing it. */
  httpc_close(ctx, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(closed);
  assert_true(fd_open(fd2));
  close(fd2);
  close(sv[1]);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A socket that becomes readable drives curl_multi_socket_action without
 * a transfer: nothing crashes, and the timer callback maps -1 to stop. */
static void test_poll_and_timer(void **state) {
  (void)state;
  uv_loop_t loop;
  httpc_t *ctx;
  bool closed = false;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(httpc_new(&loop, NULL, &ctx), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(socket_fn(NULL, sv[0], CURL_POLL_IN, ctx, NULL), 0);
  assert_int_equal(write(sv[1], "x", 1), 1);
  uv_run(&loop, UV_RUN_NOWAIT);

  assert_int_equal(timer_fn(ctx->multi, 1000, ctx), 0);
  assert_true(uv_is_active((uv_handle_t *)&ctx->timer));
  assert_int_equal(timer_fn(ctx->multi, -1, ctx), 0);
  assert_false(uv_is_active((uv_handle_t *)&ctx->timer));
  assert_int_equal(timer_fn(ctx->multi, 0, ctx), 0);
  assert_true(uv_is_active((uv_handle_t *)&ctx->timer));

  httpc_close(ctx, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(closed);
  close(sv[0]);
  close(sv[1]);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_close_socket_stops_poll),
      cmocka_unit_test(test_poll_and_timer),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  metrics_reset();
  curl_global_cleanup();
  return rc;
}
