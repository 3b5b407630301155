/*
 * plugin_ct.c: ciphertexts made for plugins through the SDK.
 *
 *   ps1:<base64url(context)>:<secrets ciphertext>
 *
 * The inner ciphertext (v1:<keyid>:...) is bound to the associated data
 * "plugin:<instance>:<context>", so it only decrypts for the instance and
 * context it was made for. The context travels in clear in front so that
 * a key rotation can re-encrypt the value without asking the plugin; it
 * is a label chosen by the plugin (e.g. "oauth:refresh"), not a secret.
 */
#include "secrets.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "ps1:"

int secrets_plugin_context_ok(const char *context) {
  if (!context) return 0;
  size_t n = strlen(context);
  if (n == 0 || n > SECRETS_PLUGIN_CONTEXT_MAX) return 0;
  for (const char *p = context; *p; p++)
    if (*p < 0x21 || *p > 0x7e) return 0;
  return 1;
}

static char *aad_of(const char *instance, const char *context) {
  return xasprintf("plugin:%s:%s", instance, context);
}

int secrets_plugin_encrypt(secrets_keyring_t *ring, const char *instance,
                           const char *context, const void *pt, size_t len,
                           char **out) {
  if (!instance || !*instance || !secrets_plugin_context_ok(context))
    return SECRETS_EMALFORMED;
  char *aad = aad_of(instance, context), *ct = NULL;
  int rc = secrets_encrypt(ring, pt, len, aad, &ct);
  free(aad);
  if (rc < 0) return rc;
  char *label = secrets_b64url_encode(context, strlen(context));
  *out = xasprintf(PREFIX "%s:%s", label, ct);
  free(label);
  free(ct);
  return 0;
}

/* Splits ps1:<label>:<ct>; *context owned by the caller, *inner borrowed. */
static int split(const char *ct, char **context, const char **inner) {
  if (!ct || strncmp(ct, PREFIX, strlen(PREFIX)) != 0)
    return SECRETS_EMALFORMED;
  const char *label = ct + strlen(PREFIX);
  const char *colon = strchr(label, ':');
  if (!colon) return SECRETS_EMALFORMED;
  uint8_t *bin = NULL;
  size_t blen = 0;
  int rc = secrets_b64url_decode(label, (size_t)(colon - label), &bin, &blen);
  if (rc < 0) return rc;
  if (strlen((char *)bin) != blen || !secrets_plugin_context_ok((char *)bin)) {
    free(bin);
    return SECRETS_EMALFORMED;
  }
  *context = (char *)bin;
  *inner = colon + 1;
  return 0;
}

int secrets_plugin_decrypt(secrets_keyring_t *ring, const char *instance,
                           const char *context, const char *ct, char **out,
                           size_t *out_len) {
  if (!instance || !*instance || !secrets_plugin_context_ok(context))
    return SECRETS_EMALFORMED;
  char *label = NULL;
  const char *inner = NULL;
  int rc = split(ct, &label, &inner);
  if (rc < 0) return rc;
  free(label);
  /* The caller's context, not the label, goes into the associated data:
   * a relabelled ciphertext does not authenticate. */
  char *aad = aad_of(instance, context);
  rc = secrets_decrypt(ring, inner, aad, out, out_len);
  free(aad);
  return rc;
}

int secrets_plugin_is_ct(const void *value, size_t len) {
  return len > strlen(PREFIX) && memcmp(value, PREFIX, strlen(PREFIX)) == 0;
}

int secrets_plugin_reencrypt(secrets_keyring_t *ring, const char *instance,
                             const char *ct, char **out) {
  char *context = NULL;
  const char *inner = NULL;
  int rc = split(ct, &context, &inner);
  if (rc < 0) return rc;
  int need = secrets_ct_needs_reencrypt(ring, inner);
  if (need <= 0) {
    free(context);
    return need < 0 ? need : 1;
  }
  char *aad = aad_of(instance, context), *fresh = NULL;
  rc = secrets_reencrypt(ring, inner, aad, &fresh);
  free(aad);
  if (rc == 0) {
    char *label = secrets_b64url_encode(context, strlen(context));
    *out = xasprintf(PREFIX "%s:%s", label, fresh);
    free(label);
    free(fresh);
  }
  free(context);
  return rc;
}
