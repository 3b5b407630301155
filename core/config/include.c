/*
 * include.c: building a cfg_doc_t from the main file and its includes.
 *
 * `include:` takes a path or a list of paths, relative to the directory of
 * the file that contains it. A directory includes its *.yaml and *.yml
 * files (not hidden ones, not recursively) in strcmp() name order. An
 * included file may contain only `plugins:` and `include:`; its plugin
 * entries are appended to the main file's `plugins:` list, depth first, in
 * include order. Cycles (by realpath) and chains deeper than
 * CFG_MAX_INCLUDE_DEPTH are errors.
 */
#include "internal.h"

#include "../common/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct inc_ctx {
  cfg_doc_t *doc;
  cfg_errors_t *errs;
  cfg_node_t *plugins; /* the main file's plugins list, or NULL */
  char *stack[CFG_MAX_INCLUDE_DEPTH + 2]; /* realpaths being included */
  size_t nstack;
} inc_ctx_t;

static void process_includes(inc_ctx_t *c, const cfg_node_t *root,
                             unsigned depth);

static void append_plugins(inc_ctx_t *c, const cfg_node_t *list) {
  if (!c->plugins) return;
  for (size_t i = 0; i < list->n; i++)
    cfg_node_push(c->plugins, NULL, list->items[i]);
}

static void load_file(inc_ctx_t *c, const char *path, const cfg_node_t *from,
                      unsigned depth) {
  char shown[96];
  if (depth > CFG_MAX_INCLUDE_DEPTH) {
    cfg_error(c->errs, from->mark, "includes nested deeper than %d levels",
              CFG_MAX_INCLUDE_DEPTH);
    return;
  }
  char real[PATH_MAX];
  if (!realpath(path, real)) {
    cfg_error(c->errs, from->mark, "cannot open include %s: %s",
              from->substituted
                  ? "(substituted path)"
                  : cfg_show_str(path, strlen(path), shown, sizeof shown),
              strerror(errno));
    return;
  }
  for (size_t i = 0; i < c->nstack; i++) {
    if (c->stack[i] && strcmp(c->stack[i], real) == 0) {
      cfg_error(c->errs, from->mark,
                "include cycle: %s is already being included",
                cfg_show_str(path, strlen(path), shown, sizeof shown));
      return;
    }
  }
  char *data = NULL;
  size_t len = 0;
  int rc = cfg_read_file(path, CFG_MAX_FILE, &data, &len);
  if (rc) {
    cfg_error(c->errs, from->mark, "cannot open include %s: %s",
              cfg_show_str(path, strlen(path), shown, sizeof shown),
              cfg_read_strerror(rc));
    return;
  }
  cfg_node_t *root = cfg_parse_yaml(c->doc, path, data, len, c->errs);
  free(data);
  if (!root) return; /* syntax error, reported with this file's name */
  cfg_subst_tree(c->doc, root, c->errs);
  if (root->kind == CFG_NULL) return; /* an empty file is fine */
  if (root->kind != CFG_MAP) {
    cfg_error(c->errs, root->mark,
              "an included file must be a map with 'plugins:' and/or "
              "'include:', not %s",
              cfg_kind_name(root));
    return;
  }
  for (size_t i = 0; i < root->n; i++) {
    const char *k = root->keys[i]->str;
    if (strcmp(k, "plugins") != 0 && strcmp(k, "include") != 0)
      cfg_error(c->errs, root->keys[i]->mark,
                "key %s is not allowed in an included file (only 'plugins' "
                "and 'include')",
                cfg_show_str(k, root->keys[i]->len, shown, sizeof shown));
  }
  const cfg_node_t *pl = cfg_map_get(root, "plugins");
  if (pl && pl->kind == CFG_SEQ)
    append_plugins(c, pl);
  else if (pl && pl->kind != CFG_NULL)
    cfg_error(c->errs, pl->mark,
              "plugins: expected a list of plugin instances, not %s",
              cfg_kind_name(pl));
  c->stack[c->nstack++] = xstrdup(real);
  process_includes(c, root, depth + 1);
  free(c->stack[--c->nstack]);
}

