/*
 * main.c: assistd's command line, start-up, reload and shutdown.
 *
 *   assistd --config FILE [--listen HOST:PORT] [--log-format json|text]
 *           [--log-level debug|info|warn|error]
 *   assistd --check-config FILE
 *   assistd --dump-schema [--plugin-dir DIR]
 *   assistd --version
 *   assistd audit verify --config FILE [--anchor A]     (cli.c)
 *   assistd audit anchor --config FILE
 *   assistd secrets rotate --config FILE
 *   assistd admin create --config FILE --email E [--password-stdin]
 *           [--token NAME --scopes read,write,admin]
 */
#include "daemon/assistd.h"

#include "common/alloc.h"
#include "common/log.h"
#include "httpc/curl_lazy.h"
#include "metrics/metrics.h"
#include "plugin/host_assistant.h"
#include "plugin/host_oauth.h"
#include "plugin/host_secrets.h"
#include "plugin/services.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ASSISTD_PLUGIN_DIR
#define ASSISTD_PLUGIN_DIR "/usr/lib/assistd/plugins"
#endif
#ifndef ASSISTD_SQL_DIR
#define ASSISTD_SQL_DIR "/usr/share/assistd/sql"
#endif

static void usage(FILE *f) {
  fprintf(f, "usage: assistd --config FILE [--listen HOST:PORT] "
             "[--log-format json|text] [--log-level LEVEL]\n"
             "       assistd --check-config FILE\n"
             "       assistd --dump-schema [--plugin-dir DIR]\n"
             "       assistd --version\n"
             "       assistd audit verify --config FILE [--anchor A]\n"
             "       assistd audit anchor --config FILE\n"
             "       assistd secrets rotate --config FILE\n"
             "       assistd admin create --config FILE --email E "
             "[--password-stdin]\n"
             "               [--token NAME --scopes read,write,admin]\n");
}

static void print_errors(const cfg_errors_t *errs) {
  for (size_t i = 0; i < errs->n; i++) fprintf(stderr, "%s\n", errs->items[i]);
}

/* ---------------- HTTP app: requests pin their generation ---------------- */

static const router_t *app_acquire(void *ud, void **token) {
  assistd_t *d = ud;
  generation_t *g = d->current;
  g->refs++;
  *token = g;
  return g->router;
}

static void app_release(void *ud, void *token) {
  (void)ud;
  generation_release(token);
}

/* ---------------- configuration ---------------- */

static config_t *load_config(assistd_t *d, cfg_errors_t *errs) {
  config_t *cfg = config_load(d->config_path, errs);
  if (!cfg || !d->listen_override) return cfg;
  char *host;
  int port;
  if (parse_listen(d->listen_override, &host, &port) != 0) {
    cfg_error(errs, (cfg_mark_t){"--listen", 1, 1},
              "expected HOST:PORT, got '%s'", d->listen_override);
    config_free(cfg);
    return NULL;
  }
  for (size_t i = 0; i < cfg->server.nlisten; i++)
    free(cfg->server.listen[i].host);
  cfg->server.listen = xrealloc(cfg->server.listen, sizeof(cfg_listen_t));
  cfg->server.nlisten = 1;
  cfg->server.listen[0] = (cfg_listen_t){host, port, {"--listen", 1, 1}};
  return cfg;
}

static void log_errors(const char *what, const cfg_errors_t *errs) {
  for (size_t i = 0; i < errs->n; i++)
    log_kv(LOG_ERROR, "config", what, "error", errs->items[i], NULL);
}

/* ---------------- reload (SIGHUP) ---------------- */

typedef struct reload_job {
  uv_work_t req;
  assistd_t *d;
  config_t *cfg;
  cfg_errors_t errs;
} reload_job_t;

static void start_reload(assistd_t *d);

/* Off the loop: reading and parsing files may block. */
static void reload_parse(uv_work_t *req) {
  reload_job_t *j = req->data;
  j->cfg = load_config(j->d, &j->errs);
}

