/*
 * Tests for core/assistant/tz.c: conversions against the C library (the
 * reference here only: setenv("TZ") + localtime_r in this test process)
 * over many instants in several zones, the POSIX footer past the last
 * transition, gap and ambiguity handling of tz_from_local, refused names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"
#include "common/tz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const zones[] = {
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "Africa/Casablanca",
    "America/St_Johns",
};

/* xorshift: reproducible instants */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void check_instant(const tz_t *z, int64_t t, const char *zone) {
  struct tm tm;
  time_t tt = (time_t)t;
  assert_non_null(localtime_r(&tt, &tm));
  tz_local_t l;
  tz_to_local(z, t * 1000 + 123, &l);
  if (l.year != tm.tm_year + 1900 || l.month != tm.tm_mon + 1 ||
      l.day != tm.tm_mday || l.hour != tm.tm_hour || l.minute != tm.tm_min ||
      l.second != tm.tm_sec || l.wday != tm.tm_wday ||
      l.utc_offset_s != tm.tm_gmtoff) {
    fail_msg("%s at %lld: got %04d-%02d-%02d %02d:%02d:%02d wd%d off %d, "
             "libc %04d-%02d-%02d %02d:%02d:%02d wd%d off %ld",
             zone, (long long)t, l.year, l.month, l.day, l.hour, l.minute,
             l.second, l.wday, l.utc_offset_s, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday,
             tm.tm_gmtoff);
  }
  /* Round trip: the wall time maps back to t, or to an earlier instant
   * with the same wall time (the first occurrence of an ambiguous one). */
  int adj = -1;
  int64_t back = tz_from_local(z, l.year, l.month, l.day, l.hour, l.minute,
                               l.second, &adj);
  assert_int_equal(adj, 0);
  if (back != t * 1000) {
    assert_true(back < t * 1000);
    tz_local_t l2;
    tz_to_local(z, back, &l2);
    assert_int_equal(l2.hour, l.hour);
    assert_int_equal(l2.minute, l.minute);
    assert_int_equal(l2.day, l.day);
    assert_true(l2.utc_offset_s > l.utc_offset_s);
  }
}

static void test_against_libc(void **s) {
  (void)s;
  for (size_t zi = 0; zi < sizeof zones / sizeof zones[0]; zi++) {
    const tz_t *z = tz_get(zones[zi]);
    assert_non_null(z);
    setenv("TZ", zones[zi], 1);
    tzset();
    /* 1950..2100 at random instants: the table and the footer rule. */
    int64_t lo = -631152000, hi = 4102444800;
    for (int i = 0; i < 60000; i++) {
      int64_t t = lo + (int64_t)(next_rand() % (uint64_t)(hi - lo));
      check_instant(z, t, zones[zi]);
    }
    /* Every hour, and around each hour, of 2024..2027 and 2045..2046
     * (past the files' last transition: the footer rule only). */
    const int64_t ranges[][2] = {{1704067200, 1830297600},
                                 {2366841600, 2429913600}};
    for (int r = 0; r < 2; r++)
      for (int64_t t = ranges[r][0]; t < ranges[r][1]; t += 1800) {
        check_instant(z, t, zones[zi]);
        check_instant(z, t - 1, zones[zi]);
      }
  }
  unsetenv("TZ");
  tzset();
}

