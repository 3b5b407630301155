/*
 * core_config.c: the core sections of the configuration file, validated
 * into a config_t.
 *
 * The format (config/README.md has the long version):
 *
 *   server:
 *     listen: "127.0.0.1:8080"     # or a list; "[::1]:8080" for IPv6;
 *                                  # "localhost" means 127.0.0.1; port 0..65535
 *     max_connections: 10000       # 1..1000000
 *     max_header_size: 16KB        # 1KiB..16MiB; sizes: 512, 16k, 16KB, 1MiB
 *     max_headers: 100             # 1..10000
 *     max_body_size: 1MB           # 0..1TiB
 *     header_timeout: 10s          # durations: 250ms, 10s, 5m, 2h, 1d;
 *     body_timeout: 30s            #   a bare number is ms; 1ms..1d
 *     idle_timeout: 60s
 *     drain_timeout: 10s           # 0..1d
 *     static_dir: ../web           # optional; relative to this file's dir
 *     public_url: http://127.0.0.1:8080  # optional; http:// or https://
 *   log:
 *     level: info                  # debug|info|warn|error
 *     format: json                 # json|text
 *   storage: "sqlite:var/assistd.db"  # or postgresql://...; a relative
 *                                     # sqlite path resolves against the
 *                                     # main file's dir; default
 *                                     # sqlite:assistd.db
 *   secrets:                       # the master key (core/secrets)
 *     key_file: var/assistd.key    # default for SQLite: <database>.key,
 *                                  # created 0600 on first run
 *     key_env: ASSIST_MASTER_KEY   # or from the environment (64 hex chars)
 *     create: false                # create key_file when missing
 *     previous_key_files: [old.key] # older keys: decrypt only (rotation)
 *     previous_key_envs: [OLD_KEY]
 *   jobs:
 *     lease: 30s                   # 1s..1h; heartbeat every lease/3
 *     poll: 5s                     # safety poll, 100ms..1h
 *   auth:                          # accounts and sign-in (core/auth)
 *     allow_registration: false    # POST /api/auth/register
 *     session_idle: 1d             # 1m..365d
 *     session_lifetime: 7d         # 1m..365d
 *     max_failures_account: 5      # failed sign-ins per 15 min, 1..10000
 *     max_failures_addr: 20        # per client address, 1..100000
 *     lockout: 15m                 # 1s..30d
 *     client_addr_header: X-Forwarded-For  # only behind a trusted proxy
 *     bootstrap_admin: you@example.org  # first run without an admin: a
 *                                  # generated password printed once
 *   oauth:                         # OAuth2 connections (core/oauth)
 *     redirect_base: https://assist.example.org  # default server.public_url
 *     done_url: /ui/#/connections  # browser goes here after the callback
 *     state_ttl: 10m               # 1m..1d: how long an authorization may take
 *     refresh_margin: 5m           # 1s..1d: refresh this long before expiry
 *     ca_file: ca.pem              # PEM bundle for the providers' TLS (tests)
 *     providers:                   # name ([a-z0-9_-], 1..32) -> provider
 *       google:
 *         kind: google             # google|microsoft|generic; default: the
 *                                  # name when it is google or microsoft
 *         client_id: x.apps.googleusercontent.com   # required
 *         client_secret: ${GOOGLE_CLIENT_SECRET}   # never logged or echoed
 *         authorize_url: ...       # token_url, revoke_url ("" none): URLs,
 *                                  # required for generic
 *         tenant: common           # microsoft only
 *         scopes: openid email     # string or list
 *         extra_params: "a=b"      # replaces the kind's defaults ("" none)
 *   reminders:                     # appointment reminders (core/assistant)
 *     public_url: https://assist.example.org  # RSVP links; default
 *                                  # server.public_url, else the first
 *                                  # listen address
 *     email_notifier: dry-run      # instance name, or dry-run (records the
 *     call_notifier: dry-run       #   rendered message without sending)
 *     from_email: reminders@example.org  # sender of reminder e-mails
 *     from_name: Assistant
 *     horizon: 60d                 # plan events starting within (1d..366d)
 *     dispatch_interval: 30s       # outbox pass (1s..1h)
 *     rsvp_ttl: 14d                # RSVP link lifetime (1s..365d)
 *   plugin_dir: ../build/plugins   # relative to the main file's dir;
 *                                  # default <main file dir>/plugins
 *   include: conf.d                # file, directory (*.yaml, *.yml in name
 *                                  # order) or a list; see include.c
 *   plugins:
 *     - name: hello                # unique, [a-z0-9_-]+
 *       plugin: hello              # [a-z0-9_-]+: loads <plugin_dir>/hello.so
 *       path: /opt/x/hello.so      # optional explicit path (relative to the
 *                                  # file the entry is written in)
 *       enabled: true              # default true
 *       options: {greeting: "hi"}  # checked later with opts_validate()
 *
 * Scalars: plain scalars are coerced to the expected type; quoted scalars
 * are strings (a quoted number where an integer is expected is an error),
 * except substituted ones, which are coerced. Booleans are true/false,
 * yes/no, on/off in any case. null (or an empty value) means "not given":
 * the default applies. Unknown keys, wrong types and out-of-range values
 * are errors at the offending node; every error is collected.
 */
#include "internal.h"

#include "../common/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_keys[] = {
    "server", "log",       "storage",    "secrets", "jobs",   "auth",
    "oauth",  "reminders", "plugin_dir", "include", "plugins"};
static const char *const reminders_keys[] = {
    "public_url", "email_notifier", "call_notifier",     "from_email",
    "from_name",  "horizon",        "dispatch_interval", "rsvp_ttl"};
static const char *const oauth_keys[] = {"redirect_base", "done_url",
                                         "state_ttl",     "refresh_margin",
                                         "ca_file",       "providers"};
static const char *const oauth_provider_keys[] = {
    "kind",       "client_id", "client_secret", "authorize_url", "token_url",
    "revoke_url", "tenant",    "scopes",        "extra_params"};
