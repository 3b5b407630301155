/*
 * opts.c: a plugin's `options:` map validated against its option table.
 *
 * The table is walked with the descriptor's stride (option_size) and ends at
 * the first entry whose name is NULL. Values and defaults go through the
 * same parser (parse_text). Coercion: plain scalars and substituted scalars
 * are parsed as the option's type; a quoted scalar that was not substituted
 * is only accepted by STRING, ENUM and STRING_LIST. null means "not given".
 * Values of substituted scalars and of SECRET options never appear in error
 * messages.
 *
 * Defaults of STRING_LIST options are written as a comma-separated list.
 */
#include "internal.h"

#include "../common/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------- scalars ---------------- */

int cfg_parse_bool(const char *s, int *out) {
  static const char *const t[] = {"true", "yes", "on"};
  static const char *const f[] = {"false", "no", "off"};
  for (size_t i = 0; i < 3; i++) {
    if (strcasecmp(s, t[i]) == 0) {
      *out = 1;
      return 0;
    }
    if (strcasecmp(s, f[i]) == 0) {
      *out = 0;
      return 0;
    }
  }
  return -EINVAL;
}

int cfg_parse_int64(const char *s, int64_t *out) {
  const char *p = s;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  if (*p < '0' || *p > '9') return -EINVAL;
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  int overflow = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (limit - d) / 10)
      overflow = 1;
    else
      v = v * 10 + d;
  }
  if (*p) return -EINVAL;
  if (overflow) return -ERANGE;
  *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v)
             : (int64_t)v;
  return 0;
}

int cfg_parse_double(const char *s, double *out) {
  /* Decimal notation only: no hex, inf or nan. */
  if (!*s) return -EINVAL;
  for (const char *p = s; *p; p++)
    if (!strchr("0123456789+-.eE", *p)) return -EINVAL;
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (*end || end == s) return -EINVAL;
  if (errno == ERANGE || !isfinite(d)) return -ERANGE;
  *out = d;
  return 0;
}

/* ---------------- table access ---------------- */

static const assist_option_t *opt_at(const assist_option_t *t, size_t stride,
                                     size_t i) {
  return (const assist_option_t *)(const void *)((const char *)t + i * stride);
}

static size_t table_len(const assist_option_t *t, size_t stride) {
  size_t n = 0;
  if (!t) return 0;
  while (n < CFG_MAX_OPTIONS && opt_at(t, stride, n)->name) n++;
  return n;
}

static const char *type_want(const assist_option_t *o) {
  switch (o->type) {
  case ASSIST_OPT_STRING:
    return "a string";
  case ASSIST_OPT_INT:
    return "an integer";
  case ASSIST_OPT_BOOL:
    return "a boolean (true/false)";
  case ASSIST_OPT_DOUBLE:
    return "a number";
  case ASSIST_OPT_SIZE:
    return "a size (e.g. 512, 16KB, 1MiB)";
  case ASSIST_OPT_DURATION:
    return "a duration (e.g. 250ms, 30s, 5m)";
  case ASSIST_OPT_ENUM:
    return "one of the allowed values";
  case ASSIST_OPT_STRING_LIST:
    return "a string or a list of strings";
  }
  return "a value";
}

static void fmt_num(double x, char *buf, size_t size) {
  if (x == floor(x) && fabs(x) < 1e15)
    snprintf(buf, size, "%.0f", x);
  else
    snprintf(buf, size, "%g", x);
}

static void enum_list(const assist_option_t *o, char *buf, size_t size) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; o->enum_values && o->enum_values[i]; i++) {
    int w = snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
                     o->enum_values[i]);
    if (w < 0 || (size_t)w >= size - off) break;
    off += (size_t)w;
  }
}

static void value_clear(opt_value_t *v) {
  free(v->str);
  v->str = NULL;
  for (size_t i = 0; i < v->nlist; i++) free(v->list[i]);
  free(v->list);
  v->list = NULL;
  v->nlist = 0;
  v->i = 0;
  v->d = 0;
  v->has_value = 0;
}

static void list_push(opt_value_t *v, const char *s, size_t len) {
  v->list = xrealloc(v->list, (v->nlist + 2) * sizeof *v->list);
  v->list[v->nlist++] = xstrndup(s, len);
  v->list[v->nlist] = NULL;
}

