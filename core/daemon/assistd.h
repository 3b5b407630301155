/*
 * assistd.h: the daemon: configuration generations, reload, shutdown.
 *
 * A generation is one complete, validated configuration with its plugin
 * instances and its router. The daemon has one current generation; each
 * HTTP request holds a reference on the generation it started on, so a
 * reload never changes the rules under a running request. Instances that
 * are unchanged by a reload are shared by both generations; the others are
 * stopped once the last request of the old generation has finished
 * (nginx's cycles, with Redis's rule that everything a plugin registered is
 * released with it).
 */
#ifndef ASSIST_DAEMON_H
#define ASSIST_DAEMON_H

#include "api/api.h"
#include "assistant/assistant.h"
#include "audit/audit_svc.h"
#include "auth/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "httpc/httpc.h"
#include "jobs/jobs.h"
#include "oauth/oauth.h"
#include "plugin/instance.h"
#include "secrets/secrets.h"
#include "store/store.h"

#include <uv.h>

typedef struct assistd assistd_t;

typedef struct generation {
  assistd_t *d;
  unsigned id;
  unsigned refs;      /* current-ness + in-flight requests */
  config_t *cfg;      /* owned */
  instance_t **insts; /* each holds one gen_ref for this generation */
  size_t ninsts;
  router_t *router; /* owned */
} generation_t;

struct assistd {
  uv_loop_t *loop;
  char *config_path;
  char *listen_override; /* --listen HOST:PORT, or NULL */
  http_server_t *http;
  generation_t *current;
  unsigned next_gen_id;
  cfg_listen_t *bound; /* addresses currently listened on */
  size_t nbound;
  uv_signal_t sig_hup, sig_term, sig_int;
  int reloading, reload_again, stopping;
  int signals_on, services_closing;
  size_t closing_instances;
  config_t *boot_cfg; /* held while the store opens at start-up */
  store_t *store;
  jobs_t *jobs;
  secrets_keyring_t *ring; /* master keys, loaded at start */
  audit_svc_t *audit;      /* the audit log's thread */
  auth_t *auth;            /* accounts, sessions, tokens, the /api gate */
  httpc_t *httpc;          /* outbound HTTP (oauth, plugins), lazily */
  oauth_t *oauth;          /* OAuth2 connections; NULL without providers */
  assistant_t *assistant;  /* appointment reminders (core/assistant) */
  int curl_on;             /* curl_global_init done (cleanup at exit) */
  api_ctx_t api;           /* what /api handlers reach */
  uint64_t reloads_ok, reloads_failed;
  int exit_code;
};

/** Builds generation from cfg (consumed on success and failure). Fills errs.
 * Returns the generation (refs = 1) or NULL. */
generation_t *generation_build(assistd_t *d, config_t *cfg,
                               const generation_t *old, cfg_errors_t *errs);
/** Makes gen current: opens its new listen addresses (on failure returns a
 * uv error and changes nothing), closes dropped ones, applies limits, then
 * releases the previous generation. */
int generation_activate(assistd_t *d, generation_t *gen);
void generation_release(generation_t *gen);

/** Registers /health, /ready, /metrics, /api/plugins and static files. */
int builtins_add(assistd_t *d, router_t *r, const config_t *cfg);

/** Starts the outbound HTTP client and the OAuth service when cfg has
 * oauth providers (libcurl is initialised then, once). Returns 0 (also
 * when there is nothing to start) or -1 with a message on stderr. */
int daemon_oauth_start(assistd_t *d, const config_t *cfg);
/** The OAuth service's settings from cfg (strings borrowed from cfg; the
 * provider array is allocated: free() it). Returns the array. */
oauth_provider_cfg_t *daemon_oauth_config(const config_t *cfg,
                                          oauth_config_t *out);
/** Registers the connections API (core/oauth) on r when OAuth is on, its
 * principal being auth_gate's. Returns 0 or -1 (a route clash). */
int daemon_oauth_routes(assistd_t *d, router_t *r);

/** Opens libcurl (curl_lazy_load) and runs curl_global_init, once
 * (d->curl_on; main.c cleans up at exit). 0, or -1 with *why (static).
 * http_glue.c; OAuth and the plugins' client both start with it. */
int daemon_curl_init(assistd_t *d, const char **why);

/** Hands the plugin host the shared outbound HTTP client (http_glue.c):
 * d->httpc, created on the first plugin request when OAuth has not
 * created it; daemon_http_stop() before the client is closed. */
void daemon_http_start(assistd_t *d);
void daemon_http_stop(void);

/** The reminders service (assistant_glue.c): options from cfg (strings
 * borrowed from cfg); start after store, jobs, keyring and audit log
 * (before jobs_start); reconfigure on reload; its routes on r. */
void daemon_assistant_opts(const config_t *cfg, assistant_opts_t *out);
int daemon_assistant_start(assistd_t *d, const config_t *cfg);
void daemon_assistant_reconfigure(assistd_t *d, const config_t *cfg);
int daemon_assistant_routes(assistd_t *d, router_t *r);

/** Limits for the HTTP server from the configuration. */
void http_limits_from_config(const cfg_server_t *s, http_limits_t *out);

/** Moves shutdown on once HTTP, instances or services have finished. */
void daemon_continue_shutdown(assistd_t *d);

/** Builds the master keyring from cfg->secrets (blocking: key files).
 * allow_create: create a missing key file when the configuration says so.
 * Returns 0 or a negative code with err set. */
int keys_load(const config_t *cfg, int allow_create, secrets_keyring_t **out,
              char *err, size_t errlen);

/** `assistd audit ...`, `assistd secrets ...` and `assistd admin create`
 * (cli.c). Returns the exit status. */
int cli_main(int argc, char **argv);

/** sqlite:PATH needs PATH's directory: creates it (0750) if missing. */
void daemon_ensure_sqlite_dir(const char *uri);

/** The auth service's settings from cfg (strings borrowed from cfg). */
void daemon_auth_config(const config_t *cfg, auth_config_t *out);

/** Appends an audit entry for something the daemon did (fire and forget;
 * no-op while the audit log is not open). */
void daemon_audit(assistd_t *d, const char *action, const char *target,
                  const char *outcome, const char *details);

/** Parses "HOST:PORT" or "[v6]:PORT". Returns 0 or -1. */
int parse_listen(const char *s, char **host, int *port);

#endif
