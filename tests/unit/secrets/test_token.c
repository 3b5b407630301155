/* test_token.c: signed expiring tokens and detached MACs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "secrets/secrets.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char url_safe[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

static secrets_keyring_t *ring_with_key(char *id) {
  secrets_keyring_t *ring = secrets_keyring_new();
  assert_int_equal(secrets_keyring_generate(ring, true, id), 0);
  return ring;
}

static void test_sign_verify(void **state) {
  (void)state;
  char id[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ring = ring_with_key(id);
  char *tok = NULL, *payload = NULL;
  assert_int_equal(secrets_token_sign(ring, "rsvp",
                                      "event=42&person=7&answer=yes", 3600,
                                      &tok),
                   0);
  assert_int_equal(strspn(tok, url_safe), strlen(tok));
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "t1.%s.", id);
  assert_memory_equal(tok, prefix, strlen(prefix));
  assert_int_equal(
      secrets_token_verify(ring, "rsvp", tok, (int64_t)time(NULL), &payload),
      0);
  assert_string_equal(payload, "event=42&person=7&answer=yes");
  free(payload);
  /* payload may be NULL when only validity matters. */
  assert_int_equal(
      secrets_token_verify(ring, "rsvp", tok, (int64_t)time(NULL), NULL), 0);
  free(tok);
  /* Empty payload. */
  assert_int_equal(secrets_token_sign_at(ring, "p", "", 100, 10, &tok), 0);
  assert_int_equal(secrets_token_verify(ring, "p", tok, 105, &payload), 0);
  assert_string_equal(payload, "");
  free(payload);
  free(tok);
  /* Bad arguments. */
  assert_int_equal(secrets_token_sign(ring, "", "x", 10, &tok),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_token_sign(ring, "has space", "x", 10, &tok),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_token_sign(ring, "p", "x", 0, &tok),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_token_sign_at(ring, "p", "x", 1, INT64_MAX, &tok),
                   SECRETS_EMALFORMED);
  secrets_keyring_free(ring);
}

static void test_expired(void **state) {
  (void)state;
  secrets_keyring_t *ring = ring_with_key(NULL);
  char *tok = NULL, *payload = NULL;
  assert_int_equal(
      secrets_token_sign_at(ring, "oauth-state", "s", 1000000, 60, &tok), 0);
  assert_int_equal(
      secrets_token_verify(ring, "oauth-state", tok, 1000000, NULL), 0);
  assert_int_equal(
      secrets_token_verify(ring, "oauth-state", tok, 1000059, NULL), 0);
  assert_int_equal(
      secrets_token_verify(ring, "oauth-state", tok, 1000060, &payload),
      SECRETS_EEXPIRED);
  assert_int_equal(
      secrets_token_verify(ring, "oauth-state", tok, 9999999, &payload),
      SECRETS_EEXPIRED);
  assert_null(payload);
  free(tok);
  /* With the real clock: a token of 1 s checked an hour later. */
  assert_int_equal(secrets_token_sign(ring, "rsvp", "x", 1, &tok), 0);
  assert_int_equal(
      secrets_token_verify(ring, "rsvp", tok, (int64_t)time(NULL) + 3600, NULL),
      SECRETS_EEXPIRED);
  free(tok);
  secrets_keyring_free(ring);
}

static void test_wrong_purpose(void **state) {
  (void)state;
  secrets_keyring_t *ring = ring_with_key(NULL);
  char *tok = NULL, *payload = NULL;
  assert_int_equal(secrets_token_sign_at(ring, "rsvp", "x", 1000, 60, &tok), 0);
  assert_int_equal(
      secrets_token_verify(ring, "oauth-state", tok, 1000, &payload),
      SECRETS_EPURPOSE);
  assert_int_equal(secrets_token_verify(ring, "rsv", tok, 1000, &payload),
                   SECRETS_EPURPOSE);
  assert_int_equal(secrets_token_verify(ring, "rsvpx", tok, 1000, &payload),
                   SECRETS_EPURPOSE);
  assert_null(payload);

  /* Rewriting the purpose inside the token breaks the signature. */
  const char *b = strchr(tok + 3, '.') + 1, *e = strrchr(tok, '.');
  uint8_t *body = NULL;
  size_t n = 0;
  assert_int_equal(secrets_b64url_decode(b, (size_t)(e - b), &body, &n), 0);
  assert_int_equal(body[8], 4);
  assert_memory_equal(body + 9, "rsvp", 4);
  memcpy(body + 9, "RSVP", 4);
  char *enc = secrets_b64url_encode(body, n);
  size_t tl = strlen(tok) + 8;
  char *forged = malloc(tl);
  snprintf(forged, tl, "%.*s%s%s", (int)(b - tok), tok, enc, e);
  assert_int_equal(secrets_token_verify(ring, "RSVP", forged, 1000, NULL),
                   SECRETS_EBADSIG);
  free(forged);
  free(enc);
  free(body);
  free(tok);
  secrets_keyring_free(ring);
}

