/* test_crypt.c: encryption at rest, keyring, rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "secrets/secrets.h"
#include "../testutil.h"

#include <sodium.h>
#include <sqlite3.h>

static secrets_keyring_t *ring_with_key(char *id) {
  secrets_keyring_t *ring = secrets_keyring_new();
  assert_int_equal(secrets_keyring_generate(ring, true, id), 0);
  return ring;
}

static void test_roundtrip(void **state) {
  (void)state;
  char id[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ring = ring_with_key(id);
  assert_int_equal(strlen(id), 8);
  assert_int_equal(strspn(id, "0123456789abcdef"), 8);

  char *ct = NULL, *ct2 = NULL, *pt = NULL;
  size_t len = 0;
  assert_int_equal(secrets_encrypt_str(ring, "hello, world", "t.c:1", &ct), 0);
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "v1:%s:", id);
  assert_memory_equal(ct, prefix, strlen(prefix));
  assert_int_equal(strspn(ct + strlen(prefix),
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789-_"),
                   strlen(ct + strlen(prefix)));
  assert_int_equal(secrets_decrypt(ring, ct, "t.c:1", &pt, &len), 0);
  assert_int_equal(len, 12);
  assert_string_equal(pt, "hello, world");
  secrets_plain_free(pt);

  /* A fresh nonce every time. */
  assert_int_equal(secrets_encrypt_str(ring, "hello, world", "t.c:1", &ct2), 0);
  assert_string_not_equal(ct, ct2);
  char kid[SECRETS_KEYID_MAX + 1];
  assert_int_equal(secrets_ct_key_id(ct2, kid), 0);
  assert_string_equal(kid, id);
  free(ct);
  free(ct2);

  /* Binary data with NUL bytes, and the empty plaintext. */
  unsigned char bin[300];
  for (size_t i = 0; i < sizeof(bin); i++) bin[i] = (unsigned char)(i * 7);
  assert_int_equal(secrets_encrypt(ring, bin, sizeof(bin), NULL, &ct), 0);
  assert_int_equal(secrets_decrypt(ring, ct, "", &pt, &len), 0);
  assert_int_equal(len, sizeof(bin));
  assert_memory_equal(pt, bin, sizeof(bin));
  secrets_plain_free(pt);
  free(ct);
  assert_int_equal(secrets_encrypt(ring, "", 0, "x", &ct), 0);
  assert_int_equal(secrets_decrypt(ring, ct, "x", &pt, &len), 0);
  assert_int_equal(len, 0);
  assert_string_equal(pt, "");
  secrets_plain_free(pt);
  free(ct);
  secrets_keyring_free(ring);
}

static void test_no_active_key(void **state) {
  (void)state;
  secrets_keyring_t *ring = secrets_keyring_new();
  char *ct = NULL;
  assert_int_equal(secrets_encrypt_str(ring, "x", "a", &ct), SECRETS_ENOACTIVE);
  assert_null(ct);
  secrets_keyring_free(ring);
}

static void test_wrong_aad(void **state) {
  (void)state;
  secrets_keyring_t *ring = ring_with_key(NULL);
  char *ct = NULL, *pt = NULL;
  assert_int_equal(
      secrets_encrypt_str(ring, "token", "oauth.access_token:42", &ct), 0);
  assert_int_equal(
      secrets_decrypt(ring, ct, "oauth.access_token:43", &pt, NULL),
      SECRETS_EBADSIG);
  assert_int_equal(
      secrets_decrypt(ring, ct, "oauth.refresh_token:42", &pt, NULL),
      SECRETS_EBADSIG);
  assert_int_equal(secrets_decrypt(ring, ct, NULL, &pt, NULL), SECRETS_EBADSIG);
  assert_null(pt);
  assert_int_equal(
      secrets_decrypt(ring, ct, "oauth.access_token:42", &pt, NULL), 0);
  secrets_plain_free(pt);
  free(ct);
  secrets_keyring_free(ring);
}

