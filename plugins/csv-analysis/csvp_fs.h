/*
 * csvp_fs.h: blocking file helpers of the csv-analysis plugin. Every one
 * of them runs on a pool thread (host->queue_work), never on the loop.
 * Errors are negative errno values.
 */
#ifndef CSVP_FS_H
#define CSVP_FS_H

#include <stddef.h>
#include <stdint.h>

/** mkdir -p with mode 0750 for every missing component. */
int csvp_mkdirs(const char *path);
/** SHA-256 of a file as lower-case hex into hex[65]; *size its length. */
int csvp_hash_file(const char *path, char hex[65], uint64_t *size);
/** Copies src to dst (created with O_EXCL, 0640) while hashing the bytes;
 * dst is removed on failure. max (0: none) caps the copied bytes
 * (-EFBIG beyond it). */
int csvp_copy_hash(const char *src, const char *dst, uint64_t max, char hex[65],
                   uint64_t *size);
/** Moves src to dst: rename(), or a copy when they are on different
 * filesystems (EXDEV; src is then left for its owner to delete). */
int csvp_move(const char *src, const char *dst);
/** Writes data to dir/name through dir/.name.tmp, fsync and rename, so the
 * file appears complete or not at all. */
int csvp_write_atomic(const char *dir, const char *name, const void *data,
                      size_t len);
#define CSVP_WRITE_MAX 4
/** csvp_write_atomic() of n (<= CSVP_WRITE_MAX) files in dir, with one
 * wait for the device: all are written and synced, then renamed in order
 * (names[n - 1] last), so when the last one exists all the others are
 * complete. On failure the temporary files not yet renamed are removed. */
int csvp_write_atomic_n(const char *dir, const char *const *names,
                        const void *const *data, const size_t *lens, size_t n);
/** Reads a whole file (at most max bytes; -EFBIG beyond) into *out
 * (malloc'ed, NUL-terminated). */
int csvp_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
