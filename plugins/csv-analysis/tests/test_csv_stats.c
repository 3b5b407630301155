/*
 * Statistics of the csv-analysis engine checked against values computed
 * independently: Python's statistics module (run with /usr/bin/python3) on
 * random CSV files this test writes, exact sorts for the quantile bound, and
 * the single-chunk profile for chunked-and-merged runs.
 */
#include "csv_test_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <unistd.h>

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static double unif(void) {
  return (double)(rnd() >> 11) * 0x1p-53;
}
static double gauss(void) {
  return sqrt(-2.0 * log(unif() + 1e-300)) * cos(6.283185307179586 * unif());
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *PY =
    "import csv, json, statistics as st, sys\n"
    "rows = list(csv.reader(open(sys.argv[1], newline='')))\n"
    "head, data = rows[0], rows[1:]\n"
    "qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]\n"
    "out = {}\n"
    "for j, name in enumerate(head):\n"
    "    vals = [r[j].strip() for r in data if j < len(r) and r[j].strip()]\n"
    "    o = {'distinct': len(set(vals)), 'nonmissing': len(vals)}\n"
    "    try:\n"
    "        xs = sorted(float(v) for v in vals)\n"
    "    except ValueError:\n"
    "        xs = None\n"
    "    if xs:\n"
    "        n = len(xs)\n"
    "        o.update(n=n, mean=st.fmean(xs), stdev=st.stdev(xs), min=xs[0],\n"
    "                 max=xs[-1], order=[xs[int(q * (n - 1))] for q in qs],\n"
    "                 inclusive=st.quantiles(xs, n=100, method='inclusive'))\n"
    "    else:\n"
    "        o['len_mean'] = st.fmean(len(v) for v in vals)\n"
    "    out[name] = o\n"
    "def pair(a, b):\n"
    "    ia, ib = head.index(a), head.index(b)\n"
    "    xy = [(float(r[ia]), float(r[ib])) for r in data\n"
    "          if r[ia].strip() and r[ib].strip()]\n"
    "    return st.correlation([p[0] for p in xy], [p[1] for p in xy])\n"
    "out['corr_x_y'] = pair('x', 'y')\n"
    "out['corr_x_k'] = pair('x', 'k')\n"
    "json.dump(out, sys.stdout)\n";

static char tmpdir[64];

static char *write_tmp(const char *name, const char *data, size_t len) {
  char *path = malloc(256);
  snprintf(path, 256, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
  return path;
}

static json_object *python_stats(const char *csvpath) {
  char *py = write_tmp("stats.py", PY, strlen(PY));
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", py, csvpath);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  csv_buf b = {0};
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) csv_buf_put(&b, tmp, n);
  assert_int_equal(pclose(p), 0);
  json_object *o = json_tokener_parse(b.p);
  assert_non_null(o);
  csv_buf_free(&b);
  free(py);
  return o;
}

/* Random CSV: x normal, y = 2x + noise, k integers, w wide-range signed,
 * big high-cardinality integers, cat text, d dates; some cells empty. */
static csv_buf make_csv(int rows) {
  csv_buf b = {0};
  csv_buf_puts(&b, "x,y,k,w,big,cat,d\n");
  static const char *cats[] = {"red",     "green",  "blue", "cyan",
                               "magenta", "yellow", "black"};
  for (int i = 0; i < rows; i++) {
    double x = 50 + 10 * gauss();
    if (rnd() % 20)
      csv_buf_printf(&b, "%.6f,", x);
    else
      csv_buf_puts(&b, ",");
    if (rnd() % 33)
      csv_buf_printf(&b, "%.6f,", 2 * x + 5 * gauss());
    else
      csv_buf_puts(&b, ",");
    csv_buf_printf(&b, "%d,", (int)(rnd() % 1000) - 300);
    double w = pow(10.0, -3 + 9 * unif()) * (rnd() % 4 ? 1 : -1);
    csv_buf_printf(&b, "%.6g,", w);
    csv_buf_printf(&b, "%llu,", (unsigned long long)(rnd() % 1000000000));
    csv_buf_printf(&b, "%s,", cats[(rnd() % 7 + rnd() % 7) / 2]);
    csv_buf_printf(&b, "20%02d-%02d-%02d\n", (int)(rnd() % 30),
                   (int)(1 + rnd() % 12), (int)(1 + rnd() % 28));
  }
  return b;
}

static json_object *profile_file(const char *path, unsigned nchunks,
                                 uint64_t min_bytes) {
  csv_doc *doc;
  assert_int_equal(csv_doc_open_file(path, NULL, &doc), 0);
  csv_chunk ch[16];
  unsigned n;
  assert_int_equal(csv_plan(doc, 0, nchunks, min_bytes, ch, &n), 0);
  assert_int_equal(n, nchunks);
  csv_partial *acc = NULL;
  for (unsigned i = 0; i < n; i++) {
    csv_partial *p;
    assert_int_equal(csv_profile_chunk(doc, &ch[i], NULL, NULL, &p), 0);
    if (i + 1 < n) assert_int_equal(csv_partial_stop(p), ch[i].end);
    if (!acc) {
      acc = p;
    } else {
      assert_int_equal(csv_merge(acc, p), 0);
      csv_partial_free(p);
    }
  }
  csv_result *r;
  assert_int_equal(csv_finish(doc, acc, &r), 0);
  char *js;
  assert_int_equal(csv_render_json(r, &js, NULL), 0);
  json_object *o = json_tokener_parse(js);
  assert_non_null(o);
  free(js);
  csv_result_free(r);
  csv_partial_free(acc);
  csv_doc_free(doc);
  return o;
}

static void near(double got, double want, double rel, const char *what) {
  double tol = rel * fmax(1.0, fabs(want));
  if (!(fabs(got - want) <= tol))
    fprintf(stderr, "%s: got %.17g want %.17g\n", what, got, want);
  assert_true(fabs(got - want) <= tol);
}

static json_object *col_named(json_object *rep, const char *name) {
  json_object *cols = tu_path(rep, "column_profiles");
  for (size_t i = 0; i < json_object_array_length(cols); i++) {
    json_object *c = json_object_array_get_idx(cols, i);
    if (!strcmp(json_object_get_string(tu_path(c, "name")), name)) return c;
  }
  fail_msg("no column %s", name);
  return NULL;
}

static void t_against_python(void **s) {
  (void)s;
  if (access("/usr/bin/python3", X_OK) != 0) {
    fprintf(stderr, "SKIP: /usr/bin/python3 not found\n");
    skip();
  }
  csv_buf b = make_csv(20000);
  char *path = write_tmp("data.csv", b.p, b.len);
  json_object *py = python_stats(path);
  json_object *rep = profile_file(path, 1, 0);
  static const char *qn[] = {"p1", "p5", "p25", "p50", "p75", "p95", "p99"};
  static const char *num[] = {"x", "y", "k", "w"};
  for (size_t i = 0; i < 4; i++) {
    json_object *c = col_named(rep, num[i]);
    json_object *p = tu_path(py, num[i]);
    char key[64];
    assert_int_equal(tu_num(c, "numeric.count"), tu_num(p, "n"));
    near(tu_num(c, "numeric.mean"), tu_num(p, "mean"), 1e-9, "mean");
    near(tu_num(c, "numeric.std"), tu_num(p, "stdev"), 1e-9, "stdev");
    assert_true(tu_num(c, "numeric.min") == tu_num(p, "min"));
    assert_true(tu_num(c, "numeric.max") == tu_num(p, "max"));
    double alpha = tu_num(c, "numeric.quantile_error.relative_error");
    assert_true(alpha > 0 && alpha <= 0.01);
    json_object *order = tu_path(p, "order");
    for (int q = 0; q < 7; q++) {
      snprintf(key, sizeof key, "numeric.quantiles.%s", qn[q]);
      double est = tu_num(c, key);
      double exact =
          json_object_get_double(json_object_array_get_idx(order, q));
      if (!(fabs(est - exact) <= alpha * fabs(exact) * (1 + 1e-12)))
        fprintf(stderr, "%s %s: est %.17g exact %.17g\n", num[i], qn[q], est,
                exact);
      assert_true(fabs(est - exact) <= alpha * fabs(exact) * (1 + 1e-12));
    }
    assert_int_equal(tu_num(c, "missing"), 20000 - tu_num(p, "nonmissing"));
  }
  /* exact distinct counts (small cardinality) */
  assert_int_equal(tu_num(col_named(rep, "k"), "distinct.value"),
                   tu_num(tu_path(py, "k"), "distinct"));
  assert_true(
      json_object_get_boolean(tu_path(col_named(rep, "k"), "distinct.exact")));
  assert_int_equal(tu_num(col_named(rep, "cat"), "distinct.value"), 7);
  double dtrue = tu_num(tu_path(py, "d"), "distinct");
  assert_true(fabs(tu_num(col_named(rep, "d"), "distinct.value") - dtrue) <=
              3 * 0.01625 * dtrue);
  /* HyperLogLog on the high-cardinality column: within 3 standard errors */
  json_object *big = col_named(rep, "big");
  assert_false(json_object_get_boolean(tu_path(big, "distinct.exact")));
  double se = tu_num(big, "distinct.relative_standard_error");
  double truth = tu_num(tu_path(py, "big"), "distinct");
  assert_true(truth > 4096);
  assert_true(fabs(tu_num(big, "distinct.value") - truth) <= 3 * se * truth);
  /* text lengths */
  near(tu_num(col_named(rep, "cat"), "text_length.mean"),
       tu_num(tu_path(py, "cat"), "len_mean"), 1e-12, "len_mean");
  /* Pearson correlation */
  json_object *m = tu_path(rep, "correlation.matrix");
  json_object *names = tu_path(rep, "correlation.columns");
  int ix = -1, iy = -1, ik = -1;
  for (size_t i = 0; i < json_object_array_length(names); i++) {
    const char *nm =
        json_object_get_string(json_object_array_get_idx(names, i));
    if (!strcmp(nm, "x")) ix = (int)i;
    if (!strcmp(nm, "y")) iy = (int)i;
    if (!strcmp(nm, "k")) ik = (int)i;
  }
  assert_true(ix >= 0 && iy >= 0 && ik >= 0);
  near(json_object_get_double(
           json_object_array_get_idx(json_object_array_get_idx(m, ix), iy)),
       tu_num(py, "corr_x_y"), 1e-9, "corr x y");
  near(json_object_get_double(
           json_object_array_get_idx(json_object_array_get_idx(m, ik), ix)),
       tu_num(py, "corr_x_k"), 1e-9, "corr k x");
  json_object_put(rep);
  json_object_put(py);
  unlink(path);
  free(path);
  csv_buf_free(&b);
}

/* Merged chunks give the single-chunk figures. */
static void t_chunked_equals_single(void **s) {
  (void)s;
  csv_buf b = make_csv(30000);
  char *path = write_tmp("chunks.csv", b.p, b.len);
  json_object *one = profile_file(path, 1, 0);
  json_object *many = profile_file(path, 7, 4096);
  assert_int_equal(tu_num(one, "rows"), tu_num(many, "rows"));
  json_object *c1 = tu_path(one, "column_profiles");
  json_object *c2 = tu_path(many, "column_profiles");
  static const char *exact[] = {"count",
                                "missing",
                                "numeric.min",
                                "numeric.max",
                                "numeric.quantiles.p1",
                                "numeric.quantiles.p50",
                                "numeric.quantiles.p99",
                                "text_length.max",
                                "text_length.mean",
                                "distinct.value"};
  for (size_t i = 0; i < json_object_array_length(c1); i++) {
    json_object *a = json_object_array_get_idx(c1, i);
    json_object *z = json_object_array_get_idx(c2, i);
    for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++) {
      json_object *va = tu_path(a, exact[k]);
      if (!va) continue;
      if (!strcmp(exact[k], "distinct.value") &&
          !json_object_get_boolean(tu_path(a, "distinct.exact")))
        continue; /* HLL merge is exact too, but checked below */
      assert_true(json_object_get_double(va) == tu_num(z, exact[k]));
    }
    if (tu_path(a, "numeric")) {
      near(tu_num(z, "numeric.mean"), tu_num(a, "numeric.mean"), 1e-12, "m");
      near(tu_num(z, "numeric.std"), tu_num(a, "numeric.std"), 1e-12, "s");
      json_object *h1 = tu_path(a, "numeric.histogram.counts");
      json_object *h2 = tu_path(z, "numeric.histogram.counts");
      for (size_t k = 0; k < json_object_array_length(h1); k++)
        assert_int_equal(
            json_object_get_int64(json_object_array_get_idx(h1, k)),
            json_object_get_int64(json_object_array_get_idx(h2, k)));
    }
    /* HLL registers merge by max: the estimate is identical */
    near(tu_num(z, "distinct.value"), tu_num(a, "distinct.value"), 0, "hll");
    if (json_object_get_boolean(tu_path(a, "top_values.exact"))) {
      const char *t1 = json_object_to_json_string(tu_path(a, "top_values"));
      char *t1c = strdup(t1);
      assert_string_equal(t1c,
                          json_object_to_json_string(tu_path(z, "top_values")));
      free(t1c);
    }
  }
  json_object *m1 = tu_path(one, "correlation.matrix");
  json_object *m2 = tu_path(many, "correlation.matrix");
  for (size_t i = 0; i < json_object_array_length(m1); i++)
    for (size_t j = 0; j < json_object_array_length(m1); j++) {
      json_object *x =
          json_object_array_get_idx(json_object_array_get_idx(m1, i), j);
      json_object *y =
          json_object_array_get_idx(json_object_array_get_idx(m2, i), j);
      if (json_object_is_type(x, json_type_null)) continue;
      near(json_object_get_double(y), json_object_get_double(x), 1e-9, "r");
    }
  json_object_put(one);
  json_object_put(many);
  unlink(path);
  free(path);
  csv_buf_free(&b);
}

