/*
 * host_secrets.c: the ABI 1.1 host functions for secrets and audit.
 *
 * Plugins never see the master key: they hand plaintext in and get
 * ciphertexts or tokens back. Contexts and purposes are bound to the
 * instance name by the host (secrets_plugin_encrypt; token purposes are
 * "pi:<hash of the instance name>:<purpose>"), so an instance cannot read
 * another's ciphertexts or accept its tokens. Everything handed to a
 * plugin is allocated here with its length in front, so secret_free() can
 * zero it.
 */
#include "plugin/host_secrets.h"

#include "plugin/instance_priv.h"

#include "common/alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static secrets_keyring_t *g_ring;
static audit_svc_t *g_audit;

void host_secrets_set(secrets_keyring_t *ring, audit_svc_t *audit) {
  g_ring = ring;
  g_audit = audit;
}

/* ---------------- host-allocated results ---------------- */

typedef struct {
  size_t len; /* bytes after the header */
  size_t pad;
} hdr_t;

static char *out_dup(const void *p, size_t len) {
  hdr_t *h = malloc(sizeof *h + len + 1);
  if (!h) return NULL;
  h->len = len + 1;
  char *d = (char *)(h + 1);
  memcpy(d, p, len);
  d[len] = '\0';
  return d;
}

void host_secret_free(void *p) {
  if (!p) return;
  hdr_t *h = (hdr_t *)p - 1;
  sodium_memzero(p, h->len);
  free(h);
}

static int map(int rc) {
  switch (rc) {
  case 0:
    return ASSIST_OK;
  case SECRETS_EBADSIG:
  case SECRETS_EPURPOSE:
  case SECRETS_ENOKEY:
    return ASSIST_EBADMSG;
  case SECRETS_EEXPIRED:
    return ASSIST_EEXPIRED;
  case SECRETS_EMALFORMED:
    return ASSIST_EINVAL;
  case -ENOMEM:
    return ASSIST_ENOMEM;
  default:
    return ASSIST_EIO;
  }
}

/* ---------------- encryption ---------------- */

int host_secret_encrypt(assist_instance_t *inst, const char *context,
                        const void *plain, size_t len, char **out) {
  if (!g_ring) return ASSIST_ENOTSUP;
  if (!out || (len && !plain) || !secrets_plugin_context_ok(context))
    return ASSIST_EINVAL;
  char *ct = NULL;
  int rc = secrets_plugin_encrypt(g_ring, inst->name, context,
                                  plain ? plain : "", len, &ct);
  if (rc < 0) return map(rc);
  *out = out_dup(ct, strlen(ct));
  free(ct);
  return *out ? ASSIST_OK : ASSIST_ENOMEM;
}

int host_secret_decrypt(assist_instance_t *inst, const char *context,
                        const char *ct, char **out, size_t *len) {
  if (!g_ring) return ASSIST_ENOTSUP;
  if (!out || !ct || !secrets_plugin_context_ok(context)) return ASSIST_EINVAL;
  char *pt = NULL;
  size_t n = 0;
  int rc = secrets_plugin_decrypt(g_ring, inst->name, context, ct, &pt, &n);
  if (rc < 0) return map(rc);
  *out = out_dup(pt, n);
  secrets_plain_free(pt);
  if (!*out) return ASSIST_ENOMEM;
  if (len) *len = n;
  return ASSIST_OK;
}

/* ---------------- tokens ---------------- */

static int purpose_ok(const char *p) {
  if (!p || !*p || strlen(p) > 40) return 0;
  for (; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
          *p == '-' || *p == '.'))
      return 0;
  return 1;
}

/* "pi:<16 hex of BLAKE2b(instance)>:<purpose>": at most 60 characters. */
static void full_purpose(const instance_t *inst, const char *purpose,
                         char out[SECRETS_TOKEN_MAX_PURPOSE + 1]) {
  unsigned char h[8];
  char hex[17];
  crypto_generichash(h, sizeof h, (const unsigned char *)inst->name,
                     strlen(inst->name), NULL, 0);
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  snprintf(out, SECRETS_TOKEN_MAX_PURPOSE + 1, "pi:%s:%s", hex, purpose);
}

int host_token_sign(assist_instance_t *inst, const char *purpose,
                    const char *payload, int64_t ttl_s, char **out) {
  if (!g_ring) return ASSIST_ENOTSUP;
  if (!out || !purpose_ok(purpose) || ttl_s <= 0) return ASSIST_EINVAL;
  char full[SECRETS_TOKEN_MAX_PURPOSE + 1];
  full_purpose(inst, purpose, full);
  char *tok = NULL;
  int rc =
      secrets_token_sign(g_ring, full, payload ? payload : "", ttl_s, &tok);
  if (rc < 0) return map(rc);
  *out = out_dup(tok, strlen(tok));
  free(tok);
  return *out ? ASSIST_OK : ASSIST_ENOMEM;
}

int host_token_verify(assist_instance_t *inst, const char *purpose,
                      const char *token, char **payload) {
  if (!g_ring) return ASSIST_ENOTSUP;
  if (!token || !purpose_ok(purpose)) return ASSIST_EINVAL;
  char full[SECRETS_TOKEN_MAX_PURPOSE + 1];
  full_purpose(inst, purpose, full);
  char *pl = NULL;
  int rc = secrets_token_verify(g_ring, full, token, (int64_t)time(NULL), &pl);
  if (rc == SECRETS_EMALFORMED) rc = SECRETS_EBADSIG; /* any bad token */
  if (rc < 0) return map(rc);
  if (payload) {
    *payload = out_dup(pl, strlen(pl));
    if (!*payload) rc = -ENOMEM;
  }
  free(pl);
  return map(rc);
}

/* ---------------- audit ---------------- */

typedef struct audit_call {
  instance_t *inst;
  void (*cb)(void *, int, int64_t);
  void *ud;
} audit_call_t;

static void audited(int status, int64_t seq, void *arg) {
  audit_call_t *c = arg;
  instance_t *inst = c->inst;
  if (c->cb)
    c->cb(c->ud,
          status == 0           ? ASSIST_OK
          : status == -ENOTCONN ? ASSIST_EIO
          : status < -4095      ? ASSIST_EIO
                                : status,
          seq);
  free(c);
  instance_io_finished(inst);
}

int host_audit_append(assist_instance_t *inst,
                      const struct assist_audit_record *rec,
                      void (*cb)(void *ud, int status, int64_t seq), void *ud) {
  if (!g_audit) return ASSIST_ENOTSUP;
  if (!rec ||
      rec->struct_size <
          offsetof(assist_audit_record_t, details) + sizeof(const char *) ||
      !rec->action || !*rec->action || strlen(rec->action) > 200)
    return ASSIST_EINVAL;
  audit_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->cb = cb;
  c->ud = ud;
  inst->nio++;
  audit_record_t r = {.actor = inst->name,
                      .action = rec->action,
                      .target = rec->target,
                      .outcome = rec->outcome,
                      .subject = rec->subject,
                      .details = rec->details};
  audit_svc_append(g_audit, &r, audited, c);
  return ASSIST_OK;
}
