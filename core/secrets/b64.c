/* b64.c: strict base64url without padding. */
#include "secrets_int.h"

#include "common/alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define B64V sodium_base64_VARIANT_URLSAFE_NO_PADDING

size_t b64url_encode_into(char *dst, size_t dstlen, const void *bin,
                          size_t len) {
  sodium_bin2base64(dst, dstlen, bin, len, B64V);
  return strlen(dst);
}

char *secrets_b64url_encode(const void *bin, size_t len) {
  size_t n = sodium_base64_ENCODED_LEN(len, B64V);
  char *s = xmalloc(n);
  b64url_encode_into(s, n, bin, len);
  return s;
}

int b64url_decode_into(const char *s, size_t slen, uint8_t *out, size_t max,
                       size_t *out_len) {
  const char *end = NULL;
  size_t n = 0;
  for (size_t i = 0; i < slen; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return SECRETS_EMALFORMED;
  }
  /* A length of 1 mod 4 can never be valid. */
  if (slen % 4 == 1) return SECRETS_EMALFORMED;
  if (sodium_base642bin(out, max, s, slen, NULL, &n, &end, B64V) != 0 ||
      end != s + slen)
    return SECRETS_EMALFORMED;
  /* Canonical form only: the unused low bits of the last character must
   * be zero, so that one byte string has exactly one encoding. */
  if (slen % 4 != 0) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(alphabet, s[slen - 1]);
    unsigned v = (unsigned)(p - alphabet);
    unsigned unused = slen % 4 == 2 ? 0x0f : 0x03;
    if (v & unused) return SECRETS_EMALFORMED;
  }
  *out_len = n;
  return 0;
}

int secrets_b64url_decode(const char *s, size_t slen, uint8_t **out,
                          size_t *out_len) {
  size_t max = slen / 4 * 3 + 3;
  uint8_t *buf = xmalloc(max + 1);
  size_t n = 0;
  int rc = b64url_decode_into(s, slen, buf, max, &n);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *out = buf;
  *out_len = n;
  return 0;
}
