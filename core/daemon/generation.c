#include "daemon/assistd.h"

#include "common/alloc.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the build decided for one configured instance. */
typedef struct plan {
  const cfg_instance_t *ci;
  instance_t *inst;
  int created;     /* 1: new in this generation (rolled back on failure) */
  int reconfigure; /* 1: carried over; opts to apply once all else passed */
  opt_set_t opts;
} plan_t;

static instance_t *find_instance(const generation_t *g, const char *name) {
  if (!g) return NULL;
  for (size_t i = 0; i < g->ninsts; i++)
    if (strcmp(instance_name(g->insts[i]), name) == 0) return g->insts[i];
  return NULL;
}

static void instance_closed(void *arg) {
  assistd_t *d = arg;
  d->closing_instances--;
  daemon_continue_shutdown(d);
}

static void drop_instance(assistd_t *d, instance_t *inst) {
  unsigned *refs = instance_gen_refs(inst);
  if (*refs > 0 && --*refs > 0) return;
  log_kv(LOG_INFO, "plugin", "stopping instance", "instance",
         instance_name(inst), NULL);
  d->closing_instances++;
  uint64_t deadline =
      d->current ? d->current->cfg->server.drain_timeout_ms : 10000;
  instance_close(inst, deadline, instance_closed, d);
}

/* Decides, for one configured instance, whether the old generation's
 * instance carries over (same image, same or reloadable options) or a new
 * one is created. */
static int plan_instance(assistd_t *d, const cfg_instance_t *ci,
                         const generation_t *old, plan_t *p,
                         cfg_errors_t *errs) {
  char err[512];
  plugin_lib_t *lib = plugin_lib_get(ci->path, err, sizeof err);
  if (!lib) {
    cfg_error(errs, ci->mark, "%s", err);
    return -1;
  }
  const assist_plugin_t *desc = lib->desc;
  if (strcmp(desc->name, ci->plugin) != 0) {
    cfg_error(errs, ci->mark, "%s provides plugin '%s', not '%s'", ci->path,
              desc->name, ci->plugin);
    plugin_lib_put(lib);
    return -1;
  }
  opt_set_t opts = {0};
  if (opts_validate(desc->options, lib->option_stride, ci->options, ci->mark,
                    &opts, errs) != 0) {
    plugin_lib_put(lib);
    return -1;
  }
  p->ci = ci;
  instance_t *prev = find_instance(old, ci->name);
  if (prev && instance_lib(prev) == lib) {
    const assist_plugin_t *pd = instance_desc(prev);
    int same = opts_equal(instance_opts(prev), &opts);
    if (same || ((pd->flags & ASSIST_PLUGIN_RELOADABLE) && pd->reconfigure &&
                 opts_diff_reloadable(instance_opts(prev), &opts))) {
      p->inst = prev;
      p->reconfigure = !same;
      if (same)
        opts_free(&opts);
      else
        p->opts = opts;
      plugin_lib_put(lib);
      return 0;
    }
  }
  p->inst = instance_create(d->loop, ci->name, lib, &opts, err, sizeof err);
  opts_free(&opts);
  if (!p->inst) {
    cfg_error(errs, ci->mark, "%s", err);
    return -1;
  }
  p->created = 1;
  return 0;
}

static int check_single_instance(const config_t *cfg, size_t i,
                                 const assist_plugin_t *desc,
                                 cfg_errors_t *errs) {
  if (desc->flags & ASSIST_PLUGIN_MULTI_INSTANCE) return 0;
  for (size_t j = 0; j < i; j++) {
    const cfg_instance_t *a = &cfg->instances[j], *b = &cfg->instances[i];
    if (a->enabled && strcmp(a->plugin, b->plugin) == 0) {
      cfg_error(errs, b->mark,
                "plugin '%s' allows one instance; '%s' already uses it",
                b->plugin, a->name);
      return -1;
    }
  }
  return 0;
}

