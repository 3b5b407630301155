/*
 * secrets_int.h: what the files of core/secrets share; not for other
 * services (they use secrets.h).
 */
#ifndef ASSIST_SECRETS_INT_H
#define ASSIST_SECRETS_INT_H

#include "secrets.h"

#include <pthread.h>
#include <sys/types.h>

/** One master key. mem: sodium_malloc(64), read-only after setup:
 *  [0, 32) the master key, [32, 64) its derived encryption subkey. */
struct secrets_key {
  char id[SECRETS_KEYID_MAX + 1];
  unsigned char *mem;
};

struct secrets_keyring {
  pthread_rwlock_t lock;
  struct secrets_key *keys; /* owned array */
  size_t n, cap;
  ssize_t active; /* index into keys, -1 when empty */
};

#define KEY_MASTER(k) ((const unsigned char *)(k)->mem)
#define KEY_ENC(k) ((const unsigned char *)(k)->mem + 32)

/* keyring.c: callers hold the read lock while they use a key. */
void keyring_rdlock(secrets_keyring_t *ring);
void keyring_unlock(secrets_keyring_t *ring);
/** NULL if id (idlen bytes, not NUL-terminated) is not in the ring. */
const struct secrets_key *keyring_find_locked(secrets_keyring_t *ring,
                                              const char *id, size_t idlen);
/** NULL if the ring is empty. */
const struct secrets_key *keyring_active_locked(secrets_keyring_t *ring);
/** true if s[0..n) is a valid key id. */
bool keyid_valid(const char *s, size_t n);
/** The 32-byte MAC subkey of k for purpose. out: zero it after use. */
void key_mac_subkey(const struct secrets_key *k, const char *purpose,
                    size_t purpose_len, unsigned char out[32]);

/* b64.c */
/** Strict base64url (no padding) decoding into out (max bytes). */
int b64url_decode_into(const char *s, size_t slen, uint8_t *out, size_t max,
                       size_t *out_len);
/** Appends base64url of bin to a buffer of at least
 *  sodium_base64_ENCODED_LEN(len, URLSAFE_NO_PADDING) bytes; returns the
 *  number of characters written (the NUL is written too). */
size_t b64url_encode_into(char *dst, size_t dstlen, const void *bin,
                          size_t len);

/* keyfile.c */
void secrets_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