/* The engine's chunk profile (batches a column at a time, a memo of
 * repeated values, vectorised correlation sums, the padded number parser)
 * against the plainest one: every field of every record added on its own
 * in row order from a copy, correlation sums one pair and row at a time.
 * Every figure must be bit for bit the same. */
static csv_buf make_mixed_csv(int rows) {
  csv_buf b = {0};
  csv_buf_puts(&b, "id,small,date,f,cat,long,q,flag,r\n");
  static const char *cats[] = {"red", "green",   " blue ",
                               "NA",  "\"a,b\"", "a value longer than sixteen"};
  for (int i = 0; i < rows; i++) {
    csv_buf_printf(&b, "%d,", 1000000 + i * 7);
    if (rnd() % 20)
      csv_buf_printf(&b, rnd() % 9 ? "%d," : " %d ,", (int)(rnd() % 21));
    else
      csv_buf_puts(&b, ",");
    int day = (int)(rnd() % 2000);
    if (rnd() % 50)
      csv_buf_printf(&b, "20%02d-%02d-%02d,", 10 + day / 336, 1 + day / 28 % 12,
                     1 + day % 28);
    else
      csv_buf_printf(&b, "2020-02-%02dT%02d:30:00Z,", 1 + day % 28,
                     (int)(rnd() % 24));
    switch (rnd() % 40) {
    case 0:
      csv_buf_puts(&b, "NaN,");
      break;
    case 1:
      csv_buf_puts(&b, ",");
      break;
    case 2:
      csv_buf_printf(&b, "%.3e,", gauss() * 1e5);
      break;
    default:
      csv_buf_printf(&b, "%.*f,", (int)(rnd() % 9), 3 * gauss() + 1);
    }
    csv_buf_printf(&b, "%s,", cats[rnd() % 6]);
    if (rnd() % 3)
      csv_buf_printf(&b, "%llu%llu,", (unsigned long long)rnd(),
                     (unsigned long long)(rnd() % 100000));
    else
      csv_buf_printf(&b, "%d,", (int)(rnd() % 100));
    csv_buf_printf(&b, "\"%d\",", (int)(rnd() % 1000));
    csv_buf_puts(&b, rnd() % 2 ? "true," : "no,");
    if (rnd() % 30 == 0) { /* ragged: r missing */
      b.len--;
      csv_buf_puts(&b, "\n");
    } else {
      csv_buf_printf(&b, "%.5f\n", unif() - 0.5);
    }
  }
  return b;
}

