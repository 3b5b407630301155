/* sg_verify.c: see sg_verify.h. */
#include "sg_verify.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct sg_key {
  EVP_PKEY *pkey;
};

static int b64_val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int sg_b64_decode(const char *in, unsigned char **out, size_t *out_len) {
  if (!in || !out || !out_len) return -1;
  size_t n = strlen(in);
  unsigned char *buf = malloc(n / 4 * 3 + 3);
  if (!buf) return -1;
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0, pad = 0, quads = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      pad++;
      quads++;
      continue;
    }
    int v = b64_val(c);
    if (v < 0 || pad) goto fail; /* nothing may follow padding */
    quads++;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (quads % 4 != 0 || pad > 2 || acc != 0) goto fail;
  *out = buf;
  *out_len = o;
  return 0;
fail:
  free(buf);
  return -1;
}

sg_key_t *sg_key_parse(const char *b64) {
  unsigned char *der = NULL;
  size_t der_len = 0;
  if (sg_b64_decode(b64, &der, &der_len) != 0 || der_len == 0) {
    free(der);
    return NULL;
  }
  const unsigned char *p = der;
  EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)der_len);
  int whole = pkey && p == der + der_len;
  free(der);
  ERR_clear_error(); /* leave no failure in this thread's error queue */
  if (!whole || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
      !EVP_PKEY_is_a(pkey, "EC")) {
    EVP_PKEY_free(pkey);
    return NULL;
  }
  char group[64] = "";
  size_t gl = 0;
  if (!EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof group,
                                      &gl) ||
      (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
    EVP_PKEY_free(pkey);
    return NULL;
  }
  sg_key_t *k = malloc(sizeof *k);
  if (!k) {
    EVP_PKEY_free(pkey);
    return NULL;
  }
  k->pkey = pkey;
  return k;
}

void sg_key_free(sg_key_t *k) {
  if (!k) return;
  EVP_PKEY_free(k->pkey);
  free(k);
}

int sg_verify(const sg_key_t *k, const char *timestamp, const void *body,
              size_t body_len, const char *sig_b64) {
  if (!k || !timestamp || !sig_b64 || (!body && body_len)) return 0;
  unsigned char *sig = NULL;
  size_t sig_len = 0;
  if (sg_b64_decode(sig_b64, &sig, &sig_len) != 0 || sig_len == 0 ||
      sig_len > 256) {
    free(sig);
    return 0;
  }
  size_t tl = strlen(timestamp);
  unsigned char *msg = malloc(tl + body_len + 1);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = 0;
  if (msg && ctx) {
    memcpy(msg, timestamp, tl);
    if (body_len) memcpy(msg + tl, body, body_len);
    if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestVerify(ctx, sig, sig_len, msg, tl + body_len) == 1)
      ok = 1;
  }
  EVP_MD_CTX_free(ctx);
  free(msg);
  free(sig);
  ERR_clear_error();
  return ok;
}
