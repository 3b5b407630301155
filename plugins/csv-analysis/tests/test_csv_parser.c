/* Parser, sniffer and malformed-input cases of the csv-analysis engine. */
#include "csv_test_util.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <unistd.h>

#define S(lit) lit, sizeof(lit) - 1

static void expect_records(const char *data, size_t len, const char *want) {
  char *got = tu_records(data, len, NULL, NULL);
  if (strcmp(got, want)) fprintf(stderr, "got  %s\nwant %s\n", got, want);
  assert_string_equal(got, want);
  free(got);
}

static const csv_dialect *dialect_of(const char *data, size_t len,
                                     csv_doc **doc) {
  assert_int_equal(csv_doc_open_mem(data, len, NULL, doc), 0);
  return csv_doc_dialect(*doc);
}

static void t_comma(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("a,b,c\n1,2,3\n4,5,6\n"), NULL, &doc);
  assert_string_equal(g, "1|2|3/4|5|6/");
  assert_int_equal(csv_doc_ncols(doc), 3);
  assert_string_equal(csv_doc_colname(doc, 2), "c");
  assert_int_equal(csv_doc_dialect(doc)->delimiter, ',');
  assert_true(csv_doc_dialect(doc)->has_header);
  free(g);
  csv_doc_free(doc);
}

static void t_semicolon(void **s) {
  (void)s;
  csv_doc *doc;
  assert_int_equal(dialect_of(S("x;y\n1;2\n3;4\n"), &doc)->delimiter, ';');
  csv_doc_free(doc);
  expect_records(S("x;y\n1;2\n3;4\n"), "1|2/3|4/");
}

static void t_tab(void **s) {
  (void)s;
  csv_doc *doc;
  assert_int_equal(dialect_of(S("x\ty\tz\n1\t2\t3\n"), &doc)->delimiter, '\t');
  csv_doc_free(doc);
  expect_records(S("x\ty\tz\n1\t2\t3\n"), "1|2|3/");
}

static void t_pipe(void **s) {
  (void)s;
  csv_doc *doc;
  assert_int_equal(dialect_of(S("x|y\na|1\nb|2\n"), &doc)->delimiter, '|');
  csv_doc_free(doc);
}

static void t_comma_beats_semicolon_in_text(void **s) {
  (void)s;
  csv_doc *doc;
  const csv_dialect *d =
      dialect_of(S("name,note\nann,\"a;b\"\nbob,\"c;d;e\"\n"), &doc);
  assert_int_equal(d->delimiter, ',');
  csv_doc_free(doc);
}

static void t_quoted_delim(void **s) {
  (void)s;
  expect_records(S("a,b\n\"x,y\",2\n"), "x,y|2/");
}

static void t_doubled_quotes(void **s) {
  (void)s;
  expect_records(S("a,b\n\"he said \"\"hi\"\"\",2\n"), "he said \"hi\"|2/");
}

static void t_quoted_newline(void **s) {
  (void)s;
  expect_records(S("a,b\n\"line1\nline2\",2\n3,4\n"), "line1\nline2|2/3|4/");
}

static void t_quoted_crlf_newline(void **s) {
  (void)s;
  expect_records(S("a,b\r\n\"l1\r\nl2\",2\r\n3,4\r\n"), "l1\r\nl2|2/3|4/");
}

static void t_crlf(void **s) {
  (void)s;
  csv_doc *doc;
  assert_int_equal(dialect_of(S("a,b\r\n1,2\r\n"), &doc)->eol, CSV_EOL_CRLF);
  csv_doc_free(doc);
  expect_records(S("a,b\r\n1,2\r\n3,4\r\n"), "1|2/3|4/");
}

static void t_mixed_eol(void **s) {
  (void)s;
  csv_doc *doc;
  assert_int_equal(dialect_of(S("a,b\r\n1,2\n3,4\r\n"), &doc)->eol,
                   CSV_EOL_MIXED);
  csv_doc_free(doc);
  expect_records(S("a,b\r\n1,2\n3,4\r\n"), "1|2/3|4/");
}

static void t_cr_only(void **s) {
  (void)s;
  csv_doc *doc;
  assert_int_equal(dialect_of(S("a,b\r1,2\r3,4\r"), &doc)->eol, CSV_EOL_CR);
  csv_doc_free(doc);
  expect_records(S("a,b\r1,2\r3,4\r"), "1|2/3|4/");
}

static void t_bom(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("\xEF\xBB\xBF"
                         "id,name\n1,x\n"),
                       NULL, &doc);
  assert_string_equal(g, "1|x/");
  assert_true(csv_doc_dialect(doc)->bom);
  assert_string_equal(csv_doc_colname(doc, 0), "id");
  free(g);
  csv_doc_free(doc);
}

static void t_latin1(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("caf\xE9,n\nth\xE9,1\nth\xE9,2\n"), NULL, &doc);
  assert_int_equal(csv_doc_dialect(doc)->encoding, CSV_ENC_LATIN1);
  assert_string_equal(csv_doc_colname(doc, 0), "caf\xC3\xA9");
  free(g);
  csv_doc_free(doc);
  json_object *rep =
      tu_report(S("caf\xE9,n\nth\xE9,1\nth\xE9,2\n"), NULL, NULL);
  assert_string_equal(json_object_get_string(tu_path(rep, "dialect.encoding")),
                      "latin-1");
  json_object *items = tu_path(tu_col(rep, 0), "top_values.items");
  assert_string_equal(json_object_get_string(tu_path(
                          json_object_array_get_idx(items, 0), "value")),
                      "th\xC3\xA9");
  assert_int_equal(tu_num(tu_col(rep, 0), "text_length.max"), 3);
  assert_non_null(tu_warning(rep, "latin1"));
  json_object_put(rep);
}