static void list_finish(opt_value_t *v) {
  size_t total = 1;
  if (!v->list) {
    v->list = xcalloc(1, sizeof *v->list);
  }
  for (size_t i = 0; i < v->nlist; i++) total += strlen(v->list[i]) + 1;
  v->str = xmalloc(total);
  v->str[0] = '\0';
  for (size_t i = 0; i < v->nlist; i++) {
    if (i) strcat(v->str, ",");
    strcat(v->str, v->list[i]);
  }
  v->has_value = 1;
}

static int in_range(const assist_option_t *o, double x) {
  return o->min > o->max || (x >= o->min && x <= o->max);
}

static void range_msg(const assist_option_t *o, const char *shown,
                      const char *unit, char *msg, size_t msglen) {
  char lo[32], hi[32];
  fmt_num(o->min, lo, sizeof lo);
  fmt_num(o->max, hi, sizeof hi);
  snprintf(msg, msglen, "%s is out of range (%s..%s%s)", shown, lo, hi, unit);
}

/*
 * Parses text as o's type into v. On error returns -1 with a message that
 * shows the value only as `shown`. STRING_LIST text is comma-separated.
 */
static int parse_text(const assist_option_t *o, const char *text,
                      const char *shown, opt_value_t *v, char *msg,
                      size_t msglen) {
  value_clear(v);
  switch (o->type) {
  case ASSIST_OPT_STRING:
    break;
  case ASSIST_OPT_ENUM: {
    int found = 0;
    for (size_t i = 0; o->enum_values && o->enum_values[i]; i++)
      if (strcmp(o->enum_values[i], text) == 0) found = 1;
    if (!found) {
      char list[512];
      enum_list(o, list, sizeof list);
      snprintf(msg, msglen, "invalid value %s (expected one of: %s)", shown,
               list);
      return -1;
    }
    break;
  }
  case ASSIST_OPT_BOOL: {
    int b;
    if (cfg_parse_bool(text, &b)) {
      snprintf(msg, msglen, "expected %s, got %s", type_want(o), shown);
      return -1;
    }
    v->i = b;
    v->d = b;
    v->str = xstrdup(b ? "true" : "false");
    v->has_value = 1;
    return 0;
  }
  case ASSIST_OPT_INT: {
    int64_t x;
    int rc = cfg_parse_int64(text, &x);
    if (rc == -ERANGE) {
      snprintf(msg, msglen, "%s does not fit in 64 bits", shown);
      return -1;
    }
    if (rc) {
      snprintf(msg, msglen, "expected %s, got %s", type_want(o), shown);
      return -1;
    }
    if (!in_range(o, (double)x)) {
      range_msg(o, shown, "", msg, msglen);
      return -1;
    }
    v->i = x;
    v->d = (double)x;
    v->str = xasprintf("%" PRId64, x);
    v->has_value = 1;
    return 0;
  }
  case ASSIST_OPT_DOUBLE: {
    double x;
    int rc = cfg_parse_double(text, &x);
    if (rc) {
      snprintf(msg, msglen,
               rc == -ERANGE ? "%s is not a finite number"
                             : "expected a number, got %s",
               shown);
      return -1;
    }
    if (!in_range(o, x)) {
      range_msg(o, shown, "", msg, msglen);
      return -1;
    }
    v->d = x;
    v->i = (int64_t)(x > -9.2e18 && x < 9.2e18 ? x : 0);
    v->str = xasprintf("%.17g", x);
    v->has_value = 1;
    return 0;
  }
  case ASSIST_OPT_SIZE:
  case ASSIST_OPT_DURATION: {
    uint64_t x;
    int is_size = o->type == ASSIST_OPT_SIZE;
    int rc = is_size ? parse_size(text, &x) : parse_duration_ms(text, &x);
    if (rc == 0 && x > (uint64_t)INT64_MAX) rc = -ERANGE;
    if (rc == -ERANGE) {
      snprintf(msg, msglen, "%s is too large", shown);
      return -1;
    }
    if (rc) {
      snprintf(msg, msglen, "expected %s, got %s", type_want(o), shown);
      return -1;
    }
    if (!in_range(o, (double)x)) {
      range_msg(o, shown, is_size ? " bytes" : " ms", msg, msglen);
      return -1;
    }
    v->i = (int64_t)x;
    v->d = (double)x;
    v->str = xasprintf("%" PRIu64, x);
    v->has_value = 1;
    return 0;
  }
  case ASSIST_OPT_STRING_LIST: {
    const char *p = text;
    while (*p) {
      const char *comma = strchr(p, ',');
      const char *end = comma ? comma : p + strlen(p);
      const char *a = p, *b = end;
      while (a < b && (*a == ' ' || *a == '\t')) a++;
      while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
      if (b > a) list_push(v, a, (size_t)(b - a));
      p = comma ? comma + 1 : end;
    }
    list_finish(v);
    return 0;
  }
  default:
    snprintf(msg, msglen, "unknown option type %d", (int)o->type);
    return -1;
  }
  v->str = xstrdup(text);
  v->has_value = 1;
  return 0;
}