static void reload_apply(uv_work_t *req, int status) {
  reload_job_t *j = req->data;
  assistd_t *d = j->d;
  generation_t *gen = NULL;
  if (status == 0 && j->cfg && !d->stopping) {
    gen = generation_build(d, j->cfg, d->current, &j->errs);
    if (gen && generation_activate(d, gen) != 0) {
      cfg_error(&j->errs, (cfg_mark_t){d->config_path, 1, 1},
                "cannot listen on a configured address");
      generation_release(gen);
      gen = NULL;
    }
  } else if (j->cfg) {
    config_free(j->cfg);
  }
  if (gen) {
    daemon_assistant_reconfigure(d, gen->cfg);
    d->reloads_ok++;
    char id[16], details[48];
    snprintf(id, sizeof id, "%u", gen->id);
    log_kv(LOG_INFO, "config", "reloaded", "#generation", id, NULL);
    snprintf(details, sizeof details, "{\"generation\":%u}", gen->id);
    daemon_audit(d, "config.reload", d->config_path, "ok", details);
  } else if (!d->stopping) {
    d->reloads_failed++;
    log_errors("reload failed; keeping the running configuration", &j->errs);
    /* The count only: error texts may quote configuration values. */
    char details[48];
    snprintf(details, sizeof details, "{\"errors\":%zu}", j->errs.n);
    daemon_audit(d, "config.reload", d->config_path, "error", details);
  }
  cfg_errors_free(&j->errs);
  free(j);
  d->reloading = 0;
  if (d->reload_again && !d->stopping) {
    d->reload_again = 0;
    start_reload(d);
  }
}

static void start_reload(assistd_t *d) {
  if (d->reloading) { /* coalesce: one more pass after this one */
    d->reload_again = 1;
    return;
  }
  d->reloading = 1;
  log_kv(LOG_INFO, "config", "reloading", "file", d->config_path, NULL);
  reload_job_t *j = xcalloc(1, sizeof *j);
  j->d = d;
  j->req.data = j;
  uv_queue_work(d->loop, &j->req, reload_parse, reload_apply);
}

/* ---------------- shutdown ----------------
 * HTTP drains first (requests finish on their generation), then every
 * plugin instance stops, then the OAuth service and the outbound HTTP
 * client (only with oauth providers), then the reminders service waits
 * for its storage requests and sends, then the auth service waits for its
 * store requests and password hashing, then the job engine waits for its
 * handlers and writes, then the store closes, then the signal handles: the
 * loop ends when nothing is left. */

static void on_handle_closed(uv_handle_t *h) {
  (void)h;
}

static void store_closed(void *arg) {
  assistd_t *d = arg;
  if (d->signals_on) {
    uv_close((uv_handle_t *)&d->sig_hup, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_term, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_int, on_handle_closed);
    d->signals_on = 0;
  }
}

static void audit_closed(void *arg) {
  assistd_t *d = arg;
  if (d->store) {
    store_t *s = d->store;
    d->store = NULL;
    store_close(s, store_closed, d);
  } else {
    store_closed(d);
  }
}

static void jobs_closed(void *arg) {
  assistd_t *d = arg;
  services_reset();
  host_secrets_set(NULL, NULL);
  d->api.jobs = NULL;
  d->api.audit = NULL;
  if (d->audit) {
    audit_svc_t *a = d->audit;
    d->audit = NULL;
    audit_svc_close(a, audit_closed, d);
  } else {
    audit_closed(d);
  }
}

void daemon_audit(assistd_t *d, const char *action, const char *target,
                  const char *outcome, const char *details) {
  if (!d->audit) return;
  audit_record_t rec = {.actor = "system:daemon",
                        .action = action,
                        .target = target,
                        .outcome = outcome,
                        .details = details};
  audit_svc_append(d->audit, &rec, NULL, NULL);
}

static void auth_closed(void *arg) {
  assistd_t *d = arg;
  d->api.auth = NULL;
  if (d->jobs) {
    jobs_t *j = d->jobs;
    d->jobs = NULL;
    jobs_close(j, jobs_closed, d);
  } else {
    jobs_closed(d);
  }
}

