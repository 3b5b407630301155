/* test_opts.c: plugin option tables, sizes/durations, JSON Schema. */
#include "testutil.h"

#include <json-c/json.h>

static const char *const modes[] = {"fast", "safe", NULL};

static const assist_option_t table[] = {
    {.name = "url",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_REQUIRED,
     .min = 1,
     .max = 0,
     .description = "base URL"},
    {.name = "port",
     .type = ASSIST_OPT_INT,
     .default_value = "8080",
     .min = 1,
     .max = 65535,
     .description = "TCP port"},
    {.name = "verbose",
     .type = ASSIST_OPT_BOOL,
     .flags = ASSIST_OPT_RELOADABLE,
     .default_value = "false",
     .min = 1,
     .max = 0},
    {.name = "ratio",
     .type = ASSIST_OPT_DOUBLE,
     .flags = ASSIST_OPT_RELOADABLE,
     .default_value = "0.5",
     .min = 0,
     .max = 1},
    {.name = "max_size",
     .type = ASSIST_OPT_SIZE,
     .default_value = "1MB",
     .min = 1024,
     .max = 1 << 30},
    {.name = "timeout",
     .type = ASSIST_OPT_DURATION,
     .flags = ASSIST_OPT_RELOADABLE,
     .default_value = "30s",
     .min = 1,
     .max = 0},
    {.name = "mode",
     .type = ASSIST_OPT_ENUM,
     .default_value = "safe",
     .min = 1,
     .max = 0,
     .enum_values = modes},
    {.name = "tags",
     .type = ASSIST_OPT_STRING_LIST,
     .default_value = "a, b",
     .min = 1,
     .max = 0},
    {.name = "token",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_SECRET,
     .min = 1,
     .max = 0,
     .description = "API token"},
    {.name = "pin",
     .type = ASSIST_OPT_INT,
     .flags = ASSIST_OPT_SECRET,
     .min = 0,
     .max = 9999},
    {.name = NULL},
};
#define STRIDE sizeof(assist_option_t)
#define VALID                                                                  \
  "(valid: url, port, verbose, ratio, max_size, timeout, mode, tags, "         \
  "token, pin)"

static const cfg_mark_t where = {"t.yaml", 1, 1};

/* Validates the map under "o:" in yaml. Returns 0/-1; errs filled. */
static int validate(const char *yaml, opt_set_t *set, cfg_errors_t *e) {
  cfg_errors_t pe = {0};
  cfg_doc_t *doc = cfg_doc_load_mem("t.yaml", yaml, strlen(yaml), &pe);
  if (!doc || pe.n) {
    tu_print_errors(&pe);
    fail_msg("test YAML does not parse");
  }
  cfg_errors_free(&pe);
  int rc = opts_validate(table, STRIDE, cfg_map_get(cfg_doc_root(doc), "o"),
                         where, set, e);
  cfg_doc_free(doc);
  return rc;
}

static void expect_opt_error(const char *yaml, const char *want) {
  opt_set_t set;
  cfg_errors_t e = {0};
  int rc = validate(yaml, &set, &e);
  if (rc == 0 || e.n == 0 || strncmp(e.items[0], want, strlen(want)) != 0) {
    print_error("wanted '%s', rc %d, got:\n", want, rc);
    tu_print_errors(&e);
    fail();
  }
  assert_int_equal(set.n, 0);
  cfg_errors_free(&e);
}

static const char *good_yaml = "o:\n"
                               "  url: http://x\n"
                               "  port: 443\n"
                               "  verbose: yes\n"
                               "  ratio: 0.25\n"
                               "  max_size: 16KB\n"
                               "  timeout: 250ms\n"
                               "  mode: fast\n"
                               "  tags: [x, \"y\"]\n"
                               "  token: \"s3cr3t\"\n";

