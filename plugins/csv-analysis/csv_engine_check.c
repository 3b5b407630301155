/*
 * csv_engine_check.c: a symbol that pulls the whole engine into a shared
 * module linked with -Wl,--no-undefined, so the build fails if the engine
 * ever needs a symbol beyond libc, libm and pthreads.
 */
#include "csv_engine.h"

#include <stdlib.h>

__attribute__((visibility("default"))) int csv_engine_check(const void *data,
                                                            size_t len) {
  csv_doc *doc;
  int rc = csv_doc_open_mem(data, len, NULL, &doc);
  if (rc) return rc;
  csv_result *r;
  rc = csv_profile_run(doc, 1, NULL, NULL, &r);
  if (!rc) {
    char *s;
    if (!csv_render_json(r, &s, NULL)) free(s);
    if (!csv_render_html(r, &s, NULL)) free(s);
    csv_result_free(r);
  }
  csv_doc_free(doc);
  return rc;
}