static void t_utf8_not_latin1(void **s) {
  (void)s;
  csv_doc *doc;
  const csv_dialect *d = dialect_of(S("n\n\xC3\xA9t\xC3\xA9\n"), &doc);
  assert_int_equal(d->encoding, CSV_ENC_UTF8);
  csv_doc_free(doc);
  json_object *rep = tu_report(S("name,n\n\xC3\xA9t\xC3\xA9,1\n"), NULL, NULL);
  assert_int_equal(tu_num(tu_col(rep, 0), "text_length.max"), 3);
  json_object_put(rep);
}

static void t_invalid_utf8_late(void **s) {
  (void)s;
  /* Valid in the 64 KiB sample, invalid afterwards: counted, not fatal. */
  size_t n = 100000;
  char *d = malloc(n + 32);
  size_t o = (size_t)sprintf(d, "name,n\n");
  while (o < 70000) o += (size_t)sprintf(d + o, "abc,1\n");
  o += (size_t)sprintf(d + o, "bad\xFF\xFE,2\n");
  json_object *rep = tu_report(d, o, NULL, NULL);
  json_object *w = tu_warning(rep, "invalid_utf8");
  assert_non_null(w);
  assert_int_equal(tu_num(w, "count"), 1);
  json_object_put(rep);
  free(d);
}

static void t_empty_file(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records("", 0, NULL, &doc);
  assert_string_equal(g, "");
  assert_int_equal(csv_doc_ncols(doc), 0);
  free(g);
  csv_doc_free(doc);
  char *html = NULL;
  json_object *rep = tu_report("", 0, NULL, &html);
  assert_int_equal(tu_num(rep, "rows"), 0);
  assert_int_equal(tu_num(rep, "columns"), 0);
  assert_non_null(tu_warning(rep, "no_rows"));
  assert_non_null(strstr(html, "</html>"));
  free(html);
  json_object_put(rep);
}

static void t_header_only(void **s) {
  (void)s;
  json_object *rep = tu_report(S("alpha,beta,gamma\n"), NULL, NULL);
  assert_int_equal(tu_num(rep, "rows"), 0);
  assert_int_equal(tu_num(rep, "columns"), 3);
  assert_true(json_object_get_boolean(tu_path(rep, "dialect.header")));
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 1), "name")),
                      "beta");
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 1), "type")),
                      "empty");
  json_object_put(rep);
}

static void t_header_only_no_newline(void **s) {
  (void)s;
  json_object *rep = tu_report(S("alpha;beta"), NULL, NULL);
  assert_int_equal(tu_num(rep, "rows"), 0);
  assert_int_equal(tu_num(rep, "columns"), 2);
  json_object_put(rep);
}

static void t_no_header_numeric(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("1,2\n3,4\n5,6\n"), NULL, &doc);
  assert_false(csv_doc_dialect(doc)->has_header);
  assert_string_equal(g, "1|2/3|4/5|6/");
  assert_string_equal(csv_doc_colname(doc, 0), "column_1");
  free(g);
  csv_doc_free(doc);
}

static void t_header_detected_over_dates(void **s) {
  (void)s;
  csv_doc *doc;
  const csv_dialect *d =
      dialect_of(S("when,ok\n2024-01-02,true\n2024-02-03,false\n"), &doc);
  assert_true(d->has_header);
  csv_doc_free(doc);
}

static void t_no_header_repeated_text(void **s) {
  (void)s;
  csv_doc *doc;
  const csv_dialect *d = dialect_of(S("red,1\nred,2\nblue,3\n"), &doc);
  assert_false(d->has_header);
  csv_doc_free(doc);
}

static void t_header_option(void **s) {
  (void)s;
  csv_options o;
  csv_options_init(&o);
  o.has_header = 1;
  csv_doc *doc;
  char *g = tu_records(S("1,2\n3,4\n"), &o, &doc);
  assert_string_equal(g, "3|4/");
  assert_string_equal(csv_doc_colname(doc, 1), "2");
  free(g);
  csv_doc_free(doc);
  o.has_header = 0;
  g = tu_records(S("a,b\nc,d\n"), &o, NULL);
  assert_string_equal(g, "a|b/c|d/");
  free(g);
}

static void t_delimiter_option(void **s) {
  (void)s;
  csv_options o;
  csv_options_init(&o);
  o.delimiter = ';';
  o.has_header = 0;
  char *g = tu_records(S("a,b;c\n"), &o, NULL);
  assert_string_equal(g, "a,b|c/");
  free(g);
}

static void t_single_column(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("value\n10\n20\n30\n"), NULL, &doc);
  assert_string_equal(g, "10/20/30/");
  assert_int_equal(csv_doc_ncols(doc), 1);
  assert_true(csv_doc_dialect(doc)->has_header);
  free(g);
  csv_doc_free(doc);
  json_object *rep = tu_report(S("value\n10\n20\n30\n"), NULL, NULL);
  assert_int_equal(tu_num(tu_col(rep, 0), "numeric.mean"), 20);
  json_object_put(rep);
}

