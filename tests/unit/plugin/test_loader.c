/* Loader and instance tests against the fixture plugins (tests/fixtures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/log.h"
#include "metrics/metrics.h"
#include "plugin/instance.h"
#include "plugin/lib.h"
#include "plugin/providers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fixture_dir[4096];

static char *fixture(const char *kind) {
  static char path[4096 + 64];
  snprintf(path, sizeof path, "%s/fixture_%s.so", fixture_dir, kind);
  return path;
}

static void expect_refusal(const char *path, const char *needle) {
  char err[512] = "";
  plugin_lib_t *lib = plugin_lib_get(path, err, sizeof err);
  if (lib) plugin_lib_put(lib);
  assert_null(lib);
  if (!strstr(err, needle)) fail_msg("'%s' lacks '%s'", err, needle);
  assert_non_null(strstr(err, path)); /* every message names the file */
  assert_int_equal(plugin_lib_count(), 0);
}

/* Loads fixture `kind` and creates instance `name` with default options.
 * Returns the instance, or NULL with the reason in err. */
static instance_t *create(uv_loop_t *loop, const char *kind, const char *name,
                          char *err, size_t errlen) {
  plugin_lib_t *lib = plugin_lib_get(fixture(kind), err, errlen);
  assert_non_null(lib);
  opt_set_t opts = {0};
  cfg_errors_t errs = {0};
  assert_int_equal(opts_validate(lib->desc->options, lib->option_stride, NULL,
                                 (cfg_mark_t){"t", 1, 1}, &opts, &errs),
                   0);
  cfg_errors_free(&errs);
  return instance_create(loop, name, lib, &opts, err, errlen);
}

static void closed(void *arg) {
  (*(int *)arg)++;
}

/* Closes inst, runs the loop dry and checks nothing is left behind. */
static void close_and_check(uv_loop_t *loop, instance_t *inst,
                            uint64_t deadline_ms) {
  int n = 0;
  instance_close(inst, deadline_ms, closed, &n);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(n, 1);
  assert_int_equal(instance_count(), 0);
  assert_int_equal(plugin_lib_count(), 0);
  assert_int_equal(uv_loop_close(loop), 0);
}

static void test_good_loads_and_is_shared(void **s) {
  (void)s;
  char err[512];
  plugin_lib_t *a = plugin_lib_get(fixture("good"), err, sizeof err);
  assert_non_null(a);
  assert_string_equal(a->desc->name, "fixture");
  plugin_lib_t *b = plugin_lib_get(fixture("good"), err, sizeof err);
  assert_ptr_equal(a, b); /* same file, same image */
  assert_int_equal(plugin_lib_count(), 1);
  assert_true(plugin_lib_is_current(a));
  plugin_lib_put(b);
  plugin_lib_put(a);
  assert_int_equal(plugin_lib_count(), 0);
}

/* Built against the frozen 1.0 header: smaller route structs, an older
 * minor; it must load, initialise and register its routes. */
static void test_older_minor_loads(void **s) {
  (void)s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  instance_t *inst = create(&loop, "abi10", "old", err, sizeof err);
  assert_non_null(inst);
  assert_int_equal(instance_desc(inst)->abi_minor, 0);
  assert_true(ASSIST_ABI_MINOR > 0);
  const instance_route_t *r = instance_routes(inst);
  assert_non_null(r);
  assert_int_equal(r->flags, 0);
  close_and_check(&loop, inst, 1000);
}

/* The same against the frozen 1.1 header (tests/fixtures/abi11). */
static void test_minor_1_1_loads(void **s) {
  (void)s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  instance_t *inst = create(&loop, "abi11", "old11", err, sizeof err);
  assert_non_null(inst);
  assert_int_equal(instance_desc(inst)->abi_minor, 1);
  assert_true(ASSIST_ABI_MINOR > 1);
  assert_non_null(instance_routes(inst));
  close_and_check(&loop, inst, 1000);
}

static void test_refusals(void **s) {
  (void)s;
  expect_refusal("/nonexistent/plugin.so", "cannot open plugin");
  expect_refusal(fixture("bad_magic"), "bad descriptor magic");
  expect_refusal(fixture("major_field"), "ABI major 2");
  expect_refusal(fixture("major_symbol"), "ABI major 2");
  expect_refusal(fixture("newer_minor"), "newer than this assistd");
  expect_refusal(fixture("short_struct"), "descriptor too short");
  expect_refusal(fixture("no_symbol"), "no 'assist_plugin_v1' symbol");
  expect_refusal(fixture("no_init"), "no init entry point");
  expect_refusal(fixture("bad_name"), "name missing or invalid");
  expect_refusal(fixture("bad_options"), "bad option table");
}