int cfg_opt_parse_text(const assist_option_t *o, const char *text,
                       opt_value_t *v) {
  char msg[16];
  return parse_text(o, text, "", v, msg, sizeof msg);
}

void cfg_opt_value_clear(opt_value_t *v) {
  value_clear(v);
}

/* ---------------- validation ---------------- */

static const char *shown_value(const assist_option_t *o, const cfg_node_t *n,
                               char *buf, size_t size) {
  if (o->flags & ASSIST_OPT_SECRET) {
    snprintf(buf, size, "a secret value");
    return buf;
  }
  return cfg_show(n, buf, size);
}

/* 0, or -1 after reporting (or silently for already-reported nodes). */
static int value_from_node(const assist_option_t *o, const cfg_node_t *n,
                           opt_value_t *v, cfg_errors_t *errs) {
  char shown[96], msg[768];
  if (n->invalid) return -1;
  if (o->type == ASSIST_OPT_STRING_LIST) {
    value_clear(v);
    if (n->kind == CFG_SCALAR) {
      list_push(v, n->str, n->len);
    } else if (n->kind == CFG_SEQ) {
      int bad = 0;
      for (size_t i = 0; i < n->n; i++) {
        const cfg_node_t *it = n->items[i];
        if (it->invalid) {
          bad = 1;
        } else if (it->kind != CFG_SCALAR) {
          cfg_error(errs, it->mark,
                    "option '%s': list items must be strings, not %s", o->name,
                    cfg_kind_name(it));
          bad = 1;
        } else {
          list_push(v, it->str, it->len);
        }
      }
      if (bad) {
        value_clear(v);
        return -1;
      }
    } else {
      cfg_error(errs, n->mark, "option '%s': expected %s, not %s", o->name,
                type_want(o), cfg_kind_name(n));
      return -1;
    }
    list_finish(v);
    return 0;
  }
  if (n->kind != CFG_SCALAR) {
    cfg_error(errs, n->mark, "option '%s': expected %s, not %s", o->name,
              type_want(o), cfg_kind_name(n));
    return -1;
  }
  int textual = o->type == ASSIST_OPT_STRING || o->type == ASSIST_OPT_ENUM;
  if (!textual && n->quoted && !n->substituted) {
    cfg_error(errs, n->mark,
              "option '%s': expected %s, got a quoted string (remove the "
              "quotes)",
              o->name, type_want(o));
    return -1;
  }
  if (parse_text(o, n->str, shown_value(o, n, shown, sizeof shown), v, msg,
                 sizeof msg)) {
    cfg_error(errs, n->mark, "option '%s': %s", o->name, msg);
    return -1;
  }
  return 0;
}

static void report_unknown(const assist_option_t *table, size_t stride,
                           size_t n, const cfg_node_t *key,
                           cfg_errors_t *errs) {
  char shown[96];
  cfg_show_str(key->str, key->len, shown, sizeof shown);
  if (n == 0) {
    cfg_error(errs, key->mark,
              "unknown option %s (this plugin takes no options)", shown);
    return;
  }
  const char **names = xmalloc(n * sizeof *names);
  char valid[512];
  size_t off = 0;
  valid[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    names[i] = opt_at(table, stride, i)->name;
    if (off < sizeof valid) {
      int w = snprintf(valid + off, sizeof valid - off, "%s%s", i ? ", " : "",
                       names[i]);
      if (w > 0) off += (size_t)w;
    }
  }
  const char *near = cfg_nearest(key->str, names, n);
  if (near)
    cfg_error(errs, key->mark,
              "unknown option %s; did you mean '%s'? (valid: %s)", shown, near,
              valid);
  else
    cfg_error(errs, key->mark, "unknown option %s (valid: %s)", shown, valid);
  free(names);
}

