/*
 * internal.h: helpers shared by the files of core/config only. Nothing here
 * is part of the service's contract (config.h is).
 */
#ifndef ASSIST_CONFIG_INTERNAL_H
#define ASSIST_CONFIG_INTERNAL_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

/* Limits that keep hostile or broken input bounded. */
#define CFG_MAX_DEPTH 64               /* YAML nesting */
#define CFG_MAX_INCLUDE_DEPTH 8        /* include chains */
#define CFG_MAX_FILE (16u << 20)       /* one YAML file */
#define CFG_MAX_SUBST_FILE 65536u      /* one ${file:...} */
#define CFG_MAX_SUBST_TOTAL (4u << 20) /* bytes substituted per document */
#define CFG_MAX_ERRORS 100
#define CFG_MAX_OPTIONS 1024 /* entries in one option table */

/* cfg_read_file() result for something that is not a regular file. */
#define CFG_ENOTREG (-100001)

struct cfg_doc {
  cfg_node_t *root;
  cfg_node_t **nodes; /* every node, for cfg_doc_free() */
  size_t nnodes, capnodes;
  char **files; /* interned file names */
  size_t nfiles;
  size_t subst_total; /* bytes produced by substitution so far */
};

/* ---- yaml_doc.c ---- */
cfg_node_t *cfg_node_new(cfg_doc_t *doc, cfg_kind_t kind, cfg_mark_t mark);
void cfg_node_push(cfg_node_t *parent, cfg_node_t *key, cfg_node_t *value);
const char *cfg_doc_intern(cfg_doc_t *doc, const char *file);
/**
 * Parses one YAML text into a tree owned by doc. Returns the root (a CFG_NULL
 * node for an empty stream) or NULL after a syntax error (reported). Other
 * problems (duplicate keys, aliases...) are reported and the tree is still
 * returned.
 */
cfg_node_t *cfg_parse_yaml(cfg_doc_t *doc, const char *file, const char *data,
                           size_t len, cfg_errors_t *errs);
/** Reads a regular file of at most max bytes. 0, -errno, -EFBIG, or
 * CFG_ENOTREG. *out (NUL-terminated) is the caller's to free(). */
int cfg_read_file(const char *path, size_t max, char **out, size_t *len);
const char *cfg_read_strerror(int rc);

/* ---- subst.c ---- */
/** Substitutes ${...} in every value scalar under node (keys untouched). */
void cfg_subst_tree(cfg_doc_t *doc, cfg_node_t *node, cfg_errors_t *errs);

/* ---- include.c ---- */
/** Follows the root's `include:` (recursively); appends plugin entries. */
void cfg_includes_resolve(cfg_doc_t *doc, const char *main_real,
                          cfg_errors_t *errs);

/* ---- errors.c ---- */
/** "'value'" (escaped, shortened) or "a substituted value" for a node. */
const char *cfg_show(const cfg_node_t *n, char *buf, size_t size);
/** Escaped, shortened copy of s between single quotes. */
const char *cfg_show_str(const char *s, size_t len, char *buf, size_t size);
const char *cfg_kind_name(const cfg_node_t *n);
size_t cfg_edit_distance(const char *a, const char *b);
/** The closest candidate to word, or NULL if none is close enough. */
const char *cfg_nearest(const char *word, const char *const *cands, size_t n);

/* ---- paths ---- */
char *cfg_dirname(const char *path);
char *cfg_path_join(const char *dir, const char *rel);
/** The directory of the file a node was written in. */
char *cfg_node_dir(const cfg_node_t *n);

/* ---- opts.c ---- */
/** Parses text (a default, as written in a table) as o's type. 0 or -1. */
int cfg_opt_parse_text(const assist_option_t *o, const char *text,
                       opt_value_t *v);
void cfg_opt_value_clear(opt_value_t *v);

/* ---- scalars (opts.c) ---- */
int cfg_parse_bool(const char *s, int *out);
int cfg_parse_int64(const char *s, int64_t *out);
int cfg_parse_double(const char *s, double *out);
/** 1 if the scalar is null or absent. */
static inline int cfg_is_null(const cfg_node_t *n) {
  return n == NULL || n->kind == CFG_NULL;
}

#endif