static void assistant_closed(void *arg) {
  assistd_t *d = arg;
  if (d->auth) {
    auth_t *a = d->auth;
    d->auth = NULL;
    auth_close(a, auth_closed, d);
  } else {
    auth_closed(d);
  }
}

/* The reminders service after the plugin instances (no calendar_put can
 * arrive any more) and before the job engine it queues work on. */
static void httpc_closed(void *arg) {
  assistd_t *d = arg;
  host_assistant_set(NULL);
  if (d->assistant) {
    assistant_t *a = d->assistant;
    d->assistant = NULL;
    assistant_close(a, assistant_closed, d);
  } else {
    assistant_closed(d);
  }
}

static void oauth_closed(void *arg) {
  assistd_t *d = arg;
  host_oauth_set(NULL);
  daemon_http_stop();
  if (d->httpc) {
    httpc_t *h = d->httpc;
    d->httpc = NULL;
    httpc_close(h, httpc_closed, d);
  } else {
    httpc_closed(d);
  }
}

/* Runs each time something the shutdown waits for has finished. */
void daemon_continue_shutdown(assistd_t *d) {
  if (!d->stopping || d->http || d->current || d->closing_instances > 0 ||
      d->services_closing)
    return;
  d->services_closing = 1;
  /* OAuth first (its requests use the HTTP client, its tokens the store
   * and its hook the audit log), then the HTTP client. */
  if (d->oauth) {
    oauth_t *o = d->oauth;
    d->oauth = NULL;
    oauth_close(o, oauth_closed, d);
  } else {
    oauth_closed(d);
  }
}

static void http_drained(void *arg) {
  assistd_t *d = arg;
  generation_t *g = d->current;
  d->current = NULL;
  generation_release(g);
  http_server_free(d->http);
  d->http = NULL;
  log_kv(LOG_INFO, "daemon", "stopped accepting; drained HTTP", NULL);
  daemon_continue_shutdown(d);
}

static void on_signal(uv_signal_t *h, int signum) {
  assistd_t *d = h->data;
  if (signum == SIGHUP) {
    if (!d->stopping) start_reload(d);
    return;
  }
  if (d->stopping) return;
  d->stopping = 1;
  log_kv(LOG_INFO, "daemon", "shutting down", "signal",
         signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
  http_server_shutdown(d->http, d->current->cfg->server.drain_timeout_ms,
                       http_drained, d);
}

/* ---------------- commands ---------------- */

static int check_config(const char *path) {
  cfg_errors_t errs = {0};
  /* A partial configuration even with errors, so that plugin option errors
   * are reported in the same run as the core ones. */
  config_t *cfg = config_check(path, &errs);
  if (cfg) {
    for (size_t i = 0; i < cfg->ninstances; i++) {
      const cfg_instance_t *ci = &cfg->instances[i];
      char err[512];
      plugin_lib_t *lib = plugin_lib_get(ci->path, err, sizeof err);
      if (!lib) {
        cfg_error(&errs, ci->mark, "%s", err);
        continue;
      }
      if (strcmp(lib->desc->name, ci->plugin) != 0)
        cfg_error(&errs, ci->mark, "%s provides plugin '%s', not '%s'",
                  ci->path, lib->desc->name, ci->plugin);
      opt_set_t opts = {0};
      opts_validate(lib->desc->options, lib->option_stride, ci->options,
                    ci->mark, &opts, &errs);
      opts_free(&opts);
      plugin_lib_put(lib);
    }
  }
  int rc = errs.n ? 1 : 0;
  if (rc)
    print_errors(&errs);
  else
    printf("%s: configuration OK\n", path);
  cfg_errors_free(&errs);
  config_free(cfg);
  return rc;
}

static int by_name(const void *a, const void *b) {
  const plugin_lib_t *const *x = a, *const *y = b;
  return strcmp((*x)->desc->name, (*y)->desc->name);
}

/* Reads the descriptor of every plugin in dir (and dir/NAME/NAME.so). */
static int dump_schema(const char *dir) {
  DIR *dh = opendir(dir);
  if (!dh) {
    fprintf(stderr, "assistd: cannot open plugin dir %s\n", dir);
    return 1;
  }
  plugin_lib_t **libs = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(dh)) != NULL) {
    if (e->d_name[0] == '.') continue;
    size_t len = strlen(e->d_name);
    char *path;
    if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0)
      path = xasprintf("%s/%s", dir, e->d_name);
    else
      path = xasprintf("%s/%s/%s.so", dir, e->d_name, e->d_name);
    char err[512];
    plugin_lib_t *lib = plugin_lib_get(path, err, sizeof err);
    free(path);
    if (!lib) continue; /* not a plugin, or not one of ours: not in schema */
    libs = xrealloc(libs, (n + 1) * sizeof *libs);
    libs[n++] = lib;
  }
  closedir(dh);
  qsort(libs, n, sizeof *libs, by_name);
  const assist_plugin_t **descs = xcalloc(n ? n : 1, sizeof *descs);
  for (size_t i = 0; i < n; i++) descs[i] = libs[i]->desc;
  buf_t out = {0};
  config_schema_json(descs, n, &out);
  fwrite(out.data, 1, out.len, stdout);
  if (out.len && out.data[out.len - 1] != '\n') fputc('\n', stdout);
  buf_free(&out);
  free(descs);
  for (size_t i = 0; i < n; i++) plugin_lib_put(libs[i]);
  free(libs);
  return 0;
}

