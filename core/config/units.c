/*
 * units.c: sizes and durations.
 *
 * Size: a decimal integer, optional spaces, an optional unit, case-
 * insensitive: b; k, kb, kib; m, mb, mib; g, gb, gib; t, tb, tib. Every
 * multiplier is binary (k = kb = kib = 1024) so "16KB" means what an operator
 * sizing a buffer expects.
 *
 * Duration: a decimal integer, optional spaces, an optional unit: ms, s, m,
 * h, d. A bare number is milliseconds.
 *
 * Both return 0, -EINVAL (syntax) or -ERANGE (does not fit in 64 bits).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Parses leading digits. 0, -EINVAL (no digits) or -ERANGE. */
static int parse_digits(const char **sp, uint64_t *out) {
  const char *s = *sp;
  uint64_t v = 0;
  if (*s < '0' || *s > '9') return -EINVAL;
  int overflow = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      overflow = 1;
    else
      v = v * 10 + d;
  }
  *sp = s;
  *out = v;
  return overflow ? -ERANGE : 0;
}

static int scale(uint64_t v, uint64_t mult, uint64_t *out) {
  if (mult && v > UINT64_MAX / mult) return -ERANGE;
  *out = v * mult;
  return 0;
}

int parse_size(const char *s, uint64_t *out) {
  static const struct {
    const char *unit;
    uint64_t mult;
  } units[] = {
      {"", 1},
      {"b", 1},
      {"k", 1ull << 10},
      {"kb", 1ull << 10},
      {"kib", 1ull << 10},
      {"m", 1ull << 20},
      {"mb", 1ull << 20},
      {"mib", 1ull << 20},
      {"g", 1ull << 30},
      {"gb", 1ull << 30},
      {"gib", 1ull << 30},
      {"t", 1ull << 40},
      {"tb", 1ull << 40},
      {"tib", 1ull << 40},
  };
  if (!s) return -EINVAL;
  uint64_t v;
  int rc = parse_digits(&s, &v);
  if (rc == -EINVAL) return rc;
  const char *digits_end = s;
  while (*s == ' ') s++;
  if (s != digits_end && !*s) return -EINVAL; /* spaces only before a unit */
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(s, units[i].unit) == 0) {
      if (rc) return rc;
      return scale(v, units[i].mult, out);
    }
  }
  return -EINVAL;
}

int parse_duration_ms(const char *s, uint64_t *out) {
  static const struct {
    const char *unit;
    uint64_t mult;
  } units[] = {
      {"", 1},          {"ms", 1},          {"s", 1000},
      {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
  };
  if (!s) return -EINVAL;
  uint64_t v;
  int rc = parse_digits(&s, &v);
  if (rc == -EINVAL) return rc;
  const char *digits_end = s;
  while (*s == ' ') s++;
  if (s != digits_end && !*s) return -EINVAL; /* spaces only before a unit */
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(s, units[i].unit) == 0) {
      if (rc) return rc;
      return scale(v, units[i].mult, out);
    }
  }
  return -EINVAL;
}
