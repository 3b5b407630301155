/*
 * yaml_doc.c: libyaml's event API turned into a cfg_node_t tree that keeps
 * 1-based line/column marks.
 *
 * Rules enforced here (independent of what the keys mean):
 *   - one document per file;
 *   - map keys are scalars, and unique within their map;
 *   - anchors and aliases are refused (an alias would let a few bytes expand
 *     into a huge tree, and a config with them is hard to read anyway);
 *   - the only tags accepted are !!str (makes a scalar a string) and
 *     !!map / !!seq on collections;
 *   - nesting deeper than CFG_MAX_DEPTH is refused;
 *   - plain "", "~", "null", "Null", "NULL" are CFG_NULL nodes.
 */
#include "internal.h"

#include "../common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_MAP "tag:yaml.org,2002:map"
#define TAG_SEQ "tag:yaml.org,2002:seq"

/* ---------------- nodes ---------------- */

cfg_node_t *cfg_node_new(cfg_doc_t *doc, cfg_kind_t kind, cfg_mark_t mark) {
  cfg_node_t *n = xcalloc(1, sizeof *n);
  n->kind = kind;
  n->mark = mark;
  if (doc->nnodes == doc->capnodes) {
    doc->capnodes = doc->capnodes ? doc->capnodes * 2 : 64;
    doc->nodes = xrealloc(doc->nodes, doc->capnodes * sizeof *doc->nodes);
  }
  doc->nodes[doc->nnodes++] = n;
  return n;
}

void cfg_node_push(cfg_node_t *parent, cfg_node_t *key, cfg_node_t *value) {
  /* Grow by powers of two: n is the size, capacity is implicit. */
  size_t n = parent->n;
  if ((n & (n - 1)) == 0) {
    size_t cap = n ? n * 2 : 4;
    parent->items = xrealloc(parent->items, cap * sizeof *parent->items);
    if (parent->kind == CFG_MAP)
      parent->keys = xrealloc(parent->keys, cap * sizeof *parent->keys);
  }
  if (parent->kind == CFG_MAP) parent->keys[n] = key;
  parent->items[n] = value;
  parent->n = n + 1;
}

const char *cfg_doc_intern(cfg_doc_t *doc, const char *file) {
  for (size_t i = 0; i < doc->nfiles; i++)
    if (strcmp(doc->files[i], file) == 0) return doc->files[i];
  doc->files = xrealloc(doc->files, (doc->nfiles + 1) * sizeof *doc->files);
  doc->files[doc->nfiles] = xstrdup(file);
  return doc->files[doc->nfiles++];
}

const cfg_node_t *cfg_doc_root(const cfg_doc_t *doc) {
  return doc ? doc->root : NULL;
}

void cfg_doc_free(cfg_doc_t *doc) {
  if (!doc) return;
  for (size_t i = 0; i < doc->nnodes; i++) {
    cfg_node_t *n = doc->nodes[i];
    free(n->str);
    free(n->keys);
    free(n->items);
    free(n);
  }
  free(doc->nodes);
  for (size_t i = 0; i < doc->nfiles; i++) free(doc->files[i]);
  free(doc->files);
  free(doc);
}

const cfg_node_t *cfg_map_get(const cfg_node_t *map, const char *key) {
  if (!map || map->kind != CFG_MAP) return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (map->keys[i]->str && strcmp(map->keys[i]->str, key) == 0)
      return map->items[i];
  return NULL;
}

/* ---------------- files ---------------- */