#define SAME(a, b, f) assert_memory_equal(&(a)->f, &(b)->f, sizeof(a)->f)

static void same_store(const csv_ddstore *a, const csv_ddstore *b) {
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->lo, b->lo);
  if (a->n) assert_memory_equal(a->bins, b->bins, a->n * sizeof *a->bins);
}

static void same_colstats(const csv_colstats *a, const csv_colstats *b) {
  SAME(a, b, count);
  SAME(a, b, missing);
  SAME(a, b, types);
  SAME(a, b, nnum);
  SAME(a, b, mean);
  SAME(a, b, m2);
  SAME(a, b, min);
  SAME(a, b, max);
  same_store(&a->dd.pos, &b->dd.pos);
  same_store(&a->dd.neg, &b->dd.neg);
  SAME(a, b, dd.zero);
  SAME(a, b, dd.count);
  SAME(a, b, dd.collapsed);
  SAME(a, b, dist.used);
  SAME(a, b, dist.cap);
  if (a->dist.set)
    assert_memory_equal(a->dist.set, b->dist.set,
                        a->dist.cap * sizeof *a->dist.set);
  assert_int_equal(!a->dist.hll, !b->dist.hll);
  if (a->dist.hll)
    assert_memory_equal(a->dist.hll, b->dist.hll, 1u << CSV_HLL_P);
  assert_int_equal(!a->top, !b->top);
  if (a->top) {
    SAME(a, b, top->n);
    SAME(a, b, top->err);
    for (uint32_t i = 0; i < a->top->n; i++) {
      const csv_topent *x = &a->top->e[i], *y = &b->top->e[i];
      SAME(x, y, hash);
      SAME(x, y, count);
      SAME(x, y, len);
      assert_memory_equal(x->key, y->key,
                          x->len < CSV_TOPK_KEY ? x->len : CSV_TOPK_KEY);
    }
  }
  SAME(a, b, nlen);
  SAME(a, b, len_sum);
  SAME(a, b, len_min);
  SAME(a, b, len_max);
  SAME(a, b, len_sumsq);
  SAME(a, b, ndate);
  SAME(a, b, date_min);
  SAME(a, b, date_max);
  SAME(a, b, date_has_time);
  SAME(a, b, nmonths);
  SAME(a, b, months_other);
  assert_int_equal(!a->months, !b->months);
  if (a->months)
    for (uint32_t i = 0; i < CSV_MONTHS_CAP; i++) {
      SAME(a, b, months[i].key);
      SAME(a, b, months[i].count);
    }
  SAME(a, b, btrue);
  SAME(a, b, bfalse);
  SAME(a, b, invalid_utf8);
  SAME(a, b, with_nul);
}

