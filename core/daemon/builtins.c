/* builtins.c: the endpoints every assistd serves, whatever its plugins:
 * public /health, /ready, /metrics and /ui/; gated /api/plugins, the
 * accounts API (core/auth) and jobs/schedules/audit (core/api). */
#include "daemon/assistd.h"

#include "common/alloc.h"
#include "metrics/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void health(http_request_t *req, void *ud) {
  (void)ud;
  static const char body[] = "{\"status\":\"ok\"}";
  http_respond_json(req, 200, body, sizeof body - 1);
}

static void ready(http_request_t *req, void *ud) {
  assistd_t *d = ud;
  int db = d->store && store_ready(d->store);
  int ok = !d->stopping && d->current != NULL && db;
  buf_t b = {0};
  buf_printf(&b, "{\"status\":\"%s\",\"checks\":{\"database\":",
             ok ? "ready" : "not ready");
  if (db) {
    buf_puts(&b, "\"ok\"");
  } else {
    const char *why = d->store ? store_last_error(d->store) : "not open";
    buf_json_str(&b, why, strlen(why));
  }
  buf_printf(&b, ",\"stopping\":%s}}", d->stopping ? "true" : "false");
  http_respond_json(req, ok ? 200 : 503, b.data, b.len);
  buf_free(&b);
}

static void metrics(http_request_t *req, void *ud) {
  assistd_t *d = ud;
  metric_set(metrics_family(METRIC_GAUGE, "assist_plugin_instances_live",
                            "Plugin instances alive, including draining ones",
                            NULL, 0),
             NULL, (double)instance_count());
  metric_set(metrics_family(METRIC_COUNTER, "assist_reloads_total",
                            "Configuration reloads by outcome", NULL, 0),
             "outcome=\"ok\"", (double)d->reloads_ok);
  metric_set(metrics_family(METRIC_COUNTER, "assist_reloads_total",
                            "Configuration reloads by outcome", NULL, 0),
             "outcome=\"error\"", (double)d->reloads_failed);
  buf_t out = {0};
  metrics_render(&out);
  http_header_t h = {"Content-Type",
                     "text/plain; version=0.0.4; charset=utf-8"};
  http_respond(req, 200, &h, 1, out.data, out.len);
  buf_free(&out);
}

static void plugins(http_request_t *req, const auth_principal_t *p, void *ud) {
  (void)p;
  assistd_t *d = ud;
  const generation_t *g = http_req_token(req);
  buf_t b = {0};
  buf_printf(&b,
             "{\"generation\":%u,\"abi\":\"%d.%d\",\"reloads\":{\"ok\":%llu,"
             "\"failed\":%llu},\"instances\":[",
             g->id, ASSIST_ABI_MAJOR, ASSIST_ABI_MINOR,
             (unsigned long long)d->reloads_ok,
             (unsigned long long)d->reloads_failed);
  for (size_t i = 0; i < g->ninsts; i++) {
    const instance_t *inst = g->insts[i];
    const assist_plugin_t *desc = instance_desc(inst);
    if (i) buf_puts(&b, ",");
    buf_puts(&b, "{\"name\":");
    buf_json_str(&b, instance_name(inst), strlen(instance_name(inst)));
    buf_puts(&b, ",\"plugin\":");
    buf_json_str(&b, desc->name, strlen(desc->name));
    buf_puts(&b, ",\"version\":");
    buf_json_str(&b, desc->version, strlen(desc->version));
    buf_printf(&b, ",\"abi\":\"%u.%u\",\"state\":\"%s\",\"path\":",
               (unsigned)desc->abi_major, (unsigned)desc->abi_minor,
               instance_state_name(instance_state(inst)));
    const char *path = instance_lib(inst)->path;
    buf_json_str(&b, path, strlen(path));
    buf_puts(&b, ",\"options\":");
    opts_to_json(instance_opts(inst), &b);
    buf_puts(&b, "}");
  }
  buf_puts(&b, "]}");
  http_respond_json(req, 200, b.data, b.len);
  buf_free(&b);
}

static void ui_static(http_request_t *req, void *ud) {
  const char *root = ud;
  const char *rest = http_req_param(req, "path");
  http_serve_static(req, root, rest ? rest : "");
}

static void ui_redirect(http_request_t *req, void *ud) {
  (void)ud;
  http_header_t h = {"Location", "/ui/"};
  http_respond(req, 302, &h, 1, NULL, 0);
}

int builtins_add(assistd_t *d, router_t *r, const config_t *cfg) {
  int rc = 0;
  rc |= router_add(r, "GET", "/health", 0, health, d);
  rc |= router_add(r, "GET", "/ready", 0, ready, d);
  rc |= router_add(r, "GET", "/metrics", 0, metrics, d);
  /* Everything under /api/ goes through the auth gate except the public
   * routes (auth_route_is_public): sign-in and registration. */
  rc |= auth_route_add(d->auth, r, "GET", "/api/plugins", 0,
                       AUTH_SCOPE_READ | AUTH_SCOPE_ADMIN, plugins, d);
  if (auth_api_register(d->auth, r) != 0) rc = -1;
  /* Connections (core/oauth), when providers are configured. */
  if (daemon_oauth_routes(d, r) != 0) rc = -1;
  /* Jobs, schedules and audit (core/api; admins only). */
  if (api_add_routes(r, &d->api) != 0) rc = -1;
  /* Reminders: preferences, events, plans, deliveries, RSVP pages. */
  if (daemon_assistant_routes(d, r) != 0) rc = -1;
  if (cfg->server.static_dir) {
    /* The generation's config owns static_dir, and outlives its router. */
    rc |= router_add(r, "GET", "/ui/{path*}", 0, ui_static,
                     cfg->server.static_dir);
    rc |= router_add(r, "GET", "/", 0, ui_redirect, d);
  }
  return rc ? -1 : 0;
}

void http_limits_from_config(const cfg_server_t *s, http_limits_t *out) {
  out->max_connections = s->max_connections;
  out->max_header_size = s->max_header_size;
  out->max_headers = s->max_headers;
  out->max_body_size = s->max_body_size;
  out->header_timeout_ms = s->header_timeout_ms;
  out->body_timeout_ms = s->body_timeout_ms;
  out->idle_timeout_ms = s->idle_timeout_ms;
}

int parse_listen(const char *s, char **host, int *port) {
  const char *colon;
  size_t hlen;
  const char *h = s;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':') return -1;
    h = s + 1;
    hlen = (size_t)(end - h);
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return -1;
    hlen = (size_t)(colon - s);
  }
  char *endp;
  long p = strtol(colon + 1, &endp, 10);
  if (colon[1] == '\0' || *endp != '\0' || p < 0 || p > 65535 || hlen == 0)
    return -1;
  *host = xstrndup(h, hlen);
  *port = (int)p;
  return 0;
}
