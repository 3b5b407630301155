/*
 * csvp_summary.c: summary providers. "builtin" keeps the engine's summary,
 * which csv_finish() already wrote from the statistics.
 */
#include "csvp_summary.h"

#include <string.h>

static int builtin_summarize(const assist_host_api_t *host,
                             assist_instance_t *inst, const csv_result *r,
                             csvp_summary_done_cb done, void *ctx) {
  (void)host;
  (void)inst;
  (void)r;
  done(ctx, 0, NULL);
  return 0;
}

static const csvp_summary_provider_t providers[] = {
    {"builtin", builtin_summarize},
};

const char *const csvp_summary_provider_names[] = {"builtin", NULL};

const csvp_summary_provider_t *csvp_summary_provider_find(const char *name) {
  for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
    if (name && strcmp(providers[i].name, name) == 0) return &providers[i];
  return NULL;
}