int opts_validate(const assist_option_t *table, size_t stride,
                  const cfg_node_t *options, cfg_mark_t where, opt_set_t *out,
                  cfg_errors_t *errs) {
  int bad = 0;
  out->v = NULL;
  out->n = 0;
  if (table && stride < sizeof(assist_option_t)) {
    cfg_error(errs, where, "plugin option table has an invalid entry size %zu",
              stride);
    return -1;
  }
  size_t n = table_len(table, stride);
  opt_set_t set = {xcalloc(n + 1, sizeof(opt_value_t)), n};
  /* skip[i]: a value was given but already reported as wrong. */
  unsigned char *skip = xcalloc(n + 1, 1);
  for (size_t i = 0; i < n; i++) {
    const assist_option_t *o = opt_at(table, stride, i);
    set.v[i].name = o->name;
    set.v[i].type = o->type;
    set.v[i].flags = o->flags;
  }
  if (!cfg_is_null(options) && options->kind != CFG_MAP) {
    if (!options->invalid)
      cfg_error(errs, options->mark, "options: expected a map, not %s",
                cfg_kind_name(options));
    bad = 1;
  } else if (!cfg_is_null(options)) {
    for (size_t k = 0; k < options->n; k++) {
      const cfg_node_t *key = options->keys[k], *val = options->items[k];
      size_t i = 0;
      while (i < n && strcmp(set.v[i].name, key->str) != 0) i++;
      if (i == n) {
        report_unknown(table, stride, n, key, errs);
        bad = 1;
        continue;
      }
      if (cfg_is_null(val)) continue;
      if (value_from_node(opt_at(table, stride, i), val, &set.v[i], errs)) {
        skip[i] = 1;
        bad = 1;
        continue;
      }
      set.v[i].is_set = 1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const assist_option_t *o = opt_at(table, stride, i);
    if (set.v[i].has_value || skip[i]) continue;
    if (o->default_value) {
      char msg[768], shown[96];
      cfg_show_str(o->default_value, strlen(o->default_value), shown,
                   sizeof shown);
      if (parse_text(o, o->default_value, shown, &set.v[i], msg, sizeof msg)) {
        cfg_error(errs, where, "option '%s': invalid default: %s", o->name,
                  msg);
        bad = 1;
      }
    } else if (o->flags & ASSIST_OPT_REQUIRED) {
      cfg_error(errs, where, "missing required option '%s'", o->name);
      bad = 1;
    }
  }
  free(skip);
  if (bad) {
    opts_free(&set);
    return -1;
  }
  *out = set;
  return 0;
}

/* ---------------- the table itself ---------------- */

static int valid_opt_name(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > 64) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  return 1;
}

int opts_table_check(const assist_option_t *table, size_t stride, char *err,
                     size_t errlen) {
  if (!table) return 0;
  if (stride < sizeof(assist_option_t)) {
    snprintf(err, errlen, "option_size %zu is smaller than %zu", stride,
             sizeof(assist_option_t));
    return -1;
  }
  size_t n = 0;
  while (n < CFG_MAX_OPTIONS && opt_at(table, stride, n)->name) n++;
  if (n == CFG_MAX_OPTIONS) {
    snprintf(err, errlen, "option table has more than %d entries",
             CFG_MAX_OPTIONS - 1);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const assist_option_t *o = opt_at(table, stride, i);
    char shown[96];
    if (!valid_opt_name(o->name)) {
      snprintf(err, errlen, "option #%zu: invalid name %s (use [a-z0-9_]+)",
               i + 1,
               cfg_show_str(o->name, strlen(o->name), shown, sizeof shown));
      return -1;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(opt_at(table, stride, j)->name, o->name) == 0) {
        snprintf(err, errlen, "option '%s': declared twice", o->name);
        return -1;
      }
    }
    if (o->type < ASSIST_OPT_STRING || o->type > ASSIST_OPT_STRING_LIST) {
      snprintf(err, errlen, "option '%s': unknown type %d", o->name,
               (int)o->type);
      return -1;
    }
    if (o->type == ASSIST_OPT_ENUM) {
      if (!o->enum_values || !o->enum_values[0]) {
        snprintf(err, errlen, "option '%s': ENUM without enum_values", o->name);
        return -1;
      }
      for (size_t k = 0; o->enum_values[k]; k++) {
        if (!o->enum_values[k][0]) {
          snprintf(err, errlen, "option '%s': empty enum value", o->name);
          return -1;
        }
      }
    }
    if ((o->flags & ASSIST_OPT_REQUIRED) && o->default_value) {
      snprintf(err, errlen, "option '%s': a REQUIRED option has no default",
               o->name);
      return -1;
    }
    if (o->default_value) {
      opt_value_t v = {0};
      char msg[768];
      cfg_show_str(o->default_value, strlen(o->default_value), shown,
                   sizeof shown);
      int rc = parse_text(o, o->default_value, shown, &v, msg, sizeof msg);
      value_clear(&v);
      if (rc) {
        snprintf(err, errlen, "option '%s': invalid default: %s", o->name, msg);
        return -1;
      }
    }
  }
  return 0;
}