static void good_values(void **state) {
  (void)state;
  opt_set_t set;
  cfg_errors_t e = {0};
  assert_int_equal(validate(good_yaml, &set, &e), 0);
  assert_int_equal(e.n, 0);
  assert_int_equal(set.n, 10);
  const opt_value_t *v = opts_find(&set, "url");
  assert_string_equal(v->str, "http://x");
  assert_int_equal(v->is_set, 1);
  assert_int_equal(opts_find(&set, "port")->i, 443);
  assert_int_equal(opts_find(&set, "verbose")->i, 1);
  assert_true(opts_find(&set, "ratio")->d == 0.25);
  assert_int_equal(opts_find(&set, "max_size")->i, 16384);
  assert_int_equal(opts_find(&set, "timeout")->i, 250);
  assert_string_equal(opts_find(&set, "mode")->str, "fast");
  v = opts_find(&set, "tags");
  assert_int_equal(v->nlist, 2);
  assert_string_equal(v->list[0], "x");
  assert_string_equal(v->list[1], "y");
  assert_null(v->list[2]);
  v = opts_find(&set, "pin");
  assert_int_equal(v->has_value, 0);
  assert_int_equal(v->is_set, 0);
  assert_null(opts_find(&set, "nope"));
  /* Table order, names point into the table. */
  assert_ptr_equal(set.v[0].name, table[0].name);
  opts_free(&set);
}

static void defaults(void **state) {
  (void)state;
  opt_set_t set;
  cfg_errors_t e = {0};
  assert_int_equal(validate("o:\n  url: u\n  port: ~\n", &set, &e), 0);
  const opt_value_t *v = opts_find(&set, "port");
  assert_int_equal(v->is_set, 0);
  assert_int_equal(v->has_value, 1);
  assert_int_equal(v->i, 8080);
  assert_string_equal(v->str, "8080");
  assert_int_equal(opts_find(&set, "max_size")->i, 1 << 20);
  assert_int_equal(opts_find(&set, "timeout")->i, 30000);
  assert_string_equal(opts_find(&set, "mode")->str, "safe");
  assert_int_equal(opts_find(&set, "verbose")->i, 0);
  assert_string_equal(opts_find(&set, "verbose")->str, "false");
  v = opts_find(&set, "tags");
  assert_int_equal(v->nlist, 2);
  assert_string_equal(v->list[0], "a");
  assert_string_equal(v->list[1], "b");
  assert_int_equal(opts_find(&set, "token")->has_value, 0);
  opts_free(&set);
}

static void coercion(void **state) {
  (void)state;
  opt_set_t set;
  cfg_errors_t e = {0};
  setenv("ASSIST_T_OPORT", "8443", 1);
  setenv("ASSIST_T_OBOOL", "on", 1);
  assert_int_equal(validate("o:\n"
                            "  url: 12\n" /* plain -> string */
                            "  port: \"${ASSIST_T_OPORT}\"\n" /* coerced */
                            "  verbose: ${ASSIST_T_OBOOL}\n"
                            "  mode: 'safe'\n" /* quoted enum ok */
                            "  tags: solo, not split\n",
                            &set, &e),
                   0);
  assert_string_equal(opts_find(&set, "url")->str, "12");
  assert_int_equal(opts_find(&set, "port")->i, 8443);
  assert_int_equal(opts_find(&set, "verbose")->i, 1);
  const opt_value_t *v = opts_find(&set, "tags");
  assert_int_equal(v->nlist, 1);
  assert_string_equal(v->list[0], "solo, not split");
  opts_free(&set);
}

