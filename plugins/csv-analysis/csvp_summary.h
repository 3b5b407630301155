/*
 * csvp_summary.h: the seam where the report's plain-language summary is
 * written. The option `summary_provider` names a provider; "builtin" keeps
 * the engine's summary (csv_summary.c, built from the statistics alone). A
 * later provider (an LLM behind the host's outbound HTTP) is added to the
 * table in csvp_summary.c and selected by that option; nothing else in the
 * plugin changes.
 *
 * What a provider may see: the finished csv_result (figures only: counts,
 * moments, quantiles, top values, histograms, correlations), never raw rows,
 * which do not exist outside the engine's chunk workers.
 */
#ifndef CSVP_SUMMARY_H
#define CSVP_SUMMARY_H

#include "csv_engine.h"

#include <assist/plugin.h>

/** text: borrowed for the call; NULL keeps the engine's summary. status is
 * 0 or a negative error (then the engine's summary is kept as well). */
typedef void (*csvp_summary_done_cb)(void *ctx, int status, const char *text);

typedef struct csvp_summary_provider {
  const char *name; /* the option value */
  /**
   * Runs on the loop thread once the statistics are final. r is borrowed
   * until done() has been called; done must be called exactly once,
   * possibly later (from a loop callback). Blocking work goes through
   * host->queue_work like everything else. Returns 0, or an error (then
   * done is not called and the builtin summary is kept).
   */
  int (*summarize)(const assist_host_api_t *host, assist_instance_t *inst,
                   const csv_result *r, csvp_summary_done_cb done, void *ctx);
} csvp_summary_provider_t;

/** NULL-terminated list of provider names, for the option's enum. */
extern const char *const csvp_summary_provider_names[];

/** The provider called name, or NULL. */
const csvp_summary_provider_t *csvp_summary_provider_find(const char *name);

#endif
