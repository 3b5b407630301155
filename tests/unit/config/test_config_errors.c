/* test_config_errors.c: bad configurations and their exact positions. */
#include "testutil.h"

static void syntax_error(void **state) {
  (void)state;
  expect_error("server:\n  listen: [\"a\", \"b\"\nlog: {}\n",
               "t.yaml:3:1: syntax error: did not find expected ',' or ']' "
               "(while parsing a flow sequence that started at line 2, "
               "column 11)");
  expect_error("server:\n  listen: x\n bad: 1\n",
               "t.yaml:3:2: syntax error: did not find expected key");
}

static void tab_indent_is_syntax_error(void **state) {
  (void)state;
  expect_error("server:\n\tlisten: x\n", "t.yaml:2:1: syntax error: ");
}

static void unknown_top_key(void **state) {
  (void)state;
  expect_error("servr:\n  listen: \"127.0.0.1:1\"\n",
               "t.yaml:1:1: unknown top-level key 'servr'; did you mean "
               "'server'?");
  expect_error("log: {}\nzzz: 1\n", "t.yaml:2:1: unknown top-level key 'zzz'");
}

static void unknown_server_key(void **state) {
  (void)state;
  expect_error("server:\n  lisen: \"127.0.0.1:80\"\n",
               "t.yaml:2:3: unknown key 'lisen' in server; did you mean "
               "'listen'?");
}

static void unknown_log_and_instance_keys(void **state) {
  (void)state;
  expect_error("log:\n  colour: red\n",
               "t.yaml:2:3: unknown key 'colour' in log");
  expect_error("plugins:\n  - name: a\n    plugin: b\n    enable: false\n",
               "t.yaml:4:5: unknown key 'enable' in plugin instance; did you "
               "mean 'enabled'?");
}

static void bad_listen(void **state) {
  (void)state;
  expect_error("server:\n  listen: nope\n",
               "t.yaml:2:11: server.listen: invalid address 'nope' (expected "
               "HOST:PORT or [IPV6]:PORT)");
  expect_error("server:\n  listen: example.com:80\n",
               "t.yaml:2:11: server.listen: 'example.com:80': host must be a "
               "numeric IPv4 or [IPv6] address or localhost");
  expect_error("server:\n  listen: ::1:80\n",
               "t.yaml:2:11: server.listen: '::1:80': write IPv6 addresses in "
               "brackets");
  expect_error("server:\n  listen: \"[::zz]:80\"\n",
               "t.yaml:2:11: server.listen: '[::zz]:80' is not a valid IPv6 "
               "address");
  expect_error("server:\n  listen: \"1.2.3.4:8x\"\n",
               "t.yaml:2:11: server.listen: '1.2.3.4:8x': invalid port");
  expect_error("server:\n  listen: []\n",
               "t.yaml:2:11: server.listen: at least one address is required");
  expect_error("server:\n  listen:\n    - 127.0.0.1:1\n    - localhost:1\n",
               "t.yaml:4:7: server.listen: duplicate address (first at line "
               "3)");
}

static void port_out_of_range(void **state) {
  (void)state;
  expect_error("server:\n  listen: \"127.0.0.1:70000\"\n",
               "t.yaml:2:11: server.listen: '127.0.0.1:70000': port is out of "
               "range (0..65535)");
  expect_error("server:\n  listen: [\"[::1]:8080\", \"[::1]:65536\"]\n",
               "t.yaml:2:26: server.listen: '[::1]:65536': port is out of "
               "range (0..65535)");
}

static void bad_size(void **state) {
  (void)state;
  expect_error("server:\n  max_body_size: 10XB\n",
               "t.yaml:2:18: server.max_body_size: expected a size (e.g. 512, "
               "16KB, 1MiB), got '10XB'");
  expect_error("server:\n  max_header_size: 10\n",
               "t.yaml:2:20: server.max_header_size: '10' is out of range "
               "(1024..16777216 bytes)");
  expect_error("server:\n  max_body_size: 99999999999999999999KB\n",
               "t.yaml:2:18: server.max_body_size: '99999999999999999999KB' is "
               "out of range");
  expect_error("server:\n  max_body_size: 17179869184GiB\n",
               "t.yaml:2:18: server.max_body_size: '17179869184GiB' is out of "
               "range (0..1099511627776 bytes)");
}