static void errors(void **state) {
  (void)state;
  expect_opt_error(
      "o:\n  url: u\n  prot: 1\n",
      "t.yaml:3:3: unknown option 'prot'; did you mean 'port'? " VALID);
  expect_opt_error("o:\n  url: u\n  zzzzzzzz: 1\n",
                   "t.yaml:3:3: unknown option 'zzzzzzzz' " VALID);
  expect_opt_error("o:\n  port: 1\n",
                   "t.yaml:1:1: missing required option 'url'");
  expect_opt_error("o: {}\n", "t.yaml:1:1: missing required option 'url'");
  expect_opt_error("o:\n  url: u\n  port: 70000\n",
                   "t.yaml:3:9: option 'port': '70000' is out of range "
                   "(1..65535)");
  expect_opt_error("o:\n  url: u\n  port: 1.5\n",
                   "t.yaml:3:9: option 'port': expected an integer, got "
                   "'1.5'");
  expect_opt_error("o:\n  url: u\n  port: 9223372036854775808\n",
                   "t.yaml:3:9: option 'port': '9223372036854775808' does not "
                   "fit in 64 bits");
  expect_opt_error("o:\n  url: u\n  port: \"443\"\n",
                   "t.yaml:3:9: option 'port': expected an integer, got a "
                   "quoted string (remove the quotes)");
  expect_opt_error("o:\n  url: u\n  mode: turbo\n",
                   "t.yaml:3:9: option 'mode': invalid value 'turbo' "
                   "(expected one of: fast, safe)");
  expect_opt_error("o:\n  url: u\n  verbose: 2\n",
                   "t.yaml:3:12: option 'verbose': expected a boolean "
                   "(true/false), got '2'");
  expect_opt_error("o:\n  url: u\n  verbose: [true]\n",
                   "t.yaml:3:12: option 'verbose': expected a boolean "
                   "(true/false), not a list");
  expect_opt_error("o:\n  url: u\n  tags: [ok, {a: 1}]\n",
                   "t.yaml:3:14: option 'tags': list items must be strings, "
                   "not a map");
  expect_opt_error("o:\n  url: u\n  tags: {a: 1}\n",
                   "t.yaml:3:9: option 'tags': expected a string or a list of "
                   "strings, not a map");
  expect_opt_error("o:\n  url: {a: b}\n",
                   "t.yaml:2:8: option 'url': expected a string, not a map");
  expect_opt_error("o:\n  url: u\n  ratio: 1.5\n",
                   "t.yaml:3:10: option 'ratio': '1.5' is out of range (0..1)");
  expect_opt_error("o:\n  url: u\n  ratio: nan\n",
                   "t.yaml:3:10: option 'ratio': expected a number, got "
                   "'nan'");
  expect_opt_error("o:\n  url: u\n  ratio: 1e999\n",
                   "t.yaml:3:10: option 'ratio': '1e999' is not a finite "
                   "number");
  expect_opt_error("o:\n  url: u\n  max_size: 2GiB\n",
                   "t.yaml:3:13: option 'max_size': '2GiB' is out of range "
                   "(1024..1073741824 bytes)");
  expect_opt_error("o:\n  url: u\n  max_size: 1XB\n",
                   "t.yaml:3:13: option 'max_size': expected a size (e.g. "
                   "512, 16KB, 1MiB), got '1XB'");
  expect_opt_error("o:\n  url: u\n  timeout: forever\n",
                   "t.yaml:3:12: option 'timeout': expected a duration (e.g. "
                   "250ms, 30s, 5m), got 'forever'");
  expect_opt_error("o:\n  url: u\n  timeout: 99999999999999999d\n",
                   "t.yaml:3:12: option 'timeout': '99999999999999999d' is "
                   "too large");
  expect_opt_error("o: [1]\n", "t.yaml:1:4: options: expected a map, not a "
                               "list");
  /* Secret values are never echoed. */
  expect_opt_error("o:\n  url: u\n  pin: 123456\n",
                   "t.yaml:3:8: option 'pin': a secret value is out of range "
                   "(0..9999)");
}

static void collects_all(void **state) {
  (void)state;
  opt_set_t set;
  cfg_errors_t e = {0};
  assert_int_equal(validate("o:\n  port: x\n  mode: y\n  bogus: 1\n", &set, &e),
                   -1);
  assert_int_equal(e.n, 4);
  assert_string_equal(e.items[0], "t.yaml:2:9: option 'port': expected an "
                                  "integer, got 'x'");
  assert_non_null(strstr(e.items[1], "t.yaml:3:9: option 'mode'"));
  assert_non_null(strstr(e.items[2], "t.yaml:4:3: unknown option 'bogus'"));
  assert_string_equal(e.items[3], "t.yaml:1:1: missing required option 'url'");
  /* A wrong value does not also report "missing", but url still is. */
  cfg_errors_free(&e);
  assert_int_equal(validate("o:\n  port: x\n", &set, &e), -1);
  assert_int_equal(e.n, 2);
  assert_string_equal(e.items[1], "t.yaml:1:1: missing required option 'url'");
  cfg_errors_free(&e);
}

