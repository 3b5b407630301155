/*
 * oauth_glue.c: the daemon's side of OAuth2 connections (core/oauth). Only
 * when the configuration names providers: libcurl is initialised (its TLS
 * set-up costs megabytes, so an idle daemon without providers never pays
 * it), then the outbound HTTP client and the OAuth service start, after
 * the store, the keyring and the audit log. The connections API is added
 * to every generation's router with auth_gate as its principal function;
 * its callback route stays public (the signed state names the user).
 * Changing the oauth section takes a restart.
 */
#include "daemon/assistd.h"

#include "common/alloc.h"
#include "common/log.h"
#include "plugin/host_oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- audit hook ---------------- */

static void oauth_audit(const char *action, int64_t user_id,
                        int64_t connection_id, const char *provider,
                        const char *detail, void *ud) {
  assistd_t *d = ud;
  if (!d->audit) return;
  char target[48];
  snprintf(target, sizeof target, "connection:%lld", (long long)connection_id);
  buf_t b = {0};
  buf_printf(&b, "{\"user_id\":%lld,\"provider\":", (long long)user_id);
  buf_json_str(&b, provider ? provider : "", provider ? strlen(provider) : 0);
  if (detail && *detail) {
    buf_puts(&b, ",\"detail\":");
    buf_json_str(&b, detail, strlen(detail));
  }
  buf_puts(&b, "}");
  audit_record_t rec = {
      .actor = "oauth",
      .action = action,
      .target = target,
      .outcome = strcmp(action, "oauth.needs_reauth") == 0 ? "error" : "ok",
      .details = b.data};
  audit_svc_append(d->audit, &rec, NULL, NULL);
  buf_free(&b);
}

/* ---------------- principal: auth_gate ---------------- */

typedef struct principal_call {
  oauth_principal_cb cb;
  void *ctx;
} principal_call_t;

static void principal_granted(http_request_t *req, const auth_principal_t *p,
                              void *arg) {
  principal_call_t *c = arg;
  oauth_principal_cb cb = c->cb;
  void *ctx = c->ctx;
  free(c);
  /* The gate has answered a refusal itself: the handler only drops it. */
  cb(req, req && p ? p->user_id : -1, ctx);
}

static void principal(http_request_t *req, int write, oauth_principal_cb cb,
                      void *ctx, void *ud) {
  assistd_t *d = ud;
  if (!d->auth) {
    http_respond_error(req, 503, "authentication is not available");
    cb(NULL, -1, ctx);
    return;
  }
  principal_call_t *c = xcalloc(1, sizeof *c);
  c->cb = cb;
  c->ctx = ctx;
  auth_gate(d->auth, req, write ? AUTH_SCOPE_WRITE : AUTH_SCOPE_READ,
            principal_granted, c);
}

int daemon_oauth_routes(assistd_t *d, router_t *r) {
  if (!d->oauth) return 0;
  return oauth_api_register(d->oauth, r, principal, d) != 0 ? -1 : 0;
}

/* ---------------- start-up ---------------- */

static oauth_kind_t kind_of(const char *k) {
  if (k && strcmp(k, "google") == 0) return OAUTH_GOOGLE;
  if (k && strcmp(k, "microsoft") == 0) return OAUTH_MICROSOFT;
  return OAUTH_GENERIC;
}

oauth_provider_cfg_t *daemon_oauth_config(const config_t *cfg,
                                          oauth_config_t *out) {
  const cfg_oauth_t *o = &cfg->oauth;
  oauth_provider_cfg_t *p =
      xcalloc(o->nproviders ? o->nproviders : 1, sizeof *p);
  for (size_t i = 0; i < o->nproviders; i++) {
    const cfg_oauth_provider_t *c = &o->providers[i];
    p[i] = (oauth_provider_cfg_t){.name = c->name,
                                  .kind = kind_of(c->kind),
                                  .client_id = c->client_id,
                                  .client_secret = c->client_secret,
                                  .authorize_url = c->authorize_url,
                                  .token_url = c->token_url,
                                  .revoke_url = c->revoke_url,
                                  .tenant = c->tenant,
                                  .scopes = c->scopes,
                                  .extra_params = c->extra_params};
  }
  *out = (oauth_config_t){
      .redirect_base = o->redirect_base,
      .providers = p,
      .nproviders = o->nproviders,
      .state_ttl_s = (int64_t)(o->state_ttl_ms / 1000),
      .refresh_margin_s = (int64_t)(o->refresh_margin_ms / 1000),
      .done_url = o->done_url,
  };
  return p;
}

int daemon_oauth_start(assistd_t *d, const config_t *cfg) {
  if (cfg->oauth.nproviders == 0) return 0;
  const char *why;
  if (daemon_curl_init(d, &why) < 0) {
    fprintf(stderr, "assistd: oauth: %s\n", why);
    return -1;
  }
  httpc_opts_t ho = {.ca_file = cfg->oauth.ca_file};
  int rc = httpc_new(d->loop, &ho, &d->httpc);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot start the HTTP client: %s\n",
            strerror(-rc));
    d->httpc = NULL;
    return -1;
  }
  oauth_config_t oc;
  oauth_provider_cfg_t *provs = daemon_oauth_config(cfg, &oc);
  oc.audit = oauth_audit;
  oc.audit_ud = d;
  char err[256] = "";
  d->oauth =
      oauth_new(d->loop, d->store, d->httpc, d->ring, &oc, err, sizeof err);
  free(provs);
  if (!d->oauth) {
    fprintf(stderr, "assistd: oauth: %s\n", err);
    return -1;
  }
  host_oauth_set(d->oauth);
  char n[16];
  snprintf(n, sizeof n, "%zu", cfg->oauth.nproviders);
  log_kv(LOG_INFO, "oauth", "connections service started", "#providers", n,
         "redirect_base", cfg->oauth.redirect_base, NULL);
  return 0;
}
