/*
 * csv_types.c: what one field is. Integer, float, boolean, date (ISO
 * YYYY-MM-DD or YYYY/MM/DD), datetime (date + [T ]HH:MM[:SS[.frac]] with an
 * optional Z or +hh:mm offset), missing (empty, NA, N/A, null, None, NaN,
 * #N/A), else text. Numbers use a fast exact path (Clinger: up to 19
 * significant digits and |exp10| <= 22 are correctly rounded by one multiply
 * or divide) and strtod otherwise.
 */
#include "csv_internal.h"

#include <stdlib.h>
#include <strings.h>

const char *const csv_type_names[CSV_T_COUNT] = {
    "integer", "float", "boolean", "date", "datetime", "text", "empty"};

static const double pow10tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int isdig(char c) {
  return (unsigned)(c - '0') < 10;
}

static double slow_strtod(const char *p, size_t n, char dec) {
  char tmp[128];
  char *s = n < sizeof tmp ? tmp : malloc(n + 1);
  if (!s) return 0.0;
  for (size_t i = 0; i < n; i++) s[i] = p[i] == dec ? '.' : p[i];
  s[n] = 0;
  double v = strtod(s, NULL);
  if (s != tmp) free(s);
  return v;
}

/* An exponent's digits after the 'e' at p[*ip - 1] (sign optional) added
 * to *dexp; 0 when it has no digits. */
static inline int read_exponent(const char *p, size_t n, size_t *ip,
                                int *dexp) {
  size_t i = *ip;
  int eneg = 0, e = 0, ed = 0;
  if (i < n && (p[i] == '+' || p[i] == '-')) eneg = p[i++] == '-';
  while (i < n && isdig(p[i])) {
    if (e < 100000) e = e * 10 + (p[i] - '0');
    ed++;
    i++;
  }
  *ip = i;
  *dexp += eneg ? -e : e;
  return ed != 0;
}

/* The double of mantissa m times 10^dexp (exact: m holds every digit),
 * else strtod's. */
static inline double to_double(const char *p, size_t n, char dec, uint64_t m,
                               int dexp, int neg, int exact) {
  if (exact && m <= (1ULL << 53) && dexp >= -22 && dexp <= 22) {
    double v = (double)m;
    v = dexp >= 0 ? v * pow10tab[dexp] : v / pow10tab[-dexp];
    return neg ? -v : v;
  }
  return slow_strtod(p, n, dec);
}

/* 1 if [p, p+n) is a number; *is_int when it has no fraction or exponent.
 * The general form: keeps the first 19 significant digits. */
static int parse_number_long(const char *p, size_t n, char dec, double *out,
                             int *is_int) {
  size_t i = 0;
  int neg = 0;
  if (p[0] == '+' || p[0] == '-') {
    neg = p[0] == '-';
    i++;
  }
  uint64_t m = 0;
  int nd = 0, dexp = 0, digits = 0, frac = 0, trunc = 0;
  while (i < n && isdig(p[i])) {
    if (nd < 19) {
      m = m * 10 + (uint64_t)(p[i] - '0');
      if (m) nd++;
    } else {
      dexp++;
      trunc = 1;
    }
    digits++;
    i++;
  }
  if (i < n && p[i] == dec) {
    frac = 1;
    i++;
    while (i < n && isdig(p[i])) {
      if (nd < 19) {
        m = m * 10 + (uint64_t)(p[i] - '0');
        if (m) nd++;
        dexp--;
      } else {
        trunc = 1;
      }
      digits++;
      i++;
    }
  }
  if (digits == 0) return 0;
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    frac = 1;
    i++;
    if (!read_exponent(p, n, &i, &dexp)) return 0;
  }
  if (i != n) return 0;
  *is_int = !frac && digits <= 18;
  *out = to_double(p, n, dec, m, dexp, neg, !trunc);
  return 1;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSV_SWAR_DIGITS 1
