/*
 * subst.c: ${NAME} and ${file:PATH} substitution in value scalars.
 *
 *   ${NAME}       the environment variable NAME ([A-Za-z_][A-Za-z0-9_]*);
 *                 unset is an error.
 *   ${file:PATH}  the contents of PATH (relative to the directory of the
 *                 file the scalar is written in), minus one trailing newline;
 *                 a regular file of at most 64 KiB.
 *   $${           a literal "${".
 *
 * A scalar that received anything from ${...} is flagged `substituted` so
 * its value is never echoed in an error. Map keys are not substituted.
 */
#include "internal.h"

#include "../common/alloc.h"
#include "../common/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int valid_env_name(const char *s, size_t len) {
  if (len == 0 || len > 128) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
             (i > 0 && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return 1;
}

/* Appends the replacement for ref (between "${" and "}"). 0 or -1. */
static int expand_ref(cfg_doc_t *doc, cfg_node_t *n, const char *ref,
                      size_t rlen, buf_t *out, cfg_errors_t *errs) {
  char shown[96];
  if (rlen >= 5 && memcmp(ref, "file:", 5) == 0) {
    char *rel = xstrndup(ref + 5, rlen - 5);
    if (!rel[0]) {
      cfg_error(errs, n->mark, "empty path in ${file:}");
      free(rel);
      return -1;
    }
    char *dir = cfg_node_dir(n);
    char *path = cfg_path_join(dir, rel);
    free(dir);
    char *data = NULL;
    size_t len = 0;
    int rc = cfg_read_file(path, CFG_MAX_SUBST_FILE, &data, &len);
    if (rc == -EFBIG)
      cfg_error(errs, n->mark, "${file:%s}: larger than %u KiB", rel,
                CFG_MAX_SUBST_FILE / 1024);
    else if (rc)
      cfg_error(errs, n->mark, "${file:%s}: cannot read: %s", rel,
                cfg_read_strerror(rc));
    else if (memchr(data, '\0', len))
      cfg_error(errs, n->mark, "${file:%s}: contains a NUL byte", rel);
    free(path);
    if (rc || memchr(data, '\0', len)) {
      free(rel);
      free(data);
      return -1;
    }
    if (len && data[len - 1] == '\n') {
      len--;
      if (len && data[len - 1] == '\r') len--;
    }
    buf_append(out, data, len);
    doc->subst_total += len;
    free(rel);
    free(data);
    return 0;
  }
  if (!valid_env_name(ref, rlen)) {
    cfg_error(errs, n->mark,
              "invalid variable name %s in ${...} (use ${NAME} or "
              "${file:PATH})",
              cfg_show_str(ref, rlen, shown, sizeof shown));
    return -1;
  }
  char *name = xstrndup(ref, rlen);
  const char *val = getenv(name);
  if (!val) {
    cfg_error(errs, n->mark, "environment variable '%s' is not set", name);
    free(name);
    return -1;
  }
  free(name);
  size_t vl = strlen(val);
  buf_append(out, val, vl);
  doc->subst_total += vl;
  return 0;
}

static void subst_scalar(cfg_doc_t *doc, cfg_node_t *n, cfg_errors_t *errs) {
  if (!memchr(n->str, '$', n->len)) return;
  const char *s = n->str;
  size_t len = n->len;
  buf_t out = {0};
  int changed = 0, substituted = 0, bad = 0;
  for (size_t i = 0; i < len && !bad;) {
    if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
      buf_append(&out, "${", 2);
      i += 3;
      changed = 1;
      continue;
    }
    if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
      const char *ref = s + i + 2;
      const char *close = memchr(ref, '}', len - (i + 2));
      if (!close) {
        cfg_error(errs, n->mark,
                  "unterminated '${' (write '$${' for a literal '${')");
        bad = 1;
        break;
      }
      size_t rlen = (size_t)(close - ref);
      if (expand_ref(doc, n, ref, rlen, &out, errs)) bad = 1;
      if (doc->subst_total > CFG_MAX_SUBST_TOTAL) {
        cfg_error(errs, n->mark,
                  "substitutions produce more than %u MiB in total",
                  CFG_MAX_SUBST_TOTAL >> 20);
        bad = 1;
      }
      i += 2 + rlen + 1;
      changed = substituted = 1;
      continue;
    }
    buf_append(&out, s + i, 1);
    i++;
  }
  if (bad) {
    n->invalid = 1;
    buf_free(&out);
    return;
  }
  if (changed) {
    free(n->str);
    n->len = out.len;
    n->str = buf_take(&out);
    if (substituted) n->substituted = 1;
  }
  buf_free(&out);
}

void cfg_subst_tree(cfg_doc_t *doc, cfg_node_t *node, cfg_errors_t *errs) {
  if (!node) return;
  switch (node->kind) {
  case CFG_SCALAR:
    subst_scalar(doc, node, errs);
    break;
  case CFG_MAP:
  case CFG_SEQ:
    for (size_t i = 0; i < node->n; i++)
      cfg_subst_tree(doc, node->items[i], errs);
    break;
  case CFG_NULL:
    break;
  }
}