static void bad_duration(void **state) {
  (void)state;
  expect_error("server:\n  header_timeout: 10 sec\n",
               "t.yaml:2:19: server.header_timeout: expected a duration (e.g. "
               "250ms, 10s, 5m), got '10 sec'");
  expect_error("server:\n  idle_timeout: 0\n",
               "t.yaml:2:17: server.idle_timeout: '0' is out of range "
               "(1..86400000 ms)");
  expect_error("server:\n  drain_timeout: -1s\n",
               "t.yaml:2:18: server.drain_timeout: expected a duration");
}

static void map_where_scalar_expected(void **state) {
  (void)state;
  expect_error("server:\n  max_connections: {a: 1}\n",
               "t.yaml:2:20: server.max_connections: expected an integer, not "
               "a map");
  expect_error("server:\n  static_dir: [a, b]\n",
               "t.yaml:2:15: server.static_dir: expected a string, not a list");
  expect_error("server: 5\n", "t.yaml:1:9: server: expected a map, not a "
                              "scalar");
  expect_error("- a\n- b\n",
               "t.yaml:1:1: the configuration must be a map, not a list");
}

static void bad_integers(void **state) {
  (void)state;
  expect_error("server:\n  max_connections: abc\n",
               "t.yaml:2:20: server.max_connections: expected an integer, got "
               "'abc'");
  expect_error("server:\n  max_connections: \"100\"\n",
               "t.yaml:2:20: server.max_connections: expected an integer, got "
               "a quoted string (remove the quotes)");
  expect_error("server:\n  max_connections: 0\n",
               "t.yaml:2:20: server.max_connections: '0' is out of range "
               "(1..1000000)");
  expect_error("server:\n  max_headers: 99999999999999999999\n",
               "t.yaml:2:16: server.max_headers: '99999999999999999999' is "
               "out of range (1..10000)");
}

static void duplicate_key(void **state) {
  (void)state;
  expect_error("log:\n  level: info\n  format: json\n  level: debug\n",
               "t.yaml:4:3: duplicate key 'level' (first at line 2)");
  expect_error("plugins: []\nlog: {}\nplugins: []\n",
               "t.yaml:3:1: duplicate key 'plugins' (first at line 1)");
}

static void duplicate_instance(void **state) {
  (void)state;
  expect_error("plugins:\n"
               "  - name: a\n"
               "    plugin: x\n"
               "  - name: a\n"
               "    plugin: y\n",
               "t.yaml:4:11: duplicate instance name 'a' (first defined at "
               "t.yaml:2:5)");
}

static void missing_name_and_plugin(void **state) {
  (void)state;
  expect_error("plugins:\n  - plugin: x\n",
               "t.yaml:2:5: plugin instance: missing required key 'name'");
  expect_error("plugins:\n  - name: a\n",
               "t.yaml:2:5: plugin instance 'a': missing required key "
               "'plugin'");
  expect_error("plugins:\n  - name: a\n    plugin:\n",
               "t.yaml:2:5: plugin instance 'a': missing required key "
               "'plugin'");
  expect_error("plugins:\n  - hello\n",
               "t.yaml:2:5: plugin instance: expected a map, not a scalar");
  expect_error("plugins:\n  name: a\n",
               "t.yaml:2:3: plugins: expected a list of plugin instances, not "
               "a map");
}

static void bad_instance_name(void **state) {
  (void)state;
  expect_error("plugins:\n  - name: Hello World\n    plugin: x\n",
               "t.yaml:2:11: name: invalid instance name 'Hello World' (use "
               "[a-z0-9_-]+, at most 64)");
  expect_error("plugins:\n  - name: ok\n    plugin: ../evil\n",
               "t.yaml:3:13: plugin: invalid plugin name '../evil'");
}