static void test_gap_and_ambiguity(void **s) {
  (void)s;
  const tz_t *ber = tz_get("Europe/Berlin");
  const tz_t *ny = tz_get("America/New_York");
  const tz_t *lh = tz_get("Australia/Lord_Howe");
  assert_non_null(ber);
  assert_non_null(ny);
  assert_non_null(lh);
  int adj = -1;
  /* Berlin 2025-03-30 02:30 does not exist: 03:30 CEST = 01:30Z. */
  assert_int_equal(tz_from_local(ber, 2025, 3, 30, 2, 30, 0, &adj),
                   1743298200000LL);
  assert_int_equal(adj, 1);
  /* 2025-10-26 02:30 happens twice: the first is CEST = 00:30Z. */
  assert_int_equal(tz_from_local(ber, 2025, 10, 26, 2, 30, 0, &adj),
                   1743298200000LL + 210 * 86400000LL - 3600000LL);
  assert_int_equal(adj, 0);
  /* New York 2025-03-09 02:15 -> 03:15 EDT = 07:15Z. */
  assert_int_equal(tz_from_local(ny, 2025, 3, 9, 2, 15, 0, &adj),
                   1741504500000LL);
  assert_int_equal(adj, 1);
  /* 2025-11-02 01:30 twice: EDT first = 05:30Z. */
  assert_int_equal(tz_from_local(ny, 2025, 11, 2, 1, 30, 0, &adj),
                   1762061400000LL);
  assert_int_equal(adj, 0);
  /* Lord Howe: 30-minute DST, 2025-10-05 02:00 -> 02:30 (+11) ; the gap
   * 02:00..02:30 moves forward by 30 minutes: 02:10 -> 02:40 = 15:40Z. */
  assert_int_equal(tz_from_local(lh, 2025, 10, 5, 2, 10, 0, &adj),
                   1759590000000LL + 40 * 60000LL);
  assert_int_equal(adj, 1);
  /* Plain times and normalization (day 0, hour 24). */
  assert_int_equal(tz_from_local(ber, 2025, 1, 15, 12, 0, 0, &adj),
                   1736938800000LL);
  assert_int_equal(adj, 0);
  assert_int_equal(tz_from_local(ber, 2025, 2, 0, 12, 0, 0, NULL),
                   tz_from_local(ber, 2025, 1, 31, 12, 0, 0, NULL));
  assert_int_equal(tz_from_local(ber, 2025, 13, 1, 0, 0, 0, NULL),
                   tz_from_local(ber, 2026, 1, 1, 0, 0, 0, NULL));
  assert_int_equal(tz_from_local(ber, 2025, 1, 1, 24, 0, 0, NULL),
                   tz_from_local(ber, 2025, 1, 2, 0, 0, 0, NULL));
  /* Kolkata: +05:30 */
  tz_local_t l;
  tz_to_local(tz_get("Asia/Kolkata"), 0, &l);
  assert_int_equal(l.hour, 5);
  assert_int_equal(l.minute, 30);
  assert_int_equal(l.utc_offset_s, 19800);
  /* Before 1970 (negative ms, floor division). */
  tz_to_local(tz_get("UTC"), -1, &l);
  assert_int_equal(l.year, 1969);
  assert_int_equal(l.hour, 23);
  assert_int_equal(l.second, 59);
  assert_int_equal(l.wday, 3);
}

