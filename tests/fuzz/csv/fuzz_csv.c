/*
 * libFuzzer harness for the csv-analysis engine: sniff + reader + statistics
 * + report rendering over a memory buffer. The first byte picks options
 * (forced delimiter/header, several chunks) so the chunk planner, the
 * boundary verification and the merge are reached too.
 */
#include "csv_engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t ctl = data[0];
  data++;
  size--;
  csv_options o;
  csv_options_init(&o);
  o.allow_binary = ctl & 1;
  if (ctl & 2) o.has_header = (ctl >> 2) & 1;
  static const char delims[] = {0, ',', ';', '\t', '|', 0, 0, 0};
  o.delimiter = delims[(ctl >> 3) & 7];
  csv_doc *doc = NULL;
  if (csv_doc_open_mem(data, size, &o, &doc)) return 0;
  unsigned n = 1 + (ctl >> 6);
  csv_chunk ch[4];
  unsigned k = 0;
  csv_partial *acc = NULL;
  uint64_t from = 0;
  for (int round = 0; round < 64; round++) {
    if (csv_plan(doc, from, n, 16, ch, &k)) goto out;
    csv_partial *parts[4] = {0};
    int bad = 0;
    for (unsigned i = 0; i < k; i++)
      if (csv_profile_chunk(doc, &ch[i], NULL, NULL, &parts[i])) bad = 1;
    uint64_t resume = 0;
    unsigned good = bad ? 0 : csv_plan_verify(ch, parts, k, &resume);
    for (unsigned i = 0; i < k; i++) {
      if (i < good) {
        if (!acc) {
          acc = parts[i];
          parts[i] = NULL;
        } else {
          csv_merge(acc, parts[i]);
        }
      }
      csv_partial_free(parts[i]);
    }
    if (bad) goto out;
    if (good == k) break;
    if (resume <= from) abort(); /* no progress: would hang */
    from = resume;
  }
  if (acc) {
    csv_result *r = NULL;
    if (!csv_finish(doc, acc, &r)) {
      char *s = NULL;
      size_t len = 0;
      if (!csv_render_json(r, &s, &len)) {
        if (strlen(s) != len) abort(); /* no NUL may leak into the JSON */
        free(s);
      }
      if (!csv_render_html(r, &s, &len)) free(s);
      csv_result_free(r);
    }
  }
out:
  csv_partial_free(acc);
  csv_doc_free(doc);
  return 0;
}
