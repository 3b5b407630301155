/* test_plugin_ct.c: the ciphertexts the SDK's secret_encrypt makes
 * (plugin_ct.c): bound to instance and context, re-encrypted by
 * rotation without the plugin. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "secrets/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_bound_to_instance_and_context(void **state) {
  (void)state;
  secrets_keyring_t *ring = secrets_keyring_new();
  assert_int_equal(secrets_keyring_generate(ring, true, NULL), 0);
  char *ct = NULL, *pt = NULL;
  size_t len = 0;
  assert_int_equal(
      secrets_plugin_encrypt(ring, "gmail", "oauth:refresh", "tok", 3, &ct), 0);
  assert_memory_equal(ct, "ps1:", 4);
  assert_true(secrets_plugin_is_ct(ct, strlen(ct)));
  assert_false(secrets_plugin_is_ct("v1:abc", 6));
  assert_int_equal(
      secrets_plugin_decrypt(ring, "gmail", "oauth:refresh", ct, &pt, &len), 0);
  assert_int_equal(len, 3);
  assert_string_equal(pt, "tok");
  secrets_plain_free(pt);
  /* Another instance or context does not authenticate. */
  assert_int_equal(
      secrets_plugin_decrypt(ring, "gmail2", "oauth:refresh", ct, &pt, NULL),
      SECRETS_EBADSIG);
  assert_int_equal(
      secrets_plugin_decrypt(ring, "gmail", "oauth:access", ct, &pt, NULL),
      SECRETS_EBADSIG);
  /* A relabelled envelope (context changed in front) does not either:
   * the caller's context is what is authenticated. */
  char *lab = secrets_b64url_encode("other", 5);
  const char *inner = strchr(ct + 4, ':') + 1;
  char relabelled[1024];
  snprintf(relabelled, sizeof relabelled, "ps1:%s:%s", lab, inner);
  free(lab);
  assert_int_equal(
      secrets_plugin_decrypt(ring, "gmail", "other", relabelled, &pt, NULL),
      SECRETS_EBADSIG);
  /* Tampering with one character of the body. */
  char *bad = strdup(ct);
  size_t i = strlen(bad) - 5;
  bad[i] = bad[i] == 'A' ? 'B' : 'A';
  assert_int_equal(
      secrets_plugin_decrypt(ring, "gmail", "oauth:refresh", bad, &pt, NULL),
      SECRETS_EBADSIG);
  free(bad);
  /* Malformed input and bad contexts. */
  assert_int_equal(secrets_plugin_decrypt(ring, "gmail", "oauth:refresh",
                                          "v1:x:y", &pt, NULL),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_plugin_encrypt(ring, "gmail", "", "x", 1, &pt),
                   SECRETS_EMALFORMED);
  assert_int_equal(
      secrets_plugin_encrypt(ring, "gmail", "has space", "x", 1, &pt),
      SECRETS_EMALFORMED);
  free(ct);
  secrets_keyring_free(ring);
}

static void test_rotation(void **state) {
  (void)state;
  secrets_keyring_t *ring = secrets_keyring_new();
  char old_id[SECRETS_KEYID_MAX + 1], new_id[SECRETS_KEYID_MAX + 1];
  assert_int_equal(secrets_keyring_generate(ring, true, old_id), 0);
  char *ct = NULL, *fresh = NULL, *pt = NULL;
  assert_int_equal(
      secrets_plugin_encrypt(ring, "cal", "caldav:pw", "s3cret", 6, &ct), 0);
  /* Under the active key already: nothing to do. */
  assert_int_equal(secrets_plugin_reencrypt(ring, "cal", ct, &fresh), 1);
  assert_int_equal(secrets_keyring_generate(ring, true, new_id), 0);
  assert_int_equal(secrets_plugin_reencrypt(ring, "cal", ct, &fresh), 0);
  assert_non_null(strstr(fresh, new_id));
  assert_null(strstr(fresh, old_id));
  /* The old key can go; the new ciphertext still decrypts, the old not. */
  assert_int_equal(secrets_keyring_remove(ring, old_id), 0);
  assert_int_equal(
      secrets_plugin_decrypt(ring, "cal", "caldav:pw", fresh, &pt, NULL), 0);
  assert_string_equal(pt, "s3cret");
  secrets_plain_free(pt);
  assert_int_equal(
      secrets_plugin_decrypt(ring, "cal", "caldav:pw", ct, &pt, NULL),
      SECRETS_ENOKEY);
  /* Re-encrypting for the wrong instance fails instead of laundering. */
  char *x = NULL;
  assert_int_equal(secrets_plugin_reencrypt(ring, "other", fresh, &x), 1);
  assert_int_equal(secrets_keyring_generate(ring, true, NULL), 0);
  assert_int_equal(secrets_plugin_reencrypt(ring, "other", fresh, &x),
                   SECRETS_EBADSIG);
  free(ct);
  free(fresh);
  secrets_keyring_free(ring);
}

int main(void) {
  if (secrets_global_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bound_to_instance_and_context),
      cmocka_unit_test(test_rotation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