/* ---------------- main ---------------- */

/* sqlite:PATH needs PATH's directory; create it (0750) if missing. This
 * runs once before the loop serves anything. */
void daemon_ensure_sqlite_dir(const char *uri) {
  if (strncmp(uri, "sqlite:", 7) != 0) return;
  char *path = xstrdup(uri + 7);
  char *q = strchr(path, '?');
  if (q) *q = '\0';
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
      log_kv(LOG_WARN, "store", "cannot create directory", "dir", path, "error",
             strerror(errno), NULL);
    *p = '/';
  }
  free(path);
}

static void boot_failed(assistd_t *d) {
  d->exit_code = 1;
  d->stopping = 1;
  if (d->http) {
    http_server_free(d->http);
    d->http = NULL;
  }
  daemon_continue_shutdown(d);
}

/* The TCP peer, unless a trusted proxy's header (client_addr_header) names
 * the client: then the peer is only the proxy. */
static int peer_addr(http_request_t *req, char *out, size_t cap, void *ud) {
  const char *proxy_header = ud;
  if (proxy_header) return -1;
  const char *p = http_req_peer(req);
  if (!*p) return -1;
  snprintf(out, cap, "%s", p);
  return 0;
}

void daemon_auth_config(const config_t *cfg, auth_config_t *out) {
  *out = (auth_config_t){
      .client_addr = peer_addr,
      .client_addr_ud = (void *)cfg->auth.client_addr_header,
      .public_url = cfg->server.public_url,
      .allow_registration = cfg->auth.allow_registration,
      .session_idle_s = (int64_t)(cfg->auth.session_idle_ms / 1000),
      .session_lifetime_s = (int64_t)(cfg->auth.session_lifetime_ms / 1000),
      .max_failures_account = (unsigned)cfg->auth.max_failures_account,
      .max_failures_addr = (unsigned)cfg->auth.max_failures_addr,
      .lockout_s = (int64_t)((cfg->auth.lockout_ms + 999) / 1000),
      .client_addr_header = cfg->auth.client_addr_header,
  };
}

/* First run: the generated password goes to standard output once (the
 * operator's terminal or the service manager's journal), never to the
 * JSON log on stderr. */
static void bootstrap_done(int status, int64_t user_id, const char *password,
                           void *arg) {
  const char *email = arg;
  char id[24];
  snprintf(id, sizeof id, "%lld", (long long)user_id);
  if (status < 0) {
    log_kv(LOG_ERROR, "auth", "bootstrap admin not created", "error",
           strerror(-status), NULL);
  } else if (password) {
    printf("assistd: created the first admin %s with the password: %s\n"
           "assistd: it is shown only this once; sign in and change it.\n",
           email, password);
    fflush(stdout);
    log_kv(LOG_INFO, "auth", "bootstrap admin created", "#user_id", id, NULL);
  }
  free(arg);
}

