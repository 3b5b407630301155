/* lazylib.c: see lazylib.h. */
#include "lazylib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static void load_locked(lazylib_t *l) {
  void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(l->err, sizeof l->err, "%s needs %s: %s", l->needed_by, l->soname,
             dlerror());
    atomic_store_explicit(&l->state, -1, memory_order_release);
    return;
  }
  for (size_t i = 0; i < l->n; i++) {
    l->slots[i] = dlsym(h, l->names[i]);
    if (!l->slots[i]) {
      snprintf(l->err, sizeof l->err, "%s needs %s: symbol %s not found",
               l->needed_by, l->soname, l->names[i]);
      dlclose(h);
      atomic_store_explicit(&l->state, -1, memory_order_release);
      return;
    }
  }
  atomic_store_explicit(&l->state, 1, memory_order_release);
}

/* The libraries of curl_lazy.c and pq_lazy.c, and libical, which only
 * plugins link. */
static const char *const pinned[] = {"libcurl.so.4", "libpq.so.5",
                                     "libical.so.3"};

void lazylib_pin_loaded(void) {
  for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
    void *h = dlopen(pinned[i], RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (h) dlclose(h); /* RTLD_NODELETE stays on the library */
  }
}

int lazylib_load(lazylib_t *l, const char **err) {
  int st = atomic_load_explicit(&l->state, memory_order_acquire);
  if (st == 0) {
    pthread_mutex_lock(&l->mu);
    if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0)
      load_locked(l);
    pthread_mutex_unlock(&l->mu);
    st = atomic_load_explicit(&l->state, memory_order_acquire);
  }
  if (st > 0) return 0;
  if (err) *err = l->err;
  return -ELIBACC;
}

void *lazylib_sym(lazylib_t *l, size_t i) {
  const char *err;
  if (atomic_load_explicit(&l->state, memory_order_acquire) <= 0 &&
      lazylib_load(l, &err) < 0) {
    fprintf(stderr, "assistd: %s\n", err);
    abort();
  }
  return l->slots[i];
}