/* Re-encodes ct with one bit of its binary body flipped at offset off. */
static char *flip_body_bit(const char *ct, size_t off) {
  const char *body = strrchr(ct, ':') + 1;
  uint8_t *bin = NULL;
  size_t n = 0;
  assert_int_equal(secrets_b64url_decode(body, strlen(body), &bin, &n), 0);
  assert_true(off < n);
  bin[off] ^= 0x01;
  char *enc = secrets_b64url_encode(bin, n);
  size_t plen = (size_t)(body - ct);
  char *out = malloc(plen + strlen(enc) + 1);
  memcpy(out, ct, plen);
  strcpy(out + plen, enc);
  free(enc);
  free(bin);
  return out;
}

static void test_tamper(void **state) {
  (void)state;
  char id1[SECRETS_KEYID_MAX + 1], id2[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ring = ring_with_key(id1);
  assert_int_equal(secrets_keyring_generate(ring, false, id2), 0);
  const char *msg = "a secret of forty bytes, more or less!!";
  char *ct = NULL, *pt = NULL, *bad;
  assert_int_equal(secrets_encrypt_str(ring, msg, "ctx", &ct), 0);
  size_t mlen = strlen(msg);
  size_t total = 24 + mlen + 16;

  /* Nonce, ciphertext body and tag: every byte region, one bit each. */
  size_t offsets[] = {0,         11,       23, 24, 24 + mlen / 2, 24 + mlen - 1,
                      24 + mlen, total - 1};
  for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
    bad = flip_body_bit(ct, offsets[i]);
    assert_int_equal(secrets_decrypt(ring, bad, "ctx", &pt, NULL),
                     SECRETS_EBADSIG);
    free(bad);
  }
  /* Key id: an unknown id, and the id of another key in the ring. */
  bad = strdup(ct);
  bad[3] = bad[3] == 'a' ? 'b' : 'a';
  assert_int_equal(secrets_decrypt(ring, bad, "ctx", &pt, NULL),
                   SECRETS_ENOKEY);
  memcpy(bad + 3, id2, 8);
  assert_int_equal(secrets_decrypt(ring, bad, "ctx", &pt, NULL),
                   SECRETS_EBADSIG);
  free(bad);
  /* Every single character of the text, changed: never decrypts. */
  size_t n = strlen(ct);
  for (size_t i = 0; i < n; i++) {
    bad = strdup(ct);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    int rc = secrets_decrypt(ring, bad, "ctx", &pt, NULL);
    assert_true(rc < 0);
    free(bad);
  }
  /* Truncated, extended, wrong version, garbage. */
  bad = strndup(ct, n - 1);
  assert_true(secrets_decrypt(ring, bad, "ctx", &pt, NULL) < 0);
  free(bad);
  bad = malloc(n + 2);
  snprintf(bad, n + 2, "%sA", ct);
  assert_true(secrets_decrypt(ring, bad, "ctx", &pt, NULL) < 0);
  free(bad);
  bad = strdup(ct);
  bad[1] = '2';
  assert_int_equal(secrets_decrypt(ring, bad, "ctx", &pt, NULL),
                   SECRETS_EMALFORMED);
  free(bad);
  assert_int_equal(secrets_decrypt(ring, "", "ctx", &pt, NULL),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_decrypt(ring, "v1:abc:", "ctx", &pt, NULL),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_decrypt(ring, "v1::AAAA", "ctx", &pt, NULL),
                   SECRETS_EMALFORMED);
  assert_null(pt);
  /* The original still decrypts. */
  assert_int_equal(secrets_decrypt(ring, ct, "ctx", &pt, NULL), 0);
  assert_string_equal(pt, msg);
  secrets_plain_free(pt);
  free(ct);
  secrets_keyring_free(ring);
}

static sqlite3 *db_open(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "CREATE TABLE IF NOT EXISTS creds(id INTEGER "
                                "PRIMARY KEY, token TEXT NOT NULL)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  return db;
}

