/* pkce.c: RFC 7636 code verifiers and S256 challenges. */
#include "secrets_int.h"

#include <sodium.h>
#include <string.h>

void secrets_pkce_verifier(char out[SECRETS_PKCE_VERIFIER_SIZE]) {
  uint8_t r[32];
  secrets_global_init();
  randombytes_buf(r, sizeof(r));
  b64url_encode_into(out, SECRETS_PKCE_VERIFIER_SIZE, r, sizeof(r));
  sodium_memzero(r, sizeof(r));
}

int secrets_pkce_challenge_s256(const char *verifier,
                                char out[SECRETS_PKCE_CHALLENGE_SIZE]) {
  size_t n = strlen(verifier);
  uint8_t h[crypto_hash_sha256_BYTES];
  if (n < 43 || n > 128) return SECRETS_EMALFORMED;
  for (size_t i = 0; i < n; i++) {
    char c = verifier[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
          c == '~'))
      return SECRETS_EMALFORMED;
  }
  if (secrets_global_init() < 0) return -EIO;
  crypto_hash_sha256(h, (const unsigned char *)verifier, n);
  b64url_encode_into(out, SECRETS_PKCE_CHALLENGE_SIZE, h, sizeof(h));
  return 0;
}