static void test_tampered(void **state) {
  (void)state;
  secrets_keyring_t *ring = ring_with_key(NULL);
  char *tok = NULL;
  assert_int_equal(
      secrets_token_sign_at(ring, "rsvp", "event=1&person=2", 1000, 60, &tok),
      0);
  size_t n = strlen(tok);
  int badsig = 0;
  for (size_t i = 0; i < n; i++) {
    for (const char *c = "A_.0"; *c; c++) {
      if (tok[i] == *c) continue;
      char *bad = strdup(tok);
      bad[i] = *c;
      int rc = secrets_token_verify(ring, "rsvp", bad, 1000, NULL);
      assert_true(rc == SECRETS_EMALFORMED || rc == SECRETS_EBADSIG ||
                  rc == SECRETS_ENOKEY);
      if (rc == SECRETS_EBADSIG) badsig++;
      free(bad);
    }
  }
  assert_true(badsig > 0);

  /* A changed payload, validly encoded: bad signature. */
  const char *b = strchr(tok + 3, '.') + 1, *e = strrchr(tok, '.');
  uint8_t *body = NULL;
  size_t bl = 0;
  assert_int_equal(secrets_b64url_decode(b, (size_t)(e - b), &body, &bl), 0);
  body[bl - 1] = '3'; /* person=3 */
  char *enc = secrets_b64url_encode(body, bl);
  char *forged = malloc(n + 8);
  snprintf(forged, n + 8, "%.*s%s%s", (int)(b - tok), tok, enc, e);
  assert_int_equal(secrets_token_verify(ring, "rsvp", forged, 1000, NULL),
                   SECRETS_EBADSIG);
  free(forged);
  /* A pushed-back expiry: bad signature too. */
  body[bl - 1] = '2';
  body[0] ^= 0x40;
  free(enc);
  enc = secrets_b64url_encode(body, bl);
  forged = malloc(n + 8);
  snprintf(forged, n + 8, "%.*s%s%s", (int)(b - tok), tok, enc, e);
  assert_int_equal(secrets_token_verify(ring, "rsvp", forged, 1000, NULL),
                   SECRETS_EBADSIG);
  free(forged);
  free(enc);
  free(body);
  /* The genuine one still verifies. */
  assert_int_equal(secrets_token_verify(ring, "rsvp", tok, 1000, NULL), 0);
  free(tok);
  secrets_keyring_free(ring);
}

