/* test_config_good.c: valid configurations, defaults, includes,
 * substitution and coercion. */
#include "testutil.h"

static void empty_file_gives_defaults(void **state) {
  (void)state;
  static const char *const texts[] = {"", "# only a comment\n", "---\n", "~\n"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    config_t *cfg = tu_load_ok("/etc/assist/assist.yaml", texts[i]);
    assert_int_equal(cfg->server.nlisten, 1);
    assert_string_equal(cfg->server.listen[0].host, "127.0.0.1");
    assert_int_equal(cfg->server.listen[0].port, 8080);
    assert_int_equal(cfg->server.max_connections, 10000);
    assert_int_equal(cfg->server.max_header_size, 16384);
    assert_int_equal(cfg->server.max_headers, 100);
    assert_int_equal(cfg->server.max_body_size, 1048576);
    assert_int_equal(cfg->server.header_timeout_ms, 10000);
    assert_int_equal(cfg->server.body_timeout_ms, 30000);
    assert_int_equal(cfg->server.idle_timeout_ms, 60000);
    assert_int_equal(cfg->server.drain_timeout_ms, 10000);
    assert_null(cfg->server.static_dir);
    assert_null(cfg->server.public_url);
    assert_string_equal(cfg->log_level, "info");
    assert_string_equal(cfg->log_format, "json");
    assert_string_equal(cfg->storage, "sqlite:/etc/assist/assistd.db");
    assert_string_equal(cfg->plugin_dir, "/etc/assist/plugins");
    assert_string_equal(cfg->file, "/etc/assist/assist.yaml");
    assert_int_equal(cfg->ninstances, 0);
    config_free(cfg);
  }
}

static void full_config(void **state) {
  (void)state;
  const char *yaml =
      "server:\n"
      "  listen:\n"
      "    - 0.0.0.0:80\n"
      "    - \"[::1]:8443\"\n"
      "    - localhost:0\n"
      "  max_connections: 5\n"
      "  max_header_size: 32k\n"
      "  max_headers: 7\n"
      "  max_body_size: 2MiB\n"
      "  header_timeout: 250ms\n"
      "  body_timeout: 5m\n"
      "  idle_timeout: 2h\n"
      "  drain_timeout: 0\n"
      "  static_dir: ../web\n"
      "  public_url: https://assist.example.com\n"
      "log: {level: debug, format: text}\n"
      "storage: postgresql://u@db/assist\n"
      "plugin_dir: /opt/assist/plugins\n"
      "plugins:\n"
      "  - name: hello\n"
      "    plugin: hello\n"
      "    options: {greeting: hi}\n"
      "  - name: csv_2\n"
      "    plugin: csv-analysis\n"
      "    path: lib/csv.so\n"
      "    enabled: off\n"
      "  - {name: abs, plugin: x, path: /abs/x.so, enabled: YES, options: ~}\n";
  config_t *cfg = tu_load_ok("conf/assist.yaml", yaml);
  assert_int_equal(cfg->server.nlisten, 3);
  assert_string_equal(cfg->server.listen[0].host, "0.0.0.0");
  assert_int_equal(cfg->server.listen[0].port, 80);
  assert_string_equal(cfg->server.listen[1].host, "::1");
  assert_int_equal(cfg->server.listen[1].port, 8443);
  assert_int_equal(cfg->server.listen[1].mark.line, 4);
  assert_int_equal(cfg->server.listen[1].mark.col, 7);
  assert_string_equal(cfg->server.listen[2].host, "127.0.0.1");
  assert_int_equal(cfg->server.listen[2].port, 0);
  assert_int_equal(cfg->server.max_connections, 5);
  assert_int_equal(cfg->server.max_header_size, 32768);
  assert_int_equal(cfg->server.max_headers, 7);
  assert_int_equal(cfg->server.max_body_size, 2 << 20);
  assert_int_equal(cfg->server.header_timeout_ms, 250);
  assert_int_equal(cfg->server.body_timeout_ms, 300000);
  assert_int_equal(cfg->server.idle_timeout_ms, 7200000);
  assert_int_equal(cfg->server.drain_timeout_ms, 0);
  assert_string_equal(cfg->server.static_dir, "conf/../web");
  assert_string_equal(cfg->server.public_url, "https://assist.example.com");
  assert_string_equal(cfg->log_level, "debug");
  assert_string_equal(cfg->log_format, "text");
  assert_string_equal(cfg->storage, "postgresql://u@db/assist");
  assert_string_equal(cfg->plugin_dir, "/opt/assist/plugins");
  assert_int_equal(cfg->ninstances, 3);
  cfg_instance_t *a = &cfg->instances[0], *b = &cfg->instances[1],
                 *c = &cfg->instances[2];
  assert_string_equal(a->name, "hello");
  assert_string_equal(a->plugin, "hello");
  assert_string_equal(a->path, "/opt/assist/plugins/hello.so");
  assert_int_equal(a->enabled, 1);
  assert_non_null(a->options);
  assert_int_equal(a->options->kind, CFG_MAP);
  const cfg_node_t *g = cfg_map_get(a->options, "greeting");
  assert_non_null(g);
  assert_string_equal(g->str, "hi");
  assert_int_equal(a->mark.line, 20);
  assert_int_equal(a->mark.col, 5);
  assert_string_equal(b->name, "csv_2");
  assert_string_equal(b->path, "conf/lib/csv.so");
  assert_int_equal(b->enabled, 0);
  assert_null(b->options);
  assert_string_equal(c->path, "/abs/x.so");
  assert_int_equal(c->enabled, 1);
  assert_null(c->options);
  config_free(cfg);
}