static void db_put(sqlite3 *db, int id, const char *token) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "INSERT OR REPLACE INTO creds(id, token) "
                                      "VALUES (?, ?)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int(st, 1, id);
  sqlite3_bind_text(st, 2, token, -1, SQLITE_TRANSIENT);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
}

static char *db_get(sqlite3 *db, int id) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT token FROM creds WHERE id = ?",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int(st, 1, id);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  char *s = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return s;
}

static void test_not_in_database_file(void **state) {
  (void)state;
  const char *secret = "ya29.PLAINTEXT-ACCESS-TOKEN-must-not-hit-the-disk";
  char *dir = tmpdir_make(), path[512], control[512];
  snprintf(path, sizeof(path), "%s/enc.db", dir);
  snprintf(control, sizeof(control), "%s/plain.db", dir);
  secrets_keyring_t *ring = ring_with_key(NULL);

  char *ct = NULL;
  assert_int_equal(secrets_encrypt_str(ring, secret, "creds.token:1", &ct), 0);
  sqlite3 *db = db_open(path);
  db_put(db, 1, ct);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);

  /* Control: the same method finds a plaintext that is stored. */
  db = db_open(control);
  db_put(db, 1, secret);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  assert_int_equal(file_contains(control, secret), 1);

  assert_int_equal(file_contains(path, ct), 1);
  assert_int_equal(file_contains(path, secret), 0);
  assert_int_equal(file_contains(path, "PLAINTEXT-ACCESS"), 0);

  /* Read back and decrypt; copied to another row, it does not decrypt. */
  db = db_open(path);
  char *stored = db_get(db, 1), *pt = NULL;
  assert_int_equal(secrets_decrypt(ring, stored, "creds.token:1", &pt, NULL),
                   0);
  assert_string_equal(pt, secret);
  secrets_plain_free(pt);
  db_put(db, 2, stored);
  char *copied = db_get(db, 2);
  assert_int_equal(secrets_decrypt(ring, copied, "creds.token:2", &pt, NULL),
                   SECRETS_EBADSIG);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  free(stored);
  free(copied);
  free(ct);
  secrets_keyring_free(ring);
  tmpdir_remove(dir);
}

static void test_rotation(void **state) {
  (void)state;
  enum { N = 20 };
  char id1[SECRETS_KEYID_MAX + 1], id2[SECRETS_KEYID_MAX + 1],
      kid[SECRETS_KEYID_MAX + 1], aad[32], msg[32];
  char *cts[N], *re[N], *pt = NULL;
  secrets_keyring_t *ring = ring_with_key(id1);
  for (int i = 0; i < N; i++) {
    snprintf(aad, sizeof(aad), "t.c:%d", i);
    snprintf(msg, sizeof(msg), "secret number %d", i);
    assert_int_equal(secrets_encrypt_str(ring, msg, aad, &cts[i]), 0);
    assert_int_equal(secrets_ct_needs_reencrypt(ring, cts[i]), 0);
  }
  /* New key, active: the old ciphertexts still decrypt. */
  assert_int_equal(secrets_keyring_generate(ring, true, id2), 0);
  assert_string_not_equal(id1, id2);
  assert_int_equal(secrets_keyring_active_id(ring, kid), 0);
  assert_string_equal(kid, id2);
  assert_int_equal(secrets_keyring_count(ring), 2);
  for (int i = 0; i < N; i++) {
    snprintf(aad, sizeof(aad), "t.c:%d", i);
    snprintf(msg, sizeof(msg), "secret number %d", i);
    assert_int_equal(secrets_decrypt(ring, cts[i], aad, &pt, NULL), 0);
    assert_string_equal(pt, msg);
    secrets_plain_free(pt);
    assert_int_equal(secrets_ct_needs_reencrypt(ring, cts[i]), 1);
    /* Re-encrypt: moves to the new key id. */
    assert_int_equal(secrets_reencrypt(ring, cts[i], aad, &re[i]), 0);
    assert_int_equal(secrets_ct_key_id(re[i], kid), 0);
    assert_string_equal(kid, id2);
    assert_int_equal(secrets_ct_needs_reencrypt(ring, re[i]), 0);
    /* Re-encryption keeps the context binding. */
    assert_int_equal(secrets_reencrypt(ring, cts[i], "other", &pt),
                     SECRETS_EBADSIG);
  }
  /* The active key cannot be removed; the old one can. */
  assert_int_equal(secrets_keyring_remove(ring, id2), -EBUSY);
  assert_int_equal(secrets_keyring_remove(ring, id1), 0);
  assert_int_equal(secrets_keyring_remove(ring, id1), -ENOENT);
  assert_false(secrets_keyring_has(ring, id1));
  for (int i = 0; i < N; i++) {
    snprintf(aad, sizeof(aad), "t.c:%d", i);
    snprintf(msg, sizeof(msg), "secret number %d", i);
    int rc = secrets_decrypt(ring, cts[i], aad, &pt, NULL);
    assert_int_equal(rc, SECRETS_ENOKEY);
    assert_non_null(strstr(secrets_strerror(rc), "not in the keyring"));
    assert_int_equal(secrets_decrypt(ring, re[i], aad, &pt, NULL), 0);
    assert_string_equal(pt, msg);
    secrets_plain_free(pt);
    free(cts[i]);
    free(re[i]);
  }
  secrets_keyring_free(ring);
}

