/* reasons.c: the plan-reason dictionary (reasons.h). */
#include "assistant/reasons.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

/* Beyond this many texts (the planner makes a few hundred) the cache is
 * emptied and fills again from the database: bounded memory whatever the
 * preferences people choose. */
#define REASONS_MAX 16384

typedef struct {
  char *text; /* NULL: empty slot */
  size_t len;
  uint64_t hash;
  int64_t id;
} slot_t;

struct reasons {
  slot_t *slots;
  size_t cap, n; /* cap: a power of two, at least 2n */
};

static const store_stmt_t q_store = {
    "reasons.store",
    "INSERT INTO plan_reasons (text) VALUES ($1) ON CONFLICT (text) DO NOTHING",
    NULL};
static const store_stmt_t q_id = {
    "reasons.id", "SELECT id FROM plan_reasons WHERE text = $1", NULL};

static uint64_t hash_of(const char *s, size_t n) { /* FNV-1a */
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h;
}

reasons_t *reasons_new(void) {
  return xcalloc(1, sizeof(reasons_t));
}

static void clear(reasons_t *c) {
  for (size_t i = 0; i < c->cap; i++) free(c->slots[i].text);
  free(c->slots);
  c->slots = NULL;
  c->cap = c->n = 0;
}

void reasons_free(reasons_t *c) {
  if (!c) return;
  clear(c);
  free(c);
}

static slot_t *find(const reasons_t *c, const char *t, size_t len, uint64_t h) {
  size_t i = (size_t)h & (c->cap - 1);
  for (;; i = (i + 1) & (c->cap - 1)) {
    slot_t *s = &c->slots[i];
    if (!s->text ||
        (s->hash == h && s->len == len && memcmp(s->text, t, len) == 0))
      return s;
  }
}

int64_t reasons_id(const reasons_t *c, const char *text, size_t len) {
  if (!c->n) return 0;
  slot_t *s = find(c, text, len, hash_of(text, len));
  return s->text ? s->id : 0;
}

static void grow(reasons_t *c) {
  reasons_t n = {.cap = c->cap ? c->cap * 2 : 256};
  n.slots = xcalloc(n.cap, sizeof *n.slots);
  for (size_t i = 0; i < c->cap; i++)
    if (c->slots[i].text)
      *find(&n, c->slots[i].text, c->slots[i].len, c->slots[i].hash) =
          c->slots[i];
  n.n = c->n;
  free(c->slots);
  *c = n;
}

void reasons_put(reasons_t *c, const char *text, size_t len, int64_t id) {
  if (c->n >= REASONS_MAX) clear(c);
  if ((c->n + 1) * 2 > c->cap) grow(c);
  uint64_t h = hash_of(text, len);
  slot_t *s = find(c, text, len, h);
  if (!s->text) {
    s->text = xstrndup(text, len);
    s->len = len;
    s->hash = h;
    c->n++;
  }
  s->id = id;
}

void reasons_req_resolve(store_req_t *r, const char *text, size_t len) {
  store_req_stmt(r, &q_store);
  store_req_bind_textn(r, text, len);
  store_req_stmt(r, &q_id);
  store_req_bind_textn(r, text, len);
}