static void t_profile_equals_plain(void **s) {
  (void)s;
  csv_buf b = make_mixed_csv(40000);
  csv_doc *doc;
  assert_int_equal(csv_doc_open_mem(b.p, b.len, NULL, &doc), 0);
  const size_t nc = doc->ncols, ncorr = doc->ncorr;
  assert_int_equal(nc, 9);
  assert_true(ncorr >= 5); /* id, small, f, q, r at least */
  csv_chunk ch;
  unsigned nch;
  assert_int_equal(csv_plan(doc, 0, 1, 0, &ch, &nch), 0);
  csv_partial *p;
  assert_int_equal(csv_profile_chunk(doc, &ch, NULL, NULL, &p), 0);

  csv_colstats *ref = calloc(nc, sizeof *ref);
  for (size_t c = 0; c < nc; c++) csv_colstats_init(&ref[c]);
  size_t np = ncorr * (ncorr - 1) / 2;
  struct {
    uint64_t n;
    double sx, sy, sxx, syy, sxy;
  } *sh = calloc(np, sizeof *sh);
  double shift[CSV_MAX_CORR], val[CSV_MAX_CORR];
  int has_shift[CSV_MAX_CORR] = {0}, ok[CSV_MAX_CORR];
  int slot[CSV_MAX_COLUMNS];
  for (size_t c = 0; c < nc; c++) slot[c] = -1;
  for (size_t k = 0; k < ncorr; k++) slot[doc->corr[k]] = (int)k;
  csv_reader r;
  assert_int_equal(
      csv_reader_init(&r, &doc->src, &doc->d, ch.begin, ch.end, nc), 0);
  uint64_t rows = 0;
  char *field = malloc(256 + CSV_READ_PAD);
  while (csv_reader_next(&r) == 1) {
    rows++;
    for (size_t k = 0; k < ncorr; k++) ok[k] = 0;
    for (size_t c = 0; c < nc; c++) {
      if (c >= r.nf) {
        csv_colstats_add_missing(&ref[c]);
        continue;
      }
      assert_true(r.f[c].len <= 256);
      memcpy(field, r.f[c].p, r.f[c].len);
      memset(field + r.f[c].len, '9', CSV_READ_PAD);
      csv_value v;
      if (!csv_colstats_add_value(&ref[c], field, r.f[c].len, &doc->d, &v))
        continue;
      csv_colstats_moments(&ref[c], v.num);
      int k = slot[c];
      if (k < 0) continue;
      if (!has_shift[k]) {
        has_shift[k] = 1;
        shift[k] = v.num;
      }
      val[k] = v.num - shift[k];
      ok[k] = 1;
    }
    for (size_t a = 0; a < ncorr; a++)
      for (size_t z = a + 1; z < ncorr && ok[a]; z++) {
        if (!ok[z]) continue;
        size_t k = a * (2 * ncorr - a - 1) / 2 + (z - a - 1);
        sh[k].n++;
        sh[k].sx += val[a];
        sh[k].sy += val[z];
        sh[k].sxx += val[a] * val[a];
        sh[k].syy += val[z] * val[z];
        sh[k].sxy += val[a] * val[z];
      }
  }
  csv_reader_free(&r);
  free(field);
  assert_int_equal(p->rows, rows);
  assert_int_equal(rows, 40000);
  for (size_t c = 0; c < nc; c++) same_colstats(&p->cols[c], &ref[c]);
  for (size_t a = 0; a < ncorr; a++)
    for (size_t z = a + 1; z < ncorr; z++) {
      size_t k = a * (2 * ncorr - a - 1) / 2 + (z - a - 1);
      const csv_pair *o = &p->pairs[k];
      assert_true(sh[k].n > 1000);
      double n = (double)sh[k].n, sx = sh[k].sx, sy = sh[k].sy;
      csv_pair want = {
          .n = sh[k].n,
          .mx = shift[a] + sx / n,
          .my = shift[z] + sy / n,
          .cxx = fmax(0.0, sh[k].sxx - sx * sx / n),
          .cyy = fmax(0.0, sh[k].syy - sy * sy / n),
          .cxy = sh[k].sxy - sx * sy / n,
      };
      SAME(o, &want, n);
      SAME(o, &want, mx);
      SAME(o, &want, my);
      SAME(o, &want, cxx);
      SAME(o, &want, cyy);
      SAME(o, &want, cxy);
    }
  for (size_t c = 0; c < nc; c++) csv_colstats_free(&ref[c]);
  free(ref);
  free(sh);
  csv_partial_free(p);
  csv_doc_free(doc);
  csv_buf_free(&b);
}

