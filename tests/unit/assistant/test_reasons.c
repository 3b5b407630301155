/* The plan-reason cache (core/assistant/reasons.c): texts -> ids, growth,
 * and the bound past which it starts over. */
#include "assistant/reasons.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_put_and_find(void **state) {
  (void)state;
  reasons_t *c = reasons_new();
  assert_int_equal(reasons_id(c, "24h before", 10), 0);
  reasons_put(c, "24h before; email", 17, 7);
  assert_int_equal(reasons_id(c, "24h before; email", 17), 7);
  /* a prefix, or the same bytes with a different length, is another text */
  assert_int_equal(reasons_id(c, "24h before", 10), 0);
  assert_int_equal(reasons_id(c, "24h before; email!", 17), 7);
  assert_int_equal(reasons_id(c, "24h before; email!", 18), 0);
  reasons_put(c, "24h before; email", 17, 9); /* a later id wins */
  assert_int_equal(reasons_id(c, "24h before; email", 17), 9);
  reasons_free(c);
}

/* Many texts: every one keeps its id through the table's growth; past
 * the bound the cache empties and fills again. */
static void test_growth_and_bound(void **state) {
  (void)state;
  reasons_t *c = reasons_new();
  char t[32];
  for (int i = 1; i <= 16384; i++) {
    int n = snprintf(t, sizeof t, "reason %d", i);
    reasons_put(c, t, (size_t)n, i);
  }
  for (int i = 1; i <= 16384; i++) {
    int n = snprintf(t, sizeof t, "reason %d", i);
    assert_int_equal(reasons_id(c, t, (size_t)n), i);
  }
  reasons_put(c, "one more", 8, 99999);
  assert_int_equal(reasons_id(c, "one more", 8), 99999);
  assert_int_equal(reasons_id(c, "reason 1", 8), 0);
  reasons_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_and_find),
      cmocka_unit_test(test_growth_and_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