static void test_not_a_shared_object(void **s) {
  (void)s;
  char path[] = "/tmp/assist-notelf-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "hello, not ELF\n", 15), 15);
  close(fd);
  chmod(path, 0644);
  expect_refusal(path, "not a loadable shared object");
  unlink(path);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  fclose(in);
  fclose(out);
  chmod(to, mode);
}

static void test_unsafe_permissions(void **s) {
  (void)s;
  char path[] = "/tmp/assist-ww-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  copy_file(fixture("good"), path, 0666);
  expect_refusal(path, "writable by group or others");
  unlink(path);
}

static void test_replaced_file_loads_afresh(void **s) {
  (void)s;
  char dir[] = "/tmp/assist-swap-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256], tmp[256];
  snprintf(path, sizeof path, "%s/p.so", dir);
  snprintf(tmp, sizeof tmp, "%s/p.so.new", dir);
  copy_file(fixture("good"), path, 0755);
  char err[512];
  plugin_lib_t *a = plugin_lib_get(path, err, sizeof err);
  assert_non_null(a);
  copy_file(fixture("good"), tmp, 0755);
  assert_int_equal(rename(tmp, path), 0);
  assert_false(plugin_lib_is_current(a));
  plugin_lib_t *b = plugin_lib_get(path, err, sizeof err);
  assert_non_null(b);
  assert_ptr_not_equal(a, b);
  assert_ptr_not_equal(a->desc, b->desc); /* a second image is mapped */
  plugin_lib_put(a);
  plugin_lib_put(b);
  unlink(path);
  rmdir(dir);
}

/* An init that fails after registering a route, a timer, work and a
 * metric leaves nothing behind: the loop closes cleanly. */
