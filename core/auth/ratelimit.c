/* ratelimit.c: failed sign-ins per key (an account or a client address)
 * in a sliding window, in memory. Each key keeps the times of its last
 * max_failures failures in a ring; the key trips when the oldest of them
 * is still inside the window. The table holds at most max_keys keys:
 * when full, keys with nothing recent are swept, then the least recently
 * touched key goes. Lockouts that must survive a restart are written to
 * the database by the caller. */
#include "auth_int.h"

#include "../common/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct lim_entry {
  struct lim_entry *next;
  int64_t touched;
  int64_t locked_until;
  unsigned count, head; /* failures held, next ring slot */
  int64_t *ring;        /* max_failures times */
  char key[];
} lim_entry_t;

struct auth_limiter {
  unsigned max;
  int64_t window;
  size_t max_keys, n, nbuckets;
  lim_entry_t **buckets;
};

auth_limiter_t *auth_limiter_new(unsigned max_failures, int64_t window_ms,
                                 size_t max_keys) {
  auth_limiter_t *l = xcalloc(1, sizeof *l);
  l->max = max_failures ? max_failures : 1;
  l->window = window_ms;
  l->max_keys = max_keys ? max_keys : 1;
  l->nbuckets = 1024;
  l->buckets = xcalloc(l->nbuckets, sizeof *l->buckets);
  return l;
}

static void entry_free(lim_entry_t *e) {
  free(e->ring);
  free(e);
}

void auth_limiter_free(auth_limiter_t *l) {
  if (!l) return;
  for (size_t i = 0; i < l->nbuckets; i++) {
    lim_entry_t *e = l->buckets[i];
    while (e) {
      lim_entry_t *n = e->next;
      entry_free(e);
      e = n;
    }
  }
  free(l->buckets);
  free(l);
}

size_t auth_limiter_size(const auth_limiter_t *l) {
  return l->n;
}

static lim_entry_t **slot(auth_limiter_t *l, const char *key) {
  lim_entry_t **p = &l->buckets[auth_hash64(key) % l->nbuckets];
  while (*p && strcmp((*p)->key, key) != 0) p = &(*p)->next;
  return p;
}

static int entry_live(const auth_limiter_t *l, const lim_entry_t *e,
                      int64_t now) {
  if (e->locked_until > now) return 1;
  if (e->count == 0) return 0;
  unsigned last = (e->head + l->max - 1) % l->max;
  return now - e->ring[last] < l->window;
}

static void grow(auth_limiter_t *l) {
  size_t nb = l->nbuckets * 2;
  lim_entry_t **b = xcalloc(nb, sizeof *b);
  for (size_t i = 0; i < l->nbuckets; i++) {
    lim_entry_t *e = l->buckets[i];
    while (e) {
      lim_entry_t *n = e->next;
      size_t k = auth_hash64(e->key) % nb;
      e->next = b[k];
      b[k] = e;
      e = n;
    }
  }
  free(l->buckets);
  l->buckets = b;
  l->nbuckets = nb;
}

/* Makes room for one more key. */
static void make_room(auth_limiter_t *l, int64_t now) {
  lim_entry_t **oldest = NULL;
  for (size_t i = 0; i < l->nbuckets; i++) {
    lim_entry_t **p = &l->buckets[i];
    while (*p) {
      if (!entry_live(l, *p, now)) {
        lim_entry_t *e = *p;
        *p = e->next;
        entry_free(e);
        l->n--;
        continue;
      }
      if (!oldest || (*p)->touched < (*oldest)->touched) oldest = p;
      p = &(*p)->next;
    }
  }
  if (l->n >= l->max_keys && oldest) {
    lim_entry_t *e = *oldest;
    *oldest = e->next;
    entry_free(e);
    l->n--;
  }
}

int auth_limiter_fail(auth_limiter_t *l, const char *key, int64_t now,
                      int64_t locked_until) {
  lim_entry_t **p = slot(l, key);
  if (!*p) {
    if (l->n >= l->max_keys) {
      make_room(l, now);
      p = slot(l, key);
    }
    if (l->n >= l->nbuckets * 2) {
      grow(l);
      p = slot(l, key);
    }
    size_t kl = strlen(key);
    lim_entry_t *e = xcalloc(1, sizeof *e + kl + 1);
    e->ring = xcalloc(l->max, sizeof *e->ring);
    memcpy(e->key, key, kl + 1);
    *p = e;
    l->n++;
  }
  lim_entry_t *e = *p;
  e->touched = now;
  e->ring[e->head] = now;
  e->head = (e->head + 1) % l->max;
  if (e->count < l->max) e->count++;
  if (e->count < l->max) return 0;
  /* Full ring: head is now the oldest of the last max failures. */
  if (now - e->ring[e->head] >= l->window) return 0;
  e->count = 0;
  e->head = 0;
  e->locked_until = locked_until;
  return 1;
}

int64_t auth_limiter_locked(auth_limiter_t *l, const char *key, int64_t now) {
  lim_entry_t *e = *slot(l, key);
  return e && e->locked_until > now ? e->locked_until : 0;
}

void auth_limiter_reset(auth_limiter_t *l, const char *key) {
  lim_entry_t **p = slot(l, key);
  if (!*p) return;
  lim_entry_t *e = *p;
  *p = e->next;
  entry_free(e);
  l->n--;
}