static const char *const oauth_kinds[] = {"google", "microsoft", "generic"};
static const char *const secrets_keys[] = {
    "key_file", "key_env", "create", "previous_key_files", "previous_key_envs"};
static const char *const jobs_keys[] = {"lease", "poll"};
static const char *const auth_keys[] = {
    "allow_registration",   "session_idle",      "session_lifetime",
    "max_failures_account", "max_failures_addr", "lockout",
    "client_addr_header",   "bootstrap_admin"};
static const char *const server_keys[] = {
    "listen",        "max_connections", "max_header_size", "max_headers",
    "max_body_size", "header_timeout",  "body_timeout",    "idle_timeout",
    "drain_timeout", "static_dir",      "public_url"};
static const char *const log_keys[] = {"level", "format"};
static const char *const inst_keys[] = {"name", "plugin", "path", "enabled",
                                        "options"};
static const char *const log_levels[] = {"debug", "info", "warn", "error"};
static const char *const log_formats[] = {"json", "text"};

#define DAY_MS (86400ull * 1000)

typedef struct bctx {
  cfg_errors_t *errs;
  int bad;
} bctx_t;

#define ERR(c, mark, ...)                                                      \
  do {                                                                         \
    cfg_error((c)->errs, (mark), __VA_ARGS__);                                 \
    (c)->bad = 1;                                                              \
  } while (0)

static void check_keys(bctx_t *c, const cfg_node_t *map,
                       const char *const *keys, size_t n, const char *where) {
  char shown[96];
  for (size_t i = 0; i < map->n; i++) {
    const cfg_node_t *k = map->keys[i];
    size_t j = 0;
    while (j < n && strcmp(keys[j], k->str) != 0) j++;
    if (j < n) continue;
    const char *near = cfg_nearest(k->str, keys, n);
    cfg_show_str(k->str, k->len, shown, sizeof shown);
    char hint[96] = "";
    if (near) snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
    if (where)
      ERR(c, k->mark, "unknown key %s in %s%s", shown, where, hint);
    else
      ERR(c, k->mark, "unknown top-level key %s%s", shown, hint);
  }
}

/* A scalar's text, or NULL (absent/null: no error; other: reported). */
static const char *scalar(bctx_t *c, const cfg_node_t *n, const char *path,
                          const char *want) {
  if (cfg_is_null(n)) return NULL;
  if (n->invalid) {
    c->bad = 1;
    return NULL;
  }
  if (n->kind != CFG_SCALAR) {
    ERR(c, n->mark, "%s: expected %s, not %s", path, want, cfg_kind_name(n));
    return NULL;
  }
  return n->str;
}

/* Like scalar() for non-string types: refuses unsubstituted quoted text. */
static const char *typed_scalar(bctx_t *c, const cfg_node_t *n,
                                const char *path, const char *want) {
  const char *s = scalar(c, n, path, want);
  if (s && n->quoted && !n->substituted) {
    ERR(c, n->mark, "%s: expected %s, got a quoted string (remove the quotes)",
        path, want);
    return NULL;
  }
  return s;
}

static void get_string(bctx_t *c, const cfg_node_t *map, const char *key,
                       const char *path, char **out) {
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = scalar(c, n, path, "a string");
  if (!s) return;
  if (!s[0]) {
    ERR(c, n->mark, "%s: must not be empty", path);
    return;
  }
  free(*out);
  *out = xstrdup(s);
}

/* A path, resolved against the directory of the file it is written in. */
static void get_path(bctx_t *c, const cfg_node_t *map, const char *key,
                     const char *path, char **out) {
  const cfg_node_t *n = cfg_map_get(map, key);
  char *s = NULL;
  get_string(c, map, key, path, &s);
  if (!s) return;
  char *dir = cfg_node_dir(n);
  free(*out);
  *out = cfg_path_join(dir, s);
  free(dir);
  free(s);
}

static void get_uint(bctx_t *c, const cfg_node_t *map, const char *key,
                     const char *path, uint64_t min, uint64_t max,
                     uint64_t *out) {
  char shown[96];
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = typed_scalar(c, n, path, "an integer");
  if (!s) return;
  int64_t v;
  int rc = cfg_parse_int64(s, &v);
  if (rc == -EINVAL) {
    ERR(c, n->mark, "%s: expected an integer, got %s", path,
        cfg_show(n, shown, sizeof shown));
  } else if (rc || v < 0 || (uint64_t)v < min || (uint64_t)v > max) {
    ERR(c, n->mark, "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")", path,
        cfg_show(n, shown, sizeof shown), min, max);
  } else {
    *out = (uint64_t)v;
  }
}

static void get_units(bctx_t *c, const cfg_node_t *map, const char *key,
                      const char *path, int is_size, uint64_t min, uint64_t max,
                      uint64_t *out) {
  char shown[96];
  const char *want = is_size ? "a size (e.g. 512, 16KB, 1MiB)"
                             : "a duration (e.g. 250ms, 10s, 5m)";
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = typed_scalar(c, n, path, want);
  if (!s) return;
  uint64_t v;
  int rc = is_size ? parse_size(s, &v) : parse_duration_ms(s, &v);
  if (rc == -EINVAL) {
    ERR(c, n->mark, "%s: expected %s, got %s", path, want,
        cfg_show(n, shown, sizeof shown));
  } else if (rc || v < min || v > max) {
    ERR(c, n->mark, "%s: %s is out of range (%" PRIu64 "..%" PRIu64 " %s)",
        path, cfg_show(n, shown, sizeof shown), min, max,
        is_size ? "bytes" : "ms");
  } else {
    *out = v;
  }
}

static void get_enum(bctx_t *c, const cfg_node_t *map, const char *key,
                     const char *path, const char *const *vals, size_t nvals,
                     char **out) {
  char shown[96], list[128] = "";
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = scalar(c, n, path, "a string");
  if (!s) return;
  for (size_t i = 0; i < nvals; i++) {
    if (strcmp(vals[i], s) == 0) {
      free(*out);
      *out = xstrdup(s);
      return;
    }
  }
  for (size_t i = 0; i < nvals; i++) {
    strcat(list, i ? "|" : "");
    strcat(list, vals[i]);
  }
  ERR(c, n->mark, "%s: invalid value %s (expected %s)", path,
      cfg_show(n, shown, sizeof shown), list);
}