/* DDSketch: every rank's answer within alpha of the exact order statistic,
 * over 12 decades and both signs; merge of halves answers the same. */
static void t_quantile_bound(void **s) {
  (void)s;
  enum { N = 100000 };
  double *v = malloc(N * sizeof *v);
  csv_dd a = {0}, h1 = {0}, h2 = {0};
  for (int i = 0; i < N; i++) {
    double x = pow(10.0, -4 + 12 * unif()) * (rnd() % 3 ? 1 : -1);
    if (rnd() % 50 == 0) x = 0;
    v[i] = x;
    csv_dd_add(&a, x);
    csv_dd_add(i % 2 ? &h1 : &h2, x);
  }
  assert_int_equal(csv_dd_merge(&h1, &h2), 0);
  qsort(v, N, sizeof *v, cmpd);
  for (int k = 0; k <= 1000; k++) {
    double q = k / 1000.0;
    double exact = v[(size_t)floor(q * (N - 1))];
    double est = csv_dd_quantile(&a, q);
    assert_true(fabs(est - exact) <=
                CSV_QUANTILE_ALPHA * fabs(exact) * (1 + 1e-12));
    assert_true(csv_dd_quantile(&h1, q) == est);
  }
  assert_false(a.collapsed);
  free(v);
  csv_dd_free(&a);
  csv_dd_free(&h1);
  csv_dd_free(&h2);
}

