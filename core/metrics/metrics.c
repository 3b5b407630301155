#include "metrics.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
  struct series *next;
  char *labels;
  double value;     /* counter or gauge; histogram sum */
  uint64_t count;   /* histogram observations */
  uint64_t *bucket; /* histogram: per-bound cumulative counts at render */
} series_t;

struct metric {
  struct metric *next;
  metric_type_t type;
  char *name;
  char *help;
  double *bounds;
  size_t nbounds;
  series_t *series;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static metric_t *g_head, **g_tail = &g_head;

const double metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025,  0.05,  0.1,    0.25,  0.5,
                                          1,      2.5,   5,      10};
const size_t metrics_latency_nbuckets =
    sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0];

metric_t *metrics_family(metric_type_t type, const char *name,
                         const char *help, const double *buckets,
                         size_t nbuckets) {
  pthread_mutex_lock(&g_lock);
  metric_t *m;
  for (m = g_head; m; m = m->next) {
    if (strcmp(m->name, name) == 0) {
      pthread_mutex_unlock(&g_lock);
      return m->type == type ? m : NULL;
    }
  }
  m = xcalloc(1, sizeof *m);
  m->type = type;
  m->name = xstrdup(name);
  m->help = xstrdup(help ? help : "");
  if (type == METRIC_HISTOGRAM) {
    if (!buckets) {
      buckets = metrics_latency_buckets;
      nbuckets = metrics_latency_nbuckets;
    }
    m->bounds = xmalloc(nbuckets * sizeof *m->bounds);
    memcpy(m->bounds, buckets, nbuckets * sizeof *m->bounds);
    m->nbounds = nbuckets;
  }
  *g_tail = m;
  g_tail = &m->next;
  pthread_mutex_unlock(&g_lock);
  return m;
}

/* Caller holds g_lock. */
static series_t *series_get(metric_t *m, const char *labels) {
  if (!labels) labels = "";
  for (series_t *s = m->series; s; s = s->next)
    if (strcmp(s->labels, labels) == 0) return s;
  series_t *s = xcalloc(1, sizeof *s);
  s->labels = xstrdup(labels);
  if (m->type == METRIC_HISTOGRAM)
    s->bucket = xcalloc(m->nbounds, sizeof *s->bucket);
  /* Append so output order is creation order. */
  series_t **p = &m->series;
  while (*p) p = &(*p)->next;
  *p = s;
  return s;
}

void metric_add(metric_t *m, const char *labels, double v) {
  if (!m) return;
  pthread_mutex_lock(&g_lock);
  series_get(m, labels)->value += v;
  pthread_mutex_unlock(&g_lock);
}

void metric_set(metric_t *m, const char *labels, double v) {
  if (!m) return;
  pthread_mutex_lock(&g_lock);
  series_get(m, labels)->value = v;
  pthread_mutex_unlock(&g_lock);
}

void metric_observe(metric_t *m, const char *labels, double v) {
  if (!m || m->type != METRIC_HISTOGRAM) return;
  pthread_mutex_lock(&g_lock);
  series_t *s = series_get(m, labels);
  s->value += v;
  s->count++;
  for (size_t i = 0; i < m->nbounds; i++) {
    if (v <= m->bounds[i]) {
      s->bucket[i]++;
      break;
    }
  }
  pthread_mutex_unlock(&g_lock);
}

double metric_value(metric_t *m, const char *labels) {
  if (!m) return 0;
  if (!labels) labels = "";
  double v = 0;
  pthread_mutex_lock(&g_lock);
  for (series_t *s = m->series; s; s = s->next)
    if (strcmp(s->labels, labels) == 0) v = s->value;
  pthread_mutex_unlock(&g_lock);
  return v;
}

metric_type_t metric_type(const metric_t *m) {
  return m->type;
}

static void put_num(buf_t *out, double v) {
  if (isinf(v))
    buf_puts(out, v > 0 ? "+Inf" : "-Inf");
  else if (v == (double)(long long)v && fabs(v) < 1e15)
    buf_printf(out, "%lld", (long long)v);
  else {
    /* Shortest form that reads back as the same double. */
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) snprintf(tmp, sizeof tmp, "%.17g", v);
    buf_puts(out, tmp);
  }
}

static void put_series(buf_t *out, const char *name, const char *suffix,
                       const char *labels, const char *extra, double v) {
  buf_printf(out, "%s%s", name, suffix);
  int has = labels && labels[0];
  if (has || extra) {
    buf_printf(out, "{%s%s%s}", has ? labels : "", has && extra ? "," : "",
               extra ? extra : "");
  }
  buf_puts(out, " ");
  put_num(out, v);
  buf_puts(out, "\n");
}

void metrics_render(buf_t *out) {
  static const char *const type_names[] = {"", "counter", "gauge",
                                           "histogram"};
  pthread_mutex_lock(&g_lock);
  for (metric_t *m = g_head; m; m = m->next) {
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
               type_names[m->type]);
    for (series_t *s = m->series; s; s = s->next) {
      if (m->type != METRIC_HISTOGRAM) {
        put_series(out, m->name, "", s->labels, NULL, s->value);
        continue;
      }
      uint64_t cum = 0;
      for (size_t i = 0; i < m->nbounds; i++) {
        cum += s->bucket[i];
        char le[48] = "le=\"";
        buf_t tmp = {0};
        put_num(&tmp, m->bounds[i]);
        snprintf(le + 4, sizeof le - 4, "%s\"", tmp.data);
        buf_free(&tmp);
        put_series(out, m->name, "_bucket", s->labels, le, (double)cum);
      }
      put_series(out, m->name, "_bucket", s->labels, "le=\"+Inf\"",
                 (double)s->count);
      put_series(out, m->name, "_sum", s->labels, NULL, s->value);
      put_series(out, m->name, "_count", s->labels, NULL, (double)s->count);
    }
  }
  pthread_mutex_unlock(&g_lock);
}

void metrics_reset(void) {
  pthread_mutex_lock(&g_lock);
  for (metric_t *m = g_head, *next; m; m = next) {
    next = m->next;
    for (series_t *s = m->series, *sn; s; s = sn) {
      sn = s->next;
      free(s->labels);
      free(s->bucket);
      free(s);
    }
    free(m->name);
    free(m->help);
    free(m->bounds);
    free(m);
  }
  g_head = NULL;
  g_tail = &g_head;
  pthread_mutex_unlock(&g_lock);
}