static void nulls_mean_defaults(void **state) {
  (void)state;
  config_t *cfg = tu_load_ok("a.yaml", "server:\nlog:\n  level: ~\n"
                                       "storage:\nplugins:\n");
  assert_int_equal(cfg->server.nlisten, 1);
  assert_string_equal(cfg->log_level, "info");
  assert_string_equal(cfg->storage, "sqlite:assistd.db");
  assert_string_equal(cfg->plugin_dir, "plugins");
  assert_int_equal(cfg->ninstances, 0);
  config_free(cfg);
}

static void storage_paths(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"sqlite:var/a.db", "sqlite:etc/var/a.db"},
      {"sqlite:/abs/a.db", "sqlite:/abs/a.db"},
      {"sqlite::memory:", "sqlite::memory:"},
      {"sqlite:file:x.db?mode=ro", "sqlite:file:x.db?mode=ro"},
      {"postgres://h/db", "postgres://h/db"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char yaml[128];
    snprintf(yaml, sizeof yaml, "storage: \"%s\"\n", cases[i].in);
    config_t *cfg = tu_load_ok("etc/a.yaml", yaml);
    assert_string_equal(cfg->storage, cases[i].out);
    config_free(cfg);
  }
}

static void booleans(void **state) {
  (void)state;
  static const struct {
    const char *word;
    int v;
  } cases[] = {{"true", 1},  {"True", 1}, {"yes", 1}, {"ON", 1},
               {"false", 0}, {"No", 0},   {"off", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char yaml[128];
    snprintf(yaml, sizeof yaml,
             "plugins: [{name: a, plugin: b, enabled: %s}]\n", cases[i].word);
    config_t *cfg = tu_load_ok("t.yaml", yaml);
    assert_int_equal(cfg->instances[0].enabled, cases[i].v);
    config_free(cfg);
  }
}

static void substitution(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  tu_mkdir(dir, "secrets");
  tu_write(dir, "secrets/db", "postgresql://u:pw@db/x\n\n");
  tu_write(dir, "secrets/token", "abc\r\n");
  setenv("ASSIST_T_PORT", "9090", 1);
  setenv("ASSIST_T_CONN", "77", 1);
  setenv("ASSIST_T_LEVEL", "warn", 1);
  setenv("ASSIST_T_EMPTY", "", 1);
  const char *yaml =
      "server:\n"
      "  listen: \"127.0.0.1:${ASSIST_T_PORT}\"\n"
      "  max_connections: \"${ASSIST_T_CONN}\"\n"
      "  public_url: http://x/$${literal}/${ASSIST_T_EMPTY}end$x\n"
      "log: {level: \"${ASSIST_T_LEVEL}\"}\n"
      "storage: ${file:secrets/db}\n"
      "plugins:\n"
      "  - name: a\n"
      "    plugin: b\n"
      "    options:\n"
      "      token: ${file:secrets/token}\n"
      "      abs: ${file:%s/secrets/token}\n"
      "      plain: $${HOME} and $$ and $ {x}\n"
      "      ${NOT_A_KEY_SUBST}: 1\n";
  char text[2048];
  snprintf(text, sizeof text, yaml, dir);
  config_t *cfg = tu_load_ok(name, text);
  assert_int_equal(cfg->server.listen[0].port, 9090);
  assert_int_equal(cfg->server.max_connections, 77);
  assert_string_equal(cfg->server.public_url, "http://x/${literal}/end$x");
  assert_string_equal(cfg->log_level, "warn");
  /* Exactly one trailing newline is removed. */
  assert_string_equal(cfg->storage, "postgresql://u:pw@db/x\n");
  const cfg_node_t *o = cfg->instances[0].options;
  const cfg_node_t *tok = cfg_map_get(o, "token");
  assert_string_equal(tok->str, "abc");
  assert_int_equal(tok->len, 3);
  assert_int_equal(tok->substituted, 1);
  assert_int_equal(tok->mark.line, 11);
  assert_int_equal(tok->mark.col, 14);
  assert_string_equal(cfg_map_get(o, "abs")->str, "abc");
  const cfg_node_t *plain = cfg_map_get(o, "plain");
  assert_string_equal(plain->str, "${HOME} and $$ and $ {x}");
  assert_int_equal(plain->substituted, 0);
  assert_non_null(cfg_map_get(o, "${NOT_A_KEY_SUBST}"));
  config_free(cfg);
  tu_rm_rf(dir);
  free(dir);
}

static void includes_in_name_order(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char name[PATH_MAX], want[PATH_MAX];
  tu_mkdir(dir, "conf.d");
  tu_mkdir(dir, "conf.d/sub");
  tu_mkdir(dir, "more");
  tu_write(dir, "conf.d/20-b.yaml",
           "plugins:\n  - name: b\n    plugin: pb\n    path: lib/b.so\n"
           "include: ../more/extra.yml\n");
  tu_write(dir, "conf.d/10-a.yml", "plugins:\n  - name: a\n    plugin: pa\n");
  tu_write(dir, "conf.d/30-empty.yaml", "");
  tu_write(dir, "conf.d/.hidden.yaml", "this: is not loaded\n");
  tu_write(dir, "conf.d/README.txt", "not yaml\n");
  tu_write(dir, "conf.d/sub/ignored.yaml", "nor: this\n");
  tu_write(dir, "more/extra.yml",
           "plugins:\n  - {name: c, plugin: pc, enabled: false}\n");
  tu_write(dir, "single.yaml",
           "include: []\nplugins:\n  - {name: d, plugin: "
           "pd}\n");
  snprintf(name, sizeof name, "%s/main.yaml", dir);
  tu_write(dir, "main.yaml",
           "plugin_dir: /p\n"
           "plugins:\n"
           "  - {name: main, plugin: pm}\n"
           "include:\n"
           "  - conf.d\n"
           "  - single.yaml\n");
  cfg_errors_t e = {0};
  config_t *cfg = config_load(name, &e);
  if (!cfg) tu_print_errors(&e);
  assert_non_null(cfg);
  assert_int_equal(e.n, 0);
  static const char *const order[] = {"main", "a", "b", "c", "d"};
  assert_int_equal(cfg->ninstances, 5);
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(cfg->instances[i].name, order[i]);
  /* Marks name the included file; relative paths use its directory. */
  snprintf(want, sizeof want, "%s/conf.d/20-b.yaml", dir);
  assert_string_equal(cfg->instances[2].mark.file, want);
  assert_int_equal(cfg->instances[2].mark.line, 2);
  snprintf(want, sizeof want, "%s/conf.d/lib/b.so", dir);
  assert_string_equal(cfg->instances[2].path, want);
  assert_string_equal(cfg->instances[1].path, "/p/pa.so");
  assert_int_equal(cfg->instances[3].enabled, 0);
  config_free(cfg);

  /* An empty directory is fine. */
  tu_mkdir(dir, "empty.d");
  tu_write(dir, "main.yaml", "include: empty.d\n");
  cfg = config_load(name, &e);
  assert_non_null(cfg);
  assert_int_equal(cfg->ninstances, 0);
  config_free(cfg);

  /* Include without any plugins: key in the main file. */
  tu_write(dir, "main.yaml", "include: single.yaml\n");
  cfg = config_load(name, &e);
  assert_non_null(cfg);
  assert_int_equal(cfg->ninstances, 1);
  assert_string_equal(cfg->instances[0].name, "d");
  config_free(cfg);
  cfg_errors_free(&e);
  tu_rm_rf(dir);
  free(dir);
}

static void doc_api(void **state) {
  (void)state;
  cfg_errors_t e = {0};
  const char *yaml = "a: 1\nb:\n  - x\n  - 'y'\n";
  cfg_doc_t *doc = cfg_doc_load_mem("d.yaml", yaml, strlen(yaml), &e);
  assert_non_null(doc);
  assert_int_equal(e.n, 0);
  const cfg_node_t *root = cfg_doc_root(doc);
  assert_int_equal(root->kind, CFG_MAP);
  assert_int_equal(root->n, 2);
  const cfg_node_t *b = cfg_map_get(root, "b");
  assert_int_equal(b->kind, CFG_SEQ);
  assert_int_equal(b->n, 2);
  assert_int_equal(b->items[0]->quoted, 0);
  assert_int_equal(b->items[1]->quoted, 1);
  assert_int_equal(b->items[1]->mark.line, 4);
  assert_int_equal(b->items[1]->mark.col, 5);
  assert_string_equal(b->items[1]->mark.file, "d.yaml");
  assert_null(cfg_map_get(root, "c"));
  assert_null(cfg_map_get(b, "a"));
  /* config_build() takes ownership, also on failure. */
  config_t *cfg = config_build(doc, "d.yaml", &e);
  assert_null(cfg);
  assert_true(e.n >= 1);
  cfg_errors_free(&e);
}

static void utf8_columns(void **state) {
  (void)state;
  /* Columns count characters, not bytes. */
  expect_some_error("log: {level: \"\xc3\xa9t\xc3\xa9\", format: nope}\n",
                    "t.yaml:1:29: log.format: invalid value 'nope'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_file_gives_defaults),
      cmocka_unit_test(full_config),
      cmocka_unit_test(nulls_mean_defaults),
      cmocka_unit_test(storage_paths),
      cmocka_unit_test(booleans),
      cmocka_unit_test(substitution),
      cmocka_unit_test(includes_in_name_order),
      cmocka_unit_test(doc_api),
      cmocka_unit_test(utf8_columns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
