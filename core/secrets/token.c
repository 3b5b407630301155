/* token.c: signed expiring tokens and detached MACs (HMAC-SHA512-256). */
#include "secrets_int.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAC_LEN crypto_auth_BYTES

static bool purpose_valid(const char *p, size_t n) {
  if (n == 0 || n > SECRETS_TOKEN_MAX_PURPOSE) return false;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x21 || p[i] > 0x7e) return false;
  return true;
}

static void mac_compute(const struct secrets_key *k, const char *purpose,
                        size_t plen, const void *prefix, size_t prefix_len,
                        const void *data, size_t len,
                        unsigned char mac[MAC_LEN]) {
  unsigned char sub[32];
  crypto_auth_hmacsha512256_state st;
  key_mac_subkey(k, purpose, plen, sub);
  crypto_auth_hmacsha512256_init(&st, sub, sizeof(sub));
  crypto_auth_hmacsha512256_update(&st, prefix, prefix_len);
  crypto_auth_hmacsha512256_update(&st, data, len);
  crypto_auth_hmacsha512256_final(&st, mac);
  sodium_memzero(&st, sizeof(st));
  sodium_memzero(sub, sizeof(sub));
}

int secrets_token_sign(secrets_keyring_t *ring, const char *purpose,
                       const char *payload, int64_t ttl_s, char **out) {
  return secrets_token_sign_at(ring, purpose, payload, (int64_t)time(NULL),
                               ttl_s, out);
}

int secrets_token_sign_at(secrets_keyring_t *ring, const char *purpose,
                          const char *payload, int64_t now, int64_t ttl_s,
                          char **out) {
  size_t plen = strlen(purpose), len = strlen(payload);
  if (!purpose_valid(purpose, plen) || len > SECRETS_TOKEN_MAX_PAYLOAD ||
      ttl_s <= 0 || now < 0 || ttl_s > INT64_MAX - now)
    return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;

  size_t blen = 8 + 1 + plen + len;
  unsigned char *body = xmalloc(blen);
  uint64_t exp = (uint64_t)(now + ttl_s);
  for (int i = 0; i < 8; i++) body[i] = (unsigned char)(exp >> (56 - 8 * i));
  body[8] = (unsigned char)plen;
  memcpy(body + 9, purpose, plen);
  memcpy(body + 9 + plen, payload, len);

  buf_t b = {0};
  unsigned char mac[MAC_LEN];
  keyring_rdlock(ring);
  const struct secrets_key *k = keyring_active_locked(ring);
  if (!k) {
    keyring_unlock(ring);
    free(body);
    return SECRETS_ENOACTIVE;
  }
  buf_puts(&b, "t1.");
  buf_puts(&b, k->id);
  buf_puts(&b, ".");
  char *enc = secrets_b64url_encode(body, blen);
  buf_puts(&b, enc);
  free(enc);
  mac_compute(k, purpose, plen, "", 0, b.data, b.len, mac);
  keyring_unlock(ring);
  buf_puts(&b, ".");
  enc = secrets_b64url_encode(mac, sizeof(mac));
  buf_puts(&b, enc);
  free(enc);
  free(body);
  *out = buf_take(&b);
  return 0;
}

