/*
 * csv_gen: writes a deterministic benchmark CSV to stdout.
 *   csv_gen ROWS [SEED]
 * 10 columns: integers, floats, short strings, dates and empty cells.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t st;

static uint64_t next(void) {
  uint64_t z = (st += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double unif(void) {
  return (double)(next() >> 11) * 0x1p-53;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: csv_gen ROWS [SEED]\n");
    return 2;
  }
  long rows = atol(argv[1]);
  st = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
  static const char *cat[] = {"alpha", "beta",  "gamma",  "delta",
                              "eps",   "zeta",  "eta",    "theta",
                              "iota",  "kappa", "lambda", "mu"};
  static const char *city[] = {"Paris",  "Berlin", "Madrid",  "Rome",
                               "Oslo",   "Lisbon", "Vienna",  "Prague",
                               "Dublin", "Warsaw", "Athens",  "Zurich",
                               "Riga",   "Sofia",  "Tallinn", "Vilnius"};
  static const char *status[] = {"open", "closed", "pending", "void"};
  static char buf[1 << 16];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  printf("id,user_id,amount,score,qty,category,city,date,status,ratio\n");
  for (long i = 1; i <= rows; i++) {
    double u1 = unif(), u2 = unif();
    double g = sqrt(-2.0 * log(u1 + 1e-300)) * cos(6.283185307179586 * u2);
    double amount = exp(3.0 + 0.8 * g);
    long user = 1 + (long)(next() % 10000000);
    double score = unif();
    int day = (int)(next() % 2191); /* 2019-01-01 .. 2024-12-31 */
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int y = 2019, m = 0;
    for (;;) {
      int yl = (y % 4 == 0) ? 366 : 365;
      if (day < yl) break;
      day -= yl;
      y++;
    }
    for (;;) {
      int ml = mdays[m] + (m == 1 && y % 4 == 0);
      if (day < ml) break;
      day -= ml;
      m++;
    }
    printf("%ld,%ld,%.2f,%.8f,", 10000000 + i, user, amount, score);
    if (next() % 20)
      printf("%d,", 1 + (int)(next() % 20));
    else
      fputs(",", stdout);
    printf("%s,%s,%04d-%02d-%02d,%s,", cat[next() % 12], city[next() % 16], y,
           m + 1, day + 1, status[next() % 4]);
    if (next() % 33)
      printf("%.5f\n", amount * 0.01 + g * 0.2);
    else
      fputs("\n", stdout);
  }
  return 0;
}