static void get_bool(bctx_t *c, const cfg_node_t *map, const char *key,
                     const char *path, int *out) {
  char shown[96];
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = typed_scalar(c, n, path, "a boolean (true/false)");
  if (!s) return;
  if (cfg_parse_bool(s, out))
    ERR(c, n->mark, "%s: expected a boolean (true/false), got %s", path,
        cfg_show(n, shown, sizeof shown));
}

/* ---------------- server ---------------- */

static int parse_port(const char *s, int *port) {
  if (!*s || strlen(s) > 6) return -1;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
  }
  *port = (int)v;
  return v <= 65535 ? 0 : -2;
}

static int parse_listen(bctx_t *c, const cfg_node_t *n, cfg_listen_t *out) {
  char shown[96];
  const char *s = scalar(c, n, "server.listen", "an address (HOST:PORT)");
  if (!s) {
    if (cfg_is_null(n))
      ERR(c, n ? n->mark : (cfg_mark_t){0}, "server.listen: empty address");
    return -1;
  }
  cfg_show(n, shown, sizeof shown);
  char *host = NULL;
  const char *port;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') goto syntax;
    host = xstrndup(s + 1, (size_t)(close - s - 1));
    port = close + 2;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) != 1) {
      ERR(c, n->mark, "server.listen: %s is not a valid IPv6 address", shown);
      goto fail;
    }
  } else {
    const char *colon = strrchr(s, ':');
    if (!colon) goto syntax;
    host = xstrndup(s, (size_t)(colon - s));
    port = colon + 1;
    if (strchr(host, ':')) {
      ERR(c, n->mark,
          "server.listen: %s: write IPv6 addresses in brackets, e.g. "
          "[::1]:8080",
          shown);
      goto fail;
    }
    if (strcmp(host, "localhost") == 0) {
      free(host);
      host = xstrdup("127.0.0.1");
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) != 1) {
      ERR(c, n->mark,
          "server.listen: %s: host must be a numeric IPv4 or [IPv6] address "
          "or localhost",
          shown);
      goto fail;
    }
  }
  int rc = parse_port(port, &out->port);
  if (rc == -2) {
    ERR(c, n->mark, "server.listen: %s: port is out of range (0..65535)",
        shown);
    goto fail;
  }
  if (rc) {
    ERR(c, n->mark, "server.listen: %s: invalid port", shown);
    goto fail;
  }
  out->host = host;
  out->mark = n->mark;
  return 0;
syntax:
  ERR(c, n->mark,
      "server.listen: invalid address %s (expected HOST:PORT or "
      "[IPV6]:PORT)",
      shown);
fail:
  free(host);
  return -1;
}

static void add_listen(bctx_t *c, cfg_server_t *s, const cfg_node_t *n) {
  cfg_listen_t l = {0};
  if (parse_listen(c, n, &l)) return;
  for (size_t i = 0; i < s->nlisten; i++) {
    if (strcmp(s->listen[i].host, l.host) == 0 && s->listen[i].port == l.port) {
      ERR(c, n->mark, "server.listen: duplicate address (first at line %u)",
          s->listen[i].mark.line);
      free(l.host);
      return;
    }
  }
  s->listen = xrealloc(s->listen, (s->nlisten + 1) * sizeof *s->listen);
  s->listen[s->nlisten++] = l;
}

static void build_server(bctx_t *c, const cfg_node_t *n, cfg_server_t *s) {
  s->max_connections = 10000;
  s->max_header_size = 16 << 10;
  s->max_headers = 100;
  s->max_body_size = 1 << 20;
  s->header_timeout_ms = 10000;
  s->body_timeout_ms = 30000;
  s->idle_timeout_ms = 60000;
  s->drain_timeout_ms = 10000;
  if (!cfg_is_null(n) && n->kind != CFG_MAP) {
    ERR(c, n->mark, "server: expected a map, not %s", cfg_kind_name(n));
    n = NULL;
  }
  if (!cfg_is_null(n)) {
    check_keys(c, n, server_keys, N_(server_keys), "server");
    const cfg_node_t *l = cfg_map_get(n, "listen");
    if (l && l->kind == CFG_SEQ) {
      if (l->n == 0)
        ERR(c, l->mark, "server.listen: at least one address is required");
      for (size_t i = 0; i < l->n; i++) add_listen(c, s, l->items[i]);
    } else if (!cfg_is_null(l)) {
      add_listen(c, s, l);
    }
    uint64_t v = s->max_connections;
    get_uint(c, n, "max_connections", "server.max_connections", 1, 1000000, &v);
    s->max_connections = (uint32_t)v;
    v = s->max_headers;
    get_uint(c, n, "max_headers", "server.max_headers", 1, 10000, &v);
    s->max_headers = (uint32_t)v;
    get_units(c, n, "max_header_size", "server.max_header_size", 1, 1 << 10,
              16 << 20, &s->max_header_size);
    get_units(c, n, "max_body_size", "server.max_body_size", 1, 0, 1ull << 40,
              &s->max_body_size);
    get_units(c, n, "header_timeout", "server.header_timeout", 0, 1, DAY_MS,
              &s->header_timeout_ms);
    get_units(c, n, "body_timeout", "server.body_timeout", 0, 1, DAY_MS,
              &s->body_timeout_ms);
    get_units(c, n, "idle_timeout", "server.idle_timeout", 0, 1, DAY_MS,
              &s->idle_timeout_ms);
    get_units(c, n, "drain_timeout", "server.drain_timeout", 0, 0, DAY_MS,
              &s->drain_timeout_ms);
    get_path(c, n, "static_dir", "server.static_dir", &s->static_dir);
    get_string(c, n, "public_url", "server.public_url", &s->public_url);
    if (s->public_url && strncmp(s->public_url, "http://", 7) != 0 &&
        strncmp(s->public_url, "https://", 8) != 0) {
      char shown[96];
      const cfg_node_t *u = cfg_map_get(n, "public_url");
      ERR(c, u->mark,
          "server.public_url: %s must start with http:// or https://",
          cfg_show(u, shown, sizeof shown));
    }
  }
  if (s->nlisten == 0 && !c->bad) {
    s->listen = xcalloc(1, sizeof *s->listen);
    s->listen[0].host = xstrdup("127.0.0.1");
    s->listen[0].port = 8080;
    s->nlisten = 1;
  }
}