static void no_options_table(void **state) {
  (void)state;
  cfg_errors_t e = {0};
  opt_set_t set;
  const char *yaml = "o:\n  x: 1\n";
  cfg_doc_t *doc = cfg_doc_load_mem("t.yaml", yaml, strlen(yaml), &e);
  const cfg_node_t *o = cfg_map_get(cfg_doc_root(doc), "o");
  assert_int_equal(opts_validate(NULL, 0, o, where, &set, &e), -1);
  assert_int_equal(e.n, 1);
  assert_string_equal(e.items[0], "t.yaml:2:3: unknown option 'x' (this "
                                  "plugin takes no options)");
  cfg_errors_free(&e);
  assert_int_equal(opts_validate(NULL, 0, NULL, where, &set, &e), 0);
  assert_int_equal(set.n, 0);
  opts_free(&set);
  cfg_doc_free(doc);
}

/* A table compiled against a later, larger assist_option_t. */
typedef struct {
  assist_option_t base;
  uint64_t future[3];
} big_option_t;

static void larger_stride(void **state) {
  (void)state;
  static const big_option_t big[] = {
      {{.name = "a",
        .type = ASSIST_OPT_INT,
        .default_value = "5",
        .min = 1,
        .max = 0},
       {1, 2, 3}},
      {{.name = "b",
        .type = ASSIST_OPT_STRING,
        .flags = ASSIST_OPT_REQUIRED,
        .min = 1,
        .max = 0},
       {4, 5, 6}},
      {{.name = NULL}, {0, 0, 0}},
  };
  char err[256];
  assert_int_equal(
      opts_table_check(&big[0].base, sizeof big[0], err, sizeof err), 0);
  cfg_errors_t e = {0};
  const char *yaml = "o: {b: hi}\n";
  cfg_doc_t *doc = cfg_doc_load_mem("t.yaml", yaml, strlen(yaml), &e);
  opt_set_t set;
  assert_int_equal(opts_validate(&big[0].base, sizeof big[0],
                                 cfg_map_get(cfg_doc_root(doc), "o"), where,
                                 &set, &e),
                   0);
  assert_int_equal(set.n, 2);
  assert_int_equal(opts_find(&set, "a")->i, 5);
  assert_string_equal(opts_find(&set, "b")->str, "hi");
  opts_free(&set);
  /* A stride smaller than the 1.0 struct is refused. */
  assert_int_equal(opts_table_check(table, 8, err, sizeof err), -1);
  assert_int_equal(opts_validate(table, 8, NULL, where, &set, &e), -1);
  assert_int_equal(e.n, 1);
  cfg_errors_free(&e);
  cfg_doc_free(doc);
}

static void to_json_redacts(void **state) {
  (void)state;
  opt_set_t set;
  cfg_errors_t e = {0};
  assert_int_equal(validate(good_yaml, &set, &e), 0);
  buf_t b = {0};
  opts_to_json(&set, &b);
  assert_string_equal(b.data,
                      "{\"url\":\"http://x\",\"port\":443,\"verbose\":true,"
                      "\"ratio\":0.25,\"max_size\":16384,\"timeout\":250,"
                      "\"mode\":\"fast\",\"tags\":[\"x\",\"y\"],"
                      "\"token\":\"***\",\"pin\":null}");
  assert_null(strstr(b.data, "s3cr3t"));
  struct json_object *j = json_tokener_parse(b.data);
  assert_non_null(j);
  json_object_put(j);
  buf_free(&b);
  opts_free(&set);
}