static void bad_log_level(void **state) {
  (void)state;
  expect_error("log:\n  level: verbose\n",
               "t.yaml:2:10: log.level: invalid value 'verbose' (expected "
               "debug|info|warn|error)");
  expect_error("log:\n  format: xml\n",
               "t.yaml:2:11: log.format: invalid value 'xml' (expected "
               "json|text)");
}

static void bad_bool_and_options(void **state) {
  (void)state;
  expect_error("plugins:\n  - name: a\n    plugin: b\n    enabled: maybe\n",
               "t.yaml:4:14: enabled: expected a boolean (true/false), got "
               "'maybe'");
  expect_error("plugins:\n  - name: a\n    plugin: b\n    options: [1]\n",
               "t.yaml:4:14: options: expected a map, not a list");
}

static void bad_storage_not_echoed(void **state) {
  (void)state;
  const char *yaml = "storage: \"mysql://root:hunter2@db\"\n";
  expect_error(yaml, "t.yaml:1:10: storage: expected 'sqlite:PATH' or "
                     "'postgresql://...' (value not shown)");
  cfg_errors_t e = {0};
  assert_null(config_load_mem("t.yaml", yaml, strlen(yaml), &e));
  for (size_t i = 0; i < e.n; i++) assert_null(strstr(e.items[i], "hunter2"));
  cfg_errors_free(&e);
}

static void public_url(void **state) {
  (void)state;
  expect_error("server:\n  public_url: ftp://x\n",
               "t.yaml:2:15: server.public_url: 'ftp://x' must start with "
               "http:// or https://");
}

static void unset_env(void **state) {
  (void)state;
  unsetenv("ASSIST_TEST_UNSET");
  expect_error("storage: \"sqlite:${ASSIST_TEST_UNSET}\"\n",
               "t.yaml:1:10: environment variable 'ASSIST_TEST_UNSET' is not "
               "set");
  expect_error("storage: \"${BAD NAME}\"\n",
               "t.yaml:1:10: invalid variable name 'BAD NAME' in ${...}");
  expect_error("storage: \"sqlite:${UNTERMINATED\"\n",
               "t.yaml:1:10: unterminated '${' (write '$${' for a literal "
               "'${')");
}

static void failed_substitution_reported_once(void **state) {
  (void)state;
  unsetenv("ASSIST_TEST_UNSET");
  cfg_errors_t e = {0};
  const char *yaml = "server:\n  max_connections: ${ASSIST_TEST_UNSET}\n";
  assert_null(config_load_mem("t.yaml", yaml, strlen(yaml), &e));
  assert_int_equal(e.n, 1);
  cfg_errors_free(&e);
}

static void substituted_value_not_echoed(void **state) {
  (void)state;
  setenv("ASSIST_TEST_SECRETISH", "s3cr3t-value", 1);
  const char *yaml = "server:\n  max_connections: ${ASSIST_TEST_SECRETISH}\n";
  expect_error(yaml, "t.yaml:2:20: server.max_connections: expected an "
                     "integer, got a substituted value");
  cfg_errors_t e = {0};
  assert_null(config_load_mem("t.yaml", yaml, strlen(yaml), &e));
  for (size_t i = 0; i < e.n; i++) assert_null(strstr(e.items[i], "s3cr3t"));
  cfg_errors_free(&e);
}

static void unreadable_file_subst(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX + 128];
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  snprintf(want, sizeof want,
           "%s:1:10: ${file:nope.txt}: cannot read: No such file or "
           "directory",
           name);
  tu_expect_error(name, "storage: ${file:nope.txt}\n", want, 0);

  /* Larger than 64 KiB. */
  char *big = malloc(70000);
  memset(big, 'x', 69999);
  big[69999] = '\0';
  tu_write(dir, "big.txt", big);
  free(big);
  snprintf(want, sizeof want, "%s:1:10: ${file:big.txt}: larger than 64 KiB",
           name);
  tu_expect_error(name, "storage: ${file:big.txt}\n", want, 0);

  /* Not a regular file: refused at once, without reading. */
  snprintf(want, sizeof want,
           "%s:1:10: ${file:/dev/zero}: cannot read: not a regular file", name);
  tu_expect_error(name, "storage: ${file:/dev/zero}\n", want, 0);
  snprintf(want, sizeof want, "%s:1:10: ${file:.}: cannot read: Is a directory",
           name);
  tu_expect_error(name, "storage: ${file:.}\n", want, 0);
  tu_rm_rf(dir);
  free(dir);
}