/* ---------------- plugin instances ---------------- */

static int valid_ident(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > 64) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-'))
      return 0;
  return 1;
}

static void get_ident(bctx_t *c, const cfg_node_t *map, const char *key,
                      const char *what, char **out) {
  char shown[96];
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = scalar(c, n, key, "a string");
  if (!s) return;
  if (!valid_ident(s)) {
    ERR(c, n->mark, "%s: invalid %s %s (use [a-z0-9_-]+, at most 64)", key,
        what, cfg_show(n, shown, sizeof shown));
    return;
  }
  *out = xstrdup(s);
}

static void build_instance(bctx_t *c, config_t *cfg, const cfg_node_t *n) {
  if (n->kind != CFG_MAP) {
    if (!n->invalid)
      ERR(c, n->mark, "plugin instance: expected a map, not %s",
          cfg_kind_name(n));
    c->bad = 1;
    return;
  }
  check_keys(c, n, inst_keys, N_(inst_keys), "plugin instance");
  cfg_instance_t in = {.enabled = 1, .mark = n->mark};
  const cfg_node_t *nm = cfg_map_get(n, "name");
  get_ident(c, n, "name", "instance name", &in.name);
  get_ident(c, n, "plugin", "plugin name", &in.plugin);
  if (cfg_is_null(nm))
    ERR(c, n->mark, "plugin instance: missing required key 'name'");
  if (cfg_is_null(cfg_map_get(n, "plugin"))) {
    if (in.name)
      ERR(c, n->mark, "plugin instance '%s': missing required key 'plugin'",
          in.name);
    else
      ERR(c, n->mark, "plugin instance: missing required key 'plugin'");
  }
  get_path(c, n, "path", "path", &in.path);
  get_bool(c, n, "enabled", "enabled", &in.enabled);
  const cfg_node_t *opts = cfg_map_get(n, "options");
  if (!cfg_is_null(opts) && opts->kind != CFG_MAP) {
    if (!opts->invalid)
      ERR(c, opts->mark, "options: expected a map, not %s",
          cfg_kind_name(opts));
    c->bad = 1;
  } else if (!cfg_is_null(opts)) {
    in.options = opts;
  }
  if (in.name) {
    for (size_t i = 0; i < cfg->ninstances; i++) {
      const cfg_instance_t *o = &cfg->instances[i];
      if (strcmp(o->name, in.name) == 0) {
        ERR(c, nm->mark,
            "duplicate instance name '%s' (first defined at %s:%u:%u)", in.name,
            o->mark.file, o->mark.line, o->mark.col);
        break;
      }
    }
  }
  if (!in.path && in.plugin) {
    /* <plugin_dir>/<plugin>.so, or <plugin_dir>/<plugin>/<plugin>.so as a
     * build tree lays plugins out. Configuration is loaded off the loop,
     * so the stat() is fine here. */
    char *so = xasprintf("%s.so", in.plugin);
    in.path = cfg_path_join(cfg->plugin_dir, so);
    struct stat st;
    if (stat(in.path, &st) != 0) {
      char *nested = xasprintf("%s/%s.so", in.plugin, in.plugin);
      char *alt = cfg_path_join(cfg->plugin_dir, nested);
      if (stat(alt, &st) == 0) {
        free(in.path);
        in.path = alt;
      } else {
        free(alt);
      }
      free(nested);
    }
    free(so);
  }
  if (!in.name || !in.plugin) {
    free(in.name);
    free(in.plugin);
    free(in.path);
    return;
  }
  cfg->instances =
      xrealloc(cfg->instances, (cfg->ninstances + 1) * sizeof *cfg->instances);
  cfg->instances[cfg->ninstances++] = in;
}

/* ---------------- secrets and jobs ---------------- */

static int valid_env_name(const char *s) {
  if (!*s || (*s >= '0' && *s <= '9')) return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  return 1;
}

/* A string or a list of strings; paths resolve against their file. */
static void get_str_list(bctx_t *c, const cfg_node_t *map, const char *key,
                         const char *path, int is_path, char ***out,
                         size_t *n) {
  const cfg_node_t *l = cfg_map_get(map, key);
  if (cfg_is_null(l)) return;
  const cfg_node_t *one[1] = {l};
  const cfg_node_t *const *items = one;
  size_t count = 1;
  if (l->kind == CFG_SEQ) {
    items = (const cfg_node_t *const *)l->items;
    count = l->n;
  }
  for (size_t i = 0; i < count; i++) {
    const char *s = scalar(c, items[i], path, "a string or a list of strings");
    if (!s) continue;
    if (!*s) {
      ERR(c, items[i]->mark, "%s: must not be empty", path);
      continue;
    }
    if (!is_path && !valid_env_name(s)) {
      ERR(c, items[i]->mark, "%s: not a variable name", path);
      continue;
    }
    char *v;
    if (is_path) {
      char *dir = cfg_node_dir(items[i]);
      v = cfg_path_join(dir, s);
      free(dir);
    } else {
      v = xstrdup(s);
    }
    *out = xrealloc(*out, (*n + 1) * sizeof **out);
    (*out)[(*n)++] = v;
  }
}