static void test_names(void **s) {
  (void)s;
  assert_null(tz_get(NULL));
  assert_null(tz_get(""));
  assert_null(tz_get("../../etc/passwd"));
  assert_null(tz_get("/etc/localtime"));
  assert_null(tz_get("Europe/../UTC"));
  assert_null(tz_get("Europe/./Berlin"));
  assert_null(tz_get("Europe//Berlin"));
  assert_null(tz_get("Europe/"));
  assert_null(tz_get("Europe"));       /* a directory */
  assert_null(tz_get("Mars/Olympus")); /* unknown */
  assert_null(tz_get("Europe/Berlin\n"));
  assert_null(tz_get("zone.tab")); /* not a TZif file */
  assert_null(tz_get("tzdata.zi"));
  char longname[200];
  memset(longname, 'A', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_null(tz_get(longname));
  const tz_t *a = tz_get("Europe/Berlin"), *b = tz_get("UTC");
  assert_non_null(a);
  assert_non_null(b);
  assert_ptr_equal(tz_get("Europe/Berlin"), a); /* cached */
  assert_ptr_equal(tz_get("UTC"), b);
  assert_non_null(tz_get("Etc/GMT-14"));
}

/* A TZDIR with hand-made files: a v1-only file and a footer-only v2 file
 * with an angle-bracket name, "<+03>-3", and a Jn / n rule. */
static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static size_t hdr(unsigned char *p, char ver, uint32_t timecnt,
                  uint32_t typecnt, uint32_t charcnt) {
  memset(p, 0, 44);
  memcpy(p, "TZif", 4);
  p[4] = (unsigned char)ver;
  put32(p + 32, timecnt);
  put32(p + 36, typecnt);
  put32(p + 40, charcnt);
  return 44;
}

static void write_file(const char *dir, const char *name,
                       const unsigned char *b, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* v2 file with no transitions, one type, and footer tzstr. */
static size_t footer_only(unsigned char *b, int32_t off, const char *tzstr) {
  size_t n = 0;
  for (int blk = 0; blk < 2; blk++) {
    n += hdr(b + n, '2', 0, 1, 4);
    put32(b + n, (uint32_t)off);
    b[n + 4] = 0, b[n + 5] = 0;
    memcpy(b + n + 6, "XXX", 4);
    n += 10;
  }
  n += (size_t)sprintf((char *)b + n, "\n%s\n", tzstr);
  return n;
}

static void test_synthetic_files(void **s) {
  (void)s;
  char *dir = tmpdir_make();
  unsigned char b[512];
  size_t n;
  /* v1: one transition at 1000000000 from +1h to +2h */
  n = hdr(b, '\0', 1, 2, 4);
  put32(b + n, 1000000000u);
  n += 4;
  b[n++] = 1;
  put32(b + n, 3600), b[n + 4] = 0, b[n + 5] = 0, n += 6;
  put32(b + n, 7200), b[n + 4] = 1, b[n + 5] = 0, n += 6;
  memcpy(b + n, "AB\0", 4), n += 4;
  write_file(dir, "Test_V1", b, n);
  n = footer_only(b, 10800, "<+03>-3");
  write_file(dir, "Test_Plus3", b, n);
  /* Julian rules: DST from day J60 (Mar 1) 02:00 to n300 02:00, +1h
   * over -2h: "<-02>2<-01>,J60,300" */
  n = footer_only(b, -7200, "<-02>2<-01>,J60,300");
  write_file(dir, "Test_Julian", b, n);
  n = footer_only(b, 0, "garbage!");
  write_file(dir, "Test_Bad", b, n);
  memcpy(b, "NOPE", 4);
  write_file(dir, "Test_NotTzif", b, 60);

  setenv("TZDIR", dir, 1);
  tz_local_t l;
  const tz_t *v1 = tz_get("Test_V1");
  assert_non_null(v1);
  tz_to_local(v1, 999999999000LL, &l);
  assert_int_equal(l.utc_offset_s, 3600);
  tz_to_local(v1, 1000000000000LL, &l);
  assert_int_equal(l.utc_offset_s, 7200);
  const tz_t *p3 = tz_get("Test_Plus3");
  assert_non_null(p3);
  tz_to_local(p3, 4000000000000LL, &l);
  assert_int_equal(l.utc_offset_s, 10800);
  const tz_t *jz = tz_get("Test_Julian");
  assert_non_null(jz);
  /* 2024 (leap): J60 is Mar 1 (Feb 29 not counted); n300 is Oct 27
   * (day 0 = Jan 1, counting Feb 29). */
  int64_t mar1 = 1709251200LL;                       /* 2024-03-01T00:00Z */
  tz_to_local(jz, (mar1 + 4 * 3600 - 1) * 1000, &l); /* 01:59:59 local */
  assert_int_equal(l.utc_offset_s, -7200);
  tz_to_local(jz, (mar1 + 4 * 3600) * 1000, &l); /* 02:00 -02 */
  assert_int_equal(l.utc_offset_s, -3600);
  int64_t oct27 = 1729987200LL;                       /* 2024-10-27T00:00Z */
  tz_to_local(jz, (oct27 + 3 * 3600 - 1) * 1000, &l); /* 01:59:59 -01 */
  assert_int_equal(l.utc_offset_s, -3600);
  tz_to_local(jz, (oct27 + 3 * 3600) * 1000, &l);
  assert_int_equal(l.utc_offset_s, -7200);
  assert_null(tz_get("Test_Bad"));
  assert_null(tz_get("Test_NotTzif"));
  unsetenv("TZDIR");
  tmpdir_remove(dir);
}

static void *thread_main(void *arg) {
  (void)arg;
  const char *names[] = {"Europe/Paris", "Asia/Tokyo", "America/Chicago",
                         "Europe/Berlin"};
  for (int i = 0; i < 2000; i++) {
    const tz_t *z = tz_get(names[i % 4]);
    if (!z) return (void *)1;
    tz_local_t l;
    tz_to_local(z, 1700000000000LL, &l);
    if (l.year != 2023) return (void *)1;
  }
  return NULL;
}

static void test_threads(void **s) {
  (void)s;
  pthread_t th[8];
  for (int i = 0; i < 8; i++)
    assert_int_equal(pthread_create(&th[i], NULL, thread_main, NULL), 0);
  for (int i = 0; i < 8; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_null(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_libc),
      cmocka_unit_test(test_gap_and_ambiguity),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_synthetic_files),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
