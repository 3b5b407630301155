#include "csv_test_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

char *tu_records(const char *data, size_t len, const csv_options *o,
                 csv_doc **docp) {
  csv_doc *doc = NULL;
  int rc = csv_doc_open_mem(data, len, o, &doc);
  assert_int_equal(rc, 0);
  csv_reader r;
  assert_int_equal(csv_reader_init(&r, &doc->src, &doc->d, doc->data_start,
                                   doc->src.size, 64),
                   0);
  csv_buf b = {0};
  csv_buf_puts(&b, "");
  while ((rc = csv_reader_next(&r)) > 0) {
    for (size_t i = 0; i < r.nf; i++) {
      if (i) csv_buf_putc(&b, '|');
      csv_buf_put(&b, r.f[i].p, r.f[i].len);
    }
    csv_buf_putc(&b, '/');
  }
  assert_int_equal(rc, 0);
  csv_reader_free(&r);
  if (docp)
    *docp = doc;
  else
    csv_doc_free(doc);
  return b.p;
}

json_object *tu_report(const char *data, size_t len, const csv_options *o,
                       char **html) {
  csv_doc *doc = NULL;
  assert_int_equal(csv_doc_open_mem(data, len, o, &doc), 0);
  csv_result *r = NULL;
  assert_int_equal(csv_profile_run(doc, 1, NULL, NULL, &r), 0);
  char *js = NULL;
  size_t jl = 0;
  assert_int_equal(csv_render_json(r, &js, &jl), 0);
  if (html) assert_int_equal(csv_render_html(r, html, NULL), 0);
  json_tokener *tok = json_tokener_new();
  json_object *obj = json_tokener_parse_ex(tok, js, (int)jl);
  if (!obj) fprintf(stderr, "bad JSON: %s\n", js);
  assert_non_null(obj);
  json_tokener_free(tok);
  free(js);
  csv_result_free(r);
  csv_doc_free(doc);
  return obj;
}

json_object *tu_warning(json_object *rep, const char *code) {
  json_object *w = tu_path(rep, "warnings");
  for (size_t i = 0; w && i < json_object_array_length(w); i++) {
    json_object *e = json_object_array_get_idx(w, i), *c;
    if (json_object_object_get_ex(e, "code", &c) &&
        !strcmp(json_object_get_string(c), code))
      return e;
  }
  return NULL;
}

json_object *tu_col(json_object *rep, size_t i) {
  json_object *c = tu_path(rep, "column_profiles");
  assert_non_null(c);
  assert_true(i < json_object_array_length(c));
  return json_object_array_get_idx(c, i);
}

json_object *tu_path(json_object *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *k = strtok_r(buf, ".", &save); k && o;
       k = strtok_r(NULL, ".", &save)) {
    json_object *n = NULL;
    if (!json_object_object_get_ex(o, k, &n)) return NULL;
    o = n;
  }
  return o;
}

double tu_num(json_object *o, const char *path) {
  json_object *v = tu_path(o, path);
  if (!v) fprintf(stderr, "missing %s\n", path);
  assert_non_null(v);
  if (json_object_is_type(v, json_type_null)) return NAN;
  return json_object_get_double(v);
}
