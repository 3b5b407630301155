/*
 * cli.c: maintenance commands that run next to (or instead of) the daemon.
 *
 *   assistd audit verify --config FILE [--anchor A]
 *       Walks the audit chain and checks the signed head. Prints
 *       "audit log OK: N entries (last seq S)" and exits 0, or
 *       "audit log BROKEN at seq N: <problem>: <message>" and exits 1.
 *       Exit 2 when it cannot run (configuration, keys, database).
 *   assistd audit anchor --config FILE
 *       Prints the current head ("a1:<seq>:<hash>") to keep outside the
 *       database; pass it to verify --anchor later.
 *   assistd secrets rotate --config FILE
 *       With a new key active (secrets.key_file) and the old one listed in
 *       secrets.previous_key_files: re-encrypts every plugin value stored
 *       through the SDK's secret_encrypt (kv values "ps1:..."), every OAuth
 *       access and refresh token (oauth_connections) and re-wraps
 *       every audit subject key under the active key, then re-signs the
 *       audit head. Afterwards the old key can be dropped from the
 *       configuration. Safe to run while daemons are up (each value is
 *       replaced only if unchanged meanwhile) and to run twice.
 *
 *   assistd admin create --config FILE --email E [--password-stdin]
 *           [--token NAME [--scopes read,write,admin]]
 *       Opens the store (running its migrations) and creates an admin. The
 *       password is read from the first line of standard input with
 *       --password-stdin, else generated and printed once ("password: X").
 *       --token also creates an API token for the new admin (scopes
 *       default to read) and prints it once ("token: asd_..."). Exit 0, 1
 *       when the admin cannot be created (e.g. the email is taken: exit 3),
 *       2 when it cannot run.
 *
 * These are command-line tools: they block (their own loop for the
 * store, synchronous audit calls). Output on stdout, errors on stderr.
 */
#include "daemon/assistd.h"

#include "common/alloc.h"
#include "common/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ASSISTD_SQL_DIR
#define ASSISTD_SQL_DIR "/usr/share/assistd/sql"
#endif

typedef struct cli {
  const char *config_path, *anchor;
  const char *email, *token_name, *scopes;
  int password_stdin;
  config_t *cfg;
  secrets_keyring_t *ring;
} cli_t;

static int cli_setup_config(cli_t *c) {
  cfg_errors_t errs = {0};
  log_setup(LOG_FORMAT_TEXT, LOG_WARN, 2);
  c->cfg = config_load(c->config_path, &errs);
  if (!c->cfg) {
    for (size_t i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.items[i]);
    cfg_errors_free(&errs);
    return 2;
  }
  cfg_errors_free(&errs);
  return 0;
}

static int cli_setup(cli_t *c) {
  int rc = cli_setup_config(c);
  if (rc) return rc;
  char err[512] = "";
  if (keys_load(c->cfg, 0, &c->ring, err, sizeof err) != 0) {
    fprintf(stderr, "assistd: %s\n", err);
    return 2;
  }
  return 0;
}

static void cli_free(cli_t *c) {
  secrets_keyring_free(c->ring);
  config_free(c->cfg);
}

/* ---------------- audit ---------------- */

static int open_log(cli_t *c, audit_conn_t **conn, audit_log_t **log) {
  char err[512] = "";
  int rc = audit_conn_open(c->cfg->storage, conn, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot open the audit log: %s\n", err);
    return 2;
  }
  if (audit_log_new(c->ring, audit_conn_sink(*conn), log) != 0) {
    audit_conn_close(*conn);
    return 2;
  }
  return 0;
}

static int audit_verify_cmd(cli_t *c) {
  audit_conn_t *conn;
  audit_log_t *log;
  int rc = open_log(c, &conn, &log);
  if (rc) return rc;
  audit_verify_result_t res;
  memset(&res, 0, sizeof res);
  int vrc = audit_verify(log, c->anchor, &res);
  if (vrc < 0) {
    fprintf(stderr, "assistd: cannot read the audit log: %s\n",
            secrets_strerror(vrc));
    rc = 2;
  } else if (res.problem == AUDIT_OK) {
    printf("audit log OK: %lld entries (last seq %lld)\n", (long long)res.rows,
           (long long)res.last_seq);
    rc = 0;
  } else {
    printf("audit log BROKEN at seq %lld: %s: %s\n", (long long)res.seq,
           audit_problem_name(res.problem), res.message);
    rc = 1;
  }
  audit_log_free(log);
  audit_conn_close(conn);
  return rc;
}

