/* keyfile.c: master keys from files and environment variables. */
#include "secrets_int.h"

#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest key file accepted: base64 with padding and some whitespace. */
#define KEYFILE_MAX 256

void secrets_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int secrets_key_parse(const void *data, size_t len,
                      uint8_t key[SECRETS_KEYBYTES]) {
  static const int variants[] = {
      sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
      sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
  const unsigned char *p = data;
  size_t bin_len = 0;
  const char *end = NULL;

  if (secrets_global_init() < 0) return -EIO;
  if (len == SECRETS_KEYBYTES) {
    memcpy(key, p, SECRETS_KEYBYTES);
    return 0;
  }
  while (len > 0 && is_space(p[0])) p++, len--;
  while (len > 0 && is_space(p[len - 1])) len--;
  if (len == 2 * SECRETS_KEYBYTES) {
    if (sodium_hex2bin(key, SECRETS_KEYBYTES, (const char *)p, len, NULL,
                       &bin_len, &end) == 0 &&
        bin_len == SECRETS_KEYBYTES && end == (const char *)p + len)
      return 0;
  }
  if (len == 43 || len == 44) {
    uint8_t tmp[SECRETS_KEYBYTES + 3];
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
      if (sodium_base642bin(tmp, sizeof(tmp), (const char *)p, len, NULL,
                            &bin_len, &end, variants[v]) == 0 &&
          bin_len == SECRETS_KEYBYTES && end == (const char *)p + len) {
        memcpy(key, tmp, SECRETS_KEYBYTES);
        sodium_memzero(tmp, sizeof(tmp));
        return 0;
      }
    }
    sodium_memzero(tmp, sizeof(tmp));
  }
  sodium_memzero(key, SECRETS_KEYBYTES);
  return SECRETS_EMALFORMED;
}

/* Reads the whole file into buf (sodium_malloc'd by the caller). */
static int read_keyfile(const char *path, unsigned char *buf, size_t *len,
                        char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    secrets_errf(err, errlen, "key file %s: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) {
    rc = -errno;
    secrets_errf(err, errlen, "key file %s: %s", path, strerror(-rc));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = SECRETS_EMALFORMED;
    secrets_errf(err, errlen, "key file %s is not a regular file", path);
    goto out;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    rc = SECRETS_EPERM;
    secrets_errf(err, errlen,
                 "key file %s has mode %04o: it must not be accessible by "
                 "group or others (run: chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
    goto out;
  }
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, KEYFILE_MAX + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = -errno;
      secrets_errf(err, errlen, "key file %s: %s", path, strerror(-rc));
      goto out;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > KEYFILE_MAX) {
      rc = SECRETS_EMALFORMED;
      secrets_errf(err, errlen, "key file %s is too large to be a key", path);
      goto out;
    }
  }
  *len = n;
out:
  close(fd);
  return rc;
}

int secrets_keyring_add_file(secrets_keyring_t *ring, const char *path,
                             const char *id, bool activate, char *id_out,
                             char *err, size_t errlen) {
  uint8_t key[SECRETS_KEYBYTES];
  size_t len = 0;
  if (secrets_global_init() < 0) return -EIO;
  unsigned char *buf = sodium_malloc(KEYFILE_MAX + 1);
  if (!buf) return -ENOMEM;
  int rc = read_keyfile(path, buf, &len, err, errlen);
  if (rc == 0) {
    rc = secrets_key_parse(buf, len, key);
    if (rc < 0)
      secrets_errf(err, errlen,
                   "key file %s: expected 32 raw bytes, 64 hex characters or "
                   "base64 of 32 bytes",
                   path);
  }
  sodium_free(buf);
  if (rc == 0) {
    rc = secrets_keyring_add(ring, key, id, activate, id_out);
    if (rc < 0)
      secrets_errf(err, errlen, "key file %s: %s", path, secrets_strerror(rc));
  }
  sodium_memzero(key, sizeof(key));
  return rc;
}

int secrets_keyring_add_env(secrets_keyring_t *ring, const char *name,
                            const char *id, bool activate, char *id_out,
                            char *err, size_t errlen) {
  uint8_t key[SECRETS_KEYBYTES];
  const char *v = getenv(name);
  if (!v) {
    secrets_errf(err, errlen, "environment variable %s is not set", name);
    return -ENOENT;
  }
  size_t len = strlen(v);
  /* 32 raw bytes cannot come through the environment reliably: text only. */
  int rc = len == SECRETS_KEYBYTES ? SECRETS_EMALFORMED
                                   : secrets_key_parse(v, len, key);
  if (rc < 0) {
    secrets_errf(err, errlen,
                 "environment variable %s: expected 64 hex characters or "
                 "base64 of 32 bytes",
                 name);
    return rc;
  }
  rc = secrets_keyring_add(ring, key, id, activate, id_out);
  if (rc < 0)
    secrets_errf(err, errlen, "environment variable %s: %s", name,
                 secrets_strerror(rc));
  sodium_memzero(key, sizeof(key));
  return rc;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int secrets_keyfile_create(const char *path, char *err, size_t errlen) {
  uint8_t key[SECRETS_KEYBYTES];
  char hex[2 * SECRETS_KEYBYTES + 2];
  char *tmp = NULL, *dircopy = NULL;
  int fd = -1, rc = 0;

  if (secrets_global_init() < 0) return -EIO;
  if (access(path, F_OK) == 0) {
    secrets_errf(err, errlen, "key file %s already exists", path);
    return -EEXIST;
  }
  size_t tlen = strlen(path) + sizeof(".tmpXXXXXX");
  tmp = malloc(tlen);
  dircopy = strdup(path);
  if (!tmp || !dircopy) {
    rc = -ENOMEM;
    goto fail;
  }
  snprintf(tmp, tlen, "%s.tmpXXXXXX", path);
  fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 whatever the umask */
  if (fd < 0) {
    rc = -errno;
    secrets_errf(err, errlen, "cannot create key file %s: %s", path,
                 strerror(-rc));
    free(tmp);
    tmp = NULL;
    goto fail;
  }
  randombytes_buf(key, sizeof(key));
  sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
  hex[2 * SECRETS_KEYBYTES] = '\n';
  if (fchmod(fd, 0600) != 0 || (rc = write_all(fd, hex, sizeof(hex) - 1)) ||
      fsync(fd) != 0) {
    if (rc == 0) rc = -errno;
    secrets_errf(err, errlen, "cannot write key file %s: %s", path,
                 strerror(-rc));
    goto fail;
  }
  close(fd);
  fd = -1;
  /* link() refuses an existing target: exclusive and atomic. */
  if (link(tmp, path) != 0) {
    rc = -errno;
    secrets_errf(err, errlen, "cannot create key file %s: %s", path,
                 strerror(-rc));
    goto fail;
  }
  unlink(tmp);
  int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  rc = 0;
  goto out;
fail:
  if (fd >= 0) close(fd);
  if (tmp) unlink(tmp);
out:
  sodium_memzero(key, sizeof(key));
  sodium_memzero(hex, sizeof(hex));
  free(tmp);
  free(dircopy);
  return rc;
}

int secrets_keyring_add_file_or_create(secrets_keyring_t *ring,
                                       const char *path, bool activate,
                                       bool *created, char *id_out, char *err,
                                       size_t errlen) {
  bool made = false;
  int rc = secrets_keyfile_create(path, err, errlen);
  if (rc == 0)
    made = true;
  else if (rc != -EEXIST)
    return rc;
  if (created) *created = made;
  return secrets_keyring_add_file(ring, path, NULL, activate, id_out, err,
                                  errlen);
}