/* Small integers come back exact. */
static void t_quantile_integers_exact(void **s) {
  (void)s;
  csv_dd d = {0};
  for (int i = 1; i <= 99; i++) csv_dd_add(&d, i);
  assert_true(csv_dd_quantile_int(&d, 0.5) == 50);
  assert_true(csv_dd_quantile_int(&d, 0.0) == 1);
  assert_true(csv_dd_quantile_int(&d, 1.0) == 99);
  csv_dd_free(&d);
}

/* HyperLogLog across the exact-to-sketch switch and far beyond. */
static void t_distinct_bound(void **s) {
  (void)s;
  static const int sizes[] = {100, 4096, 4097, 6000, 20000, 200000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    csv_distinct d = {0};
    for (int i = 0; i < sizes[k]; i++) {
      char key[32];
      int n = snprintf(key, sizeof key, "v%d", i);
      csv_distinct_add(&d, csv_hash(key, (size_t)n));
      csv_distinct_add(&d, csv_hash(key, (size_t)n)); /* duplicates */
    }
    int exact;
    double e = csv_distinct_estimate(&d, &exact);
    if (sizes[k] <= CSV_DISTINCT_EXACT) {
      assert_true(exact);
      assert_true(e == sizes[k]);
    } else {
      assert_false(exact);
      double se = 1.04 / sqrt((double)(1u << CSV_HLL_P));
      assert_true(fabs(e - sizes[k]) <= 3 * se * sizes[k]);
    }
    csv_distinct_free(&d);
  }
}