int cfg_read_file(const char *path, size_t max, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return -EISDIR;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return CFG_ENOTREG;
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return -EFBIG;
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  char *data = xmalloc(cap + 1);
  for (;;) {
    if (n == cap) {
      if (cap > max) break;
      cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      data = xrealloc(data, cap + 1);
    }
    ssize_t r = read(fd, data + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = -errno;
      free(data);
      close(fd);
      return e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (n > max) {
    free(data);
    return -EFBIG;
  }
  data[n] = '\0';
  *out = data;
  *len = n;
  return 0;
}

const char *cfg_read_strerror(int rc) {
  if (rc == CFG_ENOTREG) return "not a regular file";
  if (rc == -EFBIG) return "file too large";
  return strerror(-rc);
}

/* ---------------- the parser ---------------- */

typedef struct yp {
  yaml_parser_t p;
  cfg_doc_t *doc;
  const char *file; /* interned */
  const char *data;
  size_t len;
  cfg_errors_t *errs;
  int depth_reported;
} yp_t;

static cfg_mark_t mk(const yp_t *y, yaml_mark_t m) {
  cfg_mark_t r = {y->file, (unsigned)m.line + 1, (unsigned)m.column + 1};
  return r;
}

static void syntax_error(yp_t *y) {
  yaml_parser_t *p = &y->p;
  const char *problem = p->problem ? p->problem : "unknown error";
  if (p->error == YAML_READER_ERROR) {
    /* The reader only knows a byte offset: count lines up to it. */
    cfg_mark_t m = {y->file, 1, 1};
    for (size_t i = 0; i < p->problem_offset && i < y->len; i++) {
      if (y->data[i] == '\n') {
        m.line++;
        m.col = 1;
      } else if (((unsigned char)y->data[i] & 0xc0) != 0x80) {
        m.col++;
      }
    }
    if (p->problem_value != -1)
      cfg_error(y->errs, m, "invalid input: %s (byte 0x%02x)", problem,
                (unsigned)p->problem_value & 0xff);
    else
      cfg_error(y->errs, m, "invalid input: %s", problem);
    return;
  }
  if (p->error == YAML_MEMORY_ERROR) {
    cfg_error(y->errs, mk(y, p->problem_mark), "out of memory parsing YAML");
    return;
  }
  if (p->context)
    cfg_error(y->errs, mk(y, p->problem_mark),
              "syntax error: %s (%s that started at line %u, column %u)",
              problem, p->context, (unsigned)p->context_mark.line + 1,
              (unsigned)p->context_mark.column + 1);
  else
    cfg_error(y->errs, mk(y, p->problem_mark), "syntax error: %s", problem);
}

static int next(yp_t *y, yaml_event_t *ev) {
  if (!yaml_parser_parse(&y->p, ev)) {
    syntax_error(y);
    return -1;
  }
  return 0;
}

static void refuse_anchor(yp_t *y, const yaml_event_t *ev,
                          const yaml_char_t *anchor) {
  if (anchor)
    cfg_error(y->errs, mk(y, ev->start_mark),
              "YAML anchors are not supported ('&%.40s')",
              (const char *)anchor);
}

static int check_tag(yp_t *y, const yaml_event_t *ev, const yaml_char_t *tag,
                     const char *allowed) {
  if (!tag) return 0;
  if (strcmp((const char *)tag, allowed) == 0) return 1;
  char shown[80];
  cfg_error(y->errs, mk(y, ev->start_mark), "unsupported YAML tag %s",
            cfg_show_str((const char *)tag, strlen((const char *)tag), shown,
                         sizeof shown));
  return 0;
}

/* Skips the rest of a collection whose start event was already read. */
static int skip_collection(yp_t *y) {
  size_t level = 1;
  while (level) {
    yaml_event_t ev;
    if (next(y, &ev)) return -1;
    if (ev.type == YAML_MAPPING_START_EVENT ||
        ev.type == YAML_SEQUENCE_START_EVENT)
      level++;
    else if (ev.type == YAML_MAPPING_END_EVENT ||
             ev.type == YAML_SEQUENCE_END_EVENT)
      level--;
    yaml_event_delete(&ev);
  }
  return 0;
}

static int keycmp(const void *a, const void *b) {
  const cfg_node_t *x = *(cfg_node_t *const *)a, *y = *(cfg_node_t *const *)b;
  size_t l = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->str, y->str, l);
  if (c) return c;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  /* Same key: earlier position first. */
  if (x->mark.line != y->mark.line) return x->mark.line < y->mark.line ? -1 : 1;
  return x->mark.col < y->mark.col ? -1 : (x->mark.col > y->mark.col);
}

static void check_duplicates(yp_t *y, const cfg_node_t *map) {
  size_t n = 0;
  cfg_node_t **k = xmalloc((map->n + 1) * sizeof *k);
  for (size_t i = 0; i < map->n; i++)
    if (map->keys[i]->kind == CFG_SCALAR) k[n++] = map->keys[i];
  qsort(k, n, sizeof *k, keycmp);
  for (size_t i = 1; i < n; i++) {
    const cfg_node_t *a = k[i - 1], *b = k[i];
    if (a->len != b->len || memcmp(a->str, b->str, a->len) != 0) continue;
    /* Find the first of the run for the message. */
    size_t f = i - 1;
    while (f > 0 && k[f - 1]->len == b->len &&
           memcmp(k[f - 1]->str, b->str, b->len) == 0)
      f--;
    char shown[80];
    cfg_error(y->errs, b->mark, "duplicate key %s (first at line %u)",
              cfg_show_str(b->str, b->len, shown, sizeof shown),
              k[f]->mark.line);
  }
  free(k);
}

static int is_null_text(const char *s, size_t len) {
  return len == 0 || (len == 1 && s[0] == '~') ||
         (len == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
                       memcmp(s, "NULL", 4) == 0));
}