static void t_trailing_delimiter(void **s) {
  (void)s;
  expect_records(S("a,b,\n1,2,\n"), "1|2|/");
  json_object *rep = tu_report(S("a,b,\n1,2,\n"), NULL, NULL);
  assert_int_equal(tu_num(rep, "columns"), 3);
  assert_int_equal(tu_num(tu_col(rep, 2), "missing"), 1);
  assert_null(tu_warning(rep, "ragged_rows"));
  json_object_put(rep);
}

static void t_blank_lines(void **s) {
  (void)s;
  expect_records(S("a,b\n1,2\n\n\r\n3,4\n\n"), "1|2/3|4/");
  json_object *rep = tu_report(S("a,b\n1,2\n\n\r\n3,4\n\n"), NULL, NULL);
  assert_int_equal(tu_num(rep, "rows"), 2);
  assert_int_equal(tu_num(tu_warning(rep, "blank_lines"), "count"), 3);
  json_object_put(rep);
}

static void t_ragged_lines(void **s) {
  (void)s;
  /* line 1 header; line 2-3 one record with a quoted newline; 4 short; 5 ok;
   * 6 long */
  json_object *rep =
      tu_report(S("a,b,c\n\"x\ny\",1,2\n1,2\n4,5,6\n7,8,9,10\n"), NULL, NULL);
  assert_int_equal(tu_num(rep, "ragged_rows.count"), 2);
  json_object *l = tu_path(rep, "ragged_rows.first_lines");
  assert_int_equal(json_object_array_length(l), 2);
  assert_int_equal(json_object_get_int(json_object_array_get_idx(l, 0)), 4);
  assert_int_equal(json_object_get_int(json_object_array_get_idx(l, 1)), 6);
  assert_int_equal(tu_num(tu_col(rep, 2), "missing"), 1);
  json_object_put(rep);
}

static void t_ragged_first_lines_capped(void **s) {
  (void)s;
  csv_buf b = {0};
  csv_buf_puts(&b, "a,b\n");
  for (int i = 0; i < 50; i++) csv_buf_puts(&b, i % 2 ? "1\n" : "1,2\n");
  json_object *rep = tu_report(b.p, b.len, NULL, NULL);
  assert_int_equal(tu_num(rep, "ragged_rows.count"), 25);
  json_object *l = tu_path(rep, "ragged_rows.first_lines");
  assert_int_equal(json_object_array_length(l), CSV_RAGGED_LINES);
  assert_int_equal(json_object_get_int(json_object_array_get_idx(l, 0)), 3);
  assert_int_equal(json_object_get_int(json_object_array_get_idx(l, 9)), 21);
  json_object_put(rep);
  csv_buf_free(&b);
}

static void t_huge_field(void **s) {
  (void)s;
  size_t big = 10u << 20;
  char *d = malloc(big + 64);
  size_t o = (size_t)sprintf(d, "k,v\n1,");
  memset(d + o, 'x', big);
  o += big;
  o += (size_t)sprintf(d + o, "\n2,y\n");
  json_object *rep = tu_report(d, o, NULL, NULL);
  assert_int_equal(tu_num(rep, "rows"), 2);
  assert_int_equal(tu_num(tu_col(rep, 1), "text_length.max"), big);
  json_object_put(rep);
  free(d);
}

static void t_huge_quoted_field(void **s) {
  (void)s;
  size_t big = 10u << 20;
  char *d = malloc(big + 64);
  size_t o = (size_t)sprintf(d, "k,v\n1,\"");
  for (size_t i = 0; i < big; i++) d[o + i] = i % 1000 == 999 ? '\n' : 'q';
  o += big;
  o += (size_t)sprintf(d + o, "\"\n2,y\n");
  json_object *rep = tu_report(d, o, NULL, NULL);
  assert_int_equal(tu_num(rep, "rows"), 2);
  assert_int_equal(tu_num(tu_col(rep, 1), "text_length.max"), big);
  assert_int_equal(tu_num(rep, "source.lines"), 3 + big / 1000);
  json_object_put(rep);
  free(d);
}

static void t_unterminated_quote(void **s) {
  (void)s;
  expect_records(S("a,b\n1,2\n3,\"open\nstill"), "1|2/3|open\nstill/");
  json_object *rep = tu_report(S("a,b\n1,2\n3,\"open\nstill"), NULL, NULL);
  json_object *w = tu_warning(rep, "unterminated_quote");
  assert_non_null(w);
  assert_non_null(
      strstr(json_object_get_string(tu_path(w, "message")), "line 3"));
  json_object_put(rep);
}

static void t_nul_bytes(void **s) {
  (void)s;
  static const char d[] = "a,b\nx\0y,1\nz,2\n";
  char *g = tu_records(d, sizeof d - 1, NULL, NULL);
  assert_int_equal(memcmp(g, "x\0y|1/z|2/", 10), 0);
  free(g);
  json_object *rep = tu_report(d, sizeof d - 1, NULL, NULL);
  assert_non_null(tu_warning(rep, "nul_bytes"));
  json_object_put(rep);
}

static void t_binary_garbage(void **s) {
  (void)s;
  unsigned char d[4096];
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < sizeof d; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    d[i] = (unsigned char)x;
  }
  csv_doc *doc = NULL;
  assert_int_equal(csv_doc_open_mem(d, sizeof d, NULL, &doc), -EILSEQ);
  assert_null(doc);
  csv_options o;
  csv_options_init(&o);
  o.allow_binary = 1;
  json_object *rep = tu_report((const char *)d, sizeof d, &o, NULL);
  assert_non_null(tu_warning(rep, "binary"));
  json_object_put(rep);
}

