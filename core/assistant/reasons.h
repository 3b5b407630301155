/*
 * reasons.h: the plan-reason dictionary (schema 0006). Every decision
 * refers to its reason text by id in plan_reasons. A reason's id never
 * changes and its row is never deleted, so a text -> id cache filled from
 * the database stays right for the life of the store (it is per
 * assistant, on the loop thread).
 */
#ifndef ASSIST_REASONS_H
#define ASSIST_REASONS_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct reasons reasons_t;

reasons_t *reasons_new(void);
void reasons_free(reasons_t *c);

/** The id of text[0..len), or 0 when the cache does not know it. */
int64_t reasons_id(const reasons_t *c, const char *text, size_t len);
/** Remembers text[0..len) -> id (copied). A full cache starts over. */
void reasons_put(reasons_t *c, const char *text, size_t len, int64_t id);

/** Appends to r two statements that store text[0..len) (copied) unless
 * it is there and read its id: the second one's result has one row, the
 * id in column 0. */
void reasons_req_resolve(store_req_t *r, const char *text, size_t len);

/** SQL: the reason text of notifications row "n" (for SELECT lists):
 * "(SELECT text FROM plan_reasons WHERE id = n.reason_id)". */
#define REASON_TEXT_OF(n)                                                      \
  "(SELECT text FROM plan_reasons WHERE id = " n ".reason_id)"

#endif
