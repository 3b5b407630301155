/* Tests for core/common/lazylib.c and the two lazily opened libraries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/lazylib.h"
#include "httpc/curl_lazy.h"
#include "store/pq_lazy.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A plugin that links libical brings it in; unloading the plugin must not
 * unload libical (thread-specific destructors left behind). */
static void test_pin_keeps_library(void **s) {
  (void)s;
  assert_null(dlopen("libical.so.3", RTLD_NOW | RTLD_NOLOAD));
  void *plugin = dlopen("libical.so.3", RTLD_NOW | RTLD_LOCAL);
  assert_non_null(plugin);
  lazylib_pin_loaded();
  dlclose(plugin);
  void *still = dlopen("libical.so.3", RTLD_NOW | RTLD_NOLOAD);
  assert_non_null(still);
  dlclose(still);
}

static void test_missing_library(void **s) {
  (void)s;
  static const char *const names[] = {"cos"};
  static void *slots[1];
  static lazylib_t l =
      LAZYLIB_INIT("libassistd-no-such-lib.so.0", "the test", names, slots);
  const char *err = NULL;
  assert_int_equal(lazylib_load(&l, &err), -ELIBACC);
  assert_non_null(err);
  const char *want = "the test needs libassistd-no-such-lib.so.0: ";
  assert_memory_equal(err, want, strlen(want));
  assert_non_null(strstr(err + strlen(want), "libassistd-no-such-lib.so.0"));
  /* The outcome is kept: same answer, same message. */
  const char *again = NULL;
  assert_int_equal(lazylib_load(&l, &again), -ELIBACC);
  assert_ptr_equal(again, err);
}

static void test_missing_symbol(void **s) {
  (void)s;
  static const char *const names[] = {"cos", "assistd_no_such_symbol"};
  static void *slots[2];
  static lazylib_t l = LAZYLIB_INIT("libm.so.6", "the test", names, slots);
  const char *err = NULL;
  assert_int_equal(lazylib_load(&l, &err), -ELIBACC);
  assert_string_equal(
      err, "the test needs libm.so.6: symbol assistd_no_such_symbol not found");
}

static void test_loads_and_calls(void **s) {
  (void)s;
  static const char *const names[] = {"cos", "sqrt"};
  static void *slots[2];
  static lazylib_t l = LAZYLIB_INIT("libm.so.6", "the test", names, slots);
  /* lazylib_sym loads on first use without an explicit lazylib_load. */
  double (*sq)(double) = (double (*)(double))lazylib_sym(&l, 1);
  assert_true(sq(16.0) == 4.0);
  assert_int_equal(lazylib_load(&l, NULL), 0);
  double (*co)(double) = (double (*)(double))lazylib_sym(&l, 0);
  assert_true(co(0.0) == 1.0);
}

/* A call through a table whose library is missing prints the message and
 * aborts (an entry point forgot lazylib_load). */
static void test_sym_aborts_with_message(void **s) {
  (void)s;
  static const char *const names[] = {"f"};
  static void *slots[1];
  static lazylib_t l =
      LAZYLIB_INIT("libassistd-no-such-lib.so.0", "the test", names, slots);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGABRT, SIG_DFL);
    dup2(fds[1], 2);
    close(fds[0]);
    lazylib_sym(&l, 0);
    _exit(0);
  }
  close(fds[1]);
  char buf[1024];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 &&
         (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = '\0';
  close(fds[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  assert_non_null(
      strstr(buf, "assistd: the test needs libassistd-no-such-lib.so.0: "));
}

/* Every name in the two tables exists in the installed library (a
 * misspelt or removed function would otherwise surface only at run time
 * on the path that uses it). */
static void test_real_tables_resolve(void **s) {
  (void)s;
  const char *err = NULL;
  if (curl_lazy_load(&err) < 0) fail_msg("%s", err);
  if (pq_lazy_load(&err) < 0) fail_msg("%s", err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pin_keeps_library), /* before libical is loaded */
      cmocka_unit_test(test_missing_library),
      cmocka_unit_test(test_missing_symbol),
      cmocka_unit_test(test_loads_and_calls),
      cmocka_unit_test(test_sym_aborts_with_message),
      cmocka_unit_test(test_real_tables_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