static void include_missing(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX + 128];
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  snprintf(want, sizeof want,
           "%s:2:11: cannot open include 'conf.d/x.yaml': No such file or "
           "directory",
           name);
  tu_expect_error(name, "plugins: []\ninclude: [conf.d/x.yaml]\n", want, 0);
  tu_rm_rf(dir);
  free(dir);
}

static void include_cycle(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX * 2];
  tu_write(dir, "main.yaml", "include: a.yaml\n");
  tu_write(dir, "a.yaml", "plugins: []\ninclude: b.yaml\n");
  tu_write(dir, "b.yaml", "include: [a.yaml]\n");
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  cfg_errors_t e = {0};
  assert_null(config_load(name, &e));
  snprintf(want, sizeof want,
           "%s/b.yaml:1:11: include cycle: '%s/a.yaml' is already being "
           "included",
           dir, dir);
  if (e.n != 1 || strcmp(e.items[0], want) != 0) {
    tu_print_errors(&e);
    fail_msg("wanted %s", want);
  }
  cfg_errors_free(&e);

  /* Including the main file is a cycle as well. */
  tu_write(dir, "b.yaml", "include: main.yaml\n");
  assert_null(config_load(name, &e));
  snprintf(want, sizeof want,
           "%s/b.yaml:1:10: include cycle: '%s/main.yaml' is already being "
           "included",
           dir, dir);
  assert_int_equal(e.n, 1);
  assert_string_equal(e.items[0], want);
  cfg_errors_free(&e);
  tu_rm_rf(dir);
  free(dir);
}

static void include_too_deep(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX * 2], file[32], text[64];
  /* main -> f1 -> f2 ... -> f9: f9 is 9 levels deep. */
  tu_write(dir, "main.yaml", "include: f1.yaml\n");
  for (int i = 1; i <= 9; i++) {
    snprintf(file, sizeof file, "f%d.yaml", i);
    snprintf(text, sizeof text, "include: f%d.yaml\n", i + 1);
    tu_write(dir, file, i == 9 ? "plugins: []\n" : text);
  }
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  snprintf(want, sizeof want,
           "%s/f8.yaml:1:10: includes nested deeper than 8 levels", dir);
  tu_expect_error(name, "include: f1.yaml\n", want, 0);
  tu_rm_rf(dir);
  free(dir);
}

static void include_forbidden_key(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX + 128];
  tu_mkdir(dir, "conf.d");
  tu_write(dir, "conf.d/10-ok.yaml", "plugins:\n  - name: a\n    plugin: a\n");
  tu_write(dir, "conf.d/20-bad.yaml",
           "plugins:\n  - name: b\n    plugin: b\nserver:\n  listen: x\n");
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  snprintf(want, sizeof want,
           "%s/conf.d/20-bad.yaml:4:1: key 'server' is not allowed in an "
           "included file (only 'plugins' and 'include')",
           dir);
  tu_expect_error(name, "include: conf.d\n", want, 0);
  tu_rm_rf(dir);
  free(dir);
}

static void include_errors_name_the_file(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX + 128];
  tu_mkdir(dir, "conf.d");
  tu_write(dir, "conf.d/a.yaml",
           "plugins:\n  - name: a\n    plugin: a\n    bogus: 1\n");
  tu_write(dir, "conf.d/b.yml", "plugins:\n  - name: [x\n");
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  /* Errors are collected from every file. */
  snprintf(want, sizeof want,
           "%s/conf.d/a.yaml:4:5: unknown key 'bogus' in plugin instance", dir);
  tu_expect_error(name, "include: conf.d\n", want, 1);
  snprintf(want, sizeof want, "%s/conf.d/b.yml:3:1: syntax error: ", dir);
  tu_expect_error(name, "include: conf.d\n", want, 1);
  /* A duplicate across files names the first file. */
  tu_write(dir, "conf.d/b.yml", "plugins:\n  - name: a\n    plugin: z\n");
  tu_write(dir, "conf.d/a.yaml", "plugins:\n  - name: a\n    plugin: a\n");
  snprintf(want, sizeof want,
           "%s/conf.d/b.yml:2:11: duplicate instance name 'a' (first defined "
           "at %s/conf.d/a.yaml:2:5)",
           dir, dir);
  tu_expect_error(name, "include: conf.d\n", want, 0);
  tu_rm_rf(dir);
  free(dir);
}

