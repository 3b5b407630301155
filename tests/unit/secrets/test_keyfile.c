/* test_keyfile.c: key files, environment keys, first-run creation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "secrets/secrets.h"
#include "../testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

static char *dir;

static int setup(void **state) {
  (void)state;
  dir = tmpdir_make();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tmpdir_remove(dir);
  return 0;
}

static void write_file(const char *path, const void *data, size_t len,
                       mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

static int count_entries(const char *d) {
  int n = 0;
  DIR *dp = opendir(d);
  struct dirent *e;
  while ((e = readdir(dp)))
    if (e->d_name[0] != '.') n++;
  closedir(dp);
  return n;
}

static void test_create_0600(void **state) {
  (void)state;
  char path[512], err[256] = "";
  snprintf(path, sizeof(path), "%s/master.key", dir);
  mode_t old = umask(0); /* even with a permissive umask */
  assert_int_equal(secrets_keyfile_create(path, err, sizeof(err)), 0);
  umask(old);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0600);
  size_t len = 0;
  unsigned char *b = file_bytes(path, &len);
  assert_int_equal(len, 65);
  assert_int_equal(b[64], '\n');
  assert_int_equal(strspn((char *)b, "0123456789abcdef"), 64);
  /* Only the key file is left: no temporary file. */
  assert_int_equal(count_entries(dir), 1);

  /* Never overwrites. */
  assert_int_equal(secrets_keyfile_create(path, err, sizeof(err)), -EEXIST);
  size_t len2 = 0;
  unsigned char *b2 = file_bytes(path, &len2);
  assert_int_equal(len2, len);
  assert_memory_equal(b, b2, len);
  assert_int_equal(count_entries(dir), 1);

  /* It loads, and encrypts. */
  secrets_keyring_t *ring = secrets_keyring_new();
  char id[SECRETS_KEYID_MAX + 1];
  assert_int_equal(
      secrets_keyring_add_file(ring, path, NULL, true, id, err, sizeof(err)),
      0);
  assert_int_equal(strlen(id), 8);
  char *ct = NULL;
  assert_int_equal(secrets_encrypt_str(ring, "x", "y", &ct), 0);
  free(ct);
  secrets_keyring_free(ring);
  free(b);
  free(b2);
  unlink(path);

  /* Into a directory that does not exist: a clear error. */
  snprintf(path, sizeof(path), "%s/missing/master.key", dir);
  assert_int_equal(secrets_keyfile_create(path, err, sizeof(err)), -ENOENT);
  assert_non_null(strstr(err, path));
}

static void test_refuse_group_other(void **state) {
  (void)state;
  char path[512], err[512] = "";
  uint8_t key[32];
  char hex[65];
  randombytes_buf(key, sizeof(key));
  sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
  snprintf(path, sizeof(path), "%s/loose.key", dir);
  secrets_keyring_t *ring = secrets_keyring_new();
  mode_t modes[] = {0644, 0640, 0604, 0660, 0602};
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    write_file(path, hex, 64, modes[i]);
    err[0] = 0;
    assert_int_equal(secrets_keyring_add_file(ring, path, NULL, true, NULL, err,
                                              sizeof(err)),
                     SECRETS_EPERM);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "group or others"));
    assert_non_null(strstr(err, "chmod 600"));
  }
  assert_int_equal(secrets_keyring_count(ring), 0);
  /* The same file at 0600 or 0400 is fine. */
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(
      secrets_keyring_add_file(ring, path, NULL, true, NULL, err, sizeof(err)),
      0);
  assert_int_equal(chmod(path, 0400), 0);
  assert_int_equal(
      secrets_keyring_add_file(ring, path, "k2", false, NULL, err, sizeof(err)),
      0);
  /* A directory is not a key file; a missing file says so. */
  assert_int_equal(
      secrets_keyring_add_file(ring, dir, "k3", false, NULL, err, sizeof(err)),
      SECRETS_EMALFORMED);
  snprintf(path, sizeof(path), "%s/absent.key", dir);
  assert_int_equal(
      secrets_keyring_add_file(ring, path, "k3", false, NULL, err, sizeof(err)),
      -ENOENT);
  assert_non_null(strstr(err, path));
  secrets_keyring_free(ring);
}

