/* testutil.h: temporary directories and file bytes, shared by unit tests. */
#ifndef ASSIST_TESTUTIL_H
#define ASSIST_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/** A fresh private directory; free() the result after tmpdir_remove(). */
static inline char *tmpdir_make(void) {
  const char *base = getenv("TMPDIR");
  size_t n = strlen(base ? base : "/tmp") + 32;
  char *p = malloc(n);
  snprintf(p, n, "%s/assistd-test-XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(p)) abort();
  return p;
}

static inline void tmpdir_remove(char *dir) {
  nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

/** The whole file in a malloc'd buffer; *len gets its size. NULL on error. */
static inline unsigned char *file_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  unsigned char *b = malloc(cap);
  size_t r;
  while ((r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) b = realloc(b, cap *= 2);
  }
  fclose(f);
  *len = n;
  return b;
}

/** true if the file at path contains the bytes s. */
static inline int file_contains(const char *path, const char *s) {
  size_t len = 0;
  unsigned char *b = file_bytes(path, &len);
  if (!b) return -1;
  int found = memmem(b, len, s, strlen(s)) != NULL;
  free(b);
  return found;
}

#endif
