/* pwhash.c: Argon2id password hashes. Slow on purpose: thread pool only. */
#include "secrets_int.h"

#include <sodium.h>
#include <string.h>

_Static_assert(SECRETS_PWHASH_STRBYTES == crypto_pwhash_STRBYTES,
               "SECRETS_PWHASH_STRBYTES must match libsodium");

#define PASSWORD_MAX 1024

static const char argon2id_prefix[] = "$argon2id$";

/* Set once at start-up, read by worker threads afterwards. */
static unsigned long long cur_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t cur_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

int secrets_pwhash_set_limits(unsigned long long opslimit, size_t memlimit) {
  if (opslimit < crypto_pwhash_OPSLIMIT_MIN ||
      opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      memlimit < crypto_pwhash_MEMLIMIT_MIN)
    return SECRETS_EMALFORMED;
  cur_ops = opslimit;
  cur_mem = memlimit;
  return 0;
}

int secrets_pwhash(const char *password, char out[SECRETS_PWHASH_STRBYTES]) {
  size_t len = strlen(password);
  if (len > PASSWORD_MAX) return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;
  if (crypto_pwhash_str_alg(out, password, len, cur_ops, cur_mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return -ENOMEM;
  return 0;
}

static bool is_argon2id(const char *hash) {
  return strncmp(hash, argon2id_prefix, sizeof(argon2id_prefix) - 1) == 0 &&
         strlen(hash) < SECRETS_PWHASH_STRBYTES;
}

int secrets_pwhash_verify(const char *hash, const char *password) {
  size_t len = strlen(password);
  if (!is_argon2id(hash)) return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;
  /* A too-long password cannot have been hashed by secrets_pwhash. */
  if (len > PASSWORD_MAX) return SECRETS_EBADSIG;
  return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0
                                                            : SECRETS_EBADSIG;
}

int secrets_pwhash_needs_rehash(const char *hash) {
  if (!is_argon2id(hash)) return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;
  int r = crypto_pwhash_str_needs_rehash(hash, cur_ops, cur_mem);
  return r < 0 ? SECRETS_EMALFORMED : r;
}