static void anchors_and_aliases_refused(void **state) {
  (void)state;
  expect_error("log: &l\n  level: info\nserver: *l\n",
               "t.yaml:1:6: YAML anchors are not supported ('&l')");
  expect_some_error("log: &l\n  level: info\nserver: *l\n",
                    "t.yaml:3:9: YAML aliases are not supported ('*l')");
}

static void tags_refused(void **state) {
  (void)state;
  expect_error("log:\n  level: !!binary aW5mbw==\n",
               "t.yaml:2:10: unsupported YAML tag "
               "'tag:yaml.org,2002:binary'");
  /* !!str makes a plain scalar a string, hence refused as an integer. */
  expect_error("server:\n  max_connections: !!str 5\n",
               "t.yaml:2:20: server.max_connections: expected an integer, got "
               "a quoted string");
}

static void multiple_documents(void **state) {
  (void)state;
  expect_error("log: {}\n---\nlog: {}\n",
               "t.yaml:2:1: only one YAML document per file is supported");
}

static void missing_main_file(void **state) {
  (void)state;
  cfg_errors_t e = {0};
  assert_null(config_load("/nonexistent/assist.yaml", &e));
  assert_int_equal(e.n, 1);
  assert_string_equal(e.items[0], "/nonexistent/assist.yaml: cannot open: No "
                                  "such file or directory");
  cfg_errors_free(&e);
}

static void collects_all_errors(void **state) {
  (void)state;
  cfg_errors_t e = {0};
  const char *yaml = "server:\n"
                     "  listen: nope\n"
                     "  max_headers: x\n"
                     "log:\n"
                     "  level: loud\n"
                     "plugins:\n"
                     "  - name: A\n"
                     "    plugin: b\n"
                     "  - plugin: c\n"
                     "extra: 1\n";
  assert_null(config_load_mem("t.yaml", yaml, strlen(yaml), &e));
  static const char *const want[] = {
      "t.yaml:10:1: unknown top-level key 'extra'",
      "t.yaml:2:11: server.listen: invalid address 'nope'",
      "t.yaml:3:16: server.max_headers: expected an integer, got 'x'",
      "t.yaml:5:10: log.level: invalid value 'loud'",
      "t.yaml:7:11: name: invalid instance name 'A'",
      "t.yaml:9:5: plugin instance: missing required key 'name'",
  };
  if (e.n != sizeof want / sizeof want[0]) tu_print_errors(&e);
  assert_int_equal(e.n, sizeof want / sizeof want[0]);
  for (size_t i = 0; i < e.n; i++)
    assert_int_equal(strncmp(e.items[i], want[i], strlen(want[i])), 0);
  cfg_errors_free(&e);
}

static void too_many_errors_is_bounded(void **state) {
  (void)state;
  char *yaml = malloc(200 * 16 + 1);
  size_t off = 0;
  for (int i = 0; i < 200; i++)
    off += (size_t)sprintf(yaml + off, "k%03d: 1\n", i);
  cfg_errors_t e = {0};
  assert_null(config_load_mem("t.yaml", yaml, off, &e));
  assert_int_equal(e.n, 101);
  assert_non_null(strstr(e.items[100], "too many errors"));
  cfg_errors_free(&e);
  free(yaml);
}

static void deep_nesting_is_bounded(void **state) {
  (void)state;
  char yaml[1024];
  size_t off = (size_t)sprintf(yaml, "log: ");
  for (int i = 0; i < 100; i++) yaml[off++] = '[';
  for (int i = 0; i < 100; i++) yaml[off++] = ']';
  yaml[off++] = '\n';
  yaml[off] = '\0';
  expect_error(yaml, "t.yaml:1:69: nesting deeper than 64 levels");
}