static void test_init_failure_releases_everything(void **s) {
  (void)s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  assert_null(create(&loop, "init_fails", "bad", err, sizeof err));
  assert_non_null(strstr(err, "init failed: invalid argument"));
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(instance_count(), 0);
  assert_int_equal(plugin_lib_count(), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- the provider registry (providers.h, ABI 1.2 provider_register) ---- */

static int g_sent;

static int fake_send(void *ud, const assist_message_t *msg,
                     assist_send_done_cb done, void *arg) {
  (void)msg;
  g_sent += *(int *)ud;
  assist_send_result_t r = {.struct_size = sizeof r, .status = ASSIST_OK};
  done(arg, &r);
  return 0;
}

static int g_rsvp;

static int fake_rsvp(void *ud, const assist_rsvp_t *r,
                     void (*done)(void *arg, int status), void *arg) {
  (void)ud;
  (void)r;
  g_rsvp++;
  done(arg, ASSIST_OK);
  return 0;
}

static void send_done(void *arg, const assist_send_result_t *res) {
  *(int *)arg = res->status == ASSIST_OK ? 1 : -1;
}

static void rsvp_done(void *arg, int status) {
  *(int *)arg = status == ASSIST_OK ? 1 : -1;
}

static void test_providers_registry(void **s) {
  (void)s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  instance_t *a = create(&loop, "good", "mailer", err, sizeof err);
  assert_non_null(a);
  int one = 1, ten = 10;
  assist_provider_t email = {.struct_size = sizeof email,
                             .kind = ASSIST_PROVIDER_NOTIFIER,
                             .channel = "email",
                             .send = fake_send,
                             .ud = &one};
  assert_int_equal(host_api.provider_register(a, &email), 0);
  assert_int_equal(host_api.provider_register(a, &email), ASSIST_EEXIST);
  assist_provider_t bad = email;
  bad.send = NULL;
  assert_int_equal(host_api.provider_register(a, &bad), ASSIST_EINVAL);
  bad = email;
  bad.channel = NULL;
  assert_int_equal(host_api.provider_register(a, &bad), ASSIST_EINVAL);
  bad = email;
  bad.kind = (assist_provider_kind_t)7;
  assert_int_equal(host_api.provider_register(a, &bad), ASSIST_EINVAL);
  assist_provider_t cal = {.struct_size = sizeof cal,
                           .kind = ASSIST_PROVIDER_CALENDAR,
                           .rsvp = fake_rsvp};
  assert_int_equal(host_api.provider_register(a, &cal), 0);

  assert_true(providers_has_notifier("mailer", "email"));
  assert_false(providers_has_notifier("mailer", "call"));
  assert_false(providers_has_notifier("other", "email"));
  assist_message_t m = {.struct_size = sizeof m, .channel = "email"};
  int got = 0;
  assert_int_equal(providers_send("mailer", &m, send_done, &got), 0);
  assert_int_equal(got, 1);
  assert_int_equal(g_sent, 1);
  assert_int_equal(providers_send("nobody", &m, send_done, &got), -ENOENT);
  m.channel = "call";
  assert_int_equal(providers_send("mailer", &m, send_done, &got), -ENOENT);
  assist_rsvp_t r = {.struct_size = sizeof r, .response = "accepted"};
  got = 0;
  assert_int_equal(providers_rsvp("mailer", &r, rsvp_done, &got), 0);
  assert_int_equal(got, 1);
  assert_int_equal(g_rsvp, 1);

  /* A successor of the same name (a reload) registers while the old one
   * still runs: calls go to the newest; once the old one stops, only the
   * successor is left; when it goes too, nothing is called. */
  instance_t *b = create(&loop, "good", "mailer", err, sizeof err);
  assert_non_null(b);
  email.ud = &ten;
  assert_int_equal(host_api.provider_register(b, &email), 0);
  m.channel = "email";
  assert_int_equal(providers_send("mailer", &m, send_done, &got), 0);
  assert_int_equal(g_sent, 11);
  int n = 0;
  instance_close(a, 1000, closed, &n);
  while (n == 0) uv_run(&loop, UV_RUN_ONCE); /* b keeps the loop alive */
  assert_int_equal(providers_send("mailer", &m, send_done, &got), 0);
  assert_int_equal(g_sent, 21);
  assert_int_equal(providers_rsvp("mailer", &r, rsvp_done, &got), -ENOENT);
  /* after start, registering is refused (init only) */
  assert_int_equal(instance_start(b), 0);
  assist_provider_t call = email;
  call.channel = "call";
  assert_int_equal(host_api.provider_register(b, &call), ASSIST_EBUSY);
  close_and_check(&loop, b, 1000);
  assert_false(providers_has_notifier("mailer", "email"));
  assert_int_equal(providers_send("mailer", &m, send_done, &got), -ENOENT);
}

static int late_handler(assist_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  return 0;
}

static void test_instance_lifecycle(void **s) {
  (void)s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  instance_t *inst = create(&loop, "good", "fx", err, sizeof err);
  assert_non_null(inst);
  const instance_route_t *r = instance_routes(inst);
  assert_non_null(r);
  assert_string_equal(r->pattern, "/fixture/ping");
  assert_int_equal(instance_start(inst), 0);
  assert_int_equal(instance_state(inst), INSTANCE_RUNNING);
  /* Routes can only be added during init. */
  assist_route_t late = {.struct_size = sizeof late,
                         .method = "GET",
                         .pattern = "/late",
                         .handler = late_handler};
  assert_int_equal(host_api.route_add(inst, &late), ASSIST_EBUSY);
  close_and_check(&loop, inst, 1000);
}

/* A plugin whose stop() never calls done is forced at the deadline. */
static void test_stop_deadline(void **s) {
  (void)s;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  instance_t *inst = create(&loop, "stop_hangs", "stuck", err, sizeof err);
  assert_non_null(inst);
  close_and_check(&loop, inst, 50);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : getenv("FIXTURE_DIR");
  if (!dir) {
    fprintf(stderr, "usage: test_loader FIXTURE_DIR\n");
    return 2;
  }
  snprintf(fixture_dir, sizeof fixture_dir, "%s", dir);
  log_setup(LOG_FORMAT_TEXT, LOG_ERROR, 2);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_loads_and_is_shared),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_older_minor_loads),
      cmocka_unit_test(test_minor_1_1_loads),
      cmocka_unit_test(test_providers_registry),
      cmocka_unit_test(test_not_a_shared_object),
      cmocka_unit_test(test_unsafe_permissions),
      cmocka_unit_test(test_replaced_file_loads_afresh),
      cmocka_unit_test(test_init_failure_releases_everything),
      cmocka_unit_test(test_instance_lifecycle),
      cmocka_unit_test(test_stop_deadline),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  metrics_reset();
  return rc;
}
