/* Helpers shared by the csv-analysis unit tests. */
#ifndef CSV_TEST_UTIL_H
#define CSV_TEST_UTIL_H

#include "csv_internal.h"

#include <json-c/json.h>

/* Records of data (after the header) as "f1|f2/f1|f2/". Fails the test if
 * opening fails. *docp (optional) receives the open doc. */
char *tu_records(const char *data, size_t len, const csv_options *o,
                 csv_doc **docp);
/* Profiles data (1 thread) and returns the parsed report.json. */
json_object *tu_report(const char *data, size_t len, const csv_options *o,
                       char **html);
/* Warning object with this code, or NULL. */
json_object *tu_warning(json_object *report, const char *code);
json_object *tu_col(json_object *report, size_t i);
json_object *tu_path(json_object *o, const char *path); /* "a.b.c" */
double tu_num(json_object *o, const char *path);

#endif
