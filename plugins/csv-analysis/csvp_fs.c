/*
 * csvp_fs.c: blocking file helpers (pool threads only).
 */
#include "csvp_fs.h"

#include "csv_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BLOCK (1u << 20)

int csvp_mkdirs(const char *path) {
  size_t n = strlen(path);
  if (n == 0 || n >= 4096) return -EINVAL;
  char tmp[4096];
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (tmp[i] != '/' && tmp[i] != 0) continue;
    char c = tmp[i];
    tmp[i] = 0;
    if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return -errno;
    tmp[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0) return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads fd to its end, hashing, and writing to out (if >= 0). */
static int pump(int fd, int out, uint64_t max, char hex[65], uint64_t *size) {
  char *buf = malloc(IO_BLOCK);
  if (!buf) return -ENOMEM;
  csv_sha256 h;
  csv_sha256_init(&h);
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    ssize_t r = read(fd, buf, IO_BLOCK);
    if (r < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      break;
    }
    if (r == 0) break;
    total += (uint64_t)r;
    if (max && total > max) {
      rc = -EFBIG;
      break;
    }
    csv_sha256_update(&h, buf, (size_t)r);
    if (out >= 0 && (rc = write_all(out, buf, (size_t)r)) != 0) break;
  }
  free(buf);
  if (rc) return rc;
  unsigned char d[CSV_SHA256_LEN];
  csv_sha256_final(&h, d);
  if (hex) csv_sha256_hex(d, hex);
  if (size) *size = total;
  return 0;
}

int csvp_hash_file(const char *path, char hex[65], uint64_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = pump(fd, -1, 0, hex, size);
  close(fd);
  return rc;
}

int csvp_copy_hash(const char *src, const char *dst, uint64_t max, char hex[65],
                   uint64_t *size) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -errno;
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (out < 0) {
    int e = -errno;
    close(in);
    return e;
  }
  int rc = pump(in, out, max, hex, size);
  close(in);
  if (!rc && fsync(out) != 0) rc = -errno;
  if (close(out) != 0 && !rc) rc = -errno;
  if (rc) unlink(dst);
  return rc;
}

int csvp_move(const char *src, const char *dst) {
  if (rename(src, dst) == 0) return 0;
  if (errno != EXDEV) return -errno;
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.part", dst) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  unlink(tmp);
  int rc = csvp_copy_hash(src, tmp, 0, NULL, NULL);
  if (rc) return rc;
  if (rename(tmp, dst) != 0) {
    rc = -errno;
    unlink(tmp);
  }
  return rc;
}

int csvp_write_atomic(const char *dir, const char *name, const void *data,
                      size_t len) {
  return csvp_write_atomic_n(dir, &name, &data, &len, 1);
}

int csvp_write_atomic_n(const char *dir, const char *const *names,
                        const void *const *data, const size_t *lens, size_t n) {
  char tmp[CSVP_WRITE_MAX][4200], path[4200];
  int fds[CSVP_WRITE_MAX];
  size_t opened = 0, i;
  int rc = 0;
  if (n > CSVP_WRITE_MAX) return -EINVAL;
  for (i = 0; i < n; i++)
    if (snprintf(tmp[i], sizeof tmp[i], "%s/.%s.tmp", dir, names[i]) >=
            (int)sizeof tmp[i] ||
        snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
      return -ENAMETOOLONG;
  /* Every file written and its writeback started before the first fsync,
   * so that the fsyncs wait for one round of device writes (and usually
   * one journal commit) instead of one each. */
  for (i = 0; i < n && !rc; i++) {
    fds[i] = open(tmp[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fds[i] < 0) {
      rc = -errno;
      break;
    }
    opened++;
    rc = write_all(fds[i], data[i], lens[i]);
    if (!rc) sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  for (i = 0; i < opened && !rc; i++)
    if (fsync(fds[i]) != 0) rc = -errno;
  for (i = 0; i < opened; i++)
    if (close(fds[i]) != 0 && !rc) rc = -errno;
  /* In order: the last file is the marker that the others are complete. */
  size_t renamed = 0;
  while (!rc && renamed < n) {
    snprintf(path, sizeof path, "%s/%s", dir, names[renamed]);
    if (rename(tmp[renamed], path) != 0)
      rc = -errno;
    else
      renamed++;
  }
  if (rc)
    for (i = renamed; i < opened; i++) unlink(tmp[i]);
  return rc;
}

int csvp_read_file(const char *path, size_t max, char **out, size_t *len) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
    close(fd);
    return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char *p = malloc(n + 1);
  if (!p) {
    close(fd);
    return -ENOMEM;
  }
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  p[got] = 0;
  *out = p;
  if (len) *len = got;
  return 0;
}
