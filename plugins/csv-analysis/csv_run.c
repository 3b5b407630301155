/*
 * csv_run.c: the whole pipeline with N pthreads. This is the sequence a
 * plugin runs from its thread-pool work items: plan, one profile per chunk
 * (in parallel), verify the boundaries (re-plan the rest if a quoted
 * newline fooled the planner), merge in order, finish.
 */
#include "csv_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 64

typedef struct task {
  const csv_doc *doc;
  const csv_chunk *chunk;
  csv_progress *progress;
  const atomic_int *cancel;
  csv_partial *out;
  int rc;
} task;

static void *task_run(void *ud) {
  task *t = ud;
  t->rc = csv_profile_chunk(t->doc, t->chunk, t->progress, t->cancel, &t->out);
  return NULL;
}

int csv_profile_run(const csv_doc *doc, unsigned nthreads,
                    csv_progress *progress, const atomic_int *cancel,
                    csv_result **out) {
  *out = NULL;
  if (!nthreads) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = n > 0 ? (unsigned)n : 1;
  }
  if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
  csv_chunk chunks[MAX_THREADS];
  task tasks[MAX_THREADS];
  pthread_t th[MAX_THREADS];
  csv_partial *acc = NULL;
  uint64_t from = doc->data_start;
  int rc = 0;
  for (;;) {
    unsigned k = 0;
    rc = csv_plan(doc, from, nthreads, 0, chunks, &k);
    if (rc) break;
    int started[MAX_THREADS] = {0};
    for (unsigned i = 0; i < k; i++) {
      tasks[i] = (task){doc, &chunks[i], progress, cancel, NULL, 0};
      if (i > 0 && pthread_create(&th[i], NULL, task_run, &tasks[i]) == 0)
        started[i] = 1;
    }
    task_run(&tasks[0]);
    for (unsigned i = 1; i < k; i++) {
      if (started[i])
        pthread_join(th[i], NULL);
      else
        task_run(&tasks[i]);
    }
    csv_partial *parts[MAX_THREADS];
    for (unsigned i = 0; i < k; i++) {
      parts[i] = tasks[i].out;
      if (tasks[i].rc && !rc) rc = tasks[i].rc;
    }
    unsigned good = 0;
    uint64_t resume = 0;
    if (!rc) good = csv_plan_verify(chunks, parts, k, &resume);
    for (unsigned i = 0; i < k; i++) {
      if (!rc && i < good) {
        if (!acc) {
          acc = parts[i];
          parts[i] = NULL;
        } else {
          rc = csv_merge(acc, parts[i]);
        }
      } else if (parts[i] && progress) {
        atomic_fetch_sub(&progress->bytes, parts[i]->bytes);
        atomic_fetch_sub(&progress->rows, parts[i]->rows);
      }
      csv_partial_free(parts[i]);
    }
    if (rc || good == k) break;
    from = resume;
  }
  if (!rc) rc = csv_finish(doc, acc, out);
  csv_partial_free(acc);
  return rc;
}