/* ---------------- using the values ---------------- */

const opt_value_t *opts_find(const opt_set_t *set, const char *name) {
  for (size_t i = 0; set && i < set->n; i++)
    if (strcmp(set->v[i].name, name) == 0) return &set->v[i];
  return NULL;
}

static int value_equal(const opt_value_t *a, const opt_value_t *b) {
  if (strcmp(a->name, b->name) != 0 || a->type != b->type) return 0;
  if (a->has_value != b->has_value) return 0;
  if (!a->has_value) return 1;
  switch (a->type) {
  case ASSIST_OPT_STRING:
  case ASSIST_OPT_ENUM:
    return strcmp(a->str, b->str) == 0;
  case ASSIST_OPT_DOUBLE:
    return a->d == b->d;
  case ASSIST_OPT_STRING_LIST:
    if (a->nlist != b->nlist) return 0;
    for (size_t i = 0; i < a->nlist; i++)
      if (strcmp(a->list[i], b->list[i]) != 0) return 0;
    return 1;
  default:
    return a->i == b->i;
  }
}

int opts_equal(const opt_set_t *a, const opt_set_t *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (!value_equal(&a->v[i], &b->v[i])) return 0;
  return 1;
}

int opts_diff_reloadable(const opt_set_t *a, const opt_set_t *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++) {
    if (value_equal(&a->v[i], &b->v[i])) continue;
    if (strcmp(a->v[i].name, b->v[i].name) != 0) return 0;
    if (!(a->v[i].flags & ASSIST_OPT_RELOADABLE) ||
        !(b->v[i].flags & ASSIST_OPT_RELOADABLE))
      return 0;
  }
  return 1;
}

static void json_double(buf_t *out, double d) {
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d) snprintf(tmp, sizeof tmp, "%.17g", d);
  buf_puts(out, tmp);
}

void opts_to_json(const opt_set_t *set, buf_t *out) {
  buf_puts(out, "{");
  for (size_t i = 0; i < set->n; i++) {
    const opt_value_t *v = &set->v[i];
    if (i) buf_puts(out, ",");
    buf_json_str(out, v->name, strlen(v->name));
    buf_puts(out, ":");
    if (!v->has_value) {
      buf_puts(out, "null");
      continue;
    }
    if (v->flags & ASSIST_OPT_SECRET) {
      buf_puts(out, "\"***\"");
      continue;
    }
    switch (v->type) {
    case ASSIST_OPT_INT:
    case ASSIST_OPT_SIZE:
    case ASSIST_OPT_DURATION:
      buf_printf(out, "%" PRId64, v->i);
      break;
    case ASSIST_OPT_BOOL:
      buf_puts(out, v->i ? "true" : "false");
      break;
    case ASSIST_OPT_DOUBLE:
      json_double(out, v->d);
      break;
    case ASSIST_OPT_STRING_LIST:
      buf_puts(out, "[");
      for (size_t k = 0; k < v->nlist; k++) {
        if (k) buf_puts(out, ",");
        buf_json_str(out, v->list[k], strlen(v->list[k]));
      }
      buf_puts(out, "]");
      break;
    default:
      buf_json_str(out, v->str, strlen(v->str));
      break;
    }
  }
  buf_puts(out, "}");
}

void opts_free(opt_set_t *set) {
  if (!set) return;
  for (size_t i = 0; i < set->n; i++) value_clear(&set->v[i]);
  free(set->v);
  set->v = NULL;
  set->n = 0;
}