static void t_no_final_newline(void **s) {
  (void)s;
  expect_records(S("a,b\n1,2\n3,4"), "1|2/3|4/");
  expect_records(S("a,b\r\n1,2\r\n3,4\r"), "1|2/3|4/");
}

static void t_empty_fields(void **s) {
  (void)s;
  expect_records(S("a,b,c\n,,\n1,,3\n"), "||/1||3/");
}

static void t_quoted_empty(void **s) {
  (void)s;
  expect_records(S("a,b\n\"\",1\n\"\"\"\",2\n"), "|1/\"|2/");
}

static void t_stray_after_quote(void **s) {
  (void)s;
  expect_records(S("a,b\n\"ab\"cd,1\n"), "abcd|1/");
  json_object *rep = tu_report(S("a,b\n\"ab\"cd,1\n"), NULL, NULL);
  assert_int_equal(tu_num(tu_warning(rep, "stray_quote"), "count"), 2);
  json_object_put(rep);
}

static void t_quote_inside_unquoted(void **s) {
  (void)s;
  expect_records(S("a,b\nab\"c,1\n5\" disk,2\n"), "ab\"c|1/5\" disk|2/");
}

static void t_single_quote_sniff(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("a,b\n'x,y',1\n'z',2\n"), NULL, &doc);
  assert_int_equal(csv_doc_dialect(doc)->quote, '\'');
  assert_string_equal(g, "x,y|1/z|2/");
  free(g);
  csv_doc_free(doc);
}

static void t_decimal_comma(void **s) {
  (void)s;
  json_object *rep = tu_report(S("p;q\n1,5;x\n2,5;y\n3,5;z\n"), NULL, NULL);
  assert_string_equal(json_object_get_string(tu_path(rep, "dialect.decimal")),
                      ",");
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 0), "type")),
                      "float");
  assert_true(fabs(tu_num(tu_col(rep, 0), "numeric.mean") - 2.5) < 1e-12);
  json_object_put(rep);
}

static void t_whitespace_numbers(void **s) {
  (void)s;
  json_object *rep = tu_report(S("n,t\n 1 ,a\n2 ,b\n  3,c\n"), NULL, NULL);
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 0), "type")),
                      "integer");
  assert_int_equal(tu_num(tu_col(rep, 0), "numeric.max"), 3);
  json_object_put(rep);
}

