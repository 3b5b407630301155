/*
 * metrics.h: one process-wide registry, rendered in Prometheus text format.
 *
 * A family has a name, help, type and (for histograms) bucket bounds; its
 * series are keyed by a preformatted label string such as
 * `route="/health",status="200"`. Updates are thread-safe (one mutex; the
 * hot path touches a handful of series). Families live until metrics_reset.
 */
#ifndef ASSIST_METRICS_H
#define ASSIST_METRICS_H

#include "../common/buf.h"

#include <stddef.h>

typedef enum {
  METRIC_COUNTER = 1,
  METRIC_GAUGE,
  METRIC_HISTOGRAM,
} metric_type_t;

typedef struct metric metric_t;

/** Finds or creates a family. Returns NULL if name exists with another type.
 * buckets: copied; ascending upper bounds (without +Inf). */
metric_t *metrics_family(metric_type_t type, const char *name,
                         const char *help, const double *buckets,
                         size_t nbuckets);
/** labels: borrowed; NULL or "" for none. */
void metric_add(metric_t *m, const char *labels, double v);
void metric_set(metric_t *m, const char *labels, double v);
void metric_observe(metric_t *m, const char *labels, double v);
/** Current value of a counter or gauge series (0 if absent); for tests. */
double metric_value(metric_t *m, const char *labels);
metric_type_t metric_type(const metric_t *m);

/** Appends the whole registry in Prometheus text exposition format. */
void metrics_render(buf_t *out);
/** Frees every family (at exit, and between tests). */
void metrics_reset(void);

/** Default latency buckets in seconds. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

#endif