static int audit_anchor_cmd(cli_t *c) {
  audit_conn_t *conn;
  audit_log_t *log;
  int rc = open_log(c, &conn, &log);
  if (rc) return rc;
  char *anchor = NULL;
  int arc = audit_anchor(log, &anchor);
  if (arc < 0) {
    fprintf(stderr, "assistd: cannot make an anchor: %s\n",
            secrets_strerror(arc));
    rc = 1;
  } else {
    printf("%s\n", anchor);
  }
  free(anchor);
  audit_log_free(log);
  audit_conn_close(conn);
  return rc;
}

/* ---------------- secrets rotate: plugin values in kv ---------------- */

static const store_stmt_t st_scan = {
    "kv_scan_secrets",
    "SELECT plugin, key, value FROM kv WHERE "
    "CAST(substr(value, 1, 4) AS TEXT) = 'ps1:' ORDER BY plugin, key",
    "SELECT plugin, key, value FROM kv WHERE "
    "substring(value from 1 for 4) = 'ps1:'::bytea ORDER BY plugin, key"};
static const store_stmt_t st_swap = {
    "kv_swap_secret",
    "UPDATE kv SET value = $1, updated_at = $2 WHERE plugin = $3 AND key = $4 "
    "AND value = $5",
    NULL};

/* OAuth tokens (core/oauth): ciphertexts bound to their row and column. */
static const store_stmt_t st_oauth_scan = {
    "oauth_scan_tokens",
    "SELECT id, access_token, refresh_token FROM oauth_connections WHERE "
    "access_token IS NOT NULL OR refresh_token IS NOT NULL ORDER BY id",
    NULL};
static const store_stmt_t st_oauth_swap_access = {
    "oauth_swap_access",
    "UPDATE oauth_connections SET access_token = $1 WHERE id = $2 AND "
    "access_token = $3",
    NULL};
static const store_stmt_t st_oauth_swap_refresh = {
    "oauth_swap_refresh",
    "UPDATE oauth_connections SET refresh_token = $1 WHERE id = $2 AND "
    "refresh_token = $3",
    NULL};

typedef struct rot_count {
  size_t reencrypted, current, unreadable, raced;
} rot_count_t;

typedef struct rot {
  cli_t *c;
  uv_loop_t loop;
  store_t *store;
  int failed;
  int phase; /* 0: plugin values in kv; 1: oauth tokens */
  size_t pending;
  rot_count_t kv, oauth;
} rot_t;

static void rot_closed(void *arg) {
  (void)arg;
}

static void oauth_scanned(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg);

static void rot_finish(rot_t *r) {
  if (r->phase == 0 && !r->failed) {
    r->phase = 1;
    store_req_t *q = store_req_new(r->store, 0);
    store_req_stmt(q, &st_oauth_scan);
    store_req_submit(q, oauth_scanned, r);
    return;
  }
  store_t *s = r->store;
  r->store = NULL;
  store_close(s, rot_closed, r);
}

static rot_count_t *rot_counts(rot_t *r) {
  return r->phase == 0 ? &r->kv : &r->oauth;
}

static void swapped(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot update a value: %s\n", errmsg);
    r->failed = 1;
  } else if (store_res_changes(res, 0) == 0) {
    rot_counts(r)->raced++; /* changed meanwhile: the new value wins */
  } else {
    rot_counts(r)->reencrypted++;
  }
  if (--r->pending == 0) rot_finish(r);
}

