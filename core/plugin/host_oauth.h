/*
 * host_oauth.h: the SDK's oauth_token (ABI 1.1) and how the daemon hands
 * it the OAuth service (host_oauth.c).
 */
#ifndef ASSIST_PLUGIN_HOST_OAUTH_H
#define ASSIST_PLUGIN_HOST_OAUTH_H

#include "oauth/oauth.h"

#include <assist/plugin.h>

/** Borrowed; NULL when no provider is configured (oauth_token then returns
 * ASSIST_ENOTSUP). Set before instances start, cleared after they have
 * all stopped (each call counts against its instance until its callback
 * ran, so no instance is destroyed while the service owes it one). */
void host_oauth_set(oauth_t *o);

int host_oauth_token(assist_instance_t *inst, int64_t connection_id,
                     void (*cb)(void *ud, int status, const char *token,
                                int64_t expires_at_ms),
                     void *ud);

/** ABI 1.2: the provider's connections that are not revoked (active and
 * needs_reauth), every user's; counts against the instance's pending I/O
 * like oauth_token. ASSIST_ENOENT for a provider that is not configured. */
int host_oauth_connections(assist_instance_t *inst, const char *provider,
                           void (*cb)(void *ud, int status, size_t n,
                                      const struct assist_oauth_conn *conns),
                           void *ud);

#endif