static void test_malformed(void **state) {
  (void)state;
  char id[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ring = ring_with_key(id);
  char *tok = NULL;
  assert_int_equal(secrets_token_sign_at(ring, "p", "x", 1000, 60, &tok), 0);
  const char *bad[] = {"",
                       "t1",
                       "t1.",
                       "t1..",
                       "t1...",
                       "garbage",
                       "t2.abc.AAAA.AAAA",
                       "t1.abc.AAAA",
                       "t1.a:b.AAAA.AAAA",
                       "t1.abc.AA=A.AAAA",
                       "t1.abc.AAAA.AAAA.AAAA",
                       "t1.abc.AAAA.AAAA"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(secrets_token_verify(ring, "p", bad[i], 1000, NULL),
                     SECRETS_EMALFORMED);
  /* A token cut short, or with a MAC of the wrong length. */
  char *cut = strndup(tok, strlen(tok) - 4);
  assert_int_equal(secrets_token_verify(ring, "p", cut, 1000, NULL),
                   SECRETS_EMALFORMED);
  free(cut);
  /* A body too short to hold expiry and purpose. */
  char t[128];
  snprintf(t, sizeof(t), "t1.%s.AAAA.%s", id, strrchr(tok, '.') + 1);
  assert_int_equal(secrets_token_verify(ring, "p", t, 1000, NULL),
                   SECRETS_EMALFORMED);
  free(tok);
  secrets_keyring_free(ring);
}

static void test_rotation_and_foreign_keys(void **state) {
  (void)state;
  char id1[SECRETS_KEYID_MAX + 1], id2[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ring = ring_with_key(id1);
  char *old = NULL, *fresh = NULL, *payload = NULL;
  assert_int_equal(secrets_token_sign_at(ring, "rsvp", "old", 1000, 60, &old),
                   0);
  assert_int_equal(secrets_keyring_generate(ring, true, id2), 0);
  assert_int_equal(secrets_token_sign_at(ring, "rsvp", "new", 1000, 60, &fresh),
                   0);
  assert_non_null(strstr(old, id1));
  assert_non_null(strstr(fresh, id2));
  assert_int_equal(secrets_token_verify(ring, "rsvp", old, 1010, &payload), 0);
  assert_string_equal(payload, "old");
  free(payload);
  assert_int_equal(secrets_token_verify(ring, "rsvp", fresh, 1010, &payload),
                   0);
  assert_string_equal(payload, "new");
  free(payload);
  assert_int_equal(secrets_keyring_remove(ring, id1), 0);
  assert_int_equal(secrets_token_verify(ring, "rsvp", old, 1010, NULL),
                   SECRETS_ENOKEY);
  assert_int_equal(secrets_token_verify(ring, "rsvp", fresh, 1010, NULL), 0);

  /* Another ring using the same key id for a different key. */
  secrets_keyring_t *other = secrets_keyring_new();
  uint8_t k[32];
  randombytes_buf(k, sizeof(k));
  assert_int_equal(secrets_keyring_add(other, k, id2, true, NULL), 0);
  assert_int_equal(secrets_token_verify(other, "rsvp", fresh, 1010, NULL),
                   SECRETS_EBADSIG);
  secrets_keyring_free(other);
  free(old);
  free(fresh);
  secrets_keyring_free(ring);
}

static void test_mac(void **state) {
  (void)state;
  char id1[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ring = ring_with_key(id1);
  char *mac = NULL, *mac2 = NULL;
  assert_int_equal(secrets_mac(ring, "audit-head", "42:abcdef", 9, &mac), 0);
  assert_int_equal(strspn(mac, url_safe), strlen(mac));
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "42:abcdef", 9, mac),
                   0);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "43:abcdef", 9, mac),
                   SECRETS_EBADSIG);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "42:abcde", 8, mac),
                   SECRETS_EBADSIG);
  assert_int_equal(secrets_mac_verify(ring, "webhook", "42:abcdef", 9, mac),
                   SECRETS_EBADSIG);
  /* Deterministic for one key; rotation keeps old MACs verifiable. */
  assert_int_equal(secrets_mac(ring, "audit-head", "42:abcdef", 9, &mac2), 0);
  assert_string_equal(mac, mac2);
  free(mac2);
  assert_int_equal(secrets_keyring_generate(ring, true, NULL), 0);
  assert_int_equal(secrets_mac(ring, "audit-head", "42:abcdef", 9, &mac2), 0);
  assert_string_not_equal(mac, mac2);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "42:abcdef", 9, mac),
                   0);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "42:abcdef", 9, mac2),
                   0);
  assert_int_equal(secrets_keyring_remove(ring, id1), 0);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "42:abcdef", 9, mac),
                   SECRETS_ENOKEY);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "x", 1, "m1.zz"),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_mac_verify(ring, "audit-head", "x", 1, "junk"),
                   SECRETS_EMALFORMED);
  free(mac);
  free(mac2);
  secrets_keyring_free(ring);
}

int main(void) {
  assert_int_equal(secrets_global_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_verify),
      cmocka_unit_test(test_expired),
      cmocka_unit_test(test_wrong_purpose),
      cmocka_unit_test(test_tampered),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_rotation_and_foreign_keys),
      cmocka_unit_test(test_mac),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
