/* keyring.c: master keys by id, the active key, derived subkeys. */
#include "secrets_int.h"

#include "common/alloc.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = -EIO;

static void do_init(void) {
  init_rc = sodium_init() < 0 ? -EIO : 0;
}

int secrets_global_init(void) {
  pthread_once(&init_once, do_init);
  return init_rc;
}

const char *secrets_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
  case SECRETS_EMALFORMED:
    return "malformed input";
  case SECRETS_EBADSIG:
    return "authentication failed (tampered data, wrong context or key)";
  case SECRETS_ENOKEY:
    return "the key id is not in the keyring (was the old key removed?)";
  case SECRETS_EEXPIRED:
    return "token expired";
  case SECRETS_EPURPOSE:
    return "token made for another purpose";
  case SECRETS_EPERM:
    return "key file accessible by group or others";
  case SECRETS_ENOACTIVE:
    return "no such key, or no active key";
  case -EEXIST:
    return "already exists";
  case -EBUSY:
    return "the active key cannot be removed";
  default:
    return code < 0 ? strerror(-code) : "unknown";
  }
}

bool keyid_valid(const char *s, size_t n) {
  if (n == 0 || n > SECRETS_KEYID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

secrets_keyring_t *secrets_keyring_new(void) {
  secrets_keyring_t *ring = xcalloc(1, sizeof(*ring));
  pthread_rwlock_init(&ring->lock, NULL);
  ring->active = -1;
  return ring;
}

void secrets_keyring_free(secrets_keyring_t *ring) {
  if (!ring) return;
  for (size_t i = 0; i < ring->n; i++) sodium_free(ring->keys[i].mem);
  free(ring->keys);
  pthread_rwlock_destroy(&ring->lock);
  free(ring);
}

void keyring_rdlock(secrets_keyring_t *ring) {
  pthread_rwlock_rdlock(&ring->lock);
}

void keyring_unlock(secrets_keyring_t *ring) {
  pthread_rwlock_unlock(&ring->lock);
}

const struct secrets_key *keyring_find_locked(secrets_keyring_t *ring,
                                              const char *id, size_t idlen) {
  for (size_t i = 0; i < ring->n; i++) {
    if (strlen(ring->keys[i].id) == idlen &&
        memcmp(ring->keys[i].id, id, idlen) == 0)
      return &ring->keys[i];
  }
  return NULL;
}

const struct secrets_key *keyring_active_locked(secrets_keyring_t *ring) {
  return ring->active < 0 ? NULL : &ring->keys[ring->active];
}

static ssize_t find_index(secrets_keyring_t *ring, const char *id) {
  for (size_t i = 0; i < ring->n; i++)
    if (strcmp(ring->keys[i].id, id) == 0) return (ssize_t)i;
  return -1;
}

/* The id is a PRF of the key under a fixed label: it names the key
 * without revealing anything about it. */
static void derive_id(const uint8_t key[32], char out[SECRETS_KEYID_MAX + 1]) {
  static const char label[] = "assistd key id v1";
  unsigned char h[16];
  crypto_generichash(h, sizeof(h), (const unsigned char *)label,
                     sizeof(label) - 1, key, 32);
  sodium_bin2hex(out, SECRETS_KEYID_MAX + 1, h, 4);
}

int secrets_keyring_add(secrets_keyring_t *ring,
                        const uint8_t key[SECRETS_KEYBYTES], const char *id,
                        bool activate, char *id_out) {
  char kid[SECRETS_KEYID_MAX + 1];
  if (secrets_global_init() < 0) return -EIO;
  if (id) {
    if (!keyid_valid(id, strlen(id))) return SECRETS_EMALFORMED;
    memcpy(kid, id, strlen(id) + 1);
  } else {
    derive_id(key, kid);
  }
  unsigned char *mem = sodium_malloc(64);
  if (!mem) return -ENOMEM;
  memcpy(mem, key, 32);
  crypto_kdf_derive_from_key(mem + 32, 32, 1, "asdenc01", mem);
  sodium_mprotect_readonly(mem);

  pthread_rwlock_wrlock(&ring->lock);
  if (find_index(ring, kid) >= 0) {
    pthread_rwlock_unlock(&ring->lock);
    sodium_free(mem);
    return -EEXIST;
  }
  if (ring->n == ring->cap) {
    ring->cap = ring->cap ? ring->cap * 2 : 4;
    ring->keys = xrealloc(ring->keys, ring->cap * sizeof(*ring->keys));
  }
  struct secrets_key *k = &ring->keys[ring->n];
  memcpy(k->id, kid, sizeof(kid));
  k->mem = mem;
  if (activate || ring->active < 0) ring->active = (ssize_t)ring->n;
  ring->n++;
  pthread_rwlock_unlock(&ring->lock);
  if (id_out) memcpy(id_out, kid, strlen(kid) + 1);
  return 0;
}

int secrets_keyring_generate(secrets_keyring_t *ring, bool activate,
                             char *id_out) {
  uint8_t key[32];
  if (secrets_global_init() < 0) return -EIO;
  randombytes_buf(key, sizeof(key));
  int rc = secrets_keyring_add(ring, key, NULL, activate, id_out);
  sodium_memzero(key, sizeof(key));
  return rc;
}

int secrets_keyring_set_active(secrets_keyring_t *ring, const char *id) {
  pthread_rwlock_wrlock(&ring->lock);
  ssize_t i = find_index(ring, id);
  if (i >= 0) ring->active = i;
  pthread_rwlock_unlock(&ring->lock);
  return i >= 0 ? 0 : -ENOENT;
}

int secrets_keyring_remove(secrets_keyring_t *ring, const char *id) {
  int rc = 0;
  pthread_rwlock_wrlock(&ring->lock);
  ssize_t i = find_index(ring, id);
  if (i < 0) {
    rc = -ENOENT;
  } else if (i == ring->active) {
    rc = -EBUSY;
  } else {
    sodium_free(ring->keys[i].mem);
    memmove(&ring->keys[i], &ring->keys[i + 1],
            (ring->n - (size_t)i - 1) * sizeof(*ring->keys));
    ring->n--;
    if (ring->active > i) ring->active--;
  }
  pthread_rwlock_unlock(&ring->lock);
  return rc;
}

int secrets_keyring_active_id(secrets_keyring_t *ring, char *id_out) {
  int rc = SECRETS_ENOACTIVE;
  keyring_rdlock(ring);
  const struct secrets_key *k = keyring_active_locked(ring);
  if (k) {
    memcpy(id_out, k->id, strlen(k->id) + 1);
    rc = 0;
  }
  keyring_unlock(ring);
  return rc;
}

bool secrets_keyring_has(secrets_keyring_t *ring, const char *id) {
  keyring_rdlock(ring);
  bool has = keyring_find_locked(ring, id, strlen(id)) != NULL;
  keyring_unlock(ring);
  return has;
}

size_t secrets_keyring_count(secrets_keyring_t *ring) {
  keyring_rdlock(ring);
  size_t n = ring->n;
  keyring_unlock(ring);
  return n;
}

void key_mac_subkey(const struct secrets_key *k, const char *purpose,
                    size_t purpose_len, unsigned char out[32]) {
  unsigned char h[16];
  uint64_t subkey_id = 0;
  crypto_generichash(h, sizeof(h), (const unsigned char *)purpose, purpose_len,
                     NULL, 0);
  for (int i = 0; i < 8; i++) subkey_id = (subkey_id << 8) | h[i];
  crypto_kdf_derive_from_key(out, 32, subkey_id, "asdmac01", KEY_MASTER(k));
}