/* A plugin route behind the gate: the plugin's handler runs only for an
 * authenticated caller holding the method's default scopes, and its
 * req_user reports that caller. */
static void plugin_route_granted(http_request_t *req, const auth_principal_t *p,
                                 void *arg) {
  if (!req) return; /* the gate answered */
  instance_route_dispatch_as(req, arg, p->user_id);
}

static void plugin_route_gated(http_request_t *req, void *ud) {
  const instance_route_t *rt = ud;
  const generation_t *g = http_req_token(req);
  if (!g->d->auth) {
    http_respond_error(req, 503, "authentication is not available");
    return;
  }
  auth_gate(g->d->auth, req, auth_default_scopes(rt->method),
            plugin_route_granted, (void *)rt);
}

static int add_routes(router_t *r, instance_t *inst, cfg_errors_t *errs,
                      cfg_mark_t mark) {
  for (const instance_route_t *rt = instance_routes(inst); rt; rt = rt->next) {
    uint32_t flags =
        (rt->flags & ASSIST_ROUTE_SPOOL_BODY) ? ROUTER_SPOOL_BODY : 0;
    http_handler_fn fn = auth_route_is_public(rt->pattern)
                             ? instance_route_dispatch
                             : plugin_route_gated;
    if (router_add_ex(r, rt->method, rt->pattern, rt->max_body, flags, fn,
                      (void *)rt) != 0) {
      cfg_error(errs, mark, "instance '%s': route %s %s clashes with another",
                instance_name(inst), rt->method, rt->pattern);
      return -1;
    }
  }
  return 0;
}

generation_t *generation_build(assistd_t *d, config_t *cfg,
                               const generation_t *old, cfg_errors_t *errs) {
  size_t n = cfg->ninstances;
  plan_t *plans = xcalloc(n ? n : 1, sizeof *plans);
  size_t nplans = 0;
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    const cfg_instance_t *ci = &cfg->instances[i];
    if (!ci->enabled) continue;
    if (plan_instance(d, ci, old, &plans[nplans], errs) != 0) {
      failed = 1;
      continue;
    }
    nplans++;
    if (check_single_instance(cfg, i, instance_desc(plans[nplans - 1].inst),
                              errs) != 0)
      failed = 1;
  }
  router_t *router = router_new();
  if (!failed && builtins_add(d, router, cfg) != 0) {
    cfg_error(errs, (cfg_mark_t){cfg->file, 1, 1}, "built-in routes clash");
    failed = 1;
  }
  for (size_t i = 0; i < nplans && !failed; i++)
    if (add_routes(router, plans[i].inst, errs, plans[i].ci->mark) != 0)
      failed = 1;
  for (size_t i = 0; i < nplans && !failed; i++) {
    if (!plans[i].created) continue;
    int rc = instance_start(plans[i].inst);
    if (rc != 0) {
      cfg_error(errs, plans[i].ci->mark, "instance '%s': start failed: %s",
                plans[i].ci->name, host_api.strerror(rc));
      failed = 1;
    }
  }
  /* Last, so a failure anywhere above leaves running instances untouched;
   * a reconfigure that fails undoes the ones applied before it. */
  size_t applied = 0;
  for (; applied < nplans && !failed; applied++) {
    plan_t *p = &plans[applied];
    if (!p->reconfigure) continue;
    int rc = instance_reconfigure(p->inst, &p->opts);
    if (rc != 0) {
      cfg_error(errs, p->ci->mark, "instance '%s': reconfigure failed: %s",
                p->ci->name, host_api.strerror(rc));
      failed = 1;
      break;
    }
    log_kv(LOG_INFO, "plugin", "instance reconfigured in place", "instance",
           p->ci->name, NULL);
  }
  if (failed) {
    while (applied-- > 0)
      if (plans[applied].reconfigure)
        instance_reconfigure(plans[applied].inst, &plans[applied].opts);
  }
  for (size_t i = 0; i < nplans; i++) opts_free(&plans[i].opts);
  if (failed) {
    for (size_t i = 0; i < nplans; i++) {
      if (!plans[i].created) continue;
      d->closing_instances++;
      instance_close(plans[i].inst, cfg->server.drain_timeout_ms,
                     instance_closed, d);
    }
    free(plans);
    router_free(router);
    config_free(cfg);
    return NULL;
  }
  generation_t *g = xcalloc(1, sizeof *g);
  g->d = d;
  g->id = ++d->next_gen_id;
  g->refs = 1;
  g->cfg = cfg;
  g->router = router;
  g->insts = xcalloc(nplans ? nplans : 1, sizeof *g->insts);
  g->ninsts = nplans;
  for (size_t i = 0; i < nplans; i++) {
    g->insts[i] = plans[i].inst;
    (*instance_gen_refs(plans[i].inst))++;
  }
  free(plans);
  return g;
}