static void check_keeps_partial_config(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%s/bad.yaml", dir);
  tu_write(dir, "bad.yaml",
           "server:\n"
           "  listen: \"127.0.0.1:99999\"\n"
           "  bogus: 1\n"
           "plugins:\n"
           "  - name: greeter\n"
           "    plugin: hello\n"
           "    options:\n"
           "      greting: hi\n"
           "  - plugin: nameless\n");
  cfg_errors_t e = {0};
  config_t *cfg = config_check(name, &e);
  assert_non_null(cfg);
  assert_int_equal(e.n, 3);
  assert_int_equal(cfg->server.nlisten, 0);
  assert_int_equal(cfg->ninstances, 1);
  assert_string_equal(cfg->instances[0].name, "greeter");
  /* The caller can go on to check options: errors accumulate. */
  static const assist_option_t t[] = {
      {.name = "greeting", .type = ASSIST_OPT_STRING, .min = 1, .max = 0},
      {.name = NULL}};
  opt_set_t set;
  assert_int_equal(opts_validate(t, sizeof t[0], cfg->instances[0].options,
                                 cfg->instances[0].mark, &set, &e),
                   -1);
  assert_int_equal(e.n, 4);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want,
           "%s:8:7: unknown option 'greting'; did you mean 'greeting'?", name);
  assert_int_equal(strncmp(e.items[3], want, strlen(want)), 0);
  config_free(cfg);
  cfg_errors_free(&e);
  /* config_load() refuses the same file. */
  assert_null(config_load(name, &e));
  assert_int_equal(e.n, 3);
  cfg_errors_free(&e);
  /* A syntax error leaves nothing to check. */
  tu_write(dir, "bad.yaml", "a: [\n");
  assert_null(config_check(name, &e));
  assert_int_equal(e.n, 1);
  cfg_errors_free(&e);
  tu_rm_rf(dir);
  free(dir);
}

static void nul_in_string(void **state) {
  (void)state;
  expect_error("storage: \"sqlite:a\\0b\"\n",
               "t.yaml:1:10: strings may not contain NUL characters");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(syntax_error),
      cmocka_unit_test(tab_indent_is_syntax_error),
      cmocka_unit_test(unknown_top_key),
      cmocka_unit_test(unknown_server_key),
      cmocka_unit_test(unknown_log_and_instance_keys),
      cmocka_unit_test(bad_listen),
      cmocka_unit_test(port_out_of_range),
      cmocka_unit_test(bad_size),
      cmocka_unit_test(bad_duration),
      cmocka_unit_test(map_where_scalar_expected),
      cmocka_unit_test(bad_integers),
      cmocka_unit_test(duplicate_key),
      cmocka_unit_test(duplicate_instance),
      cmocka_unit_test(missing_name_and_plugin),
      cmocka_unit_test(bad_instance_name),
      cmocka_unit_test(bad_log_level),
      cmocka_unit_test(bad_bool_and_options),
      cmocka_unit_test(bad_storage_not_echoed),
      cmocka_unit_test(public_url),
      cmocka_unit_test(unset_env),
      cmocka_unit_test(failed_substitution_reported_once),
      cmocka_unit_test(substituted_value_not_echoed),
      cmocka_unit_test(unreadable_file_subst),
      cmocka_unit_test(include_missing),
      cmocka_unit_test(include_cycle),
      cmocka_unit_test(include_too_deep),
      cmocka_unit_test(include_forbidden_key),
      cmocka_unit_test(include_errors_name_the_file),
      cmocka_unit_test(anchors_and_aliases_refused),
      cmocka_unit_test(tags_refused),
      cmocka_unit_test(multiple_documents),
      cmocka_unit_test(missing_main_file),
      cmocka_unit_test(collects_all_errors),
      cmocka_unit_test(too_many_errors_is_bounded),
      cmocka_unit_test(deep_nesting_is_bounded),
      cmocka_unit_test(check_keeps_partial_config),
      cmocka_unit_test(nul_in_string),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
