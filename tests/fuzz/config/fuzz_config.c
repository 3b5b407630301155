/*
 * fuzz_config.c: libFuzzer harness for the configuration loader.
 *
 * The input is a YAML file: it is loaded with cfg_doc_load_mem(), the
 * options of every plugin entry are validated against a table that has
 * every option type (and printed with opts_to_json()), then the core
 * sections are built with config_build(). ${file:...} and include: only
 * read regular files of bounded size, so inputs cannot hang on /dev/zero
 * or a FIFO.
 */
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const modes[] = {"a", "b", "c", NULL};

static const assist_option_t table[] = {
    {.name = "s", .type = ASSIST_OPT_STRING, .min = 1, .max = 0},
    {.name = "req",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_REQUIRED,
     .min = 1,
     .max = 0},
    {.name = "i",
     .type = ASSIST_OPT_INT,
     .default_value = "3",
     .min = -5,
     .max = 1000},
    {.name = "i2", .type = ASSIST_OPT_INT, .min = 1, .max = 0},
    {.name = "b",
     .type = ASSIST_OPT_BOOL,
     .flags = ASSIST_OPT_RELOADABLE,
     .default_value = "on",
     .min = 1,
     .max = 0},
    {.name = "d",
     .type = ASSIST_OPT_DOUBLE,
     .default_value = "0.5",
     .min = -1,
     .max = 1e6},
    {.name = "sz",
     .type = ASSIST_OPT_SIZE,
     .default_value = "1MiB",
     .min = 1,
     .max = 0},
    {.name = "t",
     .type = ASSIST_OPT_DURATION,
     .default_value = "10s",
     .min = 0,
     .max = 86400000},
    {.name = "e",
     .type = ASSIST_OPT_ENUM,
     .default_value = "b",
     .enum_values = modes,
     .min = 1,
     .max = 0},
    {.name = "l",
     .type = ASSIST_OPT_STRING_LIST,
     .default_value = "x,y",
     .min = 1,
     .max = 0},
    {.name = "secret",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_SECRET,
     .min = 1,
     .max = 0},
    {.name = NULL},
};

static const assist_plugin_t plugin = {ASSIST_PLUGIN_HEADER, .name = "fuzz",
                                       .options = table};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int checked;
  if (!checked) {
    char err[256];
    if (opts_table_check(table, sizeof table[0], err, sizeof err) != 0) abort();
    buf_t schema = {0};
    const assist_plugin_t *p = &plugin;
    config_schema_json(&p, 1, &schema);
    buf_free(&schema);
    checked = 1;
  }
  if (size > (1u << 16)) return 0;

  cfg_errors_t errs = {0};
  cfg_doc_t *doc =
      cfg_doc_load_mem("fuzz.yaml", (const char *)data, size, &errs);
  if (!doc) {
    cfg_errors_free(&errs);
    return 0;
  }
  const cfg_node_t *plugins = cfg_map_get(cfg_doc_root(doc), "plugins");
  for (size_t i = 0; plugins && plugins->kind == CFG_SEQ && i < plugins->n;
       i++) {
    const cfg_node_t *inst = plugins->items[i];
    opt_set_t set;
    if (opts_validate(table, sizeof table[0], cfg_map_get(inst, "options"),
                      inst->mark, &set, &errs) == 0) {
      buf_t out = {0};
      opts_to_json(&set, &out);
      if (!opts_equal(&set, &set) || !opts_diff_reloadable(&set, &set)) abort();
      buf_free(&out);
    }
    opts_free(&set);
  }
  /* Exercise the unit parsers on every scalar of a top-level "units:". */
  const cfg_node_t *units = cfg_map_get(cfg_doc_root(doc), "units");
  for (size_t i = 0; units && units->kind == CFG_SEQ && i < units->n; i++) {
    uint64_t v;
    if (units->items[i]->kind != CFG_SCALAR) continue;
    (void)parse_size(units->items[i]->str, &v);
    (void)parse_duration_ms(units->items[i]->str, &v);
  }
  config_t *cfg = config_build(doc, "fuzz.yaml", &errs);
  config_free(cfg);
  cfg_errors_free(&errs);
  return 0;
}