int secrets_token_verify(secrets_keyring_t *ring, const char *purpose,
                         const char *token, int64_t now, char **payload) {
  const char *id, *body64, *mac64, *p;
  size_t idlen, body64len;
  uint8_t *body = NULL;
  size_t blen = 0, mlen = 0;
  unsigned char mac[MAC_LEN + 3], want[MAC_LEN];
  int rc;

  if (secrets_global_init() < 0) return -EIO;
  if (strncmp(token, "t1.", 3) != 0) return SECRETS_EMALFORMED;
  id = token + 3;
  if (!(p = strchr(id, '.'))) return SECRETS_EMALFORMED;
  idlen = (size_t)(p - id);
  body64 = p + 1;
  if (!(p = strchr(body64, '.'))) return SECRETS_EMALFORMED;
  body64len = (size_t)(p - body64);
  mac64 = p + 1;
  if (!keyid_valid(id, idlen) || strchr(mac64, '.') ||
      body64len >
          2 * (9 + SECRETS_TOKEN_MAX_PURPOSE + SECRETS_TOKEN_MAX_PAYLOAD))
    return SECRETS_EMALFORMED;
  if (b64url_decode_into(mac64, strlen(mac64), mac, sizeof(mac), &mlen) < 0 ||
      mlen != MAC_LEN)
    return SECRETS_EMALFORMED;
  if ((rc = secrets_b64url_decode(body64, body64len, &body, &blen)) < 0)
    return rc;
  if (blen < 9 || body[8] == 0 || (size_t)body[8] > blen - 9 ||
      !purpose_valid((const char *)body + 9, body[8])) {
    rc = SECRETS_EMALFORMED;
    goto done;
  }
  const char *tpurpose = (const char *)body + 9;
  size_t tplen = body[8];

  keyring_rdlock(ring);
  const struct secrets_key *k = keyring_find_locked(ring, id, idlen);
  if (k)
    mac_compute(k, tpurpose, tplen, "", 0, token, (size_t)(mac64 - 1 - token),
                want);
  keyring_unlock(ring);
  if (!k) {
    rc = SECRETS_ENOKEY;
    goto done;
  }
  if (sodium_memcmp(mac, want, MAC_LEN) != 0) {
    rc = SECRETS_EBADSIG;
    goto done;
  }
  if (tplen != strlen(purpose) || memcmp(tpurpose, purpose, tplen) != 0) {
    rc = SECRETS_EPURPOSE;
    goto done;
  }
  uint64_t exp = 0;
  for (int i = 0; i < 8; i++) exp = (exp << 8) | body[i];
  if (now < 0 || (uint64_t)now >= exp) {
    rc = SECRETS_EEXPIRED;
    goto done;
  }
  if (payload)
    *payload = xstrndup((const char *)body + 9 + tplen, blen - 9 - tplen);
  rc = 0;
done:
  free(body);
  return rc;
}

static const char mac_prefix[] = "m1.";

int secrets_mac(secrets_keyring_t *ring, const char *purpose, const void *data,
                size_t len, char **out) {
  size_t plen = strlen(purpose);
  unsigned char mac[MAC_LEN];
  char id[SECRETS_KEYID_MAX + 1];
  if (!purpose_valid(purpose, plen)) return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;
  keyring_rdlock(ring);
  const struct secrets_key *k = keyring_active_locked(ring);
  if (k) {
    memcpy(id, k->id, sizeof(id));
    /* The MAC covers "m1.<keyid>." then the data. */
    char *pre = xasprintf("%s%s.", mac_prefix, k->id);
    mac_compute(k, purpose, plen, pre, strlen(pre), data, len, mac);
    free(pre);
  }
  keyring_unlock(ring);
  if (!k) return SECRETS_ENOACTIVE;
  char *enc = secrets_b64url_encode(mac, sizeof(mac));
  *out = xasprintf("%s%s.%s", mac_prefix, id, enc);
  free(enc);
  return 0;
}

int secrets_mac_verify(secrets_keyring_t *ring, const char *purpose,
                       const void *data, size_t len, const char *mac) {
  size_t plen = strlen(purpose), mlen = 0;
  unsigned char got[MAC_LEN + 3], want[MAC_LEN];
  if (!purpose_valid(purpose, plen)) return SECRETS_EMALFORMED;
  if (secrets_global_init() < 0) return -EIO;
  if (strncmp(mac, mac_prefix, 3) != 0) return SECRETS_EMALFORMED;
  const char *id = mac + 3, *dot = strchr(id, '.');
  if (!dot || !keyid_valid(id, (size_t)(dot - id))) return SECRETS_EMALFORMED;
  if (b64url_decode_into(dot + 1, strlen(dot + 1), got, sizeof(got), &mlen) <
          0 ||
      mlen != MAC_LEN)
    return SECRETS_EMALFORMED;
  keyring_rdlock(ring);
  const struct secrets_key *k =
      keyring_find_locked(ring, id, (size_t)(dot - id));
  if (k)
    mac_compute(k, purpose, plen, mac, (size_t)(dot + 1 - mac), data, len,
                want);
  keyring_unlock(ring);
  if (!k) return SECRETS_ENOKEY;
  return sodium_memcmp(got, want, MAC_LEN) == 0 ? 0 : SECRETS_EBADSIG;
}