static void equal_and_reloadable(void **state) {
  (void)state;
  opt_set_t a, b, c, d;
  cfg_errors_t e = {0};
  assert_int_equal(validate("o: {url: u, verbose: false, port: 1}\n", &a, &e),
                   0);
  /* Same values, one written out, one defaulted: equal. */
  assert_int_equal(validate("o: {url: u, port: 1}\n", &b, &e), 0);
  assert_int_equal(opts_equal(&a, &b), 1);
  assert_int_equal(opts_diff_reloadable(&a, &b), 1);
  /* Only RELOADABLE options differ. */
  assert_int_equal(
      validate("o: {url: u, port: 1, verbose: on, timeout: 1s, ratio: 1}\n", &c,
               &e),
      0);
  assert_int_equal(opts_equal(&a, &c), 0);
  assert_int_equal(opts_diff_reloadable(&a, &c), 1);
  /* A non-reloadable option differs. */
  assert_int_equal(validate("o: {url: u, port: 2, verbose: on}\n", &d, &e), 0);
  assert_int_equal(opts_equal(&a, &d), 0);
  assert_int_equal(opts_diff_reloadable(&a, &d), 0);
  opts_free(&d);
  assert_int_equal(validate("o: {url: u, port: 1, tags: [a, c]}\n", &d, &e), 0);
  assert_int_equal(opts_equal(&a, &d), 0);
  assert_int_equal(opts_diff_reloadable(&a, &d), 0);
  opts_free(&d);
  assert_int_equal(validate("o: {url: u, port: 1, token: x}\n", &d, &e), 0);
  assert_int_equal(opts_equal(&a, &d), 0);
  opts_free(&a);
  opts_free(&b);
  opts_free(&c);
  opts_free(&d);
  assert_int_equal(e.n, 0);
}