static void store_opened(store_t *s, int status, const char *errmsg,
                         void *arg) {
  assistd_t *d = arg;
  config_t *cfg = d->boot_cfg;
  d->boot_cfg = NULL;
  if (status != 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", errmsg);
    config_free(cfg);
    boot_failed(d);
    return;
  }
  d->store = s;
  jobs_opts_t jo = {.lease_ms = (int)cfg->jobs.lease_ms,
                    .poll_ms = (int)cfg->jobs.poll_ms};
  d->jobs = jobs_new(s, &jo);
  services_set(s, d->jobs);
  auth_config_t ac;
  daemon_auth_config(cfg, &ac);
  d->auth = auth_new(d->loop, s, &ac);
  d->api.auth = d->auth;
  if (cfg->auth.bootstrap_admin)
    auth_bootstrap(d->auth, cfg->auth.bootstrap_admin, bootstrap_done,
                   xstrdup(cfg->auth.bootstrap_admin));
  /* The audit log gets its own thread and connection (the migrations
   * above created its tables). */
  int rc = audit_svc_start(d->loop, cfg->storage, d->ring, &d->audit);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot start the audit log: %s\n", strerror(-rc));
    config_free(cfg);
    boot_failed(d);
    return;
  }
  host_secrets_set(d->ring, d->audit);
  /* OAuth connections (only with providers configured): after the store,
   * the keyring and the audit log, before any instance can ask for a
   * token. */
  if (daemon_oauth_start(d, cfg) != 0) {
    config_free(cfg);
    boot_failed(d);
    return;
  }
  daemon_http_start(d); /* plugins share OAuth's client, or create it */
  d->api.jobs = d->jobs;
  d->api.audit = d->audit;
  /* Reminders: after jobs, keyring and audit log, before any instance
   * starts (calendar sources sync at once) and before jobs_start. */
  if (daemon_assistant_start(d, cfg) != 0) {
    config_free(cfg);
    boot_failed(d);
    return;
  }

  cfg_errors_t errs = {0};
  generation_t *gen = generation_build(d, cfg, NULL, &errs);
  if (gen && generation_activate(d, gen) != 0) {
    cfg_error(&errs, (cfg_mark_t){d->config_path, 1, 1},
              "cannot listen on a configured address");
    generation_release(gen);
    gen = NULL;
  }
  if (!gen) {
    print_errors(&errs);
    cfg_errors_free(&errs);
    boot_failed(d);
    return;
  }
  cfg_errors_free(&errs);
  jobs_start(d->jobs);

  uv_signal_init(d->loop, &d->sig_hup);
  uv_signal_init(d->loop, &d->sig_term);
  uv_signal_init(d->loop, &d->sig_int);
  d->sig_hup.data = d->sig_term.data = d->sig_int.data = d;
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  d->signals_on = 1;
  log_kv(LOG_INFO, "daemon", "started", "version", ASSISTD_VERSION, "config",
         d->config_path, NULL);
  char details[96];
  snprintf(details, sizeof details,
           "{\"version\":\"%s\",\"owner\":", ASSISTD_VERSION);
  buf_t b = {0};
  buf_puts(&b, details);
  buf_json_str(&b, jobs_owner(d->jobs), strlen(jobs_owner(d->jobs)));
  buf_puts(&b, "}");
  daemon_audit(d, "daemon.start", d->config_path, "ok", b.data);
  buf_free(&b);
}

