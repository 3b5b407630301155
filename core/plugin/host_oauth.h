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

#endif