static void t_classify(void **s) {
  (void)s;
  struct {
    const char *in;
    int type;
  } cases[] = {
      {"42", CSV_T_INT},
      {"-7", CSV_T_INT},
      {"+3", CSV_T_INT},
      {"007", CSV_T_INT},
      {"3.25", CSV_T_FLOAT},
      {".5", CSV_T_FLOAT},
      {"5.", CSV_T_FLOAT},
      {"1e5", CSV_T_FLOAT},
      {"-2.5E-3", CSV_T_FLOAT},
      {"1e", CSV_T_TEXT},
      {"12a", CSV_T_TEXT},
      {"-", CSV_T_TEXT},
      {"true", CSV_T_BOOL},
      {"FALSE", CSV_T_BOOL},
      {"yes", CSV_T_BOOL},
      {"No", CSV_T_BOOL},
      {"2024-02-29", CSV_T_DATE},
      {"2023-02-29", CSV_T_TEXT},
      {"2023-13-01", CSV_T_TEXT},
      {"2023/05/06", CSV_T_DATE},
      {"2023-05-06T10:20", CSV_T_DATETIME},
      {"2023-05-06 10:20:30.123Z", CSV_T_DATETIME},
      {"2023-05-06T10:20:30+02:00", CSV_T_DATETIME},
      {"2023-05-06T25:20", CSV_T_TEXT},
      {"", CSV_T_MISSING},
      {"NA", CSV_T_MISSING},
      {"n/a", CSV_T_MISSING},
      {"NULL", CSV_T_MISSING},
      {"NaN", CSV_T_MISSING},
      {"None", CSV_T_MISSING},
      {"#N/A", CSV_T_MISSING},
      {"hello", CSV_T_TEXT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    csv_value v;
    int t = csv_classify(cases[i].in, strlen(cases[i].in), '.', &v);
    if (t != cases[i].type)
      fprintf(stderr, "%s: got %d want %d\n", cases[i].in, t, cases[i].type);
    assert_int_equal(t, cases[i].type);
  }
  csv_value v;
  csv_classify(S("0.1"), '.', &v);
  assert_true(v.num == 0.1);
  csv_classify(S("123456789012345678901234"), '.', &v);
  assert_true(v.num == 123456789012345678901234.0);
  csv_classify(S("2023-05-06T01:00:00+02:00"), '.', &v);
  assert_int_equal(v.secs, csv_days_from_civil(2023, 5, 5) * 86400 + 23 * 3600);
  assert_int_equal(v.month, 2023 * 12 + 4);
}

static void t_dates_by_month(void **s) {
  (void)s;
  json_object *rep = tu_report(
      S("d\n2023-01-05\n2023-01-20\n2023-03-01\n1969-12-31\n"), NULL, NULL);
  json_object *c = tu_col(rep, 0);
  assert_string_equal(json_object_get_string(tu_path(c, "type")), "date");
  assert_string_equal(json_object_get_string(tu_path(c, "dates.min")),
                      "1969-12-31");
  assert_string_equal(json_object_get_string(tu_path(c, "dates.max")),
                      "2023-03-01");
  json_object *m = tu_path(c, "dates.by_month");
  assert_int_equal(json_object_array_length(m), 3);
  assert_string_equal(
      json_object_get_string(tu_path(json_object_array_get_idx(m, 0), "month")),
      "1969-12");
  assert_int_equal(tu_num(json_object_array_get_idx(m, 1), "count"), 2);
  json_object_put(rep);
}

static void t_too_many_columns(void **s) {
  (void)s;
  csv_buf b = {0};
  for (int r = 0; r < 3; r++) {
    for (int i = 0; i < CSV_MAX_COLUMNS + 5; i++)
      csv_buf_printf(&b, i ? ",%c%d" : "%c%d", r ? 'v' : 'h', i);
    csv_buf_putc(&b, '\n');
  }
  json_object *rep = tu_report(b.p, b.len, NULL, NULL);
  assert_int_equal(tu_num(rep, "columns"), CSV_MAX_COLUMNS);
  assert_int_equal(tu_num(tu_warning(rep, "too_many_columns"), "count"), 5);
  assert_null(tu_warning(rep, "ragged_rows"));
  json_object_put(rep);
  csv_buf_free(&b);
}

static void t_duplicate_names(void **s) {
  (void)s;
  csv_doc *doc;
  char *g = tu_records(S("x,,x\n1,2,3\n"), NULL, &doc);
  assert_string_equal(csv_doc_colname(doc, 0), "x");
  assert_string_equal(csv_doc_colname(doc, 1), "column_2");
  assert_string_equal(csv_doc_colname(doc, 2), "x_3");
  free(g);
  csv_doc_free(doc);
}

static void t_booleans(void **s) {
  (void)s;
  json_object *rep = tu_report(S("f\ntrue\nfalse\nTrue\nyes\n"), NULL, NULL);
  json_object *c = tu_col(rep, 0);
  assert_string_equal(json_object_get_string(tu_path(c, "type")), "boolean");
  assert_int_equal(tu_num(c, "boolean.true"), 3);
  assert_int_equal(tu_num(c, "boolean.false"), 1);
  json_object_put(rep);
}

static void t_cancel(void **s) {
  (void)s;
  csv_buf b = {0};
  csv_buf_puts(&b, "a,b\n");
  for (int i = 0; i < 20000; i++) csv_buf_printf(&b, "%d,%d\n", i, i * 2);
  csv_doc *doc;
  assert_int_equal(csv_doc_open_mem(b.p, b.len, NULL, &doc), 0);
  atomic_int cancel;
  atomic_init(&cancel, 1);
  csv_result *r = NULL;
  assert_int_equal(csv_profile_run(doc, 2, NULL, &cancel, &r), -ECANCELED);
  assert_null(r);
  atomic_store(&cancel, 0);
  csv_progress pr;
  atomic_init(&pr.bytes, 0);
  atomic_init(&pr.rows, 0);
  assert_int_equal(csv_profile_run(doc, 2, &pr, &cancel, &r), 0);
  assert_int_equal(atomic_load(&pr.rows), 20000);
  assert_int_equal(atomic_load(&pr.bytes), b.len - 4);
  csv_result_free(r);
  csv_doc_free(doc);
  csv_buf_free(&b);
}

/* A planner boundary inside a quoted field is detected and repaired. */
static void t_chunk_boundary_in_quotes(void **s) {
  (void)s;
  csv_buf b = {0};
  csv_buf_puts(&b, "id,text\n");
  for (int i = 0; i < 3000; i++) {
    csv_buf_printf(&b, "%d,\"", i);
    for (int k = 0; k < 40; k++) csv_buf_puts(&b, "word\nline,");
    csv_buf_puts(&b, "\"\n");
  }
  csv_doc *doc;
  assert_int_equal(csv_doc_open_mem(b.p, b.len, NULL, &doc), 0);
  csv_chunk ch[8];
  unsigned n = 0;
  assert_int_equal(csv_plan(doc, 0, 8, 4096, ch, &n), 0);
  assert_int_equal(n, 8);
  csv_partial *parts[8];
  for (unsigned i = 0; i < n; i++)
    assert_int_equal(csv_profile_chunk(doc, &ch[i], NULL, NULL, &parts[i]), 0);
  uint64_t resume = 0;
  unsigned good = csv_plan_verify(ch, parts, n, &resume);
  assert_true(good < n); /* the boundaries fell inside quoted fields */
  assert_true(resume > ch[good - 1].end);
  for (unsigned i = 0; i < n; i++) csv_partial_free(parts[i]);
  csv_result *r;
  assert_int_equal(csv_profile_run(doc, 4, NULL, NULL, &r), 0);
  assert_int_equal(csv_result_rows(r), 3000);
  char *js;
  assert_int_equal(csv_render_json(r, &js, NULL), 0);
  assert_non_null(strstr(js, "\"ragged_rows\":{\"count\":0"));
  free(js);
  csv_result_free(r);
  csv_doc_free(doc);
  csv_buf_free(&b);
}

static void t_plan_boundaries(void **s) {
  (void)s;
  csv_buf b = {0};
  csv_buf_puts(&b, "a,b\n");
  for (int i = 0; i < 5000; i++) csv_buf_printf(&b, "%d,x%d\n", i, i);
  csv_doc *doc;
  assert_int_equal(csv_doc_open_mem(b.p, b.len, NULL, &doc), 0);
  csv_chunk ch[5];
  unsigned n;
  assert_int_equal(csv_plan(doc, 0, 5, 1000, ch, &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(ch[0].begin, csv_doc_data_start(doc));
  for (unsigned i = 0; i < n; i++) {
    if (i) assert_int_equal(ch[i].begin, ch[i - 1].end);
    if (i + 1 < n) assert_int_equal(b.p[ch[i].end - 1], '\n');
  }
  assert_int_equal(ch[n - 1].end, b.len);
  /* small files: one chunk */
  assert_int_equal(csv_plan(doc, 0, 5, 0, ch, &n), 0);
  assert_int_equal(n, 1);
  csv_doc_free(doc);
  csv_buf_free(&b);
}

static void t_file_open(void **s) {
  (void)s;
  char path[] = "/tmp/csvtestXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char d[] = "a,b\n1,2\n";
  assert_int_equal(write(fd, d, sizeof d - 1), (ssize_t)(sizeof d - 1));
  close(fd);
  csv_doc *doc;
  assert_int_equal(csv_doc_open_file(path, NULL, &doc), 0);
  assert_int_equal(csv_doc_size(doc), sizeof d - 1);
  csv_doc_free(doc);
  unlink(path);
  assert_int_equal(csv_doc_open_file(path, NULL, &doc), -ENOENT);
  assert_int_equal(csv_doc_open_file("/tmp", NULL, &doc), -EINVAL);
}

/* The reader against a reference over random records: bare and quoted
 * fields of 0..40 bytes (so delimiters, quotes and line ends fall at every
 * offset of the scanner's 16-byte blocks), LF and CRLF, blank lines, more
 * than one buffer fill, with and without a final newline. */
static uint64_t rng_state = 88172645463325252ULL;
static unsigned rnd(unsigned n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state % n);
}

static void reader_vs_reference(int final_newline) {
  static const char bare[] = "ab1 .-x";
  static const char quoted[] = "a,\"\n\r b";
  csv_buf data = {0}, want = {0};
  while (data.len < (3u << 19)) { /* 1.5 MiB: crosses the 1 MiB block */
    /* blank lines, maybe a lone CR */
    if (rnd(50) == 0) {
      csv_buf_puts(&data, rnd(2) ? "\r\n" : "\n");
      continue;
    }
    unsigned nf = 2 + rnd(7);
    for (unsigned f = 0; f < nf; f++) {
      unsigned len = rnd(41);
      if (f) csv_buf_putc(&data, ',');
      if (f) csv_buf_putc(&want, '|');
      if (rnd(8) == 0) {
        csv_buf_putc(&data, '"');
        for (unsigned i = 0; i < len; i++) {
          char c = quoted[rnd(sizeof quoted - 1)];
          if (c == '"') csv_buf_putc(&data, '"');
          csv_buf_putc(&data, c);
          csv_buf_putc(&want, c);
        }
        csv_buf_putc(&data, '"');
      } else {
        for (unsigned i = 0; i < len; i++) {
          char c = bare[rnd(sizeof bare - 1)];
          csv_buf_putc(&data, c);
          csv_buf_putc(&want, c);
        }
      }
    }
    csv_buf_puts(&data, rnd(3) ? "\n" : "\r\n");
    csv_buf_putc(&want, '/');
  }
  if (!final_newline) { /* a last record with no line end */
    csv_buf_puts(&data, "tail,of,the,file,with,no,newline,at,all");
    csv_buf_puts(&want, "tail|of|the|file|with|no|newline|at|all/");
  }
  csv_src src = {
      .fd = -1, .mem = (const unsigned char *)data.p, .size = data.len};
  csv_dialect d = {.delimiter = ',', .quote = '"', .decimal = '.'};
  csv_reader r;
  assert_int_equal(csv_reader_init(&r, &src, &d, 0, data.len, 64), 0);
  csv_buf got = {0};
  csv_buf_puts(&got, "");
  int rc;
  while ((rc = csv_reader_next(&r)) > 0) {
    assert_int_equal(r.nf, r.nf_total);
    for (size_t i = 0; i < r.nf; i++) {
      if (i) csv_buf_putc(&got, '|');
      csv_buf_put(&got, r.f[i].p, r.f[i].len);
    }
    csv_buf_putc(&got, '/');
  }
  assert_int_equal(rc, 0);
  assert_int_equal(r.unterminated, 0);
  assert_int_equal(r.stray_quotes, 0);
  assert_int_equal(got.len, want.len);
  assert_memory_equal(got.p, want.p, want.len);
  csv_reader_free(&r);
  csv_buf_free(&got);
  csv_buf_free(&want);
  csv_buf_free(&data);
}

static void t_reader_random(void **s) {
  (void)s;
  reader_vs_reference(1);
  reader_vs_reference(0);
}

/* Delimiters, quotes, CR and LF at both sides of a 16-byte block edge. */
static void t_reader_block_edges(void **s) {
  (void)s;
  expect_records(S("h1,h2\n0123456789abcde,x\n0123456789abcdef,y\n"),
                 "0123456789abcde|x/0123456789abcdef|y/");
  expect_records(S("h1,h2\r\n0123456789abcd,\r\n0123456789abcde,\r\n"),
                 "0123456789abcd|/0123456789abcde|/");
  expect_records(S("h1,h2\n0123456789abcdef0123456789,\"q,\"\"\"\n"),
                 "0123456789abcdef0123456789|q,\"/");
  expect_records(S("h1,h2\n0123456789abcde\"x,y\n"), "0123456789abcde\"x|y/");
  expect_records(S("h1,h2\n0123456789abcdef0123456789abcde,\"a\nb\"\n"),
                 "0123456789abcdef0123456789abcde|a\nb/");
  expect_records(S("h1,h2\n0123456789abcdef\r\r\n,\n"),
                 "0123456789abcdef\r/|/");
  expect_records(S("h1,h2\n\r\n\r\n0123456789abcdef0123,z"),
                 "0123456789abcdef0123|z/");
}

/* Numbers: every value is the correctly rounded double (strtod's), through
 * the fast path (at most 19 digits) and the general one, at their border,
 * with exponents, -0, leading zeros, signs; NaN-looking words are missing
 * or text, never numbers. */
/* csv_classify_padded() of in followed by pad bytes of c (the profiler's
 * parser reads past the value): same type and bits as csv_classify(). */
static void check_padded(const char *in, char dec) {
  size_t n = strlen(in);
  char *buf = malloc(n + CSV_READ_PAD);
  assert_non_null(buf);
  static const char pads[] = {'7', ',', '\n', '.'};
  for (size_t k = 0; k < sizeof pads; k++) {
    memcpy(buf, in, n);
    memset(buf + n, pads[k], CSV_READ_PAD);
    csv_value a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ta = csv_classify(in, n, dec, &a);
    int tb = csv_classify_padded(buf, n, dec, &b);
    if (ta != tb) fprintf(stderr, "%s: padded type %d, not %d\n", in, tb, ta);
    assert_int_equal(tb, ta);
    if (ta == CSV_T_INT || ta == CSV_T_FLOAT)
      assert_memory_equal(&b.num, &a.num, sizeof a.num);
  }
  free(buf);
}

static void check_number(const char *in, int type) {
  csv_value v;
  memset(&v, 0, sizeof v);
  int t = csv_classify(in, strlen(in), '.', &v);
  if (t != type) fprintf(stderr, "%s: got type %d want %d\n", in, t, type);
  assert_int_equal(t, type);
  double want = strtod(in, NULL);
  if (memcmp(&v.num, &want, sizeof want))
    fprintf(stderr, "%s: got %.17g want %.17g\n", in, v.num, want);
  assert_memory_equal(&v.num, &want, sizeof want);
  check_padded(in, '.');
}

static void t_numbers_exact(void **s) {
  (void)s;
  static const char *ints[] = {"0",
                               "-0",
                               "+0",
                               "000",
                               "9007199254740992",
                               "9007199254740993",
                               "-9007199254740993",
                               "123456789012345678",
                               "999999999999999999"};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    check_number(ints[i], CSV_T_INT);
  /* 19 and more digits are floats: no int64 promise past 18 */
  static const char *floats[] = {"-0.0",
                                 "0.1",
                                 "-.5",
                                 "5.",
                                 "1e5",
                                 "1E+22",
                                 "1e23",
                                 "1e-22",
                                 "1e-23",
                                 "4.9406564584124654e-324",
                                 "2.2250738585072014e-308",
                                 "1.7976931348623157e308",
                                 "1e400",
                                 "-1e400",
                                 "1e-400",
                                 "1234567890123456789",
                                 "12345678901234567890",
                                 "1234567890.123456789",
                                 "1234567890.1234567891",
                                 "0.0000000000000000001",
                                 "00000000000000000000001.5",
                                 "9007199254740993.0",
                                 "0.30000000000000004",
                                 "123.456e-5",
                                 "-2.5E-3",
                                 "1e+0",
                                 "1e-0",
                                 "3.14159265358979323846264338327950288"};
  for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
    check_number(floats[i], CSV_T_FLOAT);
  csv_value v;
  assert_int_equal(csv_classify(S("-0"), '.', &v), CSV_T_INT);
  assert_true(signbit(v.num));
  assert_int_equal(csv_classify(S("1e400"), '.', &v), CSV_T_FLOAT);
  assert_true(isinf(v.num));
  /* random numbers of 1..24 digits, with or without fraction/exponent */
  for (int k = 0; k < 20000; k++) {
    char b[64];
    size_t n = 0;
    if (rnd(4) == 0) b[n++] = rnd(2) ? '-' : '+';
    unsigned ni = rnd(13), nf = rnd(13);
    for (unsigned i = 0; i < ni; i++) b[n++] = (char)('0' + rnd(10));
    int frac = nf > 0 || rnd(8) == 0;
    if (frac) b[n++] = '.';
    for (unsigned i = 0; i < nf; i++) b[n++] = (char)('0' + rnd(10));
    if (ni + nf == 0) b[n++] = '7';
    int ex = rnd(4) == 0;
    if (ex) n += (size_t)snprintf(b + n, 16, "e%d", (int)rnd(80) - 40);
    b[n] = 0;
    check_number(b, frac || ex || ni + nf > 18 ? CSV_T_FLOAT : CSV_T_INT);
  }
  static const char *notnum[] = {
      "nan", "NaN",   "-nan", "+nan", "inf", "-inf", "Infinity", "1e",   "1e+",
      "--1", "1.2.3", "0x10", "1 2",  ".",   "+.",   "1,5",      "1e5.5"};
  for (size_t i = 0; i < sizeof notnum / sizeof notnum[0]; i++) {
    int t = csv_classify(notnum[i], strlen(notnum[i]), '.', &v);
    if (t == CSV_T_INT || t == CSV_T_FLOAT) fprintf(stderr, "%s\n", notnum[i]);
    assert_true(t == CSV_T_TEXT || t == CSV_T_MISSING);
    check_padded(notnum[i], '.');
  }
  /* runs of digits of every length up to 24, in the integer part, the
   * fraction or both, also through the padded parser */
  for (int k = 0; k < 2000; k++) {
    char b[64];
    size_t n = 0;
    unsigned ni = rnd(25), nf = rnd(3) ? 0 : rnd(25);
    for (unsigned i = 0; i < ni; i++) b[n++] = (char)('0' + rnd(10));
    if (nf || !ni) b[n++] = '.';
    for (unsigned i = 0; i < nf; i++) b[n++] = (char)('0' + rnd(10));
    if (!ni && !nf) b[n++] = '3';
    b[n] = 0;
    check_number(b, b[ni] == '.' || ni > 18 ? CSV_T_FLOAT : CSV_T_INT);
  }
  check_padded("1,25", ',');
  check_padded("-1,2345678901234567890123", ',');
  check_padded("12345678,87654321", ',');
  /* decimal comma */
  assert_int_equal(csv_classify(S("-1,25"), ',', &v), CSV_T_FLOAT);
  assert_true(v.num == -1.25);
  assert_int_equal(csv_classify(S("1,2345678901234567890123"), ',', &v),
                   CSV_T_FLOAT);
  assert_true(v.num == strtod("1.2345678901234567890123", NULL));
}

/* Quoted records go through the profiler's arena: empty and short quoted
 * values, one over the arena's size, mixed with plain ones. */
static void t_profile_quoted_values(void **s) {
  (void)s;
  csv_buf b = {0};
  csv_buf_puts(&b, "a,b,c\n");
  for (int i = 0; i < 3000; i++) {
    if (i % 3 == 0)
      csv_buf_printf(&b, "\"\",\"x%d\",\"\"\n", i % 7);
    else
      csv_buf_printf(&b, "%d,x%d,\n", i % 5, i % 7);
  }
  csv_buf_puts(&b, "1,\"");
  for (int i = 0; i < 100000; i++) csv_buf_putc(&b, 'y');
  csv_buf_puts(&b, "\",2\n");
  json_object *rep = tu_report(b.p, b.len, NULL, NULL);
  assert_int_equal(tu_num(rep, "rows"), 3001);
  json_object *c0 = tu_col(rep, 0), *c1 = tu_col(rep, 1);
  assert_int_equal(tu_num(c0, "missing"), 1000);
  assert_int_equal(tu_num(c1, "distinct.value"), 8);
  json_object_put(rep);
  csv_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_comma),
      cmocka_unit_test(t_semicolon),
      cmocka_unit_test(t_tab),
      cmocka_unit_test(t_pipe),
      cmocka_unit_test(t_comma_beats_semicolon_in_text),
      cmocka_unit_test(t_quoted_delim),
      cmocka_unit_test(t_doubled_quotes),
      cmocka_unit_test(t_quoted_newline),
      cmocka_unit_test(t_quoted_crlf_newline),
      cmocka_unit_test(t_crlf),
      cmocka_unit_test(t_mixed_eol),
      cmocka_unit_test(t_cr_only),
      cmocka_unit_test(t_bom),
      cmocka_unit_test(t_latin1),
      cmocka_unit_test(t_utf8_not_latin1),
      cmocka_unit_test(t_invalid_utf8_late),
      cmocka_unit_test(t_empty_file),
      cmocka_unit_test(t_header_only),
      cmocka_unit_test(t_header_only_no_newline),
      cmocka_unit_test(t_no_header_numeric),
      cmocka_unit_test(t_header_detected_over_dates),
      cmocka_unit_test(t_no_header_repeated_text),
      cmocka_unit_test(t_header_option),
      cmocka_unit_test(t_delimiter_option),
      cmocka_unit_test(t_single_column),
      cmocka_unit_test(t_trailing_delimiter),
      cmocka_unit_test(t_blank_lines),
      cmocka_unit_test(t_ragged_lines),
      cmocka_unit_test(t_ragged_first_lines_capped),
      cmocka_unit_test(t_huge_field),
      cmocka_unit_test(t_huge_quoted_field),
      cmocka_unit_test(t_unterminated_quote),
      cmocka_unit_test(t_nul_bytes),
      cmocka_unit_test(t_binary_garbage),
      cmocka_unit_test(t_no_final_newline),
      cmocka_unit_test(t_empty_fields),
      cmocka_unit_test(t_quoted_empty),
      cmocka_unit_test(t_stray_after_quote),
      cmocka_unit_test(t_quote_inside_unquoted),
      cmocka_unit_test(t_single_quote_sniff),
      cmocka_unit_test(t_decimal_comma),
      cmocka_unit_test(t_whitespace_numbers),
      cmocka_unit_test(t_classify),
      cmocka_unit_test(t_dates_by_month),
      cmocka_unit_test(t_too_many_columns),
      cmocka_unit_test(t_duplicate_names),
      cmocka_unit_test(t_booleans),
      cmocka_unit_test(t_cancel),
      cmocka_unit_test(t_chunk_boundary_in_quotes),
      cmocka_unit_test(t_plan_boundaries),
      cmocka_unit_test(t_file_open),
      cmocka_unit_test(t_reader_random),
      cmocka_unit_test(t_reader_block_edges),
      cmocka_unit_test(t_numbers_exact),
      cmocka_unit_test(t_profile_quoted_values),
  };
  return cmocka_run_group_tests_name("csv_parser", tests, NULL, NULL);
}