static void scanned(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot read the key-value area: %s\n", errmsg);
    r->failed = 1;
    rot_finish(r);
    return;
  }
  int n = store_res_rows(res, 0);
  r->pending = 1;
  for (int i = 0; i < n; i++) {
    const char *scope = store_res_text(res, 0, i, 0);
    const char *key = store_res_text(res, 0, i, 1);
    size_t len = 0;
    const void *v = store_res_blob(res, 0, i, 2, &len);
    const char *inst = strchr(scope, '/');
    inst = inst ? inst + 1 : scope;
    char *ct = xstrndup(v, len);
    char *fresh = NULL;
    int rc = secrets_plugin_reencrypt(r->c->ring, inst, ct, &fresh);
    if (rc == 1) {
      r->kv.current++;
    } else if (rc < 0) {
      /* Never log values: the scope and key say which one. */
      fprintf(stderr, "assistd: %s / %s: %s\n", scope, key,
              secrets_strerror(rc));
      r->kv.unreadable++;
    } else {
      store_req_t *q = store_req_new(s, 0);
      store_req_stmt(q, &st_swap);
      store_req_bind_blob(q, fresh, strlen(fresh));
      store_req_bind_int(q, store_now_ms());
      store_req_bind_text(q, scope);
      store_req_bind_text(q, key);
      store_req_bind_blob(q, v, len);
      r->pending++;
      store_req_submit(q, swapped, r);
      free(fresh);
    }
    free(ct);
  }
  if (--r->pending == 0) rot_finish(r);
}

/* One token column of one connection: re-encrypted under the active key
 * with the same associated data ("oauth_connections.<column>:<id>"). */
static void oauth_rotate_one(rot_t *r, store_t *s, int64_t id,
                             const char *column, const char *ct) {
  if (!ct || !*ct) return;
  int need = secrets_ct_needs_reencrypt(r->c->ring, ct);
  if (need == 0) {
    r->oauth.current++;
    return;
  }
  char aad[96];
  snprintf(aad, sizeof aad, "oauth_connections.%s:%lld", column, (long long)id);
  char *fresh = NULL;
  int rc = need < 0 ? need : secrets_reencrypt(r->c->ring, ct, aad, &fresh);
  if (rc < 0) {
    /* Never log tokens: the row and column say which one. */
    fprintf(stderr, "assistd: oauth_connections %lld %s: %s\n", (long long)id,
            column, secrets_strerror(rc));
    r->oauth.unreadable++;
    return;
  }
  store_req_t *q = store_req_new(s, 0);
  store_req_stmt(q, strcmp(column, "access_token") == 0
                        ? &st_oauth_swap_access
                        : &st_oauth_swap_refresh);
  store_req_bind_text(q, fresh);
  store_req_bind_int(q, id);
  store_req_bind_text(q, ct);
  r->pending++;
  store_req_submit(q, swapped, r);
  free(fresh);
}

static void oauth_scanned(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg) {
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot read the OAuth connections: %s\n", errmsg);
    r->failed = 1;
    rot_finish(r);
    return;
  }
  int n = store_res_rows(res, 0);
  r->pending = 1;
  for (int i = 0; i < n; i++) {
    int64_t id = store_res_int(res, 0, i, 0);
    if (!store_res_isnull(res, 0, i, 1))
      oauth_rotate_one(r, s, id, "access_token", store_res_text(res, 0, i, 1));
    if (!store_res_isnull(res, 0, i, 2))
      oauth_rotate_one(r, s, id, "refresh_token", store_res_text(res, 0, i, 2));
  }
  if (--r->pending == 0) rot_finish(r);
}

static void rot_opened(store_t *s, int status, const char *errmsg, void *arg) {
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", errmsg);
    r->failed = 1;
    return;
  }
  r->store = s;
  store_req_t *q = store_req_new(s, 0);
  store_req_stmt(q, &st_scan);
  store_req_submit(q, scanned, r);
}