static void table_check(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(opts_table_check(table, STRIDE, err, sizeof err), 0);
  assert_int_equal(opts_table_check(NULL, 0, err, sizeof err), 0);
  static const char *const empty[] = {NULL};
  static const struct {
    assist_option_t o;
    const char *want;
  } bad[] = {
      {{.name = "Bad-Name", .type = ASSIST_OPT_STRING},
       "option #1: invalid name 'Bad-Name' (use [a-z0-9_]+)"},
      {{.name = "", .type = ASSIST_OPT_STRING},
       "option #1: invalid name '' (use [a-z0-9_]+)"},
      {{.name = "t", .type = (assist_option_type_t)99},
       "option 't': unknown type 99"},
      {{.name = "e", .type = ASSIST_OPT_ENUM},
       "option 'e': ENUM without enum_values"},
      {{.name = "e", .type = ASSIST_OPT_ENUM, .enum_values = empty},
       "option 'e': ENUM without enum_values"},
      {{.name = "e",
        .type = ASSIST_OPT_ENUM,
        .enum_values = modes,
        .default_value = "slow"},
       "option 'e': invalid default: invalid value 'slow' (expected one of: "
       "fast, safe)"},
      {{.name = "i", .type = ASSIST_OPT_INT, .default_value = "x", .min = 1},
       "option 'i': invalid default: expected an integer, got 'x'"},
      {{.name = "i",
        .type = ASSIST_OPT_INT,
        .default_value = "100",
        .min = 0,
        .max = 10},
       "option 'i': invalid default: '100' is out of range (0..10)"},
      {{.name = "s",
        .type = ASSIST_OPT_SIZE,
        .default_value = "1 XB",
        .min = 1},
       "option 's': invalid default: expected a size"},
      {{.name = "r",
        .type = ASSIST_OPT_STRING,
        .flags = ASSIST_OPT_REQUIRED,
        .default_value = "x"},
       "option 'r': a REQUIRED option has no default"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assist_option_t t[2] = {bad[i].o, {.name = NULL}};
    err[0] = '\0';
    assert_int_equal(opts_table_check(t, STRIDE, err, sizeof err), -1);
    if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
      fail_msg("case %zu: wanted '%s', got '%s'", i, bad[i].want, err);
  }
  assist_option_t dup[3] = {{.name = "a", .type = ASSIST_OPT_STRING},
                            {.name = "a", .type = ASSIST_OPT_INT},
                            {.name = NULL}};
  assert_int_equal(opts_table_check(dup, STRIDE, err, sizeof err), -1);
  assert_string_equal(err, "option 'a': declared twice");
}

static void sizes(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int rc;
    uint64_t v;
  } cases[] = {
      {"0", 0, 0},
      {"512", 0, 512},
      {"16k", 0, 16384},
      {"16KB", 0, 16384},
      {"16KiB", 0, 16384},
      {"16 kb", 0, 16384},
      {"1MB", 0, 1048576},
      {"1mib", 0, 1048576},
      {"3G", 0, 3ull << 30},
      {"2TB", 0, 2ull << 40},
      {"7b", 0, 7},
      {"18446744073709551615", 0, UINT64_MAX},
      {"18446744073709551616", -ERANGE, 0},
      {"99999999999999999999999", -ERANGE, 0},
      {"16777216TB", -ERANGE, 0},
      {"16777215TB", 0, 16777215ull << 40},
      {"17179869184GiB", -ERANGE, 0},
      {"", -EINVAL, 0},
      {"k", -EINVAL, 0},
      {"-1", -EINVAL, 0},
      {"+1", -EINVAL, 0},
      {"1.5MB", -EINVAL, 0},
      {"1MBB", -EINVAL, 0},
      {"1 ", -EINVAL, 0},
      {" 1", -EINVAL, 0},
      {"0x10", -EINVAL, 0},
      {"99999999999999999999XB", -EINVAL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    int rc = parse_size(cases[i].s, &v);
    if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
      fail_msg("parse_size('%s') = %d, %llu", cases[i].s, rc,
               (unsigned long long)v);
  }
  uint64_t v;
  assert_int_equal(parse_size(NULL, &v), -EINVAL);
}

static void durations(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int rc;
    uint64_t v;
  } cases[] = {
      {"0", 0, 0},
      {"1500", 0, 1500},
      {"250ms", 0, 250},
      {"10s", 0, 10000},
      {"5m", 0, 300000},
      {"2h", 0, 7200000},
      {"1d", 0, 86400000},
      {"3 s", 0, 3000},
      {"3 ", -EINVAL, 0},
      {"18446744073709551615", 0, UINT64_MAX},
      {"18446744073709551615ms", 0, UINT64_MAX},
      {"18446744073709552s", -ERANGE, 0},
      {"213503982335d", -ERANGE, 0},
      {"213503982334d", 0, 213503982334ull * 86400000ull},
      {"18446744073709551616", -ERANGE, 0},
      {"", -EINVAL, 0},
      {"s", -EINVAL, 0},
      {"1.5s", -EINVAL, 0},
      {"-1s", -EINVAL, 0},
      {"10S", -EINVAL, 0},
      {"1h30m", -EINVAL, 0},
      {"10 sec", -EINVAL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    int rc = parse_duration_ms(cases[i].s, &v);
    if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
      fail_msg("parse_duration_ms('%s') = %d, %llu", cases[i].s, rc,
               (unsigned long long)v);
  }
}

/* ---------------- schema ---------------- */

static const assist_option_t alpha_opts[] = {
    {.name = "level",
     .type = ASSIST_OPT_ENUM,
     .default_value = "fast",
     .enum_values = modes,
     .min = 1,
     .max = 0},
    {.name = NULL},
};

static const assist_plugin_t zeta = {
    ASSIST_PLUGIN_HEADER, .name = "zeta", .version = "1.0.0",
    .description = "the zeta plugin", .options = table};
static const assist_plugin_t alpha = {ASSIST_PLUGIN_HEADER, .name = "alpha",
                                      .version = "0.1.0",
                                      .options = alpha_opts};
static const assist_plugin_t bare = {ASSIST_PLUGIN_HEADER, .name = "bare",
                                     .version = "0.1.0"};

static struct json_object *path(struct json_object *o, const char *p) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", p);
  for (char *tok = strtok(buf, "/"); tok && o; tok = strtok(NULL, "/")) {
    if (json_object_is_type(o, json_type_array)) {
      o = json_object_array_get_idx(o, (size_t)atoi(tok));
    } else {
      struct json_object *next = NULL;
      if (!json_object_object_get_ex(o, tok, &next)) return NULL;
      o = next;
    }
  }
  return o;
}

static const char *pstr(struct json_object *root, const char *p) {
  struct json_object *o = path(root, p);
  if (!o) fail_msg("missing %s", p);
  return json_object_get_string(o);
}

