/*
 * The csv-analysis plugin's own helpers: SHA-256 against the FIPS 180-2
 * appendix B vectors (and split updates against one-shot), the JSON member
 * lookups on valid and hostile input, and the file helpers.
 */
#include "csv_sha256.h"
#include "csvp_fs.h"
#include "csvp_json.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

static void hex_of(const void *data, size_t len, char hex[65]) {
  csv_sha256 c;
  unsigned char d[CSV_SHA256_LEN];
  csv_sha256_init(&c);
  csv_sha256_update(&c, data, len);
  csv_sha256_final(&c, d);
  csv_sha256_hex(d, hex);
}

static void t_sha256_fips(void **state) {
  (void)state;
  char hex[65];
  hex_of("abc", 3, hex);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  hex_of(two, strlen(two), hex);
  assert_string_equal(
      hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *million = malloc(1000000);
  assert_non_null(million);
  memset(million, 'a', 1000000);
  hex_of(million, 1000000, hex);
  assert_string_equal(
      hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* The same million bytes fed in uneven pieces. */
  csv_sha256 c;
  unsigned char d[CSV_SHA256_LEN];
  csv_sha256_init(&c);
  size_t off = 0, step = 1;
  while (off < 1000000) {
    size_t n = step < 1000000 - off ? step : 1000000 - off;
    csv_sha256_update(&c, million + off, n);
    off += n;
    step = step * 7 % 1013 + 1;
  }
  csv_sha256_final(&c, d);
  csv_sha256_hex(d, hex);
  assert_string_equal(
      hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
  hex_of("", 0, hex);
  assert_string_equal(
      hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Message lengths around the padding boundary (55, 56, 63, 64 bytes) must
 * agree between one-shot and byte-at-a-time hashing; 56 and 64 'a's have
 * known digests. */
static void t_sha256_padding(void **state) {
  (void)state;
  char buf[200];
  memset(buf, 'a', sizeof buf);
  for (size_t n = 50; n < 140; n++) {
    char one[65], bytewise[65];
    hex_of(buf, n, one);
    csv_sha256 c;
    unsigned char d[CSV_SHA256_LEN];
    csv_sha256_init(&c);
    for (size_t i = 0; i < n; i++) csv_sha256_update(&c, buf + i, 1);
    csv_sha256_final(&c, d);
    csv_sha256_hex(d, bytewise);
    assert_string_equal(one, bytewise);
  }
  char hex[65];
  hex_of(buf, 64, hex);
  assert_string_equal(
      hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void t_json_members(void **state) {
  (void)state;
  const char *j = "{ \"path\" : \"/a/b.csv\", \"n\": -1.5e2, \"nested\": "
                  "{\"path\": \"no\", \"x\": [1, {\"y\": null}]}, "
                  "\"u\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\n\", "
                  "\"z\": null, \"e\": \"\"}";
  size_t len = strlen(j);
  char *s = NULL;
  assert_int_equal(csvp_json_string(j, len, "path", &s), 0);
  assert_string_equal(s, "/a/b.csv");
  free(s);
  double d = 0;
  assert_int_equal(csvp_json_number(j, len, "n", &d), 0);
  assert_true(d == -150.0);
  assert_int_equal(csvp_json_string(j, len, "u", &s), 0);
  assert_string_equal(s, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\"\n");
  free(s);
  assert_int_equal(csvp_json_string(j, len, "e", &s), 0);
  assert_string_equal(s, "");
  free(s);
  assert_int_equal(csvp_json_string(j, len, "z", &s), -ENOENT);
  assert_null(s);
  assert_int_equal(csvp_json_string(j, len, "missing", &s), -ENOENT);
  assert_int_equal(csvp_json_string(j, len, "n", &s), -EINVAL);
  assert_int_equal(csvp_json_number(j, len, "path", &d), -EINVAL);
  assert_int_equal(csvp_json_string(j, len, "x", &s), -ENOENT);
}

static void t_json_hostile(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "[]",
      "\"path\"",
      "{\"path\":\"a\"",
      "{\"path\":\"a\",}",
      "{\"path\":\"a\"} x",
      "{\"path\" \"a\"}",
      "{\"path\":\"a\\x\"}",
      "{\"path\":\"\\u00\"}",
      "{\"path\":\"\\ud800\"}",
      "{\"path\":\"\\u0000\"}",
      "{\"path\":\"tab\there\"}",
      "{\"n\":01}",
      "{\"n\":1.}",
      "{\"n\":-}",
      "{\"a\":tru}",
      "{\"a\":[1,2}",
      "{path:\"a\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *s = NULL;
    int rc = csvp_json_string(bad[i], strlen(bad[i]), "path", &s);
    if (rc != -EINVAL) fail_msg("accepted: %s (rc %d)", bad[i], rc);
    assert_null(s);
  }
  /* Deep nesting is refused, not recursed into without bound. */
  size_t depth = 100000;
  char *deep = malloc(depth * 2 + 32);
  assert_non_null(deep);
  size_t n = (size_t)sprintf(deep, "{\"a\":");
  for (size_t i = 0; i < depth; i++) deep[n++] = '[';
  for (size_t i = 0; i < depth; i++) deep[n++] = ']';
  deep[n++] = '}';
  char *s = NULL;
  assert_int_equal(csvp_json_string(deep, n, "path", &s), -EINVAL);
  free(deep);
}

static void t_json_output(void **state) {
  (void)state;
  csv_buf b = {0};
  csvp_buf_str(&b, "a\"b\\c\n\x01 \xC3\xA9 \xFF end");
  assert_false(b.oom);
  assert_string_equal(b.p,
                      "\"a\\\"b\\\\c\\n\\u0001 \xC3\xA9 \xEF\xBF\xBD end\"");
  /* What it writes, it reads back. */
  csv_buf obj = {0};
  csv_buf_puts(&obj, "{\"k\":");
  csv_buf_put(&obj, b.p, b.len);
  csv_buf_puts(&obj, "}");
  char *s = NULL;
  assert_int_equal(csvp_json_string(obj.p, obj.len, "k", &s), 0);
  assert_string_equal(s, "a\"b\\c\n\x01 \xC3\xA9 \xEF\xBF\xBD end");
  free(s);
  csv_buf_free(&obj);
  csv_buf_free(&b);
  csv_buf_printf(&b, "%0300d", 7);
  assert_int_equal(b.len, 300);
  csv_buf_free(&b);
}

static void t_fs(void **state) {
  (void)state;
  char dir[] = "/tmp/csvp-fs-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char deep[128], src[256], dst[256], moved[256];
  snprintf(deep, sizeof deep, "%s/a/b/c", dir);
  assert_int_equal(csvp_mkdirs(deep), 0);
  assert_int_equal(csvp_mkdirs(deep), 0);
  assert_int_equal(csvp_write_atomic(deep, "f.txt", "abc", 3), 0);
  snprintf(src, sizeof src, "%s/f.txt", deep);
  char hex[65];
  uint64_t size = 0;
  assert_int_equal(csvp_hash_file(src, hex, &size), 0);
  assert_int_equal(size, 3);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  snprintf(dst, sizeof dst, "%s/copy.txt", dir);
  assert_int_equal(csvp_copy_hash(src, dst, 0, hex, &size), 0);
  assert_int_equal(size, 3);
  assert_int_equal(csvp_copy_hash(src, dst, 0, hex, &size), -EEXIST);
  unlink(dst);
  assert_int_equal(csvp_copy_hash(src, dst, 2, hex, &size), -EFBIG);
  assert_int_not_equal(access(dst, F_OK), 0); /* removed on failure */
  snprintf(moved, sizeof moved, "%s/moved.txt", dir);
  assert_int_equal(csvp_move(src, moved), 0);
  assert_int_not_equal(access(src, F_OK), 0);
  char *data = NULL;
  size_t len = 0;
  assert_int_equal(csvp_read_file(moved, 100, &data, &len), 0);
  assert_int_equal(len, 3);
  assert_string_equal(data, "abc");
  free(data);
  assert_int_equal(csvp_read_file(moved, 2, &data, &len), -EFBIG);
  assert_int_equal(csvp_read_file(deep, 100, &data, &len), -EINVAL);
  assert_int_equal(csvp_hash_file(src, hex, &size), -ENOENT);
  /* Several files at once: each complete under its name, no temporary
   * left; a directory that does not exist leaves nothing behind. */
  const char *const names[2] = {"one.html", "two.json"};
  const void *const bodies[2] = {"<p>", "{}\n"};
  const size_t lens[2] = {3, 3};
  assert_int_equal(csvp_write_atomic_n(dir, names, bodies, lens, 2), 0);
  for (int i = 0; i < 2; i++) {
    snprintf(src, sizeof src, "%s/%s", dir, names[i]);
    assert_int_equal(csvp_read_file(src, 100, &data, &len), 0);
    assert_int_equal(len, lens[i]);
    assert_memory_equal(data, bodies[i], lens[i]);
    free(data);
    snprintf(src, sizeof src, "%s/.%s.tmp", dir, names[i]);
    assert_int_not_equal(access(src, F_OK), 0);
  }
  snprintf(deep, sizeof deep, "%s/missing", dir);
  assert_int_equal(csvp_write_atomic_n(deep, names, bodies, lens, 2), -ENOENT);
  assert_int_equal(
      csvp_write_atomic_n(dir, names, bodies, lens, CSVP_WRITE_MAX + 1),
      -EINVAL);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_sha256_fips),  cmocka_unit_test(t_sha256_padding),
      cmocka_unit_test(t_json_members), cmocka_unit_test(t_json_hostile),
      cmocka_unit_test(t_json_output),  cmocka_unit_test(t_fs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