/* Misra-Gries: true count within [count, count + err]; absent values occur
 * at most err times; merged summaries keep the bound. */
static void t_topk_bound(void **s) {
  (void)s;
  enum { V = 500, N = 60000 };
  static uint64_t truth[V];
  memset(truth, 0, sizeof truth);
  csv_topk *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  for (int i = 0; i < N; i++) {
    int x = (int)(pow(unif(), 3) * V); /* skewed */
    truth[x]++;
    char key[16];
    int n = snprintf(key, sizeof key, "k%d", x);
    csv_topk_add(i % 3 ? a : b, csv_hash(key, (size_t)n), key, (size_t)n);
  }
  csv_topk_merge(a, b);
  assert_true(a->err > 0 && a->err <= N / (CSV_TOPK + 1) * 2);
  for (int x = 0; x < V; x++) {
    char key[16];
    int n = snprintf(key, sizeof key, "k%d", x);
    uint64_t h = csv_hash(key, (size_t)n), est = 0;
    for (uint32_t j = 0; j < a->n; j++)
      if (a->e[j].hash == h) est = a->e[j].count;
    assert_true(est <= truth[x]);
    assert_true(truth[x] <= est + a->err);
  }
  csv_topk_sort(a);
  assert_string_equal(a->e[0].key, "k0");
  free(a);
  free(b);
}

static void t_report_schema_and_html(void **s) {
  (void)s;
  csv_buf b = make_csv(500);
  char *html = NULL;
  json_object *rep = tu_report(b.p, b.len, NULL, &html);
  static const char *req[] = {
      "format",  "source",          "dialect",    "rows",
      "columns", "ragged_rows",     "warnings",   "summary",
      "methods", "column_profiles", "correlation"};
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
    assert_non_null(tu_path(rep, req[i]));
  assert_string_equal(json_object_get_string(tu_path(rep, "format")),
                      "assistd.csv-report/1");
  assert_int_equal(tu_num(rep, "columns"), 7);
  assert_int_equal(json_object_array_length(tu_path(rep, "column_profiles")),
                   7);
  for (size_t i = 0; i < 7; i++) {
    json_object *c = tu_col(rep, i);
    assert_non_null(tu_path(c, "name"));
    assert_non_null(tu_path(c, "type"));
    assert_non_null(tu_path(c, "distinct.relative_standard_error"));
  }
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 0), "type")),
                      "float");
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 5), "type")),
                      "text");
  assert_string_equal(json_object_get_string(tu_path(tu_col(rep, 6), "type")),
                      "date");
  const char *sum = json_object_get_string(tu_path(rep, "summary"));
  assert_non_null(strstr(sum, "500 rows"));
  assert_non_null(strstr(sum, "strongly positively correlated"));
  assert_non_null(strstr(html, "<svg"));
  assert_non_null(strstr(html, "correlation heat map"));
  assert_non_null(strstr(html, "histogram"));
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "http://"));
  free(html);
  json_object_put(rep);
  csv_buf_free(&b);
}

static int setup(void **s) {
  (void)s;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/csvstatsXXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **s) {
  (void)s;
  char p[128];
  snprintf(p, sizeof p, "%s/stats.py", tmpdir);
  unlink(p);
  return rmdir(tmpdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_against_python),
      cmocka_unit_test(t_chunked_equals_single),
      cmocka_unit_test(t_profile_equals_plain),
      cmocka_unit_test(t_quantile_bound),
      cmocka_unit_test(t_quantile_integers_exact),
      cmocka_unit_test(t_distinct_bound),
      cmocka_unit_test(t_topk_bound),
      cmocka_unit_test(t_report_schema_and_html),
  };
  return cmocka_run_group_tests_name("csv_stats", tests, setup, teardown);
}
