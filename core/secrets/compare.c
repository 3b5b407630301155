/* compare.c: constant-time equality, HMAC-SHA-256, random tokens. */
#include "secrets_int.h"

#include "common/alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

bool secrets_equal(const void *a, size_t alen, const void *b, size_t blen) {
  if (alen != blen) return false;
  if (alen == 0) return true;
  return sodium_memcmp(a, b, alen) == 0;
}

bool secrets_equal_str(const char *a, const char *b) {
  return secrets_equal(a, strlen(a), b, strlen(b));
}

void secrets_hmac_sha256(const void *key, size_t keylen, const void *msg,
                         size_t len, uint8_t out[32]) {
  crypto_auth_hmacsha256_state st;
  secrets_global_init();
  crypto_auth_hmacsha256_init(&st, key, keylen);
  crypto_auth_hmacsha256_update(&st, msg, len);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof(st));
}

char *secrets_random_token(size_t nbytes) {
  if (nbytes == 0 || nbytes > 1024) return NULL;
  uint8_t *r = xmalloc(nbytes);
  secrets_global_init();
  randombytes_buf(r, nbytes);
  char *s = secrets_b64url_encode(r, nbytes);
  sodium_memzero(r, nbytes);
  free(r);
  return s;
}