static void test_formats(void **state) {
  (void)state;
  uint8_t key[32];
  char hex[65], b64[64], b64u[64], text[128], path[512], err[256];
  char want[SECRETS_KEYID_MAX + 1], got[SECRETS_KEYID_MAX + 1];
  randombytes_buf(key, sizeof(key));
  sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
  sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_bin2base64(b64u, sizeof(b64u), key, sizeof(key),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  secrets_keyring_t *ref = secrets_keyring_new();
  assert_int_equal(secrets_keyring_add(ref, key, NULL, true, want), 0);
  secrets_keyring_free(ref);

  struct {
    const void *data;
    size_t len;
  } forms[5];
  forms[0].data = key, forms[0].len = 32;
  forms[1].data = hex, forms[1].len = 64;
  snprintf(text, sizeof(text), "  %s\r\n", hex);
  forms[2].data = text, forms[2].len = strlen(text);
  forms[3].data = b64, forms[3].len = strlen(b64);
  forms[4].data = b64u, forms[4].len = strlen(b64u);
  for (size_t i = 0; i < 5; i++) {
    snprintf(path, sizeof(path), "%s/k%zu.key", dir, i);
    write_file(path, forms[i].data, forms[i].len, 0600);
    secrets_keyring_t *ring = secrets_keyring_new();
    assert_int_equal(
        secrets_keyring_add_file(ring, path, NULL, true, got, err, sizeof(err)),
        0);
    assert_string_equal(got, want);
    secrets_keyring_free(ring);
  }
  /* Wrong lengths and characters. */
  const char *bad[] = {"", "abcd", "zz", "0123456789abcdef"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    snprintf(path, sizeof(path), "%s/bad.key", dir);
    write_file(path, bad[i], strlen(bad[i]), 0600);
    secrets_keyring_t *ring = secrets_keyring_new();
    assert_int_equal(secrets_keyring_add_file(ring, path, NULL, true, NULL, err,
                                              sizeof(err)),
                     SECRETS_EMALFORMED);
    assert_non_null(strstr(err, "64 hex"));
    secrets_keyring_free(ring);
  }
  char nothex[65];
  memcpy(nothex, hex, 65);
  nothex[10] = 'g';
  uint8_t out[32];
  assert_int_equal(secrets_key_parse(nothex, 64, out), SECRETS_EMALFORMED);
  assert_int_equal(secrets_key_parse(hex, 63, out), SECRETS_EMALFORMED);
  assert_int_equal(secrets_key_parse(hex, 64, out), 0);
  assert_memory_equal(out, key, 32);
  /* Too large a file. */
  char big[400];
  memset(big, 'a', sizeof(big));
  write_file(path, big, sizeof(big), 0600);
  secrets_keyring_t *ring = secrets_keyring_new();
  assert_int_equal(
      secrets_keyring_add_file(ring, path, NULL, true, NULL, err, sizeof(err)),
      SECRETS_EMALFORMED);
  secrets_keyring_free(ring);
}

static void test_env(void **state) {
  (void)state;
  uint8_t key[32];
  char hex[65], b64[64], err[256];
  char a[SECRETS_KEYID_MAX + 1], b[SECRETS_KEYID_MAX + 1];
  randombytes_buf(key, sizeof(key));
  sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
  sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
                    sodium_base64_VARIANT_ORIGINAL);
  secrets_keyring_t *ring = secrets_keyring_new();
  unsetenv("ASSISTD_TEST_KEY");
  assert_int_equal(secrets_keyring_add_env(ring, "ASSISTD_TEST_KEY", NULL, true,
                                           NULL, err, sizeof(err)),
                   -ENOENT);
  assert_non_null(strstr(err, "ASSISTD_TEST_KEY"));
  setenv("ASSISTD_TEST_KEY", hex, 1);
  assert_int_equal(secrets_keyring_add_env(ring, "ASSISTD_TEST_KEY", NULL, true,
                                           a, err, sizeof(err)),
                   0);
  setenv("ASSISTD_TEST_KEY", b64, 1);
  assert_int_equal(secrets_keyring_add_env(ring, "ASSISTD_TEST_KEY", "b64",
                                           false, b, err, sizeof(err)),
                   0);
  assert_string_equal(b, "b64");
  setenv("ASSISTD_TEST_KEY", "not a key", 1);
  assert_int_equal(secrets_keyring_add_env(ring, "ASSISTD_TEST_KEY", NULL, true,
                                           NULL, err, sizeof(err)),
                   SECRETS_EMALFORMED);
  unsetenv("ASSISTD_TEST_KEY");
  /* The hex form gave the key's derived id: it is the same key. */
  char want[SECRETS_KEYID_MAX + 1];
  secrets_keyring_t *ref = secrets_keyring_new();
  assert_int_equal(secrets_keyring_add(ref, key, NULL, true, want), 0);
  assert_string_equal(a, want);
  secrets_keyring_free(ref);
  /* The base64 copy works as the active key. */
  char *ct = NULL, *pt = NULL;
  assert_int_equal(secrets_keyring_set_active(ring, "b64"), 0);
  assert_int_equal(secrets_encrypt_str(ring, "x", "y", &ct), 0);
  assert_memory_equal(ct, "v1:b64:", 7);
  assert_int_equal(secrets_decrypt(ring, ct, "y", &pt, NULL), 0);
  secrets_plain_free(pt);
  free(ct);
  secrets_keyring_free(ring);
}

static void test_file_or_create(void **state) {
  (void)state;
  char path[512], err[256];
  char a[SECRETS_KEYID_MAX + 1], b[SECRETS_KEYID_MAX + 1];
  bool created = false;
  snprintf(path, sizeof(path), "%s/first-run.key", dir);
  secrets_keyring_t *r1 = secrets_keyring_new(), *r2 = secrets_keyring_new();
  assert_int_equal(secrets_keyring_add_file_or_create(r1, path, true, &created,
                                                      a, err, sizeof(err)),
                   0);
  assert_true(created);
  assert_int_equal(secrets_keyring_add_file_or_create(r2, path, true, &created,
                                                      b, err, sizeof(err)),
                   0);
  assert_false(created);
  assert_string_equal(a, b);
  /* What r1 encrypts, r2 (the next start) decrypts. */
  char *ct = NULL, *pt = NULL;
  assert_int_equal(secrets_encrypt_str(r1, "persisted", "ctx", &ct), 0);
  assert_int_equal(secrets_decrypt(r2, ct, "ctx", &pt, NULL), 0);
  assert_string_equal(pt, "persisted");
  secrets_plain_free(pt);
  free(ct);
  /* A loose file is refused, not replaced. */
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(secrets_keyring_add_file_or_create(r1, path, true, &created,
                                                      NULL, err, sizeof(err)),
                   SECRETS_EPERM);
  secrets_keyring_free(r1);
  secrets_keyring_free(r2);
}

int main(void) {
  assert_int_equal(secrets_global_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_0600),
      cmocka_unit_test(test_refuse_group_other),
      cmocka_unit_test(test_formats),
      cmocka_unit_test(test_env),
      cmocka_unit_test(test_file_or_create),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
