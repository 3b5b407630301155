/* aead.c: XChaCha20-Poly1305 encryption at rest, "v1:<keyid>:<b64>". */
#include "secrets_int.h"

#include "common/alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Associated data: "v1:<keyid>:" || context. */
static unsigned char *make_ad(const char *id, size_t idlen, const char *aad,
                              size_t *adlen) {
  size_t alen = aad ? strlen(aad) : 0;
  *adlen = 3 + idlen + 1 + alen;
  unsigned char *ad = xmalloc(*adlen + 1);
  memcpy(ad, "v1:", 3);
  memcpy(ad + 3, id, idlen);
  ad[3 + idlen] = ':';
  if (alen) memcpy(ad + 4 + idlen, aad, alen);
  return ad;
}

int secrets_encrypt(secrets_keyring_t *ring, const void *pt, size_t len,
                    const char *aad, char **out) {
  if (len > SECRETS_MAX_PLAINTEXT) return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;

  size_t blen = NONCE_LEN + len + TAG_LEN;
  unsigned char *bin = xmalloc(blen);
  randombytes_buf(bin, NONCE_LEN);

  keyring_rdlock(ring);
  const struct secrets_key *k = keyring_active_locked(ring);
  if (!k) {
    keyring_unlock(ring);
    free(bin);
    return SECRETS_ENOACTIVE;
  }
  size_t idlen = strlen(k->id), adlen;
  unsigned char *ad = make_ad(k->id, idlen, aad, &adlen);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bin + NONCE_LEN, &clen, pt, len,
                                             ad, adlen, NULL, bin, KEY_ENC(k));
  size_t slen =
      3 + idlen + 1 +
      sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *s = xmalloc(slen);
  memcpy(s, "v1:", 3);
  memcpy(s + 3, k->id, idlen);
  s[3 + idlen] = ':';
  keyring_unlock(ring);
  b64url_encode_into(s + 4 + idlen, slen - 4 - idlen, bin, blen);
  free(ad);
  free(bin);
  *out = s;
  return 0;
}

int secrets_encrypt_str(secrets_keyring_t *ring, const char *pt,
                        const char *aad, char **out) {
  return secrets_encrypt(ring, pt, strlen(pt), aad, out);
}

/* Splits "v1:<id>:<b64>". */
static int parse_ct(const char *ct, const char **id, size_t *idlen,
                    const char **body) {
  if (strncmp(ct, "v1:", 3) != 0) return SECRETS_EMALFORMED;
  const char *p = ct + 3, *colon = strchr(p, ':');
  if (!colon || !keyid_valid(p, (size_t)(colon - p))) return SECRETS_EMALFORMED;
  *id = p;
  *idlen = (size_t)(colon - p);
  *body = colon + 1;
  return 0;
}

int secrets_ct_key_id(const char *ct, char *id_out) {
  const char *id, *body;
  size_t idlen;
  int rc = parse_ct(ct, &id, &idlen, &body);
  if (rc < 0) return rc;
  memcpy(id_out, id, idlen);
  id_out[idlen] = '\0';
  return 0;
}

int secrets_decrypt(secrets_keyring_t *ring, const char *ct, const char *aad,
                    char **out, size_t *out_len) {
  const char *id, *body;
  size_t idlen, blen = 0;
  uint8_t *bin = NULL;
  unsigned char *ad = NULL;
  char *pt = NULL;
  int rc;

  if (secrets_global_init() < 0) return -EIO;
  if ((rc = parse_ct(ct, &id, &idlen, &body)) < 0) return rc;
  if ((rc = secrets_b64url_decode(body, strlen(body), &bin, &blen)) < 0)
    return rc;
  if (blen < NONCE_LEN + TAG_LEN) {
    rc = SECRETS_EMALFORMED;
    goto done;
  }
  size_t ptlen = blen - NONCE_LEN - TAG_LEN, adlen;
  pt = sodium_malloc(ptlen + 1);
  if (!pt) {
    rc = -ENOMEM;
    goto done;
  }
  ad = make_ad(id, idlen, aad, &adlen);
  keyring_rdlock(ring);
  const struct secrets_key *k = keyring_find_locked(ring, id, idlen);
  if (!k) {
    rc = SECRETS_ENOKEY;
  } else if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                 (unsigned char *)pt, NULL, NULL, bin + NONCE_LEN,
                 blen - NONCE_LEN, ad, adlen, bin, KEY_ENC(k)) != 0) {
    rc = SECRETS_EBADSIG;
  }
  keyring_unlock(ring);
  if (rc == 0) {
    pt[ptlen] = '\0';
    *out = pt;
    if (out_len) *out_len = ptlen;
    pt = NULL;
  }
done:
  if (pt) sodium_free(pt);
  free(ad);
  free(bin);
  return rc;
}

void secrets_plain_free(char *p) {
  if (p) sodium_free(p); /* sodium_free zeroes before unmapping */
}

int secrets_reencrypt(secrets_keyring_t *ring, const char *ct, const char *aad,
                      char **out) {
  char *pt = NULL;
  size_t len = 0;
  int rc = secrets_decrypt(ring, ct, aad, &pt, &len);
  if (rc < 0) return rc;
  rc = secrets_encrypt(ring, pt, len, aad, out);
  secrets_plain_free(pt);
  return rc;
}

int secrets_ct_needs_reencrypt(secrets_keyring_t *ring, const char *ct) {
  char id[SECRETS_KEYID_MAX + 1], active[SECRETS_KEYID_MAX + 1];
  int rc = secrets_ct_key_id(ct, id);
  if (rc < 0) return rc;
  if ((rc = secrets_keyring_active_id(ring, active)) < 0) return rc;
  return strcmp(id, active) != 0;
}