static void build_secrets(bctx_t *c, const cfg_node_t *n, cfg_secrets_t *s) {
  if (!cfg_is_null(n) && n->kind != CFG_MAP) {
    ERR(c, n->mark, "secrets: expected a map, not %s", cfg_kind_name(n));
    return;
  }
  if (cfg_is_null(n)) return;
  check_keys(c, n, secrets_keys, N_(secrets_keys), "secrets");
  get_path(c, n, "key_file", "secrets.key_file", &s->key_file);
  get_string(c, n, "key_env", "secrets.key_env", &s->key_env);
  if (s->key_env && !valid_env_name(s->key_env))
    ERR(c, cfg_map_get(n, "key_env")->mark,
        "secrets.key_env: not a variable name");
  if (s->key_file && s->key_env)
    ERR(c, cfg_map_get(n, "key_env")->mark,
        "secrets: set key_file or key_env, not both");
  get_bool(c, n, "create", "secrets.create", &s->create);
  if (s->create && !s->key_file && cfg_map_get(n, "create"))
    ERR(c, cfg_map_get(n, "create")->mark,
        "secrets.create: needs secrets.key_file");
  get_str_list(c, n, "previous_key_files", "secrets.previous_key_files", 1,
               &s->previous_key_files, &s->nprevious);
  get_str_list(c, n, "previous_key_envs", "secrets.previous_key_envs", 0,
               &s->previous_key_envs, &s->nprevious_env);
}

/* Without a key configured, a SQLite database gets its own key file next
 * to it (<database>.key), created on first run; PostgreSQL needs one
 * configured, since every daemon sharing the database must use it. */
static void default_secrets(config_t *cfg) {
  cfg_secrets_t *s = &cfg->secrets;
  if (s->key_file || s->key_env) return;
  if (strncmp(cfg->storage, "sqlite:", 7) == 0) {
    const char *p = cfg->storage + 7;
    const char *q = strchr(p, '?');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    if (len && p[0] != ':' && strncmp(p, "file:", 5) != 0) {
      s->key_file = xasprintf("%.*s.key", (int)len, p);
      s->create = 1;
      s->defaulted = 1;
    }
    /* :memory: and file: URIs: the daemon uses an ephemeral key. */
  }
  /* PostgreSQL without a key: the daemon refuses to start (a check of the
   * configuration alone cannot know whether the key comes later). */
}

static void build_jobs(bctx_t *c, const cfg_node_t *n, cfg_jobs_t *j) {
  j->lease_ms = 30000;
  j->poll_ms = 5000;
  if (!cfg_is_null(n) && n->kind != CFG_MAP) {
    ERR(c, n->mark, "jobs: expected a map, not %s", cfg_kind_name(n));
    return;
  }
  if (cfg_is_null(n)) return;
  check_keys(c, n, jobs_keys, N_(jobs_keys), "jobs");
  get_units(c, n, "lease", "jobs.lease", 0, 1000, 3600000, &j->lease_ms);
  get_units(c, n, "poll", "jobs.poll", 0, 100, 3600000, &j->poll_ms);
}

static int header_name_ok(const char *s) {
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
      return 0;
  return 1;
}

static void build_auth(bctx_t *c, const cfg_node_t *n, cfg_auth_t *a) {
  a->session_idle_ms = 86400000;
  a->session_lifetime_ms = 7 * 86400000ull;
  a->max_failures_account = 5;
  a->max_failures_addr = 20;
  a->lockout_ms = 900000;
  if (!cfg_is_null(n) && n->kind != CFG_MAP) {
    ERR(c, n->mark, "auth: expected a map, not %s", cfg_kind_name(n));
    return;
  }
  if (cfg_is_null(n)) return;
  check_keys(c, n, auth_keys, N_(auth_keys), "auth");
  get_bool(c, n, "allow_registration", "auth.allow_registration",
           &a->allow_registration);
  get_units(c, n, "session_idle", "auth.session_idle", 0, 60000,
            365 * 86400000ull, &a->session_idle_ms);
  get_units(c, n, "session_lifetime", "auth.session_lifetime", 0, 60000,
            365 * 86400000ull, &a->session_lifetime_ms);
  get_uint(c, n, "max_failures_account", "auth.max_failures_account", 1, 10000,
           &a->max_failures_account);
  get_uint(c, n, "max_failures_addr", "auth.max_failures_addr", 1, 100000,
           &a->max_failures_addr);
  get_units(c, n, "lockout", "auth.lockout", 0, 1000, 30 * 86400000ull,
            &a->lockout_ms);
  get_string(c, n, "client_addr_header", "auth.client_addr_header",
             &a->client_addr_header);
  if (a->client_addr_header && !header_name_ok(a->client_addr_header))
    ERR(c, cfg_map_get(n, "client_addr_header")->mark,
        "auth.client_addr_header: not a header name");
  get_string(c, n, "bootstrap_admin", "auth.bootstrap_admin",
             &a->bootstrap_admin);
  if (a->bootstrap_admin &&
      (!strchr(a->bootstrap_admin, '@') || strchr(a->bootstrap_admin, ' ')))
    ERR(c, cfg_map_get(n, "bootstrap_admin")->mark,
        "auth.bootstrap_admin: expected an email address");
}

/* ---------------- oauth ---------------- */