static int run(assistd_t *d, const char *log_format, const char *log_level) {
  cfg_errors_t errs = {0};
  config_t *cfg = load_config(d, &errs);
  if (!cfg) {
    print_errors(&errs);
    cfg_errors_free(&errs);
    return 1;
  }
  log_level_t lvl = LOG_INFO;
  log_parse_level(log_level ? log_level : cfg->log_level, &lvl);
  const char *fmt = log_format ? log_format : cfg->log_format;
  log_setup(fmt && strcmp(fmt, "text") == 0 ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON,
            lvl, 2);

  /* The master keys before anything can encrypt (blocking: key files;
   * nothing is served yet). A missing default key file is created. */
  daemon_ensure_sqlite_dir(cfg->storage);
  char kerr[512] = "";
  if (keys_load(cfg, 1, &d->ring, kerr, sizeof kerr) != 0) {
    fprintf(stderr, "assistd: %s\n", kerr);
    config_free(cfg);
    return 1;
  }

  uv_loop_t *loop = uv_default_loop();
  d->loop = loop;
  http_limits_t limits;
  http_limits_from_config(&cfg->server, &limits);
  http_app_t app = {app_acquire, app_release, d};
  d->http = http_server_new(loop, &limits, &app);

  /* The store opens (and migrates) asynchronously; plugins start once it
   * is there, because their storage and jobs live in it. */
  const char *sql_dir = getenv("ASSISTD_SQL_DIR");
  d->boot_cfg = cfg;
  int rc = store_open(loop, cfg->storage, sql_dir ? sql_dir : ASSISTD_SQL_DIR,
                      store_opened, d);
  if (rc != 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", strerror(-rc));
    d->boot_cfg = NULL;
    config_free(cfg);
    boot_failed(d);
  }

  uv_run(loop, UV_RUN_DEFAULT);

  for (size_t i = 0; i < d->nbound; i++) free(d->bound[i].host);
  free(d->bound);
  api_reset();
  secrets_keyring_free(d->ring);
  d->ring = NULL;
  if (d->curl_on) {
    curl_global_cleanup();
    d->curl_on = 0;
  }
  if (uv_loop_close(loop) != 0)
    log_kv(LOG_WARN, "daemon", "loop closed with open handles", NULL);
  metrics_reset();
  if (d->exit_code == 0) log_kv(LOG_INFO, "daemon", "exited cleanly", NULL);
  return d->exit_code;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, 0, 'c'},
      {"listen", required_argument, 0, 'l'},
      {"check-config", required_argument, 0, 'C'},
      {"dump-schema", no_argument, 0, 'S'},
      {"plugin-dir", required_argument, 0, 'P'},
      {"log-format", required_argument, 0, 'f'},
      {"log-level", required_argument, 0, 'L'},
      {"version", no_argument, 0, 'V'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  if (argc > 1 &&
      (strcmp(argv[1], "audit") == 0 || strcmp(argv[1], "secrets") == 0 ||
       strcmp(argv[1], "admin") == 0))
    return cli_main(argc, argv);
  assistd_t d = {0};
  const char *check = NULL, *plugin_dir = ASSISTD_PLUGIN_DIR;
  const char *log_format = NULL, *log_level = NULL;
  int schema = 0, c;
  while ((c = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'c':
      d.config_path = optarg;
      break;
    case 'l':
      d.listen_override = optarg;
      break;
    case 'C':
      check = optarg;
      break;
    case 'S':
      schema = 1;
      break;
    case 'P':
      plugin_dir = optarg;
      break;
    case 'f':
      if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
        fprintf(stderr, "assistd: --log-format must be json or text\n");
        return 2;
      }
      log_format = optarg;
      break;
    case 'L': {
      log_level_t l;
      if (log_parse_level(optarg, &l) != 0) {
        fprintf(stderr, "assistd: --log-level must be debug, info, warn or "
                        "error\n");
        return 2;
      }
      log_level = optarg;
      break;
    }
    case 'V':
      printf("assistd %s (plugin ABI %d.%d)\n", ASSISTD_VERSION,
             ASSIST_ABI_MAJOR, ASSIST_ABI_MINOR);
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "assistd: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (schema) return dump_schema(plugin_dir);
  if (check) return check_config(check);
  if (!d.config_path) {
    usage(stderr);
    return 2;
  }
  /* Before any thread starts: a thread pool big enough that plugin work
   * cannot starve file and DNS requests. */
  /* libcurl is initialised only when oauth providers are configured
   * (oauth_glue.c), not here: its TLS set-up alone costs megabytes of
   * resident memory. */
  setenv("UV_THREADPOOL_SIZE", "8", 0);
  signal(SIGPIPE, SIG_IGN);
  return run(&d, log_format, log_level);
}