static int secrets_rotate_cmd(cli_t *c) {
  char active[SECRETS_KEYID_MAX + 1] = "";
  secrets_keyring_active_id(c->ring, active);
  rot_t r = {.c = c};
  uv_loop_init(&r.loop);
  const char *sql_dir = getenv("ASSISTD_SQL_DIR");
  int rc = store_open(&r.loop, c->cfg->storage,
                      sql_dir ? sql_dir : ASSISTD_SQL_DIR, rot_opened, &r);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", strerror(-rc));
    uv_loop_close(&r.loop);
    return 2;
  }
  uv_run(&r.loop, UV_RUN_DEFAULT);
  uv_loop_close(&r.loop);
  if (r.failed) return 2;
  printf("plugin values: %zu re-encrypted, %zu already under key %s, %zu "
         "changed meanwhile, %zu unreadable\n",
         r.kv.reencrypted, r.kv.current, active, r.kv.raced, r.kv.unreadable);
  printf("oauth tokens: %zu re-encrypted, %zu already under key %s, %zu "
         "changed meanwhile, %zu unreadable\n",
         r.oauth.reencrypted, r.oauth.current, active, r.oauth.raced,
         r.oauth.unreadable);
  size_t unreadable = r.kv.unreadable + r.oauth.unreadable;

  /* Then the audit subject keys, which also re-signs the head. */
  audit_conn_t *conn;
  audit_log_t *log;
  if ((rc = open_log(c, &conn, &log)) != 0) return rc;
  size_t rewrapped = 0;
  int arc = audit_rewrap_keys(log, &rewrapped);
  if (arc == 0) {
    char details[256];
    snprintf(details, sizeof details,
             "{\"active_key\":\"%s\",\"kv_reencrypted\":%zu,"
             "\"kv_unreadable\":%zu,\"oauth_reencrypted\":%zu,"
             "\"oauth_unreadable\":%zu,\"audit_keys_rewrapped\":%zu}",
             active, r.kv.reencrypted, r.kv.unreadable, r.oauth.reencrypted,
             r.oauth.unreadable, rewrapped);
    audit_record_t rec = {.actor = "system:cli",
                          .action = "secrets.rotate",
                          .target = active,
                          .outcome = unreadable ? "partial" : "ok",
                          .details = details};
    arc = audit_append(log, &rec, NULL);
  }
  audit_log_free(log);
  audit_conn_close(conn);
  if (arc < 0) {
    fprintf(stderr, "assistd: cannot re-wrap the audit keys: %s\n",
            secrets_strerror(arc));
    return 2;
  }
  printf("audit subject keys: %zu re-wrapped; audit head signed with key %s\n",
         rewrapped, active);
  if (unreadable) {
    printf("some values could not be decrypted with the configured keys: "
           "keep the old key until they are dealt with\n");
    return 1;
  }
  printf("rotation complete: the previous keys can be removed from the "
         "configuration\n");
  return 0;
}

/* ---------------- admin create ---------------- */

typedef struct adm {
  cli_t *c;
  uv_loop_t loop;
  store_t *store;
  auth_t *auth;
  char *password; /* from stdin, or NULL */
  unsigned scopes;
  int rc;
} adm_t;

static void adm_store_closed(void *arg) {
  (void)arg;
}

static void adm_auth_closed(void *arg) {
  adm_t *m = arg;
  store_t *s = m->store;
  m->store = NULL;
  store_close(s, adm_store_closed, m);
}

static void adm_finish(adm_t *m) {
  auth_t *a = m->auth;
  m->auth = NULL;
  auth_close(a, adm_auth_closed, m);
}

static void adm_token_done(int status, int64_t token_id, const char *secret,
                           void *arg) {
  adm_t *m = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot create the API token: %s\n",
            strerror(-status));
    m->rc = 1;
  } else {
    buf_t sc = {0};
    auth_scopes_json(m->scopes, &sc);
    printf("assistd: created API token '%s' (id %lld, scopes %s)\n"
           "token: %s\n"
           "assistd: the token above is shown only this once\n",
           m->c->token_name, (long long)token_id, sc.data, secret);
    buf_free(&sc);
  }
  adm_finish(m);
}

static void adm_created(int status, int64_t user_id, const char *password,
                        void *arg) {
  adm_t *m = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot create the admin: %s\n",
            status == -EEXIST   ? "a user with this email exists"
            : status == -EINVAL ? "bad email, or password too short (at "
                                  "least 12 characters)"
                                : strerror(-status));
    m->rc = status == -EEXIST ? 3 : 1;
    adm_finish(m);
    return;
  }
  printf("assistd: created admin %s (user id %lld)\n", m->c->email,
         (long long)user_id);
  if (password)
    printf("password: %s\n"
           "assistd: the password above is shown only this once\n",
           password);
  fflush(stdout);
  if (m->c->token_name) {
    auth_token_create(m->auth, user_id, m->c->token_name, m->scopes,
                      adm_token_done, m);
    return;
  }
  adm_finish(m);
}

