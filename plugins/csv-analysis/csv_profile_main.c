/*
 * csv-profile: profiles a CSV file with the csv-analysis engine, through the
 * exact path the plugin uses (csv_doc_open_file + csv_profile_run), and
 * writes report.json and report.html.
 *
 *   csv-profile [-j THREADS] [-o DIR] [-d DELIM] [-H|-N] [-q] FILE
 */
#include "csv_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *dir, const char *name, const char *data,
                      size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "csv-profile: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t w = fwrite(data, 1, len, f);
  int rc = fclose(f);
  if (w != len || rc) {
    fprintf(stderr, "csv-profile: %s: write failed\n", path);
    return -1;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: csv-profile [-j THREADS] [-o DIR] [-d DELIM] [-H|-N] [-q] "
          "FILE\n"
          "  -j N   worker threads (default: online CPUs)\n"
          "  -o DIR where report.json and report.html go (default .)\n"
          "  -d C   delimiter (, ; | or t for TAB; default: sniffed)\n"
          "  -H/-N  the file has / has no header row (default: sniffed)\n"
          "  -q     do not print the summary\n");
}

int main(int argc, char **argv) {
  unsigned threads = 0;
  const char *dir = ".";
  int quiet = 0, opt;
  csv_options o;
  csv_options_init(&o);
  while ((opt = getopt(argc, argv, "j:o:d:HNqh")) != -1) {
    switch (opt) {
    case 'j':
      threads = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'o':
      dir = optarg;
      break;
    case 'd':
      o.delimiter = optarg[0] == 't' ? '\t' : optarg[0];
      break;
    case 'H':
      o.has_header = 1;
      break;
    case 'N':
      o.has_header = 0;
      break;
    case 'q':
      quiet = 1;
      break;
    default:
      usage();
      return opt == 'h' ? 0 : 2;
    }
  }
  if (optind + 1 != argc) {
    usage();
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  csv_doc *doc;
  int rc = csv_doc_open_file(argv[optind], &o, &doc);
  if (rc) {
    fprintf(stderr, "csv-profile: %s: %s\n", argv[optind],
            rc == -ENOENT ? strerror(ENOENT) : csv_strerror(rc));
    return 1;
  }
  csv_progress progress;
  atomic_init(&progress.bytes, 0);
  atomic_init(&progress.rows, 0);
  csv_result *r;
  rc = csv_profile_run(doc, threads, &progress, NULL, &r);
  csv_doc_free(doc);
  if (rc) {
    fprintf(stderr, "csv-profile: %s\n", csv_strerror(rc));
    return 1;
  }
  char *json = NULL, *html = NULL;
  size_t jl = 0, hl = 0;
  rc = csv_render_json(r, &json, &jl);
  if (!rc) rc = csv_render_html(r, &html, &hl);
  if (rc) {
    fprintf(stderr, "csv-profile: %s\n", csv_strerror(rc));
    csv_result_free(r);
    return 1;
  }
  int bad = write_file(dir, "report.json", json, jl) ||
            write_file(dir, "report.html", html, hl);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!quiet) printf("%s\n", csv_result_summary(r));
  fprintf(stderr, "csv-profile: %llu rows, %llu bytes in %.3f s\n",
          (unsigned long long)csv_result_rows(r),
          (unsigned long long)atomic_load(&progress.bytes),
          (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  free(json);
  free(html);
  csv_result_free(r);
  return bad ? 1 : 0;
}