static cfg_node_t *parse_node(yp_t *y, yaml_event_t *ev, unsigned depth,
                              int *failed);

static cfg_node_t *parse_scalar(yp_t *y, yaml_event_t *ev) {
  cfg_mark_t m = mk(y, ev->start_mark);
  const char *v = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  refuse_anchor(y, ev, ev->data.scalar.anchor);
  int as_str = check_tag(y, ev, ev->data.scalar.tag, TAG_STR);
  int quoted = as_str || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
  if (!quoted && is_null_text(v, len)) return cfg_node_new(y->doc, CFG_NULL, m);
  cfg_node_t *n = cfg_node_new(y->doc, CFG_SCALAR, m);
  n->str = xmalloc(len + 1);
  memcpy(n->str, v, len);
  n->str[len] = '\0';
  n->len = len;
  n->quoted = quoted;
  if (memchr(v, '\0', len)) {
    cfg_error(y->errs, m, "strings may not contain NUL characters");
    n->invalid = 1;
  }
  return n;
}

static cfg_node_t *parse_map(yp_t *y, yaml_event_t *start, unsigned depth,
                             int *failed) {
  cfg_node_t *map = cfg_node_new(y->doc, CFG_MAP, mk(y, start->start_mark));
  for (;;) {
    yaml_event_t ev;
    if (next(y, &ev)) goto fail;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    cfg_node_t *key = parse_node(y, &ev, depth + 1, failed);
    if (!key) goto fail;
    if (key->kind != CFG_SCALAR) {
      if (key->kind == CFG_NULL) {
        cfg_error(y->errs, key->mark, "empty map key");
      } else {
        cfg_error(y->errs, key->mark, "map keys must be scalars, not %s",
                  cfg_kind_name(key));
      }
      /* Keep the tree well-formed: an unusable key becomes "". */
      free(key->keys);
      free(key->items);
      key->keys = key->items = NULL;
      key->n = 0;
      key->kind = CFG_SCALAR;
      key->str = xstrdup("");
      key->len = 0;
    }
    if (next(y, &ev)) goto fail;
    cfg_node_t *val = parse_node(y, &ev, depth + 1, failed);
    if (!val) goto fail;
    cfg_node_push(map, key, val);
  }
  check_duplicates(y, map);
  return map;
fail:
  *failed = 1;
  return NULL;
}

