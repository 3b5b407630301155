/* test_misc.c: Argon2id, PKCE, constant-time equality, HMAC, base64url. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "secrets/secrets.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void test_pwhash(void **state) {
  (void)state;
  char h[SECRETS_PWHASH_STRBYTES], h2[SECRETS_PWHASH_STRBYTES];
  assert_int_equal(secrets_pwhash("correct horse battery staple", h), 0);
  assert_memory_equal(h, "$argon2id$", 10);
  /* The documented default: 64 MiB, 2 passes. */
  assert_non_null(strstr(h, "$m=65536,t=2,p=1$"));
  assert_int_equal(secrets_pwhash_verify(h, "correct horse battery staple"), 0);
  assert_int_equal(secrets_pwhash_verify(h, "correct horse battery stapl"),
                   SECRETS_EBADSIG);
  assert_int_equal(secrets_pwhash_verify(h, ""), SECRETS_EBADSIG);
  assert_int_equal(secrets_pwhash_needs_rehash(h), 0);
  /* Random salt: the same password hashes differently. */
  assert_int_equal(secrets_pwhash("correct horse battery staple", h2), 0);
  assert_string_not_equal(h, h2);
  /* A tampered hash string does not verify. */
  size_t n = strlen(h);
  h2[0] = 0;
  memcpy(h2, h, n + 1);
  h2[n - 2] = h2[n - 2] == 'A' ? 'B' : 'A';
  assert_true(secrets_pwhash_verify(h2, "correct horse battery staple") < 0);
  /* Not Argon2id. */
  assert_int_equal(
      secrets_pwhash_verify("$argon2i$v=19$m=4096,t=3,p=1$x$y", "pw"),
      SECRETS_EMALFORMED);
  assert_int_equal(secrets_pwhash_verify("plaintext", "plaintext"),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_pwhash_needs_rehash("nope"), SECRETS_EMALFORMED);
  /* Cheaper parameters: old hashes need a rehash, new ones verify. */
  assert_int_equal(secrets_pwhash_set_limits(0, 1), SECRETS_EMALFORMED);
  assert_int_equal(secrets_pwhash_set_limits(crypto_pwhash_OPSLIMIT_MIN,
                                             crypto_pwhash_MEMLIMIT_MIN),
                   0);
  assert_int_equal(secrets_pwhash_needs_rehash(h), 1);
  assert_int_equal(secrets_pwhash("pw", h2), 0);
  assert_int_equal(secrets_pwhash_needs_rehash(h2), 0);
  assert_int_equal(secrets_pwhash_verify(h2, "pw"), 0);
  /* Old hashes still verify with their own parameters. */
  assert_int_equal(secrets_pwhash_verify(h, "correct horse battery staple"), 0);
  assert_int_equal(
      secrets_pwhash_set_limits(crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE),
      0);
  /* Absurdly long passwords are refused. */
  char *longpw = malloc(2000);
  memset(longpw, 'x', 1999);
  longpw[1999] = 0;
  assert_int_equal(secrets_pwhash(longpw, h2), SECRETS_EMALFORMED);
  assert_int_equal(secrets_pwhash_verify(h, longpw), SECRETS_EBADSIG);
  free(longpw);
}

static void test_pkce(void **state) {
  (void)state;
  char c[SECRETS_PKCE_CHALLENGE_SIZE], v[SECRETS_PKCE_VERIFIER_SIZE],
      v2[SECRETS_PKCE_VERIFIER_SIZE];
  /* RFC 7636, Appendix B. */
  assert_int_equal(secrets_pkce_challenge_s256(
                       "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c),
                   0);
  assert_string_equal(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  secrets_pkce_verifier(v);
  secrets_pkce_verifier(v2);
  assert_int_equal(strlen(v), 43);
  assert_int_equal(strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
                             "xyz0123456789-_"),
                   43);
  assert_string_not_equal(v, v2);
  assert_int_equal(secrets_pkce_challenge_s256(v, c), 0);
  assert_int_equal(strlen(c), 43);
  /* Too short, too long, or with a character outside the set. */
  assert_int_equal(secrets_pkce_challenge_s256("short", c), SECRETS_EMALFORMED);
  char lng[130];
  memset(lng, 'a', 129);
  lng[129] = 0;
  assert_int_equal(secrets_pkce_challenge_s256(lng, c), SECRETS_EMALFORMED);
  lng[128] = 0;
  assert_int_equal(secrets_pkce_challenge_s256(lng, c), 0);
  assert_int_equal(secrets_pkce_challenge_s256(
                       "dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c),
                   SECRETS_EMALFORMED);
}

static void test_equal_hmac(void **state) {
  (void)state;
  assert_true(secrets_equal("abc", 3, "abc", 3));
  assert_false(secrets_equal("abc", 3, "abd", 3));
  assert_false(secrets_equal("abc", 3, "abcd", 4));
  assert_true(secrets_equal("", 0, "", 0));
  assert_true(secrets_equal_str("sha256=ff", "sha256=ff"));
  assert_false(secrets_equal_str("sha256=ff", "sha256=fe"));
  /* RFC 4231, test case 2. */
  uint8_t mac[32];
  char hex[65];
  secrets_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
  sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
  assert_string_equal(
      hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_b64url(void **state) {
  (void)state;
  uint8_t in[40], *out = NULL;
  size_t n = 0;
  for (size_t i = 0; i < sizeof(in); i++) in[i] = (uint8_t)(0xF0 + i * 13);
  for (size_t len = 0; len <= sizeof(in); len++) {
    char *s = secrets_b64url_encode(in, len);
    assert_null(strchr(s, '='));
    assert_int_equal(secrets_b64url_decode(s, strlen(s), &out, &n), 0);
    assert_int_equal(n, len);
    if (len) assert_memory_equal(out, in, len);
    free(out);
    free(s);
  }
  /* "AA" is canonical for one zero byte; "AB" has stray bits. */
  assert_int_equal(secrets_b64url_decode("AA", 2, &out, &n), 0);
  assert_int_equal(n, 1);
  free(out);
  assert_int_equal(secrets_b64url_decode("AB", 2, &out, &n),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_b64url_decode("AAF", 3, &out, &n),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_b64url_decode("AA==", 4, &out, &n),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_b64url_decode("A+8", 3, &out, &n),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_b64url_decode("A/8", 3, &out, &n),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_b64url_decode("A", 1, &out, &n), SECRETS_EMALFORMED);
  assert_int_equal(secrets_b64url_decode("-_8", 3, &out, &n), 0);
  free(out);
  char *t = secrets_random_token(32), *t2 = secrets_random_token(32);
  assert_int_equal(strlen(t), 43);
  assert_string_not_equal(t, t2);
  free(t);
  free(t2);
  assert_null(secrets_random_token(0));
}

static void test_strerror(void **state) {
  (void)state;
  int codes[] = {SECRETS_EMALFORMED, SECRETS_EBADSIG,  SECRETS_ENOKEY,
                 SECRETS_EEXPIRED,   SECRETS_EPURPOSE, SECRETS_EPERM};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    assert_true(codes[i] < 0);
    for (size_t j = 0; j < i; j++) {
      assert_int_not_equal(codes[i], codes[j]);
      assert_string_not_equal(secrets_strerror(codes[i]),
                              secrets_strerror(codes[j]));
    }
  }
}

int main(void) {
  assert_int_equal(secrets_global_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pwhash),     cmocka_unit_test(test_pkce),
      cmocka_unit_test(test_equal_hmac), cmocka_unit_test(test_b64url),
      cmocka_unit_test(test_strerror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
