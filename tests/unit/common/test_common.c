/* Tests for core/common (buf, log) and core/metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_buf_json_escaping(void **s) {
  (void)s;
  buf_t b = {0};
  const char in[] = "a\"b\\c\n\t\x01\x7f\xc3\xa9";
  buf_json_str(&b, in, sizeof in - 1);
  assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xc3\xa9\"");
  json_object *o = json_tokener_parse(b.data);
  assert_non_null(o);
  assert_string_equal(json_object_get_string(o), in);
  json_object_put(o);
  buf_free(&b);
}

static void test_buf_printf_grows(void **s) {
  (void)s;
  buf_t b = {0};
  for (int i = 0; i < 1000; i++) buf_printf(&b, "%d,", i);
  assert_int_equal(strlen(b.data), b.len);
  assert_memory_equal(b.data, "0,1,2,", 6);
  char *p = buf_take(&b);
  assert_null(b.data);
  free(p);
}

static char *capture_log(void (*emit)(void)) {
  FILE *f = tmpfile();
  assert_non_null(f);
  log_setup(LOG_FORMAT_JSON, LOG_DEBUG, fileno(f));
  emit();
  log_setup(LOG_FORMAT_JSON, LOG_INFO, 2);
  long n = ftell(f);
  n = lseek(fileno(f), 0, SEEK_END);
  char *out = calloc(1, (size_t)n + 1);
  assert_int_equal(pread(fileno(f), out, (size_t)n, 0), n);
  fclose(f);
  return out;
}

static void emit_kv(void) {
  log_kv(LOG_WARN, "http", "request", "path", "/a\"b", "#status", "404",
         "#empty", "", NULL);
}

static void test_log_json_line(void **s) {
  (void)s;
  char *out = capture_log(emit_kv);
  assert_non_null(strchr(out, '\n'));
  json_object *o = json_tokener_parse(out);
  assert_non_null(o);
  json_object *v;
  assert_true(json_object_object_get_ex(o, "level", &v));
  assert_string_equal(json_object_get_string(v), "warn");
  assert_true(json_object_object_get_ex(o, "component", &v));
  assert_string_equal(json_object_get_string(v), "http");
  assert_true(json_object_object_get_ex(o, "path", &v));
  assert_string_equal(json_object_get_string(v), "/a\"b");
  assert_true(json_object_object_get_ex(o, "status", &v));
  assert_int_equal(json_object_get_type(v), json_type_int);
  assert_int_equal(json_object_get_int(v), 404);
  assert_true(json_object_object_get_ex(o, "time", &v));
  assert_int_equal(strlen(json_object_get_string(v)), 24);
  json_object_put(o);
  free(out);
}

static void emit_below_level(void) {
  log_setup(LOG_FORMAT_JSON, LOG_ERROR, 2);
}

static void test_log_level_filter(void **s) {
  (void)s;
  log_level_t l;
  assert_int_equal(log_parse_level("warn", &l), 0);
  assert_int_equal(l, LOG_WARN);
  assert_int_equal(log_parse_level("loud", &l), -1);
  char *out = capture_log(emit_below_level);
  free(out);
}

static void test_metrics_render(void **s) {
  (void)s;
  metric_t *c = metrics_family(METRIC_COUNTER, "t_total", "Things.", NULL, 0);
  metric_add(c, "k=\"a\"", 2);
  metric_add(c, "k=\"a\"", 1);
  metric_add(c, NULL, 5);
  assert_true(metric_value(c, "k=\"a\"") == 3);
  assert_null(metrics_family(METRIC_GAUGE, "t_total", "", NULL, 0));
  double bounds[] = {0.1, 1};
  metric_t *h =
      metrics_family(METRIC_HISTOGRAM, "t_seconds", "Time.", bounds, 2);
  metric_observe(h, NULL, 0.05);
  metric_observe(h, NULL, 0.5);
  metric_observe(h, NULL, 7);
  buf_t out = {0};
  metrics_render(&out);
  assert_non_null(strstr(out.data, "# TYPE t_total counter\n"));
  assert_non_null(strstr(out.data, "t_total{k=\"a\"} 3\n"));
  assert_non_null(strstr(out.data, "t_total 5\n"));
  assert_non_null(strstr(out.data, "t_seconds_bucket{le=\"0.1\"} 1\n"));
  assert_non_null(strstr(out.data, "t_seconds_bucket{le=\"1\"} 2\n"));
  assert_non_null(strstr(out.data, "t_seconds_bucket{le=\"+Inf\"} 3\n"));
  assert_non_null(strstr(out.data, "t_seconds_count 3\n"));
  assert_non_null(strstr(out.data, "t_seconds_sum 7.55\n"));
  buf_free(&out);
  metrics_reset();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_json_escaping),
      cmocka_unit_test(test_buf_printf_grows),
      cmocka_unit_test(test_log_json_line),
      cmocka_unit_test(test_log_level_filter),
      cmocka_unit_test(test_metrics_render),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