void generation_release(generation_t *g) {
  if (!g || --g->refs > 0) return;
  for (size_t i = 0; i < g->ninsts; i++) drop_instance(g->d, g->insts[i]);
  free(g->insts);
  router_free(g->router);
  config_free(g->cfg);
  free(g);
}

static int bound_has(const cfg_listen_t *list, size_t n, const char *host,
                     int port) {
  for (size_t i = 0; i < n; i++)
    if (list[i].port == port && strcmp(list[i].host, host) == 0) return 1;
  return 0;
}

/* Opens the addresses gen needs that are not open yet. Returns 0 or a uv
 * error; on error every address opened here is closed again. */
static int listen_new(assistd_t *d, const cfg_server_t *s) {
  for (size_t i = 0; i < s->nlisten; i++) {
    const cfg_listen_t *l = &s->listen[i];
    if (bound_has(d->bound, d->nbound, l->host, l->port)) continue;
    int rc = http_server_listen(d->http, l->host, l->port);
    if (rc != 0) {
      log_kv(LOG_ERROR, "http", "cannot listen", "host", l->host, "error",
             uv_strerror(rc), NULL);
      for (size_t j = 0; j < i; j++)
        if (!bound_has(d->bound, d->nbound, s->listen[j].host,
                       s->listen[j].port))
          http_server_unlisten(d->http, s->listen[j].host, s->listen[j].port);
      return rc;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", l->port);
    log_kv(LOG_INFO, "http", "listening", "host", l->host, "#port", port, NULL);
  }
  return 0;
}

/* Closes what the new configuration no longer lists, after the new
 * addresses are open, so a moved listener never refuses connections. */
static void unlisten_old(assistd_t *d, const cfg_server_t *s) {
  for (size_t i = 0; i < d->nbound; i++) {
    if (!bound_has(s->listen, s->nlisten, d->bound[i].host, d->bound[i].port))
      http_server_unlisten(d->http, d->bound[i].host, d->bound[i].port);
    free(d->bound[i].host);
  }
  free(d->bound);
  d->bound = xcalloc(s->nlisten ? s->nlisten : 1, sizeof *d->bound);
  d->nbound = s->nlisten;
  for (size_t i = 0; i < s->nlisten; i++) {
    d->bound[i] = s->listen[i];
    d->bound[i].host = xstrdup(s->listen[i].host);
  }
}

int generation_activate(assistd_t *d, generation_t *gen) {
  int rc = listen_new(d, &gen->cfg->server);
  if (rc != 0) return rc;
  unlisten_old(d, &gen->cfg->server);
  generation_t *old = d->current;
  d->current = gen;
  http_limits_t limits;
  http_limits_from_config(&gen->cfg->server, &limits);
  http_server_set_limits(d->http, &limits);
  metric_set(metrics_family(METRIC_GAUGE, "assist_generation",
                            "Current configuration generation", NULL, 0),
             NULL, gen->id);
  metric_set(metrics_family(METRIC_GAUGE, "assist_plugin_instances",
                            "Plugin instances in the current generation", NULL,
                            0),
             NULL, (double)gen->ninsts);
  generation_release(old);
  return 0;
}