static int yaml_name(const struct dirent *d) {
  const char *n = d->d_name;
  size_t l = strlen(n);
  if (n[0] == '.') return 0;
  return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
         (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

static int strp_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void include_one(inc_ctx_t *c, const cfg_node_t *n, unsigned depth) {
  char shown[96];
  if (n->invalid) return;
  if (n->kind != CFG_SCALAR || n->len == 0) {
    cfg_error(c->errs, n->mark, "include: expected a path, not %s",
              n->kind == CFG_SCALAR ? "an empty string" : cfg_kind_name(n));
    return;
  }
  char *dir = cfg_node_dir(n);
  char *path = cfg_path_join(dir, n->str);
  free(dir);
  struct stat st;
  if (stat(path, &st) != 0) {
    cfg_error(c->errs, n->mark, "cannot open include %s: %s",
              cfg_show(n, shown, sizeof shown), strerror(errno));
    free(path);
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    load_file(c, path, n, depth);
    free(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d) {
    cfg_error(c->errs, n->mark, "cannot open include %s: %s",
              cfg_show(n, shown, sizeof shown), strerror(errno));
    free(path);
    return;
  }
  char **names = NULL;
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!yaml_name(e)) continue;
    names = xrealloc(names, (nn + 1) * sizeof *names);
    names[nn++] = cfg_path_join(path, e->d_name);
  }
  closedir(d);
  if (nn) qsort(names, nn, sizeof *names, strp_cmp);
  for (size_t i = 0; i < nn; i++) {
    load_file(c, names[i], n, depth);
    free(names[i]);
  }
  free(names);
  free(path);
}

static void process_includes(inc_ctx_t *c, const cfg_node_t *root,
                             unsigned depth) {
  const cfg_node_t *inc = cfg_map_get(root, "include");
  if (cfg_is_null(inc)) return;
  if (inc->kind == CFG_SCALAR) {
    include_one(c, inc, depth);
  } else if (inc->kind == CFG_SEQ) {
    for (size_t i = 0; i < inc->n; i++) include_one(c, inc->items[i], depth);
  } else {
    cfg_error(c->errs, inc->mark,
              "include: expected a path or a list of paths, not %s",
              cfg_kind_name(inc));
  }
}

/* The main file's plugins list, created (or turned from null into an empty
 * list) so included entries have somewhere to go. NULL if it has the wrong
 * type; config_build() reports that. */
static cfg_node_t *main_plugins(cfg_doc_t *doc, cfg_node_t *root) {
  for (size_t i = 0; i < root->n; i++) {
    if (strcmp(root->keys[i]->str, "plugins") != 0) continue;
    cfg_node_t *v = root->items[i];
    if (v->kind == CFG_NULL) v->kind = CFG_SEQ;
    return v->kind == CFG_SEQ ? v : NULL;
  }
  cfg_node_t *key = cfg_node_new(doc, CFG_SCALAR, root->mark);
  key->str = xstrdup("plugins");
  key->len = 7;
  cfg_node_t *seq = cfg_node_new(doc, CFG_SEQ, root->mark);
  cfg_node_push(root, key, seq);
  return seq;
}

void cfg_includes_resolve(cfg_doc_t *doc, const char *main_real,
                          cfg_errors_t *errs) {
  cfg_node_t *root = doc->root;
  if (!root || root->kind != CFG_MAP ||
      cfg_is_null(cfg_map_get(root, "include")))
    return;
  inc_ctx_t c = {.doc = doc, .errs = errs};
  c.plugins = main_plugins(doc, root);
  c.stack[c.nstack++] = main_real ? xstrdup(main_real) : NULL;
  process_includes(&c, root, 1);
  for (size_t i = 0; i < c.nstack; i++) free(c.stack[i]);
}

static cfg_doc_t *doc_from_text(const char *name, const char *data, size_t len,
                                cfg_errors_t *errs) {
  cfg_doc_t *doc = xcalloc(1, sizeof *doc);
  doc->root = cfg_parse_yaml(doc, name, data, len, errs);
  if (!doc->root) {
    cfg_doc_free(doc);
    return NULL;
  }
  cfg_subst_tree(doc, doc->root, errs);
  char real[PATH_MAX];
  cfg_includes_resolve(doc, realpath(name, real) ? real : NULL, errs);
  return doc;
}

cfg_doc_t *cfg_doc_load(const char *path, cfg_errors_t *errs) {
  char *data = NULL;
  size_t len = 0;
  int rc = cfg_read_file(path, CFG_MAX_FILE, &data, &len);
  if (rc) {
    cfg_mark_t m = {path, 0, 0};
    cfg_error(errs, m, "cannot open: %s", cfg_read_strerror(rc));
    return NULL;
  }
  cfg_doc_t *doc = doc_from_text(path, data, len, errs);
  free(data);
  return doc;
}

cfg_doc_t *cfg_doc_load_mem(const char *name, const char *data, size_t len,
                            cfg_errors_t *errs) {
  return doc_from_text(name, data, len, errs);
}
