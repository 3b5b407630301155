/*
 * csv_sha256.h: SHA-256 (FIPS 180-4) for the csv-analysis plugin's dataset
 * hashes. Plain C, no state beyond the context: hash a file from a pool
 * thread with init/update/final.
 */
#ifndef CSV_SHA256_H
#define CSV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CSV_SHA256_LEN 32

typedef struct csv_sha256 {
  uint32_t h[8];
  uint64_t bytes; /* message length so far */
  unsigned char block[64];
  size_t used; /* bytes in block */
} csv_sha256;

void csv_sha256_init(csv_sha256 *c);
void csv_sha256_update(csv_sha256 *c, const void *data, size_t len);
/** Writes the digest; the context must be initialised again to reuse it. */
void csv_sha256_final(csv_sha256 *c, unsigned char out[CSV_SHA256_LEN]);
/** Lower-case hex of a digest into hex[65] (NUL-terminated). */
void csv_sha256_hex(const unsigned char d[CSV_SHA256_LEN], char hex[65]);

#endif
