/*
 * instance.h: one running instance of a plugin and everything it owns.
 *
 * An instance is created from a checked plugin_lib_t and validated options;
 * creating it calls the plugin's init(). Every resource the plugin obtains
 * through the host API (routes, timers, work, metrics, posted callbacks,
 * pending requests) is recorded here so that instance_close() can release
 * all of it even if the plugin forgets. Instances are shared between
 * configuration generations while unchanged: `gen_refs` counts them.
 *
 * Threading: loop thread only, except the post queue (mutex) and metrics.
 */
#ifndef ASSIST_PLUGIN_INSTANCE_H
#define ASSIST_PLUGIN_INSTANCE_H

#include "config/config.h"
#include "http/http.h"
#include "plugin/lib.h"

#include <assist/plugin.h>
#include <uv.h>

typedef struct assist_instance instance_t;

typedef enum {
  INSTANCE_CREATED = 0, /* init() succeeded, not started */
  INSTANCE_RUNNING,
  INSTANCE_STOPPING,
  INSTANCE_STOPPED,
} instance_state_t;

/** A route registered by an instance; the router's ud for its handler. */
typedef struct instance_route {
  struct instance_route *next;
  instance_t *inst;
  char *method;
  char *pattern;
  uint64_t max_body;
  uint32_t flags; /* ASSIST_ROUTE_* */
  assist_route_cb cb;
  void *ud;
} instance_route_t;

/** The host API table handed to every plugin (host_api.c). */
extern const assist_host_api_t host_api;

/**
 * Creates the instance and runs the plugin's init(). lib: transfer (the
 * reference is released on failure too). opts: moved into the instance
 * (emptied). Returns NULL with a message in err if init fails; everything
 * the plugin registered is released.
 */
instance_t *instance_create(uv_loop_t *loop, const char *name,
                            plugin_lib_t *lib, opt_set_t *opts, char *err,
                            size_t errlen);
int instance_start(instance_t *inst);
/**
 * Applies new options in place (only RELOADABLE ones differ): swaps them in
 * and calls reconfigure(). On success *opts receives the previous options
 * (the caller frees them, or swaps them back the same way to undo); on
 * failure nothing changes.
 */
int instance_reconfigure(instance_t *inst, opt_set_t *opts);
/**
 * Stops the instance: plugin stop() (waited up to deadline_ms), timers,
 * work (cancelled or waited for), pending requests (answered 503), then
 * destroy() and release of the lib. Calls done(arg) at the end; the
 * instance memory is gone after that.
 */
void instance_close(instance_t *inst, uint64_t deadline_ms,
                    void (*done)(void *arg), void *arg);

const char *instance_name(const instance_t *inst);
const assist_plugin_t *instance_desc(const instance_t *inst);
const plugin_lib_t *instance_lib(const instance_t *inst);
const opt_set_t *instance_opts(const instance_t *inst);
instance_state_t instance_state(const instance_t *inst);
const char *instance_state_name(instance_state_t st);
const instance_route_t *instance_routes(const instance_t *inst);
unsigned *instance_gen_refs(instance_t *inst);

/** Router handler for instance routes: ud is the instance_route_t. */
void instance_route_dispatch(http_request_t *req, void *ud);
/** The same for a request the auth gate admitted: the plugin's req_user
 * reports user_id (> 0) until the response. */
void instance_route_dispatch_as(http_request_t *req, const instance_route_t *r,
                                int64_t user_id);

/** Number of live instances (for tests and metrics). */
size_t instance_count(void);

#endif