static void schema(void **state) {
  (void)state;
  const assist_plugin_t *plugins[] = {&zeta, NULL, &alpha, &bare};
  buf_t b = {0}, b2 = {0};
  config_schema_json(plugins, 4, &b);
  config_schema_json(plugins, 4, &b2);
  assert_string_equal(b.data, b2.data); /* deterministic */
  assert_int_equal(b.data[b.len - 1], '\n');
  assert_non_null(strstr(b.data, "\n  \"properties\": {\n    \"server\": {"));

  struct json_object *j = json_tokener_parse(b.data);
  assert_non_null(j);
  assert_string_equal(pstr(j, "$schema"),
                      "https://json-schema.org/draft/2020-12/schema");
  assert_false(json_object_get_boolean(path(j, "additionalProperties")));
  assert_false(json_object_get_boolean(
      path(j, "properties/server/additionalProperties")));
  assert_string_equal(pstr(j, "properties/server/properties/listen/default"),
                      "127.0.0.1:8080");
  assert_int_equal(json_object_get_int(
                       path(j, "properties/server/properties/max_connections/"
                               "default")),
                   10000);
  assert_non_null(path(j, "properties/log/properties/level/enum"));
  assert_non_null(path(j, "$defs/size"));
  const char *items = "properties/plugins/items";
  (void)items;
  struct json_object *all = path(j, "properties/plugins/items/allOf");
  assert_non_null(all);
  assert_int_equal(json_object_array_length(all), 3);
  /* Sorted by name. */
  assert_string_equal(pstr(all, "0/if/properties/plugin/const"), "alpha");
  assert_string_equal(pstr(all, "1/if/properties/plugin/const"), "bare");
  assert_string_equal(pstr(all, "2/if/properties/plugin/const"), "zeta");
  struct json_object *zo = path(all, "2/then/properties/options");
  assert_string_equal(pstr(zo, "type"), "object");
  assert_false(json_object_get_boolean(path(zo, "additionalProperties")));
  assert_string_equal(pstr(zo, "properties/url/description"), "base URL");
  assert_int_equal(json_object_get_int(path(zo, "properties/port/default")),
                   8080);
  assert_int_equal(
      json_object_get_int(path(zo, "properties/port/anyOf/0/maximum")), 65535);
  assert_false(json_object_get_boolean(path(zo, "properties/verbose/default")));
  assert_string_equal(pstr(zo, "properties/tags/default/1"), "b");
  assert_true(json_object_get_boolean(path(zo, "properties/token/writeOnly")));
  assert_null(path(zo, "properties/token/default"));
  assert_true(json_object_get_boolean(path(zo, "properties/pin/writeOnly")));
  assert_string_equal(pstr(zo, "required/0"), "url");
  assert_int_equal(json_object_array_length(path(zo, "required")), 1);
  assert_string_equal(pstr(all, "2/then/required/0"), "options");
  assert_string_equal(pstr(all, "0/then/properties/options/properties/level/"
                                "anyOf/0/enum/1"),
                      "safe");
  assert_null(path(all, "0/then/required"));
  assert_int_equal(json_object_object_length(
                       path(all, "1/then/properties/options/properties")),
                   0);
  json_object_put(j);

  /* No plugins: no allOf, still valid JSON. */
  buf_reset(&b);
  config_schema_json(NULL, 0, &b);
  j = json_tokener_parse(b.data);
  assert_non_null(j);
  assert_null(path(j, "properties/plugins/items/allOf"));
  json_object_put(j);
  buf_free(&b);
  buf_free(&b2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_values),
      cmocka_unit_test(defaults),
      cmocka_unit_test(coercion),
      cmocka_unit_test(errors),
      cmocka_unit_test(collects_all),
      cmocka_unit_test(no_options_table),
      cmocka_unit_test(larger_stride),
      cmocka_unit_test(to_json_redacts),
      cmocka_unit_test(equal_and_reloadable),
      cmocka_unit_test(table_check),
      cmocka_unit_test(sizes),
      cmocka_unit_test(durations),
      cmocka_unit_test(schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