static cfg_node_t *parse_seq(yp_t *y, yaml_event_t *start, unsigned depth,
                             int *failed) {
  cfg_node_t *seq = cfg_node_new(y->doc, CFG_SEQ, mk(y, start->start_mark));
  for (;;) {
    yaml_event_t ev;
    if (next(y, &ev)) goto fail;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    cfg_node_t *item = parse_node(y, &ev, depth + 1, failed);
    if (!item) goto fail;
    cfg_node_push(seq, NULL, item);
  }
  return seq;
fail:
  *failed = 1;
  return NULL;
}

/* Consumes (deletes) *ev. Returns NULL only after a syntax error. */
static cfg_node_t *parse_node(yp_t *y, yaml_event_t *ev, unsigned depth,
                              int *failed) {
  cfg_node_t *n = NULL;
  cfg_mark_t m = mk(y, ev->start_mark);
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    n = parse_scalar(y, ev);
    break;
  case YAML_ALIAS_EVENT:
    cfg_error(y->errs, m, "YAML aliases are not supported ('*%.40s')",
              (const char *)ev->data.alias.anchor);
    n = cfg_node_new(y->doc, CFG_NULL, m);
    break;
  case YAML_MAPPING_START_EVENT:
  case YAML_SEQUENCE_START_EVENT: {
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    refuse_anchor(y, ev,
                  is_map ? ev->data.mapping_start.anchor
                         : ev->data.sequence_start.anchor);
    check_tag(y, ev,
              is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag,
              is_map ? TAG_MAP : TAG_SEQ);
    if (depth >= CFG_MAX_DEPTH) {
      if (!y->depth_reported)
        cfg_error(y->errs, m, "nesting deeper than %d levels", CFG_MAX_DEPTH);
      y->depth_reported = 1;
      yaml_event_delete(ev);
      if (skip_collection(y)) {
        *failed = 1;
        return NULL;
      }
      return cfg_node_new(y->doc, CFG_NULL, m);
    }
    yaml_event_t start = *ev; /* marks only; the event is deleted below */
    yaml_event_delete(ev);
    return is_map ? parse_map(y, &start, depth, failed)
                  : parse_seq(y, &start, depth, failed);
  }
  default:
    /* Cannot happen with a well-behaved libyaml. */
    cfg_error(y->errs, m, "unexpected YAML event %d", (int)ev->type);
    n = NULL;
    *failed = 1;
    break;
  }
  yaml_event_delete(ev);
  return n;
}

cfg_node_t *cfg_parse_yaml(cfg_doc_t *doc, const char *file, const char *data,
                           size_t len, cfg_errors_t *errs) {
  yp_t y = {.doc = doc,
            .file = cfg_doc_intern(doc, file),
            .data = data,
            .len = len,
            .errs = errs};
  cfg_node_t *root = NULL;
  int failed = 0;
  yaml_parser_initialize(&y.p);
  yaml_parser_set_input_string(&y.p, (const unsigned char *)data, len);

  yaml_event_t ev;
  if (next(&y, &ev)) goto fail; /* STREAM_START */
  yaml_event_delete(&ev);
  if (next(&y, &ev)) goto fail;
  if (ev.type == YAML_STREAM_END_EVENT) {
    cfg_mark_t m = {y.file, 1, 1};
    root = cfg_node_new(doc, CFG_NULL, m);
    yaml_event_delete(&ev);
    goto done;
  }
  yaml_event_delete(&ev); /* DOCUMENT_START */
  if (next(&y, &ev)) goto fail;
  root = parse_node(&y, &ev, 0, &failed);
  if (!root || failed) goto fail;
  if (next(&y, &ev)) goto fail; /* DOCUMENT_END */
  yaml_event_delete(&ev);
  if (next(&y, &ev)) goto fail;
  if (ev.type == YAML_DOCUMENT_START_EVENT)
    cfg_error(errs, mk(&y, ev.start_mark),
              "only one YAML document per file is supported");
  yaml_event_delete(&ev);
done:
  yaml_parser_delete(&y.p);
  return root;
fail:
  yaml_parser_delete(&y.p);
  return NULL;
}