static void adm_opened(store_t *s, int status, const char *errmsg, void *arg) {
  adm_t *m = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", errmsg);
    m->rc = 2;
    return;
  }
  m->store = s;
  auth_config_t ac;
  daemon_auth_config(m->c->cfg, &ac);
  m->auth = auth_new(&m->loop, s, &ac);
  auth_admin_create(m->auth, m->c->email, m->password, adm_created, m);
}

/* The first line of standard input, without its line end. */
static char *read_password(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  return line;
}

static int admin_create_cmd(cli_t *c) {
  adm_t m = {.c = c, .rc = 0};
  if (c->token_name) {
    int sc = auth_scopes_parse(c->scopes ? c->scopes : "read", AUTH_F_STRING);
    if (sc < 0) {
      fprintf(stderr, "assistd: --scopes lists read, write and/or admin\n");
      return 2;
    }
    m.scopes = (unsigned)sc;
  }
  if (c->password_stdin) {
    m.password = read_password();
    if (!m.password) {
      fprintf(stderr, "assistd: no password on standard input\n");
      return 2;
    }
  }
  daemon_ensure_sqlite_dir(c->cfg->storage);
  uv_loop_init(&m.loop);
  const char *sql_dir = getenv("ASSISTD_SQL_DIR");
  int rc = store_open(&m.loop, c->cfg->storage,
                      sql_dir ? sql_dir : ASSISTD_SQL_DIR, adm_opened, &m);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", strerror(-rc));
    m.rc = 2;
  } else {
    uv_run(&m.loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&m.loop);
  if (m.password) {
    explicit_bzero(m.password, strlen(m.password));
    free(m.password);
  }
  return m.rc;
}

/* ---------------- dispatch ---------------- */

static void cli_usage(FILE *f) {
  fprintf(f, "usage: assistd audit verify --config FILE [--anchor A]\n"
             "       assistd audit anchor --config FILE\n"
             "       assistd secrets rotate --config FILE\n"
             "       assistd admin create --config FILE --email E "
             "[--password-stdin]\n"
             "               [--token NAME [--scopes read,write,admin]]\n");
}

int cli_main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, 0, 'c'},
      {"anchor", required_argument, 0, 'a'},
      {"email", required_argument, 0, 'e'},
      {"password-stdin", no_argument, 0, 'p'},
      {"token", required_argument, 0, 't'},
      {"scopes", required_argument, 0, 's'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  if (argc < 3) {
    cli_usage(stderr);
    return 2;
  }
  const char *group = argv[1], *cmd = argv[2];
  cli_t c = {0};
  int o;
  optind = 3;
  while ((o = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
    switch (o) {
    case 'c':
      c.config_path = optarg;
      break;
    case 'a':
      c.anchor = optarg;
      break;
    case 'e':
      c.email = optarg;
      break;
    case 'p':
      c.password_stdin = 1;
      break;
    case 't':
      c.token_name = optarg;
      break;
    case 's':
      c.scopes = optarg;
      break;
    case 'h':
      cli_usage(stdout);
      return 0;
    default:
      cli_usage(stderr);
      return 2;
    }
  }
  int (*fn)(cli_t *) = NULL;
  if (strcmp(group, "audit") == 0 && strcmp(cmd, "verify") == 0)
    fn = audit_verify_cmd;
  else if (strcmp(group, "audit") == 0 && strcmp(cmd, "anchor") == 0)
    fn = audit_anchor_cmd;
  else if (strcmp(group, "secrets") == 0 && strcmp(cmd, "rotate") == 0)
    fn = secrets_rotate_cmd;
  else if (strcmp(group, "admin") == 0 && strcmp(cmd, "create") == 0)
    fn = admin_create_cmd;
  int admin = fn == admin_create_cmd;
  if (!fn || !c.config_path || optind < argc ||
      (c.anchor && fn != audit_verify_cmd) || admin != !!c.email ||
      (!admin && (c.password_stdin || c.token_name || c.scopes)) ||
      (c.scopes && !c.token_name)) {
    cli_usage(stderr);
    return 2;
  }
  /* admin create needs no master key (it encrypts nothing). */
  int rc = admin ? cli_setup_config(&c) : cli_setup(&c);
  if (rc == 0) rc = fn(&c);
  cli_free(&c);
  return rc;
}
