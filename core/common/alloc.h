/*
 * alloc.h: core allocation policy.
 *
 * Inside the core, small allocations abort on OOM (H2O's rule): a daemon
 * that cannot allocate a few bytes cannot do anything useful, and checking
 * every call hides real errors. Functions reachable from the plugin SDK
 * that allocate on behalf of a plugin return ASSIST_ENOMEM instead.
 */
#ifndef ASSIST_ALLOC_H
#define ASSIST_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/** printf into a fresh heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