static void test_keyring_ids(void **state) {
  (void)state;
  uint8_t key[32];
  char a[SECRETS_KEYID_MAX + 1], b[SECRETS_KEYID_MAX + 1];
  randombytes_buf(key, sizeof(key));
  secrets_keyring_t *r1 = secrets_keyring_new(), *r2 = secrets_keyring_new();
  /* The derived id depends on the key only. */
  assert_int_equal(secrets_keyring_add(r1, key, NULL, false, a), 0);
  assert_int_equal(secrets_keyring_add(r2, key, NULL, false, b), 0);
  assert_string_equal(a, b);
  assert_int_equal(secrets_keyring_add(r1, key, NULL, false, NULL), -EEXIST);
  /* Configured ids. */
  assert_int_equal(secrets_keyring_add(r1, key, "2025-q1", false, a), 0);
  assert_string_equal(a, "2025-q1");
  assert_int_equal(secrets_keyring_add(r1, key, "bad:id", false, NULL),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_keyring_add(r1, key, "", false, NULL),
                   SECRETS_EMALFORMED);
  assert_int_equal(secrets_keyring_add(r1, key,
                                       "x23456789012345678901234567890123",
                                       false, NULL),
                   SECRETS_EMALFORMED);
  /* The first key added is active even without activate. */
  assert_int_equal(secrets_keyring_active_id(r1, a), 0);
  assert_string_equal(a, b);
  assert_int_equal(secrets_keyring_set_active(r1, "2025-q1"), 0);
  assert_int_equal(secrets_keyring_set_active(r1, "nope"), -ENOENT);
  char *ct = NULL, *pt = NULL;
  assert_int_equal(secrets_encrypt_str(r1, "x", "y", &ct), 0);
  assert_memory_equal(ct, "v1:2025-q1:", 11);
  /* Same key material under another id: the id is bound, so no. */
  assert_int_equal(secrets_decrypt(r2, ct, "y", &pt, NULL), SECRETS_ENOKEY);
  free(ct);
  secrets_keyring_free(r1);
  secrets_keyring_free(r2);
}

int main(void) {
  assert_int_equal(secrets_global_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_no_active_key),
      cmocka_unit_test(test_wrong_aad),
      cmocka_unit_test(test_tamper),
      cmocka_unit_test(test_not_in_database_file),
      cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_keyring_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
