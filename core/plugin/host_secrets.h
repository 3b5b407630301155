/*
 * host_secrets.h: the ABI 1.1 host functions for secrets and audit
 * (host_secrets.c), and how the daemon hands them its keyring and audit
 * service.
 */
#ifndef ASSIST_PLUGIN_HOST_SECRETS_H
#define ASSIST_PLUGIN_HOST_SECRETS_H

#include "audit/audit_svc.h"
#include "secrets/secrets.h"

#include <assist/plugin.h>

/** Borrowed; both may be NULL (then the functions return ASSIST_ENOTSUP).
 * Set before instances start, cleared after they stopped. */
void host_secrets_set(secrets_keyring_t *ring, audit_svc_t *audit);

int host_secret_encrypt(assist_instance_t *inst, const char *context,
                        const void *plain, size_t len, char **out);
int host_secret_decrypt(assist_instance_t *inst, const char *context,
                        const char *ct, char **out, size_t *len);
int host_token_sign(assist_instance_t *inst, const char *purpose,
                    const char *payload, int64_t ttl_s, char **out);
int host_token_verify(assist_instance_t *inst, const char *purpose,
                      const char *token, char **payload);
void host_secret_free(void *p);
int host_audit_append(assist_instance_t *inst,
                      const struct assist_audit_record *rec,
                      void (*cb)(void *ud, int status, int64_t seq), void *ud);

#endif