static int url_ok(const char *s) {
  return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* A string that may be "" (meaning "none"). */
static void get_string_or_empty(bctx_t *c, const cfg_node_t *map,
                                const char *key, const char *path, char **out) {
  const cfg_node_t *n = cfg_map_get(map, key);
  const char *s = scalar(c, n, path, "a string");
  if (!s) return;
  free(*out);
  *out = xstrdup(s);
}

static void get_url(bctx_t *c, const cfg_node_t *map, const char *key,
                    const char *path, int allow_empty, char **out) {
  if (allow_empty)
    get_string_or_empty(c, map, key, path, out);
  else
    get_string(c, map, key, path, out);
  if (*out && **out && !url_ok(*out)) {
    char shown[96];
    const cfg_node_t *n = cfg_map_get(map, key);
    ERR(c, n->mark, "%s: %s must start with http:// or https://", path,
        cfg_show(n, shown, sizeof shown));
  }
}

static int provider_name_ok(const char *s) {
  return valid_ident(s) && strlen(s) <= 32;
}

static void build_oauth_provider(bctx_t *c, cfg_oauth_t *o,
                                 const cfg_node_t *key, const cfg_node_t *n) {
  char path[160], shown[96];
  const char *name = key->str;
  if (!provider_name_ok(name)) {
    ERR(c, key->mark,
        "oauth.providers: invalid provider name %s (use [a-z0-9_-], at most "
        "32)",
        cfg_show(key, shown, sizeof shown));
    return;
  }
  if (cfg_is_null(n) || n->kind != CFG_MAP) {
    if (!(n && n->invalid))
      ERR(c, n ? n->mark : key->mark,
          "oauth.providers.%s: expected a map, not %s", name, cfg_kind_name(n));
    c->bad = 1;
    return;
  }
  snprintf(path, sizeof path, "oauth.providers.%s", name);
  check_keys(c, n, oauth_provider_keys, N_(oauth_provider_keys), path);
  cfg_oauth_provider_t p = {.name = xstrdup(name), .mark = key->mark};
#define P_(field)                                                              \
  (snprintf(path, sizeof path, "oauth.providers.%s." #field, name), path)
  get_enum(c, n, "kind", P_(kind), oauth_kinds, N_(oauth_kinds), &p.kind);
  if (!p.kind && cfg_is_null(cfg_map_get(n, "kind"))) {
    if (strcmp(name, "google") == 0 || strcmp(name, "microsoft") == 0)
      p.kind = xstrdup(name);
    else
      ERR(c, key->mark,
          "oauth.providers.%s: missing required key 'kind' "
          "(google|microsoft|generic)",
          name);
  }
  get_string(c, n, "client_id", P_(client_id), &p.client_id);
  if (cfg_is_null(cfg_map_get(n, "client_id")))
    ERR(c, key->mark, "oauth.providers.%s: missing required key 'client_id'",
        name);
  /* The secret: get_string never echoes a value. */
  get_string(c, n, "client_secret", P_(client_secret), &p.client_secret);
  get_url(c, n, "authorize_url", P_(authorize_url), 0, &p.authorize_url);
  get_url(c, n, "token_url", P_(token_url), 0, &p.token_url);
  get_url(c, n, "revoke_url", P_(revoke_url), 1, &p.revoke_url);
  get_string(c, n, "tenant", P_(tenant), &p.tenant);
  get_string_or_empty(c, n, "extra_params", P_(extra_params), &p.extra_params);
  const cfg_node_t *sc = cfg_map_get(n, "scopes");
  if (sc && sc->kind == CFG_SEQ) {
    buf_t b = {0};
    for (size_t i = 0; i < sc->n; i++) {
      const char *v = scalar(c, sc->items[i], P_(scopes), "a string");
      if (!v) continue;
      if (!*v || strchr(v, ' ')) {
        ERR(c, sc->items[i]->mark, "%s: one scope per item, not empty",
            P_(scopes));
        continue;
      }
      if (b.len) buf_puts(&b, " ");
      buf_puts(&b, v);
    }
    p.scopes = b.len ? xstrdup(b.data) : NULL;
    buf_free(&b);
  } else {
    get_string(c, n, "scopes", P_(scopes), &p.scopes);
  }
#undef P_
  if (p.kind && strcmp(p.kind, "generic") == 0 &&
      (!p.authorize_url || !p.token_url))
    ERR(c, key->mark,
        "oauth.providers.%s: a generic provider needs authorize_url and "
        "token_url",
        name);
  if (p.tenant && p.kind && strcmp(p.kind, "microsoft") != 0)
    ERR(c, cfg_map_get(n, "tenant")->mark,
        "oauth.providers.%s.tenant: only for kind microsoft", name);
  o->providers =
      xrealloc(o->providers, (o->nproviders + 1) * sizeof *o->providers);
  o->providers[o->nproviders++] = p;
}

static void build_oauth(bctx_t *c, const cfg_node_t *n, cfg_oauth_t *o,
                        const char *public_url) {
  o->state_ttl_ms = 600000;
  o->refresh_margin_ms = 300000;
  if (!cfg_is_null(n) && n->kind != CFG_MAP) {
    ERR(c, n->mark, "oauth: expected a map, not %s", cfg_kind_name(n));
    return;
  }
  if (cfg_is_null(n)) return;
  o->mark = n->mark;
  check_keys(c, n, oauth_keys, N_(oauth_keys), "oauth");
  get_url(c, n, "redirect_base", "oauth.redirect_base", 0, &o->redirect_base);
  get_string(c, n, "done_url", "oauth.done_url", &o->done_url);
  get_units(c, n, "state_ttl", "oauth.state_ttl", 0, 60000, DAY_MS,
            &o->state_ttl_ms);
  get_units(c, n, "refresh_margin", "oauth.refresh_margin", 0, 1000, DAY_MS,
            &o->refresh_margin_ms);
  get_path(c, n, "ca_file", "oauth.ca_file", &o->ca_file);
  const cfg_node_t *pv = cfg_map_get(n, "providers");
  if (!cfg_is_null(pv) && pv->kind != CFG_MAP) {
    if (!pv->invalid)
      ERR(c, pv->mark,
          "oauth.providers: expected a map of provider name to settings, "
          "not %s",
          cfg_kind_name(pv));
    c->bad = 1;
  } else if (!cfg_is_null(pv)) {
    for (size_t i = 0; i < pv->n; i++)
      build_oauth_provider(c, o, pv->keys[i], pv->items[i]);
  }
  if (!o->redirect_base && public_url) o->redirect_base = xstrdup(public_url);
  if (o->nproviders && !o->redirect_base)
    ERR(c, n->mark,
        "oauth: redirect_base (or server.public_url) is required: the "
        "providers' redirect URIs are built from it");
  if (o->redirect_base) {
    size_t len = strlen(o->redirect_base);
    while (len > 0 && o->redirect_base[len - 1] == '/')
      o->redirect_base[--len] = '\0';
  }
}

static void oauth_free(cfg_oauth_t *o) {
  free(o->redirect_base);
  free(o->done_url);
  free(o->ca_file);
  for (size_t i = 0; i < o->nproviders; i++) {
    cfg_oauth_provider_t *p = &o->providers[i];
    free(p->name);
    free(p->kind);
    free(p->client_id);
    if (p->client_secret) {
      memset(p->client_secret, 0, strlen(p->client_secret));
      free(p->client_secret);
    }
    free(p->authorize_url);
    free(p->token_url);
    free(p->revoke_url);
    free(p->tenant);
    free(p->scopes);
    free(p->extra_params);
  }
  free(o->providers);
}

/* ---------------- reminders ---------------- */

static int notifier_ok(const char *s) {
  return strcmp(s, "dry-run") == 0 || valid_ident(s);
}

static void build_reminders(bctx_t *c, const cfg_node_t *n,
                            cfg_reminders_t *r) {
  r->horizon_ms = 60 * DAY_MS;
  r->dispatch_interval_ms = 30000;
  r->rsvp_ttl_ms = 14 * DAY_MS;
  if (!cfg_is_null(n) && n->kind != CFG_MAP) {
    ERR(c, n->mark, "reminders: expected a map, not %s", cfg_kind_name(n));
    return;
  }
  if (cfg_is_null(n)) return;
  r->mark = n->mark;
  check_keys(c, n, reminders_keys, N_(reminders_keys), "reminders");
  get_url(c, n, "public_url", "reminders.public_url", 0, &r->public_url);
  static const char *const which[] = {"email_notifier", "call_notifier"};
  char **outs[] = {&r->email_notifier, &r->call_notifier};
  for (size_t i = 0; i < 2; i++) {
    char path[48], shown[96];
    snprintf(path, sizeof path, "reminders.%s", which[i]);
    get_string(c, n, which[i], path, outs[i]);
    if (*outs[i] && !notifier_ok(*outs[i]))
      ERR(c, cfg_map_get(n, which[i])->mark,
          "%s: %s is neither dry-run nor an instance name ([a-z0-9_-])", path,
          cfg_show(cfg_map_get(n, which[i]), shown, sizeof shown));
  }
  get_string(c, n, "from_email", "reminders.from_email", &r->from_email);
  if (r->from_email &&
      (!strchr(r->from_email, '@') || strpbrk(r->from_email, " \r\n<>")))
    ERR(c, cfg_map_get(n, "from_email")->mark,
        "reminders.from_email: expected an email address");
  get_string(c, n, "from_name", "reminders.from_name", &r->from_name);
  if (r->from_name && strpbrk(r->from_name, "\r\n"))
    ERR(c, cfg_map_get(n, "from_name")->mark,
        "reminders.from_name: one line of text");
  get_units(c, n, "horizon", "reminders.horizon", 0, DAY_MS, 366 * DAY_MS,
            &r->horizon_ms);
  get_units(c, n, "dispatch_interval", "reminders.dispatch_interval", 0, 1000,
            3600000, &r->dispatch_interval_ms);
  get_units(c, n, "rsvp_ttl", "reminders.rsvp_ttl", 0, 1000, 365 * DAY_MS,
            &r->rsvp_ttl_ms);
}

/* Defaults that depend on other sections; a named notifier must be a
 * configured instance. */
static void finish_reminders(bctx_t *c, config_t *cfg, const cfg_node_t *n) {
  cfg_reminders_t *r = &cfg->reminders;
  const char *which[] = {"email_notifier", "call_notifier"};
  char **outs[] = {&r->email_notifier, &r->call_notifier};
  for (size_t i = 0; i < 2; i++) {
    if (!*outs[i]) {
      *outs[i] = xstrdup("dry-run");
      continue;
    }
    if (!notifier_ok(*outs[i]) || strcmp(*outs[i], "dry-run") == 0)
      continue; /* reported by build_reminders */
    size_t k = 0;
    while (k < cfg->ninstances && strcmp(cfg->instances[k].name, *outs[i])) k++;
    if (k == cfg->ninstances)
      ERR(c, cfg_map_get(n, which[i])->mark,
          "reminders.%s: no plugin instance named '%s'", which[i], *outs[i]);
  }
  if (!r->from_email) r->from_email = xstrdup("reminders@localhost");
  if (!r->from_name) r->from_name = xstrdup("assistd");
  if (!r->public_url && cfg->server.public_url)
    r->public_url = xstrdup(cfg->server.public_url);
  if (!r->public_url && cfg->server.nlisten) {
    const cfg_listen_t *l = &cfg->server.listen[0];
    const char *h = strcmp(l->host, "0.0.0.0") == 0 ? "127.0.0.1"
                    : strcmp(l->host, "::") == 0    ? "[::1]"
                                                    : l->host;
    r->public_url = strchr(h, ':') && h[0] != '['
                        ? xasprintf("http://[%s]:%d", h, l->port)
                        : xasprintf("http://%s:%d", h, l->port);
  }
  if (!r->public_url) r->public_url = xstrdup("http://127.0.0.1:8080");
  size_t len = strlen(r->public_url);
  while (len > 0 && r->public_url[len - 1] == '/') r->public_url[--len] = 0;
}

static void reminders_free(cfg_reminders_t *r) {
  free(r->public_url);
  free(r->email_notifier);
  free(r->call_notifier);
  free(r->from_email);
  free(r->from_name);
}

/* ---------------- the whole file ---------------- */

static void check_storage(bctx_t *c, const cfg_node_t *root, char *storage) {
  /* The value may carry a password: never echo it. */
  const cfg_node_t *n = cfg_map_get(root, "storage");
  if (cfg_is_null(n) || !storage) return;
  if (strncmp(storage, "sqlite:", 7) == 0 && storage[7]) return;
  if (strncmp(storage, "postgresql://", 13) == 0 ||
      strncmp(storage, "postgres://", 11) == 0)
    return;
  ERR(c, n->mark,
      "storage: expected 'sqlite:PATH' or 'postgresql://...' (value not "
      "shown)");
}

/* "sqlite:REL" becomes "sqlite:<main file dir>/REL" so the database does
 * not depend on the daemon's working directory. ":memory:" and "file:" URIs
 * are left alone. */
static void resolve_sqlite(config_t *cfg, const char *file) {
  if (strncmp(cfg->storage, "sqlite:", 7) != 0) return;
  const char *p = cfg->storage + 7;
  if (!*p || p[0] == '/' || p[0] == ':' || strncmp(p, "file:", 5) == 0) return;
  char *dir = cfg_dirname(file);
  char *abs = cfg_path_join(dir, p);
  free(cfg->storage);
  cfg->storage = xasprintf("sqlite:%s", abs);
  free(abs);
  free(dir);
}

static config_t *build(cfg_doc_t *doc, const char *file, cfg_errors_t *errs,
                       int keep) {
  bctx_t c = {.errs = errs};
  config_t *cfg = xcalloc(1, sizeof *cfg);
  cfg->file = xstrdup(file);
  cfg->doc = doc;
  cfg->storage = xstrdup("sqlite:assistd.db");
  cfg->log_level = xstrdup("info");
  cfg->log_format = xstrdup("json");
  const cfg_node_t *root = cfg_doc_root(doc);
  char *main_dir = cfg_dirname(file);
#ifdef ASSIST_DEFAULT_PLUGIN_DIR
  cfg->plugin_dir = xstrdup(ASSIST_DEFAULT_PLUGIN_DIR);
#else
  cfg->plugin_dir = cfg_path_join(main_dir, "plugins");
#endif
  free(main_dir);
  if (!cfg_is_null(root) && root->kind != CFG_MAP) {
    ERR(&c, root->mark, "the configuration must be a map, not %s",
        cfg_kind_name(root));
    root = NULL;
  }
  if (!cfg_is_null(root)) check_keys(&c, root, top_keys, N_(top_keys), NULL);
  build_server(&c, cfg_map_get(root, "server"), &cfg->server);
  const cfg_node_t *log = cfg_map_get(root, "log");
  if (!cfg_is_null(log) && log->kind != CFG_MAP) {
    ERR(&c, log->mark, "log: expected a map, not %s", cfg_kind_name(log));
  } else if (!cfg_is_null(log)) {
    check_keys(&c, log, log_keys, N_(log_keys), "log");
    get_enum(&c, log, "level", "log.level", log_levels, N_(log_levels),
             &cfg->log_level);
    get_enum(&c, log, "format", "log.format", log_formats, N_(log_formats),
             &cfg->log_format);
  }
  if (!cfg_is_null(root)) {
    get_string(&c, root, "storage", "storage", &cfg->storage);
    check_storage(&c, root, cfg->storage);
    get_path(&c, root, "plugin_dir", "plugin_dir", &cfg->plugin_dir);
  }
  resolve_sqlite(cfg, file);
  build_secrets(&c, cfg_map_get(root, "secrets"), &cfg->secrets);
  build_jobs(&c, cfg_map_get(root, "jobs"), &cfg->jobs);
  build_auth(&c, cfg_map_get(root, "auth"), &cfg->auth);
  build_oauth(&c, cfg_map_get(root, "oauth"), &cfg->oauth,
              cfg->server.public_url);
  build_reminders(&c, cfg_map_get(root, "reminders"), &cfg->reminders);
  if (!c.bad) default_secrets(cfg);
  /* include: was followed by cfg_doc_load(); its shape was checked there. */
  const cfg_node_t *pl = cfg_map_get(root, "plugins");
  if (pl && pl->kind == CFG_SEQ) {
    for (size_t i = 0; i < pl->n; i++) build_instance(&c, cfg, pl->items[i]);
  } else if (!cfg_is_null(pl)) {
    ERR(&c, pl->mark, "plugins: expected a list of plugin instances, not %s",
        cfg_kind_name(pl));
  }
  finish_reminders(&c, cfg, cfg_map_get(root, "reminders"));
  if (c.bad && !keep) {
    config_free(cfg);
    return NULL;
  }
  return cfg;
}

config_t *config_build(cfg_doc_t *doc, const char *file, cfg_errors_t *errs) {
  return build(doc, file, errs, 0);
}

config_t *config_check(const char *path, cfg_errors_t *errs) {
  cfg_doc_t *doc = cfg_doc_load(path, errs);
  return doc ? build(doc, path, errs, 1) : NULL;
}

static config_t *finish(cfg_doc_t *doc, const char *file, cfg_errors_t *errs,
                        size_t before) {
  if (!doc) return NULL;
  config_t *cfg = config_build(doc, file, errs);
  if (cfg && (errs->n > before || errs->n >= CFG_MAX_ERRORS)) {
    /* Errors from includes or substitution. */
    config_free(cfg);
    return NULL;
  }
  return cfg;
}

config_t *config_load(const char *path, cfg_errors_t *errs) {
  size_t before = errs->n;
  return finish(cfg_doc_load(path, errs), path, errs, before);
}

config_t *config_load_mem(const char *name, const char *data, size_t len,
                          cfg_errors_t *errs) {
  size_t before = errs->n;
  return finish(cfg_doc_load_mem(name, data, len, errs), name, errs, before);
}

void config_free(config_t *cfg) {
  if (!cfg) return;
  free(cfg->file);
  cfg_doc_free(cfg->doc);
  for (size_t i = 0; i < cfg->server.nlisten; i++)
    free(cfg->server.listen[i].host);
  free(cfg->server.listen);
  free(cfg->server.static_dir);
  free(cfg->server.public_url);
  free(cfg->plugin_dir);
  free(cfg->storage);
  free(cfg->log_level);
  free(cfg->log_format);
  free(cfg->secrets.key_file);
  free(cfg->secrets.key_env);
  for (size_t i = 0; i < cfg->secrets.nprevious; i++)
    free(cfg->secrets.previous_key_files[i]);
  free(cfg->secrets.previous_key_files);
  for (size_t i = 0; i < cfg->secrets.nprevious_env; i++)
    free(cfg->secrets.previous_key_envs[i]);
  free(cfg->secrets.previous_key_envs);
  free(cfg->auth.client_addr_header);
  free(cfg->auth.bootstrap_admin);
  oauth_free(&cfg->oauth);
  reminders_free(&cfg->reminders);
  for (size_t i = 0; i < cfg->ninstances; i++) {
    free(cfg->instances[i].name);
    free(cfg->instances[i].plugin);
    free(cfg->instances[i].path);
  }
  free(cfg->instances);
  free(cfg);
}
