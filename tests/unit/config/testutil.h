/* testutil.h: helpers shared by the config tests. */
#ifndef CONFIG_TESTUTIL_H
#define CONFIG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

static inline void tu_print_errors(const cfg_errors_t *e) {
  for (size_t i = 0; i < e->n; i++) print_message("  error: %s\n", e->items[i]);
}

/* Asserts that loading yaml (named t.yaml) fails and that the first error
 * starts with want. */
#define expect_error(yaml, want) tu_expect_error("t.yaml", yaml, want, 0)
/* Same, but any of the errors may match. */
#define expect_some_error(yaml, want) tu_expect_error("t.yaml", yaml, want, 1)

static inline void tu_expect_error(const char *name, const char *yaml,
                                   const char *want, int any) {
  cfg_errors_t e = {0};
  config_t *cfg = config_load_mem(name, yaml, strlen(yaml), &e);
  if (cfg) {
    config_free(cfg);
    print_error("config unexpectedly loaded; wanted %s\n", want);
    fail();
  }
  int ok = 0;
  for (size_t i = 0; i < e.n && (any || i == 0); i++)
    if (strncmp(e.items[i], want, strlen(want)) == 0) ok = 1;
  if (!ok) {
    print_error("wanted %s'%s'; got:\n", any ? "some " : "first ", want);
    tu_print_errors(&e);
    cfg_errors_free(&e);
    fail();
  }
  cfg_errors_free(&e);
}

static inline config_t *tu_load_ok(const char *name, const char *yaml) {
  cfg_errors_t e = {0};
  config_t *cfg = config_load_mem(name, yaml, strlen(yaml), &e);
  if (!cfg || e.n) {
    print_error("config failed to load:\n");
    tu_print_errors(&e);
    cfg_errors_free(&e);
    config_free(cfg);
    fail();
  }
  cfg_errors_free(&e);
  return cfg;
}

/* A fresh temporary directory (caller frees the string). */
static inline char *tu_tmpdir(void) {
  char tmpl[] = "/tmp/cfgtest.XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static inline void tu_write(const char *dir, const char *rel,
                            const char *text) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static inline void tu_mkdir(const char *dir, const char *rel) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  assert_int_equal(mkdir(path, 0700), 0);
}

static inline void tu_rm_rf(const char *dir) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

#endif
