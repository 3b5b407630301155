/*
 * host_http.h: the SDK's outbound HTTP (ABI 1.2: http_request,
 * http_cancel, http_header) over the daemon's client (core/httpc), and how
 * the daemon hands it that client (host_http.c).
 *
 * The client is shared with the rest of the daemon (OAuth uses the same
 * one) and created lazily: the daemon registers a source function, which
 * host_http.c calls on the first plugin request, so a daemon whose plugins
 * never go out on the network never loads libcurl.
 *
 * Every request is tagged with its instance (httpc's owner) and counts
 * against the instance's pending I/O (nio) until its callback ran; when the
 * instance goes away its requests are cancelled (callbacks get
 * ASSIST_ECANCELED) before the plugin's destroy().
 */
#ifndef ASSIST_PLUGIN_HOST_HTTP_H
#define ASSIST_PLUGIN_HOST_HTTP_H

#include "httpc/httpc.h"
#include "plugin/instance.h"

#include <assist/plugin.h>

/** get(ud, create) returns the shared client: with create 1 it creates it
 * on the first call (NULL when that fails, or while the daemon shuts down:
 * http_request then returns ASSIST_EIO); with create 0 only an existing
 * one (or NULL). Both borrowed. Without a source (get NULL) http_request
 * returns ASSIST_ENOTSUP. Loop thread. */
void host_http_set_source(httpc_t *(*get)(void *ud, int create), void *ud);

/** Cancels every request inst still has in flight (instance teardown). */
void host_http_cancel_instance(instance_t *inst);

/** Requests in flight for inst (NULL: all); for tests. */
size_t host_http_pending(const instance_t *inst);

int host_http_request(assist_instance_t *inst,
                      const struct assist_http_request *req,
                      void (*cb)(void *ud,
                                 const struct assist_http_response *resp),
                      void *ud, uint64_t *id);
int host_http_cancel(assist_instance_t *inst, uint64_t id);
const char *host_http_header(const struct assist_http_response *resp,
                             const char *name);

#endif