/* 1 if the 8 bytes of w (little-endian) are all ASCII digits. */
static inline int eight_digits(uint64_t w) {
  return !((w & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL) &&
         !(((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^
           0x3030303030303030ULL);
}
/* The value of 8 digit values (0-9) in the bytes of w, first byte most
 * significant (three multiplies). */
static inline uint64_t eight_value_of(uint64_t w) {
  w = (w * 10) + (w >> 8);
  w = (((w & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
       (((w >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
      32;
  return w;
}
/* The value of the 8 ASCII digits of w. */
static inline uint64_t eight_value(uint64_t w) {
  return eight_value_of(w - 0x3030303030303030ULL);
}
static const uint64_t pow10u[9] = {1,      10,      100,      1000,     10000,
                                   100000, 1000000, 10000000, 100000000};
#endif

/* Reads a run of digits at p[*i..n) into *m (m = m * 10 + digit each,
 * wrapping past 19 digits, which the caller then rejects). */
static inline void read_digits(const char *p, size_t n, size_t *ip,
                               uint64_t *mp) {
  size_t i = *ip;
  uint64_t m = *mp;
#ifdef CSV_SWAR_DIGITS
  while (i + 8 <= n) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (!eight_digits(w)) break;
    m = m * 100000000ULL + eight_value(w);
    i += 8;
  }
#endif
  while (i < n && isdig(p[i])) m = m * 10 + (uint64_t)(p[i++] - '0');
  *ip = i;
  *mp = m;
}

/* read_digits() when 8 bytes are readable at p + n: any run of up to 8
 * digits is one load (m wraps the same way past 19 digits). */
static inline void read_digits_padded(const char *p, size_t n, size_t *ip,
                                      uint64_t *mp) {
#ifdef CSV_SWAR_DIGITS
  size_t i = *ip;
  uint64_t m = *mp;
  for (;;) {
    uint64_t w;
    memcpy(&w, p + i, 8); /* i <= n */
    /* t: each byte's digit value if it is a digit; bit 7 of a byte of bad
     * set when it is not (no carry crosses bytes) */
    uint64_t t = w ^ 0x3030303030303030ULL;
    uint64_t bad = (((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | t) &
                   0x8080808080808080ULL;
    size_t k = bad ? (size_t)__builtin_ctzll(bad) >> 3 : 8;
    if (k > n - i) k = n - i;
    if (!k) break;
    m = m * pow10u[k] + eight_value_of(t << (64 - 8 * k));
    i += k;
    if (k < 8 || i == n) break;
  }
  *ip = i;
  *mp = m;
#else
  read_digits(p, n, ip, mp);
#endif
}

/* The same with a fast path for numbers of at most 19 digits in all
 * (leading zeros included): then every digit fits the 64-bit mantissa, so
 * the mantissa is simply all digits read as one integer and the decimal
 * exponent minus the count of fraction digits, exactly what the general
 * form computes for them. Longer digit strings take the general form. */
static inline __attribute__((always_inline)) int
parse_number(const char *p, size_t n, char dec, double *out, int *is_int,
             int padded) {
  size_t i = 0;
  int neg = 0;
  if (p[0] == '+' || p[0] == '-') {
    neg = p[0] == '-';
    i++;
  }
  uint64_t m = 0;
  size_t s0 = i;
  if (padded)
    read_digits_padded(p, n, &i, &m);
  else
    read_digits(p, n, &i, &m);
  size_t ni = i - s0, nfrac = 0;
  int frac = 0;
  if (i < n && p[i] == dec) {
    frac = 1;
    size_t s1 = ++i;
    if (padded)
      read_digits_padded(p, n, &i, &m);
    else
      read_digits(p, n, &i, &m);
    nfrac = i - s1;
  }
  size_t digits = ni + nfrac;
  if (digits == 0) return 0;
  if (digits > 19) return parse_number_long(p, n, dec, out, is_int);
  int dexp = -(int)nfrac;
  if (i < n) {
    if (p[i] != 'e' && p[i] != 'E') return 0;
    frac = 1;
    i++;
    if (!read_exponent(p, n, &i, &dexp) || i != n) return 0;
  }
  *is_int = !frac && digits <= 18;
  *out = to_double(p, n, dec, m, dexp, neg, 1);
  return 1;
}

int64_t csv_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void csv_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int num2(const char *p, int *v) {
  if (!isdig(p[0]) || !isdig(p[1])) return 0;
  *v = (p[0] - '0') * 10 + (p[1] - '0');
  return 1;
}

static int parse_date(const char *p, size_t n, csv_value *v) {
  if (n < 10 || (p[4] != '-' && p[4] != '/') || p[7] != p[4]) return 0;
  for (int i = 0; i < 4; i++)
    if (!isdig(p[i])) return 0;
  int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 +
          (p[3] - '0');
  int mo, d;
  if (!num2(p + 5, &mo) || !num2(p + 8, &d)) return 0;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return 0;
  if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
    return 0;
  int64_t secs = csv_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
  v->month = y * 12 + mo - 1;
  if (n == 10) {
    v->type = CSV_T_DATE;
    v->secs = secs;
    return 1;
  }
  if (p[10] != 'T' && p[10] != ' ') return 0;
  size_t i = 11;
  int hh, mm, ss = 0;
  if (n < i + 5 || !num2(p + i, &hh) || p[i + 2] != ':' ||
      !num2(p + i + 3, &mm))
    return 0;
  i += 5;
  if (i < n && p[i] == ':') {
    if (n < i + 3 || !num2(p + i + 1, &ss)) return 0;
    i += 3;
    if (i < n && (p[i] == '.' || p[i] == ',')) {
      size_t j = ++i;
      while (i < n && isdig(p[i])) i++;
      if (i == j) return 0;
    }
  }
  if (hh > 23 || mm > 59 || ss > 60) return 0;
  int64_t off = 0;
  if (i < n && p[i] == 'Z') {
    i++;
  } else if (i < n && (p[i] == '+' || p[i] == '-')) {
    int sign = p[i] == '-' ? -1 : 1, oh, om = 0;
    if (n < i + 3 || !num2(p + i + 1, &oh)) return 0;
    i += 3;
    if (i < n && p[i] == ':') i++;
    if (i + 2 <= n && num2(p + i, &om)) i += 2;
    if (oh > 23 || om > 59) return 0;
    off = sign * (oh * 3600 + om * 60);
  }
  if (i != n) return 0;
  v->type = CSV_T_DATETIME;
  v->secs = secs + hh * 3600 + mm * 60 + ss - off;
  int64_t day = v->secs / 86400 - (v->secs % 86400 < 0), yy;
  if (day != secs / 86400) {
    unsigned m2, d2;
    csv_civil_from_days(day, &yy, &m2, &d2);
    v->month = (int32_t)(yy * 12 + (int64_t)m2 - 1);
  }
  return 1;
}

static int word_is(const char *p, size_t n, const char *w) {
  return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

static inline __attribute__((always_inline)) int
classify(const char *p, size_t n, char decimal, csv_value *v, int padded) {
  if (n == 0) return v->type = CSV_T_MISSING;
  char c = p[0];
  if (isdig(c) || c == '-' || c == '+' || c == '.' || c == decimal) {
    if (n >= 10 && isdig(c) && (p[4] == '-' || p[4] == '/') &&
        parse_date(p, n, v))
      return v->type;
    int is_int;
    if (parse_number(p, n, decimal, &v->num, &is_int, padded))
      return v->type = is_int ? CSV_T_INT : CSV_T_FLOAT;
    if (word_is(p, n, "-nan")) return v->type = CSV_T_MISSING;
    return v->type = CSV_T_TEXT;
  }
  if (n <= 5) {
    switch (c | 0x20) {
    case 'n':
      if (word_is(p, n, "na") || word_is(p, n, "n/a") || word_is(p, n, "nan") ||
          word_is(p, n, "null") || word_is(p, n, "none"))
        return v->type = CSV_T_MISSING;
      if (word_is(p, n, "no")) {
        v->bval = 0;
        return v->type = CSV_T_BOOL;
      }
      break;
    case '#':
      if (word_is(p, n, "#n/a")) return v->type = CSV_T_MISSING;
      break;
    case 't':
      if (word_is(p, n, "true")) {
        v->bval = 1;
        return v->type = CSV_T_BOOL;
      }
      break;
    case 'f':
      if (word_is(p, n, "false")) {
        v->bval = 0;
        return v->type = CSV_T_BOOL;
      }
      break;
    case 'y':
      if (word_is(p, n, "yes")) {
        v->bval = 1;
        return v->type = CSV_T_BOOL;
      }
      break;
    }
  }
  return v->type = CSV_T_TEXT;
}

int csv_classify(const char *p, size_t n, char decimal, csv_value *v) {
  while (n && (*p == ' ' || *p == '\t')) p++, n--;
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  return classify(p, n, decimal, v, 0);
}

int csv_classify_padded(const char *p, size_t n, char decimal, csv_value *v) {
  return classify(p, n, decimal, v, 1);
}
